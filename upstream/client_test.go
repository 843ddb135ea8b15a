package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestClientAttemptCountsPerStatusAndMethod(t *testing.T) {
	cases := []struct {
		method string
		status int
		key    bool
		want   int
	}{
		{"GET", 200, false, 1},
		{"GET", 404, false, 1},
		{"GET", 429, false, 3},
		{"GET", 500, false, 3},
		{"GET", 501, false, 1},
		{"GET", 502, false, 3},
		{"GET", 503, false, 3},
		{"GET", 504, false, 3},
		{"HEAD", 503, false, 3},
		{"OPTIONS", 503, false, 3},
		{"TRACE", 503, false, 3},
		{"PUT", 503, false, 3},
		{"DELETE", 503, false, 3},
		{"POST", 503, false, 1},
		{"PATCH", 503, false, 1},
		{"POST", 503, true, 3},
		{"PATCH", 502, true, 3},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%d_key=%v", c.method, c.status, c.key), func(t *testing.T) {
			f := newFixture(t, ClientConfig{}, status(c.status))
			req := f.req(t, c.method, strings.NewReader("payload"))
			if c.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, err := f.c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			assert.Equal(t, int64(c.want), f.hits.Load(), "attempts")
			assert.Len(t, f.sleeps.all(), c.want-1, "one backoff between attempts")
			if c.status >= 500 {
				var se *StatusError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, c.status, se.StatusCode)
			} else {
				require.NoError(t, err)
				assert.Equal(t, c.status, resp.StatusCode)
			}
		})
	}
}

func TestClientStatusErrorExcerptAndRoundTrip(t *testing.T) {
	big := strings.Repeat("x", 10<<10)
	f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 1}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "down")
		w.WriteHeader(503)
		_, _ = io.WriteString(w, big)
	})
	resp, err := f.c.Do(f.req(t, "GET", nil))
	assert.Nil(t, resp)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.StatusCode)
	assert.Equal(t, "down", se.Header.Get("X-Upstream"))
	assert.Len(t, se.Body, 4<<10, "excerpt bounded to 4 KiB")
	assert.Equal(t, ReasonUpstream5xx, Reason(err))

	resp, err = f.c.RoundTrip(f.req(t, "GET", nil))
	require.NoError(t, err, "RoundTrip returns the failing answer as a response")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, big, string(body))
}

func TestClientFailureStatusesCountAndRetry(t *testing.T) {
	f := newFixture(t, ClientConfig{Common: Common{FailureStatuses: []int{429}}}, status(429))
	_, err := f.c.Do(f.req(t, "GET", nil))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 429, se.StatusCode)
	assert.Equal(t, int64(3), f.hits.Load())
}

func TestClientRetryAfterSecondsCapped(t *testing.T) {
	f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 2}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(503)
	})
	_, err := f.c.Do(f.req(t, "GET", nil))
	require.Error(t, err)
	assert.Equal(t, []time.Duration{30 * time.Second}, f.sleeps.all(), "3600 s capped at the default 30 s")
}

func TestClientRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, ClientConfig{
		Retry:  RetryPolicy{MaxAttempts: 2},
		Common: Common{Now: func() time.Time { return now }},
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", now.Add(7*time.Second).Format(http.TimeFormat))
		w.WriteHeader(429)
	})
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err, "429 is retried but is an answer, not a failure, by default")
	resp.Body.Close()
	assert.Equal(t, []time.Duration{7 * time.Second}, f.sleeps.all())
	assert.Equal(t, int64(2), f.hits.Load())
}

func TestClientRetryAfterBeyondDeadlineStops(t *testing.T) {
	f := newFixture(t, ClientConfig{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(503)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.c.Do(f.req(t, "GET", nil).WithContext(ctx))
	var se *StatusError
	require.ErrorAs(t, err, &se, "the last answer is returned")
	assert.Equal(t, int64(1), f.hits.Load())
	assert.Empty(t, f.sleeps.all(), "no wait that would pass the deadline")
}

func TestClientBackoffFullJitterCapped(t *testing.T) {
	f := newFixture(t, ClientConfig{Retry: RetryPolicy{
		MaxAttempts: 6, BaseDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond,
	}}, status(503))
	_, err := f.c.Do(f.req(t, "GET", nil))
	require.Error(t, err)
	got := f.sleeps.all()
	require.Len(t, got, 5)
	ceilings := []time.Duration{100, 200, 250, 250, 250}
	for i, d := range got {
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, ceilings[i]*time.Millisecond, "retry %d", i+1)
	}
	assert.NotEqual(t, got[2], got[3], "jittered")
}

func TestBackoffDistribution(t *testing.T) {
	p, err := RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Minute}.withDefaults()
	require.NoError(t, err)
	r := &lockedRand{r: rand.New(rand.NewPCG(3, 4))}
	var sum time.Duration
	const n = 2000
	for range n {
		d := p.backoff(3, r.int64n)
		require.LessOrEqual(t, d, 4*time.Second)
		sum += d
	}
	mean := sum / n
	assert.InDelta(t, float64(2*time.Second), float64(mean), float64(200*time.Millisecond), "full jitter: uniform on [0, 4s]")
	assert.Equal(t, time.Minute, p.backoff(200, func(n int64) int64 { return n - 1 }), "huge attempt numbers stay capped")
}

func TestClientCancellationDuringBackoffReturnsPromptly(t *testing.T) {
	served := make(chan struct{}, 1)
	f := newFixture(t, ClientConfig{
		Retry: RetryPolicy{MaxRetryAfter: time.Hour},
		Sleep: sleepCtx, // the real timer
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(503)
		served <- struct{}{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-served; cancel() }()
	_, err := f.c.Do(f.req(t, "GET", nil).WithContext(ctx))
	assert.ErrorIs(t, err, context.Canceled, "the hour-long backoff ended with the context")
	assert.Equal(t, int64(1), f.hits.Load())
}

func TestClientCircuitOpenStopsRetries(t *testing.T) {
	f := newFixture(t, ClientConfig{}, status(503))
	fb := &fakeBreaker{openAfter: 1}
	f.c.runner.b = fb
	_, err := f.c.Do(f.req(t, "GET", nil))
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.Equal(t, int64(1), f.hits.Load())
	assert.Len(t, f.sleeps.all(), 1)
}

func TestClientNonReplayableBodyNotRetried(t *testing.T) {
	f := newFixture(t, ClientConfig{}, status(503))
	req := f.req(t, "PUT", nil)
	req.Body = io.NopCloser(strings.NewReader("once"))
	req.GetBody = nil
	_, err := f.c.Do(req)
	require.Error(t, err)
	assert.Equal(t, int64(1), f.hits.Load())
}

func TestClientReplaysBodyAndReusesConnection(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var n atomic.Int64
	f := newFixture(t, ClientConfig{}, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) < 3 {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, strings.Repeat("e", 8<<10)) // drained by the client
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	resp, err := f.c.Do(f.req(t, "PUT", bytes.NewReader([]byte("payload"))))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.Equal(t, []string{"payload", "payload", "payload"}, bodies)
	assert.Equal(t, int64(1), f.conns.Load(), "failed bodies drained and closed: one connection reused")
}

func TestClientFourXXNeverOpensBreaker(t *testing.T) {
	name := t.Name()
	rec := record(name)
	srv := httptest.NewServer(status(404))
	defer srv.Close()
	c, err := NewClient(ClientConfig{Common: Common{Command: Settings{
		Name: name, RequestVolumeThreshold: 1, ErrorPercentThreshold: 1, SleepWindow: time.Hour,
	}}})
	require.NoError(t, err)
	defer c.Close()
	for range 30 {
		resp, err := c.Do(must(http.NewRequest("GET", srv.URL, nil)))
		require.NoError(t, err)
		require.Equal(t, 404, resp.StatusCode)
		resp.Body.Close()
	}
	require.Eventually(t, func() bool { return rec.Get().Attempts == 30 }, pollFor, pollEvery)
	errs := int(rec.Get().Errors)
	assert.Equal(t, 0, errs)
	assert.Equal(t, Closed, c.Runner().State())
	requireTrips(t, c.Runner())
}

func TestClientTimeoutCancelsUpstreamRequest(t *testing.T) {
	observed := make(chan error, 1)
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Timeout: 20 * time.Millisecond}},
		Retry:  RetryPolicy{MaxAttempts: 1},
	}, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hangs until its request is cancelled
		observed <- r.Context().Err()
	})
	resp, err := f.c.Do(f.req(t, "GET", nil))
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, ReasonTimeout, Reason(err))
	// Close waits for the handler: it returns only when its request is cancelled. On a
	// busy machine the timeout can pass before the request reaches the handler at all;
	// then there is nothing to observe (waiting for it would hang the test).
	f.srv.Close()
	select {
	case err := <-observed:
		assert.ErrorIs(t, err, context.Canceled, "the upstream saw its request cancelled")
	default:
		t.Log("the attempt timed out before its request reached the upstream")
	}
}

func TestClientNoLeakAfter500TimedOutCalls(t *testing.T) {
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Timeout: 20 * time.Millisecond, MaxConcurrent: 600, RequestVolumeThreshold: 1 << 30}},
		Retry:  RetryPolicy{MaxAttempts: 1},
	}, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	var wg sync.WaitGroup
	var timeouts atomic.Int64
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.c.Do(f.req(t, "GET", nil))
			if errors.Is(err, ErrTimeout) {
				timeouts.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(500), timeouts.Load())
	require.NoError(t, f.c.Close())
	f.srv.Close()
	goleak.VerifyNone(t, append(leaktest.Options(), goleak.IgnoreCurrent())...)
}

func TestClientBodyReadableAfterDoForSlowStream(t *testing.T) {
	// The headers must arrive within the timeout (1 s: room for a loaded machine); the rest
	// of the body is sent only once the timeout has passed.
	const timeout = time.Second
	proceed := make(chan struct{})
	f := newFixture(t, ClientConfig{Common: Common{Command: Settings{Timeout: timeout}}}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first,")
		w.(http.Flusher).Flush()
		select {
		case <-proceed:
		case <-r.Context().Done():
			return
		}
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "chunk%d,", i)
			w.(http.Flusher).Flush()
		}
	})
	start := time.Now()
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err)
	defer resp.Body.Close()
	<-time.After(time.Until(start.Add(timeout + 50*time.Millisecond))) // the run's timeout has passed
	close(proceed)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "neither the run's context nor the timeout cut the body")
	assert.Equal(t, "first,chunk0,chunk1,chunk2,", string(b))
}

func TestClientShortBodyIsAnErrorOnRead(t *testing.T) {
	f := newFixture(t, ClientConfig{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b")
	})
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, ReasonInvalidResponse, Reason(err))
}

func TestClientRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, ClientConfig{RateLimit: 1, Burst: 2, Common: Common{Now: func() time.Time { return now }}}, status(200))
	for range 2 {
		resp, err := f.c.Do(f.req(t, "GET", nil))
		require.NoError(t, err)
		resp.Body.Close()
	}
	_, err := f.c.Do(f.req(t, "GET", nil))
	assert.ErrorIs(t, err, ErrOverloaded)
	assert.Equal(t, int64(2), f.hits.Load(), "the upstream was not called over the limit")
	now = now.Add(time.Second)
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err, "a token came back after a second of the fake clock")
	resp.Body.Close()
}

func TestClientCredentialPerAttemptNeverLogged(t *testing.T) {
	const secret = "s3cr3t-token"
	var logs bytes.Buffer
	var calls atomic.Int64
	var seen []string
	var mu sync.Mutex
	f := newFixture(t, ClientConfig{
		Common: Common{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Credential: func(context.Context) (string, string, error) {
			calls.Add(1)
			return "Authorization", "Bearer " + secret, nil
		},
	}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(503)
		_, _ = io.WriteString(w, "down")
	})
	req := f.req(t, "GET", nil)
	_, err := f.c.Do(req)
	require.Error(t, err)
	assert.Equal(t, int64(3), calls.Load(), "fetched per attempt")
	assert.Equal(t, []string{"Bearer " + secret, "Bearer " + secret, "Bearer " + secret}, seen)
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, logs.String(), "upstream: retrying", "retries are logged")
	assert.NotContains(t, logs.String(), secret)

	credErr := errors.New("token service down")
	f2 := newFixture(t, ClientConfig{Credential: func(context.Context) (string, string, error) {
		return "", "", credErr
	}}, status(200))
	_, err = f2.c.Do(f2.req(t, "GET", nil))
	assert.ErrorIs(t, err, credErr)
	assert.Equal(t, int64(0), f2.hits.Load())
}

func TestClientConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := NewClient(ClientConfig{Common: Common{Command: Settings{Name: t.Name()}}, Sleep: (&sleeps{}).sleep})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(must(http.NewRequest("GET", "http://"+addr+"/", nil)))
	require.Error(t, err)
	assert.Equal(t, ReasonConnectError, Reason(err))
}

func TestClientConfigValidationNamesTheField(t *testing.T) {
	base := Settings{Name: "never-created"}
	cases := []struct {
		cfg   ClientConfig
		field string
	}{
		{ClientConfig{Common: Common{Command: base}, Retry: RetryPolicy{MaxAttempts: -1}}, "RetryPolicy.MaxAttempts"},
		{ClientConfig{Common: Common{Command: base}, Retry: RetryPolicy{BaseDelay: -1}}, "RetryPolicy.BaseDelay"},
		{ClientConfig{Common: Common{Command: base}, Retry: RetryPolicy{MaxDelay: -1}}, "RetryPolicy.MaxDelay"},
		{ClientConfig{Common: Common{Command: base}, Retry: RetryPolicy{MaxRetryAfter: -1}}, "RetryPolicy.MaxRetryAfter"},
		{ClientConfig{Common: Common{Command: base}, Retry: RetryPolicy{RetryStatuses: []int{42}}}, "RetryPolicy.RetryStatuses"},
		{ClientConfig{Common: Common{Command: base}, RateLimit: -1}, "ClientConfig.RateLimit"},
		{ClientConfig{Common: Common{Command: base}, Burst: -1}, "ClientConfig.Burst"},
		{ClientConfig{Common: Common{Command: base, FailureStatuses: []int{1000}}}, "ClientConfig.FailureStatuses"},
		{ClientConfig{}, "ClientConfig.Command.Name"},
	}
	for _, c := range cases {
		_, err := NewClient(c.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.field)
	}
}

func TestClientCloseClosesOwnIdleConnections(t *testing.T) {
	var closed atomic.Int64
	srv := httptest.NewUnstartedServer(status(200))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := NewClient(ClientConfig{Common: Common{Command: Settings{Name: t.Name()}}})
	require.NoError(t, err)
	resp, err := c.Do(must(http.NewRequest("GET", srv.URL, nil)))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, int64(0), closed.Load(), "the connection is idle, kept for reuse")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return closed.Load() == 1 }, pollFor, pollEvery)
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int64
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func TestClientClosesRequestBodyWhenNothingIsSent(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, ClientConfig{RateLimit: 1, Common: Common{Now: func() time.Time { return now }}}, status(200))
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err)
	resp.Body.Close()

	body := &closeCounter{Reader: strings.NewReader("x")}
	req := f.req(t, "POST", nil)
	req.Body = body
	_, err = f.c.RoundTrip(req)
	require.ErrorIs(t, err, ErrOverloaded)
	assert.Equal(t, int64(1), body.closes.Load(), "refused by the rate limit: closed by the client")

	fb := &fakeBreaker{open: true}
	f.c.runner.b = fb
	now = now.Add(time.Hour)
	body = &closeCounter{Reader: strings.NewReader("x")}
	req = f.req(t, "POST", nil)
	req.Body = body
	_, err = f.c.RoundTrip(req)
	require.ErrorIs(t, err, ErrCircuitOpen)
	assert.Equal(t, int64(1), body.closes.Load(), "refused by the breaker: closed by the client")
}
