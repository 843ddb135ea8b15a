package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookHeld returns a Runner over a fake breaker whose hook goroutine is held inside the
// hook (until the test ends), so that a wake-up stays in its channel where the test can
// see it, with no wake-up pending and Closed the state last seen; drain takes one pending
// wake-up, failing the test when there is none.
func hookHeld(t *testing.T, sleep time.Duration) (r *Runner, b *fakeBreaker, setOpen func(bool), drain func(string)) {
	t.Helper()
	entered, release := make(chan struct{}, 16), make(chan struct{})
	b = &fakeBreaker{}
	r = newRunner(Settings{Name: t.Name(), Timeout: time.Minute, MaxConcurrent: 4,
		SleepWindow: sleep, StatePollInterval: time.Hour,
		OnStateChange: func(string, BreakerState, BreakerState) {
			entered <- struct{}{} // buffered: the later changes' calls do not wait for the test
			<-release
		}}, b)
	t.Cleanup(func() { _ = r.Close() })
	t.Cleanup(func() { close(release) }) // runs first
	setOpen = func(open bool) { b.mu.Lock(); b.open = open; b.mu.Unlock() }
	drain = func(why string) {
		t.Helper()
		select {
		case <-r.nudge:
		default:
			t.Fatalf("no wake-up: %s", why)
		}
	}
	setOpen(true)
	require.Equal(t, Open, r.State()) // a change: the goroutine wakes and enters the hook
	<-entered
	setOpen(false)
	require.Equal(t, Closed, r.State()) // another change, seen with the goroutine held
	drain("a change seen by a reader")
	return r, b, setOpen, drain
}

// The success of a call admitted on a Closed reading, while the state last seen is Closed,
// does not wake the hook goroutine: nothing it would report follows from it at once, and a
// miss would otherwise pay a goroutine wake-up for nothing. A failure does; so does such a
// success after a reader saw the circuit open (the success may have closed it: a Closed
// reading is trusted for a while), and a half-open probe's success.
func TestHookGoroutineNotWokenBySuccessOfAClosedCall(t *testing.T) {
	ctx := context.Background()
	run := func(r *Runner, read BreakerState, outcome error) {
		t.Helper()
		_, done, err := r.AdmitRead(ctx, read)
		require.NoError(t, err)
		_ = done(outcome)
	}

	t.Run("closed", func(t *testing.T) {
		r, _, setOpen, drain := hookHeld(t, time.Hour)
		run(r, Closed, nil)
		assert.Zero(t, len(r.nudge), "a success of a call admitted Closed wakes nothing")
		run(r, Closed, errors.New("boom"))
		drain("a failure")

		setOpen(true)
		require.Equal(t, Open, r.State())
		drain("a reader saw it open")
		setOpen(false)
		run(r, Closed, nil) // admitted on an older Closed reading
		drain("a success after a reader saw the circuit open")
	})

	t.Run("half-open probe", func(t *testing.T) {
		r, b, setOpen, drain := hookHeld(t, time.Nanosecond)
		setOpen(true)
		require.Equal(t, Open, r.State())
		drain("opened")
		require.Equal(t, HalfOpen, r.State()) // its (1 ns) sleep window has passed
		drain("half-open")
		b.mu.Lock()
		b.probe = true
		b.mu.Unlock()
		run(r, HalfOpen, nil)
		drain("a probe's success")
	})
}
