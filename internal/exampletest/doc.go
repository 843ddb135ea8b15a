// Package exampletest drives the quote-service example programs (examples/echo,
// examples/nethttp) through the same scenario, so that both are checked to mount the
// fallback middleware correctly and to stop cleanly.
package exampletest
