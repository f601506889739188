package arm

import (
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/rekey-dev/rekey"
)

type endpointJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Kind       string            `json:"kind,omitempty"`
	SKU        *skuJSON          `json:"sku,omitempty"`
	Identity   *identityJSON     `json:"identity,omitempty"`
	SystemData *mlSystemDataJSON `json:"systemData"`
	Properties endpointPropsJSON `json:"properties"`
}

type endpointPropsJSON struct {
	AuthMode    string  `json:"authMode"`
	Description *string `json:"description"`
	// Keys is never sent: keys come from listKeys only, and Azure's
	// recorded bodies omit the field (CONTRACT.md: "always returned as null").
	Keys                *authKeysJSON     `json:"keys,omitempty"`
	Properties          map[string]string `json:"properties"`
	ScoringURI          *string           `json:"scoringUri"` // null until the endpoint first succeeds
	SwaggerURI          *string           `json:"swaggerUri"`
	Compute             *string           `json:"compute"`
	Traffic             map[string]int32  `json:"traffic"`
	MirrorTraffic       *map[string]int32 `json:"mirrorTraffic,omitempty"` // nil where the api-version predates it
	ProvisioningState   string            `json:"provisioningState"`
	PublicNetworkAccess string            `json:"publicNetworkAccess,omitempty"` // "" where the api-version predates it
}

type authKeysJSON struct {
	PrimaryKey   *string `json:"primaryKey"`
	SecondaryKey *string `json:"secondaryKey"`
}

// endpointIn is a createOrUpdate body. Read-only fields that clients echo
// back from a GET (id, scoringUri, provisioningState, ...) are ignored.
type endpointIn struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Kind       *string           `json:"kind"`
	SKU        *skuJSON          `json:"sku"`
	Identity   *identityIn       `json:"identity"`
	Properties *struct {
		AuthMode            *string           `json:"authMode"`
		Description         *string           `json:"description"`
		Keys                *authKeysJSON     `json:"keys"`
		Properties          map[string]string `json:"properties"`
		Compute             *string           `json:"compute"`
		Traffic             map[string]int32  `json:"traffic"`
		MirrorTraffic       map[string]int32  `json:"mirrorTraffic"`
		PublicNetworkAccess *string           `json:"publicNetworkAccess"`
	} `json:"properties"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orZero(m map[string]int32) map[string]int32 {
	if m == nil {
		return map[string]int32{}
	}
	return m
}

// defaultEndpointKind is the kind Azure ML gives an endpoint created
// without one (recorded for managed online endpoints).
const defaultEndpointKind = "Managed"

func (a *api) endpointOut(r *http.Request, e *rekey.Endpoint) endpointJSON {
	out := endpointJSON{
		ID: e.ID.String(), Name: e.ID.Name, Type: rekey.TypeOnlineEndpoint, Location: e.Location,
		Tags: orEmpty(e.Tags), Kind: e.Kind, SKU: skuOut(e.SKU), Identity: identityOut(e.Identity),
		SystemData: mlSystemData(e.SystemData),
		Properties: endpointPropsJSON{
			AuthMode: string(e.AuthMode), Description: nonEmpty(e.Description), Compute: nonEmpty(e.Compute),
			Properties:        a.systemProperties(r, e.Properties, e.ID.Workspace.Subscription, e.Location, e.Operation),
			Traffic:           orZero(e.Traffic),
			ProvisioningState: string(e.ProvisioningState),
		},
	}
	if mlShapeFor(servedVersion(r)).network {
		mirror := orZero(e.MirrorTraffic)
		out.Properties.MirrorTraffic, out.Properties.PublicNetworkAccess = &mirror, e.PublicNetworkAccess
	}
	out.Properties.Properties[endpointIDProperty] = e.ID.Key()
	if out.Kind == "" {
		out.Kind = defaultEndpointKind
	}
	// Azure ML assigns the scoring host when the creation succeeds; while
	// the endpoint is Creating both URIs are null.
	if e.ProvisioningState != rekey.Creating {
		prefix := strings.TrimSuffix(a.GatewayURL, "/") + "/endpoints/" + e.ID.Name
		out.Properties.ScoringURI, out.Properties.SwaggerURI = nonEmpty(prefix+"/score"), nonEmpty(prefix+"/swagger.json")
	}
	return out
}

// The entries Azure ML adds to an endpoint's or deployment's
// properties.properties. They are computed, never stored: clients that
// GET a resource and PUT it back send them, and they are dropped on input.
const (
	endpointIDProperty     = "azureml.onlineendpointid" // the endpoint's lower-cased ARM id
	asyncOperationProperty = "AzureAsyncOperationUri"   // status URL of the last create or update
)

// dropSystemProperties removes the computed entries from a request's
// properties.properties.
func dropSystemProperties(m map[string]string) map[string]string {
	for k := range m {
		if strings.EqualFold(k, endpointIDProperty) || strings.EqualFold(k, asyncOperationProperty) {
			delete(m, k)
		}
	}
	return m
}

// systemProperties returns a copy of the caller's properties.properties
// with AzureAsyncOperationUri added when the resource has an operation.
func (a *api) systemProperties(r *http.Request, user map[string]string, subscription, location string, op rekey.OperationRef) map[string]string {
	out := maps.Clone(user)
	if out == nil {
		out = map[string]string{}
	}
	if op.ID != "" {
		ref := &rekey.Operation{ID: op.ID, Subscription: subscription, Location: normLocation(location)}
		out[asyncOperationProperty] = a.absURL(r, operationPath(ref, "mfeOperationsStatus"), url.Values{"api-version": {op.APIVersion}})
	}
	return out
}

// handleEndpointPut handles PUT …/onlineEndpoints/{endpointName}: create
// (201) or replace (200). The resource is written as Creating or Updating
// together with an operation that moves it to Succeeded; the response
// carries Azure-AsyncOperation for the SDK pollers.
func (a *api) handleEndpointPut(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	if err := id.Validate(); err != nil {
		return errWire(http.StatusBadRequest, "InvalidResourceName", rekey.ErrorMessage(err))
	}
	put, err := a.readEndpointPut(w, r)
	if err != nil {
		return err
	}
	in, p, mode, sku, given := put.in, put.in.Properties, put.mode, put.sku, put.keys
	p.Properties = dropSystemProperties(p.Properties)
	who := rekey.PrincipalFrom(r.Context())
	var (
		out     *rekey.Endpoint
		op      *rekey.Operation
		created bool
	)
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		old, err := tx.Endpoint(id)
		switch {
		case rekey.ErrorCode(err) == rekey.NotFound:
			old = nil
		case err != nil:
			return err
		case old.ProvisioningState == rekey.Deleting:
			return rekey.Errorf(rekey.Conflict, "The endpoint '%s' is being deleted. Wait for the delete to finish, then create it again.", old.ID.Name)
		case !strings.EqualFold(normLocation(old.Location), normLocation(*in.Location)):
			return rekey.Errorf(rekey.Invalid, "The location of endpoint '%s' is '%s' and cannot be changed to '%s'.", old.ID.Name, old.Location, rekey.Clip(*in.Location, 60))
		}
		e := &rekey.Endpoint{
			ID: id, UID: rekey.NewGUID(), Location: *in.Location, Tags: in.Tags, SKU: sku, AuthMode: mode,
			Properties: p.Properties, Traffic: p.Traffic, MirrorTraffic: p.MirrorTraffic, PublicNetworkAccess: "Enabled",
			ProvisioningState: rekey.Creating,
			SystemData:        rekey.SystemData{CreatedBy: who.Name, CreatedAt: a.now()},
		}
		var oldProps map[string]string
		if old != nil {
			e.ID, e.UID, e.SystemData, e.ProvisioningState = old.ID, old.UID, old.SystemData, rekey.Updating
			oldProps = old.Properties
			// Leaving or entering AMLToken mode ends every token issued so far.
			e.TokenEpoch = old.TokenEpoch
			if old.AuthMode != mode {
				e.TokenEpoch++
			}
		}
		if e.Properties, err = mergeProperties(oldProps, p.Properties); err != nil {
			return err
		}
		e.SystemData.LastModifiedBy, e.SystemData.LastModifiedAt = who.Name, a.now()
		if in.Kind != nil {
			e.Kind = *in.Kind
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.Compute != nil {
			e.Compute = *p.Compute
		}
		if p.PublicNetworkAccess != nil {
			e.PublicNetworkAccess = matchEnum(*p.PublicNetworkAccess, []string{"Enabled", "Disabled"})
			if e.PublicNetworkAccess == "" {
				e.PublicNetworkAccess = *p.PublicNetworkAccess // Validate names it
			}
		}
		if e.Identity, err = identityFrom(in.Identity, id.String()+"|"+e.UID, id.Workspace.Subscription); err != nil {
			return err
		}
		var names []string
		if old != nil {
			deps, err := tx.Deployments(id)
			if err != nil {
				return err
			}
			for _, d := range deps {
				names = append(names, d.ID.Name)
			}
		}
		if err := e.Validate(names); err != nil {
			return err
		}
		op = a.newOperation(r.Context(), rekey.OpCreateEndpoint, e.ID.String(), e.ID.Key(), id.Workspace.Subscription, e.Location)
		e.Operation = rekey.OperationRef{ID: op.ID, APIVersion: apiVersion(r)}
		if created, err = tx.PutEndpoint(e); err != nil {
			return err
		}
		rekey.NoteStatus(r.Context(), http.StatusCreated)
		if created {
			rekey.NoteKeySlot(r.Context(), rekey.BothSlots) // keys set at creation
			// Keys exist for every auth mode, so a later switch to Key
			// needs no extra step; listKeys answers only in Key mode.
			for _, slot := range rekey.Slots {
				k := given.Get(slot)
				if k == "" {
					k = rekey.NewKey()
				}
				if _, err := tx.PutKey(a.Keyring.Rotate(id.Key(), slot, k, a.now(), 0)); err != nil {
					return err
				}
			}
		}
		out = e
		return tx.PutOperation(op)
	})
	if err != nil {
		return err
	}
	a.Wake()
	return a.answerPut(w, r, op, a.endpointOut(r, out))
}

// answerPut sends a long-running PUT's answer as Azure ML does, for a
// creation and an update alike (recorded): 201 with Azure-AsyncOperation
// for the pollers and Location, the resource's own URL with the request's
// api-version.
func (a *api) answerPut(w http.ResponseWriter, r *http.Request, op *rekey.Operation, body any) error {
	a.pollingHeaders(w, r, op, false)
	w.Header().Set("Location", a.absURL(r, r.URL.Path, url.Values{"api-version": {apiVersion(r)}}))
	return encode(w, http.StatusCreated, body)
}

// endpointPut is a decoded and checked createOrUpdate body.
type endpointPut struct {
	in   endpointIn
	mode rekey.AuthMode
	sku  *rekey.SKU
	keys rekey.KeyPair // caller-chosen initial keys; "" where none
}

// readEndpointPut decodes a createOrUpdate body and applies the checks
// that need no stored state.
func (a *api) readEndpointPut(w http.ResponseWriter, r *http.Request) (*endpointPut, error) {
	var in endpointIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return nil, err
	}
	p := in.Properties
	switch {
	case in.Location == nil || strings.TrimSpace(*in.Location) == "":
		return nil, rekey.Errorf(rekey.Invalid, "The 'location' property is required for an online endpoint.")
	case p == nil:
		return nil, rekey.Errorf(rekey.Invalid, "The 'properties' object is required for an online endpoint.")
	case p.AuthMode == nil:
		return nil, rekey.Errorf(rekey.Invalid, "The property 'properties.authMode' is required. Allowed values: Key, AMLToken, AADToken.")
	}
	mode, err := rekey.ParseAuthMode(*p.AuthMode)
	if err != nil {
		return nil, err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return nil, err
	}
	if err := rekey.CheckGracePeriod("properties.properties", p.Properties); err != nil {
		return nil, err
	}
	var given rekey.KeyPair
	if p.Keys != nil {
		for _, k := range []struct {
			field string
			v     *string
			slot  rekey.Slot
		}{{"properties.keys.primaryKey", p.Keys.PrimaryKey, rekey.Primary}, {"properties.keys.secondaryKey", p.Keys.SecondaryKey, rekey.Secondary}} {
			if k.v != nil && *k.v != "" {
				if err := rekey.ValidateKeyValue(k.field, *k.v); err != nil {
					return nil, err
				}
				given.Set(k.slot, *k.v)
			}
		}
		if given.Primary != "" && given.Primary == given.Secondary {
			return nil, rekey.Errorf(rekey.Invalid, "properties.keys.primaryKey and secondaryKey must differ, or rotation could not replace one without the other.")
		}
	}
	return &endpointPut{in: in, mode: mode, sku: sku, keys: given}, nil
}

// mergeProperties applies Azure's rule for properties.properties: entries
// can be added, but not removed or altered. Omitted entries are kept.
// rekey's own GracePeriodProperty is the exception: it is an operator
// setting, not a fact about the resource, so it can be changed, and ""
// (or null) removes it (docs/decisions.md).
func mergeProperties(old, in map[string]string) (map[string]string, error) {
	out := maps.Clone(old)
	for k, v := range in {
		if k == rekey.GracePeriodProperty {
			if v == "" {
				delete(out, k)
				continue
			}
		} else if prev, ok := old[k]; ok && prev != v {
			return nil, rekey.Errorf(rekey.Invalid, "properties.properties['%s'] cannot be altered once set; entries can only be added.", rekey.Clip(k, 60))
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, nil
}

// normLocation folds "West Europe" and "westeurope" together, as ARM does.
func normLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

// handleEndpointPatch handles PATCH …/onlineEndpoints/{endpointName}:
// tags and identity, applied synchronously (200).
func (a *api) handleEndpointPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	var in struct {
		Tags     map[string]string `json:"tags"`
		Identity *identityIn       `json:"identity"`
	}
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var out *rekey.Endpoint
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		e, err := a.liveEndpoint(tx, id)
		if err != nil {
			return err
		}
		if in.Tags != nil {
			e.Tags = in.Tags
		}
		if in.Identity != nil {
			if e.Identity, err = identityFrom(in.Identity, id.String()+"|"+e.UID, id.Workspace.Subscription); err != nil {
				return err
			}
		}
		e.SystemData.LastModifiedBy, e.SystemData.LastModifiedAt = who.Name, a.now()
		out = e
		_, err = tx.PutEndpoint(e)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, a.endpointOut(r, out))
}

// liveEndpoint returns the endpoint unless it is missing (NotFound) or
// being deleted (Conflict).
func (a *api) liveEndpoint(tx rekey.Tx, id rekey.EndpointID) (*rekey.Endpoint, error) {
	e, err := tx.Endpoint(id)
	if err != nil {
		return nil, err
	}
	if e.ProvisioningState == rekey.Deleting {
		return nil, rekey.Errorf(rekey.Conflict, "The endpoint '%s' is being deleted.", e.ID.Name)
	}
	return e, nil
}

// handleEndpointGet handles GET …/onlineEndpoints/{endpointName}.
func (a *api) handleEndpointGet(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	var e *rekey.Endpoint
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { e, err = tx.Endpoint(id); return err }); err != nil {
		return err
	}
	return encode(w, http.StatusOK, a.endpointOut(r, e))
}

// handleEndpointDelete handles DELETE …/onlineEndpoints/{endpointName}:
// 202 with Location (and Azure-AsyncOperation) while an operation removes
// the endpoint and its keys; 204 when there is nothing to delete. The 202
// carries a JSON null body, as Azure ML's does.
func (a *api) handleEndpointDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	var op *rekey.Operation
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		e, err := tx.Endpoint(id)
		if err != nil {
			return err
		}
		e.ProvisioningState = rekey.Deleting
		if _, err := tx.PutEndpoint(e); err != nil {
			return err
		}
		op = a.newOperation(r.Context(), rekey.OpDeleteEndpoint, e.ID.String(), e.ID.Key(), id.Workspace.Subscription, e.Location)
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
