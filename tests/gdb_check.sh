#!/bin/sh
# tools/goc-gdb.py on a live process: `info coroutines` lists the parked,
# named coroutine with its wait, and `coroutine 1 bt` walks its stack down to
# the function that parked and the coroutine's entry.
#   gdb_check.sh path/to/test_debug path/to/goc-gdb.py
command -v gdb >/dev/null 2>&1 || { echo "no gdb: skipped"; exit 77; }
if [ -n "${GOC_TEST_EMULATOR:-}" ]; then
    # qemu-user runs the target as a host process of its own: gdb would see
    # qemu's x86-64 threads, not the AArch64 program (that needs qemu -g and
    # gdb-multiarch).
    echo "under $GOC_TEST_EMULATOR: gdb cannot attach to the emulated program: skipped"
    exit 77
fi
out=$(CHECK_NOFORK=1 timeout 120 gdb -q -nx -batch -ex run -ex "source $2" \
    -ex "info coroutines" -ex "coroutine 1 bt" --args "$1" child_gdb_target 2>&1)
echo "$out"
case $out in *"ptrace"*"Operation not permitted"*) echo "ptrace not permitted: skipped"; exit 77 ;; esac
for want in 'coroutine 1 \[chan receive 0x[0-9a-f]*\] "gdb-victim"' '^1 coroutines' \
    'gdb_parked_here' 'gdb_victim' 'g_entry'; do
    echo "$out" | grep -q "$want" || { echo "FAIL: no match for: $want"; exit 1; }
done
echo "gdb ok"
