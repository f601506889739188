package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
)

// Identity is what the admin API needs of the token service.
type Identity interface {
	Tenant() string
	CreateServicePrincipal(ctx context.Context, name, appID, secret string) (identity.Credentials, error)
	ResetSecret(ctx context.Context, appID string) (identity.Credentials, error)
	RotateSigningKey(ctx context.Context) (kid string, err error)
}

// servicePrincipalJSON is a service principal as `az ad sp show` names
// its fields (a subset), plus the hint of its one secret.
type servicePrincipalJSON struct {
	AppID                  string         `json:"appId"`
	ID                     string         `json:"id"`
	DisplayName            string         `json:"displayName"`
	ServicePrincipalType   string         `json:"servicePrincipalType"`
	AppOwnerOrganizationID string         `json:"appOwnerOrganizationId"`
	CreatedDateTime        time.Time      `json:"createdDateTime"`
	PasswordCredentials    []passwordJSON `json:"passwordCredentials"`
}

type passwordJSON struct {
	Hint          string    `json:"hint"`
	StartDateTime time.Time `json:"startDateTime"`
}

func spOut(sp *rekey.ServicePrincipal, tenant string) servicePrincipalJSON {
	return servicePrincipalJSON{AppID: sp.AppID, ID: sp.ObjectID, DisplayName: sp.DisplayName, ServicePrincipalType: "Application",
		AppOwnerOrganizationID: tenant, CreatedDateTime: sp.Created.UTC(),
		PasswordCredentials: []passwordJSON{{Hint: sp.SecretHint, StartDateTime: sp.SecretCreated.UTC()}}}
}

// mountIdentity adds the service principal and signing key routes:
//
//	GET    /rekey/v1/servicePrincipals
//	POST   /rekey/v1/servicePrincipals                           {"displayName": "ci"}
//	GET    /rekey/v1/servicePrincipals/{appId}
//	DELETE /rekey/v1/servicePrincipals/{appId}
//	POST   /rekey/v1/servicePrincipals/{appId}/credentials/reset
//	POST   /rekey/v1/signingKeys/rotate
func mountIdentity(mux *http.ServeMux, store rekey.Store, id Identity, logger *slog.Logger) {
	h := func(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				writeDomainError(w, r, logger, err)
			}
		}
	}
	mux.HandleFunc("GET "+Prefix+"servicePrincipals", h(func(w http.ResponseWriter, r *http.Request) error {
		var list []*rekey.ServicePrincipal
		if err := store.View(r.Context(), func(tx rekey.Tx) (err error) { list, err = tx.ServicePrincipals(); return err }); err != nil {
			return err
		}
		out := []servicePrincipalJSON{}
		for _, sp := range list {
			out = append(out, spOut(sp, id.Tenant()))
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
		return nil
	}))
	mux.HandleFunc("POST "+Prefix+"servicePrincipals", h(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			DisplayName string `json:"displayName"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return rekey.Errorf(rekey.Invalid, "The body must be JSON: {\"displayName\": \"name\"}.")
		}
		creds, err := id.CreateServicePrincipal(r.Context(), in.DisplayName, "", "")
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, creds)
		return nil
	}))
	mux.HandleFunc("GET "+Prefix+"servicePrincipals/{appId}", h(func(w http.ResponseWriter, r *http.Request) error {
		var sp *rekey.ServicePrincipal
		if err := store.View(r.Context(), func(tx rekey.Tx) (err error) { sp, err = tx.ServicePrincipal(r.PathValue("appId")); return err }); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, spOut(sp, id.Tenant()))
		return nil
	}))
	mux.HandleFunc("DELETE "+Prefix+"servicePrincipals/{appId}", h(func(w http.ResponseWriter, r *http.Request) error {
		if err := store.Update(r.Context(), func(tx rekey.Tx) error { return tx.DeleteServicePrincipal(r.PathValue("appId")) }); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST "+Prefix+"servicePrincipals/{appId}/credentials/reset", h(func(w http.ResponseWriter, r *http.Request) error {
		creds, err := id.ResetSecret(r.Context(), r.PathValue("appId"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, creds)
		return nil
	}))
	mux.HandleFunc("POST "+Prefix+"signingKeys/rotate", h(func(w http.ResponseWriter, r *http.Request) error {
		kid, err := id.RotateSigningKey(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
		return nil
	}))
}

// domainStatus maps a domain error to the admin API's status and code.
var domainStatus = map[rekey.Code]struct {
	status int
	code   string
}{
	rekey.Invalid:  {http.StatusBadRequest, "BadArgument"},
	rekey.NotFound: {http.StatusNotFound, "NotFound"},
	rekey.Conflict: {http.StatusConflict, "Conflict"},
	// The database is away: retry (writeError adds Retry-After).
	rekey.Unavailable: {http.StatusServiceUnavailable, "ServiceUnavailable"},
}

func writeDomainError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var re *rekey.Error
	if errors.As(err, &re) {
		if c, ok := domainStatus[re.Code]; ok {
			writeError(w, c.status, c.code, re.Message)
			return
		}
	}
	logger.ErrorContext(r.Context(), "admin API", "err", err)
	writeError(w, http.StatusInternalServerError, "InternalServerError", "An internal error occurred.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
