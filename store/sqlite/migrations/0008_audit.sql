-- The audit log: who read or changed what, and how it ended. Never a key,
-- token or secret. resource_lc and action_lc are lower-cased copies for
-- case-insensitive filters; time is Unix nanoseconds.
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    time           INTEGER NOT NULL,
    principal_id   TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    action         TEXT NOT NULL,
    action_lc      TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    resource_lc    TEXT NOT NULL,
    key_slot       TEXT NOT NULL,
    status         INTEGER NOT NULL,
    error_code     TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_resource ON audit (resource_lc, seq);
