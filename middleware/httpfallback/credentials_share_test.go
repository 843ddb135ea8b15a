package httpfallback

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An answer to a request carrying a session cookie that says only "max-age=60,
// must-revalidate" (neither public nor s-maxage) is not stored: the next anonymous
// request is fetched, never given the cookie holder's page.
func TestCookieRequestMustRevalidateAnswerNotShared(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60, must-revalidate")
		if c, err := r.Cookie("session"); err == nil {
			fmt.Fprint(w, "hello ", c.Value)
			return
		}
		fmt.Fprint(w, "hello anonymous")
	})
	alice := hs.get("/account", "Cookie", "session=alice")
	require.Equal(t, "hello alice", alice.body)
	assert.False(t, hasParam(alice.cs(), "stored"), "alice's answer stored: %q", alice.cs())
	anon := hs.get("/account")
	assert.Equal(t, "hello anonymous", anon.body)
	assert.EqualValues(t, 2, hs.calls.Load())
}
