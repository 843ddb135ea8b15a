package proxy

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// An X-Forwarded-For the client's Connection header names is hop-by-hop: it is not kept
// as the earlier hops' addresses, and the upstream sees only the client's address (as
// with httputil.ReverseProxy, which removes Connection's fields first).
func TestProxyConnectionListedForwardedForIsNotKept(t *testing.T) {
	got := make(chan []string, 2)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Values("X-Forwarded-For")
	})
	h := newPxHarness(t, up.srv.URL, nil)

	r := h.get("/listed", "Connection", "X-Forwarded-For", "X-Forwarded-For", "203.0.113.9")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, []string{"127.0.0.1"}, <-got)

	r = h.get("/kept", "X-Forwarded-For", "203.0.113.9")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, []string{"203.0.113.9, 127.0.0.1"}, <-got)
}
