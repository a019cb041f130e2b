// SPDX-License-Identifier: GPL-2.0
/*
 * kport_user.c - userspace implementations of kport.h.
 *
 * The contracts are kport.h's; where libc cannot keep one the same way as
 * the kernel, the difference is said at the function.  In short: memory
 * is malloc's, a lock wait is never interrupted, a "fatal signal" is the
 * kp_killed flag the host sets, and the log is stderr.
 */
#define _GNU_SOURCE
#include "kport.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>

/*
 * Blocks from kp_* not yet freed: the leak tests read it after
 * kvm_destroy().  Single-threaded hosts; an atomic keeps it honest when
 * they are not.
 */
static long live_allocs;

/* A zero size still gets a block, so that NULL only means failure. */
void *kp_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p)
		__atomic_add_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
	return p;
}

void *kp_zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p)
		__atomic_add_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
	return p;
}

/*
 * libc knows the old size, so old is unused.  The block count does not
 * change: the block moves, none is added.  On failure realloc() leaves p
 * allocated, as the contract wants.
 */
void *kp_realloc(void *p, size_t old, size_t n)
{
	void *q;

	(void)old;
	if (!p)
		return kp_malloc(n);
	q = realloc(p, n ? n : 1);
	return q;
}

void kp_free(void *p)
{
	if (!p)
		return;
	__atomic_sub_fetch(&live_allocs, 1, __ATOMIC_RELAXED);
	free(p);
}

long kp_live_allocs(void)
{
	return __atomic_load_n(&live_allocs, __ATOMIC_RELAXED);
}

/* Monotonic; the + 1 keeps it positive, as the contract says. */
int64_t kp_nanotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 1;
}

uint64_t kp_random_u64(void)
{
	static uint64_t fallback = 0x9E3779B97F4A7C15ull;
	uint64_t v;

	/* fails in old kernels and in sandboxes that filter the call */
	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v))
		return v;
	/* splitmix64 over the clock when getrandom is unavailable */
	fallback += 0x9E3779B97F4A7C15ull + (uint64_t)kp_nanotime();
	v = fallback;
	v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
	v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
	return v ^ (v >> 31);
}

static __thread int64_t thread_pid;

void kp_set_thread_pid(int64_t pid)
{
	thread_pid = pid;
}

int64_t kp_pid(void)
{
	return thread_pid ? thread_pid : (int64_t)getpid();
}

/* The calling thread's name, as TASK_COMM_LEN bytes are in the kernel. */
void kp_comm(char *buf)
{
	memset(buf, 0, KP_COMM_LEN);
	if (prctl(PR_GET_NAME, (unsigned long)buf, 0, 0, 0) != 0)
		strcpy(buf, "kvm");
	buf[KP_COMM_LEN - 1] = '\0';
}

/* A signal ends the sleep early and it is not resumed, as in the kernel. */
void kp_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	if (ms)
		nanosleep(&ts, NULL);
}

void kp_mutex_init(struct kp_mutex *m)
{
	pthread_mutex_init(&m->m, NULL);
}

void kp_mutex_destroy(struct kp_mutex *m)
{
	pthread_mutex_destroy(&m->m);
}

/*
 * A pthread wait cannot be interrupted; an error of pthread_mutex_lock
 * (none with the default mutex type) still takes the caller's -EINTR path
 * rather than going on without the lock.
 */
int kp_mutex_lock(struct kp_mutex *m)
{
	return pthread_mutex_lock(&m->m) ? -EINTR : 0;
}

void kp_mutex_lock_always(struct kp_mutex *m)
{
	pthread_mutex_lock(&m->m);
}

void kp_mutex_unlock(struct kp_mutex *m)
{
	pthread_mutex_unlock(&m->m);
}

/* Set from a signal handler (build/kvm: SIGTERM), read by kp_poll(). */
volatile int kp_killed;

/*
 * Returns cond, so that `if (KP_WARN_ON(x))` works as in the kernel;
 * unlike WARN_ON_ONCE it prints every time.
 */
bool kp_warn(bool cond, const char *expr, const char *file, int line)
{
	if (cond)
		fprintf(stderr, "kvm: warning: %s at %s:%d\n", expr, file,
			line);
	return cond;
}

/* One line of at most len bytes (a NUL ends it early), and a newline. */
void kp_log_line(const char *s, size_t len)
{
	fprintf(stderr, "%.*s\n", (int)len, s);
}
