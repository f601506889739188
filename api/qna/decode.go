package qna

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/rekey-dev/rekey"
)

// decodeStrict parses a JSON object into v, naming the problem without
// echoing the caller's values.
func decodeStrict(body []byte, v any) error {
	if strings.TrimSpace(string(body)) == "" {
		return rekey.Errorf(rekey.Invalid, "The request body is empty; this operation needs a JSON object.")
	}
	err := json.Unmarshal(body, v)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return rekey.Errorf(rekey.Invalid, "The property '%s' has the wrong JSON type (%s).", typeErr.Field, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return rekey.Errorf(rekey.Invalid, "The request body is not valid JSON (syntax error at byte %d).", syntaxErr.Offset)
	}
	return rekey.Errorf(rekey.Invalid, "The request body is not a valid JSON object.")
}
