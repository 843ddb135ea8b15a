package cache

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseTagsReadsSurrogateKeyAndCacheTag(t *testing.T) {
	h := http.Header{}
	h.Add("Surrogate-Key", "a  b")
	h.Add("Surrogate-Key", "c a")
	h.Add("Cache-Tag", "d, b ,,e")
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, ParseTags(h))
	assert.Nil(t, ParseTags(http.Header{"Content-Type": {"text/plain"}}))
}

func TestTagsIndexIsBoundedAndDropsRemovedKeys(t *testing.T) {
	tg := NewTags(6)
	for i := range 5 {
		tg.Add("k"+strconv.Itoa(i), []string{"all", "t" + strconv.Itoa(i)})
	}
	assert.LessOrEqual(t, tg.Len(), 6, "at most the bound of (key, tag) pairs")
	keys := tg.Keys("all")
	sort.Strings(keys)
	assert.Equal(t, []string{"k2", "k3", "k4"}, keys, "the oldest keys leave the index first")
	assert.Empty(t, tg.Keys("t0"))

	tg.Remove("k3")
	assert.Equal(t, []string{"k4"}, tg.Keys("t4"))
	assert.Empty(t, tg.Keys("t3"), "a removed key's tags go with it")
	assert.Equal(t, 4, tg.Len())

	// A key re-added after its removal is indexed again, and churn does not grow the index.
	for i := range 1000 {
		k := "c" + strconv.Itoa(i%3)
		tg.Add(k, []string{"churn"})
		tg.Remove(k)
	}
	tg.Add("k3", []string{"t3"})
	assert.Equal(t, []string{"k3"}, tg.Keys("t3"))
	assert.LessOrEqual(t, len(tg.order), 2*len(tg.byKey)+64)

	// One key with more tags than the bound is kept whole rather than not indexed.
	big := NewTags(2)
	big.Add("only", []string{"x", "y", "z"})
	assert.Equal(t, []string{"only"}, big.Keys("z"))
	big.Remove("only")
	assert.Equal(t, 0, big.bytes, "bytes after the last key's removal")
}

// Long keys (hostile URLs whose answers carry tags) fill the byte bound before the pair
// bound: the index then holds fewer keys, never more bytes, and keeps the newest.
func TestTagsBoundTheBytesOfLongKeys(t *testing.T) {
	const pairs = 1000
	tg := NewTags(pairs)
	pad := strings.Repeat("q", 8<<10) // an 8 KiB URL
	last := ""
	for i := range pairs {
		last = "GET http://a/x?" + pad + strconv.Itoa(i)
		tg.Add(last, []string{"t"})
	}
	held := 0
	for _, k := range tg.Keys("t") {
		held += len(k) + len("t") + tagBookkeeping
	}
	if max := pairs * TagPairBytes; held > max {
		t.Fatalf("the index holds %d bytes of keys and tags, over its bound %d", held, max)
	}
	if n := tg.Len(); n == 0 || n >= pairs {
		t.Fatalf("%d pairs held: want some, fewer than the %d the pair bound allows", n, pairs)
	}
	if !slices.Contains(tg.Keys("t"), last) {
		t.Fatal("the newest key was dropped")
	}
	tg.Add(strings.Repeat("k", pairs*TagPairBytes), []string{"t"})
	if slices.Contains(tg.Keys("t"), strings.Repeat("k", pairs*TagPairBytes)) {
		t.Fatal("a key longer than the byte bound on its own was indexed")
	}
}
