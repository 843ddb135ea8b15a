package upstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each shared setting's error names it as a field of the struct Common is embedded in, as
// the caller wrote it.
func TestCommonWithDefaultsNamesTheFieldUnderItsOwner(t *testing.T) {
	cases := []struct {
		c     Common
		field string
	}{
		{Common{Command: Settings{Timeout: -1}}, "Config.Command.Timeout"},
		{Common{Command: Settings{MaxConcurrent: -1}}, "Config.Command.MaxConcurrent"},
		{Common{Command: Settings{MaxConcurrent: maxConcurrentLimit + 1}}, "Config.Command.MaxConcurrent"},
		{Common{Command: Settings{RequestVolumeThreshold: -1}}, "Config.Command.RequestVolumeThreshold"},
		{Common{Command: Settings{ErrorPercentThreshold: 101}}, "Config.Command.ErrorPercentThreshold"},
		{Common{Command: Settings{SleepWindow: -1}}, "Config.Command.SleepWindow"},
		{Common{Command: Settings{StatePollInterval: -1}}, "Config.Command.StatePollInterval"},
		{Common{FailureStatuses: []int{429, 42}}, "Config.FailureStatuses[1]"},
	}
	for _, c := range cases {
		_, err := c.c.WithDefaults("Config")
		require.Error(t, err, c.field)
		assert.Contains(t, err.Error(), c.field+" ")
	}
}

// Command's zero values get Settings' defaults and the clock time.Now; Name, Logger and the
// statuses stay as given (whether Name is required is the owner's rule).
func TestCommonWithDefaultsFillsCommandAndClockOnly(t *testing.T) {
	c, err := Common{Command: Settings{SleepWindow: 1500 * time.Microsecond}}.WithDefaults("ClientConfig")
	require.NoError(t, err)
	assert.Equal(t, Settings{
		Timeout:                DefaultTimeout,
		MaxConcurrent:          DefaultMaxConcurrent,
		RequestVolumeThreshold: DefaultRequestVolumeThreshold,
		ErrorPercentThreshold:  DefaultErrorPercentThreshold,
		SleepWindow:            2 * time.Millisecond, // rounded up as hystrix counts it
		StatePollInterval:      DefaultStatePollInterval,
	}, c.Command)
	require.NotNil(t, c.Now)
	assert.WithinDuration(t, time.Now(), c.Now(), time.Hour)
	assert.Nil(t, c.Logger)
	assert.Nil(t, c.FailureStatuses)

	set, err := (Settings{Name: "n", Timeout: 2 * time.Second}).withDefaults()
	require.NoError(t, err)
	c, err = Common{Command: Settings{Name: "n", Timeout: 2 * time.Second}}.WithDefaults("Config")
	require.NoError(t, err)
	assert.Equal(t, set.Name, c.Command.Name)
	assert.Equal(t, set.Timeout, c.Command.Timeout, "the same defaults as a Runner's")
}

// NewClient names the shared settings under ClientConfig, and requires Command.Name.
func TestNewClientNamesSharedFieldsUnderClientConfig(t *testing.T) {
	_, err := NewClient(ClientConfig{Common: Common{Command: Settings{Name: "n", SleepWindow: -time.Second}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "upstream: ClientConfig.Command.SleepWindow ")
	_, err = NewClient(ClientConfig{Common: Common{Command: Settings{Timeout: time.Second}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "upstream: ClientConfig.Command.Name is required")
}
