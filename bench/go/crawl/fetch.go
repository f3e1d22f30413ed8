package main

// The fetchers: each takes a job from the frontier's channel, fetches it
// (the crawler follows a page's redirects itself; robots.txt's are followed
// here), retries after 503, 429, a timeout or a broken connection with
// exponential backoff and full jitter (Retry-After honoured), extracts links
// or robots rules and sends the outcome back: goc-crawl's fetchers.c.

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	backoffBaseMS = 100
	backoffCapMS  = 5000
	agent         = "goc-crawl/1.0" // the token the test site's robots.txt names
	robotsMaxBody = 512 * 1024
)

var errTooBig = errors.New("body too large")

type job struct {
	robots bool
	node   int32
	host   int
	url    *url.URL
}

const (
	retryNone = -1 + iota
	retry503
	retry429
	retryTimeout
	retryConnect
)

type outcome struct {
	job
	status   int
	err      error
	bytes    int64
	retries  int
	location string   // a 3xx's target, normalised
	links    []string // from a 200 HTML page received whole
	rules    *robots  // a robots job's rules, or nil (allow all)
}

// answer is one attempt's result.
type answer struct {
	status     int
	err        error
	html       bool
	body       []byte
	bytes      int64
	location   string
	retryAfter int
}

type fetcher struct {
	o      *options
	page   *http.Client // redirects come back as answers
	follow *http.Client // redirects followed (robots.txt)
	rng    uint64
}

func newClients(o *options) (page, follow *http.Client) {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: o.fetchers, // each fetcher may keep its connection
		DisableCompression:  false,
	}
	timeout := time.Duration(o.timeoutMS) * time.Millisecond
	page = &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	follow = &http.Client{Transport: tr, Timeout: timeout}
	return page, follow
}

// next is splitmix64, as fetchers.c draws its jitter.
func (f *fetcher) next() uint64 {
	f.rng += 0x9e3779b97f4a7c15
	z := f.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

func retryCause(a *answer) int {
	switch {
	case a.err == nil && a.status == 503:
		return retry503
	case a.err == nil && a.status == 429:
		return retry429
	case a.err == nil, errors.Is(a.err, errTooBig):
		return retryNone
	case isTimeout(a.err):
		return retryTimeout
	case errors.Is(a.err, syscall.ECONNREFUSED), errors.Is(a.err, syscall.ECONNRESET),
		errors.Is(a.err, io.EOF), errors.Is(a.err, io.ErrUnexpectedEOF):
		return retryConnect
	}
	return retryNone
}

// backoff is full jitter: uniform in [0, min(cap, base * 2^attempt)] ms, but
// never less than the host's delay, nor than Retry-After.
func (f *fetcher) backoff(attempt int, a *answer) time.Duration {
	if attempt > 10 {
		attempt = 10
	}
	ceil := uint64(backoffBaseMS) << attempt
	if ceil > backoffCapMS {
		ceil = backoffCapMS
	}
	ms := int64(f.next() % (ceil + 1))
	if ms < int64(f.o.delayMS) {
		ms = int64(f.o.delayMS)
	}
	if ra := int64(a.retryAfter) * 1000; ms < ra {
		ms = ra
	}
	return time.Duration(ms) * time.Millisecond
}

// get makes one attempt.
func (f *fetcher) get(c *http.Client, u *url.URL, maxBody int64) answer {
	var a answer
	req, err := http.NewRequest("GET", u.String(), nil)
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("User-Agent", agent)
	resp, err := c.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	a.html = strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml+xml")
	if a.status >= 300 && a.status < 400 {
		if loc := resp.Header.Get("Location"); loc != "" {
			if t, err := resolve(u, loc); err == nil {
				a.location = t.String()
			}
		}
	}
	a.retryAfter, _ = strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	r := io.Reader(resp.Body)
	if maxBody > 0 {
		r = io.LimitReader(resp.Body, maxBody+1)
	}
	a.body, a.err = io.ReadAll(r)
	a.bytes = int64(len(a.body))
	if a.err == nil && maxBody > 0 && a.bytes > maxBody {
		a.err, a.body = errTooBig, nil
	}
	return a
}

func (f *fetcher) fetch(j job) *outcome {
	out := &outcome{job: j}
	c, u, maxBody := f.page, j.url, f.o.maxBody
	if j.robots {
		c, u, maxBody = f.follow, j.url.ResolveReference(&url.URL{Path: "/robots.txt"}), robotsMaxBody
	}
	var a answer
	for attempt := 0; ; attempt++ {
		a = f.get(c, u, maxBody)
		if retryCause(&a) == retryNone || attempt >= f.o.retries || j.robots {
			break
		}
		time.Sleep(f.backoff(attempt, &a))
		out.retries++
	}
	out.status, out.err, out.bytes, out.location = a.status, a.err, a.bytes, a.location
	if j.robots {
		if a.err == nil && a.status >= 200 && a.status < 300 {
			out.rules = parseRobots(string(a.body), agent)
		}
	} else if a.err == nil && a.status == 200 && a.html && len(a.body) > 0 {
		out.links = extractLinks(a.body, j.url)
	}
	return out
}

func (f *fetcher) loop(jobs <-chan job, outcomes chan<- *outcome, done func()) {
	for j := range jobs {
		outcomes <- f.fetch(j)
	}
	done()
}
