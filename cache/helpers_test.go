package cache

import (
	"reflect"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/fakeclock"
)

// The module's go.sum lacks testify's yaml dependency at the time of writing, so this
// package's tests use these small helpers instead of testify.

func equal(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%v\nwant: %#v\n got: %#v", msg, want, got)
	}
}

func eventually(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition never held: %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, bounded
	}
}

// newClock is the shared fake clock, set to t.
func newClock(t time.Time) *fakeclock.Clock {
	c := fakeclock.New()
	c.Set(t)
	return c
}
