"""Matcher behaviour: answers, small talk, languages, robustness and measured quality."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.evaluate import (
    BLIND_FILE,
    HELDOUT_FILE,
    TUNING_FILE,
    Baseline,
    compare_file,
    evaluate_file,
    main,
    read_cases,
)
from knowledge.kb import KnowledgeBase
from knowledge.matcher import (
    Match,
    Matcher,
    cancelled_service,
    clauses_of,
    detect_language,
    detect_smalltalk,
    normalise,
    out_of_scope_topic,
    split_sentences,
)


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


@pytest.mark.parametrize("question", [
    "ik heb mijn rekening niet betaald", "ik kan de rekening niet betalen",
    "ik kan mijn factuur niet betalen", "I cannot pay my bill",
])
def test_not_paying_leads_to_the_payment_arrangement_first(matcher: Matcher,
                                                           question: str) -> None:
    """Since rekening/nota/bill read as factuur/invoice, "can't pay the bill" must not answer
    with the invoice after cancelling (found in review: it did, confidently)."""
    m = matcher.match(question)
    first = m.article if m.band == "answer" else (m.suggestions or [None])[0]
    assert first == "betalingsregeling", (m.band, m.article, m.suggestions)


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
    # A real part is kept aside (held-out and blind sets), never tuned on.
    aside = heldout + read_cases(BLIND_FILE)
    assert len(aside) / (len(aside) + len(tuning)) >= 0.25
    # The tuning set has a broad share of everyday out-of-scope support questions.
    assert sum(c.expected is None for c in tuning) >= 80


@pytest.mark.parametrize(("path", "floor"),
                         [(TUNING_FILE, 0.97), (HELDOUT_FILE, 0.97), (BLIND_FILE, 0.97)],
                         ids=["tuning", "heldout", "blind"])
def test_evaluation_thresholds(matcher: Matcher, path, floor: float) -> None:  # type: ignore[no-untyped-def]
    report = evaluate_file(path, matcher)
    # The aim of issue 12 on the sets never tuned on: at least 97 % in scope right (held out
    # 98.2 %, blind 97.8 %, tuning 98.4 %). Falling behind the baseline is caught by
    # test_matcher_is_not_behind_the_baseline.
    assert report.accuracy >= floor, report.format(summary_only=True)
    oos = report.out_of_scope
    answered = sum(o.match.band == "answer" for o in oos)
    # Target: at most 5 % of out-of-scope questions answered confidently. With fewer than 20
    # out-of-scope questions in a file 5 % is less than one question, so one is tolerated there
    # (the held-out file has 15; see the report of issue 4).
    allowed = max(int(0.05 * len(oos)), 1 if len(oos) < 20 else 0)
    assert answered <= allowed, report.format(show_errors=True)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.tuned(KnowledgeBase.load())


def test_baseline_threshold_is_chosen_on_the_tuning_set(baseline: Baseline) -> None:
    assert 0 < baseline.threshold < 1
    m = baseline.match("hoe zeg ik mijn hosting op")
    assert m.band in ("answer", "suggest") and m.article == "opzeggen-hoe"


@pytest.mark.parametrize("path", [HELDOUT_FILE, BLIND_FILE], ids=["heldout", "blind"])
def test_matcher_is_not_behind_the_baseline(
    matcher: Matcher, baseline: Baseline, path: Path
) -> None:
    """On the sets never tuned on: at least as many in-scope questions right (top-1) and at
    most as many out-of-scope ones answered confidently as the TF-IDF baseline."""
    comparison = compare_file(path, matcher, baseline)
    assert comparison.matcher.accuracy >= comparison.baseline.accuracy, comparison.format(
        summary_only=True)
    assert comparison.matcher.oos_answer_rate <= comparison.baseline.oos_answer_rate
    assert comparison.matcher_ahead


def test_tuning_targets(matcher: Matcher) -> None:
    """The targets of the out-of-scope review, on the set the matcher was tuned on."""
    report = evaluate_file(TUNING_FILE, matcher)
    assert report.accuracy >= 0.95, report.format(show_errors=True)
    assert report.strict_accuracy >= 0.75, report.format(show_errors=True)
    assert report.oos_answer_rate <= 0.03, report.format(show_errors=True)
    assert report.oos_suggest_rate <= 0.25, report.format(show_errors=True)


# Everyday hosting questions the knowledge base does not cover (reviewer's examples and a few
# like them): no confident answer, and no unrelated "Bedoel je…?" either.
@pytest.mark.parametrize(
    "question",
    [
        "mijn email werkt niet",
        "my website is offline",
        "mijn website is offline",
        "wordpress installeren",
        "website gehackt",
        "mijn e-mail komt niet aan",
        "hoe verander ik mijn MX records",
        "my ssl certificate is not working",
        "kan ik mijn pakket upgraden",
        "ik wil mijn betaalmethode aanpassen",
        "wachtwoord van mijn mailbox wijzigen",
    ],
)
def test_out_of_scope_support_questions_get_no_answer(matcher: Matcher, question: str) -> None:
    m = matcher.match(question)
    assert m.band == "none", m
    assert (m.article, m.suggestions) == (None, ())
    assert out_of_scope_topic(question)


@pytest.mark.parametrize(
    ("question", "article"),
    [
        # An in-scope topic outweighs an out-of-scope word.
        ("wanneer gaat mijn website offline als ik opzeg", "einde-termijn-of-direct"),
        ("will my email stop when I cancel", "einde-termijn-of-direct"),
        ("met welk e-mailadres log ik in", "inloggen-klantenpanel"),
    ],
)
def test_in_scope_topic_wins_over_out_of_scope_words(
    matcher: Matcher, question: str, article: str
) -> None:
    assert not out_of_scope_topic(question)
    m = matcher.match(question)
    assert m.band in ("answer", "suggest"), m
    assert m.article == article, m


def test_cancelling_an_out_of_scope_product_is_in_scope() -> None:
    # Not capped by the topic guard (which article wins is up to the fuzzy scores).
    assert not out_of_scope_topic("ik wil mijn ssl certificaat opzeggen")
    assert not out_of_scope_topic("cancel my wordpress hosting")


def test_evaluate_prints_every_file_with_aside_sets_as_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("tuning.tsv", "heldout.tsv", "blind.tsv"):
        assert f"== {name}" in out
    assert out.count("out-of-scope given suggestions") == 3
    assert out.count("strict accuracy") == 3
    assert out.count("top confusions") == 1  # only for the tuning set
    assert out.count("matcher vs baseline") == 3
    assert out.count("only the baseline gets right") == 1  # only for the tuning set


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("kan ik mijn domein houden en alleen hosting opzeggen", "alleen-hosting-opzeggen"),
        ("ik wil mijn hosting opzeggen maar het domein houden", "alleen-hosting-opzeggen"),
        ("can I keep my domain and cancel the hosting", "alleen-hosting-opzeggen"),
        ("alleen mijn domeinnaam opzeggen, de hosting blijft", "alleen-domein-opzeggen"),
        ("I want to cancel my domain but keep my hosting", "alleen-domein-opzeggen"),
    ],
)
def test_cancelling_one_service_and_keeping_the_other(
    matcher: Matcher, question: str, article: str
) -> None:
    m = matcher.match(question)
    assert (m.band, m.article) == ("answer", article), m


@pytest.mark.parametrize(
    "question", ["hoe zeg ik mijn hosting op", "how do I cancel my web hosting",
                 "hosting en domein allebei opzeggen"])
def test_no_contrast_gets_the_general_article(matcher: Matcher, question: str) -> None:
    m = matcher.match(question)
    assert m.article == "opzeggen-hoe", m


@pytest.mark.parametrize(
    ("query", "lang", "service"),
    [
        ("domein houden alleen hosting opzeggen", "nl", "hosting"),
        ("cancel domain but keep hosting", "en", "domain"),
        ("domein opzeggen zonder pakket stopt", "nl", "domain"),
        ("alleen pakket opheffen niet domein", "nl", "hosting"),
        ("hosting domein", "nl", None),
        ("hosting opzeggen domein opzeggen", "nl", None),
    ],
)
def test_cancelled_service(query: str, lang: str, service: str | None) -> None:
    assert cancelled_service(query, lang) == service


@pytest.mark.parametrize(
    ("text", "lang", "service"),
    [
        # A verb governs the service words of its own clause only.
        ("I only want to cancel the hosting, the domain should stay", "en", "hosting"),
        ("end only the domain and keep the hosting running", "en", "domain"),
        ("de hosting mag weg, het domein wil ik houden", "nl", "hosting"),
    ],
)
def test_the_verb_of_the_same_clause_decides(text: str, lang: str, service: str) -> None:
    assert cancelled_service(clauses_of(text), lang) == service


@pytest.mark.parametrize(
    ("question", "article"),
    [
        # Written apart, one word in the articles ("terugdraaien").
        ("kan ik de opzegging terug draaien", "per-ongeluk-direct-opgezegd"),
        ("waarom krijg ik nog een rekening na het opzeggen", "factuur-na-opzegging"),  # synonym
        ("i got a bill after cancelling", "factuur-na-opzegging"),
    ],
)
def test_compounds_and_synonyms(matcher: Matcher, question: str, article: str) -> None:
    m = matcher.match(question)
    assert m.article == article, m


def test_a_sentence_is_read_in_its_short_message_context(matcher: Matcher) -> None:
    m = matcher.match("Ik wil het domein bij jullie houden. Wat moet ik dan voor de hosting "
                      "opzeggen?")
    assert m.article == "alleen-hosting-opzeggen", m


def test_the_work_for_a_long_message_is_bounded(matcher: Matcher) -> None:
    # 60 different sentences, the question last: of the first 40 sentences the four with the
    # most knowledge-base words are matched.
    filler = " ".join(f"Vandaag is dag nummer {n} van mijn vakantie." for n in range(60))
    m = matcher.match("Ik heb per ongeluk direct opgezegd! " + filler)
    assert m.article == "per-ongeluk-direct-opgezegd", m
    assert len(split_sentences(filler + filler)) == 40


def test_scored_variants_do_not_grow_with_the_knowledge_base() -> None:
    """The inverted index gives the fuzzy scorers at most `champions` variants per word."""
    from benchmarks.bench_matcher import scaled_kb

    small = Matcher(KnowledgeBase.load())
    big = Matcher(scaled_kb(KnowledgeBase.load(), 20))
    assert big.variant_count > 15 * small.variant_count
    for q in ("hoe zeg ik mijn hosting op", "wat is de opzegtermijn", "factuur na opzeggen"):
        assert big.match(q).article == small.match(q).article
        query = big._prepare(q)
        scored = big._candidates([(w, big._resolve(w)) for w in query.split()])
        assert len(scored) <= 1000 < big.variant_count / 10


FILLER = ("Ik ben al jaren klant bij jullie en eigenlijk altijd tevreden geweest over de "
          "service en de snelheid van de website. ")


def test_a_long_message_is_matched_on_its_best_sentence(matcher: Matcher) -> None:
    question = "Nu wil ik graag weten hoe ik mijn hosting kan opzeggen?"
    message = FILLER * 13 + question + " " + FILLER * 13
    assert len(message) >= 3000
    m = matcher.match(message)
    assert m.band in ("answer", "suggest")
    assert (m.article if m.band == "answer" else m.suggestions[0]) == "opzeggen-hoe"
    assert m.understood == question
    # A short question is understood as a whole.
    assert matcher.match("hoe zeg ik mijn hosting op").understood is None


def test_a_long_out_of_scope_message_gets_no_answer(matcher: Matcher) -> None:
    m = matcher.match(FILLER * 10 + "Wat kost een vps bij jullie? " + FILLER * 10)
    assert m.band == "none", m


@pytest.mark.parametrize("question", ["wat kost een vps", "what does a vps cost",
                                      "hoeveel kost een vps per maand"])
def test_products_and_prices_get_no_article(matcher: Matcher, question: str) -> None:
    m = matcher.match(question)
    assert (m.band, m.article, m.suggestions) == ("none", None, ()), m


def test_every_out_of_scope_question_gets_band_none_or_a_suggestion_only(
    matcher: Matcher,
) -> None:
    """Out of scope: never a confident answer on the tuning set (where details may be seen)."""
    report = evaluate_file(TUNING_FILE, matcher)
    assert all(o.match.band != "answer" for o in report.out_of_scope)
