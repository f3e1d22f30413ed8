/* What kind of build this is, read from the compiler itself, so that a goc
 * built the way users enable sanitizers (CFLAGS=-fsanitize=...) gets the same
 * fiber hooks as one built with GOC_SANITIZE.
 *
 * AddressSanitizer: an instrumented runtime is what GOC_SANITIZE=address
 * builds, so -fsanitize=address alone turns GOC_ASAN on.
 * ThreadSanitizer: the runtime must not be instrumented (san.h says why), so
 * a runtime compiled with -fsanitize=thread refuses to build. CMake never
 * gets here: it maps -fsanitize=thread in CMAKE_C_FLAGS to GOC_SANITIZE=thread
 * and compiles src/ with -fno-sanitize=thread (CMakeLists.txt). Tests include
 * internal headers and are instrumented: the refusal is for GOC_BUILDING. */
#ifndef GOC_CONFIG_H
#define GOC_CONFIG_H

#if defined(__SANITIZE_ADDRESS__)
#define GOC__CC_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define GOC__CC_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOC__CC_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GOC__CC_TSAN 1
#endif
#endif

#if defined(GOC__CC_ASAN) && !defined(GOC_ASAN)
#define GOC_ASAN 1
#endif

#if defined(GOC__CC_TSAN) && defined(GOC_BUILDING)
#error "goc: src/ is compiled with -fsanitize=thread, but the runtime must not be instrumented \
(src/san.h). Configure with `cmake -DGOC_SANITIZE=thread` (CMake also does so by itself when \
CMAKE_C_FLAGS has -fsanitize=thread), or compile src/ with -DGOC_TSAN and without \
-fsanitize=thread, and your program with it."
#endif

/* Debug checks, off unless asked for (CMake turns both on in Debug builds):
 * GOC_LOCKRANK checks the lock order on every acquire (lockrank.h),
 * GOC_DEBUG_CHECKS compiles GOC_ASSERT (sys.h). */
#ifndef GOC_LOCKRANK
#define GOC_LOCKRANK 0
#endif
#ifndef GOC_DEBUG_CHECKS
#define GOC_DEBUG_CHECKS 0
#endif

#endif
