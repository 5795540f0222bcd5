-- The queue order (priority, then age) as an indexed column: `balie tickets list` and /queue
-- read it from an index instead of sorting the whole table.
ALTER TABLE tickets ADD COLUMN priority_rank INTEGER GENERATED ALWAYS AS (
    CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END
) VIRTUAL;
DROP INDEX tickets_by_status;
CREATE INDEX tickets_by_status ON tickets (status, priority_rank, created_at, id);
CREATE INDEX tickets_in_queue_order ON tickets (priority_rank, created_at, id);
