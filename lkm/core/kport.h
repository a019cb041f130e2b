/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kport.h - the portability layer of the K VM.
 *
 * The only file with #ifdef __KERNEL__.  Everything the VM core needs
 * from its host (memory, the clock, randomness, the calling process,
 * sleeping, a mutex, warnings, printing to the host's log) is named here
 * with a kp_ prefix and mapped to the kernel's API or to libc.  The
 * userspace implementations live in lkm/user/kport_user.c; the kernel
 * ones are static inlines below.
 *
 * Contract of the allocation functions (both homes):
 *	kp_malloc(n)		n bytes or NULL; may sleep
 *	kp_zalloc(n)		the same, zeroed
 *	kp_realloc(p, old, n)	resize p (old bytes) to n; NULL on
 *				failure, p untouched; p may be NULL
 *	kp_free(p)		p may be NULL
 * Large blocks are fine (kvmalloc in the kernel).
 */
#ifndef KPORT_H
#define KPORT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/ktime.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/bug.h>
#include <linux/printk.h>
#include <linux/atomic.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>

/*
 * Blocks from kp_* not yet freed, for the whole module (the kernel glue
 * defines it and reports it, so tests can see every load and unload give
 * back what it took).
 */
extern atomic_long_t kp_live_blocks;

static inline void *kp_counted(void *p)
{
	if (p)
		atomic_long_inc(&kp_live_blocks);
	return p;
}

static inline void *kp_malloc(size_t n)
{
	return kp_counted(kvmalloc(n ? n : 1, GFP_KERNEL | __GFP_NOWARN));
}

static inline void *kp_zalloc(size_t n)
{
	return kp_counted(kvzalloc(n ? n : 1, GFP_KERNEL | __GFP_NOWARN));
}

static inline void kp_free(void *p)
{
	if (p)
		atomic_long_dec(&kp_live_blocks);
	kvfree(p);
}

static inline long kp_live_allocs(void)
{
	return atomic_long_read(&kp_live_blocks);
}

/* kvrealloc() changed its signature between 6.1 and 6.12: do it by hand. */
static inline void *kp_realloc(void *p, size_t old, size_t n)
{
	void *q = kp_malloc(n);

	if (!q)
		return NULL;
	if (p) {
		memcpy(q, p, old < n ? old : n);
		kp_free(p);
	}
	return q;
}

/* Monotonic nanoseconds since boot: positive. */
static inline int64_t kp_nanotime(void)
{
	return (int64_t)ktime_get_ns();
}

static inline uint64_t kp_random_u64(void)
{
	return get_random_u64();
}

static inline int64_t kp_pid(void)
{
	return (int64_t)current->pid;
}

#define KP_COMM_LEN TASK_COMM_LEN
/* buf must hold KP_COMM_LEN bytes; NUL-terminated on return. */
static inline void kp_comm(char *buf)
{
	char tmp[TASK_COMM_LEN];

	get_task_comm(tmp, current);
	memcpy(buf, tmp, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = '\0';
}

/* Sleeps up to ms milliseconds; a signal ends it early. */
static inline void kp_sleep_ms(unsigned int ms)
{
	if (ms)
		msleep_interruptible(ms);
}

struct kp_mutex {
	struct mutex m;
};

static inline void kp_mutex_init(struct kp_mutex *m)
{
	mutex_init(&m->m);
}

static inline void kp_mutex_destroy(struct kp_mutex *m)
{
	mutex_destroy(&m->m);
}

/*
 * A free lock is taken with one compare-and-exchange and no scheduling
 * point: mutex_lock's might_sleep() is a cond_resched() call on kernels
 * with voluntary preemption, twice in every open+close of a device.
 * Kernels that check for sleeping in atomic context or prove locking
 * keep the plain lock: lockdep learns no lock order from a trylock.
 */
static inline bool kp_mutex_lock_fast(struct kp_mutex *m)
{
	return !IS_ENABLED(CONFIG_DEBUG_ATOMIC_SLEEP) &&
	       !IS_ENABLED(CONFIG_LOCKDEP) && mutex_trylock(&m->m);
}

/* 0, or -EINTR when a signal interrupted the wait. */
static inline int kp_mutex_lock(struct kp_mutex *m)
{
	if (kp_mutex_lock_fast(m))
		return 0;
	return mutex_lock_interruptible(&m->m);
}

/* For paths that must not fail (release). */
static inline void kp_mutex_lock_always(struct kp_mutex *m)
{
	mutex_lock(&m->m);
}

/* 0, or -EINTR when the task was killed (SIGKILL) while it waited. */
static inline int kp_mutex_lock_killable(struct kp_mutex *m)
{
	if (kp_mutex_lock_fast(m))
		return 0;
	return mutex_lock_killable(&m->m);
}

/* true when the lock was free and is now held. */
static inline bool kp_mutex_trylock(struct kp_mutex *m)
{
	return mutex_trylock(&m->m);
}

static inline void kp_mutex_unlock(struct kp_mutex *m)
{
	mutex_unlock(&m->m);
}

/* Evaluates to cond; warns once per call site when it is true. */
#define KP_WARN_ON(cond) WARN_ON_ONCE(cond)

/*
 * Called every few thousand instructions of a running call and inside
 * long natives: gives the CPU away if the scheduler asks for it, and
 * says whether the calling task was killed (the call then aborts with
 * "killed").  Callbacks run in process context, where both are allowed.
 */
static inline bool kp_poll(void)
{
	cond_resched();
	return fatal_signal_pending(current);
}

/*
 * The lowest address of the running task's stack (THREAD_SIZE, 16 KiB
 * on x86-64), and the address of the caller's frame: their difference
 * is the stack left.  anchor is unused here (see the userspace twin).
 */
static inline uintptr_t kp_stack_base(uintptr_t anchor)
{
	(void)anchor;
	return (uintptr_t)task_stack_page(current);
}

#ifndef INT64_MAX
#define INT64_MAX	S64_MAX
#endif
#ifndef UINT64_MAX
#define UINT64_MAX	U64_MAX
#endif

/* The interpreter's computed-goto table, as the BPF interpreter does it. */
#define KP_JUMP_TABLE	__annotate_jump_table

/*
 * JIT stubs call each other on the kernel stack (16 KiB): frames from
 * this depth on run in the interpreter's own loop.
 */
#define KP_JIT_NEST_MAX	24
/* Symbols JIT stubs (a companion module) call in konoha.ko. */
#include <linux/export.h>
#define KP_EXPORT(sym)	EXPORT_SYMBOL_GPL(sym)

/* One line to the host's log (no trailing newline in s). */
static inline void kp_log_line(const char *s, size_t len)
{
	pr_info("konoha: %.*s\n", (int)len, s);
}

#else /* userspace */

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>

#define KP_JUMP_TABLE
/* Frames JIT stubs may run natively; deeper ones are interpreted. */
#define KP_JIT_NEST_MAX	256
#define KP_EXPORT(sym)

#ifndef fallthrough
#define fallthrough	__attribute__((__fallthrough__))
#endif

#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

void *kp_malloc(size_t n);
void *kp_zalloc(size_t n);
void *kp_realloc(void *p, size_t old, size_t n);
void kp_free(void *p);
/* Userspace only: blocks obtained from kp_* and not yet freed. */
long kp_live_allocs(void);

int64_t kp_nanotime(void);
uint64_t kp_random_u64(void);
int64_t kp_pid(void);
/*
 * Userspace only: the pid kp_pid() gives on the calling thread (0: the
 * process's own), so that a simulated process has one of its own.
 */
void kp_set_thread_pid(int64_t pid);
#define KP_COMM_LEN 16
void kp_comm(char *buf);
void kp_sleep_ms(unsigned int ms);

struct kp_mutex {
	pthread_mutex_t m;
};

void kp_mutex_init(struct kp_mutex *m);
void kp_mutex_destroy(struct kp_mutex *m);
int kp_mutex_lock(struct kp_mutex *m);
void kp_mutex_lock_always(struct kp_mutex *m);
void kp_mutex_unlock(struct kp_mutex *m);
/* A process is not killed while it waits here: the wait always ends held. */
static inline int kp_mutex_lock_killable(struct kp_mutex *m)
{
	kp_mutex_lock_always(m);
	return 0;
}

static inline bool kp_mutex_trylock(struct kp_mutex *m)
{
	return pthread_mutex_trylock(&m->m) == 0;
}

bool kp_warn(bool cond, const char *expr, const char *file, int line);
#define KP_WARN_ON(cond) kp_warn(!!(cond), #cond, __FILE__, __LINE__)

#ifndef __must_check
#define __must_check	__attribute__((__warn_unused_result__))
#endif

/*
 * Set by the host (build/kvm: SIGTERM) to end the running call with
 * "abort: killed", as a fatal signal does in the kernel.
 */
extern volatile int kp_killed;

static inline bool kp_poll(void)
{
	return kp_killed != 0;
}

/*
 * Userspace threads have megabytes of stack; the VM pretends to have
 * KP_USER_STACK bytes below the frame where the top-level call began
 * (anchor), so that the stack guard behaves as in the kernel.
 */
#define KP_USER_STACK	(1u << 20)
static inline uintptr_t kp_stack_base(uintptr_t anchor)
{
	return anchor - KP_USER_STACK;
}

void kp_log_line(const char *s, size_t len);

#endif /* __KERNEL__ */

#define KP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Keeps a helper's locals off a caller's frame (kernel stack budget). */
#define KP_NOINLINE __attribute__((__noinline__))
/*
 * Inlines a small helper of a device operation's path into each caller:
 * under software emulation every call's return is a lookup of where to
 * go on, costly after each context switch (bench/kprofile.py --host).
 */
#define KP_INLINE inline __attribute__((__always_inline__))
/*
 * The functions every read, write and wait of a CharDevice runs (the
 * glue's file operations, the callback's set-up, the natives of streams,
 * strings and wait queues), in one text section: a callback's code on a
 * few pages rather than a dozen, each page one refill less of the
 * emulator's TLB after a context switch.
 */
#define KP_PATH __attribute__((__section__(".text.kp_path")))

#endif /* KPORT_H */
