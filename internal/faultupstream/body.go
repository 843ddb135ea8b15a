package faultupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors returned by Verify.
var (
	// ErrBadBody means the body is not the JSON document the Server sends (partial, garbled).
	ErrBadBody = errors.New("faultupstream: body is not a complete document")
	// ErrWrongKey means the body is complete but belongs to another path.
	ErrWrongKey = errors.New("faultupstream: body belongs to another path")
	// ErrBadSum means the body's checksum does not match its content.
	ErrBadSum = errors.New("faultupstream: body checksum mismatch")
)

// document is the JSON body the Server sends.
type document struct {
	Key     string `json:"key"`
	Version int    `json:"version"`
	Pad     string `json:"pad"`
	Sum     string `json:"sum"`
}

// checksum binds key, version and pad together.
func checksum(key string, version int, pad string) string {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(version)))
	h.Write([]byte{0})
	h.Write([]byte(pad))
	return hex.EncodeToString(h.Sum(nil))
}

// Body returns the body the Server sends for path at version, padded so that the whole
// document is about size bytes (0: 256). It is deterministic.
func Body(path string, version, size int) []byte {
	if size <= 0 {
		size = defaultBodyBytes
	}
	// The fixed part: {"key":"","version":N,"pad":"","sum":"<64 hex>"} plus the key.
	fixed := len(path) + len(strconv.Itoa(version)) + 103
	n := max(size-fixed, 0)
	var pad strings.Builder
	pad.Grow(n)
	for i := range n {
		pad.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[(i+len(path)+version)%36])
	}
	d := document{Key: path, Version: version, Pad: pad.String()}
	d.Sum = checksum(d.Key, d.Version, d.Pad)
	b, err := json.Marshal(d)
	if err != nil { // cannot happen: strings and ints only
		panic(err)
	}
	return b
}

// Verify checks that body is a complete, untampered document for path and returns its
// version. A partial body, another path's body or a wrong checksum is an error.
func Verify(path string, body []byte) (version int, err error) {
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if d.Sum == "" {
		return 0, ErrBadBody
	}
	if d.Key != path {
		return 0, fmt.Errorf("%w: got %q, want %q", ErrWrongKey, d.Key, path)
	}
	if checksum(d.Key, d.Version, d.Pad) != d.Sum {
		return 0, ErrBadSum
	}
	return d.Version, nil
}
