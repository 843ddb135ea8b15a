package httpfallback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

func TestRunCommandWithPlainWriterCountsFailures(t *testing.T) {
	stayOpen := fastCommand()
	stayOpen.SleepWindow = time.Hour // open stays open, however slow the machine
	eng, err := New(Config{Common: upstream.Common{Command: stayOpen}})
	require.NoError(t, err)
	defer eng.Close()
	req := httptest.NewRequest(http.MethodGet, "http://svc.test/x", nil)
	fail := func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusBadGateway)
		return nil
	}
	var last error
	require.Eventually(t, func() bool {
		last = eng.RunCommand(context.Background(), "GET /x", httptest.NewRecorder(), req, fail)
		return reason(last) == "circuit-open"
	}, 10*time.Second, 5*time.Millisecond)
	var se *upstream.StatusError
	// before opening, the failure was a StatusError; after, the breaker refuses
	assert.NotErrorAs(t, last, &se)
	called := false
	err = eng.RunCommand(context.Background(), "GET /x", httptest.NewRecorder(), req, func(context.Context, http.ResponseWriter, *http.Request) error {
		called = true
		return nil
	})
	assert.Equal(t, "circuit-open", reason(err))
	assert.False(t, called, "open: the fetch is not called")
	// a 4xx is an answer, not a failure; the caller's cancellation is returned as is
	eng2, err := New(Config{Common: upstream.Common{Command: fastCommand()}})
	require.NoError(t, err)
	defer eng2.Close()
	for range 10 {
		err := eng2.RunCommand(context.Background(), "", httptest.NewRecorder(), req, func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(404)
			return nil
		})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = eng2.RunCommand(ctx, "", httptest.NewRecorder(), req, func(ctx context.Context, _ http.ResponseWriter, _ *http.Request) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, upstream.Closed, eng2.runnerOf(defaultRoute).State())
}
