package cache

import (
	"net/http"
	"testing"
)

// A response to a request carrying Cookie is shared only when it says public or s-maxage
// (DESIGN.md); must-revalidate authorizes sharing only an Authorization request's answer
// (RFC 9111 section 3.5), and not once the request carries a Cookie as well.
func TestShareRefusedCookieNeedsPublicOrSMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		p      Policy
		req    []string
		cc     string
		shared bool
	}{
		{"Cookie, must-revalidate", Policy{}, []string{"Cookie", "s=alice"}, "max-age=60, must-revalidate", false},
		{"Cookie, max-age", Policy{}, []string{"Cookie", "s=alice"}, "max-age=60", false},
		{"Cookie, public", Policy{}, []string{"Cookie", "s=alice"}, "public, max-age=60", true},
		{"Cookie, s-maxage", Policy{}, []string{"Cookie", "s=alice"}, "s-maxage=60", true},
		{"Cookie, ShareCredentialed", Policy{ShareCredentialed: true}, []string{"Cookie", "s=alice"}, "max-age=60", true},
		{"Authorization, must-revalidate", Policy{}, []string{"Authorization", "Bearer a"}, "max-age=60, must-revalidate", true},
		{"Authorization, max-age", Policy{}, []string{"Authorization", "Bearer a"}, "max-age=60", false},
		{"Authorization and Cookie, must-revalidate", Policy{}, []string{"Authorization", "Bearer a", "Cookie", "s=alice"}, "max-age=60, must-revalidate", false},
		{"no credentials", Policy{}, nil, "max-age=60", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hdr("Cache-Control", tt.cc)
			why := tt.p.ShareRefused(getReq("http://a/", tt.req...), h)
			_, err := tt.p.NewEntry(getReq("http://a/", tt.req...), http.StatusOK, h, []byte("hello"), t0, t0)
			if got := why == ""; got != tt.shared {
				t.Errorf("ShareRefused = %q, want shared %v", why, tt.shared)
			}
			if got := err == nil; got != tt.shared {
				t.Errorf("NewEntry error = %v, want stored %v", err, tt.shared)
			}
		})
	}
}
