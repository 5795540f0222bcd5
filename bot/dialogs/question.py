"""Questions in the customer's own words (product.md §2.5): answer, "Bedoel je…?", or an
honest "I don't know" with a way to a person. Also the "Vraag stellen" menu entry."""

from __future__ import annotations

from typing import Annotated

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from pydantic import Field

from bot.conversation import Button, Conversation, Reply, keyboard, message_of, on_its_message
from bot.dialog import Dialog, Dialogs
from bot.dialogs import cancellation, live_chat
from bot.dialogs.start import resume
from bot.forms import FORM_PREFIX, FormAnswerer, FreeTextAnswerer
from bot.menu import MenuCb, MenuEntry
from bot.unit import current_unit
from knowledge.kb import Article, KnowledgeBase
from knowledge.matcher import Match, Matcher
from knowledge.questions import QuestionLog

# Which menu entry an article's follow-up button opens.
ACTIONS = {"cancellation": "cancel", "deadlines": "deadlines", "payment": "payment",
           "accidental": "accidental", "colleague": "colleague", "ticket": "ticket"}


class QuestionCb(CallbackData, prefix="q"):
    action: str  # "show" an article, "helped", "nothelp", to a "colleague", as a "ticket"
    # The logged question this press is about; a forged id beyond SQLite's integers is no
    # press of ours (it never reaches SQL).
    question: Annotated[int, Field(ge=1, le=2**63 - 1)]
    article: str = ""


async def start(conv: Conversation, edit: Message | None) -> None:
    await conv.show(conv.t("question/prompt"), keyboard(_menu_row(conv)), edit=edit)


ENTRIES = (MenuEntry("question", 50, start, deep_links=("vraag", "question")),)


def _parts(conv: Conversation) -> tuple[KnowledgeBase, Matcher, QuestionLog]:
    services = conv.services
    return services.knowledge, services.matcher, services.questions


def _update_id() -> int | None:
    """The update being handled from the inbox (it may be handled again after a crash)."""
    unit = current_unit.get()
    return unit.update_id if unit is not None else None


def _menu_row(conv: Conversation) -> list[list[Button]]:
    """A way back to the main menu (an unknown menu key shows the menu itself)."""
    return [[(conv.t.label("question.menu"), MenuCb(key="menu").pack())]]


def answerer(menu: frozenset[str]) -> FreeTextAnswerer:
    """The free-text answerer, for a bot whose main menu has the entries `menu` (an answer
    offers only the dialogs that exist)."""

    async def answer(conv: Conversation, text: str) -> bool:
        return await answer_free_text(conv, text, menu)

    return answer


def form_answerer(menu: frozenset[str]) -> FormAnswerer:
    """The answerer of questions typed inside a form (see `FormAnswerer`)."""

    async def answer(conv: Conversation, text: str) -> Reply | None:
        return await answer_in_form(conv, text, menu)

    return answer


async def answer_in_form(conv: Conversation, text: str, menu: frozenset[str]) -> Reply | None:
    """The answer to a real question typed at a form's step, for the form to show with the
    step; None on small talk and unknown questions (the step is simply asked again)."""
    _, matcher, question_log = _parts(conv)
    match = matcher.match(text, conv.lang)
    if match.smalltalk is not None:
        return None
    question_id = await question_log.record(conv.user.id, text, match, update_id=_update_id())
    if match.band == "answer" and match.article is not None:
        return _article(conv, menu, match.article, question_id, in_dialog=True,
                        understood=_understood(match))
    if match.band == "suggest":
        return _suggestions(conv, menu, match, question_id, in_dialog=True,
                            understood=_understood(match))
    return None


async def answer_free_text(conv: Conversation, text: str, menu: frozenset[str]) -> bool:
    """Answer a typed question outside a form: always says something (True)."""
    _, matcher, question_log = _parts(conv)
    match = matcher.match(text, conv.lang)
    if match.smalltalk is not None:
        await conv.say(conv.t(f"question/smalltalk_{match.smalltalk}"),
                       keyboard(_menu_row(conv)) if match.smalltalk == "greeting" else None)
        return True
    question_id = await question_log.record(conv.user.id, text, match, update_id=_update_id())
    if match.band == "answer" and match.article is not None:
        await _show_article(conv, menu, match.article, question_id, edit=None,
                            understood=_understood(match))
    elif match.band == "suggest":
        await _suggest(conv, menu, match, question_id, edit=None,
                       understood=_understood(match))
    else:
        await _no_answer(conv, menu, question_id, edit=None, text=text)
    return True


UNDERSTOOD_LIMIT = 200  # characters of the sentence quoted back to the customer


def _understood(match: Match) -> str | None:
    """The sentence of a long message the answer is for ("Ik begreep je vraag als …")."""
    if match.understood is None:
        return None
    sentence = " ".join(match.understood.split())
    return sentence if len(sentence) <= UNDERSTOOD_LIMIT else sentence[:UNDERSTOOD_LIMIT] + "…"


async def _show_article(
    conv: Conversation, menu: frozenset[str], article_id: str, question_id: int, *,
    edit: Message | None, understood: str | None = None,
) -> None:
    reply = _article(conv, menu, article_id, question_id, in_dialog=await _in_dialog(conv),
                     understood=understood)
    if reply is not None:
        await conv.show(reply.text, keyboard(reply.buttons), edit=edit)


def _article(
    conv: Conversation, menu: frozenset[str], article_id: str, question_id: int, *,
    in_dialog: bool, understood: str | None = None,
) -> Reply | None:
    knowledge, _, _ = _parts(conv)
    article = knowledge.get(article_id)
    if article is None:
        return None
    text = article.text(conv.lang)
    body = conv.t.string(text.body, actions=_available_actions(menu))
    rows: list[list[Button]] = []
    follow_up = None if in_dialog else _follow_up(conv, menu, article)
    if follow_up is not None:
        rows.append([follow_up])
    rows.append([
        (conv.t.label("question.helped"), QuestionCb(action="helped", question=question_id,
                                                     article=article.id).pack()),
        (conv.t.label("question.not_helped"), QuestionCb(action="nothelp", question=question_id,
                                                         article=article.id).pack()),
    ])
    return Reply(conv.t("question/answer", title=text.title, body=body, understood=understood),
                 rows)


async def _in_dialog(conv: Conversation) -> bool:
    """Inside a dialog an answer offers no way out of it (no menu, no other dialog): the
    dialog's step is shown again right after."""
    return await conv.state.get_state() is not None


def _available_actions(menu: frozenset[str]) -> frozenset[str]:
    """The article actions whose dialog exists, so an answer promises only what it can do."""
    return frozenset(action for action, key in ACTIONS.items() if key in menu)


def _follow_up(conv: Conversation, menu: frozenset[str], article: Article) -> Button | None:
    key = ACTIONS.get(article.action or "")
    if key is None or key not in menu:
        return None
    label = conv.t.label(f"question.action.{article.action}")
    if article.action == "cancellation" and article.service is not None:
        # "Alleen hosting opzeggen": the guide starts with that choice made.
        return cancellation.guide_button(label, article.service)
    return label, MenuCb(key=key).pack()


async def _suggest(
    conv: Conversation, menu: frozenset[str], match: Match, question_id: int, *,
    edit: Message | None, exclude: str = "", understood: str | None = None,
) -> None:
    reply = _suggestions(conv, menu, match, question_id, in_dialog=await _in_dialog(conv),
                         exclude=exclude, understood=understood)
    await conv.show(reply.text, keyboard(reply.buttons), edit=edit)


def _suggestions(
    conv: Conversation, menu: frozenset[str], match: Match, question_id: int, *,
    in_dialog: bool, exclude: str = "", understood: str | None = None,
) -> Reply:
    knowledge, _, _ = _parts(conv)
    rows: list[list[Button]] = []
    for article_id in match.suggestions:
        article = knowledge.get(article_id)
        if article is None or article_id == exclude:
            continue
        rows.append([(article.text(conv.lang).title[:60],
                      QuestionCb(action="show", question=question_id, article=article_id).pack())])
    if not rows:
        return _no_answer_reply(conv, question_id, in_dialog=in_dialog)
    rows.append([(conv.t.label("question.none_of_these"),
                  QuestionCb(action="nothelp", question=question_id).pack())])
    return Reply(conv.t("question/suggest", understood=understood), rows)


async def _no_answer(
    conv: Conversation, menu: frozenset[str], question_id: int, *, edit: Message | None,
    text: str | None = None,
) -> None:
    reply = _no_answer_reply(conv, question_id, in_dialog=await _in_dialog(conv), text=text)
    await conv.show(reply.text, keyboard(reply.buttons), edit=edit)


def _no_answer_reply(
    conv: Conversation, question_id: int, *, in_dialog: bool, text: str | None = None,
) -> Reply:
    rows: list[list[Button]] = []
    if not in_dialog:
        # A colleague (live, in office hours) or a ticket with this very question: the bot
        # files what it cannot answer itself, never a web form.
        for action in ("colleague", "ticket"):
            rows.append([(conv.t.label(f"question.action.{action}"),
                          QuestionCb(action=action, question=question_id).pack())])
        rows.extend(_menu_row(conv))
    return Reply(conv.t("question/no_answer", question=text), rows)


async def _to_a_colleague(conv: Conversation, press: QuestionCb, edit: Message | None) -> None:
    """The unanswered question, with what the bot suggested, to a colleague: live in office
    hours, else (or when asked for) as a `question` ticket."""
    _, matcher, question_log = _parts(conv)
    asked = await question_log.text(press.question) or ""
    match = matcher.match(asked, conv.lang)
    suggested = [a for a in (match.article, *match.suggestions) if a]
    context: dict[str, object] = {"suggested": suggested} if suggested else {}
    await conv.drop_buttons(edit.message_id if edit else None)
    if press.action == "colleague":
        await live_chat.offer(conv, edit=None, question=asked, context=context)
    else:
        await live_chat.file_question(conv, asked, context, source=None,
                                      key=f"question:{press.question}")


def router() -> Router:
    questions = Router(name="question")

    @questions.callback_query(QuestionCb.filter())
    async def on_press(
        query: CallbackQuery, callback_data: QuestionCb, conv: Conversation, dialogs: Dialogs
    ) -> None:
        knowledge, matcher, question_log = _parts(conv)
        menu = dialogs.menu_keys
        # Ids in button data are checked against the customer's own records before use.
        if not on_its_message(query) or await question_log.owner(
                callback_data.question) != conv.user.id or (
            callback_data.article and callback_data.article not in knowledge
        ):
            await query.answer(conv.t.label("form.stale"))
            return
        edit = message_of(query)
        if callback_data.action == "show":
            await query.answer()
            await _show_article(conv, menu, callback_data.article, callback_data.question,
                                edit=edit)
        elif callback_data.action == "helped":
            await question_log.feedback(callback_data.question, "helped")
            await query.answer(conv.t.label("question.thanks_for_feedback"))
            # The feedback buttons go; a form's step shown with the answer stays.
            await conv.keep_buttons(edit, lambda data: data.startswith(FORM_PREFIX))
        elif callback_data.action == "nothelp":
            await question_log.feedback(callback_data.question, "not_helped")
            await query.answer()
            asked = await question_log.text(callback_data.question) or ""
            match = matcher.match(asked, conv.lang)
            others = tuple(a for a in (match.article, *match.suggestions)
                           if a and a != callback_data.article)
            if others and callback_data.article:
                retry = Match(None, match.score, "suggest", tuple(dict.fromkeys(others))[:3],
                              match.lang)
                await conv.say(conv.t("question/sorry"))
                await _suggest(conv, menu, retry, callback_data.question, edit=None,
                               exclude=callback_data.article)
            else:
                await _no_answer(conv, menu, callback_data.question, edit=None)
        elif callback_data.action in ("colleague", "ticket"):
            await query.answer()
            await _to_a_colleague(conv, callback_data, edit)
            return
        else:
            await query.answer(conv.t.label("form.stale"))
            return
        if callback_data.action != "helped":
            await resume(conv, dialogs.registry)  # a dialog in progress carries on below the answer

    return questions


DIALOG = Dialog("question", router, entries=ENTRIES)
