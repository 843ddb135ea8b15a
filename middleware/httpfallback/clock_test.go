package httpfallback

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// fakeClockRig drives a coarseClock by hand: the goroutine's wall-clock readings are the
// times the test sends on wall (a reading made while the clock is stopped takes the next
// one too), and its ticks are the test's sends on tick (unbuffered: once a send returns,
// the goroutine has published its reading for that tick). stopped receives when the
// goroutine stops its ticker (idle, or closed).
type fakeClockRig struct {
	c       *coarseClock
	wall    chan time.Time
	tick    chan time.Time
	stopped chan struct{}
	quit    chan struct{}
}

func newFakeClockRig(t *testing.T, idle int) *fakeClockRig {
	g := &fakeClockRig{
		wall: make(chan time.Time, 1), tick: make(chan time.Time),
		stopped: make(chan struct{}, 1), quit: make(chan struct{}),
	}
	g.c = newCoarseClock()
	g.c.idle = idle
	g.c.wall = func() time.Time {
		select {
		case w := <-g.wall:
			return w
		case <-g.quit:
			return time.Time{}
		}
	}
	g.c.newTicker = func() (<-chan time.Time, func()) {
		return g.tick, func() { g.stopped <- struct{}{} }
	}
	t.Cleanup(func() {
		close(g.quit)
		g.c.close()
	})
	return g
}

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// Stopped, the clock reads the wall clock and starts its goroutine; running, a reading is
// the goroutine's last one (the wall clock is not read), and each tick brings a new one.
func TestCoarseClockPublishesAReadingPerTick(t *testing.T) {
	g := newFakeClockRig(t, 1000)
	g.wall <- at(0)
	assert.Equal(t, at(0), g.c.now(), "stopped: the wall clock, read by the reader")

	g.wall <- at(1) // the woken goroutine's first reading
	g.tick <- time.Time{}
	for range 3 {
		assert.Equal(t, at(1), g.c.now(), "running: the published reading")
	}
	g.wall <- at(2)
	g.tick <- time.Time{}
	assert.Equal(t, at(2), g.c.now(), "the next tick's reading")
	assert.Empty(t, g.wall, "no reader read the wall clock while it ran")
}

// A clock read by no one for idle ticks ends its goroutine (and unpublishes its reading);
// the next reading reads the wall clock again and starts another.
func TestCoarseClockStopsWhenUnreadAndRestarts(t *testing.T) {
	g := newFakeClockRig(t, 2)
	g.wall <- at(0)
	g.c.now()
	g.wall <- at(1)
	g.tick <- time.Time{} // read since the last tick: goes on
	g.wall <- at(2)
	g.tick <- time.Time{} // unread: 1
	g.wall <- at(3)
	g.tick <- time.Time{} // unread: 2, ends
	<-g.stopped
	assert.Nil(t, g.c.cur.Load(), "stopped: no reading published")

	g.wall <- at(10)
	assert.Equal(t, at(10), g.c.now(), "the wall clock again")
	g.wall <- at(11)
	g.tick <- time.Time{}
	assert.Equal(t, at(11), g.c.now(), "running again")
}

// The goroutine never publishes a reading before the one published (a reader's, made while
// it was stopped, may be later than the goroutine's first).
func TestCoarseClockNeverGoesBack(t *testing.T) {
	g := newFakeClockRig(t, 1000)
	g.wall <- at(5)
	assert.Equal(t, at(5), g.c.now())
	g.wall <- at(4) // the goroutine's reading, earlier than the reader's
	g.tick <- time.Time{}
	assert.Equal(t, at(5), g.c.now(), "not moved back")
	g.wall <- at(6)
	g.tick <- time.Time{}
	assert.Equal(t, at(6), g.c.now())
}

// After close, readings are the wall clock's, none is published, and the goroutine is gone
// (TestMain's leak check).
func TestCoarseClockAfterCloseReadsTheWallClock(t *testing.T) {
	g := newFakeClockRig(t, 1000)
	g.wall <- at(0)
	g.c.now()
	g.wall <- at(1)
	g.tick <- time.Time{}
	g.wall <- at(2) // the reading it makes before it waits for the next tick, or close
	g.c.close()
	<-g.stopped
	g.wall <- at(7)
	assert.Equal(t, at(7), g.c.now())
	assert.Nil(t, g.c.cur.Load(), "nothing published after close")
	g.wall <- at(8)
	assert.Equal(t, at(8), g.c.now())
}

// The real clock under concurrent readers: no reading is after a time.Now taken after it,
// and one goroutine's readings never go backwards.
func TestCoarseClockConcurrentReadingsStayInOrder(t *testing.T) {
	c := newCoarseClock()
	defer c.close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var prev time.Time
			for i := range 2000 {
				got := c.now()
				after := time.Now()
				if got.After(after) || got.Before(prev) {
					assert.Fail(t, "out of order", "goroutine %d reading %d: %v after %v or before %v", g, i, got, after, prev)
					return
				}
				prev = got
			}
		})
	}
	wg.Wait()
}

// An Engine built without Config.Now runs on its coarse clock, with no goroutine until
// first read (that reading is the wall clock's); Close ends the goroutine. Durations are
// timed apart from it.
func TestEngineWithoutNowUsesTheCoarseClock(t *testing.T) {
	eng, err := New(Config{})
	require.NoError(t, err)
	require.NotNil(t, eng.clk)
	assert.False(t, eng.clk.running, "no goroutine before the first reading")
	before := time.Now()
	got := eng.cfg.Now()
	assert.False(t, got.Before(before) || got.After(time.Now()), "the first reading is the wall clock's")
	eng.clk.mu.Lock()
	assert.True(t, eng.clk.running, "the first reading started the goroutine")
	eng.clk.mu.Unlock()
	require.NoError(t, eng.Close()) // it waits for the goroutine to end (TestMain checks for leaks)

	now := func() time.Time { return t0 }
	withNow, err := New(Config{Common: upstream.Common{Now: now}})
	require.NoError(t, err)
	defer func() { require.NoError(t, withNow.Close()) }()
	assert.Nil(t, withNow.clk, "Config.Now given: no coarse clock")
	assert.Equal(t, t0, withNow.stopwatch(), "Config.Now given: it times Durations too")
}

// BenchmarkClock compares the default clock, running (as while requests read it), with
// time.Now:
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
		c := newCoarseClock()
		defer c.close()
		for b.Loop() {
			sink = c.now()
		}
	})
	_ = sink
}
