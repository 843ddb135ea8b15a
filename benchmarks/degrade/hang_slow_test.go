package degrade

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hang and slow modes, in a few-second run without heimdall (its data race at a
// timeout, see tiny): the bare client answers nothing, failsoft answers the warmed keys
// from its store although every entry is past its freshness when the fault starts. No
// latency is asserted (the machine may be busy); the report's columns are checked in
// TestReportsWarmP99.
func TestHangAndSlowModesAnswerWarmKeysStale(t *testing.T) {
	cfg := tiny()
	cfg.Modes = []string{"hang", "slow"}
	cfg.Peers = []string{"bare", "hystrix", "failsoft", "httpcache"}
	res, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, res.Cells, 2*4)
	assert.Empty(t, res.Check())
	for _, c := range res.Cells {
		assert.Positive(t, c.Requests, "%s/%s ran", c.Mode, c.Peer)
		assert.LessOrEqual(t, c.WarmP99, c.Max, "%s/%s", c.Mode, c.Peer)
		if c.Peer == "bare" || c.Peer == "hystrix" {
			assert.Zero(t, c.Usable, "%s/%s: nothing answers in time and nothing is cached", c.Mode, c.Peer)
		}
	}
	for _, mode := range cfg.Modes {
		c, ok := res.Find(mode, "failsoft")
		require.True(t, ok)
		// As in TestTinyRunIsSane: a rare answer past the 1 s deadline under -race on a
		// loaded machine is tolerated.
		assert.GreaterOrEqual(t, c.WarmPct(), 98.0, "%s: warmed keys answered stale: %+v", mode, c)
		assert.Equal(t, c.WarmUsable, c.Usable, "%s: no cold key can be answered: %+v", mode, c)
		assert.Positive(t, c.Upstream, "%s: the stale entries were past max-age: the upstream was asked: %+v", mode, c)
	}
}

func TestExpiredAtFaultModes(t *testing.T) {
	for _, m := range ModeNames() {
		assert.Equal(t, m == "hang" || m == "slow", expiredAtFault(m), m)
	}
	f, err := Full().withDefaults().fault("slow")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, f.Delay)
}

func TestCheckHangAndSlow(t *testing.T) {
	cfg := Full().withDefaults()
	r := &Results{Config: cfg, Cells: []Cell{
		{Mode: "hang", Peer: "bare", Requests: 10, Usable: 1},
		{Mode: "slow", Peer: "failsoft", Requests: 300, WarmReqs: 200, WarmUsable: 197, Usable: 197},
		{Mode: "hang", Peer: "failsoft", Requests: 300, WarmReqs: 200, WarmUsable: 198, Usable: 198}, // 99%: sane
		{Mode: "slow", Peer: "httpcache", Requests: 10, WarmReqs: 8, WarmUsable: 0},                  // not checked
	}}
	bad := r.Check()
	require.Len(t, bad, 2, "%q", bad)
	assert.Contains(t, bad[0], "hang/bare")
	assert.Contains(t, bad[1], "slow/failsoft")
}

func TestSummarizeWarmP99(t *testing.T) {
	var s []sample
	for i := 1; i <= 200; i++ { // warm requests 1..100 ms, cold ones 1..100 s
		if i <= 100 {
			s = append(s, sample{warm: true, latency: time.Duration(i) * time.Millisecond})
		} else {
			s = append(s, sample{latency: time.Duration(i-100) * time.Second})
		}
	}
	c := summarize("m", "p", s, 0)
	assert.Equal(t, 99*time.Millisecond, c.WarmP99)
	assert.Equal(t, 98*time.Second, c.P99)
	assert.Zero(t, summarize("m", "p", s[100:], 0).WarmP99, "no warm request: 0")
}

func TestReportsWarmP99(t *testing.T) {
	cfg := Full().withDefaults()
	cfg.Modes = []string{"hang"}
	cfg.Peers = []string{"bare", "failsoft"}
	res := &Results{Config: cfg, Cells: []Cell{
		{Mode: "hang", Peer: "bare", Requests: 10, P50: 250 * time.Millisecond, P99: 251 * time.Millisecond, Max: 252 * time.Millisecond, WarmP99: 251 * time.Millisecond},
		{Mode: "hang", Peer: "failsoft", Requests: 10, Usable: 7, WarmReqs: 7, WarmUsable: 7, P50: 20 * time.Microsecond, P99: 545 * time.Millisecond, Max: 600 * time.Millisecond, WarmP99: 201 * time.Millisecond},
	}}
	var md bytes.Buffer
	require.NoError(t, res.WriteMarkdown(&md, "go run ./cmd/degrade"))
	assert.Contains(t, md.String(), "| peer | requests | usable % | warm keys usable % | p50 | p99 | max | warm p99 |")
	assert.Contains(t, md.String(), "| failsoft | 10 | 70.0 | 100.0 | 0.02 | 545 | 600 | 201 | 0 |")
	assert.Contains(t, md.String(), "## Warm-key p99")
	assert.Contains(t, md.String(), "| hang | 251 | 201 |", "the warm-key p99 matrix")
	assert.Contains(t, md.String(), "max-age=0")

	out, err := res.UpdateReadme(ReadmeBegin+"\n"+ReadmeEnd, "go run ./cmd/degrade")
	require.NoError(t, err)
	assert.True(t, strings.Contains(out, "Warm-key p99") && strings.Contains(out, "| hang | 251 | 201 |"), out)
}
