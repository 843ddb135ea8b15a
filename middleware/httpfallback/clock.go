package httpfallback

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is an Engine's clock when Config.Now is nil: the wall clock as a goroutine of
// the Engine's reads it once per tick (a millisecond) while requests read the clock, so
// that a request's reading is an atomic load. Every request reads the clock, a fresh hit
// included; on virtual machines whose clock source is slow to read (kvm-clock) one
// time.Now costs about 55 ns, an eighth of a fresh hit. A reading lags time.Now by at most
// a tick plus the delay before the goroutine runs (on a busy machine, a few milliseconds):
// nothing the engine reads the clock for (ages and freshness in seconds, the times of a
// response) shows it. Durations (Event.Duration) are timed with time.Now instead.
//
// The goroutine ends after a second without readings (an idle Engine has none); the first
// reading after that reads the wall clock itself and starts one. Readings never go
// backwards: a reading is always the last one published, and the goroutine publishes only
// a later one.
type coarseClock struct {
	cur  atomic.Pointer[time.Time] // the last reading; nil while no goroutine runs
	read atomic.Bool               // read since the goroutine's last tick

	wall      func() time.Time                  // time.Now; a test's clock
	newTicker func() (<-chan time.Time, func()) // the tick and its stop; a test's own
	idle      int                               // ticks without readings before the goroutine ends

	mu      sync.Mutex
	running bool           // a goroutine runs (it publishes the readings)
	closed  bool           // after close: readings are the wall clock's, no goroutine starts
	stop    chan struct{}  // closed by close
	wg      sync.WaitGroup // the goroutines started (one runs at a time; one ending may overlap the next)
}

// clockTick is the coarse clock's resolution; clockIdle the ticks without readings after
// which its goroutine stops.
const (
	clockTick = time.Millisecond
	clockIdle = 1000
)

func newCoarseClock() *coarseClock {
	return &coarseClock{
		wall: time.Now,
		newTicker: func() (<-chan time.Time, func()) {
			t := time.NewTicker(clockTick)
			return t.C, t.Stop
		},
		idle: clockIdle,
		stop: make(chan struct{}),
	}
}

// now is the current time (see coarseClock).
func (c *coarseClock) now() time.Time {
	if t := c.cur.Load(); t != nil {
		if !c.read.Load() { // a plain load first: no write, no cache-line bouncing, when set
			c.read.Store(true)
		}
		return *t
	}
	// No goroutine runs: read the wall clock, publish the reading (unless another was
	// published first: then that one, so that readings stay in order) and start one. The
	// reading is taken under the lock: one taken before it could be older than a reading
	// published (and unpublished) meanwhile.
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.wall()
	if c.closed {
		return t
	}
	if !c.cur.CompareAndSwap(nil, &t) {
		return *c.cur.Load()
	}
	c.read.Store(true)
	if !c.running {
		c.running = true
		c.wg.Add(1)
		go c.run()
	}
	return t
}

// run publishes a reading per tick until the clock has gone c.idle ticks unread, or
// close; it then unpublishes the last reading and ends.
func (c *coarseClock) run() {
	defer c.wg.Done()
	tc, stopTicker := c.newTicker()
	defer stopTicker()
	for unread := 0; ; {
		t := c.wall()
		if last := c.cur.Load(); last == nil || t.After(*last) {
			c.cur.Store(&t)
		}
		select {
		case <-c.stop:
			return
		case <-tc:
		}
		if c.read.Swap(false) {
			unread = 0
		} else if unread++; unread >= c.idle {
			c.mu.Lock()
			c.running = false
			c.cur.Store(nil)
			c.mu.Unlock()
			return
		}
	}
}

// close ends the goroutine; readings after it are the wall clock's. Safe to call twice.
func (c *coarseClock) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	c.mu.Unlock()
	c.wg.Wait() // no goroutine starts once closed is set
	c.cur.Store(nil)
}
