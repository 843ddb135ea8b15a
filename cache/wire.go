package cache

import "net/http"

// CopyHeader sets every field of the entry's Header on dst, replacing dst's values of
// those fields, and returns extra empty strings for the caller's own fields. The copy is
// the request's own: all its values, and the extra slots after them, live in one new
// slice (one allocation; the strings themselves are shared with the entry, which is
// immutable), and each field's slice is capped at its own values, so that appending to a
// field on dst never writes into a neighbour's values, let alone into the entry.
//
// The engine writes a stored response with it: dst is the ResponseWriter's header, extra
// holds Cache-Status and Age.
func (e *Entry) CopyHeader(dst http.Header, extra int) []string {
	return e.Header.copyTo(dst, extra)
}
