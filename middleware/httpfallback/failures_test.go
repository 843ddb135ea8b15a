package httpfallback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

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
		{name: "timeout", mode: "slow", cfg: Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 30 * time.Millisecond}}}, status: 504, cs: "failsoft; fwd=uri-miss; detail=timeout", problem: true},
		{name: "invalid", mode: "badjson", cfg: Config{Validate: validJSON}, status: 502, cs: "failsoft; fwd=uri-miss; detail=invalid-response", problem: true},
		{name: "circuit-open", mode: "500", cfg: Config{Common: upstream.Common{Command: func() upstream.Settings { s := fastCommand(); s.SleepWindow = time.Minute; return s }()}},
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
	cfg := Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 30 * time.Second, MaxConcurrent: 1}}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		fmt.Fprint(w, "ok")
	})
	first := goGet(hs, "/one")
	g.WaitHeld(t)
	r := hs.get("/other") // another key: not collapsed, refused by the concurrency limit
	g.Open()
	<-first
	assert.Equal(t, 503, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Equal(t, "failsoft; detail=overloaded", r.cs())
}

func TestConnectErrorFromFetcherIs502(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
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
	cfg := Config{Common: upstream.Common{Command: fastCommand()}}
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
	assert.Equal(t, upstream.Closed, hs.eng.runnerOf(defaultRoute).State())
	assert.EqualValues(t, 0, hs.eng.Stats().Stale)
}

func TestDefaultsPerRouteGlobalFuncNeverStored(t *testing.T) {
	sw := &switchable{}
	sw.set("500")
	eng, err := New(Config{
		Common:  upstream.Common{Now: fakeclock.New().Now},
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
	assert.NotNil(t, hs.eng.runnerOf("alternate/"+defaultRoute), "the alternate runs as its own command")
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

func TestPanicWithoutStaleServesDefaultAndServerStaysUp(t *testing.T) {
	sw := &switchable{}
	sw.set("panic")
	var reason atomic.Value
	cfg := Config{Default: &Default{Func: func(r *http.Request, why string) (int, http.Header, []byte) {
		reason.Store(why)
		return 200, nil, []byte("fallback")
	}}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	r := hs.get("/p")
	assert.Equal(t, "fallback", r.body)
	assert.Equal(t, "panic", reason.Load())
	sw.set("")
	assert.Equal(t, `{"good":true}`, hs.get("/p").body, "the server stays up")
}

func TestHandlerIgnoringContextGetsTimeoutNotItsLateAnswer(t *testing.T) {
	sw := &switchable{}
	// The first, good fetch must finish within the timeout: 500 ms leaves room on a loaded
	// CI machine; the slow handler waits for its context, so the test takes one timeout.
	cfg := Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 500 * time.Millisecond}}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	r := hs.storeThenFail(sw, "/t", 3*time.Second, "slow")
	assert.Equal(t, `{"good":true}`, r.body, "stale, not the late answer")
	assert.Equal(t, "failsoft; fwd=stale; ttl=-2; detail=timeout", r.cs())
}

func TestTruncatedBodyIsAFailureNeverStored(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if m, _ := sw.mode.Load().(string); m == "truncate" {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, "only part")
			return
		}
		sw.handler(t)(w, r)
	})
	r := hs.storeThenFail(sw, "/tr", 5*time.Second, "truncate")
	assert.Equal(t, `{"good":true}`, r.body, "stale, not the truncated body")
	assert.Equal(t, "failsoft; fwd=stale; ttl=-4; detail=invalid-response", r.cs())
	hs.get("/tr")
	assert.EqualValues(t, 1, hs.eng.Stats().Stored)
	r = hs.get("/fresh-key")
	assert.Equal(t, 502, r.status)
}
