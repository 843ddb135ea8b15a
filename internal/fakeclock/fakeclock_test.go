package fakeclock

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestAdvanceAndSet(t *testing.T) {
	c := New()
	if got := c.Now(); !got.Equal(Start()) {
		t.Fatalf("New().Now() = %v, want %v", got, Start())
	}
	c.Advance(90 * time.Second)
	if got := c.Now().Sub(Start()); got != 90*time.Second {
		t.Fatalf("after Advance(90s): %v past Start", got)
	}
	at := Start().Add(-time.Hour)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Fatalf("after Set: %v, want %v", got, at)
	}
}

func TestConcurrentAdvance(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(Start()); got != 800*time.Millisecond {
		t.Fatalf("800 concurrent advances of 1ms moved the clock %v", got)
	}
}

func ExampleClock() {
	c := New()
	c.Advance(10 * time.Second)
	fmt.Println(c.Now().Sub(Start()))
	// Output: 10s
}

func TestZeroValue(t *testing.T) {
	var c Clock
	if !c.Now().IsZero() {
		t.Fatalf("zero Clock reads %v", c.Now())
	}
	c.Advance(time.Second)
	if got := c.Now(); !got.Equal(time.Time{}.Add(time.Second)) {
		t.Fatalf("zero Clock advanced by 1s reads %v", got)
	}
}
