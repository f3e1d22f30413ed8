#!/bin/sh
# Runs a spawn-heavy program and some of the suite under Valgrind's memcheck
# with --error-exitcode: zero errors. Stacks are reused all the time; goc
# registers each with Valgrind and marks it addressable again before reuse
# (src/san.h). A few minutes on 2 cores: whole test executables under
# memcheck are slow (test_chan alone takes minutes), so only chosen cases run.
# Usage: valgrind_test.sh BUILD_DIR   (.ci/run runs it on the plain build)
set -eu
b=$1
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not found"; exit 77; }
vg() {
    echo "-- valgrind $*"
    GOC_PROCS=2 valgrind -q --error-exitcode=99 "$@"
}
vg "$b/tests/valgrind_waves"
vg "$b/tests/test_select"
vg "$b/tests/test_chan" unbuffered_preserves_order close_wakes_all_receivers \
    every_capacity_up_to_40 pthread_and_coroutine_ping_pong prime_sieve_first_1000
vg "$b/tests/test_stack" requested_stack_size_is_usable default_stack_runs_printf_and_getaddrinfo \
    overflow_by_a_little_reported_canary_only
echo "ok: no memcheck errors"
