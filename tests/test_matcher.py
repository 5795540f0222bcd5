"""Matcher behaviour: answers, small talk, languages, robustness and measured quality."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.evaluate import HELDOUT_FILE, TUNING_FILE, evaluate_file, read_cases
from knowledge.kb import KnowledgeBase
from knowledge.matcher import Match, Matcher, detect_language, detect_smalltalk, normalise


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(KnowledgeBase.load())


def test_normalise() -> None:
    assert normalise("  Héllo,   Wórld!! ") == "hello world"
    assert normalise("Beëindigen") == "beeindigen"
    assert normalise("can't m'n") == "cant mn"
    assert normalise("") == ""
    assert normalise("🙂🙂") == ""
    assert normalise("Straße") == "strasse"


def test_the_done_when_question(matcher: Matcher) -> None:
    m = matcher.match("hoe zeg ik mijn hosting op")
    assert m.article == "opzeggen-hoe"
    assert m.band == "answer"
    assert m.lang == "nl"
    assert m.suggestions == ()
    assert m.as_json() == {
        "article": "opzeggen-hoe", "score": m.score, "band": "answer", "suggestions": []
    }


def test_english_equivalent(matcher: Matcher) -> None:
    m = matcher.match("How do I cancel my hosting?")
    assert (m.article, m.band, m.lang) == ("opzeggen-hoe", "answer", "en")


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("wat is de opzegtermijn", "opzegtermijn"),
        ("ik heb per ongeluk direct opgezegd!!", "per-ongeluk-direct-opgezegd"),
        ("Betalingsregeling", "betalingsregeling"),
        ("how do I transfer my domain", "domein-verhuizen"),
        ("wachtwoord vergeten", "inloggen-klantenpanel"),
        ("hallo, ik wil opzeggen", "opzeggen-hoe"),
    ],
)
def test_clear_questions_are_answered(matcher: Matcher, question: str, article: str) -> None:
    m = matcher.match(question)
    assert (m.article, m.band) == (article, "answer")


def test_given_language_is_kept(matcher: Matcher) -> None:
    assert matcher.match("opzeggen", lang="en").lang == "en"
    assert matcher.match("cancel", lang="nl").lang == "nl"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hallo", "greeting"), ("Hoi!", "greeting"), ("goedemorgen", "greeting"),
        ("hi there", "greeting"), ("Hello", "greeting"),
        ("bedankt", "thanks"), ("dank je wel!", "thanks"), ("Thanks a lot", "thanks"),
        ("thx", "thanks"), ("ok bedankt", "thanks"),
        ("ja", "yes"), ("yes", "yes"), ("ok", "yes"), ("oké", "yes"),
        ("nee", "no"), ("no", "no"), ("nee dank je", "no"),
        ("doei", "bye"), ("bye", "bye"), ("tot ziens", "bye"),
    ],
)
def test_smalltalk(matcher: Matcher, text: str, kind: str) -> None:
    assert detect_smalltalk(text) == kind
    m = matcher.match(text)
    assert m.smalltalk == kind
    assert (m.article, m.band, m.suggestions) == (None, "none", ())


def test_a_question_with_a_greeting_is_not_smalltalk() -> None:
    assert detect_smalltalk("hallo, hoe zeg ik op?") is None
    assert detect_smalltalk("") is None


@pytest.mark.parametrize(
    "text", ["xkcd qwpoeiru zzz", "asdf", "🙂🙂🙂", "", "   ", "?!?", "<b>test</b>", "12345"]
)
def test_nonsense_gets_no_answer(matcher: Matcher, text: str) -> None:
    m = matcher.match(text)
    assert m.band == "none"
    assert m.article is None


def test_suggest_gives_two_or_three_different_articles(matcher: Matcher) -> None:
    m = matcher.match("factuur")
    assert m.band == "suggest", m
    assert 2 <= len(m.suggestions) <= 3
    assert len(set(m.suggestions)) == len(m.suggestions)
    assert m.article == m.suggestions[0]


def test_language_detection() -> None:
    assert detect_language("hoe zeg ik mijn abonnement op") == "nl"
    assert detect_language("how do I cancel my subscription") == "en"
    assert detect_language("") == "nl"
    assert detect_language("🙂") == "nl"


def test_long_input(matcher: Matcher) -> None:
    m = matcher.match("hoe zeg ik mijn hosting op " + "bla " * 2500)
    assert isinstance(m, Match)
    m = matcher.match("x" * 10_000)
    assert m.band == "none"
    m = matcher.match("é" * 10_000)
    assert 0 <= m.score <= 100


def _check(m: Match, kb_ids: set[str]) -> None:
    assert 0 <= m.score <= 100
    assert isinstance(m.score, int)
    assert m.band in ("answer", "suggest", "none")
    assert m.lang in ("nl", "en")
    if m.band == "suggest":
        assert 1 <= len(m.suggestions) <= 3
        assert set(m.suggestions) <= kb_ids
        assert m.article == m.suggestions[0]
    else:
        assert m.suggestions == ()
    if m.band == "none":
        assert m.article is None
    else:
        assert m.article in kb_ids
        assert m.smalltalk is None
    data = m.as_json()
    assert set(data) == {"article", "score", "band", "suggestions"}
    assert isinstance(data["suggestions"], list)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), lang=st.sampled_from([None, "nl", "en", "fr"]))
def test_any_text_gives_a_valid_match(matcher: Matcher, text: str, lang: str | None) -> None:
    _check(matcher.match(text, lang), set(matcher.kb.articles))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(
        st.sampled_from(
            "ik wil opzeggen hosting factuur domein verhuizen termijn hoi bedankt cancel my "
            "invoice please direct einde per ongeluk betalen later wachtwoord ja nee".split()
        ),
        max_size=12,
    )
)
def test_word_soup_gives_a_valid_match(matcher: Matcher, words: list[str]) -> None:
    _check(matcher.match(" ".join(words)), set(matcher.kb.articles))


def test_eval_questions_differ_from_article_variants(matcher: Matcher) -> None:
    variants = {
        normalise(q)
        for art in matcher.kb.articles.values()
        for text in art.texts.values()
        for q in text.questions
    }
    for path in (TUNING_FILE, HELDOUT_FILE):
        cases = read_cases(path)
        overlap = [c.question for c in cases if normalise(c.question) in variants]
        # One-word questions ("opzeggen", "contact") are bound to coincide; nothing longer.
        assert all(len(q.split()) == 1 for q in overlap), overlap


def test_eval_set_size() -> None:
    tuning, heldout = read_cases(TUNING_FILE), read_cases(HELDOUT_FILE)
    cases = tuning + heldout
    in_scope = [c for c in cases if c.expected is not None]
    assert len(in_scope) >= 150
    assert len(cases) - len(in_scope) >= 40
    assert {c.expected for c in in_scope} >= set(KnowledgeBase.load().articles)
    assert 0.25 <= len(heldout) / len(cases) <= 0.4


@pytest.mark.parametrize("path", [TUNING_FILE, HELDOUT_FILE], ids=["tuning", "heldout"])
def test_evaluation_thresholds(matcher: Matcher, path) -> None:  # type: ignore[no-untyped-def]
    report = evaluate_file(path, matcher)
    assert report.accuracy >= 0.95, report.format(show_errors=True)
    oos = report.out_of_scope
    answered = sum(o.match.band == "answer" for o in oos)
    # Target: at most 5 % of out-of-scope questions answered confidently. With fewer than 20
    # out-of-scope questions in a file 5 % is less than one question, so one is tolerated there
    # (the held-out file has 15; see the report of issue 4).
    allowed = max(int(0.05 * len(oos)), 1 if len(oos) < 20 else 0)
    assert answered <= allowed, report.format(show_errors=True)
