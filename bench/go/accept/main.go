// accept: the peer of bench/accept.c. 4 dialers, one acceptor, every
// connection closed at once on both sides.
package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"goc/bench/report"
)

const dialers = 4

func main() {
	n := report.Arg(50000)
	per := n / dialers
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		report.Fail("accept", "listen: %v", err)
	}
	var accepted int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			atomic.AddInt64(&accepted, 1)
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	c := report.Start()
	for i := 0; i < dialers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := int64(0); j < per; j++ {
				conn, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					report.Fail("accept", "dial: %v", err)
				}
				conn.Close()
			}
		}()
	}
	wg.Wait()
	total := per * dialers
	for atomic.LoadInt64(&accepted) < total {
		time.Sleep(100 * time.Microsecond)
	}
	report.Report("accept", n, float64(total), c, "")
	l.Close()
}
