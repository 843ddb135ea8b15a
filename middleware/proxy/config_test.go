package proxy

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func TestNewConfigErrors(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"missing upstream", Config{}, "Upstream"},
		{"bad scheme", Config{Upstream: "ftp://127.0.0.1/"}, "Upstream"},
		{"relative", Config{Upstream: "/just/a/path"}, "Upstream"},
		{"no host", Config{Upstream: "http:///x"}, "Upstream"},
		{"user info", Config{Upstream: "http://u:p@127.0.0.1/"}, "Upstream"},
		{"query", Config{Upstream: "http://127.0.0.1/?a=1"}, "Upstream"},
		{"fragment", Config{Upstream: "http://127.0.0.1/#f"}, "Upstream"},
		{"unclean base", Config{Upstream: "http://127.0.0.1/a/../b"}, "Upstream"},
		{"encoded slash base", Config{Upstream: "http://127.0.0.1/a%2fb"}, "Upstream"},
		{"unparsable", Config{Upstream: "http://[::1"}, "Upstream"},
		{"unparsable with password", Config{Upstream: "http://u:hunter2@[::1"}, "Upstream"},
		{"bad scheme with password", Config{Upstream: "ftp://u:hunter2@127.0.0.1/"}, "Upstream"},
		{"route prefix", Config{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "static", Fresh: time.Second}}}, "Routes[0].Prefix"},
		{"route fresh", Config{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "/s/", Fresh: 0}}}, "Routes[0].Fresh"},
		{"route twice", Config{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "/s/", Fresh: 1}, {Prefix: "/s/", Fresh: 2}}}, "Routes[1].Prefix"},
		{"idle timeout", Config{Upstream: "http://127.0.0.1", BodyIdleTimeout: -1}, "BodyIdleTimeout"},
		{"engine", Config{Upstream: "http://127.0.0.1", Engine: httpfallback.Config{MaxBytes: -1}}, "MaxBytes"},
		{"client", Config{Upstream: "http://127.0.0.1", Client: upstream.ClientConfig{Burst: -1}}, "Burst"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Engine.Name = pxName(t)
			p, err := New(c.cfg)
			require.Error(t, err)
			require.Nil(t, p)
			require.Contains(t, err.Error(), c.field)
			require.NotContains(t, err.Error(), "hunter2", "the error leaks the password")
		})
	}
}

func TestProxyCloseTwice(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	p, err := New(Config{Upstream: up.srv.URL, Engine: httpfallback.Config{Name: pxName(t)}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, p.Close())
		}()
	}
	wg.Wait()
	require.NoError(t, p.Close())
}

func TestClientBudget(t *testing.T) {
	require.Equal(t, 3*time.Second+100*time.Millisecond+(100+200)*time.Millisecond,
		clientBudget(upstream.ClientConfig{}), "the upstream package's defaults")
	require.Equal(t, 500*time.Millisecond+25*time.Millisecond+20*time.Millisecond,
		clientBudget(upstream.ClientConfig{
			Common: upstream.Common{Command: upstream.Settings{Timeout: 250 * time.Millisecond}},
			Retry:  upstream.RetryPolicy{MaxAttempts: 2, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		}))
	require.Equal(t, 4*time.Second+100*time.Millisecond+(100+200+250)*time.Millisecond,
		clientBudget(upstream.ClientConfig{Retry: upstream.RetryPolicy{MaxAttempts: 4, MaxDelay: 250 * time.Millisecond}}), "backoffs capped")
}
