/* Backtraces of parked coroutines for goc_dump: the return addresses on a
 * copy of a coroutine's stack, found with the call-frame information
 * (.eh_frame) that the compiler emits for every function.
 *
 * Invariants: only the copy is read, never the live stack, and every read
 * is checked against the copy's bounds, so a stale or torn copy can give a
 * wrong or short backtrace but never a fault; each step moves strictly up
 * the stack and the depth is bounded, so a walk ends. Code and .eh_frame
 * of loaded objects are read inside dl_iterate_phdr, so no object can be
 * unloaded under the walk.
 * Locking: none of goc's; dl_iterate_phdr takes the dynamic loader's.
 *
 * Design: the first frame comes from what goc__ctx_switch pushed (its
 * layout is the switch's own, arch/switch_*.S); every later one from the
 * DWARF CFA rules of the function the return address lies in, which say
 * where that function's frame begins and where it saved the return address
 * and the frame pointer. Frame pointers were measured and rejected: built
 * with -fno-omit-frame-pointer, libgoc runs ping-pong in 24 more
 * instructions per round trip (+4.3%, about 5% in time), and the chain
 * still breaks at the first user function built without them, where CFI
 * reaches through. libunwind or libgcc's unwinder would do the same, but
 * neither unwinds a stack other than the caller's without a dependency.
 * Only what goc's compilers emit is interpreted (CFA as a register plus an
 * offset, registers saved at an offset); an expression ends the walk.
 */
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "debug.h"

#if !defined(GOC_CTX_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))

#if defined(__x86_64__)
enum { REG_FP = 6, REG_SP = 7, REG_RA = 16 }; /* DWARF numbers: rbp, rsp, rip */
/* goc__ctx_switch's frame: mxcsr/fpucw r15 r14 r13 r12 rbx rbp ret */
enum { CTX_FP = 48, CTX_RA = 56, CTX_SIZE = 64 };
#else
enum { REG_FP = 29, REG_SP = 31, REG_RA = 30 }; /* x29, sp, x30 */
/* goc__ctx_switch's frame: d8-d15 x19-x28 x29 x30 fpcr pad */
enum { CTX_FP = 0x90, CTX_RA = 0x98, CTX_SIZE = 0xb0 };
#endif

/* The stack copy: the bytes at [base, base + len) of the coroutine's stack. */
typedef struct stk {
    const unsigned char *copy;
    uintptr_t base;
    size_t len;
} stk;

static bool stk_read(const stk *s, uintptr_t addr, uintptr_t *out) {
    if (addr < s->base || addr % sizeof *out || s->len < sizeof *out ||
        addr - s->base > s->len - sizeof *out)
        return false;
    memcpy(out, s->copy + (addr - s->base), sizeof *out);
    return true;
}

/* ---- reading .eh_frame ---------------------------------------------------- */

typedef struct rd {
    const unsigned char *p, *end;
    bool bad;
} rd;

static uint64_t rd_uleb(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end && shift < 64; shift += 7) {
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}

static int64_t rd_sleb(rd *r) {
    int64_t v = 0;
    int shift = 0;
    unsigned char b = 0x80;
    while (r->p < r->end && shift < 64 && (b & 0x80)) {
        b = *r->p++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    }
    if (b & 0x80) r->bad = true;
    else if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
    return v;
}

static uint64_t rd_u(rd *r, int n) {
    if (r->end - r->p < n) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, (size_t)n); /* little-endian, as both targets */
    r->p += n;
    return v;
}

/* A pointer in DW_EH_PE encoding enc; datarel is relative to `data`. */
static uintptr_t rd_enc(rd *r, unsigned enc, uintptr_t data) {
    if (enc == 0xff) return 0; /* omitted */
    uintptr_t at = (uintptr_t)r->p, v;
    switch (enc & 0x0f) {
    case 0x00: v = (uintptr_t)rd_u(r, sizeof(uintptr_t)); break;
    case 0x01: v = (uintptr_t)rd_uleb(r); break;
    case 0x02: v = (uintptr_t)rd_u(r, 2); break;
    case 0x03: v = (uintptr_t)rd_u(r, 4); break;
    case 0x04: v = (uintptr_t)rd_u(r, 8); break;
    case 0x09: v = (uintptr_t)rd_sleb(r); break;
    case 0x0a: v = (uintptr_t)(int64_t)(int16_t)rd_u(r, 2); break;
    case 0x0b: v = (uintptr_t)(int64_t)(int32_t)rd_u(r, 4); break;
    case 0x0c: v = (uintptr_t)rd_u(r, 8); break;
    default: r->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += at; break;   /* pcrel */
    case 0x30: v += data; break; /* datarel */
    default: r->bad = true; return 0;
    }
    if (enc & 0x80) { /* indirect */
        if (r->bad || !v) return 0;
        v = *(const uintptr_t *)v;
    }
    return v;
}

/* Where, by the CFA rules at a pc, a frame begins and what it saved. */
typedef struct rule {
    int how;       /* UNSET, OFFSET (saved at CFA + off), VAL (is CFA + off), UNDEF */
    int64_t off;
} rule;
enum { UNSET, OFFSET, VAL, UNDEF };

typedef struct frame_rules {
    unsigned cfa_reg;
    int64_t cfa_off;
    rule ra, fp;
} frame_rules;

typedef struct cie {
    uint64_t code_align;
    int64_t data_align;
    unsigned ra_reg, fde_enc;
    bool has_aug_len;
    const unsigned char *insns, *end;
} cie;

static bool parse_cie(const unsigned char *p, cie *c) {
    uint64_t len = *(const uint32_t *)p;
    p += 4;
    if (len == 0xffffffffu) return false; /* 64-bit DWARF: not emitted for .eh_frame */
    rd r = {p, p + len, false};
    if (rd_u(&r, 4) != 0) return false; /* a CIE's id */
    unsigned version = (unsigned)rd_u(&r, 1);
    const char *aug = (const char *)r.p;
    size_t alen = strnlen(aug, (size_t)(r.end - r.p));
    r.p += alen + 1;
    if (strstr(aug, "eh")) return false; /* GCC 2's layout */
    c->code_align = rd_uleb(&r);
    c->data_align = rd_sleb(&r);
    c->ra_reg = version == 1 ? (unsigned)rd_u(&r, 1) : (unsigned)rd_uleb(&r);
    c->fde_enc = 0; /* absptr */
    c->has_aug_len = aug[0] == 'z';
    if (c->has_aug_len) {
        uint64_t n = rd_uleb(&r);
        const unsigned char *data_end = r.p + n;
        for (const char *a = aug + 1; *a && !r.bad; a++) {
            if (*a == 'R') c->fde_enc = (unsigned)rd_u(&r, 1);
            else if (*a == 'L') (void)rd_u(&r, 1);
            else if (*a == 'P') {
                unsigned enc = (unsigned)rd_u(&r, 1);
                (void)rd_enc(&r, enc & 0x7f, 0); /* the personality: skipped, not followed */
            } else if (*a != 'S' && *a != 'B' && *a != 'G') {
                break; /* unknown: the length lets us skip the rest */
            }
        }
        r.p = data_end;
    }
    c->insns = r.p;
    c->end = r.end;
    return !r.bad && r.p <= r.end;
}

/* Runs CFA instructions up to pc (loc: the address the first applies at).
 * False on anything outside the register-plus-offset subset. */
static bool run_cfa(const cie *c, const unsigned char *p, const unsigned char *end, uintptr_t loc,
                    uintptr_t pc, frame_rules *fr, const frame_rules *initial) {
    frame_rules saved[4];
    int nsaved = 0;
    rd r = {p, end, false};
    while (r.p < r.end && !r.bad) {
        unsigned op = *r.p++, low = op & 0x3f;
        uint64_t reg = 0;
        int64_t off = 0;
        rule *target = NULL;
        switch (op >> 6) {
        case 1: /* advance_loc */
            loc += low * c->code_align;
            if (loc > pc) return true;
            continue;
        case 2: /* offset */
            reg = low;
            off = (int64_t)rd_uleb(&r) * c->data_align;
            goto offset;
        case 3: /* restore */
            reg = low;
            goto restore;
        }
        switch (op) {
        case 0x00: continue; /* nop */
        case 0x01: loc = rd_enc(&r, c->fde_enc, 0); break; /* set_loc */
        case 0x02: loc += rd_u(&r, 1) * c->code_align; break;
        case 0x03: loc += rd_u(&r, 2) * c->code_align; break;
        case 0x04: loc += rd_u(&r, 4) * c->code_align; break;
        case 0x05: /* offset_extended */
            reg = rd_uleb(&r);
            off = (int64_t)rd_uleb(&r) * c->data_align;
            goto offset;
        case 0x11: /* offset_extended_sf */
            reg = rd_uleb(&r);
            off = rd_sleb(&r) * c->data_align;
            goto offset;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = rd_uleb(&r);
            off = -(int64_t)rd_uleb(&r) * c->data_align;
            goto offset;
        case 0x14: /* val_offset */
        case 0x15: /* val_offset_sf */
            reg = rd_uleb(&r);
            off = op == 0x14 ? (int64_t)rd_uleb(&r) * c->data_align : rd_sleb(&r) * c->data_align;
            if (reg == REG_RA) fr->ra = (rule){VAL, off};
            if (reg == REG_FP) fr->fp = (rule){VAL, off};
            continue;
        case 0x06: /* restore_extended */
            reg = rd_uleb(&r);
            goto restore;
        case 0x07: /* undefined */
        case 0x08: /* same_value */
            reg = rd_uleb(&r);
            if (reg == REG_RA) fr->ra = (rule){op == 0x07 ? UNDEF : UNSET, 0};
            if (reg == REG_FP) fr->fp = (rule){UNSET, 0};
            continue;
        case 0x09: /* register: a register kept in another */
            reg = rd_uleb(&r);
            (void)rd_uleb(&r);
            if (reg == REG_RA || reg == REG_FP) return false;
            continue;
        case 0x0a: /* remember_state */
            if (nsaved == 4) return false;
            saved[nsaved++] = *fr;
            continue;
        case 0x0b: /* restore_state */
            if (nsaved == 0) return false;
            *fr = saved[--nsaved];
            continue;
        case 0x0c: /* def_cfa */
            fr->cfa_reg = (unsigned)rd_uleb(&r);
            fr->cfa_off = (int64_t)rd_uleb(&r);
            continue;
        case 0x12: /* def_cfa_sf */
            fr->cfa_reg = (unsigned)rd_uleb(&r);
            fr->cfa_off = rd_sleb(&r) * c->data_align;
            continue;
        case 0x0d: fr->cfa_reg = (unsigned)rd_uleb(&r); continue; /* def_cfa_register */
        case 0x0e: fr->cfa_off = (int64_t)rd_uleb(&r); continue;  /* def_cfa_offset */
        case 0x13: fr->cfa_off = rd_sleb(&r) * c->data_align; continue;
        case 0x0f: return false; /* def_cfa_expression */
        case 0x10: /* expression */
        case 0x16: /* val_expression */
            reg = rd_uleb(&r);
            r.p += rd_uleb(&r);
            if (reg == REG_RA || reg == REG_FP) return false;
            continue;
        case 0x2e: (void)rd_uleb(&r); continue; /* GNU_args_size */
        case 0x2d: continue;                    /* AArch64 negate_ra_state */
        default: return false;
        }
        if (loc > pc) return true; /* after a set_loc or advance_loc1/2/4 */
        continue;
    offset:
        target = reg == REG_RA ? &fr->ra : reg == REG_FP ? &fr->fp : NULL;
        if (target) *target = (rule){OFFSET, off};
        continue;
    restore:
        if (initial && reg == REG_RA) fr->ra = initial->ra;
        if (initial && reg == REG_FP) fr->fp = initial->fp;
        continue;
    }
    return !r.bad;
}

/* The FDE search of one loaded object: its .eh_frame_hdr's sorted table. */
typedef struct lookup {
    uintptr_t pc;
    bool found, ok;
    frame_rules fr;
} lookup;

static const unsigned char *find_fde(const unsigned char *hdr, uintptr_t pc) {
    rd r = {hdr, hdr + 4, false};
    if (rd_u(&r, 1) != 1) return NULL; /* version */
    unsigned ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    r = (rd){hdr + 4, hdr + 4 + 16, false};
    (void)rd_enc(&r, ptr_enc, (uintptr_t)hdr);
    uintptr_t count = rd_enc(&r, count_enc, (uintptr_t)hdr);
    if (r.bad || table_enc != 0x3b) return NULL; /* datarel sdata4: what GNU ld and lld write */
    const int32_t *t = (const int32_t *)r.p;
    uintptr_t lo = 0, hi = count;
    while (lo < hi) { /* the last entry whose start is <= pc */
        uintptr_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + (intptr_t)t[2 * mid] <= pc) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    return hdr + (intptr_t)t[2 * (lo - 1) + 1];
}

static int lookup_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    lookup *l = arg;
    const ElfW(Phdr) *eh = NULL;
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && l->pc >= lo && l->pc - lo < ph->p_memsz) mine = true;
        if (ph->p_type == PT_GNU_EH_FRAME) eh = ph;
    }
    if (!mine) return 0;
    l->found = true;
    if (!eh) return 1;
    const unsigned char *fde = find_fde((const unsigned char *)(info->dlpi_addr + eh->p_vaddr), l->pc);
    if (!fde) return 1;
    uint32_t len = *(const uint32_t *)fde;
    if (len == 0 || len == 0xffffffffu) return 1;
    const unsigned char *cie_ptr_at = fde + 4;
    const unsigned char *cie_at = cie_ptr_at - *(const uint32_t *)cie_ptr_at;
    cie c;
    if (!parse_cie(cie_at, &c)) return 1;
    rd r = {fde + 8, fde + 4 + len, false};
    uintptr_t begin = rd_enc(&r, c.fde_enc, 0);
    uintptr_t range = rd_enc(&r, c.fde_enc & 0x0f, 0);
    if (r.bad || l->pc < begin || l->pc - begin >= range) return 1;
    if (c.has_aug_len) r.p += rd_uleb(&r);
    frame_rules fr = {.cfa_reg = REG_SP, .cfa_off = 0};
    if (c.ra_reg != REG_RA || !run_cfa(&c, c.insns, c.end, begin, l->pc, &fr, NULL)) return 1;
    frame_rules initial = fr;
    if (!run_cfa(&c, r.p, r.end, begin, l->pc, &fr, &initial)) return 1;
    l->fr = fr;
    l->ok = true;
    return 1;
}

int goc__unwind_copy(const void *copy, uintptr_t sp, size_t len, void **pcs, int max) {
    stk s = {copy, sp, len};
    uintptr_t ra, fp;
    if (!stk_read(&s, sp + CTX_RA, &ra) || !stk_read(&s, sp + CTX_FP, &fp)) return 0;
    sp += CTX_SIZE; /* where goc__ctx_switch returns with it */
    int n = 0;
    while (n < max && ra) {
#if defined(__aarch64__)
        ra &= 0x0000ffffffffffffull; /* a pointer-authentication code, if any */
#endif
        lookup l = {.pc = ra - 1}; /* within the call, not after it */
        dl_iterate_phdr(lookup_object, &l);
        if (l.ok && l.fr.ra.how == UNDEF) break; /* goc__ctx_entry: the stack's first frame */
        pcs[n++] = (void *)ra;
        if (!l.ok) break;
        uintptr_t base = l.fr.cfa_reg == REG_SP ? sp : l.fr.cfa_reg == REG_FP ? fp : 0;
        if (!base || l.fr.ra.how != OFFSET) break;
        uintptr_t cfa = base + (uintptr_t)l.fr.cfa_off, next_ra, next_fp = fp;
        if (cfa <= sp || !stk_read(&s, cfa + (uintptr_t)l.fr.ra.off, &next_ra)) break;
        if (l.fr.fp.how == OFFSET && !stk_read(&s, cfa + (uintptr_t)l.fr.fp.off, &next_fp)) break;
        if (l.fr.fp.how == VAL) next_fp = cfa + (uintptr_t)l.fr.fp.off;
        sp = cfa, ra = next_ra, fp = next_fp;
    }
    return n;
}

#else

int goc__unwind_copy(const void *copy, uintptr_t sp, size_t len, void **pcs, int max) {
    (void)copy, (void)sp, (void)len, (void)pcs, (void)max;
    return 0; /* GOC_CONTEXT=ucontext, or another architecture: no backtraces */
}

#endif
