package cache

import (
	"net/http"
	"strings"
	"sync"
)

// DefaultMaxTagged bounds a Tags index made with NewTags(0).
const DefaultMaxTagged = 1 << 16

// maxTagLen bounds one tag; longer ones are not indexed (Fastly allows 1 KiB).
const maxTagLen = 1024

// ParseTags returns the tags an answer carries for purging by tag: the space-separated
// values of Surrogate-Key (Fastly, Souin) and the comma-separated values of Cache-Tag
// (Cloudflare, Souin), without duplicates; nil when it carries none. Tags longer than 1 KiB
// are ignored.
func ParseTags(h http.Header) []string {
	sk, ct := h["Surrogate-Key"], h["Cache-Tag"]
	if len(sk) == 0 && len(ct) == 0 {
		return nil
	}
	var tags []string
	add := func(t string) {
		if t = strings.TrimSpace(t); t == "" || len(t) > maxTagLen {
			return
		}
		for _, have := range tags {
			if have == t {
				return
			}
		}
		tags = append(tags, t)
	}
	for _, v := range sk {
		for _, t := range strings.Fields(v) {
			add(t)
		}
	}
	for _, v := range ct {
		for t := range strings.SplitSeq(v, ",") {
			add(t)
		}
	}
	return tags
}

// Tags indexes stored keys by the tags of their answers, for purging by tag. It holds at
// most a bounded number of (key, tag) pairs, and of bytes (TagPairBytes a pair: the keys'
// and tags' lengths and the index's bookkeeping, so that long keys index fewer): past
// either bound the oldest indexed keys are dropped from it (their entries stay stored, but
// a purge by tag no longer finds them). The key just indexed is kept whole, even when its
// own tags are over the bound; a key too long for the byte bound on its own is not indexed.
// Entries that leave the store by other ways (evicted, expired) are dropped from the index
// when a purge finds them gone, or when the bound pushes them out; the index never holds
// entries, only their keys. It works with any Store. Safe for concurrent use.
type Tags struct {
	mu       sync.Mutex
	max      int
	maxBytes int // max * TagPairBytes
	pairs    int
	bytes    int // the keys' and tags' lengths, and tagBookkeeping a pair
	byTag    map[string]map[string]struct{}
	byKey    map[string]*tagged
	order    []tagSlot // keys in the order they were first indexed (oldest first), and removed ones
	seq      uint64
}

// tagSlot is a place in Tags.order: live while byKey[key].seq is seq.
type tagSlot struct {
	key string
	seq uint64
}

type tagged struct {
	tags []string
	seq  uint64 // the order entry that is this key's live one
}

// TagPairBytes is the bytes a Tags index may hold per pair of its bound, on average: the
// index of DefaultMaxTagged pairs holds at most 16 MiB.
const TagPairBytes = 256

// tagBookkeeping is what the index charges a pair besides the tag's length: its entries in
// the two maps and the key's slice of tags (estimated, go1.26, amd64).
const tagBookkeeping = 96

// NewTags returns an index of at most maxPairs (key, tag) pairs and maxPairs*TagPairBytes
// bytes; 0 means DefaultMaxTagged.
func NewTags(maxPairs int) *Tags {
	if maxPairs <= 0 {
		maxPairs = DefaultMaxTagged
	}
	return &Tags{max: maxPairs, maxBytes: maxPairs * TagPairBytes,
		byTag: make(map[string]map[string]struct{}), byKey: make(map[string]*tagged)}
}

// Add indexes key under tags, besides the tags it already has (an entry replaced by a
// newer answer keeps its older tags until it is removed: a purge by one of them removes
// the newer answer too, which costs a refetch, never a stale answer).
func (t *Tags) Add(key string, tags []string) {
	if len(tags) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.byKey[key]
	if k == nil {
		if len(key)+tagBookkeeping > t.maxBytes {
			return
		}
		t.seq++
		k = &tagged{seq: t.seq}
		t.byKey[key] = k
		t.order = append(t.order, tagSlot{key, k.seq})
		t.bytes += len(key)
	}
	for _, tag := range tags {
		set := t.byTag[tag]
		if set == nil {
			set = make(map[string]struct{})
			t.byTag[tag] = set
		}
		if _, ok := set[key]; ok {
			continue
		}
		set[key] = struct{}{}
		k.tags = append(k.tags, tag)
		t.pairs++
		t.bytes += len(tag) + tagBookkeeping
	}
	// Over a bound: drop the oldest keys, never the one just added.
	for (t.pairs > t.max || t.bytes > t.maxBytes) && len(t.byKey) > 1 && len(t.order) > 0 {
		oldest := t.order[0]
		t.order = t.order[1:]
		switch live := t.byKey[oldest.key]; {
		case live == nil || live.seq != oldest.seq:
			// removed earlier: skip its slot
		case oldest.key == key:
			t.order = append(t.order, oldest)
		default:
			t.removeLocked(oldest.key)
		}
	}
	if len(t.order) > 2*len(t.byKey)+64 {
		live := make([]tagSlot, 0, len(t.byKey))
		for _, o := range t.order {
			if k := t.byKey[o.key]; k != nil && k.seq == o.seq {
				live = append(live, o)
			}
		}
		t.order = live
	}
}

// Remove drops key from the index (its entry was purged or is gone).
func (t *Tags) Remove(key string) {
	t.mu.Lock()
	t.removeLocked(key)
	t.mu.Unlock()
}

func (t *Tags) removeLocked(key string) {
	k := t.byKey[key]
	if k == nil {
		return
	}
	delete(t.byKey, key)
	t.bytes -= len(key)
	for _, tag := range k.tags {
		t.bytes -= len(tag) + tagBookkeeping
		if set := t.byTag[tag]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(t.byTag, tag)
			}
		}
	}
	t.pairs -= len(k.tags) // its slot in order is skipped, and compacted away by Add
}

// Keys returns the keys indexed under tag.
func (t *Tags) Keys(tag string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.byTag[tag]
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	return keys
}

// Len returns how many (key, tag) pairs the index holds.
func (t *Tags) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pairs
}

// KeyOrigin is the scheme and host Key keys r under, as "scheme://host" (see KeyHost): the
// origin a purge by URL must name to find r's entry.
func KeyOrigin(r *http.Request) string { return keyScheme(r) + "://" + KeyHost(r) }
