package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBreaker(t *testing.T) {
	clk := newClock()
	b := newBreaker(BreakerConfig{Failures: 3, OpenFor: time.Second}, clk.Now)

	// Failures that are not consecutive do not open it.
	for range 5 {
		require.True(t, allowed(b))
		b.done(b.gen, failure)
		require.True(t, allowed(b))
		b.done(b.gen, success)
	}
	st, opened := b.snapshot()
	require.Equal(t, BreakerClosed, st)
	require.Zero(t, opened)

	for range 3 {
		require.True(t, allowed(b))
		b.done(b.gen, failure)
	}
	st, opened = b.snapshot()
	require.Equal(t, BreakerOpen, st)
	require.EqualValues(t, 1, opened)
	assert.False(t, allowed(b), "open: calls are refused")

	clk.Advance(999 * time.Millisecond)
	assert.False(t, allowed(b), "still open before OpenFor")

	clk.Advance(time.Millisecond)
	require.True(t, allowed(b), "after OpenFor one probe goes through")
	assert.False(t, allowed(b), "only one probe at a time")
	st, _ = b.snapshot()
	assert.Equal(t, BreakerHalfOpen, st)

	b.done(b.gen, failure)
	st, opened = b.snapshot()
	require.Equal(t, BreakerOpen, st, "a failed probe opens it again")
	require.EqualValues(t, 2, opened)
	assert.False(t, allowed(b), "for a new OpenFor")

	clk.Advance(time.Second)
	require.True(t, allowed(b))
	b.done(b.gen, neutral)
	require.True(t, allowed(b), "a probe that said nothing lets the next call probe")
	b.done(b.gen, success)
	st, _ = b.snapshot()
	assert.Equal(t, BreakerClosed, st, "a successful probe closes it")
	assert.True(t, allowed(b))
	b.done(b.gen, success)

	// Closed again: it takes Failures fresh consecutive failures to open.
	for range 2 {
		require.True(t, allowed(b))
		b.done(b.gen, failure)
	}
	st, _ = b.snapshot()
	assert.Equal(t, BreakerClosed, st)
}

func TestBreakerStateString(t *testing.T) {
	assert.Equal(t, "closed", BreakerClosed.String())
	assert.Equal(t, "open", BreakerOpen.String())
	assert.Equal(t, "half-open", BreakerHalfOpen.String())
	assert.Equal(t, "unknown", BreakerState(9).String())
}

// allowed is allow's verdict alone.
func allowed(b *breaker) bool {
	_, ok := b.allow()
	return ok
}

// An outcome from a call admitted in an earlier state is ignored: calls that were in
// flight when the breaker opened cannot close it by succeeding late (it would flap under
// sustained slowness, each reopening costing Failures more timeouts), nor can a late
// failure reopen it once a probe has closed it.
func TestBreakerIgnoresOutcomesOfAnEarlierState(t *testing.T) {
	clk := newClock()
	b := newBreaker(BreakerConfig{Failures: 2, OpenFor: time.Second}, clk.Now)
	var inFlight []uint64
	for range 4 {
		gen, ok := b.allow()
		require.True(t, ok)
		inFlight = append(inFlight, gen)
	}
	b.done(inFlight[0], failure)
	b.done(inFlight[1], failure)
	st, _ := b.snapshot()
	require.Equal(t, BreakerOpen, st)

	b.done(inFlight[2], success) // admitted while closed, ends after the breaker opened
	st, _ = b.snapshot()
	assert.Equal(t, BreakerOpen, st, "a late success does not close an open breaker")
	assert.False(t, allowed(b))

	clk.Advance(time.Second)
	probe, ok := b.allow()
	require.True(t, ok)
	b.done(inFlight[3], failure) // still from before the breaker opened
	st, _ = b.snapshot()
	assert.Equal(t, BreakerHalfOpen, st, "a late failure does not decide the probe")
	b.done(probe, success)
	st, opened := b.snapshot()
	assert.Equal(t, BreakerClosed, st)
	assert.EqualValues(t, 1, opened)
}
