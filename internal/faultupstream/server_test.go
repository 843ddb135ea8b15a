package faultupstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// newFakeClock is the shared fake clock, set to a fixed instant.
func newFakeClock() *fakeclock.Clock {
	c := fakeclock.New()
	c.Set(time.Unix(1_700_000_000, 0))
	return c
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type result struct {
	status int
	body   []byte
	err    error // transport error, or the error reading the body
}

func get(ctx context.Context, c *http.Client, url string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: b, err: err}
}

// getHeld sends a GET, waits until the server has counted requests requests (this one
// included), then cancels it and returns its result.
func getHeld(t *testing.T, s *Server, c *http.Client, url string, requests int64) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- get(ctx, c, url) }()
	require.Eventually(t, func() bool { return s.Requests() == requests }, 5*time.Second, time.Millisecond,
		"the request reached the server")
	select {
	case r := <-done:
		t.Fatalf("answered while it should be held: status %d, err %v", r.status, r.err)
	default:
	}
	cancel()
	return <-done
}

func TestBodyVerify(t *testing.T) {
	b := Body("/k/1", 3, 300)
	assert.InDelta(t, 300, len(b), 2, "size is about what was asked")
	assert.Equal(t, b, Body("/k/1", 3, 300), "deterministic")

	v, err := Verify("/k/1", b)
	require.NoError(t, err)
	assert.Equal(t, 3, v)

	_, err = Verify("/k/2", b)
	assert.ErrorIs(t, err, ErrWrongKey)
	_, err = Verify("/k/1", b[:len(b)/2])
	assert.ErrorIs(t, err, ErrBadBody)
	_, err = Verify("/k/1", []byte(`{}`))
	assert.ErrorIs(t, err, ErrBadBody)

	tampered := append([]byte(nil), b...)
	tampered[40] ^= 1 // inside the pad
	_, err = Verify("/k/1", tampered)
	assert.ErrorIs(t, err, ErrBadSum)

	assert.NotEqual(t, Body("/k/1", 3, 0), Body("/k/1", 4, 0), "version is part of the body")
}

func TestConfigValidation(t *testing.T) {
	_, err := New(Config{Addr: "192.0.2.1:0"})
	assert.ErrorContains(t, err, "Config.Addr")
	_, err = New(Config{BodyBytes: -1})
	assert.ErrorContains(t, err, "Config.BodyBytes")

	s := newServer(t, Config{})
	assert.ErrorContains(t, s.Set(Errors(1.5, 503)), "Fault.Fraction")
	assert.ErrorContains(t, s.Set(Errors(0.5, 42)), "Fault.Status")
	assert.ErrorContains(t, s.Set(Flapping(0)), "Fault.Period")
	assert.ErrorContains(t, s.Set(SlowBody(0, time.Millisecond)), "Fault.Chunk")
	assert.ErrorContains(t, s.Set(Latency(-1)), "Fault.Delay")
	assert.ErrorContains(t, s.Set(Fault{Mode: 99}), "Fault.Mode")
	assert.Equal(t, ModeHealthy, s.Fault().Mode, "a rejected fault changes nothing")
}

func TestHealthyServesVerifiableBodiesAndRecords(t *testing.T) {
	clk := newFakeClock()
	s := newServer(t, Config{Now: clk.Now, RecordServed: true, Header: http.Header{"Cache-Control": {"max-age=1"}}})
	c := newClient(t)
	s.SetVersion(7)

	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/a/b", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "max-age=1", resp.Header.Get("Cache-Control"))
	v, err := Verify("/a/b", b)
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.EqualValues(t, 1, s.Requests())

	ver, at, ok := s.LastServed("/a/b")
	assert.True(t, ok)
	assert.Equal(t, 7, ver)
	assert.Equal(t, clk.Now(), at)
	_, _, ok = s.LastServed("/other")
	assert.False(t, ok)
}

func TestErrorsDeterministicAndSeeded(t *testing.T) {
	s := newServer(t, Config{})
	c := newClient(t)
	require.NoError(t, s.Set(Errors(0.5, http.StatusServiceUnavailable)))
	var got []int
	for range 6 {
		r := get(context.Background(), c, s.URL()+"/k")
		require.NoError(t, r.err)
		got = append(got, r.status)
	}
	assert.Equal(t, []int{200, 503, 200, 503, 200, 503}, got)

	pattern := func(seed uint64) []int {
		require.NoError(t, s.Set(SeededErrors(0.5, 500, seed)))
		var p []int
		for range 20 {
			r := get(context.Background(), c, s.URL()+"/k")
			require.NoError(t, r.err)
			p = append(p, r.status)
		}
		return p
	}
	p1 := pattern(42)
	assert.Equal(t, p1, pattern(42), "same seed, same failures")
	assert.Contains(t, p1, 500)
	assert.Contains(t, p1, 200)
}

func TestLatency(t *testing.T) {
	s := newServer(t, Config{})
	c := newClient(t)
	require.NoError(t, s.Set(Latency(time.Hour)))
	// The client gives up once the server holds its request (no deadline that a loaded
	// machine could reach before the request does).
	r := getHeld(t, s, c, s.URL()+"/k", 1)
	assert.ErrorIs(t, r.err, context.Canceled, "no answer before the client gave up")
	assert.EqualValues(t, 1, s.Requests(), "the request reached the server")

	require.NoError(t, s.Set(Latency(30*time.Millisecond)))
	start := time.Now()
	r = get(context.Background(), c, s.URL()+"/k")
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.status)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "answer not before the delay")
}

func TestOutageRefusesAndRecoversOnSamePort(t *testing.T) {
	s := newServer(t, Config{})
	c := newClient(t)
	url := s.URL() + "/k"
	r := get(context.Background(), c, url) // leaves a keep-alive connection
	require.NoError(t, r.err)

	require.NoError(t, s.Set(Outage()))
	assert.True(t, s.Down())
	r = get(context.Background(), c, url)
	require.Error(t, r.err, "the kept-alive connection was dropped and new ones are refused")
	// The first attempt may fail on the dropped connection; a fresh dial must be refused.
	r = get(context.Background(), c, url)
	assert.ErrorIs(t, r.err, syscall.ECONNREFUSED)
	assert.EqualValues(t, 1, s.Requests())

	require.NoError(t, s.Set(Healthy()))
	assert.False(t, s.Down())
	assert.Equal(t, url, s.URL()+"/k")
	r = get(context.Background(), c, url)
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.status)
}

func TestBlackholeHoldsUntilContextOrClose(t *testing.T) {
	s, err := New(Config{})
	require.NoError(t, err)
	c := newClient(t)
	require.NoError(t, s.Set(Blackhole()))

	r := getHeld(t, s, c, s.URL()+"/k", 1)
	assert.ErrorIs(t, r.err, context.Canceled, "no answer before the client gave up")

	done := make(chan result, 1)
	go func() { done <- get(context.Background(), c, s.URL()+"/k") }()
	require.Eventually(t, func() bool { return s.Requests() == 2 }, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("blackhole answered")
	default:
	}
	require.NoError(t, s.Close())
	r = <-done
	assert.Error(t, r.err, "Close releases the held request without an answer")
	assert.Equal(t, 0, r.status)
	assert.ErrorIs(t, s.Set(Healthy()), ErrClosed)
	assert.NoError(t, s.Close(), "Close twice")
}

func TestFlappingWithFakeClockAndTick(t *testing.T) {
	clk := newFakeClock()
	s := newServer(t, Config{Now: clk.Now, Poll: -1})
	c := newClient(t)
	url := s.URL() + "/k"
	require.NoError(t, s.Set(Flapping(time.Second)))

	for cycle := range 2 {
		require.NoError(t, s.Tick())
		assert.False(t, s.Down(), "cycle %d: up phase", cycle)
		r := get(context.Background(), c, url)
		require.NoError(t, r.err)
		assert.Equal(t, 200, r.status)

		clk.Advance(time.Second)
		require.NoError(t, s.Tick())
		assert.True(t, s.Down(), "cycle %d: down phase", cycle)
		c.CloseIdleConnections()
		r = get(context.Background(), c, url)
		assert.ErrorIs(t, r.err, syscall.ECONNREFUSED)
		clk.Advance(time.Second)
	}
}

func TestFlappingPolledClock(t *testing.T) {
	clk := newFakeClock()
	s := newServer(t, Config{Now: clk.Now, Poll: time.Millisecond})
	require.NoError(t, s.Set(Flapping(time.Minute)))
	assert.False(t, s.Down())
	clk.Advance(time.Minute)
	require.Eventually(t, s.Down, 5*time.Second, time.Millisecond, "the poller applied the down phase")
	clk.Advance(time.Minute)
	require.Eventually(t, func() bool { return !s.Down() }, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Set(Healthy()), "stops the poller")
	clk.Advance(time.Minute)
	assert.False(t, s.Down())
}

func TestSlowBodyTrickles(t *testing.T) {
	s := newServer(t, Config{BodyBytes: 200, RecordServed: true})
	c := newClient(t)
	require.NoError(t, s.Set(SlowBody(50, time.Millisecond)))
	r := get(context.Background(), c, s.URL()+"/k")
	require.NoError(t, r.err)
	_, err := Verify("/k", r.body)
	require.NoError(t, err, "the trickle ends in a complete body")

	require.NoError(t, s.Set(SlowBody(10, time.Hour)))
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/k2", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	require.NoError(t, err, "headers arrive at once")
	defer resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	buf := make([]byte, 100)
	n, err := io.ReadAtLeast(resp.Body, buf, 10)
	require.NoError(t, err)
	assert.Equal(t, 10, n, "only the first chunk arrived")
	cancel()
	_, err = io.ReadAll(resp.Body)
	assert.Error(t, err)
	_, _, ok := s.LastServed("/k2")
	assert.False(t, ok, "an unfinished body is not recorded")
}

func TestTruncated(t *testing.T) {
	s := newServer(t, Config{RecordServed: true})
	c := newClient(t)
	require.NoError(t, s.Set(Truncated()))
	r := get(context.Background(), c, s.URL()+"/k")
	assert.Equal(t, 200, r.status, "the status looks good")
	assert.True(t, errors.Is(r.err, io.ErrUnexpectedEOF), "got %v", r.err)
	_, err := Verify("/k", r.body)
	assert.ErrorIs(t, err, ErrBadBody)
	_, _, ok := s.LastServed("/k")
	assert.False(t, ok)
}

func TestFaultString(t *testing.T) {
	assert.Equal(t, "errors 50% 503", Errors(0.5, 503).String())
	assert.Equal(t, "latency 300ms", Latency(300*time.Millisecond).String())
	assert.Equal(t, "outage", Outage().String())
	assert.Equal(t, "flapping 1s", Flapping(time.Second).String())
}

func TestCloseReleasesWaitingHandlers(t *testing.T) {
	for _, f := range []Fault{Latency(time.Hour), SlowBody(8, time.Hour)} {
		t.Run(f.String(), func(t *testing.T) {
			s, err := New(Config{})
			require.NoError(t, err)
			c := newClient(t)
			require.NoError(t, s.Set(f))
			done := make(chan result, 1)
			go func() { done <- get(context.Background(), c, s.URL()+"/k") }()
			require.Eventually(t, func() bool { return s.Requests() == 1 }, 5*time.Second, time.Millisecond)
			require.NoError(t, s.Close(), "Close returns although a handler was waiting an hour")
			r := <-done
			assert.Error(t, r.err, "the waiting request gets no complete answer")
		})
	}
}

func TestErrorsAllOrNothing(t *testing.T) {
	s := newServer(t, Config{})
	c := newClient(t)
	for _, tc := range []struct {
		fraction float64
		want     int
	}{{0, 200}, {1, 500}} {
		require.NoError(t, s.Set(Errors(tc.fraction, 500)))
		for range 3 {
			r := get(context.Background(), c, s.URL()+"/k")
			require.NoError(t, r.err)
			assert.Equal(t, tc.want, r.status, "fraction %v", tc.fraction)
		}
	}
}
