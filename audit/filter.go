package audit

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
)

// Query parameters of GET /rekey/v1/audit.
var queryParams = []string{"since", "until", "resource", "principal", "action", "$top", "$skipToken"}

// ParseQuery reads an audit query: since and until (an RFC 3339 time, or
// an age such as 90m, 1h or 7d, counted back from now), resource,
// principal, action ('*' at its start or end matches any characters
// there), $top (1 to MaxAuditPage) and $skipToken (from a
// nextLink). Parameter names match case-insensitively, as ARM's do. An
// unknown or repeated parameter, or a value that does not parse, is an
// Invalid error whose message says what to send instead.
func ParseQuery(q url.Values, now time.Time) (rekey.AuditFilter, error) {
	var f rekey.AuditFilter
	for name, vals := range q {
		known := ""
		for _, k := range queryParams {
			if strings.EqualFold(name, k) {
				known = k
			}
		}
		if known == "" {
			return f, rekey.Errorf(rekey.Invalid, "The query parameter '%s' is not known. The audit log takes %s.", rekey.Clip(name, 40), strings.Join(queryParams, ", "))
		}
		if len(vals) != 1 {
			return f, rekey.Errorf(rekey.Invalid, "The query parameter '%s' is given %d times; give it once.", known, len(vals))
		}
		v := vals[0]
		var err error
		switch known {
		case "since":
			f.Since, err = parseWhen(known, v, now)
		case "until":
			f.Until, err = parseWhen(known, v, now)
		case "resource":
			if !strings.HasPrefix(v, "/") || len(v) > 1024 {
				err = rekey.Errorf(rekey.Invalid, "The query parameter 'resource' must be an ARM resource id that starts with '/', such as /subscriptions/{id}/resourceGroups/{group}, up to 1024 characters.")
			}
			f.Resource = v
		case "principal":
			if v == "" || len(v) > 256 {
				err = rekey.Errorf(rekey.Invalid, "The query parameter 'principal' must be a principal's id, appId or name (1 to 256 characters).")
			}
			f.Principal = v
		case "action":
			if inner := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*"); inner == "" || len(v) > 256 || strings.Contains(inner, "*") {
				err = rekey.Errorf(rekey.Invalid, "The query parameter 'action' must be an action such as Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action, with '*' only at its start or end to match any characters there, e.g. */regenerateKeys/action (up to 256 characters).")
			}
			f.Action = v
		case "$top":
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > rekey.MaxAuditPage {
				err = rekey.Errorf(rekey.Invalid, "The query parameter '$top' must be a whole number from 1 to %d; it is '%s'.", rekey.MaxAuditPage, rekey.Clip(v, 40))
			}
			f.Limit = n
		case "$skipToken":
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil || n < 1 {
				err = rekey.Errorf(rekey.Invalid, "The query parameter '$skipToken' is not one this server handed out. Follow the nextLink of the previous page as it is.")
			}
			f.Before = n
		}
		if err != nil {
			return rekey.AuditFilter{}, err
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return rekey.AuditFilter{}, rekey.Errorf(rekey.Invalid, "The query parameter 'since' (%s) must be before 'until' (%s).", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// parseWhen reads an RFC 3339 time or an age back from now.
func parseWhen(name, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if d, ok := parseAge(v); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, rekey.Errorf(rekey.Invalid, "The query parameter '%s' must be an RFC 3339 time such as 2026-01-02T15:04:05Z, or an age such as 90m, 1h or 7d; it is '%s'.", name, rekey.Clip(v, 40))
}

// maxAge bounds an age, so that now minus it stays a sane time.
const maxAge = 100 * 365 * 24 * time.Hour

// parseAge reads a positive Go duration, or a whole number of days ("7d").
func parseAge(v string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > int(maxAge/(24*time.Hour)) {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxAge {
		return 0, false
	}
	return d, true
}

// NextQuery is the query of the page after page, which was read with
// the filter f; "" when page is the last. Ages are fixed at the first
// page's time, so that the pages do not slide.
func NextQuery(f rekey.AuditFilter, page []rekey.AuditRecord) string {
	limit := f.Limit
	if limit <= 0 {
		limit = rekey.DefaultAuditPage
	}
	if len(page) == 0 || len(page) < limit {
		return ""
	}
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+"="+url.QueryEscape(v))
		}
	}
	if !f.Since.IsZero() {
		add("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		add("until", f.Until.Format(time.RFC3339Nano))
	}
	add("resource", f.Resource)
	add("principal", f.Principal)
	add("action", f.Action)
	if f.Limit > 0 {
		add("$top", strconv.Itoa(f.Limit))
	}
	add("$skipToken", strconv.FormatInt(page[len(page)-1].Seq, 10))
	return strings.Join(parts, "&")
}
