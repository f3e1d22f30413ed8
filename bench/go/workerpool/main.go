// workerpool: the peer of bench/workerpool.c, the lesson's pool with its
// `go c` fixed: 36 workers drain a task channel (capacity 64 here) that a pool
// goroutine fills with n tasks and closes; main waits on a WaitGroup of 36.
package main

import (
	"sync"

	"goc/bench/report"
)

const (
	workers  = 36
	capacity = 64
)

func worker(tasksCh <-chan int64, wg *sync.WaitGroup, sum *int64) {
	defer wg.Done()
	var local int64
	for {
		task, ok := <-tasksCh
		if !ok {
			*sum = local
			return
		}
		local += task
	}
}

func pool(tasksCh chan int64, wg *sync.WaitGroup, sums []int64, tasks int64) {
	for i := 0; i < workers; i++ {
		go worker(tasksCh, wg, &sums[i])
	}
	for i := int64(0); i < tasks; i++ {
		tasksCh <- i
	}
	close(tasksCh)
}

func main() {
	n := report.Arg(1000000)
	tasksCh := make(chan int64, capacity)
	sums := make([]int64, workers)
	var wg sync.WaitGroup
	c := report.Start()
	wg.Add(workers)
	pool(tasksCh, &wg, sums, n) // the producer is main, as in bench/workerpool.c
	wg.Wait()
	var sum int64
	for _, s := range sums {
		sum += s
	}
	if want := n * (n - 1) / 2; sum != want {
		report.Fail("workerpool", "sum %d, want %d", sum, want)
	}
	report.Report("workerpool", n, float64(n), c, "")
}
