package httpfallback

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GET with a body (a search API's query) passes through: the key cannot see the body,
// so two different queries must not share an answer, and neither is stored or served from
// the store; a plain GET of the same URL is not answered with a query's result.
func TestGetWithBodyPassesThrough(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer to "+string(b))
	})
	get := func(body string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/_search", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := hs.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
	}
	for _, q := range []string{"q=1", "q=2", "q=1"} {
		status, body, cs := get(q)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "answer to "+q, body)
		assert.Equal(t, "failsoft; fwd=bypass; fwd-status=200", cs)
	}
	assert.EqualValues(t, 3, hs.calls.Load())
	assert.Zero(t, hs.eng.Stats().Stored)

	// The plain GET is a miss, fetched and stored on its own; a GET with a body after it
	// still reaches the source (not answered from the stored plain GET).
	r := hs.get("/_search")
	assert.Equal(t, "answer to ", r.body)
	assert.Contains(t, r.cs(), "stored")
	_, body, _ := get("q=3")
	assert.Equal(t, "answer to q=3", body)
	assert.EqualValues(t, 5, hs.calls.Load())
}

// A body of unknown length (ContentLength -1) is what a net/http server reports for a
// chunked HTTP/1.1 body or an HTTP/2 stream left open after its headers, and what quic-go's
// HTTP/3 server reports for every request without Content-Length, plain GETs included.
// Such a GET whose body turns out empty is an ordinary GET: stored and answered from the
// store (it used to pass through, so that over HTTP/3 nothing was ever cached or served
// stale). One with bytes still passes through, its whole body reaching the source.
func TestGetWithBodyOfUnknownLength(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer to "+string(b))
	})
	serve := func(path, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.ContentLength, req.Body = -1, io.NopCloser(strings.NewReader(body)) // as HTTP/3 gives it
		rec := httptest.NewRecorder()
		hs.srv.Config.Handler.ServeHTTP(rec, req)
		return rec
	}
	first := serve("/h3", "")
	assert.Contains(t, first.Header().Get("Cache-Status"), "stored")
	second := serve("/h3", "")
	assert.Equal(t, "failsoft; hit; ttl=60", second.Header().Get("Cache-Status"))
	assert.Equal(t, "answer to ", second.Body.String())
	assert.EqualValues(t, 1, hs.calls.Load())

	for _, q := range []string{"q=1", "q=2"} {
		rec := serve("/h3", q)
		assert.Equal(t, "answer to "+q, rec.Body.String(), "the whole body reaches the source")
		assert.Equal(t, "failsoft; fwd=bypass; fwd-status=200", rec.Header().Get("Cache-Status"))
	}
	assert.EqualValues(t, 3, hs.calls.Load())

	// A chunked HTTP/1.1 GET with an empty body, over the wire.
	chunked := func() *http.Response {
		t.Helper()
		conn, err := net.Dial("tcp", hs.srv.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "GET /chunked HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	assert.Contains(t, chunked().Header.Get("Cache-Status"), "stored")
	assert.Equal(t, "failsoft; hit; ttl=60", chunked().Header.Get("Cache-Status"))
	assert.EqualValues(t, 4, hs.calls.Load())
}

// A GET whose body of unknown length fails on its first read (the client went away
// mid-body) is not taken for a bodiless GET: it passes through, and the source reads the
// same error; nothing is stored.
func TestGetWithBodyThatFailsToRead(t *testing.T) {
	broken := errors.New("client went away")
	var seen error
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		_, seen = io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer")
	})
	req := httptest.NewRequest(http.MethodGet, "/broken", nil)
	req.ContentLength, req.Body = -1, io.NopCloser(iotest.ErrReader(broken))
	rec := httptest.NewRecorder()
	hs.srv.Config.Handler.ServeHTTP(rec, req)
	assert.ErrorIs(t, seen, broken, "the source reads the body's own error")
	assert.Equal(t, "failsoft; fwd=bypass; fwd-status=200", rec.Header().Get("Cache-Status"))
	assert.Zero(t, hs.eng.Stats().Stored)
}
