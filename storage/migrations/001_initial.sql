-- Conversation state (aiogram FSM) and the ticket queue.
CREATE TABLE fsm_state (
    bot_id                 INTEGER NOT NULL,
    chat_id                INTEGER NOT NULL,
    user_id                INTEGER NOT NULL,
    thread_id              INTEGER NOT NULL DEFAULT 0,
    business_connection_id TEXT    NOT NULL DEFAULT '',
    destiny                TEXT    NOT NULL DEFAULT 'default',
    state                  TEXT,
    data                   TEXT    NOT NULL DEFAULT '{}',
    updated_at             TEXT    NOT NULL,
    PRIMARY KEY (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
) WITHOUT ROWID;

CREATE TABLE customers (
    telegram_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    username    TEXT,
    language    TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    category          TEXT NOT NULL CHECK (category IN
                        ('cancellation', 'payment_arrangement', 'accidental_cancellation',
                         'question', 'live_chat')),
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN
                        ('open', 'in_progress', 'waiting_on_customer', 'closed')),
    priority          TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN
                        ('low', 'normal', 'high', 'urgent')),
    subject           TEXT NOT NULL,
    customer_id       INTEGER NOT NULL,
    customer_name     TEXT NOT NULL DEFAULT '',
    customer_username TEXT,
    customer_language TEXT NOT NULL DEFAULT 'nl',
    customer_email    TEXT,
    assignee          TEXT,
    fields            TEXT NOT NULL DEFAULT '{}',
    idempotency_key   TEXT UNIQUE,
    linked_ticket_id  INTEGER REFERENCES tickets (id),
    topic_id          INTEGER,
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    closed_at         TEXT
);
CREATE INDEX tickets_by_customer ON tickets (customer_id, updated_at);
CREATE INDEX tickets_by_status ON tickets (status, priority, created_at);

CREATE TABLE ticket_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author      TEXT NOT NULL CHECK (author IN ('customer', 'colleague', 'bot', 'note')),
    author_name TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX ticket_messages_by_ticket ON ticket_messages (ticket_id, id);

CREATE TABLE ticket_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);
