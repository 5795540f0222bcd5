-- Free-text questions and what the knowledge base answered, for curation.
CREATE TABLE questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL,
    language    TEXT NOT NULL,
    text        TEXT NOT NULL,
    normalised  TEXT NOT NULL,
    article     TEXT,
    score       INTEGER NOT NULL,
    band        TEXT NOT NULL CHECK (band IN ('answer', 'suggest', 'none')),
    feedback    TEXT CHECK (feedback IN ('helped', 'not_helped')),
    created_at  TEXT NOT NULL
);
CREATE INDEX questions_by_band ON questions (band, normalised);
