package httpfallback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

func TestFreshHitServedFromStoreWithoutHandler(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "hello")
	})
	first := hs.get("/a")
	require.Equal(t, 200, first.status)
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; stored", first.cs())
	assert.Equal(t, "hello", first.body)

	hs.clock.Advance(10 * time.Second)
	hit := hs.get("/a")
	assert.Equal(t, "hello", hit.body)
	assert.Equal(t, "failsoft; hit; ttl=50", hit.cs())
	assert.Equal(t, "10", hit.header.Get("Age"))
	assert.Equal(t, "text/plain", hit.header.Get("Content-Type"))
	assert.EqualValues(t, 1, hs.calls.Load(), "a fresh hit must not run the handler")
	// no command ran for the hit: the route's runner exists (created in New) but a
	// hit never reaches it; the Stats say so too.
	st := hs.eng.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 1, st.Misses)
	assert.EqualValues(t, 1, st.Stored)

	head := hs.do(http.MethodHead, "/a")
	assert.Equal(t, 200, head.status)
	assert.Equal(t, "", head.body)
	assert.Equal(t, "5", head.header.Get("Content-Length"))
	assert.EqualValues(t, 1, hs.calls.Load())

	// The client's own If-None-Match is answered from the entry.
	hs2 := newEngHarness(t, Config{Name: uniqueName(t)}, func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("If-None-Match"), "client conditionals are not forwarded")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "body")
	})
	hs2.get("/e", "If-None-Match", `"v1"`)
	nm := hs2.get("/e", "If-None-Match", `W/"v1"`)
	assert.Equal(t, http.StatusNotModified, nm.status)
	assert.Equal(t, `"v1"`, nm.header.Get("Etag"))
}

func TestHeadMissFetchesGetAndStores(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodGet, r.Method)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "full body")
	})
	head := hs.do(http.MethodHead, "/h")
	assert.Equal(t, "", head.body)
	assert.True(t, hasParam(head.cs(), "stored"), head.cs())
	get := hs.get("/h")
	assert.Equal(t, "full body", get.body)
	assert.True(t, hasParam(get.cs(), "hit"), get.cs())
	assert.EqualValues(t, 1, hs.calls.Load())
}

func TestStaleWhileRevalidateOneBackgroundRefresh(t *testing.T) {
	var version atomic.Int64
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		v := version.Add(1)
		if v > 1 {
			entered <- struct{}{}
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprintf(w, "v%d", v)
	})
	require.Equal(t, "v1", hs.get("/swr").body)
	hs.clock.Advance(15 * time.Second)

	for range 5 {
		r := hs.get("/swr")
		assert.Equal(t, "v1", r.body, "stale served at once")
		assert.Equal(t, "failsoft; hit; ttl=-5; detail=stale-while-revalidate", r.cs())
		assert.Equal(t, "15", r.header.Get("Age"))
	}
	<-entered
	close(release)
	require.Eventually(t, func() bool { return hs.eng.Stats().Refreshes == 1 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 2, hs.calls.Load(), "exactly one background refresh for the key")
	r := hs.get("/swr")
	assert.Equal(t, "v2", r.body)
	assert.Equal(t, "failsoft; hit; ttl=10", r.cs())
}

func TestColdKey200ConcurrentRequestsRunHandlerOnce(t *testing.T) {
	release := make(chan struct{})
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "payload")
	})
	const n = 200
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	results := make([]engResp, n)
	for i := range n {
		wg.Go(func() { results[i] = doReq(t, context.Background(), c, "GET", hs.srv.URL+"/cold") })
	}
	require.Eventually(t, func() bool {
		return hs.calls.Load() == 1 && hs.eng.Stats().Waiting == n-1
	}, 20*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, hs.calls.Load())
	collapsed := 0
	for _, r := range results {
		assert.Equal(t, 200, r.status)
		assert.Equal(t, "payload", r.body)
		if hasParam(r.cs(), "collapsed") {
			collapsed++
		}
	}
	assert.Equal(t, n-1, collapsed)
	assert.EqualValues(t, n-1, hs.eng.Stats().Collapsed)
}

func TestLockTimeoutWaiterFetchesAloneAndDoesNotStore(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(20*time.Millisecond), func(w http.ResponseWriter, r *http.Request) {
		g.hold(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	leader := goGet(hs, "/lock")
	g.waitHeld(t)
	w := hs.get("/lock")
	assert.Equal(t, "x", w.body)
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; detail=lock-timeout", w.cs())
	g.open()
	l := <-leader
	assert.True(t, hasParam(l.cs(), "stored"), l.cs())
}

// A waiter whose key has a stale entry within stale-if-error does not start a second fetch
// when the leader is stuck past the lock timeout: it answers with the entry at once.
func TestLockTimeoutWaiterWithStaleEntryServesIt(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(20*time.Millisecond), func(w http.ResponseWriter, r *http.Request) {
		i := g.hold(2) // the refetch after the entry went stale hangs
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "v", i)
	})
	require.Equal(t, "v1", hs.get("/lock-stale").body)
	hs.clock.Advance(15 * time.Second) // past fresh, within stale-if-error: a fetch is due
	leader := goGet(hs, "/lock-stale")
	g.waitHeld(t)
	w := hs.get("/lock-stale")
	assert.Equal(t, "v1", w.body)
	assert.Equal(t, "failsoft; fwd=stale; ttl=-5; collapsed; detail=lock-timeout", w.cs())
	assert.EqualValues(t, 2, hs.calls.Load(), "no second fetch while the leader's is stuck")
	g.open()
	l := <-leader
	assert.Equal(t, "v2", l.body)
}

func TestLeaderClientHangsUpWaitersStillServed(t *testing.T) {
	g := newGate()
	var handlerCtxErr atomic.Value
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		g.hold(1)
		handlerCtxErr.Store(fmt.Sprint(r.Context().Err()))
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "shared")
	})
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.srv.URL+"/hang", nil)
		res, err := hs.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		leaderDone <- err
	}()
	g.waitHeld(t)
	waiters := []<-chan engResp{goGet(hs, "/hang"), goGet(hs, "/hang"), goGet(hs, "/hang")}
	waitWaiting(t, hs, 3)
	cancel()
	require.Error(t, <-leaderDone)
	g.open()
	for _, w := range waiters {
		r := <-w
		assert.Equal(t, "shared", r.body)
		assert.True(t, hasParam(r.cs(), "collapsed"), r.cs())
	}
	assert.Equal(t, "<nil>", handlerCtxErr.Load(), "the fetch others wait on is not cancelled")
	assert.Equal(t, upstream.Closed, hs.runnerOf(defaultRoute).State())
	assert.EqualValues(t, 0, hs.eng.Stats().Errors)
	assert.Equal(t, "failsoft; hit; ttl=60", hs.get("/hang").cs(), "the leader's fetch was stored")
}

// switchable makes its handler answer well (mode "") or fail in the way its mode names.
type switchable struct {
	mode atomic.Value // string
}

func (s *switchable) set(m string) { s.mode.Store(m) }

func (s *switchable) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, _ := s.mode.Load().(string)
		switch m {
		case "500":
			w.Header().Set("X-Own", "yes")
			w.WriteHeader(500)
			fmt.Fprint(w, "own failure")
		case "503":
			w.WriteHeader(503)
			fmt.Fprint(w, "own 503")
		case "panic":
			panic("boom")
		case "404":
			w.WriteHeader(404)
			fmt.Fprint(w, "not here")
		case "badjson":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{not json")
		case "slow":
			<-r.Context().Done() // then answers "successfully", too late
			fmt.Fprint(w, "late")
		default:
			w.Header().Set("Cache-Control", "max-age=1")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"good":true}`)
		}
	}
}

func TestFailureServesStaleWithinStaleIfError(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, Config{}, sw.handler(t))
	r := hs.storeThenFail(sw, "/s", 43*time.Second, "500")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, `{"good":true}`, r.body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=500; ttl=-42; detail=upstream-5xx", r.cs())
	assert.Equal(t, "43", r.header.Get("Age"))
	assert.Empty(t, r.header.Get("X-Own"))

	sw.set("panic")
	r = hs.get("/s")
	assert.Equal(t, `{"good":true}`, r.body)
	assert.Equal(t, "failsoft; fwd=stale; ttl=-42; detail=panic", r.cs())
	// the server stays up
	sw.set("")
	r = hs.get("/s")
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; stored", r.cs())
	assert.EqualValues(t, 2, hs.eng.Stats().Stale)
}

// The breaker tests run hystrix's real sleep window. Whether a request falls inside it is
// up to the scheduler, so each test asserts only what no delay can change: while the
// window is an hour long the circuit stays open; with a short window, the first request
// after it is the probe, and the handler is reached by nothing else.

func TestBreakerOpenServesStaleWithoutCallingHandler(t *testing.T) {
	sw := &switchable{}
	cfg := Config{Command: fastCommand()}
	cfg.Command.SleepWindow = time.Hour
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/b")
	hs.clock.Advance(10 * time.Second)
	sw.set("500")
	hs.waitOpen(defaultRoute, func() { hs.get("/b") })
	require.Equal(t, upstream.Open, hs.runnerOf(defaultRoute).State())

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
	cfg := Config{Command: fastCommand(), OnEvent: func(ev Event) {
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
	require.Eventually(t, func() bool { return hs.runnerOf(defaultRoute).State() == upstream.Closed }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(changes) > 0 && strings.HasSuffix(changes[len(changes)-1], "->closed")
	}, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "closed->open", changes[0], "%v", changes)
}

func TestErrorResponses(t *testing.T) {
	type tc struct {
		name, mode   string
		cfg          Config
		status       int
		cs           string
		problem      bool
		retryAfter   string
		body         string
		setupBreaker bool
	}
	cases := []tc{
		{name: "own5xx", mode: "503", status: 503, cs: "failsoft; fwd=uri-miss; fwd-status=503; detail=upstream-5xx", body: "own 503"},
		{name: "panic", mode: "panic", status: 500, cs: "failsoft; fwd=uri-miss; detail=panic", problem: true},
		{name: "timeout", mode: "slow", cfg: Config{Command: upstream.Settings{Timeout: 30 * time.Millisecond}}, status: 504, cs: "failsoft; fwd=uri-miss; detail=timeout", problem: true},
		{name: "invalid", mode: "badjson", cfg: Config{Validate: validJSON}, status: 502, cs: "failsoft; fwd=uri-miss; detail=invalid-response", problem: true},
		{name: "circuit-open", mode: "500", cfg: Config{Command: func() upstream.Settings { s := fastCommand(); s.SleepWindow = time.Minute; return s }()},
			setupBreaker: true, status: 503, cs: "failsoft; detail=circuit-open", problem: true, retryAfter: "60"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sw := &switchable{}
			sw.set(c.mode)
			hs := newEngHarness(t, c.cfg, sw.handler(t))
			if c.setupBreaker {
				hs.waitOpen(defaultRoute, func() { hs.get("/x") })
			}
			r := hs.get("/x")
			assert.Equal(t, c.status, r.status)
			assert.Equal(t, c.cs, r.cs())
			assert.Equal(t, c.retryAfter, r.header.Get("Retry-After"))
			if c.problem {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				var p map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.body), &p), r.body)
				assert.EqualValues(t, c.status, p["status"])
				assert.Equal(t, http.StatusText(c.status), p["title"])
				assert.NotEmpty(t, p["detail"])
				assert.NotEmpty(t, p["type"])
			} else {
				assert.Equal(t, c.body, r.body)
			}
			assert.NotZero(t, hs.eng.Stats().Errors)
			// never stored: the next request calls the handler again (unless the breaker is open)
			if !c.setupBreaker {
				calls := hs.calls.Load()
				hs.get("/x")
				assert.Equal(t, calls+1, hs.calls.Load())
			}
		})
	}
}

func validJSON(status int, h http.Header, body []byte) error {
	if !json.Valid(body) {
		return errors.New("body is not JSON")
	}
	return nil
}

func TestOverloadedAnswers503RetryAfter(t *testing.T) {
	g := newGate()
	cfg := Config{Command: upstream.Settings{Timeout: 30 * time.Second, MaxConcurrent: 1}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		g.hold(1)
		fmt.Fprint(w, "ok")
	})
	first := goGet(hs, "/one")
	g.waitHeld(t)
	r := hs.get("/other") // another key: not collapsed, refused by the concurrency limit
	g.open()
	<-first
	assert.Equal(t, 503, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Equal(t, "failsoft; detail=overloaded", r.cs())
}

func TestConnectErrorFromFetcherIs502(t *testing.T) {
	eng, err := New(Config{Name: uniqueName(t), Now: newEngClock().Now})
	require.NoError(t, err)
	defer eng.Close()
	w := newRecorder()
	req, _ := http.NewRequest("GET", "http://example.test/p", nil)
	eng.Serve(w, req, "", func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("dial: %w", &netOpError)
	})
	assert.Equal(t, 502, w.status)
	assert.Equal(t, "failsoft; fwd=uri-miss; detail=connect-error", w.h.Get("Cache-Status"))
}

func TestFourXXPassesThroughNotStoredNotAFailure(t *testing.T) {
	sw := &switchable{}
	cfg := Config{Command: fastCommand()}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/f")
	hs.clock.Advance(10 * time.Second)
	sw.set("404")
	for range 10 {
		r := hs.get("/f")
		assert.Equal(t, 404, r.status)
		assert.Equal(t, "not here", r.body)
		assert.Equal(t, "failsoft; fwd=stale; fwd-status=404", r.cs())
	}
	assert.EqualValues(t, 11, hs.calls.Load())
	assert.Equal(t, upstream.Closed, hs.runnerOf(defaultRoute).State())
	assert.EqualValues(t, 0, hs.eng.Stats().Stale)
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if m, _ := sw.mode.Load().(string); m == "500" {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(201)
			fmt.Fprint(w, "created")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "list")
	})
	hs.get("/items")
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"))

	sw.set("500")
	r := hs.do(http.MethodPost, "/items")
	assert.Equal(t, 500, r.status)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=500; detail=upstream-5xx", r.cs())
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"), "a failed POST does not invalidate")

	r = hs.do(http.MethodOptions, "/items")
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"), "a safe OPTIONS does not invalidate")

	sw.set("")
	r = hs.do(http.MethodPost, "/items")
	assert.Equal(t, 201, r.status)
	assert.Equal(t, "created", r.body)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=201", r.cs())
	calls := hs.calls.Load()
	assert.True(t, hasParam(hs.get("/items").cs(), "stored"), "the POST invalidated the entry")
	assert.Equal(t, calls+1, hs.calls.Load())
}

func TestLargeResponseIsStreamedNotStored(t *testing.T) {
	const chunk = 4 << 10
	const chunks = 64
	firstRead := make(chan struct{})
	var streamedBeforeEnd atomic.Bool
	cfg := Config{Policy: cache.Policy{MaxBodyBytes: 8 << 10}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		p := []byte(strings.Repeat("z", chunk))
		for i := range chunks {
			_, _ = w.Write(p)
			if i == 3 {
				w.(http.Flusher).Flush()
				select { // the client already has the first bytes: nothing waited for the whole body
				case <-firstRead:
					streamedBeforeEnd.Store(true)
				case <-time.After(10 * time.Second):
				}
			}
		}
	})
	res, err := hs.srv.Client().Get(hs.srv.URL + "/big")
	require.NoError(t, err)
	defer res.Body.Close()
	buf := make([]byte, chunk)
	_, err = io.ReadFull(res.Body, buf)
	require.NoError(t, err)
	close(firstRead)
	rest, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, chunk*chunks, len(buf)+len(rest))
	assert.True(t, streamedBeforeEnd.Load())
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; detail=too-large", res.Header.Get("Cache-Status"))
	assert.EqualValues(t, 0, hs.eng.Stats().Stored)
}

func TestDefaultsPerRouteGlobalFuncNeverStored(t *testing.T) {
	sw := &switchable{}
	sw.set("500")
	eng, err := New(Config{
		Name:    uniqueName(t),
		Now:     newEngClock().Now,
		Default: &Default{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("global")},
		Defaults: map[string]*Default{
			"GET /users/{id}": {Func: func(r *http.Request, reason string) (int, http.Header, []byte) {
				return 203, http.Header{"X-Reason": {reason}}, []byte("user " + r.PathValue("id"))
			}},
			"/static/": {Body: []byte("prefix")},
		},
	})
	require.NoError(t, err)
	defer eng.Close()
	var calls atomic.Int64
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		sw.handler(t)(w, r)
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", h)
	mux.Handle("/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(p string) engResp { return doReq(t, context.Background(), srv.Client(), "GET", srv.URL+p) }

	r := get("/users/7")
	assert.Equal(t, 203, r.status)
	assert.Equal(t, "user 7", r.body)
	assert.Equal(t, "upstream-5xx", r.header.Get("X-Reason"))
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=500; detail=default", r.cs())
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	r = get("/static/app.js")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "prefix", r.body)

	r = get("/other")
	assert.Equal(t, "global", r.body)
	assert.Equal(t, "text/plain", r.header.Get("Content-Type"))
	assert.EqualValues(t, 3, eng.Stats().Defaults)

	// never stored: once the handler recovers, its answer is served, not the default
	sw.set("")
	r = get("/other")
	assert.Equal(t, `{"good":true}`, r.body)
	assert.True(t, hasParam(r.cs(), "stored"))
	assert.EqualValues(t, 4, calls.Load())
}

func TestAlternateBeforeStale(t *testing.T) {
	sw := &switchable{}
	var altCalls atomic.Int64
	cfg := Config{Alternate: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		altCalls.Add(1)
		fmt.Fprint(w, "mirror")
	})}
	hs := newEngHarness(t, cfg, sw.handler(t))
	r := hs.storeThenFail(sw, "/alt", 5*time.Second, "500")
	assert.Equal(t, "mirror", r.body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; detail=alternate", r.cs())
	assert.EqualValues(t, 1, altCalls.Load())
	assert.NotNil(t, hs.runnerOf("alternate/"+defaultRoute), "the alternate runs as its own command")
}

func TestValidatorFailureNeverStored(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, Config{Validate: validJSON}, sw.handler(t))
	r := hs.storeThenFail(sw, "/v", 5*time.Second, "badjson")
	assert.Equal(t, `{"good":true}`, r.body, "stale, not the broken body")
	assert.Equal(t, "failsoft; fwd=stale; ttl=-4; detail=invalid-response", r.cs())
	r = hs.get("/v")
	assert.Equal(t, `{"good":true}`, r.body, "the broken body was not stored")
	assert.EqualValues(t, 1, hs.eng.Stats().Stored)
}

func TestConditionalRevalidation304RefreshesEntry(t *testing.T) {
	var inm atomic.Value
	h := etagHandler(nil)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		inm.Store(r.Header.Get("If-None-Match"))
		h(w, r)
	})
	hs.get("/c")
	hs.clock.Advance(20 * time.Second)
	r := hs.get("/c")
	assert.Equal(t, `"e1"`, inm.Load())
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "original", r.body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=304; stored", r.cs())
	r = hs.get("/c")
	assert.Equal(t, "failsoft; hit; ttl=10", r.cs())
	assert.Equal(t, "original", r.body)
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	var refreshErr atomic.Value
	entered := make(chan struct{})
	var n atomic.Int64
	clock := newEngClock()
	eng, err := New(Config{Name: uniqueName(t), Now: clock.Now, Command: upstream.Settings{Timeout: time.Minute}})
	require.NoError(t, err)
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=100")
		if n.Add(1) == 2 {
			close(entered)
			<-r.Context().Done()
			refreshErr.Store(r.Context().Err())
			return
		}
		fmt.Fprint(w, "v")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	doReq(t, context.Background(), srv.Client(), "GET", srv.URL+"/r")
	clock.Advance(5 * time.Second)
	r := doReq(t, context.Background(), srv.Client(), "GET", srv.URL+"/r")
	assert.Contains(t, r.cs(), "detail=stale-while-revalidate")
	<-entered
	require.NoError(t, eng.Close())
	assert.ErrorIs(t, refreshErr.Load().(error), context.Canceled)
	require.NoError(t, eng.Close(), "Close twice")

	// After Close: the source is called directly.
	r = doReq(t, context.Background(), srv.Client(), "GET", srv.URL+"/r")
	assert.Equal(t, "failsoft; fwd=bypass", r.cs())
	assert.Equal(t, "v", r.body)
}

func TestNewValidation(t *testing.T) {
	cases := map[string]struct {
		cfg   Config
		field string
	}{
		"lock":        {Config{LockTimeout: -1}, "LockTimeout"},
		"maxbytes":    {Config{MaxBytes: -1}, "MaxBytes"},
		"maxbody":     {Config{Policy: cache.Policy{MaxBodyBytes: -1}}, "MaxBodyBytes"},
		"timeout":     {Config{Command: upstream.Settings{Timeout: -1}}, "Timeout"},
		"status":      {Config{Default: &Default{Status: 42}}, "Default.Status"},
		"crlf value":  {Config{Default: &Default{Header: http.Header{"X-A": {"a\r\nSet-Cookie: x"}}}}, "Default.Header"},
		"bad name":    {Config{Defaults: map[string]*Default{"/a": {Header: http.Header{"Bad Name": {"v"}}}}}, `Defaults["/a"].Header`},
		"nil default": {Config{Defaults: map[string]*Default{"/a": nil}}, `Defaults["/a"]`},
		"failure":     {Config{FailureStatuses: []int{7}}, "FailureStatuses"},
		"concurrency": {Config{Command: upstream.Settings{MaxConcurrent: -1}}, "MaxConcurrent"},
		"fresh for":   {Config{Policy: cache.Policy{FreshFor: -time.Second}}, "Policy.FreshFor"},
		"override":    {Config{Policy: cache.Policy{OverrideFreshness: -time.Second}}, "Policy.OverrideFreshness"},
		"swr":         {Config{Policy: cache.Policy{StaleWhileRevalidate: -time.Second}}, "Policy.StaleWhileRevalidate"},
		"statuses":    {Config{Policy: cache.Policy{Statuses: []int{7}}}, "Policy.Statuses"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			c.cfg.Name = uniqueName(t)
			_, err := New(c.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.field)
		})
	}
}

// An engine can be rebuilt under its Name (a config reload), and two live engines may share
// one: each has circuits of its own.
func TestNameReusedAfterCloseAndAlongside(t *testing.T) {
	stayOpen := fastCommand()
	stayOpen.SleepWindow = time.Hour
	sw := &switchable{}
	sw.set("500")
	a := newEngHarness(t, Config{Name: "reload", Command: stayOpen}, sw.handler(t))
	a.waitOpen(defaultRoute, func() { a.get("/n") })

	b, err := New(Config{Name: "reload"})
	require.NoError(t, err, "a Name in use by a live engine")
	rb, err := b.runner(defaultRoute)
	require.NoError(t, err)
	assert.Equal(t, upstream.Closed, rb.State(), "its own circuit, not the open one")
	require.NoError(t, b.Close())

	c, err := New(Config{Name: "reload"})
	require.NoError(t, err, "the Name again after Close")
	require.NoError(t, c.Close())
}

func TestLogsNeverCarryCredentials(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	sw := &switchable{}
	cfg := Config{Logger: newTestLogger(&logs, &mu)}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/l?api_key=SECRET1")
	hs.get("/l?api_key=SECRET1", "Authorization", "Bearer SECRET2", "Cookie", "s=SECRET3", "X-Api-Key", "SECRET4")
	hs.clock.Advance(time.Hour / 2)
	sw.set("500")
	hs.get("/l?api_key=SECRET1", "Authorization", "Bearer SECRET2", "Cookie", "s=SECRET3", "X-Api-Key", "SECRET4")
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	assert.Contains(t, out, "serving")
	assert.Contains(t, out, "hit")
	assert.NotContains(t, out, "SECRET")
}
