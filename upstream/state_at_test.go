package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// StateAt reads the breaker as State does, at the caller's clock reading: the first reading
// that finds the circuit open starts its sleep window at now, HalfOpen once now is past it.
func TestStateAtUsesTheCallersReading(t *testing.T) {
	r, fb := fakeRunner(t, Settings{SleepWindow: time.Minute})
	now := time.Now()
	assert.Equal(t, Closed, r.StateAt(now))
	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	require.Equal(t, Open, r.StateAt(now))
	r.mu.Lock()
	assert.Equal(t, now, r.openedAt, "the window starts at the caller's reading")
	r.mu.Unlock()
	assert.Equal(t, Open, r.StateAt(now.Add(time.Minute)), "within the window")
	assert.Equal(t, HalfOpen, r.StateAt(now.Add(time.Minute+time.Millisecond)), "past it")
	assert.Equal(t, Open, r.State(), "State reads the clock itself: within the window")
}

// OpenAt trusts an Open reading for openTrust of the caller's clock, within the sleep
// window, until a success or a probe is reported; it never reads the breaker.
func TestOpenAtTrustsAnOpenReadingBriefly(t *testing.T) {
	r, fb := fakeRunner(t, Settings{SleepWindow: time.Minute})
	now := time.Now()
	assert.False(t, r.OpenAt(now), "nothing read yet")
	require.Equal(t, Closed, r.StateAt(now))
	assert.False(t, r.OpenAt(now), "read closed")

	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	require.Equal(t, Open, r.StateAt(now))
	assert.True(t, r.OpenAt(now))
	assert.True(t, r.OpenAt(now.Add(openTrust-time.Millisecond)))
	assert.False(t, r.OpenAt(now.Add(openTrust)), "trusted for openTrust only")

	fb.mu.Lock()
	fb.open = false // a late success closed the circuit
	fb.mu.Unlock()
	_, done, err := r.AdmitRead(context.Background(), Closed) // admitted before it opened, say
	require.NoError(t, err)
	require.NoError(t, done(nil))
	assert.False(t, r.OpenAt(now), "a success closes an open circuit: the hint is dropped")

	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	require.Equal(t, Open, r.StateAt(now))
	r.noteRun()
	assert.False(t, r.OpenAt(now), "a probe restarts the window: the hint is dropped")

	short, fs := fakeRunner(t, Settings{SleepWindow: time.Millisecond})
	fs.mu.Lock()
	fs.open = true
	fs.mu.Unlock()
	require.Equal(t, Open, short.StateAt(now))
	assert.False(t, short.OpenAt(now.Add(time.Millisecond)), "not past the sleep window")
}
