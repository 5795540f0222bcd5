-- Durable intake, the outbox, and a ticket thread that knows its Telegram messages.

-- Every update is written here before its offset is confirmed to Telegram, handled from here,
-- and marked done in the same transaction as the conversation state it changes.
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    received_at TEXT    NOT NULL,
    handled_at  TEXT
);
CREATE INDEX inbox_pending ON inbox (update_id) WHERE state = 'pending';

-- What goes out to Telegram because something happened (a ticket filed, a colleague replied):
-- written in the transaction of the change, delivered by the outbox worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id         INTEGER NOT NULL,
    thread_id       INTEGER,
    kind            TEXT    NOT NULL CHECK (kind IN ('send', 'edit', 'copy', 'drop_buttons')),
    payload         TEXT    NOT NULL DEFAULT '{}',
    ticket_id       INTEGER REFERENCES tickets (id),
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    message_id      INTEGER,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_pending ON outbox (chat_id, id) WHERE state = 'pending';
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, id) WHERE ticket_id IS NOT NULL;

-- The thread remembers the Telegram message on each side, so a redelivered update adds nothing.
ALTER TABLE ticket_messages ADD COLUMN source_chat_id INTEGER;
ALTER TABLE ticket_messages ADD COLUMN source_message_id INTEGER;
CREATE UNIQUE INDEX ticket_messages_by_source ON ticket_messages (source_chat_id, source_message_id)
    WHERE source_message_id IS NOT NULL;

CREATE INDEX tickets_by_topic ON tickets (topic_id) WHERE topic_id IS NOT NULL;

-- The audit trail is append-only: what happened stays as it was written.
CREATE TRIGGER ticket_events_append_only BEFORE UPDATE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only; write a new event instead');
END;
