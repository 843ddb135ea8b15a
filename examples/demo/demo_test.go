package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestKind(t *testing.T) {
	for _, c := range []struct {
		status int
		cs     string
		want   string
	}{
		{200, "failsoft; hit; ttl=12", "fresh"},
		{200, "failsoft; fwd=uri-miss; fwd-status=200; stored", "fetched"},
		{200, "failsoft; fwd=stale; fwd-status=200; stored", "fetched"},
		{200, "failsoft; fwd=uri-miss; fwd-status=200; collapsed", "fetched"},
		{200, "failsoft; hit; ttl=-3; detail=stale-while-revalidate", "stale"},
		{200, "failsoft; fwd=stale; fwd-status=503; ttl=-42; detail=upstream-5xx", "stale"},
		{200, "failsoft; hit; ttl=-42; detail=circuit-open", "stale"},
		{200, "failsoft; fwd=uri-miss; detail=default", "default"},
		{503, "failsoft; fwd=uri-miss; detail=circuit-open", "error"},
	} {
		require.Equal(t, c.want, kind(c.status, c.cs, nil), c.cs)
	}
}

// TestDemoKeepsWarmKeysAnswering runs the demo with short phases and checks the promise it
// prints: through the down and hanging phases every request for a key answered before the
// outage gets a 200 with that key's last good data, and never-seen keys get the default.
func TestDemoKeepsWarmKeysAnswering(t *testing.T) {
	cfg := defaultConfig()
	cfg.Phase = 2 * time.Second // the breaker's sleep window is 1s: recovery shows within a phase
	cfg.Phases = "healthy,erroring,down,hanging,recovered"
	cfg.Clients = 4
	// The first fetches of the healthy phase are cold (new connections, -race): a loaded
	// machine took over 300 ms for some, which answered them with the default.
	cfg.Timeout = time.Second
	var out bytes.Buffer
	sum, err := run(context.Background(), cfg, &out)
	require.NoError(t, err)
	require.Len(t, sum.Phases, 5, out.String())

	require.Positive(t, sum.WarmRequestsDuringOutage, out.String())
	require.Equal(t, sum.WarmRequestsDuringOutage, sum.WarmServedDuringOutage, out.String())
	require.True(t, sum.WarmStaleOK)

	byName := map[string]Phase{}
	for _, p := range sum.Phases {
		byName[p.Name] = p
	}
	require.Zero(t, byName["healthy"].Errors+byName["healthy"].Default, "healthy phase: %+v", byName["healthy"])
	down := byName["down"]
	require.Zero(t, down.UpstreamCalls, "connections are refused while down")
	require.Zero(t, down.Fetched, "nothing can be fetched while down")
	require.Positive(t, down.Stale)
	require.Positive(t, down.Default, "never-seen keys get the default payload")
	require.Zero(t, down.Errors, "with stale data and a default, no client sees an error")
	require.Positive(t, byName["recovered"].Fetched, "after recovery answers are fetched again")
}

func TestUnknownPhaseIsAnError(t *testing.T) {
	cfg := defaultConfig()
	cfg.Phases = "healthy,meltdown"
	_, err := run(context.Background(), cfg, &bytes.Buffer{})
	require.ErrorContains(t, err, `unknown phase "meltdown"`)
}
