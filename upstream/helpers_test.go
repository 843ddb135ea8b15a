package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/hystrixcount"
	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// fakeBreaker counts like hystrix-go: a bare context error is neutral, nil a success,
// anything else a failure; it opens after openAfter failures (0: never).
type fakeBreaker struct {
	mu        sync.Mutex
	open      bool
	openAfter int
	calls     int
	refused   int // calls that reached do while open
	successes int
	failures  int
	neutral   int
	reads     int        // isOpen calls
	probe     bool       // allow admits the next call even while open (a half-open probe)
	readHook  func()     // called once, by the next isOpen, after it has read (then cleared)
	reported  chan event // when set, report sends each event to it (after counting it)
}

func (f *fakeBreaker) do(ctx context.Context, fn func(context.Context) error) error {
	f.mu.Lock()
	if f.open {
		f.refused++
		f.mu.Unlock()
		return ErrCircuitOpen
	}
	f.calls++
	f.mu.Unlock()
	err := fn(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil:
		f.successes++
	case err == context.Canceled || err == context.DeadlineExceeded:
		f.neutral++
	default:
		f.failures++
		if f.openAfter > 0 && f.failures >= f.openAfter {
			f.open = true
		}
	}
	return err
}

func (f *fakeBreaker) allow(BreakerState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open && !f.probe {
		f.refused++
		return false
	}
	f.probe = false
	f.calls++
	return true
}

func (f *fakeBreaker) report(ev event, _ time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reported != nil {
		defer func() { f.reported <- ev }()
	}
	switch ev {
	case evSuccess:
		f.successes++
	case evCanceled, evDeadline:
		f.neutral++
	default:
		f.failures++
		if f.openAfter > 0 && f.failures >= f.openAfter {
			f.open = true
		}
	}
}

func (f *fakeBreaker) isOpen() bool {
	f.mu.Lock()
	f.reads++
	open, hook := f.open, f.readHook
	f.readHook = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return open
}

func (f *fakeBreaker) counts() (calls, successes, failures, neutral int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.successes, f.failures, f.neutral
}

// fakeRunner returns a Runner over a fake breaker.
func fakeRunner(t *testing.T, s Settings) (*Runner, *fakeBreaker) {
	t.Helper()
	if s.Name == "" {
		s.Name = t.Name()
	}
	s, err := s.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBreaker{}
	r := newRunner(s, fb)
	t.Cleanup(func() { _ = r.Close() })
	return r, fb
}

// record counts the outcomes of the circuits of the command name (before they exist:
// hystrix names a Runner's circuit name#suffix).
func record(name string) *hystrixcount.Counts { return hystrixcount.Register(name + "#") }

var errBoom = errors.New("boom")

// sleeps records the backoff waits and returns at once (or ctx.Err()).
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// fixture is a loopback upstream and a client in front of it.
type fixture struct {
	srv    *httptest.Server
	c      *Client
	hits   atomic.Int64
	sleeps *sleeps
	conns  atomic.Int64
}

// newFixture starts h on loopback and a client with a fake Sleep and a seeded Rand. An
// empty Command.Name becomes a unique one.
func newFixture(t *testing.T, cfg ClientConfig, h http.HandlerFunc) *fixture {
	t.Helper()
	f := &fixture{sleeps: &sleeps{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		h(w, r)
	}))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	if cfg.Command.Name == "" {
		cfg.Command.Name = t.Name()
	}
	if cfg.Sleep == nil {
		cfg.Sleep = f.sleeps.sleep
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	f.c = c
	return f
}

func (f *fixture) req(t *testing.T, method string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+"/r", body)
	require.NoError(t, err)
	return req
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "status %d", code)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

const pollFor, pollEvery = 5 * time.Second, 2 * time.Millisecond

func fail(context.Context) error { return errBoom }

func succeed(context.Context) error { return nil }
