// stream: the peer of bench/stream.c. 4 connections, 64 KiB writes, a
// reader per connection counting the bytes.
package main

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"goc/bench/report"
)

const conns = 4
const chunk = 64 * 1024

func main() {
	n := report.Arg(40000)
	perConn := n / conns
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		report.Fail("stream", "listen: %v", err)
	}
	var received int64
	var wg sync.WaitGroup
	c := report.Start()
	wg.Add(2 * conns)
	go func() {
		for i := 0; i < conns; i++ {
			conn, err := l.Accept()
			if err != nil {
				report.Fail("stream", "accept: %v", err)
			}
			go func() {
				defer wg.Done()
				buf := make([]byte, chunk)
				for {
					k, err := conn.Read(buf)
					atomic.AddInt64(&received, int64(k))
					if err != nil {
						break
					}
				}
				conn.Close()
			}()
		}
	}()
	for i := 0; i < conns; i++ {
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				report.Fail("stream", "dial: %v", err)
			}
			out := bytes.Repeat([]byte{'s'}, chunk)
			for j := int64(0); j < perConn; j++ {
				if _, err := conn.Write(out); err != nil {
					report.Fail("stream", "write: %v", err)
				}
			}
			conn.Close()
		}()
	}
	wg.Wait()
	total := perConn * conns
	if received != total*chunk {
		report.Fail("stream", "bytes lost")
	}
	wall, _ := c.Elapsed()
	report.Report("stream", n, float64(total), c,
		fmt.Sprintf("mb_per_s=%.0f", float64(total*chunk)/1e6/wall.Seconds()))
	l.Close()
}
