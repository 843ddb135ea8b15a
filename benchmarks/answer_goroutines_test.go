package benchmarks

import (
	"net/http"
	"testing"
)

// answersPerCheck is how many answers each goroutine count spans: a goroutine started per
// answer shows as at least this many; the runtime's own (a GC worker, a finalizer) as a few.
const answersPerCheck = 200

// The answers that need no upstream (stale or default with the breaker open, stale while
// another fetch of the key is in flight) start no goroutine: counted with runtime/metrics
// across many answers, not timed. The setup's calls to the source leave goroutines to come
// (hystrix-go starts one per reported call on its metrics goroutine, late on a busy
// machine), which may land in a window; they are few and finite, where a goroutine started
// per answer shows in every window: the check passes at the first clean window of up to
// maxWindows.
func TestOutageAnswersStartNoGoroutine(t *testing.T) {
	if _, ok := goroutinesCreated(); !ok {
		t.Skip("this runtime does not export /sched/goroutines-created")
	}
	for name, sc := range map[string]scenario{
		"stale-breaker-open": staleBreakerOpen, "default-breaker-open": defaultBreakerOpen,
		"stale-in-flight": staleInFlight,
	} {
		for _, how := range mounts {
			t.Run(name+"/"+how, func(t *testing.T) {
				h, size := sc(t, how, "failsoft")
				w := &discard{h: make(http.Header)}
				req, _ := http.NewRequest(http.MethodGet, microURL, nil)
				var counts []uint64
				for range maxWindows {
					g0, _ := goroutinesCreated()
					for range answersPerCheck {
						w.reset()
						h.ServeHTTP(w, req)
						if w.status != http.StatusOK || w.n != size {
							t.Fatalf("status %d, %d bytes", w.status, w.n)
						}
					}
					g1, _ := goroutinesCreated()
					if g1-g0 < answersPerCheck/10 {
						return
					}
					counts = append(counts, g1-g0)
				}
				t.Fatalf("goroutines created in each window of %d answers: %v: one per answer", answersPerCheck, counts)
			})
		}
	}
}

// maxWindows bounds the windows of answersPerCheck answers TestOutageAnswersStartNoGoroutine
// counts in.
const maxWindows = 20
