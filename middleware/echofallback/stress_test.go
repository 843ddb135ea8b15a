package echofallback

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// accessRecord tracks, for one request, the sequence number of the handler's last use of
// its echo.Context and of the moment the fallback middleware returned.
type accessRecord struct {
	last     atomic.Int64
	returned atomic.Int64
}

// TestStressHandlersIgnoringContext drives many concurrent requests, through a real server,
// to handlers that ignore their context and keep using echo.Context past the command's
// timeout. Under -race it proves there is no data race on the pooled contexts, and the
// sequence protocol proves no handler used c after the middleware had returned.
func TestStressHandlersIgnoringContext(t *testing.T) {
	clk := newClock()
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Command.Timeout = 20 * time.Millisecond

	var seq, violations, lateTouches atomic.Int64
	var mu sync.Mutex
	var records []*accessRecord

	// outer runs before the fallback middleware: when its next returns, the fallback
	// middleware has returned.
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rec := &accessRecord{}
			mu.Lock()
			records = append(records, rec)
			mu.Unlock()
			c.Set("rec", rec)
			err := next(c)
			rec.returned.Store(seq.Add(1))
			return err
		}
	}
	touch := func(c echo.Context, rec *accessRecord) {
		_ = c.Param("id")
		c.Set("touched", true)
		_ = c.Request().Header.Get("X-Any")
		rec.last.Store(seq.Add(1))
		if rec.returned.Load() != 0 {
			violations.Add(1)
		}
	}
	f := newFixture(t, clk, cfg, []echo.MiddlewareFunc{outer}, func(e *echo.Echo) {
		// Waits for its deadline, then carries on writing as if nothing happened.
		e.GET("/past-deadline/:id", func(c echo.Context) error {
			rec := c.Get("rec").(*accessRecord)
			touch(c, rec)
			c.Response().Header().Set("Cache-Control", "max-age=0")
			_, _ = c.Response().Write([]byte("early "))
			<-c.Request().Context().Done()
			for range 5 {
				c.Response().Header().Set("X-Late", "1")
				_, _ = c.Response().Write([]byte("late "))
				touch(c, rec)
				lateTouches.Add(1)
			}
			return nil
		})
		// Never looks at its context: a slow dependency that outlasts the timeout.
		e.GET("/slow/:id", func(c echo.Context) error {
			rec := c.Get("rec").(*accessRecord)
			touch(c, rec)
			<-time.After(3 * cfg.Engine.Command.Timeout)
			touch(c, rec)
			lateTouches.Add(1)
			return c.String(http.StatusOK, "slow "+c.Param("id"))
		})
		// Fast, and failing half the time.
		e.GET("/fast/:id", func(c echo.Context) error {
			rec := c.Get("rec").(*accessRecord)
			touch(c, rec)
			if seq.Load()%2 == 0 {
				return echo.NewHTTPError(http.StatusInternalServerError)
			}
			c.Response().Header().Set("Cache-Control", "max-age=0")
			return c.String(http.StatusOK, "fast")
		})
	})

	const workers, perWorker = 16, 8
	paths := []string{"/past-deadline/", "/slow/", "/fast/"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				p := fmt.Sprintf("%s%d", paths[(w+i)%len(paths)], (w*perWorker+i)%5)
				r := f.get(t, p)
				if r.status == 0 || r.cacheStatus() == "" {
					t.Errorf("%s: status %d, Cache-Status %q", p, r.status, r.cacheStatus())
				}
				if r.header.Get("X-Late") != "" {
					t.Errorf("%s: a write after the deadline reached the client", p)
				}
			}
		})
	}
	wg.Wait()

	require.Zero(t, violations.Load(), "a handler used echo.Context after the middleware returned")
	require.Positive(t, lateTouches.Load(), "handlers did keep going past their deadline")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, records, workers*perWorker)
	for _, rec := range records {
		require.NotZero(t, rec.returned.Load())
		require.Less(t, rec.last.Load(), rec.returned.Load())
	}
}
