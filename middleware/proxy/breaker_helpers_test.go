package httpfallback

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// pxFastBreaker is a ProxyConfig change for the proxy's breaker tests: one attempt a
// request, the client's breaker opens after two failed requests and stays open for sleep;
// onEvent (nil: none) is the engine's OnEvent.
func pxFastBreaker(sleep time.Duration, onEvent func(Event)) func(*ProxyConfig) {
	return func(c *ProxyConfig) {
		c.Client.Retry.MaxAttempts = 1
		c.Client.Command.RequestVolumeThreshold = 2
		c.Client.Command.SleepWindow = sleep
		c.Engine.OnEvent = onEvent
	}
}

// onBreakerOpen is an OnEvent that passes an event of a circuit opening to the channel;
// while the channel holds one, later ones are dropped.
func onBreakerOpen() (func(Event), <-chan Event) {
	opened := make(chan Event, 1)
	return func(ev Event) {
		if ev.Kind == EventBreaker && ev.To == upstream.Open {
			select {
			case opened <- ev:
			default:
			}
		}
	}, opened
}

// untilOpen sends request until an opening reaches opened (from onBreakerOpen) and returns
// that event; hystrix-go's metrics update asynchronously, so it polls (bounded: 10 s).
func untilOpen(t *testing.T, opened <-chan Event, request func()) Event {
	t.Helper()
	var ev Event
	require.Eventually(t, func() bool {
		request()
		select {
		case ev = <-opened:
			return true
		default:
			return false
		}
	}, 10*time.Second, time.Millisecond)
	return ev
}
