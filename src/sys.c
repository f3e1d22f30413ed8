/* OS wrappers with fault injection.
 *
 * Invariants: a wrapper that fails has changed nothing; an armed fault fires
 * exactly once, on the nth call of its kind counted from goc__fault_arm.
 * Locking: none; the fault counters are atomics.
 */
#include "sys.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic long fault_countdown[GOC__FAULT_NKINDS];

void goc__fault_arm(enum goc__fault_kind kind, long nth) {
    atomic_store(&fault_countdown[kind], nth);
}

/* True when this call must fail. The relaxed load keeps the unarmed path cheap. */
static int fault_hit(enum goc__fault_kind kind) {
    if (GOC_LIKELY(atomic_load_explicit(&fault_countdown[kind], memory_order_relaxed) == 0))
        return 0;
    return atomic_fetch_sub(&fault_countdown[kind], 1) == 1;
}

/* Under TSan the runtime is not instrumented, but libc's allocator is
 * intercepted: it records the allocating coroutine's writes to the block. The
 * runtime's own blocks (timer heaps, run lists) are guarded by goc__lock,
 * which TSan does not see, so a heap that grows on one worker and again on
 * another looked like a race in realloc. The runtime's allocations are
 * therefore made with the calling fiber's accesses ignored. */
#if defined(GOC_TSAN)
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define ALLOC_BEGIN() __tsan_ignore_thread_begin()
#define ALLOC_END() __tsan_ignore_thread_end()
#else
#define ALLOC_BEGIN() ((void)0)
#define ALLOC_END() ((void)0)
#endif

void *goc__malloc(size_t n) {
    if (fault_hit(GOC__FAULT_ALLOC)) return NULL;
    ALLOC_BEGIN();
    void *p = malloc(n);
    ALLOC_END();
    return p;
}

void *goc__calloc(size_t n, size_t size) {
    if (fault_hit(GOC__FAULT_ALLOC)) return NULL;
    ALLOC_BEGIN();
    void *p = calloc(n, size);
    ALLOC_END();
    return p;
}

void *goc__realloc(void *p, size_t n) {
    if (fault_hit(GOC__FAULT_ALLOC)) return NULL;
    ALLOC_BEGIN();
    void *q = realloc(p, n);
    ALLOC_END();
    return q;
}

void goc__free(void *p) {
    ALLOC_BEGIN();
    free(p);
    ALLOC_END();
}

void *goc__map(size_t n) {
    if (fault_hit(GOC__FAULT_MMAP)) return NULL;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void goc__unmap(void *p, size_t n) {
    if (munmap(p, n) != 0) goc__throw("munmap(%p, %zu) failed: errno %d", p, n, errno);
}

int goc__thread_start(void *(*fn)(void *), void *arg, size_t stack_size) {
    if (fault_hit(GOC__FAULT_THREAD)) return -EAGAIN;
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0) return -ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack_size) pthread_attr_setstacksize(&attr, stack_size);
    int r = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return -r;
}

void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
    struct timespec ts, *tp = NULL;
    if (deadline >= 0) {
        int64_t d = deadline - goc__now();
        if (d <= 0) return;
        ts.tv_sec = d / 1000000000;
        ts.tv_nsec = d % 1000000000;
        tp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

void goc__futex_wake(_Atomic uint32_t *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int64_t goc__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void goc__print_raw(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

void goc__throw(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf, sizeof buf, "goc: fatal: ");
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    goc__print_raw(buf);
    goc__print_raw("\n");
    abort();
}
