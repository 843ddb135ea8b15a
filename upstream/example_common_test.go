package upstream_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/failsoft/failsoft/upstream"
)

// The settings a Client shares with a fallback engine are written once and embedded in
// both configs (httpfallback.Config embeds upstream.Common too).
func ExampleCommon() {
	shared := upstream.Common{
		Command:         upstream.Settings{Timeout: 800 * time.Millisecond, SleepWindow: 10 * time.Second},
		FailureStatuses: []int{http.StatusTooManyRequests},
	}
	cfg := upstream.ClientConfig{Common: shared, Retry: upstream.RetryPolicy{MaxAttempts: 2}}
	cfg.Command.Name = "inventory" // required by NewClient; an engine names its own commands
	c, err := upstream.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Runner().Name(), c.Runner().Timeout())

	cfg.Command.Timeout = -time.Second
	_, err = upstream.NewClient(cfg)
	fmt.Println(err)
	// Output:
	// inventory 800ms
	// upstream: ClientConfig.Command.Timeout -1s is negative
}

// WithDefaults is what NewClient and httpfallback.New apply to the shared settings: the
// defaults filled in, and errors naming the field under the struct that embeds them.
func ExampleCommon_WithDefaults() {
	c, err := upstream.Common{}.WithDefaults("Config")
	fmt.Println(c.Command.Timeout, c.Command.MaxConcurrent, c.Command.SleepWindow, err)

	_, err = upstream.Common{FailureStatuses: []int{42}}.WithDefaults("Config")
	fmt.Println(err)
	// Output:
	// 1s 100 5s <nil>
	// Config.FailureStatuses[0] is not an HTTP status (42)
}
