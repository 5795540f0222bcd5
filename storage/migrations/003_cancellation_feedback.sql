-- Why customers cancel and how (end of term / immediately), for the provider's statistics.
-- One row per completed cancellation guide, whether or not a ticket was filed.
CREATE TABLE cancellation_feedback (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT NOT NULL UNIQUE,
    customer_id       INTEGER NOT NULL,
    language          TEXT NOT NULL,
    service           TEXT NOT NULL,
    cancellation_type TEXT NOT NULL CHECK (cancellation_type IN ('end_of_term', 'immediate')),
    reason            TEXT,
    reason_text       TEXT,
    route             TEXT NOT NULL CHECK (route IN ('panel', 'request')),
    ticket_id         INTEGER REFERENCES tickets (id),
    created_at        TEXT NOT NULL
);
CREATE INDEX cancellation_feedback_by_reason ON cancellation_feedback (reason, created_at);
