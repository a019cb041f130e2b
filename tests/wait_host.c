// SPDX-License-Identifier: GPL-2.0
/*
 * wait_host.c - a minimal host of the VM's wait and timer hooks, for
 * tests/test_wait_host.py: what build/kvm --serve cannot show.
 *
 *   wait_host IMAGE.kbc DEVICE CB_BUDGET[,HEAP] STEP...
 *
 * Runs the init under a host whose hooks record what the VM asks of
 * them, opens DEVICE (a CharDevice) and runs each STEP, printing one
 * line per step:
 *
 *   poll          kdev_poll; "poll MASK regs N": N poll_wait calls made
 *   ioctl CMD     kdev_ioctl(CMD, 0); "ioctl RESULT" or "ioctl err E"
 *   timers MS     virtual time moves MS ms on, then ONE kvm_run_timers()
 *                 (the kernel's work item runs once); "timers armed D"
 *                 with D the request it left, in ms (-1: none)
 *   stop          kvm_stop_timers (unloading); "stopped"
 *   reopen N      closes the file and opens DEVICE again, N times;
 *                 "reopened N"
 *   rw N          N times: write(2) of 8 bytes, then read(2) of 8 at
 *                 position 0; "rw N" (or "rw failed at K: E")
 *   heap          "heap used U kept K limit L": the bytes charged, the
 *                 swept objects kept for reuse (gc.c) and the quota
 *
 * Then releases the file and destroys the VM: "live N" for the VM's
 * blocks left (0 when nothing leaks).  Program output and log lines go
 * to stdout and stderr as they come.  No wait ever sleeps here (no
 * callback in these tests awaits): wq_wait answers a timeout.
 */
#include "kimage.h"
#include "kvm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t vnow;		/* virtual nanoseconds */
static int64_t armed = INT64_MAX;
static unsigned long poll_regs;

static void out(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	fwrite(buf, 1, len, stdout);
}

static void log_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	fprintf(stderr, "log: %.*s\n", (int)len, line);
}

static int wq_wait(void *ctx, void *wq, int64_t timeout_ms,
		   struct kp_mutex *lock)
{
	(void)ctx;
	(void)wq;
	(void)timeout_ms;
	(void)lock;
	return KWAIT_TIMEOUT;
}

static void wq_wake(void *ctx, void *wq, bool all)
{
	(void)ctx;
	(void)wq;
	(void)all;
}

static void poll_wait(void *ctx, void *wq, void *pt)
{
	(void)ctx;
	(void)wq;
	(void)pt;
	poll_regs++;
}

static int64_t now_ns(void *ctx)
{
	(void)ctx;
	return vnow;
}

static void timer_arm(void *ctx, int64_t due_ns)
{
	(void)ctx;
	armed = due_ns;
}

static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc(n > 0 ? (size_t)n : 1);
	if (data && fread(data, 1, (size_t)n, fp) != (size_t)n) {
		free(data);
		data = NULL;
	}
	fclose(fp);
	*size = (size_t)n;
	return data;
}

int main(int argc, char **argv)
{
	struct kvm_host host = {
		.output = out, .log = log_line,
		.wq_size = 16, .wq_wait = wq_wait, .wq_wake = wq_wake,
		.poll_wait = poll_wait, .now_ns = now_ns,
		.timer_arm = timer_arm,
	};
	struct kvm_limits lim;
	struct kimage *img;
	struct kdev_file *f;
	struct kdev *d;
	struct kvm *vm;
	char err[256], *end;
	uint8_t *data;
	size_t size;
	int i, r;

	if (argc < 4) {
		fprintf(stderr, "usage: wait_host IMAGE DEVICE CB_BUDGET[,HEAP] STEP...\n");
		return 64;
	}
	data = slurp(argv[1], &size);
	if (!data || kimg_load(data, size, &img, err, sizeof(err))) {
		fprintf(stderr, "bad image %s\n", argv[1]);
		return 3;
	}
	free(data);
	kvm_default_limits(&lim);
	lim.cb_budget = strtoull(argv[3], &end, 0);
	if (*end == ',')
		lim.heap = strtoull(end + 1, NULL, 0);
	vm = kvm_create(img, &lim, &host);
	if (!vm || kvm_run_init(vm)) {
		fprintf(stderr, "init failed: %s", vm ? kvm_report(vm) : "");
		return 2;
	}
	d = kdev_find(vm, argv[2]);
	if (!d || kdev_open(d, KDEV_FL_READ | KDEV_FL_WRITE, &f)) {
		fprintf(stderr, "cannot open %s\n", argv[2]);
		return 2;
	}
	for (i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "poll")) {
			poll_regs = 0;
			r = kdev_poll(f, 0, KDEV_FL_READ | KDEV_FL_WRITE, &host);
			printf("poll %d regs %lu\n", r, poll_regs);
		} else if (!strcmp(argv[i], "ioctl") && i + 1 < argc) {
			int64_t res = 0;

			r = kdev_ioctl(f, (unsigned int)atoi(argv[++i]), 0, 0,
				       KDEV_FL_READ | KDEV_FL_WRITE, NULL, &res);
			if (r)
				printf("ioctl err %d\n", -r);
			else
				printf("ioctl %lld\n", (long long)res);
		} else if (!strcmp(argv[i], "timers") && i + 1 < argc) {
			vnow += strtoll(argv[++i], NULL, 0) * 1000000;
			kp_mutex_lock_always(&vm->lock);
			kvm_run_timers(vm);
			kp_mutex_unlock(&vm->lock);
			printf("timers armed %lld\n", armed == INT64_MAX ? -1LL :
			       (long long)((armed - vnow) / 1000000));
		} else if (!strcmp(argv[i], "reopen") && i + 1 < argc) {
			long n = atol(argv[++i]), k;

			for (k = 0; k < n; k++) {
				kdev_release(f, 0);
				if (kdev_open(d, KDEV_FL_READ | KDEV_FL_WRITE,
					      &f)) {
					printf("reopen failed at %ld\n", k);
					return 1;
				}
			}
			printf("reopened %ld\n", n);
		} else if (!strcmp(argv[i], "rw") && i + 1 < argc) {
			long n = atol(argv[++i]), k, w = 0;
			char buf[8] = "abcdefgh";

			for (k = 0; k < n; k++) {
				int64_t pos = 0;

				w = kdev_write(f, buf, sizeof(buf), &pos,
					       KDEV_FL_READ | KDEV_FL_WRITE);
				if (w >= 0)
					w = kdev_read(f, buf, sizeof(buf), &pos,
						      KDEV_FL_READ |
						      KDEV_FL_WRITE);
				if (w < 0)
					break;
			}
			if (k < n)
				printf("rw failed at %ld: %ld\n", k, -w);
			else
				printf("rw %ld\n", n);
		} else if (!strcmp(argv[i], "heap")) {
			printf("heap used %zu kept %zu limit %zu\n",
			       vm->heap_used, vm->free_bytes, vm->lim.heap);
		} else if (!strcmp(argv[i], "stop")) {
			kp_mutex_lock_always(&vm->lock);
			kvm_stop_timers(vm);
			kp_mutex_unlock(&vm->lock);
			printf("stopped\n");
		} else {
			fprintf(stderr, "bad step %s\n", argv[i]);
			return 64;
		}
		fflush(stdout);
	}
	kdev_release(f, 0);
	kvm_destroy(vm);
	kimg_free(img);
	printf("live %ld\n", kp_live_allocs());
	return 0;
}
