package upstream

import (
	"fmt"
	"log/slog"
	"time"
)

// Common holds the settings a Client and a fallback engine (httpfallback.Config) both take:
// how calls to the upstream run and when they fail, where logs go, and the clock. It is
// embedded in ClientConfig and in httpfallback.Config, so its fields are set and read as
// theirs (cfg.Command.Timeout, cfg.Logger). What each owner does with a field beyond what
// is said here is in the owner's doc. Every zero value is a documented default.
type Common struct {
	// Command configures the command the calls run as: timeout, concurrency limit and
	// circuit breaker (see Settings for each field's default).
	Command Settings
	// FailureStatuses are answer statuses that count as failures besides 5xx (for
	// example 429): the breaker counts them and the answer is not treated as good. Each
	// must be an HTTP status (100-999).
	FailureStatuses []int
	// Logger receives the owner's logs; nil means nothing is logged. Header values are
	// never logged.
	Logger *slog.Logger
	// Now is the clock; nil means the system's (time.Now; an engine reads it more
	// cheaply, see httpfallback.Config).
	Now func() time.Time
}

// WithDefaults validates c and returns it with its zero values replaced by their defaults
// (Settings' for Command; time.Now for Now). An error names the invalid field as a field of
// owner, the struct c is embedded in as the caller writes it: owner "Config" gives
// "Config.Command.Timeout -1s is negative". Command.Name is neither checked nor filled:
// whether it is required is the owner's rule. NewClient and httpfallback.New call it.
func (c Common) WithDefaults(owner string) (Common, error) {
	if err := c.Command.check(owner + ".Command"); err != nil {
		return c, err
	}
	for i, s := range c.FailureStatuses {
		if s < 100 || s > 999 {
			return c, fmt.Errorf("%s.FailureStatuses[%d] is not an HTTP status (%d)", owner, i, s)
		}
	}
	c.Command = c.Command.filled()
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
