"""Every knowledge-base article file is valid and renders in both languages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from knowledge.kb import (
    ALLOWED_TAGS,
    DEFAULT_FOLDER,
    LANGUAGES,
    TEMPLATE_FIELDS,
    Article,
    ArticleError,
    KnowledgeBase,
    load_article,
    render_body,
    template_fields,
)

REQUIRED_IDS = {
    "opzeggen-hoe",
    "opzegtermijn",
    "factuur-na-opzegging",
    "einde-termijn-of-direct",
    "per-ongeluk-direct-opgezegd",
    "domein-verhuizen",
    "automatische-verlenging",
    "betalingsregeling",
    "reden-opzegging",
    "inloggen-klantenpanel",
    "contact",
    "opzegging-verwerking",
}

# Deliberately unusual rule values, so a number written into a text instead of taken from the
# configuration shows up.
SAMPLE_CONTEXT = {
    "provider": {
        "name": "Voorbeeld & Zn",
        "panel_url": "https://panel.example.test/login?a=1&b=2",
        "website": "https://www.example.test",
        "email": "help@example.test",
        "tickets_url": "https://panel.example.test/tickets?x=1&y=2",
    },
    "rules": {"notice_months": 3, "transfer_working_days": 8},
    "actions": {"cancellation", "deadlines", "payment", "accidental", "colleague", "ticket"},
}
SINGULAR_CONTEXT = {**SAMPLE_CONTEXT, "rules": {"notice_months": 1, "transfer_working_days": 5},
                    "actions": set()}

ARTICLE_FILES = sorted(DEFAULT_FOLDER.glob("*.toml"))
# A period written as a literal number: "1 maand", "2 months", "5 werkdagen", "5 working days".
LITERAL_PERIOD = re.compile(
    r"\d+\s*(maand|maanden|month|months|werkdag|werkdagen|working\s+days?|dagen|days?)\b",
    re.IGNORECASE,
)
TAG = re.compile(r"<\s*/?\s*([a-zA-Z0-9]+)[^>]*>")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def test_required_articles_exist(kb: KnowledgeBase) -> None:
    assert REQUIRED_IDS <= set(kb.articles)


def test_ids_are_unique_and_equal_file_names(kb: KnowledgeBase) -> None:
    assert [p.stem for p in ARTICLE_FILES] == sorted(kb.articles)
    assert len(set(kb.articles)) == len(ARTICLE_FILES)


@pytest.mark.parametrize("path", ARTICLE_FILES, ids=lambda p: p.stem)
def test_article_file(path: Path, kb: KnowledgeBase) -> None:
    article = kb.articles[path.stem]
    assert isinstance(article, Article)
    assert article.id == path.stem
    assert set(article.texts) == set(LANGUAGES)
    fields = {}
    for lang in LANGUAGES:
        text = article.text(lang)
        assert text.title.strip()
        assert text.body.strip()
        assert len(text.questions) >= 10, f"{path.name} [{lang}] needs >= 10 questions"
        assert len({q.casefold() for q in text.questions}) == len(text.questions), "duplicates"
        assert not LITERAL_PERIOD.search(text.body), (
            f"{path.name} [{lang}]: write periods with rules.* variables, not literal numbers"
        )
        fields[lang] = template_fields(text.body)
        assert fields[lang] <= TEMPLATE_FIELDS
        for context in (SAMPLE_CONTEXT, SINGULAR_CONTEXT):
            rendered = render_body(text.body, context)
            assert rendered
            assert len(rendered) <= 1000, f"{path.name} [{lang}] too long for a chat message"
            assert "<br" not in rendered and "<p" not in rendered
            assert {t.lower() for t in TAG.findall(rendered)} <= ALLOWED_TAGS
            assert "{{" not in rendered and "{%" not in rendered
        rendered = render_body(text.body, SAMPLE_CONTEXT)
        # Autoescape: the provider values are escaped in HTML.
        assert "Voorbeeld & Zn" not in rendered
        if "rules.notice_months" in fields[lang]:
            assert "3 maanden" in rendered or "3 months" in rendered
        if "rules.transfer_working_days" in fields[lang]:
            assert "8 werkdagen" in rendered or "8 working days" in rendered
        singular = render_body(text.body, SINGULAR_CONTEXT)
        if "rules.notice_months" in fields[lang]:
            assert "1 maand" in singular or "1 month" in singular
            assert "1 maanden" not in singular and "1 months" not in singular
    assert fields["nl"] == fields["en"], "nl and en must use the same template variables"
    if article.action is not None:
        assert article.action in {
            "cancellation", "deadlines", "payment", "accidental", "colleague", "ticket"
        }


def test_text_falls_back_to_dutch(kb: KnowledgeBase) -> None:
    art = kb.articles["opzeggen-hoe"]
    assert art.text("de") == art.text("nl")


def test_notice_period_article_uses_the_config(kb: KnowledgeBase) -> None:
    body = kb.articles["opzegtermijn"].text("nl").body
    assert "3 maanden" in render_body(body, SAMPLE_CONTEXT)
    assert "1 maand" in render_body(body, SINGULAR_CONTEXT)


def _copy_kb(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(DEFAULT_FOLDER, folder)
    return folder


GOOD = DEFAULT_FOLDER / "contact.toml"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s.replace('id = "contact"', 'id = "kontakt"'), "does not match the file name"),
        (lambda s: s.replace("[en]", "[fr]"), "missing table [en]"),
        (lambda s: s.replace('title = "Contact met de helpdesk"', 'title = ""'), "title"),
        (lambda s: s.replace("{{ provider.website }}", "{{ provider.telefoon }}"), "unknown"),
        (lambda s: s.replace("{{ provider.website }}", "{{ provider.website"), "template"),
        (lambda s: s.replace('action = "colleague"', 'action = "dance"'), "action"),
        (lambda s: s.replace("Website:", "<br>Website:"), "HTML tag"),
        (lambda s: s + "\n[broken", "TOML"),
        (lambda s: s.replace("questions = [", "questions = [1, ", 1), "questions"),
    ],
)
def test_broken_file_names_the_file(tmp_path: Path, edit, problem: str) -> None:  # type: ignore[no-untyped-def]
    folder = _copy_kb(tmp_path)
    target = folder / "contact.toml"
    target.write_text(edit(GOOD.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ArticleError) as err:
        KnowledgeBase.load(folder)
    assert "contact.toml" in str(err.value)
    assert problem in str(err.value)


def test_different_variables_per_language_is_an_error(tmp_path: Path) -> None:
    folder = _copy_kb(tmp_path)
    target = folder / "contact.toml"
    text = GOOD.read_text(encoding="utf-8")
    nl, en = text.split("[en]")
    target.write_text(nl.replace("{{ provider.website }}", "") + "[en]" + en, encoding="utf-8")
    with pytest.raises(ArticleError, match=r"contact\.toml.*different template variables"):
        KnowledgeBase.load(folder)


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ArticleError):
        KnowledgeBase.load(tmp_path)
    with pytest.raises(ArticleError):
        KnowledgeBase.load(tmp_path / "nope")


def test_an_extra_article_is_picked_up(tmp_path: Path) -> None:
    folder = _copy_kb(tmp_path)
    text = GOOD.read_text(encoding="utf-8").replace('id = "contact"', 'id = "backup-maken"')
    (folder / "backup-maken.toml").write_text(text, encoding="utf-8")
    assert "backup-maken" in KnowledgeBase.load(folder).articles


PROMISES = re.compile(r"\b(ik kan|laat mij|i can|let me)\b", re.IGNORECASE)


@pytest.mark.parametrize("path", ARTICLE_FILES, ids=lambda p: p.stem)
def test_an_answer_promises_only_actions_that_exist(path: Path) -> None:
    """Without any follow-up dialog available, no article offers to do something for the
    customer; every article still tells how to reach a person or what to do."""
    article = load_article(path)
    for lang in ("nl", "en"):
        rendered = render_body(article.text(lang).body, SINGULAR_CONTEXT)
        assert not PROMISES.search(rendered), f"{path.stem} [{lang}]: {rendered}"
