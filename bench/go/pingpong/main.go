// pingpong: the peer of bench/pingpong.c. main and a goroutine, two
// unbuffered channels; main sends i, the goroutine answers i+1; n round trips.
package main

import (
	"sync"

	"goc/bench/report"
)

func main() {
	n := report.Arg(1000000)
	ping := make(chan int64)
	pong := make(chan int64)
	var wg sync.WaitGroup
	var total int64
	c := report.Start()
	wg.Add(1)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		wg.Done()
	}()
	for i := int64(0); i < n; i++ { // main pings, as bench/pingpong.c's driver
		ping <- i
		v := <-pong
		if v != i+1 {
			report.Fail("pingpong", "got %d, want %d", v, i+1)
		}
		total += v
	}
	close(ping)
	wg.Wait()
	if want := n * (n + 1) / 2; total != want {
		report.Fail("pingpong", "sum %d, want %d", total, want)
	}
	report.Report("pingpong", n, float64(n), c, "")
}
