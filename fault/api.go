package fault

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Handler serves the admin API over s, under prefix ("/rekey/v1/"):
//
//	POST   {prefix}faults       add a fault; 201 with the fault and its id
//	GET    {prefix}faults       {"value": [faults]}
//	DELETE {prefix}faults/{id}  remove one; 204, or 404
//	DELETE {prefix}faults       remove all; 200 {"deleted": n}
//
// The caller authenticates the admin token in front of it.
func (s *Set) Handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+prefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSONError(w, http.StatusBadRequest, "BadArgument", "The body must be a JSON fault: "+strings.TrimPrefix(err.Error(), "json: ")+".")
			return
		}
		if f.ID != "" || f.Fired != 0 || !f.Created.IsZero() {
			writeJSONError(w, http.StatusBadRequest, "BadArgument", "'id', 'created' and 'fired' are set by the server; leave them out.")
			return
		}
		added, err := s.Add(f)
		var inv *InvalidError
		if errors.As(err, &inv) {
			writeJSONError(w, http.StatusBadRequest, "BadArgument", err.Error())
			return
		}
		w.Header().Set("Location", prefix+"faults/"+added.ID)
		writeJSON(w, http.StatusCreated, added)
	})
	mux.HandleFunc("GET "+prefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Value []Fault `json:"value"`
		}{s.List()})
	})
	mux.HandleFunc("DELETE "+prefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Deleted int `json:"deleted"`
		}{s.Clear()})
	})
	mux.HandleFunc("DELETE "+prefix+"faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.Delete(r.PathValue("id")) {
			writeJSONError(w, http.StatusNotFound, "NotFound", "No fault has the id '"+clip(r.PathValue("id"), 40)+"'. GET "+prefix+"faults lists them.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc(prefix+"faults/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "A fault can only be deleted: DELETE "+prefix+"faults/{id}.")
	})
	mux.HandleFunc(prefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Allowed methods on "+prefix+"faults: GET, POST, DELETE.")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
