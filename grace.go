package rekey

import "strings"

// CheckGracePeriod validates GracePeriodProperty in a bag of settings at
// write time: field names the bag for the message ("properties.properties"
// of an endpoint, "tags" of an account). A value the gateway could not
// read would otherwise be stored and silently mean no grace at all, so it
// is refused, and so is the name spelt in another case or with spaces,
// which the gateway would not find.
func CheckGracePeriod(field string, m map[string]string) error {
	for k, v := range m {
		if k != GracePeriodProperty && strings.EqualFold(strings.TrimSpace(k), GracePeriodProperty) {
			return Errorf(Invalid, "%s['%s'] is not a setting rekey reads; spell it '%s'.", field, clip(k), GracePeriodProperty)
		}
		if k != GracePeriodProperty {
			continue
		}
		if _, err := ParseGracePeriod(v); err != nil {
			return Errorf(Invalid, "%s['%s'] must be a duration from 0s to 24h in Go syntax: a number and a unit (s, m or h) with no spaces, such as 30s, 15m or 1h30m (it is '%s'). Use \"\" to remove it.",
				field, GracePeriodProperty, clip(v))
		}
	}
	return nil
}
