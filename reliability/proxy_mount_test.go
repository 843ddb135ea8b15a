package reliability

import (
	"net/http"
	"testing"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// proxyAvailable says whether httpfallback.NewProxy exists in this tree yet.
const proxyAvailable = false

func newProxyMount(t *testing.T, base string, eng httpfallback.Config, cl upstream.ClientConfig) http.Handler {
	t.Fatal("httpfallback.NewProxy is not in the tree yet")
	return nil
}
