"""What the bot remembers of a customer between conversations: name and chosen language."""

from __future__ import annotations

from storage.database import Database, utcnow


class CustomerStore:
    """Read on every update (the language), so the languages of recent customers are kept in
    memory too (at most `remembered`); this process is the only writer."""

    def __init__(self, database: Database, remembered: int = 10_000) -> None:
        self.database = database
        self.remembered = remembered
        self._languages: dict[int, str | None] = {}

    async def language(self, telegram_id: int) -> str | None:
        if telegram_id not in self._languages:
            row = await self.database.fetchone(
                "SELECT language FROM customers WHERE telegram_id = ?", (telegram_id,)
            )
            if len(self._languages) >= self.remembered:
                del self._languages[next(iter(self._languages))]  # the oldest entry
            self._languages[telegram_id] = row["language"] if row is not None else None
        return self._languages[telegram_id]

    async def set_language(self, telegram_id: int, language: str) -> None:
        async with self.database.transaction() as connection:
            await connection.execute(
                """INSERT INTO customers (telegram_id, language, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (telegram_id)
                   DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at""",
                (telegram_id, language, utcnow()),
            )
        self._languages[telegram_id] = language
