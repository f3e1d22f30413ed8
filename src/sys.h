/* Thin wrappers over the OS: the allocations, mappings, thread starts and
 * fd-creating calls of src/ go through here (or check goc__fault_hit), so
 * tests can make the Nth one fail (goc__fault_arm) and check that the
 * runtime reports the error and keeps working. Not wrapped: the worker
 * record's posix_memalign, signal.c's pipe2 and monitor.c's /proc reads,
 * whose failures are handled but not injected. */
#ifndef GOC_SYS_H
#define GOC_SYS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#if defined(GOC_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define GOC_LIKELY(x) __builtin_expect(!!(x), 1)
#define GOC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GOC_CACHELINE 64
#define GOC_NOINLINE __attribute__((noinline))
#define GOC_INLINE inline __attribute__((always_inline))
#define GOC_NORETURN __attribute__((noreturn))
/* Reads memory ASan may have poisoned on purpose (another coroutine's stack). */
#define GOC_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))

/* Fault injection points. */
enum goc__fault_kind {
    GOC__FAULT_ALLOC,
    GOC__FAULT_MMAP,
    GOC__FAULT_THREAD,
    GOC__FAULT_FD, /* socket, accept4, eventfd, epoll_ctl: as if out of fds */
    GOC__FAULT_NKINDS
};

/* Makes the nth next call of kind fail (1 = the next one); 0 disarms. */
void goc__fault_arm(enum goc__fault_kind kind, long nth);

/* True when this call of kind must fail (for wrappers outside sys.c). */
int goc__fault_hit(enum goc__fault_kind kind);

void *goc__malloc(size_t n);
void *goc__calloc(size_t n, size_t size);
void *goc__realloc(void *p, size_t n);
void goc__free(void *p);

/* The same allocator without fault injection, for bookkeeping whose failure
 * only loses information (stats, dumps, leak reports). Under TSan both bypass
 * TSan's allocator: the runtime orders its own memory. Free with goc__free. */
void *goc__malloc_quiet(size_t n);
void *goc__calloc_quiet(size_t n, size_t size);
void *goc__realloc_quiet(void *p, size_t n);

/* mmap of anonymous, lazily committed memory; NULL on failure. */
void *goc__map(size_t n);
void goc__unmap(void *p, size_t n);
/* munmap that may fail (splitting a mapping past vm.max_map_count): -errno. */
int goc__unmap_try(void *p, size_t n);

struct iovec;
/* madvise over several ranges in one call (process_madvise on ourselves).
 * Returns 0, or -errno when the kernel did not apply it to every range (the
 * caller falls back to madvise per range). */
int goc__vmadvise(const struct iovec *iov, size_t n, int advice);

/* pthread_create of a detached thread with the given stack size; 0 or -errno. */
int goc__thread_start(void *(*fn)(void *), void *arg, size_t stack_size);
extern _Thread_local bool goc__tls_internal; /* a thread goc__thread_start made */

/* The calling thread's stack, [lo, lo+size); size 0 when unknown. */
void goc__thread_stack(void **lo, size_t *size);

/* Futex on a 32-bit word: wait while *addr == val, until deadline (goc_now
 * clock, < 0 none). Spurious returns are allowed. */
void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
void goc__futex_wake(_Atomic uint32_t *addr, int n);

int64_t goc__now(void);

/* Corrupted internal state: print and abort, in every build. */
GOC_NORETURN void goc__throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* GOC_ASSERT(cond): an invariant a file's header states, checked in
 * GOC_DEBUG_CHECKS builds (CMake's Debug builds by default): false is
 * corrupted state, reported by goc__throw with the place and the
 * expression. Elsewhere cond is not evaluated (only type-checked), so it
 * may cost anything bounded; keep hot paths to O(1). */
#if GOC_DEBUG_CHECKS
#define GOC_ASSERT(cond)                                                                   \
    (GOC_LIKELY(cond) ? (void)0                                                            \
                      : goc__throw("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond))
#else
#define GOC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/* Reference counts (channels, contexts). The last release poisons the count
 * with GOC__REFS_DEAD before the free, so a release past zero is a misuse
 * reported by goc__throw in every build (Go panics on misuse) rather than a
 * silent double free: a count that was 0 or poisoned fails the check. The
 * count must sit 32 bytes or more into its object, past what malloc's free
 * lists write into a freed block. Best effort: freed memory that malloc has
 * handed out again is not recognised. Under ASan, freed memory is caught by
 * its poisoning before the count is read (a read ASan would report as a
 * use-after-free). True when the caller dropped the last reference and
 * frees the object. */
#define GOC__REFS_DEAD ((size_t)1 << 63)

static inline bool goc__ref_release(_Atomic size_t *refs, const char *what, const void *obj) {
#if defined(GOC_ASAN)
    if (__asan_address_is_poisoned((void *)refs))
        goc__throw("%s of %p: released more times than retained (it was freed)", what, obj);
#endif
    size_t old = atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel);
    if (GOC_UNLIKELY(old - 1 >= GOC__REFS_DEAD / 2))
        goc__throw("%s of %p: released more times than retained", what, obj);
    if (old != 1) return false;
    atomic_store_explicit(refs, GOC__REFS_DEAD, memory_order_relaxed);
    return true;
}

/* write(2) of a formatted line, safe in a signal handler for %s %d %lu %zu. */
void goc__print_raw(const char *s);

/* Copies user values. Under TSan, a plain loop the interceptors cannot see
 * (the runtime states happens-before itself and must not be judged on the
 * runtime's own buffers); elsewhere memcpy/memset. */
static inline void goc__copy(void *dst, const void *src, size_t n) {
#if defined(GOC_TSAN)
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
        __asm__ __volatile__("" ::: "memory"); /* no memcpy idiom */
    }
#else
    __builtin_memcpy(dst, src, n);
#endif
}

static inline void goc__zero(void *dst, size_t n) {
#if defined(GOC_TSAN)
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = 0;
        __asm__ __volatile__("" ::: "memory");
    }
#else
    __builtin_memset(dst, 0, n);
#endif
}

static inline void goc__cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
