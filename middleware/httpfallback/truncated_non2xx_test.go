package httpfallback

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A storable 3xx or 4xx (explicit freshness) whose body is shorter than its declared
// Content-Length is an invalid response, as a truncated 2xx is: never stored, never
// served as if whole.
func TestTruncatedNon2xxIsInvalidResponseNeverStored(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusNotFound, http.StatusGone} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Location", "/elsewhere")
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(status)
				fmt.Fprint(w, "short") // 5 of 100 bytes
			})
			c := hs.srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			first := doReq(t, t.Context(), c, http.MethodGet, hs.srv.URL+"/t")
			assert.Equal(t, http.StatusBadGateway, first.status)
			assert.Contains(t, first.cs(), "detail=invalid-response")
			second := doReq(t, t.Context(), c, http.MethodGet, hs.srv.URL+"/t")
			assert.False(t, hasParam(second.cs(), "hit"), "second: %q", second.cs())
			assert.EqualValues(t, 2, hs.calls.Load())
			assert.EqualValues(t, 0, hs.eng.Stats().Stored)
		})
	}
}
