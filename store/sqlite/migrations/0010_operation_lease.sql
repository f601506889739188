-- An operation's lease (Unix nanoseconds; 0 when never claimed): the
-- runner that claimed it owns it until then, and another runner (in
-- another process sharing the database) may claim it after. The owner is
-- in the document.
ALTER TABLE operations ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
