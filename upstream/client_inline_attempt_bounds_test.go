package upstream

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An attempt over an *http.Transport runs on the caller's goroutine (Admit), not through
// hystrix's DoC; what DoC gave must hold all the same. These tests use the default
// transport (the inline path).

// An attempt cut by the per-attempt timeout is a timeout for hystrix's breaker (its
// "timeout" metric), neither a success nor a neutral context error.
func TestClientInlineAttemptTimeoutIsCountedAsATimeout(t *testing.T) {
	name := t.Name()
	rec := record(name)
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Name: name, Timeout: 50 * time.Millisecond, RequestVolumeThreshold: 1 << 30}},
		Retry:  RetryPolicy{MaxAttempts: 1},
	}, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	require.True(t, f.c.inline, "the default transport runs attempts inline")
	_, err := f.c.Do(f.req(t, http.MethodGet, nil))
	require.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, ReasonTimeout, Reason(err))
	require.Eventually(t, func() bool { return rec.Get().Timeouts == 1 }, pollFor, pollEvery, "%v", rec)
	v := rec.Get()
	assert.Zero(t, v.Successes, "%v", rec)
	assert.Zero(t, v.Canceled, "%v", rec)
}

// MaxConcurrent bounds inline attempts: while one attempt holds the only slot, another
// call is refused with ErrOverloaded without reaching the upstream.
func TestClientInlineAttemptConcurrencyLimitRefusesTheSecondCall(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Timeout: time.Minute, MaxConcurrent: 1, RequestVolumeThreshold: 1 << 30}},
		Retry:  RetryPolicy{MaxAttempts: 1},
	}, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	first := doAsync(t, f)
	<-entered
	_, err := f.c.Do(f.req(t, http.MethodGet, nil))
	assert.ErrorIs(t, err, ErrOverloaded)
	assert.Equal(t, int64(1), f.hits.Load(), "the refused call never reached the upstream")
	close(release)
	require.NoError(t, <-first)
	_, err = f.c.Do(f.req(t, http.MethodGet, nil))
	assert.NoError(t, err, "the slot is free again once the first call ended")
}

// A panic inside an inline attempt (here the transport's Proxy function) is recovered as a
// *PanicError failure, not a crash, and not retried.
func TestClientInlineAttemptPanicIsAPanicError(t *testing.T) {
	tr := &http.Transport{Proxy: func(*http.Request) (*url.URL, error) { panic("proxy func") }}
	f := newFixture(t, ClientConfig{Transport: tr}, status(http.StatusOK))
	require.True(t, f.c.inline)
	_, err := f.c.Do(f.req(t, http.MethodGet, nil))
	var pe *PanicError
	require.True(t, errors.As(err, &pe), "got %v", err)
	assert.Equal(t, "proxy func", pe.Value)
	assert.Equal(t, ReasonPanic, Reason(err))
	assert.Zero(t, f.hits.Load())
	assert.Empty(t, f.sleeps.all(), "a panic is not retried")
}
