package httpfallback

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

func TestNewValidation(t *testing.T) {
	cases := map[string]struct {
		cfg   Config
		field string
	}{
		"lock":        {Config{LockTimeout: -1}, "LockTimeout"},
		"maxbytes":    {Config{MaxBytes: -1}, "MaxBytes"},
		"maxbody":     {Config{Policy: cache.Policy{MaxBodyBytes: -1}}, "MaxBodyBytes"},
		"timeout":     {Config{Common: upstream.Common{Command: upstream.Settings{Timeout: -1}}}, "Timeout"},
		"status":      {Config{Default: &Default{Status: 42}}, "Default.Status"},
		"crlf value":  {Config{Default: &Default{Header: http.Header{"X-A": {"a\r\nSet-Cookie: x"}}}}, "Default.Header"},
		"bad name":    {Config{Defaults: map[string]*Default{"/a": {Header: http.Header{"Bad Name": {"v"}}}}}, `Defaults["/a"].Header`},
		"nil default": {Config{Defaults: map[string]*Default{"/a": nil}}, `Defaults["/a"]`},
		"failure":     {Config{Common: upstream.Common{FailureStatuses: []int{7}}}, "FailureStatuses"},
		"concurrency": {Config{Common: upstream.Common{Command: upstream.Settings{MaxConcurrent: -1}}}, "MaxConcurrent"},
		"fresh for":   {Config{Policy: cache.Policy{FreshFor: -time.Second}}, "Policy.FreshFor"},
		"override":    {Config{Policy: cache.Policy{OverrideFreshness: -time.Second}}, "Policy.OverrideFreshness"},
		"swr":         {Config{Policy: cache.Policy{StaleWhileRevalidate: -time.Second}}, "Policy.StaleWhileRevalidate"},
		"statuses":    {Config{Policy: cache.Policy{Statuses: []int{7}}}, "Policy.Statuses"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(c.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.field)
		})
	}
}

// An engine can be rebuilt under its Name (a config reload), and two live engines may share
// one: each has circuits of its own.
func TestNameReusedAfterCloseAndAlongside(t *testing.T) {
	stayOpen := fastCommand()
	stayOpen.SleepWindow = time.Hour
	sw := &switchable{}
	sw.set("500")
	a := newEngHarness(t, Config{Name: "reload", Common: upstream.Common{Command: stayOpen}}, sw.handler(t))
	a.waitOpen(defaultRoute, func() { a.get("/n") })

	b, err := New(Config{Name: "reload"})
	require.NoError(t, err, "a Name in use by a live engine")
	rb, err := b.runner(defaultRoute)
	require.NoError(t, err)
	assert.Equal(t, upstream.Closed, rb.State(), "its own circuit, not the open one")
	require.NoError(t, b.Close())

	c, err := New(Config{Name: "reload"})
	require.NoError(t, err, "the Name again after Close")
	require.NoError(t, c.Close())
}
