package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// syncBuffer collects the logs written by run's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-upstream", "http://127.0.0.1:1", "-cache-bytes", "0"},
		{"-upstream", "http://127.0.0.1:1", "-timeout", "0s"},
		{"-upstream", "http://127.0.0.1:1", "-retries", "-1"},
		{"-upstream", "http://127.0.0.1:1", "-stale", "-1s"},
		{"-nope"},
	} {
		_, err := parseFlags(args)
		require.Error(t, err, "%v", args)
	}
	err := run(context.Background(), []string{"-upstream", "ftp://x"}, io.Discard, nil)
	require.ErrorContains(t, err, "-upstream")
}

// The sidecar forwards and caches; on shutdown an in-flight request still completes, then
// run returns and logs its final counters.
func TestRunServesAndShutsDownGracefully(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer up.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-upstream", up.URL, "-timeout", "5s",
			"-name", "proxy-example/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)}, logs,
			func(a, _ string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	}

	get := func(path string) (*http.Response, string) {
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	res, body := get("/a")
	require.Equal(t, "hello from /a", body)
	require.Contains(t, res.Header.Get("Cache-Status"), "stored")
	res, _ = get("/a")
	require.Contains(t, res.Header.Get("Cache-Status"), "hit")

	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		res, err := http.Get(base + "/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- result{body: string(b), err: err}
	}()
	<-entered // the request is in flight at the upstream
	cancel()  // SIGINT
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "shutting down") }, 5e9, 1e6)
	close(release)
	r := <-inflight
	require.NoError(t, r.err)
	require.Equal(t, "hello from /slow", r.body)
	require.NoError(t, <-done)
	require.Contains(t, logs.String(), "hits=1")
	http.DefaultClient.CloseIdleConnections()
}

// -timeout is per attempt and -retries retries after it: an attempt that hangs past the
// timeout is followed by a second one, which answers. (With the flag as the engine's budget
// the whole budget was one attempt, and the client got 504.)
func TestTimedOutAttemptIsRetried(t *testing.T) {
	var calls sync.Mutex
	n := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Lock()
		n++
		first := n == 1
		calls.Unlock()
		if first {
			<-r.Context().Done() // hangs until the attempt's timeout cancels it
			return
		}
		_, _ = io.WriteString(w, "second attempt")
	}))
	defer up.Close()
	o, err := parseFlags([]string{"-upstream", up.URL, "-timeout", "100ms", "-retries", "1",
		"-name", "proxy-example/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)})
	require.NoError(t, err)
	p, err := newProxy(o, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()

	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/item", nil))
	require.Equal(t, http.StatusOK, rec.Code, "Cache-Status %q", rec.Header().Get("Cache-Status"))
	require.Equal(t, "second attempt", rec.Body.String())
	calls.Lock()
	defer calls.Unlock()
	require.Equal(t, 2, n)
}

// -mask-errors: an upstream's failing answer (its internal header, a stack trace) reaches
// the client as failsoft's problem+json instead.
func TestMaskErrorsFlagHidesTheUpstreamsFailingAnswer(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Internal-Host", "db-7.internal")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "goroutine 1 [running]")
	}))
	defer up.Close()
	for _, masked := range []bool{false, true} {
		args := []string{"-upstream", up.URL, "-retries", "0",
			"-name", "proxy-example/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)}
		if masked {
			args = append(args, "-mask-errors")
		}
		o, err := parseFlags(args)
		require.NoError(t, err)
		p, err := newProxy(o, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/item", nil))
		require.NoError(t, p.Close())
		require.Equal(t, http.StatusInternalServerError, rec.Code)
		require.Equal(t, !masked, strings.Contains(rec.Body.String(), "goroutine"), rec.Body.String())
		require.Equal(t, !masked, rec.Header().Get("X-Internal-Host") != "")
	}
}
