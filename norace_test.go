//go:build !race

package rekey_test

const raceEnabled = false
