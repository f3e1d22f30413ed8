#!/usr/bin/env python3
"""Draws a goc trace (GOC_TRACE or goc_trace_start's Chrome trace-event
JSON) as an SVG picture: one lane per worker, a bar per coroutine run
coloured by coroutine, arrows from the run that readied or spawned a
coroutine to its next run, and marks where coroutines were spawned and
stolen. Python 3's standard library only.

    trace2svg.py trace.json -o trace.svg [--from US] [--to US] [--width PX]
                 [--no-flows] [--title TEXT]

--from and --to choose a window, in microseconds from the trace's first
event (default: all of it). Hover over a bar for the coroutine, its run's
length and why it stopped.
"""
import argparse
import json
import math
import sys
from xml.sax.saxutils import escape

LANE_H = 26    # a worker's lane
LANE_GAP = 14  # between lanes: room for the marks
LEFT = 78      # lane names
RIGHT = 16
TOP = 44       # title and axis
MIN_W = 0.6    # the narrowest bar drawn; narrower runs merge into it


def colour(cid):
    """A colour per coroutine: hues spread by the golden ratio."""
    hue = (cid * 0.6180339887498949) % 1.0 * 360.0
    return "hsl(%.0f,62%%,%d%%)" % (hue, 52 if cid % 2 else 64)


def nice_step(span, ticks=8):
    """A round tick spacing (1, 2 or 5 times a power of ten) for span."""
    raw = span / ticks if span > 0 else 1.0
    p = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * p:
            return m * p
    return 10 * p


def fmt_us(us):
    if us >= 1000:
        return ("%.3f" % (us / 1000)).rstrip("0").rstrip(".") + " ms"
    return ("%.3f" % us).rstrip("0").rstrip(".") + " \u00b5s"


def load(path):
    with open(path) as f:
        return json.load(f)["traceEvents"]


def render(events, start=None, end=None, width=1000, flows=True, title=None):
    """The SVG document, as a string."""
    names = {e["tid"]: e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    timed = [e for e in events if e.get("ph") in ("X", "i", "s", "f")]
    tids = sorted(set(names) | {e["tid"] for e in timed})
    lane = {tid: i for i, tid in enumerate(tids)}
    origin = min((e["ts"] for e in timed), default=0.0)
    last = max((e["ts"] + e.get("dur", 0) for e in timed), default=origin)
    w0 = origin + (start or 0.0)
    w1 = origin + end if end is not None else last
    if w1 <= w0:
        w1 = w0 + 1.0
    scale = (width - LEFT - RIGHT) / (w1 - w0)
    height = TOP + len(tids) * (LANE_H + LANE_GAP) + 34

    def x(ts):
        return LEFT + (ts - w0) * scale

    def y(tid):
        return TOP + lane[tid] * (LANE_H + LANE_GAP)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">'
           % (width, height, width, height),
           '<defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="5" '
           'markerHeight="5" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#333"/></marker>'
           '</defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    if title:
        out.append('<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>'
                   % (LEFT, escape(title)))
    # Time axis: ticks and a faint grid.
    step = nice_step(w1 - w0)
    t = math.ceil((w0 - origin) / step) * step
    axis_y = TOP - 8
    while origin + t <= w1 + 1e-9:
        tx = x(origin + t)
        out.append('<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   % (tx, axis_y + 2, tx, height - 30))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>'
                   % (tx, axis_y, escape(fmt_us(t))))
        t += step
    # Lanes.
    for tid in tids:
        out.append('<g class="lane" data-tid="%d"><rect x="%d" y="%d" width="%d" height="%d" '
                   'fill="#f4f4f4"/><text x="6" y="%d" fill="#222">%s</text></g>'
                   % (tid, LEFT, y(tid), width - LEFT - RIGHT, LANE_H, y(tid) + LANE_H / 2 + 4,
                      escape(names.get(tid, "worker %d" % tid))))
    # Runs, in time order per lane; runs too narrow to see merge into the
    # bar before them when they are that close.
    runs = sorted((e for e in events if e.get("ph") == "X"), key=lambda e: (e["tid"], e["ts"]))
    bars = []
    for e in runs:
        b, f = max(e["ts"], w0), min(e["ts"] + e["dur"], w1)
        if f < b or e["tid"] not in lane:
            continue
        cid = e["args"].get("id", 0)
        x0, x1 = x(b), max(x(f), x(b) + MIN_W)
        prev = bars[-1] if bars else None
        if prev and prev["tid"] == e["tid"] and x1 - x0 <= MIN_W and x0 - prev["x1"] < MIN_W:
            prev["x1"] = max(prev["x1"], x1)
            prev["n"] += 1
            continue
        bars.append({"tid": e["tid"], "x0": x0, "x1": x1, "id": cid, "n": 1, "dur": e["dur"],
                     "stop": e["args"].get("stop", "")})
    for r in bars:
        tip = ("coroutine %d: %s, then %s" % (r["id"], fmt_us(r["dur"]), r["stop"])
               if r["n"] == 1 else "%d runs" % r["n"])
        w = r["x1"] - r["x0"]
        out.append('<rect class="run" x="%.2f" y="%d" width="%.2f" height="%d" fill="%s">'
                   '<title>%s</title></rect>'
                   % (r["x0"], y(r["tid"]) + 2, w, LANE_H - 4, colour(r["id"]), escape(tip)))
        label = str(r["id"])
        if r["n"] == 1 and w > 7 * len(label) + 4:
            out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" '
                       'fill="#111" pointer-events="none">%s</text>'
                       % ((r["x0"] + r["x1"]) / 2, y(r["tid"]) + LANE_H / 2 + 4, label))
    # Spawns (dots) and steals (triangles) under their lane.
    for e in events:
        if e.get("ph") != "i" or e["tid"] not in lane or not w0 <= e["ts"] <= w1:
            continue
        mx, my = x(e["ts"]), y(e["tid"]) + LANE_H + 5
        if e["name"] == "spawn":
            out.append('<circle class="spawn" cx="%.1f" cy="%d" r="2.2" fill="#2a8d2a">'
                       '<title>spawn coroutine %d</title></circle>' % (mx, my, e["args"]["id"]))
        elif e["name"] == "steal":
            out.append('<path class="steal" d="M%.1f,%d l-3.5,6 h7 z" fill="#8a2be2">'
                       '<title>stole coroutine %d and %d more from worker %d</title></path>'
                       % (mx, my - 3, e["args"]["id"], e["args"]["taken"] - 1,
                          e["args"]["victim"]))
    # Flows: from where a coroutine was readied or spawned to its next run.
    if flows:
        ends = {}
        for e in events:
            if e.get("ph") in ("s", "f"):
                ends.setdefault((e.get("cat"), e["name"], e["id"]), {})[e["ph"]] = e
        for key, fl in sorted(ends.items(), key=lambda kv: str(kv[0])):
            s, f = fl.get("s"), fl.get("f")
            if not s or not f or s["tid"] not in lane or f["tid"] not in lane:
                continue
            if f["ts"] < w0 or s["ts"] > w1:
                continue
            x0, x1 = x(max(s["ts"], w0)), x(min(f["ts"], w1))
            if s["tid"] == f["tid"]:  # an arc over the lane
                yy = y(s["tid"]) + 2
                rise = min(3 + 0.2 * (x1 - x0), LANE_GAP + 4)
                d = "M%.1f,%d Q%.1f,%.1f %.1f,%d" % (x0, yy, (x0 + x1) / 2, yy - rise, x1, yy)
            else:
                y0 = y(s["tid"]) + LANE_H / 2
                y1 = y(f["tid"]) + (2 if y(f["tid"]) > y0 else LANE_H - 2)
                d = "M%.1f,%.1f L%.1f,%.1f" % (x0, y0, x1, y1)
            out.append('<path class="flow" d="%s" fill="none" stroke="#333" stroke-width="0.7" '
                       'stroke-opacity="0.55" marker-end="url(#arrow)"><title>%s</title></path>'
                       % (d, escape(s["name"])))
    legend_y = height - 12
    out.append('<text x="%d" y="%d" fill="#444">one colour per coroutine (its number on the '
               'bar); arrows: wake-ups and first runs; '
               '<tspan fill="#2a8d2a">\u25cf</tspan> spawn '
               '<tspan fill="#8a2be2">\u25b2</tspan> steal; %s to %s</text>'
               % (LEFT, legend_y, escape(fmt_us(w0 - origin)), escape(fmt_us(w1 - origin))))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--from", dest="start", type=float, default=None,
                    help="window start, microseconds from the first event")
    ap.add_argument("--to", dest="end", type=float, default=None,
                    help="window end, microseconds from the first event")
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--no-flows", dest="flows", action="store_false")
    ap.add_argument("--title")
    a = ap.parse_args(argv)
    svg = render(load(a.trace), a.start, a.end, a.width, a.flows, a.title)
    if a.output == "-":
        sys.stdout.write(svg)
    else:
        with open(a.output, "w") as f:
            f.write(svg)


if __name__ == "__main__":
    main()
