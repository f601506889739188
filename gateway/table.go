package gateway

import (
	"context"
	"log/slog"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rekey-dev/rekey"
)

// Source is what the gateway reads from the store: a snapshot to load,
// the change feed to follow, and a place for usage counts.
type Source interface {
	View(ctx context.Context, fn func(rekey.Tx) error) error
	Update(ctx context.Context, fn func(rekey.Tx) error) error
}

// slot is one key slot as the gateway sees it, apart from what the check
// reads on every request (keySet.cur and its flags). Fingerprints and
// times are guarded by table.mu; the counters are atomic.
//
// The replaced key is valid until previousUntil, a time the store
// recorded when the slot changed; the gateway never derives it from the
// grace period an endpoint or account has now.
//
// stale simulates a propagation delay as a stale cache: when the table
// applies a change it observed live, it keeps the key it held before as
// still accepted, and refuses the new one, until the change's time plus
// the delay (never later). A table loaded from a snapshot has no stale
// state, so no restart can bring an old key back.
type slot struct {
	previous      fingerprint
	previousUntil int64       // Unix nanoseconds; previous is valid before it
	stale         *staleEntry // nil unless a propagation delay holds the slot stale
	version       int64

	requests, graceRequests, lastUsed atomic.Int64
}

// staleEntry is what a slot's simulated stale cache still holds. It lives
// outside the slot, so the slots the hot path reads stay small.
type staleEntry struct {
	key   fingerprint
	had   bool  // the slot had a key before the change (a first key has none)
	until int64 // Unix nanoseconds: the change's time plus the delay
}

// keySet is a key owner's two slots. The pointer stays the same across
// reloads, so usage counters survive them.
//
// Its layout serves the check with many endpoints and uniform traffic,
// where every read of a key set is a cache miss: what the check reads on
// every request (both current fingerprints, then which slots have a key
// and whether anything but the current keys can match) fills the first
// two cache lines, which the allocator's 256-byte size class keeps
// aligned, so they are fetched together; the rest is read only in grace
// or while a simulated propagation delay holds a slot stale.
type keySet struct {
	cur        [2]fingerprint // slot i's current key, if hasCurrent[i]
	hasCurrent [2]bool
	// hasPrevious[i]: slots[i].previous is a replaced key with a window.
	hasPrevious [2]bool
	// slow: some slot has a previous key or stale state, so the check
	// must look beyond the current keys.
	slow  bool
	dirty atomic.Bool // has counts not yet flushed to the store
	owner string
	slots [2]slot
}

// keySet must stay in the 256-byte size class: above 192 bytes, at most 256.
var (
	_ [256 - unsafe.Sizeof(keySet{})]struct{}
	_ [unsafe.Sizeof(keySet{}) - 193]struct{}
)

type deployment struct {
	name     string
	upstream *url.URL
	proxy    *httputil.ReverseProxy
}

type weighted struct {
	d   *deployment
	cum int32 // cumulative weight
}

type mirror struct {
	d       *deployment
	percent int32
}

// endpoint is an online endpoint's route; replaced whole on change.
type endpoint struct {
	name        string
	key         string // Endpoint.ID.Key()
	uid         string
	authMode    rekey.AuthMode
	keys        *keySet
	deployments map[string]*deployment // by lower-cased name
	live        []weighted             // deployments with traffic > 0
	total       int32
	mirrors     []mirror
}

// account is a QnAMaker account's runtime route.
type account struct {
	name    string
	key     string // Account.ID.Key()
	runtime *url.URL
	proxy   *httputil.ReverseProxy // nil without a runtime
	keys    *keySet                // its QnA endpoint keys
}

// table is the gateway's in-memory view of endpoints, accounts and keys.
type table struct {
	// newProxy makes the reverse proxy of an upstream (Gateway.newProxy).
	newProxy func(upstream *url.URL, endpoint, deployment string, qna bool) *httputil.ReverseProxy

	fp     *fingerprinter
	kr     *rekey.Keyring
	logger *slog.Logger
	delay  time.Duration    // the simulated propagation delay (Config.PropagationDelay)
	now    func() time.Time // Config.Now
	// changed is called after every change the table applies, outside
	// its locks (Gateway.recheck); may be nil.
	changed func()

	mu         sync.RWMutex
	names      nameIndex                // lower-cased endpoint name; guarded by mu (use endpointNamed)
	byKey      map[string]*endpoint     // endpoint Key(); guarded by mu
	accounts   map[string]*account      // account Key(); guarded by mu
	keys       map[string]*keySet       // owner; guarded by mu
	qna        map[fingerprint]string   // QnA endpoint-key fingerprints (current and previous) → account Key(); guarded by mu
	qnaByOwner map[string][]fingerprint // what an owner put into qna; guarded by mu

	syncMu sync.Mutex // one sync at a time
	cursor int64      // guarded by syncMu
}

func newTable(kr *rekey.Keyring, logger *slog.Logger) *table {
	return &table{fp: newFingerprinter(), kr: kr, logger: logger, now: time.Now, names: newNameIndex(0)}
}

// endpointNamed returns the endpoint named name (in any case) and its key
// set, or nil, nil; it does not allocate. Callers hold t.mu for reading.
func (t *table) endpointNamed(name string) (*endpoint, *keySet) {
	return t.names.get(name)
}

// load replaces the whole table with a snapshot of the store.
func (t *table) load(ctx context.Context, src Source) error {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	return t.loadLocked(ctx, src)
}

// loadLocked is load with syncMu held. The swap happens only when the
// snapshot is at least as new as what the table holds: a load that read
// its snapshot before a concurrent sync applied newer changes (or whose
// database answered from an older state) never takes the table back.
func (t *table) loadLocked(ctx context.Context, src Source) error {
	var (
		cursor int64
		eps    []*rekey.Endpoint
		deps   = map[string][]*rekey.Deployment{}
		accs   []*rekey.Account
		keys   = map[string][]rekey.StoredKey{}
	)
	err := src.View(ctx, func(tx rekey.Tx) (err error) {
		if cursor, err = tx.LatestChange(); err != nil {
			return err
		}
		if eps, err = tx.AllEndpoints(); err != nil {
			return err
		}
		for _, e := range eps {
			if deps[e.ID.Key()], err = tx.Deployments(e.ID); err != nil {
				return err
			}
		}
		if accs, err = tx.AllAccounts(); err != nil {
			return err
		}
		return tx.ScanKeys(func(k rekey.StoredKey) error {
			keys[k.Resource] = append(keys[k.Resource], k)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if cursor < t.cursor {
		t.logger.Warn("gateway reload: the snapshot is older than the table; keeping the table", "snapshot_seq", cursor, "table_seq", t.cursor)
		return nil
	}
	t.mu.Lock()
	t.names, t.byKey, t.accounts = newNameIndex(len(eps)), make(map[string]*endpoint, len(eps)), map[string]*account{}
	t.keys, t.qna, t.qnaByOwner = make(map[string]*keySet, len(keys)), map[fingerprint]string{}, map[string][]fingerprint{}
	for owner, ks := range keys {
		t.setKeysLocked(owner, ks, false)
	}
	for _, e := range eps {
		t.setEndpointLocked(e.ID.Key(), e, deps[e.ID.Key()])
	}
	for _, a := range accs {
		t.setAccountLocked(a.ID.Key(), a)
	}
	t.cursor = cursor
	t.mu.Unlock()
	if t.changed != nil {
		t.changed()
	}
	return nil
}

// sync applies the change feed since the last load or sync: each thing
// named in the feed is read once, as it is now, and replaces (or, when
// gone, removes) its entry. A table further behind than the feed's
// retention, or that meets a reset (ChangedAll), reloads everything.
func (t *table) sync(ctx context.Context, src Source) error {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	const batch = 512
	for {
		type entity struct {
			kind rekey.ChangeKind
			key  string
			e    *rekey.Endpoint
			deps []*rekey.Deployment
			a    *rekey.Account
			keys []rekey.StoredKey
		}
		var (
			todo   []*entity
			last   int64
			n      int
			reload bool
		)
		err := src.View(ctx, func(tx rekey.Tx) error {
			changes, oldest, err := tx.Changes(t.cursor, batch)
			if err != nil {
				return err
			}
			if n = len(changes); n == 0 {
				return nil
			}
			if oldest > t.cursor+1 {
				reload = true
				return nil
			}
			for _, c := range changes {
				if c.Kind == rekey.ChangedAll { // a reset: drop everything at once
					reload = true
					return nil
				}
			}
			last = changes[n-1].Seq
			seen := map[rekey.Change]bool{}
			for _, c := range changes {
				k := rekey.Change{Kind: c.Kind, Key: c.Key}
				if seen[k] {
					continue
				}
				seen[k] = true
				en := &entity{kind: c.Kind, key: c.Key}
				switch c.Kind {
				case rekey.ChangedKeys:
					en.keys, err = tx.Keys(c.Key)
				case rekey.ChangedEndpoint:
					var id rekey.EndpointID
					if id, err = rekey.ParseEndpointID(c.Key); err == nil {
						if en.e, err = tx.Endpoint(id); err == nil {
							en.deps, err = tx.Deployments(id)
						}
					}
				case rekey.ChangedAccount:
					var id rekey.AccountID
					if id, err = rekey.ParseAccountID(c.Key); err == nil {
						en.a, err = tx.Account(id)
					}
				}
				if rekey.ErrorCode(err) == rekey.NotFound {
					en.e, en.a, err = nil, nil, nil // gone: removing the entry is the change
				}
				if err != nil {
					return err
				}
				todo = append(todo, en)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if reload {
			return t.loadLocked(ctx, src)
		}
		t.mu.Lock()
		for _, en := range todo {
			switch en.kind {
			case rekey.ChangedKeys:
				t.setKeysLocked(en.key, en.keys, true)
			case rekey.ChangedEndpoint:
				t.setEndpointLocked(en.key, en.e, en.deps)
			case rekey.ChangedAccount:
				t.setAccountLocked(en.key, en.a)
			}
		}
		t.mu.Unlock()
		if len(todo) > 0 && t.changed != nil {
			t.changed()
		}
		if n > 0 {
			t.cursor = last
		}
		if n < batch {
			return nil
		}
	}
}

// setKeysLocked replaces an owner's slots from the store's keys (none:
// the owner is gone). It opens each sealed key only to fingerprint it.
// live says the change was observed as it happened (sync), rather than
// read from a snapshot (load): only then may a propagation delay keep
// the key the table held before.
func (t *table) setKeysLocked(owner string, stored []rekey.StoredKey, live bool) {
	ks := t.keys[owner]
	if len(stored) == 0 {
		if ks != nil {
			for i := range ks.slots {
				ks.slots[i].stale = nil
			}
			ks.hasCurrent, ks.hasPrevious, ks.slow = [2]bool{}, [2]bool{}, false
			delete(t.keys, owner)
		}
		t.indexQnALocked(owner, nil)
		return
	}
	if ks == nil {
		ks = &keySet{owner: owner}
		t.keys[owner] = ks
	}
	now := t.now().UnixNano()
	var fps []fingerprint
	for _, k := range stored {
		i := slotIndex(k.Slot)
		s := &ks.slots[i]
		if s.stale != nil && now >= s.stale.until {
			s.stale = nil
		}
		if live && t.delay > 0 && k.Version == s.version+1 && s.stale == nil {
			// One change, seen as it happened: the cache keeps what it
			// held (nothing, for a first key) until the change plus the
			// delay. A slot already stale stays stale until its first
			// change's end; a jump of several versions is not simulated,
			// since the first of them is of unknown time.
			if until := k.UpdatedAt.UnixNano() + int64(t.delay); now < until {
				s.stale = &staleEntry{key: ks.cur[i], had: ks.hasCurrent[i], until: until}
			}
		} else if !live {
			s.stale = nil
		}
		s.version = k.Version
		ks.hasCurrent[i], ks.hasPrevious[i], s.previousUntil = false, false, 0
		if v, err := t.kr.Open(k.Resource, k.Slot, k.Ciphertext); err == nil {
			ks.cur[i], ks.hasCurrent[i] = t.fp.of(v), true
			fps = append(fps, ks.cur[i])
		} else {
			t.logger.Error("a stored key does not open under this master key; it cannot authenticate", "owner", owner, "slot", k.Slot)
		}
		if len(k.PreviousCiphertext) > 0 && !k.PreviousValidUntil.IsZero() {
			if v, err := t.kr.Open(k.Resource, k.Slot, k.PreviousCiphertext); err == nil {
				s.previous, ks.hasPrevious[i], s.previousUntil = t.fp.of(v), true, k.PreviousValidUntil.UnixNano()
				fps = append(fps, s.previous)
			}
		}
		if s.stale != nil && s.stale.had {
			fps = append(fps, s.stale.key)
		}
	}
	ks.slow = false
	for i := range ks.slots {
		ks.slow = ks.slow || ks.hasPrevious[i] || ks.slots[i].stale != nil
	}
	if strings.HasSuffix(owner, qnaOwnerSuffix) {
		t.indexQnALocked(owner, fps)
	}
}

// qnaOwnerSuffix marks the owners of QnA endpoint keys (AccountID.EndpointKeys).
var qnaOwnerSuffix = rekey.AccountID{}.EndpointKeys()[len(rekey.AccountID{}.Key()):]

// indexQnALocked makes fps the fingerprints that select owner's account.
func (t *table) indexQnALocked(owner string, fps []fingerprint) {
	for _, fp := range t.qnaByOwner[owner] {
		if t.qna[fp] == owner {
			delete(t.qna, fp)
		}
	}
	delete(t.qnaByOwner, owner)
	if len(fps) > 0 {
		for _, fp := range fps {
			t.qna[fp] = owner
		}
		t.qnaByOwner[owner] = fps
	}
}

func slotIndex(s rekey.Slot) int {
	if s == rekey.Secondary {
		return 1
	}
	return 0
}

// keySetLocked returns owner's slots, creating an empty set so routes can
// point at it before its keys are loaded.
func (t *table) keySetLocked(owner string) *keySet {
	ks := t.keys[owner]
	if ks == nil {
		ks = &keySet{owner: owner}
		t.keys[owner] = ks
	}
	return ks
}

// setEndpointLocked replaces an endpoint's route (nil: removes it).
func (t *table) setEndpointLocked(key string, e *rekey.Endpoint, deps []*rekey.Deployment) {
	if old := t.byKey[key]; old != nil {
		t.names.remove(strings.ToLower(old.name))
		delete(t.byKey, key)
	}
	if e == nil || e.ProvisioningState == rekey.Deleting {
		return
	}
	r := &endpoint{name: e.ID.Name, key: key, uid: e.TokenSubject(), authMode: e.AuthMode,
		keys: t.keySetLocked(e.ID.Key()), deployments: map[string]*deployment{}}
	for _, d := range deps {
		u, err := url.Parse(d.Upstream())
		if d.ProvisioningState == rekey.Deleting || err != nil || rekey.ValidateUpstream(d.Upstream()) != nil {
			continue
		}
		r.deployments[strings.ToLower(d.ID.Name)] = &deployment{name: d.ID.Name, upstream: u, proxy: t.newProxy(u, e.ID.Name, d.ID.Name, false)}
	}
	names := make([]string, 0, len(e.Traffic))
	for name := range e.Traffic {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := r.deployments[strings.ToLower(name)]; d != nil && e.Traffic[name] > 0 {
			r.total += e.Traffic[name]
			r.live = append(r.live, weighted{d: d, cum: r.total})
		}
	}
	for name, p := range e.MirrorTraffic {
		if d := r.deployments[strings.ToLower(name)]; d != nil && p > 0 {
			r.mirrors = append(r.mirrors, mirror{d: d, percent: p})
		}
	}
	t.byKey[key] = r
	t.names.put(strings.ToLower(e.ID.Name), r)
}

// setAccountLocked replaces a QnAMaker account's route (nil: removes it).
func (t *table) setAccountLocked(key string, a *rekey.Account) {
	delete(t.accounts, key)
	if a == nil || !a.IsQnAMaker() {
		return
	}
	u, err := url.Parse(a.QnARuntimeEndpoint)
	if err != nil || u.Host == "" {
		t.logger.Warn("QnAMaker account has no usable qnaRuntimeEndpoint; its runtime calls will fail", "account", a.ID.Name)
		u = nil
	}
	acc := &account{name: a.ID.Name, key: key, runtime: u, keys: t.keySetLocked(a.ID.EndpointKeys())}
	if u != nil {
		acc.proxy = t.newProxy(u, "qna:"+a.ID.Name, "", true)
	}
	t.accounts[key] = acc
}

// match is the outcome of checking a key against a key set.
type match struct {
	slot    int  // 0 primary, 1 secondary
	inGrace bool // the replaced key, accepted only within its recorded window
	ok      bool
}

// check compares fp with both slots of ks at time now (Unix nanoseconds).
// A slot accepts its current key, and its replaced key before the time
// recorded when it was replaced; while a simulated propagation delay
// holds the slot stale, it accepts only the key it held before the
// change. Callers hold t.mu for reading.
func check(ks *keySet, fp *fingerprint, now int64) match {
	if !ks.slow {
		// Only the current keys can match: the first two cache lines of
		// the key set say so. Both comparisons run, in constant time.
		m0 := ks.hasCurrent[0] && ks.cur[0].equal(fp)
		m1 := ks.hasCurrent[1] && ks.cur[1].equal(fp)
		if m1 {
			return match{slot: 1, ok: true}
		}
		return match{slot: 0, ok: m0}
	}
	var m match
	for i := range ks.slots {
		s := &ks.slots[i]
		if st := s.stale; st != nil && now < st.until {
			if st.had && st.key.equal(fp) {
				m = match{slot: i, ok: true}
			}
			continue
		}
		cur := ks.hasCurrent[i] && ks.cur[i].equal(fp)
		prev := ks.hasPrevious[i] && now < s.previousUntil && s.previous.equal(fp)
		if cur || prev {
			m = match{slot: i, inGrace: !cur, ok: true}
		}
	}
	return m
}
