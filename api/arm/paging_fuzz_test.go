package arm

import (
	"net/url"
	"testing"
)

// FuzzPage fuzzes the paging parameters of every list: whatever the
// query, readPage answers a page or a client error, and pageOf never
// panics, returns at most size items, and only a next $skip past the
// current one.
func FuzzPage(f *testing.F) {
	for _, s := range []string{
		"count=100&$skip=9223372036854775800", "$skip=9223372036854775807&count=1000",
		"$skip=-1", "count=-1", "count=0", "$skip=99999999999999999999", "$top=3&$skip=2",
		"count=1001", "$skip=%2B5", "$skip=", "count=1e2",
	} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, query string, n int) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		list := make([]int, uint(n)%(2*maxPageSize+1))
		for _, sizeParam := range []string{"count", "$top", ""} {
			p, err := readPage(q, sizeParam, defaultPageSize)
			checkClientError(t, query, err)
			if err != nil {
				continue
			}
			got, next := pageOf(list, p)
			if len(got) > p.size || len(got) > maxPageSize {
				t.Fatalf("%q: page of %d items, size %d", query, len(got), p.size)
			}
			if next >= 0 && (next <= p.skip || next >= len(list)) {
				t.Fatalf("%q over %d items: next $skip %d after %d", query, len(list), next, p.skip)
			}
		}
	})
}
