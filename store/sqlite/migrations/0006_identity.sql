-- Service principals of the token service. app_id is stored lower-case:
-- client ids are GUIDs, which Entra matches case-insensitively.
CREATE TABLE service_principals (
    app_id    TEXT PRIMARY KEY,
    object_id TEXT NOT NULL UNIQUE,
    seq       INTEGER NOT NULL,
    doc       TEXT NOT NULL
) STRICT;

-- The token service's RS256 keys, private parts sealed under the master key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;

-- Server-wide settings such as the tenant id.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
