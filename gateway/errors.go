package gateway

import (
	"encoding/json"
	"net/http"
)

// writeML answers in the shape of Azure ML's scoring front end: a small
// JSON object with a message. Messages never contain a credential.
func writeML(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(struct {
		Message string `json:"message"`
	}{msg})
}

// writeQnA answers in QnA Maker's ErrorResponse shape.
func writeQnA(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(struct {
		Error detail `json:"error"`
	}{detail{code, msg}})
}
