// SPDX-License-Identifier: GPL-2.0
/*
 * ksysfuzz: a system-call fuzzer for the devices of K scripts (the
 * ksysfuzz suite, tests/kernel/test_ksysfuzz.py).
 *
 *   ksysfuzz [-s SEED] [-t SECONDS] [-p PROCS] [-g GRACE] [-x CMD:MAX]...
 *            [-L NAME:IMAGE:BUDGET:HEAP]... [-c NAME]... DEV...
 *
 * The parent keeps PROCS worker processes running for SECONDS: a third of
 * them as root, the others as uid/gid 1000 and 1001. Each worker makes a
 * random sequence of system calls on the devices DEV...: open with various
 * flags, read, write, pread, pwrite, readv, writev, lseek, ioctl (the
 * scripts' commands, numbers the kernel keeps for itself, random ones;
 * integers and pointers as arguments), poll, mmap, fcntl, sendfile, dup,
 * close, and fork: a child that uses the inherited descriptors for a while
 * and exits, or is killed. Sizes, offsets and arguments come from lists of
 * edge values (0, 1, 4095, 65536, 65537, 1 MiB, negative, huge) and from
 * the PRNG; buffers are sometimes bad pointers. Written bytes are random or
 * lines of the fuzz scripts' vocabulary (tests/kernel/fuzz/fz_*.k).
 *
 * The workers in the upper half of the slots are victims: the parent sends
 * them SIGKILL, SIGTERM, SIGINT (a worker may catch it, with or without
 * SA_RESTART) or SIGSTOP and SIGCONT at random times, starts a new worker
 * for each one that dies, and measures how long a killed worker takes to be
 * reaped. -x CMD:MAX caps the magnitude of the argument of ioctl CMD (and
 * the length of "chain N" lines for CMD 108): inputs that crash the kernel
 * every time can be held back while the crash is being fixed. -c NAME
 * says that /dev/NAME is a CharDevice (the language reference §9.1): its
 * positions are the script's, not bounded by a Device's 64 KiB content.
 *
 * With -L, one more process (root) unloads script NAME through /dev/konoha
 * every 20 to 200 ms while the workers use its devices (EBUSY while one is
 * open) and, when the unload succeeds, loads IMAGE again under that name
 * with those limits: unloads race with opens, releases and callbacks. The
 * workers close their files of /dev/NAME soon after opening them, so that
 * unloads find moments when none is open. A reload that fails is an
 * anomaly; at the end every such script is loaded.
 *
 * At the end the parent kills every worker and its children and waits up to
 * GRACE seconds (default 60) for them. It prints a summary: operations and
 * errnos per system call, signals and kill latencies, anomalies (results no
 * system call may give, e.g. a read longer than its count), errnos outside
 * Linux's user range 1..133 (512 and up are the kernel's own), processes
 * that died of a signal nobody sent them (with their last operations) or
 * that never went away (with their state and kernel stack). Exit status: 0
 * clean, 1 anomalies or unexpected deaths, 2 processes left hanging,
 * 100 usage.
 *
 * Built with gcc -static: the initramfs has no libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../lkm/kernel/konoha_uapi.h"

#define USAGE_EXIT 100
#define MAX_DEVS 32
#define MAX_PROCS 64
#define MAX_FDS 12
#define MAX_CAPS 16
#define NERR 600		/* errnos 0..598 counted one by one, 599: above */
#define RING 8			/* last operations kept per worker */
#define RING_LEN 112
#define NOTES 12
#define NOTE_LEN 200
#define BIG (1u << 20)
#define MAX_RELOADS 8

enum op {
	OP_OPEN, OP_CLOSE, OP_READ, OP_WRITE, OP_PREAD, OP_PWRITE, OP_READV,
	OP_WRITEV, OP_LSEEK, OP_IOCTL, OP_POLL, OP_MMAP, OP_FCNTL, OP_SENDFILE,
	OP_DUP, OP_FORK, NOPS
};

static const char *const op_names[NOPS] = {
	"open", "close", "read", "write", "pread", "pwrite", "readv", "writev",
	"lseek", "ioctl", "poll", "mmap", "fcntl", "sendfile", "dup", "fork",
};

/* Weights of the operations a worker picks. */
static const int op_weight[NOPS] = {
	14, 8, 14, 12, 5, 4, 3, 3, 8, 22, 2, 1, 2, 1, 3, 2,
};

/* Counters shared by every process (an anonymous shared mapping). */
struct shared {
	uint64_t ops[NOPS];
	uint64_t ok[NOPS];
	uint64_t err[NOPS][NERR];
	uint64_t dev_ops[MAX_DEVS];
	uint64_t internal[NOPS];	/* errno outside 1..133 returned */
	uint64_t anomalies;
	uint64_t children;		/* forks by workers */
	uint32_t notes_used, internal_used;
	char notes[NOTES][NOTE_LEN];	/* the first anomalies */
	char internal_notes[NOTES][NOTE_LEN];
	/* what each worker slot is doing, for unexpected deaths and hangs */
	char ring[MAX_PROCS][RING][RING_LEN];
	uint32_t ring_pos[MAX_PROCS];
	int sigint_caught[MAX_PROCS];	/* the worker has a SIGINT handler */
	uint64_t unloads, unload_busy, unload_other, reloads, reload_failed;
};

static struct shared *sh;
static const char *devs[MAX_DEVS];
static int ndevs;
static uint64_t seed = 20251201;
static int seconds = 20;
static int nprocs = 6;
static int grace = 60;
static struct { uint32_t cmd; int64_t max; } caps[MAX_CAPS];
static int ncaps;

/* scripts the loader process unloads and loads again (-L) */
struct reload {
	char name[KONOHA_NAME_LEN];
	char *image;
	size_t len;
	uint64_t budget, heap;
};

static struct reload reloads[MAX_RELOADS];
static int nreloads;

/* ---- helpers --------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng;

static uint64_t rnd(void)
{
	return splitmix(&rng);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int chance(int percent)
{
	return (int)below(100) < percent;
}

#define PICK(a) ((a)[below(sizeof(a) / sizeof((a)[0]))])

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double end_time;

static void add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static const char *errname(int e)
{
	static const struct { int e; const char *n; } names[] = {
		{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EINTR, "EINTR"},
		{EIO, "EIO"}, {ENXIO, "ENXIO"}, {EBADF, "EBADF"},
		{EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},
		{EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"},
		{ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"}, {EINVAL, "EINVAL"},
		{EMFILE, "EMFILE"}, {ENOTTY, "ENOTTY"}, {EFBIG, "EFBIG"},
		{ENOSPC, "ENOSPC"}, {ESPIPE, "ESPIPE"}, {ERANGE, "ERANGE"},
		{EOVERFLOW, "EOVERFLOW"}, {EOPNOTSUPP, "EOPNOTSUPP"},
		{ENOSYS, "ENOSYS"}, {ELOOP, "ELOOP"}, {515, "ENOIOCTLCMD"},
		{512, "ERESTARTSYS"}, {513, "ERESTARTNOINTR"},
		{514, "ERESTARTNOHAND"}, {516, "ERESTART_RESTARTBLOCK"},
	};
	static char buf[16];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Appends one formatted line to a fixed table of notes in shared memory. */
static void note(char (*table)[NOTE_LEN], uint32_t *used, const char *fmt, ...)
{
	uint32_t i = __atomic_fetch_add(used, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (i >= NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(table[i], NOTE_LEN, fmt, ap);
	va_end(ap);
}

/* ---- one worker ------------------------------------------------------------- */

struct fdent {
	int fd;
	int dev;
	int flags;		/* as opened, or -1 (a dup: not known) */
};

/* devs[i] belongs to a script the loader cycles (-L): its files are short-lived */
static int dev_cycled[MAX_DEVS];
/* devs[i] is a CharDevice (-c): no content cap on its positions */
static int dev_chr[MAX_DEVS];
static const char *chr_names[MAX_DEVS];
static int nchr_names;

static int slot;
static struct fdent fds[MAX_FDS];
static int nfds;
static char *buf;		/* BIG + a page, random bytes */
static char *rdonly;		/* a read-only page: reads into it fault */
static char *noaccess;		/* a PROT_NONE page */
static char last[RING_LEN];	/* the operation in progress, as text */
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	(void)sig;
	caught++;
}

/* Records the operation about to be made in this slot's ring. */
static void trace(const char *fmt, ...)
{
	uint32_t i = sh->ring_pos[slot]++ % RING;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last, sizeof(last), fmt, ap);
	va_end(ap);
	memcpy(sh->ring[slot][i], last, RING_LEN);
}

/* Counts the result of an operation: ret < 0 means errno e. */
static void count(enum op op, int dev, long ret, int e)
{
	add(&sh->ops[op], 1);
	if (dev >= 0)
		add(&sh->dev_ops[dev], 1);
	if (ret >= 0) {
		add(&sh->ok[op], 1);
		return;
	}
	add(&sh->err[op][e >= 0 && e < NERR - 1 ? e : NERR - 1], 1);
	/* Linux's user errnos end at 133 (EHWPOISON): above is a kernel bug */
	if (e > 133 || e < 1) {
		add(&sh->internal[op], 1);
		note(sh->internal_notes, &sh->internal_used, "%s on %s: errno %d (%s)",
		     last, dev >= 0 ? devs[dev] : "-", e, errname(e));
	}
}

static void anomaly(const char *fmt, ...)
{
	char text[NOTE_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add(&sh->anomalies, 1);
	note(sh->notes, &sh->notes_used, "%s (during: %s)", text, last);
}

static size_t pick_size(void)
{
	static const size_t sizes[] = {
		0, 1, 2, 7, 64, 100, 4095, 4096, 4097, 65535, 65536, 65537,
		BIG,
	};

	if (chance(25))
		return below(chance(50) ? 300 : 70000);
	return PICK(sizes);
}

static int64_t pick_offset(void)
{
	static const int64_t offs[] = {
		0, 0, 0, 1, -1, -2, 5, 4095, 4096, 65534, 65535, 65536, 65537,
		1 << 20, INT32_MAX, (int64_t)1 << 32, INT64_MAX, INT64_MIN,
		INT64_MIN + 1, INT64_MAX - 1,
	};

	if (chance(20))
		return (int64_t)below(70000);
	if (chance(3))
		return (int64_t)rnd();
	return PICK(offs);
}

/* A buffer for len bytes; sometimes a bad one. */
static char *pick_buffer(size_t len, int for_read)
{
	int r = (int)below(100);

	if (r < 3)
		return NULL;
	if (r < 5)
		return (char *)1;
	if (r < 7)
		return (char *)0xffffffff81000000ul;	/* kernel text */
	if (r < 9)
		return noaccess;
	if (r < 11 && for_read)
		return rdonly;
	if (r < 13 && len > 0 && len <= BIG)
		return buf + BIG + 4096 - len + below(64);	/* runs past the end */
	return buf + (len <= BIG ? below(BIG - len + 1) : 0);
}

static int64_t capped(uint32_t cmd, int64_t v)
{
	int i;

	for (i = 0; i < ncaps; i++) {
		if (caps[i].cmd != cmd)
			continue;
		if (v > caps[i].max)
			return caps[i].max;
		if (v < -caps[i].max)
			return -caps[i].max;
	}
	return v;
}

static int64_t pick_number(void)
{
	static const int64_t nums[] = {
		0, 1, 2, 3, 4, 5, -1, -5, 11, 22, 25, 100, 133, 134, 255, 512,
		513, 514, 516, 999, 1000, 1001, 4095, 4096, -4095, -4096, 65535,
		65536, 65537, 100000, -100000, 1000000, 100000000, INT32_MAX,
		(int64_t)INT32_MAX + 1, INT64_MAX, INT64_MIN, (int64_t)1 << 40,
		-512, -513, -514, -516, -133, -134,
		/* ioctl(2) returns an int: these read as -512, -516, -1 */
		0x1fffffe00ll, 0x7ffffffffffffdfcll, 0x1ffffffffll,
	};

	if (chance(30))
		return (int64_t)below(2000);
	if (chance(5))
		return (int64_t)rnd();
	return PICK(nums);
}

/* Bytes to write: random, or lines of the fuzz scripts' vocabulary. */
static void fill(char *p, size_t len)
{
	static const char *const words[] = {
		"put k%d v%d\n", "del k%d\n", "throw %d\n", "grow %d\n",
		"chain %d\n", "npe\n", "k%d=v%d", "%d\n", "%d", "hello %d\n",
	};
	char line[64];
	size_t at = 0;
	int n;

	if (len > 4096 + BIG - (size_t)(p - buf))
		return;
	if (chance(40)) {
		for (at = 0; at < len; at++)
			p[at] = (char)rnd();
		return;
	}
	while (at < len) {
		const char *w = PICK(words);
		int64_t a = pick_number(), b = (int64_t)below(100);

		if (!strncmp(w, "chain", 5))
			a = capped(108, a);
		if (!strcmp(w, "%d\n") && chance(50))
			a = PICK(((const int64_t[]){65535, 65536, 65537, 0, 1, 100}));
		n = snprintf(line, sizeof(line), w, (int)a, (int)b);
		if (n <= 0)
			break;
		if ((size_t)n > len - at)
			n = (int)(len - at);
		memcpy(p + at, line, (size_t)n);
		at += (size_t)n;
	}
}

/*
 * A descriptor to use; want is O_RDONLY or O_WRONLY when the operation
 * reads or writes (a few tries favour a descriptor opened for it), -1
 * otherwise. Now and then a closed or never opened one (EBADF).
 */
static int pick_fd_for(int want, int *dev)
{
	int i = 0, tries, acc;

	if (!nfds || chance(2)) {
		*dev = -1;
		return chance(50) ? -1 : 1000;
	}
	for (tries = 0; tries < 3; tries++) {
		i = (int)below((uint64_t)nfds);
		acc = fds[i].flags < 0 ? O_RDWR : fds[i].flags & (O_ACCMODE | O_PATH);
		if (want < 0 || acc == O_RDWR || acc == want)
			break;
	}
	*dev = fds[i].dev;
	return fds[i].fd;
}

static int pick_fd(int *dev)
{
	return pick_fd_for(-1, dev);
}

static void forget_fd(int fd)
{
	int i;

	for (i = 0; i < nfds; i++) {
		if (fds[i].fd == fd) {
			fds[i] = fds[--nfds];
			return;
		}
	}
}

static void keep_fd(int fd, int dev, int flags)
{
	if (nfds == MAX_FDS) {
		/* the table is full: close one at random */
		int i = (int)below(MAX_FDS);

		close(fds[i].fd);
		fds[i] = fds[--nfds];
	}
	fds[nfds].fd = fd;
	fds[nfds].dev = dev;
	fds[nfds].flags = flags;
	nfds++;
}

static void do_open(void)
{
	/* 3 (O_ACCMODE) opens for ioctl only, without read or write */
	static const int modes[] = {
		O_RDONLY, O_RDONLY, O_WRONLY, O_RDWR, O_RDWR, O_RDWR, O_RDWR, 3,
	};
	static const int extras[] = {
		O_NONBLOCK, O_NONBLOCK, O_APPEND, O_APPEND, O_CLOEXEC, O_TRUNC,
		O_NOCTTY, O_SYNC, O_CREAT, O_NOFOLLOW,
	};
	/* flags that make the open fail, or give a descriptor without I/O */
	static const int rare[] = {
		O_CREAT | O_EXCL, O_PATH, O_DIRECTORY, O_NOATIME,
	};
	int dev = (int)below((uint64_t)ndevs), flags = PICK(modes), fd, k;

	for (k = (int)below(3); k > 0; k--)
		if (chance(60))
			flags |= PICK(extras);
	if (chance(4))
		flags |= PICK(rare);
	/*
	 * While its script is unloaded, a root worker's O_CREAT would make
	 * /dev/NAME a regular file, and the name taken keeps the script from
	 * loading again (EEXIST, the language reference §9.3).
	 */
	if (dev_cycled[dev])
		flags &= ~(O_CREAT | O_EXCL);
	trace("open(%s, %#x)", devs[dev], flags);
	fd = open(devs[dev], flags, 0666);
	count(OP_OPEN, dev, fd, errno);
	if (fd >= 0)
		keep_fd(fd, dev, flags);
}

static void do_close(void)
{
	int dev, fd = pick_fd(&dev), r;

	trace("close(%d)", fd);
	r = close(fd);
	count(OP_CLOSE, dev, r, errno);
	forget_fd(fd);
}

static void check_count(const char *what, long r, size_t len)
{
	if (r > 0 && ((size_t)r > len || r > 65536))
		anomaly("%s returned %ld for a count of %zu", what, r, len);
}

static void do_read(int positional)
{
	int dev, fd = pick_fd_for(O_RDONLY, &dev);
	size_t len = pick_size();
	char *p = pick_buffer(len, 1);
	int64_t off = positional ? pick_offset() : 0;
	long r;

	if (positional) {
		trace("pread(%d, %p, %zu, %lld)", fd, (void *)p, len, (long long)off);
		r = pread(fd, p, len, off);
		if (r >= 0 && off < 0)
			anomaly("pread at negative offset %lld returned %ld",
				(long long)off, r);
	} else {
		trace("read(%d, %p, %zu)", fd, (void *)p, len);
		r = read(fd, p, len);
	}
	count(positional ? OP_PREAD : OP_READ, dev, r, errno);
	check_count(positional ? "pread" : "read", r, len);
}

static void do_write(int positional)
{
	int dev, fd = pick_fd_for(O_WRONLY, &dev);
	size_t len = pick_size();
	char *p = pick_buffer(len, 0);
	int64_t off = positional ? pick_offset() : 0;
	long r;

	if (p >= buf && p < buf + BIG + 4096)
		fill(p, len);
	if (positional) {
		trace("pwrite(%d, %p, %zu, %lld)", fd, (void *)p, len, (long long)off);
		r = pwrite(fd, p, len, off);
	} else {
		trace("write(%d, %p, %zu)", fd, (void *)p, len);
		r = write(fd, p, len);
	}
	count(positional ? OP_PWRITE : OP_WRITE, dev, r, errno);
	check_count(positional ? "pwrite" : "write", r, len);
}

static void do_vector(int writing)
{
	struct iovec iov[4];
	int dev, fd = pick_fd_for(writing ? O_WRONLY : O_RDONLY, &dev);
	int n = 1 + (int)below(4), i;
	size_t total = 0;
	long r;

	for (i = 0; i < n; i++) {
		iov[i].iov_len = chance(70) ? below(5000) : pick_size();
		iov[i].iov_base = pick_buffer(iov[i].iov_len, !writing);
		if (writing && (char *)iov[i].iov_base >= buf &&
		    (char *)iov[i].iov_base < buf + BIG + 4096)
			fill(iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	trace("%s(%d, %d iovecs, %zu bytes)", writing ? "writev" : "readv", fd, n, total);
	r = writing ? writev(fd, iov, n) : readv(fd, iov, n);
	count(writing ? OP_WRITEV : OP_READV, dev, r, errno);
	if (r > 0 && (size_t)r > total)
		anomaly("%s returned %ld for %zu bytes", writing ? "writev" : "readv",
			r, total);
}

static void do_lseek(void)
{
	static const int whences[] = {
		SEEK_SET, SEEK_SET, SEEK_CUR, SEEK_CUR, SEEK_END, SEEK_END,
		SEEK_DATA, SEEK_HOLE, 5, -1, INT_MAX,
	};
	int dev, fd = pick_fd(&dev), whence = PICK(whences);
	int64_t off = pick_offset();
	off_t r;

	trace("lseek(%d, %lld, %d)", fd, (long long)off, whence);
	r = lseek(fd, off, whence);
	count(OP_LSEEK, dev, r, errno);
	if (r >= 0 && whence == SEEK_SET && r != off)
		anomaly("lseek(SEEK_SET, %lld) returned %lld", (long long)off,
			(long long)r);
	if (r > 65536 && whence != SEEK_DATA && whence != SEEK_HOLE &&
	    (dev < 0 || !dev_chr[dev]))
		anomaly("lseek to %lld, past the 64 KiB content cap", (long long)r);
}

static void do_ioctl(void)
{
	/*
	 * Commands the VFS answers itself (FIGETBSZ, FIONBIO, FIOCLEX...) or
	 * passes to the driver (FIONREAD, TCGETS...). FIFREEZE, FITHAW and
	 * the clone and dedupe requests are left out: they act on the file
	 * system of /dev, not on the device.
	 */
	static const uint32_t vfs_cmds[] = {
		1 /* FIBMAP */, 2 /* FIGETBSZ */, FIONREAD, FIONBIO, FIOASYNC,
		FIOCLEX, FIONCLEX, FIOQSIZE, TCGETS, TCSETS, TIOCGWINSZ,
		TIOCSTI, TIOCGPGRP, 0x80086601 /* FS_IOC_GETFLAGS */,
		0x80087601 /* FS_IOC_GETVERSION */, 0xc020b701 /* KONOHA_IOC_LOAD */,
		0x4020b702, 0xc018b703, 0, 0xffffffffu, 0x80000000u,
	};
	int dev, fd = pick_fd(&dev);
	uint32_t cmd;
	int64_t arg;
	long r;
	int pointer = 0;

	if (chance(65))
		cmd = 100 + (uint32_t)below(24);
	else if (chance(3))
		cmd = 198 + (uint32_t)below(2);	/* reset, churn */
	else if (chance(60))
		cmd = PICK(vfs_cmds);
	else
		cmd = (uint32_t)rnd();
	if (chance(20)) {
		arg = (int64_t)(uintptr_t)pick_buffer(4096, 1);
		pointer = 1;
	} else {
		arg = pick_number();
	}
	if (cmd == FIONBIO || cmd == FIOASYNC || cmd == FIOQSIZE ||
	    cmd == FIONREAD || cmd == 2) {
		if (chance(80)) {
			*(int *)buf = (int)below(2);
			arg = (int64_t)(uintptr_t)buf;
			pointer = 1;
		}
	}
	if (!pointer)
		arg = capped(cmd, arg);
	trace("ioctl(%d, %#x, %#llx)", fd, cmd, (unsigned long long)arg);
	r = syscall(SYS_ioctl, fd, (unsigned long)cmd, (unsigned long)arg);
	count(OP_IOCTL, dev, r, errno);
}

static void do_misc(enum op op)
{
	int dev, fd = pick_fd(&dev), r = 0, fl;
	struct pollfd pfd;
	void *m;

	switch (op) {
	case OP_POLL:
		pfd.fd = fd;
		pfd.events = POLLIN | POLLOUT | POLLPRI;
		trace("poll(%d)", fd);
		r = poll(&pfd, 1, (int)below(3));
		break;
	case OP_MMAP:
		trace("mmap(%d)", fd);
		m = mmap(NULL, 4096, chance(50) ? PROT_READ : PROT_READ | PROT_WRITE,
			 chance(50) ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		r = m == MAP_FAILED ? -1 : 0;
		if (m != MAP_FAILED) {
			anomaly("mmap of a script device succeeded");
			munmap(m, 4096);
		}
		break;
	case OP_FCNTL:
		trace("fcntl(%d, F_SETFL)", fd);
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fl ^= PICK(((const int[]){O_NONBLOCK, O_APPEND, O_ASYNC}));
		r = fcntl(fd, F_SETFL, fl < 0 ? 0 : fl);
		break;
	case OP_SENDFILE:
		trace("sendfile(null, %d)", fd);
		{
			int out = open("/dev/null", O_WRONLY);

			r = (int)sendfile(out, fd, NULL, pick_size());
			fl = errno;
			close(out);
			errno = fl;
		}
		break;
	case OP_DUP:
		trace("dup(%d)", fd);
		r = chance(50) ? dup(fd) : fcntl(fd, F_DUPFD_CLOEXEC, 20);
		if (r >= 0)
			keep_fd(r, dev, -1);
		break;
	default:
		return;
	}
	count(op, dev, r, errno);
}

static void one_op(void);

/*
 * Files of the devices the loader unloads are closed soon after they are
 * opened: otherwise some worker always holds one and every unload meets
 * EBUSY.
 */
static void close_cycled(void)
{
	int i;

	for (i = 0; i < nfds; i++) {
		if (fds[i].dev >= 0 && dev_cycled[fds[i].dev] && chance(10)) {
			close(fds[i].fd);
			fds[i] = fds[--nfds];
			i--;
		}
	}
}

/*
 * A child that holds every descriptor of the worker: it makes a few
 * operations (through the shared open files) and exits, or is killed by
 * the worker, or simply exits at once.
 */
static void do_fork(void)
{
	pid_t pid;
	int i, n;

	trace("fork (%d fds)", nfds);
	pid = fork();
	if (pid != 0)
		count(OP_FORK, -1, pid, errno);
	if (pid < 0)
		return;
	if (pid == 0) {
		alarm(5);
		add(&sh->children, 1);
		n = chance(30) ? 0 : (int)below(6);
		for (i = 0; i < n && now() < end_time; i++)
			one_op();
		_exit(0);
	}
	if (chance(30)) {
		usleep((useconds_t)below(3000));
		kill(pid, SIGKILL);
	}
	if (chance(50))
		waitpid(pid, NULL, 0);
}

static void one_op(void)
{
	int total = 0, r, i;

	for (i = 0; i < NOPS; i++)
		total += op_weight[i];
	if (!nfds) {
		do_open();
		return;
	}
	r = (int)below((uint64_t)total);
	for (i = 0; i < NOPS; i++) {
		r -= op_weight[i];
		if (r < 0)
			break;
	}
	switch ((enum op)i) {
	case OP_OPEN:
		do_open();
		break;
	case OP_CLOSE:
		do_close();
		break;
	case OP_READ:
	case OP_PREAD:
		do_read(i == OP_PREAD);
		break;
	case OP_WRITE:
	case OP_PWRITE:
		do_write(i == OP_PWRITE);
		break;
	case OP_READV:
	case OP_WRITEV:
		do_vector(i == OP_WRITEV);
		break;
	case OP_LSEEK:
		do_lseek();
		break;
	case OP_IOCTL:
		do_ioctl();
		break;
	case OP_FORK:
		do_fork();
		break;
	default:
		do_misc((enum op)i);
		break;
	}
}

static void worker(int s, uint64_t wseed, uid_t uid)
{
	struct sigaction sa;
	int mode;

	slot = s;
	rng = wseed;
	setpgid(0, 0);		/* the parent kills the worker's whole group */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned int)(end_time - now()) + 10);
	memset(&sa, 0, sizeof(sa));
	mode = (int)below(3);	/* SIGINT: default, caught, caught + restart */
	if (mode) {
		sh->sigint_caught[s] = 1;
		sa.sa_handler = on_signal;
		sa.sa_flags = mode == 2 ? SA_RESTART : 0;
		sigaction(SIGINT, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	buf = mmap(NULL, BIG + 3 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(3);
	/* buf: BIG + a page, then a read-only page, then an inaccessible one */
	rdonly = buf + BIG + 4096;
	noaccess = rdonly + 4096;
	mprotect(rdonly, 4096, PROT_READ);
	mprotect(noaccess, 4096, PROT_NONE);
	fill(buf, 4096);
	if (uid) {
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			_exit(4);
	}
	while (now() < end_time) {
		one_op();
		close_cycled();
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	_exit(0);
}

/* ---- the loader -------------------------------------------------------------- */

static int load_script(int konoha, const struct reload *r, char *msg, size_t msg_len)
{
	struct konoha_load ld;

	memset(&ld, 0, sizeof(ld));
	memcpy(ld.name, r->name, sizeof(ld.name));
	ld.image = (uint64_t)(uintptr_t)r->image;
	ld.image_len = r->len;
	ld.budget = r->budget;
	ld.heap = r->heap;
	ld.msg = (uint64_t)(uintptr_t)msg;
	ld.msg_len = (uint32_t)msg_len;
	msg[0] = '\0';
	return ioctl(konoha, KONOHA_IOC_LOAD, &ld) < 0 ? errno : 0;
}

/* Loads r again until it works (a script of a name is loaded once). */
static void reload(int konoha, const struct reload *r)
{
	char msg[512];
	int err = 0, i;

	for (i = 0; i < 20; i++) {
		err = load_script(konoha, r, msg, sizeof(msg));
		if (!err) {
			add(&sh->reloads, 1);
			return;
		}
		usleep(100000);
	}
	add(&sh->reload_failed, 1);
	snprintf(last, sizeof(last), "load %.31s", r->name);
	anomaly("reloading %s failed: %s (errno %d): %.80s", r->name,
		strerror(err), err, msg);
}

static void loader(uint64_t lseed)
{
	struct konoha_unload ul;
	const struct reload *r;
	char msg[512];
	int konoha, i, err;

	rng = lseed;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned int)(end_time - now()) + (unsigned int)grace);
	konoha = open("/dev/konoha", O_RDWR);
	if (konoha < 0) {
		snprintf(last, sizeof(last), "open /dev/konoha");
		anomaly("the loader cannot open /dev/konoha: %s", strerror(errno));
		_exit(5);
	}
	while (now() < end_time) {
		usleep((useconds_t)(20000 + below(180000)));
		r = &reloads[below((uint64_t)nreloads)];
		memset(&ul, 0, sizeof(ul));
		memcpy(ul.name, r->name, sizeof(ul.name));
		if (!ioctl(konoha, KONOHA_IOC_UNLOAD, &ul)) {
			add(&sh->unloads, 1);
			usleep((useconds_t)below(50000));
			reload(konoha, r);
		} else if (errno == EBUSY || errno == EINTR) {
			add(&sh->unload_busy, 1);
		} else {
			add(&sh->unload_other, 1);
			snprintf(last, sizeof(last), "unload %.31s", r->name);
			anomaly("unloading %s failed: %s", r->name, strerror(errno));
			reload(konoha, r);
		}
	}
	/* leave every script loaded, as it was before the run */
	for (i = 0; i < nreloads; i++) {
		err = load_script(konoha, &reloads[i], msg, sizeof(msg));
		if (err && err != EEXIST)
			reload(konoha, &reloads[i]);
	}
	_exit(0);
}

/* -L NAME:IMAGE:BUDGET:HEAP */
static int parse_reload(char *arg)
{
	struct reload *r = &reloads[nreloads];
	char *name = strtok(arg, ":"), *path = strtok(NULL, ":");
	char *budget = strtok(NULL, ":"), *heap = strtok(NULL, ":");
	struct stat st;
	int fd;

	if (nreloads == MAX_RELOADS || !name || !path || !budget || !heap ||
	    strlen(name) >= sizeof(r->name))
		return -1;
	strcpy(r->name, name);
	r->budget = strtoull(budget, NULL, 0);
	r->heap = strtoull(heap, NULL, 0);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		perror(path);
		return -1;
	}
	r->len = (size_t)st.st_size;
	r->image = malloc(r->len);
	if (!r->image || read(fd, r->image, r->len) != (ssize_t)r->len)
		return -1;
	close(fd);
	nreloads++;
	return 0;
}

/* ---- the parent ------------------------------------------------------------ */

struct proc {
	pid_t pid;
	uid_t uid;
	int sent;		/* the fatal signal sent, or 0 */
	double sent_at;
	int stopped;
	double stopped_at;
};

static struct proc procs[MAX_PROCS];
static uint64_t started, deaths_expected, sent_count[32];
static double lat_sum, lat_max;
static uint64_t lat_n;
static int unexpected;
static pid_t loader_pid;

static pid_t spawn(int s, uint64_t generation)
{
	static const uid_t uids[] = { 0, 1000, 1001 };
	uint64_t ws = seed ^ ((uint64_t)s << 40) ^ (generation * 0x9e3779b97f4a7c15ull);
	pid_t pid;

	splitmix(&ws);
	procs[s].uid = uids[s % 3];
	sh->sigint_caught[s] = 0;
	pid = fork();
	if (pid == 0)
		worker(s, ws, procs[s].uid);
	if (pid > 0) {
		setpgid(pid, pid);
		started++;
	}
	procs[s].pid = pid;
	procs[s].sent = 0;
	procs[s].stopped = 0;
	return pid;
}

static void print_ring(int s)
{
	uint32_t i, n = sh->ring_pos[s];

	for (i = n > RING ? n - RING : 0; i < n; i++)
		printf("    %s\n", sh->ring[s][i % RING]);
}

static int slot_of(pid_t pid)
{
	int s;

	for (s = 0; s < nprocs; s++)
		if (procs[s].pid == pid)
			return s;
	return -1;
}

/* A child has ended: account for it. */
static void reaped(pid_t pid, int status, int respawn, uint64_t *generation)
{
	int s = slot_of(pid), sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	double t = now();

	if (pid == loader_pid) {
		loader_pid = 0;
		if (sig || !WIFEXITED(status) || WEXITSTATUS(status)) {
			unexpected++;
			printf("UNEXPECTED: the loader (pid %d) ended with status %#x\n",
			       pid, status);
		}
		return;
	}
	if (s < 0) {
		/* a worker's child, adopted: only faults are news */
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL) {
			printf("UNEXPECTED: a forked child (pid %d) died of signal %d\n",
			       pid, sig);
			unexpected++;
		}
		return;
	}
	if (procs[s].sent && sig == procs[s].sent) {
		deaths_expected++;
		if (sig == SIGKILL && procs[s].sent == SIGKILL) {
			double lat = t - procs[s].sent_at;

			lat_sum += lat;
			lat_n++;
			if (lat > lat_max)
				lat_max = lat;
		}
	} else if (sig && sig != SIGALRM) {
		unexpected++;
		printf("UNEXPECTED: worker %d (pid %d, uid %d) died of signal %d; "
		       "its last operations:\n", s, pid, procs[s].uid, sig);
		print_ring(s);
	} else if (sig == SIGALRM) {
		unexpected++;
		printf("UNEXPECTED: worker %d (pid %d) outlived its alarm; its last "
		       "operations:\n", s, pid);
		print_ring(s);
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		unexpected++;
		printf("UNEXPECTED: worker %d (pid %d) exited with status %d\n",
		       s, pid, WEXITSTATUS(status));
	}
	procs[s].pid = 0;
	if (respawn && t < end_time - 0.2) {
		(*generation)++;
		spawn(s, *generation);
	}
}

static void harass(void)
{
	static const int sigs[] = {
		SIGKILL, SIGKILL, SIGKILL, SIGTERM, SIGINT, SIGINT, SIGSTOP,
		SIGSTOP,
	};
	int victims = nprocs / 2, s, sig;

	if (!victims)
		return;
	s = nprocs - 1 - (int)below((uint64_t)victims);
	if (procs[s].pid <= 0 || procs[s].sent)
		return;
	sig = PICK(sigs);
	if (procs[s].stopped && sig == SIGSTOP)
		return;
	sent_count[sig]++;
	kill(procs[s].pid, sig);
	if (sig == SIGSTOP) {
		procs[s].stopped = 1;
		procs[s].stopped_at = now();
		return;
	}
	/* SIGINT may be caught: then it is not fatal */
	procs[s].sent = sig;
	procs[s].sent_at = now();
	if (sig == SIGINT)
		procs[s].sent = SIGINT;
	if (procs[s].stopped) {
		kill(procs[s].pid, SIGCONT);
		procs[s].stopped = 0;
	}
}

static void show_proc(pid_t pid)
{
	char path[64], text[4096];
	ssize_t n;
	int fd;
	const char *files[] = { "stat", "wchan", "stack" };
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n <= 0)
			continue;
		text[n] = '\0';
		printf("    %s: %s%s", files[i], text, text[n - 1] == '\n' ? "" : "\n");
	}
}

/* Kills everything left and waits for it; returns the number left over. */
static int finish(uint64_t *generation)
{
	double until;
	int s, status, left;
	pid_t pid;

	for (s = 0; s < nprocs; s++) {
		if (procs[s].pid <= 0)
			continue;
		kill(-procs[s].pid, SIGKILL);
		kill(procs[s].pid, SIGKILL);
		kill(-procs[s].pid, SIGCONT);
		procs[s].sent = SIGKILL;
		procs[s].sent_at = now();
	}
	until = now() + grace;
	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			reaped(pid, status, 0, generation);
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			return 0;
		if (now() > until)
			break;
		usleep(20000);
	}
	left = 0;
	if (loader_pid > 0) {
		left++;
		printf("HANG: the loader (pid %d) still there %d s after the end\n",
		       loader_pid, grace);
		show_proc(loader_pid);
	}
	for (s = 0; s < nprocs; s++) {
		if (procs[s].pid <= 0)
			continue;
		left++;
		printf("HANG: worker %d (pid %d, uid %d) still there %d s after "
		       "SIGKILL; its last operations:\n", s, procs[s].pid,
		       procs[s].uid, grace);
		print_ring(s);
		show_proc(procs[s].pid);
	}
	if (!left)
		printf("HANG: children of workers still there %d s after SIGKILL\n",
		       grace);
	return left ? left : 1;
}

static void summary(double elapsed, int hangs)
{
	uint64_t total = 0, internal = 0;
	int op, e, shown;

	for (op = 0; op < NOPS; op++) {
		total += sh->ops[op];
		internal += sh->internal[op];
	}
	printf("ksysfuzz: seed %llu, %.1f s, %d processes at a time (uids 0, 1000, "
	       "1001), %d devices\n", (unsigned long long)seed, elapsed, nprocs, ndevs);
	printf("ops %llu (%.0f/s); workers started %llu, forked children %llu\n",
	       (unsigned long long)total, elapsed > 0 ? (double)total / elapsed : 0.0,
	       (unsigned long long)started, (unsigned long long)sh->children);
	for (op = 0; op < NOPS; op++) {
		printf("  %-8s %7llu ok %7llu", op_names[op],
		       (unsigned long long)sh->ops[op], (unsigned long long)sh->ok[op]);
		shown = 0;
		for (e = 1; e < NERR && shown < 9; e++) {
			if (!sh->err[op][e])
				continue;
			printf(" %s:%llu", e == NERR - 1 ? "E>598" : errname(e),
			       (unsigned long long)sh->err[op][e]);
			shown++;
		}
		printf("\n");
	}
	printf("  per device:");
	for (e = 0; e < ndevs; e++)
		printf(" %s:%llu", strrchr(devs[e], '/') ? strrchr(devs[e], '/') + 1 :
		       devs[e], (unsigned long long)sh->dev_ops[e]);
	printf("\n");
	printf("signals sent: SIGKILL %llu, SIGTERM %llu, SIGINT %llu, SIGSTOP %llu; "
	       "deaths by them %llu\n", (unsigned long long)sent_count[SIGKILL],
	       (unsigned long long)sent_count[SIGTERM],
	       (unsigned long long)sent_count[SIGINT],
	       (unsigned long long)sent_count[SIGSTOP],
	       (unsigned long long)deaths_expected);
	printf("kill latency (SIGKILL to reaped): %llu kills, mean %.0f ms, max %.0f ms\n",
	       (unsigned long long)lat_n, lat_n ? lat_sum * 1000 / (double)lat_n : 0.0,
	       lat_max * 1000);
	if (nreloads)
		printf("unloads: %llu done (each loaded again: %llu, failed %llu), "
		       "%llu busy, %llu other\n",
		       (unsigned long long)sh->unloads, (unsigned long long)sh->reloads,
		       (unsigned long long)sh->reload_failed,
		       (unsigned long long)sh->unload_busy,
		       (unsigned long long)sh->unload_other);
	printf("errnos outside 1..133 returned to userspace: %llu\n",
	       (unsigned long long)internal);
	for (e = 0; e < (int)sh->internal_used && e < NOTES; e++)
		printf("    %s\n", sh->internal_notes[e]);
	printf("anomalies: %llu\n", (unsigned long long)sh->anomalies);
	for (e = 0; e < (int)sh->notes_used && e < NOTES; e++)
		printf("    %s\n", sh->notes[e]);
	printf("unexpected deaths: %d\n", unexpected);
	printf("hangs: %d\n", hangs);
}

static int usage(void)
{
	fprintf(stderr, "usage: ksysfuzz [-s SEED] [-t SECONDS] [-p PROCS] "
		"[-g GRACE] [-x CMD:MAX]... [-L NAME:IMAGE:BUDGET:HEAP]... "
		"[-c NAME]... DEV...\n");
	return USAGE_EXIT;
}

int main(int argc, char **argv)
{
	uint64_t generation = 0;
	double start, next_signal;
	int opt, s, status, hangs = 0;
	pid_t pid;
	char *colon;

	while ((opt = getopt(argc, argv, "s:t:p:g:x:L:c:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		case 'p':
			nprocs = atoi(optarg);
			break;
		case 'g':
			grace = atoi(optarg);
			break;
		case 'x':
			colon = strchr(optarg, ':');
			if (!colon || ncaps == MAX_CAPS)
				return usage();
			caps[ncaps].cmd = (uint32_t)strtoul(optarg, NULL, 0);
			caps[ncaps].max = strtoll(colon + 1, NULL, 0);
			ncaps++;
			break;
		case 'L':
			if (parse_reload(optarg))
				return usage();
			break;
		case 'c':
			if (nchr_names == MAX_DEVS)
				return usage();
			chr_names[nchr_names++] = optarg;
			break;
		default:
			return usage();
		}
	}
	for (; optind < argc && ndevs < MAX_DEVS; optind++) {
		const char *base = strrchr(argv[optind], '/');
		int i;

		base = base ? base + 1 : argv[optind];
		for (i = 0; i < nreloads; i++)
			if (!strcmp(base, reloads[i].name))
				dev_cycled[ndevs] = 1;
		for (i = 0; i < nchr_names; i++)
			if (!strcmp(base, chr_names[i]))
				dev_chr[ndevs] = 1;
		devs[ndevs++] = argv[optind];
	}
	if (!ndevs || seconds <= 0 || nprocs < 1 || nprocs > MAX_PROCS || grace < 1)
		return usage();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 3;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* orphans of killed workers come back to us, to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	rng = seed;
	start = now();
	end_time = start + seconds;
	/* the last resort: the parent itself never outlives its budget */
	alarm((unsigned int)(seconds + grace + 30));
	for (s = 0; s < nprocs; s++)
		spawn(s, generation);
	if (nreloads) {
		uint64_t ls = seed ^ 0x10adull;

		splitmix(&ls);
		loader_pid = fork();
		if (loader_pid == 0)
			loader(ls);
	}
	next_signal = now() + 0.5;
	while (now() < end_time) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			reaped(pid, status, 1, &generation);
			continue;
		}
		for (s = 0; s < nprocs; s++) {
			if (procs[s].stopped && now() - procs[s].stopped_at > 0.05) {
				kill(procs[s].pid, SIGCONT);
				procs[s].stopped = 0;
			}
			/*
			 * A caught SIGINT is not fatal: forget it after a
			 * while. An uncaught one is, however late it acts (a
			 * long callback delays it).
			 */
			if (procs[s].sent == SIGINT && sh->sigint_caught[s] &&
			    now() - procs[s].sent_at > 2)
				procs[s].sent = 0;
			if (procs[s].pid <= 0 && now() < end_time - 0.2)
				spawn(s, ++generation);
		}
		if (now() >= next_signal) {
			harass();
			next_signal = now() + 0.05 + (double)below(600) / 1000.0;
		}
		usleep(5000);
	}
	hangs = finish(&generation);
	summary(now() - start, hangs);
	if (hangs)
		return 2;
	return sh->anomalies || unexpected ? 1 : 0;
}
