"""The `balie` command: run, console, ask, tickets, outbox."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import Config, ConfigError, load_config

T = TypeVar("T")

config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    help="TOML configuration file (default: ./config.toml if present, else built-in defaults).",
)


def _config(config_path: Path | None) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as error:
        click.echo(f"balie: configuration error: {error}", err=True)
        sys.exit(2)


def _run(coroutine: Awaitable[T]) -> T:
    from storage.database import DatabaseError

    try:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        sys.exit(130)
    except DatabaseError as error:
        click.echo(f"balie: {error}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="balie")
def main() -> None:
    """Balie: the Telegram help desk for a web-hosting provider."""


@main.command()
@config_option
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
def run(config_path: Path | None, log_level: str) -> None:
    """Run the Telegram bot (long polling) until SIGINT/SIGTERM."""
    from aiogram.exceptions import TelegramUnauthorizedError

    from bot import logs
    from bot.app import build_app, run_polling

    config = _config(config_path)
    if not config.token:
        click.echo("balie: configuration error: [telegram.token] is required for `balie run`: "
                   "set it in the config file or in BALIE_TELEGRAM_TOKEN", err=True)
        sys.exit(2)
    logs.setup(log_level)

    async def serve() -> None:
        app = await build_app(config)
        await run_polling(app)

    try:
        _run(serve())
    except TelegramUnauthorizedError:
        click.echo("balie: Telegram refused the token (401 Unauthorized): check "
                   "[telegram.token] or BALIE_TELEGRAM_TOKEN", err=True)
        sys.exit(1)


@main.command()
@config_option
def console(config_path: Path | None) -> None:
    """Chat with the bot as a customer in this terminal (no token, no network)."""
    from bot import logs
    from bot.app import build_app
    from bot.console import ConsoleSession, run_console
    from bot.delivery import Limits

    config = _config(config_path)
    logs.setup("WARNING")

    async def chat() -> None:
        session = ConsoleSession(write=lambda text: click.echo(text, nl=False))
        app = await build_app(config, session=session, delivery_limits=Limits.none())
        try:
            await run_console(app, session)
        finally:
            await app.close()

    _run(chat())


@main.group()
def tickets() -> None:
    """The ticket queue."""


@tickets.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON array (product.md §5).")
@click.option("--status", multiple=True,
              type=click.Choice(["open", "in_progress", "waiting_on_customer", "closed"]),
              help="Only tickets with this status (repeatable).")
def tickets_list(config_path: Path | None, as_json: bool, status: tuple[str, ...]) -> None:
    """The queue: by priority, then oldest first."""
    from tickets.models import Status

    async def fetch(store: Any) -> Any:
        return await store.list(statuses=tuple(Status(s) for s in status) or None, limit=1000)

    found = _with_store(_config(config_path), fetch)
    if as_json:
        click.echo(json.dumps([ticket.as_json() for ticket in found], ensure_ascii=False,
                              indent=2))
        return
    if not found:
        click.echo("No tickets.")
        return
    click.echo(f"{'#':>5}  {'status':<20} {'priority':<8} {'category':<24} "
               f"{'customer':<20} subject")
    for ticket in found:
        click.echo(f"{ticket.id:>5}  {ticket.status:<20} {ticket.priority:<8} "
                   f"{ticket.category:<24} {ticket.customer.name[:20]:<20} {ticket.subject}")


@tickets.command("show")
@click.argument("ticket_id", type=int)
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON with messages and events.")
def tickets_show(ticket_id: int, config_path: Path | None, as_json: bool) -> None:
    """One ticket with its thread and audit trail."""
    from bot.staff import ticket_view
    from bot.texts import Texts
    from tickets.store import TicketNotFound

    async def fetch(store: Any) -> Any:
        return await store.get(ticket_id, full=True)

    config = _config(config_path)
    try:
        ticket = _with_store(config, fetch)
    except TicketNotFound:
        click.echo(f"balie: no ticket #{ticket_id}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(ticket.as_json(full=True), ensure_ascii=False, indent=2))
        return
    texts = Texts({"provider": config.provider, "rules": config.rules})
    shown = ticket_view.render(texts, config.languages.default, ticket, config.rules.timezone,
                               full=True)
    click.echo(ticket_view.plain(shown))


@main.command("outbox")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON array, oldest first.")
def outbox_command(config_path: Path | None, as_json: bool) -> None:
    """What is waiting to be delivered to Telegram, or was refused: ticket, recipient,
    attempts, last error, next try."""
    from storage.outbox import Outbox

    items = _with_database(_config(config_path), lambda database: Outbox(database).listing())
    if as_json:
        click.echo(json.dumps([item.as_json() for item in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("Nothing pending or refused.")
        return
    click.echo(f"{'#':>6}  {'ticket':>6}  {'recipient':<26} {'kind':<12} {'state':<8} "
               f"{'tries':>5}  {'next try':<24} last error")
    for item in items:
        recipient = str(item.chat_id) + (f"/{item.thread_id}" if item.thread_id else "")
        next_try = item.next_attempt_at if item.state == "pending" else "-"
        ticket = f"#{item.ticket_id}" if item.ticket_id is not None else "-"
        click.echo(f"{item.id:>6}  {ticket:>6}  {recipient:<26} {item.kind:<12} "
                   f"{item.state:<8} {item.attempts:>5}  {next_try:<24} "
                   f"{(item.last_error or '-')[:100]}")


def _with_store(config: Config, use: Callable[[Any], Awaitable[T]]) -> T:
    from tickets.store import TicketStore

    return _with_database(config, lambda database: use(TicketStore(database)))


@main.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@config_option
def backup_command(path: Path, config_path: Path | None) -> None:
    """A consistent copy of the database at PATH, made while the bot runs, and verified."""
    from storage.backup import BackupError, backup

    config = _config(config_path)
    try:
        report = backup(config.storage.database, path)
    except BackupError as error:
        click.echo(f"balie: {error}", err=True)
        sys.exit(1)
    click.echo(f"Backup written to {report.path}: {report.tickets} tickets, "
               f"{report.bytes // 1024} KiB, schema version {report.version}, integrity ok.")


def _with_database(config: Config, use: Callable[[Any], Awaitable[T]]) -> T:
    """Run `use` on the existing database (an operator command never creates one)."""
    from storage.database import Database

    if not config.storage.database.is_file():
        click.echo(f"balie: no database at {config.storage.database} (wrong folder, or "
                   "[storage] database in the config?)", err=True)
        sys.exit(2)

    async def go() -> T:
        database = await Database.open(config.storage.database)
        try:
            return await use(database)
        finally:
            await database.close()

    return _run(go())


@main.command()
@config_option
@click.option("--lang", type=click.Choice(["nl", "en"]), default=None,
              help="The question's language (default: detected).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.argument("question")
def ask(config_path: Path | None, lang: str | None, as_json: bool, question: str) -> None:
    """What the bot would answer QUESTION; with `-`, one question per line from stdin."""
    from knowledge.kb import KnowledgeBase
    from knowledge.matcher import Matcher

    config = _config(config_path)  # validated, so a broken config is reported here too
    knowledge_base = KnowledgeBase.load()
    matcher = Matcher(knowledge_base)
    if question == "-":
        for line in sys.stdin:  # one answer per input line, blank lines included
            click.echo(json.dumps(matcher.match(line.strip(), lang).as_json(),
                                  ensure_ascii=False))
        return
    match = matcher.match(question, lang)
    if as_json:
        click.echo(json.dumps(match.as_json(), ensure_ascii=False))
        return
    click.echo(_what_the_bot_says(config, knowledge_base, match, question))


def _what_the_bot_says(config: Config, knowledge_base: Any, match: Any, question: str) -> str:
    """`balie ask` without --json: a heading (band, article, score), then the reply as the
    customer would see it in Telegram (as plain text, like `balie console`)."""
    from bot.console import html_to_text
    from bot.dialogs import DIALOGS
    from bot.dialogs.question import ACTIONS, UNDERSTOOD_LIMIT
    from bot.texts import Texts

    t = Texts({"provider": config.provider, "rules": config.rules}).for_language(match.lang)
    understood = match.understood[:UNDERSTOOD_LIMIT] if match.understood else None
    if match.smalltalk:
        heading = f"small talk ({match.smalltalk}): no article"
        reply = t(f"question/smalltalk_{match.smalltalk}")
    elif match.band == "answer":
        heading = f"answer: {match.article} (score {match.score})"
        text = knowledge_base.articles[match.article].text(match.lang)
        menu = {entry.key for dialog in DIALOGS for entry in dialog.entries}
        actions = frozenset(action for action, key in ACTIONS.items() if key in menu)
        reply = t("question/answer", title=text.title, understood=understood,
                  body=t.string(text.body, actions=actions))
    elif match.band == "suggest":
        heading = f"suggest: {', '.join(match.suggestions)} (best score {match.score})"
        titles = [f"  {n}. {knowledge_base.articles[article].text(match.lang).title}"
                  for n, article in enumerate(match.suggestions, start=1)]
        reply = t("question/suggest", understood=understood) + "\n" + "\n".join(titles)
    else:
        heading = f"none (best score {match.score}): no article"
        reply = t("question/no_answer", question=question)
    return f"{heading}\n\n{html_to_text(reply).strip()}"


@main.group()
def knowledge() -> None:
    """The knowledge base and what customers asked it."""


@knowledge.command("misses")
@config_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
def knowledge_misses(config_path: Path | None, limit: int, as_json: bool) -> None:
    """The most frequent questions the bot could not answer well (for curating articles)."""
    from knowledge.questions import QuestionLog

    misses = _with_database(_config(config_path), lambda database: QuestionLog(database).misses(
        limit))
    if as_json:
        click.echo(json.dumps([miss.__dict__ for miss in misses], ensure_ascii=False, indent=2))
        return
    if not misses:
        click.echo("No unanswered questions yet.")
        return
    click.echo(f"{'count':>5}  {'why':<20} {'last asked':<26} question")
    for miss in misses:
        why = ", ".join(miss.reasons) or miss.band
        click.echo(f"{miss.count:>5}  {why:<20} {miss.last_asked:<26} {miss.question[:80]}")
