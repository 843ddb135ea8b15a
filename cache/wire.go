package cache

import "net/http"

// wireHeader is an entry's Header laid out for copying: the field names and, in one slice,
// every value; field i's values are values[ends[i-1]:ends[i]] (from 0 for i == 0).
type wireHeader struct {
	names  []string
	ends   []int
	values []string
}

// wireHeader returns the entry's layout, building it on first use. Concurrent first
// uses build equal layouts; whichever is stored last is kept.
func (e *Entry) wireHeader() *wireHeader {
	if w := e.wire.Load(); w != nil {
		return w
	}
	n := 0
	for _, vs := range e.Header {
		n += len(vs)
	}
	w := &wireHeader{
		names:  make([]string, 0, len(e.Header)),
		ends:   make([]int, 0, len(e.Header)),
		values: make([]string, 0, n),
	}
	for k, vs := range e.Header {
		w.names = append(w.names, k)
		w.values = append(w.values, vs...)
		w.ends = append(w.ends, len(w.values))
	}
	e.wire.Store(w)
	return w
}

// CopyHeader sets every field of the entry's Header on dst, replacing dst's values of
// those fields, and returns extra empty strings for the caller's own fields. The copy is
// the request's own: all its values, and the extra slots after them, live in one new
// slice (one allocation), and each field's slice is capped at its own values, so that
// appending to a field on dst never writes into a neighbour's values, let alone into the
// entry. (Sharing the entry's value slices instead would save that allocation, but any
// handler or middleware wrapping the ResponseWriter could then write into a stored entry
// through dst[k][i] = v.)
//
// The engine writes a stored response with it: dst is the ResponseWriter's header, extra
// holds Cache-Status and Age.
func (e *Entry) CopyHeader(dst http.Header, extra int) []string {
	w := e.wireHeader()
	vals := make([]string, len(w.values)+extra)
	copy(vals, w.values)
	start := 0
	for i, name := range w.names {
		end := w.ends[i]
		dst[name] = vals[start:end:end]
		start = end
	}
	return vals[len(w.values):]
}
