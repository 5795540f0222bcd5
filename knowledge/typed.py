"""Reading a short typed message as a command or a button (Telegram-free).

Customers type "stop", "terug" or "Help?" where the bot expects a command or a press, and
"de hosting" or "einde termijn" where it shows buttons. Two questions, answered here:

- `command_of`: is the *whole* message one of the words that name a command? Only a message
  that is nothing but such a word counts ("help!" yes, "ik wil stoppen met mijn hosting" no:
  that is a question).
- `pick`: which of the labels the customer sees does a typed answer name, if exactly one?
  Every meaningful word typed must be found in the label (so "hosting of domein" names
  neither "Hostingpakket" nor "Hosting én domein"), at least half of the label's words must
  have been typed, and the label with the fewest words left untyped wins; a tie names none.
  Words match with small typos and as the start of a compound ("hosting" in "hostingpakket").

The words themselves are content, not code: `bot/templates/<lang>/typed.toml`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

COMMANDS = ("help", "menu", "start", "stop", "back", "skip")
COMMAND_LIMIT = 40  # characters: anything longer is a sentence, not a command word
PICK_LIMIT = 120  # characters: a longer message is a question, not a typed button
MIN_FUZZY = 4  # a word this long or longer may have a typo or be the start of a compound
WORD_RATIO = 80  # rapidfuzz ratio for two words to be the same word with a typo
WHOLE_RATIO = 88  # one typed word against the whole label, spaces left out
SHORT_WORD = 3  # a label's words shorter than this need not be typed (numbers must)


def words(text: str) -> list[str]:
    """The words of `text`: case, accents, punctuation, symbols and emoji left out."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(
        char if char.isalnum() else " " for char in decomposed
        if unicodedata.category(char) not in ("Mn", "Cf")
    )
    return kept.split()


@dataclass(frozen=True)
class TypedWords:
    """One language's words: for each command the messages that name it, and the filler words
    left out when an answer is compared with a button ("de", "the")."""

    commands: Mapping[str, frozenset[str]]
    fillers: frozenset[str]

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> TypedWords:
        raw = data.get("commands", {})
        if not isinstance(raw, Mapping) or set(raw) != set(COMMANDS):
            raise ValueError(f"typed words: [commands] must name exactly {', '.join(COMMANDS)}")
        commands = {name: frozenset(" ".join(words(str(word))) for word in raw[name])
                    for name in COMMANDS}
        fillers = data.get("fillers", {})
        fillers = fillers.get("words") if isinstance(fillers, Mapping) else None
        if not isinstance(fillers, list):
            raise ValueError("typed words: [fillers] words must be a list")
        return cls(commands, frozenset(" ".join(words(str(word))) for word in fillers))


def command_of(text: str, languages: Collection[TypedWords]) -> str | None:
    """The command a message names when it is nothing but one of its words, in any of
    `languages`; None for anything else (a sentence, a word of two commands)."""
    if len(text) > COMMAND_LIMIT or text.lstrip().startswith("/"):
        return None
    typed = " ".join(words(text))
    if not typed:
        return None
    named = {name for language in languages
             for name, spelled in language.commands.items() if typed in spelled}
    return named.pop() if len(named) == 1 else None


def _same_word(typed: str, label: str) -> bool:
    if typed == label:
        return True
    if min(len(typed), len(label)) < MIN_FUZZY:
        return False
    if label.startswith(typed) or typed.startswith(label):
        return True  # "hosting" of "hostingpakket", "domeinen" for "domein"
    if fuzz.ratio(typed, label) >= WORD_RATIO:
        return True  # "hostingpaket"
    # The start of a compound, with a typo: "hostnig" for "hosting(pakket)".
    return len(typed) >= MIN_FUZZY + 1 and fuzz.ratio(typed, label[: len(typed)]) >= WORD_RATIO


def _content(text: str, fillers: Collection[str]) -> list[str]:
    return [word for word in words(text) if word not in fillers]


def _untyped(typed: Sequence[str], label: Sequence[str]) -> int | None:
    """How many of the label's words were not typed; None when something typed is not in
    the label, or less than half of the label was typed."""
    if not label:
        return None
    if len(typed) == 1 and fuzz.ratio(typed[0], "".join(label)) >= WHOLE_RATIO:
        return 0  # the label's words typed as one: "perdirect"
    if not all(any(_same_word(word, wanted) for wanted in label) for word in typed):
        return None
    # Short words of a label ("of", "en") need not be typed, but a short word typed must be
    # in the label: "hosting of domein" names no button.
    significant = [wanted for wanted in label
                   if len(wanted) >= SHORT_WORD or wanted.isdigit()] or list(label)
    untyped = sum(1 for wanted in significant
                  if not any(_same_word(word, wanted) for word in typed))
    return untyped if untyped <= len(significant) - untyped else None


def pick(text: str, labels: Sequence[str], fillers: Collection[str] = ()) -> int | None:
    """The index of the one label in `labels` that `text` names, or None (nothing, or more
    than one equally)."""
    if len(text) > PICK_LIMIT:
        return None
    typed = _content(text, fillers)
    if not typed:
        return None
    scored = sorted(
        (untyped, index) for index, label in enumerate(labels)
        if (untyped := _untyped(typed, _content(label, fillers))) is not None
    )
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]
