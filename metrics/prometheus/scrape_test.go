package prometheus

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// outageEngine is an engine over a handler that answers /ok/... and fails /down/...,
// routed by the first path segment, with its metrics registered on a fresh registry.
func outageEngine(t *testing.T, m *Collector, clock *fakeclock.Clock) (*httpfallback.Engine, http.Handler) {
	t.Helper()
	eng, err := httpfallback.New(httpfallback.Config{
		Name:    "m" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Common:  upstream.Common{Now: clock.Now, Command: upstream.Settings{RequestVolumeThreshold: 2, SleepWindow: time.Hour}},
		OnEvent: m.OnEvent,
		Route: func(r *http.Request) string {
			seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			return "/" + seg + "/{id}"
		},
		Default: &httpfallback.Default{Body: []byte(`{}`), Header: http.Header{"Content-Type": {"application/json"}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	m.Watch(eng)
	return eng, eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(30 * time.Millisecond) // each call of the source takes 30 ms
		if strings.HasPrefix(r.URL.Path, "/down/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("ok"))
	}))
}

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test"+path, nil))
	return rec
}

func TestScrapeCountsAnswersByOutcomeRouteTemplateAndBreakerState(t *testing.T) {
	clock := fakeclock.New()
	m := New(Options{})
	reg := prom.NewRegistry()
	require.NoError(t, reg.Register(m))
	eng, h := outageEngine(t, m, clock)

	for i := range 3 {
		get(h, "/ok/"+strconv.Itoa(i)) // three misses, each its own URL: one route
	}
	get(h, "/ok/0") // fresh
	require.Eventually(t, func() bool {
		get(h, "/down/1")
		for _, rs := range eng.Stats().Routes {
			if rs.Route == "/down/{id}" {
				return rs.Breaker == "open"
			}
		}
		return false
	}, 20*time.Second, time.Millisecond)
	get(h, "/down/2") // refused by the open breaker: the default, reason circuit-open
	name := eng.Stats().Name
	// The transition is reported by the command's state goroutine: poll for it.
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(m.transitions.WithLabelValues(name, "/down/{id}", "closed", "open")) == 1
	}, 20*time.Second, time.Millisecond)

	// Three entries (/ok/0, 1, 2); the second request of /ok/0 moved its entry into the
	// store's protected part, counted twice until ristretto applies the delete: poll.
	require.Eventually(t, func() bool { return eng.Stats().Store.Entries == 3 }, 20*time.Second, time.Millisecond)

	// Scraped over HTTP, as Prometheus does.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	text := string(body)

	assert.Contains(t, text, `failsoft_answers_total{engine="`+name+`",outcome="miss",reason="",route="/ok/{id}"} 3`)
	assert.Contains(t, text, `failsoft_answers_total{engine="`+name+`",outcome="fresh",reason="",route="/ok/{id}"} 1`)
	assert.Contains(t, text, `failsoft_answers_total{engine="`+name+`",outcome="default",reason="upstream-5xx",route="/down/{id}"}`)
	assert.Contains(t, text, `failsoft_answers_total{engine="`+name+`",outcome="default",reason="circuit-open",route="/down/{id}"}`)
	assert.Contains(t, text, `failsoft_breaker_state{engine="`+name+`",route="/down/{id}",state="open"} 1`)
	assert.Contains(t, text, `failsoft_breaker_state{engine="`+name+`",route="/down/{id}",state="closed"} 0`)
	assert.Contains(t, text, `failsoft_breaker_state{engine="`+name+`",route="/ok/{id}",state="closed"} 1`)
	assert.Contains(t, text, `failsoft_breaker_transitions_total{engine="`+name+`",from="closed",route="/down/{id}",to="open"} 1`)
	assert.Contains(t, text, `failsoft_upstream_requests_total{engine="`+name+`",result="ok",route="/ok/{id}"} 3`)
	assert.Contains(t, text, `failsoft_upstream_requests_total{engine="`+name+`",result="upstream-5xx",route="/down/{id}"}`)
	assert.Contains(t, text, `failsoft_upstream_max_concurrent{engine="`+name+`",route="/ok/{id}"} 100`)
	assert.Contains(t, text, `failsoft_upstream_in_flight{engine="`+name+`",route="/ok/{id}"} 0`)
	assert.Contains(t, text, `failsoft_stored_total{engine="`+name+`",route="/ok/{id}"} 3`)
	assert.Contains(t, text, `failsoft_store_sets_total{engine="`+name+`"} 3`)
	assert.Regexp(t, `failsoft_store_bytes\{engine="`+name+`"\} [1-9]`, text)
	assert.Contains(t, text, `failsoft_store_entries{engine="`+name+`"} 3`)
	assert.Contains(t, text, `failsoft_store_rejected_total{engine="`+name+`",reason="too-large"} 0`)
	assert.NotContains(t, text, `/ok/0`, "no URL in any label")

	// Latency by the injected clock: three misses of 30 ms each, a fresh hit of 0.
	assert.Contains(t, text, `failsoft_answer_duration_seconds_bucket{engine="`+name+`",outcome="miss",route="/ok/{id}",le="0.025"} 0`)
	assert.Contains(t, text, `failsoft_answer_duration_seconds_bucket{engine="`+name+`",outcome="miss",route="/ok/{id}",le="0.05"} 3`)
	assert.Contains(t, text, `failsoft_answer_duration_seconds_bucket{engine="`+name+`",outcome="fresh",route="/ok/{id}",le="0.0005"} 1`)
	assert.Contains(t, text, `failsoft_upstream_duration_seconds_sum{engine="`+name+`",route="/ok/{id}"} 0.09`)

	// Names and help follow Prometheus conventions.
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestStaleAnswersCarryTheirReason(t *testing.T) {
	clock := fakeclock.New()
	m := New(Options{Namespace: "edge"})
	reg := prom.NewRegistry()
	require.NoError(t, reg.Register(m))
	failing := false
	eng, err := httpfallback.New(httpfallback.Config{
		Name: "s" + strconv.FormatInt(time.Now().UnixNano(), 36), Common: upstream.Common{Now: clock.Now}, OnEvent: m.OnEvent,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
		_, _ = w.Write([]byte("ok"))
	}))
	get(h, "/x")
	clock.Advance(5 * time.Second)
	failing = true
	require.Equal(t, "ok", get(h, "/x").Body.String())
	name := eng.Stats().Name
	assert.Equal(t, 1.0, testutil.ToFloat64(m.answers.WithLabelValues(name, "*", "stale", "upstream-5xx")))
	n, err := testutil.GatherAndCount(reg, "edge_answers_total")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "a miss and a stale answer, under the configured namespace")
}

func TestRetriesAreCountedByReason(t *testing.T) {
	m := New(Options{})
	m.OnEvent(httpfallback.Event{Kind: httpfallback.EventRetry, Engine: "e", Route: "proxy", Reason: "timeout"})
	m.OnEvent(httpfallback.Event{Kind: httpfallback.EventRetry, Engine: "e", Route: "proxy", Reason: "timeout"})
	assert.Equal(t, 2.0, testutil.ToFloat64(m.retries.WithLabelValues("e", "proxy", "timeout")))
}
