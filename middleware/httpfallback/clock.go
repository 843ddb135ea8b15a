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
// The goroutine stops after a second without readings (an idle Engine costs nothing); the
// first reading after that reads the wall clock itself and wakes it. Readings never go
// backwards: a reading is always the last one published, and the goroutine publishes only
// a later one.
type coarseClock struct {
	cur  atomic.Pointer[time.Time] // the last reading; nil while the goroutine is stopped
	read atomic.Bool               // read since the goroutine's last tick

	wall      func() time.Time                  // time.Now; a test's clock
	newTicker func() (<-chan time.Time, func()) // the tick and its stop; a test's own
	idle      int                               // ticks without readings before the goroutine stops
	wake      chan struct{}                     // buffered 1: a reading found it stopped
	stop      chan struct{}                     // closed by close
	done      chan struct{}                     // closed when run returns
	closed    atomic.Bool                       // after close: readings are the wall clock's
	once      sync.Once                         // close
	started   atomic.Bool                       // run was started (close waits for it only then)
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
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
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
	t := c.wall()
	if c.closed.Load() {
		return t
	}
	// Stopped: publish this reading (unless another reading was published first: then
	// that one, so that readings stay in order) and wake the goroutine.
	if !c.cur.CompareAndSwap(nil, &t) {
		return c.now()
	}
	if c.closed.Load() { // closed meanwhile: no goroutine will replace it
		c.cur.CompareAndSwap(&t, nil)
		return t
	}
	c.read.Store(true)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return t
}

// start starts the goroutine; close stops it.
func (c *coarseClock) start() {
	c.started.Store(true)
	go c.run()
}

// run publishes a reading per tick while the clock is read, and sleeps until woken when
// it is not.
func (c *coarseClock) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		if !c.tick() {
			return
		}
	}
}

// tick publishes a reading per tick until the clock has gone c.idle ticks unread (it
// then unpublishes the last reading and returns true) or close (false).
func (c *coarseClock) tick() bool {
	tc, stopTicker := c.newTicker()
	defer stopTicker()
	for unread := 0; ; {
		t := c.wall()
		if last := c.cur.Load(); last == nil || t.After(*last) {
			c.cur.Store(&t)
		}
		select {
		case <-c.stop:
			return false
		case <-tc:
		}
		if c.read.Swap(false) {
			unread = 0
			continue
		}
		if unread++; unread >= c.idle {
			c.cur.Store(nil)
			return true
		}
	}
}

// close stops the goroutine; readings after it are the wall clock's. Safe to call twice.
func (c *coarseClock) close() {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		if c.started.Load() {
			<-c.done
		}
		c.cur.Store(nil)
	})
}
