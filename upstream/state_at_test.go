package upstream

import (
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
