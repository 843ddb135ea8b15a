//go:build !unix

package benchtest

import "time"

// processCPU is not measured on this platform: benchmarks then report no cpu-ns/op.
func processCPU() time.Duration { return 0 }
