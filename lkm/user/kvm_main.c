// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_main.c - build/kvm: run a K image in the userspace VM.
 *
 *	kvm [--budget N] [--cb-budget N] [--heap BYTES] [--depth N]
 *	    [--param NAME=VALUE]... [--serve] [--stats] [--jit STUBS.so]
 *	    IMAGE.kbc
 *
 * --param gives the script a load-time parameter (System.param, the
 * language reference §9.3); parameters that break its rules (params.c)
 * refuse the load with exit status 1 and the reason on stderr.
 *
 * --jit loads the JIT stubs `ktc compile --jit` made for this image (a
 * shared object exporting `kjit_table`; its handlers bind to this
 * executable's kop_* symbols): stubs for another image are refused
 * (exit 3).
 *
 * Exit status: 0 success, 1 parameters refused, 2 uncaught exception or
 * abort in the init (the report on stderr), 3 invalid image, 64 usage,
 * 66 unreadable file.
 *
 * SIGTERM plays the kernel's fatal signal: the running call ends with
 * "abort: killed" at its next poll (every KVM_SLICE instructions), and a
 * second SIGTERM kills the process.
 *
 * --serve drives the registered devices from stdin after the init, one
 * command a line: an operation of lkm/core/devops.def (the table of
 * device operations; those whose `where` has s) as `NAME OPERAND...`,
 * bytes in hex (`-` for none), operands with a default optional, or
 * `quit`.  Each answer ends with exactly one "ok ..." or "err ERRNO" line
 * (ENOSYS: no such operation; EBADF, ENOENT, EINVAL: a bad FD, NAME or
 * other operand); script output comes before it as "out TEXT" lines and
 * logged callback failures as "log TEXT" lines.  Today's operations:
 *	open NAME [r|w|rw] [nonblock|-]	ok FD
 *	read FD [COUNT]		ok N HEX	(ok 0 - at EOF)
 *	readall FD		ok N HEX
 *	write FD [HEX]		ok N		("-" writes nothing)
 *	ioctl FD CMD [ARG]	ok RESULT	(ARG @HEX: ok RESULT HEX)
 *	lseek FD OFF [WHENCE]	ok POS		(0|set, 1|cur, 2|end)
 *	pread FD COUNT OFF	ok N HEX	(the position stays)
 *	pwrite FD OFF [HEX]	ok N		(the position stays)
 *	poll FD			ok MASK
 *	close FD		ok 0
 *	devices			ok NAME...
 *	quit
 * A file opened r or w refuses write or read with EBADF, as Linux does.
 */
#include "kvm.h"
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dlfcn.h>

/* sysexits.h's codes; 2 and 3 are this tool's own (see above). */
#define EX_USAGE	64
#define EX_NOINPUT	66
/* The serve protocol's descriptors start where a process's first would. */
#define FD_BASE		3
#define MAX_FILES	256

/* --serve: program output and logged reports become prefixed lines. */
static bool serve_mode;

/*
 * One open file of the serve protocol (files[fd - FD_BASE]): f is NULL
 * while the slot is free.  The position is the host's to keep, as Linux
 * keeps it in struct file: device.c only reads and updates it.
 */
struct open_file {
	struct kdev_file *f;
	int64_t pos;
	bool can_read, can_write;	/* its open mode */
	bool nonblock;			/* (1.1) opened with nonblock */
};

/* The KDEV_FL_* flags of an open file, as device.c takes them. */
static unsigned int file_flags(const struct open_file *of)
{
	return (of->can_read ? KDEV_FL_READ : 0) |
	       (of->can_write ? KDEV_FL_WRITE : 0) |
	       (of->nonblock ? KDEV_FL_NONBLOCK : 0);
}

static struct open_file files[MAX_FILES];

/*
 * Each line of buf as "PREFIX line".  The protocol is line-based: a
 * newline in a script's output starts a new prefixed line, so nothing a
 * script prints can pass for an ok or err line.
 */
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

/* The VM's program output: as it is, or "out" lines under --serve. */
static void host_output(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	if (serve_mode)
		put_prefixed("out ", buf, len);
	else
		fwrite(buf, 1, len, stdout);
}

/* A line of a failed callback's report: stderr, or a "log" line. */
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
		"[--param NAME=VALUE]... [--serve] [--stats] [--jit STUBS.so] IMAGE.kbc\n");
	return EX_USAGE;
}

/* An unsigned number in C syntax (0x hex, 0 octal), with nothing after. */
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

/*
 * Appends "NAME=VALUE" and its NUL to the parameters blob (params.c
 * checks it).  false when out of memory.
 */
static bool add_param(char **blob, size_t *len, const char *arg)
{
	size_t n = strlen(arg) + 1;
	char *b = realloc(*blob, *len + n);

	if (!b)
		return false;
	memcpy(b + *len, arg, n);
	*blob = b;
	*len += n;
	return true;
}

/* The whole file in a malloc'd buffer; NULL on failure (errno says why). */
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

/* A hex digit's value, or -1. */
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

/*
 * devops.def's i operand: a signed 64-bit number in C syntax, or an
 * unsigned 64-bit pattern taken as its two's complement.
 */
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

/* ---- the serve protocol: the operations of devops.def --------------------- */

/* Result kinds (devops.def's KD_KIND): how an answer is printed. */
enum kd_kind {
#define KD_CB(name)
#define KD_KIND(name, doc) KDK_##name,
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

/* An operation's operands, parsed by their letters. */
struct serve_args {
	struct open_file *of;		/* f */
	const char *name;		/* n */
	bool can_read, can_write;	/* m */
	bool nonblock;			/* o */
	int64_t in[KDEV_CALL_MAX_INTS];	/* i, w and a, in order */
	uint32_t nin;
	char *bytes;			/* b, decoded (malloc'd) */
	size_t nbytes;
	char *ubuf;			/* a given as @HEX (malloc'd) */
	size_t nubuf;
};

/* An answer: value for most kinds, bytes (malloc'd) for DATA, NAMES. */
struct serve_result {
	int64_t value;
	char *bytes;
	size_t nbytes;
	bool has_bytes;		/* IOCTL: a user buffer follows the value */
};

/*
 * An operation's handler: 0 with the answer in *r, or -errno, which
 * serve_command() prints as the err line.
 */
struct serve_op;
typedef int serve_fn(struct kvm *vm, const struct serve_op *op,
		     struct serve_args *a, struct serve_result *r);

/* One devops.def line the simulation serves, and its handler. */
struct serve_op {
	const char *name;
	const char *operands;
	enum kd_kind kind;
	int cb;
	serve_fn *run;
};

/*
 * The open file of the descriptor in arg, or NULL (EBADF): not a decimal
 * number, out of range, or not open.
 */
static struct open_file *get_file(const char *arg)
{
	long fd;
	char *end;

	fd = strtol(arg, &end, 10);
	if (!*arg || *end || fd < FD_BASE || fd >= FD_BASE + MAX_FILES)
		return NULL;
	if (!files[fd - FD_BASE].f)
		return NULL;
	return &files[fd - FD_BASE];
}

/*
 * Decodes HEX ("-": nothing) into *out: 0 or -EINVAL.  *out is freed by
 * serve_command() whatever happens, a bad digit included.
 */
static int parse_hex_into(const char *s, char **out, size_t *n)
{
	size_t len = strcmp(s, "-") ? strlen(s) : 0, i;

	if (len % 2)
		return -EINVAL;
	*out = malloc(len / 2 + 1);
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < len / 2; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);

		if (h < 0 || l < 0)
			return -EINVAL;
		(*out)[i] = (char)(h * 16 + l);
	}
	*n = len / 2;
	return 0;
}

static int parse_hex(const char *s, struct serve_args *a)
{
	return parse_hex_into(s, &a->bytes, &a->nbytes);
}

/*
 * (1.1) The simulation's user memory: the one buffer of an ioctl given
 * @HEX, at this address (arg).  Every other address is bad, as is all
 * of it when ARG was a number (the language reference §9.4).
 */
#define USER_BUF_ADDR	0x7f0000001000ll

struct user_buf {
	char *b;
	size_t n;
};

/* Whether [addr, addr + n) lies in the buffer; *off its offset there. */
static bool user_range(const struct user_buf *u, uint64_t addr, size_t n,
		       size_t *off)
{
	uint64_t start = (uint64_t)USER_BUF_ADDR;

	if (!u->b || addr < start || addr - start > u->n ||
	    n > u->n - (addr - start))
		return false;
	*off = (size_t)(addr - start);
	return true;
}

static int user_get(void *ctx, uint64_t addr, void *dst, size_t n)
{
	const struct user_buf *u = ctx;
	size_t off;

	if (!user_range(u, addr, n, &off))
		return -EFAULT;
	memcpy(dst, u->b + off, n);
	return 0;
}

static int user_put(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct user_buf *u = ctx;
	size_t off;

	if (!user_range(u, addr, n, &off))
		return -EFAULT;
	memcpy(u->b + off, src, n);
	return 0;
}

/*
 * One operand of letter `letter` from word (a default given in TEXT form
 * when is_default): 0, or -errno (EBADF for an FD, ENOENT for a NAME,
 * else EINVAL).
 */
static int parse_operand(char letter, const char *word, bool is_default,
			 struct serve_args *a)
{
	int64_t v;

	switch (letter) {
	case 'f':
		a->of = get_file(word);
		return a->of ? 0 : -EBADF;
	case 'n':
		a->name = word;
		return 0;
	case 'm':
		a->can_read = strchr(word, 'r') != NULL;
		a->can_write = strchr(word, 'w') != NULL;
		return !strcmp(word, "r") || !strcmp(word, "w") ||
			!strcmp(word, "rw") ? 0 : -EINVAL;
	case 'o':
		a->nonblock = !strcmp(word, "nonblock");
		return a->nonblock || !strcmp(word, "-") ? 0 : -EINVAL;
	case 'a':
		if (word[0] == '@') {
			if (a->ubuf)
				return -EINVAL;
			v = USER_BUF_ADDR;
			if (parse_hex_into(word + 1, &a->ubuf, &a->nubuf))
				return -EINVAL;
			goto store_int;
		}
		if (!parse_i64(word, &v))
			return -EINVAL;
		goto store_int;
	case 'w':
		if (!strcmp(word, "set"))
			word = "0";
		else if (!strcmp(word, "cur"))
			word = "1";
		else if (!strcmp(word, "end"))
			word = "2";
		if (!parse_i64(word, &v) || v < 0 || v > 2)
			return -EINVAL;
		goto store_int;
	case 'i':
		if (!parse_i64(word, &v))
			return -EINVAL;
store_int:
		if (a->nin == KDEV_CALL_MAX_INTS)
			return -EINVAL;
		a->in[a->nin++] = v;
		return 0;
	case 'b':
		if (!is_default)
			return parse_hex(word, a);
		a->nbytes = strlen(word);
		a->bytes = malloc(a->nbytes + 1);
		if (!a->bytes)
			return -ENOMEM;
		memcpy(a->bytes, word, a->nbytes);
		return 0;
	}
	return -EINVAL;
}

/*
 * Parses the words after an operation's name by its operands string
 * ("f:FD i:COUNT=4096"): a missing operand takes its default, or fails
 * as a bad one; words left over are EINVAL.
 */
static int parse_operands(const char *spec, char **words, int nwords,
			  struct serve_args *a)
{
	char def[64];
	int k = 0, err;

	while (*spec) {
		char letter = spec[0];
		const char *eq, *end = strchr(spec, ' ');
		bool is_default = false;
		const char *word;

		if (!end)
			end = spec + strlen(spec);
		eq = memchr(spec, '=', (size_t)(end - spec));
		/*
		 * The word given, else the default (one too long for def counts
		 * as none: no line of devops.def comes near), else "", which
		 * parse_operand() judges like any other word.
		 */
		if (k < nwords) {
			word = words[k++];
		} else if (eq && (size_t)(end - eq) <= sizeof(def)) {
			memcpy(def, eq + 1, (size_t)(end - eq - 1));
			def[end - eq - 1] = 0;
			word = def;
			is_default = true;
		} else {
			word = "";
		}
		err = parse_operand(letter, word, is_default, a);
		if (err)
			return err;
		spec = *end ? end + 1 : end;
	}
	return k < nwords ? -EINVAL : 0;
}

/*
 * The first free slot gets the file; the script's open() runs in
 * kdev_open().  Read and write permission are this host's, as the
 * kernel's VFS checks them: device.c knows no open modes.
 */
static int serve_open(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	struct kdev *d = kdev_find(vm, a->name);
	int i, err;

	(void)op;
	if (!d)
		return -ENOENT;
	for (i = 0; i < MAX_FILES && files[i].f; i++)
		;
	if (i == MAX_FILES)
		return -EMFILE;
	files[i].can_read = a->can_read;
	files[i].can_write = a->can_write;
	files[i].nonblock = a->nonblock;
	err = kdev_open(d, file_flags(&files[i]), &files[i].f);
	if (err) {
		files[i].f = NULL;
		return err;
	}
	files[i].pos = 0;
	r->value = FD_BASE + i;
	return 0;
}

/*
 * COUNT up to 16 MiB bounds this host's buffer, not the read: a read
 * past the content returns less.
 */
static int serve_read(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	long n;

	(void)vm;
	(void)op;
	if (!a->of->can_read)
		return -EBADF;
	if (a->in[0] < 0 || a->in[0] > (1 << 24))
		return -EINVAL;
	r->bytes = malloc((size_t)a->in[0] + 1);
	if (!r->bytes)
		return -ENOMEM;
	n = kdev_read(a->of->f, r->bytes, (size_t)a->in[0], &a->of->pos,
		      file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->nbytes = (size_t)n;
	return 0;
}

/*
 * (1.1) pread(2): a read at OFFSET from a position of its own; the
 * file's stays.  A negative OFFSET is device.c's EINVAL, as Linux's.
 */
static int serve_pread(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	int64_t pos = a->in[1];
	long n;

	(void)vm;
	(void)op;
	if (!a->of->can_read)
		return -EBADF;
	if (a->in[0] < 0 || a->in[0] > (1 << 24))
		return -EINVAL;
	if (pos < 0)
		return -EINVAL;
	r->bytes = malloc((size_t)a->in[0] + 1);
	if (!r->bytes)
		return -ENOMEM;
	n = kdev_read(a->of->f, r->bytes, (size_t)a->in[0], &pos,
		      file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->nbytes = (size_t)n;
	return 0;
}

/* (1.1) pwrite(2): a write at OFFSET; the file's position stays. */
static int serve_pwrite(struct kvm *vm, const struct serve_op *op,
			struct serve_args *a, struct serve_result *r)
{
	int64_t pos = a->in[0];
	long n;

	(void)vm;
	(void)op;
	if (!a->of->can_write)
		return -EBADF;
	if (pos < 0)
		return -EINVAL;
	n = kdev_write(a->of->f, a->bytes, a->nbytes, &pos,
		       file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->value = n;
	return 0;
}

/*
 * (1.1) poll(2)'s answer now: the callback's mask (5 for a Device).
 * Waiting while it is 0 needs blocking (the language reference §9.2),
 * which the simulation does not have yet: it answers the 0.
 */
static int serve_poll(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	(void)vm;
	(void)op;
	r->value = kdev_poll(a->of->f, file_flags(a->of), NULL);
	return 0;
}

/* Reads until end of file: the content is at most KDEV_CONTENT_MAX. */
static int serve_readall(struct kvm *vm, const struct serve_op *op,
			 struct serve_args *a, struct serve_result *r)
{
	size_t cap = KDEV_CONTENT_MAX;
	long n;

	(void)vm;
	(void)op;
	if (!a->of->can_read)
		return -EBADF;
	r->bytes = malloc(cap);
	if (!r->bytes)
		return -ENOMEM;
	while (r->nbytes < cap) {
		n = kdev_read(a->of->f, r->bytes + r->nbytes,
			      cap - r->nbytes, &a->of->pos,
			      file_flags(a->of));
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		r->nbytes += (size_t)n;
	}
	return 0;
}

/* The answer is kdev_write()'s count: at most KDEV_WRITE_MAX bytes. */
static int serve_write(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	long n;

	(void)vm;
	(void)op;
	if (!a->of->can_write)
		return -EBADF;
	n = kdev_write(a->of->f, a->bytes, a->nbytes, &a->of->pos,
		       file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->value = n;
	return 0;
}

/*
 * CMD cut to 32 bits as ioctl(2) takes it; the result comes back as
 * kdev_ioctl_result() filters it for any host.  ARG @HEX: the user
 * buffer is the answer's bytes after the call, whatever it returned.
 */
static int serve_ioctl(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	struct user_buf u = { a->ubuf, a->nubuf };
	struct kdev_umem um = { user_get, user_put, &u };
	int err;

	(void)vm;
	(void)op;
	err = kdev_ioctl(a->of->f, (unsigned int)a->in[0], a->in[1],
			 file_flags(a->of), &um, &r->value);
	if (a->ubuf) {
		/* handed over: serve_command() prints and frees it */
		r->bytes = a->ubuf;
		r->nbytes = a->nubuf;
		r->has_bytes = true;
		a->ubuf = NULL;
	}
	return err;
}

/* WHENCE is 0..2 (parse_operand); the new position is the answer. */
static int serve_lseek(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	int64_t pos;

	(void)vm;
	(void)op;
	pos = kdev_llseek(a->of->f, a->in[0], (int)a->in[1], &a->of->pos,
			  file_flags(a->of));
	if (pos < 0)
		return (int)pos;
	r->value = pos;
	return 0;
}

/* release() runs, whatever it answers, and the slot is free again. */
static int serve_close(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	(void)vm;
	(void)op;
	(void)r;
	kdev_release(a->of->f);
	a->of->f = NULL;
	return 0;
}

/*
 * " NAME" per device, in registration order.  A name has at most 31
 * bytes, so with its space it fits the sizeof(d->name) bytes counted.
 */
static int serve_devices(struct kvm *vm, const struct serve_op *op,
			 struct serve_args *a, struct serve_result *r)
{
	struct kdev *d;

	(void)op;
	(void)a;
	r->bytes = malloc((size_t)vm->ndevices * sizeof(d->name) + 1);
	if (!r->bytes)
		return -ENOMEM;
	for (d = vm->devices; d; d = d->next)
		r->nbytes += (size_t)sprintf(r->bytes + r->nbytes, " %s",
					     d->name);
	return 0;
}

/*
 * devops.def's `call`: the callback with the int operands after FD.
 * Unused while no line says `call`.
 */
static __attribute__((unused)) int serve_call(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	(void)vm;
	if (!a->of)
		return -EBADF;
	return kdev_call(a->of->f, op->cb, a->in, a->nin, &r->value);
}

/* The operations of devops.def that the simulation serves. */
#define SERVE_HOW_own(name)	serve_##name
#define SERVE_HOW_call(name)	serve_call
#define SERVE_WHERE_s(...)	__VA_ARGS__,
#define SERVE_WHERE_sk(...)	__VA_ARGS__,
#define SERVE_WHERE_k(...)

static const struct serve_op serve_ops[] = {
#define KD_CB(name)
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)	\
	SERVE_WHERE_##where({ #name, operands, KDK_##kind, KD_##cb,	\
			      SERVE_HOW_##how(name) })
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

/* Words read of a command; no operation has nearly as many operands. */
#define SERVE_MAX_WORDS	16

/*
 * One command; prints its final ok/err line (the output and log lines
 * of the callbacks it ran came before it).  false: quit.
 */
static bool serve_command(struct kvm *vm, char *line)
{
	char *words[SERVE_MAX_WORDS];
	const struct serve_op *op = NULL;
	struct serve_args a = { .can_read = true, .can_write = true };
	struct serve_result r = { 0 };
	int nwords = 0, err;
	size_t i;

	for (words[0] = strtok(line, " \t\r\n"); words[nwords];
	     words[nwords] = strtok(NULL, " \t\r\n"))
		if (++nwords == SERVE_MAX_WORDS)
			break;
	if (!nwords)
		return true;
	if (!strcmp(words[0], "quit"))
		return false;
	for (i = 0; i < sizeof(serve_ops) / sizeof(serve_ops[0]); i++)
		if (!strcmp(words[0], serve_ops[i].name))
			op = &serve_ops[i];
	err = -ENOSYS;
	if (op)
		err = parse_operands(op->operands, words + 1, nwords - 1, &a);
	if (!err)
		err = op->run(vm, op, &a, &r);
	if (err) {
		printf("err %d\n", -err);
	} else if (op->kind == KDK_DATA || op->kind == KDK_CONTENT) {
		printf("ok %zu ", r.nbytes);
		if (!r.nbytes)
			fputc('-', stdout);
		for (i = 0; i < r.nbytes; i++)
			printf("%02x", (unsigned char)r.bytes[i]);
		fputc('\n', stdout);
	} else if (op->kind == KDK_NAMES) {
		printf("ok%.*s\n", (int)r.nbytes, r.nbytes ? r.bytes : "");
	} else if (op->kind == KDK_IOCTL && r.has_bytes) {
		printf("ok %lld ", (long long)r.value);
		if (!r.nbytes)
			fputc('-', stdout);
		for (i = 0; i < r.nbytes; i++)
			printf("%02x", (unsigned char)r.bytes[i]);
		fputc('\n', stdout);
	} else {
		printf("ok %lld\n", (long long)r.value);
	}
	free(a.bytes);
	free(a.ubuf);
	free(r.bytes);
	return true;
}

/*
 * Runs commands until quit or the end of stdin, then closes every file
 * still open, so that release() runs for each as it would when a
 * process exits.
 */
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

/*
 * The first SIGTERM sets kp_killed, which kp_poll() reports at the
 * running call's next poll; a second one ends the process by the default
 * action.
 */
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
	char *params = NULL;
	size_t params_len = 0;
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
		} else if (!strcmp(a, "--param")) {
			if (i + 1 >= argc)
				return usage();
			if (!add_param(&params, &params_len, argv[++i])) {
				fprintf(stderr, "error: out of memory\n");
				return 2;
			}
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
			/* --budget sets both; a later --cb-budget overrides */
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
		free(params);
		return EX_NOINPUT;
	}
	/* the image copies what it keeps: data goes either way */
	if (kimg_load(data, size, &img, err, sizeof(err))) {
		fprintf(stderr, "error: invalid image: %s\n", err);
		free(data);
		free(params);
		return 3;
	}
	free(data);
	/* a VM that cannot be made is reported like an abort in the init */
	vm = kvm_create(img, &lim, &host);
	if (!vm) {
		fprintf(stderr, "error: out of memory\n");
		kimg_free(img);
		free(params);
		return 2;
	}
	rc = kvm_set_params(vm, params, params_len, err, sizeof(err));
	free(params);
	if (rc) {
		fprintf(stderr, "error: load refused: %s\n", err);
		kvm_destroy(vm);
		kimg_free(img);
		return rc == -EINVAL ? 1 : 2;
	}
	if (jit_path) {
		const struct kjit_table *t;

		/* RTLD_NOW: a kop_* the stubs lack fails here, not mid-run */
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
	/* after kvm_destroy(): anything but 0 is a leak (tests read it) */
	if (stats)
		fprintf(stderr, "stats: live allocations %ld\n",
			kp_live_allocs());
	fflush(stdout);
	return rc;
}
