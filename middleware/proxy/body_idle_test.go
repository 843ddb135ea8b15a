package proxy

import (
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The body idle timeout is per read, not for the whole body: a slow body that keeps
// arriving is copied whole, one that pauses longer than the timeout is cut. (synctest's
// fake clock makes the pauses exact.)
func TestProxyCopyBodyIdleTimeout(t *testing.T) {
	const idle = time.Second
	for _, c := range []struct {
		name    string
		pause   time.Duration
		chunks  int
		stalled bool
	}{
		{"slow but steady", idle / 2, 10, false}, // 5s in all, each pause under the timeout
		{"stalls", 2 * idle, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &Proxy{idle: idle}
				p.bufs.New = func() any { b := make([]byte, 1024); return &b }
				pr, pw := io.Pipe()
				done := make(chan struct{})
				go func() {
					defer close(done)
					for range c.chunks {
						if _, err := io.WriteString(pw, "chunk"); err != nil {
							return
						}
						time.Sleep(c.pause) // fake time: the upstream pausing
					}
					pw.Close()
				}()
				var out strings.Builder
				n, readErr, writeErr := p.copyBody(&out, pr, func() { pw.CloseWithError(errBodyStalled) })
				<-done
				require.NoError(t, writeErr)
				if c.stalled {
					require.ErrorIs(t, readErr, errBodyStalled)
					require.EqualValues(t, len("chunk"), n)
					return
				}
				require.NoError(t, readErr)
				require.Equal(t, strings.Repeat("chunk", c.chunks), out.String())
			})
		})
	}
}
