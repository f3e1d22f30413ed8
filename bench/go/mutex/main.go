// mutex: the peer of bench/mutex.c. 8 goroutines contend for one sync.Mutex,
// each taking it n/8 times to increment a shared counter.
package main

import (
	"sync"

	"goc/bench/report"
)

const workers = 8

func main() {
	n := report.Arg(10000000)
	if n%workers != 0 {
		report.Fail("mutex", "n must be a multiple of %d", workers)
	}
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	c := report.Start()
	wg.Add(workers)
	for i := 0; i < workers; i++ {
		go func() {
			for i := int64(0); i < n/workers; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if counter != n {
		report.Fail("mutex", "counter %d, want %d", counter, n)
	}
	report.Report("mutex", n, float64(n), c, "")
}
