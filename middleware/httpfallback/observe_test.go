package httpfallback

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failsoft/failsoft/upstream"
	"github.com/stretchr/testify/assert"
)

func TestLogsNeverCarryCredentials(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	sw := &switchable{}
	cfg := Config{Common: upstream.Common{Logger: newTestLogger(&logs, &mu)}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/l?api_key=SECRET1")
	hs.get("/l?api_key=SECRET1", "Authorization", "Bearer SECRET2", "Cookie", "s=SECRET3", "X-Api-Key", "SECRET4")
	hs.clock.Advance(time.Hour / 2)
	sw.set("500")
	hs.get("/l?api_key=SECRET1", "Authorization", "Bearer SECRET2", "Cookie", "s=SECRET3", "X-Api-Key", "SECRET4")
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	assert.Contains(t, out, "serving")
	assert.Contains(t, out, "hit")
	assert.NotContains(t, out, "SECRET")
}

func TestEventsAndStats(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	sw := &switchable{}
	cfg := Config{OnEvent: func(ev Event) {
		mu.Lock()
		kinds = append(kinds, ev.Kind.String()+":"+ev.Reason)
		mu.Unlock()
	}, Default: &Default{Body: []byte("d")}}
	hs := newEngHarness(t, cfg, sw.handler(t))
	hs.get("/e")
	hs.get("/e")
	hs.clock.Advance(5 * time.Second)
	sw.set("503")
	hs.get("/e")
	hs.get("/other")
	mu.Lock()
	got := append([]string(nil), kinds...)
	mu.Unlock()
	assert.Equal(t, []string{
		"miss:", "upstream:", "stored:", "forward:", "hit:",
		"miss:", "upstream:upstream-5xx", "stale:upstream-5xx",
		"miss:", "upstream:upstream-5xx", "default:upstream-5xx",
	}, got)
	st := hs.eng.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 3, st.Misses)
	assert.EqualValues(t, 1, st.Stored)
	assert.EqualValues(t, 1, st.Stale)
	assert.EqualValues(t, 1, st.Defaults)
	assert.NotZero(t, st.Store.Stored, "the owned store's own counters are included")
}
