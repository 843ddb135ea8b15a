package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/afex/hystrix-go/hystrix"
)

// breaker is the circuit a Runner drives. The production implementation is hystrix-go;
// tests in this package swap in a fake.
type breaker interface {
	// do runs fn as one command and returns its error, with the breaker's own refusals
	// mapped to ErrCircuitOpen, ErrOverloaded and ErrTimeout.
	do(ctx context.Context, fn func(context.Context) error) error
	// isOpen reads the circuit without consuming a half-open probe.
	isOpen() bool
}

// hystrixBreaker runs commands through hystrix-go's global, name-keyed circuits. Each
// breaker registers a circuit of its own, under the command's name and a random suffix:
// hystrix never frees a circuit, so a name the caller reuses (a config reload, an engine
// rebuilt after Close) must not meet the settings or the state of an earlier circuit.
type hystrixBreaker struct {
	name    string // the command's name, for errors
	circuit string // hystrix's name of the circuit: name#suffix
	cb      *hystrix.CircuitBreaker
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
	return &hystrixBreaker{name: s.Name, circuit: circuit, cb: cb}, nil
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
