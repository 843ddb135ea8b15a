package upstream

import (
	"context"
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

// hystrixBreaker runs commands through hystrix-go's global, name-keyed circuits.
type hystrixBreaker struct {
	name string
	cb   *hystrix.CircuitBreaker
}

// newHystrixBreaker configures the command before its first use and creates its circuit.
// It refuses a name hystrix-go already knows: hystrix's settings are global and a circuit's
// concurrency limit is fixed when the circuit is created.
func newHystrixBreaker(s Settings) (*hystrixBreaker, error) {
	if _, exists := hystrix.GetCircuitSettings()[s.Name]; exists {
		return nil, fmt.Errorf("upstream: Settings.Name %q: a hystrix command with this name already exists in this process", s.Name)
	}
	hystrix.ConfigureCommand(s.Name, hystrix.CommandConfig{
		Timeout:                msCeil(s.Timeout),
		MaxConcurrentRequests:  hystrixTickets(s.MaxConcurrent),
		RequestVolumeThreshold: s.RequestVolumeThreshold,
		SleepWindow:            msCeil(s.SleepWindow),
		ErrorPercentThreshold:  s.ErrorPercentThreshold,
	})
	cb, _, err := hystrix.GetCircuit(s.Name)
	if err != nil {
		return nil, fmt.Errorf("upstream: Settings.Name %q: %w", s.Name, err)
	}
	return &hystrixBreaker{name: s.Name, cb: cb}, nil
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
	err := hystrix.DoC(ctx, h.name, fn, nil)
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
