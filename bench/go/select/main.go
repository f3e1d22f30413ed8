// select: the peer of bench/select.c. Fan-in: 4 producers each send n/4
// values on their own unbuffered channel and close it; one consumer selects
// over the 4, setting each to nil once closed.
package main

import "goc/bench/report"

const fanin = 4

func main() {
	n := report.Arg(1000000)
	if n%fanin != 0 {
		report.Fail("select", "n must be a multiple of %d", fanin)
	}
	var chans [fanin]chan int64
	for i := range chans {
		chans[i] = make(chan int64)
	}
	c := report.Start()
	for k := int64(0); k < fanin; k++ {
		go func(k int64) {
			base := k * (n / fanin)
			for i := int64(0); i < n/fanin; i++ {
				chans[k] <- base + i
			}
			close(chans[k])
		}(k)
	}
	c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
	var sum, count int64
	for open := fanin; open > 0; {
		var v int64
		var ok bool
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		}
		if !ok {
			open--
			continue
		}
		sum += v
		count++
	}
	if want := n * (n - 1) / 2; count != n || sum != want {
		report.Fail("select", "%d messages summing to %d, want %d and %d", count, sum, n, want)
	}
	report.Report("select", n, float64(n), c, "")
}
