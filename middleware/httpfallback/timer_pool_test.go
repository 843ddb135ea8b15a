package httpfallback

import (
	"testing"
	"time"
)

// A timer taken from the pool for a long wait never delivers a value left from its
// earlier use, whether that use's value was received (the wait timed out) or not (the
// wait ended first, with the timer fired or about to fire): a request must not see a lock
// or soft timeout that belonged to another request.
func TestTimerPoolReusedTimerDoesNotFireEarly(t *testing.T) {
	var tp timerPool
	for i := range 200 {
		short := tp.start(time.Nanosecond)
		if i%2 == 0 {
			<-short.C // this use timed out
		}
		tp.put(short)
		long := tp.start(time.Hour)
		select {
		case <-long.C:
			t.Fatalf("use %d: the reused timer fired at once", i)
		default:
		}
		tp.put(long)
	}
}
