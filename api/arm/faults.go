package arm

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/fault"
)

// injectedFailure answers a request that a Failed fault (package fault)
// caught, in place of its handler, so that nothing the request asked for
// takes effect. A request that would start a long-running operation is
// accepted as usual (201 for a PUT, 202 otherwise, with the same polling
// headers) with an operation that the runner ends Failed with the fault's
// code and message; the resource, and for regenerateKeys the key, stay as
// they were. That is the honest reading of a Failed operation: had the
// handler run, regenerateKeys would have committed the new key before the
// 202, and a Failed status would then lie. Any other request fails at
// once with the fault's status and code.
func (a *api) injectedFailure(w http.ResponseWriter, r *http.Request, f fault.Failure) error {
	if !startsOperation(r) {
		return errWire(f.Status, f.Code, f.Message)
	}
	id, err := endpointID(r)
	if err != nil {
		return err
	}
	location := "global"
	err = a.Store.View(r.Context(), func(tx rekey.Tx) error {
		if e, err := tx.Endpoint(id); err == nil {
			location = e.Location
		} else if ws, err := tx.Workspace(id.Workspace); err == nil {
			location = ws.Location
		}
		return nil
	})
	if err != nil {
		return err
	}
	op := a.newOperation(r.Context(), rekey.OpInjectedFailure, strings.TrimSuffix(r.URL.Path, "/regenerateKeys"), "", id.Workspace.Subscription, location)
	op.Error = &rekey.OperationError{Code: rekey.Internal, Message: f.Message, Wire: f.Code}
	if err := a.Store.Update(r.Context(), func(tx rekey.Tx) error {
		status := http.StatusAccepted
		if r.Method == http.MethodPut {
			status = http.StatusCreated
		}
		rekey.NoteStatus(r.Context(), status)
		return tx.PutOperation(op)
	}); err != nil {
		return err
	}
	a.Wake()
	if r.Method == http.MethodPut {
		a.pollingHeaders(w, r, op, false)
		w.Header().Set("Location", a.absURL(r, r.URL.Path, url.Values{"api-version": {apiVersion(r)}}))
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	a.pollingHeaders(w, r, op, true)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// startsOperation reports whether r's route is one of Azure ML's
// long-running ones: PUT, PATCH or DELETE of an endpoint or deployment,
// and regenerateKeys.
func startsOperation(r *http.Request) bool {
	p := r.Pattern
	switch r.Method {
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return strings.HasSuffix(p, "/{endpointName}") || strings.HasSuffix(p, "/{deploymentName}")
	case http.MethodPost:
		return strings.HasSuffix(p, "/regenerateKeys")
	}
	return false
}

// operationError is the ARM error detail of a failed operation: its
// dialect wire code when an injected fault chose one.
func operationError(e *rekey.OperationError) errorDetail {
	if e.Wire != "" {
		return errorDetail{Code: e.Wire, Message: e.Message}
	}
	_, d := status(&rekey.Error{Code: e.Code, Message: e.Message})
	return d
}
