package redisstore

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
)

// addrEnv names the variable that points the tests at a running Redis (.ci/services sets it).
const addrEnv = "FAILSOFT_REDIS_ADDR"

// testTimeout is the Redis timeout of tests that are not about timeouts: generous, so that a
// loaded CI machine (race detector, 2 cores) does not turn a hit into a miss.
const testTimeout = 2 * time.Second

// sharedAddr returns the address of the shared test Redis, or skips the test.
func sharedAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		missing(t, addrEnv+" is not set: no Redis to test against (.ci/services starts one)")
	}
	return addr
}

// missing skips the test for want of Redis on a developer's machine, and fails it in CI
// (CI=true), where .ci/services provides Redis and a skip would hide its loss.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// newClock returns the shared hand-advanced test clock.
func newClock() *fakeclock.Clock { return fakeclock.New() }

// prefix is a Redis key prefix unique to the test.
func prefix(t testing.TB) string { return "failsoft-test:" + t.Name() + ":" }

// newStore returns a Store on addr with the test's prefix; the keys it wrote and the Store are
// cleaned up when the test ends.
func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = s.Close()
	})
	return s
}

// cleanPrefix deletes every key under the test's prefix on addr, now and when the test ends.
func cleanPrefix(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	clean := func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix(t)+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	}
	clean()
	t.Cleanup(func() {
		clean()
		_ = c.Close()
	})
	return c
}

// newMemory returns a local tier on the clock.
func newMemory(t testing.TB, clk *fakeclock.Clock) *cache.Memory {
	t.Helper()
	m, err := cache.New(cache.Config{MaxBytes: 1 << 20, Now: clk.Now})
	require.NoError(t, err)
	return m
}

// newTiered returns a Tiered store over a new Memory and a Store on addr, closed at cleanup.
func newTiered(t testing.TB, clk *fakeclock.Clock, cfg Config) *Tiered {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	cfg.Now = clk.Now
	remote, err := New(cfg)
	require.NoError(t, err)
	ts, err := NewTiered(newMemory(t, clk), remote, TieredConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Close() })
	return ts
}

// entry returns an entry stored at now: fresh for fresh, then stale windows of swr and sie.
func entry(now time.Time, body string, fresh, swr, sie time.Duration) *cache.Entry {
	return &cache.Entry{
		Status:          http.StatusOK,
		Header:          cache.MakeHeader(http.Header{"Content-Type": {"text/plain"}, "X-Test": {"a", "b"}, "Etag": {`"v1"`}}),
		Body:            []byte(body),
		RequestTime:     now.Add(-time.Millisecond),
		ResponseTime:    now,
		FreshUntil:      now.Add(fresh),
		RevalidateUntil: now.Add(fresh + swr),
		ErrorUntil:      now.Add(fresh + sie),
	}
}

// server is a redis-server process of the test's own, on a loopback port, that the test can
// stop, pause and restart.
type server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startServer starts a redis-server of the test's own, or skips the test when there is no
// redis-server binary. It is stopped when the test ends.
func startServer(t testing.TB) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not installed: cannot run a Redis of the test's own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	s := &server{t: t, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs redis-server on the port and waits until it answers PING.
func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
		"--dir", s.t.TempDir())
	require.NoError(s.t, s.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: s.addr(), DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	require.Eventually(s.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}, 10*time.Second, 10*time.Millisecond, "redis-server on %s did not answer", s.addr())
}

// stop kills the server and waits for it to exit; a no-op when it is not running.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // in case it is paused
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// pause freezes the server (SIGSTOP): connections are accepted by the kernel but nothing
// answers, the way a Redis stuck in a slow command or a swap storm behaves.
func (s *server) pause() { require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGSTOP)) }

// resume undoes pause.
func (s *server) resume() { require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGCONT)) }

// missStore is a local tier that keeps nothing, so that every Tiered Get goes to Redis.
type missStore struct{}

func (missStore) Get(context.Context, string, time.Time) (*cache.Entry, cache.State) {
	return nil, cache.Gone
}
func (missStore) Set(context.Context, string, *cache.Entry) bool { return false }
func (missStore) Delete(context.Context, string)                 {}
func (missStore) Close() error                                   { return nil }

// keyN names the n-th key of a test.
func keyN(n int) string { return fmt.Sprintf("GET|http://example.test/item/%d", n) }

// waitListening waits until every store's invalidation subscription is confirmed.
func waitListening(t testing.TB, stores ...*Tiered) {
	t.Helper()
	for _, s := range stores {
		require.Eventually(t, s.Listening, 10*time.Second, 5*time.Millisecond, "subscribed to invalidations")
	}
}

// waitLocalGone waits until key is no longer in the store's local tier.
func waitLocalGone(t testing.TB, s *Tiered, key string, now time.Time, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		e, _ := s.Local().Get(context.Background(), key, now)
		return e == nil
	}, 10*time.Second, 5*time.Millisecond, msg)
}
