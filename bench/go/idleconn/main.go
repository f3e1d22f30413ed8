// idleconn: the peer of bench/idleconn.c. n connections, each with a server
// goroutine blocked in Read; memory per connection and CPU while idle.
package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"goc/bench/report"
)

func main() {
	n := report.Arg(9000)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		report.Fail("idleconn", "listen: %v", err)
	}
	var parked, eofs int64
	var wg sync.WaitGroup
	clients := make([]net.Conn, n)
	rss0 := report.RSSKB()
	c := report.Start()
	for i := int64(0); i < n; i++ {
		clients[i], err = net.Dial("tcp", l.Addr().String())
		if err != nil {
			report.Fail("idleconn", "dial %d: %v", i, err)
		}
		s, err := l.Accept()
		if err != nil {
			report.Fail("idleconn", "accept %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			atomic.AddInt64(&parked, 1)
			b := make([]byte, 1)
			if _, err := s.Read(b); err == io.EOF {
				atomic.AddInt64(&eofs, 1)
			}
			s.Close()
		}()
	}
	for atomic.LoadInt64(&parked) < n {
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(10 * time.Millisecond)
	wall, cpu := c.Elapsed()
	rss1 := report.RSSKB()
	idle0 := report.CPU()
	time.Sleep(200 * time.Millisecond)
	idle := report.CPU() - idle0
	for _, cl := range clients {
		cl.Close()
	}
	wg.Wait()
	if eofs != n {
		report.Fail("idleconn", "%d of %d readers saw EOF", eofs, n)
	}
	report.Print("idleconn", n, float64(n), wall, cpu,
		fmt.Sprintf("bytes_per_conn=%.1f idle_cpu_ms=%.2f", float64(rss1-rss0)*1024/float64(n),
			float64(idle.Nanoseconds())/1e6))
	l.Close()
}
