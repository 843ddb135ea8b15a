package cache_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// NewEntryOwning keeps the caller's body bytes (capped at their length, so that appending
// to the entry's body cannot reach the caller's spare capacity); NewEntry keeps a copy.
// Both build the same entry otherwise, and both refuse what the policy refuses.
func TestNewEntryOwningKeepsTheBodyWhereNewEntryCopiesIt(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	h := http.Header{"Cache-Control": {"max-age=60"}, "Content-Length": {"5"}}
	body := make([]byte, 5, 8)
	copy(body, "hello")

	owning, err := cache.Policy{}.NewEntryOwning(req, http.StatusOK, h, body, t0, t0)
	require.NoError(t, err)
	copied, err := cache.Policy{}.NewEntry(req, http.StatusOK, h, body, t0, t0)
	require.NoError(t, err)

	assert.Same(t, &body[0], &owning.Body[0], "the owning entry keeps the caller's bytes")
	assert.Equal(t, 5, cap(owning.Body), "capped at the body's length")
	assert.NotSame(t, &body[0], &copied.Body[0], "NewEntry copies")
	assert.Equal(t, copied.Body, owning.Body)
	assert.Equal(t, copied.Header, owning.Header)
	assert.Equal(t, copied.FreshUntil, owning.FreshUntil)

	_, err = cache.Policy{}.NewEntryOwning(req, http.StatusOK, http.Header{"Cache-Control": {"no-store"}}, body, t0, t0)
	var ns *cache.NotStorableError
	require.ErrorAs(t, err, &ns)
	assert.Equal(t, "no-store", ns.Reason)
}

func ExamplePolicy_NewEntryOwning() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	h := http.Header{"Cache-Control": {"max-age=60"}, "Content-Length": {"5"}}

	// A buffer sized exactly to the response, done with once the entry is built: the
	// entry takes its bytes instead of a copy. They must not change afterwards.
	body := make([]byte, 0, 5)
	body = append(body, "hello"...)
	e, err := cache.Policy{}.NewEntryOwning(req, http.StatusOK, h, body, t0, t0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(e.Body), &e.Body[0] == &body[0], e.State(t0.Add(time.Minute/2)))
	// Output: hello true fresh
}
