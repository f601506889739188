// Package reqinfo carries what the server knows about a request in its
// context: its id, which every log line written while serving it carries
// (LogHandler), and the operation it turned out to be, for metrics.
package reqinfo

import (
	"context"
	"log/slog"
	"strings"
)

// Info is one request's. The server's middleware creates it; the handler
// that routes the request names its Operation.
type Info struct {
	ID        string
	Operation string
}

type key struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's Info, or nil outside a request.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(key{}).(*Info)
	return info
}

// ID returns the request's id, or "" outside a request.
func ID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.ID
	}
	return ""
}

// SetOperation names the request's operation (a route, never a value
// from the request), for the metrics' operation label.
func SetOperation(ctx context.Context, op string) {
	if info := From(ctx); info != nil {
		info.Operation = op
	}
}

// LogHandler wraps h so that a record logged with a request's context
// (the ...Context and LogAttrs methods) carries its request_id, unless
// the record names one itself.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}

// Route names a ServeMux pattern for the operation label: the method and
// the route after "/providers/" without its {parameters}, as in
// "POST Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys".
func Route(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if _, after, ok := strings.Cut(path, "/providers/"); ok {
		path = after
	}
	var kept []string
	for _, seg := range strings.Split(path, "/") {
		if seg != "" && !strings.HasPrefix(seg, "{") {
			kept = append(kept, seg)
		}
	}
	return strings.TrimSpace(method + " " + strings.Join(kept, "/"))
}
