package authz

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rekey-dev/rekey"
)

// Authorizer answers whether a principal may perform an action over a
// scope. It keeps the role definitions and assignments in memory and
// caches every decision; both are dropped at once when a role definition
// or assignment changes: in this process through Invalidate (wired to the
// store's Watch), in others through the change feed (Start).
type Authorizer struct {
	Store rekey.Store
	// Admin is the principal id of the admin credential: Owner at "/",
	// whatever the store holds.
	Admin  string
	Logger *slog.Logger

	mu   sync.Mutex
	snap *snapshot // nil when it must be loaded again
	// cursor is the change-feed seq the snapshot reflects.
	cursor int64
	gen    uint64 // raised by every invalidation
}

// snapshot is the roles state at one point of the change feed, with the
// decisions made on it.
type snapshot struct {
	defs      map[string]*rekey.RoleDefinition   // by lower-case id, built-ins included
	byPrinc   map[string][]*rekey.RoleAssignment // by lower-case principal id
	decisions map[decisionKey]bool
}

type decisionKey struct {
	principal string
	action    rekey.Action
	scope     string
}

// maxDecisions bounds the decision cache; past it, it starts again.
const maxDecisions = 1 << 16

// Invalidate drops the cached roles and decisions. It is quick and safe
// to call from a store Watch callback.
func (a *Authorizer) Invalidate() {
	a.mu.Lock()
	a.snap = nil
	a.gen++
	a.mu.Unlock()
}

// Allowed reports whether principalID may perform action over scope:
// some assignment of the principal at scope or above grants it through a
// role whose Actions (or, for data actions, DataActions) match it and
// whose NotActions (NotDataActions) do not.
func (a *Authorizer) Allowed(ctx context.Context, principalID string, action rekey.Action, scope string) (bool, error) {
	if principalID != "" && principalID == a.Admin {
		return true, nil
	}
	k := decisionKey{principal: principalID, action: action, scope: scope}
	a.mu.Lock()
	snap := a.snap
	if snap != nil {
		if ok, hit := snap.decisions[k]; hit {
			a.mu.Unlock()
			return ok, nil
		}
	}
	gen := a.gen
	a.mu.Unlock()
	if snap == nil {
		var err error
		if snap, err = a.load(ctx, gen); err != nil {
			return false, err
		}
	}
	ok := snap.decide(principalID, action, scope)
	a.mu.Lock()
	if a.snap == snap {
		if len(snap.decisions) >= maxDecisions {
			clear(snap.decisions)
		}
		snap.decisions[k] = ok
	}
	a.mu.Unlock()
	return ok, nil
}

// HasAssignments reports whether the principal holds any role assignment,
// for the 403 message that tells a new principal it needs one.
func (a *Authorizer) HasAssignments(ctx context.Context, principalID string) bool {
	if principalID == a.Admin {
		return true
	}
	a.mu.Lock()
	snap, gen := a.snap, a.gen
	a.mu.Unlock()
	if snap == nil {
		var err error
		if snap, err = a.load(ctx, gen); err != nil {
			return true // say nothing rather than something wrong
		}
	}
	return len(snap.byPrinc[strings.ToLower(principalID)]) > 0
}

// load reads the roles state and installs it unless an invalidation came
// in between (gen changed), in which case it is used for this one call.
func (a *Authorizer) load(ctx context.Context, gen uint64) (*snapshot, error) {
	snap := &snapshot{defs: map[string]*rekey.RoleDefinition{}, byPrinc: map[string][]*rekey.RoleAssignment{}, decisions: map[decisionKey]bool{}}
	for _, d := range BuiltIn() {
		snap.defs[d.ID] = d
	}
	var cursor int64
	err := a.Store.View(ctx, func(tx rekey.Tx) error {
		var err error
		if cursor, err = tx.LatestChange(); err != nil {
			return err
		}
		defs, err := tx.RoleDefinitions()
		if err != nil {
			return err
		}
		for _, d := range defs {
			snap.defs[strings.ToLower(d.ID)] = d
		}
		as, err := tx.RoleAssignments()
		if err != nil {
			return err
		}
		for _, ra := range as {
			p := strings.ToLower(ra.PrincipalID)
			snap.byPrinc[p] = append(snap.byPrinc[p], ra)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen {
		a.snap = snap
		if cursor > a.cursor {
			a.cursor = cursor
		}
	}
	a.mu.Unlock()
	return snap, nil
}

func (s *snapshot) decide(principalID string, action rekey.Action, scope string) bool {
	for _, ra := range s.byPrinc[strings.ToLower(principalID)] {
		if !Covers(ra.Scope, scope) {
			continue
		}
		if d := s.defs[strings.ToLower(ra.RoleDefinitionID)]; d != nil && Grants(d, action, false) {
			return true
		}
	}
	return false
}

// Grants reports whether role d grants action: as an Action (data false)
// or a DataAction (data true), in one of its permissions, and not excluded
// by the same permission's NotActions (NotDataActions). As in Azure,
// NotActions only subtract from the role's own Actions; another role may
// still grant the action.
func Grants(d *rekey.RoleDefinition, action rekey.Action, data bool) bool {
	for _, p := range d.Permissions {
		allow, deny := p.Actions, p.NotActions
		if data {
			allow, deny = p.DataActions, p.NotDataActions
		}
		if matchAny(allow, string(action)) && !matchAny(deny, string(action)) {
			return true
		}
	}
	return false
}

// Start follows the change feed every interval and invalidates when
// another process changed a role definition or assignment. Changes made
// through this process's store arrive sooner, through Invalidate.
func (a *Authorizer) Start(ctx context.Context, interval time.Duration) {
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := a.poll(ctx); err != nil && ctx.Err() == nil && a.Logger != nil {
				a.Logger.Warn("authz: following the change feed", slog.String("err", err.Error()))
			}
		}
	}()
}

// poll reads the change feed past the cursor and invalidates on a roles
// change, or when the feed was pruned past the cursor.
func (a *Authorizer) poll(ctx context.Context) error {
	a.mu.Lock()
	cursor := a.cursor
	a.mu.Unlock()
	changed, last := false, cursor
	err := a.Store.View(ctx, func(tx rekey.Tx) error {
		for {
			changes, oldest, err := tx.Changes(last, 1024)
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				return nil
			}
			if oldest > last+1 {
				changed = true
			}
			for _, c := range changes {
				if c.Kind == rekey.ChangedRoles || c.Kind == rekey.ChangedAll {
					changed = true
				}
			}
			last = changes[len(changes)-1].Seq
			if len(changes) < 1024 {
				return nil
			}
		}
	})
	if err != nil {
		return err
	}
	a.mu.Lock()
	if last > a.cursor {
		a.cursor = last
	}
	a.mu.Unlock()
	if changed {
		a.Invalidate()
	}
	return nil
}

// BuiltInByID returns the built-in role with id, or nil.
func BuiltInByID(id string) *rekey.RoleDefinition { return builtInByID[strings.ToLower(id)] }
