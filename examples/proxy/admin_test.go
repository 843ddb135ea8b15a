package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminCall sends method path to the admin endpoints with the token ("" for none) and
// returns the status and body.
func adminCall(t *testing.T, c *http.Client, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// The admin endpoints of a running proxy: token, health, stats per route, metrics in the
// Prometheus text format, purge by URL (whatever host the client used) and by tag, and
// readiness going 503 while the proxy drains.
func TestAdminEndpointsOfARunningProxy(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "items")
		_, _ = io.WriteString(w, "item "+r.URL.Path)
	}))
	defer up.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type addrs struct{ proxy, admin string }
	ready := make(chan addrs, 1)
	done := make(chan error, 1)
	const token = "s3cret"
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-admin-token", token,
			"-upstream", up.URL, "-timeout", "5s", "-quiet",
			"-name", "proxy-admin/" + strconv.FormatUint(rand.Uint64(), 36)}, io.Discard,
			func(a, admin string) { ready <- addrs{a, admin} })
	}()
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	admin := "http://" + a.admin
	proxy := "http://" + a.proxy
	port := a.proxy[strings.LastIndexByte(a.proxy, ':'):]

	code, body := adminCall(t, c, http.MethodGet, admin+"/healthz", "")
	assert.Equal(t, http.StatusUnauthorized, code, "no token: refused")
	assert.Contains(t, body, "Bearer")
	code, _ = adminCall(t, c, http.MethodGet, admin+"/healthz", "wrong")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = adminCall(t, c, http.MethodGet, admin+"/healthz", token)
	assert.Equal(t, http.StatusOK, code)
	code, _ = adminCall(t, c, http.MethodGet, admin+"/readyz", token)
	assert.Equal(t, http.StatusOK, code)

	for range 2 {
		code, body = adminCall(t, c, http.MethodGet, proxy+"/items/1", "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "item /items/1", body)
	}

	code, body = adminCall(t, c, http.MethodGet, admin+"/stats", token)
	require.Equal(t, http.StatusOK, code)
	var st struct {
		Hits   int `json:"hits"`
		Routes []struct {
			Route   string `json:"route"`
			Breaker string `json:"breaker"`
			Hits    int    `json:"hits"`
		} `json:"routes"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	assert.Equal(t, 1, st.Hits)
	breakers := map[string]string{}
	for _, r := range st.Routes {
		breakers[r.Route] = r.Breaker
	}
	assert.Equal(t, "closed", breakers["/items"], "the route's breaker (its first path segment): %s", body)

	code, body = adminCall(t, c, http.MethodGet, admin+"/metrics", token)
	require.Equal(t, http.StatusOK, code)
	assert.Regexp(t, `failsoft_route_hits_total\{engine="proxy-admin/[a-z0-9]+",route="/items"\} 1\n`, body)
	assert.Regexp(t, `failsoft_breaker_state\{engine="[^"]+",route="/items",state="closed"\} 1\n`, body)
	assert.Regexp(t, `failsoft_store_bytes\{engine="[^"]+"\} [1-9][0-9]*\n`, body)
	assert.Regexp(t, `failsoft_store_entries\{engine="[^"]+"\} [1-9][0-9]*\n`, body)
	sample := regexp.MustCompile(`^failsoft_[a-z_]+\{[^{}]*\} [0-9]+$`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") {
			assert.Regexp(t, sample, line, "a Prometheus text sample")
		}
	}

	// Purge by URL: stored under 127.0.0.1:PORT, asked as localhost:PORT.
	code, body = adminCall(t, c, http.MethodDelete, admin+"/cache?url=http://localhost"+port+"/items/1", token)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"purged": 1}`, body)
	code, body = adminCall(t, c, http.MethodDelete, admin+"/cache?url=/items/1", token)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"purged": 0}`, body, "gone already")
	// By tag: the upstream's Surrogate-Key.
	adminCall(t, c, http.MethodGet, proxy+"/items/1", "")
	adminCall(t, c, http.MethodGet, proxy+"/items/2", "")
	code, body = adminCall(t, c, http.MethodDelete, admin+"/cache?tag=items", token)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"purged": 2}`, body)
	code, body = adminCall(t, c, http.MethodDelete, admin+"/cache", token)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "url=URL")
	code, _ = adminCall(t, c, http.MethodDelete, admin+"/cache?url=ftp://x/y", token)
	assert.Equal(t, http.StatusBadRequest, code)

	// Draining: readiness goes 503 while an in-flight request holds the shutdown.
	inflight := make(chan string, 1)
	go func() {
		res, err := c.Get(proxy + "/slow")
		if err != nil {
			inflight <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- string(b)
	}()
	<-entered
	cancel()
	require.Eventually(t, func() bool {
		code, _ := adminCall(t, c, http.MethodGet, admin+"/readyz", token)
		return code == http.StatusServiceUnavailable
	}, 10*time.Second, time.Millisecond)
	code, _ = adminCall(t, c, http.MethodGet, admin+"/healthz", token)
	assert.Equal(t, http.StatusOK, code, "still serving while it drains")
	close(release)
	assert.Equal(t, "item /slow", <-inflight)
	require.NoError(t, <-done)
}
