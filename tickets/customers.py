"""What the bot remembers of a customer between conversations: name and chosen language."""

from __future__ import annotations

from tickets.database import Database, utcnow


class CustomerStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def language(self, telegram_id: int) -> str | None:
        row = await self.database.fetchone(
            "SELECT language FROM customers WHERE telegram_id = ?", (telegram_id,)
        )
        return row["language"] if row is not None else None

    async def set_language(self, telegram_id: int, language: str) -> None:
        async with self.database.transaction() as connection:
            await connection.execute(
                """INSERT INTO customers (telegram_id, language, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (telegram_id)
                   DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at""",
                (telegram_id, language, utcnow()),
            )
