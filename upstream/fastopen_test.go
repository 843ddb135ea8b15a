package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While the breaker is open and its sleep window has not passed, Run and Admit answer
// ErrCircuitOpen without entering the breaker (no hystrix command, no goroutines); once
// the window has passed the calls reach it again, so that its half-open probe can run.
func TestOpenBreakerRefusesWithoutEnteringIt(t *testing.T) {
	r, fb := fakeRunner(t, Settings{SleepWindow: time.Hour})
	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	require.Equal(t, Open, r.State())

	ran := false
	for range 3 {
		err := r.Run(context.Background(), func(context.Context) error { ran = true; return nil })
		assert.ErrorIs(t, err, ErrCircuitOpen)
		_, done, err := r.Admit(context.Background())
		assert.ErrorIs(t, err, ErrCircuitOpen)
		assert.NoError(t, done(nil), "a refusal's done is a no-op")
	}
	assert.False(t, ran)
	fb.mu.Lock()
	assert.Zero(t, fb.refused, "the breaker was not entered while open")
	fb.mu.Unlock()
	assert.Zero(t, len(r.sem), "no concurrency slot held")

	// Past the sleep window (HalfOpen) the call goes to the breaker, which decides.
	r.mu.Lock()
	r.openedAt = time.Now().Add(-2 * time.Hour)
	r.mu.Unlock()
	require.Equal(t, HalfOpen, r.State())
	assert.ErrorIs(t, r.Run(context.Background(), func(context.Context) error { return nil }), ErrCircuitOpen)
	fb.mu.Lock()
	assert.Equal(t, 1, fb.refused, "half-open: the breaker was asked")
	fb.mu.Unlock()
}
