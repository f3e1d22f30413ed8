// spawn: the peer of bench/spawn.c. Fork/join sum over 0..n-1: every node of
// a binary tree over the range is a goroutine; an inner node starts two
// children and waits for both on a WaitGroup. 2n-1 goroutines.
package main

import (
	"sync"

	"goc/bench/report"
)

type node struct {
	lo, hi int64
	sum    int64
	parent *sync.WaitGroup
}

func sum(me *node) {
	if me.hi-me.lo == 1 {
		me.sum = me.lo
	} else {
		mid := me.lo + (me.hi-me.lo)/2
		var wg sync.WaitGroup
		a := node{lo: me.lo, hi: mid, parent: &wg}
		b := node{lo: mid, hi: me.hi, parent: &wg}
		wg.Add(2)
		go sum(&a)
		go sum(&b)
		wg.Wait()
		me.sum = a.sum + b.sum
	}
	me.parent.Done()
}

func main() {
	n := report.Arg(1000000)
	var wg sync.WaitGroup
	root := node{lo: 0, hi: n, parent: &wg}
	c := report.Start()
	wg.Add(1)
	go sum(&root)
	wg.Wait()
	if want := n * (n - 1) / 2; root.sum != want {
		report.Fail("spawn", "sum %d, want %d", root.sum, want)
	}
	report.Report("spawn", n, float64(2*n-1), c, "")
}
