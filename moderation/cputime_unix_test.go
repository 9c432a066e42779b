//go:build unix

package moderation

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op to a benchmark: the process's CPU time over
// the timed loop, which, unlike ns/op, does not count the time the
// benchmark waits for a core on a loaded machine. start is cpuTime()
// when the timer was reset. With -cpu 1 it is the loop's time plus the
// garbage collector's.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; d > 0 && start > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
