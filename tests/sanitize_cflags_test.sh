#!/bin/sh
# Sanitizers enabled the way users enable them: goc configured with
# CFLAGS=-fsanitize=address (then thread), not with GOC_SANITIZE, and a small
# program built the same way. The program checks that the library has the
# fiber hooks (goc__san_hooks) and runs waves of coroutines on reused stacks
# clean under the sanitizer. Then, without CMake, a runtime source compiled
# with -fsanitize=thread must refuse to build, naming GOC_SANITIZE.
# Usage: sanitize_cflags_test.sh SOURCE_DIR [C_COMPILER]   (a CTest of plain builds)
# In a cross build the programs run under GOC_TEST_EMULATOR (tests/check.h).
set -eu
src=$(cd "$1" && pwd)
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/hooks.c" <<'C'
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned goc__san_hooks(void); /* src/san.h: 1 TSan, 2 ASan, 4 Valgrind */

static goc_wg wg = GOC_WG_INIT;
static long total;
static goc_mutex mu = GOC_MUTEX_INIT;

/* Frames with arrays (ASan redzones) left behind on stacks that are reused. */
static void work(void *arg) {
    char buf[512];
    memset(buf, (int)(long)arg, sizeof buf);
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_yield();
    goc_mutex_lock(&mu);
    total += buf[7];
    goc_mutex_unlock(&mu);
    goc_chan_release(c);
    goc_wg_done(&wg);
}

int main(int argc, char **argv) {
    unsigned want = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 0, got = goc__san_hooks() & 3;
    if (got != want) {
        fprintf(stderr, "goc built with CFLAGS=-fsanitize=...: hooks %u, want %u\n", got, want);
        return 1;
    }
    for (int wave = 0; wave < 20; wave++) {
        goc_wg_add(&wg, 100);
        for (long i = 0; i < 100; i++)
            if (goc_go(work, (void *)(i % 7)) != GOC_OK) return 1;
        goc_wg_wait(&wg);
    }
    printf("hooks %u, total %ld\n", got, total);
    long expect = 0;
    for (long i = 0; i < 100; i++) expect += 20 * (i % 7);
    return total == expect ? 0 : 1;
}
C

for san in address thread; do
    case $san in address) want=2 ;; thread) want=1 ;; esac
    b="$tmp/build-$san"
    echo "-- goc with CFLAGS=-fsanitize=$san"
    CFLAGS="-fsanitize=$san -g" cmake -S "$src" -B "$b" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_BUILD_TYPE=Debug -DGOC_TESTS=OFF -DGOC_EXAMPLES=OFF -DGOC_BENCH=OFF \
        -DGOC_CRAWL=OFF >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; exit 1; }
    cmake --build "$b" -j2 --target goc_static >"$tmp/bld.log" 2>&1 || { cat "$tmp/bld.log"; exit 1; }
    "$cc" -fsanitize=$san -g -I"$src/include" -o "$tmp/hooks-$san" "$tmp/hooks.c" "$b/libgoc.a" -pthread
    if [ -n "${GOC_TEST_EMULATOR:-}" ]; then
        # Under qemu-user (tests/check.h): TSan on AArch64 re-executes itself
        # to fix its memory layout, and that execve of a target binary fails
        # (ENOEXEC) without binfmt_misc; LeakSanitizer stops the world with
        # ptrace, which qemu-user does not emulate. Built, and ASan run
        # without leak checking.
        if [ $san = thread ]; then
            echo "skip running hooks-thread under $GOC_TEST_EMULATOR: TSan re-executes itself (built only)"
            continue
        fi
        echo "under $GOC_TEST_EMULATOR: ASan without LeakSanitizer (it needs ptrace)"
        GOC_PROCS=2 ASAN_OPTIONS=detect_leaks=0 $GOC_TEST_EMULATOR "$tmp/hooks-$san" $want
        continue
    fi
    GOC_PROCS=2 "$tmp/hooks-$san" $want
done

echo "-- src/ compiled with -fsanitize=thread, without CMake"
if "$cc" -std=c11 -D_GNU_SOURCE -DGOC_BUILDING -fsanitize=thread -I"$src/include" \
    -c "$src/src/chan.c" -o "$tmp/chan.o" 2>"$tmp/err"; then
    echo "an instrumented runtime built without a word"
    exit 1
fi
grep -q "GOC_SANITIZE=thread" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "ok: CFLAGS=-fsanitize=address and =thread builds have the fiber hooks; an instrumented runtime is refused"
