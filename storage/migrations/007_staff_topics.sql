-- The staff workspace: a forum topic per ticket with its card, relayed messages both ways.

-- The outbox learns two kinds the staff side needs, and two references:
-- `topic`: bring a ticket's topic in step (name, closed or open), creating it when missing;
-- `card`:  send or edit the ticket's card in its topic (rendered when it goes out);
-- `to_topic`: the item goes into the ticket's topic, whatever its thread id is by then
--             (a topic created later, or recreated after it was deleted);
-- `thread_message_id`: the ticket_messages row this item relays, so the copy's Telegram
--             message id is known on both sides (edits, replies, refusals).
CREATE TABLE outbox_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id           INTEGER NOT NULL,
    thread_id         INTEGER,
    kind              TEXT    NOT NULL CHECK (kind IN ('send', 'edit', 'copy', 'drop_buttons',
                                                       'topic', 'card')),
    payload           TEXT    NOT NULL DEFAULT '{}',
    ticket_id         INTEGER REFERENCES tickets (id),
    to_topic          INTEGER NOT NULL DEFAULT 0,
    thread_message_id INTEGER REFERENCES ticket_messages (id),
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT    NOT NULL,
    last_error        TEXT,
    message_id        INTEGER,
    created_at        TEXT    NOT NULL,
    sent_at           TEXT
);
INSERT INTO outbox_new (id, chat_id, thread_id, kind, payload, ticket_id, state, attempts,
                        next_attempt_at, last_error, message_id, created_at, sent_at)
    SELECT id, chat_id, thread_id, kind, payload, ticket_id, state, attempts,
           next_attempt_at, last_error, message_id, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (chat_id, id) WHERE state = 'pending';
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, id) WHERE ticket_id IS NOT NULL;
-- A customer's reply to a message the bot relayed finds its ticket.
CREATE INDEX outbox_by_message ON outbox (chat_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX outbox_by_thread_message ON outbox (thread_message_id)
    WHERE thread_message_id IS NOT NULL;

-- The card in the ticket's topic, edited in place as the ticket changes.
ALTER TABLE tickets ADD COLUMN card_message_id INTEGER;

-- What a message carried besides text: photo, document, voice, video, sticker, …
ALTER TABLE ticket_messages ADD COLUMN media TEXT;
