package upstream

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
