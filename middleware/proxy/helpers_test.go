package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/testgate"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// engResp is an answer read whole.
type engResp struct {
	status int
	header http.Header
	body   string
}

func (r engResp) cs() string { return r.header.Get("Cache-Status") }

// doReq sends method url with the header fields hdr (name, value, ...) and reads the answer.
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

// hasParam reports whether the Cache-Status value cs has the member parameter p.
func hasParam(cs, p string) bool {
	for _, part := range strings.Split(cs, ";") {
		if strings.TrimSpace(part) == p {
			return true
		}
	}
	return false
}

// gate holds one chosen call of a handler until the test opens it (internal/testgate).
type gate = testgate.Gate

var (
	newGate = testgate.New
	waitFor = testgate.WaitFor
)

// goGet sends GET path from a goroutine of its own; the answer arrives on the channel.
func goGet(h *pxHarness, path string, hdr ...string) <-chan engResp {
	ch := make(chan engResp, 1)
	go func() { ch <- h.get(path, hdr...) }()
	return ch
}

// leaderAndWaiter sends GET path with leaderHdr as the leader and waits until g holds its
// fetch, sends GET path with waiterHdr and waits until it waits on that fetch, then opens
// g and returns both answers.
func leaderAndWaiter(t testing.TB, h *pxHarness, g *gate, path string, leaderHdr, waiterHdr []string) (leader, waiter engResp) {
	t.Helper()
	l := goGet(h, path, leaderHdr...)
	g.WaitHeld(t)
	w := goGet(h, path, waiterHdr...)
	waitFor(t, func() bool { return h.p.Stats().Waiting == 1 })
	g.Open()
	return <-l, <-w
}

// routeState reads the breaker of the proxy's route (its engine's command for it).
func (h *pxHarness) routeState(route string) upstream.BreakerState {
	h.t.Helper()
	rn, err := h.p.engine.Runner(route)
	require.NoError(h.t, err)
	return rn.State()
}

// pxUpstream is a loopback upstream that counts the requests reaching it.
type pxUpstream struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newPxUpstream(t *testing.T, h http.HandlerFunc) *pxUpstream {
	t.Helper()
	u := &pxUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// pxName is a command namespace no other test (nor another -count run) uses: hystrix
// circuits are global and outlive their Proxy.
func pxName(t testing.TB) string {
	return "px/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)
}

// pxHarness is a Proxy served on loopback with a fake clock.
type pxHarness struct {
	t     *testing.T
	p     *Proxy
	srv   *httptest.Server
	clock *fakeclock.Clock
}

// newPxHarness builds a Proxy for base (an upstream URL) with a unique command namespace,
// the fake clock, retries that do not wait, and mod applied last.
func newPxHarness(t *testing.T, base string, mod func(*Config)) *pxHarness {
	t.Helper()
	h := &pxHarness{t: t, clock: fakeclock.New()}
	cfg := Config{
		Upstream: base,
		Engine:   httpfallback.Config{Name: pxName(t), Common: upstream.Common{Now: h.clock.Now}, SoftTimeout: -1}, // soft timeout: see soft_timeout_test.go
		Client: upstream.ClientConfig{
			Common: upstream.Common{Command: upstream.Settings{Timeout: 5 * time.Second}},
			Sleep:  func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	require.NoError(t, err)
	h.p = p
	h.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		h.srv.Close()
		require.NoError(t, p.Close())
	})
	return h
}

func (h *pxHarness) get(path string, hdr ...string) engResp {
	h.t.Helper()
	return doReq(h.t, context.Background(), h.srv.Client(), http.MethodGet, h.srv.URL+path, hdr...)
}

// pxRaw sends raw bytes to addr on a fresh connection and reads one response.
func pxRaw(t *testing.T, addr, raw string) (int, http.Header, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second))) // safety net, not a timing assertion
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func problemReason(t *testing.T, body string) string {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	return p.Reason
}

// pxFastBreaker is a Config change for the proxy's breaker tests: one attempt a
// request, the client's breaker opens after two failed requests and stays open for sleep;
// onEvent (nil: none) is the engine's OnEvent.
func pxFastBreaker(sleep time.Duration, onEvent func(httpfallback.Event)) func(*Config) {
	return func(c *Config) {
		c.Client.Retry.MaxAttempts = 1
		c.Client.Command.RequestVolumeThreshold = 2
		c.Client.Command.SleepWindow = sleep
		c.Engine.OnEvent = onEvent
	}
}

// onBreakerOpen is an OnEvent that passes an event of a circuit opening to the channel;
// while the channel holds one, later ones are dropped.
func onBreakerOpen() (func(httpfallback.Event), <-chan httpfallback.Event) {
	opened := make(chan httpfallback.Event, 1)
	return func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventBreaker && ev.To == upstream.Open {
			select {
			case opened <- ev:
			default:
			}
		}
	}, opened
}

// untilOpen sends request until an opening reaches opened (from onBreakerOpen) and returns
// that event; hystrix-go's metrics update asynchronously, so it polls (bounded: 10 s).
func untilOpen(t *testing.T, opened <-chan httpfallback.Event, request func()) httpfallback.Event {
	t.Helper()
	var ev httpfallback.Event
	require.Eventually(t, func() bool {
		request()
		select {
		case ev = <-opened:
			return true
		default:
			return false
		}
	}, 10*time.Second, time.Millisecond)
	return ev
}

// roundTripFunc is an in-memory upstream transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// ctxBody is an in-memory response body that fails once its request's context is done, as
// a connection's body does when the request is cancelled.
type ctxBody struct {
	ctx context.Context
	r   io.Reader
}

func (b ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, context.Cause(b.ctx)
	}
	return b.r.Read(p)
}

func (ctxBody) Close() error { return nil }
