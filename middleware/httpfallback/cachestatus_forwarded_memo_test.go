package httpfallback

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The member a fetched answer writes is the same string whether it is memoised (a 2xx
// fetched for the request, stored or not, fwd uri-miss or stale, no other parameter) or
// rendered (every other member), on first use and after.
func TestForwardedMemberIsWhatItRenders(t *testing.T) {
	m := new(hitMemo)
	var members []member
	for _, fwd := range []string{"uri-miss", "stale", "method", ""} {
		for _, status := range []int{0, 199, 200, 203, 299, 300, 304, 404, 503} {
			for _, stored := range []bool{false, true} {
				mb := member{fwd: fwd, fwdStatus: status, stored: stored}
				members = append(members, mb, mb.withDetail("alternate"), mb.withTTL(-3*time.Second),
					member{fwd: fwd, fwdStatus: status, collapsed: true})
			}
		}
	}
	for range 2 { // built, then memoised
		for _, mb := range members {
			assert.Equal(t, mb.String(), m.forwarded(mb), "%+v", mb)
		}
	}
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; stored", m.forwarded(member{fwd: "uri-miss", fwdStatus: 200, stored: true}))
}
