package httpfallback

import (
	"context"
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

// lazyRig serves requests through Engine.ServeLazy (see get); it counts the Fetchers built
// and whether one was built while no ServeLazy call was running.
type lazyRig struct {
	t       *testing.T
	eng     *Engine
	clock   *fakeclock.Clock
	failing atomic.Bool
	built   atomic.Int64
	late    atomic.Bool // a Fetcher was built while no ServeLazy call was running
	serving atomic.Bool
	fetcher Fetcher // what the built Fetchers are; nil: command
}

const lazyRoute = "GET /lazy/{id}"

func newLazyRig(t *testing.T, cfg Config) *lazyRig {
	t.Helper()
	lr := &lazyRig{t: t, clock: fakeclock.New()}
	cfg.Now = lr.clock.Now
	if cfg.SoftTimeout == 0 {
		cfg.SoftTimeout = -1
	}
	eng, err := New(cfg)
	require.NoError(t, err)
	lr.eng = eng
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	return lr
}

// get serves path through ServeLazy and returns the answer and the Fetchers built for it.
// The Fetcher is lr.fetcher, or the route's command answering "v1" (500 while failing).
func (lr *lazyRig) get(path string) (*httptest.ResponseRecorder, int64) {
	lr.t.Helper()
	rec := httptest.NewRecorder()
	before := lr.built.Load()
	lr.serving.Store(true)
	lr.eng.ServeLazy(rec, httptest.NewRequest(http.MethodGet, "http://svc.test"+path, nil), lazyRoute, func() Fetcher {
		if !lr.serving.Load() {
			lr.late.Store(true)
		}
		lr.built.Add(1)
		if lr.fetcher != nil {
			return lr.fetcher
		}
		return lr.command
	})
	lr.serving.Store(false)
	return rec, lr.built.Load() - before
}

// command runs the route's command answering "v1" (stale-if-error for a day), or 500
// while failing.
func (lr *lazyRig) command(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	return lr.eng.RunCommand(ctx, lazyRoute, w, r, func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
		if lr.failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return nil
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=86400")
		fmt.Fprint(w, "v1")
		return nil
	})
}

// ServeLazy builds the Fetcher only where the source may be called: a miss builds one; a
// fresh hit, and the stale or default answers given while the route's breaker is open,
// build none; after Close every request calls the source, so it builds one. Each is
// built during the ServeLazy call, never after it.
func TestServeLazyBuildsTheFetcherOnlyWhenTheSourceMayBeCalled(t *testing.T) {
	cmd := fastCommand()
	lr := newLazyRig(t, Config{Common: upstream.Common{Command: cmd}, Default: &Default{Body: []byte("default")}})

	rec, built := lr.get("/lazy/1")
	require.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; stored", rec.Header().Get("Cache-Status"))
	assert.EqualValues(t, 1, built, "a miss builds the Fetcher once")

	rec, built = lr.get("/lazy/1")
	require.Equal(t, "failsoft; hit; ttl=10", rec.Header().Get("Cache-Status"))
	assert.Zero(t, built, "a fresh hit builds no Fetcher")

	lr.failing.Store(true)
	require.Eventually(t, func() bool {
		lr.get("/lazy/fail") // nothing stored: each call fails, until the breaker refuses
		rn, err := lr.eng.Runner(lazyRoute)
		return err == nil && rn.State() == upstream.Open
	}, 10*time.Second, time.Millisecond)

	lr.clock.Advance(15 * time.Second) // /lazy/1 is past fresh, within stale-if-error
	rec, built = lr.get("/lazy/1")
	assert.Equal(t, "v1", rec.Body.String())
	assert.Equal(t, "failsoft; hit; ttl=-5; detail=circuit-open", rec.Header().Get("Cache-Status"))
	assert.Zero(t, built, "stale with the breaker open builds no Fetcher")

	rec, built = lr.get("/lazy/2")
	assert.Equal(t, "default", rec.Body.String())
	assert.Equal(t, "failsoft; detail=default", rec.Header().Get("Cache-Status"))
	assert.Zero(t, built, "the default with the breaker open builds no Fetcher")

	require.NoError(t, lr.eng.Close())
	rec, built = lr.get("/lazy/1")
	assert.Equal(t, "failsoft; fwd=bypass", rec.Header().Get("Cache-Status"))
	assert.EqualValues(t, 1, built, "after Close the source is called: one Fetcher")
	assert.False(t, lr.late.Load(), "every Fetcher was built during its ServeLazy call")
}

// The refresh of an entry within stale-while-revalidate, and the background fetch of a key
// held stale under the soft timeout, run after ServeLazy returns, on the Engine's
// goroutine: their Fetcher is built before ServeLazy returns, once, and runs in the
// background (InBackground).
func TestServeLazyBuildsTheBackgroundFetchersFetcherBeforeReturning(t *testing.T) {
	for _, tc := range []struct {
		name, cc string
		cfg      Config
	}{
		{"stale-while-revalidate", "max-age=10, stale-while-revalidate=600", Config{}},
		{"soft-timeout", "max-age=10, stale-if-error=600", Config{SoftTimeout: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Command = upstream.Settings{Timeout: 30 * time.Second}
			lr := newLazyRig(t, cfg)
			background := make(chan bool, 2)
			lr.fetcher = func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
				background <- InBackground(ctx)
				w.Header().Set("Cache-Control", tc.cc)
				fmt.Fprint(w, "v1")
				return nil
			}
			_, built := lr.get("/lazy/1")
			require.EqualValues(t, 1, built)
			require.False(t, <-background, "the miss fetches on the request's goroutine")

			lr.clock.Advance(15 * time.Second)
			rec, built := lr.get("/lazy/1")
			assert.Equal(t, "v1", rec.Body.String())
			assert.EqualValues(t, 1, built, "the background fetch's Fetcher, built once")
			assert.True(t, <-background, "the fetch ran in the background")
			require.NoError(t, lr.eng.Close()) // waits for the background fetch
			assert.False(t, lr.late.Load(), "built during the ServeLazy call")
		})
	}
}
