package proxy

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// Every shared setting the client leaves unset is the engine's, but Command.Name (the
// client's own command) and Now (the engine's clock ages entries; the client's paces
// retries against real deadlines). A field added to upstream.Common or upstream.Settings
// fails this test until it is decided here.
func TestClientInheritsEveryEngineSharedSettingButNameAndNow(t *testing.T) {
	e := upstream.Common{
		Command: upstream.Settings{
			Name: "engine", Timeout: 3 * time.Second, MaxConcurrent: 9, RequestVolumeThreshold: 4,
			ErrorPercentThreshold: 30, SleepWindow: 7 * time.Second, StatePollInterval: time.Second,
			OnStateChange: func(string, upstream.BreakerState, upstream.BreakerState) {},
		},
		FailureStatuses: []int{429},
		Logger:          slog.New(slog.DiscardHandler),
		Now:             time.Now,
	}
	notInherited := map[string]bool{"Command.Name": true, "Now": true}

	got := inherit(upstream.Common{}, e)
	var walk func(prefix string, want, got reflect.Value)
	walk = func(prefix string, want, got reflect.Value) {
		for i := range want.NumField() {
			name := prefix + want.Type().Field(i).Name
			w, g := want.Field(i), got.Field(i)
			if w.Kind() == reflect.Struct {
				walk(name+".", w, g)
				continue
			}
			require.False(t, w.IsZero(), "%s: set it in this test's engine settings", name)
			if notInherited[name] {
				assert.True(t, g.IsZero(), "%s is not inherited", name)
				continue
			}
			if w.Kind() == reflect.Func {
				assert.Equal(t, w.Pointer(), g.Pointer(), "%s is inherited", name)
				continue
			}
			assert.Equal(t, w.Interface(), g.Interface(), "%s is inherited", name)
		}
	}
	walk("", reflect.ValueOf(e), reflect.ValueOf(got))

	own := upstream.Common{Command: upstream.Settings{Timeout: time.Second}, FailureStatuses: []int{}}
	got = inherit(own, e)
	assert.Equal(t, time.Second, got.Command.Timeout, "a field the client sets is its own")
	assert.Equal(t, []int{}, got.FailureStatuses, "an empty list is set: no extra failure statuses")
}
