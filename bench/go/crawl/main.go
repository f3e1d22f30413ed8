// crawl: the Go peer of goc-crawl (apps/crawl/) for bench/run. The same
// algorithm (frontier.go, fetch.go) with net/http and golang.org/x/net/html:
// -c fetchers, a per-host limit, same-host, depth as shortest distance,
// retries with backoff and jitter, redirects followed by the crawler,
// robots.txt, a body cap, only HTML parsed. It takes goc-crawl's options
// (those a benchmark uses), crawls URL and prints one BENCH line (bench/bench.h)
// with ops = pages fetched and cpu_ns_per_op, CPU time per page: name=NAME
// from --bench, else "crawl".
package main

import (
	"flag"
	"fmt"
	"os"

	"goc/bench/report"
)

type options struct {
	fetchers, perHost, delayMS, maxDepth, maxPages, timeoutMS, retries int
	maxBody                                                            int64
	robots, sameHost                                                   bool
	seed                                                               uint64
}

func onOff(name string, def bool) *bool {
	v := def
	flag.Func(name, "on|off", func(s string) error {
		switch s {
		case "on":
			v = true
		case "off":
			v = false
		default:
			return fmt.Errorf("want on or off")
		}
		return nil
	})
	return &v
}

func main() {
	var o options
	flag.IntVar(&o.fetchers, "c", 16, "fetchers: requests in flight at most")
	flag.IntVar(&o.perHost, "per-host", 8, "requests in flight to one host at most")
	flag.IntVar(&o.delayMS, "delay", 0, "least ms between two request starts to one host")
	flag.IntVar(&o.maxDepth, "depth", 10, "follow links up to this depth")
	flag.IntVar(&o.maxPages, "max-pages", 0, "stop after this many fetched URLs; 0: no limit")
	flag.Int64Var(&o.maxBody, "max-body", 1<<20, "larger bodies are an error, not parsed")
	flag.IntVar(&o.timeoutMS, "timeout", 3000, "ms per request attempt; 0: none")
	flag.IntVar(&o.retries, "retries", 2, "extra attempts after 503, 429, a timeout, a broken connection")
	flag.Uint64Var(&o.seed, "seed", 1, "the jitter's seed")
	robots := onOff("robots", true)
	sameHost := onOff("same-host", true)
	name := flag.String("bench", "crawl", "the BENCH line's name")
	flag.Bool("q", false, "quiet (always)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: crawl [options] URL\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || o.fetchers < 1 || o.perHost < 1 {
		flag.Usage()
		os.Exit(2)
	}
	o.robots, o.sameHost = *robots, *sameHost
	start, err := resolve(nil, flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "crawl: not an http(s) URL: '%s'\n", flag.Arg(0))
		os.Exit(2)
	}
	c := &crawler{o: &o}
	user0 := report.User()
	clock := report.Start()
	why := c.run(start)
	if c.answered == 0 {
		report.Fail(*name, "no answer from %s", start)
	}
	stopped := "nothing left to fetch"
	if why == whyPageLimit {
		stopped = "the page limit was reached"
	}
	fmt.Fprintf(os.Stderr, "crawl: %d pages, %d errors, %d retries, %d redirects, %d robots-blocked, "+
		"%d beyond depth, %d off-site, %d links; %s\n", c.pages, c.errors, c.retries, c.redirects,
		c.blocked, c.beyond, c.offsite, c.links, stopped)
	wall, cpu := clock.Elapsed()
	ops := float64(c.pages)
	report.Print(*name, int64(c.pages), ops, wall, cpu, fmt.Sprintf("user_s=%.6f cpu_ns_per_op=%.0f",
		(report.User()-user0).Seconds(), float64(cpu.Nanoseconds())/ops))
}
