package httpfallback

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestHitMemo: the memoised hit strings equal the ones built afresh, inside and outside the
// memo's range, and racing first uses agree.
func TestHitMemo(t *testing.T) {
	m := new(hitMemo)
	ttls := []time.Duration{-2500 * time.Millisecond, -time.Second, 0, 999 * time.Millisecond, time.Second,
		59 * time.Second, (memoSize - 1) * time.Second, memoSize * time.Second, 100000 * time.Second}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ttl := range ttls {
				for range 2 { // first use, then the memo
					assert.Equal(t, hitStatus(ttl), m.hitStatus(ttl), ttl)
				}
			}
			for _, n := range []int64{0, 7, 99, 100, memoSize - 1, memoSize, 1 << 40} {
				assert.Equal(t, strconv.FormatInt(n, 10), m.age(n))
				assert.Equal(t, strconv.FormatInt(n, 10), m.age(n))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, "failsoft; hit; ttl=-3", m.hitStatus(-2500*time.Millisecond))
	assert.Equal(t, "failsoft; hit; ttl=0", m.hitStatus(999*time.Millisecond))
}
