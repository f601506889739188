package arm

import (
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

type accountIn struct {
	Location   *string           `json:"location"`
	Kind       *string           `json:"kind"`
	SKU        *skuJSON          `json:"sku"`
	Tags       map[string]string `json:"tags"`
	Identity   *identityIn       `json:"identity"`
	Properties *struct {
		CustomSubDomainName *string        `json:"customSubDomainName"`
		APIProperties       map[string]any `json:"apiProperties"`
		PublicNetworkAccess *string        `json:"publicNetworkAccess"`
	} `json:"properties"`
}

type accountKeysJSON struct {
	Key1 string `json:"key1"`
	Key2 string `json:"key2"`
}

// accountID reads and validates the account id in r's path.
func accountID(r *http.Request) (rekey.AccountID, error) {
	id := rekey.AccountID{Subscription: r.PathValue("subscriptionId"), ResourceGroup: r.PathValue("resourceGroupName"), Name: r.PathValue("accountName")}
	if err := checkScope(id.Subscription, id.ResourceGroup); err != nil {
		return id, err
	}
	if err := id.Validate(); err != nil {
		return id, errWire(http.StatusBadRequest, "InvalidResourceName", rekey.ErrorMessage(err))
	}
	return id, nil
}

// apiProperties are the documented fields of the ApiProperties schema
// (Microsoft.CognitiveServices, api-version 2025-06-01) that carry no
// secret, with their JSON type. Anything else in apiProperties is dropped,
// neither stored nor returned: the search key and connection strings
// (another service's credentials), and every unknown, misspelt or nested
// name. An allow-list, because a deny-list missed "…Key " with a trailing
// space, nested objects and names such as aadClientSecret or password.
var apiProperties = []apiPropertyType{
	{name: "aadClientId"},
	{name: "aadTenantId"},
	{name: "qnaAzureSearchEndpointId"},
	{name: "qnaRuntimeEndpoint"}, // kept in Account.QnARuntimeEndpoint
	{name: "statisticsEnabled", isBool: true},
	{name: "superUser"},
	{name: "websiteName"},
}

type apiPropertyType struct {
	name   string
	isBool bool
}

// accepts reports whether v has the field's JSON type: a scalar, never an
// object or array that could nest other values.
func (p apiPropertyType) accepts(v any) bool {
	switch v.(type) {
	case bool:
		return p.isBool
	case string:
		return !p.isBool
	}
	return false
}

// apiProperty returns the index in apiProperties of name (any case), or -1.
func apiProperty(name string) int {
	for i, p := range apiProperties {
		if strings.EqualFold(p.name, name) {
			return i
		}
	}
	return -1
}

// applyAPIProperties merges request apiProperties into acc: allow-listed
// fields of the right type are kept under their documented spelling (null
// removes one), everything else is dropped.
func applyAPIProperties(acc *rekey.Account, in map[string]any) error {
	for k, v := range in {
		i := apiProperty(k)
		if i < 0 {
			continue // dropped: see apiProperties and docs/decisions.md
		}
		p := apiProperties[i]
		if p.name == "qnaRuntimeEndpoint" {
			s, _ := v.(string)
			if err := rekey.ValidateQnARuntimeEndpoint(s); err != nil {
				return err
			}
			acc.QnARuntimeEndpoint = strings.TrimSuffix(s, "/")
			continue
		}
		if v == nil {
			delete(acc.APIProperties, p.name)
			continue
		}
		if !p.accepts(v) {
			want := "a string"
			if p.isBool {
				want = "true or false"
			}
			return rekey.Errorf(rekey.Invalid, "properties.apiProperties.%s must be %s.", p.name, want)
		}
		if acc.APIProperties == nil {
			acc.APIProperties = map[string]any{}
		}
		acc.APIProperties[p.name] = v
	}
	return nil
}

// apiPropertiesOut is what a response shows of acc's apiProperties: the
// allow-listed fields only, so that a value stored before the allow-list
// existed is not returned either, and the runtime URL without any
// credentials such a value might carry.
func apiPropertiesOut(acc *rekey.Account) map[string]any {
	out := map[string]any{}
	for k, v := range acc.APIProperties {
		if i := apiProperty(k); i >= 0 && apiProperties[i].name != "qnaRuntimeEndpoint" && apiProperties[i].accepts(v) {
			out[apiProperties[i].name] = v
		}
	}
	if acc.QnARuntimeEndpoint != "" {
		out["qnaRuntimeEndpoint"] = rekey.WithoutUserinfo(acc.QnARuntimeEndpoint)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// handleAccountPut handles PUT …/Microsoft.CognitiveServices/accounts/{accountName}:
// create (201, Creating, with an Azure-AsyncOperation URL: see
// accounts_ops.go) or update (200). A new account gets two subscription
// keys, and a QnAMaker account two QnA endpoint keys as well; they work
// at once, while the account is still Creating.
func (a *api) handleAccountPut(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var in accountIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	switch {
	case in.Location == nil || strings.TrimSpace(*in.Location) == "":
		return rekey.Errorf(rekey.Invalid, "The 'location' property is required for a Cognitive Services account.")
	case in.Kind == nil || strings.TrimSpace(*in.Kind) == "":
		return rekey.Errorf(rekey.Invalid, "The 'kind' property is required for a Cognitive Services account, e.g. \"QnAMaker\".")
	case in.SKU == nil:
		return rekey.Errorf(rekey.Invalid, "The 'sku' property is required for a Cognitive Services account, e.g. {\"name\": \"S0\"}.")
	}
	sku, err := skuIn(in.SKU)
	if err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	if err := rekey.CheckGracePeriod("tags", in.Tags); err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var (
		out     *rekey.Account
		op      *rekey.Operation
		created bool
	)
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		old, err := tx.Account(id)
		switch {
		case rekey.ErrorCode(err) == rekey.NotFound:
			old = nil
		case err != nil:
			return err
		case !strings.EqualFold(old.Kind, *in.Kind):
			return rekey.Errorf(rekey.Conflict, "The kind of account '%s' is '%s' and cannot be changed to '%s'.", old.ID.Name, old.Kind, rekey.Clip(*in.Kind, 60))
		case normLocation(old.Location) != normLocation(*in.Location):
			return rekey.Errorf(rekey.Invalid, "The location of account '%s' is '%s' and cannot be changed to '%s'.", old.ID.Name, old.Location, rekey.Clip(*in.Location, 60))
		}
		acc := &rekey.Account{ID: id, UID: strings.ReplaceAll(rekey.NewGUID(), "-", ""), Location: *in.Location, Kind: *in.Kind,
			PublicNetworkAccess: "Enabled", SystemData: rekey.SystemData{CreatedBy: who.Name, CreatedAt: a.now()}}
		if matchEnum(acc.Kind, []string{rekey.KindQnAMaker}) != "" {
			acc.Kind = rekey.KindQnAMaker
		}
		if old != nil {
			acc.ID, acc.UID, acc.Kind, acc.SystemData, acc.ActiveLearning = old.ID, old.UID, old.Kind, old.SystemData, old.ActiveLearning
			acc.ProvisioningState = old.ProvisioningState
		} else {
			acc.ProvisioningState = rekey.Creating
		}
		acc.SKU, acc.Tags, acc.ETag = sku, in.Tags, `"`+rekey.NewGUID()+`"`
		acc.SystemData.LastModifiedBy, acc.SystemData.LastModifiedAt = who.Name, a.now()
		if in.Properties != nil {
			if p := in.Properties.CustomSubDomainName; p != nil {
				acc.CustomSubDomainName = *p
			}
			if err := applyAPIProperties(acc, in.Properties.APIProperties); err != nil {
				return err
			}
			keepEmptyAPIProperties(acc, in.Properties.APIProperties)
			if p := in.Properties.PublicNetworkAccess; p != nil {
				if acc.PublicNetworkAccess = matchEnum(*p, []string{"Enabled", "Disabled"}); acc.PublicNetworkAccess == "" {
					return rekey.Errorf(rekey.Invalid, "The value of properties.publicNetworkAccess is not valid. Allowed values: Enabled, Disabled.")
				}
			}
		}
		if acc.IsQnAMaker() && acc.QnARuntimeEndpoint == "" {
			return rekey.Errorf(rekey.Invalid, "A QnAMaker account needs properties.apiProperties.qnaRuntimeEndpoint: the URL of the QnA runtime that answers generateAnswer.")
		}
		if acc.Identity, err = identityFrom(in.Identity, id.String()+"|"+acc.UID, id.Subscription); err != nil {
			return err
		}
		if created, err = tx.PutAccount(acc); err != nil {
			return err
		}
		if created {
			rekey.NoteStatus(r.Context(), http.StatusCreated)
			rekey.NoteKeySlot(r.Context(), "key1,key2") // keys set at creation
			op = a.newAccountOperation(r.Context(), acc)
			if err := tx.PutOperation(op); err != nil {
				return err
			}
			if err := a.putKeys(tx, id.SubscriptionKeys(), rekey.NewSubscriptionKey(), rekey.NewSubscriptionKey()); err != nil {
				return err
			}
			if acc.IsQnAMaker() {
				if err := a.putKeys(tx, id.EndpointKeys(), rekey.NewEndpointKey(), rekey.NewEndpointKey()); err != nil {
					return err
				}
			}
		}
		out = acc
		return nil
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		a.Wake()
		a.accountPollingHeaders(w, r, out, op)
		status = http.StatusCreated
	}
	w.Header().Set("ETag", out.ETag)
	return encode(w, status, a.accountOut(r, out))
}

// putKeys seals and stores both slots of an owner.
func (a *api) putKeys(tx rekey.Tx, owner, primary, secondary string) error {
	for slot, v := range map[rekey.Slot]string{rekey.Primary: primary, rekey.Secondary: secondary} {
		if _, err := tx.PutKey(a.Keyring.Rotate(owner, slot, v, a.now(), 0)); err != nil {
			return err
		}
	}
	return nil
}

// handleAccountPatch handles PATCH …/accounts/{accountName}: tags, sku,
// identity and properties, synchronously (200).
func (a *api) handleAccountPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var in accountIn
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	sku, err := tagsAndSKU(in.Tags, in.SKU)
	if err != nil {
		return err
	}
	if err := rekey.CheckGracePeriod("tags", in.Tags); err != nil {
		return err
	}
	who := rekey.PrincipalFrom(r.Context())
	var out *rekey.Account
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		acc, err := tx.Account(id)
		if err != nil {
			return err
		}
		if in.Kind != nil && !strings.EqualFold(*in.Kind, acc.Kind) {
			return rekey.Errorf(rekey.Conflict, "The kind of account '%s' is '%s' and cannot be changed.", acc.ID.Name, acc.Kind)
		}
		if in.Tags != nil {
			acc.Tags = in.Tags
		}
		if sku != nil {
			acc.SKU = sku
		}
		if in.Identity != nil {
			if acc.Identity, err = identityFrom(in.Identity, id.String()+"|"+acc.UID, id.Subscription); err != nil {
				return err
			}
		}
		if in.Properties != nil {
			if err := applyAPIProperties(acc, in.Properties.APIProperties); err != nil {
				return err
			}
			if p := in.Properties.PublicNetworkAccess; p != nil {
				if acc.PublicNetworkAccess = matchEnum(*p, []string{"Enabled", "Disabled"}); acc.PublicNetworkAccess == "" {
					return rekey.Errorf(rekey.Invalid, "The value of properties.publicNetworkAccess is not valid. Allowed values: Enabled, Disabled.")
				}
			}
		}
		acc.ETag = `"` + rekey.NewGUID() + `"`
		acc.SystemData.LastModifiedBy, acc.SystemData.LastModifiedAt = who.Name, a.now()
		out = acc
		_, err = tx.PutAccount(acc)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", out.ETag)
	return encode(w, http.StatusOK, a.accountOut(r, out))
}

// handleAccountGet handles GET …/accounts/{accountName}.
func (a *api) handleAccountGet(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var acc *rekey.Account
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { acc, err = tx.Account(id); return err }); err != nil {
		return err
	}
	w.Header().Set("ETag", acc.ETag) // as Azure sends it with the body's etag
	return encode(w, http.StatusOK, a.accountOut(r, acc))
}

// handleAccountDelete handles DELETE …/accounts/{accountName}: the account
// and all its keys go at once (200); 204 when there was nothing to delete.
func (a *api) handleAccountDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	return deleted(w, a.Store.Update(r.Context(), func(tx rekey.Tx) error { return tx.DeleteAccount(id) }))
}

// handleAccountList handles GET …/accounts by resource group or
// subscription, in pages of maxPageSize continued by $skip.
func (a *api) handleAccountList(w http.ResponseWriter, r *http.Request) error {
	sub, rg := r.PathValue("subscriptionId"), r.PathValue("resourceGroupName")
	if err := checkScope(sub, rg); err != nil {
		return err
	}
	pg, err := readPage(r.URL.Query(), "", maxPageSize)
	if err != nil {
		return err
	}
	var list []*rekey.Account
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { list, err = tx.Accounts(sub, rg); return err }); err != nil {
		return err
	}
	list, next := pageOf(list, pg)
	out := struct {
		Value    []accountJSON `json:"value"`
		NextLink *string       `json:"nextLink,omitempty"`
	}{Value: []accountJSON{}, NextLink: a.nextLink(r, next)}
	for _, acc := range list {
		out.Value = append(out.Value, a.accountOut(r, acc))
	}
	return encode(w, http.StatusOK, out)
}

// accountKeys opens an account's subscription keys.
func (a *api) accountKeys(tx rekey.Tx, id rekey.AccountID) (accountKeysJSON, error) {
	stored, err := tx.Keys(id.SubscriptionKeys())
	if err != nil {
		return accountKeysJSON{}, err
	}
	pair, err := a.Keyring.OpenPair(stored)
	return accountKeysJSON{Key1: pair.Primary, Key2: pair.Secondary}, err
}

// handleAccountListKeys handles POST …/accounts/{accountName}/listKeys.
func (a *api) handleAccountListKeys(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	rekey.NoteKeySlot(r.Context(), "key1,key2")
	var keys accountKeysJSON
	err = a.Store.View(r.Context(), func(tx rekey.Tx) error {
		if _, err := tx.Account(id); err != nil {
			return err
		}
		keys, err = a.accountKeys(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, keys)
}

// handleAccountRegenerateKey handles POST …/accounts/{accountName}/regenerateKey:
// {"keyName":"Key1"|"Key2"} replaces that key at once and answers both.
func (a *api) handleAccountRegenerateKey(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var in struct {
		KeyName *string `json:"keyName"`
	}
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return err
	}
	if in.KeyName == nil {
		return rekey.Errorf(rekey.Invalid, "The property 'keyName' is required. Allowed values: Key1, Key2.")
	}
	var slot rekey.Slot
	switch strings.ToLower(*in.KeyName) {
	case "key1":
		slot = rekey.Primary
	case "key2":
		slot = rekey.Secondary
	default:
		return rekey.Errorf(rekey.Invalid, "The keyName '%s' is not valid. Allowed values: Key1, Key2.", rekey.Clip(*in.KeyName, 60))
	}
	rekey.NoteKeySlot(r.Context(), strings.ToLower(*in.KeyName))
	var keys accountKeysJSON
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		if _, err := tx.Account(id); err != nil {
			return err
		}
		// Subscription keys authenticate the authoring API, which honours
		// no grace period: the replaced key is dropped at once.
		if _, err := tx.PutKey(a.Keyring.Rotate(id.SubscriptionKeys(), slot, rekey.NewSubscriptionKey(), a.now(), 0)); err != nil {
			return err
		}
		keys, err = a.accountKeys(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, keys)
}
