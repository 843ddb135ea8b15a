//go:build long

package reliability

// long selects the full-size load and memory runs (build tag "long").
const long = true
