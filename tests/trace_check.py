#!/usr/bin/env python3
"""GOC_TRACE and goc_trace_start/stop write valid Chrome trace-event JSON:
run test_debug's child_trace_workload with GOC_TRACE set, then with
goc_trace_start and goc_trace_stop, parse each file with a real JSON parser, and check one track per worker, slices that begin and end without
overlapping on their track, spawn/park/unpark/steal events as many as
goc_stats counted, and flows that run from inside the readier's slice to
the start of a run of the coroutine it readied.

With a third argument, tools/trace2svg.py, it also draws the first trace
and parses the SVG (so the renderer cannot rot).

    trace_check.py path/to/test_debug path/to/trace.json [path/to/trace2svg.py]

In a cross build test_debug runs under GOC_TEST_EMULATOR (tests/check.h).
"""
import bisect
import json
import os
import subprocess
import sys

COUNTED = ("spawns", "parks", "unparks", "workers", "steals")


def run_workload(exe, path, case="child_trace_workload", env_extra=None):
    """Runs a child case of test_debug; its counts line as a dict."""
    env = dict(os.environ, CHECK_NOFORK="1")
    env.update(env_extra or {})
    emulator = os.environ.get("GOC_TEST_EMULATOR", "").split()
    out = subprocess.run(emulator + [exe, case], env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout
    words = out.split()
    return {k: int(words[words.index(k) + 1]) for k in COUNTED}


def slice_at(slices, ts):
    """The slice of a track's sorted (begin, end, id) list that holds ts."""
    i = bisect.bisect_right(slices, (ts, float("inf"), float("inf"))) - 1
    if i >= 0 and slices[i][0] <= ts <= slices[i][1] + 1e-3:
        return slices[i]
    return None


def check(trace, want):
    """Checks a parsed trace against the counts goc_stats gave; a summary."""
    events = trace["traceEvents"]
    tracks = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert len(tracks) == want["workers"], (tracks, want)
    count = {"spawn": 0, "park": 0, "unpark": 0, "steal": 0}
    slices, readies, flows = {}, {}, {}
    for e in events:
        assert e["pid"] == 1 and e["tid"] in tracks, e
        if e["ph"] == "i":
            count[e["name"]] += 1
            if e["name"] in ("spawn", "unpark"):
                readies[(e["tid"], e["ts"])] = e["args"]["id"]
            if e["name"] == "steal":
                assert e["args"]["victim"] in tracks and e["args"]["victim"] != e["tid"], e
                assert e["args"]["taken"] >= 1, e
        elif e["ph"] == "X":
            assert e["name"].startswith("coroutine ") and e["dur"] >= 0, e
            slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"], e["args"]["id"]))
        elif e["ph"] in ("s", "f"):
            assert e["cat"] == "flow" and e["name"] in ("wakeup", "first run"), e
            assert (e["ph"] == "f") == (e.get("bp") == "e"), e
            key = (e["name"], e["id"])
            assert e["ph"] not in flows.setdefault(key, {}), ("flow end twice", e)
            flows[key][e["ph"]] = e
    for k in count:
        assert count[k] == want[k + "s"], (k, count[k], want)
    n = 0
    for tid, v in slices.items():
        v.sort()
        for (b0, e0, _), (b1, e1, _) in zip(v, v[1:]):
            assert e0 <= b1 + 1e-3, ("overlapping slices on worker", tid, (b0, e0), (b1, e1))
        n += len(v)
    assert n >= want["parks"], (n, want)
    # Flows: both ends; the start inside a run, at the spawn or unpark that
    # made it; the end 1 ns into (or at) a run of the coroutine readied.
    for key, ends in flows.items():
        assert set(ends) == {"s", "f"}, ("flow with one end", key, ends)
        s, f = ends["s"], ends["f"]
        assert f["ts"] >= s["ts"], ("flow back in time", s, f)
        assert slice_at(slices.get(s["tid"], []), s["ts"]), ("flow start outside a run", s)
        wakee = readies.get((s["tid"], s["ts"]))
        assert wakee is not None, ("flow start without its spawn or unpark", s)
        run = slice_at(slices.get(f["tid"], []), f["ts"])
        assert run and run[2] == wakee and f["ts"] - run[0] <= 1.5e-3, ("flow end off its run", f, run)
    assert 0 < len(flows) <= count["spawn"] + count["unpark"], (len(flows), count)
    return "%d slices, %d flows, %s" % (n, len(flows), count)


def check_svg(renderer, trace, want):
    """tools/trace2svg.py draws the trace as well-formed SVG: a lane per
    worker, bars, flow arrows; a window of it too."""
    import importlib.util
    import xml.etree.ElementTree as ET
    spec = importlib.util.spec_from_file_location("trace2svg", renderer)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ns = "{http://www.w3.org/2000/svg}"
    events = trace["traceEvents"]
    for window in ((None, None), (10.0, 200.0)):
        root = ET.fromstring(tool.render(events, *window, title="check"))
        assert root.tag == ns + "svg", root.tag
        kinds = {}
        for el in root.iter():
            kinds.setdefault(el.get("class"), []).append(el)
        assert len(kinds.get("lane", [])) == want["workers"], (window, len(kinds.get("lane", [])))
        assert kinds.get("run"), ("no bars", window)
        for r in kinds["run"]:
            assert float(r.get("width")) > 0, r.attrib
        if window == (None, None):
            assert kinds.get("flow") and kinds.get("spawn"), "no flows or spawns drawn"
    return "svg ok: %d bars, %d arrows" % (len(kinds["run"]), len(kinds.get("flow", [])))


def main():
    exe, path = sys.argv[1], sys.argv[2]
    renderer = sys.argv[3] if len(sys.argv) > 3 else None
    # GOC_TRACE from the runtime's start to exit, then goc_trace_start and
    # goc_trace_stop around the same workload.
    for how in ("GOC_TRACE", "TRACE_API"):
        want = run_workload(exe, path, env_extra={how: path})
        with open(path) as f:
            trace = json.load(f)
        os.unlink(path)
        print("%s: trace ok: %s" % (how, check(trace, want)))
        if renderer and how == "GOC_TRACE":
            print(check_svg(renderer, trace, want))


if __name__ == "__main__":
    main()
