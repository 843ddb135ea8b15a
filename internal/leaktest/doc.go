// Package leaktest runs goleak in every package's TestMain, ignoring only the two
// per-circuit monitor goroutines that hystrix-go starts and never stops:
//
//	func TestMain(m *testing.M) { leaktest.Main(m) }
package leaktest
