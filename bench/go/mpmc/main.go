// mpmc: the peer of bench/mpmc.c. 4 producers and 4 consumers on one channel
// of capacity 1024, n messages in all; a closer waits for the producers and
// closes the channel.
package main

import (
	"sync"

	"goc/bench/report"
)

const (
	producers = 4
	consumers = 4
	capacity  = 1024
)

func main() {
	n := report.Arg(4000000)
	if n%producers != 0 {
		report.Fail("mpmc", "n must be a multiple of %d", producers)
	}
	ch := make(chan int64, capacity)
	var producing, consuming sync.WaitGroup
	var sums [consumers]int64
	var counts [consumers]int64
	c := report.Start()
	producing.Add(producers)
	consuming.Add(consumers)
	for k := 0; k < consumers; k++ {
		go func(k int) {
			var sum, count int64
			for v := range ch {
				sum += v
				count++
			}
			sums[k] = sum
			counts[k] = count
			consuming.Done()
		}(k)
	}
	for k := int64(0); k < producers; k++ {
		go func(k int64) {
			base := k * (n / producers)
			for i := int64(0); i < n/producers; i++ {
				ch <- base + i
			}
			producing.Done()
		}(k)
	}
	go func() {
		producing.Wait()
		close(ch)
	}()
	consuming.Wait()
	var sum, count int64
	for k := 0; k < consumers; k++ {
		sum += sums[k]
		count += counts[k]
	}
	if want := n * (n - 1) / 2; count != n || sum != want {
		report.Fail("mpmc", "%d messages summing to %d, want %d and %d", count, sum, n, want)
	}
	report.Report("mpmc", n, float64(n), c, "")
}
