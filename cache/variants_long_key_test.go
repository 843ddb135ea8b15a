package cache

import (
	"strings"
	"testing"
	"time"
)

// A key longer than the store keeps as is (it stores a hash of it) still finds its
// primary entry when a variant is saved: the variants share one generation, and each is
// found. Save's read of the primary looked the raw key up, missed, and gave every variant
// a generation of its own, which retired the one saved before.
func TestSaveVariantsOfALongKeyShareTheirPrimarysGeneration(t *testing.T) {
	m := newMem(t, 1<<20)
	key := "K" + strings.Repeat("/segment", maxStoredKey/8+1)
	rEn, en := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr := langEntry(t, "fr", "fr1", t0, time.Hour)
	save(t, m, key, rEn, en)
	save(t, m, key, rFr, fr)
	equal(t, en.Generation, fr.Generation, "a variant saved while the primary is alive joins its generation")
	equal(t, "en1", lookupBody(t, m, key, "en", t0))
	equal(t, "fr1", lookupBody(t, m, key, "fr", t0))
}
