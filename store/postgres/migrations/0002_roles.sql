-- Custom role definitions and role assignments, as SQLite's 0007_roles,
-- column for column. role_name, id, principal_id and role_id are stored
-- lower-case: ARM refuses two custom roles whose names differ only in
-- case, and deleting a service principal finds its assignments by its
-- object id.
CREATE TABLE role_definitions (
    id        text COLLATE "C" PRIMARY KEY,
    role_name text COLLATE "C" NOT NULL UNIQUE,
    seq       bigint NOT NULL, -- creation order
    doc       text NOT NULL
);

CREATE TABLE role_assignments (
    id           text COLLATE "C" PRIMARY KEY,
    principal_id text COLLATE "C" NOT NULL,
    role_id      text COLLATE "C" NOT NULL,
    seq          bigint NOT NULL,
    doc          text NOT NULL
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);
