-- Resources keep their indexed identity in columns and everything else in
-- a JSON document (doc), so a new optional field needs no migration.
CREATE TABLE workspaces (
    key            TEXT PRIMARY KEY,   -- lower-cased ARM id
    subscription   TEXT NOT NULL,      -- lower-cased
    resource_group TEXT NOT NULL,      -- lower-cased
    name_lower     TEXT NOT NULL,
    doc            TEXT NOT NULL
) STRICT;
CREATE INDEX workspaces_scope ON workspaces (subscription, resource_group, name_lower);

CREATE TABLE endpoints (
    key           TEXT PRIMARY KEY,
    workspace_key TEXT NOT NULL REFERENCES workspaces (key) ON DELETE CASCADE,
    name_lower    TEXT NOT NULL UNIQUE, -- endpoint names are unique per server, as per Azure region
    seq           INTEGER NOT NULL,     -- creation order
    doc           TEXT NOT NULL
) STRICT;
CREATE INDEX endpoints_workspace ON endpoints (workspace_key, seq);

-- Keys are sealed with AES-256-GCM (bound to resource and slot) and carry
-- a keyed digest for lookups. No plaintext key is ever written.
CREATE TABLE keys (
    resource   TEXT NOT NULL,
    slot       TEXT NOT NULL CHECK (slot IN ('primary', 'secondary')),
    ciphertext BLOB NOT NULL,
    digest     BLOB NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, -- Unix nanoseconds
    PRIMARY KEY (resource, slot)
) STRICT;
CREATE INDEX keys_digest ON keys (digest);

CREATE TABLE operations (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    not_before INTEGER NOT NULL, -- Unix nanoseconds
    created_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
) STRICT;
CREATE INDEX operations_due ON operations (status, not_before);

CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE, -- SHA-256 of the token
    doc        TEXT NOT NULL
) STRICT;
