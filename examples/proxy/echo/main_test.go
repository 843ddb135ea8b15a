package main

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestEchoAppMountsTheProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	p, err := proxy.New(proxy.Config{Upstream: up.URL, Engine: httpfallback.Config{Name: "echo-example/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)}})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	app := newApp(p)

	for i, want := range []string{"stored", "hit"} {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/users/1", nil))
		require.Equal(t, http.StatusOK, rec.Code, i)
		require.Equal(t, "upstream /users/1", rec.Body.String())
		require.Contains(t, rec.Header().Get("Cache-Status"), want)
	}
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, "ok", rec.Body.String())
}
