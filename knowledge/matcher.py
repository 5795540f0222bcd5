"""Free-text question matching against the knowledge base.

Pipeline for one question:

1. :func:`normalise` (lowercase, strip accents, drop punctuation, collapse whitespace), truncated
   to :data:`MAX_INPUT_CHARS` characters first so a 10,000-character message stays cheap.
2. Small talk (greetings, thanks, yes/no, bye) is recognised before matching and never gets an
   article.
3. :func:`detect_language` (stop-word counts) unless the caller passes the language.
4. The question, with stop words removed, is scored with rapidfuzz against the precomputed
   question variants of *both* languages (customers mix); variants in the detected language get
   a small bonus. An article's score is its best variant's score.
5. Bands: ``answer`` when the best score is high and clearly ahead of the best *different*
   article, ``suggest`` when the score is middling or several articles are close, ``none``
   otherwise.

The scorer blend and the thresholds in :class:`MatcherConfig` were chosen by measurement on
``knowledge/eval/tuning.tsv`` (see ``python -m knowledge.evaluate``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz, process

from knowledge.kb import KnowledgeBase

Band = Literal["answer", "suggest", "none"]
SmallTalk = Literal["greeting", "thanks", "yes", "no", "bye"]

#: Only the first this many characters of a message are matched.
MAX_INPUT_CHARS = 300

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")
# Characters NFKD does not decompose into ASCII but that customers type.
_EXTRA_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ı": "i", "’": "'"}
)


def normalise(text: str) -> str:
    """Lowercase, strip accents, turn punctuation into spaces and collapse whitespace.

    Apostrophes inside words are dropped rather than split ("can't" -> "cant", "m'n" -> "mn").
    """
    text = text.casefold().translate(_EXTRA_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("'", "").replace("`", "")
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
    words = normalise(text[:MAX_INPUT_CHARS]).split()
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
    norm = normalise(text[:MAX_INPUT_CHARS])
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
    for preferred in ("thanks", "bye", "no", "yes", "greeting"):
        if preferred in kinds:
            return preferred  # type: ignore[return-value]
    return kinds[0]  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------

# Stop words removed before fuzzy matching (measured to help; see evaluate). Content words such
# as "niet", "geen", "direct", "nog" stay because they separate articles.
STOP_WORDS = frozenset(
    """
    de het een ik je jij u mijn mn m jullie we wij ons onze is zijn ben bent was hoe wat waar
    wanneer welke er dat die dit deze van op aan bij om te in en of dan zo maar toch even graag
    hallo hoi goedemorgen goedemiddag goedendag beste alvast bedankt dank groet groeten vriendelijke
    mvg ik heb hebt heeft kan kun kunt kunnen moet moeten wil wilt willen zou zouden mag doe doen
    the a an i you my your me we our us is are am was be been how what where when which do does
    did can could would should will want to of in on at it its this that these those there and
    or so hi hello please thanks thank regards dear have has had i'm im id
    """.split()
)

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
        ("token_set_ratio", 0.5),
        ("token_sort_ratio", 0.3),
        ("WRatio", 0.2),
    )
    remove_stop_words: bool = True
    lang_bonus: float = 2.0
    answer_min: float = 75.0
    answer_margin: float = 6.0
    suggest_min: float = 55.0
    suggest_window: float = 12.0


DEFAULT_CONFIG = MatcherConfig()


@dataclass(frozen=True)
class Match:
    article: str | None
    score: int
    band: Band
    suggestions: tuple[str, ...]
    lang: str
    smalltalk: SmallTalk | None = None

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
        self._scorers: list[tuple[Scorer, float]] = [
            (_SCORERS[name], weight) for name, weight in self.config.weights if weight
        ]
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

    @property
    def variant_count(self) -> int:
        return len(self._variants.texts)

    def _prepare(self, text: str) -> str:
        norm = normalise(text[:MAX_INPUT_CHARS])
        return _strip_stop_words(norm) if self.config.remove_stop_words else norm

    def article_scores(self, question: str, lang: str) -> list[tuple[str, float]]:
        """Every article with its best variant score (after the language bonus), best first."""
        query = self._prepare(question)
        if not query:
            return []
        v = self._variants
        n = len(v.texts)
        blended = [0.0] * n
        for scorer, weight in self._scorers:
            for _choice, score, i in process.extract(
                query, v.texts, scorer=scorer, processor=None, limit=None
            ):
                blended[i] += weight * score
        total = sum(w for _, w in self._scorers) or 1.0
        best: dict[int, float] = {}
        bonus = self.config.lang_bonus
        for i in range(n):
            s = blended[i] / total
            if v.langs[i] == lang:
                s = min(100.0, s + bonus)
            a = v.article_idx[i]
            if s > best.get(a, -1.0):
                best[a] = s
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(self._ids[a], s) for a, s in ranked]

    def match(self, question: str, lang: str | None = None) -> Match:
        text = question[:MAX_INPUT_CHARS] if isinstance(question, str) else ""
        detected = lang if lang in ("nl", "en") else detect_language(text)
        small = detect_smalltalk(text)
        if small is not None:
            return Match(None, 0, "none", (), detected, small)
        ranked = self.article_scores(text, detected)
        return self._band(ranked, detected)

    def _band(self, ranked: Sequence[tuple[str, float]], lang: str) -> Match:
        cfg = self.config
        if not ranked:
            return Match(None, 0, "none", (), lang)
        best_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        score = int(round(best))
        if best >= cfg.answer_min and best - second >= cfg.answer_margin:
            return Match(best_id, score, "answer", (), lang)
        if best >= cfg.suggest_min:
            close = [aid for aid, s in ranked[:3] if s >= best - cfg.suggest_window]
            if len(close) < 2 and len(ranked) > 1:
                close = [aid for aid, _ in ranked[:2]]
            return Match(best_id, score, "suggest", tuple(close), lang)
        return Match(None, score, "none", (), lang)


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
