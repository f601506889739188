package sqlite

import (
	"strings"

	"github.com/rekey-dev/rekey"
)

func (t *txn) RoleDefinitions() ([]*rekey.RoleDefinition, error) {
	return listDocs[rekey.RoleDefinition](t, `SELECT doc FROM role_definitions ORDER BY seq`)
}

func (t *txn) PutRoleDefinition(d *rekey.RoleDefinition) (bool, error) {
	id, name := strings.ToLower(d.ID), strings.ToLower(d.RoleName)
	taken, err := t.exists(`SELECT count(*) FROM role_definitions WHERE role_name = ? AND id <> ?`, name, id)
	if err != nil {
		return false, err
	}
	if taken {
		return false, rekey.Errorf(rekey.Conflict, "Another custom role is named '%s'.", rekey.Clip(d.RoleName, 100))
	}
	existed, err := t.exists(`SELECT count(*) FROM role_definitions WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	doc, err := marshal(d)
	if err != nil {
		return false, err
	}
	if _, err = t.exec(`INSERT INTO role_definitions (id, role_name, seq, doc)
		VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM role_definitions), ?)
		ON CONFLICT (id) DO UPDATE SET role_name = excluded.role_name, doc = excluded.doc`, id, name, doc); err != nil {
		return false, err
	}
	return !existed, t.record(rekey.ChangedRoles, "definition/"+id)
}

func (t *txn) DeleteRoleDefinition(id string) error {
	id = strings.ToLower(id)
	res, err := t.exec(`DELETE FROM role_definitions WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return rekey.Errorf(rekey.NotFound, "No custom role definition has the id '%s'.", rekey.Clip(id, 64))
	}
	return t.record(rekey.ChangedRoles, "definition/"+id)
}

func (t *txn) RoleAssignments() ([]*rekey.RoleAssignment, error) {
	return listDocs[rekey.RoleAssignment](t, `SELECT doc FROM role_assignments ORDER BY seq`)
}

func (t *txn) PutRoleAssignment(a *rekey.RoleAssignment) error {
	id := strings.ToLower(a.ID)
	taken, err := t.exists(`SELECT count(*) FROM role_assignments WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if taken {
		return rekey.Errorf(rekey.Conflict, "A role assignment with the id '%s' exists.", rekey.Clip(a.ID, 64))
	}
	doc, err := marshal(a)
	if err != nil {
		return err
	}
	if _, err = t.exec(`INSERT INTO role_assignments (id, principal_id, role_id, seq, doc)
		VALUES (?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM role_assignments), ?)`,
		id, strings.ToLower(a.PrincipalID), strings.ToLower(a.RoleDefinitionID), doc); err != nil {
		return err
	}
	return t.record(rekey.ChangedRoles, "assignment/"+id)
}

func (t *txn) DeleteRoleAssignment(id string) error {
	id = strings.ToLower(id)
	res, err := t.exec(`DELETE FROM role_assignments WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return rekey.Errorf(rekey.NotFound, "No role assignment has the id '%s'.", rekey.Clip(id, 64))
	}
	return t.record(rekey.ChangedRoles, "assignment/"+id)
}

// deleteAssignmentsOf removes every assignment to a principal's object id,
// for DeleteServicePrincipal.
func (t *txn) deleteAssignmentsOf(objectID string) error {
	res, err := t.exec(`DELETE FROM role_assignments WHERE principal_id = ?`, strings.ToLower(objectID))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return t.record(rekey.ChangedRoles, "principal/"+strings.ToLower(objectID))
	}
	return nil
}
