// SPDX-License-Identifier: GPL-2.0
/*
 * kchr: drives the rot13 and FIFO character devices of the chardev
 * benchmark (bench/test_chardev.py) and of the ref_device suite: the C
 * peers kref_rot13.ko and kref_fifo.ko, and their K twins examples/rot13.k
 * and examples/fifo.k, which must behave alike.
 *
 *   kchr rot13 [-b WBS] [-r RBS] [-n BLOCKS] [-w WARMUP] DEV
 *	One open file: BLOCKS times, write a block of WBS bytes (all of
 *	it, over short writes) and read it back in reads of RBS bytes
 *	(default WBS), after WARMUP untimed blocks.  Every byte read is
 *	checked against the rot13 of what was written; the blocks cycle
 *	through all 256 byte values.  Prints
 *	  rot13 DEV bs=WBS blocks=N total_ns=T mib_per_s=X
 *	(MiB written and read back per second: each byte crosses twice).
 *   kchr rot13cap DEV
 *	A write over 64 KiB queues 65536 bytes (a short write), the next
 *	one fails with ENOSPC, a read of all of them drains the queue.
 *   kchr pingpong [-n N] [-w WARMUP] [-s SIZE] DEV_AB DEV_BA
 *	Two processes: A writes a SIZE-byte message to DEV_AB and reads the
 *	reply from DEV_BA; B reads from DEV_AB and answers on DEV_BA.  N
 *	timed round trips after WARMUP.  Prints
 *	  pingpong DEV_AB DEV_BA round_trips=N total_ns=T per_s=X
 *   kchr fifocheck DEV
 *	The FIFO's contract: a read of 0 bytes returns 0 at once, even
 *	blocking and empty; O_NONBLOCK read of an empty FIFO is EAGAIN;
 *	poll reports OUT only; O_NONBLOCK writes fill it to 65536 bytes, then
 *	EAGAIN; poll reports IN and OUT no longer; reads drain it in order;
 *	a reader blocked in read(2) (and one blocked in poll(2)) is woken by
 *	a writer from another process; SIGUSR1 without SA_RESTART ends a
 *	blocked read with EINTR.
 *
 * Exits 1 with a message on the first failure.  Built with gcc -static:
 * the test initramfs has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIFO_CAP 65536
#define BLOCK_MAX (1 << 20)

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *fmt, const char *what)
{
	fprintf(stderr, "kchr: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	exit(1);
}

static void fail_errno(const char *what)
{
	fprintf(stderr, "kchr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		fail_errno(path);
	return fd;
}

static unsigned char rot13(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return 'a' + (c - 'a' + 13) % 26;
	if (c >= 'A' && c <= 'Z')
		return 'A' + (c - 'A' + 13) % 26;
	return c;
}

/* Write all n bytes of buf, over short writes. */
static void write_all(int fd, const unsigned char *buf, size_t n, const char *what)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0)
			fail_errno(what);
		if (w == 0)
			fail("%s: write returned 0", what);
		buf += w;
		n -= w;
	}
}

/* Read exactly n bytes into buf in reads of at most chunk bytes. */
static void read_all(int fd, unsigned char *buf, size_t n, size_t chunk,
		     const char *what)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n < chunk ? n : chunk);

		if (r < 0)
			fail_errno(what);
		if (r == 0)
			fail("%s: end of file before the whole block", what);
		buf += r;
		n -= r;
	}
}

/* ---- rot13 ------------------------------------------------------------- */

static int cmd_rot13(int argc, char **argv)
{
	long wbs = 4096, rbs = 0, blocks = 1000, warmup = 20, i;
	unsigned char *src, *dst;
	long long start, total;
	size_t j, off = 0;
	int opt, fd;

	while ((opt = getopt(argc, argv, "b:r:n:w:")) != -1) {
		switch (opt) {
		case 'b': wbs = strtol(optarg, NULL, 10); break;
		case 'r': rbs = strtol(optarg, NULL, 10); break;
		case 'n': blocks = strtol(optarg, NULL, 10); break;
		case 'w': warmup = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!rbs)
		rbs = wbs;
	if (optind != argc - 1 || wbs <= 0 || wbs > BLOCK_MAX || rbs <= 0 ||
	    rbs > BLOCK_MAX || blocks <= 0 || warmup < 0)
		return 2;
	/* One source buffer of 256 + wbs bytes; block k starts at k % 256. */
	src = malloc(wbs + 256);
	dst = malloc(wbs);
	if (!src || !dst)
		fail("%s", "out of memory");
	for (j = 0; j < (size_t)wbs + 256; j++)
		src[j] = (unsigned char)(j * 7 + j / 256);
	fd = open_or_die(argv[optind], O_RDWR);
	start = 0;
	for (i = -warmup; i < blocks; i++) {
		if (i == 0)
			start = now_ns();
		off = (size_t)(i + warmup) % 256;
		write_all(fd, src + off, wbs, "rot13 write");
		read_all(fd, dst, wbs, rbs, "rot13 read");
		/* Check every byte of untimed blocks, and a sample of timed ones
		 * (the last one whole, below), so the check costs every device
		 * the same little time. */
		for (j = 0; j < (size_t)wbs; j += i < 0 ? 1 : 509)
			if (dst[j] != rot13(src[off + j]))
				goto mismatch;
	}
	total = now_ns() - start;
	for (j = 0; j < (size_t)wbs; j++)
		if (dst[j] != rot13(src[off + j]))
			goto mismatch;
	{
		char b[1];
		ssize_t r = read(fd, b, 1);

		if (r != 0)
			fail("%s: bytes left after the last block", argv[optind]);
	}
	close(fd);
	printf("rot13 %s bs=%ld blocks=%ld total_ns=%lld mib_per_s=%.2f\n",
	       argv[optind], wbs, blocks, total,
	       (double)wbs * blocks / (1 << 20) / (total / 1e9));
	return 0;
mismatch:
	fprintf(stderr, "kchr: rot13 %s: block %ld byte %zu: got 0x%02x, want 0x%02x\n",
		argv[optind], i, j, dst[j], rot13(src[off + j]));
	return 1;
}

static int cmd_rot13cap(int argc, char **argv)
{
	static unsigned char big[FIFO_CAP + 4464], back[FIFO_CAP + 1];
	ssize_t w, r;
	size_t j;
	int fd;

	if (argc != 2)
		return 2;
	for (j = 0; j < sizeof(big); j++)
		big[j] = 'a' + j % 26;
	fd = open_or_die(argv[1], O_RDWR);
	w = write(fd, big, sizeof(big));
	if (w != FIFO_CAP) {
		fprintf(stderr, "kchr: write of %zu bytes returned %zd (%s), want %d\n",
			sizeof(big), w, w < 0 ? strerror(errno) : "short", FIFO_CAP);
		return 1;
	}
	w = write(fd, big, 1);
	if (w != -1 || errno != ENOSPC) {
		fprintf(stderr, "kchr: write to a full queue returned %zd (%s), want ENOSPC\n",
			w, w < 0 ? strerror(errno) : "no error");
		return 1;
	}
	r = read(fd, back, sizeof(back));
	if (r != FIFO_CAP) {
		fprintf(stderr, "kchr: read returned %zd, want %d\n", r, FIFO_CAP);
		return 1;
	}
	for (j = 0; j < FIFO_CAP; j++)
		if (back[j] != rot13(big[j]))
			fail("%s: wrong byte after the short write", argv[1]);
	if (read(fd, back, 1) != 0)
		fail("%s: bytes left after draining", argv[1]);
	close(fd);
	printf("rot13cap %s: short write of %d, ENOSPC, drained\n", argv[1], FIFO_CAP);
	return 0;
}

/* ---- FIFO ping-pong ---------------------------------------------------- */

/* Empty a FIFO left non-empty by an earlier failed run. */
static void drain(const char *path)
{
	unsigned char buf[4096];
	int fd = open_or_die(path, O_RDONLY | O_NONBLOCK);

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static int cmd_pingpong(int argc, char **argv)
{
	long n = 2000, warmup = 50, size = 8, i;
	unsigned char msg[4096], got[4096];
	long long start = 0, total;
	int opt, ab, ba, status;
	pid_t child;

	while ((opt = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (opt) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': warmup = strtol(optarg, NULL, 10); break;
		case 's': size = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind != argc - 2 || n <= 0 || warmup < 0 || size <= 0 ||
	    size > (long)sizeof(msg))
		return 2;
	drain(argv[optind]);
	drain(argv[optind + 1]);
	child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		/* B: echo every message back, each byte plus one. */
		ab = open_or_die(argv[optind], O_RDONLY);
		ba = open_or_die(argv[optind + 1], O_WRONLY);
		for (i = 0; i < n + warmup; i++) {
			long j;

			read_all(ab, got, size, size, "pingpong B read");
			for (j = 0; j < size; j++)
				got[j]++;
			write_all(ba, got, size, "pingpong B write");
		}
		_exit(0);
	}
	ab = open_or_die(argv[optind], O_WRONLY);
	ba = open_or_die(argv[optind + 1], O_RDONLY);
	for (i = -warmup; i < n; i++) {
		long j;

		if (i == 0)
			start = now_ns();
		for (j = 0; j < size; j++)
			msg[j] = (unsigned char)(i + j);
		write_all(ab, msg, size, "pingpong A write");
		read_all(ba, got, size, size, "pingpong A read");
		for (j = 0; j < size; j++)
			if (got[j] != (unsigned char)(msg[j] + 1))
				fail("%s: wrong reply", argv[optind + 1]);
	}
	total = now_ns() - start;
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail("%s: the echoing process failed", argv[optind]);
	printf("pingpong %s %s round_trips=%ld total_ns=%lld per_s=%.1f\n",
	       argv[optind], argv[optind + 1], n, total, n / (total / 1e9));
	return 0;
}

/* ---- FIFO contract ----------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
}

static void expect_revents(int fd, short want, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	if (poll(&p, 1, 0) < 0)
		fail_errno(what);
	if ((p.revents & (POLLIN | POLLOUT)) != want) {
		fprintf(stderr, "kchr: %s: poll revents 0x%x, want 0x%x\n",
			what, p.revents, want);
		exit(1);
	}
}

/*
 * Fork a child that opens path and blocks: in read(2) (how 'r'), in
 * poll(2) then read(2) (how 'p'), or in read(2) with a SIGUSR1 handler
 * installed without SA_RESTART (how 's', expecting EINTR).  The child
 * exits 0 when it read "wake" (or got EINTR for 's').
 */
static pid_t blocked_child(const char *path, char how)
{
	pid_t pid = fork();
	struct sigaction sa;
	char buf[16];
	ssize_t r;
	int fd;

	if (pid < 0)
		fail_errno("fork");
	if (pid)
		return pid;
	fd = open_or_die(path, O_RDONLY);
	if (how == 's') {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGUSR1, &sa, NULL);
		r = read(fd, buf, sizeof(buf));
		_exit(r == -1 && errno == EINTR ? 0 : 3);
	}
	if (how == 'p') {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN))
			_exit(4);
	}
	r = read(fd, buf, sizeof(buf));
	_exit(r == 4 && !memcmp(buf, "wake", 4) ? 0 : 5);
}

/* The child must still be blocked 300 ms later; then wake it (by a write
 * from this process or a signal) and check how it ended. */
static void wake_child(pid_t pid, const char *path, char how, const char *what)
{
	struct timespec ms300 = { 0, 300000000 };
	int status, fd;

	nanosleep(&ms300, NULL);
	if (waitpid(pid, &status, WNOHANG) != 0)
		fail("%s: the child did not block", what);
	if (how == 's') {
		kill(pid, SIGUSR1);
	} else {
		fd = open_or_die(path, O_WRONLY);
		write_all(fd, (const unsigned char *)"wake", 4, what);
		close(fd);
	}
	if (waitpid(pid, &status, 0) < 0)
		fail_errno(what);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "kchr: %s: the child ended with status 0x%x\n",
			what, status);
		exit(1);
	}
	printf("%s: ok\n", what);
}

static int cmd_fifocheck(int argc, char **argv)
{
	static unsigned char buf[FIFO_CAP + 1000], back[FIFO_CAP + 1000];
	const char *path;
	ssize_t r;
	size_t total, j;
	int fd;

	if (argc != 2)
		return 2;
	path = argv[1];
	drain(path);
	fd = open_or_die(path, O_RDWR);
	alarm(10);	/* (a read that waits ends the check here) */
	r = read(fd, back, 0);
	alarm(0);
	if (r != 0)
		fail("%s: a read of 0 bytes of an empty FIFO did not return 0",
		     path);
	close(fd);
	printf("empty read of 0 bytes: 0 at once\n");
	fd = open_or_die(path, O_RDWR | O_NONBLOCK);
	r = read(fd, back, 10);
	if (r != -1 || errno != EAGAIN)
		fail("%s: O_NONBLOCK read of an empty FIFO is not EAGAIN", path);
	printf("empty O_NONBLOCK read: EAGAIN\n");
	expect_revents(fd, POLLOUT, "empty FIFO");
	for (j = 0; j < sizeof(buf); j++)
		buf[j] = (unsigned char)(j * 13 + 1);
	/* Fill it with odd-sized non-blocking writes until EAGAIN. */
	total = 0;
	for (;;) {
		r = write(fd, buf + total, 1000);
		if (r < 0)
			break;
		total += r;
		if (total > FIFO_CAP)
			fail("%s: FIFO took more than 64 KiB", path);
	}
	if (errno != EAGAIN || total != FIFO_CAP) {
		fprintf(stderr, "kchr: filling: %zu bytes then %s, want %d then EAGAIN\n",
			total, strerror(errno), FIFO_CAP);
		return 1;
	}
	printf("full after %zu bytes, then EAGAIN\n", total);
	expect_revents(fd, POLLIN, "full FIFO");
	for (total = 0; total < FIFO_CAP; total += r) {
		r = read(fd, back + total, 777);
		if (r <= 0)
			fail_errno("draining");
	}
	if (memcmp(buf, back, FIFO_CAP))
		fail("%s: bytes came back out of order", path);
	r = read(fd, back, 10);
	if (r != -1 || errno != EAGAIN)
		fail("%s: drained FIFO is not empty", path);
	printf("drained in order\n");
	close(fd);
	wake_child(blocked_child(path, 'r'), path, 'r', "blocked read woken by a writer");
	wake_child(blocked_child(path, 'p'), path, 'p', "blocked poll woken by a writer");
	wake_child(blocked_child(path, 's'), path, 's', "blocked read + signal: EINTR");
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "rot13"))
		rc = cmd_rot13(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "rot13cap"))
		rc = cmd_rot13cap(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "pingpong"))
		rc = cmd_pingpong(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "fifocheck"))
		rc = cmd_fifocheck(argc - 1, argv + 1);
	if (rc == 2)
		fprintf(stderr, "usage: kchr rot13 [-b WBS] [-r RBS] [-n N] [-w W] DEV\n"
			"       kchr rot13cap DEV\n"
			"       kchr pingpong [-n N] [-w W] [-s SIZE] DEV_AB DEV_BA\n"
			"       kchr fifocheck DEV\n");
	return rc;
}
