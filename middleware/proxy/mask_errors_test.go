package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failingUpstream answers /ok once with a storable 200 and fails every other request with
// a 500 that shows its internals.
func failingUpstream(t *testing.T) *pxUpstream {
	return newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" && r.Header.Get("If-None-Match") == "" && r.Header.Get("X-Fail") == "" {
			w.Header().Set("Cache-Control", "max-age=1")
			_, _ = io.WriteString(w, "good")
			return
		}
		w.Header().Set("X-Internal-Host", "db-7.internal")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "panic: nil map\ngoroutine 1 [running]:\nmain.handler()\n\t/srv/app/main.go:42")
	})
}

// By default an upstream's failing answer goes to the client as it is when nothing stale
// and no default answers (the README says so); MaskErrors replaces it with the engine's
// problem+json, so its internal headers and stack trace stay inside.
func TestProxyMaskErrorsHidesTheUpstreamsFailingAnswer(t *testing.T) {
	up := failingUpstream(t)
	plain := newPxHarness(t, up.srv.URL, func(c *Config) { c.Client.Retry.MaxAttempts = 1 })
	r := plain.get("/boom")
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Contains(t, r.body, "goroutine 1")
	require.Equal(t, "db-7.internal", r.header.Get("X-Internal-Host"))

	masked := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Client.Retry.MaxAttempts = 1
		c.MaskErrors = true
	})
	r = masked.get("/boom")
	require.Equal(t, http.StatusInternalServerError, r.status, "the upstream's status is kept")
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Equal(t, "upstream-5xx", problemReason(t, r.body))
	require.NotContains(t, r.body, "goroutine")
	require.Empty(t, r.header.Get("X-Internal-Host"))
	require.Equal(t, "failsoft; fwd=uri-miss; fwd-status=500; detail=upstream-5xx", r.cs())

	// A POST's failing answer (passed through, never stale) is masked too.
	res, err := masked.srv.Client().Post(masked.srv.URL+"/boom", "text/plain", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.NotContains(t, string(body), "goroutine")
	require.Empty(t, res.Header.Get("X-Internal-Host"))
}

// Masking changes only the last resort: a stale copy is still served.
func TestProxyMaskErrorsStillServesStale(t *testing.T) {
	up := failingUpstream(t)
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Client.Retry.MaxAttempts = 1
		c.MaskErrors = true
		c.Engine.Policy.StaleIfError = time.Hour
	})
	require.Equal(t, "good", h.get("/ok").body)
	h.clock.Advance(2 * time.Second)
	r := h.get("/ok", "X-Fail", "1")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "good", r.body)
	require.True(t, hasParam(r.cs(), "detail=upstream-5xx"), r.cs())
}

func TestNewRefusesMaskErrorsWithAnErrorHandler(t *testing.T) {
	cfg := Config{Upstream: "http://127.0.0.1:1", MaskErrors: true}
	cfg.Engine.ErrorHandler = func(http.ResponseWriter, *http.Request, error) {}
	_, err := New(cfg)
	require.ErrorContains(t, err, "MaskErrors")
}
