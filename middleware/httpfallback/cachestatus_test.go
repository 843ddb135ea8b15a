package httpfallback

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Every Cache-Status member the engine writes comes from one builder, its parameters in
// one order (RFC 9211 section 2): hit or fwd, fwd-status, ttl, stored, collapsed, detail;
// a detail that is not a token is quoted.
func TestCacheStatusMemberOrderAndQuoting(t *testing.T) {
	for _, c := range []struct {
		m    member
		want string
	}{
		{member{}, "failsoft"},
		{member{hit: true}.withTTL(245 * time.Second), "failsoft; hit; ttl=245"},
		{member{hit: true, detail: "circuit-open"}.withTTL(-41500 * time.Millisecond), "failsoft; hit; ttl=-42; detail=circuit-open"},
		{member{fwd: "uri-miss", fwdStatus: 200, stored: true}, "failsoft; fwd=uri-miss; fwd-status=200; stored"},
		{member{fwd: "stale", fwdStatus: 503, collapsed: true, detail: "upstream-5xx"}.withTTL(-42 * time.Second),
			"failsoft; fwd=stale; fwd-status=503; ttl=-42; collapsed; detail=upstream-5xx"},
		{member{detail: "not a token"}, `failsoft; detail="not a token"`},
	} {
		assert.Equal(t, c.want, c.m.String())
	}
}
