package httpfallback

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// levelCounter is a slog.Handler that counts records by level and keeps the messages of
// those at Warn and above.
type levelCounter struct {
	mu    sync.Mutex
	debug int
	loud  []string // Warn and above: "LEVEL msg route=..."
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelCounter) WithGroup(string) slog.Handler            { return h }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level < slog.LevelWarn {
		if r.Level == slog.LevelDebug {
			h.debug++
		}
		return nil
	}
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "route" || a.Key == "answers" {
			line += " " + a.String()
		}
		return true
	})
	h.loud = append(h.loud, line)
	return nil
}

func (h *levelCounter) snapshot() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.debug, append([]string(nil), h.loud...)
}

// TestOutageOf10000RequestsLogsAHandfulOfWarnLines runs an outage of 10,000 requests over
// 100 s of injected time: each is logged at Debug, and at Warn and above only the changes
// appear (the route starting to serve stale, then defaults; the breaker opening), one
// summary per LogInterval, and the recovery.
func TestOutageOf10000RequestsLogsAHandfulOfWarnLines(t *testing.T) {
	clock := fakeclock.New()
	logs := &levelCounter{}
	var failing atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
		_, _ = w.Write([]byte("ok"))
	})
	eng, err := New(Config{
		Name:        t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36),
		Common:      upstream.Common{Logger: slog.New(logs), Now: clock.Now, Command: upstream.Settings{SleepWindow: time.Millisecond}},
		LogInterval: time.Minute,
		// A short sleep window lets the recovery below close the breaker without waiting.
		Default: &Default{Body: []byte("{}"), Header: http.Header{"Content-Type": {"application/json"}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	srv := eng.Handler(h)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test"+path, nil))
		return rec
	}
	// Five keys are stored; five more are never stored (they get the default).
	for i := range 5 {
		require.Equal(t, "ok", get("/stored/"+strconv.Itoa(i)).Body.String())
	}
	clock.Advance(2 * time.Second)
	failing.Store(true)
	const requests = 10_000
	for i := range requests {
		path := "/stored/" + strconv.Itoa(i%5)
		if i%10 >= 5 {
			path = "/never/" + strconv.Itoa(i%5)
		}
		rec := get(path)
		require.Equal(t, http.StatusOK, rec.Code, "%s is answered stale or default", path)
		clock.Advance(10 * time.Millisecond) // 100 s of outage in all
	}
	debug, loud := logs.snapshot()
	assert.GreaterOrEqual(t, debug, requests, "each request is logged at Debug")
	assert.LessOrEqual(t, len(loud), 8, "a handful of Warn+ lines, not thousands: %q", loud)
	assert.Contains(t, loud, "WARN failsoft: route started serving stale route=*")
	assert.Contains(t, loud, "WARN failsoft: route started serving defaults route=*")
	summaries := 0
	for _, l := range loud {
		if strings.HasPrefix(l, "WARN failsoft: route degraded") {
			summaries++
			assert.Contains(t, l, "stale=")
			assert.Contains(t, l, "default=")
		}
	}
	assert.Equal(t, 1, summaries, "one summary per minute of the 100 s outage: %q", loud)

	// The upstream recovers: once a half-open probe has closed the breaker, and after an
	// interval of normal answers only, one line says so.
	failing.Store(false)
	clock.Advance(2 * time.Hour) // past every stale window: each key is fetched again
	require.Eventually(t, func() bool { return get("/stored/0").Body.String() == "ok" }, 20*time.Second, time.Millisecond)
	for range 2 {
		clock.Advance(2 * time.Minute)
		require.Equal(t, "ok", get("/stored/1").Body.String())
	}
	// The breaker's hook logs from its own goroutine, on its own schedule: wait for it
	// rather than assume it came before the recovery line.
	require.Eventually(t, func() bool {
		_, loud = logs.snapshot()
		return slices.Contains(loud, "WARN failsoft: breaker closed route=*")
	}, 20*time.Second, time.Millisecond, "%q", loud)
	assert.True(t, slices.ContainsFunc(loud, func(l string) bool {
		return strings.HasPrefix(l, "WARN failsoft: route answering normally again route=*")
	}), "%q", loud)
}
