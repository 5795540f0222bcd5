"""How matching time grows with the size of the knowledge base.

    python -m benchmarks.bench_matcher [--factors 1 10 100 1000] [--questions N] [--rounds N]

Builds knowledge bases with 1x, 10x, 100x and 1,000x the question variants of the packaged
articles (each copy's variants get a distinct suffix word, so they are new strings that still
look like real questions), matches the evaluation questions against each (every 100th of them a
10,000-character message: one word, one long run-on sentence, or 80 sentences with the question
in the middle), each question timed alone, and prints p50 and p99 per size (median of the rounds
with [min–max]), the first question on a fresh matcher and the build time. Read the growth from
1x to 1,000x; absolute times depend on the machine.
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


#: Long messages: one word, a run-on sentence, and many sentences with the question in the middle.
_FILLER = ("Ik ben al jaren klant bij jullie en eigenlijk altijd tevreden geweest over de "
           "service. ")
LONG_MESSAGES = (
    "x" * 10_000,
    "hoe zeg ik mijn hosting op " * 400,
    (_FILLER * 57 + "Hoe kan ik mijn hosting opzeggen? " + _FILLER * 58)[:10_000],
)


def benchmark_questions() -> list[str]:
    """The tuning and held-out questions with a long message at every 100th place."""
    questions = [c.question for f in (TUNING_FILE, HELDOUT_FILE) for c in read_cases(f)]
    for place, message in zip(range(0, 300, 100), LONG_MESSAGES, strict=True):
        questions.insert(place, message)
    return questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--questions", type=int, default=300, help="questions timed per size")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (median)")
    args = parser.parse_args(argv)
    from benchmarks.stats import spread

    rows = latency(args.factors, args.questions, args.rounds)
    print(f"{args.questions} questions per round (evaluation sets, every 100th a 10,000-char "
          f"message), {args.rounds} rounds: median [min–max], ms")
    print(f"{'size':>6} {'variants':>9} {'build s':>8} {'first':>7}  {'p50':<22} {'p99':<22}")
    for row in rows:
        print(f"{row['factor']:>5}x {row['variants']:>9,} {row['build']:>8.2f} "
              f"{row['first'] * 1e3:>7.2f}  {spread([x * 1e3 for x in row['p50s']], digits=3):<22} "
              f"{spread([x * 1e3 for x in row['p99s']], digits=3):<22}")
    return 0


def latency(factors: list[int], questions_per_size: int, rounds: int = 3,
            max_seconds: float = 20.0) -> list[dict[str, Any]]:
    """Per size: variants, build seconds, the first question on a fresh matcher, and p50/p99
    of the following ones (each question timed alone) in each of `rounds` rounds. A round
    stops early after `max_seconds` of matching, so the 1,000x run stays bounded."""
    from benchmarks.stats import percentile

    base = KnowledgeBase.load()
    questions = benchmark_questions()
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


if __name__ == "__main__":
    sys.exit(main())
