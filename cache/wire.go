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
	own, _ := e.Header.copyTo(dst, extra, "")
	return own
}

// CopyHeaderField is CopyHeader that also returns the entry's values of the field named
// exactly name (canonical form), as copied onto dst, read in the same pass: nil when the
// entry has no such field. The engine finds the entry's own Cache-Status members with it,
// which its member follows, without a second lookup.
func (e *Entry) CopyHeaderField(dst http.Header, extra int, name string) (own, field []string) {
	return e.Header.copyTo(dst, extra, name)
}
