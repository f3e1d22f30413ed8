// yield: the peer of bench/yield.c. Two goroutines each call runtime.Gosched
// n times; the figure is wall time / (2n).
package main

import (
	"runtime"
	"sync"

	"goc/bench/report"
)

func main() {
	n := report.Arg(1000000)
	var wg sync.WaitGroup
	var counts [2]int64
	c := report.Start()
	wg.Add(2)
	for i := 0; i < 2; i++ {
		go func(out *int64) {
			var count int64 // local: the two counters would share a cache line
			for i := int64(0); i < n; i++ {
				runtime.Gosched()
				count++
			}
			*out = count
			wg.Done()
		}(&counts[i])
	}
	wg.Wait()
	if counts[0] != n || counts[1] != n {
		report.Fail("yield", "counts %d %d, want %d", counts[0], counts[1], n)
	}
	report.Report("yield", n, float64(2*n), c, "")
}
