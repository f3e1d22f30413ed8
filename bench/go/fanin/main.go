// fanin: the peer of bench/fanin.c. 8 producer goroutines, one channel of
// capacity 128, drained by main.
package main

import "goc/bench/report"

const producers = 8

func main() {
	n := report.Arg(2000000)
	per := n / producers
	ch := make(chan int64, 128)
	c := report.Start()
	for p := int64(0); p < producers; p++ {
		go func(base int64) {
			for i := int64(0); i < per; i++ {
				ch <- base + i
			}
		}(p * per)
	}
	total := per * producers
	var sum int64
	for i := int64(0); i < total; i++ {
		sum += <-ch
	}
	if sum != total*(total-1)/2 {
		report.Fail("fanin", "sum %d", sum)
	}
	report.Report("fanin", n, float64(total), c, "")
}
