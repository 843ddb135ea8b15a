package upstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RetryPolicy configures retries. Every zero value is a documented default; negative values
// are refused by NewClient naming the field.
type RetryPolicy struct {
	MaxAttempts   int           // 0: 3; 1 disables retries
	BaseDelay     time.Duration // 0: 100ms; the first backoff is drawn from [0, BaseDelay]
	MaxDelay      time.Duration // 0: 2s (backoff cap)
	MaxRetryAfter time.Duration // 0: 30s (Retry-After cap)
	RetryStatuses []int         // nil: 429, 500, 502, 503, 504; empty, not nil: none
}

// Defaults of RetryPolicy's zero values.
const (
	DefaultMaxAttempts   = 3
	DefaultBaseDelay     = 100 * time.Millisecond
	DefaultMaxDelay      = 2 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// defaultRetryStatuses are retried when RetryPolicy.RetryStatuses is nil.
var defaultRetryStatuses = [...]int{
	http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("upstream: RetryPolicy.MaxAttempts %d is negative", p.MaxAttempts)
	case p.BaseDelay < 0:
		return p, fmt.Errorf("upstream: RetryPolicy.BaseDelay %v is negative", p.BaseDelay)
	case p.MaxDelay < 0:
		return p, fmt.Errorf("upstream: RetryPolicy.MaxDelay %v is negative", p.MaxDelay)
	case p.MaxRetryAfter < 0:
		return p, fmt.Errorf("upstream: RetryPolicy.MaxRetryAfter %v is negative", p.MaxRetryAfter)
	}
	for _, s := range p.RetryStatuses {
		if s < 100 || s > 999 {
			return p, fmt.Errorf("upstream: RetryPolicy.RetryStatuses: %d is not an HTTP status", s)
		}
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.RetryStatuses == nil {
		p.RetryStatuses = defaultRetryStatuses[:]
	}
	return p, nil
}

// retryStatus reports whether status is retried.
func (p RetryPolicy) retryStatus(status int) bool {
	for _, s := range p.RetryStatuses {
		if s == status {
			return true
		}
	}
	return false
}

// backoff returns the full-jitter delay before retry number n (1 for the first retry):
// uniform in [0, min(MaxDelay, BaseDelay*2^(n-1))].
func (p RetryPolicy) backoff(n int, rnd func(n int64) int64) time.Duration {
	ceiling := p.MaxDelay
	if n-1 < 62 {
		if d := p.BaseDelay << (n - 1); d > 0 && d>>(n-1) == p.BaseDelay && d < ceiling {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	bound := int64(ceiling)
	if bound < math.MaxInt64 { // else saturated: [0, MaxInt64)
		bound++
	}
	return time.Duration(rnd(bound))
}

// lockedRand makes a *rand.Rand safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) int64n(n int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n)
}

// idempotent reports whether req may be retried: an idempotent method (RFC 9110 9.2.2),
// and an idempotent one named by its method-override fields when it carries any (see
// MethodOverride: an upstream honouring X-HTTP-Method-Override: POST on a GET would run
// that POST once per attempt); or an Idempotency-Key header.
func idempotent(req *http.Request) bool {
	if idempotentMethod(req.Method) {
		m, ok := MethodOverride(req.Header)
		if !ok || idempotentMethod(m) {
			return true
		}
	}
	return req.Header.Get("Idempotency-Key") != ""
}

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryable reports whether an attempt that ended with err may be tried again.
func retryable(err error) bool {
	switch {
	case errors.Is(err, ErrCircuitOpen), errors.Is(err, ErrOverloaded),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrTimeout),
		isType[*PanicError](err), errors.Is(err, errCredential):
		return false
	}
	return true
}

// ParseRetryAfter parses a Retry-After value (RFC 9110 10.2.3): delay-seconds or an
// HTTP-date, relative to now. A date in the past is 0. It reports false for anything
// else. Huge second counts saturate rather than overflow; callers cap the result.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if allDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true // out of range: saturate
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sleepCtx waits d or until ctx is done, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
