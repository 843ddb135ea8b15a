package echofallback

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// The breaker tests assert only what no scheduling delay can change: with an hour-long
// sleep window the circuit stays open; with a short one, the first request after the
// window is the probe, and the handler is reached by nothing else.

// breakerFixture serves /b/:id, failing with 502 while failing is set, behind a breaker
// that opens after 3 requests at 50% errors and sleeps for sleep (real time: hystrix-go
// reads its own clock). The first request is stored, then the clock moves a minute on.
// It returns the fixture, the handler's run counter, and channels that receive the
// breaker's openings and closings.
func breakerFixture(t *testing.T, sleep time.Duration, failing *atomic.Bool) (f *fixture, runs *counter, opened, closed <-chan struct{}) {
	t.Helper()
	clk := newClock()
	runs = &counter{}
	op, cl := make(chan struct{}, 16), make(chan struct{}, 16)
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Command.RequestVolumeThreshold = 3
	cfg.Engine.Command.ErrorPercentThreshold = 50
	cfg.Engine.Command.SleepWindow = sleep
	cfg.Engine.OnEvent = func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventBreaker {
			ch := op
			if ev.To == upstream.Closed {
				ch = cl
			} else if ev.To != upstream.Open {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	f = newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/b/:id", func(c echo.Context) error {
			runs.inc()
			if failing.Load() {
				return c.String(http.StatusBadGateway, "bad")
			}
			c.Response().Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
			return c.String(http.StatusOK, "ok "+c.Param("id"))
		})
	})
	require.Equal(t, "ok 1", f.get(t, "/b/1").body)
	clk.Advance(time.Minute)
	return f, runs, op, cl
}

// failUntilOpen sends failing requests until the breaker reports its opening (hystrix
// metrics are asynchronous: poll).
func failUntilOpen(t *testing.T, f *fixture, opened <-chan struct{}) {
	t.Helper()
	require.Eventually(t, func() bool {
		select {
		case <-opened:
			return true
		default:
			f.get(t, "/b/1")
			return false
		}
	}, 10*time.Second, 5*time.Millisecond)
}

func TestBreakerOpenServesStaleWithoutHandler(t *testing.T) {
	var failing atomic.Bool
	f, runs, opened, _ := breakerFixture(t, time.Hour, &failing)
	failing.Store(true)
	failUntilOpen(t, f, opened)

	failing.Store(false) // the handler would answer now: only the open circuit keeps it from running
	before := runs.get()
	for range 3 {
		r := f.get(t, "/b/1")
		require.Equal(t, "ok 1", r.body)
		require.Equal(t, "failsoft; hit; ttl=-59; detail=circuit-open", r.cacheStatus())
	}
	require.Equal(t, before, runs.get(), "breaker open: the handler is not called")
}

func TestBreakerProbeAfterSleepWindowCloses(t *testing.T) {
	var failing atomic.Bool
	f, runs, opened, closed := breakerFixture(t, 200*time.Millisecond, &failing)
	failing.Store(true)
	failUntilOpen(t, f, opened)

	// Healthy again: after the sleep window one probe runs, and its success closes the
	// circuit. Requests before it are answered stale without running the handler.
	failing.Store(false)
	before := runs.get()
	var probe reply
	require.Eventually(t, func() bool {
		probe = f.get(t, "/b/1")
		if runs.get() == before {
			assert.Equal(t, "failsoft; hit; ttl=-59; detail=circuit-open", probe.cacheStatus())
			return false
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, probe.cacheStatus(), "stored")
	require.Equal(t, "ok 1", probe.body)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the breaker did not report closing")
	}
	require.Equal(t, before+1, runs.get(), "exactly one probe ran")
}

// TestCircuitOpenWithoutStale: no entry and the circuit open: 503 with Retry-After, as
// application/problem+json, without running the handler.
func TestCircuitOpenWithoutStale(t *testing.T) {
	clk := newClock()
	var runs counter
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Command.RequestVolumeThreshold = 3
	cfg.Engine.Command.SleepWindow = time.Hour
	f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/down/:id", func(c echo.Context) error {
			runs.inc()
			return echo.NewHTTPError(http.StatusInternalServerError, "down")
		})
	})
	var r reply
	require.Eventually(t, func() bool {
		r = f.get(t, "/down/1")
		return r.status == http.StatusServiceUnavailable
	}, 10*time.Second, 5*time.Millisecond)
	before := runs.get()
	r = f.get(t, "/down/2")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, before, runs.get())
	require.Equal(t, "3600", r.header.Get("Retry-After"))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Contains(t, r.cacheStatus(), "detail=circuit-open")
	var problem struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &problem))
	require.Equal(t, http.StatusServiceUnavailable, problem.Status)
	require.NotEmpty(t, problem.Title)
}
