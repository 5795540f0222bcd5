"""What the colleagues' /queue and /stats show, computed from the ticket tables (Telegram-free).

Every query reads through an index: tickets by (status, priority_rank, created_at) — the
window is a range on created_at under every status and priority —, the thread by ticket, the
cancellation reasons by (reason, created_at).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.database import Database
from tickets.models import Priority, Status

OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
# Equality on the index's first two columns, so the window is an index range under each.
_ALL_STATUSES = ",".join(f"'{status}'" for status in Status)
_ALL_RANKS = ",".join(str(rank) for rank in range(len(Priority)))
_IN_WINDOW = (f"status IN ({_ALL_STATUSES}) AND priority_rank IN ({_ALL_RANKS}) "
              "AND created_at >= ?")


def stamp(moment: datetime) -> str:
    """A moment as the ticket tables store it (ISO 8601, UTC, seconds), for comparisons."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Span:
    """A duration in whole days, hours and minutes (for the templates)."""

    days: int
    hours: int
    minutes: int

    @classmethod
    def of(cls, seconds: float) -> Span:
        total = max(0, round(seconds / 60))
        return cls(total // 1440, total % 1440 // 60, total % 60)


@dataclass(frozen=True)
class Count:
    key: str  # a status, a cancellation reason ("none": not said), a rating "1".."5"
    count: int


@dataclass(frozen=True)
class CategoryCount:
    category: str
    total: int
    statuses: tuple[Count, ...]  # in the order of the ticket model, only non-zero


@dataclass(frozen=True)
class RatingComment:
    """What a customer said went wrong, after rating a ticket 1 or 2."""

    ticket_id: int
    rating: int
    comment: str


RATING_COMMENTS = 5  # the latest ones /stats shows


@dataclass(frozen=True)
class Stats:
    days: int
    since: str  # the window's start, as stored
    total: int
    categories: tuple[CategoryCount, ...]  # most tickets first
    reasons: tuple[Count, ...]  # most given first
    replied: int  # tickets with a colleague's reply
    first_reply: Span | None  # median time from opening to the first colleague's reply
    closed: int
    to_close: Span | None  # median time from opening to closing (closed tickets)
    ratings: tuple[Count, ...] = ()  # best first
    rating_tenths: int | None = None  # the average rating × 10 (43: 4.3)
    rating_comments: tuple[RatingComment, ...] = ()  # of low ratings, newest first


async def open_count(database: Database) -> int:
    """How many tickets are in the queue (not closed)."""
    statuses = ",".join(f"'{status}'" for status in OPEN_STATUSES)
    row = await database.fetchone(
        f"SELECT COUNT(*) AS n FROM tickets WHERE status IN ({statuses})")
    return int(row["n"]) if row is not None else 0


async def stats(database: Database, *, now: datetime, days: int) -> Stats:
    """The tickets opened in the last `days` days (and the cancellation guides completed)."""
    since = stamp(now - timedelta(days=days))
    by_category: dict[str, dict[str, int]] = {}
    for row in await database.fetchall(
        f"""SELECT category, status, COUNT(*) AS n FROM tickets WHERE {_IN_WINDOW}
            GROUP BY category, status""", (since,)):
        by_category.setdefault(row["category"], {})[row["status"]] = int(row["n"])
    categories = sorted(
        (CategoryCount(category, sum(counts.values()),
                       tuple(Count(str(status), counts[status]) for status in Status
                             if status in counts))
         for category, counts in by_category.items()),
        key=lambda row: (-row.total, row.category))
    reasons = tuple(Count(row["reason"], int(row["n"])) for row in await database.fetchall(
        """SELECT COALESCE(reason, 'none') AS reason, COUNT(*) AS n FROM cancellation_feedback
           WHERE created_at >= ? GROUP BY 1 ORDER BY n DESC, reason""", (since,)))
    rows = await database.fetchall(
        f"""SELECT created_at, closed_at, rating,
                   (SELECT m.created_at FROM ticket_messages AS m
                     WHERE m.ticket_id = tickets.id AND m.author = 'colleague'
                     ORDER BY m.id LIMIT 1) AS replied_at
            FROM tickets WHERE {_IN_WINDOW}""", (since,))
    reply_times = [_seconds(row["created_at"], row["replied_at"])
                   for row in rows if row["replied_at"]]
    close_times = [_seconds(row["created_at"], row["closed_at"])
                   for row in rows if row["closed_at"]]
    ratings: dict[int, int] = {}
    for row in rows:
        if row["rating"] is not None:
            ratings[int(row["rating"])] = ratings.get(int(row["rating"]), 0) + 1
    rated = sum(ratings.values())
    comments = []
    for row in await database.fetchall(
        f"""SELECT ticket_id, detail FROM ticket_events WHERE action = 'rating_comment'
            AND ticket_id IN (SELECT id FROM tickets WHERE {_IN_WINDOW})
            ORDER BY id DESC LIMIT {RATING_COMMENTS}""", (since,)):
        detail = json.loads(row["detail"])
        comments.append(RatingComment(int(row["ticket_id"]), int(detail.get("rating") or 0),
                                      str(detail.get("comment", ""))))
    return Stats(
        days=days, since=since, total=sum(row.total for row in categories),
        categories=tuple(categories), reasons=reasons,
        replied=len(reply_times), first_reply=_median(reply_times),
        closed=len(close_times), to_close=_median(close_times),
        ratings=tuple(Count(str(rating), ratings[rating]) for rating in sorted(ratings,
                                                                                reverse=True)),
        rating_tenths=round(10 * sum(r * n for r, n in ratings.items()) / rated)
        if rated else None,
        rating_comments=tuple(comments),
    )


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _median(values: Sequence[float]) -> Span | None:
    return Span.of(statistics.median(values)) if values else None
