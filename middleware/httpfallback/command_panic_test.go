package httpfallback

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// panickyError panics when errors.Is or errors.As look into it: a source's error that
// blows up in RunCommand's judging, after the fetch returned and before the outcome is
// reported.
type panickyError struct{}

func (panickyError) Error() string   { return "panicky" }
func (panickyError) Is(error) bool   { panic("Is exploded") }
func (panickyError) As(any) bool     { panic("As exploded") }
func (panickyError) Unwrap() []error { panic("Unwrap exploded") }

// goexitError ends the goroutine judging it.
type goexitError struct{}

func (goexitError) Error() string { return "goexit" }
func (goexitError) Is(error) bool { runtime.Goexit(); return false }

// A panic between admission and the outcome report is recovered as a failure and the
// command's concurrency slot is given back: with MaxConcurrent 1 and a timeout far beyond
// the test, a second run is admitted (before the fix the panic escaped and the slot was
// held until the command timeout).
func TestRunCommandPanicAfterAdmitReleasesTheSlot(t *testing.T) {
	e := oneSlotEngine(t)

	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	var got error
	var err error
	require.NotPanics(t, func() {
		got = e.RunCommand(context.Background(), "r", httptest.NewRecorder(), r,
			func(context.Context, http.ResponseWriter, *http.Request) error { return panickyError{} })
	})
	var pe *upstream.PanicError
	require.ErrorAs(t, got, &pe)
	assert.Equal(t, "Is exploded", pe.Value)

	calls := 0
	err = e.RunCommand(context.Background(), "r", httptest.NewRecorder(), r,
		func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
			calls++
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
	require.NoError(t, err, "the slot of the panicked run was given back")
	assert.Equal(t, 1, calls)
}

// runtime.Goexit in the source (t.FailNow-style) is no answer: the slot is given back too.
func TestRunCommandGoexitReleasesTheSlot(t *testing.T) {
	e := oneSlotEngine(t)
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = e.RunCommand(context.Background(), "r", httptest.NewRecorder(), r,
			func(context.Context, http.ResponseWriter, *http.Request) error {
				return goexitError{}
			})
	}()
	<-exited
	err := e.RunCommand(context.Background(), "r", httptest.NewRecorder(), r,
		func(_ context.Context, w http.ResponseWriter, _ *http.Request) error { return nil })
	require.False(t, errors.Is(err, upstream.ErrOverloaded), "the slot was kept")
	require.NoError(t, err)
}

// oneSlotEngine is an Engine whose commands admit one run at a time, with a timeout far
// beyond the test: a slot not given back keeps the next run out.
func oneSlotEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(Config{
		Common: upstream.Common{Command: upstream.Settings{MaxConcurrent: 1, Timeout: time.Hour}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}
