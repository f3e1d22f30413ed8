/* Sanitizer and Valgrind hooks, compiled to nothing in ordinary builds.
 *
 * ThreadSanitizer (GOC_TSAN): the runtime itself is built without
 * instrumentation, as Go's runtime is for its race detector. Each coroutine is
 * a TSan fiber; switching never synchronises (__tsan_switch_to_fiber flag 1),
 * so two coroutines racing on one thread are reported like two threads. The
 * happens-before edges of Go's memory model are stated explicitly with
 * goc__race_acquire/release on the object that carries them (a channel slot,
 * a mutex, a new coroutine).
 *
 * AddressSanitizer (GOC_ASAN): __sanitizer_start/finish_switch_fiber around
 * each switch; a reused stack is unpoisoned before it runs again.
 *
 * Valgrind: each stack is registered while it is in use, and made
 * addressable (undefined) again before it is reused.
 */
#ifndef GOC_SAN_H
#define GOC_SAN_H

#include <stddef.h>

#include "config.h"

#if defined(GOC_TSAN)
#include <sanitizer/tsan_interface.h>
#define goc__race_acquire(p) __tsan_acquire((void *)(p))
#define goc__race_release(p) __tsan_release((void *)(p))
#else
#define goc__race_acquire(p) ((void)(p))
#define goc__race_release(p) ((void)(p))
#endif

#if defined(GOC_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>) && !defined(GOC_TSAN) && !defined(GOC_ASAN)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define GOC_VALGRIND 1
#endif
#endif

/* The hooks compiled in, for tests and the CI check that a goc built with
 * CFLAGS=-fsanitize=... has them (tests/sanitize_cflags_test.sh). */
enum { GOC__HOOK_TSAN = 1, GOC__HOOK_ASAN = 2, GOC__HOOK_VALGRIND = 4 };
unsigned goc__san_hooks(void);

/* Per-context sanitizer state: the TSan fiber and ASan's fake-stack handle. */
typedef struct goc__san {
    void *fiber;     /* TSan fiber                                  */
    void *fake;      /* ASan fake stack saved while switched out    */
    const void *lo;  /* stack bounds, for ASan                      */
    size_t size;
    unsigned vg_id;  /* Valgrind stack id                           */
} goc__san;

/* A new coroutine stack [lo, lo+size). */
static inline void goc__san_stack_new(goc__san *s, void *lo, size_t size) {
    s->lo = lo;
    s->size = size;
    s->fake = NULL;
#if defined(GOC_TSAN)
    s->fiber = __tsan_create_fiber(0);
#endif
#if defined(GOC_ASAN)
    __asan_unpoison_memory_region(lo, size);
#endif
#if defined(GOC_VALGRIND)
    /* A reused stack: memcheck marked what the last coroutine's frames
     * popped as unaddressable, and the new context is built there from
     * another stack. Addressable again, contents undefined; all but the
     * lowest word, which may be stack.c's canary (defined, read at every
     * switch-out) and which no frame writes above the stack pointer. */
    VALGRIND_MAKE_MEM_UNDEFINED((char *)lo + 8, size - 8);
    s->vg_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#endif
}

/* The coroutine is gone; called from another context. */
static inline void goc__san_stack_free(goc__san *s) {
#if defined(GOC_TSAN)
    __tsan_destroy_fiber(s->fiber);
#endif
#if defined(GOC_VALGRIND)
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    (void)s;
}

/* A thread's own context (the scheduler loop on the worker's stack). */
static inline void goc__san_thread(goc__san *s, void *lo, size_t size) {
    s->lo = lo;
    s->size = size;
    s->fake = NULL;
#if defined(GOC_TSAN)
    s->fiber = __tsan_get_current_fiber();
#endif
}

/* Just before switching from `from` to `to`; dying: from never resumes. */
static inline void goc__san_switch(goc__san *from, goc__san *to, int dying) {
#if defined(GOC_TSAN)
    __tsan_switch_to_fiber(to->fiber, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(GOC_ASAN)
    __sanitizer_start_switch_fiber(dying ? NULL : &from->fake, to->lo, to->size);
#endif
    (void)from;
    (void)to;
    (void)dying;
}

/* First thing after a switch lands in `self`. */
static inline void goc__san_resumed(goc__san *self) {
#if defined(GOC_ASAN)
    __sanitizer_finish_switch_fiber(self->fake, NULL, NULL);
#endif
    (void)self;
}

#endif
