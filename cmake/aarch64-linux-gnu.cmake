# Cross build for Linux AArch64 with Debian's gcc-aarch64-linux-gnu, tests
# run by CTest under qemu-user (Debian's qemu-user):
#
#     cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#     cmake --build build-aarch64 -j2 && (cd build-aarch64 && ctest -j2)
#
# (`make test-aarch64` does the same; .ci/run runs it.) CTest prefixes every
# test command that is a target with CMAKE_CROSSCOMPILING_EMULATOR; tests
# driven by a script get it in GOC_TEST_EMULATOR (tests/CMakeLists.txt), and
# the cases emulation cannot run skip themselves with a reason (tests/check.h
# lists them). The crawler and the benchmarks default to off in a cross build
# (CMakeLists.txt), and pkg-config and find_* look only at the target's
# libraries, never the host's x86-64 ones.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(GOC_CROSS_TRIPLE aarch64-linux-gnu)
set(GOC_CROSS_SYSROOT /usr/${GOC_CROSS_TRIPLE}) # libc6-dev-arm64-cross
set(CMAKE_C_COMPILER ${GOC_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${GOC_CROSS_TRIPLE}-gcc)

# -L: where qemu finds the target's dynamic loader and libc.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${GOC_CROSS_SYSROOT})

set(CMAKE_FIND_ROOT_PATH ${GOC_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: Debian's multiarch directories for arm64 only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${GOC_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
