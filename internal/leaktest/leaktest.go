package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are the goleak options every test binary in this module uses: hystrix-go leaves
// one metricExchange and one poolMetrics monitor goroutine per circuit, by design, and
// nothing else may survive a test.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*metricExchange).Monitor"),
		goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*poolMetrics).Monitor"),
	}
}

// Main runs the tests and fails the binary when any goroutine other than hystrix-go's
// monitors is still running after them. extra adds goleak options for a third-party
// dependency of that test binary alone that is known to leave goroutines (say why where you
// pass them); none is needed for failsoft's own code.
func Main(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, append(Options(), extra...)...)
}
