package upstream

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/stretchr/testify/require"
)

// roundTripperFunc is a RoundTripper that is not an *http.Transport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Over an *http.Transport, which returns as soon as its request's context ends, an attempt
// runs on the caller's goroutine (Admit) instead of through hystrix's DoC (Run), which
// starts two goroutines per call: the same calls through a RoundTripper that merely wraps
// the transport (and so runs through Run) create at least 1.5 more goroutines per call.
// Counted with runtime/metrics over many calls on kept-alive connections, not timed.
func TestClientAttemptOverHTTPTransportStartsNoGoroutine(t *testing.T) {
	created := func() uint64 { return leaktest.GoroutinesCreated(t) }
	const calls = 200
	count := func(rt http.RoundTripper, name string) uint64 {
		f := newFixture(t, ClientConfig{
			Common:    Common{Command: Settings{Name: t.Name() + name, Timeout: time.Minute, RequestVolumeThreshold: 1 << 30}},
			Transport: rt,
			Retry:     RetryPolicy{MaxAttempts: 1},
		}, status(http.StatusOK))
		call := func() {
			resp, err := f.c.Do(f.req(t, http.MethodGet, nil))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
		}
		call() // the connection is opened (and its goroutines started) before counting
		g0 := created()
		for range calls {
			call()
		}
		return created() - g0
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	inline := count(tr, "/transport")
	wrapped := count(roundTripperFunc(tr.RoundTrip), "/wrapped")
	require.GreaterOrEqual(t, float64(wrapped)-float64(inline), 1.5*calls,
		"%d goroutines for %d calls over the transport, %d over a wrapper", inline, calls, wrapped)
}
