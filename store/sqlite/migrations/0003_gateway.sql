-- Deployments: where an endpoint's traffic goes.
CREATE TABLE deployments (
    key          TEXT PRIMARY KEY,
    endpoint_key TEXT NOT NULL REFERENCES endpoints (key) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    doc          TEXT NOT NULL
) STRICT;
CREATE INDEX deployments_endpoint ON deployments (endpoint_key, seq);

-- The key a slot held before its last change (sealed like the current
-- one, and its digest), for grace periods and propagation delays.
ALTER TABLE keys ADD COLUMN previous_digest BLOB;
ALTER TABLE keys ADD COLUMN previous_ciphertext BLOB;

-- The change feed: every write the gateway routes on appends a row in the
-- same transaction, so a gateway in another process can follow.
CREATE TABLE changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL
) STRICT;

-- How often each key slot was used at the gateway.
CREATE TABLE key_usage (
    owner          TEXT NOT NULL,
    slot           TEXT NOT NULL,
    requests       INTEGER NOT NULL,
    grace_requests INTEGER NOT NULL,
    last_used      INTEGER NOT NULL, -- Unix nanoseconds, 0 if never
    PRIMARY KEY (owner, slot)
) STRICT;
