package httpfallback

import (
	"sync/atomic"
	"time"
)

// wallClock is an Engine's clock when Config.Now is nil: the wall clock (time.Now) read at
// most once a second, and in between that reading plus the monotonic time elapsed since
// it (time.Since reads only the monotonic clock). Every request reads the clock, a fresh
// hit included; on virtual machines whose clock source is slow to read (kvm-clock), one
// time.Now (wall and monotonic) costs about twice one monotonic reading and was the hit's
// largest single cost. The readings differ from time.Now's only by a step of the wall
// clock within the last second (NTP's slewing changes both clocks alike), and they carry
// the monotonic reading, so that comparisons between them ignore such steps anyway.
type wallClock struct {
	last atomic.Pointer[time.Time] // the last wall-clock reading; nil before the first
}

// now is the current time (see wallClock).
func (c *wallClock) now() time.Time {
	if t := c.last.Load(); t != nil {
		if d := time.Since(*t); d >= 0 && d < time.Second {
			return t.Add(d)
		}
	}
	t := time.Now()
	c.last.Store(&t)
	return t
}
