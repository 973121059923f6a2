//go:build !unix

package main

import "os"

// selfCPU: not measured here (the benchmarks run on Linux).
func selfCPU() float64 { return 0 }

// usageOf: the process's CPU time; its peak RSS is not measured here.
func usageOf(ps *os.ProcessState) (rssMiB, cpu float64) {
	return 0, (ps.UserTime() + ps.SystemTime()).Seconds()
}
