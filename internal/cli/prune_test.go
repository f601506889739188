package cli

import (
	"testing"
	"time"
)

func TestPruneEvery(t *testing.T) {
	for _, tt := range []struct {
		ops, usage, want time.Duration
	}{
		{7 * 24 * time.Hour, 90 * 24 * time.Hour, time.Hour},
		{time.Minute, 90 * 24 * time.Hour, 15 * time.Second},
		{0, 0, time.Hour},
		{0, 2 * time.Second, time.Second},
	} {
		if got := pruneEvery(tt.ops, tt.usage); got != tt.want {
			t.Errorf("pruneEvery(%v, %v) = %v, want %v", tt.ops, tt.usage, got, tt.want)
		}
	}
}
