// Package qna serves the QnA Maker authoring API's endpoint keys and
// endpoint settings (v4.0, v5.0-preview.1, v5.0-preview.2) in QnA Maker's
// own dialect: Ocp-Apim-Subscription-Key authentication, the
// EndpointKeysDTO, and the ErrorResponse envelope.
package qna

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/reqinfo"
	"github.com/rekey-dev/rekey/throttle"
)

// Config holds what the QnA API needs.
type Config struct {
	Store   rekey.Store
	Keyring *rekey.Keyring
	Logger  *slog.Logger
	// InstalledVersion and LastStableVersion are reported in every
	// EndpointKeysDTO, as the runtime version QnA Maker would report.
	InstalledVersion, LastStableVersion string
	// Language is reported unless the account's tag "qnaLanguage" says otherwise.
	Language string
	// MaxBody limits request bodies; default 64 KiB.
	MaxBody int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Throttle refuses addresses that failed authentication too often;
	// nil throttles nothing.
	Throttle *throttle.Limiter
}

// Subscription-key failures all get this message, so a caller learns
// nothing about which keys or accounts exist.
const deniedMessage = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active QnAMaker account in the Ocp-Apim-Subscription-Key header."

const headerRequestID = "apim-request-id"

type api struct{ Config }

// New returns the QnA authoring API handler. It expects only paths for
// which IsPath is true; others get a QnA 404.
func New(cfg Config) http.Handler {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &api{cfg}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := reqinfo.ID(r.Context()) // the server's, which its log lines carry
		if id == "" {
			id = rekey.NewGUID()
		}
		w.Header().Set(headerRequestID, id)
		if err := a.serve(w, r); err != nil {
			writeError(w, r, a.Logger, err)
		}
	})
}

// serve routes one request: the path first (unknown paths are 404 for
// everyone), then the subscription key, then the operation. An address
// that failed authentication too often gets 429 before its key is
// looked at.
func (a *api) serve(w http.ResponseWriter, r *http.Request) error {
	rt, ok := parsePath(r.URL.Path)
	switch {
	case !ok || rt.version == "":
		return rekey.Errorf(rekey.NotFound, "No QnA Maker API at this path. rekey serves /qnamaker/{%s}/endpointkeys and /endpointSettings.", strings.Join(Versions, ","))
	case rt.op == opUnknown:
		return rekey.Errorf(rekey.NotFound, "The QnA Maker operation at '%s' is not served by rekey; it serves endpointkeys and endpointSettings.", rekey.Clip(r.URL.Path, 80))
	}
	reqinfo.SetOperation(r.Context(), "qnamaker "+r.Method+" "+rt.op.String())
	allowed := map[operation][]string{opEndpointKeys: {"GET"}, opEndpointKeysRefresh: {"PATCH"}, opEndpointSettings: {"GET", "PATCH"}}[rt.op]
	if !slices.Contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return &statusError{http.StatusMethodNotAllowed, "BadArgument", "The method " + rekey.Clip(r.Method, 80) + " is not allowed here. Allowed: " + strings.Join(allowed, ", ") + "."}
	}
	addr, now := throttle.Addr(r), a.Now()
	if retry, throttled := a.Throttle.Throttled(addr, now); throttled {
		w.Header().Set("Retry-After", throttle.RetryAfter(retry))
		return &statusError{http.StatusTooManyRequests, "QuotaExceeded", throttle.Message(retry)}
	}
	acc, err := a.authenticate(r)
	if rekey.ErrorCode(err) == rekey.Unauthorized {
		a.Throttle.Fail(addr, now)
	}
	if err != nil {
		return err
	}
	rekey.NoteRequest(r.Context(), keyPrincipal, rt.action(r.Method), acc.ID.String())
	switch {
	case rt.op == opEndpointKeys:
		return a.getKeys(w, r, acc)
	case rt.op == opEndpointKeysRefresh:
		return a.refreshKey(w, r, acc, rt.keyType)
	case r.Method == "GET":
		return a.getSettings(w, r, acc)
	default:
		return a.updateSettings(w, r, acc)
	}
}

// authenticate finds the QnAMaker account whose subscription key (key1 or
// key2) the request carries. Every failure is the same 401.
func (a *api) authenticate(r *http.Request) (*rekey.Account, error) {
	denied := rekey.Errorf(rekey.Unauthorized, deniedMessage)
	key := strings.TrimSpace(r.Header.Get("Ocp-Apim-Subscription-Key"))
	if key == "" || len(key) > 512 {
		return nil, denied
	}
	var acc *rekey.Account
	err := a.Store.View(r.Context(), func(tx rekey.Tx) error {
		found, err := tx.KeysByDigest(a.Keyring.Digest(key))
		if err != nil {
			return err
		}
		for _, k := range found {
			id, err := rekey.ParseAccountID(k.Resource)
			if err != nil || k.Resource != id.SubscriptionKeys() {
				continue // an endpoint key or another resource's key
			}
			if acc, err = tx.Account(id); err != nil {
				return err
			}
			return nil
		}
		return denied
	})
	if err != nil {
		if rekey.ErrorCode(err) == rekey.NotFound {
			return nil, denied
		}
		return nil, err
	}
	if !acc.IsQnAMaker() {
		return nil, denied
	}
	return acc, nil
}

// endpointKeysDTO is QnA Maker's EndpointKeysDTO.
type endpointKeysDTO struct {
	PrimaryEndpointKey   string `json:"primaryEndpointKey"`
	SecondaryEndpointKey string `json:"secondaryEndpointKey"`
	InstalledVersion     string `json:"installedVersion"`
	LastStableVersion    string `json:"lastStableVersion"`
	Language             string `json:"language"`
}

func (a *api) dto(tx rekey.Tx, acc *rekey.Account) (endpointKeysDTO, error) {
	stored, err := tx.Keys(acc.ID.EndpointKeys())
	if err != nil {
		return endpointKeysDTO{}, err
	}
	pair, err := a.Keyring.OpenPair(stored)
	lang := a.Language
	if l := acc.Tags["qnaLanguage"]; l != "" {
		lang = l
	}
	return endpointKeysDTO{pair.Primary, pair.Secondary, a.InstalledVersion, a.LastStableVersion, lang}, err
}

// getKeys handles GET /qnamaker/{version}/endpointkeys.
func (a *api) getKeys(w http.ResponseWriter, r *http.Request, acc *rekey.Account) error {
	rekey.NoteKeyRead(r.Context(), rekey.BothSlots)
	var out endpointKeysDTO
	if err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { out, err = a.dto(tx, acc); return err }); err != nil {
		return err
	}
	return encode(w, http.StatusOK, out)
}

// refreshKey handles PATCH /qnamaker/{version}/endpointkeys/{keyType}: a
// fresh random key in that slot, answered with the whole DTO. The body is
// ignored; it may be empty with no Content-Type (the Python client), JSON,
// or application/octet-stream (the v4.0 example).
func (a *api) refreshKey(w http.ResponseWriter, r *http.Request, acc *rekey.Account, keyType string) error {
	var slot rekey.Slot
	switch strings.ToLower(keyType) {
	case "primarykey":
		slot = rekey.Primary
	case "secondarykey":
		slot = rekey.Secondary
	default:
		return rekey.Errorf(rekey.Invalid, "The keyType '%s' is not valid. Use PrimaryKey or SecondaryKey.", rekey.Clip(keyType, 80))
	}
	if err := a.checkContentType(r, "application/json", "application/octet-stream"); err != nil {
		return err
	}
	if _, err := a.readBody(w, r); err != nil {
		return err
	}
	rekey.NoteKeySlot(r.Context(), string(slot))
	var out endpointKeysDTO
	err := a.Store.Update(r.Context(), func(tx rekey.Tx) (err error) {
		// The grace period is read in this transaction, so the replaced
		// key's window is fixed by the tag in force at this rotation.
		cur, err := tx.Account(acc.ID)
		if err != nil {
			return err
		}
		if _, err := tx.PutKey(a.Keyring.Rotate(acc.ID.EndpointKeys(), slot, rekey.NewEndpointKey(), a.Now().UTC(), cur.GracePeriod())); err != nil {
			return err
		}
		out, err = a.dto(tx, acc)
		return err
	})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, out)
}

type settingsDTO struct {
	ActiveLearning *struct {
		Enable *string `json:"enable"`
	} `json:"activeLearning"`
}

// getSettings handles GET /qnamaker/{version}/endpointSettings.
func (a *api) getSettings(w http.ResponseWriter, r *http.Request, acc *rekey.Account) error {
	enable := "False"
	if acc.ActiveLearning {
		enable = "True"
	}
	return encode(w, http.StatusOK, map[string]any{"activeLearning": map[string]string{"enable": enable}})
}

// updateSettings handles PATCH /qnamaker/{version}/endpointSettings with
// {"activeLearning":{"enable":"True"|"False"}}, answering 204 as the
// specification says.
func (a *api) updateSettings(w http.ResponseWriter, r *http.Request, acc *rekey.Account) error {
	if err := a.checkContentType(r, "application/json"); err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var in settingsDTO
	if err := decodeStrict(body, &in); err != nil {
		return err
	}
	if in.ActiveLearning == nil || in.ActiveLearning.Enable == nil {
		return rekey.Errorf(rekey.Invalid, `The body must set activeLearning.enable, e.g. {"activeLearning":{"enable":"True"}}.`)
	}
	var enable bool
	switch strings.ToLower(*in.ActiveLearning.Enable) {
	case "true":
		enable = true
	case "false":
	default:
		return rekey.Errorf(rekey.Invalid, `activeLearning.enable must be the string "True" or "False".`)
	}
	err = a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		cur, err := tx.Account(acc.ID)
		if err != nil {
			return err
		}
		cur.ActiveLearning = enable
		rekey.NoteStatus(r.Context(), http.StatusNoContent)
		_, err = tx.PutAccount(cur)
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkContentType accepts no Content-Type (with or without a body) or
// one of the allowed media types.
func (a *api) checkContentType(r *http.Request, allowed ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	for _, m := range allowed {
		if err == nil && mt == m {
			return nil
		}
	}
	return &statusError{http.StatusUnsupportedMediaType, "BadArgument", "The Content-Type '" + rekey.Clip(ct, 80) + "' is not supported here. Send " + strings.Join(allowed, " or ") + ", or no body."}
}

// readBody reads at most MaxBody bytes of the body.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, rekey.Errorf(rekey.TooLarge, "The request body is larger than the limit of %d bytes.", a.MaxBody)
	}
	if err != nil {
		return nil, rekey.Errorf(rekey.Invalid, "The request body could not be read: it was cut off or timed out.")
	}
	return body, nil
}
