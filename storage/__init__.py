"""The one SQLite file that tickets, conversation state, intake, outbox and the knowledge log share."""
