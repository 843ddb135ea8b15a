package proxy

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A client's TE listing "trailers" (a gRPC client's "TE: trailers") reaches the upstream as
// "TE: trailers", whatever else it lists, as httputil.ReverseProxy passes it; any other TE
// is hop-by-hop and dropped.
func TestProxyPassesTETrailers(t *testing.T) {
	got := make(chan []string, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Values("Te") })
	h := newPxHarness(t, up.srv.URL, nil)
	for i, tc := range []struct {
		te   string
		want []string
	}{
		{"trailers", []string{"trailers"}},
		{" Trailers ", []string{"trailers"}},
		{"gzip;q=0.5, trailers", []string{"trailers"}},
		{"gzip", nil},
		{"trailersx", nil},
	} {
		r := h.get("/te/"+string(rune('a'+i)), "Connection", "TE", "TE", tc.te)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, tc.want, <-got, "TE %q", tc.te)
	}
}
