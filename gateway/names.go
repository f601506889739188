package gateway

import (
	"hash/maphash"
	"strings"
	"unsafe"
)

// nameIndex finds an endpoint by its lower-cased name: an open-addressing
// table (linear probing) of one-cache-line entries that hold the name's
// hash, the name itself when it is short, and both pointers the key check
// follows. It replaces a map[string]*endpoint, where a lookup reads the
// map's control word and slot, then the key string's bytes elsewhere in
// memory, then the endpoint, and only then learns where the key set is:
// with many endpoints and uniform traffic every one of those reads is a
// cache miss, one after the other. Here a lookup reads one line (two on a
// probe across a line, rarely more), and the endpoint and key set it
// points to are fetched side by side.
//
// Not safe for concurrent use: the table's mu guards it.
type nameIndex struct {
	seed    maphash.Seed
	entries []nameEntry // len is 0 or a power of two; hash 0 marks an empty entry
	n       int
}

// nameEntry is one endpoint in the index; 64 bytes, one cache line.
type nameEntry struct {
	hash  uint64 // the name's hash, never 0 in a used entry
	ep    *endpoint
	ks    *keySet // ep.keys, so the check need not read ep first
	name  string  // the lower-cased name
	short [shortName]byte
}

// shortName is the longest name kept inside an entry (most are); longer
// ones are compared through name.
const shortName = 64 - 8 - 8 - 8 - 16

// maxName is the longest endpoint name (rekey's resource name rule); a
// longer one in a request cannot name an endpoint.
const maxName = 255

var _ [64 - unsafe.Sizeof(nameEntry{})]struct{} // nameEntry must stay one line

func newNameIndex(hint int) nameIndex {
	x := nameIndex{seed: maphash.MakeSeed()}
	x.resize(hint)
	return x
}

// resize rebuilds the table with room for n names at most 3/4 full.
func (x *nameIndex) resize(n int) {
	size := 8
	for size*3 < n*4 {
		size *= 2
	}
	old := x.entries
	x.entries, x.n = make([]nameEntry, size), 0
	for i := range old {
		if e := &old[i]; e.hash != 0 {
			x.insert(*e)
		}
	}
}

func (x *nameIndex) hash(lname string) uint64 {
	return maphash.String(x.seed, lname) | 1
}

// get returns the endpoint named name, in any case, and its key set, or
// nil, nil. It does not allocate unless name has non-ASCII bytes, and
// copies it only when it has upper-case letters.
func (x *nameIndex) get(name string) (*endpoint, *keySet) {
	if len(name) > maxName || len(x.entries) == 0 {
		return nil, nil
	}
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 {
			// strings.ToLower's rules, as the map this replaced used; no
			// stored name has such bytes, but some lower to ASCII.
			if lname := strings.ToLower(name); len(lname) <= maxName {
				return x.lookup(lname)
			}
			return nil, nil
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return x.lookup(name)
	}
	var buf [maxName]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	// lookup keeps nothing of its argument, so buf stays on the stack.
	return x.lookup(unsafe.String(&buf[0], len(name)))
}

func (x *nameIndex) lookup(lname string) (*endpoint, *keySet) {
	h := x.hash(lname)
	mask := uint64(len(x.entries) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &x.entries[i]
		if e.hash == 0 {
			return nil, nil
		}
		if e.hash == h && e.is(lname) {
			return e.ep, e.ks
		}
	}
}

func (e *nameEntry) is(lname string) bool {
	if len(e.name) != len(lname) {
		return false
	}
	if len(lname) <= shortName {
		return string(e.short[:len(lname)]) == lname
	}
	return e.name == lname
}

// put makes lname (lower-cased) name ep, replacing what it named.
func (x *nameIndex) put(lname string, ep *endpoint) {
	if (x.n+1)*4 > len(x.entries)*3 {
		x.resize(2 * (x.n + 1))
	}
	e := nameEntry{hash: x.hash(lname), ep: ep, ks: ep.keys, name: lname}
	copy(e.short[:], lname)
	if i, ok := x.find(lname, e.hash); ok {
		x.entries[i] = e
		return
	}
	x.insert(e)
}

// insert adds e, whose name is not in the table, which has room.
func (x *nameIndex) insert(e nameEntry) {
	mask := uint64(len(x.entries) - 1)
	i := e.hash & mask
	for x.entries[i].hash != 0 {
		i = (i + 1) & mask
	}
	x.entries[i] = e
	x.n++
}

func (x *nameIndex) find(lname string, h uint64) (uint64, bool) {
	if len(x.entries) == 0 {
		return 0, false
	}
	mask := uint64(len(x.entries) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &x.entries[i]
		if e.hash == 0 {
			return 0, false
		}
		if e.hash == h && e.name == lname {
			return i, true
		}
	}
}

// remove deletes lname (lower-cased), if present. Linear probing without
// tombstones: each entry after the hole that may move back into it does,
// so lookups never meet a hole before their name.
func (x *nameIndex) remove(lname string) {
	i, ok := x.find(lname, x.hash(lname))
	if !ok {
		return
	}
	mask := uint64(len(x.entries) - 1)
	for j := (i + 1) & mask; x.entries[j].hash != 0; j = (j + 1) & mask {
		home := x.entries[j].hash & mask
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if (j-home)&mask >= (j-i)&mask {
			x.entries[i] = x.entries[j]
			i = j
		}
	}
	x.entries[i] = nameEntry{}
	x.n--
}
