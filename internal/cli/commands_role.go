package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rekey-dev/rekey"
)

// authzAPIVersion is what the CLI sends to Microsoft.Authorization: the
// version armauthorization/v2 and the Azure CLI send.
const authzAPIVersion = "2022-04-01"

// runRole is "rekey role assignment|definition": Azure RBAC over ARM's
// own Microsoft.Authorization API, mirroring `az role`.
func runRole(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "assignment" {
		return runRoleAssignment(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "definition" {
		return runRoleDefinition(ctx, args[1:], getenv, stdout, stderr)
	}
	if describing(ctx) != nil {
		return nil
	}
	const roleUsage = "Usage: rekey role assignment <create|list|delete> [flags]\n       rekey role definition list [flags]\n\nRun \"rekey role assignment <command> -h\" for flags and examples.\n"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "help" || args[0] == "--help") {
		fmt.Fprint(stdout, roleUsage) // help asked for: stdout, so | less works
		return nil
	}
	fmt.Fprint(stderr, roleUsage)
	return fmt.Errorf("%w: rekey role has two command groups: assignment and definition", errUsage)
}

// authzURL is the URL of a Microsoft.Authorization collection or item at
// scope, with the CLI's api-version and an optional $filter.
func authzURL(c *client, scope, kind, name, filter string) string {
	p := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/" + kind
	if name != "" {
		p += "/" + name
	}
	u := c.base + (&url.URL{Path: p}).EscapedPath() + "?api-version=" + url.QueryEscape(c.apiVersion)
	if filter != "" {
		u += "&$filter=" + url.QueryEscape(filter)
	}
	return u
}

type wireRole struct {
	ID, Name   string
	Properties struct {
		RoleName, Type, Description string
		AssignableScopes            []string
		Permissions                 []struct{ Actions, NotActions, DataActions, NotDataActions []string }
	}
}

type wireAssignment struct {
	ID, Name   string
	Properties struct {
		RoleDefinitionID, PrincipalID, PrincipalType, Scope string
	}
}

type spRow struct{ AppID, ID, DisplayName string }

// servicePrincipals lists the server's service principals.
func servicePrincipals(ctx context.Context, c *client) ([]spRow, error) {
	_, data, err := c.do(ctx, http.MethodGet, c.base+"/rekey/v1/servicePrincipals", nil)
	if err != nil {
		return nil, err
	}
	var page struct{ Value []spRow }
	return page.Value, json.Unmarshal(data, &page)
}

// resolveAssignee turns an appId, objectId or display name into the
// principal's objectId, as `az role assignment create --assignee` does.
func resolveAssignee(ctx context.Context, c *client, assignee string) (string, error) {
	sps, err := servicePrincipals(ctx, c)
	if err != nil {
		return "", err
	}
	var byName []spRow
	for _, sp := range sps {
		if strings.EqualFold(sp.AppID, assignee) || strings.EqualFold(sp.ID, assignee) {
			return sp.ID, nil
		}
		if sp.DisplayName == assignee {
			byName = append(byName, sp)
		}
	}
	if len(byName) == 1 {
		return byName[0].ID, nil
	}
	if len(byName) > 1 {
		return "", fmt.Errorf("%w: --assignee %q names %d service principals; use the appId", errUsage, assignee, len(byName))
	}
	return "", fmt.Errorf("%w: --assignee %q is not the appId, objectId or display name of a service principal of this server (see \"rekey sp list\")", errUsage, assignee)
}

// roles lists the role definitions available at scope.
func roles(ctx context.Context, c *client, scope, filter string) ([]wireRole, error) {
	_, data, err := c.do(ctx, http.MethodGet, authzURL(c, scope, "roleDefinitions", "", filter), nil)
	if err != nil {
		return nil, err
	}
	var page struct{ Value []wireRole }
	return page.Value, json.Unmarshal(data, &page)
}

// resolveRole turns a role name or GUID into the role's id at scope.
func resolveRole(ctx context.Context, c *client, scope, role string) (string, error) {
	if rekey.IsGUID(role) {
		return role, nil
	}
	found, err := roles(ctx, c, scope, "roleName eq '"+strings.ReplaceAll(role, "'", "''")+"'")
	if err != nil {
		return "", err
	}
	if len(found) == 0 {
		return "", fmt.Errorf("%w: --role %q: no role of that name is available at %s (see \"rekey role definition list\")", errUsage, role, scope)
	}
	return found[0].Name, nil
}

// checkScope refuses a --scope that is not an ARM path before it is
// pasted into a URL, where "subscriptions/x" would read as a port.
func checkScope(scope string) error {
	if scope != "" && !strings.HasPrefix(scope, "/") {
		return fmt.Errorf("%w: --scope %q must start with /: /, /subscriptions/{id}, /subscriptions/{id}/resourceGroups/{name} or a resource id", errUsage, scope)
	}
	return nil
}

func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

func runRoleAssignment(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var assignee, role, scope, name string
	var all bool
	assigneeFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&assignee, "assignee", "", "the service principal: its `appId`, objectId or display name")
	}
	roleFlag := func(fs *flag.FlagSet) { fs.StringVar(&role, "role", "", "role `name` (\"Reader\") or id (GUID)") }
	scopeFlag := func(def string) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			fs.StringVar(&scope, "scope", def, "`scope`: /, /subscriptions/{id}, .../resourceGroups/{name}, or a resource id")
		}
	}
	subScope := func(c *client) string {
		if scope != "" {
			return scope
		}
		return "/subscriptions/" + c.sub
	}
	showAssignments := func(ctx context.Context, c *client, f *clientFlags, data []byte, list bool) error {
		if f.output == "json" {
			return printJSON(stdout, data)
		}
		var items []wireAssignment
		if list {
			var page struct{ Value []wireAssignment }
			if err := json.Unmarshal(data, &page); err != nil {
				return err
			}
			items = page.Value
		} else {
			var one wireAssignment
			if err := json.Unmarshal(data, &one); err != nil {
				return err
			}
			items = []wireAssignment{one}
		}
		// Names rather than GUIDs where the server knows them.
		names := map[string]string{}
		if rs, err := roles(ctx, c, "/", ""); err == nil {
			for _, r := range rs {
				names[strings.ToLower(r.Name)] = r.Properties.RoleName
			}
		}
		apps := map[string]string{}
		if sps, err := servicePrincipals(ctx, c); err == nil {
			for _, sp := range sps {
				apps[strings.ToLower(sp.ID)] = sp.DisplayName + " (" + sp.AppID + ")"
			}
		}
		var rows [][]string
		for _, a := range items {
			roleName := names[strings.ToLower(lastSegment(a.Properties.RoleDefinitionID))]
			if roleName == "" {
				roleName = lastSegment(a.Properties.RoleDefinitionID)
			}
			who := apps[strings.ToLower(a.Properties.PrincipalID)]
			if who == "" {
				who = a.Properties.PrincipalID
			}
			rows = append(rows, []string{who, roleName, a.Properties.Scope, a.Name})
		}
		return printTable(stdout, []string{"PRINCIPAL", "ROLE", "SCOPE", "NAME"}, rows)
	}
	cmds := []command{
		{name: "create", help: "Assign a role to a service principal at a scope.\n\nThe principal may then do what the role allows at the scope and below it.\nThe default scope is the subscription (--subscription).\n\nExamples:\n  rekey role assignment create --assignee 0a1b2c3d-... --role Reader\n  rekey role assignment create --assignee ci --role \"AzureML Data Scientist\" \\\n    --scope /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1\n",
			flags: func(fs *flag.FlagSet) {
				assigneeFlag(fs)
				roleFlag(fs)
				scopeFlag("")(fs)
				fs.StringVar(&name, "name", "", "the assignment's `GUID`; default: a new one")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := checkScope(scope); err != nil {
					return err
				}
				if err := required("assignee", assignee); err != nil {
					return err
				}
				if err := required("role", role); err != nil {
					return err
				}
				sc := subScope(c)
				oid, err := resolveAssignee(ctx, c, assignee)
				if err != nil {
					return err
				}
				roleID, err := resolveRole(ctx, c, sc, role)
				if err != nil {
					return err
				}
				if name == "" {
					name = rekey.NewGUID()
				}
				body := map[string]any{"properties": map[string]string{
					"roleDefinitionId": "/subscriptions/" + c.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
					"principalId":      oid, "principalType": "ServicePrincipal",
				}}
				_, data, err := c.do(ctx, http.MethodPut, authzURL(c, sc, "roleAssignments", name, ""), body)
				if err != nil {
					return err
				}
				return showAssignments(ctx, c, f, data, false)
			}},
		{name: "list", help: "List role assignments.\n\nWithout --scope, every assignment on the server; with it, those at, above\nand below the scope (ARM's semantics), or only at and above with --at-scope.\n\nExamples:\n  rekey role assignment list\n  rekey role assignment list --assignee ci\n",
			flags: func(fs *flag.FlagSet) {
				assigneeFlag(fs)
				scopeFlag("/")(fs)
				fs.BoolVar(&all, "at-scope", false, "only assignments at the scope and above ($filter=atScope())")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := checkScope(scope); err != nil {
					return err
				}
				var terms []string
				if all {
					terms = append(terms, "atScope()")
				}
				if assignee != "" {
					oid, err := resolveAssignee(ctx, c, assignee)
					if err != nil {
						return err
					}
					// ARM combines atScope() with assignedTo() only, never
					// with principalId eq.
					if all {
						terms = append(terms, "assignedTo('"+oid+"')")
					} else {
						terms = append(terms, "principalId eq '"+oid+"'")
					}
				}
				_, data, err := c.do(ctx, http.MethodGet, authzURL(c, scope, "roleAssignments", "", strings.Join(terms, " and ")), nil)
				if err != nil {
					return err
				}
				return showAssignments(ctx, c, f, data, true)
			}},
		{name: "delete", help: "Delete role assignments: one by --name, or those of --assignee (with\n--role and --scope to narrow). The change applies to the next request.\n\nExamples:\n  rekey role assignment delete --name 3fa85f64-...\n  rekey role assignment delete --assignee ci --role Reader\n",
			flags: func(fs *flag.FlagSet) {
				assigneeFlag(fs)
				roleFlag(fs)
				scopeFlag("")(fs)
				fs.StringVar(&name, "name", "", "the assignment's `GUID`")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := checkScope(scope); err != nil {
					return err
				}
				if name == "" && assignee == "" {
					return fmt.Errorf("%w: --name or --assignee is required", errUsage)
				}
				filter := ""
				if assignee != "" {
					oid, err := resolveAssignee(ctx, c, assignee)
					if err != nil {
						return err
					}
					filter = "principalId eq '" + oid + "'"
				}
				_, data, err := c.do(ctx, http.MethodGet, authzURL(c, "/", "roleAssignments", "", filter), nil)
				if err != nil {
					return err
				}
				var page struct{ Value []wireAssignment }
				if err := json.Unmarshal(data, &page); err != nil {
					return err
				}
				roleID := ""
				if role != "" {
					if roleID, err = resolveRole(ctx, c, "/", role); err != nil {
						return err
					}
				}
				n := 0
				for _, a := range page.Value {
					if (name != "" && !strings.EqualFold(a.Name, name)) || (scope != "" && !strings.EqualFold(a.Properties.Scope, strings.TrimSuffix(scope, "/"))) ||
						(roleID != "" && !strings.EqualFold(lastSegment(a.Properties.RoleDefinitionID), roleID)) {
						continue
					}
					if _, _, err := c.do(ctx, http.MethodDelete, authzURL(c, a.Properties.Scope, "roleAssignments", a.Name, ""), nil); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "Deleted role assignment %s at %s.\n", a.Name, a.Properties.Scope)
					n++
				}
				if n == 0 {
					return fmt.Errorf("no role assignment matches (see \"rekey role assignment list\")")
				}
				return nil
			}},
	}
	return dispatch(ctx, "role assignment", authzAPIVersion, cmds, args, getenv, stdout, stderr)
}

func runRoleDefinition(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, scope string
	var custom bool
	cmds := []command{
		{name: "list", help: "List role definitions: Azure's built-in roles rekey knows, and custom roles.\n\nExamples:\n  rekey role definition list\n  rekey role definition list --name Reader --output json\n",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&name, "name", "", "only the role with this `name`")
				fs.BoolVar(&custom, "custom-role-only", false, "only custom roles")
				fs.StringVar(&scope, "scope", "/", "roles available at this `scope`")
			},
			run: func(ctx context.Context, c *client, f *clientFlags, stdout, stderr io.Writer) error {
				if err := checkScope(scope); err != nil {
					return err
				}
				filter := ""
				switch {
				case name != "":
					filter = "roleName eq '" + strings.ReplaceAll(name, "'", "''") + "'"
				case custom:
					filter = "type eq 'CustomRole'"
				}
				_, data, err := c.do(ctx, http.MethodGet, authzURL(c, scope, "roleDefinitions", "", filter), nil)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, data)
				}
				var page struct{ Value []wireRole }
				if err := json.Unmarshal(data, &page); err != nil {
					return err
				}
				var rows [][]string
				for _, r := range page.Value {
					rows = append(rows, []string{r.Properties.RoleName, r.Name, r.Properties.Type, r.Properties.Description})
				}
				return printTable(stdout, []string{"NAME", "ID", "TYPE", "DESCRIPTION"}, rows)
			}},
	}
	return dispatch(ctx, "role definition", authzAPIVersion, cmds, args, getenv, stdout, stderr)
}
