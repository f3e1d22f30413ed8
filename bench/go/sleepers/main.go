// sleepers: the peer of bench/sleepers.c. n goroutines each sleep a random
// 0-100 ms (the same xorshift32 durations) and check they slept that long;
// the figure is the process's CPU time over the run.
package main

import (
	"sync"
	"sync/atomic"
	"time"

	"goc/bench/report"
)

const maxMS = 100

func main() {
	n := report.Arg(100000)
	durations := make([]time.Duration, n)
	seed := uint32(1)
	for i := range durations {
		durations[i] = time.Duration(report.Rand(&seed)%(maxMS+1)) * time.Millisecond
	}
	var wg sync.WaitGroup
	var early int64
	c := report.Start()
	wg.Add(int(n))
	for i := range durations {
		go func(d time.Duration) {
			t0 := time.Now()
			time.Sleep(d)
			if time.Since(t0) < d {
				atomic.AddInt64(&early, 1)
			}
			wg.Done()
		}(durations[i])
	}
	wg.Wait()
	if early != 0 {
		report.Fail("sleepers", "%d sleepers woke early", early)
	}
	report.Report("sleepers", n, float64(n), c, "")
}
