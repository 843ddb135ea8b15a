package conformtest

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// Mount serves origin through failsoft configured with cfg (Name and Now are set by the
// suite) and returns the base URL of the mounted server and a client for it. It registers
// its own cleanup with t.
type Mount func(t *testing.T, cfg httpfallback.Config, origin http.Handler) (base string, client *http.Client)

// H is one rule's world: an origin whose behaviour the rule sets, failsoft mounted in
// front of it, a fake clock, and a client.
type H struct {
	t      *testing.T
	base   string
	client *http.Client
	clock  *fakeclock.Clock

	mu     sync.Mutex
	origin http.HandlerFunc
	last   *http.Request // the last request the origin saw (a clone)
	calls  atomic.Int64
}

// Resp is an answer the client got.
type Resp struct {
	Status int
	Header http.Header
	Body   string
}

// newH mounts a fresh world for one rule.
func newH(t *testing.T, m Mount, cfg httpfallback.Config) *H {
	t.Helper()
	h := &H{t: t, clock: fakeclock.New()}
	cfg.Name = t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)
	cfg.Now = h.clock.Now
	h.base, h.client = m(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		h.mu.Lock()
		f := h.origin
		h.last = r.Clone(context.Background())
		h.mu.Unlock()
		if f == nil {
			http.Error(w, "no origin", http.StatusInternalServerError)
			return
		}
		f(w, r)
	}))
	// Redirects are answers to check, not to follow.
	c := *h.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = &c
	return h
}

// Origin sets how the origin answers from now on.
func (h *H) Origin(f http.HandlerFunc) {
	h.mu.Lock()
	h.origin = f
	h.mu.Unlock()
}

// Calls is how many requests reached the origin.
func (h *H) Calls() int64 { return h.calls.Load() }

// Last is the header of the last request the origin saw.
func (h *H) Last() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		return nil
	}
	return h.last.Header
}

// Now is the fake clock's time; Advance moves it on.
func (h *H) Now() time.Time          { return h.clock.Now() }
func (h *H) Advance(d time.Duration) { h.clock.Advance(d) }

// Date is the clock's time as an HTTP date.
func (h *H) Date() string { return h.Now().UTC().Format(http.TimeFormat) }

// Get sends a GET with the header fields kv (name, value, ...).
func (h *H) Get(path string, kv ...string) Resp { return h.Do(http.MethodGet, path, kv...) }

// Do sends a request and reads the whole answer.
func (h *H) Do(method, path string, kv ...string) Resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	require.NoError(h.t, err)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	res, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(h.t, err)
	return Resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// rule is one conformance rule: its name (the RFC section and what it says), the engine
// configuration it needs, and its steps.
type rule struct {
	name string
	cfg  httpfallback.Config
	run  func(t *testing.T, h *H)
}

// runRules runs each rule as a subtest through m.
func runRules(t *testing.T, m Mount, rules []rule) {
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			r.run(t, newH(t, m, r.cfg))
		})
	}
}

// answer returns an origin handler answering status with body and the header fields kv.
func answer(status int, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// failing is an origin that fails with 503.
func failing() http.HandlerFunc { return answer(http.StatusServiceUnavailable, "down") }
