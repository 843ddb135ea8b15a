package httpfallback

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A 304 whose validator is not the stored entry's — another weak ETag, or another
// Last-Modified when the entry has no ETag — does not update the entry: the engine asks
// again unconditionally and serves the new body, never the old one under the new
// validator. A 304 with the entry's weak ETag refreshes it.
func TestNotModifiedWithAnotherValidatorRefetches(t *testing.T) {
	old, now := httpDate(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), httpDate(time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC))
	for _, tt := range []struct {
		name           string
		field, was, is string
		refetched      bool
	}{
		{"other weak ETag", "Etag", `W/"a"`, `W/"b"`, true},
		{"other Last-Modified", "Last-Modified", old, now, true},
		{"same weak ETag", "Etag", `W/"a"`, `W/"a"`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=10")
				if n.Add(1) == 1 {
					w.Header().Set(tt.field, tt.was)
					fmt.Fprint(w, "body-a")
					return
				}
				w.Header().Set(tt.field, tt.is)
				if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
					w.WriteHeader(http.StatusNotModified) // whatever the validator asked
					return
				}
				fmt.Fprint(w, "body-b")
			})
			hs.get("/v")
			hs.clock.Advance(20 * time.Second)
			r := hs.get("/v")
			assert.Equal(t, tt.is, r.header.Get(tt.field))
			if !tt.refetched {
				assert.Equal(t, "body-a", r.body)
				assert.EqualValues(t, 2, n.Load())
				return
			}
			assert.Equal(t, "body-b", r.body)
			assert.EqualValues(t, 3, n.Load(), "asked again, unconditionally")
			assert.Equal(t, "body-b", hs.get("/v").body, "the new body is stored")
		})
	}
}
