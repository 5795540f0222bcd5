"""Cancellation feedback: the reason and the kind of cancellation, kept for statistics.

Stored for every completed cancellation guide, also when the customer cancels in the client
panel themselves and no ticket is filed (product.md §2.1: "the reason is stored either way").
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database, utcnow


@dataclass(frozen=True)
class CancellationFeedback:
    run_id: str  # the guide's run: recording the same run twice keeps one row
    customer_id: int
    language: str
    service: str
    cancellation_type: str  # end_of_term | immediate
    reason: str | None  # a category, or None when the customer preferred not to say
    reason_text: str | None
    route: str  # panel (does it themselves) | request (a ticket was filed)
    ticket_id: int | None = None


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record(self, feedback: CancellationFeedback) -> bool:
        """Store the feedback; False when this run was recorded already. A run recorded as
        done in the panel that is filed as a request after all (by the same customer) is
        updated to the request and its ticket, so it still counts once."""
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                """INSERT INTO cancellation_feedback (run_id, customer_id, language,
                       service, cancellation_type, reason, reason_text, route, ticket_id,
                       created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id) DO UPDATE SET
                       service = excluded.service,
                       cancellation_type = excluded.cancellation_type,
                       reason = excluded.reason, reason_text = excluded.reason_text,
                       route = excluded.route, ticket_id = excluded.ticket_id
                   WHERE cancellation_feedback.route = 'panel' AND excluded.route = 'request'
                     AND cancellation_feedback.customer_id = excluded.customer_id""",
                (feedback.run_id, feedback.customer_id, feedback.language, feedback.service,
                 feedback.cancellation_type, feedback.reason, feedback.reason_text,
                 feedback.route, feedback.ticket_id, utcnow()),
            )
            return cursor.rowcount == 1

    async def all(self) -> list[CancellationFeedback]:
        rows = await self.database.fetchall("SELECT * FROM cancellation_feedback ORDER BY id")
        return [
            CancellationFeedback(
                run_id=row["run_id"], customer_id=row["customer_id"], language=row["language"],
                service=row["service"], cancellation_type=row["cancellation_type"],
                reason=row["reason"], reason_text=row["reason_text"], route=row["route"],
                ticket_id=row["ticket_id"],
            )
            for row in rows
        ]

    async def reason_counts(self) -> dict[str, int]:
        """How often each reason was given ("none" for not said), most frequent first."""
        rows = await self.database.fetchall(
            """SELECT COALESCE(reason, 'none') AS reason, COUNT(*) AS n
               FROM cancellation_feedback GROUP BY 1 ORDER BY n DESC, reason"""
        )
        return {row["reason"]: int(row["n"]) for row in rows}
