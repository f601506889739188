package arm

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// newOperation returns an InProgress operation on the resource, due after
// the configured artificial delay, started by the caller in ctx.
func (a *api) newOperation(ctx context.Context, kind rekey.OperationKind, resource, resourceKey, subscription, location string) *rekey.Operation {
	now := a.now()
	return &rekey.Operation{
		ID: rekey.NewOperationID(), Kind: kind, Status: rekey.OpInProgress,
		Resource: resource, ResourceKey: resourceKey, Subscription: subscription,
		Location: normLocation(location), CreatedAt: now, NotBefore: now.Add(a.OperationDelay),
		StartedBy: rekey.PrincipalFrom(ctx).ID,
	}
}

// operationPath is the subscription-scoped path of an operation URL, so it
// keeps answering after the resource is gone.
func operationPath(op *rekey.Operation, kind string) string {
	return "/subscriptions/" + op.Subscription + "/providers/" + rekey.NamespaceML + "/locations/" + op.Location + "/" + kind + "/" + op.ID
}

// pollingHeaders sets the absolute Azure-AsyncOperation URL (and Location,
// when withLocation) with the request's api-version, and the retry hints.
func (a *api) pollingHeaders(w http.ResponseWriter, r *http.Request, op *rekey.Operation, withLocation bool) {
	q := url.Values{"api-version": {apiVersion(r)}}
	w.Header().Set("Azure-AsyncOperation", a.absURL(r, operationPath(op, "mfeOperationsStatus"), q))
	if withLocation {
		w.Header().Set("Location", a.absURL(r, operationPath(op, "mfeOperationResults"), q))
	}
	w.Header().Set("x-ms-async-operation-timeout", "PT1H")
	a.retryHints(w, op)
}

// retryHints tells pollers when to look again. Retry-After is whole
// seconds and never 0 (both SDKs treat 0 as absent and wait 30 s);
// Retry-After-Ms, which the Go SDK prefers, lets an instant operation
// finish in milliseconds.
func (a *api) retryHints(w http.ResponseWriter, op *rekey.Operation) {
	left := max(op.NotBefore.Sub(a.now()), 0)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(left.Seconds())))))
	// A few milliseconds more than the remaining time, so the runner has
	// finished when the client looks.
	w.Header().Set("Retry-After-Ms", strconv.FormatInt((left+5*time.Millisecond).Milliseconds(), 10))
}

// operation loads the operation named in r's path, checking that the URL's
// subscription and location are the operation's own.
func (a *api) operation(r *http.Request) (*rekey.Operation, error) {
	sub, id := r.PathValue("subscriptionId"), r.PathValue("operationId")
	if err := checkScope(sub, ""); err != nil {
		return nil, err
	}
	var op *rekey.Operation
	err := a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { op, err = tx.Operation(id); return err })
	if err == nil && (!strings.EqualFold(op.Subscription, sub) || !strings.EqualFold(op.Location, r.PathValue("location"))) {
		err = rekey.Errorf(rekey.NotFound, "The operation '%s' was not found.", rekey.Clip(id, 60))
	}
	if rekey.ErrorCode(err) == rekey.NotFound {
		return nil, errWire(http.StatusNotFound, "OperationNotFound", rekey.ErrorMessage(err))
	}
	return op, err
}

type operationStatusJSON struct {
	ID              string       `json:"id"`
	Name            string       `json:"name"`
	Status          string       `json:"status"`
	StartTime       time.Time    `json:"startTime"`
	EndTime         string       `json:"endTime"`
	PercentComplete float64      `json:"percentComplete"`
	Error           *errorDetail `json:"error,omitempty"`
}

// Azure ML's status resource while an operation runs, as recorded from
// the service: status "Updating" (not ARM's usual "InProgress") and .NET's
// zero DateTimeOffset as endTime. Both SDKs' pollers treat any status
// other than Succeeded, Failed and Canceled as still running.
const (
	runningStatus  = "Updating"
	runningEndTime = "0001-01-01T00:00:00+00:00"
)

// handleOperationStatus handles GET …/locations/{location}/mfeOperationsStatus/{operationId}:
// always 200 while the operation exists, with status Updating while it
// runs, then Succeeded or Failed (and its error).
func (a *api) handleOperationStatus(w http.ResponseWriter, r *http.Request) error {
	op, err := a.operation(r)
	if err != nil {
		return err
	}
	body := operationStatusJSON{ID: operationPath(op, "mfeOperationsStatus"), Name: op.ID, StartTime: op.CreatedAt.UTC()}
	if op.Status.Terminal() {
		body.Status, body.EndTime, body.PercentComplete = string(op.Status), op.EndedAt.UTC().Format(time.RFC3339Nano), 100
	} else {
		body.Status, body.EndTime = runningStatus, runningEndTime
		a.retryHints(w, op)
	}
	if op.Error != nil {
		d := operationError(op.Error)
		body.Error = &d
	}
	return encode(w, http.StatusOK, body)
}

// handleOperationResult handles GET …/locations/{location}/mfeOperationResults/{operationId}:
// 202 while running; when done, what the synchronous call would have
// answered (204 for a delete, 200 for an action, the resource for a
// create), or the error status and envelope when it failed.
func (a *api) handleOperationResult(w http.ResponseWriter, r *http.Request) error {
	op, err := a.operation(r)
	if err != nil {
		return err
	}
	switch op.Status {
	case rekey.OpInProgress:
		w.Header().Set("Location", a.absURL(r, r.URL.Path, r.URL.Query()))
		a.retryHints(w, op)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case rekey.OpFailed, rekey.OpCanceled:
		code := rekey.Internal
		msg := "The operation failed."
		if op.Error != nil && op.Error.Wire != "" {
			return errWire(http.StatusInternalServerError, op.Error.Wire, op.Error.Message)
		}
		if op.Error != nil {
			code, msg = op.Error.Code, op.Error.Message
		}
		return &rekey.Error{Code: code, Message: msg}
	}
	switch op.Kind {
	case rekey.OpDeleteEndpoint, rekey.OpDeleteDeployment:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case rekey.OpPutDeployment:
		id, err := rekey.ParseDeploymentID(op.Resource)
		if err != nil {
			return err
		}
		var d *rekey.Deployment
		err = a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { d, err = tx.Deployment(id); return err })
		if err == nil {
			return encode(w, http.StatusOK, a.deploymentOut(r, d))
		}
		if rekey.ErrorCode(err) != rekey.NotFound {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case rekey.OpCreateEndpoint:
		id, err := rekey.ParseEndpointID(op.Resource)
		if err != nil {
			return err
		}
		var e *rekey.Endpoint
		err = a.Store.View(r.Context(), func(tx rekey.Tx) (err error) { e, err = tx.Endpoint(id); return err })
		if err == nil {
			return encode(w, http.StatusOK, a.endpointOut(r, e))
		}
		if rekey.ErrorCode(err) != rekey.NotFound {
			return err
		}
		w.WriteHeader(http.StatusNoContent) // created, then deleted since
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
