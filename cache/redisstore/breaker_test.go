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
		require.True(t, b.allow())
		b.done(failure)
		require.True(t, b.allow())
		b.done(success)
	}
	st, opened := b.snapshot()
	require.Equal(t, BreakerClosed, st)
	require.Zero(t, opened)

	for range 3 {
		require.True(t, b.allow())
		b.done(failure)
	}
	st, opened = b.snapshot()
	require.Equal(t, BreakerOpen, st)
	require.EqualValues(t, 1, opened)
	assert.False(t, b.allow(), "open: calls are refused")

	clk.Advance(999 * time.Millisecond)
	assert.False(t, b.allow(), "still open before OpenFor")

	clk.Advance(time.Millisecond)
	require.True(t, b.allow(), "after OpenFor one probe goes through")
	assert.False(t, b.allow(), "only one probe at a time")
	st, _ = b.snapshot()
	assert.Equal(t, BreakerHalfOpen, st)

	b.done(failure)
	st, opened = b.snapshot()
	require.Equal(t, BreakerOpen, st, "a failed probe opens it again")
	require.EqualValues(t, 2, opened)
	assert.False(t, b.allow(), "for a new OpenFor")

	clk.Advance(time.Second)
	require.True(t, b.allow())
	b.done(neutral)
	require.True(t, b.allow(), "a probe that said nothing lets the next call probe")
	b.done(success)
	st, _ = b.snapshot()
	assert.Equal(t, BreakerClosed, st, "a successful probe closes it")
	assert.True(t, b.allow())
	b.done(success)

	// Closed again: it takes Failures fresh consecutive failures to open.
	for range 2 {
		require.True(t, b.allow())
		b.done(failure)
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
