package httpfallback

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behind a load balancer every request carries keyed headers (X-Forwarded-Proto, ...), so
// every entry's key holds them: PurgeURL and PurgePath key their requests with each set
// of keyed header values the origin's entries were stored with, not only with none.
func TestPurgeURLFindsEntriesStoredBehindAProxy(t *testing.T) {
	ps := newPurgeServer(t)
	ctx := context.Background()
	lb := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Port", "443"}
	require.True(t, ps.get(t, "", "/items/1", lb...))
	require.True(t, ps.get(t, "", "/items/1", "X-Forwarded-Proto", "http"))
	require.True(t, ps.get(t, "", "/items/1"))
	require.False(t, ps.get(t, "", "/items/1", lb...), "stored")

	n, err := ps.eng.PurgeURL(ctx, ps.srv.URL+"/items/1")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the entry of each set of keyed headers, and the one of none")
	assert.True(t, ps.get(t, "", "/items/1", lb...), "purged: fetched again")
	assert.True(t, ps.get(t, "", "/items/1", "X-Forwarded-Proto", "http"), "purged: fetched again")

	require.False(t, ps.get(t, "", "/items/1", lb...), "stored again")
	n, err = ps.eng.PurgePath(ctx, "/items/1")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.True(t, ps.get(t, "", "/items/1", lb...), "purged by path: fetched again")
}
