package server

import (
	"net/http"
	"net/http/pprof"
)

// PprofPrefix is where Pprof's handlers live on the management listener.
const PprofPrefix = "/debug/pprof/"

// Pprof serves Go's runtime profiles (net/http/pprof) under PprofPrefix,
// so operators can profile their own deployment: CPU and heap profiles,
// goroutine dumps, execution traces. Profiles show internals (goroutine
// stacks carry request paths and endpoint names), so the command mounts
// it only when asked (--pprof) and only behind the admin credential.
//
// The handlers are registered on a mux of their own: net/http/pprof also
// registers on http.DefaultServeMux when imported, which rekey never
// serves.
func Pprof() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PprofPrefix, pprof.Index) // the index, and every named profile (heap, goroutine, allocs, ...)
	mux.HandleFunc(PprofPrefix+"cmdline", pprof.Cmdline)
	mux.HandleFunc(PprofPrefix+"profile", pprof.Profile)
	mux.HandleFunc(PprofPrefix+"symbol", pprof.Symbol)
	mux.HandleFunc(PprofPrefix+"trace", pprof.Trace)
	return mux
}
