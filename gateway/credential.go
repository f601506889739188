package gateway

import (
	"net/http"
	"strings"
)

// credential returns the value after scheme in the Authorization header:
// "Bearer <key or token>" for Azure ML, "EndpointKey <key>" for the QnA
// runtime. The scheme matches case-insensitively; "" means missing or
// malformed, which callers treat like a wrong key.
func credential(h http.Header, scheme string) string {
	v := h.Get("Authorization")
	if len(v) <= len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return ""
	}
	v = strings.TrimSpace(v[len(scheme)+1:])
	if len(v) > 4096 {
		return ""
	}
	return v
}
