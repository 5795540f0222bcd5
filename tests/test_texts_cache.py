"""Texts are compiled once: a template is not looked up on disk again (auto_reload off) and a
label without template syntax is its text, the same as rendering it would give."""

from __future__ import annotations

from bot.config import Config
from bot.texts import LANGUAGES, Texts


def _texts(**options: bool) -> Texts:
    config = Config()
    return Texts({"provider": config.provider, "rules": config.rules}, **options)


def test_plain_labels_read_as_their_rendering_would() -> None:
    texts = _texts()
    for lang in LANGUAGES:
        for key in texts.label_keys(lang):
            stored = texts._labels[lang][key]
            if isinstance(stored, str):
                rendered = texts._plain.from_string(stored).render(lang=lang).strip()
                assert texts.label(lang, key) == rendered, (lang, key)


def test_templates_are_kept_unless_auto_reload_is_asked_for() -> None:
    texts = _texts()
    assert all(not env.auto_reload for env in texts._envs.values())
    first = texts.render("nl", "start/help")
    assert ("nl", "start/help") in texts._templates
    assert texts.render("nl", "start/help") == first
    assert all(env.auto_reload for env in _texts(auto_reload=True)._envs.values())
