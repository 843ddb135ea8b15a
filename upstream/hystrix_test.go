package upstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/hystrixcount"
)

// These tests run the real hystrix-go (each Runner its own circuit): state polled, no
// sleeps. The sleep window is real time (hystrix-go reads its own clock): each test asserts
// only what no scheduling delay can change. With an hour-long window the circuit stays
// open; with a short one, the state is polled through open, half-open and closed.

func TestHystrixBreakerOpenRefusesWithoutRunning(t *testing.T) {
	r, err := NewRunner(Settings{
		Name: t.Name(), RequestVolumeThreshold: 4, ErrorPercentThreshold: 50,
		SleepWindow: time.Hour,
	})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()
	for range 4 {
		require.ErrorIs(t, r.Run(ctx, fail), errBoom)
	}
	require.Eventually(t, func() bool { return r.State() == Open }, pollFor, pollEvery,
		"4 failures out of 4 reach the 50%% threshold at the volume of 4")
	for range 3 {
		err = r.Run(ctx, func(context.Context) error { t.Error("ran while open"); return nil })
		require.ErrorIs(t, err, ErrCircuitOpen)
	}
	assert.Equal(t, Open, r.State())
}

func TestHystrixBreakerOpensHalfOpensAndCloses(t *testing.T) {
	changes := make(chan [2]BreakerState, 16)
	r, err := NewRunner(Settings{
		Name: t.Name(), RequestVolumeThreshold: 4, ErrorPercentThreshold: 50,
		SleepWindow: 50 * time.Millisecond, StatePollInterval: 2 * time.Millisecond,
		OnStateChange: func(_ string, from, to BreakerState) { changes <- [2]BreakerState{from, to} },
	})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()

	for range 4 {
		require.ErrorIs(t, r.Run(ctx, fail), errBoom)
	}
	require.Eventually(t, func() bool { return r.State() != Closed }, pollFor, pollEvery,
		"4 failures out of 4 reach the 50%% threshold at the volume of 4")
	assert.Equal(t, [2]BreakerState{Closed, Open}, <-changes, "the opening is reported, however late the hook looks")

	// the sleep window elapses: half-open, seen without consuming the probe
	require.Eventually(t, func() bool { return r.State() == HalfOpen }, pollFor, pollEvery)
	assert.Equal(t, [2]BreakerState{Open, HalfOpen}, <-changes)
	assert.Equal(t, HalfOpen, r.State(), "reading the state does not consume the probe")

	require.NoError(t, r.Run(ctx, succeed), "the probe is let through")
	require.Eventually(t, func() bool { return r.State() == Closed }, pollFor, pollEvery)
	// While the probe runs hystrix has restarted its sleep window, so the hook may see
	// half-open -> open -> closed; it must end closed.
	ch := <-changes
	if ch == [2]BreakerState{HalfOpen, Open} {
		ch = <-changes
		assert.Equal(t, Open, ch[0])
	}
	assert.Equal(t, Closed, ch[1])
}

// breakerThatTripsOnOneFailure opens on the first failure and stays open for an hour.
func breakerThatTripsOnOneFailure(t *testing.T) (*Runner, *hystrixcount.Counts) {
	t.Helper()
	name := t.Name()
	rec := record(name)
	r, err := NewRunner(Settings{
		Name: name, RequestVolumeThreshold: 1, ErrorPercentThreshold: 1,
		SleepWindow: time.Hour, MaxConcurrent: 1000,
		// a long timeout: on a loaded machine a 1,000-goroutine burst can take over a
		// second, and a real timeout is (rightly) an error
		Timeout: time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, rec
}

// requireTrips proves the breaker under test opens on counted failures (a few are needed
// when many neutral calls are in the rolling window: the threshold is 1%).
func requireTrips(t *testing.T, r *Runner) {
	t.Helper()
	require.Eventually(t, func() bool {
		if r.State() == Open {
			return true
		}
		err := r.Run(context.Background(), fail)
		return errors.Is(err, ErrCircuitOpen)
	}, pollFor, pollEvery)
}

func TestHystrixAnsweredNeverOpens(t *testing.T) {
	r, rec := breakerThatTripsOnOneFailure(t)
	clientErr := errors.New("404")
	for range 50 {
		require.Same(t, clientErr, r.Run(context.Background(), func(context.Context) error {
			return Answered(clientErr)
		}))
	}
	require.Eventually(t, func() bool { return rec.Get().Attempts == 50 }, pollFor, pollEvery)
	v := rec.Get()
	errs, successes := int(v.Errors), int(v.Successes)
	assert.Equal(t, 0, errs)
	assert.Equal(t, 50, successes)
	assert.Equal(t, Closed, r.State())
	requireTrips(t, r)
}

func TestHystrixThousandCancellationsNeverOpen(t *testing.T) {
	r, rec := breakerThatTripsOnOneFailure(t)
	const n = 1000
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var err error
			if i%2 == 0 {
				// the client hangs up while the upstream call is in flight; the work
				// returns the transport's wrapped context error
				err = r.Run(ctx, func(wctx context.Context) error {
					cancel()
					<-wctx.Done()
					return &wrapped{wctx.Err()}
				})
			} else {
				// the client hangs up from elsewhere while the work waits
				started := make(chan struct{})
				go func() { <-started; cancel() }()
				err = r.Run(ctx, func(wctx context.Context) error {
					close(started)
					<-wctx.Done()
					return &wrapped{wctx.Err()}
				})
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return rec.Get().Attempts == float64(n) }, pollFor, pollEvery)
	v := rec.Get()
	errs, canceled := int(v.Errors), int(v.Canceled)
	assert.Equal(t, 0, errs, "no cancellation counted as an error: %s", rec)
	assert.Equal(t, n, canceled)
	assert.Equal(t, Closed, r.State())
	requireTrips(t, r)
}

func TestHystrixPanicIsAFailureNotACrash(t *testing.T) {
	r, _ := breakerThatTripsOnOneFailure(t)
	err := r.Run(context.Background(), func(context.Context) error { panic(errBoom) })
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, errBoom)
	require.Eventually(t, func() bool { return r.State() == Open }, pollFor, pollEvery)
}

func TestHystrixTimeout(t *testing.T) {
	r, err := NewRunner(Settings{Name: t.Name(), Timeout: 20 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	ended := make(chan error, 1)
	err = r.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // hangs until its context ends
		ended <- ctx.Err()
		return ctx.Err()
	})
	assert.ErrorIs(t, err, ErrTimeout)
	assert.ErrorIs(t, <-ended, context.DeadlineExceeded, "the work's context really ended")
}

func TestHystrixAdmitTimesOutBeforeDone(t *testing.T) {
	r, err := NewRunner(Settings{Name: t.Name(), Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	ctx, done, err := r.Admit(context.Background())
	require.NoError(t, err)
	<-ctx.Done()
	assert.ErrorIs(t, done(nil), ErrTimeout, "timeout wins even with a nil outcome")

	// The slot came back: a later admission reporting in time succeeds. Whether done comes
	// within 50 ms is up to the scheduler, so a late one (ErrTimeout) is tried again.
	require.Eventually(t, func() bool {
		ctx, done, err := r.Admit(context.Background())
		require.NoError(t, err)
		if err := done(nil); err != nil {
			require.ErrorIs(t, err, ErrTimeout)
			require.Error(t, ctx.Err())
			return false
		}
		return true
	}, pollFor, pollEvery)
}

func TestHystrixSlotHeldPastTimeoutUntilWorkReturns(t *testing.T) {
	r, err := NewRunner(Settings{Name: t.Name(), Timeout: 10 * time.Millisecond, MaxConcurrent: 1})
	require.NoError(t, err)
	defer r.Close()
	release := make(chan struct{})
	returned := make(chan struct{})
	err = r.Run(context.Background(), func(context.Context) error {
		defer close(returned)
		<-release // ignores its context
		return nil
	})
	require.ErrorIs(t, err, ErrTimeout, "Run returns at the timeout")
	err = r.Run(context.Background(), succeed)
	require.ErrorIs(t, err, ErrOverloaded, "hystrix handed its ticket back; the slot is still taken")
	close(release)
	<-returned
	require.Eventually(t, func() bool { return r.Run(context.Background(), succeed) == nil }, pollFor, pollEvery,
		"the slot comes back when the work returns")
}
