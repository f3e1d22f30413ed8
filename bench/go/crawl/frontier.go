package main

// The frontier, as goc-crawl's crawl.c: one goroutine owns every URL seen
// (its depth and fate) and every host (its queue, a min-heap on depth then
// arrival; its robots rules; its requests in flight), hands jobs to the
// fetchers over an unbuffered channel and takes their outcomes back. A URL is
// requested at most once, only within the depth limit, on the start host and
// when robots.txt allows it; a host has at most per-host requests in flight.
// Depth is the shortest distance from the start URL: a shorter path found
// later relaxes the URL's links again (a redirect keeps its depth).

import (
	"container/heap"
	"net/url"
	"sync"
	"time"
)

const redirectsMax = 10

const (
	uQueued = iota
	uFlight
	uDone
	uBeyond
	uOffsite
	uBlocked
)

const (
	rNeed = iota
	rFetching
	rReady
)

const (
	whyDone = iota
	whyPageLimit
)

type unode struct {
	url      *url.URL
	host     int
	depth    int
	state    uint8
	hops     uint8
	redirect bool    // done, and to[0] is its Location
	to       []int32 // links (a 3xx: its target), kept for relaxing
}

type qitem struct {
	depth int
	seq   uint32
	node  int32
}

type queue []qitem

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	return q[i].depth < q[j].depth || q[i].depth == q[j].depth && q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int)       { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x interface{}) { *q = append(*q, x.(qitem)) }
func (q *queue) Pop() interface{} {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type host struct {
	key    string
	active int
	nextOK time.Time
	rstate int
	rules  *robots
	q      queue // stale entries are skipped
}

type crawler struct {
	o                            *options
	startKey                     string
	u                            []unode
	index                        map[string]int32
	hosts                        []*host
	hostIdx                      map[string]int
	rr                           int
	seq                          uint32
	dispatched, inFlight, queued int
	why                          int
	// what the summary says
	pages, answered, retries, errors, redirects, blocked, beyond, offsite, links int
	jobs                                                                         chan job
	outcomes                                                                     chan *outcome
}

func (c *crawler) hostOf(u *url.URL) int {
	key := hostKey(u)
	if i, ok := c.hostIdx[key]; ok {
		return i
	}
	h := &host{key: key, rstate: rReady}
	if c.o.robots {
		h.rstate = rNeed
	}
	c.hosts = append(c.hosts, h)
	c.hostIdx[key] = len(c.hosts) - 1
	return len(c.hosts) - 1
}

func (c *crawler) push(node int32) {
	h := c.hosts[c.u[node].host]
	heap.Push(&h.q, qitem{c.u[node].depth, c.seq, node})
	c.seq++
}

// head is h's first queued node, stale entries dropped; -1 if none.
func (c *crawler) head(h *host) int32 {
	for len(h.q) > 0 {
		q := h.q[0]
		if u := &c.u[q.node]; u.state == uQueued && u.depth == q.depth {
			return q.node
		}
		heap.Pop(&h.q)
	}
	return -1
}

// add makes the node for a URL seen for the first time.
func (c *crawler) add(u *url.URL, s string, depth, hops int) int32 {
	i := int32(len(c.u))
	c.u = append(c.u, unode{url: u, host: c.hostOf(u), depth: depth, hops: uint8(hops)})
	c.index[s] = i
	switch {
	case c.o.sameHost && hostKey(u) != c.startKey:
		c.u[i].state = uOffsite
		c.offsite++
	case depth > c.o.maxDepth:
		c.u[i].state = uBeyond
		c.beyond++
	default:
		c.u[i].state = uQueued
		c.queued++
		c.push(i)
	}
	return i
}

// reach: a URL reached at depth, new, a duplicate or a shorter path.
func (c *crawler) reach(s string, depth, hops int) int32 {
	if i, ok := c.index[s]; ok {
		if depth < c.u[i].depth {
			c.relax(i, depth)
		}
		return i
	}
	u, err := url.Parse(s)
	if err != nil {
		return -1
	}
	return c.add(u, s, depth, hops)
}

func (c *crawler) relax(node int32, depth int) {
	u := &c.u[node]
	u.depth = depth
	switch u.state {
	case uBeyond:
		if depth > c.o.maxDepth {
			return
		}
		c.beyond--
		u.state = uQueued
		c.queued++
		c.push(node)
	case uQueued:
		c.push(node) // the old entry goes stale
	case uDone:
		for _, t := range u.to {
			d := depth + 1
			if u.redirect {
				d = depth
			}
			if d < c.u[t].depth {
				c.relax(t, d)
			}
		}
	}
}

// headAllowed is h's first queued node robots.txt allows; disallowed ones
// are dropped and counted.
func (c *crawler) headAllowed(h *host) int32 {
	for {
		node := c.head(h)
		if node < 0 || h.rules.allowed(target(c.u[node].url)) {
			return node
		}
		c.u[node].state = uBlocked
		c.queued--
		c.blocked++
		heap.Pop(&h.q)
	}
}

// nextJob is the next job to hand out, or the time until a host's delay has
// passed (-1: nothing waits for one).
func (c *crawler) nextJob() (j job, ok bool, wait time.Duration) {
	wait = -1
	if c.why != whyDone {
		return
	}
	now := time.Now()
	for n := range c.hosts {
		i := (c.rr + n) % len(c.hosts)
		h := c.hosts[i]
		if h.rstate == rFetching {
			continue
		}
		var node int32
		if h.rstate == rReady {
			node = c.headAllowed(h)
		} else {
			node = c.head(h)
		}
		if node < 0 || h.active >= c.o.perHost {
			continue
		}
		if now.Before(h.nextOK) {
			if d := h.nextOK.Sub(now); wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		if h.rstate == rReady && c.o.maxPages > 0 && c.dispatched >= c.o.maxPages {
			c.why = whyPageLimit
			return j, false, -1
		}
		return job{h.rstate == rNeed, node, i, c.u[node].url}, true, wait
	}
	return
}

func (c *crawler) handedOut(j job) {
	h := c.hosts[j.host]
	if j.robots {
		h.rstate = rFetching
	} else {
		c.u[j.node].state = uFlight
		c.queued--
		c.dispatched++
		heap.Pop(&h.q)
	}
	h.active++
	h.nextOK = time.Now().Add(time.Duration(c.o.delayMS) * time.Millisecond)
	c.inFlight++
	c.rr = j.host + 1
}

func (c *crawler) took(out *outcome) {
	h := c.hosts[out.host]
	h.active--
	c.inFlight--
	if out.robots {
		h.rules = out.rules
		h.rstate = rReady
		return
	}
	node := out.node
	c.u[node].state = uDone
	if out.location != "" && out.err == nil {
		c.redirects++
		if c.u[node].hops < redirectsMax {
			if t := c.reach(out.location, c.u[node].depth, int(c.u[node].hops)+1); t >= 0 {
				c.u[node].to, c.u[node].redirect = []int32{t}, true
			}
		}
	}
	if out.links != nil {
		c.links += len(out.links)
		to := make([]int32, 0, len(out.links))
		for _, l := range out.links {
			if t := c.reach(l, c.u[node].depth+1, 0); t >= 0 {
				to = append(to, t)
			}
		}
		c.u[node].to = to
	}
	c.pages++
	if out.status != 0 {
		c.answered++
	}
	c.retries += out.retries
	if out.err != nil || out.status >= 400 || out.status == 0 {
		c.errors++
	}
}

// run crawls from start with o.fetchers fetchers; returns why it stopped.
func (c *crawler) run(start *url.URL) int {
	c.index = map[string]int32{}
	c.hostIdx = map[string]int{}
	c.startKey = hostKey(start)
	c.jobs = make(chan job)
	c.outcomes = make(chan *outcome, c.o.fetchers)
	page, follow := newClients(c.o)
	var wg sync.WaitGroup
	for i := 0; i < c.o.fetchers; i++ {
		f := &fetcher{o: c.o, page: page, follow: follow, rng: c.o.seed*1000003 + uint64(i)}
		wg.Add(1)
		go f.loop(c.jobs, c.outcomes, wg.Done)
	}
	c.reach(start.String(), 0, 0)
	for {
		j, ready, wait := c.nextJob()
		if !ready && c.inFlight == 0 && wait < 0 {
			break
		}
		var jobs chan job
		if ready {
			jobs = c.jobs
		}
		var timer *time.Timer
		var tick <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			tick = timer.C
		}
		select {
		case jobs <- j:
			c.handedOut(j)
		case out := <-c.outcomes:
			c.took(out)
		case <-tick:
		}
		if timer != nil {
			timer.Stop()
		}
	}
	close(c.jobs)
	wg.Wait()
	return c.why
}
