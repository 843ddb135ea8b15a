package httpfallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// purgeServer is an engine mounted on a loopback server whose handler counts its calls and
// tags each answer.
type purgeServer struct {
	eng   *Engine
	srv   *httptest.Server
	calls atomic.Int64
}

func newPurgeServer(t *testing.T) *purgeServer {
	t.Helper()
	ps := &purgeServer{}
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
	require.NoError(t, err)
	ps.eng = eng
	ps.srv = httptest.NewServer(eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		switch {
		case strings.HasPrefix(r.URL.Path, "/items/"):
			w.Header().Set("Surrogate-Key", "items "+strings.TrimPrefix(r.URL.Path, "/items/"))
		case strings.HasPrefix(r.URL.Path, "/users/"):
			w.Header().Set("Cache-Tag", "users, people")
		}
		fmt.Fprint(w, r.URL.Path, " ", r.Header.Get("Accept-Language"))
	})))
	t.Cleanup(func() {
		ps.srv.Close()
		require.NoError(t, eng.Close())
	})
	return ps
}

// get asks for path through host ("" means the server's own 127.0.0.1:PORT) and reports
// whether the handler was called for it.
func (ps *purgeServer) get(t *testing.T, host, path string, hdr ...string) (fetched bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ps.srv.URL+path, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	before := ps.calls.Load()
	resp, err := ps.srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return ps.calls.Load() != before
}

func TestPurgeURLResolvesHostVariantsAsARequestIsKeyed(t *testing.T) {
	ps := newPurgeServer(t)
	ctx := context.Background()
	port := strings.TrimPrefix(ps.srv.URL, "http://127.0.0.1")
	require.True(t, ps.get(t, "", "/items/1"))
	require.False(t, ps.get(t, "", "/items/1"), "stored")

	n, err := ps.eng.PurgeURL(ctx, "http://localhost"+port+"/items/1")
	require.NoError(t, err)
	assert.Zero(t, n, "localhost is another origin than the 127.0.0.1 the entry was stored under")
	assert.False(t, ps.get(t, "", "/items/1"), "still stored")

	n, err = ps.eng.PurgeURL(ctx, "/items/1")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a path alone: the one origin entries are stored under")
	assert.True(t, ps.get(t, "", "/items/1"), "purged: fetched again")

	n, err = ps.eng.PurgeURL(ctx, ps.srv.URL+"/items/1#fragment")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the full URL as the client used it")
	n, err = ps.eng.PurgeURL(ctx, ps.srv.URL+"/items/1")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to purge")

	// A second origin: a path alone is now ambiguous, and the error says why.
	require.True(t, ps.get(t, "", "/items/2"))
	require.True(t, ps.get(t, "LOCALHOST"+port, "/items/2"))
	_, err = ps.eng.PurgeURL(ctx, "/items/2")
	var pe *PurgeError
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Contains(t, pe.Error(), "http://127.0.0.1"+port)
	assert.Contains(t, pe.Error(), "http://localhost"+port)
	assert.Contains(t, pe.Error(), "give the full URL")
	n, err = ps.eng.PurgeURL(ctx, "http://localhost"+port+"/items/2")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the host as the key lowercases it")
	assert.False(t, ps.get(t, "", "/items/2"), "the 127.0.0.1 entry is another one, kept")

	// PurgePath: every origin (one upstream's view, where the host does not change the answer).
	require.True(t, ps.get(t, "localhost"+port, "/items/2"))
	n, err = ps.eng.PurgePath(ctx, "http://ignored.example/items/2")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestPurgeURLRemovesEveryVariantAndRefusesWhatIsNotAURL(t *testing.T) {
	ps := newPurgeServer(t)
	ctx := context.Background()
	require.True(t, ps.get(t, "", "/v", "Accept-Language", "fr"))
	require.True(t, ps.get(t, "", "/v", "Accept-Language", "de"))
	require.False(t, ps.get(t, "", "/v", "Accept-Language", "fr"))
	n, err := ps.eng.PurgeURL(ctx, "/v")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one URL entry")
	assert.True(t, ps.get(t, "", "/v", "Accept-Language", "fr"), "every variant is gone with it")
	assert.True(t, ps.get(t, "", "/v", "Accept-Language", "de"))

	for _, bad := range []string{"items/1", "ftp://h/x", "http:///x", "http://u:p@h/x", "%zz"} {
		_, err := ps.eng.PurgeURL(ctx, bad)
		var pe *PurgeError
		assert.True(t, errors.As(err, &pe), "%q: %v", bad, err)
	}
}

func TestPurgeTagRemovesTheEntriesWhoseAnswerCarriedIt(t *testing.T) {
	ps := newPurgeServer(t)
	ctx := context.Background()
	for _, p := range []string{"/items/1", "/items/2", "/users/1", "/other"} {
		require.True(t, ps.get(t, "", p))
	}
	n, err := ps.eng.PurgeTag(ctx, "items") // Surrogate-Key: items N
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = ps.eng.PurgeTag(ctx, "people") // Cache-Tag: users, people
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = ps.eng.PurgeTag(ctx, "2")
	require.NoError(t, err)
	assert.Zero(t, n, "items/2 is gone already, and its tags with it")
	assert.True(t, ps.get(t, "", "/items/1"))
	assert.True(t, ps.get(t, "", "/users/1"))
	assert.False(t, ps.get(t, "", "/other"), "untagged: kept")
	_, err = ps.eng.PurgeTag(ctx, " ")
	assert.Error(t, err)
}
