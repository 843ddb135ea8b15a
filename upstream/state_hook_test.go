package upstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hook goroutine may first look at a circuit after its sleep window has passed (a
// busy machine): it still reports the opening before the half-open state.
func TestStateHookReportsOpeningWhenFirstSeenHalfOpen(t *testing.T) {
	changes := make(chan [2]BreakerState, 4)
	r, fb := fakeRunner(t, Settings{
		SleepWindow: time.Millisecond, StatePollInterval: time.Hour,
		OnStateChange: func(_ string, from, to BreakerState) { changes <- [2]BreakerState{from, to} },
	})
	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	require.Equal(t, Open, r.State(), "seen open: the Runner's sleep window starts now")
	require.Eventually(t, func() bool { return r.State() == HalfOpen }, pollFor, pollEvery)
	r.poke() // the hook goroutine reads the state only now, already half-open
	next := func() [2]BreakerState {
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no state change reported")
			return [2]BreakerState{}
		}
	}
	assert.Equal(t, [2]BreakerState{Closed, Open}, next())
	assert.Equal(t, [2]BreakerState{Open, HalfOpen}, next())
}
