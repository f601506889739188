package fault

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekey-dev/rekey"
)

// Request is what a fault is matched against: the operation a request
// performs, its method and path, and the resource it names.
type Request struct {
	Operation Operation // "" when none of the named ones; ARM faults still match by path
	Method    string
	Path      string
	Name      string // the endpoint or account the path names, or ""
}

// Set holds the faults of one process. Its zero value is not usable; call
// NewSet. It is safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	faults []*Fault // in creation order; guarded by mu
	// size is len(faults), read without the lock so that requests pay
	// one atomic load while no fault is set.
	size atomic.Int64

	// Rand returns a number in [0, 1) for probabilities; tests may
	// replace it before use.
	Rand func() float64
	// Now is the clock for Created.
	Now func() time.Time
}

// Empty reports whether no fault is set, without taking the lock.
func (s *Set) Empty() bool { return s.size.Load() == 0 }

// NewSet returns an empty set.
func NewSet() *Set { return &Set{Rand: rand.Float64, Now: time.Now} }

// ErrInvalid wraps the problems of a fault that Add refuses.
var ErrInvalid = errors.New("invalid fault")

// InvalidError lists every problem of a refused fault.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string { return strings.Join(e.Problems, " ") }

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Add checks f, fills its defaults, gives it an id and adds it. The
// returned copy is what was stored.
func (s *Set) Add(f Fault) (Fault, error) {
	if errs := f.normalize(); len(errs) > 0 {
		return Fault{}, &InvalidError{errs}
	}
	f.ID, f.Created, f.Fired = "f-"+rekey.NewGUID()[:8], s.Now().UTC().Truncate(time.Millisecond), 0
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.size.Store(int64(len(s.faults)))
	s.mu.Unlock()
	return f, nil
}

// List returns copies of the faults in creation order.
func (s *Set) List() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = *f
	}
	return out
}

// Delete removes the fault with id and reports whether there was one.
func (s *Set) Delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.faults)
	s.faults = slices.DeleteFunc(s.faults, func(f *Fault) bool { return f.ID == id })
	s.size.Store(int64(len(s.faults)))
	return len(s.faults) < n
}

// Clear removes every fault and returns how many there were.
func (s *Set) Clear() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.faults)
	s.faults = nil
	s.size.Store(0)
	return n
}

// Match returns the first fault, in creation order, that applies to req
// and fires this time, having counted the firing; a fault whose count is
// used up is removed. ok is false when none fires.
func (s *Set) Match(req Request, applies func(*Fault) bool) (f Fault, ok bool) {
	if s.size.Load() == 0 {
		return Fault{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.faults {
		if !c.matches(req) || (applies != nil && !applies(c)) {
			continue
		}
		if c.Probability != nil && !(s.Rand() < *c.Probability) {
			continue
		}
		c.Fired++
		f = *c
		if c.Count > 0 {
			if c.Count--; c.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
				s.size.Store(int64(len(s.faults)))
			}
		}
		return f, true
	}
	return Fault{}, false
}

// matches reports whether f's scope covers req.
func (f *Fault) matches(req Request) bool {
	if f.Operation == ARM {
		if f.Method != "*" && !strings.EqualFold(f.Method, req.Method) {
			return false
		}
		if !Glob(f.Path, req.Path) {
			return false
		}
	} else if f.Operation != req.Operation {
		return false
	}
	return f.Resource == "" || matchResource(f.Resource, req)
}

// matchResource matches an ARM id prefix at a segment boundary, or a
// name against the endpoint or account the request names.
func matchResource(res string, req Request) bool {
	if !strings.HasPrefix(res, "/") {
		return req.Name != "" && strings.EqualFold(res, req.Name)
	}
	if req.Operation == Gateway { // the gateway knows endpoints by name only
		return req.Name != "" && strings.EqualFold(lastName(res), req.Name)
	}
	res = strings.TrimSuffix(res, "/")
	if len(req.Path) < len(res) || !strings.EqualFold(req.Path[:len(res)], res) {
		return false
	}
	return len(req.Path) == len(res) || req.Path[len(res)] == '/'
}

// lastName is the endpoint name in an ARM id (its last segment).
func lastName(id string) string {
	id = strings.TrimSuffix(id, "/")
	return id[strings.LastIndexByte(id, '/')+1:]
}

// Glob reports whether s matches pattern, case-insensitively, where '*'
// stands for any run of characters (slashes included).
func Glob(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	// Greedy matching with backtracking to the last star: linear for the
	// usual patterns, never exponential.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
