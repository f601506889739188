package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// writeML answers in the shape of Azure ML's scoring front end: a small
// JSON object with a message. Messages never contain a credential.
func writeML(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(mlBody(msg))
}

// writeQnA answers in QnA Maker's ErrorResponse shape.
func writeQnA(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(qnaBody(code, msg))
}

// mlBody is the body writeML sends, for either engine.
func mlBody(msg string) []byte {
	return encodeBody(struct {
		Message string `json:"message"`
	}{msg})
}

// qnaBody is the body writeQnA sends, for either engine.
func qnaBody(code, msg string) []byte {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	return encodeBody(struct {
		Error detail `json:"error"`
	}{detail{code, msg}})
}

func encodeBody(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return b.Bytes()
}
