package proxy

import (
	"errors"
	"net/url"
	"strings"
)

// errUnsafePath is returned by cleanPath and joinPath for a request path that cannot be
// forwarded under the base path safely. The proxy answers it with 400.
var errUnsafePath = errors.New("proxy: request path cannot be joined to the upstream base path safely")

// joinPath returns the escaped path the proxy requests upstream for a request whose escaped
// path is reqPath: basePath (the upstream URL's escaped path, without a trailing slash)
// followed by the cleaned request path. The result always starts with basePath + "/": the
// request cannot name another host nor climb out of the base path. See cleanPath for what is
// cleaned and what is refused.
func joinPath(basePath, reqPath string) (string, error) {
	clean, err := cleanPath(reqPath)
	if err != nil {
		return "", err
	}
	return basePath + clean, nil
}

// cleanPath normalises an escaped request path segment by segment, judging each segment by
// its decoded form:
//   - "." and empty segments (double slashes) are dropped, ".." removes the previous segment
//     and never climbs above the root ("%2e%2e" is "..");
//   - a segment that decodes to something holding "/" or "\" ("%2f", "%5c", a literal
//     backslash), a control byte, or a second layer of encoding of a dot, slash or backslash
//     ("%252e") is refused: an upstream may decode or normalise it into a separator;
//   - a dot segment with path parameters ("..;x", "%2e%2e;") is refused: servers that
//     drop ";..." before resolving dots would take it for "..";
//   - a segment with a byte that has no place in an escaped path (a space, a quote, a
//     byte >= 0x80, ...) is refused; a server's URL.EscapedPath never has one;
//   - a path that is not absolute (the "*" of OPTIONS *, an empty path) is refused.
//
// Kept segments keep their original escaping. A trailing slash is kept. The result starts
// with "/" and cleanPath(result) == result.
func cleanPath(reqPath string) (string, error) {
	if !strings.HasPrefix(reqPath, "/") {
		return "", errUnsafePath
	}
	// Fast path: nothing to decode, no dot segment, no empty segment, no backslash or
	// control byte. Most requests take it, and then the path is returned as is.
	if isPlainPath(reqPath) {
		return reqPath, nil
	}
	segs := make([]string, 0, strings.Count(reqPath, "/"))
	trailing := false
	rest := reqPath[1:]
	for {
		seg, more, found := strings.Cut(rest, "/")
		dec, err := url.PathUnescape(seg)
		if err != nil || !escapedSegment(seg) || !safeSegment(dec) {
			return "", errUnsafePath
		}
		switch dec {
		case "", ".":
			trailing = !found
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = !found
		default:
			segs = append(segs, seg)
			trailing = false
		}
		if !found {
			break
		}
		rest = more
	}
	var b strings.Builder
	b.Grow(len(reqPath))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// isPlainPath reports whether p (starting with "/") needs no cleaning: no escapes, no
// backslash or control byte, no empty, "." or ".." segment.
func isPlainPath(p string) bool {
	prevSlash := true // p[0] == '/'
	dots := 0         // dots since the last slash, -1 once the segment has another byte
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if prevSlash || dots > 0 {
				return false
			}
			prevSlash, dots = true, 0
			continue
		case c == '%' || !escapedPathByte(c), c == ';' && dots > 0:
			return false
		case c == '.':
			if dots >= 0 {
				dots++
			}
		default:
			dots = -1
		}
		prevSlash = false
	}
	return dots <= 0 || dots > 2
}

// safeSegment reports whether a decoded segment can be forwarded as one segment. A dot
// segment with path parameters ("..;x") is refused: servers that drop ";..." before
// resolving dots (Tomcat, Jetty, Spring) would climb out of the base path.
func safeSegment(dec string) bool {
	if before, _, ok := strings.Cut(dec, ";"); ok && (before == "." || before == "..") {
		return false
	}
	for i := 0; i < len(dec); i++ {
		c := dec[i]
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return false
		}
		if c == '%' && i+2 < len(dec) {
			switch strings.ToLower(dec[i+1 : i+3]) {
			case "2e", "2f", "5c":
				return false // double encoding of a dot, slash or backslash
			}
		}
	}
	return true
}

// escapedSegment reports whether every byte of an escaped segment may appear in it.
func escapedSegment(seg string) bool {
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' && !escapedPathByte(seg[i]) {
			return false
		}
	}
	return true
}

// escapedPathByte reports whether c may appear unescaped in an escaped path segment (what
// net/url leaves unescaped there): unreserved bytes, sub-delimiters, ':', '@', '[' and ']'.
func escapedPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']':
		return true
	}
	return false
}
