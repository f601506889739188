package arm

import (
	"net/http"

	"github.com/rekey-dev/rekey"
)

// requireAuthMode refuses an operation that needs another auth mode.
func requireAuthMode(e *rekey.Endpoint, want rekey.AuthMode, op, instead string) error {
	if e.AuthMode != want {
		return rekey.Errorf(rekey.Invalid, "The endpoint '%s' has authMode '%s'; %s is only available for endpoints with authMode '%s'. %s",
			e.ID.Name, e.AuthMode, op, want, instead)
	}
	return nil
}

// handleListKeys handles POST …/onlineEndpoints/{endpointName}/listKeys.
func (a *api) handleListKeys(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	rekey.NoteKeySlot(r.Context(), rekey.BothSlots)
	var pair rekey.KeyPair
	err = a.Store.View(r.Context(), func(tx rekey.Tx) error {
		e, err := a.liveEndpoint(tx, id)
		if err != nil {
			return err
		}
		if err := requireAuthMode(e, rekey.AuthKey, "listKeys", "Use the token operation for AMLToken endpoints."); err != nil {
			return err
		}
		stored, err := tx.Keys(id.Key())
		if err != nil {
			return err
		}
		pair, err = a.Keyring.OpenPair(stored)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, authKeysJSON{PrimaryKey: &pair.Primary, SecondaryKey: &pair.Secondary})
}

// handleRegenerateKeys handles POST …/onlineEndpoints/{endpointName}/regenerateKeys.
//
// The new key is committed before the 202 is sent, in the same transaction
// as the operation that reports it: from the acknowledgement on, the old
// key is gone. keyValue follows CONTRACT.md §0: absent, empty or equal to
// the slot's current key means "generate a fresh random key"; any other
// value is set verbatim after validation.
func (a *api) handleRegenerateKeys(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	slot, keyValue, err := a.readRegenerate(w, r)
	if err != nil {
		return err
	}
	rekey.NoteKeySlot(r.Context(), string(slot))
	var op *rekey.Operation
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		e, err := a.liveEndpoint(tx, id)
		if err != nil {
			return err
		}
		if err := requireAuthMode(e, rekey.AuthKey, "regenerateKeys", "Tokens of AMLToken endpoints expire by themselves."); err != nil {
			return err
		}
		stored, err := tx.Keys(id.Key())
		if err != nil {
			return err
		}
		next, err := a.nextKey(stored, slot, keyValue)
		if err != nil {
			return err
		}
		// The replaced key's validity is fixed here, with the grace
		// period in force now; a later change of the property does not
		// reach back to it.
		if _, err := tx.PutKey(a.Keyring.Rotate(id.Key(), slot, next, a.now(), e.GracePeriod())); err != nil {
			return err
		}
		op = a.newOperation(r.Context(), rekey.OpRegenerateKeys, e.ID.String(), e.ID.Key(), id.Workspace.Subscription, e.Location)
		rekey.NoteStatus(r.Context(), http.StatusAccepted)
		return tx.PutOperation(op)
	})
	if err != nil {
		return err
	}
	a.Wake()
	a.pollingHeaders(w, r, op, true)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// readRegenerate decodes a regenerateKeys body: the slot, and keyValue
// (nil when absent).
func (a *api) readRegenerate(w http.ResponseWriter, r *http.Request) (rekey.Slot, *string, error) {
	var in struct {
		KeyType  *string `json:"keyType"`
		KeyValue *string `json:"keyValue"`
	}
	if err := decode(r, w, a.MaxBody, &in); err != nil {
		return "", nil, err
	}
	if in.KeyType == nil {
		return "", nil, rekey.Errorf(rekey.Invalid, "The property 'keyType' is required. Allowed values: Primary, Secondary.")
	}
	slot, err := rekey.ParseSlot(*in.KeyType)
	return slot, in.KeyValue, err
}

// nextKey decides the new value of slot. Comparisons use digests, so the
// current keys are never compared byte by byte.
func (a *api) nextKey(stored []rekey.StoredKey, slot rekey.Slot, value *string) (string, error) {
	if value == nil || *value == "" {
		return rekey.NewKey(), nil
	}
	d := a.Keyring.Digest(*value)
	for _, sk := range stored {
		if !sk.Digest.Equal(d) {
			continue
		}
		if sk.Slot == slot {
			return rekey.NewKey(), nil // the current key: regenerate (what azure-ai-ml sends)
		}
		return "", rekey.Errorf(rekey.Invalid, "keyValue equals the endpoint's %s key. The two keys must differ, or rotation could not replace one without the other.", sk.Slot)
	}
	if err := rekey.ValidateKeyValue("keyValue", *value); err != nil {
		return "", err
	}
	return *value, nil
}

// handleToken handles POST …/onlineEndpoints/{endpointName}/token: a
// signed AMLToken for the endpoint, valid for Config.TokenLifetime.
func (a *api) handleToken(w http.ResponseWriter, r *http.Request) error {
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	var e *rekey.Endpoint
	err = a.Store.View(r.Context(), func(tx rekey.Tx) (err error) {
		e, err = a.liveEndpoint(tx, id)
		return err
	})
	if err != nil {
		return err
	}
	instead := "Endpoints with authMode 'Key' use listKeys."
	if e.AuthMode == rekey.AuthAADToken {
		instead = "Endpoints with authMode 'AADToken' take Microsoft Entra ID tokens."
	}
	if err := requireAuthMode(e, rekey.AuthAMLToken, "the token operation", instead); err != nil {
		return err
	}
	t := a.Keyring.IssueToken(e.TokenSubject(), a.now(), a.TokenLifetime)
	return encode(w, http.StatusOK, struct {
		AccessToken         string `json:"accessToken"`
		TokenType           string `json:"tokenType"`
		ExpiryTimeUTC       int64  `json:"expiryTimeUtc"`
		RefreshAfterTimeUTC int64  `json:"refreshAfterTimeUtc"`
	}{t.Value, t.Type, t.Expires.Unix(), t.RefreshAfter.Unix()})
}
