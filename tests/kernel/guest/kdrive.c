// SPDX-License-Identifier: GPL-2.0
/*
 * kdrive: drives konoha.ko and the devices of K scripts from the test
 * initramfs (the kconformance, kdrivers and khostile suites).
 *
 *   kdrive op DEV OP...            one system call per OP, one line each
 *   kdrive stress [-p P] [-n N] DEV
 *                                  P processes open+read+close DEV N times
 *   kdrive conform [-j] MANIFEST   load, collect the log of, unload each
 *                                  image of MANIFEST (conformance suite);
 *                                  -j: require JIT stubs (KONOHA_LOAD_JIT)
 *                                  and report "@@ JIT NAME TEXT" from the
 *                                  module's "jit: NAME: TEXT" lines
 *   kdrive mass [-q] IMAGE...      load every image; each must be refused
 *                                  with a message, or load and unload
 *   kdrive load [-b BUDGET] [-H HEAP] [-d DEPTH] [-u UID] [-j|-J] NAME IMAGE
 *                                  -j: KONOHA_LOAD_JIT, -J: KONOHA_LOAD_NOJIT
 *   kdrive unload [-u UID] NAME
 *   kdrive allocs                  print the module's live allocation count
 *   kdrive cycle [-n N] NAME IMAGE DEV
 *                                  N times: load, read DEV, unload; the
 *                                  live allocation count must come back
 *   kdrive abuse IMAGE             malformed ioctl arguments on /dev/konoha:
 *                                  each must fail with an errno, not crash
 *   kdrive share [-p P] IMAGE      P processes write IMAGE in pieces to one
 *                                  shared descriptor of /dev/konoha at once,
 *                                  then each closes its copy (each close
 *                                  loads what was written so far)
 *   kdrive -u UID ...              the same as user UID (files read first)
 *
 * OPs of `op`: the operations of lkm/core/devops.def (the table of
 * device operations) that kdrive offers (`where` has k), each written as
 * one argument NAME:OPERAND:... without FD and NAME (kdrive drives one
 * file of DEV), operands with a default optional:
 * open[:r|w|rw[:nonblock|-]], tryopen (opens a second file, read-only,
 * and closes it at once), read[:COUNT], readall, write[:TEXT] (\n in
 * TEXT is a newline), fill:N[:C] (write N bytes C), ioctl:CMD[:ARG]
 * (ARG @HEX: the address of a buffer holding those bytes, printed after
 * the call), ioctl32:CMD[:ARG] (the 32-bit system call, through int
 * $0x80: the driver's compat_ioctl; ARG is cut to 32 bits),
 * lseek:OFF[:set|cur|end|N], pread:COUNT:OFF, pwrite:OFF[:TEXT], poll
 * (poll(2) without waiting: the revents), sleep:MS, close.  Each prints
 * its result: `read 5 "hello"`, `ioctl 42`, `ioctl 0 @0102`, or
 * `write -1 EINVAL` (sleep prints nothing).

 * Loading uses the ioctls of lkm/kernel/konoha_uapi.h: LOAD (with limits
 * and a name; returns the loader's or the init's message), UNLOAD, LIST.
 * Built with gcc -static: the initramfs has no libc.
 */
#define _GNU_SOURCE	/* strerrorname_np */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../lkm/kernel/konoha_uapi.h"

#define KONOHA_DEV "/dev/konoha"
#define IMAGE_MAX (16u << 20)

/* ---- small helpers ------------------------------------------------------- */

static const char *errname(int e)
{
	static char buf[16];
	const char *name = strerrorname_np(e);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Prints bytes as a C-like string literal (printable ASCII kept). */
static void print_quoted(const char *p, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int read_file(const char *path, char **data, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size > IMAGE_MAX) {
		close(fd);
		return -EFBIG;
	}
	*data = malloc(st.st_size ? st.st_size : 1);
	if (!*data) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *data + got, st.st_size - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	*len = got;
	return 0;
}

static int become(long uid)
{
	if (uid < 0)
		return 0;
	if (setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0) {
		printf("setuid %ld: %s\n", uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the kernel log --------------------------------------------------------- */

/* /dev/kmsg, positioned at the end: later reads return only new records. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * Reads the next record's text (after the "prio,seq,ts,flags;" header, up
 * to the newline, \xHH escapes left as they are) into buf and its log
 * level into *level: the text's length, or -1 when there is none.
 */
static int kmsg_next(int fd, char *buf, size_t size, int *level)
{
	char rec[8192];
	char *text, *nl;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		rec[n] = 0;
		text = strchr(rec, ';');
		if (!text)
			continue;
		*level = atoi(rec) & 7;
		text++;
		nl = strchr(text, '\n');
		if (nl)
			*nl = 0;
		snprintf(buf, size, "%s", text);
		return (int)strlen(buf);
	}
}

/* ---- loading ----------------------------------------------------------------- */

struct limits {
	uint64_t budget, heap, depth;
};

/* KONOHA_LOAD_* flags of every load (-j / -J). */
static uint32_t load_flags;

/*
 * Load-time parameters of the next loads (System.param): entries
 * "NAME=VALUE" each ended by a NUL, sent with KONOHA_IOC_LOAD_PARAMS
 * when there are any (load -P, conform's PARAMS file).
 */
static char load_params[KONOHA_PARAMS_LEN_MAX + 1];
static size_t load_params_len;

/* Appends one NAME=VALUE; -1 when it does not fit. */
static int add_param(const char *arg)
{
	size_t n = strlen(arg) + 1;

	if (n > sizeof(load_params) - load_params_len)
		return -1;
	memcpy(load_params + load_params_len, arg, n);
	load_params_len += n;
	return 0;
}

/*
 * Loads an image under NAME with LIM: 0, or -errno with the module's
 * message in msg.
 */
static int load_image(const char *name, const char *data, size_t len,
		      const struct limits *lim, char *msg, size_t msgsize)
{
	struct konoha_load req;
	int fd, ret;

	memset(&req, 0, sizeof(req));
	msg[0] = 0;
	snprintf(req.name, sizeof(req.name), "%s", name);
	req.image = (uintptr_t)data;
	req.image_len = len;
	req.budget = lim ? lim->budget : 0;
	req.heap = lim ? lim->heap : 0;
	req.depth = lim ? lim->depth : 0;
	req.flags = load_flags;
	req.msg = (uintptr_t)msg;
	req.msg_len = msgsize;
	fd = open(KONOHA_DEV, O_RDWR);
	if (fd < 0)
		return -errno;
	if (load_params_len) {
		struct konoha_load_params preq;

		memset(&preq, 0, sizeof(preq));
		preq.load = req;
		preq.params = (uintptr_t)load_params;
		preq.params_len = load_params_len;
		ret = ioctl(fd, KONOHA_IOC_LOAD_PARAMS, &preq);
	} else {
		ret = ioctl(fd, KONOHA_IOC_LOAD, &req);
	}
	ret = ret < 0 ? -errno : 0;
	close(fd);
	msg[msgsize - 1] = 0;
	return ret;
}

static int unload_script(const char *name)
{
	struct konoha_unload req;
	int fd, ret;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	fd = open(KONOHA_DEV, O_RDWR);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, KONOHA_IOC_UNLOAD, &req);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* The module's live allocation count, or -errno. */
static long long live_allocs(void)
{
	struct konoha_list req;
	int fd, ret;

	memset(&req, 0, sizeof(req));
	fd = open(KONOHA_DEV, O_RDWR);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, KONOHA_IOC_LIST, &req);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret ? ret : (long long)req.live_allocs;
}

/* ---- op ------------------------------------------------------------------------ */

static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/*
 * ioctl(2) of the i386 system call table (number 54), made from this
 * 64-bit process with int $0x80: the kernel takes it as a 32-bit caller's
 * (in_compat_syscall()), so it reaches the driver's compat_ioctl.  The
 * result: the syscall's int, -4095..-1 being -errno.
 */
static long ioctl32(int fd, unsigned int cmd, unsigned int arg)
{
	long ret = 54;

	asm volatile("int $0x80"
		     : "+a"(ret)
		     : "b"((long)fd), "c"((long)cmd), "d"((long)arg)
		     : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}

static void say_ret(const char *what, long long ret, int err)
{
	if (ret < 0)
		printf("%s -1 %s\n", what, errname(err));
	else
		printf("%s %lld\n", what, ret);
}

/* Result kinds of devops.def: how an operation's result is printed. */
enum kd_kind {
#define KD_CB(name)
#define KD_KIND(name, doc) KDK_##name,
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "../../../lkm/core/devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

#define KD_MAX_INTS 4

/* An operation's operands (FD and NAME are kdrive's own file and DEV). */
struct kd_args {
	int flags;			/* m: O_RDWR, O_RDONLY, O_WRONLY; o */
	long long in[KD_MAX_INTS];	/* i, w and a, in order */
	int nin;
	char *bytes;			/* b, unescaped in place */
	unsigned char ubuf[256];	/* a as @HEX: the user buffer */
	int nubuf;			/* its bytes; -1: a was a number */
};

/* The state of `kdrive op`: DEV, its one file, and the read buffer. */
struct kd_ctx {
	const char *dev;
	int fd;
	char *buf;
	size_t cap;
	size_t nread;			/* DATA, CONTENT: bytes in buf */
};

/* A system call: its result, or -1 with errno set. */
typedef long long kd_fn(struct kd_ctx *c, struct kd_args *a);

static long long kd_open(struct kd_ctx *c, struct kd_args *a)
{
	c->fd = open(c->dev, a->flags);
	return c->fd < 0 ? -1 : 0;
}

static long long kd_tryopen(struct kd_ctx *c, struct kd_args *a)
{
	int fd2 = open(c->dev, O_RDONLY);

	(void)a;
	if (fd2 < 0)
		return -1;
	close(fd2);
	return 0;
}

static long long kd_close(struct kd_ctx *c, struct kd_args *a)
{
	long long ret = close(c->fd);

	(void)a;
	c->fd = -1;
	return ret;
}

static long long kd_read(struct kd_ctx *c, struct kd_args *a)
{
	size_t n = a->in[0] < 0 ? 0 : (size_t)a->in[0];
	long long ret;

	if (n > c->cap)
		n = c->cap;
	ret = read(c->fd, c->buf, n);
	c->nread = ret < 0 ? 0 : (size_t)ret;
	return ret;
}

static long long kd_readall(struct kd_ctx *c, struct kd_args *a)
{
	long long ret;

	(void)a;
	c->nread = 0;
	for (;;) {
		ret = read(c->fd, c->buf + c->nread, 4096);
		if (ret <= 0 || c->nread + ret + 4096 > c->cap)
			break;
		c->nread += ret;
	}
	return ret < 0 ? ret : (long long)c->nread;
}

static long long kd_write(struct kd_ctx *c, struct kd_args *a)
{
	return write(c->fd, a->bytes, strlen(a->bytes));
}

static long long kd_fill(struct kd_ctx *c, struct kd_args *a)
{
	size_t n = a->in[0] < 0 ? 0 : (size_t)a->in[0];
	char *big = malloc(n ? n : 1);
	long long ret;

	if (!big) {
		errno = ENOMEM;
		return -1;
	}
	memset(big, a->bytes[0] ? a->bytes[0] : 'x', n);
	ret = write(c->fd, big, n);
	free(big);
	return ret;
}

static long long kd_ioctl(struct kd_ctx *c, struct kd_args *a)
{
	long arg = a->nubuf >= 0 ? (long)a->ubuf : (long)a->in[1];

	/* syscall(2): the whole 64-bit result, not an int; -4095..-1
	 * come back as -1 and errno, others as they are */
	return syscall(SYS_ioctl, c->fd, (unsigned long)a->in[0], arg);
}

/* pread(2) and pwrite(2): at OFFSET, the file's position untouched. */
static long long kd_pread(struct kd_ctx *c, struct kd_args *a)
{
	size_t n = a->in[0] < 0 ? 0 : (size_t)a->in[0];
	long long ret;

	if (n > c->cap)
		n = c->cap;
	ret = pread(c->fd, c->buf, n, (off_t)a->in[1]);
	c->nread = ret < 0 ? 0 : (size_t)ret;
	return ret;
}

static long long kd_pwrite(struct kd_ctx *c, struct kd_args *a)
{
	return pwrite(c->fd, a->bytes, strlen(a->bytes), (off_t)a->in[0]);
}

/* poll(2) without waiting: the revents of every event asked for. */
static long long kd_poll(struct kd_ctx *c, struct kd_args *a)
{
	struct pollfd p = { .fd = c->fd,
			    .events = POLLIN | POLLPRI | POLLOUT };
	int ret;

	(void)a;
	ret = poll(&p, 1, 0);
	return ret < 0 ? -1 : p.revents;
}

static long long kd_ioctl32(struct kd_ctx *c, struct kd_args *a)
{
	long long ret = ioctl32(c->fd, (unsigned int)a->in[0],
				(unsigned int)a->in[1]);

	if (ret < 0 && ret >= -4095) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static long long kd_lseek(struct kd_ctx *c, struct kd_args *a)
{
	return lseek(c->fd, a->in[0], (int)a->in[1]);
}

static long long kd_sleep(struct kd_ctx *c, struct kd_args *a)
{
	(void)c;
	usleep((useconds_t)(a->in[0] < 0 ? 0 : a->in[0]) * 1000);
	return 0;
}

struct kd_op {
	const char *name;
	const char *operands;
	enum kd_kind kind;
	kd_fn *run;
};

/* The operations of devops.def that kdrive offers. */
#define KDRIVE_WHERE_k(...)	__VA_ARGS__,
#define KDRIVE_WHERE_sk(...)	__VA_ARGS__,
#define KDRIVE_WHERE_s(...)

static const struct kd_op kd_ops[] = {
#define KD_CB(name)
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)	\
	KDRIVE_WHERE_##where({ #name, operands, KDK_##kind, kd_##name })
#include "../../../lkm/core/devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

/* An int operand: signed 64-bit, or an unsigned 64-bit pattern. */
static int parse_int(const char *s, long long *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 0);
	if (errno || *end) {
		errno = 0;
		*out = (long long)strtoull(s, &end, 0);
		if (errno || *end)
			return -1;
	}
	return 0;
}

static int parse_one(char letter, char *word, struct kd_args *a)
{
	long long v;

	switch (letter) {
	case 'm':
		if (!strcmp(word, "r"))
			a->flags = O_RDONLY;
		else if (!strcmp(word, "w"))
			a->flags = O_WRONLY;
		else if (!strcmp(word, "rw"))
			a->flags = O_RDWR;
		else
			return -1;
		return 0;
	case 'o':
		if (!strcmp(word, "nonblock"))
			a->flags |= O_NONBLOCK;
		else if (strcmp(word, "-"))
			return -1;
		return 0;
	case 'a':
		if (word[0] == '@') {
			size_t k, n = strlen(word + 1);

			if (n % 2 || n / 2 > sizeof(a->ubuf))
				return -1;
			for (k = 0; k < n / 2; k++) {
				unsigned int b;

				if (sscanf(word + 1 + 2 * k, "%2x", &b) != 1)
					return -1;
				a->ubuf[k] = (unsigned char)b;
			}
			a->nubuf = (int)(n / 2);
			v = 0;
			goto store;
		}
		if (parse_int(word, &v))
			return -1;
		goto store;
	case 'w':
		/* numbers past SEEK_END too: the driver must refuse them */
		if (!strcmp(word, "set"))
			v = SEEK_SET;
		else if (!strcmp(word, "cur"))
			v = SEEK_CUR;
		else if (!strcmp(word, "end"))
			v = SEEK_END;
		else if (parse_int(word, &v))
			return -1;
		goto store;
	case 'i':
		if (parse_int(word, &v))
			return -1;
store:
		if (a->nin == KD_MAX_INTS)
			return -1;
		a->in[a->nin++] = v;
		return 0;
	case 'b':
		unescape(word);
		a->bytes = word;
		return 0;
	}
	return -1;
}

/*
 * Parses the operands after NAME in arg ("6:set") by spec ("f:FD
 * i:OFFSET w:WHENCE=0"); FD and NAME are implicit.  defs holds the
 * defaults' copies.  0, or -1 for a bad or missing operand.
 */
static int parse_args(const char *spec, char *arg, struct kd_args *a,
		      char *defs, size_t ndefs)
{
	while (*spec) {
		char letter = spec[0];
		const char *eq, *end = strchr(spec, ' ');
		char *word = NULL;

		if (!end)
			end = spec + strlen(spec);
		eq = memchr(spec, '=', end - spec);
		if (letter == 'f' || letter == 'n') {
			spec = *end ? end + 1 : end;
			continue;
		}
		if (arg) {
			word = arg;
			/* bytes take the rest, colons included */
			arg = letter == 'b' ? NULL : strchr(arg, ':');
			if (arg)
				*arg++ = 0;
		} else if (eq && (size_t)(end - eq) <= ndefs) {
			memcpy(defs, eq + 1, end - eq - 1);
			defs[end - eq - 1] = 0;
			word = defs;
			defs += end - eq;
			ndefs -= end - eq;
		}
		if (!word || parse_one(letter, word, a))
			return -1;
		spec = *end ? end + 1 : end;
	}
	return arg ? -1 : 0;
}

static int cmd_op(int argc, char **argv)
{
	static char buf[1 << 17];
	struct kd_ctx c = { .fd = -1, .buf = buf, .cap = sizeof(buf) };
	int i;

	/* argv[0] is "op" */
	argc--;
	argv++;
	if (argc < 2) {
		fputs("usage: kdrive op DEV OP...\n"
		      "  one system call each, on one file of DEV, in order:\n"
		      "  open[:r|w|rw[:nonblock]]  tryopen  close  readall\n"
		      "  read[:COUNT]  write[:TEXT]  fill:N[:C]  sleep:MS\n"
		      "  ioctl:CMD[:ARG|@HEX]  ioctl32:CMD[:ARG]  poll\n"
		      "  lseek:OFF[:set|cur|end]  pread:COUNT:OFF  pwrite:OFF[:TEXT]\n"
		      "  e.g. kdrive op /dev/hello open:r read:100 ioctl:1:21 close\n",
		      stderr);
		return 2;
	}
	c.dev = argv[0];
	for (i = 1; i < argc; i++) {
		char *name = argv[i], *arg = strchr(name, ':'), defs[64];
		struct kd_args a = { .flags = O_RDWR, .bytes = "",
				     .nubuf = -1 };
		const struct kd_op *op = NULL;
		long long ret;
		size_t k;

		if (arg)
			*arg++ = 0;
		for (k = 0; k < sizeof(kd_ops) / sizeof(kd_ops[0]); k++)
			if (!strcmp(name, kd_ops[k].name))
				op = &kd_ops[k];
		if (!op) {
			fprintf(stderr, "kdrive op: unknown op %s\n", name);
			return 2;
		}
		if (parse_args(op->operands, arg, &a, defs, sizeof(defs))) {
			fprintf(stderr, "kdrive op: bad operands for %s: %s\n",
				name, op->operands);
			return 2;
		}
		errno = 0;
		ret = op->run(&c, &a);
		if (op->kind == KDK_QUIET)
			continue;
		if (ret == -1) {
			say_ret(name, -1, errno);
		} else if (op->kind == KDK_DATA ||
			   (op->kind == KDK_CONTENT && c.nread <= 200)) {
			printf("%s %zu ", name, c.nread);
			print_quoted(buf, c.nread);
			putchar('\n');
		} else if (op->kind == KDK_CONTENT) {
			printf("%s %zu (%zu bytes)\n", name, c.nread, c.nread);
		} else if (op->kind == KDK_IOCTL && a.nubuf >= 0) {
			/* the user buffer as the call left it */
			printf("%s %lld @", name, ret);
			for (k = 0; k < (size_t)a.nubuf; k++)
				printf("%02x", a.ubuf[k]);
			putchar('\n');
		} else {
			/* a result, negative ones included (ioctl) */
			printf("%s %lld\n", name, op->kind == KDK_FD ? 0 : ret);
		}
	}
	return 0;
}

/* What /dev/kdrv_stress returns after "pid=PID " (kdrv_stress.k). */
#define STRESS_PAYLOAD \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"

/* ---- stress ------------------------------------------------------------------ */

/*
 * One child: N rounds of open, read to EOF, close on DEV; the content must
 * be "pid=<our pid> <payload>\n" with the payload of the first round.
 * Returns the number of bad rounds (printing the first few).
 */
static long stress_child(const char *dev, long n, int who)
{
	char buf[4096], want[64];
	long i, bad = 0;
	size_t wl;

	wl = snprintf(want, sizeof(want), "pid=%d ", (int)getpid());
	for (i = 0; i < n; i++) {
		size_t got = 0;
		ssize_t r;
		int fd = open(dev, O_RDONLY);

		if (fd < 0) {
			if (bad++ < 3)
				printf("worker %d round %ld: open: %s\n", who, i,
				       strerror(errno));
			continue;
		}
		while ((r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += r;
		if (r < 0 || got < wl || memcmp(buf, want, wl) ||
		    buf[got - 1] != '\n' ||
		    strcmp(buf + wl, STRESS_PAYLOAD)) {
			buf[got] = 0;
			if (bad++ < 3) {
				printf("worker %d round %ld: read %s ", who, i,
				       r < 0 ? strerror(errno) : "ok");
				print_quoted(buf, got);
				putchar('\n');
			}
		}
		if (close(fd) < 0 && bad++ < 3)
			printf("worker %d round %ld: close: %s\n", who, i,
			       strerror(errno));
	}
	return bad;
}

static int cmd_stress(int argc, char **argv)
{
	long procs = 8, n = 10000, bad = 0, i;
	int opt, status, failed = 0;

	optind = 1;
	while ((opt = getopt(argc, argv, "p:n:")) != -1) {
		if (opt == 'p')
			procs = strtol(optarg, NULL, 10);
		else if (opt == 'n')
			n = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind != argc - 1 || procs < 1 || procs > 64)
		return 2;
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			printf("fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			long b = stress_child(argv[optind], n, (int)i);

			printf("worker %ld: %ld rounds, %ld bad\n", i, n, b);
			fflush(stdout);
			_exit(b ? 1 : 0);
		}
	}
	while (wait(&status) > 0) {
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	bad = failed;
	printf("stress %s: %ld processes x %ld rounds, %ld failed\n",
	       argv[optind], procs, n, bad);
	return bad ? 1 : 0;
}

/* ---- conform ------------------------------------------------------------------- */

/*
 * MANIFEST: one line per program, "NAME IMAGE BUDGET HEAP DEPTH [PARAMS]"
 * (0: the module's default; PARAMS, or "-" for none: a file holding the
 * load-time parameters as KONOHA_IOC_LOAD_PARAMS takes them, NUL-ended
 * "NAME=VALUE" entries). For each: load it, print every line the script logged
 * ("konoha: NAME: TEXT") and the result, unload it:
 *
 *   @@ BEGIN NAME
 *   @| TEXT|            (the program's output: the script's lines at info
 *                       level, \xHH escapes as in /dev/kmsg)
 *   @! TEXT|            (the script's lines at other levels: reports)
 *   @@ END NAME load=0|-ERRNO unload=0|-ERRNO msg=MESSAGE
 */
static int cmd_conform(int argc, char **argv)
{
	char line[1024], name[128], path[512], ppath[512], text[4096];
	char held[4096];
	static char msg[8192];
	int have_held;
	unsigned long long budget, heap, depth;
	FILE *m;
	int kmsg, count = 0, jit = 0;

	if (argc == 3 && !strcmp(argv[1], "-j")) {
		jit = 1;
		load_flags = KONOHA_LOAD_JIT;
		argc--;
		argv++;
	}
	if (argc != 2)
		return 2;
	m = fopen(argv[1], "r");
	if (!m) {
		printf("open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	kmsg = kmsg_open();
	if (kmsg < 0) {
		printf("open /dev/kmsg: %s\n", strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), m)) {
		struct limits lim;
		char prefix[160], *data;
		size_t len, plen;
		int ret, un = 0, t, level;

		ppath[0] = 0;
		if (sscanf(line, "%127s %511s %llu %llu %llu %511s", name, path,
			   &budget, &heap, &depth, ppath) < 5)
			continue;
		load_params_len = 0;
		if (ppath[0] && strcmp(ppath, "-")) {
			char *pdata;
			size_t pn;

			if (read_file(ppath, &pdata, &pn) ||
			    pn > sizeof(load_params)) {
				printf("read %s: failed\n", ppath);
				return 1;
			}
			memcpy(load_params, pdata, pn);
			load_params_len = pn;
			free(pdata);
		}
		lim.budget = budget;
		lim.heap = heap;
		lim.depth = depth;
		plen = snprintf(prefix, sizeof(prefix), "konoha: %s:", name);
		printf("@@ BEGIN %s\n", name);
		fflush(stdout);
		ret = read_file(path, &data, &len);
		if (ret == 0) {
			ret = load_image(name, data, len, &lim, msg, sizeof(msg));
			free(data);
		} else {
			snprintf(msg, sizeof(msg), "cannot read %s", path);
		}
		/*
		 * "konoha: NAME: TEXT" (or "konoha: NAME:" for ""). The module
		 * ends a successful load with "konoha: NAME: loaded" at the
		 * level of output: held back one line, and dropped if last.
		 */
		held[0] = 0;
		have_held = 0;
		while ((t = kmsg_next(kmsg, text, sizeof(text), &level)) >= 0) {
			const char *body;

			if (strncmp(text, prefix, plen))
				continue;
			body = text[plen] == ' ' ? text + plen + 1 : text + plen;
			if (level != 6) {
				printf("@! %s|\n", body);
				continue;
			}
			if (have_held)
				printf("@| %s|\n", held);
			snprintf(held, sizeof(held), "%s", body);
			have_held = 1;
		}
		if (have_held && !(ret == 0 && !strcmp(held, "loaded")))
			printf("@| %s|\n", held);
		if (ret == 0)
			un = unload_script(name);
		if (jit) {
			/* "konoha: jit: NAME: TEXT", logged by the unload */
			char jprefix[160];
			size_t jlen;

			jlen = snprintf(jprefix, sizeof(jprefix),
					"konoha: jit: %s: ", name);
			while (kmsg_next(kmsg, text, sizeof(text), &level) >= 0)
				if (!strncmp(text, jprefix, jlen))
					printf("@@ JIT %s %s\n", name, text + jlen);
		}
		/* the whole report is in the log lines above: its start only */
		for (t = 0; msg[t] && t < 300; t++)
			if (msg[t] == '\n')
				msg[t] = '|';
		msg[t] = 0;
		printf("@@ END %s load=%d unload=%d msg=%s\n", name, ret, un,
		       msg);
		fflush(stdout);
		count++;
	}
	fclose(m);
	printf("conform: %d programs\n", count);
	return 0;
}

/* ---- mass ------------------------------------------------------------------------- */

/*
 * Loads each image (tiny limits). A refused image must come with a
 * message; one that loads is unloaded at once. Prints one line per image
 * with -v, else only the problems, and a summary.
 */
static int cmd_mass(int argc, char **argv)
{
	struct limits lim = { 1000000, 4u << 20, 200 };
	long refused = 0, loaded = 0, initfail = 0, problems = 0;
	char msg[512], name[32];
	int i = 1, verbose = 0;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		i++;
	}
	for (; i < argc; i++) {
		char *data;
		size_t len;
		int ret, un;

		if (read_file(argv[i], &data, &len)) {
			printf("%s: cannot read\n", argv[i]);
			problems++;
			continue;
		}
		snprintf(name, sizeof(name), "mass%d", i);
		ret = load_image(name, data, len, &lim, msg, sizeof(msg));
		free(data);
		if (ret == 0) {
			loaded++;
			un = unload_script(name);
			if (verbose || un)
				printf("%s: loaded, unload %s\n", argv[i],
				       un ? errname(-un) : "ok");
			if (un)
				problems++;
			continue;
		}
		if (ret == -EPERM || ret == -ENOTTY || ret == -EFAULT ||
		    ret == -ENOENT) {
			printf("%s: load failed with %s, not a refusal\n",
			       argv[i], errname(-ret));
			problems++;
			continue;
		}
		if (!msg[0]) {
			printf("%s: refused with %s but no message\n", argv[i],
			       errname(-ret));
			problems++;
			continue;
		}
		if (ret != -ENOEXEC && strstr(msg, "init failed"))
			initfail++;
		else
			refused++;
		if (verbose)
			printf("%s: %s: %s\n", argv[i], errname(-ret), msg);
	}
	printf("mass: %d images: %ld refused by the loader with a message; %ld verified and ran: %ld loaded and unloaded cleanly, %ld failed in their init with a report; %ld problems\n",
	       argc - 1 - verbose, refused, loaded + initfail, loaded,
	       initfail, problems);
	return problems ? 1 : 0;
}

/* ---- load / unload / allocs ----------------------------------------------------- */

static int cmd_load(int argc, char **argv)
{
	struct limits lim = { 0, 0, 0 };
	char msg[1024], *data;
	long uid = -1;
	size_t len;
	int opt, ret;

	optind = 1;
	while ((opt = getopt(argc, argv, "b:H:d:u:jJP:")) != -1) {
		if (opt == 'P') {
			if (add_param(optarg)) {
				printf("load: parameters too long\n");
				return 1;
			}
		} else if (opt == 'j')
			load_flags = KONOHA_LOAD_JIT;
		else if (opt == 'J')
			load_flags = KONOHA_LOAD_NOJIT;
		else if (opt == 'b')
			lim.budget = strtoull(optarg, NULL, 0);
		else if (opt == 'H')
			lim.heap = strtoull(optarg, NULL, 0);
		else if (opt == 'd')
			lim.depth = strtoull(optarg, NULL, 0);
		else if (opt == 'u')
			uid = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind != argc - 2)
		return 2;
	ret = read_file(argv[optind + 1], &data, &len);
	if (ret) {
		printf("read %s: %s\n", argv[optind + 1], strerror(-ret));
		return 1;
	}
	if (become(uid))
		return 1;
	ret = load_image(argv[optind], data, len, &lim, msg, sizeof(msg));
	if (ret) {
		printf("load %s: %s: %s\n", argv[optind], errname(-ret), msg);
		return 1;
	}
	printf("loaded %s\n", argv[optind]);
	return 0;
}

static int cmd_unload(int argc, char **argv)
{
	long uid = -1;
	int opt, ret;

	optind = 1;
	while ((opt = getopt(argc, argv, "u:")) != -1) {
		if (opt != 'u')
			return 2;
		uid = strtol(optarg, NULL, 10);
	}
	if (optind != argc - 1)
		return 2;
	if (become(uid))
		return 1;
	ret = unload_script(argv[optind]);
	if (ret) {
		printf("unload %s: %s\n", argv[optind], errname(-ret));
		return 1;
	}
	printf("unloaded %s\n", argv[optind]);
	return 0;
}

static int cmd_allocs(void)
{
	long long n = live_allocs();

	if (n < 0) {
		printf("list: %s\n", errname((int)-n));
		return 1;
	}
	printf("%lld\n", n);
	return 0;
}

/*
 * N cycles of: load IMAGE as NAME, open DEV, read it to EOF, close it,
 * unload NAME, and compare the module's live allocation count with the
 * one before the first cycle. Stops at the first problem.
 */
static int cmd_cycle(int argc, char **argv)
{
	long n = 200, i;
	long long base, now;
	char msg[1024], buf[4096], *data;
	size_t len;
	int opt, ret;

	optind = 1;
	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			return 2;
		n = strtol(optarg, NULL, 10);
	}
	if (optind != argc - 3)
		return 2;
	if (read_file(argv[optind + 1], &data, &len)) {
		printf("cannot read %s\n", argv[optind + 1]);
		return 1;
	}
	base = live_allocs();
	printf("live allocations before the first cycle: %lld\n", base);
	if (base != 0) {
		printf("the count must be 0 with no script loaded\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		ssize_t r, got = 0;
		int fd;

		ret = load_image(argv[optind], data, len, NULL, msg, sizeof(msg));
		if (ret) {
			printf("cycle %ld: load: %s: %s\n", i, errname(-ret), msg);
			return 1;
		}
		fd = open(argv[optind + 2], O_RDONLY);
		if (fd < 0) {
			printf("cycle %ld: open %s: %s\n", i, argv[optind + 2],
			       strerror(errno));
			return 1;
		}
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			got += r;
		close(fd);
		if (r < 0 || got == 0) {
			printf("cycle %ld: read %s: %s\n", i, argv[optind + 2],
			       r < 0 ? strerror(errno) : "empty");
			return 1;
		}
		ret = unload_script(argv[optind]);
		if (ret) {
			printf("cycle %ld: unload: %s\n", i, errname(-ret));
			return 1;
		}
		now = live_allocs();
		if (now != base) {
			printf("cycle %ld: %lld live allocations after the unload, %lld before the first load\n",
			       i, now, base);
			return 1;
		}
		if (access(argv[optind + 2], F_OK) == 0) {
			printf("cycle %ld: %s still exists after the unload\n", i,
			       argv[optind + 2]);
			return 1;
		}
	}
	printf("cycle: %ld load/read/unload cycles, live allocations back to %lld after each\n",
	       n, base);
	return 0;
}

/* One LOAD with a raw request: 0 or -errno. */
static int raw_load(struct konoha_load *req)
{
	int fd = open(KONOHA_DEV, O_RDWR), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, KONOHA_IOC_LOAD, req);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* A valid LOAD request for the image, named "abuse". */
static void fresh(struct konoha_load *req, const char *data, size_t len,
		  char *msg, size_t msgsize)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->name, sizeof(req->name), "abuse");
	req->image = (uintptr_t)data;
	req->image_len = len;
	req->msg = (uintptr_t)msg;
	req->msg_len = msgsize;
}

static int abuse_check(const char *what, int ret, int *bad)
{
	printf("%-44s %s\n", what, ret ? errname(-ret) : "succeeded");
	if (!ret)
		(*bad)++;
	return ret;
}

static int cmd_abuse(int argc, char **argv)
{
	static char msg[256], big[1 << 16];
	struct konoha_load req;
	struct konoha_unload ul;
	struct konoha_list ls;
	char *data;
	size_t len;
	int bad = 0, fd, ret;
	ssize_t w;

	if (argc != 2 || read_file(argv[1], &data, &len))
		return 2;
	fresh(&req, data, len, msg, sizeof(msg));
	req.image = 0;
	abuse_check("LOAD image=NULL", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.image = 0xffff800000000000ull;
	abuse_check("LOAD image=kernel address", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.image_len = 0;
	abuse_check("LOAD image_len=0", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.image_len = 1ull << 40;
	abuse_check("LOAD image_len=2^40", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.image_len = len - 1;
	abuse_check("LOAD image_len one byte short", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.flags = 0x4;	/* no such flag */
	abuse_check("LOAD flags=0x4", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.flags = 0x80000000u;
	abuse_check("LOAD flags=0x80000000", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.heap = 1ull << 62;
	abuse_check("LOAD heap=2^62", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.depth = 0xffffffffu;
	abuse_check("LOAD depth=2^32-1", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	memset(req.name, 'a', sizeof(req.name));
	ret = raw_load(&req);
	/* refused, or truncated to 31 bytes: both fine, not a crash */
	printf("%-44s %s\n", "LOAD name without NUL", ret ? errname(-ret) : "ok (truncated)");
	if (!ret)
		unload_script("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	fresh(&req, data, len, msg, sizeof(msg));
	snprintf(req.name, sizeof(req.name), "../../x");
	abuse_check("LOAD name ../../x", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	req.image_len = 16;
	req.msg = 1;		/* a refusal, its text to a bad address */
	abuse_check("LOAD refused, msg=bad address", raw_load(&req), &bad);
	fresh(&req, data, len, msg, sizeof(msg));
	ret = raw_load(&req);
	printf("%-44s %s\n", "LOAD valid (for what follows)", ret ? errname(-ret) : "ok");
	if (ret)
		bad++;
	fresh(&req, data, len, msg, sizeof(msg));
	abuse_check("LOAD same name again", raw_load(&req), &bad);

	fd = open(KONOHA_DEV, O_RDWR);
	memset(&ls, 0, sizeof(ls));
	ls.scripts = 1;
	ls.max = 1000;
	ret = ioctl(fd, KONOHA_IOC_LIST, &ls) < 0 ? -errno : 0;
	abuse_check("LIST scripts=bad address", ret, &bad);
	ret = ioctl(fd, KONOHA_IOC_LIST, (void *)8) < 0 ? -errno : 0;
	abuse_check("LIST argument=bad address", ret, &bad);
	ret = ioctl(fd, _IO(KONOHA_IOC_MAGIC, 99), 0) < 0 ? -errno : 0;
	abuse_check("unknown ioctl", ret, &bad);
	memset(&ul, 0, sizeof(ul));
	snprintf(ul.name, sizeof(ul.name), "no-such-script");
	ret = ioctl(fd, KONOHA_IOC_UNLOAD, &ul) < 0 ? -errno : 0;
	abuse_check("UNLOAD unknown name", ret, &bad);
	ret = ioctl(fd, KONOHA_IOC_UNLOAD, (void *)8) < 0 ? -errno : 0;
	abuse_check("UNLOAD argument=bad address", ret, &bad);
	close(fd);

	/* write(2) path: more than the largest image, then close */
	fd = open(KONOHA_DEV, O_WRONLY);
	ret = 0;
	for (len = 0; len < (17u << 20); len += w) {
		w = write(fd, big, sizeof(big));
		if (w < 0) {
			ret = -errno;
			break;
		}
	}
	abuse_check("write 17 MiB to /dev/konoha", ret, &bad);
	ret = close(fd) < 0 ? -errno : 0;
	abuse_check("close after it (loads the garbage)", ret, &bad);

	ret = unload_script("abuse");
	printf("%-44s %s\n", "UNLOAD abuse", ret ? errname(-ret) : "ok");
	if (ret)
		bad++;
	printf("abuse: %d requests wrongly accepted\n", bad);
	return bad ? 1 : 0;
}

static int cmd_share(int argc, char **argv)
{
	long procs = 4, i;
	int opt, status, fd, failed = 0;
	char *data;
	size_t len;

	optind = 1;
	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p')
			return 2;
		procs = strtol(optarg, NULL, 10);
	}
	if (optind != argc - 1 || procs < 1 || procs > 64 ||
	    read_file(argv[optind], &data, &len))
		return 2;
	fd = open(KONOHA_DEV, O_WRONLY);
	if (fd < 0) {
		printf("open %s: %s\n", KONOHA_DEV, strerror(errno));
		return 1;
	}
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			printf("fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			int round, ret;
			size_t off;

			for (round = 0; round < 20; round++)
				for (off = 0; off < len; off += 512)
					if (write(fd, data + off, len - off < 512 ?
						  len - off : 512) < 0 &&
					    errno != EFBIG)
						_exit(3);
			ret = close(fd);
			printf("worker %ld: close %s\n", i,
			       ret ? errname(errno) : "0");
			fflush(stdout);
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	printf("parent: close %s\n", close(fd) ? errname(errno) : "0");
	printf("share: %ld processes, %d failed\n", procs, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && !strcmp(argv[1], "-u")) {
		if (become(strtol(argv[2], NULL, 10)))
			return 1;
		argc -= 2;
		argv += 2;
	}
	if (argc >= 2) {
		if (!strcmp(argv[1], "abuse"))
			return cmd_abuse(argc - 1, argv + 1);
		if (!strcmp(argv[1], "share"))
			return cmd_share(argc - 1, argv + 1);
		if (!strcmp(argv[1], "cycle"))
			return cmd_cycle(argc - 1, argv + 1);
		if (!strcmp(argv[1], "op"))
			return cmd_op(argc - 1, argv + 1);
		if (!strcmp(argv[1], "stress"))
			return cmd_stress(argc - 1, argv + 1);
		if (!strcmp(argv[1], "conform"))
			return cmd_conform(argc - 1, argv + 1);
		if (!strcmp(argv[1], "mass"))
			return cmd_mass(argc - 1, argv + 1);
		if (!strcmp(argv[1], "load"))
			return cmd_load(argc - 1, argv + 1);
		if (!strcmp(argv[1], "unload"))
			return cmd_unload(argc - 1, argv + 1);
		if (!strcmp(argv[1], "allocs"))
			return cmd_allocs();
	}
	fprintf(stderr, "usage: kdrive op|stress|conform|mass|load|unload|allocs ...\n");
	return 2;
}
