package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

func TestProxyPurgeIgnoresTheHostTheClientUsed(t *testing.T) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "catalog")
		fmt.Fprint(w, "item")
	}))
	defer up.Close()
	p, err := New(Config{Upstream: up.URL, Engine: httpfallback.Config{Name: pxName(t)}})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	srv := httptest.NewServer(p)
	defer srv.Close()
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1")
	get := func() {
		resp, err := srv.Client().Get(srv.URL + "/items/1")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
	}
	get()
	get()
	require.EqualValues(t, 1, calls.Load())
	n, err := p.PurgeURL(context.Background(), "http://localhost"+port+"/items/1")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "stored under 127.0.0.1, purged by localhost: one upstream")
	get()
	require.EqualValues(t, 2, calls.Load())
	n, err = p.PurgeTag(context.Background(), "catalog")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = p.PurgeURL(context.Background(), "/items/1")
	require.NoError(t, err)
	assert.Zero(t, n)
}
