package fault

import (
	"net/http"
	"strings"
)

// Dialect is the API a middleware stands in front of: it decides how a
// request is classified and how an injected error is written.
type Dialect string

// The dialects.
const (
	DialectARM     Dialect = "arm"
	DialectQnA     Dialect = "qna"
	DialectGateway Dialect = "gateway"
)

// Classify names the operation and resource of r in dialect d.
func Classify(d Dialect, r *http.Request) Request {
	req := Request{Method: r.Method, Path: r.URL.Path}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch d {
	case DialectARM:
		for i := 0; i+1 < len(segs); i++ {
			parent := segs[i]
			if !strings.EqualFold(parent, "onlineEndpoints") && !strings.EqualFold(parent, "accounts") {
				continue
			}
			req.Name = segs[i+1]
			if i+3 != len(segs) || r.Method != http.MethodPost {
				break
			}
			action := segs[i+2]
			switch {
			case strings.EqualFold(action, "listKeys"):
				req.Operation = ListKeys
			case strings.EqualFold(parent, "onlineEndpoints") && strings.EqualFold(action, "regenerateKeys"):
				req.Operation = RegenerateKeys
			case strings.EqualFold(parent, "onlineEndpoints") && strings.EqualFold(action, "token"):
				req.Operation = Token
			case strings.EqualFold(parent, "accounts") && strings.EqualFold(action, "regenerateKey"):
				req.Operation = RegenerateKey
			}
			break
		}
	case DialectQnA:
		// PATCH /qnamaker/{version}/endpointkeys/{keyType}, after any
		// leading slashes the SDKs double.
		segs := strings.FieldsFunc(r.URL.Path, func(c rune) bool { return c == '/' })
		if r.Method == http.MethodPatch && len(segs) == 4 && strings.EqualFold(segs[0], "qnamaker") && strings.EqualFold(segs[2], "endpointkeys") {
			req.Operation = Refresh
		}
	case DialectGateway:
		if len(segs) >= 2 && segs[0] == "endpoints" && segs[1] != "" {
			req.Operation, req.Name = Gateway, segs[1]
		}
	}
	return req
}
