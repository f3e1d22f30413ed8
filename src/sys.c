/* OS wrappers with fault injection.
 *
 * Invariants: a wrapper that fails has changed nothing; an armed fault fires
 * exactly once, on the nth call of its kind counted from goc__fault_arm.
 * Locking: none; the fault counters are atomics.
 */
#include "sys.h"

#include "san.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static _Atomic long fault_countdown[GOC__FAULT_NKINDS];

void goc__fault_arm(enum goc__fault_kind kind, long nth) {
    atomic_store(&fault_countdown[kind], nth);
}

/* True when this call must fail. The relaxed load keeps the unarmed path cheap. */
int goc__fault_hit(enum goc__fault_kind kind) {
    if (GOC_LIKELY(atomic_load_explicit(&fault_countdown[kind], memory_order_relaxed) == 0))
        return 0;
    return atomic_fetch_sub(&fault_countdown[kind], 1) == 1;
}

unsigned goc__san_hooks(void) {
    unsigned h = 0;
#if defined(GOC_TSAN)
    h |= GOC__HOOK_TSAN;
#endif
#if defined(GOC_ASAN)
    h |= GOC__HOOK_ASAN;
#endif
#if defined(GOC_VALGRIND)
    h |= GOC__HOOK_VALGRIND;
#endif
    return h;
}

/* Under TSan the runtime's own memory bypasses its allocator: the runtime is
 * not instrumented and orders its objects itself, so TSan must not judge a
 * channel made on one thread and freed on another. */
#if defined(GOC_TSAN)
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
#define MALLOC __libc_malloc
#define CALLOC __libc_calloc
#define REALLOC __libc_realloc
#define FREE __libc_free
#else
#define MALLOC malloc
#define CALLOC calloc
#define REALLOC realloc
#define FREE free
#endif

void *goc__malloc(size_t n) { return goc__fault_hit(GOC__FAULT_ALLOC) ? NULL : MALLOC(n); }

void *goc__calloc(size_t n, size_t size) {
    return goc__fault_hit(GOC__FAULT_ALLOC) ? NULL : CALLOC(n, size);
}

void *goc__realloc(void *p, size_t n) {
    return goc__fault_hit(GOC__FAULT_ALLOC) ? NULL : REALLOC(p, n);
}

void goc__free(void *p) { FREE(p); }

void *goc__malloc_quiet(size_t n) { return MALLOC(n); }
void *goc__calloc_quiet(size_t n, size_t size) { return CALLOC(n, size); }
void *goc__realloc_quiet(void *p, size_t n) { return REALLOC(p, n); }

void *goc__map(size_t n) {
    if (goc__fault_hit(GOC__FAULT_MMAP)) return NULL;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void goc__unmap(void *p, size_t n) {
    if (munmap(p, n) != 0) goc__throw("munmap(%p, %zu) failed: errno %d", p, n, errno);
}

int goc__unmap_try(void *p, size_t n) { return munmap(p, n) == 0 ? 0 : -errno; }

/* Our own pidfd for process_madvise; reopened in a forked child. -2: the
 * kernel (or Valgrind) has no pidfd_open, do not ask again. */
static _Atomic int self_pidfd = -1;
static _Atomic int atfork_set;

static void forget_pidfd(void) { atomic_store(&self_pidfd, -1); }

int goc__vmadvise(const struct iovec *iov, size_t n, int advice) {
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    int fd = atomic_load(&self_pidfd);
    if (fd == -2) return -ENOSYS;
    if (fd < 0) {
        if (!atomic_exchange(&atfork_set, 1)) pthread_atfork(NULL, NULL, forget_pidfd);
        fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0 && errno == ENOSYS) atomic_store(&self_pidfd, -2);
        if (fd < 0) return -errno;
        int expected = -1;
        if (!atomic_compare_exchange_strong(&self_pidfd, &expected, fd)) {
            close(fd);
            fd = expected;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += iov[i].iov_len;
    long r = syscall(SYS_process_madvise, fd, iov, n, advice, 0);
    if (r < 0) return -errno;
    return (size_t)r == total ? 0 : -EAGAIN;
#else
    (void)iov;
    (void)n;
    (void)advice;
    return -ENOSYS;
#endif
}

_Thread_local bool goc__tls_internal;

struct thread_start {
    void *(*fn)(void *);
    void *arg;
};

static void *thread_main(void *p) {
    struct thread_start ts = *(struct thread_start *)p;
    goc__free(p);
    goc__tls_internal = true;
    return ts.fn(ts.arg);
}

int goc__thread_start(void *(*fn)(void *), void *arg, size_t stack_size) {
    if (goc__fault_hit(GOC__FAULT_THREAD)) return -EAGAIN;
    struct thread_start *ts = goc__malloc(sizeof *ts);
    if (!ts) return -ENOMEM;
    *ts = (struct thread_start){fn, arg};
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0) {
        goc__free(ts);
        return -ENOMEM;
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack_size) pthread_attr_setstacksize(&attr, stack_size);
    int r = pthread_create(&t, &attr, thread_main, ts);
    pthread_attr_destroy(&attr);
    if (r != 0) goc__free(ts);
    return -r;
}

void goc__thread_stack(void **lo, size_t *size) {
    pthread_attr_t attr;
    *lo = NULL;
    *size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, lo, size);
        pthread_attr_destroy(&attr);
    }
}

/* TSan defers a signal that arrives outside an intercepted call until the
 * thread makes one; a raw futex wait is not intercepted, so a thread parked
 * in goc would never run its handler (a Ctrl-C lost). Under TSan a wait
 * therefore lasts at most TSAN_SLICE and ends with an intercepted no-op;
 * every caller loops on spurious returns. */
#define TSAN_SLICE (20 * 1000000LL)

void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
    struct timespec ts, *tp = NULL;
    int64_t d = -1;
    if (deadline >= 0) {
        d = deadline - goc__now();
        if (d <= 0) return;
    }
#if defined(GOC_TSAN)
    if (d < 0 || d > TSAN_SLICE) d = TSAN_SLICE;
#endif
    if (d >= 0) {
        ts.tv_sec = d / 1000000000;
        ts.tv_nsec = d % 1000000000;
        tp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
#if defined(GOC_TSAN)
    usleep(0); /* delivers signals TSan held back */
#endif
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
