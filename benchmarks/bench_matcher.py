"""How matching time grows with the size of the knowledge base.

Plain Python, no plugins:  python benchmarks/bench_matcher.py [--repeat N]

Builds knowledge bases with 1x, 10x and 100x the question variants of the packaged articles
(each copy's variants get a distinct suffix word, so they are new strings that still look like
real questions), matches the evaluation questions against each, and prints the median time per
question and the ratio to the 1x run in the same process (ratios are comparable across machines;
absolute times are not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.evaluate import HELDOUT_FILE, TUNING_FILE, read_cases
from knowledge.kb import Article, KnowledgeBase
from knowledge.matcher import Matcher

_SUFFIXES = (
    "alstublieft", "vandaag", "morgen", "snel", "graag", "please", "today", "asap", "now",
    "ajb", "svp", "even", "nu", "direct", "zsm", "thanks", "hoor", "dus", "toch", "nog",
)


def scaled_kb(kb: KnowledgeBase, factor: int) -> KnowledgeBase:
    """A knowledge base with ``factor`` times as many question variants per article."""
    if factor == 1:
        return kb
    articles: dict[str, Article] = {}
    for art in kb.articles.values():
        texts = {}
        for lang, text in art.texts.items():
            questions = list(text.questions)
            for copy in range(1, factor):
                tag = f"{_SUFFIXES[copy % len(_SUFFIXES)]}{copy}"
                questions.extend(f"{q} {tag}" for q in text.questions)
            texts[lang] = replace(text, questions=tuple(questions))
        articles[art.id] = replace(art, texts=texts)
    return KnowledgeBase(articles)


def time_per_question(matcher: Matcher, questions: list[str], repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean seconds per question."""
    for q in questions[:20]:  # warm up
        matcher.match(q)
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for q in questions:
            matcher.match(q)
        rounds.append((time.perf_counter() - start) / len(questions))
    return statistics.median(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (median)")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args(argv)

    base = KnowledgeBase.load()
    questions = [c.question for f in (TUNING_FILE, HELDOUT_FILE) for c in read_cases(f)]
    questions += ["x" * 10_000, "hoe zeg ik mijn hosting op " * 400]
    print(f"{len(questions)} questions (evaluation sets + two 10,000-char messages), "
          f"median of {args.repeat} rounds")
    print(f"{'size':>5} {'variants':>9} {'build s':>8} {'us/question':>12} {'ratio':>7}")
    first: float | None = None
    for factor in args.factors:
        kb = scaled_kb(base, factor)
        start = time.perf_counter()
        matcher = Matcher(kb)
        build = time.perf_counter() - start
        rounds = args.repeat if factor < 100 else max(1, args.repeat // 2)
        per_q = time_per_question(matcher, questions, rounds)
        first = first if first is not None else per_q
        print(f"{factor:>4}x {matcher.variant_count:>9} {build:>8.2f} {per_q * 1e6:>12.0f} "
              f"{per_q / first:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- for `python -m benchmarks`: p50, p99 and the first call per size ---------------------------


def latency(factors: list[int], questions_per_size: int, rounds: int = 3,
            max_seconds: float = 20.0) -> list[dict[str, Any]]:
    """Per size: variants, build seconds, the first question on a fresh matcher, and p50/p99
    of the following ones (each question timed alone) in each of `rounds` rounds. A round
    stops early after `max_seconds` of matching, so the 1,000x run stays bounded."""
    from benchmarks.stats import percentile

    base = KnowledgeBase.load()
    questions = [c.question for f in (TUNING_FILE, HELDOUT_FILE) for c in read_cases(f)]
    questions += ["x" * 10_000, "hoe zeg ik mijn hosting op " * 400]
    rows: list[dict[str, Any]] = []
    for factor in factors:
        kb = scaled_kb(base, factor)
        start = time.perf_counter()
        matcher = Matcher(kb)
        build = time.perf_counter() - start
        start = time.perf_counter()
        matcher.match("hoe zeg ik mijn hosting op")
        first = time.perf_counter() - start
        p50s, p99s = [], []
        for _ in range(rounds):
            times: list[float] = []
            budget = time.perf_counter() + max_seconds
            for number in range(questions_per_size):
                question = questions[number % len(questions)]
                start = time.perf_counter()
                matcher.match(question)
                times.append(time.perf_counter() - start)
                if time.perf_counter() > budget:
                    break
            p50s.append(percentile(times, 0.5))
            p99s.append(percentile(times, 0.99))
        rows.append({"factor": factor, "variants": matcher.variant_count, "build": build,
                     "first": first, "p50": statistics.median(p50s), "p50s": p50s,
                     "p99": statistics.median(p99s), "p99s": p99s})
    return rows
