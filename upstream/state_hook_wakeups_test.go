package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The success of a call admitted on a Closed reading does not wake the hook goroutine
// (nothing it would report can follow from it at once: a miss would otherwise pay a
// goroutine wake-up for nothing); a failure does. The hook goroutine is held inside the
// hook meanwhile, so that a wake-up stays in its channel where the test can see it.
func TestHookGoroutineNotWokenBySuccessOfAClosedCall(t *testing.T) {
	entered, release := make(chan struct{}, 8), make(chan struct{})
	b := &fakeBreaker{}
	r := newRunner(Settings{Name: "wakeups", Timeout: time.Minute, MaxConcurrent: 4,
		SleepWindow: time.Hour, StatePollInterval: time.Hour,
		OnStateChange: func(string, BreakerState, BreakerState) {
			entered <- struct{}{} // buffered: the later changes' calls do not wait for the test
			<-release
		}}, b)
	defer r.Close()
	defer close(release)
	setOpen := func(open bool) { b.mu.Lock(); b.open = open; b.mu.Unlock() }

	setOpen(true)
	require.Equal(t, Open, r.State()) // a change: the hook goroutine wakes and enters the hook
	<-entered
	require.Zero(t, len(r.nudge), "the hook goroutine took its wake-up")
	setOpen(false)

	ctx := context.Background()
	_, done, err := r.AdmitRead(ctx, Closed)
	require.NoError(t, err)
	require.NoError(t, done(nil))
	assert.Zero(t, len(r.nudge), "a success of a call admitted Closed wakes nothing")

	_, done, err = r.AdmitRead(ctx, Closed)
	require.NoError(t, err)
	require.Error(t, done(errors.New("boom")))
	assert.Equal(t, 1, len(r.nudge), "a failure wakes the hook goroutine")
}
