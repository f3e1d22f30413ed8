"""gdb helpers for goc programs: list coroutines, backtrace a parked one.

    (gdb) source tools/goc-gdb.py
    (gdb) info coroutines          every live coroutine: id, state, wait, name
    (gdb) coroutine 7 bt           backtrace of coroutine 7's parked stack

They read the runtime's own tables (the registry of coroutine records in
src/dump.c, the workers in goc__sched, src/sched_int.h), so the program needs debug
information for libgoc (any build with -g: RelWithDebInfo, Debug). A
running coroutine is shown on its worker's thread (use `thread N` and
`bt`); a parked one's registers are those its switch saved
(src/arch/switch_x86_64.S: [mxcsr fpucw] r15 r14 r13 r12 rbx rbp ret),
which `coroutine N bt` loads into the selected thread for the backtrace
and then puts back: a live process only (gdb cannot change a core file's
registers), x86-64 only.
"""
import gdb

WAIT_NAMES = [
    "runnable", "chan receive", "chan send", "nil chan", "select", "mutex lock",
    "rwmutex rlock", "rwmutex lock", "waitgroup wait", "cond wait",
    "semaphore acquire", "group", "sleep", "fd wait", "blocking call",
]


def _static(name, file):
    try:
        return gdb.parse_and_eval("'%s'::%s" % (file, name))
    except gdb.error:
        return gdb.parse_and_eval(name)


def _running():
    """{g address: worker index} for coroutines running now."""
    sched = gdb.parse_and_eval("goc__sched")
    n = int(sched["nallw"]["_M_i"]) if sched["nallw"].type.code == gdb.TYPE_CODE_STRUCT \
        else int(sched["nallw"])
    out = {}
    for i in range(n):
        w = sched["allw"][i]
        cur = int(w["cur"])
        if cur:
            out[cur] = i
    return out


def coroutines():
    """Yields (g, state) for every live coroutine."""
    reg = _static("reg", "dump.c")
    cap = int(reg["cap"])
    running = _running()
    gtype = gdb.lookup_type("goc__g").pointer()
    for i in range(cap):
        p = int(reg["v"][i])
        if p in (0, 1):
            continue
        g = gdb.Value(p).cast(gtype)
        if int(g["live"]) != 1:
            continue
        if p in running:
            state = "running on worker %d" % running[p]
        else:
            why = int(g["wait"])
            state = WAIT_NAMES[why] if why < len(WAIT_NAMES) else "wait %d" % why
            if why:
                state += " %s" % hex(int(g["wait_obj"].cast(gdb.lookup_type("long"))))
        yield g, state


class InfoCoroutines(gdb.Command):
    """info coroutines: every live goc coroutine (id, state, name)."""

    def __init__(self):
        super().__init__("info coroutines", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        rows = sorted(coroutines(), key=lambda r: int(r[0]["id"]))
        for g, state in rows:
            name = g["name"]
            name = ' "%s"' % name.string() if int(name) else ""
            gdb.write("coroutine %d [%s]%s\n" % (int(g["id"]), state, name))
        gdb.write("%d coroutines\n" % len(rows))


class Coroutine(gdb.Command):
    """coroutine N bt: backtrace of parked coroutine N (live process, x86-64)."""

    def __init__(self):
        super().__init__("coroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) < 2 or args[1] != "bt":
            raise gdb.GdbError("usage: coroutine N bt")
        want = int(args[0])
        for g, state in coroutines():
            if int(g["id"]) != want:
                continue
            if state.startswith("running"):
                raise gdb.GdbError("coroutine %d is %s: select that thread and bt" % (want, state))
            sp = int(g["ctx"]["sp"])
            u64 = gdb.lookup_type("unsigned long").pointer()
            word = lambda off: int(gdb.Value(sp + off).cast(u64).dereference())
            regs = {"r15": word(8), "r14": word(16), "r13": word(24), "r12": word(32),
                    "rbx": word(40), "rbp": word(48), "rip": word(56), "rsp": sp + 64}
            frame = gdb.selected_frame()
            saved = {r: int(frame.read_register(r)) for r in regs}
            try:
                for r, v in regs.items():
                    gdb.execute("set $%s = %d" % (r, v), to_string=True)
                gdb.execute("bt")
            finally:
                for r, v in saved.items():
                    gdb.execute("set $%s = %d" % (r, v), to_string=True)
            return
        raise gdb.GdbError("no live coroutine %d" % want)


InfoCoroutines()
Coroutine()
