/*
 * usermode's compiled core: the per-event paths that Python made slow.
 *
 * - The guest's TLB fill: the guest mappings are mirrored here (Core.set_map), so a miss is
 *   a binary search in C instead of a call into Python. A refused access is recorded for the
 *   fault report. The TLB grows with the working set: after a run of misses the engine's
 *   TLB is flushed, which is when QEMU's softmmu doubles it (up to 2^22 entries).
 * - Syscall entry: the registers are read and the result written here; the handler is found
 *   by number in a table built from the dispatcher's (Core.set_table) and called with the
 *   arguments already converted (sign/width per argument kind). Rows whose arguments need
 *   more (renumbering, register pairs, stack arguments), and every call while tracing or
 *   hooks are on, go through the Python dispatcher unchanged.
 * - A few calls whose guest and host meanings agree are served in C (the table's fast kind):
 *   ids, reads and writes of files that cannot block, lseek, clock_gettime, getrandom.
 * - Preemption: a block hook that stops the engine when the watchdog asks.
 *
 * The uc_* functions are looked up in the libunicorn that the Python binding (capi.py) has
 * already loaded, so both use the same engines. Errors in Python code never escape into
 * Unicorn: they stop the engine and wait in Core.error for the run loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the Unicorn API, looked up at bind() ------------------------------------------------ */
typedef struct uc_struct uc_engine;
typedef size_t uc_hook;
typedef struct {
    uint64_t paddr;
    int perms;
} uc_tlb_entry;

typedef int (*reg_read_batch_t)(uc_engine *, int const *, void **, int);
typedef int (*reg_write_t)(uc_engine *, int, const void *);
typedef int (*reg_read_t)(uc_engine *, int, void *);
typedef int (*mem_read_t)(uc_engine *, uint64_t, void *, size_t);
typedef int (*emu_start_t)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
typedef int (*emu_stop_t)(uc_engine *);
typedef int (*hook_add_t)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...);
typedef int (*hook_del_t)(uc_engine *, uc_hook);
typedef int (*ctl_t)(uc_engine *, int, ...);

static reg_read_batch_t uc_reg_read_batch_p;
static reg_write_t uc_reg_write_p;
static reg_read_t uc_reg_read_p;
static mem_read_t uc_mem_read_p;
static emu_start_t uc_emu_start_p;
static emu_stop_t uc_emu_stop_p;
static hook_add_t uc_hook_add_p;
static hook_del_t uc_hook_del_p;
static ctl_t uc_ctl_p;

#define UC_HOOK_INTR (1 << 0)
#define UC_HOOK_INSN (1 << 1)
#define UC_HOOK_BLOCK (1 << 3)
#define UC_HOOK_TLB_FILL (1 << 17)
#define UC_MEM_READ 16
#define UC_MEM_WRITE 17
#define UC_MEM_FETCH 18
#define UC_X86_INS_SYSCALL 699
#define UC_CTL_TLB_FLUSH 11
#define UC_CTL_WRITE(type, nr) ((type) | ((nr) << 26) | (1 << 30))

#define PROT_R 1
#define PROT_W 2
#define PROT_X 4

#define MAX_NR 8192      /* syscall numbers: mips o32 starts at 4000, n64 at 5000 */
#define MAX_ARGS 7       /* arm reads r0..r6 */
#define GUEST_ERRNO_MAX 4096
#define TLB_MAX_BITS 22  /* QEMU's dynamic TLB stops growing here */

/* Argument conversions (per argument kind, as the dispatcher's plan) */
enum { CONV_RAW = 0, CONV_S32, CONV_FD, CONV_U32, CONV_SWORD };
/* What an EFAULT from a handler whose first argument is an fd becomes: Linux looks the fd up
 * (EBADF), checks its open mode (EBADF) or that it is a socket (ENOTSOCK), and that the file
 * can be read or written at all, at an offset (EISDIR, EINVAL, ESPIPE) before it touches
 * the caller's memory. */
enum { FD_CHECK_NONE = 0, FD_CHECK_OPEN, FD_CHECK_READ, FD_CHECK_WRITE, FD_CHECK_SOCKET,
       FD_CHECK_PREAD, FD_CHECK_PWRITE };
/* Calls served in C */
enum { FAST_NONE = 0, FAST_GETPID, FAST_GETPPID, FAST_GETUID, FAST_GETEUID, FAST_GETGID,
       FAST_GETEGID, FAST_READ, FAST_WRITE, FAST_PREAD, FAST_PWRITE, FAST_LSEEK,
       FAST_CLOCK_GETTIME64, FAST_GETRANDOM };

typedef struct {
    uint64_t start, end; /* guest [start, end) */
    int64_t delta;       /* host address = guest address + delta */
    int prot;
} Vma;

typedef struct {
    PyObject *fn;        /* handler(proc, *args) or NULL (the Python dispatcher decides) */
    int nargs;
    unsigned char conv[MAX_ARGS];
    unsigned char fast;
    unsigned char fd_check; /* FD_CHECK_*: the first argument is an fd Linux looks up first */
} Entry;

typedef struct {
    PyObject_HEAD
    uc_engine *uc;
    PyThreadState *ts; /* the thread that released the GIL in emu_start */
    /* syscall entry */
    int regs[1 + MAX_ARGS]; /* nr, then the argument registers */
    int nregs;
    int ret_reg, err_reg; /* err_reg: mips a3 (-1: none) */
    int64_t max_errno;
    uint64_t mask;
    int wordbits;
    uint32_t sys_intno;
    int pc_reg;          /* >= 0 (s390x): the hook sees PC on the syscall instruction */
    int insn_size;       /* ...which the core then steps over */
    int nr_imm;          /* s390x: `svc N`, N != 0, names the syscall */
    int default_signal;
    int intr_signal[64]; /* CPU exception number -> signal (0: the default) */
    Entry *table;        /* MAX_NR entries */
    PyObject *dispatch;  /* fallback: dispatch(nr, [args]) -> int */
    PyObject *proc;
    PyObject *suspend_type, *errno_type; /* engine.core.Suspend, kernel.errors.Errno */
    int errno_out[GUEST_ERRNO_MAX];      /* host errno -> guest errno */
    /* outcomes for the run loop */
    PyObject *parked, *error;
    int pending_signal;
    /* guest memory */
    Vma *vmas;
    Py_ssize_t nvmas;
    int fault_valid, fault_mapped, fault_access;
    uint64_t fault_addr;
    uint64_t fills, fills_since_flush, tlb_estimate, flushes;
    int restored_reg;        /* arm: CPSR, whose IT bits a fill must put back (see below) */
    uint64_t restored_mask;  /* 0: nothing to put back on this arch */
    /* preemption */
    volatile int stop_flag;
    int hooked;
} Core;

/* ---- memory -------------------------------------------------------------------------------- */
static inline Vma *find_vma(Core *c, uint64_t addr)
{
    Py_ssize_t lo = 0, hi = c->nvmas;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (c->vmas[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nvmas && c->vmas[lo].start <= addr)
        return &c->vmas[lo];
    return NULL;
}

/* Unicorn 2.1.4 restores the CPU state of the accessing instruction before every fill, also
 * one that succeeds. On arm that leaves the Thumb IT state of an instruction in the middle of
 * a block in the CPU, and once the IT block has ended inside that block, the next block is
 * decoded as if it were still in it (conditions applied to the wrong instructions: Debian's
 * python3 and lua5.4 crashed). While a block runs that state is zero (QEMU clears it at a
 * block's start and stores it only at its end or before an exception), so after a data fill
 * that succeeds it is put back to zero. Not after a fetch: that fill comes between blocks,
 * where the state is the next block's own. */
static void undo_restored_state(Core *c, uc_engine *uc)
{
    uint64_t v = 0;
    void *p = &v;
    int reg = c->restored_reg;
    uc_reg_read_batch_p(uc, &reg, &p, 1);
    if (v & c->restored_mask) {
        v &= ~c->restored_mask;
        uc_reg_write_p(uc, reg, &v);
    }
}

static bool on_tlb_fill(uc_engine *uc, uint64_t vaddr, int access, uc_tlb_entry *e, void *ud)
{
    Core *c = (Core *)ud;
    c->fills++;
    /* A run of misses four times the TLB's size: flush it (UC_CTL_TLB_FLUSH), which is when
     * QEMU's softmmu doubles a TLB that was more than 70% used. Measured against waiting for
     * 16x and 64x: the same start-up, and xz -6 2.5 s against 3.1 s. */
    if (++c->fills_since_flush >= 4 * c->tlb_estimate) {
        c->fills_since_flush = 0;
        if (c->tlb_estimate < (1u << TLB_MAX_BITS)) {
            c->tlb_estimate *= 2;
            c->flushes++;
            uc_ctl_p(uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0));
        }
    }
    Vma *v = find_vma(c, vaddr);
    int need = access == UC_MEM_WRITE ? PROT_W : access == UC_MEM_FETCH ? PROT_X : PROT_R;
    if (v != NULL && (v->prot & need)) {
        e->paddr = vaddr & ~(uint64_t)0xFFF;
        e->perms = v->prot;
        if (c->restored_mask && access != UC_MEM_FETCH)
            undo_restored_state(c, uc);
        return true;
    }
    c->fault_valid = 1;
    c->fault_addr = vaddr;
    c->fault_access = access;
    c->fault_mapped = v != NULL;
    return false;
}

/* The host address of guest [addr, addr+n) if all of it allows `need` (one backing), for
 * the calls served in C; NULL otherwise (the Python path then decides, EFAULT included). */
static void *host_range(Core *c, uint64_t addr, uint64_t n, int need)
{
    Vma *v = find_vma(c, addr);
    if (v == NULL || !(v->prot & need) || (need & PROT_W && v->prot & PROT_X))
        return NULL;
    uint64_t end = addr + n;
    if (end < addr)
        return NULL;
    while (end > v->end) { /* spans mappings: each must allow it, on the same backing */
        Vma *w = v + 1;
        if (w >= c->vmas + c->nvmas || w->start != v->end || !(w->prot & need) ||
            w->delta != v->delta || (need & PROT_W && w->prot & PROT_X))
            return NULL;
        v = w;
    }
    return (void *)(uintptr_t)(addr + (uint64_t)find_vma(c, addr)->delta);
}

/* ---- syscalls -------------------------------------------------------------------------- */
/* The current Python exception, normalized, with its traceback (Python 3.11's API). */
static PyObject *fetch_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

static void stop_with(Core *c, PyObject **slot)
{
    /* the current Python exception goes to `slot` (parked or error) */
    PyObject *exc = fetch_exception();
    if (*slot == NULL)
        *slot = exc;
    else
        Py_XDECREF(exc);
    uc_emu_stop_p(c->uc);
}

static int64_t guest_errno(Core *c, long e)
{
    if (e <= 0 || e >= GUEST_ERRNO_MAX)
        return e > 0 ? e : 5; /* EIO */
    return c->errno_out[e];
}

/* The errno a handler's exception stands for (0: not an errno, a bug or a Park). */
static long errno_of_current(Core *c)
{
    PyObject *exc = PyErr_Occurred();
    if (exc == NULL)
        return 0;
    if (PyErr_ExceptionMatches(c->errno_type) || PyErr_ExceptionMatches(PyExc_OSError)) {
        PyObject *value = fetch_exception();
        long e = 0;
        PyObject *attr = value != NULL ? PyObject_GetAttrString(value, "errno") : NULL;
        if (attr != NULL && PyLong_Check(attr))
            e = PyLong_AsLong(attr);
        Py_XDECREF(attr);
        PyErr_Clear();
        Py_XDECREF(value);
        return e > 0 ? e : 5; /* EIO */
    }
    if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        return 22; /* EINVAL: Python's own argument checks */
    }
    return 0;
}

static inline uint64_t convert(int kind, uint64_t v, int wordbits, bool *badfd)
{
    switch (kind) {
    case CONV_S32:
        return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    case CONV_FD:
        v &= 0xFFFFFFFFu;
        if (v & 0x80000000u)
            *badfd = true;
        return v;
    case CONV_U32:
        return v & 0xFFFFFFFFu;
    case CONV_SWORD:
        if (wordbits == 32)
            return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
        return v;
    default:
        return v;
    }
}

static inline bool is_signed_kind(int kind) { return kind == CONV_S32 || kind == CONV_SWORD; }

static void write_result(Core *c, int64_t r)
{
    if (c->err_reg >= 0) {
        uint64_t failed = (r < 0 && r >= -c->max_errno) ? 1 : 0;
        uc_reg_write_p(c->uc, c->err_reg, &failed);
        if (failed)
            r = -r;
    }
    uint64_t v = (uint64_t)r & c->mask;
    uc_reg_write_p(c->uc, c->ret_reg, &v);
}

/* Serve a call in C; false if the Python path must take it after all. */
/* A guest fd that names a host file whose reads and writes cannot block and have no peer:
 * a regular file, /dev/null or /dev/zero (-1: anything else, or a negative fd). */
static int plain_fd(uint64_t raw, bool regular_only)
{
    if (raw & 0x80000000u)
        return -1;
    int fd = (int)(uint32_t)raw;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if (S_ISREG(st.st_mode))
        return fd;
    if (!regular_only && S_ISCHR(st.st_mode) &&
        (st.st_rdev == makedev(1u, 3u) || st.st_rdev == makedev(1u, 5u)))
        return fd;
    return -1;
}

/* Serve a call in C; false if the Python path must take it after all (it then decides
 * everything, EFAULT and EINVAL included). Arguments are the raw registers. */
static bool fast_call(Core *c, int kind, uint64_t *a, int64_t *out)
{
    long r;
    switch (kind) {
    case FAST_GETPID: r = syscall(SYS_getpid); break;
    case FAST_GETPPID: r = syscall(SYS_getppid); break;
    case FAST_GETUID: r = syscall(SYS_getuid); break;
    case FAST_GETEUID: r = syscall(SYS_geteuid); break;
    case FAST_GETGID: r = syscall(SYS_getgid); break;
    case FAST_GETEGID: r = syscall(SYS_getegid); break;
    case FAST_READ:
    case FAST_WRITE:
    case FAST_PREAD:
    case FAST_PWRITE: {
        bool positioned = kind == FAST_PREAD || kind == FAST_PWRITE;
        int fd = plain_fd(a[0], positioned);
        uint64_t n = a[2];
        if (fd < 0 || n == 0 || n > 0x7FFFF000)
            return false;
        if (positioned && (c->wordbits != 64 || (int64_t)a[3] < 0))
            return false;
        bool into_guest = kind == FAST_READ || kind == FAST_PREAD;
        void *p = host_range(c, a[1], n, into_guest ? PROT_W : PROT_R);
        if (p == NULL)
            return false;
        switch (kind) {
        case FAST_READ: r = read(fd, p, n); break;
        case FAST_WRITE: r = write(fd, p, n); break;
        case FAST_PREAD: r = pread(fd, p, n, (off_t)a[3]); break;
        default: r = pwrite(fd, p, n, (off_t)a[3]); break;
        }
        break;
    }
    case FAST_LSEEK: { /* 64-bit ABIs: the offset is one register */
        if (c->wordbits != 64 || a[0] & 0x80000000u || (uint32_t)a[2] > 4)
            return false;
        r = (long)lseek((int)(uint32_t)a[0], (off_t)a[1], (int)(uint32_t)a[2]);
        break;
    }
    case FAST_CLOCK_GETTIME64: { /* a timespec of two 64-bit words, little-endian */
        int32_t clk = (int32_t)(uint32_t)a[0];
        if (!(clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_RAW ||
              clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE ||
              clk == CLOCK_BOOTTIME))
            return false;
        int64_t *p = host_range(c, a[1], 16, PROT_W);
        if (p == NULL)
            return false;
        struct timespec ts;
        r = clock_gettime(clk, &ts);
        if (r == 0) {
            int64_t words[2] = {(int64_t)ts.tv_sec, (int64_t)ts.tv_nsec};
            memcpy(p, words, sizeof words);
        }
        break;
    }
    case FAST_GETRANDOM: { /* never waits: a pool not ready yet is the Python path's */
        uint32_t flags = (uint32_t)a[2];
        uint64_t n = a[1];
        if (flags & ~7u || n == 0 || n > (1u << 20))
            return false;
        void *p = host_range(c, a[0], n, PROT_W);
        if (p == NULL)
            return false;
        r = (long)getrandom(p, n, flags | GRND_NONBLOCK);
        if (r < 0 && errno == EAGAIN && !(flags & GRND_NONBLOCK))
            return false;
        break;
    }
    default:
        return false;
    }
    *out = r < 0 ? -guest_errno(c, errno) : r;
    return true;
}

static bool is_epoll(int fd)
{
    char path[32], target[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return false;
    target[n] = 0;
    return strcmp(target, "anon_inode:[eventpoll]") == 0;
}

/* The errno for an EFAULT raised by a call on guest fd `raw` (see FD_CHECK_*). */
static long fd_fault(int check, uint64_t raw)
{
    int fd = (int)(uint32_t)raw;
    int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    bool reads = check == FD_CHECK_READ || check == FD_CHECK_PREAD;
    bool writes = check == FD_CHECK_WRITE || check == FD_CHECK_PWRITE;
    if (fl < 0 || ((reads || writes) && fl & O_PATH))
        return EBADF;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return EBADF;
    if (check == FD_CHECK_SOCKET && !S_ISSOCK(st.st_mode))
        return ENOTSOCK;
    int mode = fl & O_ACCMODE;
    if ((reads && mode == O_WRONLY) || (writes && mode == O_RDONLY))
        return EBADF;
    if ((check == FD_CHECK_PREAD || check == FD_CHECK_PWRITE) &&
        (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return ESPIPE;
    if (reads && S_ISDIR(st.st_mode))
        return EISDIR;
    if ((reads || writes) && is_epoll(fd))
        return EINVAL; /* no read or write at all */
    return EFAULT;
}

static void on_syscall(Core *c)
{
    uint64_t vals[1 + MAX_ARGS] = {0}; /* 32-bit registers fill only the low half */
    void *ptrs[1 + MAX_ARGS];
    for (int i = 0; i < c->nregs; i++)
        ptrs[i] = &vals[i];
    uc_reg_read_batch_p(c->uc, c->regs, ptrs, c->nregs);
    if (c->pc_reg >= 0) { /* past the instruction, as every other arch's hook finds PC */
        uint64_t pc = 0;
        uc_reg_read_p(c->uc, c->pc_reg, &pc);
        uint64_t next = pc + (uint64_t)c->insn_size;
        uc_reg_write_p(c->uc, c->pc_reg, &next);
        uint8_t imm = 0;
        if (c->nr_imm && uc_mem_read_p(c->uc, pc + 1, &imm, 1) == 0 && imm)
            vals[0] = imm;
    }
    uint64_t nr = vals[0] & c->mask;
    uint64_t *a = vals + 1;
    Entry *e = nr < MAX_NR ? &c->table[nr] : NULL;
    int64_t r;
    if (e != NULL && e->fast != FAST_NONE && fast_call(c, e->fast, a, &r)) {
        write_result(c, r);
        return;
    }
    PyEval_RestoreThread(c->ts);
    PyObject *res;
    if (e != NULL && e->fn != NULL) {
        PyObject *args[1 + MAX_ARGS];
        bool badfd = false;
        int n = e->nargs;
        args[0] = c->proc;
        int made = 0;
        for (int i = 0; i < n; i++) {
            uint64_t v = convert(e->conv[i], a[i], c->wordbits, &badfd);
            args[1 + i] = is_signed_kind(e->conv[i]) ? PyLong_FromLongLong((int64_t)v)
                                                      : PyLong_FromUnsignedLongLong(v);
            if (args[1 + i] == NULL)
                break;
            made++;
        }
        if (made < n) {
            res = NULL;
        } else if (badfd) { /* a negative fd: Linux says EBADF */
            res = PyLong_FromLong(-(long)guest_errno(c, 9));
        } else {
            res = PyObject_Vectorcall(e->fn, args, 1 + n, NULL);
            if (res == NULL) {
                long err = errno_of_current(c);
                if (err == EFAULT && e->fd_check != FD_CHECK_NONE)
                    err = fd_fault(e->fd_check, a[0]);
                if (err)
                    res = PyLong_FromLongLong(-guest_errno(c, err));
            }
        }
        for (int i = 0; i < made; i++)
            Py_DECREF(args[1 + i]);
    } else {
        PyObject *list = PyList_New(c->nregs - 1);
        if (list == NULL) {
            res = NULL;
        } else {
            for (int i = 0; i < c->nregs - 1; i++)
                PyList_SET_ITEM(list, i, PyLong_FromUnsignedLongLong(a[i]));
            PyObject *nrobj = PyLong_FromUnsignedLongLong(vals[0]);
            PyObject *argv[2] = {nrobj, list};
            res = PyObject_Vectorcall(c->dispatch, argv, 2, NULL);
            Py_DECREF(nrobj);
            Py_DECREF(list);
        }
    }
    if (res == NULL) {
        if (PyErr_ExceptionMatches(c->suspend_type))
            stop_with(c, &c->parked);
        else
            stop_with(c, &c->error);
    } else if (!PyLong_CheckExact(res) && !PyBool_Check(res)) {
        PyErr_Format(PyExc_TypeError, "syscall %llu returned %R, not an int",
                     (unsigned long long)vals[0], res);
        Py_DECREF(res);
        stop_with(c, &c->error);
    } else {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(res, &overflow);
        if (overflow)
            v = (long long)PyLong_AsUnsignedLongLongMask(res);
        Py_DECREF(res);
        write_result(c, v);
    }
    c->ts = PyEval_SaveThread();
}

static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
    Core *c = (Core *)ud;
    if (intno == c->sys_intno) {
        on_syscall(c);
        return;
    }
    int sig = intno < 64 ? c->intr_signal[intno] : 0;
    c->pending_signal = sig ? sig : c->default_signal;
    uc_emu_stop_p(uc);
}

static void on_insn_syscall(uc_engine *uc, void *ud) { on_syscall((Core *)ud); }

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    Core *c = (Core *)ud;
    if (c->stop_flag) {
        c->stop_flag = 0;
        uc_emu_stop_p(uc);
    }
}

/* ---- the Core type -------------------------------------------------------------------- */
static int Core_init(Core *c, PyObject *args, PyObject *kw)
{
    unsigned long long handle;
    if (!PyArg_ParseTuple(args, "K", &handle))
        return -1;
    if (uc_emu_start_p == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind() the unicorn library first");
        return -1;
    }
    c->uc = (uc_engine *)(uintptr_t)handle;
    c->pc_reg = -1;
    c->table = PyMem_Calloc(MAX_NR, sizeof(Entry));
    if (c->table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->err_reg = -1;
    c->max_errno = 4095;
    c->mask = ~0ull;
    c->wordbits = 64;
    c->tlb_estimate = 256;
    c->pending_signal = 0;
    for (int i = 0; i < GUEST_ERRNO_MAX; i++)
        c->errno_out[i] = i;
    return 0;
}

static void clear_table(Core *c)
{
    if (c->table == NULL)
        return;
    for (int i = 0; i < MAX_NR; i++) {
        Py_CLEAR(c->table[i].fn);
        c->table[i].fast = FAST_NONE;
    }
}

static void Core_dealloc(Core *c)
{
    clear_table(c);
    PyMem_Free(c->table);
    PyMem_Free(c->vmas);
    Py_CLEAR(c->dispatch);
    Py_CLEAR(c->proc);
    Py_CLEAR(c->suspend_type);
    Py_CLEAR(c->errno_type);
    Py_CLEAR(c->parked);
    Py_CLEAR(c->error);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

/* configure(regs, ret_reg, err_reg, max_errno, wordbits, dispatch, proc, suspend_type,
 *           errno_type, errno_out) */
/* syscall_at_insn(pc_reg, insn_size, nr_imm): the hook sees PC on the syscall instruction */
static PyObject *Core_syscall_at_insn(Core *c, PyObject *args)
{
    if (!PyArg_ParseTuple(args, "iip", &c->pc_reg, &c->insn_size, &c->nr_imm))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Core_configure(Core *c, PyObject *args)
{
    PyObject *regs, *dispatch, *proc, *susp, *errt, *errnos;
    int ret_reg, err_reg, wordbits;
    long long max_errno;
    if (!PyArg_ParseTuple(args, "OiiLiOOOOO", &regs, &ret_reg, &err_reg, &max_errno, &wordbits,
                          &dispatch, &proc, &susp, &errt, &errnos))
        return NULL;
    Py_ssize_t n = PySequence_Size(regs);
    if (n < 1 || n > 1 + MAX_ARGS) {
        PyErr_SetString(PyExc_ValueError, "regs: the number register and up to 7 arguments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_GetItem(regs, i);
        c->regs[i] = (int)PyLong_AsLong(o);
        Py_XDECREF(o);
    }
    c->nregs = (int)n;
    c->ret_reg = ret_reg;
    c->err_reg = err_reg;
    c->max_errno = max_errno;
    c->wordbits = wordbits;
    c->mask = wordbits == 64 ? ~0ull : ((1ull << wordbits) - 1);
    Py_XSETREF(c->dispatch, Py_NewRef(dispatch));
    Py_XSETREF(c->proc, Py_NewRef(proc));
    Py_XSETREF(c->suspend_type, Py_NewRef(susp));
    Py_XSETREF(c->errno_type, Py_NewRef(errt));
    Py_ssize_t ne = PySequence_Size(errnos);
    for (Py_ssize_t i = 0; i < ne && i < GUEST_ERRNO_MAX; i++) {
        PyObject *o = PySequence_GetItem(errnos, i);
        c->errno_out[i] = (int)PyLong_AsLong(o);
        Py_XDECREF(o);
    }
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* set_table([(nr, fn or None, nargs, conv bytes, fast), ...]): replaces the whole table */
static PyObject *Core_set_table(Core *c, PyObject *rows)
{
    PyObject *it = PyObject_GetIter(rows);
    if (it == NULL)
        return NULL;
    clear_table(c);
    PyObject *row;
    while ((row = PyIter_Next(it)) != NULL) {
        unsigned long long nr;
        PyObject *fn;
        int nargs, fast, fd_check;
        const char *conv;
        Py_ssize_t nconv;
        if (!PyArg_ParseTuple(row, "KOiy#ii", &nr, &fn, &nargs, &conv, &nconv, &fast,
                              &fd_check)) {
            Py_DECREF(row);
            Py_DECREF(it);
            return NULL;
        }
        if (nr < MAX_NR && nargs <= MAX_ARGS && nconv <= MAX_ARGS && nargs <= c->nregs - 1) {
            Entry *e = &c->table[nr];
            Py_XSETREF(e->fn, fn == Py_None ? NULL : Py_NewRef(fn));
            e->nargs = nargs;
            memset(e->conv, 0, sizeof e->conv);
            memcpy(e->conv, conv, (size_t)nconv);
            e->fast = (unsigned char)fast;
            e->fd_check = (unsigned char)fd_check;
        }
        Py_DECREF(row);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* set_map(bytes of (start, end, delta, prot) as <QQqQ records, sorted by start) */
static PyObject *Core_set_map(Core *c, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_ssize_t n = b.len / 32;
    Vma *v = n ? PyMem_Malloc((size_t)n * sizeof(Vma)) : NULL;
    if (n && v == NULL) {
        PyBuffer_Release(&b);
        return PyErr_NoMemory();
    }
    const unsigned char *p = b.buf;
    for (Py_ssize_t i = 0; i < n; i++, p += 32) {
        uint64_t f[4];
        memcpy(f, p, 32);
        v[i].start = f[0];
        v[i].end = f[1];
        v[i].delta = (int64_t)f[2];
        v[i].prot = (int)f[3];
    }
    PyBuffer_Release(&b);
    PyMem_Free(c->vmas);
    c->vmas = v;
    c->nvmas = n;
    Py_RETURN_NONE;
}

static PyObject *Core_install(Core *c, PyObject *args)
{
    const char *kind;
    unsigned int sys_intno;
    int default_signal, tlb, restored_reg;
    unsigned long long restored_mask;
    PyObject *sigmap;
    if (!PyArg_ParseTuple(args, "sIiOpiK", &kind, &sys_intno, &default_signal, &sigmap, &tlb,
                          &restored_reg, &restored_mask))
        return NULL;
    c->restored_reg = restored_reg;
    c->restored_mask = restored_mask;
    c->sys_intno = sys_intno;
    c->default_signal = default_signal;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(sigmap, &pos, &k, &v)) {
        long i = PyLong_AsLong(k);
        if (i >= 0 && i < 64)
            c->intr_signal[i] = (int)PyLong_AsLong(v);
    }
    uc_hook hh;
    int err;
    if (strcmp(kind, "insn") == 0) {
        err = uc_hook_add_p(c->uc, &hh, UC_HOOK_INSN, (void *)on_insn_syscall, c, (uint64_t)1,
                            (uint64_t)0, (int)UC_X86_INS_SYSCALL);
        if (!err)
            err = uc_hook_add_p(c->uc, &hh, UC_HOOK_INTR, (void *)on_intr, c, (uint64_t)1,
                                (uint64_t)0);
        c->sys_intno = 0xFFFFFFFFu; /* int 0x80 is not the syscall on x86_64 */
    } else {
        err = uc_hook_add_p(c->uc, &hh, UC_HOOK_INTR, (void *)on_intr, c, (uint64_t)1,
                            (uint64_t)0);
    }
    if (!err && tlb)
        err = uc_hook_add_p(c->uc, &hh, UC_HOOK_TLB_FILL, (void *)on_tlb_fill, c, (uint64_t)1,
                            (uint64_t)0);
    if (err)
        return PyErr_Format(PyExc_OSError, "uc_hook_add failed: %d", err);
    Py_INCREF(c); /* Unicorn holds the pointer: the core lives as long as the engine */
    Py_RETURN_NONE;
}

static PyObject *Core_install_preempt(Core *c, PyObject *noargs)
{
    if (!c->hooked) {
        uc_hook hh;
        int err = uc_hook_add_p(c->uc, &hh, UC_HOOK_BLOCK, (void *)on_block, c, (uint64_t)1,
                                (uint64_t)0);
        if (err)
            return PyErr_Format(PyExc_OSError, "uc_hook_add(block) failed: %d", err);
        c->hooked = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *Core_request_stop(Core *c, PyObject *noargs)
{
    c->stop_flag = 1;
    Py_RETURN_NONE;
}

static PyObject *Core_clear_stop(Core *c, PyObject *noargs)
{
    c->stop_flag = 0;
    Py_RETURN_NONE;
}

static PyObject *Core_emu_start(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "emu_start(pc[, count])");
        return NULL;
    }
    unsigned long long begin = PyLong_AsUnsignedLongLongMask(args[0]);
    /* count: run at most this many instructions (a debugger's single step); 0: no limit */
    Py_ssize_t count = nargs > 1 ? PyLong_AsSsize_t(args[1]) : 0;
    if (PyErr_Occurred())
        return NULL;
    c->pending_signal = 0;
    c->ts = PyEval_SaveThread();
    int err = uc_emu_start_p(c->uc, begin, ~0ull, 0, (size_t)count);
    PyEval_RestoreThread(c->ts);
    c->ts = NULL;
    return PyLong_FromLong(err);
}

static PyObject *Core_take(Core *c, PyObject **slot)
{
    PyObject *o = *slot;
    *slot = NULL;
    if (o == NULL)
        Py_RETURN_NONE;
    return o;
}

static PyObject *Core_take_parked(Core *c, PyObject *noargs) { return Core_take(c, &c->parked); }
static PyObject *Core_take_error(Core *c, PyObject *noargs) { return Core_take(c, &c->error); }

static PyObject *Core_take_fault(Core *c, PyObject *noargs)
{
    if (!c->fault_valid)
        Py_RETURN_NONE;
    c->fault_valid = 0;
    return Py_BuildValue("KiO", (unsigned long long)c->fault_addr, c->fault_access,
                         c->fault_mapped ? Py_True : Py_False);
}

static PyObject *Core_stats(Core *c, PyObject *noargs)
{
    return Py_BuildValue("{sKsKsK}", "fills", (unsigned long long)c->fills, "tlb_flushes",
                         (unsigned long long)c->flushes, "tlb_estimate",
                         (unsigned long long)c->tlb_estimate);
}

static PyObject *Core_get_pending_signal(Core *c, void *closure)
{
    return PyLong_FromLong(c->pending_signal);
}

static int Core_set_pending_signal(Core *c, PyObject *v, void *closure)
{
    long s = v == NULL || v == Py_None ? 0 : PyLong_AsLong(v);
    if (s == -1 && PyErr_Occurred())
        return -1;
    c->pending_signal = (int)s;
    return 0;
}

static PyMethodDef Core_methods[] = {
    {"configure", (PyCFunction)Core_configure, METH_VARARGS, "syscall registers and callbacks"},
    {"syscall_at_insn", (PyCFunction)Core_syscall_at_insn, METH_VARARGS,
     "PC register, instruction size, immediate numbers: PC is on the syscall (s390x)"},
    {"set_table", (PyCFunction)Core_set_table, METH_O, "the handler table"},
    {"set_map", (PyCFunction)Core_set_map, METH_O, "the guest mappings"},
    {"install", (PyCFunction)Core_install, METH_VARARGS, "the syscall, exception, TLB hooks"},
    {"install_preempt", (PyCFunction)Core_install_preempt, METH_NOARGS, "the stop hook"},
    {"request_stop", (PyCFunction)Core_request_stop, METH_NOARGS, "stop at the next block"},
    {"clear_stop", (PyCFunction)Core_clear_stop, METH_NOARGS, "forget a stop request"},
    {"emu_start", (PyCFunction)(void (*)(void))Core_emu_start, METH_FASTCALL,
     "run from a PC (at most count instructions if given); the uc_err"},
    {"take_parked", (PyCFunction)Core_take_parked, METH_NOARGS, "the Park a syscall raised"},
    {"take_error", (PyCFunction)Core_take_error, METH_NOARGS, "the exception that stopped it"},
    {"take_fault", (PyCFunction)Core_take_fault, METH_NOARGS, "(addr, access, mapped) or None"},
    {"stats", (PyCFunction)Core_stats, METH_NOARGS, "counters"},
    {NULL}};

static PyGetSetDef Core_getset[] = {
    {"pending_signal", (getter)Core_get_pending_signal, (setter)Core_set_pending_signal,
     "the signal a CPU exception raised (0: none)", NULL},
    {NULL}};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "usermode.engine._native.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
    .tp_doc = "The compiled hooks of one Unicorn engine.",
};

/* ---- mips: long branch-free stretches (engine/tbsplit.py says why) ------------------------ */
static int mips_ends_block(uint32_t w)
{
    uint32_t op = w >> 26;
    if (op == 0) {
        uint32_t f = w & 0x3F;
        return f == 0x08 || f == 0x09 || f == 0x0C || f == 0x0D; /* jr jalr syscall break */
    }
    if ((op >= 1 && op <= 7) || (op >= 0x14 && op <= 0x17))
        return 1;
    return op == 0x11 && ((w >> 21) & 0x1F) == 8; /* bc1* */
}

/* split_points(code, base, split, long): tbsplit.split_points, for a start-up without a
 * Python loop over every instruction of the program (48 ms for a static mipsel hello) */
static PyObject *split_points(PyObject *mod, PyObject *args)
{
    Py_buffer buf;
    unsigned long long base;
    long split, lng;
    if (!PyArg_ParseTuple(args, "y*Kll", &buf, &base, &split, &lng))
        return NULL;
    PyObject *out = PyList_New(0);
    const unsigned char *p = buf.buf;
    long n = (long)(buf.len / 4), run_start = 0, nonzero = 0, i = 0;
    while (out != NULL && i <= n) {
        uint32_t w = 0;
        if (i < n)
            memcpy(&w, p + 4 * i, 4);
        if (i == n || mips_ends_block(w)) {
            if (i - run_start > lng && nonzero > lng / 2) {
                for (long k = run_start + split; k < i - 8; k += split) {
                    PyObject *a = PyLong_FromUnsignedLongLong(base + 4 * (unsigned long long)k);
                    if (a == NULL || PyList_Append(out, a) < 0) {
                        Py_XDECREF(a);
                        Py_CLEAR(out);
                        break;
                    }
                    Py_DECREF(a);
                }
            }
            run_start = i + 2; /* past the delay slot */
            nonzero = 0;
            i += 2;
            continue;
        }
        nonzero += w != 0;
        i++;
    }
    PyBuffer_Release(&buf);
    return out;
}

/* bind(handle): look the uc_* functions up in the libunicorn that capi.py loaded */
static PyObject *bind(PyObject *mod, PyObject *arg)
{
    void *h = PyLong_AsVoidPtr(arg);
    if (PyErr_Occurred())
        return NULL;
#define LOOKUP(var, name)                                                                      \
    do {                                                                                       \
        var = dlsym(h, name);                                                                  \
        if (var == NULL)                                                                       \
            return PyErr_Format(PyExc_OSError, "libunicorn has no %s", name);                  \
    } while (0)
    LOOKUP(uc_reg_read_batch_p, "uc_reg_read_batch");
    LOOKUP(uc_reg_write_p, "uc_reg_write");
    LOOKUP(uc_reg_read_p, "uc_reg_read");
    LOOKUP(uc_mem_read_p, "uc_mem_read");
    LOOKUP(uc_emu_start_p, "uc_emu_start");
    LOOKUP(uc_emu_stop_p, "uc_emu_stop");
    LOOKUP(uc_hook_add_p, "uc_hook_add");
    LOOKUP(uc_hook_del_p, "uc_hook_del");
    LOOKUP(uc_ctl_p, "uc_ctl");
#undef LOOKUP
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", bind, METH_O, "bind to the loaded libunicorn (its dlopen handle)"},
    {"split_points", split_points, METH_VARARGS, "mips exit addresses (engine/tbsplit.py)"},
    {NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_native", .m_doc = "usermode's compiled core.",
    .m_size = -1, .m_methods = module_methods};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "CONV_RAW", CONV_RAW);
    PyModule_AddIntConstant(m, "CONV_S32", CONV_S32);
    PyModule_AddIntConstant(m, "CONV_FD", CONV_FD);
    PyModule_AddIntConstant(m, "CONV_U32", CONV_U32);
    PyModule_AddIntConstant(m, "CONV_SWORD", CONV_SWORD);
    PyModule_AddIntConstant(m, "FAST_GETPID", FAST_GETPID);
    PyModule_AddIntConstant(m, "FAST_GETPPID", FAST_GETPPID);
    PyModule_AddIntConstant(m, "FAST_GETUID", FAST_GETUID);
    PyModule_AddIntConstant(m, "FAST_GETEUID", FAST_GETEUID);
    PyModule_AddIntConstant(m, "FAST_GETGID", FAST_GETGID);
    PyModule_AddIntConstant(m, "FAST_GETEGID", FAST_GETEGID);
    PyModule_AddIntConstant(m, "FAST_READ", FAST_READ);
    PyModule_AddIntConstant(m, "FAST_WRITE", FAST_WRITE);
    PyModule_AddIntConstant(m, "FD_CHECK_OPEN", FD_CHECK_OPEN);
    PyModule_AddIntConstant(m, "FD_CHECK_READ", FD_CHECK_READ);
    PyModule_AddIntConstant(m, "FD_CHECK_WRITE", FD_CHECK_WRITE);
    PyModule_AddIntConstant(m, "FD_CHECK_SOCKET", FD_CHECK_SOCKET);
    PyModule_AddIntConstant(m, "FD_CHECK_PREAD", FD_CHECK_PREAD);
    PyModule_AddIntConstant(m, "FD_CHECK_PWRITE", FD_CHECK_PWRITE);
    PyModule_AddIntConstant(m, "FAST_PREAD", FAST_PREAD);
    PyModule_AddIntConstant(m, "FAST_PWRITE", FAST_PWRITE);
    PyModule_AddIntConstant(m, "FAST_LSEEK", FAST_LSEEK);
    PyModule_AddIntConstant(m, "FAST_CLOCK_GETTIME64", FAST_CLOCK_GETTIME64);
    PyModule_AddIntConstant(m, "FAST_GETRANDOM", FAST_GETRANDOM);
    return m;
}
