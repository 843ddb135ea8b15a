package httpfallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/testgate"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/failsoft/failsoft/upstream"
)

// engHarness is an Engine mounted as net/http middleware on a loopback server.
type engHarness struct {
	t     *testing.T
	eng   *Engine
	srv   *httptest.Server
	clock *fakeclock.Clock
	calls atomic.Int64 // calls of the wrapped handler
}

// newEngHarness builds an Engine around h; cfg.Now is the harness's fake clock when nil.
func newEngHarness(t *testing.T, cfg Config, h http.HandlerFunc) *engHarness {
	t.Helper()
	hs := &engHarness{t: t, clock: fakeclock.New()}
	if cfg.Now == nil {
		cfg.Now = hs.clock.Now
	}
	if cfg.SoftTimeout == 0 {
		// Off unless the test is about it: a busy machine must not turn a quick fetch
		// into a soft-timeout answer in tests that check other paths.
		cfg.SoftTimeout = -1
	}
	eng, err := New(cfg)
	require.NoError(t, err)
	hs.eng = eng
	hs.srv = httptest.NewServer(eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.calls.Add(1)
		h(w, r)
	})))
	t.Cleanup(func() {
		hs.srv.Close()
		require.NoError(t, eng.Close())
	})
	return hs
}

type engResp struct {
	status int
	header http.Header
	body   string
}

func (hs *engHarness) do(method, path string, hdr ...string) engResp {
	hs.t.Helper()
	return doReq(hs.t, context.Background(), hs.srv.Client(), method, hs.srv.URL+path, hdr...)
}

func (hs *engHarness) get(path string, hdr ...string) engResp {
	hs.t.Helper()
	return hs.do(http.MethodGet, path, hdr...)
}

func doReq(t *testing.T, ctx context.Context, c *http.Client, method, url string, hdr ...string) engResp {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return engResp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (r engResp) cs() string { return r.header.Get("Cache-Status") }

// openBreaker makes the route's circuit open by failing requests until it reports open.
func (hs *engHarness) waitOpen(route string, fail func()) {
	hs.t.Helper()
	require.Eventually(hs.t, func() bool {
		if rn := hs.eng.runnerOf(route); rn != nil && rn.State() != upstream.Closed {
			return true
		}
		fail()
		return false
	}, 10*time.Second, 5*time.Millisecond)
}

func hasParam(cs, p string) bool {
	for _, part := range strings.Split(cs, ";") {
		if strings.TrimSpace(part) == p {
			return true
		}
	}
	return false
}

// fastCommand is a command template whose breaker opens after a couple of failures and
// stays open (hystrix's sleep window is real time: a test of the probe sets a short one).
func fastCommand() upstream.Settings {
	return upstream.Settings{
		Timeout:                5 * time.Second,
		RequestVolumeThreshold: 2,
		ErrorPercentThreshold:  50,
		SleepWindow:            time.Hour, // open stays open, however slow the machine
	}
}

// recorder is a minimal ResponseWriter for calling Serve directly.
type recorder struct {
	h      http.Header
	status int
	body   strings.Builder
}

func newRecorder() *recorder { return &recorder{h: make(http.Header)} }

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(p)
}

var netOpError = net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newTestLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu: mu, w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
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

func TestMain(m *testing.M) { leaktest.Main(m) }

// heldLeaderConfig is a Config under which a fetch the test holds is never timed out (a
// 30 s command timeout), and a waiter gives up on it after lockTimeout.
func heldLeaderConfig(lockTimeout time.Duration) Config {
	return Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 30 * time.Second}}, LockTimeout: lockTimeout}
}

// gate holds one chosen call of a handler until the test opens it (internal/testgate).
type gate = testgate.Gate

var (
	newGate = testgate.New
	waitFor = testgate.WaitFor
)

// requester is what the collapse helpers need of a harness (engHarness).
type requester interface {
	get(path string, hdr ...string) engResp
	stats() Stats
}

func (hs *engHarness) stats() Stats { return hs.eng.Stats() }

// goGet sends GET path from a goroutine of its own; the answer arrives on the channel.
func goGet(c requester, path string, hdr ...string) <-chan engResp {
	ch := make(chan engResp, 1)
	go func() { ch <- c.get(path, hdr...) }()
	return ch
}

// waitWaiting waits until n requests wait on another's fetch.
func waitWaiting(t testing.TB, c requester, n int64) {
	t.Helper()
	waitFor(t, func() bool { return c.stats().Waiting == n })
}

// leaderAndWaiter sends GET path with leaderHdr as the leader and waits until g holds its
// fetch, sends GET path with waiterHdr and waits until it waits on that fetch, then opens
// g and returns both answers.
func leaderAndWaiter(t testing.TB, c requester, g *gate, path string, leaderHdr, waiterHdr []string) (leader, waiter engResp) {
	t.Helper()
	l := goGet(c, path, leaderHdr...)
	g.WaitHeld(t)
	w := goGet(c, path, waiterHdr...)
	waitWaiting(t, c, 1)
	g.Open()
	return <-l, <-w
}

// storeThenFail stores the good answer of sw's handler for path, lets the entry age by age,
// switches the handler to mode and returns the answer to path then.
func (hs *engHarness) storeThenFail(sw *switchable, path string, age time.Duration, mode string) engResp {
	hs.t.Helper()
	require.Equal(hs.t, `{"good":true}`, hs.get(path).body, "the entry to fall back on is stored")
	hs.clock.Advance(age)
	sw.set(mode)
	return hs.get(path)
}

// etagHandler answers "original" with ETag "e1" and max-age=10, and a 304 to a request
// whose If-None-Match is "e1", after on304 (nil: none) has set the 304's own header fields.
func etagHandler(on304 func(http.Header)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			if on304 != nil {
				on304(w.Header())
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "original")
	}
}
