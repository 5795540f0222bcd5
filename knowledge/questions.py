"""The question log: what customers asked, what the knowledge base answered, and whether it
helped — the material for curating the articles (`balie knowledge misses`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from knowledge.matcher import Match, normalise
from storage.database import Database, utcnow

Feedback = Literal["helped", "not_helped"]


#: Why a question is listed among the misses, in the order they are given.
MISS_REASONS = ("no match", "unsure", "👎")


@dataclass(frozen=True)
class Miss:
    question: str  # the most recent wording of this normalised question
    count: int
    band: str
    last_asked: str
    #: Why it is listed: "no match" (band none), "unsure" ("Bedoel je…?"), "👎" (an answer
    #: or suggestion that did not help); several when it was asked more than once.
    reasons: tuple[str, ...] = ()


class QuestionLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record(self, customer_id: int, text: str, match: Match, *,
                     update_id: int | None = None) -> int:
        """Log a question; the same update (handled again after a crash) is logged once."""
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                """INSERT OR IGNORE INTO questions (customer_id, language, text, normalised,
                       article, score, band, update_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (customer_id, match.lang, text[:1000],
                 normalise(text[:1000])[:300] or text.strip()[:300],
                 match.article, match.score, match.band, update_id, utcnow()),
            )
            if cursor.rowcount:
                return int(cursor.lastrowid or 0)
            async with connection.execute(
                    "SELECT id FROM questions WHERE update_id = ?", (update_id,)) as found:
                row = await found.fetchone()
        return int(row[0]) if row is not None else 0

    async def last(self, customer_id: int) -> tuple[str, str | None] | None:
        """This customer's latest question and the article it got (None: none asked)."""
        row = await self.database.fetchone(
            "SELECT text, article FROM questions WHERE customer_id = ? ORDER BY id DESC LIMIT 1",
            (customer_id,))
        return (str(row[0]), row[1]) if row is not None else None

    async def owner(self, question_id: int) -> int | None:
        row = await self.database.fetchone(
            "SELECT customer_id FROM questions WHERE id = ?", (question_id,))
        return int(row[0]) if row is not None else None

    async def text(self, question_id: int) -> str | None:
        row = await self.database.fetchone("SELECT text FROM questions WHERE id = ?",
                                           (question_id,))
        return str(row[0]) if row is not None else None

    async def feedback(self, question_id: int, feedback: Feedback) -> None:
        async with self.database.transaction() as connection:
            await connection.execute(
                "UPDATE questions SET feedback = ? WHERE id = ?", (feedback, question_id))

    async def misses(self, limit: int = 20) -> list[Miss]:
        """Questions answered with nothing, only suggestions, or an answer that did not help,
        most frequent first."""
        rows = await self.database.fetchall(
            """SELECT normalised, COUNT(*) AS count, MAX(created_at) AS last_asked,
                      MIN(band) AS band,
                      SUM(band = 'none') AS no_match, SUM(band = 'suggest') AS unsure,
                      SUM(feedback = 'not_helped') AS not_helped,
                      (SELECT q2.text FROM questions q2 WHERE q2.normalised = q.normalised
                       ORDER BY q2.id DESC LIMIT 1) AS text
               FROM questions q
               WHERE band != 'answer' OR feedback = 'not_helped'
               GROUP BY normalised ORDER BY count DESC, last_asked DESC LIMIT ?""",
            (limit,),
        )
        return [Miss(row["text"], row["count"], row["band"], row["last_asked"],
                     tuple(reason for reason, n in zip(
                         MISS_REASONS, (row["no_match"], row["unsure"], row["not_helped"]),
                         strict=True) if n))
                for row in rows]
