package reliability

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// TestWarmKeysSurviveScan: 1,000 keys are each requested twice (the warm set), then a
// scan of one-off URLs passes (CI 20,000; `-tags long`: 100,000), then the upstream fails:
// the warm keys must still be answered from their last good copies (goal: at least 99%).
// The same run against a store without the protected part (Config.ProtectAfter -1, the
// store before issue 17) is logged for comparison. The clock is injected: the scan takes 1 ms
// of it per request, the failure comes 2 minutes later (past max-age=60, within the default
// stale-if-error of an hour).
func TestWarmKeysSurviveScan(t *testing.T) {
	const warm, storeBytes = 1000, 4 * mib
	scan := 20_000
	if long {
		scan = 100_000
	}
	for _, tc := range []struct {
		name         string
		protectAfter int
		want         float64
	}{
		{"protected", 0, 0.99},
		{"ristretto only", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			store, err := cache.New(cache.Config{MaxBytes: storeBytes, Now: clock.Now, ProtectAfter: tc.protectAfter})
			require.NoError(t, err)
			defer store.Close()
			var failing atomic.Bool
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "public, max-age=60")
				_, _ = fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
			})
			n := newNames(t)
			eng, err := httpfallback.New(httpfallback.Config{
				Name:   n.next("engine"),
				Store:  store,
				Common: upstream.Common{Now: clock.Now, Command: upstream.Settings{Timeout: 10 * time.Second}},
			})
			require.NoError(t, err)
			defer eng.Close()
			h := eng.Handler(app)
			for range 2 {
				for i := range warm {
					require.Equal(t, http.StatusOK, serveMem(h, fmt.Sprintf("/warm/%d", i)))
				}
			}
			for i := range scan {
				clock.Advance(time.Millisecond)
				serveMem(h, fmt.Sprintf("/scan?id=%d", i))
			}
			failing.Store(true)
			clock.Advance(2 * time.Minute)
			stale := 0
			for i := range warm {
				path := fmt.Sprintf("/warm/%d", i)
				r, err := http.NewRequest(http.MethodGet, "http://mem.example"+path, nil)
				require.NoError(t, err)
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, r)
				want := fmt.Sprintf(`{"path":%q}`, path)
				if w.status == http.StatusOK && w.n == len(want) {
					stale++
				}
			}
			share := float64(stale) / warm
			st := store.Stats()
			t.Logf("%s: warm set %d, scan %d one-off URLs into %d MiB, then the upstream fails: %d of %d warm keys answered stale (%.1f%%); store: stored=%d promoted=%d evictions=%d not-admitted=%d, %.2f MiB accounted (%.2f protected)",
				tc.name, warm, scan, storeBytes/mib, stale, warm, 100*share, st.Stored, st.Promoted, st.Evictions, st.RejectedNotAdmitted,
				float64(st.Bytes)/mib, float64(st.ProtectedBytes)/mib)
			require.GreaterOrEqual(t, share, tc.want)
		})
	}
}
