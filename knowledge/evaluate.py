"""Measure the matcher on the labelled evaluation sets.

Usage::

    python -m knowledge.evaluate                 # tuning.tsv, heldout.tsv and blind.tsv
    python -m knowledge.evaluate --file F.tsv    # one (or more, repeat --file) file(s)
    python -m knowledge.evaluate --errors        # also list every wrong question

File format (UTF-8, tab-separated, ``#`` comments and a ``lang`` header line are skipped)::

    lang<TAB>expected_article_id_or_NONE<TAB>question

``tuning.tsv`` is what the scorer and thresholds were chosen on; ``heldout.tsv`` and
``blind.tsv`` are kept aside and only reported: for them the default run prints the summary
figures only (no confusion pairs, no error list), so nobody tunes on their individual misses.
Pass ``--aside-details`` to see them anyway (and then stop calling them held out).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.kb import KnowledgeBase
from knowledge.matcher import Match, Matcher

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


def evaluate_file(path: Path | str, matcher: Matcher, *, use_lang: bool = False) -> Report:
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
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.articles)
    matcher = Matcher(kb)
    files = args.file or [TUNING_FILE, *ASIDE_FILES]
    aside = {p.resolve() for p in ASIDE_FILES}
    print(f"knowledge base: {len(kb.articles)} articles, {matcher.variant_count} variants")
    for f in files:
        report = evaluate_file(f, matcher, use_lang=args.lang)
        summary_only = Path(f).resolve() in aside and not args.aside_details
        print(report.format(show_errors=args.errors, summary_only=summary_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
