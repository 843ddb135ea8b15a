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
	clock := fakeclock.New()
	eng, err := New(Config{Common: upstream.Common{Now: clock.Now, Command: upstream.Settings{Timeout: time.Minute}}})
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
