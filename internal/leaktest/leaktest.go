package leaktest

import (
	"runtime/metrics"
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

// GoroutinesCreated is the number of goroutines the process has created so far
// (runtime/metrics /sched/goroutines-created), for tests that count the goroutines a path
// starts per call; it skips tb where the runtime does not export it.
func GoroutinesCreated(tb testing.TB) uint64 {
	tb.Helper()
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		tb.Skip("this runtime does not export /sched/goroutines-created")
	}
	return s[0].Value.Uint64()
}
