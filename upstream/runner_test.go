package upstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestSettingsValidationNamesTheField(t *testing.T) {
	cases := []struct {
		s     Settings
		field string
	}{
		{Settings{}, "Settings.Name"},
		{Settings{Name: "x", Timeout: -1}, "Settings.Timeout"},
		{Settings{Name: "x", MaxConcurrent: -1}, "Settings.MaxConcurrent"},
		{Settings{Name: "x", MaxConcurrent: 1 << 30}, "Settings.MaxConcurrent"},
		{Settings{Name: "x", RequestVolumeThreshold: -1}, "Settings.RequestVolumeThreshold"},
		{Settings{Name: "x", ErrorPercentThreshold: 101}, "Settings.ErrorPercentThreshold"},
		{Settings{Name: "x", ErrorPercentThreshold: -5}, "Settings.ErrorPercentThreshold"},
		{Settings{Name: "x", SleepWindow: -time.Second}, "Settings.SleepWindow"},
		{Settings{Name: "x", StatePollInterval: -time.Second}, "Settings.StatePollInterval"},
	}
	for _, c := range cases {
		_, err := NewRunner(c.s)
		require.Error(t, err, "%+v", c.s)
		assert.Contains(t, err.Error(), c.field)
	}
}

func TestSettingsDefaults(t *testing.T) {
	s, err := Settings{Name: "x", Timeout: 1500 * time.Microsecond}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, 2*time.Millisecond, s.Timeout, "rounded up to hystrix's millisecond")
	assert.Equal(t, 100, s.MaxConcurrent)
	assert.Equal(t, 20, s.RequestVolumeThreshold)
	assert.Equal(t, 50, s.ErrorPercentThreshold)
	assert.Equal(t, 5*time.Second, s.SleepWindow)
	s, _ = Settings{Name: "x"}.withDefaults()
	assert.Equal(t, time.Second, s.Timeout)
}

func TestNameReusableEachRunnerItsOwnCircuit(t *testing.T) {
	const name = "inventory"
	trips := Settings{Name: name, RequestVolumeThreshold: 1, ErrorPercentThreshold: 1, SleepWindow: time.Hour}
	first, err := NewRunner(trips)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_ = first.Run(context.Background(), fail)
		return first.State() == Open
	}, pollFor, pollEvery)

	alongside, err := NewRunner(Settings{Name: name})
	require.NoError(t, err, "a name in use by a live Runner")
	defer alongside.Close()
	assert.Equal(t, Closed, alongside.State(), "its own circuit, not the open one")
	assert.NoError(t, alongside.Run(context.Background(), succeed))

	require.NoError(t, first.Close())
	again, err := NewRunner(Settings{Name: name, MaxConcurrent: 1, OnStateChange: func(string, BreakerState, BreakerState) {}})
	require.NoError(t, err, "the name again after Close (a config reload)")
	defer again.Close()
	assert.Equal(t, name, again.Name())
	assert.Equal(t, Closed, again.State())
	started, release, ended := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		_ = again.Run(context.Background(), func(context.Context) error { close(started); <-release; return nil })
	}()
	<-started
	require.ErrorIs(t, again.Run(context.Background(), succeed), ErrOverloaded, "the new settings hold: MaxConcurrent 1")
	close(release)
	<-ended
	err = first.Run(context.Background(), succeed)
	require.ErrorIs(t, err, ErrCircuitOpen)
	assert.Contains(t, err.Error(), "command "+name+")", "errors name the command, not hystrix's circuit")
}

func TestRunSuccessAndDeadline(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: time.Minute})
	var left time.Duration
	err := r.Run(context.Background(), func(ctx context.Context) error {
		dl, ok := ctx.Deadline()
		require.True(t, ok, "fn's context has the timeout as deadline")
		left = time.Until(dl)
		return nil
	})
	require.NoError(t, err)
	assert.LessOrEqual(t, left, time.Minute)
	assert.Greater(t, left, 0*time.Millisecond)
	_, s, f, _ := fb.counts()
	assert.Equal(t, 1, s)
	assert.Equal(t, 0, f)
	assert.Contains(t, r.Name(), t.Name())
	assert.Equal(t, time.Minute, r.Timeout())
}

func TestRunRecoversPanic(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	err := r.Run(context.Background(), func(context.Context) error { panic("kaboom") })
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "kaboom", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	assert.Equal(t, ReasonPanic, Reason(err))
	_, _, f, _ := fb.counts()
	assert.Equal(t, 1, f, "a panic counts as a failure")
}

func TestRunAnsweredIsNotAFailure(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	clientErr := errors.New("404")
	err := r.Run(context.Background(), func(context.Context) error { return Answered(clientErr) })
	assert.Same(t, clientErr, err, "Run returns the answered error itself")
	_, s, f, _ := fb.counts()
	assert.Equal(t, 1, s)
	assert.Equal(t, 0, f)
	assert.NoError(t, Answered(nil))
}

func TestRunFailureKeepsStatusErrorReachable(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	err := r.Run(context.Background(), func(context.Context) error {
		return &StatusError{StatusCode: 503}
	})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.StatusCode)
	assert.Equal(t, ReasonUpstream5xx, Reason(err))
	_, _, f, _ := fb.counts()
	assert.Equal(t, 1, f)
}

func TestRunCallerCancellationIsNeutral(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	ctx, cancel := context.WithCancel(context.Background())
	err := r.Run(ctx, func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		// what a transport returns: the context error wrapped
		return &wrapped{ctx.Err()}
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, ReasonCanceled, Reason(err))
	_, _, f, n := fb.counts()
	assert.Equal(t, 0, f)
	assert.Equal(t, 1, n, "hystrix is handed the bare context error")

	err = r.Run(ctx, func(context.Context) error { t.Error("ran with a done context"); return nil })
	assert.ErrorIs(t, err, context.Canceled)
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "Get \"http://x\": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestRunOwnTimeoutIsErrTimeout(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: 5 * time.Millisecond})
	err := r.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return &wrapped{ctx.Err()}
	})
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, ReasonTimeout, Reason(err))
	_, _, f, _ := fb.counts()
	assert.Equal(t, 1, f, "our own timeout is a failure")
}

func TestRunConcurrencyLimitHeldUntilWorkEnds(t *testing.T) {
	r, fb := fakeRunner(t, Settings{MaxConcurrent: 1})
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Run(context.Background(), func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	err := r.Run(context.Background(), func(context.Context) error { t.Error("ran over the limit"); return nil })
	assert.ErrorIs(t, err, ErrOverloaded)
	assert.Equal(t, ReasonOverloaded, Reason(err))
	close(release)
	wg.Wait()
	require.NoError(t, r.Run(context.Background(), func(context.Context) error { return nil }))
	c, _, _, _ := fb.counts()
	assert.Equal(t, 2, c)
}

func TestRunCircuitOpenFromBreaker(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	fb.openAfter = 2
	for range 2 {
		_ = r.Run(context.Background(), func(context.Context) error { return errBoom })
	}
	assert.Equal(t, Open, r.State())
	err := r.Run(context.Background(), func(context.Context) error { t.Error("ran while open"); return nil })
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.Equal(t, ReasonCircuitOpen, Reason(err))
}

func TestAdmit(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: time.Second})

	ctx, done, err := r.Admit(context.Background())
	require.NoError(t, err)
	_, ok := ctx.Deadline()
	assert.True(t, ok)
	assert.NoError(t, done(nil))
	assert.NoError(t, done(errBoom), "later calls return the first result")

	_, done, err = r.Admit(context.Background())
	require.NoError(t, err)
	clientErr := errors.New("404")
	assert.Same(t, clientErr, done(Answered(clientErr)))

	_, done, err = r.Admit(context.Background())
	require.NoError(t, err)
	assert.ErrorIs(t, done(errBoom), errBoom)

	_, s, f, _ := fb.counts()
	assert.Equal(t, 2, s)
	assert.Equal(t, 1, f)
}

func TestAdmitRejections(t *testing.T) {
	r, fb := fakeRunner(t, Settings{MaxConcurrent: 1})
	_, done, err := r.Admit(context.Background())
	require.NoError(t, err)
	_, _, err2 := r.Admit(context.Background())
	assert.ErrorIs(t, err2, ErrOverloaded, "the slot is held until done")
	require.NoError(t, done(nil))

	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	_, done, err = r.Admit(context.Background())
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.NoError(t, done(nil), "a rejected Admit hands back a no-op done")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = r.Admit(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAdmitCallerCancellationIsNeutral(t *testing.T) {
	r, fb := fakeRunner(t, Settings{})
	ctx, cancel := context.WithCancel(context.Background())
	wctx, done, err := r.Admit(ctx)
	require.NoError(t, err)
	cancel()
	<-wctx.Done()
	assert.ErrorIs(t, done(&wrapped{wctx.Err()}), context.Canceled)
	_, _, f, n := fb.counts()
	assert.Equal(t, 0, f)
	assert.Equal(t, 1, n)
}

func TestStateHookGoroutineStopsOnClose(t *testing.T) {
	changes := make(chan [2]BreakerState, 4)
	r, fb := fakeRunner(t, Settings{SleepWindow: time.Hour, OnStateChange: func(name string, from, to BreakerState) {
		changes <- [2]BreakerState{from, to}
	}})
	fb.openAfter = 1
	_ = r.Run(context.Background(), func(context.Context) error { return errBoom })
	assert.Equal(t, [2]BreakerState{Closed, Open}, <-changes)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
}

func TestBreakerStateString(t *testing.T) {
	assert.Equal(t, "closed", Closed.String())
	assert.Equal(t, "open", Open.String())
	assert.Equal(t, "half-open", HalfOpen.String())
	assert.True(t, strings.HasPrefix(BreakerState(9).String(), "BreakerState("))
}

func TestRunOwnTimeoutIsNotAContextError(t *testing.T) {
	r, _ := fakeRunner(t, Settings{Timeout: 5 * time.Millisecond})
	err := r.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	assert.ErrorIs(t, err, ErrTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's own deadline did not pass")
}

func TestAdmitWithoutDoneEndsAtTimeout(t *testing.T) {
	current := goleak.IgnoreCurrent()
	r, fb := fakeRunner(t, Settings{Timeout: 10 * time.Millisecond})
	fb.reported = make(chan event, 1)
	ctx, _, err := r.Admit(context.Background())
	require.NoError(t, err)
	<-ctx.Done()
	// The timeout is reported by a timer of its own, which may fire after the context's.
	assert.Equal(t, evTimeout, <-fb.reported, "the unreported run timed out")
	// the command's goroutine ends at the timeout even if done is never called
	goleak.VerifyNone(t, append(leaktest.Options(), current)...)
	_, _, f, _ := fb.counts()
	assert.Equal(t, 1, f, "the unreported run timed out: a failure")
}

func TestAdmitLateOutcomeIsTimeout(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: 5 * time.Millisecond})
	ctx, done, err := r.Admit(context.Background())
	require.NoError(t, err)
	<-ctx.Done()
	// the fake breaker has no timer of its own: only the deadline decides
	assert.ErrorIs(t, done(nil), ErrTimeout)
	_, s, f, _ := fb.counts()
	assert.Equal(t, 0, s)
	assert.Equal(t, 1, f)
}
