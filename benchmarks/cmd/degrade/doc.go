// Command degrade runs the degradation harness: every fault mode of a loopback upstream,
// through failsoft and its peers, and writes results/degrade.md and results/degrade.svg.
//
//	go run ./cmd/degrade          # full run, about 4.5 minutes
//	go run ./cmd/degrade -quick   # short cells, under a minute
//
// It exits 2 when the results fail the sanity checks of degrade.Results.Check.
package main
