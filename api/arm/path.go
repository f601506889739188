package arm

import "strings"

// keywords are the fixed path segments ARM matches case-insensitively,
// keyed by their lower-case form.
var keywords = map[string]string{}

func init() {
	for _, k := range []string{
		"subscriptions", "resourceGroups", "providers", "Microsoft.MachineLearningServices",
		"workspaces", "onlineEndpoints", "listKeys", "regenerateKeys", "token",
		"locations", "mfeOperationsStatus", "mfeOperationResults",
		"Microsoft.CognitiveServices", "accounts", "regenerateKey", "deployments", "operationResults",
		"tenants", "metadata",
	} {
		keywords[strings.ToLower(k)] = k
	}
}

// canonicalPath rewrites the keyword positions of an ARM path to their
// canonical spelling, so routes can be listed once in routes.go while
// clients may write /SUBSCRIPTIONS/.../ONLINEENDPOINTS. Name positions
// (subscription, group, resource names) keep the caller's spelling.
//
// The grammar is /subscriptions/{s}[/resourceGroups/{g}][/providers/{ns}(/{type}/{name})*[/{action}]].
func canonicalPath(p string) string {
	segs := strings.Split(p, "/")
	fix := func(i int) {
		if i < len(segs) {
			if c, ok := keywords[strings.ToLower(segs[i])]; ok {
				segs[i] = c
			}
		}
	}
	i := 1
	fix(i) // subscriptions
	i += 2
	if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
		fix(i)
		i += 2
	}
	if i < len(segs) && strings.EqualFold(segs[i], "providers") {
		fix(i)
		fix(i + 1) // namespace
		for i += 2; i < len(segs); i += 2 {
			fix(i) // resource type or action
		}
	}
	return strings.Join(segs, "/")
}
