//go:build !unix

package benchtest

import "time"

// processCPU is not measured on this platform: benchmarks then report no cpu-ns/op.
func processCPU() time.Duration { return 0 }

// pageFaults is not counted on this platform: benchmarks then report no faults/op.
func pageFaults() int64 { return -1 }
