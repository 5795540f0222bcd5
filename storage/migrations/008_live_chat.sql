-- Live chat: while a customer talks to a colleague, their messages go to that ticket.
-- `live` marks the one ticket a customer is chatting on; `live_nudged_at` when the customer
-- was told that nobody has picked the chat up yet (so they are told once).
ALTER TABLE tickets ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN live_nudged_at TEXT;
CREATE INDEX tickets_live_by_customer ON tickets (customer_id) WHERE live = 1;

-- What a customer last asked the bot, for the colleague who takes their live chat.
CREATE INDEX questions_by_customer ON questions (customer_id, id);
