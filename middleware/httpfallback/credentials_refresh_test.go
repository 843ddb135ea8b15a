package httpfallback

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A 304 answering a credentialed revalidation refreshes the shared entry exactly when a
// full answer with its header would have been stored for everyone: with a Cookie and only
// max-age, the user's header fields stay out of the entry anonymous requests are given;
// with public, the 304 refreshes it.
func TestCredentialedRevalidationRefreshesSharedEntryOnlyWhenShareable(t *testing.T) {
	for _, tt := range []struct {
		cc     string
		shared bool
	}{
		{"max-age=10", false},
		{"max-age=10, must-revalidate", false},
		{"public, max-age=10", true},
		{"s-maxage=10", true},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"x"`)
				w.Header().Set("Cache-Control", tt.cc)
				if c, err := r.Cookie("session"); err == nil {
					w.Header().Set("X-User", c.Value)
				}
				if r.Header.Get("If-None-Match") == `"x"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				fmt.Fprint(w, "page")
			})
			hs.get("/p")
			hs.clock.Advance(20 * time.Second)
			alice := hs.get("/p", "Cookie", "session=alice")
			assert.Equal(t, "page", alice.body)
			assert.Equal(t, tt.shared, hasParam(alice.cs(), "stored"), "alice: %q", alice.cs())
			anon := hs.get("/p")
			assert.Equal(t, "page", anon.body)
			if tt.shared {
				assert.True(t, hasParam(anon.cs(), "hit"), "anonymous: %q", anon.cs())
				return
			}
			assert.Empty(t, anon.header.Get("X-User"), "alice's 304 fields in the shared entry")
			assert.False(t, hasParam(anon.cs(), "hit"), "anonymous: %q", anon.cs())
		})
	}
}
