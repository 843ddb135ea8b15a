package cache

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/failsoft/failsoft/internal/fieldset"
)

// KeyOptions tunes Key.
type KeyOptions struct {
	// Credentials adds a hash of Authorization and Cookie to the key (never the raw value).
	Credentials bool

	// Secret, when set, keys that hash (HMAC-SHA-256 instead of SHA-256). Set it, the same on
	// every replica that shares a store, when keys can be seen outside the process (a
	// Redis tier, logs, metrics): a plain hash of a low-entropy credential (a Basic
	// password, a session cookie of few bits) can be reversed by guessing offline. It is
	// not copied: do not change it after use.
	Secret []byte

	// Headers lists request headers whose values, when the request carries them, join the
	// key, so that a response built from them is only ever served to requests that sent
	// the same values. Names are matched case-insensitively; order and duplicates do not
	// matter. A value longer than 64 bytes (escaped) is replaced by a hash. nil keys no
	// header; DefaultKeyedHeaders is the list the httpfallback engine uses.
	Headers []string
}

// DefaultKeyedHeaders returns (a fresh copy of) the request headers that frameworks and
// reverse proxies honour to change the host, scheme, path prefix, URL or method a request
// is answered for. A handler may build its answer from them (absolute URLs from
// X-Forwarded-Host and X-Forwarded-Proto are the usual case), so a shared cache must
// either key them or strip them; keying keeps them working behind a trusted proxy while
// an attacker's value only lands in a key no victim's request maps to.
//
// The list: X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Protocol, X-Forwarded-Scheme,
// X-Forwarded-Ssl, X-Url-Scheme (Echo's Context.Scheme reads the last four),
// X-Forwarded-Port, X-Forwarded-Prefix, X-Host, X-Original-Url, X-Rewrite-Url,
// X-Http-Method-Override, X-Http-Method, X-Method-Override.
//
// Forwarded (RFC 7239), which frameworks read for the host and scheme too (gorilla's
// ProxyHeaders, Spring, Quarkus), is keyed by its host= and proto= parameters only (see
// Key): its for= and by= carry addresses.
//
// Deliberately not in it: X-Forwarded-For and X-Real-Ip, which carry the client's
// address, so keying them would give every client its own key behind a proxy. A handler
// whose answer depends on them should not mark it shareable (Cache-Control: private), or
// the application keys them with its own KeyFunc.
func DefaultKeyedHeaders() []string {
	return []string{
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Protocol", "X-Forwarded-Scheme",
		"X-Forwarded-Ssl", "X-Url-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
		"X-Host", "X-Original-Url", "X-Rewrite-Url",
		"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
		"Forwarded",
	}
}

// KeyFunc builds the primary key of a request. Key with fixed options is the default; a
// custom KeyFunc replaces it (it must never put a raw credential in the key).
type KeyFunc func(r *http.Request) string

// Func returns Key with these options as a KeyFunc, with the header names prepared once
// (Key prepares them on every call unless they are already canonical, sorted and unique).
// It returns the same keys as Key(r, o).
func (o KeyOptions) Func() KeyFunc { return o.keyer().key }

// AppendFunc is Func for a caller that keeps the key's bytes in a buffer of its own: the
// function appends r's key (the bytes of Key(r, o)) to dst and returns the extended
// buffer. With Memory.Get, which keeps no reference to the key it is given, a lookup
// then allocates nothing for the key.
func (o KeyOptions) AppendFunc() func(dst []byte, r *http.Request) []byte {
	return o.keyer().appendKey
}

// keyer returns o prepared.
func (o KeyOptions) keyer() *keyer {
	k := &keyer{cred: o.Credentials, secret: o.Secret, names: keyedNames(o.Headers)}
	k.filter = fieldset.Of(k.names)
	return k
}

// keySep separates the parts of a key. Every part is percent-encoded so that it never
// holds this byte.
const keySep = '|'

// credHashLen is the number of hex digits of the credential hash kept in a key (128 bits).
const credHashLen = 32

// maxKeyedValue is the longest escaped header value kept in a key as is; a longer one is
// replaced by '#' and a hash.
const maxKeyedValue = 64

// keyBufLen is the stack buffer Key builds in; longer keys grow onto the heap.
const keyBufLen = 256

// Key builds the primary key: method class + scheme + host + path + canonical query (+
// keyed headers, + credential hash).
//
//   - method class: "G" for GET and HEAD (a HEAD is answered from the GET entry), the
//     method itself (escaped) for any other;
//   - scheme: "https" when r.TLS is set, else r.URL.Scheme when set, else "http" (never from
//     X-Forwarded-* headers, which a client controls: key those with opt.Headers);
//   - host: KeyHost(r), escaped;
//   - path: percent-encoding normalised: escapes of unreserved characters decoded, hex digits
//     upper-cased, every other reserved or unsafe byte escaped; %2F stays encoded;
//   - query: parameters sorted by name (stable: values of one name keep their order), each
//     name and value normalised like the path; "a" and "a=" stay distinct;
//   - with opt.Headers and a request carrying any of them: "h", then for each one carried
//     (sorted by canonical name) its canonical name, '=' and its lines, each escaped
//     strictly (every '%' too, so distinct values never share a key) and joined with '&',
//     or '#' and 32 hex digits of a SHA-256 when that is longer than 64 bytes. Forwarded
//     is keyed by the host= and proto= parameters of its elements only (names matched
//     case-insensitively, values unquoted and lower-cased, "host=h;proto=p" per element
//     that has either, elements joined with ','), so that the addresses in its for= and
//     by= do not split the key; a Forwarded with neither is not keyed;
//   - with opt.Credentials and a request carrying Authorization or Cookie: "c" and the first
//     32 hex digits of a SHA-256 over them (an HMAC-SHA-256 keyed with opt.Secret when set).
//
// The parts are separated by '|', which no part can contain. With prepared options
// (KeyOptions.Func, or Headers already canonical, sorted and unique) Key allocates only
// the returned string, for keys up to 256 bytes and a host without upper-case letters
// (a Secret-keyed credential hash adds the HMAC's own).
func Key(r *http.Request, opt KeyOptions) string {
	k := keyer{cred: opt.Credentials, secret: opt.Secret, names: opt.Headers}
	if !namesPrepared(k.names) {
		k.names = keyedNames(k.names)
	}
	k.filter = fieldset.Of(k.names)
	return k.key(r)
}

// keyer is Key with prepared options: names canonical, sorted and unique; filter holds
// them (a field not in it is none of the names).
type keyer struct {
	cred   bool
	secret []byte
	names  []string
	filter fieldset.Set
}

// KeyHost is r's host as Key keys it: r.Host (or r.URL.Host when empty), lowercased,
// without the scheme's default port or an empty port. It allocates only when r.Host
// holds upper-case letters.
func KeyHost(r *http.Request) string {
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	return strings.ToLower(trimDefaultPort(host, keyScheme(r)))
}

// key builds r's key.
func (k *keyer) key(r *http.Request) string {
	var buf [keyBufLen]byte
	return string(k.appendKey(buf[:0], r))
}

// appendKey appends r's key to b.
func (k *keyer) appendKey(b []byte, r *http.Request) []byte {
	switch r.Method {
	case http.MethodGet, http.MethodHead, "":
		b = append(b, 'G')
	default:
		b = appendEscaped(b, r.Method, maskToken)
	}
	b = append(b, keySep)

	scheme := keyScheme(r)
	if scheme == "http" || scheme == "https" {
		b = append(b, scheme...)
	} else {
		b = appendEscaped(b, scheme, maskToken)
	}
	b = append(b, keySep)

	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	b = appendLowerEscaped(b, trimDefaultPort(host, scheme), maskHost)
	b = append(b, keySep)

	path, rawQuery := "/", ""
	if u := r.URL; u != nil {
		rawQuery = u.RawQuery
		if u.RawPath == "" && u.Path != "" && cleanPath(u.Path) {
			path = "" // the usual case: Path as it is, scanned once
			b = append(b, u.Path...)
		} else if p := escapedPath(u); p != "" {
			path = p
		}
	}
	if path != "" {
		b = appendEscaped(b, path, maskPath)
	}
	if rawQuery != "" {
		b = append(b, '?')
		b = appendQuery(b, rawQuery)
	}

	if len(k.names) > 0 && len(r.Header) > 0 {
		b = k.appendHeaders(b, r.Header)
	}
	if k.cred && hasCredentials(r) {
		b = append(b, keySep, 'c')
		b = appendCredentialHash(b, r, k.secret)
	}
	return b
}

// escapedPath is u.EscapedPath() without its allocation in the usual cases: RawPath when
// it is a valid encoding of Path, Path itself when it needs no escaping.
func escapedPath(u *url.URL) string {
	if u.RawPath != "" && rawPathOf(u.RawPath, u.Path) {
		return u.RawPath
	}
	if u.RawPath == "" && cleanPath(u.Path) {
		return u.Path
	}
	return u.EscapedPath()
}

// cleanPath reports whether p needs no escaping in a key: path characters only, no '%'
// (appendEscaped copies such a p as it is).
func cleanPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if charClasses[p[i]]&maskPath == 0 { // '%' is in no class
			return false
		}
	}
	return true
}

// rawPathOf reports whether raw holds only path characters and valid escapes and decodes
// to path.
func rawPathOf(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		case charClasses[c]&maskPath == 0:
			return false
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// keyScheme is the scheme Key uses: https with TLS, else the URL's (lowercased), else http.
func keyScheme(r *http.Request) string {
	switch {
	case r.TLS != nil:
		return "https"
	case r.URL != nil && r.URL.Scheme != "":
		s := r.URL.Scheme
		if s == "http" || s == "https" {
			return s
		}
		return strings.ToLower(s)
	}
	return "http"
}

// trimDefaultPort drops the scheme's default port ("host:80" for http, "host:443" for
// https) and an empty port ("host:").
func trimDefaultPort(host, scheme string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:len(host)-3]
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = host[:len(host)-4]
	}
	return strings.TrimSuffix(host, ":") // "example.com:" means the default port
}

// keyedNames returns names canonicalised, sorted and without duplicates (a new slice).
func keyedNames(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n = http.CanonicalHeaderKey(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// namesPrepared reports whether names are already what keyedNames would return.
func namesPrepared(names []string) bool {
	for i, n := range names {
		if n == "" || http.CanonicalHeaderKey(n) != n || i > 0 && names[i-1] >= n {
			return false
		}
	}
	return true
}

// appendHeaders appends "|h" and the keyed headers h carries; nothing when it
// carries none of names. A request usually carries fewer fields than there are names:
// then its fields are looked up among the names rather than the other way round.
func (k *keyer) appendHeaders(b []byte, h http.Header) []byte {
	if len(h) >= len(k.names) || len(h) > 15 {
		marked := false
		for _, n := range k.names {
			b, marked = appendHeaderPart(b, marked, n, h[n])
		}
		return b
	}
	// Indexes into k.names, and the lines found, kept apart: sorting plain ints moves no
	// pointers (no write barriers while the GC runs).
	var idx [16]int
	var lines [16][]string
	n := 0
	for f, ls := range h {
		if !k.filter.MayHave(f) {
			continue // none of the names: the usual case
		}
		for i, name := range k.names {
			if len(name) == len(f) && name == f {
				idx[n], lines[n] = i<<4|n, ls
				n++
				break
			}
		}
	}
	for i := 1; i < n; i++ { // insertion sort by name index: the names' order
		for j := i; j > 0 && idx[j-1] > idx[j]; j-- {
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
	marked := false
	for _, x := range idx[:n] {
		b, marked = appendHeaderPart(b, marked, k.names[x>>4], lines[x&15])
	}
	return b
}

// appendHeaderPart appends a keyed header's part when it has lines, preceded by "|h" when
// it is the first (marked false); it returns whether "|h" has been written.
func appendHeaderPart(b []byte, marked bool, name string, lines []string) ([]byte, bool) {
	if name == "Forwarded" && len(lines) > 0 {
		lines = forwardedHostProto(lines)
	}
	if len(lines) == 0 {
		return b, marked
	}
	if !marked {
		b = append(b, keySep, 'h')
	}
	b = append(b, keySep)
	b = appendEscaped(b, name, maskToken)
	b = append(b, '=')
	start := len(b)
	for i, v := range lines {
		if i > 0 {
			b = append(b, '&')
		}
		b = appendStrict(b, v, maskQueryValue)
	}
	if len(b)-start > maxKeyedValue {
		b = appendHeaderHash(b[:start], name, lines)
	}
	return b, true
}

// forwardedHostProto returns what a key takes of Forwarded's lines: one line holding, for
// each element with a host= or proto= parameter, "host=h;proto=p" (either may be empty),
// elements joined with ','; nil when no element has either.
func forwardedHostProto(lines []string) []string {
	var b []byte
	for _, line := range lines {
		for elem := range strings.SplitSeq(line, ",") {
			var host, proto string
			for pair := range strings.SplitSeq(elem, ";") {
				name, value, _ := strings.Cut(pair, "=")
				switch name = strings.TrimSpace(name); {
				case strings.EqualFold(name, "host"):
					host = forwardedValue(value)
				case strings.EqualFold(name, "proto"):
					proto = forwardedValue(value)
				}
			}
			if host == "" && proto == "" {
				continue
			}
			if b != nil {
				b = append(b, ',')
			}
			b = append(b, "host="...)
			b = append(b, host...)
			b = append(b, ";proto="...)
			b = append(b, proto...)
		}
	}
	if b == nil {
		return nil
	}
	return []string{string(b)}
}

// forwardedValue is a Forwarded parameter's value unquoted (RFC 7230 quoted-string) and
// lower-cased (hosts and schemes are case-insensitive).
func forwardedValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			if v[i] == '\\' && i+1 < len(v)-1 {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	return strings.ToLower(v)
}

// appendHeaderHash appends '#' and the truncated hex SHA-256 of a header's lines.
func appendHeaderHash(b []byte, name string, lines []string) []byte {
	var in [512]byte
	s := append(in[:0], name...)
	for _, v := range lines {
		s = append(s, 0)
		s = append(s, v...)
	}
	b = append(b, '#')
	return appendHash(b, s)
}

// appendCredentialHash appends the truncated hex SHA-256 of the request's Authorization and
// Cookie lines to b, or their HMAC-SHA-256 keyed with secret when it is set.
func appendCredentialHash(b []byte, r *http.Request, secret []byte) []byte {
	var in [512]byte
	s := in[:0]
	for _, name := range [...]string{"Authorization", "Cookie"} {
		s = append(s, name...)
		for _, v := range r.Header.Values(name) {
			s = append(s, 0)
			s = append(s, v...)
		}
		s = append(s, '\n')
	}
	if len(secret) > 0 {
		m := hmac.New(sha256.New, secret)
		m.Write(s)
		var sum [sha256.Size]byte
		return appendHex(b, m.Sum(sum[:0]))
	}
	return appendHash(b, s)
}

// appendHash appends the first credHashLen hex digits of the SHA-256 of s.
func appendHash(b, s []byte) []byte {
	sum := sha256.Sum256(s)
	return appendHex(b, sum[:])
}

// appendHex appends the first credHashLen hex digits of a SHA-256 sum.
func appendHex(b, sum []byte) []byte {
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum)
	return append(b, out[:credHashLen]...)
}

// appendQuery appends the canonical form of a raw query: parameters split on '&', empty
// ones dropped, names and values normalised, sorted by name, stable.
func appendQuery(b []byte, raw string) []byte {
	clean, sorted := queryShape(raw)
	switch {
	case clean && sorted:
		return append(b, raw...)
	case clean:
		if out, ok := appendCleanSorted(b, raw); ok {
			return out
		}
	}
	return appendQueryNormalised(b, raw)
}

// appendCleanSorted appends a clean query (see queryShape) with its parameters sorted by
// name, stable; ok is false, and b unchanged, when it has more than 16 parameters.
func appendCleanSorted(b []byte, raw string) (out []byte, ok bool) {
	// Offsets into raw, not strings: sorting them moves no pointers (no write barriers).
	type param struct{ start, nameEnd, end int }
	var small [16]param
	params := small[:0]
	for start := 0; start < len(raw); {
		if len(params) == len(small) {
			return b, false
		}
		end := strings.IndexByte(raw[start:], '&')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		nameEnd := strings.IndexByte(raw[start:end], '=')
		if nameEnd < 0 {
			nameEnd = end
		} else {
			nameEnd += start
		}
		params = append(params, param{start, nameEnd, end})
		start = end + 1
	}
	name := func(p param) string { return raw[p.start:p.nameEnd] }
	for i := 1; i < len(params); i++ {
		for j := i; j > 0 && name(params[j-1]) > name(params[j]); j-- {
			params[j-1], params[j] = params[j], params[j-1]
		}
	}
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, raw[p.start:p.end]...)
	}
	return b, true
}

// appendQueryNormalised is appendQuery without the already-canonical shortcut.
func appendQueryNormalised(b []byte, raw string) []byte {
	// Normalise every parameter into scratch, remembering where each one and its name end.
	type param struct{ start, nameEnd, end int }
	var small [16]param
	var sbuf [keyBufLen]byte
	params := small[:0]
	scratch := sbuf[:0]
	for raw != "" {
		var p string
		p, raw, _ = cutByte(raw, '&')
		if p == "" {
			continue
		}
		name, value, hasEq := cutByte(p, '=')
		start := len(scratch)
		scratch = appendEscaped(scratch, name, maskQueryName)
		nameEnd := len(scratch)
		if hasEq {
			scratch = append(scratch, '=')
			scratch = appendEscaped(scratch, value, maskQueryValue)
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

// cutByte is strings.Cut with a one-byte separator (IndexByte, cheaper than Index).
func cutByte(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// queryShape reports whether raw is clean: no empty parameter, no '%', every byte safe
// where it stands, so that normalising changes nothing but the order; and whether its
// names are already in non-decreasing order (canonical, when clean too).
func queryShape(raw string) (clean, sorted bool) {
	prev := ""
	sorted = true
	start, nameEnd := 0, -1 // the current parameter, and where its name ends once seen '='
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '&':
			if i == start {
				return false, false // an empty parameter
			}
			sorted = sorted && paramInOrder(raw, start, nameEnd, i, &prev)
			start, nameEnd = i+1, -1
		case c == '=' && nameEnd < 0:
			nameEnd = i
		case c == '%':
			return false, false
		case nameEnd >= 0 && charClasses[c]&maskQueryValue == 0, nameEnd < 0 && charClasses[c]&maskQueryName == 0:
			return false, false
		}
	}
	if start == len(raw) {
		return false, false
	}
	return true, sorted && paramInOrder(raw, start, nameEnd, len(raw), &prev)
}

// paramInOrder checks the parameter raw[start:end] (its name ending at nameEnd, or -1 for
// none): its name not before *prev, which it becomes.
func paramInOrder(raw string, start, nameEnd, end int, prev *string) bool {
	if nameEnd < 0 {
		nameEnd = end
	}
	name := raw[start:nameEnd]
	if name < *prev {
		return false
	}
	*prev = name
	return true
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
		b = appendEscaped(b, names[i], maskToken)
		b = append(b, '=')
		b = appendEscaped(b, values[i], maskQueryValue)
	}
	return string(b)
}

// Character classes (RFC 3986) for the escaping masks.
const (
	classUnreserved = 1 << iota // ALPHA DIGIT - . _ ~
	classSubDelim               // ! $ ' ( ) * + , ;  (the sub-delims but & and =)
	classAmp                    // &
	classEq                     // =
	classPathExtra              // : @ /
	classQueryExtra             // ?
	classHostExtra              // [ ] :
	classUpper                  // A-Z (also unreserved): what a host is lowered for
)

// Escaping masks: a byte is kept as is when its classes intersect the mask.
const (
	maskToken      = classUnreserved
	maskHost       = classUnreserved | classSubDelim | classAmp | classEq | classHostExtra
	maskPath       = classUnreserved | classSubDelim | classAmp | classEq | classPathExtra
	maskQueryName  = classUnreserved | classSubDelim | classPathExtra | classQueryExtra // no & or =
	maskQueryValue = maskQueryName | classEq                                            // no &
)

// charClasses maps a byte to its classes. Read-only after package initialisation.
var charClasses = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= 'A' && b <= 'Z':
			t[c] = classUnreserved | classUpper
		case isAlnum(b), b == '-', b == '.', b == '_', b == '~':
			t[c] = classUnreserved
		case b == ':':
			t[c] = classPathExtra | classHostExtra
		case b == '@', b == '/':
			t[c] = classPathExtra
		case b == '?':
			t[c] = classQueryExtra
		case b == '[', b == ']':
			t[c] = classHostExtra
		case b == '&':
			t[c] = classAmp
		case b == '=':
			t[c] = classEq
		case strings.IndexByte("!$'()*+,;", b) >= 0:
			t[c] = classSubDelim
		}
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s normalised: a valid %XX escape of an unreserved byte is decoded,
// other valid escapes are kept with upper-case hex, bytes whose classes are in mask are
// kept, every other byte (including a '%' that starts no valid escape) is escaped.
func appendEscaped(b []byte, s string, mask uint8) []byte {
	i := 0
	for i < len(s) && charClasses[s[i]]&mask != 0 { // '%' is in no class
		i++
	}
	b = append(b, s[:i]...) // the usual case: all of s
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if charClasses[d]&classUnreserved != 0 {
				b = append(b, d)
			} else {
				b = append(b, '%', upperHex[d>>4], upperHex[d&15])
			}
			continue
		}
		if c != '%' && charClasses[c]&mask != 0 {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

// appendStrict appends s with every byte outside mask escaped, '%' included: distinct
// strings give distinct results.
func appendStrict(b []byte, s string, mask uint8) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' && charClasses[c]&mask != 0 {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// appendLowerEscaped is appendEscaped of s lowercased (ASCII).
func appendLowerEscaped(b []byte, s string, mask uint8) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if cl := charClasses[c]; cl&classUpper != 0 || cl&mask == 0 { // '%' is in no class
			return appendEscaped(append(b, s[:i]...), strings.ToLower(s[i:]), mask)
		}
	}
	return append(b, s...)
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

// maxStoredKey is the longest key a Memory store keeps as it is; a longer one is stored as
// its digest (see storedKey).
const maxStoredKey = 256

// storedKey is the key a Memory store uses for key: key itself when it is at most 256
// bytes and does not start with a NUL or hashMark byte, else a NUL byte and the key's
// SHA-256 (33 bytes). A hostile URL then costs the protected part 33 bytes while its entry
// lives there, not its length (the other part holds no key: see slot); the digests, which
// start with NUL, never meet a key kept as it is, two keys share a digest only if SHA-256
// collides, and no stored key starts with hashMark (see hashKey).
func storedKey(key string) string {
	if len(key) <= maxStoredKey && (key == "" || key[0] != 0 && key[0] != hashMark) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	var b [1 + sha256.Size]byte
	copy(b[1:], sum[:])
	return string(b[:])
}

// roundUp rounds n up to a multiple of m (a power of two).
func roundUp(n, m int64) int64 { return (n + m - 1) &^ (m - 1) }
