package reliability

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

// newProxy builds failsoft's reverse proxy to base; the caller closes it.
func newProxy(t *testing.T, base string, eng httpfallback.Config, cl upstream.ClientConfig) *proxy.Proxy {
	t.Helper()
	p, err := proxy.New(proxy.Config{Upstream: base, Engine: eng, Client: cl})
	require.NoError(t, err)
	return p
}

// newProxyMount builds the proxy and closes it at cleanup.
func newProxyMount(t *testing.T, base string, eng httpfallback.Config, cl upstream.ClientConfig) http.Handler {
	t.Helper()
	p := newProxy(t, base, eng, cl)
	t.Cleanup(func() { _ = p.Close() })
	return p
}
