package upstream

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stalling503 answers 503 with a body that stops after its first bytes and never ends
// until the test is over.
func stalling503(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "overloaded")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// doAsync runs f.c.Do and reports its result on a channel.
func doAsync(t *testing.T, f *fixture) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	req := f.req(t, "GET", nil)
	go func() {
		resp, err := f.c.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	return done
}

// A failing answer's body is read by the client itself (the StatusError excerpt, the drain
// before a retry): that read is bounded by the attempt timeout. It used to be bounded by
// the request's context only, so a 503 whose body stalled held Do forever for a caller
// without a deadline (and its goroutine and connection with it).
func TestClientStalledFailureBodyEndsAtTheTimeout(t *testing.T) {
	for _, attempts := range []int{1, 2} {
		t.Run(map[int]string{1: "excerpt", 2: "drain before retry"}[attempts], func(t *testing.T) {
			release := make(chan struct{})
			f := newFixture(t, ClientConfig{
				Common: Common{Command: Settings{Timeout: 100 * time.Millisecond}},
				Retry:  RetryPolicy{MaxAttempts: attempts},
			}, stalling503(release))
			t.Cleanup(func() { close(release) })
			select {
			case err := <-doAsync(t, f):
				require.ErrorIs(t, err, ErrTimeout)
			case <-time.After(20 * time.Second): // safety net: without the bound Do never returns
				t.Fatal("Do still reading a stalled 503 body")
			}
			assert.EqualValues(t, attempts, f.hits.Load())
		})
	}
}

// A failing answer whose body ends is still a StatusError with its excerpt, and RoundTrip
// still hands back the whole body, beyond what the client read ahead.
func TestClientFailureBodyReadAheadKeepsExcerptAndRoundTripBody(t *testing.T) {
	big := strings.Repeat("y", 200<<10)
	f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 1}}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, big)
	})
	_, err := f.c.Do(f.req(t, "GET", nil))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, big[:MaxExcerpt], string(se.Body))

	resp, err := f.c.RoundTrip(f.req(t, "GET", nil))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, big, string(b))
}

// cutStatus answers status with a body that ends after "partial", short of its
// Content-Length (the server closes the connection).
func cutStatus(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "partial")
	}
}

// The body of a failing or retried status, which the client reads ahead itself, can break
// off. The status stands, but its body must not pass for a whole (empty) one: read, it
// yields what arrived and then the error, as the stream itself would have. It used to be
// replaced by an empty body under the answer's Content-Length: 100, so a 429 (retried, not
// a failure) reached a caller, and the reverse proxy's client, as a complete empty answer
// that its header said was 100 bytes long.
func TestClientCutConsumedBodyYieldsItsError(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusBadGateway} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 1}}, cutStatus(status))
			resp, err := f.c.RoundTrip(f.req(t, "GET", nil))
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, status, resp.StatusCode)
			assert.Equal(t, "partial", string(b))
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the body broke off")
		})
	}
	// Do keeps what arrived as the excerpt of a failing status.
	f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 1}}, cutStatus(http.StatusBadGateway))
	_, err := f.c.Do(f.req(t, "GET", nil))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "partial", string(se.Body))
}
