-- Custom role definitions (built-in roles are compiled in). role_name is
-- stored lower-case: ARM refuses two custom roles whose names differ only
-- in case.
CREATE TABLE role_definitions (
    id        TEXT PRIMARY KEY,
    role_name TEXT NOT NULL UNIQUE,
    seq       INTEGER NOT NULL,
    doc       TEXT NOT NULL
) STRICT;

-- Role assignments. id is the assignment's GUID, lower-case;
-- principal_id the principal's object id, lower-case, so that deleting a
-- service principal finds its assignments.
CREATE TABLE role_assignments (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    role_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    doc          TEXT NOT NULL
) STRICT;
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);
