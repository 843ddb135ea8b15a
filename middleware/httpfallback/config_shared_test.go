package httpfallback

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// New checks the shared settings (upstream.Common) up front, naming each as a field of
// Config; the command template's Name is not required (the engine names its commands).
func TestNewNamesSharedSettingsUnderConfig(t *testing.T) {
	cases := []struct {
		c     upstream.Common
		field string
	}{
		{upstream.Common{Command: upstream.Settings{Timeout: -1}}, "httpfallback: Config.Command.Timeout "},
		{upstream.Common{Command: upstream.Settings{SleepWindow: -time.Second}}, "httpfallback: Config.Command.SleepWindow "},
		{upstream.Common{Command: upstream.Settings{MaxConcurrent: -1}}, "httpfallback: Config.Command.MaxConcurrent "},
		{upstream.Common{Command: upstream.Settings{ErrorPercentThreshold: 101}}, "httpfallback: Config.Command.ErrorPercentThreshold "},
		{upstream.Common{Command: upstream.Settings{RequestVolumeThreshold: -1}}, "httpfallback: Config.Command.RequestVolumeThreshold "},
		{upstream.Common{Command: upstream.Settings{StatePollInterval: -1}}, "httpfallback: Config.Command.StatePollInterval "},
		{upstream.Common{FailureStatuses: []int{503, 7}}, "httpfallback: Config.FailureStatuses[1] "},
	}
	for _, c := range cases {
		_, err := New(Config{Common: c.c})
		require.Error(t, err, c.field)
		assert.Contains(t, err.Error(), c.field)
	}
}

// The command template gets upstream's defaults, and LockTimeout follows its timeout.
func TestNewFillsSharedDefaults(t *testing.T) {
	e, err := New(Config{Common: upstream.Common{Command: upstream.Settings{Name: "ignored", MaxConcurrent: 7}}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	assert.Equal(t, upstream.DefaultTimeout, e.cfg.Command.Timeout)
	assert.Equal(t, upstream.DefaultSleepWindow, e.cfg.Command.SleepWindow)
	assert.Equal(t, 7, e.cfg.Command.MaxConcurrent)
	assert.Equal(t, upstream.DefaultTimeout, e.cfg.LockTimeout)
	assert.NotNil(t, e.cfg.Now)
	rn, err := e.runner(defaultRoute)
	require.NoError(t, err)
	assert.Equal(t, DefaultName+"/"+defaultRoute, rn.Name(), "Command.Name is not the engine's")
	assert.Equal(t, 7, rn.MaxConcurrent())
}
