package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
)

// KeyOptions tunes Key.
type KeyOptions struct {
	// Credentials adds a hash of Authorization and Cookie to the key (never the raw value).
	Credentials bool
}

// KeyFunc builds the primary key of a request. Key with fixed options is the default; a
// custom KeyFunc replaces it (it must never put a raw credential in the key).
type KeyFunc func(r *http.Request) string

// keySep separates the parts of a key. Every part is percent-encoded so that it never
// holds this byte.
const keySep = '|'

// credHashLen is the number of hex digits of the credential hash kept in a key (128 bits).
const credHashLen = 32

// Key builds the primary key: method class + scheme + host + path + canonical query.
//
//   - method class: "G" for GET and HEAD (a HEAD is answered from the GET entry), the
//     method itself (escaped) for any other;
//   - scheme: "https" when r.TLS is set, else r.URL.Scheme when set, else "http" (never from
//     X-Forwarded-* headers, which a client controls);
//   - host: r.Host (or r.URL.Host), lowercased, without the scheme's default port;
//   - path: percent-encoding normalised: escapes of unreserved characters decoded, hex digits
//     upper-cased, every other reserved or unsafe byte escaped; %2F stays encoded;
//   - query: parameters sorted by name (stable: values of one name keep their order), each
//     name and value normalised like the path; "a" and "a=" stay distinct;
//   - with opt.Credentials and a request carrying Authorization or Cookie: "c" and the first
//     32 hex digits of a SHA-256 over them.
//
// The parts are separated by '|', which no part can contain.
func Key(r *http.Request, opt KeyOptions) string {
	size := 64 + len(r.Host)
	if r.URL != nil {
		size += len(r.URL.Path) + len(r.URL.RawQuery)
	}
	b := make([]byte, 0, size)
	switch r.Method {
	case http.MethodGet, http.MethodHead, "":
		b = append(b, 'G')
	default:
		b = appendEscaped(b, r.Method, tokenSafe)
	}
	b = append(b, keySep)

	scheme := "http"
	switch {
	case r.TLS != nil:
		scheme = "https"
	case r.URL != nil && r.URL.Scheme != "":
		scheme = strings.ToLower(r.URL.Scheme)
	}
	b = appendEscaped(b, scheme, tokenSafe)
	b = append(b, keySep)

	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	b = appendEscaped(b, canonicalHost(host, scheme), hostSafe)
	b = append(b, keySep)

	path, rawQuery := "/", ""
	if r.URL != nil {
		if p := r.URL.EscapedPath(); p != "" {
			path = p
		}
		rawQuery = r.URL.RawQuery
	}
	b = appendEscaped(b, path, pathSafe)
	if rawQuery != "" {
		b = append(b, '?')
		b = appendQuery(b, rawQuery)
	}

	if opt.Credentials && hasCredentials(r) {
		b = append(b, keySep, 'c')
		b = appendCredentialHash(b, r)
	}
	return string(b)
}

// credentialHash appends the truncated hex SHA-256 of the request's Authorization and
// Cookie lines to b.
func appendCredentialHash(b []byte, r *http.Request) []byte {
	h := sha256.New()
	var zero = [1]byte{0}
	for _, name := range [...]string{"Authorization", "Cookie"} {
		io.WriteString(h, name)
		for _, v := range r.Header.Values(name) {
			h.Write(zero[:])
			io.WriteString(h, v)
		}
		h.Write([]byte{'\n'})
	}
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h.Sum(sum[:0]))
	return append(b, out[:credHashLen]...)
}

// canonicalHost lowercases host and drops the scheme's default port.
func canonicalHost(host, scheme string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:len(host)-3]
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = host[:len(host)-4]
	}
	return strings.TrimSuffix(host, ":") // "example.com:" means the default port
}

// appendQuery appends the canonical form of a raw query: parameters split on '&', empty
// ones dropped, names and values normalised, sorted by name, stable.
func appendQuery(b []byte, raw string) []byte {
	// Normalise every parameter into scratch, remembering where each one and its name end.
	type param struct{ start, nameEnd, end int }
	var small [16]param
	params := small[:0]
	scratch := make([]byte, 0, len(raw)+len(raw)/4)
	for raw != "" {
		var p string
		p, raw, _ = strings.Cut(raw, "&")
		if p == "" {
			continue
		}
		name, value, hasEq := strings.Cut(p, "=")
		start := len(scratch)
		scratch = appendEscaped(scratch, name, querySafe)
		nameEnd := len(scratch)
		if hasEq {
			scratch = append(scratch, '=')
			scratch = appendEscaped(scratch, value, queryValueSafe)
		}
		params = append(params, param{start, nameEnd, len(scratch)})
	}
	name := func(p param) []byte { return scratch[p.start:p.nameEnd] }
	if len(params) <= len(small) {
		// Insertion sort: stable and allocation-free for the usual short query.
		for i := 1; i < len(params); i++ {
			for j := i; j > 0 && bytes.Compare(name(params[j-1]), name(params[j])) > 0; j-- {
				params[j-1], params[j] = params[j], params[j-1]
			}
		}
	} else {
		slices.SortStableFunc(params, func(x, y param) int { return bytes.Compare(name(x), name(y)) })
	}
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, scratch[p.start:p.end]...)
	}
	return b
}

// VariantKey extends a primary key with the request's values of the varied headers: for
// each name (canonicalised, sorted, de-duplicated) "name=value", the value being every
// line joined with ", " and whitespace runs folded, percent-encoded.
func VariantKey(primary string, vary []string, h http.Header) string {
	names := make([]string, len(vary))
	for i, v := range vary {
		names[i] = http.CanonicalHeaderKey(strings.TrimSpace(v))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = headerValue(h, n)
	}
	return variantKey(primary, names, values)
}

// variantKey joins a primary key with sorted canonical names and their values.
func variantKey(primary string, names, values []string) string {
	n := len(primary) + 3
	for i := range names {
		n += len(names[i]) + len(values[i]) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, primary...)
	b = append(b, keySep, 'v')
	for i := range names {
		b = append(b, keySep)
		b = appendEscaped(b, names[i], tokenSafe)
		b = append(b, '=')
		b = appendEscaped(b, values[i], queryValueSafe)
	}
	return string(b)
}

// Character classes for appendEscaped (RFC 3986).
const (
	classUnreserved = 1 << iota
	classSubDelim
	classPathExtra  // ':' '@' '/'
	classQueryExtra // '?'
	classHostExtra  // '[' ']' ':'
)

// charClass returns the RFC 3986 classes of c.
func charClass(c byte) uint8 {
	switch {
	case isAlnum(c), c == '-', c == '.', c == '_', c == '~':
		return classUnreserved
	case c == ':':
		return classPathExtra | classHostExtra
	case c == '@', c == '/':
		return classPathExtra
	case c == '?':
		return classQueryExtra
	case c == '[', c == ']':
		return classHostExtra
	case strings.IndexByte("!$&'()*+,;=", c) >= 0:
		return classSubDelim
	}
	return 0
}

func tokenSafe(c byte) bool { return charClass(c)&classUnreserved != 0 }

func hostSafe(c byte) bool {
	return charClass(c)&(classUnreserved|classSubDelim|classHostExtra) != 0
}

func pathSafe(c byte) bool {
	return charClass(c)&(classUnreserved|classSubDelim|classPathExtra) != 0
}

// querySafe is for parameter names: no '&' and no '='.
func querySafe(c byte) bool {
	return c != '&' && c != '=' && charClass(c)&(classUnreserved|classSubDelim|classPathExtra|classQueryExtra) != 0
}

// queryValueSafe is for parameter values: no '&'.
func queryValueSafe(c byte) bool {
	return c != '&' && charClass(c)&(classUnreserved|classSubDelim|classPathExtra|classQueryExtra) != 0
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s normalised: a valid %XX escape of an unreserved byte is decoded,
// other valid escapes are kept with upper-case hex, bytes for which safe is true are kept,
// every other byte (including a '%' that starts no valid escape) is escaped.
func appendEscaped(b []byte, s string, safe func(byte) bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if charClass(d)&classUnreserved != 0 {
				b = append(b, d)
			} else {
				b = append(b, '%', upperHex[d>>4], upperHex[d&15])
			}
			continue
		}
		if c != '%' && safe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
