package leaktest

import (
	"fmt"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { Main(m) }

// TestOptionsIgnoreExactlyTheHystrixMonitors: a new hystrix-go circuit leaves goroutines
// that goleak reports, and Options hides them; a goroutine of ours still shows through.
func TestOptionsIgnoreExactlyTheHystrixMonitors(t *testing.T) {
	before := goleak.IgnoreCurrent()
	name := fmt.Sprintf("%s@%d", t.Name(), time.Now().UnixNano()) // a new circuit per run
	if err := hystrix.Do(name, func() error { return nil }, nil); err != nil {
		t.Fatalf("hystrix.Do: %v", err)
	}
	if err := goleak.Find(before); err == nil {
		t.Fatal("goleak saw no goroutine left by a new circuit: the test proves nothing")
	}
	if err := goleak.Find(append(Options(), before)...); err != nil {
		t.Fatalf("Options() does not hide the circuit's monitors: %v", err)
	}

	stop := make(chan struct{})
	go func() { <-stop }()
	defer close(stop)
	if err := goleak.Find(append(Options(), before)...); err == nil {
		t.Fatal("Options() hides a goroutine that is not a hystrix monitor")
	}
}
