package httpfallback_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/conformtest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// handlerMount serves origin through the net/http middleware (Engine.Handler).
func handlerMount(t *testing.T, cfg httpfallback.Config, origin http.Handler) (string, *http.Client) {
	eng, err := httpfallback.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(eng.Handler(origin))
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, eng.Close())
	})
	return srv.URL, srv.Client()
}

func TestHandlerRFC9111Section3Storing(t *testing.T) { conformtest.Storing(t, handlerMount) }
func TestHandlerRFC9111Section4Reuse(t *testing.T)   { conformtest.Reuse(t, handlerMount) }
func TestHandlerRFC9111Section5Fields(t *testing.T)  { conformtest.Fields(t, handlerMount) }
func TestHandlerRFC9110Section14Range(t *testing.T)  { conformtest.Range(t, handlerMount) }
