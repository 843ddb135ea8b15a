package httpfallback

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The default clock shared by concurrent requests: every reading lies between a time.Now
// taken before it and one taken after (monotonic order), and the readings of one goroutine
// never go backwards, whichever goroutine last re-read the wall clock (an old reading is
// planted so that the re-reads race with the derived readings).
func TestDefaultClockConcurrentReadingsStayInOrder(t *testing.T) {
	var c wallClock
	old := time.Now().Add(-time.Second)
	c.last.Store(&old)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var prev time.Time
			for i := range 2000 {
				before := time.Now()
				got := c.now()
				after := time.Now()
				if got.Before(before) || got.After(after) || got.Before(prev) {
					assert.Fail(t, "out of order", "goroutine %d reading %d: %v not in [%v, %v] or before %v", g, i, got, before, after, prev)
					return
				}
				prev = got
			}
		})
	}
	wg.Wait()
}
