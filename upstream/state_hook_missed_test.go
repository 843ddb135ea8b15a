package upstream

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An opening that a reader of the state sees and that closes again before the hook
// goroutine's next look is still reported, in order: the hook does not depend on catching
// the circuit open itself.
func TestStateHookReportsAnOpeningClosedBeforeItsNextLook(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	b := &fakeBreaker{}
	r := newRunner(Settings{Name: "missed", Timeout: time.Second, MaxConcurrent: 1,
		SleepWindow: time.Hour, StatePollInterval: time.Hour,
		OnStateChange: func(_ string, from, to BreakerState) {
			mu.Lock()
			changes = append(changes, from.String()+"->"+to.String())
			mu.Unlock()
		}}, b)
	defer r.Close()
	setOpen := func(open bool) { b.mu.Lock(); b.open = open; b.mu.Unlock() }
	setOpen(true)
	require.Equal(t, Open, r.State()) // a request sees it open...
	setOpen(false)
	require.Equal(t, Closed, r.State()) // ...and a probe's success closes it
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(changes) == 2
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"closed->open", "open->closed"}, changes)
}
