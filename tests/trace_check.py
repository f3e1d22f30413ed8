#!/usr/bin/env python3
"""GOC_TRACE writes valid Chrome trace-event JSON: run test_debug's
child_trace_workload with GOC_TRACE set, parse the file with a real JSON
parser, and check one track per worker, slices that begin and end without
overlapping on their track, and spawn/park/unpark events as many as
goc_stats counted.

    trace_check.py path/to/test_debug path/to/trace.json

In a cross build test_debug runs under GOC_TEST_EMULATOR (tests/check.h).
"""
import json
import os
import subprocess
import sys


def main():
    exe, path = sys.argv[1], sys.argv[2]
    env = dict(os.environ, GOC_TRACE=path, CHECK_NOFORK="1")
    emulator = os.environ.get("GOC_TEST_EMULATOR", "").split()
    out = subprocess.run(emulator + [exe, "child_trace_workload"], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    words = out.split()
    want = {k: int(words[words.index(k) + 1]) for k in ("spawns", "parks", "unparks", "workers")}
    with open(path) as f:
        trace = json.load(f)
    os.unlink(path)
    events = trace["traceEvents"]
    tracks = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert len(tracks) == want["workers"], (tracks, want)
    count = {"spawn": 0, "park": 0, "unpark": 0}
    slices = {}
    for e in events:
        assert e["pid"] == 1 and e["tid"] in tracks, e
        if e["ph"] == "i":
            count[e["name"]] += 1
        elif e["ph"] == "X":
            assert e["name"].startswith("coroutine ") and e["dur"] >= 0, e
            slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for k in count:
        assert count[k] == want[k + "s"], (k, count[k], want)
    n = 0
    for tid, v in slices.items():
        v.sort()
        for (b0, e0), (b1, e1) in zip(v, v[1:]):
            assert e0 <= b1 + 1e-3, ("overlapping slices on worker", tid, (b0, e0), (b1, e1))
        n += len(v)
    assert n >= want["parks"], (n, want)
    print("trace ok: %d slices, %s" % (n, count))


if __name__ == "__main__":
    main()
