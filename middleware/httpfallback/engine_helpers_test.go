package httpfallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// engClock is a fake clock the test advances.
type engClock struct {
	mu sync.Mutex
	t  time.Time
}

func newEngClock() *engClock {
	return &engClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *engClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *engClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// engHarness is an Engine mounted as net/http middleware on a loopback server.
type engHarness struct {
	t     *testing.T
	eng   *Engine
	srv   *httptest.Server
	clock *engClock
	calls atomic.Int64 // calls of the wrapped handler
}

// newEngHarness builds an Engine (unique command name per test) around h. cfg.Now and
// cfg.Name are filled when empty.
func newEngHarness(t *testing.T, cfg Config, h http.HandlerFunc) *engHarness {
	t.Helper()
	hs := &engHarness{t: t, clock: newEngClock()}
	if cfg.Name == "" {
		cfg.Name = uniqueName(t)
	}
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

// runnerOf returns the engine's command for route (created on first use).
func (hs *engHarness) runnerOf(route string) *upstream.Runner {
	hs.eng.mu.Lock()
	defer hs.eng.mu.Unlock()
	return hs.eng.runners[route]
}

// openBreaker makes the route's circuit open by failing requests until it reports open.
func (hs *engHarness) waitOpen(route string, fail func()) {
	hs.t.Helper()
	require.Eventually(hs.t, func() bool {
		if rn := hs.runnerOf(route); rn != nil && rn.State() != upstream.Closed {
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

// uniqueName is a command namespace unique in the process, also under -count=N (hystrix
// circuits are global and never freed).
func uniqueName(tb testing.TB) string {
	return tb.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)
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
