package upstream

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A failing answer's body, read ahead whole within the drain limit, with or without a
// Content-Length (a chunked body starts in a small buffer and grows), becomes the
// StatusError's excerpt: the whole body up to MaxExcerpt, else its first MaxExcerpt bytes,
// call after call.
func TestClientFailureExcerptOfBodiesReadAhead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
	}{
		{"empty", 0, false},
		{"short", 11, false},
		{"short-chunked", 11, true},
		{"exactly-excerpt", MaxExcerpt, false},
		{"longer-than-excerpt", MaxExcerpt + 1, false},
		{"longer-chunked", 3*MaxExcerpt + 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Repeat("abcdefghij", tc.size/10+1)[:tc.size]
			f := newFixture(t, ClientConfig{Retry: RetryPolicy{MaxAttempts: 1}}, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				for rest := body; rest != ""; {
					n := min(len(rest), 1000)
					_, _ = io.WriteString(w, rest[:n])
					rest = rest[n:]
					if tc.chunked {
						w.(http.Flusher).Flush() // no Content-Length: chunked
					}
				}
			})
			for range 2 {
				_, err := f.c.Do(f.req(t, "GET", nil))
				se, ok := errors.AsType[*StatusError](err)
				require.True(t, ok, "a StatusError: %v", err)
				assert.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
				want := body[:min(len(body), MaxExcerpt)]
				assert.Equal(t, want, string(se.Body))
			}
		})
	}
}
