package faultupstream

import (
	"fmt"
	"time"
)

// Mode names a behaviour of the Server.
type Mode uint8

// Modes; see the package documentation.
const (
	ModeHealthy Mode = iota
	ModeLatency
	ModeErrors
	ModeOutage
	ModeBlackhole
	ModeFlapping
	ModeSlowBody
	ModeTruncated
)

var modeNames = [...]string{"healthy", "latency", "errors", "outage", "blackhole", "flapping", "slow-body", "truncated"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// Fault is a behaviour with its parameters. Build one with the functions below.
type Fault struct {
	Mode     Mode
	Delay    time.Duration // ModeLatency: before answering; ModeSlowBody: between chunks
	Fraction float64       // ModeErrors: share of requests that fail, 0..1
	Status   int           // ModeErrors: the failing status
	Seed     uint64        // ModeErrors: 0 spreads failures evenly; else a seeded random pick
	Period   time.Duration // ModeFlapping: length of each healthy and each outage phase
	Chunk    int           // ModeSlowBody: bytes per write
}

// Healthy answers at once.
func Healthy() Fault { return Fault{Mode: ModeHealthy} }

// Latency answers after d.
func Latency(d time.Duration) Fault { return Fault{Mode: ModeLatency, Delay: d} }

// Errors fails fraction of the requests with status, spread evenly and deterministically:
// Errors(0.5, 503) fails every 2nd request.
func Errors(fraction float64, status int) Fault {
	return Fault{Mode: ModeErrors, Fraction: fraction, Status: status}
}

// SeededErrors fails each request with probability fraction, drawn from a generator seeded
// with seed (seed 0 behaves as Errors).
func SeededErrors(fraction float64, status int, seed uint64) Fault {
	return Fault{Mode: ModeErrors, Fraction: fraction, Status: status, Seed: seed}
}

// Outage closes the listener (connection refused) and drops open connections.
func Outage() Fault { return Fault{Mode: ModeOutage} }

// Blackhole accepts requests and never answers them.
func Blackhole() Fault { return Fault{Mode: ModeBlackhole} }

// Flapping alternates Healthy and Outage, each for period, starting healthy.
func Flapping(period time.Duration) Fault { return Fault{Mode: ModeFlapping, Period: period} }

// SlowBody sends the headers at once, then chunk bytes of the body every interval.
func SlowBody(chunk int, every time.Duration) Fault {
	return Fault{Mode: ModeSlowBody, Chunk: chunk, Delay: every}
}

// Truncated declares the full Content-Length, sends half the body and drops the connection.
func Truncated() Fault { return Fault{Mode: ModeTruncated} }

func (f Fault) validate() error {
	switch f.Mode {
	case ModeHealthy, ModeOutage, ModeBlackhole, ModeTruncated:
	case ModeLatency:
		if f.Delay < 0 {
			return fmt.Errorf("faultupstream: Fault.Delay %v < 0", f.Delay)
		}
	case ModeErrors:
		if f.Fraction < 0 || f.Fraction > 1 {
			return fmt.Errorf("faultupstream: Fault.Fraction %v outside 0..1", f.Fraction)
		}
		if f.Status < 100 || f.Status > 999 {
			return fmt.Errorf("faultupstream: Fault.Status %d is not an HTTP status", f.Status)
		}
	case ModeFlapping:
		if f.Period <= 0 {
			return fmt.Errorf("faultupstream: Fault.Period %v must be > 0", f.Period)
		}
	case ModeSlowBody:
		if f.Chunk <= 0 || f.Delay < 0 {
			return fmt.Errorf("faultupstream: Fault.Chunk %d must be > 0 and Fault.Delay %v >= 0", f.Chunk, f.Delay)
		}
	default:
		return fmt.Errorf("faultupstream: Fault.Mode %v unknown", f.Mode)
	}
	return nil
}

// String describes the fault, for labels.
func (f Fault) String() string {
	switch f.Mode {
	case ModeLatency:
		return fmt.Sprintf("latency %v", f.Delay)
	case ModeErrors:
		return fmt.Sprintf("errors %g%% %d", f.Fraction*100, f.Status)
	case ModeFlapping:
		return fmt.Sprintf("flapping %v", f.Period)
	case ModeSlowBody:
		return fmt.Sprintf("slow body %dB/%v", f.Chunk, f.Delay)
	}
	return f.Mode.String()
}
