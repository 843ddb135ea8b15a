package cache

import (
	"net/http"
	"strings"
	"time"
)

// MaxDelta is the largest delta-seconds value the parser keeps: 2^31 seconds, as RFC 9111
// section 1.2.2 recommends. Larger numbers, including ones past int64, are clamped to it.
const MaxDelta = (1 << 31) * time.Second

// Delta is the value of a delta-seconds directive such as max-age.
type Delta struct {
	// Present reports that the directive appeared at least once.
	Present bool
	// Valid reports that its argument was a well-formed non-negative integer (quoted or not).
	// A present but invalid max-age or s-maxage makes the response stale; a present but
	// invalid stale-while-revalidate or stale-if-error is ignored.
	Valid bool
	// Value is the argument, clamped to MaxDelta; 0 when invalid.
	Value time.Duration
}

// CacheControl is a parsed Cache-Control field (request or response).
//
// Repeated directives: boolean directives are true when they appear at all. For a
// delta-seconds directive that appears more than once with different values, the most
// restrictive wins: max-age and s-maxage become invalid (so the response is stale, the
// option RFC 9111 section 4.2.1 gives), the stale windows take the smallest valid value.
// Unknown directives are ignored. Directive names are case-insensitive.
type CacheControl struct {
	NoStore         bool
	NoCache         bool     // unqualified no-cache
	NoCacheFields   []string // no-cache="a, b": canonical field names
	Private         bool     // unqualified private
	PrivateFields   []string // private="a, b": canonical field names
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	NoTransform     bool
	Immutable       bool

	MaxAge               Delta
	SMaxAge              Delta
	StaleWhileRevalidate Delta
	StaleIfError         Delta
}

// ParseCacheControl parses every line of a Cache-Control field. It accepts odd spacing,
// empty list elements, quoted arguments (with backslash escapes) and garbage, and never
// panics.
func ParseCacheControl(values []string) CacheControl {
	var cc CacheControl
	for _, v := range values {
		parseCCLine(&cc, v)
	}
	return cc
}

func parseCCLine(cc *CacheControl, s string) {
	i := 0
	for i < len(s) {
		// Skip separators and whitespace between elements.
		for i < len(s) && (s[i] == ',' || isSpace(s[i])) {
			i++
		}
		if i >= len(s) {
			return
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && !isSpace(s[i]) {
			i++
		}
		name := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var arg string
		hasArg := false
		if i < len(s) && s[i] == '=' {
			hasArg = true
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i < len(s) && s[i] == '"' {
				arg, i = readQuoted(s, i+1)
			} else {
				start := i
				for i < len(s) && s[i] != ',' && !isSpace(s[i]) {
					i++
				}
				arg = s[start:i]
			}
		}
		// Skip anything else up to the next comma.
		for i < len(s) && s[i] != ',' {
			i++
		}
		applyDirective(cc, name, arg, hasArg)
	}
}

// readQuoted reads a quoted-string whose opening quote precedes s[i]. It returns the
// unescaped content and the index after the closing quote (or len(s) when unterminated).
func readQuoted(s string, i int) (string, int) {
	start := i
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	if i < len(s) && s[i] == '"' {
		return s[start:i], i + 1
	}
	var b strings.Builder
	b.WriteString(s[start:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i
}

func applyDirective(cc *CacheControl, name, arg string, hasArg bool) {
	switch strings.ToLower(name) {
	case "no-store":
		cc.NoStore = true
	case "no-cache":
		if hasArg && strings.TrimSpace(arg) != "" {
			cc.NoCacheFields = appendFieldNames(cc.NoCacheFields, arg)
		} else {
			cc.NoCache = true
		}
	case "private":
		if hasArg && strings.TrimSpace(arg) != "" {
			cc.PrivateFields = appendFieldNames(cc.PrivateFields, arg)
		} else {
			cc.Private = true
		}
	case "public":
		cc.Public = true
	case "must-revalidate":
		cc.MustRevalidate = true
	case "proxy-revalidate":
		cc.ProxyRevalidate = true
	case "no-transform":
		cc.NoTransform = true
	case "immutable":
		cc.Immutable = true
	case "max-age":
		mergeFreshness(&cc.MaxAge, parseDelta(arg, hasArg))
	case "s-maxage":
		mergeFreshness(&cc.SMaxAge, parseDelta(arg, hasArg))
	case "stale-while-revalidate":
		mergeWindow(&cc.StaleWhileRevalidate, parseDelta(arg, hasArg))
	case "stale-if-error":
		mergeWindow(&cc.StaleIfError, parseDelta(arg, hasArg))
	}
}

// mergeFreshness folds a repeated max-age/s-maxage: a conflict makes the directive invalid.
func mergeFreshness(dst *Delta, d Delta) {
	if !dst.Present {
		*dst = d
		return
	}
	if !dst.Valid || !d.Valid || dst.Value != d.Value {
		*dst = Delta{Present: true}
	}
}

// mergeWindow folds a repeated stale window: the smallest valid value wins.
func mergeWindow(dst *Delta, d Delta) {
	switch {
	case !dst.Present || (!dst.Valid && d.Valid):
		*dst = d
	case d.Valid && d.Value < dst.Value:
		*dst = d
	}
}

// parseDelta parses delta-seconds: 1*DIGIT, clamped to MaxDelta.
func parseDelta(arg string, hasArg bool) Delta {
	d := Delta{Present: true}
	if !hasArg || arg == "" {
		return d
	}
	var n int64
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < '0' || c > '9' {
			return d
		}
		if n <= int64(MaxDelta/time.Second) {
			n = n*10 + int64(c-'0')
		}
	}
	if n > int64(MaxDelta/time.Second) {
		n = int64(MaxDelta / time.Second)
	}
	d.Valid = true
	d.Value = time.Duration(n) * time.Second
	return d
}

// appendFieldNames appends the canonical field names of a comma-separated list.
func appendFieldNames(dst []string, list string) []string {
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f != "" && validToken(f) {
			dst = append(dst, http.CanonicalHeaderKey(f))
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// validToken reports whether s is a non-empty RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
