package httpfallback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// serveVia answers one GET of path through eng with a source running h as route "r".
func serveVia(eng *Engine, path string, h http.HandlerFunc) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	eng.Serve(rec, httptest.NewRequest(http.MethodGet, "http://svc.test"+path, nil), "r",
		func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
			return eng.RunCommand(ctx, "r", w, r, func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
				h(w, r)
				return nil
			})
		})
	return rec
}

// A hit writes the header the miss wrote, field for field (the compact stored header):
// several values in their order, empty values, a field without values, names outside the
// one-byte table, a name set in non-canonical form, names differing only by case; only
// Age is added, and Cache-Status says hit.
func TestHitWritesTheStoredHeaderFieldForField(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	src := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"max-age=3600", "public"}
		h["Link"] = []string{"</a>; rel=preload", "</b>; rel=preload", "</a>; rel=preload"}
		h["X-Empty-Value"] = []string{""}
		h["X-Empty-Then"] = []string{"", "second"}
		h["X-No-Values"] = []string{}
		h["x-lower-case"] = []string{"as given"}
		h["content-language"] = []string{"lower"}
		h["Content-Language"] = []string{"canonical"}
		h["Etag"] = []string{`"v1"`}
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		_, _ = io.WriteString(w, "body")
	}
	miss := serveVia(eng, "/h", src)
	require.Equal(t, "body", miss.Body.String())
	hit := serveVia(eng, "/h", func(http.ResponseWriter, *http.Request) { t.Error("a hit must not call the source") })
	require.Equal(t, "body", hit.Body.String())
	assert.Contains(t, hit.Header().Get("Cache-Status"), "failsoft; hit")
	assert.Equal(t, []string{"0"}, hit.Header()["Age"])
	want, got := miss.Header().Clone(), hit.Header().Clone()
	for _, h := range []http.Header{want, got} {
		delete(h, "Cache-Status")
		delete(h, "Age")
	}
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"4"}, got["Content-Length"])
	assert.Equal(t, []string{""}, got["X-Empty-Value"])
	assert.Equal(t, []string{"", "second"}, got["X-Empty-Then"])
	assert.Contains(t, got, "X-No-Values")
	assert.Empty(t, got["X-No-Values"])
	exact := func(name string) []string { return got[name] } // no canonicalisation
	assert.Equal(t, []string{"as given"}, exact("x-lower-case"))
	assert.Equal(t, []string{"lower"}, exact("content-language"))
	assert.Equal(t, []string{"canonical"}, got["Content-Language"])
}

// The body buffer is presized from the source's Content-Length (up to a bound). What
// that field claims does not change the outcome: a length other than the body's (larger,
// smaller, not a number, far beyond any buffer: nothing of that size is reserved) makes
// the answer invalid, served as a failure and never stored; the true length stores the
// bytes written, served again as a hit.
func TestDeclaredContentLengthDoesNotChangeTheOutcome(t *testing.T) {
	for _, declared := range []string{"100", "3", "x", "1099511627776", "11"} {
		t.Run(declared, func(t *testing.T) {
			eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
			require.NoError(t, err)
			defer func() { require.NoError(t, eng.Close()) }()
			calls := 0
			src := func(w http.ResponseWriter, r *http.Request) {
				calls++
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Length", declared)
				_, _ = io.WriteString(w, "hello")
				_, _ = io.WriteString(w, " world")
			}
			for i, rec := range []*httptest.ResponseRecorder{serveVia(eng, "/b", src), serveVia(eng, "/b", src)} {
				if declared != "11" {
					assert.Equal(t, http.StatusBadGateway, rec.Code, "answer %d", i)
					assert.Contains(t, rec.Body.String(), "invalid-response", "answer %d", i)
					continue
				}
				assert.Equal(t, http.StatusOK, rec.Code, "answer %d", i)
				assert.Equal(t, "hello world", rec.Body.String(), "answer %d", i)
				assert.Equal(t, []string{"11"}, rec.Header()["Content-Length"], "answer %d", i)
			}
			if declared != "11" {
				assert.Equal(t, 2, calls, "an invalid answer is not stored")
				assert.Zero(t, eng.Stats().Hits)
				return
			}
			assert.Equal(t, 1, calls)
			assert.Equal(t, uint64(1), eng.Stats().Hits)
		})
	}
}

// An answer's body that the entry keeps without a copy (exactly sized from the declared
// length) is the entry's: a client writer that keeps the bytes it was given sees the next
// answers unchanged, and the next hit serves the same bytes even after the first answer's
// recorder is reused.
func TestExactlySizedBodyStoredWithoutCopyStaysIntact(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	src := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "6")
		_, _ = io.WriteString(w, "abc")
		_, _ = io.WriteString(w, "def")
	}
	first := serveVia(eng, "/x", src)
	require.Equal(t, "abcdef", first.Body.String())
	b := first.Body.Bytes()
	copy(b, "zzzzzz") // the recorder's own copy: must not be the entry's
	assert.Equal(t, "abcdef", serveVia(eng, "/x", src).Body.String())
	assert.Equal(t, uint64(1), eng.Stats().Hits)
}
