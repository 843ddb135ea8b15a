package reliability

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// TestNoSpuriousOverload: a Runner never refuses work as overloaded while far fewer calls
// than MaxConcurrent are running, even when the process is busy collecting garbage (which
// delays hystrix-go's metric goroutines, and with them the return of its tickets).
func TestNoSpuriousOverload(t *testing.T) {
	n := newNames(t)
	const limit, workers, perWorker = 16, 4, 3000
	r, err := upstream.NewRunner(upstream.Settings{Name: n.next("runner"), Timeout: 10 * time.Second, MaxConcurrent: limit})
	require.NoError(t, err)
	defer r.Close()
	sampler := startHeapSampler(time.Millisecond) // frequent stop-the-world pauses
	defer sampler.stop()

	var running, peak, overloaded atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sink [][]byte
			for i := range perWorker {
				err := r.Run(context.Background(), func(context.Context) error {
					cur := running.Add(1)
					for {
						p := peak.Load()
						if cur <= p || peak.CompareAndSwap(p, cur) {
							break
						}
					}
					sink = append(sink[:0], make([]byte, 16<<10)) // garbage: keeps the GC busy
					running.Add(-1)
					return nil
				})
				if errors.Is(err, upstream.ErrOverloaded) {
					overloaded.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else if err != nil {
					t.Errorf("call %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(workers))
	require.Zero(t, overloaded.Load(), "refused as overloaded with at most %d of %d running (first: %v)", workers, limit, firstErr.Load())
}
