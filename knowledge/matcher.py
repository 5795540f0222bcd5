"""Free-text question matching against the knowledge base.

Pipeline for one question:

1. :func:`normalise` (lowercase, strip accents, drop punctuation, collapse whitespace), truncated
   to :data:`MAX_INPUT_CHARS` characters first so a 10,000-character message stays cheap.
2. Small talk (greetings, thanks, yes/no, bye) is recognised before matching and never gets an
   article.
3. :func:`detect_language` (stop-word counts) unless the caller passes the language.
4. The question, with stop words removed, synonyms written one way (:data:`SYNONYMS`) and two
   words the knowledge base writes as one joined ("terug draaien"), is scored against the
   precomputed question variants (and titles) of *both* languages (customers mix); variants in
   the detected language get a small bonus. Each word is resolved to the knowledge base's
   words: exactly, as a typo (rapidfuzz), by a crude 5-letter stem, as a part of compounds
   ("termijn" -> "opzegtermijn") or split into known parts. An inverted index (word ->
   variants, shortest first, cut to ``champions``) gives the candidates: only variants sharing
   a resolved word are scored, so the work per question does not grow with the variants.
   Pass 1 runs in C over the candidates (token_sort_ratio on pre-sorted words) and keeps the
   best ``rerank``; pass 2 scores those with the full blend
   (token_sort_ratio/token_set_ratio/WRatio). An article's fuzzy score mixes its best variant
   with the mean of its best three. A keyword component adds the IDF-weighted share of the
   question's words the article uses (words the knowledge base never uses count against every
   article). A long message is matched as a whole and on its best sentences (those with the
   most knowledge-base words); a sentence of a short message is read in the message's context.
5. Bands: ``answer`` when the best score is high and clearly ahead of the best *different*
   article (or middling but far ahead, for a question that names an in-scope topic such as
   cancelling), ``suggest`` (2-3 ids, best first) when the score is middling or several
   articles are close, ``none`` otherwise. Two guards against confident answers to other
   hosting questions: a question naming an out-of-scope topic (e-mail, DNS, SSL, WordPress,
   outages, backups, payment method ...) and no in-scope one gets ``none``; and ``answer``
   needs the best article's vocabulary to cover enough of the question's content words.

The scorer blend and the thresholds in :class:`MatcherConfig` were chosen by measurement on
``knowledge/eval/tuning.tsv`` (see ``python -m knowledge.evaluate``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz, process

from knowledge.kb import KnowledgeBase

Band = Literal["answer", "suggest", "none"]
SmallTalk = Literal["greeting", "thanks", "yes", "no", "bye"]

#: Only the first this many characters of a message (or of one of its sentences) are matched.
MAX_INPUT_CHARS = 300
#: A long message is matched on at most this many of its sentences: of its first
#: MAX_SENTENCES, the BEST_SENTENCES that use the most (and rarest) knowledge-base words.
MAX_SENTENCES = 40
BEST_SENTENCES = 4
#: The language of a message is detected on its first this many characters.
LANGUAGE_CHARS = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|[\r\n]+")

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")
# "e-mail", "e mail" -> "email" (also in compounds: "e-mailadres" -> "emailadres").
_EMAIL_WORD = re.compile(r"\be[\s\-]+mail")
# Characters NFKD does not decompose into ASCII but that customers type.
_EXTRA_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ı": "i", "’": "'"}
)


def normalise(text: str) -> str:
    """Lowercase, strip accents, turn punctuation into spaces and collapse whitespace.

    Apostrophes inside words are dropped rather than split ("can't" -> "cant", "m'n" -> "mn").
    """
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLD))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("'", "").replace("`", "")
    text = _EMAIL_WORD.sub("email", text)
    return _NON_WORD.sub(" ", text).strip()


# --------------------------------------------------------------------------------------------
# Language detection
# --------------------------------------------------------------------------------------------

_NL_WORDS = frozenset(
    """
    de het een en ik je jij u mijn mn jullie we wij is zijn ben bent heb hebt heeft hoe wat waar
    wanneer waarom welke niet geen wel nog al ook maar of dat die dit deze van voor met op aan bij
    naar om te tot uit kan kun kunt kunnen moet moeten wil wilt willen graag mag er als dan zo
    toch even hoi hallo bedankt dank alvast zeg opzeggen opgezegd factuur mijnn waarmee wordt
    worden gaat doe doen krijg kreeg hoeveel lukt
    """.split()
)
_EN_WORDS = frozenset(
    """
    the a an and i you my your we our is are am was be been have has had how what where when why
    which not no yes but or that this these of for with on at to from can could do does did want
    would should will please my me it its there hi hello thanks thank cancel cancelled invoice
    get got still after before if so just need
    """.split()
)


def detect_language(text: str) -> str:
    """Guess "nl" or "en" from stop-word counts; "nl" when unsure (most customers are Dutch)."""
    return _language_of(normalise(text[:MAX_INPUT_CHARS]))


def _language_of(norm: str) -> str:
    words = norm.split()
    nl = sum(1 for w in words if w in _NL_WORDS)
    en = sum(1 for w in words if w in _EN_WORDS)
    return "en" if en > nl else "nl"


# --------------------------------------------------------------------------------------------
# Small talk
# --------------------------------------------------------------------------------------------

_SMALLTALK_WORDS: dict[str, SmallTalk] = {}
for _kind, _words in (
    ("greeting", "hallo hoi hey hei hi hello hallo hoihoi heey hee yo goedemorgen goedemiddag "
                 "goedenavond goedendag morgen middag avond gm morning afternoon evening "
                 "dag daar there allemaal everyone howdy greetings"),
    ("thanks", "bedankt dank danku dankje dankjewel dankuwel thanks thank thx tnx thnx ty merci "
               "top super fijn mooi perfect great cool helemaal geholpen appreciated cheers"),
    ("yes", "ja jawel jazeker yes yep yeah yup ok oke okay okey oki prima goed klopt correct "
            "sure zeker akkoord graag please inderdaad right fine"),
    ("no", "nee neen nope nah no niet nooit liever never"),
    ("bye", "doei dag daag doeg tot ziens later bye goodbye cya see you tschuss ciao fijne weekend "
            "nog avond"),
):
    for _w in _words.split():
        _SMALLTALK_WORDS.setdefault(_w, _kind)  # type: ignore[arg-type]

# Words that may accompany small talk without making it a question.
_SMALLTALK_FILLER = frozenset(
    """
    wel je u jij jou voor de het hartelijk heel erg veel zeer nogmaals alvast hoor ik oh o ah
    much very so a lot you all for your help hulp the nice good dear beste team dan toch man
    jullie have day een fijne goede
    """.split()
)
# Whole phrases whose kind differs from their first word ("tot ziens", "goede avond" ...).
_SMALLTALK_PHRASES: dict[str, SmallTalk] = {
    "tot ziens": "bye",
    "tot later": "bye",
    "see you": "bye",
    "see you later": "bye",
    "fijne dag": "bye",
    "fijne dag nog": "bye",
    "have a nice day": "bye",
    "nee dank je": "no",
    "nee bedankt": "no",
    "no thanks": "no",
    "no thank you": "no",
    "ja graag": "yes",
    "yes please": "yes",
    "dag": "bye",
}


def detect_smalltalk(text: str) -> SmallTalk | None:
    """The kind of small talk ``text`` is, or None if it contains anything else.

    Only messages made up entirely of small-talk and filler words count: "hallo, ik wil
    opzeggen" is a question, "hallo!" and "dank je wel 👍" are small talk.
    """
    return _smalltalk_of(normalise(text[:MAX_INPUT_CHARS]))


def _smalltalk_of(norm: str) -> SmallTalk | None:
    if not norm:
        return None
    if norm in _SMALLTALK_PHRASES:
        return _SMALLTALK_PHRASES[norm]
    words = norm.split()
    if len(words) > 6:
        return None
    kinds: list[SmallTalk] = []
    for w in words:
        kind = _SMALLTALK_WORDS.get(w)
        if kind is not None:
            kinds.append(kind)
        elif w not in _SMALLTALK_FILLER:
            return None
    if not kinds:
        return None
    # "ok bedankt" -> thanks; "ja, dank je" -> thanks; "hoi, bedankt" -> thanks.
    preference: tuple[SmallTalk, ...] = ("thanks", "bye", "no", "yes", "greeting")
    for preferred in preference:
        if preferred in kinds:
            return preferred
    return kinds[0]  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------

# Out-of-scope hosting topics. The knowledge base is about cancelling and what goes with it
# (notice, invoices, transfer, renewal, payment arrangement, panel login, contact). Everyday
# support questions about other hosting topics share words with it ("website", "domein",
# "wachtwoord", "factuur") and used to get confident wrong answers. A question that names one
# of these topics and no in-scope topic gets band ``none``. Words match as prefixes of the
# question's (normalised) words unless listed as exact.
_OOS_PREFIXES = (
    # websites, software
    "wordpress", "joomla", "drupal", "woocommerce", "plugin", "elementor", "webshop", "cms",
    "php", "mysql", "mariadb", "database", "databank", "phpmyadmin", "ftp", "sftp", "filezilla",
    "cronjob", "htaccess", "redirect", "doorverwijz", "subdomein", "subdomain", "sitebuilder",
    # outages, speed, errors, security
    "offline", "onbereikbaar", "unreachable", "traag", "trage", "langzaam", "slow", "snelheid",
    "error", "foutmelding", "storing", "outage", "gehackt", "hacked", "hacker", "hack", "malware",
    "virus", "phishing", "spam", "uptime", "crash",
    # DNS, SSL
    "nameserver", "naamserver", "record", "dkim", "dmarc", "certifi", "letsencrypt",
    # mail boxes
    "mailbox", "webmail", "outlook", "thunderbird", "imap", "smtp", "pop3", "doorstu",
    "forward", "bounce", "alias",
    # backups, resources, sales
    "backup", "upgrad", "downgrad", "opslag", "schijfruimte", "diskspace", "storage",
    "bandwidth", "bandbreedte", "dataverkeer", "korting", "discount", "prijs", "prijzen", "price",
    "pricing", "tarie", "kosten",
    # payment method and billing details
    "betaalmethode", "betaalwijze", "incasso", "machtiging", "iban", "creditcard", "paypal",
    "factuuradres", "factuurgegevens", "btw", "kvk", "bedrijfsnaam",
)
_OOS_EXACT = frozenset(
    """
    wp sql ssh dns mx spf cname txt ssl https tls down eruit 500 502 503 404 403 vat
    adres address kost cost costs groter bigger larger vrij beschikbaar available
    """.split()
)
# "e-mail" alone is a weaker sign: a login question may mention it ("met welk e-mailadres").
_OOS_SOFT = frozenset("email emails mail mails mailen mailtjes gmail hotmail".split())
_OOS_PHRASES = re.compile(
    r"\b(?:back ups?|payment method|billing (?:address|details)|credit card|disk space"
    r"|(?:nieuwe?|new|extra|tweede|second|another|meer|more) (?:\w+ )?(?:domein\w*|domain\w*"
    r"|website\w*|sites?|mailbox\w*|email\w*|e ?mail\w*|ruimte|space)"
    r"|(?:registr\w*|aanvragen|kopen|buy) (?:\w+ ){0,2}(?:domein\w*|domain\w*)"
    r"|(?:domein\w*|domain\w*) (?:\w+ ){0,2}(?:registr\w*|kopen|buy))\b"
)
# In-scope topics: when one of these is named the question is for the knowledge base.
_ANCHOR_PREFIXES = (
    "opzeg", "opgezeg", "opzegg", "cancel", "cancl", "cancle", "opheff", "opgeheven", "beeindig",
    "terminat", "stopzet", "unsubscri", "verhuiz", "verhuis", "transfer", "authcode", "epp",
    "tokencode", "verleng", "verlen", "renew", "betalingsreg", "betaalreg", "betalingsafspr",
    "regeling", "arrangement", "installm", "instalm", "gespreid", "uitstel", "notice", "klantenpa",
    "klantepa", "klantenpo", "panel", "paneel", "helpdesk", "medewerker", "collega",
    "klantenservice", "reden", "reason", "refund", "terugbetal", "crediter", "gefactureerd",
)
_ANCHOR_EXACT = frozenset("mens human person persoon".split())
_ANCHOR_PHRASES = re.compile(
    r"\b(?:op te zeggen|zeg\w* (?:\w+ ){0,4}op|client area|customer service)\b"
)
# Logging in to the panel outweighs the weak (mail) signal, not the strong ones.
_LOGIN_PREFIXES = ("inlog", "login", "wachtwoord", "password", "gebruikersnaam", "username")
_LOGIN_PHRASES = re.compile(r"\b(?:log(?:ged)? (?:in|on)|sign in)\b")
_MAIL_ADDRESS = re.compile(r"\b(e?mail) (adres\w*|address\w*)")

Topic = Literal["in", "out", "mail", "login"]


def _has_prefix(words: Sequence[str], prefixes: tuple[str, ...]) -> bool:
    return any(w.startswith(prefixes) for w in words)


def out_of_scope_topic(text: str) -> bool:
    """Whether ``text`` names an out-of-scope hosting topic (e-mail, DNS, SSL, WordPress ...)
    and no in-scope one, i.e. whether :class:`Matcher` caps it at band ``none``."""
    return _topic_of(normalise(text[:MAX_INPUT_CHARS])) in ("out", "mail")


def _topic_of(norm: str) -> Topic | None:
    """"in" (an in-scope topic is named), "out" (an out-of-scope one and no in-scope one),
    "mail" (only e-mail is named), "login" (e-mail and logging in), or None (neither)."""
    norm = _MAIL_ADDRESS.sub(r"\1\2", norm)
    words = norm.split()
    if _has_prefix(words, _ANCHOR_PREFIXES) or _ANCHOR_PHRASES.search(norm) or any(
        w in _ANCHOR_EXACT for w in words
    ):
        return "in"
    if (
        _has_prefix(words, _OOS_PREFIXES)
        or any(w in _OOS_EXACT for w in words)
        or _OOS_PHRASES.search(norm)
    ):
        return "out"
    if any(w in _OOS_SOFT for w in words):
        login = _has_prefix(words, _LOGIN_PREFIXES) or _LOGIN_PHRASES.search(norm)
        return "login" if login else "mail"
    return None


# Cancelling one service and keeping the other (articles with ``service = "hosting"`` or
# ``"domain"``). Their variants share every word with each other and with the general
# cancellation article, so a word bag cannot tell them apart: only a question that contrasts
# (keeps, "only", "without", "separately" ...) can be about them, and which service is
# cancelled follows from the verb nearest to each service word.
_PARTIAL_MARKERS = frozenset(
    """
    alleen enkel slechts los apart afzonderlijk zonder behalve houden behouden aanhouden
    bewaren blijft blijven doorlopen only just separately separate without except keep keeping
    kept stay stays remain remains
    """.split()
)
_KEEP_WORDS = frozenset(
    "houden behouden aanhouden bewaren blijft blijven doorlopen keep keeping kept stay stays "
    "remain remains continue".split()
)
_CANCEL_PREFIXES = (
    "opzeg", "opgezeg", "zeg", "cancel", "stop", "opheff", "beeindig", "terminat", "end",
    "drop", "weg", "verlop", "vervall", "expire", "remove", "verwijder", "rid", "quit",
)
#: A verb after one of these means the opposite ("zonder op te zeggen", "without cancelling").
_NEGATIONS = frozenset("zonder without niet not geen no dont".split())
#: A service word right after one of these is the one *not* meant ("niet het domein").
_NOUN_NEGATIONS = frozenset("niet not behalve except".split())
#: A service word farther than this from every verb does not count.
_VERB_REACH = 3
_SERVICE_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hosting", ("hosting", "webhosting", "pakket", "package", "plan", "webruimte", "webspace",
                 "website", "site")),
    ("domain", ("domein", "domain")),
)


def cancelled_service(query: str, lang: str = "nl") -> str | None:
    """Which one service a question cancels while keeping the other ("hosting" or "domain"),
    judged by the verb (keep or cancel) nearest to each service word; None when unclear.

    ``query`` is normalised (stop words may be removed), with clause breaks marked (see
    :func:`clauses_of`); only a verb in the same clause counts. On a tie the verb after the
    word wins in Dutch ("domein houden"), the one before it in English ("keep the domain"). A
    verb after "zonder"/"without"/"niet" and a service word right after "niet"/"not"/"behalve"
    count the other way round ("zonder dat mijn domein verloopt", "niet het domein")."""
    words = query.split()
    verbs: list[tuple[int, bool]] = []  # (position, is a keep verb)
    for i, w in enumerate(words):
        keep = w in _KEEP_WORDS
        if keep or w.startswith(_CANCEL_PREFIXES):
            negated = any(x in _NEGATIONS for x in words[max(0, i - 3):i])
            verbs.append((i, keep != negated))
    if not verbs:
        return None
    votes: set[str] = set()
    for i, w in enumerate(words):
        service = next((name for name, prefixes in _SERVICE_PREFIXES
                        if w.startswith(prefixes)), None)
        if service is None:
            continue
        # The verb must be in the same clause: "cancel the hosting, the domain should stay".
        same = [v for v in verbs if _CLAUSE_BREAK not in words[min(v[0], i):max(v[0], i)]]
        if not same:
            continue
        position, keep = min(same, key=lambda v: (abs(v[0] - i), (v[0] < i) == (lang == "nl")))
        if abs(position - i) > _VERB_REACH:
            continue
        if any(x in _NOUN_NEGATIONS for x in words[max(0, i - 2):i]):
            keep = not keep
        other = "domain" if service == "hosting" else "hosting"
        votes.add(other if keep else service)
    return votes.pop() if len(votes) == 1 else None


_CLAUSE_BREAK = "|"
_CLAUSE_SPLIT = re.compile(r"[,;:.!?()]|\b(?:and|but|while|en|maar|terwijl)\b", re.IGNORECASE)


def clauses_of(text: str, strip: Callable[[str], str] = lambda norm: norm) -> str:
    """``text`` normalised (and ``strip``-ped) clause by clause, the clauses joined by "|"
    (split at punctuation and at "and", "but", "en", "maar" ...)."""
    parts = (strip(normalise(part)) for part in _CLAUSE_SPLIT.split(text))
    return f" {_CLAUSE_BREAK} ".join(part for part in parts if part)


def _names_both_services(words: Sequence[str]) -> bool:
    return all(any(w.startswith(prefixes) for w in words) for _, prefixes in _SERVICE_PREFIXES)


# Words that carry no topic of their own; left out of the coverage share.
_COVERAGE_IGNORE = frozenset(
    """
    niet geen nog al ook wel meer met voor naar tot uit als wanneer waarom welke waar nu
    hoeveel hoelang iets niets niks alles ze hun hij zij zich me mij jou jouw uw zelf
    heel erg veel echt gewoon dus want omdat terwijl sinds na over door zonder tegen
    not no still with for from why when where which after before now just get got dont cant
    any some all very really already yet since about by into than then also only one ive
    """.split()
)


# Stop words removed before fuzzy matching (measured to help; see evaluate). Content words such
# as "niet", "geen", "direct", "nog" stay because they separate articles.
STOP_WORDS = frozenset(
    """
    de het een ik je jij u mijn mn m jullie we wij ons onze is zijn ben bent was hoe wat
    er dat die dit deze van op aan bij om te in en of dan zo maar toch even graag
    hallo hoi goedemorgen goedemiddag goedendag beste alvast bedankt dank groet groeten vriendelijke
    mvg ik heb hebt heeft kan kun kunt kunnen moet moeten wil wilt willen zou zouden mag doe doen
    the a an i you my your me we our us is are am was be been how what do does
    did can could would should will want to of in on at it its this that these those there and
    or so hi hello please thanks thank regards dear have has had i'm im id
    """.split()
)

#: Words that mean the same in this domain, written one way (questions and variants alike).
SYNONYMS = {
    "rekening": "factuur", "rekeningen": "facturen", "nota": "factuur",
    "bill": "invoice", "bills": "invoices", "billed": "invoiced",
}

#: Words sharing this many first letters count as the same word (keyword component only)...
STEM_CHARS = 5
#: ... at this similarity.
STEM_SIMILARITY = 0.8
#: A compound is split into parts of at least COMPOUND_PART letters; a part found alone has at
#: least COMPOUND_MIN letters.
COMPOUND_PART = 3
COMPOUND_MIN = 4
#: A stem's or a compound part's candidates for the fuzzy scorers are the variants of its this
#: many most used words.
RELATED_WORDS = 8

Scorer = Callable[..., float]
_SCORERS: dict[str, Scorer] = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_token_set_ratio": fuzz.partial_token_set_ratio,
    "WRatio": fuzz.WRatio,
    "QRatio": fuzz.QRatio,
}


@dataclass(frozen=True)
class MatcherConfig:
    """Scorer blend and band thresholds (chosen on the tuning set; see module docstring)."""

    weights: tuple[tuple[str, float], ...] = (
        ("token_sort_ratio", 0.5),
        ("token_set_ratio", 0.3),
        ("WRatio", 0.2),
    )
    remove_stop_words: bool = True
    lang_bonus: float = 2.0
    #: Share of the IDF-weighted keyword-overlap score in the final score (0 = fuzzy only).
    keyword_weight: float = 0.2
    #: Share of the mean of an article's best three variants in its score (rest: the best one).
    agg_top3: float = 0.3
    #: Minimum rapidfuzz ratio for a query word to count as a (misspelt) vocabulary word.
    word_cutoff: float = 80.0
    answer_min: float = 77.0
    answer_margin: float = 6.0
    suggest_min: float = 50.0
    suggest_window: float = 12.0
    #: A clear lead also answers at a middling score (best >= answer_low_min and ahead of the
    #: runner-up by answer_low_margin), but only when the question names an in-scope topic
    #: (cancelling, notice, transfer, renewal ...; see ``_ANCHOR_PREFIXES``).
    answer_low_min: float = 62.0
    answer_low_margin: float = 8.0
    #: Coverage: share of the question's content words the best article's vocabulary knows
    #: (typos and stems count). Below these the band is capped (unknown words such as
    #: "wordpress" or "gehackt" mean the question is about something else). Measured: a
    #: suggest threshold above 0 only lost in-scope suggestions once the topic cap was in.
    answer_coverage: float = 0.4
    suggest_coverage: float = 0.0
    #: Cap the band at ``none`` when the question names an out-of-scope hosting topic (e-mail,
    #: DNS, SSL, WordPress ...) and no in-scope topic (cancelling, invoices, transfer ...).
    topic_cap: bool = True
    #: How many variants (best by token_sort_ratio) get the full, slower scorer blend.
    rerank: int = 16
    #: Variants scored per (resolved) question word at most: the inverted index keeps the
    #: shortest this many variants of each word (see Matcher.__init__).
    champions: int = 64
    #: Write synonyms one way (SYNONYMS).
    synonyms: bool = True
    #: Join two words of the question the knowledge base writes as one word.
    join_compounds: bool = True
    #: The stop-word-free query is cut to this many characters before fuzzy scoring (speed).
    max_query_chars: int = 80
    #: A message longer than this is also matched sentence by sentence (see Matcher.match;
    #: measured on the tuning set: splitting every message helps a little, also short ones).
    sentence_min_chars: int = 0


DEFAULT_CONFIG = MatcherConfig()


@dataclass(frozen=True)
class Match:
    article: str | None
    score: int
    band: Band
    suggestions: tuple[str, ...]
    lang: str
    smalltalk: SmallTalk | None = None
    #: For a long message: the sentence it was matched on ("I understood your question as").
    understood: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The contract of ``balie ask --json`` (product.md §5)."""
        return {
            "article": self.article,
            "score": self.score,
            "band": self.band,
            "suggestions": list(self.suggestions),
        }


def _strip_stop_words(norm: str) -> str:
    kept = [w for w in norm.split() if w not in STOP_WORDS]
    # A question made only of stop words ("hoe kan ik") keeps its words.
    return " ".join(kept) if kept else norm


#: A resolved query word: (IDF weight, {article index: similarity}, the vocabulary words it
#: stands for, whose variants are the fuzzy scorers' candidates).
_Resolved = tuple[float, dict[int, float], tuple[str, ...]]
_MISSING = object()
#: Resolved query words kept per matcher (the cache is cleared when full).
_RESOLVE_CACHE_SIZE = 20_000


@dataclass
class _Variants:
    texts: list[str] = field(default_factory=list)
    article_idx: list[int] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)


class Matcher:
    """Matches questions against the knowledge base's question variants (and titles)."""

    def __init__(self, kb: KnowledgeBase, config: MatcherConfig | None = None) -> None:
        self.kb = kb
        self.config = config or DEFAULT_CONFIG
        self._ids: list[str] = list(kb.articles)
        self._named_scorers: list[tuple[str, Scorer, float]] = [
            (name, _SCORERS[name], weight) for name, weight in self.config.weights if weight
        ]
        self._weight_total = sum(w for _, _, w in self._named_scorers) or 1.0
        variants = _Variants()
        seen: set[tuple[str, int, str]] = set()
        for idx, article in enumerate(kb.articles.values()):
            for lang, text in article.texts.items():
                for raw in (text.title, *text.questions):
                    key = (self._prepare(raw), idx, lang)
                    if not key[0] or key in seen:
                        continue
                    seen.add(key)
                    variants.texts.append(key[0])
                    variants.article_idx.append(idx)
                    variants.langs.append(lang)
        self._variants = variants
        self._sorted_texts = [" ".join(sorted(t.split())) for t in variants.texts]
        # Inverted index: which variants use each word, shortest first, cut to the
        # `champions` best ("champion lists", Manning et al., Introduction to Information
        # Retrieval 7.1.3). Only variants sharing a (resolved) word with the question are
        # scored, at most `champions` per word, so the work per question does not grow with
        # the number of variants. A shorter variant gives a shared word a larger share, and
        # the shipped base has fewer variants per word than `champions` (exact there).
        postings: dict[str, list[int]] = {}
        for i, variant in enumerate(variants.texts):
            for word in dict.fromkeys(variant.split()):
                postings.setdefault(word, []).append(i)
        texts = variants.texts
        self._postings = {
            w: sorted(ids, key=lambda i: (len(texts[i]), i))[: self.config.champions]
            for w, ids in postings.items()
        }
        # Keyword component: which articles use each word, weighted by rarity (IDF).
        vocab: dict[str, set[int]] = {
            w: {variants.article_idx[i] for i in ids} for w, ids in postings.items()
        }
        n_articles = max(1, len(self._ids))
        self._vocab_articles = vocab
        self._vocab_words = list(vocab)
        # Crude stemming for the keyword component: words sharing their first STEM_CHARS
        # letters ("betaald", "betalen", "betaling") point to the same articles.
        stems: dict[str, set[int]] = {}
        self._stem_words: dict[str, list[str]] = {}
        for word, arts in vocab.items():
            if len(word) >= STEM_CHARS:
                stems.setdefault(word[:STEM_CHARS], set()).update(arts)
                self._stem_words.setdefault(word[:STEM_CHARS], []).append(word)
        self._stem_articles = stems
        # Compounds: a vocabulary word made of a part and at least COMPOUND_PART more letters
        # ("opzeg|termijn", "terug|draaien", "web|hosting") is found from the part.
        self._compounds: dict[str, list[str]] = {}
        for word in vocab:
            if not word.isalpha():
                continue
            for k in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
                for part in (word[:k], word[k:]):
                    if len(part) >= COMPOUND_MIN:
                        self._compounds.setdefault(part, []).append(word)
        # A stem or a part stands for its most used words (candidates for the fuzzy scorers).
        for words in (*self._stem_words.values(), *self._compounds.values()):
            words.sort(key=lambda w: -len(postings[w]))
            del words[RELATED_WORDS:]
        self._stem_idf = {
            st: math.log((1 + n_articles) / len(a)) for st, a in stems.items()
        }
        self._idf = {w: math.log((1 + n_articles) / len(a)) for w, a in vocab.items()}
        # A word the knowledge base never uses weighs like the rarest word: it is evidence the
        # question is about something else.
        self._unknown_idf = math.log(1 + n_articles)
        self._resolved: dict[str, _Resolved | None] = {}
        # Articles about cancelling one service and keeping the other: index -> service.
        self._partial: dict[int, str] = {
            idx: article.service
            for idx, article in enumerate(kb.articles.values())
            if article.action == "cancellation" and article.service in ("hosting", "domain")
        }
        # Warm at load: the first customer's question is as fast as the rest.
        for article in kb.articles.values():
            for text in article.texts.values():
                self.match(text.title)

    @property
    def variant_count(self) -> int:
        return len(self._variants.texts)

    def _prepare(self, text: str) -> str:
        return self._query_of(normalise(text[:MAX_INPUT_CHARS]))

    def _query_of(self, norm: str) -> str:
        query = _strip_stop_words(norm) if self.config.remove_stop_words else norm
        if self.config.synonyms:
            query = " ".join(SYNONYMS.get(w, w) for w in query.split())
        return query

    def article_scores(self, question: str, lang: str) -> list[tuple[str, float]]:
        """Articles with a score (0-100, best first). Articles sharing no word and no close
        variant with the question are left out."""
        text = question[:MAX_INPUT_CHARS]
        return self._analyse(self._prepare(text), lang, clauses_of(text, self._query_of))[0]

    def _analyse(
        self, query: str, lang: str, clauses: str
    ) -> tuple[list[tuple[str, float]], float]:
        """The ranked articles and the coverage of the best one (see :meth:`_coverage`);
        ``clauses`` is the query clause by clause (:func:`clauses_of`)."""
        if not query:
            return [], 0.0
        if self.config.join_compounds:
            query = self._joined(query)
        words = list(dict.fromkeys(query.split()))[:40]
        resolved = [(w, self._resolve(w)) for w in words]
        ranked = self._partial_filter(
            query, lang, self._scores_for(query, lang, resolved), clauses
        )
        if not ranked:
            return [], 0.0
        return [(self._ids[a], sc) for a, sc in ranked], self._coverage(resolved, ranked[0][0])

    def _scores_for(
        self, query: str, lang: str, resolved: list[tuple[str, _Resolved | None]]
    ) -> list[tuple[int, float]]:
        v = self._variants
        cfg = self.config
        # Pass 1 (C, over the variants sharing a word with the question): token_sort_ratio ==
        # ratio of the sorted words, and the variants' words were sorted once in __init__.
        # Keep the best `rerank` candidates.
        query = query[: cfg.max_query_chars].strip()
        sorted_query = " ".join(sorted(query.split()))
        texts = self._sorted_texts
        candidates = process.extract(
            sorted_query, {i: texts[i] for i in self._candidates(resolved)}, scorer=fuzz.ratio,
            processor=None, limit=cfg.rerank,
        )
        # Pass 2 (only the candidates): the full blend of scorers.
        total = self._weight_total
        per_article: dict[int, list[float]] = {}
        bonus = cfg.lang_bonus
        for _choice, sort_score, i in candidates:
            text = v.texts[i]
            s = 0.0
            for name, scorer, weight in self._named_scorers:
                s += weight * (sort_score if name == "token_sort_ratio" else scorer(query, text))
            s /= total
            if v.langs[i] == lang:
                s = min(100.0, s + bonus)
            per_article.setdefault(v.article_idx[i], []).append(s)
        agg = cfg.agg_top3
        kw_weight = cfg.keyword_weight
        keyword = self._keyword_scores(resolved) if kw_weight else {}
        scores: list[tuple[int, float]] = []
        for a in per_article.keys() | keyword.keys():
            top = sorted(per_article.get(a, [0.0]), reverse=True)[:3]
            fuzzy = (1 - agg) * top[0] + agg * sum(top) / len(top)
            score = (1 - kw_weight) * fuzzy + kw_weight * keyword.get(a, 0.0)
            scores.append((a, min(100.0, score)))
        scores.sort(key=lambda kv: (-kv[1], kv[0]))
        return scores

    def _candidates(self, resolved: list[tuple[str, _Resolved | None]]) -> set[int]:
        """The variants sharing a (related) word with the question, at most `champions` per
        word (the inverted index's champion lists)."""
        shared: set[int] = set()
        for word, res in resolved:
            for vocab_word in self._related_words(word, res):
                shared.update(self._postings[vocab_word])
        return shared

    def _partial_filter(
        self, query: str, lang: str, ranked: list[tuple[int, float]], clauses: str
    ) -> list[tuple[int, float]]:
        """Leave out the "cancel one service, keep the other" articles unless the question
        (``clauses``: it, or the short message it is a sentence of) contrasts the two, and
        the one of them that cancels the service the question keeps. A question that names
        both services and clearly cancels one is that article's topic: it goes first."""
        if not self._partial:
            return ranked
        words = clauses.split()
        if not any(w in _PARTIAL_MARKERS for w in words):
            return [(a, s) for a, s in ranked if a not in self._partial]
        cancelled = cancelled_service(clauses, lang)
        if cancelled is None:
            return ranked
        kept = [(a, s) for a, s in ranked if self._partial.get(a, cancelled) == cancelled]
        if not kept or not _names_both_services(words):
            return kept
        top = kept[0][1]
        kept = [(a, min(100.0, max(s, top + 1)) if a in self._partial else s) for a, s in kept]
        kept.sort(key=lambda kv: (-kv[1], kv[0]))
        return kept

    def _resolve(self, word: str) -> _Resolved | None:
        """The knowledge-base meaning of one query word: its IDF weight and the articles that
        use it (with a similarity: 1 for the exact word, less for a typo or a shared stem), or
        None when the knowledge base does not know the word. Cached per word."""
        cached = self._resolved.get(word, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        result: _Resolved | None = None
        if word in self._idf:
            result = (self._idf[word], dict.fromkeys(self._vocab_articles[word], 1.0), (word,))
        elif len(word) >= 4:
            found = process.extractOne(
                word, self._vocab_words, scorer=fuzz.ratio, processor=None,
                score_cutoff=self.config.word_cutoff,
            )
            if found is not None:
                best_word, similarity = found[0], found[1] / 100.0
                result = (
                    self._idf[best_word],
                    dict.fromkeys(self._vocab_articles[best_word], similarity),
                    (best_word,),
                )
            else:
                stem = word[:STEM_CHARS] if len(word) >= STEM_CHARS else ""
                if stem in self._stem_idf:
                    result = (
                        self._stem_idf[stem],
                        dict.fromkeys(self._stem_articles[stem], STEM_SIMILARITY),
                        tuple(self._stem_words[stem]),
                    )
        if len(self._resolved) >= _RESOLVE_CACHE_SIZE:
            self._resolved.clear()
        self._resolved[word] = result
        return result

    def _joined(self, query: str) -> str:
        """Two words written apart that the knowledge base writes as one ("opzeg termijn",
        "terug draaien", "klanten panel") are joined."""
        words = query.split()
        out: list[str] = []
        i = 0
        while i < len(words):
            pair = words[i] + words[i + 1] if i + 1 < len(words) else ""
            if pair in self._idf and not (words[i] in self._idf and words[i + 1] in self._idf):
                out.append(pair)
                i += 2
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    def _related_words(self, word: str, res: _Resolved | None) -> list[str]:
        """The vocabulary words whose variants are candidates for ``word``: the word itself or
        its typo or stem match, and the compounds that contain it ("termijn" ->
        "opzegtermijn", "draaien" -> "terugdraaien"); for an unknown compound its known
        parts ("domeinverhuizing" -> "domein", "verhuizing")."""
        related = list(res[2]) if res is not None else []
        related += self._compounds.get(word, ())
        if word not in self._idf:
            for k in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
                head, tail = word[:k], word[k:]
                if head in self._idf and tail in self._idf:
                    related += (head, tail)
        return related

    def _keyword_scores(self, resolved: list[tuple[str, _Resolved | None]]) -> dict[int, float]:
        """0-100 per article: the IDF-weighted share of the query's words the article uses.

        Misspelt words count through their closest vocabulary word (rapidfuzz ratio).
        """
        total = 0.0
        got: dict[int, float] = {}
        for _word, res in resolved:
            if res is None:
                total += self._unknown_idf
                continue
            weight, arts, _ = res
            total += weight
            for a, similarity in arts.items():
                got[a] = got.get(a, 0.0) + weight * similarity
        if total <= 0:
            return {}
        return {a: 100.0 * g / total for a, g in got.items()}

    @staticmethod
    def _coverage(resolved: list[tuple[str, _Resolved | None]], article: int) -> float:
        """Share of the query's content words that ``article``'s vocabulary knows (exactly,
        as a typo or by stem). Words without a topic ("niet", "nog", numbers) do not count;
        a question made only of such words is fully covered."""
        content = [
            res for w, res in resolved if w not in _COVERAGE_IGNORE and not w.isdigit()
        ]
        if not content:
            return 1.0
        return sum(1 for res in content if res is not None and article in res[1]) / len(content)

    def match(self, question: str, lang: str | None = None) -> Match:
        """Match one customer message (any text).

        A message of several sentences longer than ``sentence_min_chars`` (by default: any) is
        also matched sentence by sentence (the BEST_SENTENCES of its first MAX_SENTENCES that
        carry the most knowledge-base words, each cut to MAX_INPUT_CHARS): the best of the
        whole message's start and those sentences wins, and a winning sentence is kept in
        ``Match.understood`` so the bot can say what it understood."""
        text = question if isinstance(question, str) else ""
        if lang not in ("nl", "en"):
            lang = _language_of(normalise(text[:LANGUAGE_CHARS]))
        context = clauses_of(text[:MAX_INPUT_CHARS], self._query_of)
        best = self._match_one(text, lang, context)
        if len(text) <= self.config.sentence_min_chars or best.smalltalk is not None:
            return best
        sentences = split_sentences(text)
        if len(sentences) < 2:  # one sentence: that is the whole message
            return best
        if len(sentences) > BEST_SENTENCES:
            sentences = sorted(sentences, key=self._evidence, reverse=True)[:BEST_SENTENCES]
        # A sentence of a short message is read in the message's context ("... ergens anders
        # hosten maar het domein houden. Wat moet ik opzeggen?" keeps the domain).
        short = len(text) <= MAX_INPUT_CHARS
        for sentence in sentences:
            found = self._match_one(sentence, lang, context if short else None)
            if _rank(found) > _rank(best):
                best = dataclasses.replace(found, understood=sentence[:MAX_INPUT_CHARS])
        return best

    def _evidence(self, sentence: str) -> float:
        """How much a sentence says in the knowledge base's words (IDF of its known words)."""
        idf = self._idf
        return sum(idf.get(w, 0.0) for w in set(self._prepare(sentence).split()))

    def _match_one(self, question: str, lang: str | None, context: str | None) -> Match:
        """Match the first MAX_INPUT_CHARS characters of ``question``; ``context`` (the
        message's clauses) decides which service is kept, by default ``question`` itself."""
        text = question[:MAX_INPUT_CHARS]
        norm = normalise(text)
        detected = lang if lang in ("nl", "en") else _language_of(norm)
        small = _smalltalk_of(norm)
        if small is not None:
            return Match(None, 0, "none", (), detected, small)
        ranked, coverage = self._analyse(
            self._query_of(norm), detected, context or clauses_of(text, self._query_of)
        )
        topic = _topic_of(norm)
        return self._band(ranked, coverage, topic, detected)

    def _band(
        self, ranked: Sequence[tuple[str, float]], coverage: float, topic: Topic | None,
        lang: str,
    ) -> Match:
        cfg = self.config
        if not ranked:
            return Match(None, 0, "none", (), lang)
        best_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        score = round(best)
        if cfg.topic_cap and topic in ("out", "mail"):
            return Match(None, score, "none", (), lang)
        margin = best - second
        confident = (best >= cfg.answer_min and margin >= cfg.answer_margin) or (
            best >= cfg.answer_low_min
            and margin >= cfg.answer_low_margin
            and topic == "in"
        )
        if confident and coverage >= cfg.answer_coverage:
            return Match(best_id, score, "answer", (), lang)
        if best >= cfg.suggest_min and coverage >= cfg.suggest_coverage:
            close = [aid for aid, s in ranked[:3] if s >= best - cfg.suggest_window]
            if len(close) < 2 and len(ranked) > 1:
                close = [aid for aid, _ in ranked[:2]]
            return Match(best_id, score, "suggest", tuple(close), lang)
        return Match(None, score, "none", (), lang)


_BAND_RANK = {"none": 0, "suggest": 1, "answer": 2}


def _rank(match: Match) -> tuple[int, int]:
    return _BAND_RANK[match.band], match.score


def split_sentences(text: str) -> list[str]:
    """The first MAX_SENTENCES sentences of a message (split at . ! ? ; and line breaks),
    stripped, without repeats and without ones that have no letters or digits."""
    seen: set[str] = set()
    sentences: list[str] = []
    raw: set[str] = set()
    for part in _SENTENCE_END.split(text):
        sentence = part.strip()
        if sentence in raw:
            continue
        raw.add(sentence)
        key = normalise(sentence[:MAX_INPUT_CHARS])
        if key and key not in seen:
            seen.add(key)
            sentences.append(sentence)
            if len(sentences) == MAX_SENTENCES:
                break
    return sentences


def match_many(matcher: Matcher, questions: Iterable[str], lang: str | None = None) -> list[Match]:
    """Convenience for batch use (``balie ask -``)."""
    return [matcher.match(q, lang) for q in questions]


__all__ = [
    "DEFAULT_CONFIG",
    "MAX_INPUT_CHARS",
    "Band",
    "Match",
    "Matcher",
    "MatcherConfig",
    "SmallTalk",
    "detect_language",
    "detect_smalltalk",
    "match_many",
    "normalise",
]
