//go:build unix

package main

import (
	"os"
	"syscall"
	"time"
)

// selfCPU is this process's CPU time so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// usageOf is a finished process's peak RSS (MiB) and CPU time (s).
func usageOf(ps *os.ProcessState) (rssMiB, cpu float64) {
	use, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return float64(use.Maxrss) / 1024, time.Duration(use.Utime.Nano() + use.Stime.Nano()).Seconds() // KiB on Linux
}
