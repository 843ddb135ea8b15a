package httpfallback

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What doc.go and Config.Route say about wrapping a whole ServeMux: r.Pattern is still
// empty there, so every route is "*"; a Route func asking the mux for its pattern names
// each route's own command.
func TestWholeMuxRoutes(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range []string{"GET /items/{id}", "GET /users/{id}"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Pattern) })
	}
	serve := func(e *Engine, path string) {
		t.Helper()
		rec := httptest.NewRecorder()
		e.Handler(mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code)
	}
	routes := func(e *Engine) []string {
		var names []string
		for r := range e.allRunners() {
			names = append(names, r)
		}
		return names
	}

	plain, err := New(Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, plain.Close()) })
	serve(plain, "/items/1")
	serve(plain, "/users/1")
	assert.Equal(t, []string{"*"}, routes(plain), "wrapping the mux: one shared command")

	named, err := New(Config{
		Route: func(r *http.Request) string { _, p := mux.Handler(r); return p },
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, named.Close()) })
	serve(named, "/items/1")
	serve(named, "/users/1")
	// ("*" is created by New, for the answers of unmatched requests.)
	assert.ElementsMatch(t, []string{"*", "GET /items/{id}", "GET /users/{id}"}, routes(named))
}
