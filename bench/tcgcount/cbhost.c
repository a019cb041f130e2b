// SPDX-License-Identifier: GPL-2.0
/*
 * cbhost.c - the device path of build/libkvm.so in a loop, for
 * bench/tcgcount.py: the same lkm/core code konoha.ko runs (kdev_open,
 * kdev_read, kdev_write and the VM under them), with a script's
 * userspace JIT stubs, in a process an emulator can count.
 *
 *   cbhost IMAGE.kbc DEVICE STUBS.so|- ROUNDS BYTES MODE
 *
 * MODE rw: one open file; a round writes BYTES bytes and reads BYTES
 * back (each call must move them all).  MODE open: a round opens
 * DEVICE and releases the file.  No callback may wait (a wait answers
 * a timeout at once).  Prints "ok ROUNDS"; exit status 1 when a call
 * fails, 2 when the script cannot start, 3 for a bad image or stubs.
 */
#include "kimage.h"
#include "kvm.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL (KDEV_FL_READ | KDEV_FL_WRITE)

static void out(void *ctx, const char *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
}

static void log_line(void *ctx, const char *line, size_t len)
{
	fprintf(stderr, "%.*s\n", (int)len, line);
}

static int wq_wait(void *ctx, void *wq, int64_t timeout_ms,
		   struct kp_mutex *lock)
{
	return KWAIT_TIMEOUT;
}

static void wq_wake(void *ctx, void *wq, bool all)
{
}

static void poll_wait(void *ctx, void *wq, void *pt)
{
}

static int64_t now_ns(void *ctx)
{
	return 0;
}

static void timer_arm(void *ctx, int64_t due_ns)
{
}

int main(int argc, char **argv)
{
	struct kvm_host host = {
		.output = out, .log = log_line,
		.wq_size = 16, .wq_wait = wq_wait, .wq_wake = wq_wake,
		.poll_wait = poll_wait, .now_ns = now_ns,
		.timer_arm = timer_arm,
	};
	static char data[1 << 20], buf[65536], back[65536];
	struct kvm_limits lim;
	struct kimage *img;
	struct kdev_file *f = NULL;
	struct kdev *d;
	struct kvm *vm;
	char err[256];
	long rounds, bs, k;
	bool rw;
	size_t size;
	FILE *fp;

	if (argc != 7) {
		fprintf(stderr, "usage: cbhost IMAGE DEVICE STUBS|- ROUNDS BYTES rw|open\n");
		return 64;
	}
	rounds = atol(argv[4]);
	bs = atol(argv[5]);
	rw = !strcmp(argv[6], "rw");
	if (bs < 0 || bs > (long)sizeof(buf) || (!rw && strcmp(argv[6], "open")))
		return 64;
	fp = fopen(argv[1], "rb");
	size = fp ? fread(data, 1, sizeof(data), fp) : 0;
	if (!size || kimg_load((uint8_t *)data, size, &img, err, sizeof(err))) {
		fprintf(stderr, "bad image %s\n", argv[1]);
		return 3;
	}
	kvm_default_limits(&lim);
	lim.cb_budget = 100000000;	/* konoha.ko's defaults */
	lim.heap = 16 << 20;
	vm = kvm_create(img, &lim, &host);
	if (!vm)
		return 2;
	if (strcmp(argv[3], "-")) {
		void *lib = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);
		const struct kjit_table *t = lib ? dlsym(lib, "kjit_table") : NULL;

		if (!t || kvm_jit_register(vm, t, err, sizeof(err))) {
			fprintf(stderr, "bad stubs %s\n", argv[3]);
			return 3;
		}
	}
	if (kvm_run_init(vm)) {
		fprintf(stderr, "init failed: %s", kvm_report(vm));
		return 2;
	}
	d = kdev_find(vm, argv[2]);
	if (!d || (rw && kdev_open(d, FL, &f))) {
		fprintf(stderr, "cannot open %s\n", argv[2]);
		return 2;
	}
	for (k = 0; k < bs; k++)
		buf[k] = (char)(k * 7 + k / 256);
	for (k = 0; k < rounds; k++) {
		int64_t pos = 0;

		if (!rw) {
			if (kdev_open(d, FL, &f))
				return 1;
			kdev_release(f, 0);
			continue;
		}
		if (kdev_write(f, buf, bs, &pos, FL) != bs ||
		    kdev_read(f, back, bs, &pos, FL) != bs) {
			fprintf(stderr, "round %ld: a call failed\n", k);
			return 1;
		}
	}
	if (rw)
		kdev_release(f, 0);
	kvm_destroy(vm);
	kimg_free(img);
	printf("ok %ld\n", rounds);
	return 0;
}
