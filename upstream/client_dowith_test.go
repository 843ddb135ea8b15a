package upstream

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DoWith runs the attempts as another command: its breaker counts them (the client's own
// does not), and an attempt cut by the client's shorter per-attempt timeout is a timeout
// that command's breaker counts, not a context error it would ignore.
func TestClientDoWithRunsAttemptsAsTheGivenCommand(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Timeout: 20 * time.Millisecond}},
		Retry:  RetryPolicy{MaxAttempts: 1},
	}, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	rn, err := NewRunner(Settings{Name: t.Name() + "/route", Timeout: time.Minute, RequestVolumeThreshold: 1, ErrorPercentThreshold: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rn.Close() })

	require.Eventually(t, func() bool {
		_, err := f.c.DoWith(rn, f.req(t, http.MethodGet, nil))
		require.Error(t, err)
		if Reason(err) == ReasonCircuitOpen {
			return true
		}
		require.ErrorIs(t, err, ErrTimeout, "cut by the client's per-attempt timeout")
		return false
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, Open, rn.State())
	require.Equal(t, Closed, f.c.Runner().State(), "the client's own command ran nothing")

	// nil: the client's own command.
	_, err = f.c.DoWith(nil, f.req(t, http.MethodGet, nil))
	require.ErrorIs(t, err, ErrTimeout)
}
