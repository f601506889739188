-- When a terminal operation ended (Unix nanoseconds; 0 while InProgress),
-- so that finished operations can be pruned after the retention. Rows
-- finished before this column existed count from their creation: an
-- operation ends seconds after it starts.
ALTER TABLE operations ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;
UPDATE operations SET ended_at = created_at WHERE status != 'InProgress';
CREATE INDEX operations_ended ON operations (ended_at) WHERE status != 'InProgress';

-- Usage rows not used for the retention are pruned by last use.
CREATE INDEX key_usage_last_used ON key_usage (last_used);
