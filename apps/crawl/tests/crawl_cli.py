#!/usr/bin/env python3
"""goc-crawl end to end, one case per run: crawl_cli.py CASE PATH-TO-GOC-CRAWL.

site      the embedded site crawled whole (latencies at 10%): the crawler's own
          check passes (exact URL set; retries, redirects, robots, depth as
          the site predicts), and the JSON Lines and SQLite outputs hold one
          row per fetched URL
limits    the same with --depth, --max-pages, --robots off, --same-host off,
          --retries 0, --max-body: each crawl matches the site's model
sigint    SIGINT mid-crawl: a summary that says so, exit 130, the output
          complete for what was fetched, no coroutine left; a second SIGINT
          quits at once
pyserver  python3 -m http.server over a generated tree, crawled by goc-crawl
          and by an independent reference crawler (urllib, html.parser) here:
          the same URLs with the same statuses
badinput  unknown option, bad value, malformed URL, unreachable host,
          unwritable --out and --db: one line on stderr, the right exit code
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

# Latencies at 10% (slow pages 100-200 ms), a timeout far above them. A
# sanitizer build (CRAWL_TEST_SLOW=1) runs several times slower: more room.
SLOW = os.environ.get("CRAWL_TEST_SLOW") == "1"
FAST = ["--latency", "10", "--timeout", "4000" if SLOW else "1500", "-c", "32", "--per-host", "32",
        "-q"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(exe, args, timeout=120):
    p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect(cond, msg, out="", err=""):
    if not cond:
        fail(msg + "\n--- stdout\n" + out + "\n--- stderr\n" + err)


def summary_pages(out):
    for line in out.splitlines():
        if line.startswith("pages "):
            return int(line.split()[1])
    return -1


def crawl_checked(exe, args, tmp):
    rc, out, err = run(exe, FAST + args)
    expect(rc == 0, "goc-crawl %s: exit %d" % (" ".join(args), rc), out, err)
    expect("check:     as the site predicts" in out, "no passing check line", out, err)
    print("ok: %-40s %s" % (" ".join(args) or "(defaults)",
                            [l for l in out.splitlines() if l.startswith("check:")][0][11:]))
    return out


def case_site(exe, tmp):
    jl, db = os.path.join(tmp, "o.jsonl"), os.path.join(tmp, "o.db")
    out = crawl_checked(exe, ["--out", jl, "--db", db], tmp)
    pages = summary_pages(out)
    rows = [json.loads(l) for l in open(jl)]
    expect(len(rows) == pages, "jsonl has %d rows, summary %d pages" % (len(rows), pages), out)
    for r in rows:
        expect(set(r) == {"url", "status", "depth", "ms", "bytes", "error"}, "fields %s" % r)
    urls = [r["url"] for r in rows]
    expect(len(set(urls)) == len(urls), "a URL written twice")
    expect(any(r["error"] == "timeout" for r in rows), "no timeout recorded")
    expect(any(r["error"] == "body too large" and r["status"] == 200 for r in rows),
           "the big page is not recorded as too large with its status")
    n = sqlite3.connect(db).execute("select count(*) from pages").fetchone()[0]
    expect(n == pages, "db has %d rows, summary %d pages" % (n, pages))
    for key in ("by status", "redirects", "broken", "retries", "robots-blocked", "beyond depth",
                "p50", "p99", "speed-up", "stopped    nothing left to fetch"):
        expect(key in out, "summary lacks %r" % key, out)


def case_limits(exe, tmp):
    crawl_checked(exe, ["--depth", "2"], tmp)
    out = crawl_checked(exe, ["--max-pages", "150"], tmp)
    expect(summary_pages(out) == 150 and "page limit" in out, "page limit", out)
    # Politeness: at most 3 requests at once reach the server, over at most
    # kept-alive connections, each reused; 50 ms between request starts.
    out = crawl_checked(exe, ["--per-host", "3", "-c", "16", "--max-pages", "60", "--delay", "50"],
                        tmp)
    line = [l for l in out.splitlines() if l.startswith("server ")][0].split()
    requests, conns, peak = int(line[1]), int(line[4]), int(line[8])
    expect(peak <= 3 and conns * 3 <= requests and requests >= 61, "per host: %s" % line, out)
    secs = float([l for l in out.splitlines() if l.startswith("pages ")][0].split()[3])
    expect(secs >= 60 * 0.05, "60 requests 50 ms apart took %.2f s" % secs, out)
    if SLOW:
        return
    crawl_checked(exe, ["--depth", "4", "--retries", "0", "--max-body", "0"], tmp)
    out = crawl_checked(exe, ["--robots", "off", "--same-host", "off"], tmp)
    expect("0 robots-blocked" in out and " 0 off-site" in out, "robots or same-host off", out)


def case_sigint(exe, tmp):
    jl = os.path.join(tmp, "i.jsonl")
    p = subprocess.Popen([exe, "--out", jl, "-c", "8", "--per-host", "8"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    expect(p.returncode == 130, "exit %d after SIGINT" % p.returncode, out, err)
    expect("stopped    interrupted by SIGINT" in out, "summary does not say why", out, err)
    expect("still running" not in err, "coroutines leaked", out, err)
    pages = summary_pages(out)
    rows = [json.loads(l) for l in open(jl)]
    expect(0 < pages < 4970 and len(rows) == pages,
           "jsonl %d rows, summary %d pages" % (len(rows), pages), out, err)
    print("ok: SIGINT after 1.5 s: %d pages, all written, exit 130" % pages)
    # A server that never answers (the kernel accepts into the backlog), so
    # the request is still in flight, in its grace, at the second SIGINT.
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(16)
    url = "http://127.0.0.1:%d/" % mute.getsockname()[1]
    p = subprocess.Popen([exe, "-q", "--timeout", "0", "--robots", "off", url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    time.sleep(0.2)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    expect(p.returncode == 130 and "quitting now" in err and time.monotonic() - t < 1.5,
           "second SIGINT: exit %d" % p.returncode, out, err)
    print("ok: a second SIGINT quits at once")
    jl = os.path.join(tmp, "g.jsonl")
    p = subprocess.Popen([exe, "-q", "--timeout", "0", "--robots", "off", "--out", jl, url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    rows = [json.loads(l) for l in open(jl)]
    expect(p.returncode == 130 and "still running" not in err and len(rows) == 1 and
           rows[0]["error"] == "canceled" and rows[0]["status"] == 0,
           "a request past its grace: exit %d, rows %s" % (p.returncode, rows), out, err)
    print("ok: a request that outlives the grace is cancelled after %.1f s and recorded"
          % (time.monotonic() - t))
    mute.close()


# --- an independent reference crawl of http.server ----------------------

def make_tree(root):
    """A small site of plain files: pages link down, up, sideways, to a
    missing page, off-site, with fragments and ../."""
    pages = []
    for a in range(4):
        for b in range(3):
            d = os.path.join(root, "sec%d" % a, "sub%d" % b)
            os.makedirs(d)
            for c in range(4):
                pages.append(("sec%d/sub%d/page%d.html" % (a, b, c), a, b, c))
    for path, a, b, c in pages:
        links = ['<a href="page%d.html">next</a>' % ((c + 1) % 4),
                 '<a href="../sub%d/page%d.html#frag">side</a>' % ((b + 1) % 3, c),
                 '<a href="/sec%d/">up</a>' % ((a + 1) % 4),
                 '<a href="http://example.invalid/x.html">away</a>']
        if c == 3:
            links.append('<a href="missing-%d.html">broken</a>' % b)
        if a == 0 and c == 0:
            links.append('<a href="/sec%d/sub%d">no slash</a>' % (a, b))
        with open(os.path.join(root, path), "w") as f:
            f.write("<html><body><h1>%s</h1>%s</body></html>\n" % (path, "\n".join(links)))
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write("plain text, <a href='/never.html'>not a link</a>\n")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write('<html><body><a href="sec0/sub0/page0.html">start</a>'
                '<a href="notes.txt">notes</a><a href="sec3/">3</a></body></html>\n')


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "area"):
            for k, v in attrs:
                if k == "href" and v is not None:
                    self.hrefs.append(v)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def reference_crawl(start, max_depth=10):
    """Breadth first, same host, every 3xx a record whose Location is
    queued at the same depth, links only from 200 text/html."""
    opener = urllib.request.build_opener(NoRedirect)
    host = urllib.parse.urlsplit(start).netloc
    seen, got, queue = {start}, {}, [(start, 0)]
    while queue:
        url, depth = queue.pop(0)
        try:
            r = opener.open(url, timeout=10)
            status, ctype, body, loc = r.status, r.headers.get("Content-Type", ""), r.read(), None
        except urllib.error.HTTPError as e:
            status, ctype, body, loc = e.code, "", b"", e.headers.get("Location")
        got[url] = status
        nexts = []
        if loc:
            nexts.append((urllib.parse.urljoin(url, loc), depth))
        if status == 200 and ctype.startswith("text/html") and depth < max_depth:
            p = Links()
            p.feed(body.decode("utf-8", "replace"))
            nexts += [(urllib.parse.urljoin(url, h), depth + 1) for h in p.hrefs]
        for u, d in nexts:
            u = urllib.parse.urldefrag(u)[0]
            if urllib.parse.urlsplit(u).netloc != host or u in seen:
                continue
            seen.add(u)
            queue.append((u, d))
    return got


def case_pyserver(exe, tmp):
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    make_tree(root)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                            "--directory", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        start = "http://127.0.0.1:%d/" % port
        for _ in range(100):
            try:
                urllib.request.urlopen(start, timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        want = reference_crawl(start)
        jl = os.path.join(tmp, "py.jsonl")
        rc, out, err = run(exe, [start, "-q", "--out", jl, "-c", "8", "--per-host", "4"])
        expect(rc == 0, "goc-crawl of http.server: exit %d" % rc, out, err)
        got = {r["url"]: r["status"] for r in map(json.loads, open(jl))}
        expect(got == want, "goc-crawl and the reference differ:\nonly goc-crawl: %s\n"
               "only reference: %s\nstatus differs: %s" % (
                   sorted(set(got) - set(want)), sorted(set(want) - set(got)),
                   sorted(u for u in got if u in want and got[u] != want[u])), out, err)
        codes = sorted(set(want.values()))
        expect(200 in codes and 404 in codes and 301 in codes, "tree lacks a status: %s" % codes)
        print("ok: http.server: %d URLs, statuses %s, as the reference crawl" % (len(got), codes))
    finally:
        srv.terminate()
        srv.wait()


def case_badinput(exe, tmp):
    cases = [
        (["--bogus"], 2, "unknown option --bogus"),
        (["-c"], 2, "needs a value"),
        (["--depth", "deep"], 2, "bad value for --depth"),
        (["--robots", "maybe"], 2, "bad value for --robots"),
        (["ftp://example.com/"], 2, "not an http(s) URL"),
        (["http://"], 2, "not an http(s) URL"),
        (["http://a/", "http://b/"], 2, "one URL at most"),
        (["-q", "--retries", "1", "http://127.0.0.1:1/"], 1, "no answer from http://127.0.0.1:1/"),
        (["-q", "--out", os.path.join(tmp, "no/such/dir/o.jsonl")], 1, "cannot write --out"),
        (["-q", "--db", os.path.join(tmp, "no/such/dir/o.db")], 1, "cannot write --db"),
        (["--serve", "127.0.0.1:99999"], 1, "cannot serve on"),
    ]
    for args, code, words in cases:
        rc, out, err = run(exe, args, timeout=60)
        lines = err.strip().splitlines()
        expect(rc == code and len(lines) == 1 and words in lines[0] and lines[0].startswith("goc-crawl: "),
               "%s: want exit %d and one line with %r; got exit %d" % (args, code, words, rc), out, err)
        print("ok: %-45s exit %d: %s" % (" ".join(args)[:45], rc, lines[0]))
        if "127.0.0.1:1/" in args:
            expect("1 after connection errors" in out, "no retry after a refused connection", out)
    rc, out, err = run(exe, ["--help"])
    expect(rc == 0 and "--max-body BYTES" in out and "--same-host" in out, "--help", out, err)


if __name__ == "__main__":
    case, exe = sys.argv[1], os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="goc-crawl-test-") as tmp:
        globals()["case_" + case](exe, tmp)
    print("PASS " + case)
