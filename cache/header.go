package cache

import (
	"iter"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// Header is a stored response's header fields in compact, immutable form: every field
// name and value in one string, each preceded by its length (and each name by its number
// of values), so that an entry's header costs one allocation of about its own bytes
// instead of a map with its groups, value slices and strings (about 650 bytes more for
// three fields, measured). Names most responses carry (Content-Type, Cache-Control, Date,
// Etag...) take one byte each. Names are kept as they were given (the
// engine's are canonical). The zero Header has no fields.
//
// A hit writes it with Entry.CopyHeader; Get, Values and Has read one field; Clone makes an
// http.Header of it.
type Header struct {
	// b: uvarint(fields) uvarint(values), then per field its name (uvarint(2*i) for the
	// common name of index i, else uvarint(2*len(name)+1) name), uvarint(len(values)), then
	// per value uvarint(len(value)) value.
	b string
}

// MakeHeader returns the compact form of h (its names as given, in sorted order; each
// field's values in order). A field with no values is kept, as a name without values.
// Headers made of equal http.Headers are equal (==).
func MakeHeader(h http.Header) Header { return makeHeader(h, nil) }

// makeHeader is MakeHeader without the fields skip reports (nil: none).
func makeHeader(h http.Header, skip func(name string) bool) Header {
	if h == nil {
		return Header{}
	}
	// Fields in name order: equal headers give equal (==) Headers, whatever the order the
	// map hands them out in.
	var buf [16]string
	names := buf[:0]
	values, size := 0, 0
	for k, vs := range h {
		if skip != nil && skip(k) {
			continue
		}
		names = append(names, k)
		values += len(vs)
		size += nameLen(k) + uvarintLen(len(vs))
		for _, v := range vs {
			size += uvarintLen(len(v)) + len(v)
		}
	}
	slices.Sort(names)
	size += uvarintLen(len(names)) + uvarintLen(values)
	var b strings.Builder
	b.Grow(size)
	writeUvarint(&b, len(names))
	writeUvarint(&b, values)
	for _, k := range names {
		vs := h[k]
		if i := commonIndex(k); i >= 0 {
			writeUvarint(&b, 2*i)
		} else {
			writeUvarint(&b, 2*len(k)+1)
			b.WriteString(k)
		}
		writeUvarint(&b, len(vs))
		for _, v := range vs {
			writeUvarint(&b, len(v))
			b.WriteString(v)
		}
	}
	return Header{b: b.String()}
}

// Len returns the number of fields.
func (h Header) Len() int {
	n, _ := h.counts()
	return n
}

// Has reports whether h has the field name (canonicalised as by http.Header.Get), even
// with no values.
func (h Header) Has(name string) bool {
	_, _, ok := h.field(textproto.CanonicalMIMEHeaderKey(name))
	return ok
}

// Get returns the first value of the field name (canonicalised as by http.Header.Get), ""
// when it has none.
func (h Header) Get(name string) string {
	return h.exactValue(textproto.CanonicalMIMEHeaderKey(name))
}

// exactValue is Get without canonicalising name.
func (h Header) exactValue(name string) string {
	i, n, ok := h.field(name)
	if !ok || n == 0 {
		return ""
	}
	v, _ := h.str(i)
	return v
}

// Values returns the values of the field name (canonicalised as by http.Header.Get) in a
// new slice, nil when h has no such field.
func (h Header) Values(name string) []string {
	return h.exactValues(textproto.CanonicalMIMEHeaderKey(name))
}

// exactValues is Values without canonicalising name.
func (h Header) exactValues(name string) []string {
	i, n, ok := h.field(name)
	if !ok {
		return nil
	}
	vs := make([]string, n)
	for j := range vs {
		vs[j], i = h.str(i)
	}
	return vs
}

// All yields every field with its values (a new slice for each field), in stored order.
func (h Header) All() iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		fields, _ := h.counts()
		i := h.start()
		for range fields {
			var name string
			var n int
			name, i = h.name(i)
			n, i = h.uvarint(i)
			vs := make([]string, n)
			for j := range vs {
				vs[j], i = h.str(i)
			}
			if !yield(name, vs) {
				return
			}
		}
	}
}

// Clone returns h as a new http.Header (nil for the zero Header), its values in one new
// slice.
func (h Header) Clone() http.Header {
	if h.b == "" {
		return nil
	}
	fields, _ := h.counts()
	dst := make(http.Header, fields)
	h.copyTo(dst, 0, "")
	return dst
}

// copyTo sets every field of h on dst, replacing dst's values of those fields, its values
// in one new slice with extra more slots after them (own). Each field's slice is capped at
// its own values. field is the copy of the values of the field named exactly want (nil
// when h has none; "" wants none).
func (h Header) copyTo(dst http.Header, extra int, want string) (own, field []string) {
	fields, values := h.counts()
	vals := make([]string, values+extra)
	i, k := h.start(), 0
	for range fields {
		var name string
		var n int
		name, i = h.name(i)
		n, i = h.uvarint(i)
		start := k
		for ; k < start+n; k++ {
			vals[k], i = h.str(i)
		}
		v := vals[start:k:k]
		dst[name] = v
		if name == want {
			field = v
		}
	}
	return vals[values:], field
}

// size returns the bytes of the compact form.
func (h Header) size() int { return len(h.b) }

// counts returns the number of fields and of values.
func (h Header) counts() (fields, values int) {
	if h.b == "" {
		return 0, 0
	}
	fields, i := h.uvarint(0)
	values, _ = h.uvarint(i)
	return fields, values
}

// start is the offset of the first field.
func (h Header) start() int {
	if h.b == "" {
		return 0
	}
	_, i := h.uvarint(0)
	_, i = h.uvarint(i)
	return i
}

// field finds the field named exactly name: the offset of its first value and its number
// of values.
func (h Header) field(name string) (at, n int, ok bool) {
	fields, _ := h.counts()
	i := h.start()
	for range fields {
		var field string
		field, i = h.name(i)
		n, i = h.uvarint(i)
		if field == name {
			return i, n, true
		}
		for range n {
			var l int
			l, i = h.uvarint(i)
			i += l
		}
	}
	return 0, 0, false
}

// name reads the field name at i and returns it (a common name, or a substring: no
// allocation) and the offset after it.
func (h Header) name(i int) (string, int) {
	x, i := h.uvarint(i)
	if x&1 == 0 {
		return commonName(x >> 1), i
	}
	l := x >> 1
	return h.b[i : i+l], i + l
}

// nameLen is the size of name's encoding.
func nameLen(name string) int {
	if i := commonIndex(name); i >= 0 {
		return uvarintLen(2 * i)
	}
	return uvarintLen(2*len(name)+1) + len(name)
}

// str reads the length-prefixed string at i and returns it (a substring: no allocation)
// and the offset after it.
func (h Header) str(i int) (string, int) {
	l, i := h.uvarint(i)
	return h.b[i : i+l], i + l
}

// uvarint reads the unsigned varint at i and returns it and the offset after it.
func (h Header) uvarint(i int) (int, int) {
	var x, shift uint
	for {
		c := h.b[i]
		i++
		x |= uint(c&0x7f) << shift
		if c < 0x80 {
			return int(x), i
		}
		shift += 7
	}
}

func writeUvarint(b *strings.Builder, x int) {
	u := uint(x)
	for u >= 0x80 {
		b.WriteByte(byte(u) | 0x80)
		u >>= 7
	}
	b.WriteByte(byte(u))
}

func uvarintLen(x int) int {
	n := 1
	for u := uint(x); u >= 0x80; u >>= 7 {
		n++
	}
	return n
}
