package arm

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rekey-dev/rekey"
)

// handleEndpointList handles GET …/workspaces/{workspaceName}/onlineEndpoints
// with the filters of the published contract (name, computeType, tags,
// properties), orderBy, count (page size) and $skip (continuation token).
// nextLink is absolute and repeats every query parameter, so the SDK pager
// can GET it verbatim.
func (a *api) handleEndpointList(w http.ResponseWriter, r *http.Request) error {
	ws, err := workspaceID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg, err := readPage(q, "count", defaultPageSize)
	if err != nil {
		return err
	}
	order := q.Get("orderBy")
	if order != "" {
		if order = matchEnum(order, []string{"CreatedAtDesc", "CreatedAtAsc", "UpdatedAtDesc", "UpdatedAtAsc"}); order == "" {
			return rekey.Errorf(rekey.Invalid, "The query parameter 'orderBy' is not valid. Allowed values: CreatedAtDesc, CreatedAtAsc, UpdatedAtDesc, UpdatedAtAsc.")
		}
	}
	compute := q.Get("computeType")
	if compute != "" {
		if compute = matchEnum(compute, []string{"Managed", "Kubernetes", "AzureMLCompute"}); compute == "" {
			return rekey.Errorf(rekey.Invalid, "The query parameter 'computeType' is not valid. Allowed values: Managed, Kubernetes, AzureMLCompute.")
		}
	}
	tags, props := parsePairs(q.Get("tags")), parsePairs(q.Get("properties"))

	var list []*rekey.Endpoint
	err = a.Store.View(r.Context(), func(tx rekey.Tx) error {
		if _, err := tx.Workspace(ws); err != nil {
			return err
		}
		list, err = tx.Endpoints(ws)
		return err
	})
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(e *rekey.Endpoint) bool {
		return (q.Get("name") != "" && !strings.EqualFold(e.ID.Name, q.Get("name"))) ||
			(compute == "Managed" && e.Compute != "") || (compute != "" && compute != "Managed" && e.Compute == "") ||
			!pairsMatch(tags, e.Tags) || !pairsMatch(props, e.Properties)
	})
	sortEndpoints(list, order)

	list, next := pageOf(list, pg)
	out := struct {
		Value    []endpointJSON `json:"value"`
		NextLink *string        `json:"nextLink,omitempty"`
	}{Value: []endpointJSON{}, NextLink: a.nextLink(r, next)}
	for _, e := range list {
		out.Value = append(out.Value, a.endpointOut(r, e))
	}
	return encode(w, http.StatusOK, out)
}

// sortEndpoints orders by the orderBy value; "" keeps creation order.
func sortEndpoints(list []*rekey.Endpoint, order string) {
	key := func(e *rekey.Endpoint) int64 {
		if strings.HasPrefix(order, "Updated") {
			return e.SystemData.LastModifiedAt.UnixNano()
		}
		return e.SystemData.CreatedAt.UnixNano()
	}
	if order == "" {
		return
	}
	desc := strings.HasSuffix(order, "Desc")
	slices.SortStableFunc(list, func(x, y *rekey.Endpoint) int {
		c := int(min(max(key(x)-key(y), -1), 1))
		if desc {
			return -c
		}
		return c
	})
}

type pair struct {
	key, value string
	hasValue   bool
}

// parsePairs parses the tags/properties filter syntax: comma-separated
// "key" or "key=value" terms.
func parsePairs(s string) []pair {
	var out []pair
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		k, v, ok := strings.Cut(term, "=")
		out = append(out, pair{strings.TrimSpace(k), strings.TrimSpace(v), ok})
	}
	return out
}

// pairsMatch reports whether m has every key (and value, when given).
func pairsMatch(filter []pair, m map[string]string) bool {
	for _, p := range filter {
		v, ok := m[p.key]
		if !ok || (p.hasValue && v != p.value) {
			return false
		}
	}
	return true
}
