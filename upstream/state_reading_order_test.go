package upstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reading of the breaker that stalls between asking hystrix and recording what it saw
// does not undo a newer reading recorded meanwhile: the circuit seen open stays open (no
// spurious closing for the hook, no Closed reading trusted), and the stalled caller gets
// the newer state.
func TestStateOlderReadingDoesNotUndoANewerOne(t *testing.T) {
	b := &fakeBreaker{}
	r := newRunner(Settings{Name: t.Name(), Timeout: time.Minute, MaxConcurrent: 4,
		SleepWindow: time.Hour, StatePollInterval: time.Hour,
		OnStateChange: func(string, BreakerState, BreakerState) {}}, b)
	defer r.Close()
	read, release := make(chan struct{}), make(chan struct{})
	b.readHook = func() { close(read); <-release } // the next reading (closed) stalls
	got := make(chan BreakerState, 1)
	go func() { got <- r.StateAt(time.Now()) }()
	<-read

	b.mu.Lock()
	b.open = true
	b.mu.Unlock()
	require.Equal(t, Open, r.State(), "a newer reading sees the circuit open")
	close(release)

	assert.Equal(t, Open, <-got, "the stalled reading answers the newer state")
	assert.True(t, r.OpenAt(time.Now()), "the Open reading is still trusted")
	assert.Zero(t, r.closedHint.Load(), "no Closed reading is trusted")
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, Open, r.seen, "no closing recorded for the hook")
	assert.False(t, r.openedAt.IsZero(), "the time the circuit opened is kept")
}
