package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/rekey-dev/rekey"
)

// TokenVerifier checks the Microsoft Entra-style access tokens that
// endpoints with authMode AADToken take: tokens of rekey's token service
// for https://ml.azure.com. cmd/rekey adapts the token service's verifier,
// so the gateway needs no JOSE library and no store.
//
// VerifyToken must not read a store per call: it runs on every scoring
// request. A refused token is a rekey.Unauthorized error whose message
// says why (expired, wrong audience, wrong issuer, bad signature) and
// never repeats the token; any other error is the verifier's own failure.
// until is the last instant the token is accepted.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (until time.Time, err error)
}

// Authorizer decides whether the holder of a verified AADToken token may
// score an endpoint: Azure RBAC's
// Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action
// over the endpoint. cmd/rekey wires package authz in; it caches its
// decisions, so this runs on every scoring request without a store read.
// A nil Config.Authz lets every verified token score.
type Authorizer interface {
	// AuthorizeScore reports whether token's principal may score the
	// endpoint whose resource id (lower-cased, Endpoint.ID.Key()) is
	// endpoint, and its refusal message when not.
	AuthorizeScore(ctx context.Context, token, endpoint string) (ok bool, msg string, err error)
}

// Messages of AADToken refusals. Azure ML's front end starts them with
// "aad_token_auth_access_denied".
const (
	aadDenied        = "aad_token_auth_access_denied: "
	aadMissingToken  = aadDenied + "send 'Authorization: Bearer <token>' with an access token for https://ml.azure.com from this server's token service (scope https://ml.azure.com/.default)."
	aadNoVerifier    = aadDenied + "this gateway has no token service to verify tokens with."
	aadExpiredMidway = aadDenied + "the access token expired while the request was in progress: get a new token and send the request again."
)

// errTokenExpired cancels a request admitted with an AADToken token when
// that token expires, so a long stream does not outlive its credential;
// errAMLTokenExpired does the same for an AMLToken.
var (
	errTokenExpired    = errors.New("the request's access token expired")
	errAMLTokenExpired = errors.New("the request's AMLToken expired")
)

// amlExpiredMidway is the 401 of a request whose AMLToken expired before
// its upstream answered.
const amlExpiredMidway = "aml_token_auth_access_denied: the token expired while the request was in progress: get a new token from the endpoint's token operation and send the request again."

// expiredMessage is the 401 message of a request whose token expired
// while it was in progress, by the cause its context was ended with;
// "" when its token did not expire.
func expiredMessage(cause error) string {
	switch {
	case errors.Is(cause, errTokenExpired):
		return aadExpiredMidway
	case errors.Is(cause, errAMLTokenExpired):
		return amlExpiredMidway
	}
	return ""
}

// verifyAAD checks an AADToken endpoint's bearer token and, with an
// Authorizer, the token's principal's score/action over the endpoint
// (its Key()). Status 200: the token is accepted until until; 401: it is
// refused, and msg says why; 403: its principal may not score here;
// another status: the verifier or the authorizer failed.
func (g *Gateway) verifyAAD(ctx context.Context, token, endpoint string) (until time.Time, status int, msg string) {
	switch {
	case token == "":
		return time.Time{}, http.StatusUnauthorized, aadMissingToken
	case g.cfg.Tokens == nil:
		return time.Time{}, http.StatusUnauthorized, aadNoVerifier
	}
	until, err := g.cfg.Tokens.VerifyToken(ctx, token)
	switch {
	case err == nil && g.cfg.Authz != nil:
		ok, why, err := g.cfg.Authz.AuthorizeScore(ctx, token, endpoint)
		switch {
		case err != nil:
			g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "gateway: authorizing an access token", slog.String("err", err.Error()))
			return time.Time{}, http.StatusServiceUnavailable, "The gateway could not authorize the access token now; retry shortly."
		case !ok:
			return time.Time{}, http.StatusForbidden, aadDenied + why
		}
		return until, http.StatusOK, ""
	case err == nil:
		return until, http.StatusOK, ""
	case rekey.ErrorCode(err) == rekey.Unauthorized:
		return time.Time{}, http.StatusUnauthorized, aadDenied + rekey.ErrorMessage(err)
	}
	g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "gateway: verifying an access token", slog.String("err", err.Error()))
	return time.Time{}, http.StatusServiceUnavailable, "The gateway could not verify the access token now; retry shortly."
}

// untilExpiry bounds r by its token's expiry; cause says which token.
func untilExpiry(r *http.Request, until time.Time, cause error) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithDeadlineCause(r.Context(), until, cause)
	return r.WithContext(ctx), cancel
}
