package rekey

import (
	"context"
	"time"
)

// AuditRecord is one entry of the audit log: who did what to which
// resource, and how it ended. It never holds a key, token or secret: the
// key slot names which key, never its value.
//
// A change's record is appended in the same transaction as the change
// (so an acknowledged rotation always has its record); a refused or
// failed request, and a read of keys or tokens, is appended after the
// answer.
type AuditRecord struct {
	// Seq is assigned by AppendAudit; it orders records and pages them.
	Seq  int64
	Time time.Time
	// PrincipalID is the caller's object id ("admin" for the admin
	// token); AppID its client id, when it is a service principal; and
	// PrincipalName its display name.
	PrincipalID   string
	AppID         string
	PrincipalName string
	// Action is the Azure action the request performs, as role
	// definitions name it, e.g.
	// Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action.
	Action     string
	ResourceID string
	// KeySlot is the slot read or changed ("primary", "secondary", a QnA
	// key type, an account's "key1"/"key2"), "primary,secondary" when a
	// request touches both, or "".
	KeySlot string
	// Status is the HTTP status answered; ErrorCode the dialect's wire
	// error code of a 4xx or 5xx answer.
	Status        int
	ErrorCode     string
	RequestID     string
	CorrelationID string
	ClientAddress string
	UserAgent     string
}

// AuditFilter selects audit records. Zero fields select everything.
type AuditFilter struct {
	Since time.Time // records at or after
	Until time.Time // records before
	// Resource matches a record's ResourceID case-insensitively, and the
	// resources below it: a workspace's id selects its endpoints too.
	Resource string
	// Principal matches PrincipalID, AppID or PrincipalName,
	// case-insensitively.
	Principal string
	// Action matches case-insensitively; a "*" at its start or end
	// matches any run of characters there ("*/listKeys/action",
	// "Microsoft.CognitiveServices/*"). There is no other wildcard.
	Action string
	// Before, when not 0, selects records with a Seq below it: the
	// continuation of a previous page.
	Before int64
	// Limit is the most records returned; 0 or less means
	// DefaultAuditPage.
	Limit int
}

// Audit paging limits.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// DefaultAuditRetention is how long audit records are kept unless
// configured otherwise.
const DefaultAuditRetention = 90 * 24 * time.Hour

type auditKey struct{}

// AuditNote is what the handlers of a request tell the audit log beyond
// the request itself: who the caller turned out to be, the action and
// resource the route names, the key slot touched and, for a change, the
// status its success answers. The audit middleware puts one in the
// request context before authentication; the dialects fill it in.
type AuditNote struct {
	Principal Principal
	Action    Action
	Resource  string
	KeySlot   string
	// Status is the status a successful change answers, for the record
	// written in the change's transaction; 0 means 200.
	Status int
	// Read marks a GET that reads keys (QnA's endpointkeys): it is
	// recorded although GETs are not.
	Read bool
}

// WithAuditNote returns ctx carrying n.
func WithAuditNote(ctx context.Context, n *AuditNote) context.Context {
	return context.WithValue(ctx, auditKey{}, n)
}

// AuditNoteFrom returns the request's note, or nil outside an audited
// request.
func AuditNoteFrom(ctx context.Context) *AuditNote {
	n, _ := ctx.Value(auditKey{}).(*AuditNote)
	return n
}

// NoteRequest records the authenticated caller, the action and the
// resource acted on.
func NoteRequest(ctx context.Context, p Principal, a Action, resource string) {
	if n := AuditNoteFrom(ctx); n != nil {
		n.Principal, n.Action, n.Resource = p, a, resource
	}
}

// NoteKeySlot records which key slot the request reads or changes.
func NoteKeySlot(ctx context.Context, slot string) {
	if n := AuditNoteFrom(ctx); n != nil {
		n.KeySlot = slot
	}
}

// NoteKeyRead marks a GET that reads keys, so that it is recorded.
func NoteKeyRead(ctx context.Context, slot string) {
	if n := AuditNoteFrom(ctx); n != nil {
		n.KeySlot, n.Read = slot, true
	}
}

// NoteStatus records the status a successful change answers, so that the
// record written in the change's transaction carries it. Call it inside
// the Update that makes the change.
func NoteStatus(ctx context.Context, status int) {
	if n := AuditNoteFrom(ctx); n != nil {
		n.Status = status
	}
}

// BothSlots is the key slot of a request that reads or sets both keys.
const BothSlots = "primary,secondary"

// QnA Maker's data actions for its authoring API's key operations, as
// Cognitive Services names them; the audit log records them.
const (
	ActionQnAKeysRead      Action = "Microsoft.CognitiveServices/accounts/QnAMaker/endpointkeys/read"
	ActionQnAKeysRefresh   Action = "Microsoft.CognitiveServices/accounts/QnAMaker/endpointkeys/refreshkeys/action"
	ActionQnASettingsRead  Action = "Microsoft.CognitiveServices/accounts/QnAMaker/endpointsettings/read"
	ActionQnASettingsWrite Action = "Microsoft.CognitiveServices/accounts/QnAMaker/endpointsettings/write"
)
