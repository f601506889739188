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
	Identity   *identityJSON       `json:"identity,omitempty"`
	Tags       map[string]string   `json:"tags"`
	SystemData *mlSystemDataJSON   `json:"systemData"`
	Properties deploymentPropsJSON `json:"properties"`
}

// deploymentPropsJSON is OnlineDeployment's properties in the order Azure
// ML's recorded responses give them; containerResourceRequirements is the
// Kubernetes variant's only.
type deploymentPropsJSON struct {
	Description                   *string                 `json:"description"`
	Properties                    map[string]string       `json:"properties"`
	CodeConfiguration             *codeConfigurationJSON  `json:"codeConfiguration"`
	EnvironmentID                 *string                 `json:"environmentId"`
	EnvironmentVariables          map[string]string       `json:"environmentVariables"`
	ScaleSettings                 *scaleSettingsJSON      `json:"scaleSettings"`
	RequestSettings               *requestSettingsJSON    `json:"requestSettings"`
	ModelMountPath                *string                 `json:"modelMountPath"`
	AppInsightsEnabled            bool                    `json:"appInsightsEnabled"`
	LivenessProbe                 *probeJSON              `json:"livenessProbe"`
	ReadinessProbe                *probeJSON              `json:"readinessProbe"`
	ProvisioningState             string                  `json:"provisioningState"`
	InstanceType                  *string                 `json:"instanceType"`
	Model                         *string                 `json:"model"`
	EgressPublicNetworkAccess     string                  `json:"egressPublicNetworkAccess,omitempty"` // "" where the api-version predates it
	DataCollector                 *dataCollectorJSON      `json:"dataCollector,omitempty"`             // absent unless set, as Azure ML answers
	PrivateNetworkConnection      *bool                   `json:"privateNetworkConnection,omitempty"`  // only in the api-versions that had it
	ContainerResourceRequirements *containerResourcesJSON `json:"containerResourceRequirements,omitempty"`
	EndpointComputeType           string                  `json:"endpointComputeType"`
}

// deploymentIn is an OnlineDeployment body (Managed or Kubernetes). Every
// property of the published schema is kept and returned; wrongly typed
// ones are refused with InvalidRequestContent by decode.
type deploymentIn struct {
	Location   *string           `json:"location"`
	Kind       *string           `json:"kind"`
	SKU        *skuJSON          `json:"sku"`
	Identity   *identityIn       `json:"identity"`
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		EndpointComputeType *string           `json:"endpointComputeType"`
		Description         *string           `json:"description"`
		Model               *string           `json:"model"`
		InstanceType        *string           `json:"instanceType"`
		Properties          map[string]string `json:"properties"`
		deploymentSpecIn
	} `json:"properties"`
}

var computeTypes = []string{"Managed", "Kubernetes", "AzureMLCompute"}

func (a *api) deploymentOut(r *http.Request, d *rekey.Deployment) deploymentJSON {
	out := deploymentJSON{
		ID: d.ID.String(), Name: d.ID.Name, Type: rekey.TypeDeployment, Location: d.Location, Kind: d.Kind,
		SKU: skuOut(d.SKU), Identity: identityOut(d.Identity), Tags: orEmpty(d.Tags), SystemData: mlSystemData(d.SystemData),
		Properties: deploymentPropsJSON{
			EndpointComputeType: d.ComputeType, Description: nonEmpty(d.Description), Model: nonEmpty(d.Model),
			InstanceType: nonEmpty(d.InstanceType), ProvisioningState: string(d.ProvisioningState),
			Properties: a.systemProperties(r, d.Properties, d.ID.Endpoint.Workspace.Subscription, d.Location, d.Operation),
		},
	}
	// Azure ML gives a managed deployment created without a kind the
	// kind "Managed" (recorded); for the others nothing was recorded.
	if out.Kind == "" && d.ComputeType == "Managed" {
		out.Kind = "Managed"
	}
	specOut(d.Spec, &out.Properties)
	shape := mlShapeFor(servedVersion(r))
	if !shape.network {
		out.Properties.EgressPublicNetworkAccess = ""
	}
	if !shape.privateNetworkConnection {
		out.Properties.PrivateNetworkConnection = nil
	}
	return out
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
	}
	p.Properties = dropSystemProperties(p.Properties)
	if p.Properties[rekey.UpstreamProperty] == "" {
		return rekey.Errorf(rekey.Invalid, "properties.properties['%s'] is required: the URL rekey's gateway forwards this deployment's traffic to, e.g. http://127.0.0.1:8000.", rekey.UpstreamProperty)
	}
	if err := rekey.ValidateUpstream(p.Properties[rekey.UpstreamProperty]); err != nil {
		return err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	computeType := matchEnum(*p.EndpointComputeType, computeTypes)
	spec, err := specFrom(p.deploymentSpecIn, computeType)
	if err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var (
		out *rekey.Deployment
		op  *rekey.Operation
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
		d.Location, d.SKU, d.Tags, d.Properties, d.Spec = *in.Location, sku, in.Tags, p.Properties, spec
		d.ComputeType = computeType
		if d.Identity, err = identityFrom(in.Identity, id.String()+"|"+d.UID, id.Endpoint.Workspace.Subscription); err != nil {
			return err
		}
		if in.Kind != nil {
			d.Kind = *in.Kind
		}
		for dst, src := range map[*string]*string{&d.Description: p.Description, &d.Model: p.Model, &d.InstanceType: p.InstanceType} {
			if src != nil {
				*dst = *src
			}
		}
		d.SystemData.LastModifiedBy, d.SystemData.LastModifiedAt = who.Name, a.now()
		op = a.newOperation(r.Context(), rekey.OpPutDeployment, d.ID.String(), d.ID.Key(), id.Endpoint.Workspace.Subscription, d.Location)
		rekey.NoteStatus(r.Context(), http.StatusCreated)
		d.Operation = rekey.OperationRef{ID: op.ID, APIVersion: apiVersion(r)}
		if _, err := tx.PutDeployment(d); err != nil {
			return err
		}
		out = d
		return tx.PutOperation(op)
	})
	if err != nil {
		return err
	}
	a.Wake()
	return a.answerPut(w, r, op, a.deploymentOut(r, out))
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
	return encode(w, http.StatusOK, a.deploymentOut(r, out))
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
	return encode(w, http.StatusOK, a.deploymentOut(r, d))
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
		out.Value = append(out.Value, a.deploymentOut(r, d))
	}
	return encode(w, http.StatusOK, out)
}

// handleDeploymentDelete handles DELETE …/deployments/{d}: 202 (with a
// JSON null body, as for endpoints) while an operation removes it; 204
// when there is nothing to delete. A deployment that still receives
// traffic cannot be deleted, as in Azure.
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
		op = a.newOperation(r.Context(), rekey.OpDeleteDeployment, d.ID.String(), d.ID.Key(), id.Endpoint.Workspace.Subscription, d.Location)
		rekey.NoteStatus(r.Context(), http.StatusAccepted)
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
	return encode(w, http.StatusAccepted, nil)
}
