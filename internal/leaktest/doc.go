// Package leaktest runs goleak in every package's TestMain, ignoring only the two
// per-circuit monitor goroutines that hystrix-go starts and never stops:
//
//	func TestMain(m *testing.M) { leaktest.Main(m) }
//
// A test binary may pass extra goleak options to Main for a third-party dependency of its
// own that is known to leave goroutines (the reliability module does, for toxiproxy).
package leaktest
