package httpfallback

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// routeByFirstSegment names the route of /a/... "a".
func routeByFirstSegment(r *http.Request) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return seg
}

func TestStatsCarryEachRouteWithItsBreakerStateAsJSON(t *testing.T) {
	clock := fakeclock.New()
	eng, err := New(Config{
		Name:   t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36),
		Common: upstream.Common{Now: clock.Now, Command: upstream.Settings{RequestVolumeThreshold: 2, SleepWindow: time.Hour}},
		Route:  routeByFirstSegment,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/down/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("ok"))
	}))
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test"+path, nil))
		return rec.Code
	}
	require.Equal(t, 200, get("/up/1"))
	require.Equal(t, 200, get("/up/1"))
	// The failing route's breaker opens (hystrix counts asynchronously: poll).
	require.Eventually(t, func() bool {
		get("/down/1")
		for _, rs := range eng.Stats().Routes {
			if rs.Route == "down" && rs.Breaker == "open" {
				return true
			}
		}
		return false
	}, 20*time.Second, time.Millisecond)

	st := eng.Stats()
	byRoute := map[string]RouteStats{}
	for _, rs := range st.Routes {
		byRoute[rs.Route] = rs
	}
	up, down := byRoute["up"], byRoute["down"]
	assert.Equal(t, "closed", up.Breaker)
	assert.EqualValues(t, 1, up.Hits)
	assert.EqualValues(t, 1, up.Misses)
	assert.EqualValues(t, 1, up.Forwarded)
	assert.EqualValues(t, 1, up.Stored)
	assert.EqualValues(t, 1, up.UpstreamCalls)
	assert.Zero(t, up.UpstreamFailures)
	assert.Equal(t, 100, up.MaxConcurrent)
	assert.Zero(t, up.InFlight)

	assert.Equal(t, "open", down.Breaker)
	assert.Equal(t, down.Errors, down.Misses, "every request of the failing route is answered with an error")
	assert.Equal(t, down.UpstreamCalls, down.UpstreamFailures)
	assert.Contains(t, byRoute, "*", "the catch-all route's command exists from New")
	assert.Equal(t, st.Hits+st.Stale+st.Defaults+st.Errors+st.Forwarded, st.Misses+st.Hits,
		"every request answered once")
	for i := 1; i < len(st.Routes); i++ {
		assert.Less(t, st.Routes[i-1].Route, st.Routes[i].Route, "sorted by route")
	}

	b, err := json.Marshal(st)
	require.NoError(t, err)
	var doc struct {
		Engine string `json:"engine"`
		Hits   uint64 `json:"hits"`
		Routes []struct {
			Route   string `json:"route"`
			Breaker string `json:"breaker"`
			Errors  uint64 `json:"errors"`
		} `json:"routes"`
	}
	require.NoError(t, json.Unmarshal(b, &doc), "%s", b)
	assert.Equal(t, st.Name, doc.Engine)
	assert.EqualValues(t, 1, doc.Hits)
	assert.Contains(t, string(b), `"route":"down","breaker":"open"`)
	assert.Contains(t, string(b), `"store":{"hits":`, "the store's counters are snake_case too")
	assert.Contains(t, string(b), `"bytes":`)
}

func TestAnswerEventsCarryTheirDurationByTheInjectedClock(t *testing.T) {
	clock := fakeclock.New()
	var mu sync.Mutex
	var events []Event
	eng, err := New(Config{
		Name:   t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36),
		Common: upstream.Common{Now: clock.Now},
		OnEvent: func(ev Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(250 * time.Millisecond) // the handler takes 250 ms
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("ok"))
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://api.test/d", nil))
	}
	mu.Lock()
	defer mu.Unlock()
	durations := map[EventKind]time.Duration{}
	for _, ev := range events {
		assert.Equal(t, eng.Stats().Name, ev.Engine)
		durations[ev.Kind] = ev.Duration
	}
	assert.Equal(t, 250*time.Millisecond, durations[EventUpstream])
	assert.Equal(t, 250*time.Millisecond, durations[EventForward])
	assert.Contains(t, durations, EventHit)
	assert.Zero(t, durations[EventHit], "the clock did not move during the hit")
}
