"""Guards: cheap checks that veto a semantic match embeddings cannot see.

A sentence embedding scores "Book a flight from NYC to LA" and "... from LA to NYC" as nearly
identical (cosine 0.99 with all-MiniLM-L6-v2), and "5 miles to km" vs "50 miles to km" above a
true paraphrase. Each guard compares the new prompt with the cached one and returns a reason
(``"number"``, ``"direction"``...) when they must not share an answer, or ``None``. A candidate is
served only when every guard returns ``None``; the guards that passed are recorded with the hit.

Guards are deliberately conservative: a veto costs one model call, a wrong pass serves a wrong
answer. Plugins add guards through the ``agentcache_semantic_guards`` hook.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

Guard = Callable[[str, str], "str | None"]
"""``guard(new_prompt, cached_prompt)`` -> a veto reason, or ``None`` to let the match stand."""

_NUMBER = re.compile(r"(?<![\w.:])[-+]?\d+(?:[.,]\d+)*(?:st|nd|rd|th|k|m|b|am|pm|%)?(?![\w])", re.I)
_NUMBER_WORDS = ["hundred", "thousand", "million", "billion", "half", "dozen", "once", "twice"]
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|`([^`]+)`|(?<!\w)'([^']+)'(?!\w)")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]


_WORD_VALUES = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}  # fmt: skip
_WORD_VALUES.update({w: str(20 + 10 * i) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())})  # fmt: skip
_TIME = re.compile(r"\b(\d{1,2})(?::(\d\d))?\s*([ap])\.?\s*m\b\.?", re.I)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")


def _normalized_numbers(text: str) -> str:
    """Times as 24-hour ``H:MM`` (3pm, 3 PM, 3 p.m. and 15:00 are one time), number words as
    digits ("five" is 5; "twenty-three" is 23), so only a real change of value differs."""

    def clock(h: int, m: int) -> str:
        return f" {h}:{m:02d} "

    def ampm(m: re.Match[str]) -> str:
        h = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
        return clock(h, int(m.group(2) or 0))

    text = _TIME.sub(ampm, text)
    text = _CLOCK.sub(lambda m: clock(int(m.group(1)), int(m.group(2))), text)

    def word(m: re.Match[str]) -> str:
        parts = [_WORD_VALUES[w] for w in re.split(r"[-\s]+", m.group(0).lower())]
        return str(sum(int(p) for p in parts))

    names = "|".join(sorted(_WORD_VALUES, key=len, reverse=True))
    return re.sub(rf"\b(?:{names})(?:[-\s]+(?:{names}))?\b", word, text, flags=re.I)


def _numbers(text: str) -> Counter[str]:
    text = _normalized_numbers(text)
    found = Counter(m.group(0).lower().replace(",", "") for m in _NUMBER.finditer(text))
    found.update(m.group(0) for m in re.finditer(r"\b\d{1,2}:\d\d\b", text))
    found.update(w for w in _words(text) if w in _NUMBER_WORDS)
    return found


def numbers(new: str, cached: str) -> str | None:
    """Every number, ordinal, time and amount must be the same (5 vs 50, 3pm vs 4pm)."""
    return "number" if _numbers(new) != _numbers(cached) else None


# Units and currencies, grouped by spelling: "km", "kilometers" and "kilometres" are one unit.
_UNITS: dict[str, str] = {}
for _group in (
    "km kilometer kilometers kilometre kilometres kms",
    "mi mile miles",
    "m meter meters metre metres",
    "cm centimeter centimeters centimetre centimetres",
    "mm millimeter millimeters",
    "ft foot feet",
    "in inch inches",
    "yd yard yards",
    "kg kilogram kilograms kilo kilos",
    "g gram grams",
    "lb lbs pound pounds",
    "oz ounce ounces",
    "l liter liters litre litres",
    "ml milliliter milliliters millilitre millilitres",
    "gal gallon gallons",
    "c celsius centigrade °c",
    "f fahrenheit °f",
    "kelvin",
    "usd dollar dollars $",
    "eur euro euros €",
    "gbp pound_sterling £",
    "jpy yen ¥",
    "mph",
    "kph kmh km/h",
    "s sec secs second seconds",
    "min mins minute minutes",
    "h hr hrs hour hours",
    "day days",
    "week weeks",
    "month months",
    "year years",
    "gb gigabyte gigabytes",
    "mb megabyte megabytes",
    "tb terabyte terabytes",
    "kb kilobyte kilobytes",
    "percent percentage %",
    "cup cups",
    "tbsp tablespoon tablespoons",
    "tsp teaspoon teaspoons",
    "acre acres",
    "hectare hectares ha",
    "calorie calories kcal",
    "joule joules",
    "watt watts w",
    "kw kilowatt kilowatts",
    "kwh",
):
    _names = _group.split()
    for _name in _names:
        _UNITS[_name] = _names[0]
_SYMBOLS = re.compile(r"[$€£¥%]|°[cf]", re.I)
# Letters that are units only right after a number ("5 m", "3 s"), not as words ("a", "in").
_AMBIGUOUS = {"m", "s", "h", "c", "f", "g", "l", "in", "w", "ha", "min"}


def _units(text: str) -> list[str]:
    """Units in order of appearance (each once): the order tells "miles to km" from the reverse."""
    found = [(m.start(), _UNITS[m.group(0).lower()]) for m in _SYMBOLS.finditer(text)]
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        word = m.group(0).lower()
        unit = _UNITS.get(word)
        if unit is None:
            continue
        before = text[: m.start()].rstrip()
        if word in _AMBIGUOUS and not before[-1:].isdigit():
            continue
        found.append((m.start(), unit))
    for m in re.finditer(r"\d(k?m|s|h|c|f|g|l|mi|kg|lbs?|ft|gb|mb|ml|oz)\b", text.lower()):
        found.append((m.start(1), _UNITS.get(m.group(1), m.group(1))))
    return list(dict.fromkeys(unit for _, unit in sorted(found)))


def units(new: str, cached: str) -> str | None:
    """The same units and currencies (miles vs km, °C vs °F, USD vs EUR), in the same order
    ("5 miles to km" is not "5 km to miles": ``direction``)."""
    a, b = _units(new), _units(cached)
    if a == b:
        return None
    return "direction" if set(a) == set(b) else "unit"


_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nothing",
        "nobody",
        "neither",
        "nor",
        "without",
        "cannot",
        "can't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "won't",
        "wouldn't",
        "shouldn't",
        "couldn't",
        "mustn't",
        "haven't",
        "hasn't",
        "hadn't",
        "exclude",
        "excluding",
        "except",
        "ne",
        "pas",
        "jamais",
        "sans",
        "nicht",
        "kein",
        "keine",
        "ohne",
        "nunca",
        "sin",
    ]
)


def _negations(text: str) -> int:
    words = _words(text.replace("’", "'"))
    return sum(w in _NEGATIONS or w.endswith("n't") for w in words)


def negation(new: str, cached: str) -> str | None:
    """Both negated or both not (by parity of negation words): "with" vs "without" sugar."""
    return "negation" if _negations(new) % 2 != _negations(cached) % 2 else None


_ANTONYM_PAIRS = [
    (a.split("|"), b.split("|"))
    for a, b in (
        line.split("/")
        for line in (
            "enable|enabled|enabling|on/disable|disabled|disabling|off",
            "upgrade|upgraded|upgrading/downgrade|downgraded|downgrading",
            "import|imported|importing|imports/export|exported|exporting|exports",
            "increase|increased|increasing|raise|raising/decrease|decreased|decreasing|lower|lowering|reduce",
            "add|added|adding/remove|removed|removing|delete|deleted|deleting",
            "buy|buying|bought|purchase/sell|selling|sold",
            "encrypt|encrypted|encryption|encode|encoding/decrypt|decrypted|decryption|decode|decoding",
            "allow|allowed|permit|whitelist|allowlist/deny|denied|block|blocked|blacklist|blocklist",
            "open|opening|opened/close|closing|closed",
            "start|starting|started|begin/stop|stopping|stopped|end",
            "max|maximum|maximize|highest|largest|biggest|most/min|minimum|minimize|lowest|smallest|least",
            "before|earlier|prior/after|later",
            "above|over|greater|more/below|under|less|fewer",
            "install|installed|installing/uninstall|uninstalled|uninstalling",
            "lock|locked|locking/unlock|unlocked|unlocking",
            "subscribe|subscribed/unsubscribe|unsubscribed",
            "mount|mounted/unmount|unmounted",
            "push|pushed|pushing/pull|pulled|pulling",
            "upload|uploaded|uploading/download|downloaded|downloading",
            "login|log-in|signin|sign-in/logout|log-out|signout|sign-out",
            "ascending|asc/descending|desc",
            "compress|compressed|compression|zip/decompress|decompressed|decompression|unzip",
            "deposit|deposited/withdraw|withdrew|withdrawal",
            "hot|warm|warmer|hotter/cold|cool|cooler|colder",
            "true/false",
            "yes/no",
            "accept|accepted/reject|rejected|decline|declined",
            "attach|attached/detach|detached",
            "merge|merged/split",
            "serialize|serialized|serialization/deserialize|deserialized|deserialization",
            "north|northern/south|southern",
            "east|eastern/west|western",
            "left/right",
            "first/last",
            "arrive|arrival|arriving/depart|departure|departing|leave|leaving",
            "inbound|incoming/outbound|outgoing",
            "credit/debit",
            "receive|received|receiving/send|sent|sending",
        )
    )
]


def antonyms(new: str, cached: str) -> str | None:
    """For each antonym pair (enable/disable, upgrade/downgrade...), the same side is used."""
    a, b = set(_words(new)), set(_words(cached))
    for left, right in _ANTONYM_PAIRS:
        side_a = (bool(a.intersection(left)), bool(a.intersection(right)))
        side_b = (bool(b.intersection(left)), bool(b.intersection(right)))
        if side_a != side_b:
            return "antonym"
    return None


_ENTITY = re.compile(r"\b(?:[A-Z][\w&.-]*|[A-Z]{2,}\w*)(?:\s+(?:[A-Z][\w&.-]*|of|de|la|del|von))*")
_NOT_ENTITIES = frozenset(
    [
        "i",
        "i'm",
        "i'd",
        "i'll",
        "i've",
        "a",
        "an",
        "the",
        "what",
        "what's",
        "whats",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "please",
        "tell",
        "give",
        "show",
        "find",
            "explain",
        "summarize",
        "convert",
        "translate",
        "write",
        "make",
        "create",
        "book",
        "send",
        "set",
        "get",
        "help",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "ok",
        "okay",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "in",
        "on",
        "at",
        "to",
        "from",
        "for",
        "with",
        "by",
        "of",
        "my",
        "your",
        "our",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "it",
        "he",
        "she",
        "we",
        "they",
        "you",
        "me",
        "us",
        "them",
        "is",
        "there",
        "here",
    ]
)


# Words that start a request with a capital letter without being names ("Compose a haiku").
_COMMON_STARTS = frozenset(
    [
        "compose",
        "draft",
        "generate",
        "describe",
        "suggest",
        "recommend",
        "calculate",
        "compute",
        "count",
        "check",
        "compare",
        "define",
        "fix",
        "debug",
        "refactor",
        "remind",
        "schedule",
        "cancel",
        "order",
        "reserve",
        "transfer",
        "pay",
        "move",
        "rename",
        "update",
        "name",
        "provide",
        "outline",
        "rewrite",
        "rephrase",
        "paraphrase",
        "proofread",
        "correct",
        "improve",
        "plan",
        "estimate",
        "analyze",
        "analyse",
        "review",
        "search",
        "look",
        "lookup",
        "add",
        "remove",
        "delete",
        "enable",
        "disable",
        "upgrade",
        "downgrade",
        "install",
        "uninstall",
        "open",
        "close",
        "start",
        "stop",
        "turn",
        "run",
        "build",
        "deploy",
        "configure",
        "sort",
        "filter",
        "merge",
        "split",
        "send",
        "email",
        "call",
        "text",
        "buy",
        "sell",
        "share",
        "print",
        "read",
        "tell",
        "say",
        "is",
        "are",
        "was",
        "any",
        "some",
        "all",
        "every",
        "each",
        "also",
        "just",
        "only",
        "now",
        "today",
        "tomorrow",
        "yesterday",
        "quick",
        "quickly",
        "hi",
        "hello",
        "hey",
        "dear",
        "thanks",
        "could",
        "would",
        "should",
        "can",
        "may",
        "might",
        "will",
        "shall",
        "do",
        "does",
        "did",
    ]
)


def _entities(text: str) -> list[str]:
    found: list[str] = []
    for m in _ENTITY.finditer(text):
        words = m.group(0).split()
        starts_sentence = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in ".!?:"
        if starts_sentence and words[0].lower() in _COMMON_STARTS | _FORMATS.keys():
            words = words[1:]
        words = [w for w in words if w.lower().strip(".") not in _NOT_ENTITIES]
        if words:
            found.append(" ".join(words).strip(".").lower())
    return found


def entities(new: str, cached: str) -> str | None:
    """The same named entities (capitalized names, acronyms), in the same order. A name
    counts wherever it appears, in any case ("paris" matches "Paris"): a different city or
    library is ``entity``; the same ones swapped ("NYC to LA" / "LA to NYC") ``direction``.
    """
    names = set(_entities(new)) | set(_entities(cached))
    if not names:
        return None
    a_text, b_text = " ".join(_words(new)), " ".join(_words(cached))

    def positions(text: str) -> list[tuple[int, str]]:
        found = []
        for name in names:
            m = re.search(rf"\b{re.escape(' '.join(_words(name)))}\b", text)
            if m:
                found.append((m.start(), name))
        return sorted(found)

    a, b = positions(a_text), positions(b_text)
    if {n for _, n in a} != {n for _, n in b}:
        return "entity"
    return "direction" if [n for _, n in a] != [n for _, n in b] else None


def _quoted(text: str) -> Counter[str]:
    return Counter(next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text))


def quoted(new: str, cached: str) -> str | None:
    """Quoted strings and `code` are literal: they must be exactly the same."""
    return "quoted" if _quoted(new) != _quoted(cached) else None


_FORMATS: dict[str, str] = {}
for _group in (
    "json",
    "yaml yml",
    "xml",
    "csv",
    "toml",
    "html",
    "markdown md",
    "table tabular tables",
    "bullet bullets bulleted bullet-point",
    "numbered",
    "list",
    "haiku",
    "poem",
    "essay",
    "tweet",
    "email",
    "code",
    "python",
    "javascript js",
    "typescript ts",
    "java",
    "go golang",
    "rust",
    "c++ cpp",
    "c#",
    "sql",
    "bash shell",
    "ruby",
    "php",
    "kotlin",
    "swift",
    "english",
    "french français",
    "german",
    "spanish español",
    "italian",
    "portuguese",
    "chinese",
    "japanese",
    "korean",
    "russian",
    "arabic",
    "hindi",
    "dutch",
    "formal",
    "informal casual",
    "short brief concise",
    "detailed",
    "uppercase",
    "lowercase",
):
    _names = _group.split()
    for _name in _names:
        _FORMATS[_name] = _names[0]


def formats(new: str, cached: str) -> str | None:
    """The same requested output format, programming language and target language."""
    a = {_FORMATS[w] for w in _words(new) if w in _FORMATS}
    b = {_FORMATS[w] for w in _words(cached) if w in _FORMATS}
    return "format" if a != b else None


_STOPWORDS = {
    "en": [
        "the",
        "is",
        "are",
        "what",
        "how",
        "of",
        "to",
        "and",
        "in",
        "for",
        "a",
        "you",
        "my",
        "with",
        "can",
        "please",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "est",
        "des",
        "une",
        "un",
        "quel",
        "quelle",
        "comment",
        "pour",
        "avec",
        "dans",
        "je",
        "mon",
        "vous",
        "du",
    ],
    "es": [
        "el",
        "la",
        "los",
        "las",
        "es",
        "que",
        "cómo",
        "como",
        "para",
        "con",
        "una",
        "un",
        "del",
        "por",
        "mi",
        "usted",
        "qué",
        "cuál",
    ],
    "de": [
        "der",
        "die",
        "das",
        "ist",
        "und",
        "wie",
        "was",
        "für",
        "mit",
        "ein",
        "eine",
        "ich",
        "mein",
        "nicht",
        "zu",
        "den",
    ],
    "it": [
        "il",
        "lo",
        "gli",
        "è",
        "che",
        "come",
        "per",
        "con",
        "una",
        "un",
        "della",
        "mio",
        "qual",
        "quale",
        "sono",
    ],
    "pt": [
        "o",
        "os",
        "é",
        "que",
        "como",
        "para",
        "com",
        "uma",
        "um",
        "do",
        "da",
        "meu",
        "você",
        "qual",
        "são",
    ],
}


@lru_cache(maxsize=4096)
def _language(text: str) -> str:
    scripts = Counter(
        unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()
    ).most_common(1)
    if scripts and scripts[0][0] != "LATIN":
        return scripts[0][0].lower()
    words = _words(text)
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] else "unknown"


def language(new: str, cached: str) -> str | None:
    """The prompt is written in the same language (script, then common function words)."""
    a, b = _language(new), _language(cached)
    return "language" if "unknown" not in (a, b) and a != b else None


# Function words and the generic wording of requests: paraphrases add, drop and swap these
# freely ("Could you tell me...", "please"), so they carry no answer-changing content.
_GENERIC = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "about",
        "as",
        "into",
        "onto",
        "from",
        "up",
        "out",
        "over",
        "than",
        "then",
        "so",
        "such",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "it's",
        "i",
        "i'm",
        "i'd",
        "i'll",
        "i've",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "us",
        "you",
        "your",
        "yours",
        "he",
        "she",
        "they",
        "them",
        "their",
        "what",
        "what's",
        "whats",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "there",
        "here",
        "please",
        "kindly",
        "could",
        "can",
        "would",
        "will",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "tell",
        "give",
        "show",
        "let",
        "know",
        "need",
        "want",
        "like",
        "help",
        "get",
        "got",
        "find",
        "look",
        "explain",
        "say",
        "said",
        "just",
        "also",
        "really",
        "very",
        "quick",
        "quickly",
        "some",
        "any",
        "all",
        "each",
        "every",
        "one",
        "and",
        "or",
        "but",
        "if",
        "any",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "ok",
        "okay",
        "sure",
        "exactly",
        "actually",
        "currently",
        "right",
        "now",
        "way",
        "ways",
        "thing",
        "things",
        "something",
        "anything",
        "make",
        "made",
        "using",
        "use",
        "via",
        "per",
        "being",
        "able",
        "possible",
    ]
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _content(text: str) -> set[str]:
    words = (_UNITS.get(w, w) for w in _words(text.replace("'s", "")))
    return {_stem(w) for w in words if w not in _GENERIC and not w.isdigit()}


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
    "negation": negation,
    "antonyms": antonyms,
    "formats": formats,
    "language": language,
    "entities": entities,
}
# Off by default (it costs most of the paraphrase recall); ``SemanticConfig(guards=[...])``.
OPTIONAL_GUARDS: dict[str, Guard] = {"wording": wording}


def check(new: str, cached: str, guards: Iterable[tuple[str, Guard]]) -> Verdict:
    """Run every guard; the first veto wins. A guard that raises vetoes (``guard_error``)."""
    passed: list[str] = []
    for name, guard in guards:
        try:
            reason = guard(new, cached)
        except Exception:
            return Verdict(f"{name}:guard_error", tuple(passed))
        if reason is not None:
            return Verdict(reason, tuple(passed))
        passed.append(name)
    return Verdict(None, tuple(passed))
