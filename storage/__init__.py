"""The one SQLite file shared by tickets, conversation state, intake, outbox and questions."""
