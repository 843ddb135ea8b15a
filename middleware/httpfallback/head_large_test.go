package httpfallback

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/bigbody"
)

// A HEAD whose answer is too large to store gets its headers, and the wrapped handler's
// writes then fail (as net/http's do for HEAD), so it stops instead of producing a body
// nobody reads. Nothing is stored and the breaker is not told of a failure.
func TestHandlerHeadOfLargeAnswerStopsTheSource(t *testing.T) {
	src := bigbody.New(64 << 20)
	hs := newEngHarness(t, Config{Policy: cache.Policy{MaxBodyBytes: 4 << 10}}, src.ServeHTTP)
	r := hs.do(http.MethodHead, "/big")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Contains(t, r.cs(), "detail=too-large")
	res := src.Result(t)
	assert.ErrorIs(t, res.Err, http.ErrBodyNotAllowed)
	assert.Less(t, res.Written, 64<<10, "the handler stopped at the first write past the buffer")
	assert.Zero(t, hs.eng.Stats().Errors)
	assert.Zero(t, hs.eng.Stats().Stored)
}
