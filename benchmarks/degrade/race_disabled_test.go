//go:build !race

package degrade

// raceEnabled reports whether the test binary runs with the race detector.
const raceEnabled = false
