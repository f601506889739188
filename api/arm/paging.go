package arm

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/rekey-dev/rekey"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// page is where a list page starts and how long it is at most.
type page struct{ skip, size int }

// readPage reads a list's paging parameters: the page size under
// sizeParam ("count" for online endpoints, "$top" for deployments; "" for
// lists whose contract has none, which use maxPageSize) and the $skip
// continuation token. Both are bounded: a size outside 1..maxPageSize, or a
// $skip that is not a whole number from 0 to MaxInt64, answers 400. A
// $skip beyond the end is a valid token for an empty last page, as OData's
// $skip is.
func readPage(q url.Values, sizeParam string, def int) (page, error) {
	p := page{size: def}
	if sizeParam != "" {
		if c := q.Get(sizeParam); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 || n > maxPageSize {
				return p, rekey.Errorf(rekey.Invalid, "The query parameter '%s' must be a whole number from 1 to %d.", sizeParam, maxPageSize)
			}
			p.size = n
		}
	}
	if s := q.Get("$skip"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return p, rekey.Errorf(rekey.Invalid, "The continuation token '$skip' is not valid. Use the nextLink of the previous page as it is.")
		}
		p.skip = int(min(n, int64(maxInt)))
	}
	return p, nil
}

const maxInt = int(^uint(0) >> 1)

// pageOf returns the part of list that p selects, and the $skip of the
// next page, or -1 when this page is the last. It never overflows: the
// bounds are computed from what is left, not from skip+size.
func pageOf[T any](list []T, p page) ([]T, int) {
	if p.skip >= len(list) {
		return list[:0:0], -1
	}
	end := p.skip + min(p.size, len(list)-p.skip)
	if end == len(list) {
		return list[p.skip:end], -1
	}
	return list[p.skip:end], end
}

// nextLink is the absolute URL of the page at skip: the request's own URL
// with $skip replaced, so SDK pagers can GET it verbatim. nil when skip < 0.
func (a *api) nextLink(r *http.Request, skip int) *string {
	if skip < 0 {
		return nil
	}
	q := r.URL.Query()
	q.Set("$skip", strconv.Itoa(skip))
	link := a.absURL(r, r.URL.Path, q)
	return &link
}
