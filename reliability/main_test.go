package reliability

import (
	"testing"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/failsoft/failsoft/internal/leaktest"
)

// TestMain fails the binary when any goroutine other than hystrix-go's per-circuit monitors
// outlives the tests: every toxiproxy proxy, upstream, engine and client started here is
// stopped by its test. One exception, toxiproxy's own: see stuckToxicStub.
func TestMain(m *testing.M) {
	// toxiproxy's toxics log through zerolog's global logger; keep test output readable.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	leaktest.Main(m, goleak.IgnoreAnyFunction(toxicStubRun))
}
