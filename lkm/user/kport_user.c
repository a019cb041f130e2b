// SPDX-License-Identifier: GPL-2.0
/*
 * kport_user.c - userspace implementations of kport.h.
 */
#define _GNU_SOURCE
#include "kport.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>

/* Single-threaded hosts; an atomic keeps it honest when they are not. */
static long live_allocs;

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

	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v))
		return v;
	/* splitmix64 over the clock when getrandom is unavailable */
	fallback += 0x9E3779B97F4A7C15ull + (uint64_t)kp_nanotime();
	v = fallback;
	v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
	v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
	return v ^ (v >> 31);
}

int64_t kp_pid(void)
{
	return (int64_t)getpid();
}

void kp_comm(char *buf)
{
	memset(buf, 0, KP_COMM_LEN);
	if (prctl(PR_GET_NAME, (unsigned long)buf, 0, 0, 0) != 0)
		strcpy(buf, "kvm");
	buf[KP_COMM_LEN - 1] = '\0';
}

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

volatile int kp_killed;

bool kp_warn(bool cond, const char *expr, const char *file, int line)
{
	if (cond)
		fprintf(stderr, "kvm: warning: %s at %s:%d\n", expr, file,
			line);
	return cond;
}

void kp_log_line(const char *s, size_t len)
{
	fprintf(stderr, "%.*s\n", (int)len, s);
}
