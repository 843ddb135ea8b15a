//go:build !long

package reliability

// long selects the full-size load and memory runs (build tag "long"); the default is the
// CI-sized variant.
const long = false
