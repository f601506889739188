package seed

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a seed file, at the line that has it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"` // 1-based; 0 when the file as a whole is at fault
	Path    string `json:"path"` // e.g. endpoints[1].authMode; "" for the whole file
	Message string `json:"message"`
}

// String renders p as a compiler does: "seed.yaml:12: endpoints[1].authMode: want …".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Errors is every problem found in a seed file. A file with any is
// refused whole: nothing of it is applied.
type Errors []Problem

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
