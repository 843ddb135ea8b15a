package httpfallback

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// With ShareCredentialed (keys include the credential), a successful POST carrying a
// Cookie invalidates the URL's shared entry, not only the entry of its own credential.
func TestCredentialedUnsafeRequestInvalidatesSharedEntry(t *testing.T) {
	var n atomic.Int64
	hs := newEngHarness(t, Config{Policy: cache.Policy{ShareCredentialed: true}}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "v", n.Add(1))
	})
	require.Equal(t, "v1", hs.get("/item").body)
	require.Equal(t, "v2", hs.get("/item", "Cookie", "session=alice").body)
	require.Equal(t, http.StatusNoContent, hs.do(http.MethodPost, "/item", "Cookie", "session=alice").status)
	assert.Equal(t, "v3", hs.get("/item").body, "the shared entry is invalidated")
	assert.Equal(t, "v4", hs.get("/item", "Cookie", "session=alice").body, "alice's entry is invalidated")
}
