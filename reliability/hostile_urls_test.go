package reliability

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// okApp answers every GET with a 2-byte cacheable body.
var okApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte("ok"))
})

// serveMem sends a GET for target to h in-process and returns the status.
func serveMem(h http.Handler, target string) int {
	r, err := http.NewRequest(http.MethodGet, "http://mem.example"+target, nil)
	if err != nil {
		panic(err)
	}
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	return w.status
}

// TestMemoryHostileURLsBounded: 1,500 GETs whose query carries 100 KB of padding, each
// answered by a 2-byte cacheable "ok", into a 4 MiB store (issue 17: the proxy's RSS went
// from 9 to 291 MB, the live heap held every URL as a key). With the default
// MaxTargetBytes they are refused (414) before reaching the store; with the limit off, each
// is stored under a 33-byte digest of its key and charged for what it holds, so the live
// heap stays within a small constant of the bound either way.
func TestMemoryHostileURLsBounded(t *testing.T) {
	const requests, pad, storeBytes = 1500, 100_000, 4 * mib
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	for _, tc := range []struct {
		name   string
		limit  int
		status int
	}{
		{"default limit", 0, http.StatusRequestURITooLong},
		{"limit off", -1, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNames(t)
			baseLive := heapAlloc()
			baseHeap := heapInuse()
			eng, err := httpfallback.New(httpfallback.Config{
				Name:           n.next("engine"),
				MaxBytes:       storeBytes,
				MaxTargetBytes: tc.limit,
				Common:         upstream.Common{Command: upstream.Settings{Timeout: 10 * time.Second}},
			})
			require.NoError(t, err)
			h := eng.Handler(okApp)
			padding := strings.Repeat("a", pad)
			sampler := startHeapSampler(10 * time.Millisecond)
			bad := 0
			for i := range requests {
				if s := serveMem(h, fmt.Sprintf("/p?i=%d&pad=%s", i, padding)); s != tc.status {
					bad++
				}
			}
			peak := sampler.stop()
			live := heapAlloc()
			st := eng.Stats().Store
			require.NoError(t, eng.Close())
			grown := float64(live - min(live, baseLive))
			t.Logf("%d GETs of %d KB targets, MaxTargetBytes %d, store %d MiB: live heap after GC %.2f MiB over baseline (%.2fx the bound), peak HeapInuse %.1f MiB over baseline; store: %.2f MiB accounted, stored=%d evictions=%d not-admitted=%d",
				requests, pad/1000, tc.limit, storeBytes/mib, grown/mib, grown/storeBytes, float64(peak-min(peak, baseHeap))/mib,
				float64(st.Bytes)/mib, st.Stored, st.Evictions, st.RejectedNotAdmitted)
			require.Zero(t, bad, "every answer is %d", tc.status)
			require.LessOrEqual(t, st.Bytes, int64(storeBytes))
			require.Less(t, grown, float64(storeBytes+2*mib), "live heap within the bound and a small constant")
			if tc.limit == 0 {
				require.Zero(t, st.Stored, "refused before the store")
			}
		})
	}
}

// TestMemoryDistinctURLsLiveHeap: distinct short URLs, each answered by a small cacheable
// body, through the middleware into a byte-bounded store: the live heap after a GC stays
// within 1.25x the bound (issue 17: 400k URLs into 64 MiB left 182 MB live, 2.8x). Requested
// once each, the URLs fill only the unprotected half; requested twice each, they fill both.
// CI: 60,000 URLs into 16 MiB; `-tags long`: 400,000 into the default 64 MiB.
func TestMemoryDistinctURLsLiveHeap(t *testing.T) {
	keys, storeBytes := 60_000, int64(16*mib)
	if long {
		keys, storeBytes = 400_000, 0 // the default, 64 MiB
	}
	for _, repeat := range []int{1, 2} {
		t.Run(fmt.Sprintf("requested %dx", repeat), func(t *testing.T) {
			n := newNames(t)
			baseLive := heapAlloc()
			eng, err := httpfallback.New(httpfallback.Config{
				Name:     n.next("engine"),
				MaxBytes: storeBytes,
				Common:   upstream.Common{Command: upstream.Settings{Timeout: 10 * time.Second}},
			})
			require.NoError(t, err)
			h := eng.Handler(okApp)
			bad := 0
			for i := range keys / repeat {
				for range repeat {
					if serveMem(h, fmt.Sprintf("/item/%d?v=1", i)) != http.StatusOK {
						bad++
					}
				}
			}
			live := heapAlloc()
			st := eng.Stats().Store
			bound := float64(storeBytes)
			if storeBytes == 0 {
				bound = 64 * mib
			}
			require.NoError(t, eng.Close())
			grown := float64(live - min(live, baseLive))
			t.Logf("%d distinct URLs requested %dx into %.0f MiB: live heap after GC %.1f MiB over baseline (%.2fx the bound); store %.1f MiB accounted (%.1f MiB protected), stored=%d promoted=%d evictions=%d not-admitted=%d",
				keys/repeat, repeat, bound/mib, grown/mib, grown/bound, float64(st.Bytes)/mib, float64(st.ProtectedBytes)/mib, st.Stored, st.Promoted, st.Evictions, st.RejectedNotAdmitted)
			require.Zero(t, bad)
			require.LessOrEqual(t, float64(st.Bytes), bound)
			require.Less(t, grown, 1.25*bound, "live heap within 1.25x the bound")
		})
	}
}
