// Package reliability holds failsoft's fault-injection, load, memory, shared-cache safety
// and lifecycle tests. It is a nested module so that its heavy test-only dependency
// (Shopify's toxiproxy, run in-process) never enters the library's go.mod.
package reliability
