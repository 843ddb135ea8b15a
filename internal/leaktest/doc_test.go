package leaktest

import "testing"

func TestMain(m *testing.M) { Main(m) }

func TestOptionsNamesBothMonitors(t *testing.T) {
	if got := len(Options()); got != 2 {
		t.Fatalf("Options() = %d options, want the 2 hystrix monitor goroutines", got)
	}
}
