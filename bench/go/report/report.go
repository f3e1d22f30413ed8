// Package report is what every Go peer shares with its goc workload (see
// bench/bench.h): the size argument, the clock, resource counters and the one
// result line the runner parses, with impl=go.
package report

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Arg returns n from the first argument, else def.
func Arg(def int64) int64 {
	if len(os.Args) < 2 {
		return def
	}
	n, err := strconv.ParseInt(os.Args[1], 10, 64)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [n > 0]\n", os.Args[0])
		os.Exit(2)
	}
	return n
}

// CPU is the process's user+system time so far.
func CPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MaxRSSKB is the process's peak resident set size in KiB.
func MaxRSSKB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

// RSSKB is the resident set size now in KiB (/proc/self/statm), or -1.
func RSSKB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var pages, resident int64
	if _, err := fmt.Sscan(string(b), &pages, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize()) / 1024
}

// User is the process's user time so far.
func User() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano())
}

// Clock marks the start of a measured section.
type Clock struct {
	wall time.Time
	cpu  time.Duration
	user time.Duration
}

func Start() Clock { return Clock{cpu: CPU(), user: User(), wall: time.Now()} }

// Elapsed is the wall and CPU time since c.
func (c Clock) Elapsed() (wall, cpu time.Duration) {
	wall = time.Since(c.wall)
	return wall, CPU() - c.cpu
}

// Fail reports a wrong result and exits with status 1.
func Fail(name, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Print writes the result line for a section that took wall and cpu.
func Print(name string, n int64, ops float64, wall, cpu time.Duration, extra string) {
	if extra != "" {
		extra = " " + extra
	}
	fmt.Printf("BENCH name=%s impl=go procs=%d n=%d ops=%.0f ns_per_op=%.3f wall_s=%.6f "+
		"cpu_s=%.6f rss_kb=%d%s\n",
		name, runtime.GOMAXPROCS(0), n, ops, float64(wall.Nanoseconds())/ops, wall.Seconds(),
		cpu.Seconds(), MaxRSSKB(), extra)
}

// Report writes the result line for the section that began at c, with its
// user CPU time (user_s) before extra.
func Report(name string, n int64, ops float64, c Clock, extra string) {
	wall, cpu := c.Elapsed()
	more := fmt.Sprintf("user_s=%.6f", (User() - c.user).Seconds())
	if extra != "" {
		more += " " + extra
	}
	Print(name, n, ops, wall, cpu, more)
}

// Rand is the xorshift32 of bench.h: identical sequences on both sides.
func Rand(s *uint32) uint32 {
	x := *s
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	*s = x
	return x
}
