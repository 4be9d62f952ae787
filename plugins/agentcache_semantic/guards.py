"""Guards: cheap checks that veto a semantic match embeddings cannot see.

A sentence embedding scores "Book a flight from NYC to LA" and "... from LA to NYC" as nearly
identical (cosine 0.99 with all-MiniLM-L6-v2), and "5 miles to km" vs "50 miles to km" above a
true paraphrase. Each guard compares the new prompt with the cached one and returns a reason
(``"number"``, ``"direction"``...) when they must not share an answer, or ``None``. A candidate is
served only when every guard returns ``None``; the guards that passed are recorded with the hit.

Guards are deliberately conservative: a veto costs one model call, a wrong pass serves a wrong
answer. Every guard is symmetric (``guard(a, b) == guard(b, a)``). The word lists live in
:mod:`.lexicon`. Plugins add guards through the ``agentcache_semantic_guards`` hook.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache

from . import lexicon as lx

Guard = Callable[[str, str], "str | None"]
"""``guard(new_prompt, cached_prompt)`` -> a veto reason, or ``None`` to let the match stand."""

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_QUOTED = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|`([^`]+)`|(?<!\w)'([^']+)'(?!\w)")


def _clean(text: str) -> str:
    """NFKC, straight apostrophes, arrows as "to"."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    return re.sub(r"\s*(?:\u2192|->|=>)\s*", " to ", text)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_clean(text))]


# --- numbers -------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.:])([-+]?\d+(?:[.,]\d+)*)([a-z%]*)(?!\w)", re.I)
_TIME = re.compile(r"\b(\d{1,2})(?::(\d\d))?\s*([ap])\.?\s*m\b\.?", re.I)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_NUMBER_NAMES = "|".join(sorted(lx.NUMBER_WORD_VALUES, key=len, reverse=True))
_NUMBER_WORD = re.compile(rf"\b(?:{_NUMBER_NAMES})(?:[-\s]+(?:{_NUMBER_NAMES}))?\b", re.I)


def _normalized_numbers(text: str) -> str:
    """Times as 24-hour ``H:MM`` (3pm, 3 PM, 3 p.m. and 15:00 are one time), number words as
    digits ("five" is 5; "twenty-three" is 23), so only a real change of value differs."""

    def clock(h: int, m: int) -> str:
        return f" {h}:{m:02d} "

    def ampm(m: re.Match[str]) -> str:
        h = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
        return clock(h, int(m.group(2) or 0))

    def word(m: re.Match[str]) -> str:
        parts = re.split(r"[-\s]+", m.group(0).lower())
        return str(sum(lx.NUMBER_WORD_VALUES[p] for p in parts))

    text = _TIME.sub(ampm, _clean(text))
    text = _CLOCK.sub(lambda m: clock(int(m.group(1)), int(m.group(2))), text)
    return _NUMBER_WORD.sub(word, text)


def _value(digits: str, suffix: str) -> str:
    """``"200,000"`` and ``"200k"`` are one value. Decimals stay as written ("3.10" is not
    "3.1": versions); other letter suffixes (units, ordinals, "20h") are the units guard's."""
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+", digits):
        digits = digits.replace(",", "")
    scale = lx.NUMBER_SCALES.get(suffix.lower())
    if scale is None or not re.fullmatch(r"[-+]?\d+(?:\.\d+)?", digits):
        return digits
    return format((Decimal(digits) * scale).normalize(), "f")


def _numbers(text: str) -> tuple[Counter[str], dict[str, str]]:
    """The values (with times and quantity words), and the role of each value after "to"/"by"."""
    text = _normalized_numbers(text)
    found: Counter[str] = Counter()
    roles: dict[str, str] = {}
    for m in _NUMBER.finditer(text):
        value = _value(m.group(1), m.group(2))
        found[value] += 1
        before = _words(text[: m.start()])[-1:]
        if before and before[0] in lx.NUMBER_ROLES:
            roles[value] = lx.NUMBER_ROLES[before[0]]
    found.update(m.group(0) for m in re.finditer(r"\b\d{1,2}:\d\d\b", text))
    found.update(w for w in _words(text) if w in lx.QUANTITY_WORDS)
    return found, roles


def numbers(new: str, cached: str) -> str | None:
    """Every number, time and amount is the same (5 vs 50, 3pm vs 4pm, $200k is $200,000), and
    a number is a target or a change the same way in both ("to 5" vs "by 5")."""
    (a, roles_a), (b, roles_b) = _numbers(new), _numbers(cached)
    if a != b:
        return "number"
    paired = lx.PAIRED_NUMBER_ROLES
    changed = {
        (r, roles_b[v])
        for v, r in roles_a.items()
        if roles_b.get(v, r) != r and r not in paired and roles_b[v] not in paired
    }
    for role in lx.PAIRED_NUMBER_ROLES:  # "percentage of 80" vs "percent of 20"
        of_a = {v for v, r in roles_a.items() if r == role}
        of_b = {v for v, r in roles_b.items() if r == role}
        if of_a and of_b and of_a != of_b:
            changed.add((role, role))
    if not changed:
        return None
    return "direction" if all({x, y} == {"from", "to"} for x, y in changed) else "number"


# --- units ---------------------------------------------------------------------------------

_SYMBOLS = re.compile(r"[$\u20ac\u00a3\u00a5%]|\u00b0[cf]", re.I)
_COMPOUND_UNITS = re.compile(r"(?<![\w/])(km/h|m/s|mi/h|ft/s)(?![\w/])", re.I)
# A number, then optionally "degrees" or one capitalized qualifier ("100 US dollars").
_AFTER_NUMBER = re.compile(
    r"(?<![:\d])\d+(?:[.,]\d+)?(?:\s*(?:degrees?|\u00b0))?(?:\s+(?-i:[A-Z][A-Za-z.]*))?\s*-?\s*$",
    re.I,
)


def _units(text: str) -> list[tuple[str, bool]]:
    """Units in order of appearance (each once), each with whether it measures a number ("5
    miles", "$20": the quantity given) or not ("in km": the unit asked for)."""
    text = re.sub(r"\bnautical\s+miles?\b", "nmi", _normalized_numbers(text), flags=re.I)
    found: list[tuple[int, str, bool]] = []
    for m in _SYMBOLS.finditer(text):
        attached = bool(re.match(r"\s*\d", text[m.end() :])) or bool(
            _AFTER_NUMBER.search(text[: m.start()])
        )
        found.append((m.start(), lx.UNITS[m.group(0).lower()], attached))
    for m in _COMPOUND_UNITS.finditer(text):
        found.append(
            (m.start(), lx.UNITS[m.group(1).lower()], bool(_AFTER_NUMBER.search(text[: m.start()])))
        )
    for m in _WORD.finditer(_COMPOUND_UNITS.sub(" ", text)):
        word = m.group(0).lower()
        unit = lx.UNITS.get(word)
        if unit is None:
            continue
        attached = bool(_AFTER_NUMBER.search(text[: m.start()]))
        if word in lx.AMBIGUOUS_UNITS and not attached:
            continue
        found.append((m.start(), unit, attached))
    for m in re.finditer(
        r"(?<![:\d])\d+(k?m|s|h|c|f|g|l|mi|kg|lbs?|ft|gb|mb|ml|oz)\b", text.lower()
    ):
        found.append((m.start(1), lx.UNITS.get(m.group(1), m.group(1)), True))
    units: dict[str, bool] = {}
    for _, unit, attached in sorted(found):
        units[unit] = units.get(unit, False) or attached
    return list(units.items())


def units(new: str, cached: str) -> str | None:
    """The same units and currencies (miles vs km, degrees C vs F, USD vs EUR), converted the
    same way: "5 miles to km" is not "5 km to miles" (``direction``). The unit after the number
    is the one given ("15% of 80" gives a percentage; "what percentage of 80 is 15" asks for
    one); when neither prompt has one, the order of the units decides."""
    a, b = _units(new), _units(cached)
    if {u for u, _ in a} != {u for u, _ in b}:
        return "unit"
    given_a, given_b = {u for u, n in a if n}, {u for u, n in b if n}
    if given_a or given_b:  # "15% of 80" gives a percentage, "what percentage of 80" asks one
        return "direction" if given_a != given_b else None
    if not given_a and not given_b and [u for u, _ in a] != [u for u, _ in b]:
        return "direction"
    return None


# --- literals, negation, opposites ---------------------------------------------------------


def _quoted(text: str) -> Counter[str]:
    return Counter(next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text))


def quoted(new: str, cached: str) -> str | None:
    """Quoted strings and `code` are literal: each one appears exactly in the other prompt
    (quoted or not: "delete 'a.csv'" is "delete a.csv")."""
    a, b = _quoted(new), _quoted(cached)
    if a == b:
        return None
    missing = [q for q in (a - b) if q not in cached] + [q for q in (b - a) if q not in new]
    return "quoted" if missing else None


# A token with a separator inside (a path, a flag, a file name, a date pattern, an identifier):
# "DD/MM/YYYY", "--force", "config.yaml", "user_id", "a@b.com". Plain hyphenated words
# ("round-trip", "dairy-free") and abbreviations ("e.g.", "U.S.") are ordinary words.
_LITERAL = re.compile(r"[\w-]*[\w][/\\_.:@=#-]+[\w][\w/\\_.:@=#-]*|--?[a-z][\w-]*", re.I)
_ORDINARY = re.compile(
    r"[a-z]+(?:-[a-z]+)+|(?:[a-z]\.)+[a-z]?|\d+(?:[.,:]\d+)*(?:-?[a-z]+)?", re.I
)  # hyphenated words, abbreviations, and numbers with a unit or suffix ("30-year", "2:30am")


def _literals(text: str) -> set[str]:
    found = (m.group(0).rstrip(".:") for m in _LITERAL.finditer(text))
    return {t.lower() for t in found if t and not _ORDINARY.fullmatch(t)}


def literals(new: str, cached: str) -> str | None:
    """Technical tokens are literal even unquoted: a path, a flag, a file name, a date pattern
    ("DD/MM/YYYY" vs "YYYY-MM-DD") must be the same in both prompts."""
    return "literal" if _literals(new) != _literals(cached) else None


# "stop nginx from redirecting", "prevent it from sleeping", "avoid paying": the action after
# them is negated.
_PREVENTED = re.compile(
    r"\b(?:stop|prevent|keep|block)\w*\s+(?:\S+\s+){0,3}?from\s+\w+ing\b|\bavoid\w*\s+\w+ing\b",
    re.I,
)


def _negations(text: str) -> int:
    words = _words(text)
    free = len(re.findall(r"\w-free\b", text, re.I))  # "dairy-free" is "without dairy"
    prevented = len(_PREVENTED.findall(text))
    return sum(w in lx.NEGATIONS or w.endswith("n't") for w in words) + free + prevented


def _negated_words(text: str, other: str) -> set[str]:
    """Words of ``text`` that negate a word of ``other`` by prefix: "unpaid" for "paid"."""
    theirs = set(_words(other))
    found = set()
    for word in set(_words(text)) - theirs:
        for prefix in ("un", "non", "non-"):
            rest = word[len(prefix) :]
            if word.startswith(prefix) and len(rest) >= 3 and rest in theirs:
                found.add(word)
    return found


def negation(new: str, cached: str) -> str | None:
    """Both negated or both not (by parity of negation words): "with" vs "without" sugar, "stop
    it from sleeping" vs "let it sleep"; and no word negated by a prefix ("unpaid" vs "paid")."""
    if _negations(new) % 2 != _negations(cached) % 2:
        return "negation"
    return "negation" if _negated_words(new, cached) or _negated_words(cached, new) else None


_ANTONYMS = [
    (frozenset(left.split("|")), frozenset(right.split("|")))
    for left, right in (pair.split("/") for pair in lx.ANTONYM_PAIRS)
]


def _phrased(text: str) -> str:
    """Lower case, with multi-word phrasings rewritten ("get rid of" -> "remove")."""
    text = " ".join(_words(text))
    for phrase, word in lx.PHRASES.items():
        text = re.sub(rf"\b{phrase}\b", word, text)
    return text


def antonyms(new: str, cached: str) -> str | None:
    """One prompt on one side of an opposite pair (enable/disable, next/last...) and the other
    on the other side. A side word missing from one prompt is not a contradiction."""
    a, b = set(_phrased(new).split()), set(_phrased(cached).split())
    for left, right in _ANTONYMS:
        side_a = (bool(a & left), bool(a & right))
        side_b = (bool(b & left), bool(b & right))
        if {side_a, side_b} == {(True, False), (False, True)}:
            return "antonym"
    return None


# --- formats and language ------------------------------------------------------------------


def formats(new: str, cached: str) -> str | None:
    """The same requested output format, programming language and target language."""
    a = {lx.FORMATS[w] for w in _words(new) if w in lx.FORMATS}
    b = {lx.FORMATS[w] for w in _words(cached) if w in lx.FORMATS}
    return "format" if a != b else None


@lru_cache(maxsize=4096)
def _language(text: str) -> str:
    scripts = Counter(
        unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()
    ).most_common(1)
    if scripts and scripts[0][0] != "LATIN":
        return scripts[0][0].lower()
    words = _words(text)
    scores = {lang: sum(w in stop for w in words) for lang, stop in lx.STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] else "unknown"


def language(new: str, cached: str) -> str | None:
    """The prompt is written in the same language (script, then common function words)."""
    a, b = _language(new), _language(cached)
    return "language" if "unknown" not in (a, b) and a != b else None


# --- names ---------------------------------------------------------------------------------

_ALIAS_PHRASES = {k.replace("_", " "): v for k, v in lx.ENTITY_ALIASES.items() if "_" in k}
_CAPITALIZED = re.compile(r"[^\W\d_][\w&.']*", re.UNICODE)
_NAME_WORD = re.compile(r"[^\W_]+(?:[.'][^\W_]+)*", re.UNICODE)


def _aliased(text: str) -> str:
    for phrase, name in _ALIAS_PHRASES.items():
        text = re.sub(rf"\b{phrase}\b", name.upper(), text, flags=re.I)
    return text


def _entities(text: str) -> set[str]:
    """Names: capitalized words and acronyms, lower-cased, abbreviations resolved. A word
    capitalized only because it starts a sentence ("Purchase ...", "Max ...") is not a name."""
    text = _aliased(_clean(text))
    found: set[str] = set()
    for m in _CAPITALIZED.finditer(text):
        word = re.sub(r"'s$", "", m.group(0).strip(".'"))
        if not word[:1].isupper():
            continue
        if len(word) == 1:  # "vitamin C", "plan B": a letter naming something after a word
            if word != "I" and re.search(r"[a-z]\s+$", text[: m.start()]):
                found.add(word.lower())
            continue
        lower = word.lower()
        acronym = len(word) > 1 and (word.isupper() or any(c.isupper() for c in word[1:]))
        starts_sentence = (
            not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in '.!?:;\n"('
        )
        if acronym:
            if lower in {"ok", "am", "pm"}:
                continue
        elif starts_sentence or lower in lx.NOT_ENTITIES or lower in lx.COMMON_STARTS:
            continue
        if lower in lx.FORMATS or lower in lx.UNITS:
            continue  # the format and unit guards' job
        found.add(_name_form(lower))
    return found


def _name_form(word: str) -> str:
    """One spelling of a name: lower case, no dots, no possessive, abbreviations resolved
    ("U.S.A." and "USA" and "us"; "Node.js" and "nodejs"; "Australia's" and "australia")."""
    word = re.sub(r"'s$", "", word.lower()).replace(".", "")
    return lx.ENTITY_ALIASES.get(word, word)


def _name_tokens(text: str) -> set[str]:
    """Every word of ``text`` as a name would be spelled, a dotted word also in its parts."""
    tokens: set[str] = set()
    for word in _NAME_WORD.findall(_aliased(_clean(text))):
        tokens.add(_name_form(word))
        if "." in word:
            tokens.update(_name_form(part) for part in word.split(".") if part)
    return tokens


def _inflected(a: str, b: str) -> bool:
    """One name with an ending: a plural or a demonym ("painter" / "painters", "India" /
    "Indian" / "Indians", "Pakistan" / "Pakistani") adds at most 3 letters to 4 or more."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 3


def _unspelled(names: set[str], tokens: set[str]) -> set[str]:
    """The names that no word of the other prompt spells (see ``_inflected``)."""
    return {n for n in names - tokens if not any(_inflected(n, t) for t in tokens)}


def entities(new: str, cached: str) -> str | None:
    """The same named entities (capitalized names, acronyms). A name counts wherever it appears,
    in any case ("paris" matches "Paris"; "US" matches "United States"), with an ending
    ("Indian" matches "India"): a different city or library is ``entity``."""
    names = _entities(new) | _entities(cached)
    if not names:
        return None
    a, b = _name_tokens(new), _name_tokens(cached)
    return "entity" if _unspelled(names, a) or _unspelled(names, b) else None


def entity_swap(new: str, cached: str) -> bool:
    """Each prompt names something the other does not ("Shanghai" for "Beijing"): with the
    verifier, ``entities`` is only a feature (a name one prompt adds is often a detail or a
    spelling), but a swap of names asks about another thing, and vetoes."""
    return bool(_unspelled(_entities(new), _name_tokens(cached))) and bool(
        _unspelled(_entities(cached), _name_tokens(new))
    )


# --- roles ---------------------------------------------------------------------------------

_ROLE_WORDS = {
    "from": "from",
    "to": "to",
    "into": "to",
    "towards": "to",
    "toward": "to",
    "than": "than",  # "Is A cheaper than B" is not "Is B cheaper than A"
}


def _roles(text: str) -> dict[str, set[str]]:
    """The content word each "from" and "to"/"into" points at, and each place a time or amount
    is "in" ("when it's 9am in London"): ``{"from": {"boston"}, "to": {"providence"}}``."""
    text = _phrased(_aliased(_normalized_numbers(text)))
    words = [_canonical(re.sub(r"'s$", "", w)) for w in text.split()]
    roles: dict[str, set[str]] = {}
    for i, word in enumerate(words):
        role = _ROLE_WORDS.get(word)
        if word == "in" and i and words[i - 1][:1].isdigit():
            role = "at"
        if role is None:
            continue
        rest = [w for w in words[i + 1 : i + 4] if w not in lx.DETERMINERS]
        if rest and not rest[0][:1].isdigit() and rest[0] not in lx.GENERIC:
            roles.setdefault(role, set()).add(rest[0])
    return roles


def _swapped(new: str, cached: str) -> bool:
    """The same words in the same places but for a few that trade places ("a recipe for 4 ...
    for 6 people" / "for 6 ... for 4", "3 PM Eastern in Pacific" / "Pacific in Eastern")."""
    a, b = _words(_normalized_numbers(new)), _words(_normalized_numbers(cached))
    if len(a) != len(b):
        return False
    moved = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if not 2 <= len(moved) <= 4 or moved[-1] - moved[0] < 2:  # "4 July" is "July 4"
        return False
    return sorted(a[i] for i in moved) == sorted(b[i] for i in moved)


def roles(new: str, cached: str) -> str | None:
    """Where both prompts say what something goes "from", "to", what it is compared with
    ("than"), or where a time is "in", they say the same: "from Boston to Providence" is not
    "from Providence to Boston", "A cheaper than B" not "B cheaper than A", nor "9am in London"
    "9am in Tokyo". Two words that trade places in an otherwise identical sentence swap roles
    too."""
    if _swapped(new, cached):
        return "direction"
    a, b = _roles(new), _roles(cached)
    if any(a[r] != b[r] for r in a.keys() & b.keys()):
        return "direction"
    crossed = a.get("from", set()) & b.get("to", set()) or a.get("to", set()) & b.get("from", set())
    return "direction" if crossed else None


# --- content words -------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A crude stemmer: enough for "travels"/"travelling", "dates"/"dated", "queries"/"query"."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (
        ("ies", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ):
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix == "es" and not word[:-2].endswith(("s", "x", "z", "ch", "sh")):
            continue
        if suffix == "s" and word.endswith("ss"):
            continue
        word = word[: -len(suffix)] + replacement
        break
    if len(word) > 3 and word[-1] == word[-2]:
        word = word[:-1]
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _canonical(word: str) -> str:
    return lx.SYNONYMS.get(word, lx.UNITS.get(word, word))


def _content(text: str) -> set[str]:
    """Content words: request phrasing and function words dropped, numbers dropped (the number
    guard's job), phrasings, units and synonyms mapped to one word, then stemmed."""
    text = _phrased(_aliased(_normalized_numbers(text)).replace("'s", ""))
    text = re.sub(r"\b(?:d|l|qu|s|j|n)'", "", text)  # French elision: "d'une" is "une"
    words = (_canonical(lx.ENTITY_ALIASES.get(w, w)) for w in text.split())
    return {
        _stem(w)
        for w in words
        if w not in lx.GENERIC and not w[:1].isdigit() and not (len(w) == 1 and w.isalpha())
    }


_TIME_UNITS = "seconds|minutes|hours|days|weeks|months|years"
_QUESTIONS = [
    (re.compile(p, re.I), kind)
    for p, kind in [
        (r"\bhow (?:many|much)\b|\bnumber of\b", "amount"),
        (rf"\bhow long\b|\bhow many\s+(?:{_TIME_UNITS})\b", "duration"),
        (r"\bhow far\b", "distance"),
        (r"\bhow often\b", "frequency"),
        (r"\bhow old\b", "age"),
        (r"\bwhen\b|\bwhat (?:time|year|date|day)\b", "time"),
        (r"\bwhere\b", "place"),
        (r"\bwho(?:m|se)?\b", "person"),
        (r"\bwhy\b", "reason"),
    ]
]


def _questions(text: str) -> set[str]:
    return {kind for pattern, kind in _QUESTIONS if pattern.search(text)}


def question(new: str, cached: str) -> str | None:
    """Where both prompts say what they ask for (when, where, who, why, how many, how long...),
    they ask for the same: "When did Einstein win the Nobel prize?" is not "Why did Einstein
    win the Nobel prize?". A prompt that does not say ("What is the age of...") passes, and so
    does one that asks in two ways at once ("how many days" is an amount and a duration)."""
    a, b = _questions(new), _questions(cached)
    return "question" if a and b and not a & b else None


def kinds(new: str, cached: str) -> str | None:
    """Both prompts name a member of the same closed class and not the same one: "today" vs
    "tomorrow", "plus" vs "times", "bus" vs "train", "children" vs "adults"."""
    a, b = set(_phrased(new).split()), set(_phrased(cached).split())
    for name, members in lx.WORD_CLASSES.items():
        in_a = {_canonical(w) for w in a & members}
        in_b = {_canonical(w) for w in b & members}
        if in_a and in_b and in_a != in_b:
            return f"kind:{name}"
    return None


NEAR_COPY_RATIO = 0.78
"""Token-sequence similarity (``difflib`` ratio, 0..1) from which two prompts are one sentence
with a small edit: any changed content word then vetoes."""
SWAP_RATIO = 0.6
"""From this similarity, a swap of one or two content words on each side vetoes."""
SWAP_MAX_WORDS = 2


def _similarity(a: str, b: str) -> float:
    """How much of the word sequence two prompts share (1.0 when one only adds words to the
    other: "... in the bedroom only" is a verbatim copy with a qualifier)."""
    ta, tb = _phrased(a).split(), _phrased(b).split()
    blocks = SequenceMatcher(None, ta, tb).get_matching_blocks()
    if sum(block.size for block in blocks) == min(len(ta), len(tb)):
        return 1.0
    return max(SequenceMatcher(None, ta, tb).ratio(), SequenceMatcher(None, tb, ta).ratio())


def substitution(new: str, cached: str) -> str | None:
    """A small edit of the same sentence changes the answer: "daily dose" vs "single dose",
    "dwarf planets" vs "planets", "Copy the table" vs "Move the table". A rewording changes
    many words, and its similarity comes from the meaning; a near copy with a word or two
    changed is similar because of the words it shares, and the changed word is usually the
    point. So: when the word sequences are nearly the same (``NEAR_COPY_RATIO``), any content
    word added, dropped or swapped vetoes; when they are fairly close (``SWAP_RATIO``), one or
    two content words swapped for others veto. Known paraphrase variants (``lexicon.SYNONYMS``,
    ``lexicon.PHRASES``) and function words are not changes. Those tables are English: between
    prompts in another language, any changed content word vetoes."""
    a, b = _content(new), _content(cached)
    only_a, only_b = a - b, b - a
    if not only_a and not only_b:
        return None
    if "en" not in (_language(new), _language(cached)):
        return "substitution"  # the synonym and phrasing tables know English only
    similarity = _similarity(new, cached)
    if similarity >= NEAR_COPY_RATIO:
        return "substitution"
    swap = 0 < len(only_a) <= SWAP_MAX_WORDS and 0 < len(only_b) <= SWAP_MAX_WORDS
    return "substitution" if swap and similarity >= SWAP_RATIO else None


def wording(new: str, cached: str) -> str | None:
    """The same content words (after stemming; function words and request phrasing aside): a
    swapped noun or qualifier ("hotel"/"hostel", "today"/"tomorrow", "round-trip") vetoes.
    The strictest guard, and the one that costs recall: synonyms count as different."""
    return "wording" if _content(new) != _content(cached) else None


@dataclass(frozen=True)
class Verdict:
    vetoed_by: str | None
    passed: tuple[str, ...]


# Most specific first: the first veto names the difference ("quoted", not "entity", for two
# quoted error messages).
BUILTIN_GUARDS: dict[str, Guard] = {
    "numbers": numbers,
    "units": units,
    "quoted": quoted,
    "literals": literals,
    "negation": negation,
    "antonyms": antonyms,
    "formats": formats,
    "language": language,
    "entities": entities,
    "roles": roles,
    "question": question,
    "kinds": kinds,
    "substitution": substitution,
}
# Off by default (it costs most of the paraphrase recall); ``SemanticConfig(guards=[...])``.
OPTIONAL_GUARDS: dict[str, Guard] = {"wording": wording}


def verdict_of(name: str, guard: Guard, new: str, cached: str) -> str | None:
    """One guard's veto reason, or ``None``; a guard that raises vetoes (``<name>:guard_error``),
    so a broken guard can cost a hit but never serve a wrong one."""
    try:
        return guard(new, cached)
    except Exception:
        return f"{name}:guard_error"


def check(new: str, cached: str, guards: Iterable[tuple[str, Guard]]) -> Verdict:
    """Run the guards in order; the first veto wins."""
    passed: list[str] = []
    for name, guard in guards:
        reason = verdict_of(name, guard, new, cached)
        if reason is not None:
            return Verdict(reason, tuple(passed))
        passed.append(name)
    return Verdict(None, tuple(passed))
