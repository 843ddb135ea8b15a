package upstream

import (
	"context"
	"errors"
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
	assert.Equal(t, Closed, r.State())
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
	require.Equal(t, Closed, r.State())
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

// A Closed reading by StateAt is trusted by StateAt for openTrust of the caller's clock
// (hystrix is not read again), until an outcome other than a success is reported; State
// always reads.
func TestStateAtTrustsAClosedReadingBriefly(t *testing.T) {
	r, fb := fakeRunner(t, Settings{SleepWindow: time.Minute})
	now := time.Now()
	require.Equal(t, Closed, r.StateAt(now))
	_, done, err := r.AdmitRead(context.Background(), Closed)
	require.NoError(t, err)
	require.NoError(t, done(nil)) // a success keeps the trust
	fb.mu.Lock()
	fb.open = true // opened since (say, a volume threshold crossed by successes)
	fb.mu.Unlock()
	assert.Equal(t, Closed, r.StateAt(now.Add(openTrust-time.Millisecond)), "trusted")
	assert.Equal(t, Open, r.State(), "State reads the breaker")
	assert.Equal(t, Open, r.StateAt(now.Add(openTrust)), "trusted for openTrust only")

	fb.mu.Lock()
	fb.open = false
	fb.mu.Unlock()
	later := now.Add(time.Hour)
	require.Equal(t, Closed, r.StateAt(later))
	_, done, err = r.AdmitRead(context.Background(), Closed)
	require.NoError(t, err)
	require.Error(t, done(errors.New("upstream failed")))
	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	assert.Equal(t, Open, r.StateAt(later), "a failure drops the trust: read again")
}
