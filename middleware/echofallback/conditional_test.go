package echofallback

import (
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Through Echo too, If-Modified-Since is answered from the entry, and after Close the
// handler's own Cache-Status members come before ours.
func TestIfModifiedSinceAndBypassCacheStatus(t *testing.T) {
	clk := newClock()
	lm := clk.Now().Add(-time.Hour).UTC()
	var runs counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			runs.inc()
			h := c.Response().Header()
			h.Set("Cache-Control", "max-age=60")
			h.Set("Last-Modified", lm.Format(http.TimeFormat))
			h.Set("Cache-Status", "upstream-cache; hit")
			return c.String(http.StatusOK, "item "+c.Param("id"))
		})
	})
	require.Equal(t, http.StatusOK, f.get(t, "/items/1").status)
	r := f.get(t, "/items/1", "If-Modified-Since", lm.Format(http.TimeFormat))
	assert.Equal(t, http.StatusNotModified, r.status)
	assert.Empty(t, r.body)
	assert.Equal(t, "upstream-cache; hit, failsoft; hit; ttl=60", r.cacheStatus())
	r = f.get(t, "/items/1", "If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "item 1", r.body)
	assert.Equal(t, 1, runs.get())

	require.NoError(t, f.m.Close())
	r = f.get(t, "/items/2")
	assert.Equal(t, "item 2", r.body)
	assert.Equal(t, []string{"upstream-cache; hit, failsoft; fwd=bypass"}, r.header.Values("Cache-Status"))
}
