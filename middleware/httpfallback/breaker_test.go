package httpfallback

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// The breaker tests run hystrix's real sleep window. Whether a request falls inside it is
// up to the scheduler, so each test asserts only what no delay can change: while the
// window is an hour long the circuit stays open; with a short window, the first request
// after it is the probe, and the handler is reached by nothing else.

func TestBreakerOpenServesStaleWithoutCallingHandler(t *testing.T) {
	sw := &switchable{}
	cfg := Config{Common: upstream.Common{Command: fastCommand()}}
	cfg.Command.SleepWindow = time.Hour
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/b")
	hs.clock.Advance(10 * time.Second)
	sw.set("500")
	hs.waitOpen(defaultRoute, func() { hs.get("/b") })
	require.Equal(t, upstream.Open, hs.eng.runnerOf(defaultRoute).State())

	sw.set("") // the handler would answer now: only the open circuit keeps it from being called
	before := hs.calls.Load()
	for range 3 {
		r := hs.get("/b")
		assert.Equal(t, "failsoft; hit; ttl=-9; detail=circuit-open", r.cs())
		assert.Equal(t, `{"good":true}`, r.body)
	}
	assert.Equal(t, before, hs.calls.Load(), "open breaker: the handler is not called")
}

func TestBreakerProbeAfterSleepWindowCloses(t *testing.T) {
	sw := &switchable{}
	var changes []string
	var mu sync.Mutex
	cmd := fastCommand()
	cmd.SleepWindow = 50 * time.Millisecond
	cfg := Config{Common: upstream.Common{Command: cmd}, OnEvent: func(ev Event) {
		if ev.Kind == EventBreaker {
			mu.Lock()
			changes = append(changes, ev.From.String()+"->"+ev.To.String())
			mu.Unlock()
		}
	}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/b")
	hs.clock.Advance(10 * time.Second)
	sw.set("500")
	hs.waitOpen(defaultRoute, func() { hs.get("/b") })

	// After the sleep window one probe runs; its success closes the circuit. Requests
	// before it are answered stale without calling the handler.
	sw.set("")
	before := hs.calls.Load()
	var probe engResp
	require.Eventually(t, func() bool {
		probe = hs.get("/b")
		if hs.calls.Load() == before {
			assert.Equal(t, "failsoft; hit; ttl=-9; detail=circuit-open", probe.cs())
			return false
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; stored", probe.cs())
	assert.Equal(t, before+1, hs.calls.Load(), "exactly one probe reached the handler")
	// The probe's success closes the circuit. hystrix-go counts outcomes asynchronously, so
	// failures from before the opening may still be counted after it and open the circuit
	// again on a busy machine: good answers to new keys (misses) close it for good.
	i := 0
	require.Eventually(t, func() bool {
		mu.Lock()
		closed := len(changes) > 0 && strings.HasSuffix(changes[len(changes)-1], "->closed")
		mu.Unlock()
		if closed && hs.eng.runnerOf(defaultRoute).State() == upstream.Closed {
			return true
		}
		i++
		hs.get(fmt.Sprintf("/c%d", i))
		return false
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "closed->open", changes[0], "%v", changes)
}
