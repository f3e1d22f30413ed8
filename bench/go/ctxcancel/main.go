// ctxcancel: the peer of bench/ctxcancel.c. A tree of n cancel contexts (node
// i > 0 a child of node (i-1)/10), every Done channel fetched, then the root
// cancelled; the figure is that one cancel per node, over 10 trees.
package main

import (
	"context"
	"time"

	"goc/bench/report"
)

const (
	fanout = 10
	trees  = 10
)

func main() {
	n := report.Arg(100000)
	nodes := make([]context.Context, n)
	cancels := make([]context.CancelFunc, n)
	var wall time.Duration
	c := report.Start()
	for t := 0; t < trees; t++ {
		for i := int64(0); i < n; i++ {
			parent := context.Background()
			if i > 0 {
				parent = nodes[(i-1)/fanout]
			}
			nodes[i], cancels[i] = context.WithCancel(parent)
			_ = nodes[i].Done()
		}
		t0 := time.Now()
		cancels[0]()
		wall += time.Since(t0)
		for i, ctx := range nodes {
			if ctx.Err() != context.Canceled {
				report.Fail("ctxcancel", "node %d: %v, want context.Canceled", i, ctx.Err())
			}
			select {
			case <-ctx.Done():
			default:
				report.Fail("ctxcancel", "node %d: done is not closed", i)
			}
		}
		for i := n - 1; i >= 0; i-- {
			cancels[i]()
		}
	}
	_, cpu := c.Elapsed()
	report.Print("ctxcancel", n, float64(n*trees), wall, cpu, "")
}
