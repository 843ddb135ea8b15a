package httpfallback

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// A Config.Validate that panics is a failing answer (invalid-response), like a panicking
// source: the request is answered, and the command's concurrency slot is given back (it
// was held forever, so that MaxConcurrent such answers made the route overloaded for good).
func TestValidatePanicIsInvalidResponseAndFreesTheSlot(t *testing.T) {
	cfg := Config{
		Common: upstream.Common{Command: upstream.Settings{MaxConcurrent: 1}},
		Validate: func(int, http.Header, []byte) error {
			panic("validator bug")
		},
	}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	for i := range 3 {
		r := hs.get(fmt.Sprintf("/v%d", i))
		require.Equal(t, http.StatusBadGateway, r.status, r.cs())
		assert.Contains(t, r.cs(), "detail=invalid-response")
	}
	assert.EqualValues(t, 3, hs.calls.Load(), "every request reached the handler: no slot was kept")
}
