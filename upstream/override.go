package upstream

import (
	"net/http"
	"strings"
)

// MethodOverride returns the method r's method-override fields name, upper-cased, and
// whether it carries one: X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override,
// which many frameworks (Rails, Express's method-override, Google's APIs, Spring's
// HiddenHttpMethodFilter behind a header) honour to run a request as that method. A server
// or upstream may honour them, so a request carrying one is treated as the method it names
// for retries (Client never retries a GET naming POST), caching and invalidation (the
// httpfallback engine).
//
// When the fields name several methods, the riskiest is returned: one that is not
// idempotent (anything but GET, HEAD, OPTIONS, TRACE, PUT, DELETE, including a value that is
// not a single method such as "POST, GET"), else one that is unsafe (PUT, DELETE), else one
// other than GET and HEAD, else GET or HEAD. Empty fields name nothing.
func MethodOverride(h http.Header) (string, bool) {
	if len(h) == 0 {
		return "", false
	}
	best, rank := "", -1
	for _, name := range MethodOverrideFields() {
		for _, v := range h[name] {
			v = strings.ToUpper(strings.TrimSpace(v))
			if v == "" {
				continue
			}
			if r := methodRisk(v); r > rank {
				best, rank = v, r
			}
		}
	}
	return best, rank >= 0
}

// MethodOverrideFields returns the canonical names of the fields MethodOverride reads.
func MethodOverrideFields() [3]string {
	return [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}
}

// methodRisk ranks an upper-cased method: 0 GET/HEAD, 1 other safe (OPTIONS, TRACE),
// 2 unsafe but idempotent (PUT, DELETE), 3 anything else.
func methodRisk(m string) int {
	switch m {
	case http.MethodGet, http.MethodHead:
		return 0
	case http.MethodOptions, http.MethodTrace:
		return 1
	case http.MethodPut, http.MethodDelete:
		return 2
	}
	return 3
}

// idempotentMethod reports whether method is idempotent (RFC 9110 9.2.2); "" is GET.
func idempotentMethod(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
