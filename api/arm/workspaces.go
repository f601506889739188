package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

type workspaceJSON struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Location   string             `json:"location"`
	Tags       map[string]string  `json:"tags"`
	Kind       string             `json:"kind,omitempty"`
	SKU        *skuJSON           `json:"sku,omitempty"`
	Identity   *identityJSON      `json:"identity,omitempty"`
	SystemData *systemDataJSON    `json:"systemData"`
	Properties workspacePropsJSON `json:"properties"`
}

type workspacePropsJSON struct {
	WorkspaceID         string `json:"workspaceId"`
	FriendlyName        string `json:"friendlyName,omitempty"`
	Description         string `json:"description,omitempty"`
	ProvisioningState   string `json:"provisioningState"`
	PublicNetworkAccess string `json:"publicNetworkAccess"`
	HbiWorkspace        bool   `json:"hbiWorkspace"`
	DiscoveryURL        string `json:"discoveryUrl,omitempty"`
}

// workspaceIn is a PUT or PATCH body; read-only fields a client echoes
// back from a GET are ignored.
type workspaceIn struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Kind       *string           `json:"kind"`
	SKU        *skuJSON          `json:"sku"`
	Identity   *identityIn       `json:"identity"`
	Properties *struct {
		FriendlyName *string `json:"friendlyName"`
		Description  *string `json:"description"`
	} `json:"properties"`
}

// applyProperties copies the properties the body sets onto w.
func (in *workspaceIn) applyProperties(w *rekey.Workspace) {
	if p := in.Properties; p != nil {
		if p.FriendlyName != nil {
			w.FriendlyName = *p.FriendlyName
		}
		if p.Description != nil {
			w.Description = *p.Description
		}
	}
}

func workspaceOut(w *rekey.Workspace, byType string) workspaceJSON {
	return workspaceJSON{
		ID: w.ID.String(), Name: w.ID.Name, Type: rekey.TypeWorkspace, Location: w.Location,
		Tags: orEmpty(w.Tags), Kind: w.Kind, SKU: skuOut(w.SKU), Identity: identityOut(w.Identity),
		SystemData: systemData(w.SystemData, byType),
		Properties: workspacePropsJSON{
			WorkspaceID: w.UID, FriendlyName: w.FriendlyName, Description: w.Description,
			ProvisioningState: string(rekey.Succeeded), PublicNetworkAccess: "Enabled",
		},
	}
}

// handleWorkspacePut handles PUT …/workspaces/{workspaceName}: create or
// replace, synchronously (200 with provisioningState Succeeded, which the
// SDK pollers take as done).
func (a *api) handleWorkspacePut(w http.ResponseWriter, r *http.Request) error {
	id, err := workspaceID(r)
	if err != nil {
		return err
	}
	var in workspaceIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	if in.Location == nil || strings.TrimSpace(*in.Location) == "" {
		return rekey.Errorf(rekey.Invalid, "The 'location' property is required for a workspace.")
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var out *rekey.Workspace
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		old, err := tx.Workspace(id)
		switch {
		case rekey.ErrorCode(err) == rekey.NotFound:
			old = &rekey.Workspace{ID: id, UID: rekey.NewGUID(), SystemData: rekey.SystemData{CreatedBy: who.Name, CreatedAt: a.now()}}
		case err != nil:
			return err
		case !strings.EqualFold(old.Location, *in.Location):
			return rekey.Errorf(rekey.Invalid, "The location of workspace '%s' is '%s' and cannot be changed to '%s'.", old.ID.Name, old.Location, rekey.Clip(*in.Location, 60))
		}
		identity, err := identityFrom(in.Identity, id.String()+"|"+old.UID, id.Subscription)
		if err != nil {
			return err
		}
		w := &rekey.Workspace{
			ID: old.ID, UID: old.UID, Location: *in.Location, Tags: in.Tags, SKU: sku, Identity: identity,
			SystemData: old.SystemData,
		}
		if in.Kind != nil {
			w.Kind = *in.Kind
		}
		in.applyProperties(w)
		w.SystemData.LastModifiedBy, w.SystemData.LastModifiedAt = who.Name, a.now()
		out = w
		_, err = tx.PutWorkspace(w)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, workspaceOut(out, who.Type))
}

// handleWorkspacePatch handles PATCH …/workspaces/{workspaceName}: tags,
// sku, identity, friendlyName and description.
func (a *api) handleWorkspacePatch(w http.ResponseWriter, r *http.Request) error {
	id, err := workspaceID(r)
	if err != nil {
		return err
	}
	var in workspaceIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var out *rekey.Workspace
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		ws, err := tx.Workspace(id)
		if err != nil {
			return err
		}
		if in.Tags != nil {
			ws.Tags = in.Tags
		}
		if sku != nil {
			ws.SKU = sku
		}
		if in.Identity != nil {
			if ws.Identity, err = identityFrom(in.Identity, id.String()+"|"+ws.UID, id.Subscription); err != nil {
				return err
			}
		}
		in.applyProperties(ws)
		ws.SystemData.LastModifiedBy, ws.SystemData.LastModifiedAt = who.Name, a.now()
		out = ws
		_, err = tx.PutWorkspace(ws)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, workspaceOut(out, who.Type))
}

// handleWorkspaceGet handles GET …/workspaces/{workspaceName}.
func (a *api) handleWorkspaceGet(w http.ResponseWriter, r *http.Request) error {
	id, err := workspaceID(r)
	if err != nil {
		return err
	}
	var ws *rekey.Workspace
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { ws, err = tx.Workspace(id); return err }); err != nil {
		return err
	}
	return encode(w, http.StatusOK, workspaceOut(ws, rekey.PrincipalFrom(r.Context()).Type))
}

// handleWorkspaceDelete handles DELETE …/workspaces/{workspaceName}. It
// removes the workspace with its endpoints and keys in one transaction
// (200), and answers 204 when there was nothing to delete, as ARM does.
func (a *api) handleWorkspaceDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := workspaceID(r)
	if err != nil {
		return err
	}
	return deleted(w, a.Store.Update(r.Context(), func(tx rekey.Tx) error { return tx.DeleteWorkspace(id) }))
}

// handleWorkspaceList handles GET …/workspaces, by resource group or by
// subscription, in pages of maxPageSize continued by $skip.
func (a *api) handleWorkspaceList(w http.ResponseWriter, r *http.Request) error {
	sub, rg := r.PathValue("subscriptionId"), r.PathValue("resourceGroupName")
	if err := checkScope(sub, rg); err != nil {
		return err
	}
	pg, err := readPage(r.URL.Query(), "", maxPageSize)
	if err != nil {
		return err
	}
	var list []*rekey.Workspace
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { list, err = tx.Workspaces(sub, rg); return err }); err != nil {
		return err
	}
	list, next := pageOf(list, pg)
	out := struct {
		Value    []workspaceJSON `json:"value"`
		NextLink *string         `json:"nextLink"`
	}{Value: []workspaceJSON{}, NextLink: a.nextLink(r, next)}
	for _, ws := range list {
		out.Value = append(out.Value, workspaceOut(ws, rekey.PrincipalFrom(r.Context()).Type))
	}
	return encode(w, http.StatusOK, out)
}
