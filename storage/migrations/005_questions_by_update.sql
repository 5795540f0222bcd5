-- A question is logged once per update, also when the update is handled again after a crash.
ALTER TABLE questions ADD COLUMN update_id INTEGER;
CREATE UNIQUE INDEX questions_by_update ON questions (update_id) WHERE update_id IS NOT NULL;
