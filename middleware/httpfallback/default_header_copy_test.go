package httpfallback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// A static default's header goes out as configured, plus Cache-Control: no-store when it
// sets none and our Cache-Status after its own; each answer's copy is its own: a writer
// changing a value in place or appending to a field changes neither the next answer nor
// the configured Default.
func TestDefaultAnswersWriteTheirOwnCopyOfTheDefaultsHeader(t *testing.T) {
	d := &Default{Header: http.Header{
		"Content-Type": {"application/json"},
		"X-List":       {"a", "b"},
		"Cache-Status": {"origin; hit"},
		"X-Empty":      {},
	}, Body: []byte(`{}`)}
	withCC := &Default{Header: http.Header{"Cache-Control": {"max-age=5"}}, Body: []byte(`cc`)}
	eng, err := New(Config{Default: d, Defaults: map[string]*Default{"cc": withCC}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	fail := func(context.Context, http.ResponseWriter, *http.Request) error { return upstream.ErrTimeout }
	answer := func(route string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		eng.Serve(rec, httptest.NewRequest(http.MethodGet, "http://svc.test/d", nil), route, fail)
		return rec
	}

	want := http.Header{
		"Content-Type":  {"application/json"},
		"X-List":        {"a", "b"},
		"X-Empty":       nil,
		"Cache-Control": {"no-store"},
		"Cache-Status":  {"origin; hit, failsoft; fwd=uri-miss; detail=default"},
	}
	first := answer("")
	assert.Equal(t, want, first.Header())
	h := first.Header()
	h["Content-Type"][0] = "text/html"
	h["X-List"] = append(h["X-List"], "c")
	h["X-List"][0] = "z"
	h["Cache-Control"][0] = "public"

	assert.Equal(t, want, answer("").Header(), "the next answer")
	assert.Equal(t, http.Header{
		"Content-Type": {"application/json"},
		"X-List":       {"a", "b"},
		"Cache-Status": {"origin; hit"},
		"X-Empty":      {},
	}, d.Header, "the configured Default")

	assert.Equal(t, http.Header{
		"Cache-Control": {"max-age=5"},
		"Cache-Status":  {"failsoft; fwd=uri-miss; detail=default"},
	}, answer("cc").Header(), "a default setting Cache-Control keeps it")
}
