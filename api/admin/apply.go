package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/rekey-dev/rekey"
)

// Applier applies a seed file (package seed implements it).
type Applier interface {
	// ApplySeed applies the seed file data, named name in messages, and
	// returns a summary for the caller. A file with problems is applied
	// not at all; the problems come back, one "file:line: path: message"
	// each, with a nil error.
	ApplySeed(ctx context.Context, name string, data []byte) (summary any, problems []string, err error)
}

// maxSeedFile bounds a seed file sent to POST /rekey/v1/apply.
const maxSeedFile = 1 << 20

// mountApply adds POST /rekey/v1/apply?name=seed.yaml, whose body is a
// seed file (YAML or JSON). 200 with the summary when applied; 400
// InvalidSeedFile with every problem in error.details when not.
func mountApply(mux *http.ServeMux, apply Applier, logger *slog.Logger) {
	mux.HandleFunc("POST "+Prefix+"apply", func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(strings.ReplaceAll(r.URL.Query().Get("name"), "\\", "/"))
		if name == "." || name == "/" || name == "" {
			name = "seed"
		}
		name = rekey.Clip(name, 100)
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSeedFile))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("A seed file may have at most %d bytes.", maxSeedFile))
				return
			}
			writeError(w, http.StatusBadRequest, "BadArgument", "The request body could not be read.")
			return
		}
		summary, problems, err := apply.ApplySeed(r.Context(), name, data)
		if err != nil {
			writeDomainError(w, r, logger, err)
			return
		}
		if len(problems) > 0 {
			type detail struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			details := make([]detail, len(problems))
			for i, p := range problems {
				details[i] = detail{"InvalidSeedFile", p}
			}
			noun := "problems"
			if len(problems) == 1 {
				noun = "problem"
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
				"code":    "InvalidSeedFile",
				"message": fmt.Sprintf("%s has %d %s; nothing was applied.", name, len(problems), noun),
				"details": details,
			}})
			return
		}
		writeJSON(w, http.StatusOK, summary)
	})
}
