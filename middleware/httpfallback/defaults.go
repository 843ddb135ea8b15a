package httpfallback

import "net/http"

// defaultHeader is a static Default's Header laid out at New for the copy each answer
// writes: the field names and, in one slice, every value; field i's values end at
// ends[i] (and start where field i-1's end, or at 0).
type defaultHeader struct {
	names  []string
	ends   []int
	values []string
}

// layoutDefaults lays out the Header of every static default in cfg (Default, Defaults;
// a Func computes its header per answer). New calls it once: a Default's Header is read
// there, not per answer.
func layoutDefaults(cfg Config) map[*Default]*defaultHeader {
	m := make(map[*Default]*defaultHeader)
	add := func(d *Default) {
		if d == nil || d.Func != nil || m[d] != nil {
			return
		}
		l := &defaultHeader{}
		for name, vs := range d.Header {
			l.names = append(l.names, name)
			l.values = append(l.values, vs...)
			l.ends = append(l.ends, len(l.values))
		}
		m[d] = l
	}
	add(cfg.Default)
	for _, d := range cfg.Defaults {
		add(d)
	}
	return m
}

// copyTo sets every field of the default's header on dst and returns extra empty strings
// for the caller's own fields. All the values, and the extra slots after them, live in
// one new slice, and each field's slice is capped at its own values: the copy is the
// answer's own (a writer appending to a field, or changing a value in place, touches
// neither a neighbour nor the Default), for one allocation. A field without values is set
// to nil, as a per-field copy of it would be.
func (l *defaultHeader) copyTo(dst http.Header, extra int) []string {
	vals := make([]string, len(l.values)+extra)
	copy(vals, l.values)
	start := 0
	for i, name := range l.names {
		end := l.ends[i]
		if end == start {
			dst[name] = nil
		} else {
			dst[name] = vals[start:end:end]
		}
		start = end
	}
	return vals[len(l.values):]
}
