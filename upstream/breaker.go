package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/afex/hystrix-go/hystrix"
)

// event is an outcome as hystrix-go counts it (its metric event types).
type event uint8

const (
	evSuccess      event = iota // "success"
	evFailure                   // "failure"
	evTimeout                   // "timeout"
	evCanceled                  // "context_canceled": neutral
	evDeadline                  // "context_deadline_exceeded": neutral
	evShortCircuit              // "short-circuit": refused by the open circuit
	numEvents
)

// breaker is the circuit a Runner drives. The production implementation is hystrix-go;
// tests in this package swap in a fake.
type breaker interface {
	// do runs fn as one command and returns its error, with the breaker's own refusals
	// mapped to ErrCircuitOpen, ErrOverloaded and ErrTimeout.
	do(ctx context.Context, fn func(context.Context) error) error
	// isOpen reads the circuit without consuming a half-open probe.
	isOpen() bool
	// allow admits one call run by the caller itself (Runner.Admit), as do would: false
	// when the circuit refuses it (the refusal is recorded); true consumes a half-open probe.
	// read is the state the Runner has just read (Closed or HalfOpen): a circuit read
	// closed admits the call without being read again.
	allow(read BreakerState) bool
	// report records the outcome of a call allow admitted, once: start is when it was
	// admitted.
	report(ev event, start time.Time)
}

// hystrixBreaker runs commands through hystrix-go's global, name-keyed circuits. Each
// breaker registers a circuit of its own, under the command's name and a random suffix:
// hystrix never frees a circuit, so a name the caller reuses (a config reload, an engine
// rebuilt after Close) must not meet the settings or the state of an earlier circuit.
type hystrixBreaker struct {
	name    string // the command's name, for errors
	circuit string // hystrix's name of the circuit: name#suffix
	cb      *hystrix.CircuitBreaker
	events  [numEvents][]string // hystrix's event type of each event, read only
}

// newHystrixBreaker configures a circuit of its own for the command, before its first use.
func newHystrixBreaker(s Settings) (*hystrixBreaker, error) {
	circuit, err := circuitName(s.Name)
	if err != nil {
		return nil, err
	}
	hystrix.ConfigureCommand(circuit, hystrix.CommandConfig{
		Timeout:                msCeil(s.Timeout),
		MaxConcurrentRequests:  hystrixTickets(s.MaxConcurrent),
		RequestVolumeThreshold: s.RequestVolumeThreshold,
		SleepWindow:            msCeil(s.SleepWindow),
		ErrorPercentThreshold:  s.ErrorPercentThreshold,
	})
	cb, _, err := hystrix.GetCircuit(circuit)
	if err != nil {
		return nil, fmt.Errorf("upstream: Settings.Name %q: %w", s.Name, err)
	}
	h := &hystrixBreaker{name: s.Name, circuit: circuit, cb: cb}
	for ev, name := range [numEvents]string{"success", "failure", "timeout", "context_canceled", "context_deadline_exceeded", "short-circuit"} {
		h.events[ev] = []string{name}
	}
	return h, nil
}

// circuitName is name and a random suffix ("name#" + 16 hex digits) that no other circuit
// of the process has: a hystrix circuit is configured once and never freed, so a name
// already known is drawn again.
func circuitName(name string) (string, error) {
	var b [8]byte
	for range 4 {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("upstream: Settings.Name %q: %w", name, err)
		}
		c := name + "#" + hex.EncodeToString(b[:])
		if _, exists := hystrix.GetCircuitSettings()[c]; !exists {
			return c, nil
		}
	}
	return "", fmt.Errorf("upstream: Settings.Name %q: no free hystrix circuit name", name)
}

// hystrixTickets sizes hystrix's own concurrency pool. The Runner's semaphore is the limit
// in force; hystrix's pool is only a backstop with plenty of room, for two measured reasons:
// hystrix hands a ticket back after the run has returned (DoC may already have returned),
// and it does so through an unbuffered metrics channel, so under a tight loop of fast
// commands thousands of tickets wait to come back (a pool of 456 was exhausted after about
// 6,000 back-to-back calls on 2 cores; 4,096 spare tickets held for 2,000,000). A refusal by
// hystrix's pool would also count as an error for its breaker. The cost is 8 bytes a ticket.
func hystrixTickets(max int) int { return 2*max + 4096 }

func (h *hystrixBreaker) do(ctx context.Context, fn func(context.Context) error) error {
	err := hystrix.DoC(ctx, h.circuit, fn, nil)
	var ce hystrix.CircuitError
	if errors.As(err, &ce) {
		switch ce {
		case hystrix.ErrCircuitOpen:
			return fmt.Errorf("%w (command %s)", ErrCircuitOpen, h.name)
		case hystrix.ErrMaxConcurrency:
			return fmt.Errorf("%w (command %s: max concurrency)", ErrOverloaded, h.name)
		case hystrix.ErrTimeout:
			return fmt.Errorf("%w (command %s)", ErrTimeout, h.name)
		}
	}
	return err
}

func (h *hystrixBreaker) isOpen() bool { return h.cb.IsOpen() }

// allow is what DoC does before starting a command (AllowRequest, which lets one half-open
// probe through; a refusal reported as short-circuit), without its goroutines and without
// hystrix's own ticket: the Runner's semaphore is the limit in force. A circuit read
// closed a moment ago is not read again: AllowRequest would read it (IsOpen, which sums
// the rolling window: about a microsecond) and admit the call unless it opened in between,
// a race the caller runs anyway.
func (h *hystrixBreaker) allow(read BreakerState) bool {
	if read == Closed || h.cb.AllowRequest() {
		return true
	}
	_ = h.cb.ReportEvent(h.events[evShortCircuit], time.Now(), 0)
	return false
}

// report is what DoC does when a command ends: one event, which closes an open circuit on
// success (a probe's), counted by hystrix's metrics. A full metrics channel drops it, as
// DoC does (it logs).
func (h *hystrixBreaker) report(ev event, start time.Time) {
	_ = h.cb.ReportEvent(h.events[ev], start, time.Since(start))
}
