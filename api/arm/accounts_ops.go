package arm

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// Account creation is asynchronous, as Azure's is: the PUT commits the
// account as Creating together with an operation row, answers 201 with an
// Azure-AsyncOperation URL, and the ops runner flips the account to
// Succeeded once the operation is due (after --operation-delay).

// accountOperationVersion is the api-version Azure puts in every account
// Azure-AsyncOperation URL, whatever the request's own (recorded at
// 2023-05-01 and at 2026-05-15-preview alike).
const accountOperationVersion = "2017-04-18"

// newAccountOperation returns the create operation of acc. Its id is a
// bare GUID, as Azure's are.
func (a *api) newAccountOperation(ctx context.Context, acc *rekey.Account) *rekey.Operation {
	op := a.newOperation(ctx, rekey.OpCreateAccount, acc.ID.String(), acc.ID.Key(), acc.ID.Subscription, acc.Location)
	op.ID = rekey.NewGUID()
	return op
}

// accountOperationPath is the subscription-scoped path of an account
// operation. location keeps the caller's capitals, as Azure's URL does.
func accountOperationPath(subscription, location, id string) string {
	return "/subscriptions/" + subscription + "/providers/" + rekey.NamespaceCS + "/locations/" + location + "/operationResults/" + id
}

// accountPollingHeaders points the caller at the operation's status.
// Azure sends no retry hint; rekey sends Retry-After and Retry-After-Ms
// so SDK pollers do not fall back to their 30-second default.
func (a *api) accountPollingHeaders(w http.ResponseWriter, r *http.Request, acc *rekey.Account, op *rekey.Operation) {
	path := accountOperationPath(acc.ID.Subscription, strings.ReplaceAll(acc.Location, " ", ""), op.ID)
	w.Header().Set("Azure-AsyncOperation", a.absURL(r, path, url.Values{"api-version": {accountOperationVersion}}))
	a.retryHints(w, op)
}

type accountOperationJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Status    string       `json:"status"`
	StartTime string       `json:"startTime"`
	EndTime   string       `json:"endTime,omitempty"`
	Error     *errorDetail `json:"error,omitempty"`
}

// handleAccountOperation handles GET /subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/{location}/operationResults/{operationId}:
// 200 with {id, name, status, startTime, endTime}. While the account is
// being created the status is "Creating", as Azure's is; then Succeeded,
// or Failed with an error when the account was deleted meanwhile.
func (a *api) handleAccountOperation(w http.ResponseWriter, r *http.Request) error {
	op, err := a.operation(r)
	if err != nil {
		return err
	}
	if op.Kind != rekey.OpCreateAccount {
		return errWire(http.StatusNotFound, "OperationNotFound", "The operation '"+rekey.Clip(op.ID, 60)+"' was not found.")
	}
	const stamp = "2006-01-02T15:04:05Z" // whole seconds, as recorded
	body := accountOperationJSON{
		ID:   accountOperationPath(op.Subscription, r.PathValue("location"), op.ID),
		Name: op.ID, Status: string(op.Status), StartTime: op.CreatedAt.UTC().Truncate(time.Second).Format(stamp),
	}
	switch {
	case op.Status == rekey.OpInProgress:
		body.Status = string(rekey.Creating)
		a.retryHints(w, op)
	default:
		body.EndTime = op.EndedAt.UTC().Truncate(time.Second).Format(stamp)
	}
	if op.Error != nil {
		_, d := status(&rekey.Error{Code: op.Error.Code, Message: op.Error.Message})
		body.Error = &d
	}
	return encode(w, http.StatusOK, body)
}
