package httpfallback

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The default clock reads what time.Now reads: each reading lies between a time.Now taken
// before it and one taken after, on the monotonic clock they carry and (within a
// millisecond) on the wall clock, whether it is the wall clock's own reading or one
// derived from it within the second.
func TestDefaultClockReadsTheWallClock(t *testing.T) {
	var c wallClock
	for i := range 3 {
		before := time.Now()
		got := c.now()
		after := time.Now()
		assert.False(t, got.Before(before) || got.After(after), "reading %d: monotonic order", i)
		// On the wall clock alone (Round(0) drops the monotonic reading), a derived
		// reading may lag by the gap between time.Now's two clock reads (nanoseconds):
		// allow a millisecond, far below anything a cache's seconds could show.
		wall, lo, hi := got.Round(0), before.Round(0).Add(-time.Millisecond), after.Round(0).Add(time.Millisecond)
		assert.False(t, wall.Before(lo) || wall.After(hi), "reading %d: wall clock %v not in [%v, %v]", i, wall, lo, hi)
	}
	require.NotNil(t, c.last.Load(), "the first reading is kept")
}

// The default clock reads the wall clock again once its last reading is a second old:
// an old reading is not the base of the next.
func TestDefaultClockRereadsTheWallClockAfterASecond(t *testing.T) {
	var c wallClock
	old := time.Now().Add(-2 * time.Second)
	c.last.Store(&old)
	before := time.Now()
	got := c.now()
	assert.False(t, got.Before(before), "read now, not derived from the old reading")
	assert.NotSame(t, &old, c.last.Load(), "the new reading replaced the old one")
	assert.False(t, c.last.Load().Before(before))
}

// An Engine built without Config.Now runs on the default clock.
func TestEngineWithoutNowUsesTheDefaultClock(t *testing.T) {
	eng, err := New(Config{})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	before := time.Now()
	got := eng.cfg.Now()
	assert.False(t, got.Before(before) || got.After(time.Now()))
}

// BenchmarkClock compares the default clock with time.Now, which it reads once a second:
//
//	go test -run '^$' -bench Clock -benchmem ./middleware/httpfallback/
func BenchmarkClock(b *testing.B) {
	var sink time.Time
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink = time.Now()
		}
	})
	b.Run("default", func(b *testing.B) {
		var c wallClock
		for b.Loop() {
			sink = c.now()
		}
	})
	_ = sink
}
