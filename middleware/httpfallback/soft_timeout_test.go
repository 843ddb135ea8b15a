package httpfallback

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// softConfig is a config whose soft timeout is short and whose command timeout is long:
// a held handler can only be answered for by the soft timeout.
func softConfig(soft time.Duration, events chan<- Event) Config {
	cfg := Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 30 * time.Second}}, SoftTimeout: soft}
	if events != nil {
		cfg.OnEvent = func(ev Event) {
			if ev.Kind == EventRefresh {
				events <- ev
			}
		}
	}
	return cfg
}

// versioned answers "v<call number>" with a short freshness and a long stale-if-error;
// the call numbered held blocks until g opens.
func versioned(g *gate, held int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := g.Hold(held)
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "v", i)
	}
}

// A request holding an entry within stale-if-error is answered with it once the fetch
// passes the soft timeout; the fetch goes on in the background and stores its answer.
func TestSoftTimeoutServesStaleAndTheFetchStoresLater(t *testing.T) {
	g := newGate()
	refreshed := make(chan Event, 4)
	hs := newEngHarness(t, softConfig(20*time.Millisecond, refreshed), versioned(g, 2))
	require.Equal(t, "v1", hs.get("/s").body)
	hs.clock.Advance(15 * time.Second)

	r := hs.get("/s") // call 2 is held: only the soft timeout can answer
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "v1", r.body)
	assert.Equal(t, "failsoft; fwd=stale; ttl=-5; detail=soft-timeout", r.cs())
	assert.Equal(t, "15", r.header.Get("Age"))
	assert.EqualValues(t, 1, hs.eng.Stats().SoftTimeouts)

	g.Open()
	ev := <-refreshed // the background fetch ended
	assert.Equal(t, "", ev.Reason)
	fresh := hs.get("/s")
	assert.Equal(t, "v2", fresh.body, "the late answer was stored")
	assert.True(t, hasParam(fresh.cs(), "hit"), fresh.cs())
	assert.EqualValues(t, 2, hs.calls.Load())
}

// While a fetch of the key is running, a request holding a usable entry is answered from
// it at once, without a second fetch and without waiting for the first.
func TestStaleInFlightIsAnsweredAtOnce(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, softConfig(time.Hour, nil), versioned(g, 2))
	require.Equal(t, "v1", hs.get("/f").body)
	hs.clock.Advance(15 * time.Second)

	leader := goGet(hs, "/f") // waits up to an hour for its held fetch
	g.WaitHeld(t)
	for range 3 {
		r := hs.get("/f")
		assert.Equal(t, "v1", r.body)
		assert.Equal(t, "failsoft; hit; ttl=-5; detail=in-flight", r.cs())
	}
	assert.EqualValues(t, 2, hs.calls.Load(), "no second fetch")
	g.Open()
	l := <-leader
	assert.Equal(t, "v2", l.body, "the leader got its fetch's answer, in time")
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; stored", l.cs())
}

// A fetch that fails within the soft timeout is a failure like any other: the stale
// entry is served with the failure's reason.
func TestSoftTimeoutFailureInTimeServesStaleWithItsReason(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, softConfig(time.Hour, nil), sw.handler(t))
	r := hs.storeThenFail(sw, "/e", 12*time.Second, "500")
	assert.Equal(t, `{"good":true}`, r.body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=500; ttl=-11; detail=upstream-5xx", r.cs())
}

// An entry whose response forbids serving it stale (must-revalidate) never gets the
// soft timeout: the request waits for its fetch.
func TestSoftTimeoutNeverServesWhatMustRevalidate(t *testing.T) {
	var calls atomic.Int64
	hs := newEngHarness(t, Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 50 * time.Millisecond}}, SoftTimeout: time.Millisecond},
		func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) > 1 {
				<-r.Context().Done() // the refetch never answers
				return
			}
			w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
			fmt.Fprint(w, "v1")
		})
	require.Equal(t, "v1", hs.get("/m").body)
	hs.clock.Advance(15 * time.Second)
	r := hs.get("/m")
	assert.Equal(t, http.StatusGatewayTimeout, r.status)
	assert.NotContains(t, r.cs(), "soft-timeout")
	assert.Contains(t, r.cs(), "detail=timeout")
}

// Close cancels a background fetch still running after its request was answered at the
// soft timeout, and waits for it.
func TestCloseCancelsTheFetchLeftAtTheSoftTimeout(t *testing.T) {
	saw := make(chan error, 1)
	var calls atomic.Int64
	hs := newEngHarness(t, softConfig(10*time.Millisecond, nil), func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n == 2 {
			<-r.Context().Done()
			saw <- r.Context().Err()
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "v", n)
	})
	require.Equal(t, "v1", hs.get("/c").body)
	hs.clock.Advance(15 * time.Second)
	r := hs.get("/c")
	require.Equal(t, "failsoft; fwd=stale; ttl=-5; detail=soft-timeout", r.cs())
	require.NoError(t, hs.eng.Close())
	select {
	case err := <-saw:
		assert.ErrorIs(t, err, context.Canceled)
	default:
		t.Fatal("Close returned before the background fetch ended")
	}
}

// Config.Routes sets the soft timeout per route: off for one route, the request fetches
// inline (no background fetch); on for another, the fetch runs in the background.
func TestSoftTimeoutPerRoute(t *testing.T) {
	refreshed := make(chan Event, 4)
	sw := &switchable{}
	cfg := softConfig(time.Hour, refreshed)
	cfg.Route = func(r *http.Request) string { return r.URL.Path }
	cfg.Routes = map[string]RouteSettings{"/off": {SoftTimeout: -1}}
	hs := newEngHarness(t, cfg, sw.handler(t))

	off := hs.storeThenFail(sw, "/off", 12*time.Second, "500")
	assert.Contains(t, off.cs(), "detail=upstream-5xx")
	assert.Empty(t, refreshed, "soft timeout off: the fetch ran inline")

	sw.set("")
	on := hs.storeThenFail(sw, "/on", 12*time.Second, "500")
	assert.Contains(t, on.cs(), "detail=upstream-5xx")
	ev := <-refreshed
	assert.Equal(t, "/on", ev.Route, "soft timeout on: the fetch ran in the background")
}

// With the breaker open, a request holding a stale entry is answered from it without a
// flight, a fetch or a goroutine: the handler is not called, and the request never waits.
func TestBreakerOpenStaleNeedsNoFetch(t *testing.T) {
	sw := &switchable{}
	cfg := Config{Common: upstream.Common{Command: fastCommand()}, SoftTimeout: time.Hour}
	cfg.Command.SleepWindow = time.Hour
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/o")
	hs.clock.Advance(10 * time.Second)
	sw.set("500")
	hs.waitOpen(defaultRoute, func() { hs.get("/o") })
	before := hs.calls.Load()
	r := hs.get("/o")
	assert.Equal(t, "failsoft; hit; ttl=-9; detail=circuit-open", r.cs())
	assert.Equal(t, before, hs.calls.Load())
	assert.Zero(t, hs.eng.Stats().SoftTimeouts)
}

// The default soft timeout is on: a held fetch of a key holding a usable entry is
// answered with the entry, not waited for.
func TestSoftTimeoutIsOnByDefault(t *testing.T) {
	eng, err := New(Config{})
	require.NoError(t, err)
	defer eng.Close()
	assert.Equal(t, DefaultSoftTimeout, eng.settings("*").soft)

	_, err = New(Config{Routes: map[string]RouteSettings{"x": {Policy: &cache.Policy{FreshFor: -time.Second}}}})
	require.ErrorContains(t, err, `Config.Routes["x"].Policy`)
}

// With the breaker open, an entry kept only for revalidation (must-revalidate, with a
// validator) is not served: the client gets the open-circuit error.
func TestBreakerOpenNeverServesWhatMustRevalidate(t *testing.T) {
	var calls atomic.Int64
	cfg := Config{Common: upstream.Common{Command: fastCommand()}, SoftTimeout: time.Hour}
	cfg.Command.SleepWindow = time.Hour
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "v1")
	})
	require.Equal(t, "v1", hs.get("/mr").body)
	hs.clock.Advance(15 * time.Second)
	hs.waitOpen(defaultRoute, func() { hs.get("/mr") })
	r := hs.get("/mr")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "failsoft; detail=circuit-open", r.cs())
}

// A client holding a stale copy is answered without waiting on the upstream again when
// the background fetch ends with a body too large to store: it gets the stale copy (the
// fetch had no client to stream to, and a fetch of its own could take any time), and the
// source is not called a third time.
func TestSoftTimeoutTooLargeFetchServesStaleWithoutRefetching(t *testing.T) {
	cfg := softConfig(time.Hour, nil) // only the background fetch's end can answer
	cfg.Policy.MaxBodyBytes = 1 << 10
	var calls atomic.Int64
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		switch n := calls.Add(1); n {
		case 1:
			fmt.Fprint(w, "v1")
		case 2:
			fmt.Fprint(w, strings.Repeat("x", 4<<10)) // the background fetch: too large
		default:
			// An inline refetch, which nothing bounds by the soft deadline: a slow
			// upstream here would keep the client waiting.
			t.Errorf("call %d: the client holding a stale copy waits on a refetch", n)
			fmt.Fprint(w, strings.Repeat("y", 4<<10))
		}
	})
	require.Equal(t, "v1", hs.get("/big").body)
	hs.clock.Advance(15 * time.Second)

	r := hs.get("/big")
	assert.Equal(t, "v1", r.body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; ttl=-5; detail=too-large", r.cs())
	assert.EqualValues(t, 2, hs.calls.Load())
}
