package redisstore

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// langReq is a GET of the test URL asking for lang.
func langReq(lang string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://example.test/doc", nil)
	r.Header.Set("Accept-Language", lang)
	return r
}

// langVariant is the answer to langReq(lang) at now: varies on Accept-Language, fresh for an hour.
func langVariant(t *testing.T, lang, body string, now time.Time) *cache.Entry {
	t.Helper()
	h := http.Header{"Vary": {"Accept-Language"}, "Cache-Control": {"max-age=3600"}, "Date": {now.Format(http.TimeFormat)}}
	e, err := cache.Policy{}.NewEntry(langReq(lang), http.StatusOK, h, []byte(body), now, now)
	require.NoError(t, err)
	return e
}

// lookupLang is the body cache.Lookup finds on s for lang, "" for a miss.
func lookupLang(s cache.Store, key, lang string, now time.Time) string {
	e, _ := cache.Lookup(context.Background(), s, key, langReq(lang), now)
	if e == nil {
		return ""
	}
	return string(e.Body)
}

// Must hold: an invalidation on one replica retires every variant on every replica, those
// in its local tier and the other's included, not only the primary key's entry.
func TestTieredInvalidationRetiresEveryVariant(t *testing.T) {
	clk, a, b := twoReplicas(t)
	ctx := context.Background()
	waitListening(t, a, b)
	const key = "G|http|example.test|/doc"

	en1, fr1 := langVariant(t, "en", "en1", clk.Now()), langVariant(t, "fr", "fr1", clk.Now())
	require.True(t, cache.Save(ctx, a, key, langReq("en"), en1))
	require.True(t, cache.Save(ctx, a, key, langReq("fr"), fr1))
	require.Equal(t, en1.Generation, fr1.Generation)
	remote, err := b.Remote().Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, fr1.Generation, remote.Generation, "Redis keeps the generation")

	// B serves both from Redis, and so holds them in its local tier too.
	require.Equal(t, "en1", lookupLang(b, key, "en", clk.Now()))
	require.Equal(t, "fr1", lookupLang(b, key, "fr", clk.Now()))

	a.Delete(ctx, key) // A's POST succeeded
	waitLocalGone(t, b, key, clk.Now(), "B drops the primary key A invalidated")
	for _, s := range []*Tiered{a, b} {
		assert.Equal(t, "", lookupLang(s, key, "en", clk.Now()))
		assert.Equal(t, "", lookupLang(s, key, "fr", clk.Now()))
	}

	en2 := langVariant(t, "en", "en2", clk.Now())
	require.True(t, cache.Save(ctx, b, key, langReq("en"), en2), "B fetched en again")
	assert.NotEqual(t, en1.Generation, en2.Generation)
	for name, s := range map[string]*Tiered{"A": a, "B": b} {
		assert.Equal(t, "en2", lookupLang(s, key, "en", clk.Now()), name)
		assert.Equal(t, "", lookupLang(s, key, "fr", clk.Now()),
			"%s: fr1, still fresh in its local tier and in Redis, predates the invalidation", name)
	}

	fr2 := langVariant(t, "fr", "fr2", clk.Now())
	require.True(t, cache.Save(ctx, a, key, langReq("fr"), fr2), "A fetched fr again")
	assert.Equal(t, en2.Generation, fr2.Generation, "A joins the generation B started, through Redis")
	assert.Equal(t, "fr2", lookupLang(a, key, "fr", clk.Now()))
	assert.NotEqual(t, "fr1", lookupLang(b, key, "fr", clk.Now()), "B never serves the old fr")

	// A's local tier still holds en1, fresh, under the variant key: it is a miss for A (the
	// local tier answers fresh hits without asking Redis, where en2 is), never en1; A's
	// next fetch replaces it, and from then on it is a hit.
	assert.NotEqual(t, "en1", lookupLang(a, key, "en", clk.Now()))
	en3 := langVariant(t, "en", "en3", clk.Now())
	require.True(t, cache.Save(ctx, a, key, langReq("en"), en3))
	assert.Equal(t, en2.Generation, en3.Generation)
	assert.Equal(t, "en3", lookupLang(a, key, "en", clk.Now()))
	assert.Equal(t, "fr2", lookupLang(a, key, "fr", clk.Now()))
}
