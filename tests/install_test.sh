#!/bin/sh
# Installs the build into a prefix chosen now (cmake --install --prefix),
# moves that prefix elsewhere, and builds and runs a small program against it
# twice: with pkg-config and with find_package(goc). Proves goc.pc and the
# CMake package are relocatable, and that both hand user code goc's usage
# flags (-fstack-clash-protection where the compiler has it).
# Usage: install_test.sh BUILD_DIR CMAKE C_COMPILER [USAGE_CFLAGS]
# Exit 77 (CTest: skipped) only when pkg-config is missing. In a cross build
# the programs run under GOC_TEST_EMULATOR (tests/check.h).
set -eu
build=$1 cmake=$2 cc=$3 usage=${4:-}
emu=${GOC_TEST_EMULATOR:-}
command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cmake" --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/moved"
prefix=$tmp/moved

cat >"$tmp/hello.c" <<'C'
#include <goc.h>
#include <stdio.h>
static void add(void *arg) {
    int v = 41;
    goc_send(arg, &(int){v + 1});
}
int main(void) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    int v = 0;
    if (goc_go(add, c) != GOC_OK || goc_recv(c, &v) != GOC_OK) return 1;
    goc_chan_release(c);
    printf("got %d\n", v);
    return v == 42 ? 0 : 1;
}
C

pc=$(find "$prefix" -name goc.pc)
[ -n "$pc" ] || { echo "no goc.pc under $prefix"; exit 1; }
if grep -q "$tmp/first" "$pc"; then echo "goc.pc names the install-time prefix:"; cat "$pc"; exit 1; fi
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir goc)
for f in $usage; do
    case " $(pkg-config --cflags goc) " in
    *" $f "*) ;;
    *) echo "pkg-config --cflags goc lacks $f: $(pkg-config --cflags goc)"; exit 1 ;;
    esac
done
[ -f "$libdir/libgoc.a" ] || { echo "pkg-config libdir $libdir lacks libgoc.a"; exit 1; }
# shellcheck disable=SC2046
"$cc" -o "$tmp/hello_pc" "$tmp/hello.c" $(pkg-config --cflags goc) "$libdir/libgoc.a" \
    $(pkg-config --static --libs-only-other goc) -pthread
out=$($emu "$tmp/hello_pc")
[ "$out" = "got 42" ] || { echo "pkg-config program printed: $out"; exit 1; }
"$cc" -o "$tmp/hello_pc_so" "$tmp/hello.c" $(pkg-config --cflags --libs goc) -pthread
out=$(LD_LIBRARY_PATH=$libdir $emu "$tmp/hello_pc_so")
[ "$out" = "got 42" ] || { echo "pkg-config shared program printed: $out"; exit 1; }

mkdir "$tmp/proj"
cp "$tmp/hello.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(hello C)
find_package(goc REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE goc::goc_static)
CM
"$cmake" -S "$tmp/proj" -B "$tmp/proj/b" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; exit 1; }
"$cmake" --build "$tmp/proj/b" >"$tmp/bld.log" 2>&1 || { cat "$tmp/bld.log"; exit 1; }
for f in $usage; do
    grep -q -- "$f" "$tmp/proj/b/CMakeFiles/hello.dir/flags.make" ||
        { echo "find_package(goc) did not compile hello.c with $f"; exit 1; }
done
out=$($emu "$tmp/proj/b/hello")
[ "$out" = "got 42" ] || { echo "find_package program printed: $out"; exit 1; }
echo "ok: pkg-config (static, shared) and find_package against a moved prefix"
