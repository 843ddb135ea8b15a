package redisstore

import (
	"sync"
	"time"
)

// BreakerState is the state of the breaker a Store keeps around Redis.
type BreakerState uint8

// Breaker states.
const (
	// BreakerClosed: calls go to Redis.
	BreakerClosed BreakerState = iota
	// BreakerOpen: calls fail at once with ErrBreakerOpen, Redis is not contacted.
	BreakerOpen
	// BreakerHalfOpen: one probe call is in flight; the others fail with ErrBreakerOpen.
	BreakerHalfOpen
)

// String returns the state's name, e.g. "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerConfig configures the breaker around Redis. Every zero value is a documented default.
type BreakerConfig struct {
	// Failures is how many consecutive failed calls (errors, timeouts) open the breaker;
	// 0 means 5.
	Failures int
	// OpenFor is how long the breaker stays open before it lets one probe call through;
	// 0 means 1 second.
	OpenFor time.Duration
}

// outcome is what a call through the breaker reports back.
type outcome uint8

const (
	success outcome = iota
	failure
	// neutral: the call said nothing about Redis (the caller gave up first).
	neutral
)

// breaker is a consecutive-failures circuit breaker with a single half-open probe.
type breaker struct {
	now       func() time.Time
	threshold int
	openFor   time.Duration

	mu       sync.Mutex
	state    BreakerState
	gen      uint64 // changes with every change of state
	failures int
	openedAt time.Time
	opened   uint64 // times the breaker opened
}

func newBreaker(cfg BreakerConfig, now func() time.Time) *breaker {
	return &breaker{now: now, threshold: cfg.Failures, openFor: cfg.OpenFor}
}

// allow reports whether a call may go to Redis now, and the breaker's generation the call
// belongs to. A true return must be followed by exactly one done call with that generation.
func (b *breaker) allow() (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return b.gen, true
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.openFor {
			return 0, false
		}
		b.set(BreakerHalfOpen) // this caller is the probe
		return b.gen, true
	}
	return 0, false // half-open: the probe is in flight
}

// done records the outcome of a call allowed in generation gen. An outcome from another
// generation is about a state that has passed (a call admitted before the breaker opened,
// say, ending after it): it is ignored, so that a slow success cannot close an open breaker
// (nor a late failure reopen a closed one) and the breaker does not flap.
func (b *breaker) done(gen uint64, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen {
		return
	}
	switch o {
	case success:
		b.failures = 0
		if b.state != BreakerClosed {
			b.set(BreakerClosed)
		}
	case failure:
		b.failures++
		if b.state == BreakerHalfOpen || (b.state == BreakerClosed && b.failures >= b.threshold) {
			b.set(BreakerOpen)
			b.openedAt = b.now()
			b.opened++
		}
	case neutral:
		if b.state == BreakerHalfOpen {
			// The probe told us nothing: let the next call probe.
			b.set(BreakerOpen)
		}
	}
}

// set moves the breaker to state, starting a new generation. b.mu is held.
func (b *breaker) set(state BreakerState) {
	b.state = state
	b.gen++
}

func (b *breaker) snapshot() (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.opened
}
