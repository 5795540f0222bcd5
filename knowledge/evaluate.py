"""Measure the matcher on the labelled evaluation sets.

Usage::

    python -m knowledge.evaluate                 # tuning.tsv, heldout.tsv and blind.tsv
    python -m knowledge.evaluate --no-baseline   # the matcher alone (no scikit-learn needed)
    python -m knowledge.evaluate --file F.tsv    # one (or more, repeat --file) file(s)
    python -m knowledge.evaluate --errors        # also list every wrong question

File format (UTF-8, tab-separated, ``#`` comments and a ``lang`` header line are skipped)::

    lang<TAB>expected_article_id_or_NONE<TAB>question

``tuning.tsv`` is what the scorer and thresholds were chosen on; ``heldout.tsv`` and
``blind.tsv`` are kept aside and only reported: for them the default run prints the summary
figures only (no confusion pairs, no error list), so nobody tunes on their individual misses.
Pass ``--aside-details`` to see them anyway (and then stop calling them held out).

**Baseline.** Every run also scores a plain baseline next to the matcher: TF-IDF over character
n-grams of the same question variants and titles (scikit-learn, a test extra that never ships in
the runtime), nearest variant by cosine similarity. Its one threshold is chosen on the tuning
set only: at or above it the baseline answers with the nearest variant's article, below it it
offers its best three articles as "Bedoel je…?" (so its top-1 counts for every in-scope
question). Both are measured the same way: top-1 right (answered, or first in "Bedoel je…?") for
in-scope questions, and out-of-scope questions answered confidently. The questions one gets
right and the other wrong are listed for the tuning set (for the aside sets only their count).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from knowledge.kb import KnowledgeBase
from knowledge.matcher import Match, Matcher, detect_language

EVAL_FOLDER = Path(__file__).resolve().parent / "eval"
TUNING_FILE = EVAL_FOLDER / "tuning.tsv"
HELDOUT_FILE = EVAL_FOLDER / "heldout.tsv"
BLIND_FILE = EVAL_FOLDER / "blind.tsv"
#: Sets kept aside: never tuned on, reported as summary figures only.
ASIDE_FILES = (HELDOUT_FILE, BLIND_FILE)
NONE_LABEL = "NONE"


@dataclass(frozen=True)
class Case:
    lang: str
    expected: str | None
    question: str
    line: int


@dataclass(frozen=True)
class Outcome:
    case: Case
    match: Match

    @property
    def top(self) -> str | None:
        if self.match.band == "suggest" and self.match.suggestions:
            return self.match.suggestions[0]
        return self.match.article if self.match.band == "answer" else None

    @property
    def correct(self) -> bool:
        """Right article with band answer, or the right article first in suggest."""
        return self.case.expected is not None and self.top == self.case.expected

    @property
    def strict(self) -> bool:
        return self.match.band == "answer" and self.match.article == self.case.expected


@dataclass
class Report:
    path: Path
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def in_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.expected is not None]

    @property
    def out_of_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.expected is None]

    @property
    def accuracy(self) -> float:
        """Share of in-scope questions answered (or suggested first) with the right article."""
        cases = self.in_scope
        return sum(o.correct for o in cases) / len(cases) if cases else 1.0

    @property
    def strict_accuracy(self) -> float:
        cases = self.in_scope
        return sum(o.strict for o in cases) / len(cases) if cases else 1.0

    @property
    def answered_rate(self) -> float:
        """Share of in-scope questions that got band "answer" (right or wrong)."""
        cases = self.in_scope
        return sum(o.match.band == "answer" for o in cases) / len(cases) if cases else 0.0

    @property
    def oos_answer_rate(self) -> float:
        """Share of out-of-scope questions that got a confident answer (should be ~0)."""
        cases = self.out_of_scope
        return sum(o.match.band == "answer" for o in cases) / len(cases) if cases else 0.0

    @property
    def oos_suggest_rate(self) -> float:
        """Share of out-of-scope questions that got "Bedoel je…?" suggestions."""
        cases = self.out_of_scope
        return sum(o.match.band == "suggest" for o in cases) / len(cases) if cases else 0.0

    @property
    def wrong_answers(self) -> list[Outcome]:
        """In-scope questions confidently answered with the wrong article."""
        return [o for o in self.in_scope if o.match.band == "answer" and not o.strict]

    def confusions(self) -> list[tuple[tuple[str, str], int]]:
        """(expected, got) pairs for in-scope misses, most frequent first."""
        pairs: Counter[tuple[str, str]] = Counter()
        for o in self.in_scope:
            if not o.correct:
                pairs[(o.case.expected or NONE_LABEL, o.top or f"<{o.match.band}>")] += 1
        for o in self.out_of_scope:
            if o.match.band == "answer":
                pairs[(NONE_LABEL, o.match.article or "?")] += 1
        return pairs.most_common()

    def errors(self) -> list[Outcome]:
        wrong = [o for o in self.in_scope if not o.correct]
        wrong += [o for o in self.out_of_scope if o.match.band == "answer"]
        return wrong

    def format(
        self, *, show_errors: bool = False, top_confusions: int = 8, summary_only: bool = False
    ) -> str:
        ins, oos = self.in_scope, self.out_of_scope
        lines = [
            f"== {self.path.name}: {len(ins)} in-scope, {len(oos)} out-of-scope",
            f"  in-scope accuracy (answer right, or right first in suggest): "
            f"{self.accuracy:6.1%}  ({sum(o.correct for o in ins)}/{len(ins)})",
            f"  strict accuracy (band answer and right):                    "
            f"{self.strict_accuracy:6.1%}  ({sum(o.strict for o in ins)}/{len(ins)})",
            f"  in-scope band answer / suggest / none: "
            f"{sum(o.match.band == 'answer' for o in ins)} / "
            f"{sum(o.match.band == 'suggest' for o in ins)} / "
            f"{sum(o.match.band == 'none' for o in ins)}; "
            f"confidently wrong: {len(self.wrong_answers)}",
            f"  out-of-scope answered confidently:                           "
            f"{self.oos_answer_rate:6.1%}  "
            f"({sum(o.match.band == 'answer' for o in oos)}/{len(oos)})",
            f"  out-of-scope given suggestions (Bedoel je):                  "
            f"{self.oos_suggest_rate:6.1%}  "
            f"({sum(o.match.band == 'suggest' for o in oos)}/{len(oos)})",
        ]
        if summary_only:
            lines.append("  (set kept aside: summary figures only)")
            return "\n".join(lines)
        conf = self.confusions()[:top_confusions]
        lines.append("  top confusions (expected -> got):" + ("" if conf else " none"))
        for (exp, got), n in conf:
            lines.append(f"    {n:3d}  {exp} -> {got}")
        if show_errors:
            lines.append("  errors:")
            for o in self.errors():
                m = o.match
                lines.append(
                    f"    line {o.case.line}: [{o.case.expected or NONE_LABEL}] "
                    f"{o.case.question!r} -> {m.band} {m.article} {m.score} "
                    f"{list(m.suggestions)}"
                )
        return "\n".join(lines)


def read_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#") or raw.startswith("lang\t"):
            continue
        parts = raw.split("\t")
        if len(parts) != 3 or parts[0] not in ("nl", "en") or not parts[2].strip():
            raise ValueError(f"{path.name}:{lineno}: expected 'lang<TAB>id|NONE<TAB>question'")
        expected = None if parts[1] == NONE_LABEL else parts[1]
        cases.append(Case(parts[0], expected, parts[2], lineno))
    return cases


class Answerer(Protocol):
    """What is evaluated: the matcher or the baseline."""

    kb: KnowledgeBase

    def match(self, question: str, lang: str | None = None) -> Match: ...


#: The baseline's character n-grams (scikit-learn ``char_wb``: n-grams inside word boundaries).
BASELINE_NGRAMS = (1, 5)


class Baseline:
    """TF-IDF over character n-grams of the question variants; one threshold (see module doc).

    Needs scikit-learn (``pip install -e ".[test]"``)."""

    def __init__(self, kb: KnowledgeBase, threshold: float = 0.5) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.kb = kb
        self.threshold = threshold
        texts: list[str] = []
        self._labels: list[str] = []
        for article in kb.articles.values():
            for text in article.texts.values():
                for variant in (text.title, *text.questions):
                    texts.append(variant)
                    self._labels.append(article.id)
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=BASELINE_NGRAMS, sublinear_tf=True,
            strip_accents="unicode",
        )
        self._variants: Any = self._vectorizer.fit_transform(texts)

    def article_scores(self, question: str) -> list[tuple[str, float]]:
        """Every article with its best variant's cosine similarity (0-1), best first."""
        similarities = (self._variants @ self._vectorizer.transform([question]).T).toarray()
        best: dict[str, float] = {}
        for label, similarity in zip(self._labels, similarities[:, 0], strict=True):
            if similarity > best.get(label, -1.0):
                best[label] = float(similarity)
        return sorted(best.items(), key=lambda kv: -kv[1])

    def match(self, question: str, lang: str | None = None) -> Match:
        ranked = self.article_scores(question)
        lang = lang or detect_language(question)
        best_id, best = ranked[0]
        score = round(100 * best)
        if best <= 0:
            return Match(None, 0, "none", (), lang)
        if best >= self.threshold:
            return Match(best_id, score, "answer", (), lang)
        return Match(best_id, score, "suggest", tuple(a for a, _ in ranked[:3]), lang)

    @classmethod
    def tuned(cls, kb: KnowledgeBase, path: Path = TUNING_FILE) -> Baseline:
        """The baseline with its threshold chosen on ``path`` (the tuning set): the one that
        makes the most right decisions (in-scope answered right, out-of-scope not answered)."""
        baseline = cls(kb)
        scored = [(case, baseline.article_scores(case.question)[0]) for case in read_cases(path)]
        best_threshold, best_right = 1.0, -1
        for step in range(5, 100):
            threshold = step / 100
            right = sum(
                (case.expected is None and score < threshold)
                or (case.expected is not None and score >= threshold and top == case.expected)
                for case, (top, score) in scored
            )
            if right > best_right:
                best_threshold, best_right = threshold, right
        baseline.threshold = best_threshold
        return baseline


def evaluate_file(path: Path | str, matcher: Answerer, *, use_lang: bool = False) -> Report:
    """Run every question of ``path`` through ``matcher``.

    The language column is *not* passed by default: like ``balie ask`` without ``--lang``, the
    matcher detects it, which is the harder and more realistic case.
    """
    path = Path(path)
    known = set(matcher.kb.articles)
    report = Report(path)
    for case in read_cases(path):
        if case.expected is not None and case.expected not in known:
            raise ValueError(f"{path.name}:{case.line}: unknown article id {case.expected!r}")
        m = matcher.match(case.question, case.lang if use_lang else None)
        report.outcomes.append(Outcome(case, m))
    return report


@dataclass
class Comparison:
    """The matcher and the baseline on one file."""

    matcher: Report
    baseline: Report

    def only_right(self, first: Report, second: Report) -> list[Outcome]:
        """Questions ``first`` gets right and ``second`` wrong (in scope: top-1; out of scope:
        not answered confidently)."""
        found: list[Outcome] = []
        for mine, theirs in zip(first.outcomes, second.outcomes, strict=True):
            if _right(mine) and not _right(theirs):
                found.append(mine)
        return found

    @property
    def matcher_only(self) -> list[Outcome]:
        return self.only_right(self.matcher, self.baseline)

    @property
    def baseline_only(self) -> list[Outcome]:
        return self.only_right(self.baseline, self.matcher)

    @property
    def matcher_ahead(self) -> bool:
        """At least as many in-scope questions right and at most as many out-of-scope ones
        answered confidently as the baseline."""
        return (self.matcher.accuracy >= self.baseline.accuracy
                and self.matcher.oos_answer_rate <= self.baseline.oos_answer_rate)

    def format(self, *, summary_only: bool = False) -> str:
        m, b = self.matcher, self.baseline
        mi, bi = m.in_scope, b.in_scope
        mo, bo = m.out_of_scope, b.out_of_scope
        lines = [
            f"== {m.path.name}: matcher vs baseline",
            f"  {'':34} {'matcher':>16} {'baseline':>16}",
            f"  {'in-scope top-1 right':34} {_share(sum(o.correct for o in mi), len(mi)):>16} "
            f"{_share(sum(o.correct for o in bi), len(bi)):>16}",
            f"  {'out-of-scope answered confidently':34} "
            f"{_share(sum(o.match.band == 'answer' for o in mo), len(mo)):>16} "
            f"{_share(sum(o.match.band == 'answer' for o in bo), len(bo)):>16}",
            f"  {'right here, wrong in the other':34} {len(self.matcher_only):>16} "
            f"{len(self.baseline_only):>16}",
            f"  matcher {'ahead of' if self.matcher_ahead else 'BEHIND'} the baseline",
        ]
        if not summary_only:
            for name, outcomes in (("matcher", self.matcher_only),
                                   ("baseline", self.baseline_only)):
                lines.append(f"  only the {name} gets right:" + ("" if outcomes else " none"))
                lines.extend(f"    line {o.case.line}: [{o.case.expected or NONE_LABEL}] "
                             f"{o.case.question!r}" for o in outcomes)
        return "\n".join(lines)


def _right(outcome: Outcome) -> bool:
    if outcome.case.expected is None:
        return outcome.match.band != "answer"
    return outcome.correct


def _share(count: int, total: int) -> str:
    return f"{count / total if total else 0:6.1%} ({count}/{total})"


def compare_file(path: Path | str, matcher: Matcher, baseline: Baseline) -> Comparison:
    return Comparison(evaluate_file(path, matcher), evaluate_file(path, baseline))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", action="append", type=Path,
                        help="evaluation TSV (repeatable); default: tuning, heldout and blind")
    parser.add_argument("--articles", type=Path, default=None, help="articles folder")
    parser.add_argument("--lang", action="store_true",
                        help="pass the labelled language instead of detecting it")
    parser.add_argument("--errors", action="store_true", help="list every miss")
    parser.add_argument("--aside-details", action="store_true",
                        help="also show confusions/errors of the held-out and blind sets")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the TF-IDF baseline (which needs scikit-learn)")
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.articles)
    matcher = Matcher(kb)
    files = args.file or [TUNING_FILE, *ASIDE_FILES]
    aside = {p.resolve() for p in ASIDE_FILES}
    print(f"knowledge base: {len(kb.articles)} articles, {matcher.variant_count} variants")
    baseline = None if args.no_baseline else Baseline.tuned(kb)
    if baseline is not None:
        print(f"baseline: TF-IDF over character {BASELINE_NGRAMS[0]}-{BASELINE_NGRAMS[1]}-grams, "
              f"threshold {baseline.threshold:.2f} (chosen on {TUNING_FILE.name})")
    for f in files:
        report = evaluate_file(f, matcher, use_lang=args.lang)
        summary_only = Path(f).resolve() in aside and not args.aside_details
        print(report.format(show_errors=args.errors, summary_only=summary_only))
        if baseline is not None:
            comparison = Comparison(report, evaluate_file(f, baseline, use_lang=args.lang))
            print(comparison.format(summary_only=summary_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
