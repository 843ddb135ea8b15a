package fakeclock

import (
	"sync/atomic"
	"time"
)

// Start is the instant New starts at: fixed, so that outputs are stable.
func Start() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// Clock is a fake clock, safe for concurrent use; reading it takes no lock, so that it
// adds no contention to parallel benchmarks. Its zero value reads the zero time.
type Clock struct {
	now atomic.Pointer[time.Time]
}

// New returns a clock reading Start.
func New() *Clock {
	c := &Clock{}
	c.Set(Start())
	return c
}

// Now reads the clock; pass the method value (c.Now) as a Config's Now.
func (c *Clock) Now() time.Time {
	if t := c.now.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// Advance moves the clock forward by d (backward for a negative d).
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.now.Load()
		var t time.Time
		if old != nil {
			t = *old
		}
		t = t.Add(d)
		if c.now.CompareAndSwap(old, &t) {
			return
		}
	}
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.now.Store(&t) }
