package upstream

import (
	"fmt"
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
//
// hystrix-go reports every call to its metrics goroutine, which starts a goroutine per
// registered collector for it, late when the machine is busy: a window's count can take
// some of the previous window's, so the test passes at the first of up to ten pairs of
// windows that shows the difference (a goroutine per inline attempt fails every pair).
func TestClientAttemptOverHTTPTransportStartsNoGoroutine(t *testing.T) {
	created := func() uint64 { return leaktest.GoroutinesCreated(t) }
	const calls = 200
	try := 0
	count := func(rt http.RoundTripper, name string) uint64 {
		f := newFixture(t, ClientConfig{
			Common:    Common{Command: Settings{Name: fmt.Sprintf("%s%s#%d", t.Name(), name, try), Timeout: time.Minute, RequestVolumeThreshold: 1 << 30}},
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
	var inline, wrapped uint64
	for try = range 10 {
		inline = count(tr, "/transport")
		wrapped = count(roundTripperFunc(tr.RoundTrip), "/wrapped")
		if float64(wrapped)-float64(inline) >= 1.5*calls {
			return
		}
	}
	t.Fatalf("in each of 10 tries, the calls over the transport started nearly as many goroutines as over a wrapper: at last %d for %d calls over the transport, %d over a wrapper", inline, calls, wrapped)
}
