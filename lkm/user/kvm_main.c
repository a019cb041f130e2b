// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_main.c - build/kvm: run a K image in the userspace VM.
 *
 *	kvm [--budget N] [--cb-budget N] [--heap BYTES] [--depth N]
 *	    [--serve] [--stats] [--jit STUBS.so] IMAGE.kbc
 *
 * --jit loads the JIT stubs `ktc compile --jit` made for this image (a
 * shared object exporting `kjit_table`; its handlers bind to this
 * executable's kop_* symbols): stubs for another image are refused
 * (exit 3).
 *
 * Exit status: 0 success, 2 uncaught exception or abort in the init (the
 * report on stderr), 3 invalid image, 64 usage, 66 unreadable file.
 *
 * SIGTERM plays the kernel's fatal signal: the running call ends with
 * "abort: killed" at its next poll (every KVM_SLICE instructions), and a
 * second SIGTERM kills the process.
 *
 * --serve drives the registered devices from stdin after the init, one
 * command a line; each answer ends with exactly one "ok ..." or
 * "err ERRNO" line, script output comes as "out TEXT" lines and logged
 * callback failures as "log TEXT" lines:
 *	open NAME		ok FD
 *	read FD COUNT		ok N HEX	(ok 0 - at EOF)
 *	write FD HEX		ok N		("-" writes nothing)
 *	ioctl FD CMD ARG	ok RESULT
 *	lseek FD OFF WHENCE	ok POS
 *	close FD		ok 0
 *	devices			ok NAME...
 *	quit
 */
#include "kvm.h"
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dlfcn.h>

#define EX_USAGE	64
#define EX_NOINPUT	66
#define FD_BASE		3
#define MAX_FILES	256

static bool serve_mode;

struct open_file {
	struct kdev_file *f;
	int64_t pos;
};

static struct open_file files[MAX_FILES];

static void put_prefixed(const char *prefix, const char *buf, size_t len)
{
	const char *end = buf + len, *nl;

	while (buf < end) {
		nl = memchr(buf, '\n', (size_t)(end - buf));
		if (!nl)
			nl = end;
		fputs(prefix, stdout);
		fwrite(buf, 1, (size_t)(nl - buf), stdout);
		fputc('\n', stdout);
		buf = nl < end ? nl + 1 : end;
	}
}

static void host_output(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	if (serve_mode)
		put_prefixed("out ", buf, len);
	else
		fwrite(buf, 1, len, stdout);
}

static void host_log(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	if (serve_mode) {
		put_prefixed("log ", line, len);
	} else {
		fwrite(line, 1, len, stderr);
		fputc('\n', stderr);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: kvm [--budget N] [--cb-budget N] [--heap BYTES] [--depth N] "
		"[--serve] [--stats] [--jit STUBS.so] IMAGE.kbc\n");
	return EX_USAGE;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, len = 0, n;

	if (!fp)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				goto out_fail;
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp))
		goto out_fail;
	fclose(fp);
	*size = len;
	return buf;
out_fail:
	free(buf);
	fclose(fp);
	return NULL;
}

static struct open_file *get_file(const char *arg)
{
	long fd;
	char *end;

	if (!arg)
		return NULL;
	fd = strtol(arg, &end, 10);
	if (*end || fd < FD_BASE || fd >= FD_BASE + MAX_FILES)
		return NULL;
	if (!files[fd - FD_BASE].f)
		return NULL;
	return &files[fd - FD_BASE];
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end) {
		/* allow unsigned 64-bit patterns such as 0xFFFFFFFFFFFFFFFF */
		unsigned long long u;

		errno = 0;
		u = strtoull(s, &end, 0);
		if (errno || *end)
			return false;
		v = (long long)u;
	}
	*out = v;
	return true;
}

/* One command; prints its final ok/err line. */
static bool serve_command(struct kvm *vm, char *line)
{
	char *cmd = strtok(line, " \t\r\n");
	char *a1 = strtok(NULL, " \t\r\n");
	char *a2 = strtok(NULL, " \t\r\n");
	char *a3 = strtok(NULL, " \t\r\n");
	struct open_file *of;
	int64_t x, y, r;
	long n;
	int err, i;

	if (!cmd)
		return true;
	if (!strcmp(cmd, "quit"))
		return false;
	if (!strcmp(cmd, "devices")) {
		struct kdev *d;

		fputs("ok", stdout);
		for (d = vm->devices; d; d = d->next)
			printf(" %s", d->name);
		fputc('\n', stdout);
		return true;
	}
	if (!strcmp(cmd, "open")) {
		struct kdev *d = a1 ? kdev_find(vm, a1) : NULL;

		if (!d) {
			printf("err %d\n", ENOENT);
			return true;
		}
		for (i = 0; i < MAX_FILES && files[i].f; i++)
			;
		if (i == MAX_FILES) {
			printf("err %d\n", EMFILE);
			return true;
		}
		err = kdev_open(d, &files[i].f);
		if (err) {
			files[i].f = NULL;
			printf("err %d\n", -err);
			return true;
		}
		files[i].pos = 0;
		printf("ok %d\n", FD_BASE + i);
		return true;
	}
	of = get_file(a1);
	if (!of) {
		printf("err %d\n", EBADF);
		return true;
	}
	if (!strcmp(cmd, "read")) {
		char *buf;

		if (!parse_i64(a2, &x) || x < 0 || x > (1 << 24)) {
			printf("err %d\n", EINVAL);
			return true;
		}
		buf = malloc((size_t)x + 1);
		if (!buf) {
			printf("err %d\n", ENOMEM);
			return true;
		}
		n = kdev_read(of->f, buf, (size_t)x, &of->pos);
		if (n < 0) {
			printf("err %ld\n", -n);
		} else {
			printf("ok %ld ", n);
			if (n == 0)
				fputc('-', stdout);
			for (i = 0; i < n; i++)
				printf("%02x", (unsigned char)buf[i]);
			fputc('\n', stdout);
		}
		free(buf);
	} else if (!strcmp(cmd, "write")) {
		size_t len = a2 && strcmp(a2, "-") ? strlen(a2) : 0;
		char *buf;

		if (!a2 || len % 2) {
			printf("err %d\n", EINVAL);
			return true;
		}
		buf = malloc(len / 2 + 1);
		if (!buf) {
			printf("err %d\n", ENOMEM);
			return true;
		}
		for (i = 0; (size_t)i < len / 2; i++) {
			int h = hexval(a2[2 * i]), l = hexval(a2[2 * i + 1]);

			if (h < 0 || l < 0) {
				free(buf);
				printf("err %d\n", EINVAL);
				return true;
			}
			buf[i] = (char)(h * 16 + l);
		}
		n = kdev_write(of->f, buf, len / 2, &of->pos);
		if (n < 0)
			printf("err %ld\n", -n);
		else
			printf("ok %ld\n", n);
		free(buf);
	} else if (!strcmp(cmd, "ioctl")) {
		if (!parse_i64(a2, &x) || !parse_i64(a3, &y)) {
			printf("err %d\n", EINVAL);
			return true;
		}
		err = kdev_ioctl(of->f, (unsigned int)x, y, &r);
		if (err)
			printf("err %d\n", -err);
		else
			printf("ok %lld\n", (long long)r);
	} else if (!strcmp(cmd, "lseek")) {
		if (!parse_i64(a2, &x) || !parse_i64(a3, &y) ||
		    y < 0 || y > 2) {
			printf("err %d\n", EINVAL);
			return true;
		}
		r = kdev_llseek(of->f, x, (int)y, &of->pos);
		if (r < 0)
			printf("err %lld\n", -(long long)r);
		else
			printf("ok %lld\n", (long long)r);
	} else if (!strcmp(cmd, "close")) {
		kdev_release(of->f);
		of->f = NULL;
		printf("ok 0\n");
	} else {
		printf("err %d\n", EINVAL);
	}
	return true;
}

static void serve(struct kvm *vm)
{
	char *line = NULL;
	size_t cap = 0;
	bool more = true;
	int i;

	fflush(stdout);
	while (more && getline(&line, &cap, stdin) > 0) {
		more = serve_command(vm, line);
		fflush(stdout);
	}
	free(line);
	for (i = 0; i < MAX_FILES; i++) {
		if (files[i].f) {
			kdev_release(files[i].f);
			files[i].f = NULL;
		}
	}
	fflush(stdout);
}

static void on_sigterm(int sig)
{
	if (kp_killed)
		signal(sig, SIG_DFL), raise(sig);
	kp_killed = 1;
}

int main(int argc, char **argv)
{
	struct kvm_limits lim;
	struct kvm_host host = {
		.output = host_output,
		.log = host_log,
	};
	const char *path = NULL, *jit_path = NULL;
	void *jit_lib = NULL;
	bool stats = false;
	struct kimage *img;
	struct kvm *vm;
	uint8_t *data;
	size_t size;
	char err[256];
	uint64_t v;
	int i, st, rc;

	signal(SIGTERM, on_sigterm);
	kvm_default_limits(&lim);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--serve")) {
			serve_mode = true;
		} else if (!strcmp(a, "--stats")) {
			stats = true;
		} else if (!strcmp(a, "--jit")) {
			if (i + 1 >= argc)
				return usage();
			jit_path = argv[++i];
		} else if (!strcmp(a, "--cb-budget")) {
			/* device callbacks only (the kernel's per-call limit) */
			if (i + 1 >= argc || !parse_u64(argv[++i], &v))
				return usage();
			lim.cb_budget = v;
		} else if (!strcmp(a, "--budget") || !strcmp(a, "--heap") ||
			   !strcmp(a, "--depth")) {
			if (i + 1 >= argc || !parse_u64(argv[i + 1], &v))
				return usage();
			i++;
			if (a[2] == 'b') {
				lim.budget = v;
				lim.cb_budget = v;
			} else if (a[2] == 'h') {
				lim.heap = (size_t)v;
			} else {
				if (v < 1 || v > 10000000)
					return usage();
				lim.depth = (uint32_t)v;
			}
		} else if (a[0] == '-' && a[1]) {
			return usage();
		} else if (!path) {
			path = a;
		} else {
			return usage();
		}
	}
	if (!path)
		return usage();
	data = read_file(path, &size);
	if (!data) {
		fprintf(stderr, "error: cannot read %s: %s\n", path,
			strerror(errno));
		return EX_NOINPUT;
	}
	if (kimg_load(data, size, &img, err, sizeof(err))) {
		fprintf(stderr, "error: invalid image: %s\n", err);
		free(data);
		return 3;
	}
	free(data);
	vm = kvm_create(img, &lim, &host);
	if (!vm) {
		fprintf(stderr, "error: out of memory\n");
		kimg_free(img);
		return 2;
	}
	if (jit_path) {
		const struct kjit_table *t;

		jit_lib = dlopen(jit_path, RTLD_NOW | RTLD_LOCAL);
		t = jit_lib ? dlsym(jit_lib, "kjit_table") : NULL;
		if (!t) {
			fprintf(stderr, "error: cannot load JIT stubs %s: %s\n",
				jit_path, dlerror());
			kvm_destroy(vm);
			kimg_free(img);
			return 3;
		}
		if (kvm_jit_register(vm, t, err, sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
			kvm_destroy(vm);
			kimg_free(img);
			dlclose(jit_lib);
			return 3;
		}
	}
	st = kvm_run_init(vm);
	fflush(stdout);
	rc = 0;
	if (st != KVM_OK) {
		/* a message may hold NUL bytes: the report has a length */
		fwrite(kvm_report(vm), 1, vm->report_len, stderr);
		rc = 2;
	} else if (serve_mode) {
		serve(vm);
	}
	if (stats)
		fprintf(stderr, "stats: instructions %llu, gc %llu, "
			"heap peak %zu\n",
			(unsigned long long)vm->executed,
			(unsigned long long)vm->ngc, vm->heap_peak);
	kvm_destroy(vm);
	kimg_free(img);
	if (jit_lib)
		dlclose(jit_lib);
	if (stats)
		fprintf(stderr, "stats: live allocations %ld\n",
			kp_live_allocs());
	fflush(stdout);
	return rc;
}
