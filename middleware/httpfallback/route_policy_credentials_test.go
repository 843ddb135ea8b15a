package httpfallback

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// A route whose Policy (Config.Routes) stores answers to credentialed requests
// (ShareCredentialed) gets keys that include the credential, as Config.Policy's would:
// one user's answer is never served to another user, nor to an anonymous request.
func TestRoutePolicySharingCredentialedAnswersKeysThemByCredential(t *testing.T) {
	cfg := Config{Route: func(r *http.Request) string { return r.URL.Path }}
	cfg.Routes = map[string]RouteSettings{"/me": {Policy: &cache.Policy{ShareCredentialed: true}}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello ", r.Header.Get("Authorization"))
	})
	alice := hs.get("/me", "Authorization", "alice")
	require.Equal(t, "hello alice", alice.body)
	assert.Equal(t, "hello alice", hs.get("/me", "Authorization", "alice").body)
	assert.Equal(t, "hello bob", hs.get("/me", "Authorization", "bob").body, "bob never gets alice's answer")
	assert.Equal(t, "hello ", hs.get("/me").body, "an anonymous request never gets alice's answer")
}
