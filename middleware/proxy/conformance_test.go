package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/conformtest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

// proxyMount serves origin (on its own loopback server) through the reverse proxy.
// Retries do not wait.
func proxyMount(t *testing.T, cfg httpfallback.Config, origin http.Handler) (string, *http.Client) {
	up := httptest.NewServer(origin)
	t.Cleanup(up.Close)
	p, err := proxy.New(proxy.Config{
		Upstream: up.URL,
		Engine:   cfg,
		Client: upstream.ClientConfig{
			Common: upstream.Common{Command: upstream.Settings{Timeout: 5 * time.Second}},
			Sleep:  func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, p.Close())
	})
	return srv.URL, srv.Client()
}

func TestProxyRFC9111Section3Storing(t *testing.T) { conformtest.Storing(t, proxyMount) }
func TestProxyRFC9111Section4Reuse(t *testing.T)   { conformtest.Reuse(t, proxyMount) }
func TestProxyRFC9111Section5Fields(t *testing.T)  { conformtest.Fields(t, proxyMount) }
func TestProxyRFC9110Section14Range(t *testing.T)  { conformtest.Range(t, proxyMount) }
