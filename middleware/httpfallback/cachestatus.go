package httpfallback

import (
	"strconv"
	"strings"
	"time"
)

// member is the engine's Cache-Status member (RFC 9211 section 2): the cache name
// "failsoft" and its parameters, written in one order everywhere: hit or fwd, fwd-status,
// ttl, stored, collapsed, detail. Its zero value is the bare "failsoft". (A fresh hit's and
// a breaker-open stale answer's members are also memoised, see hitMemo: same bytes.)
type member struct {
	hit       bool
	fwd       string // "uri-miss", "stale", "method", "bypass"; "" none
	fwdStatus int    // the source's status; 0 none
	ttl       time.Duration
	hasTTL    bool
	stored    bool
	collapsed bool
	detail    string // a reason, rendered as a token or a quoted string; "" none
}

// withTTL returns m with ttl set.
func (m member) withTTL(ttl time.Duration) member { m.ttl, m.hasTTL = ttl, true; return m }

// withDetail returns m with detail set.
func (m member) withDetail(d string) member { m.detail = d; return m }

// String renders the member.
func (m member) String() string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString("failsoft")
	if m.hit {
		b.WriteString("; hit")
	}
	if m.fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(m.fwd)
	}
	if m.fwdStatus != 0 {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(m.fwdStatus))
	}
	if m.hasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(ttlSeconds(m.ttl), 10))
	}
	if m.stored {
		b.WriteString("; stored")
	}
	if m.collapsed {
		b.WriteString("; collapsed")
	}
	if m.detail != "" {
		b.WriteString("; detail=")
		b.WriteString(sfValue(m.detail))
	}
	return b.String()
}
