-- An operation's lease (Unix nanoseconds; 0 when never claimed): the
-- replica whose runner claimed it owns it until then; another may claim it
-- after. The owner is in the document.
ALTER TABLE operations ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;
