package httpfallback

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

func TestWaiterOfAnotherVariantDoesNotGetLeadersAnswer(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		g.hold(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprint(w, "lang="+r.Header.Get("Accept-Language"))
	})
	leader := goGet(hs, "/v", "Accept-Language", "fr")
	g.waitHeld(t)
	sameCh := goGet(hs, "/v", "Accept-Language", "fr")
	otherCh := goGet(hs, "/v", "Accept-Language", "de")
	waitWaiting(t, hs, 2)
	g.open()
	same, other := <-sameCh, <-otherCh
	assert.Equal(t, "lang=fr", (<-leader).body)
	assert.Equal(t, "lang=fr", same.body)
	assert.True(t, hasParam(same.cs(), "collapsed"), same.cs())
	assert.Equal(t, "lang=de", other.body, "another variant never gets the leader's answer")
	assert.Contains(t, other.cs(), "detail=not-shared")
}

func TestEventsAndStats(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	sw := &switchable{}
	cfg := Config{OnEvent: func(ev Event) {
		mu.Lock()
		kinds = append(kinds, ev.Kind.String()+":"+ev.Reason)
		mu.Unlock()
	}, Default: &Default{Body: []byte("d")}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/e")
	hs.get("/e")
	hs.clock.Advance(5 * time.Second)
	sw.set("503")
	hs.get("/e")
	hs.get("/other")
	mu.Lock()
	got := append([]string(nil), kinds...)
	mu.Unlock()
	assert.Equal(t, []string{
		"miss:", "upstream:", "stored:", "forward:", "hit:",
		"miss:", "upstream:upstream-5xx", "stale:upstream-5xx",
		"miss:", "upstream:upstream-5xx", "default:upstream-5xx",
	}, got)
	st := hs.eng.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 3, st.Misses)
	assert.EqualValues(t, 1, st.Stored)
	assert.EqualValues(t, 1, st.Stale)
	assert.EqualValues(t, 1, st.Defaults)
	assert.NotZero(t, st.Store.Stored, "the owned store's own counters are included")
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

func TestRunCommandWithPlainWriterCountsFailures(t *testing.T) {
	stayOpen := fastCommand()
	stayOpen.SleepWindow = time.Hour // open stays open, however slow the machine
	eng, err := New(Config{Name: uniqueName(t), Command: stayOpen})
	require.NoError(t, err)
	defer eng.Close()
	req := httptest.NewRequest(http.MethodGet, "http://svc.test/x", nil)
	fail := func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusBadGateway)
		return nil
	}
	var last error
	require.Eventually(t, func() bool {
		last = eng.RunCommand(context.Background(), "GET /x", httptest.NewRecorder(), req, fail)
		return reason(last) == "circuit-open"
	}, 10*time.Second, 5*time.Millisecond)
	var se *upstream.StatusError
	// before opening, the failure was a StatusError; after, the breaker refuses
	assert.NotErrorAs(t, last, &se)
	called := false
	err = eng.RunCommand(context.Background(), "GET /x", httptest.NewRecorder(), req, func(context.Context, http.ResponseWriter, *http.Request) error {
		called = true
		return nil
	})
	assert.Equal(t, "circuit-open", reason(err))
	assert.False(t, called, "open: the fetch is not called")
	// a 4xx is an answer, not a failure; the caller's cancellation is returned as is
	eng2, err := New(Config{Name: uniqueName(t), Command: fastCommand()})
	require.NoError(t, err)
	defer eng2.Close()
	for range 10 {
		err := eng2.RunCommand(context.Background(), "", httptest.NewRecorder(), req, func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(404)
			return nil
		})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = eng2.RunCommand(ctx, "", httptest.NewRecorder(), req, func(ctx context.Context, _ http.ResponseWriter, _ *http.Request) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	assert.ErrorIs(t, err, context.Canceled)
	rn := func() *upstream.Runner { eng2.mu.Lock(); defer eng2.mu.Unlock(); return eng2.runners[defaultRoute] }()
	assert.Equal(t, upstream.Closed, rn.State())
}

func TestHandlerIgnoringContextGetsTimeoutNotItsLateAnswer(t *testing.T) {
	sw := &switchable{}
	// The first, good fetch must finish within the timeout: 500 ms leaves room on a loaded
	// CI machine; the slow handler waits for its context, so the test takes one timeout.
	cfg := Config{Command: upstream.Settings{Timeout: 500 * time.Millisecond}}
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

// TestOverrideHeadersAreKeyed: URL, method and host override headers reach the handler
// unmodified, and are keyed: an attacker's values only land in a key the victim never
// uses, while requests from a trusted proxy (same X-Forwarded-Host) share one entry.
func TestOverrideHeadersAreKeyed(t *testing.T) {
	var calls atomic.Int64
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "host=%s xfh=%s xfp=%s xo=%s mo=%s", r.Host, r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Original-URL"), r.Header.Get("X-HTTP-Method-Override"))
	})
	host := strings.TrimPrefix(hs.srv.URL, "http://")
	attack := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE")
	assert.Equal(t, "host="+host+" xfh=evil.example xfp= xo=/admin mo=DELETE", attack.body, "the handler sees the request as sent")

	victim := hs.get("/p")
	assert.Equal(t, "host="+host+" xfh= xfp= xo= mo=", victim.body)
	assert.Contains(t, victim.cs(), "fwd=uri-miss", "the attacker's answer is not the victim's entry")

	again := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE")
	assert.Equal(t, attack.body, again.body)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=200", again.cs(), "a GET naming DELETE is a DELETE: never stored (screen.go)")
	keyed := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin")
	again = hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin")
	assert.Equal(t, keyed.body, again.body)
	assert.Contains(t, again.cs(), "hit", "the same override values share their own entry")

	// Behind a trusted proxy: every request carries the public host and scheme.
	proxied := []string{"X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "https"}
	first := hs.get("/links", proxied...)
	assert.Equal(t, "host="+host+" xfh=api.example.com xfp=https xo= mo=", first.body)
	second := hs.get("/links", proxied...)
	assert.Equal(t, first.body, second.body)
	assert.Contains(t, second.cs(), "hit")
	other := hs.get("/links", "X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "http")
	assert.Contains(t, other.body, "xfp=http ", "another scheme is another entry")
	assert.EqualValues(t, 6, calls.Load())
}

// TestSourceSeesKeyedHost: the host reaches the source in the key's form (lowercase, no
// default port), so a handler reflecting it cannot store a variant under the shared key.
func TestSourceSeesKeyedHost(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "host=%s", r.Host)
	})
	cases := map[string]string{
		"Victim.Example":     "host=victim.example",
		"victim.example:80":  "host=victim.example",
		"victim.example:":    "host=victim.example",
		"victim.example:801": "host=victim.example:801",
	}
	for in, want := range cases {
		req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/h?"+url.QueryEscape(in), nil)
		require.NoError(t, err)
		req.Host = in
		res, err := hs.srv.Client().Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, want, string(b), in)
	}
}
