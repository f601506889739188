package audit

import (
	"time"

	"github.com/rekey-dev/rekey"
)

// Record is an audit record on the wire: the admin API's and the JSON-lines
// stream's shape. Every field is always present; strings the request did
// not have are "".
type Record struct {
	Time          string `json:"time"` // RFC 3339, UTC, with the fraction of a second
	PrincipalID   string `json:"principalId"`
	AppID         string `json:"appId"`
	PrincipalName string `json:"principalName"`
	Action        string `json:"action"`
	ResourceID    string `json:"resourceId"`
	KeySlot       string `json:"keySlot"`
	Status        int    `json:"status"`
	ErrorCode     string `json:"errorCode"`
	RequestID     string `json:"requestId"`
	CorrelationID string `json:"correlationId"`
	ClientAddress string `json:"clientAddress"`
	UserAgent     string `json:"userAgent"`
}

// Wire returns a's wire shape.
func Wire(a *rekey.AuditRecord) Record {
	return Record{
		Time: a.Time.UTC().Format(time.RFC3339Nano), PrincipalID: a.PrincipalID, AppID: a.AppID,
		PrincipalName: a.PrincipalName, Action: a.Action, ResourceID: a.ResourceID, KeySlot: a.KeySlot,
		Status: a.Status, ErrorCode: a.ErrorCode, RequestID: a.RequestID, CorrelationID: a.CorrelationID,
		ClientAddress: a.ClientAddress, UserAgent: a.UserAgent,
	}
}
