package proxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// isHopByHop reports whether the canonical header name is hop-by-hop for a proxy (RFC 9110
// section 7.6.1): it describes one connection and is never forwarded, in either direction.
// Every Proxy-* field is included (Proxy-Authorization, Proxy-Authenticate, Proxy-Connection).
func isHopByHop(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return strings.HasPrefix(name, "Proxy-")
}

// connectionNamed returns the canonical names of the fields h's Connection header lists:
// they are hop-by-hop too. It returns nil when there is no Connection header.
func connectionNamed(h http.Header) map[string]struct{} {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	named := make(map[string]struct{})
	for _, v := range vv {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				named[http.CanonicalHeaderKey(f)] = struct{}{}
			}
		}
	}
	return named
}

// removeHopByHop deletes from h every hop-by-hop field and every field its Connection
// header names.
func removeHopByHop(h http.Header) {
	named := connectionNamed(h)
	for k := range h {
		if _, ok := named[k]; ok || isHopByHop(k) {
			delete(h, k)
		}
	}
}

// dropped are the request fields never forwarded unless Config.PassHeaders names them:
// the default key does not see them, yet they say what the host, URL, scheme or client
// were, which upstreams reflect (a framework building absolute links from
// X-Forwarded-Server or X-Original-Host, a log or error page echoing X-Real-Ip): from the
// client, an attacker's value would be stored and served to the next user. The proxy sets
// X-Forwarded-Host, X-Forwarded-Proto and X-Forwarded-For itself.
var dropped = [...]string{
	"Forwarded", "X-Original-Host", "X-Original-Uri", "X-Forwarded-Server", "X-Forwarded-Uri",
	"X-Forwarded-Path", "Front-End-Https", "X-Real-Ip",
}

// isDropped reports whether the canonical name is one of dropped.
func isDropped(name string) bool {
	for _, d := range dropped {
		if name == d {
			return true
		}
	}
	return false
}

// passHeaders validates Config.PassHeaders and returns the canonical names.
func passHeaders(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	pass := make(map[string]bool, len(names))
	for i, n := range names {
		c := http.CanonicalHeaderKey(n)
		switch {
		case n == "" || strings.ContainsAny(n, " \t\r\n:"):
			return nil, fmt.Errorf("proxy: Config.PassHeaders[%d] %q is not a field name", i, n)
		case isHopByHop(c):
			return nil, fmt.Errorf("proxy: Config.PassHeaders[%d] %q is hop-by-hop: never forwarded", i, n)
		case !isDropped(c):
			return nil, fmt.Errorf("proxy: Config.PassHeaders[%d] %q is not a field the proxy drops (%s)", i, n, strings.Join(dropped[:], ", "))
		}
		pass[c] = true
	}
	return pass, nil
}

// outboundHeader returns the header to send upstream for r: r's fields minus hop-by-hop ones
// (but "TE: trailers" when r's TE lists trailers) and minus the dropped ones pass does not
// name, with X-Forwarded-For (r's client address appended to r's own, unless r's
// Connection names it: then it was for this hop only), X-Forwarded-Host and
// X-Forwarded-Proto set by the proxy. Value slices of r.Header are shared, never modified.
//
// The client's Forwarded field (RFC 7239) is dropped, as httputil.ReverseProxy's Rewrite
// mode does: its host= and proto= say what X-Forwarded-Host and X-Forwarded-Proto say,
// which are never taken from the client. (The default key takes its host= and proto= too,
// so even an upstream that saw it could not fill the clean key with an attacker's host.)
// The other dropped fields are not keyed at all.
func outboundHeader(r *http.Request, pass map[string]bool) http.Header {
	named := connectionNamed(r.Header)
	h := make(http.Header, len(r.Header)+3)
	for k, vv := range r.Header {
		if _, ok := named[k]; ok || isHopByHop(k) || (isDropped(k) && !pass[k]) {
			continue
		}
		h[k] = vv
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && ip != "" {
		prior := h["X-Forwarded-For"] // none when Connection names it: it was for this hop
		if len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = []string{ip}
	}
	if acceptsTrailers(r.Header["Te"]) {
		// Hop-by-hop, but the client's word that it takes trailers is passed on (gRPC
		// upstreams require it), as httputil.ReverseProxy does; nothing else of TE.
		h["Te"] = []string{"trailers"}
	}
	if r.Host != "" {
		h["X-Forwarded-Host"] = []string{r.Host}
	} else {
		delete(h, "X-Forwarded-Host")
	}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = []string{"https"}
	} else {
		h["X-Forwarded-Proto"] = []string{"http"}
	}
	return h
}

// acceptsTrailers reports whether the TE field values vv list the "trailers" token
// (case-insensitive, parameters ignored).
func acceptsTrailers(vv []string) bool {
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			t, _, _ = strings.Cut(t, ";")
			if strings.EqualFold(strings.TrimSpace(t), "trailers") {
				return true
			}
		}
	}
	return false
}
