package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

type deploymentJSON struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Location   string              `json:"location"`
	Kind       string              `json:"kind,omitempty"`
	SKU        *skuJSON            `json:"sku,omitempty"`
	Tags       map[string]string   `json:"tags"`
	SystemData *systemDataJSON     `json:"systemData"`
	Properties deploymentPropsJSON `json:"properties"`
}

type deploymentPropsJSON struct {
	EndpointComputeType string            `json:"endpointComputeType"`
	Description         *string           `json:"description"`
	Model               *string           `json:"model"`
	InstanceType        *string           `json:"instanceType"`
	Properties          map[string]string `json:"properties"`
	ProvisioningState   string            `json:"provisioningState"`
}

// deploymentIn is an OnlineDeployment body. Fields rekey does not act on
// (probes, scale and request settings, environment) are accepted and ignored.
type deploymentIn struct {
	Location   *string           `json:"location"`
	Kind       *string           `json:"kind"`
	SKU        *skuJSON          `json:"sku"`
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		EndpointComputeType *string           `json:"endpointComputeType"`
		Description         *string           `json:"description"`
		Model               *string           `json:"model"`
		InstanceType        *string           `json:"instanceType"`
		Properties          map[string]string `json:"properties"`
	} `json:"properties"`
}

var computeTypes = []string{"Managed", "Kubernetes", "AzureMLCompute"}

func deploymentOut(d *rekey.Deployment, byType string) deploymentJSON {
	return deploymentJSON{
		ID: d.ID.String(), Name: d.ID.Name, Type: rekey.TypeDeployment, Location: d.Location, Kind: d.Kind,
		SKU: skuOut(d.SKU), Tags: orEmpty(d.Tags), SystemData: systemData(d.SystemData, byType),
		Properties: deploymentPropsJSON{
			EndpointComputeType: d.ComputeType, Description: nonEmpty(d.Description), Model: nonEmpty(d.Model),
			InstanceType: nonEmpty(d.InstanceType), Properties: orEmpty(d.Properties), ProvisioningState: string(d.ProvisioningState),
		},
	}
}

func deploymentID(r *http.Request) (rekey.DeploymentID, error) {
	ep, err := endpointID(r)
	return rekey.DeploymentID{Endpoint: ep, Name: r.PathValue("deploymentName")}, err
}

// handleDeploymentPut handles PUT …/onlineEndpoints/{e}/deployments/{d}:
// create (201) or replace (200), long-running like the endpoint's. The
// upstream the gateway forwards to is properties.properties["rekey.upstream"].
func (a *api) handleDeploymentPut(w http.ResponseWriter, r *http.Request) error {
	id, err := deploymentID(r)
	if err != nil {
		return err
	}
	if err := id.Validate(); err != nil {
		return errWire(http.StatusBadRequest, "InvalidResourceName", rekey.ErrorMessage(err))
	}
	var in deploymentIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	p := in.Properties
	switch {
	case in.Location == nil || strings.TrimSpace(*in.Location) == "":
		return rekey.Errorf(rekey.Invalid, "The 'location' property is required for an online deployment.")
	case p == nil || p.EndpointComputeType == nil:
		return rekey.Errorf(rekey.Invalid, "The property 'properties.endpointComputeType' is required. Allowed values: %s.", strings.Join(computeTypes, ", "))
	case matchEnum(*p.EndpointComputeType, computeTypes) == "":
		return rekey.Errorf(rekey.Invalid, "The value of properties.endpointComputeType is not valid. Allowed values: %s.", strings.Join(computeTypes, ", "))
	case p.Properties[rekey.UpstreamProperty] == "":
		return rekey.Errorf(rekey.Invalid, "properties.properties['%s'] is required: the URL rekey's gateway forwards this deployment's traffic to, e.g. http://127.0.0.1:8000.", rekey.UpstreamProperty)
	}
	if err := rekey.ValidateUpstream(p.Properties[rekey.UpstreamProperty]); err != nil {
		return err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var (
		out     *rekey.Deployment
		op      *rekey.Operation
		created bool
	)
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		if _, err := a.liveEndpoint(tx, id.Endpoint); err != nil {
			if rekey.ErrorCode(err) == rekey.NotFound {
				return rekey.Errorf(rekey.ParentNotFound, "Failed to perform 'write' on resource(s) of type 'onlineEndpoints/deployments', because the parent resource '%s' could not be found.", id.Endpoint)
			}
			return err
		}
		d := &rekey.Deployment{ID: id, UID: rekey.NewGUID(), ProvisioningState: rekey.Creating,
			SystemData: rekey.SystemData{CreatedBy: who.Name, CreatedAt: a.now()}}
		old, err := tx.Deployment(id)
		switch {
		case err == nil && old.ProvisioningState == rekey.Deleting:
			return rekey.Errorf(rekey.Conflict, "The deployment '%s' is being deleted.", old.ID.Name)
		case err == nil:
			d.ID, d.UID, d.SystemData, d.ProvisioningState = old.ID, old.UID, old.SystemData, rekey.Updating
		case rekey.ErrorCode(err) != rekey.NotFound:
			return err
		}
		d.Location, d.SKU, d.Tags, d.Properties = *in.Location, sku, in.Tags, p.Properties
		d.ComputeType = matchEnum(*p.EndpointComputeType, computeTypes)
		if in.Kind != nil {
			d.Kind = *in.Kind
		}
		for dst, src := range map[*string]*string{&d.Description: p.Description, &d.Model: p.Model, &d.InstanceType: p.InstanceType} {
			if src != nil {
				*dst = *src
			}
		}
		d.SystemData.LastModifiedBy, d.SystemData.LastModifiedAt = who.Name, a.now()
		if created, err = tx.PutDeployment(d); err != nil {
			return err
		}
		out = d
		op = a.newOperation(rekey.OpPutDeployment, d.ID.String(), d.ID.Key(), id.Endpoint.Workspace.Subscription, d.Location)
		return tx.PutOperation(op)
	})
	if err != nil {
		return err
	}
	a.Wake()
	a.pollingHeaders(w, r, op, false)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return encode(w, status, deploymentOut(out, who.Type))
}

// handleDeploymentPatch handles PATCH …/deployments/{d}: tags and sku (200).
func (a *api) handleDeploymentPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := deploymentID(r)
	if err != nil {
		return err
	}
	var in struct {
		Tags map[string]string `json:"tags"`
		SKU  *skuJSON          `json:"sku"`
	}
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var out *rekey.Deployment
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		d, err := tx.Deployment(id)
		if err != nil {
			return err
		}
		if in.Tags != nil {
			d.Tags = in.Tags
		}
		if sku != nil {
			d.SKU = sku
		}
		d.SystemData.LastModifiedBy, d.SystemData.LastModifiedAt = who.Name, a.now()
		out = d
		_, err = tx.PutDeployment(d)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, deploymentOut(out, who.Type))
}

// handleDeploymentGet handles GET …/deployments/{d}.
func (a *api) handleDeploymentGet(w http.ResponseWriter, r *http.Request) error {
	id, err := deploymentID(r)
	if err != nil {
		return err
	}
	var d *rekey.Deployment
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { d, err = tx.Deployment(id); return err }); err != nil {
		return err
	}
	return encode(w, http.StatusOK, deploymentOut(d, rekey.PrincipalFrom(r.Context()).Type))
}

// handleDeploymentList handles GET …/onlineEndpoints/{e}/deployments, with
// the contract's $top (page size) and $skip (continuation token).
func (a *api) handleDeploymentList(w http.ResponseWriter, r *http.Request) error {
	ep, err := endpointID(r)
	if err != nil {
		return err
	}
	pg, err := readPage(r.URL.Query(), "$top", maxPageSize)
	if err != nil {
		return err
	}
	var list []*rekey.Deployment
	err = a.Store.View(r.Context(), func(tx rekey.Tx) (err error) {
		if _, err := tx.Endpoint(ep); err != nil {
			return err
		}
		list, err = tx.Deployments(ep)
		return err
	})
	if err != nil {
		return err
	}
	list, next := pageOf(list, pg)
	out := struct {
		Value    []deploymentJSON `json:"value"`
		NextLink *string          `json:"nextLink,omitempty"`
	}{Value: []deploymentJSON{}, NextLink: a.nextLink(r, next)}
	for _, d := range list {
		out.Value = append(out.Value, deploymentOut(d, rekey.PrincipalFrom(r.Context()).Type))
	}
	return encode(w, http.StatusOK, out)
}

// handleDeploymentDelete handles DELETE …/deployments/{d}: 202 while an
// operation removes it; 204 when there is nothing to delete. A deployment
// that still receives traffic cannot be deleted, as in Azure.
func (a *api) handleDeploymentDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := deploymentID(r)
	if err != nil {
		return err
	}
	var op *rekey.Operation
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		d, err := tx.Deployment(id)
		if err != nil {
			return err
		}
		e, err := tx.Endpoint(id.Endpoint)
		if err != nil {
			return err
		}
		if e.Traffic[d.ID.Name] > 0 || e.MirrorTraffic[d.ID.Name] > 0 {
			return rekey.Errorf(rekey.Invalid, "Deployment '%s' still receives traffic from endpoint '%s'. Set its traffic and mirrorTraffic to 0 first.", d.ID.Name, e.ID.Name)
		}
		d.ProvisioningState = rekey.Deleting
		if _, err := tx.PutDeployment(d); err != nil {
			return err
		}
		op = a.newOperation(rekey.OpDeleteDeployment, d.ID.String(), d.ID.Key(), id.Endpoint.Workspace.Subscription, d.Location)
		return tx.PutOperation(op)
	})
	if rekey.ErrorCode(err) == rekey.NotFound {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	a.Wake()
	a.pollingHeaders(w, r, op, true)
	w.WriteHeader(http.StatusAccepted)
	return nil
}
