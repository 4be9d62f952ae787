"""Word lists the semantic-cache guards use (general English, a few other languages).

Plain data, no logic: each list says why it exists. Lists are written as space-separated strings
to keep them short; ``_words`` splits them. Every entry is general-purpose vocabulary, not words
picked from any test prompt.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _seq(text: str) -> list[str]:
    return text.split()


def _groups(*lines: str) -> dict[str, str]:
    """``"km kilometer kilometers"`` -> every spelling maps to the first one."""
    table: dict[str, str] = {}
    for line in lines:
        names = line.split()
        for name in names:
            table[name] = names[0]
    return table


# --- numbers -------------------------------------------------------------------------------

# Number words written out, so "five" and 5 compare equal. "one" (and "un", "uno", "ein") is left
# out on purpose: it is mostly an article or pronoun ("one key", "in one word" = "a single word").
_UNITS_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
NUMBER_WORD_VALUES: dict[str, int] = {
    **{w: i for i, w in enumerate(_UNITS_WORDS.split(" ")) if w != "one"},
    **{w: 20 + 10 * i for i, w in enumerate(_TENS_WORDS.split(" "))},
    # French, Spanish, German 2..10 (the languages the language guard knows).
    **{w: i + 2 for i, w in enumerate(_seq("deux trois quatre cinq six sept huit neuf dix"))},
    **{w: i + 2 for i, w in enumerate(_seq("dos tres cuatro cinco seis siete ocho nueve diez"))},
    **{
        w: i + 2 for i, w in enumerate(_seq("zwei drei vier f\u00fcnf sechs sieben acht neun zehn"))
    },
}

# Quantity words that are not digits but change an amount ("a dozen", "twice").
QUANTITY_WORDS = _words("hundred thousand million billion half dozen once twice")

# Suffixes that scale a number: "$200k" is "$200,000".
NUMBER_SCALES = {"k": 1_000, "bn": 1_000_000_000}

# A number after "to" is a target, after "by" a change: "scale to 5" is not "scale by 5"; after
# "from" a start: "from 80 to 8080" is not "from 8080 to 80".
NUMBER_ROLES = {"to": "to", "by": "by", "from": "from", "of": "of", "than": "than"}
# Roles that, when both prompts give them, must go to the same numbers: "what percentage of 80
# is 20" is not "80 is what percent of 20". (A prompt may word the role otherwise: "radius of
# 5 cm" is "radius is 5 cm", "larger than 100MB" is "over 100MB".)
PAIRED_NUMBER_ROLES = ("of", "than")

# --- units ---------------------------------------------------------------------------------

# Units and currencies, grouped by spelling: "km", "kilometers" and "kilometres" are one unit.
UNITS = _groups(
    "km kilometer kilometers kilometre kilometres kms",
    "mi mile miles",
    "nmi",  # nautical miles ("nautical mile" is rewritten to "nmi" first)
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
    "st stone stones",
    "l liter liters litre litres",
    "ml milliliter milliliters millilitre millilitres",
    "gal gallon gallons",
    "c celsius centigrade \u00b0c",
    "f fahrenheit \u00b0f",
    "kelvin",
    "usd dollar dollars $",
    "eur euro euros \u20ac",
    "gbp pound_sterling \u00a3",
    "jpy yen \u00a5",
    "mph",
    "kph kmh km/h",
    "m/s mps",
    "s sec secs second seconds",
    "min mins minute minutes",
    "h hr hrs hour hours heure heures",
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
)
# Letters and short words that are units only right after a number ("5 m", "3 s"), not as
# ordinary words ("a", "in", "st"); calendar words too ("per day" is "daily", "this year").
AMBIGUOUS_UNITS = _words("m s h c f g l in w ha min st day days week weeks month months year years")

# --- negation and antonyms -----------------------------------------------------------------

# Words that negate a sentence (by parity: "not without" is with). "-free" ("dairy-free") is
# handled as a suffix in the guard.
NEGATIONS = _words(
    "not no never none nothing nobody neither nor without cannot can't don't doesn't didn't "
    "isn't aren't wasn't weren't won't wouldn't shouldn't couldn't mustn't haven't hasn't "
    "hadn't exclude excluding except ne pas jamais sans nicht kein keine ohne nunca sin"
)

# Pairs of opposite actions or properties ("left|side/right|side"). A veto needs one prompt on
# one side and the other prompt on the other: a word missing on one side is not a contradiction.
ANTONYM_PAIRS = (
    "enable|enabled|enabling/disable|disabled|disabling",
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
    "first|earliest/last|latest",
    "next/previous|last",
    "arrive|arrival|arriving/depart|departure|departing",
    "inbound|incoming|ingress/outbound|outgoing|egress",
    "credit/debit",
    "receive|received|receiving/send|sent|sending",
    "set|setting/unset|unsetting",
    "book|reserve|schedule|réserve|réserver/cancel|annule|annuler",
    "renew/cancel",
    "resume|unpause/pause",
)

# --- kinds of words --------------------------------------------------------------------------

# Closed classes of interchangeable-looking words that change the answer when swapped for
# another member: embeddings put "today" and "tomorrow", or "plus" and "times", close together.
# A veto needs a member in both prompts and different members.
WORD_CLASSES: dict[str, frozenset[str]] = {
    "day": _words("today tonight tomorrow yesterday weekend"),
    "weekday": _words("monday tuesday wednesday thursday friday saturday sunday"),
    # a day named either way: "tomorrow" and "on Friday" are two days unless today is Thursday
    "date": _words(
        "today tonight tomorrow yesterday weekend "
        "monday tuesday wednesday thursday friday saturday sunday"
    ),
    # "may" and "march" are left out: they are also a modal verb and a verb.
    "month": _words("january february april june july august september october november december"),
    "time_of_day": _words("morning afternoon evening night noon midnight"),
    "season": _words("spring summer autumn winter"),
    "operation": _words("plus minus times multiplied multiply divided divide squared cubed modulo"),
    "transport": _words(
        "bus train flight ferry boat ship subway metro tram taxi cab car bike bicycle"
    ),
    "people": _words(
        "child children kid kids adult adults teen teens teenager teenagers infant infants "
        "baby babies toddler toddlers elderly senior seniors man men woman women boy boys "
        "girl girls dog dogs cat cats"
    ),
    "frequency": _words("hourly daily weekly monthly yearly annual annually nightly"),
    "comparative": _words(
        "better worse faster slower cheaper bigger smaller larger older newer younger "
        "higher lower longer shorter heavier lighter"
    ),
    "color": _words("red green blue yellow black white orange purple pink brown gray grey"),
    "meal": _words("breakfast brunch lunch dinner supper"),
    "size": _words("tiny small medium large huge"),
}

# --- entities ------------------------------------------------------------------------------

# Capitalized words that are not names: pronouns, question words, auxiliaries, common verbs.
NOT_ENTITIES = _words(
    "i i'm i'd i'll i've a an the what what's whats which who whom whose when where why how is "
    "are was were do does did can could would should will shall may might must please tell give "
    "show find explain summarize convert translate write make create book send set get help hi "
    "hello hey thanks thank ok okay and or but if then so in on at to from for with by of my "
    "your our their its this that these those it he she we they you me us them there here"
)

# Words that start a request with a capital letter without being names ("Compose a haiku").
# A one-word capitalized span at the start of a sentence is not taken for a name either (see
# the entity guard); this list also strips such words from longer spans ("Compose French...").
COMMON_STARTS = _words(
    "compose draft generate describe suggest recommend calculate compute count check compare "
    "define fix debug refactor remind schedule cancel order reserve transfer pay move rename "
    "update name provide outline rewrite rephrase paraphrase proofread correct improve plan "
    "estimate analyze analyse review search look lookup add remove delete enable disable upgrade "
    "downgrade install uninstall open close start stop turn run build deploy configure sort "
    "filter merge split send email call text buy sell share print read tell say is are was any "
    "some all every each also just only now today tomorrow yesterday quick quickly hi hello hey "
    "dear thanks could would should can may might will shall do does did"
)

# Abbreviations and their expansions, as one name ("US" is "United States").
ENTITY_ALIASES = _groups(
    "us usa united_states america american u.s. u.s.a.",
    "uk united_kingdom britain british great_britain",
    "eu european_union",
    "uae united_arab_emirates",
    "nyc new_york_city",
    "la los_angeles",
    "sf san_francisco",
    "dc washington_dc",
)

# --- formats and languages -----------------------------------------------------------------

# Output formats, programming and natural languages, registers and lengths a prompt may ask for.
FORMATS = _groups(
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
    "haiku",
    "poem",
    "essay",
    "tweet",
    "email",
    "python",
    "javascript js",
    "typescript ts",
    "java",
    "golang",
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
    "french fran\u00e7ais",
    "german",
    "spanish espa\u00f1ol",
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
)

# Common function words per language, to tell the language a prompt is written in.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the is are what how of to and in for a you my with can please"),
    "fr": _words(
        "le la les est des une un quel quelle comment pour avec dans je mon vous du tu peux"
    ),
    "es": _words(
        "el la los las es que c\u00f3mo como para con una un del por mi usted qu\u00e9 cu\u00e1l"
    ),
    "de": _words("der die das ist und wie was f\u00fcr mit ein eine ich mein nicht zu den"),
    "it": _words("il lo gli \u00e8 che come per con una un della mio qual quale sono"),
    "pt": _words("o os \u00e9 que como para com uma um do da meu voc\u00ea qual s\u00e3o"),
}

# --- content words -------------------------------------------------------------------------

# Function words and the generic wording of requests: paraphrases add, drop and swap these
# freely ("Could you tell me...", "please"), so they carry no answer-changing content.
GENERIC = _words(
    "a an the is are was were be been being am do does did doing have has had having of to in "
    "on at by for with about as into onto from up out over than then so such this that these "
    "those it its it's i i'm i'd i'll i've me my mine we our us you your yours he she they them "
    "their what what's whats which who whom whose when where why how there here please kindly "
    "could can would will shall should may might must tell give show let know need want like "
    "help get got find look explain say said just also really very quick quickly some any all "
    "each every one and or but if hi hello hey thanks thank ok okay sure exactly actually "
    "currently right now way ways thing things something anything make made using use via per "
    "able possible step steps go going take takes taken whether"
    # "degrees" only carries a temperature unit, which the unit guard compares.
    " degree degrees"
    # French, Spanish, German request phrasing and articles.
    " le la les l' un une des du de d' est ce cette pour peux tu vous je me s'il te plaît "
    " el los las es que para por con una un del y "
    " der die das ein eine ist und f\u00fcr mit zu den ich"
)

# Determiners skipped to find the noun a preposition points at ("from the dev database").
DETERMINERS = _words("the a an my your our their this that these those its")

# Multi-word phrasings rewritten before comparing content words ("get rid of" is "remove").
PHRASES: dict[str, str] = {
    "get rid of": "remove",
    "set up": "schedule",
    "per day": "daily",
    "a day": "daily",
    "each day": "daily",
    "in one day": "daily",
    "per week": "weekly",
    "per month": "monthly",
    "per year": "yearly",
    "at most": "maximum",
    "at least": "minimum",
    "most recent": "last",
    "united states": "us",
    "united kingdom": "uk",
    "regular expression": "regex",
    "new york city": "nyc",
    "los angeles": "la",
    "turn on": "enable",
    "switch on": "enable",
    "turn off": "disable",
    "switch off": "disable",
}

# Paraphrase variants of general English: words that mean the same in a request. The first
# word of each group is the canonical one.
SYNONYMS = _groups(
    "buy purchase",
    "sell",
    "sort order arrange rank",
    "remove delete erase",
    "maximum max highest largest biggest",
    "minimum min lowest smallest",
    "show display print list view",
    "schedule arrange organize organise",
    "reserve book",
    "copy duplicate clone",
    "move transfer relocate",
    "change modify alter edit adjust",
    "create make generate produce compose write draft",
    "summary summarize summarise summarized summarised",
    "answer reply respond response",
    "word words",
    "difference differ different differences vs versus compare comparison",
    "explain describe",
    "allow permit",
    "dev development",
    "prod production",
    "config configuration settings",
    "db database",
    "repo repository",
    "app application",
    "info information",
    "doc docs documentation",
    "us usa america american",
    "uk britain british",
    "adult adults grown-up grown-ups",
    "kid kids child children",
    "price cost",
    "flight plane airplane aeroplane",
    "fast quick rapid",
    "big large",
    "small little",
    "begin start",
    "finish end",
    "leave depart departing leaves",
    "calculate compute",
    "amount quantity",
    "dose dosage",
)
