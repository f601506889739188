package rekey

import (
	"crypto/rand"
	"fmt"
	"time"
)

// OperationKind names the work an operation does once it is due.
type OperationKind string

// The operation kinds.
const (
	OpCreateEndpoint   OperationKind = "endpoint.create"     // Creating → Succeeded
	OpDeleteEndpoint   OperationKind = "endpoint.delete"     // removes the endpoint and its keys
	OpRegenerateKeys   OperationKind = "endpoint.regenerate" // the key changed at acceptance; this reports it
	OpPutDeployment    OperationKind = "deployment.put"      // Creating/Updating → Succeeded
	OpDeleteDeployment OperationKind = "deployment.delete"   // removes the deployment
	OpCreateAccount    OperationKind = "account.create"      // Creating → Succeeded
	// OpInjectedFailure stands in for a request that a fault (package
	// fault) made fail: nothing was changed, and the runner ends it Failed
	// with the Error it was written with.
	OpInjectedFailure OperationKind = "fault.failed"
)

// OperationStatus is the state of an operation, in ARM's words.
type OperationStatus string

// The operation states. Only InProgress is not terminal.
const (
	OpInProgress OperationStatus = "InProgress"
	OpSucceeded  OperationStatus = "Succeeded"
	OpFailed     OperationStatus = "Failed"
	OpCanceled   OperationStatus = "Canceled"
)

// Terminal reports whether s is a final state.
func (s OperationStatus) Terminal() bool { return s != OpInProgress }

// Operation is a durable long-running operation. It is written in the same
// transaction as the change that started it, so an acknowledged operation
// survives a crash and is finished by whichever runner starts next.
type Operation struct {
	ID           string // unguessable; "oe:" + two random GUIDs, as Azure ML's are shaped
	Kind         OperationKind
	Status       OperationStatus
	Resource     string // ARM id of the target, as the caller spelled it
	ResourceKey  string // the target's Key()
	Subscription string
	Location     string
	Error        *OperationError // set when Status is Failed or Canceled
	CreatedAt    time.Time
	NotBefore    time.Time // the runner does not complete it earlier (artificial duration)
	EndedAt      time.Time // zero until terminal
	// StartedBy is the id of the principal whose request started it: it
	// may always follow the operation's URLs, whatever its roles.
	StartedBy string `json:",omitempty"`
	// LeaseOwner is the runner (one per process) that claimed the
	// operation, until LeaseUntil; another runner may claim it after.
	LeaseOwner string    `json:",omitempty"`
	LeaseUntil time.Time `json:",omitzero"`
}

// OperationRef names the long-running operation that last wrote a
// resource, with the api-version its caller used: Azure ML shows that
// operation's status URL in the resource's properties.properties.
type OperationRef struct {
	ID         string
	APIVersion string
}

// OperationError is why an operation failed: the code and message the
// synchronous call would have answered.
type OperationError struct {
	Code    Code
	Message string
	// Wire, when set, is the dialect's wire code to show instead of
	// Code's: an injected fault's chosen code ("QuotaExceeded").
	Wire string `json:",omitempty"`
}

// NewOperationID returns a fresh, unguessable operation id.
func NewOperationID() string { return "oe:" + NewGUID() + ":" + NewGUID() }

// NewGUID returns a random (version 4) GUID in its usual text form.
func NewGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rekey: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
