// Package echonet is the Go side of bench/echo.c, shared by the echo (64
// connections) and echo1k (1000) peers: a TCP echo server and its clients in
// one process over loopback, 512-byte round trips.
package echonet

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"goc/bench/report"
)

const msg = 512

// Run does n round trips over conns connections and reports them as name.
func Run(name string, conns int64) {
	n := report.Arg(200000)
	perConn := n / conns
	if perConn == 0 {
		perConn = 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		report.Fail(name, "listen: %v", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, msg)
				for {
					k, err := c.Read(buf)
					if err != nil {
						break
					}
					if _, err := c.Write(buf[:k]); err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	var rounds int64
	var wg sync.WaitGroup
	c := report.Start()
	for i := int64(0); i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				report.Fail(name, "dial: %v", err)
			}
			out := bytes.Repeat([]byte{'e'}, msg)
			in := make([]byte, msg)
			for j := int64(0); j < perConn; j++ {
				out[0] = byte(j)
				if _, err := conn.Write(out); err != nil {
					report.Fail(name, "write: %v", err)
				}
				if _, err := io.ReadFull(conn, in); err != nil {
					report.Fail(name, "read: %v", err)
				}
				if !bytes.Equal(in, out) {
					report.Fail(name, "echo differs")
				}
				atomic.AddInt64(&rounds, 1)
			}
			conn.Close()
		}()
	}
	wg.Wait()
	total := perConn * conns
	if rounds != total {
		report.Fail(name, "%d round trips, want %d", rounds, total)
	}
	report.Report(name, n, float64(total), c, fmt.Sprintf("conns=%d", conns))
	l.Close()
}
