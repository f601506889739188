package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/rekey-dev/rekey"
)

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // nextLink carries '&'; clients read it verbatim
	return enc.Encode(v)
}

// decode reads a JSON request body into v. The body must be one JSON
// value of the right shape, at most limit bytes, sent as application/json
// (or with no Content-Type, which curl users often forget).
func decode(r *http.Request, w http.ResponseWriter, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errWire(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
				fmt.Sprintf("The content type '%s' is not supported. Send the body as application/json.", rekey.Clip(ct, 60)))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return rekey.Errorf(rekey.TooLarge, "The request body is larger than the limit of %d bytes.", limit)
	}
	if err != nil {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read: the body was cut off or timed out.")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty, and this operation needs a JSON object.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errWire(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+describeJSONError(err)+".")
	}
	return nil
}

// describeJSONError turns a decoding error into a caller-facing sentence
// that names the field, without echoing the caller's values.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fmt.Sprintf("expected a JSON %s but found a %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Sprintf("the property '%s' must be a JSON %s, not a %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("the body is not valid JSON (syntax error at byte %d)", syntaxErr.Offset)
	}
	return "the body is not valid JSON"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	case "ptr":
		return "value"
	}
	return "number"
}

// deleted answers a synchronous DELETE as ARM does: 200 when the resource
// was deleted, 204 when there was nothing to delete, or the error.
func deleted(w http.ResponseWriter, err error) error {
	if rekey.ErrorCode(err) == rekey.NotFound {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
