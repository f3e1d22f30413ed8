// idle: the peer of bench/idle.c. n goroutines block on one unbuffered
// channel; spawn time per goroutine (until all have started, polled every
// 100 us) and RSS growth per goroutine; then close, and all n must see it.
// Go's stacks start at 2 KiB and grow; goc's side uses 8 KiB stacks.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"goc/bench/report"
)

const stackKB = 8 // goc's stack size, reported alongside for comparison

func main() {
	n := report.Arg(1000000)
	ch := make(chan struct{})
	var wg sync.WaitGroup
	var started, closed int64
	rss0 := report.RSSKB()
	c := report.Start()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			atomic.AddInt64(&started, 1)
			if _, ok := <-ch; !ok {
				atomic.AddInt64(&closed, 1)
			}
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&started) < n {
		time.Sleep(100 * time.Microsecond)
	}
	wall, cpu := c.Elapsed()
	rss1 := report.RSSKB()
	close(ch)
	wg.Wait()
	if closed != n {
		report.Fail("idle", "%d of %d saw the close", closed, n)
	}
	extra := fmt.Sprintf("bytes_per_coro=%.1f stack_kb=%d", float64(rss1-rss0)*1024/float64(n), stackKB)
	report.Print("idle", n, float64(n), wall, cpu, extra)
}
