package hystrixcount

import (
	"fmt"
	"strings"
	"sync"

	metricCollector "github.com/afex/hystrix-go/hystrix/metric_collector"
)

// Values are the sums of hystrix's metric results. Canceled counts both neutral context
// ends (context_canceled and context_deadline_exceeded).
type Values struct {
	Attempts, Errors, Successes, Canceled, Timeouts, Rejects float64
}

// Counts is a hystrix metric collector summing the results of the circuits it was
// registered for (Register). Safe for concurrent use.
type Counts struct {
	mu sync.Mutex
	v  Values
}

// Update adds one metric result (hystrix's metric goroutine calls it).
func (c *Counts) Update(m metricCollector.MetricResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v.Attempts += m.Attempts
	c.v.Errors += m.Errors
	c.v.Successes += m.Successes
	c.v.Canceled += m.ContextCanceled + m.ContextDeadlineExceeded
	c.v.Timeouts += m.Timeouts
	c.v.Rejects += m.Rejects
}

// Reset is part of hystrix's collector interface; the sums are kept.
func (c *Counts) Reset() {}

// Get returns the sums so far.
func (c *Counts) Get() Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

// String shows every sum, for failure messages.
func (c *Counts) String() string {
	v := c.Get()
	return fmt.Sprintf("attempts=%v errors=%v successes=%v canceled=%v timeouts=%v rejects=%v",
		v.Attempts, v.Errors, v.Successes, v.Canceled, v.Timeouts, v.Rejects)
}

type nop struct{}

func (nop) Update(metricCollector.MetricResult) {}
func (nop) Reset()                              {}

// Register returns a Counts that hystrix feeds with the results of every circuit created
// from now on whose name starts with prefix; other circuits get a collector that drops
// them. hystrix's registry only grows: each call adds a collector for every later circuit.
func Register(prefix string) *Counts {
	c := &Counts{}
	metricCollector.Registry.Register(func(name string) metricCollector.MetricCollector {
		if strings.HasPrefix(name, prefix) {
			return c
		}
		return nop{}
	})
	return c
}
