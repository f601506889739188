// Package rekey is the domain vocabulary of rekey, a server that implements
// Azure's endpoint-key APIs (Azure Machine Learning online endpoints, and
// later QnA Maker) for real: workspaces, endpoints, their two key slots,
// long-running operations and the Store contract that persists them.
//
// The package imports only the standard library. Wire dialects live in
// api/..., storage engines in store/..., and internal/cli (the rekey
// command that cmd/rekey runs) wires them together.
package rekey
