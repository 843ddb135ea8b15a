// Package degrade is the degradation harness: the same keyed workload runs against a
// fault-injecting loopback upstream through failsoft and through the libraries a user would
// otherwise pick, and each answer is checked (status and body checksum). cmd/degrade runs it
// and writes the tables and the chart.
package degrade
