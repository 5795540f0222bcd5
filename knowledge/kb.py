"""Knowledge-base articles: loading and validating the TOML files in ``knowledge/articles``.

Each article is one TOML file named after its id, with an optional ``action`` (the follow-up
dialog the bot may offer), for ``action = "cancellation"`` an optional ``service`` (the guide
then starts with that choice made: one of :data:`SERVICES`) and one table per language (``nl``
and ``en``) holding ``title``, ``body`` (a Jinja2 template producing Telegram HTML) and
``questions`` (the ways customers ask it; these are what the matcher compares against).

Support colleagues edit these files; anything wrong with a file raises :class:`ArticleError`
naming the file and the problem.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2 import nodes

LANGUAGES: tuple[str, ...] = ("nl", "en")
ACTIONS: frozenset[str] = frozenset(
    {"cancellation", "deadlines", "payment", "accidental", "colleague", "ticket"}
)
#: What the cancellation guide can be started with (its first question's answers).
SERVICES: frozenset[str] = frozenset({"hosting", "domain", "both", "other"})
#: The only template variables a body may use (``name.attribute``).
TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {
        "provider.name",
        "provider.panel_url",
        "provider.website",
        "provider.email",
        "provider.tickets_url",
        "rules.notice_months",
        "rules.transfer_working_days",
        # The follow-up actions the bot can offer right now (a set of ACTIONS), so a body
        # promises only what exists: {% if "payment" in actions %}…{% endif %}
        "actions",
    }
)
#: Telegram HTML tags an article body may contain.
ALLOWED_TAGS: frozenset[str] = frozenset({"b", "i", "a", "code"})

DEFAULT_FOLDER = Path(__file__).resolve().parent / "articles"
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG_RE = re.compile(r"<\s*/?\s*([a-zA-Z0-9]+)[^>]*>")


class ArticleError(ValueError):
    """A knowledge-base file is missing, malformed or invalid. The message names the file."""


@dataclass(frozen=True)
class ArticleText:
    title: str
    body: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Article:
    id: str
    action: str | None
    texts: Mapping[str, ArticleText]
    #: For ``action = "cancellation"``: the guide starts with this service chosen.
    service: str | None = None

    def text(self, lang: str) -> ArticleText:
        """The text in ``lang``, falling back to Dutch for an unknown language."""
        return self.texts.get(lang) or self.texts["nl"]


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def template_fields(source: str) -> frozenset[str]:
    """The ``name.attribute`` variables a template uses (bare names are returned as ``name``)."""
    tree = _ENV.parse(source)
    found: set[str] = set()
    attr_names: set[int] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            found.add(f"{node.node.name}.{node.attr}")
            attr_names.add(id(node.node))
    for name in tree.find_all(nodes.Name):
        if id(name) not in attr_names and name.ctx == "load":
            found.add(name.name)
    return frozenset(found)


def render_body(source: str, context: Mapping[str, Any]) -> str:
    """Render an article body with the bot's context (``provider``, ``rules``).

    Convenience for callers and tests; the bot may use its own Environment, which must also have
    ``autoescape=True``.
    """
    return _ENV.from_string(source).render(**context).strip()


def _fail(path: Path, problem: str) -> ArticleError:
    return ArticleError(f"{path.name}: {problem}")


def _parse_text(path: Path, lang: str, raw: Any) -> ArticleText:
    if not isinstance(raw, dict):
        raise _fail(path, f"missing table [{lang}]")
    for key in ("title", "body"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, f"[{lang}] {key} must be a non-empty string")
    questions = raw.get("questions")
    if not isinstance(questions, list) or not questions:
        raise _fail(path, f"[{lang}] questions must be a non-empty list of strings")
    cleaned: list[str] = []
    for q in questions:
        if not isinstance(q, str) or not q.strip():
            raise _fail(path, f"[{lang}] questions must contain only non-empty strings")
        cleaned.append(" ".join(q.split()))
    unknown = set(raw) - {"title", "body", "questions"}
    if unknown:
        raise _fail(path, f"[{lang}] unknown key(s): {', '.join(sorted(unknown))}")
    body: str = raw["body"]
    try:
        fields = template_fields(body)
    except jinja2.TemplateSyntaxError as exc:
        raise _fail(path, f"[{lang}] body is not a valid template: {exc.message} "
                          f"(line {exc.lineno})") from exc
    bad = fields - TEMPLATE_FIELDS
    if bad:
        raise _fail(path, f"[{lang}] body uses unknown variable(s): {', '.join(sorted(bad))}; "
                          f"allowed: {', '.join(sorted(TEMPLATE_FIELDS))}")
    tags = {t.lower() for t in _TAG_RE.findall(body)}
    if tags - ALLOWED_TAGS:
        raise _fail(path, f"[{lang}] body uses HTML tag(s) Telegram does not allow here: "
                          f"{', '.join(sorted(tags - ALLOWED_TAGS))}")
    return ArticleText(title=raw["title"].strip(), body=body.strip(), questions=tuple(cleaned))


def load_article(path: Path) -> Article:
    """Load and validate one article file."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"not valid TOML: {exc}") from exc
    except OSError as exc:
        raise _fail(path, f"cannot be read: {exc}") from exc
    art_id = data.get("id")
    if not isinstance(art_id, str) or not _ID_RE.match(art_id):
        raise _fail(path, "id must be a lowercase slug such as 'opzeggen-hoe'")
    if art_id != path.stem:
        raise _fail(path, f"id {art_id!r} does not match the file name {path.stem!r}")
    action = data.get("action")
    if action is not None and action not in ACTIONS:
        raise _fail(path, f"action {action!r} is not one of {', '.join(sorted(ACTIONS))}")
    service = data.get("service")
    if service is not None and (action != "cancellation" or service not in SERVICES):
        raise _fail(path, f"service {service!r} needs action 'cancellation' and one of "
                          f"{', '.join(sorted(SERVICES))}")
    texts = {lang: _parse_text(path, lang, data.get(lang)) for lang in LANGUAGES}
    unknown = set(data) - {"id", "action", "service", *LANGUAGES}
    if unknown:
        raise _fail(path, f"unknown key(s): {', '.join(sorted(unknown))}")
    fields = {lang: template_fields(t.body) for lang, t in texts.items()}
    if fields["nl"] != fields["en"]:
        raise _fail(path, "nl and en bodies use different template variables: "
                          f"nl {sorted(fields['nl'])}, en {sorted(fields['en'])}")
    return Article(id=art_id, action=action, texts=MappingProxyType(texts), service=service)


class KnowledgeBase:
    """All articles of a folder, keyed by id (in file-name order)."""

    def __init__(self, articles: Mapping[str, Article]) -> None:
        self.articles: Mapping[str, Article] = MappingProxyType(dict(articles))

    @classmethod
    def load(cls, folder: Path | None = None) -> KnowledgeBase:
        folder = Path(folder) if folder is not None else DEFAULT_FOLDER
        if not folder.is_dir():
            raise ArticleError(f"{folder}: knowledge folder does not exist")
        articles: dict[str, Article] = {}
        for path in sorted(folder.glob("*.toml")):
            article = load_article(path)
            if article.id in articles:  # pragma: no cover - ids equal unique file names
                raise _fail(path, f"duplicate id {article.id!r}")
            articles[article.id] = article
        if not articles:
            raise ArticleError(f"{folder}: no article files (*.toml) found")
        return cls(articles)

    def __len__(self) -> int:
        return len(self.articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.articles

    def get(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)
