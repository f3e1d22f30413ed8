# bench/report.awk: turns the runner's raw lines into the table (text,
# markdown), the ratio chart (SVG) or the scaling table. POSIX awk (mawk is
# enough). Input lines, from bench/run:
#   BENCH name=W impl=goc|go procs=P n=N ops=X ns_per_op=X wall_s=X cpu_s=X
#         rss_kb=K [bytes_per_coro=X stack_kb=K cpu_ns_per_op=X] run=R
#   FAILED name=W impl=I
# Variables: mode (text, markdown, svg, scaling, scaling-text), hasgo (0/1),
# subtitle (svg).

BEGIN {
    # The rows of the table: workload, field, scale, unit, label, goals
    # (ratio goc/Go at most; goc's own figure at most; 0 = none).
    nrows = 0
    row("spawn", "ns_per_op", 1, "ns/coroutine", "spawn + join (2M)", 0.1, 0)
    row("spawn_t", "ns_per_op", 1, "ns/coroutine", "spawn + join, main thread", 0, 0)
    row("yield", "ns_per_op", 1, "ns/yield", "yield (2 coroutines)", 0.5, 15)
    row("yield_t", "ns_per_op", 1, "ns/yield", "yield, main a thread", 0, 0)
    row("pingpong", "ns_per_op", 1, "ns/round trip", "ping-pong, unbuffered", 0.3, 80)
    row("pingpong_t", "ns_per_op", 1, "ns/round trip", "ping-pong, main a thread", 1.0, 0)
    row("mpmc", "ns_per_op", 1, "ns/message", "MPMC 4x4, cap 1024", 0.5, 0)
    row("mpmc_t", "ns_per_op", 1, "ns/message", "MPMC, main a thread", 0, 0)
    row("select", "ns_per_op", 1, "ns/message", "select fan-in of 4", 0.5, 0)
    row("select_t", "ns_per_op", 1, "ns/message", "select fan-in, main thread", 0, 0)
    row("mutex", "ns_per_op", 1, "ns/lock", "mutex, 8 contending", 0.5, 0)
    row("mutex_t", "ns_per_op", 1, "ns/lock", "mutex, main a thread", 0, 0)
    row("workerpool", "ns_per_op", 1, "ns/task", "worker pool 36, cap 64", 0.3, 0)
    row("workerpool_t", "ns_per_op", 1, "ns/task", "worker pool, main a thread", 0.5, 0)
    row("fanin", "ns_per_op", 1, "ns/value", "fan-in 8 -> main, cap 128", 0.5, 0)
    row("fanin_t", "ns_per_op", 1, "ns/value", "fan-in, main a thread", 0.5, 0)
    row("sleepers", "cpu_s", 1000, "CPU ms", "100k sleepers 0-100 ms", 0.5, 0)
    row("sleepers_t", "cpu_s", 1000, "CPU ms", "100k sleepers, main thread", 0, 0)
    row("idle", "ns_per_op", 1, "ns/coroutine", "1M idle: spawn", 0.5, 0)
    row("idle", "bytes_per_coro", 1, "B/coroutine", "1M idle: memory", 0, 4500)
    row("idle_t", "ns_per_op", 1, "ns/coroutine", "1M idle spawn, main thread", 0, 0)
    row("ctxcancel", "ns_per_op", 1, "ns/node", "cancel 100k-node ctx tree", 0.5, 0)
    row("ctxcancel_t", "ns_per_op", 1, "ns/node", "ctx tree, main a thread", 0, 0)
    # Network I/O over loopback. Rows marked "floor" compare with the same
    # work as a plain C epoll loop (bench/floor/) in the Go column.
    row("echo", "ns_per_op", 1, "ns/round trip", "TCP echo 64 conns x 512 B", 1.0, 0)
    row("echo", "user_s", 1000, "user CPU ms", "TCP echo 64: user CPU", 0.5, 0)
    row("echo", "ns_per_op", 1, "ns/round trip", "TCP echo 64 vs C floor", 1.05, 0, "floor")
    row("echo_t", "ns_per_op", 1, "ns/round trip", "TCP echo 64, main a thread", 0, 0)
    row("echo1k", "ns_per_op", 1, "ns/round trip", "TCP echo 1000 conns", 1.0, 0)
    row("echo1k", "user_s", 1000, "user CPU ms", "TCP echo 1000: user CPU", 0.5, 0)
    row("echo1k", "ns_per_op", 1, "ns/round trip", "TCP echo 1000 vs C floor", 1.05, 0, "floor")
    row("echo1k_t", "ns_per_op", 1, "ns/round trip", "TCP echo 1000, main thread", 0, 0)
    row("stream", "ns_per_op", 1, "ns/64 KiB", "stream 4 conns x 64 KiB", 1.0, 0)
    row("stream", "ns_per_op", 1, "ns/64 KiB", "stream vs C floor", 1.053, 0, "floor")
    row("stream_t", "ns_per_op", 1, "ns/64 KiB", "stream, main a thread", 0, 0)
    row("accept", "ns_per_op", 1, "ns/conn", "dial+accept+close", 1.0, 0)
    row("accept_t", "ns_per_op", 1, "ns/conn", "accept, main thread", 0, 0)
    row("idleconn", "bytes_per_conn", 1, "B/conn", "9k idle conns: memory", 1.0, 0)
    row("idleconn", "idle_cpu_ms", 1, "CPU ms/200 ms", "9k idle conns: idle CPU", 0, 1)
    row("idleconn_t", "bytes_per_conn", 1, "B/conn", "9k idle conns, main thread", 0, 0)
    # goc-crawl against its Go peer on the embedded site (ops = pages).
    # crawl0's wall per page at most Go's is its pages/s at least Go's.
    row("crawl", "ns_per_op", 1e-6, "ms/page", "crawl 5k pages: wall", 1.0, 0)
    row("crawl", "cpu_s", 1000, "CPU ms", "crawl 5k pages: CPU", 0.5, 0)
    row("crawl", "rss_kb", 1 / 1024, "MiB", "crawl 5k pages: peak RSS", 0, 0)
    row("crawl0", "cpu_ns_per_op", 1e-3, "CPU us/page", "crawl0, no latency: CPU", 0.5, 0)
    row("crawl0", "ns_per_op", 1e-3, "us/page", "crawl0: wall (pages/s)", 1.0, 0)
    row("crawl0", "rss_kb", 1 / 1024, "MiB", "crawl0: peak RSS", 0, 0)
}

# peer: whose figures fill the Go column ("go" unless given: "floor").
function row(w, key, scale, unit, label, gratio, gabs, peer) {
    nrows++
    rw[nrows] = w; rkey[nrows] = key; rscale[nrows] = scale; runit[nrows] = unit
    rlabel[nrows] = label; rgratio[nrows] = gratio; rgabs[nrows] = gabs
    rpeer[nrows] = peer == "" ? "go" : peer
}

function field(name,    i, kv) {
    for (i = 2; i <= NF; i++) {
        if (index($i, name "=") == 1) return substr($i, length(name) + 2)
    }
    return ""
}

$1 == "BENCH" {
    w = field("name"); impl = field("impl"); p = field("procs")
    seen[w] = 1
    for (r = 1; r <= nrows; r++) {
        if (rw[r] != w) continue
        v = field(rkey[r])
        if (v == "") continue
        k = r SUBSEP impl
        cnt[k]++
        val[k, cnt[k]] = v * rscale[r]
    }
    rss = field("rss_kb") + 0
    if (rss > maxrss[w, impl]) maxrss[w, impl] = rss
    # scaling: by workload, procs, impl
    sk = w SUBSEP p SUBSEP impl
    scnt[sk]++
    sval[sk, scnt[sk]] = field("ns_per_op") + 0
    if (!((w, p) in sp)) {
        sp[w, p] = 1
        np[w]++
        plist[w, np[w]] = p
    }
    if (!(w in worder)) { worder[w] = ++nw; wname[nw] = w }
    next
}
$1 == "FAILED" {
    w = field("name"); impl = field("impl")
    failed[w, impl]++
    if (!(w in fworder)) { fworder[w] = ++nfw; fwname[nfw] = w }
    next
}

# Median, min and max of val[k, 1..cnt[k]] into med, lo, hi; 0 when empty.
function stats(arr, n, k,    i, j, t, a) {
    if (n == 0) return 0
    for (i = 1; i <= n; i++) a[i] = arr[k, i] + 0
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    lo = a[1]; hi = a[n]
    med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    return 1
}

function num(v) {
    if (v >= 100) return sprintf("%.0f", v)
    if (v >= 10) return sprintf("%.1f", v)
    return sprintf("%.2f", v)
}
function ratio(v) { return v >= 0.1 ? sprintf("%.2f", v) : sprintf("%.3f", v) }
function mib(kb) { return kb > 0 ? sprintf("%.1f MiB", kb / 1024) : "-" }

# Fills cells for row r: gmed glo ghi, omed olo ohi, rat (-1 none), goal, met.
function cells(r,    k) {
    w = rw[r]
    gok = stats(val, cnt[r SUBSEP "goc"], r SUBSEP "goc")
    gmed = med; glo = lo; ghi = hi
    ook = (hasgo || rpeer[r] != "go") ? stats(val, cnt[r SUBSEP rpeer[r]], r SUBSEP rpeer[r]) : 0
    omed = med; olo = lo; ohi = hi
    rat = (gok && ook && omed > 0) ? gmed / omed : -1
    goal = ""
    if (rgabs[r] > 0) goal = "<= " rgabs[r] " " (runit[r] ~ /^ns/ ? "ns" : runit[r] ~ /^B/ ? "B" : runit[r])
    if (rgratio[r] > 0) goal = goal (goal != "" ? ", " : "") "<= " rgratio[r] "x"
    met = "-"
    if (gok) {
        m = 1; known = 0
        if (rgabs[r] > 0) { known = 1; if (gmed > rgabs[r]) m = 0 }
        if (rgratio[r] > 0 && rat >= 0) { known = 1; if (rat > rgratio[r]) m = 0 }
        if (known) met = m ? "yes" : "no"
    }
    return gok
}

function status_of(w, impl) {
    if ((w, impl) in failed) return "FAILED"
    return "-"
}

function table(md,    r, c1, c2, c3, spread_g, spread_o, fmt, i, impl, name) {
    if (md) {
        print "| workload | unit | goc | Go | goc/Go | goal | met | goc spread | Go spread | goc peak RSS | Go peak RSS |"
        print "|---|---|--:|--:|--:|---|---|--:|--:|--:|--:|"
    } else {
        fmt = "%-26s %-13s %9s %9s %7s %-18s %-4s %-17s %-17s %10s %10s\n"
        printf fmt, "workload", "unit", "goc", "Go", "goc/Go", "goal", "met", "goc min-max", "Go min-max", "goc RSS", "Go RSS"
    }
    for (r = 1; r <= nrows; r++) {
        w = rw[r]
        if (!(w in seen) && !((w, "goc") in failed)) continue
        gok = cells(r)
        c1 = gok ? num(gmed) : status_of(w, "goc")
        c2 = ook ? num(omed) : (hasgo ? status_of(w, "go") : "-")
        c3 = rat >= 0 ? ratio(rat) : "-"
        spread_g = gok ? num(glo) "-" num(ghi) : "-"
        spread_o = ook ? num(olo) "-" num(ohi) : "-"
        if (md) {
            gsub(/<=/, "≤", goal); gsub(/x$/, "×", goal); gsub(/x,/, "×,", goal)
            label = rlabel[r]; gsub(/4x4/, "4×4", label); gsub(/ - /, " – ", label)
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, runit[r], c1, c2, \
                (c3 == "-" ? c3 : "**" c3 "**"), goal, met, spread_g, spread_o, \
                mib(maxrss[w, "goc"]), (hasgo ? mib(maxrss[w, "go"]) : "-")
        } else {
            printf fmt, rlabel[r], runit[r], c1, c2, c3, goal, met, spread_g, spread_o, \
                mib(maxrss[w, "goc"]), (hasgo ? mib(maxrss[w, "go"]) : "-")
        }
    }
    for (i = 1; i <= nfw; i++) {
        w = fwname[i]
        for (impl = 0; impl < 2; impl++) {
            name = impl ? "go" : "goc"
            if (!((w, name) in failed)) continue
            printf(md ? "\n- **%s: %d %s run(s) FAILED** (wrong result, crash or time-out); the figures are from the runs that passed." \
                      : "%s: %d %s run(s) FAILED (wrong result, crash or time-out)\n", w, failed[w, name], name)
        }
    }
    if (md) print ""
}

function floor(x) { return (x >= 0 || x == int(x)) ? int(x) : int(x) - 1 }

function xpos(v) { return X0 + (log(v) - log(dlo)) / (log(dhi) - log(dlo)) * (X1 - X0) }

function svg(    r, n, mn, mx, y, d, m, x, x1v, top, h, col, i, y0) {
    n = 0; mn = 0.5; mx = 2
    for (r = 1; r <= nrows; r++) {
        if (!cells(r) || rat <= 0) continue
        n++; srow[n] = r; srat[n] = rat; sgoal[n] = rgratio[r]; smet[n] = met
        if (rat < mn) mn = rat
        if (rgratio[r] > 0 && rgratio[r] < mn) mn = rgratio[r]
        if (rat > mx) mx = rat
    }
    dlo = exp(log(10) * floor(log(mn / 1.3) / log(10)))
    dhi = exp(log(10) * -floor(-log(mx * 1.3) / log(10)))
    W = 800; X0 = 250; X1 = 710; top = 84; rh = 28
    h = top + (n > 0 ? n : 1) * rh + 60
    printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n", W, h, W, h
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">goc / Go: ratio of medians (log scale, lower is better)</text>\n", 20
    printf "<text x=\"%d\" y=\"44\" fill=\"#555\">%s</text>\n", 20, subtitle
    if (n == 0) {
        printf "<text x=\"%d\" y=\"%d\">No ratios: Go was not run, or no workload ran on both sides.</text>\n", 20, top + 20
        print "</svg>"
        return
    }
    y0 = top + n * rh
    # decade grid and minor 2, 5 lines
    for (d = dlo; d <= dhi * 1.0001; d *= 10) {
        for (m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
            v = d * m
            if (v > dhi * 1.0001) break
            x = xpos(v)
            printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n", x, top - 6, x, y0, (m == 1 ? "#bbb" : "#e5e5e5")
            if (m == 1)
                printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\">%s×</text>\n", x, y0 + 18, (v >= 1 ? sprintf("%g", v) : sprintf("%g", v))
        }
    }
    for (i = 1; i <= n; i++) {
        r = srow[i]; rat = srat[i]
        y = top + (i - 1) * rh
        label = rlabel[r]; gsub(/4x4/, "4×4", label)
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", X0 - 10, y + rh / 2 + 4, label
        x = xpos(rat); x1v = xpos(1)
        col = rat <= 1 ? "#2e8b57" : "#c0392b"
        printf "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", (x < x1v ? x : x1v), y + 6, (x < x1v ? x1v - x : x - x1v) + 0.5, rh - 12, col
        if (sgoal[i] > 0) {
            x = xpos(sgoal[i])
            printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#222\" stroke-width=\"2\" stroke-dasharray=\"3,2\"/>\n", x, y + 3, x, y + rh - 3
        }
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#222\">%s×</text>\n", W - 15, y + rh / 2 + 4, ratio(rat)
    }
    x = xpos(1)
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\" stroke-width=\"2\"/>\n", x, top - 12, x, y0 + 4
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">1.0 = Go</text>\n", x, top - 16
    printf "<text x=\"%d\" y=\"%d\" fill=\"#555\">green: goc better, red: Go better; dashed mark: the goal</text>\n", X0, y0 + 40
    print "</svg>"
}

function scaling(md,    i, w, j, p, g, o, g1, o1, fmt) {
    if (md) {
        print "| workload | workers | goc Mops/s | Go Mops/s | goc/Go time | goc speed-up | Go speed-up |"
        print "|---|--:|--:|--:|--:|--:|--:|"
    } else {
        fmt = "%-12s %8s %11s %11s %12s %13s %12s\n"
        printf fmt, "workload", "workers", "goc Mops/s", "Go Mops/s", "goc/Go time", "goc speed-up", "Go speed-up"
    }
    for (i = 1; i <= nw; i++) {
        w = wname[i]
        g1 = o1 = 0
        for (j = 1; j <= np[w]; j++) {
            p = plist[w, j]
            g = stats(sval, scnt[w, p, "goc"], w SUBSEP p SUBSEP "goc") ? med : 0
            o = (hasgo && stats(sval, scnt[w, p, "go"], w SUBSEP p SUBSEP "go")) ? med : 0
            if (j == 1) { g1 = g; o1 = o }
            gs = g > 0 ? num(1000 / g) : "-"
            os = o > 0 ? num(1000 / o) : "-"
            rs = (g > 0 && o > 0) ? ratio(g / o) : "-"
            gx = (g > 0 && g1 > 0) ? sprintf("%.2fx", g1 / g) : "-"
            ox = (o > 0 && o1 > 0) ? sprintf("%.2fx", o1 / o) : "-"
            if (md) printf "| %s | %s | %s | %s | %s | %s | %s |\n", w, p, gs, os, rs, gx, ox
            else printf fmt, w, p, gs, os, rs, gx, ox
        }
    }
}

END {
    if (mode == "markdown") table(1)
    else if (mode == "text") table(0)
    else if (mode == "svg") svg()
    else if (mode == "scaling") scaling(1)
    else if (mode == "scaling-text") scaling(0)
}
