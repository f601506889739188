package authz

// Match reports whether action matches pattern as ARM matches the entries
// of a role's Actions: case-insensitively, where each '*' stands for any
// run of characters, '/' included ("Microsoft.MachineLearningServices/
// workspaces/*/action" covers ".../onlineEndpoints/score/action"). It does
// not allocate.
func Match(pattern, action string) bool {
	// Iterative glob with one backtrack point: O(len(pattern)*len(action))
	// in the worst case, linear for patterns of one '*'.
	p, a := 0, 0
	star, mark := -1, 0
	for a < len(action) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, a
			p++
		case p < len(pattern) && lower(pattern[p]) == lower(action[a]):
			p++
			a++
		case star >= 0:
			p = star + 1
			mark++
			a = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// matchAny reports whether some pattern matches action.
func matchAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if Match(p, action) {
			return true
		}
	}
	return false
}
