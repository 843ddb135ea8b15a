package httpfallback

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// paramKey stands for a router that keeps path parameters in the request's context (chi,
// gorilla): a handler behind the engine reads its parameter from there.
type paramKey struct{}

// The background fetch of a key holding a stale entry keeps the request's context values:
// a handler reading a router's parameter from the context answers for the right item, and
// that answer is what is stored under the item's key. The fetch knows it runs in the
// background (InBackground), and the request's own fetch does not.
func TestBackgroundFetchKeepsTheRequestsContextValues(t *testing.T) {
	clk := fakeclock.New()
	eng, err := New(Config{Common: upstream.Common{Now: clk.Now, Command: upstream.Settings{Timeout: 30 * time.Second}}, SoftTimeout: time.Hour})
	require.NoError(t, err)
	background := make(chan bool, 4)
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		background <- InBackground(r.Context())
		id, _ := r.Context().Value(paramKey{}).(string)
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "item ", id)
	}))
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), paramKey{}, r.URL.Path[len("/items/"):])))
	})
	srv := httptest.NewServer(router)
	defer func() { srv.Close(); require.NoError(t, eng.Close()) }()
	get := func() (string, string) {
		resp, err := srv.Client().Get(srv.URL + "/items/42")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b), resp.Header.Get("Cache-Status")
	}
	body, _ := get()
	require.Equal(t, "item 42", body)
	assert.False(t, <-background, "the first fetch is the request's own")

	clk.Advance(15 * time.Second) // past fresh: the refetch runs in the background
	body, cs := get()
	assert.Equal(t, "item 42", body)
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; stored", cs)
	assert.True(t, <-background, "the refetch ran in the background")
}
