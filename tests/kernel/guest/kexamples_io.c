// SPDX-License-Identifier: GPL-2.0
/*
 * kexamples_io: drives the example drivers examples/kvstore.k and
 * examples/heartbeat.k from C in the kexamples suite
 * (tests/kernel/test_kexamples.py), as a program using them would.
 *
 *   kexamples_io kvstore DEV
 *	The _IOWR round trip of KVSTORE_GET and KVSTORE_PUT with struct
 *	kvstore_io (the layout examples/kvstore.k documents): values and
 *	versions come back in the caller's struct, bytes around it stay
 *	untouched; EFAULT for NULL, an unmapped page, a struct that runs off
 *	its mapping and a read-only struct (read, then written: the write
 *	faults); ENOENT, EINVAL, ENOTTY; KVSTORE_COUNT; sessions per open
 *	file; 4 processes x 500 PUTs of one key, none lost.
 *   kexamples_io heartbeat DEV PERIOD_MS
 *	Blocking reads return `beat N` lines with N rising, O_NONBLOCK gives
 *	EAGAIN, poll(2), select(2) and epoll wake up at the next beat, and
 *	the beat count (HEARTBEAT_BEATS) grows with elapsed time as
 *	PERIOD_MS says, within a generous tolerance (the guest is emulated).
 *   kexamples_io period DEV MS [r]
 *	HEARTBEAT_PERIOD: prints `period P`, after setting it when MS > 0;
 *	DEV is opened for reading and writing, or with r only for reading.
 *	A failed ioctl prints `HEARTBEAT_PERIOD: ERROR` and exits 1.
 *   kexamples_io signals DEV PERIOD_MS
 *	With the period set to 10 s, a signal without SA_RESTART ends a
 *	blocking read with EINTR; with SA_RESTART the read is restarted
 *	unseen and returns a beat once another process has set the period
 *	back to PERIOD_MS.
 *   kexamples_io blockread DEV
 *	One blocking read(2) of DEV; prints what it returned or its errno.
 *
 * Prints what it checked; on the first failure prints why and exits 1.
 * Built with gcc -static: the test initramfs has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The ioctl ABI of examples/kvstore.k. */
struct kvstore_io {
	char key[32];
	uint32_t len;
	uint32_t version;
	char value[64];
};

#define KVSTORE_GET _IOWR('v', 1, struct kvstore_io)
#define KVSTORE_PUT _IOW('v', 2, struct kvstore_io)
#define KVSTORE_COUNT _IO('v', 3)

/* The ioctl ABI of examples/heartbeat.k. */
#define HEARTBEAT_BEATS _IO('b', 1)
#define HEARTBEAT_PERIOD _IO('b', 2)

static void fail(const char *what)
{
	printf("FAIL: %s\n", what);
	exit(1);
}

static void fail_errno(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		fail_errno(path);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An ioctl expected to fail with errno `want`. */
static void expect_errno(int fd, unsigned long cmd, void *arg, int want,
			 const char *what)
{
	errno = 0;
	if (ioctl(fd, cmd, arg) != -1 || errno != want) {
		printf("FAIL: %s: expected %s, got errno %d (%s)\n", what,
		       strerror(want), errno, strerror(errno));
		exit(1);
	}
	printf("%s: %s\n", what, strerror(want));
}

static void set_io(struct kvstore_io *io, const char *key, const char *value)
{
	memset(io, 0, sizeof(*io));
	memcpy(io->key, key, strnlen(key, sizeof(io->key) - 1));
	io->len = strlen(value);
	memcpy(io->value, value, io->len);
}

static long put(int fd, const char *key, const char *value)
{
	struct kvstore_io io;
	long ret;

	set_io(&io, key, value);
	ret = ioctl(fd, KVSTORE_PUT, &io);
	if (ret < 0)
		fail_errno("KVSTORE_PUT");
	return ret;
}

/* Writes all of s to fd. */
static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n)
		fail_errno("write");
}

/* Reads what fd's session has queued (until read returns 0) into buf. */
static void read_replies(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while ((n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	if (n < 0)
		fail_errno("read");
	buf[got] = 0;
}

static void kv_round_trip(int fd)
{
	/* The struct sits between two guards that must stay untouched. */
	struct {
		char before[16];
		struct kvstore_io io;
		char after[16];
	} frame;
	long v1, v2, count;
	char want[64] = "green";

	v1 = put(fd, "kx_color", "blue");
	v2 = put(fd, "kx_color", "green");
	if (v2 != v1 + 1)
		fail("KVSTORE_PUT of an existing key does not bump its version");
	printf("KVSTORE_PUT kx_color: versions %ld then %ld\n", v1, v2);

	memset(&frame, 0x5a, sizeof(frame));
	memset(&frame.io, 0, sizeof(frame.io));
	strcpy(frame.io.key, "kx_color");
	frame.io.len = 12345;
	memset(frame.io.value, 'x', sizeof(frame.io.value));
	if (ioctl(fd, KVSTORE_GET, &frame.io) != 0)
		fail_errno("KVSTORE_GET kx_color");
	if (strcmp(frame.io.key, "kx_color") || frame.io.len != 5 ||
	    frame.io.version != (uint32_t)v2 ||
	    memcmp(frame.io.value, want, sizeof(want)))
		fail("KVSTORE_GET: wrong struct back");
	for (size_t i = 0; i < 16; i++)
		if (frame.before[i] != 0x5a || frame.after[i] != 0x5a)
			fail("KVSTORE_GET wrote outside its struct");
	printf("KVSTORE_GET kx_color: len %u version %u value \"%s\", guards intact\n",
	       frame.io.len, frame.io.version, frame.io.value);

	count = ioctl(fd, KVSTORE_COUNT, 0);
	put(fd, "kx_new_key", "1");
	if (count < 1 || ioctl(fd, KVSTORE_COUNT, 0) != count + 1)
		fail("KVSTORE_COUNT does not count a new key");
	printf("KVSTORE_COUNT: %ld, then %ld\n", count, count + 1);
}

static void kv_faults(int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct kvstore_io io;
	char *map;

	expect_errno(fd, KVSTORE_GET, NULL, EFAULT, "KVSTORE_GET NULL");
	expect_errno(fd, KVSTORE_PUT, NULL, EFAULT, "KVSTORE_PUT NULL");

	/* Two pages: the second is made inaccessible. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		fail_errno("mmap");
	if (mprotect(map + page, page, PROT_NONE))
		fail_errno("mprotect");
	expect_errno(fd, KVSTORE_GET, map + page, EFAULT,
		     "KVSTORE_GET on an unmapped page");
	/* The struct's first 40 bytes are readable, the rest is not. */
	set_io(&io, "kx_color", "");
	memcpy(map + page - 40, &io, 40);
	expect_errno(fd, KVSTORE_GET, map + page - 40, EFAULT,
		     "KVSTORE_GET on a struct running off its mapping");

	/* A read-only struct: readUser works, writeUser faults. */
	set_io((struct kvstore_io *)map, "kx_color", "");
	if (mprotect(map, page, PROT_READ))
		fail_errno("mprotect");
	expect_errno(fd, KVSTORE_GET, map, EFAULT,
		     "KVSTORE_GET on a read-only struct");
	munmap(map, 2 * page);

	set_io(&io, "kx_absent", "");
	expect_errno(fd, KVSTORE_GET, &io, ENOENT, "KVSTORE_GET of an absent key");
	set_io(&io, "", "");
	expect_errno(fd, KVSTORE_GET, &io, EINVAL, "KVSTORE_GET of an empty key");
	set_io(&io, "kx_color", "");
	io.len = 65;
	expect_errno(fd, KVSTORE_PUT, &io, EINVAL, "KVSTORE_PUT of 65 bytes");
	expect_errno(fd, _IO('v', 9), NULL, ENOTTY, "unknown command");
}

static void kv_sessions(const char *dev)
{
	int a = open_or_die(dev, O_RDWR), b = open_or_die(dev, O_RDWR);
	char buf[256];

	/* A command in three pieces, and two in one write. */
	write_all(a, "get kx_");
	write_all(a, "col");
	write_all(b, "set kx_s 1\nget kx_s\n");
	write_all(a, "or\n");
	read_replies(a, buf, sizeof(buf));
	if (strcmp(buf, "green\n"))
		fail("session a: wrong replies");
	read_replies(b, buf, sizeof(buf));
	if (strcmp(buf, "OK\n1\n"))
		fail("session b: wrong replies");
	close(a);
	close(b);
	printf("sessions: each open file reads its own replies\n");
}

static void kv_concurrent(const char *dev)
{
	int fd = open_or_die(dev, O_RDWR);
	struct kvstore_io io;
	long base = put(fd, "kx_shared", "0");
	int status, bad = 0;

	for (int p = 0; p < 4; p++) {
		if (fork() == 0) {
			int cfd = open_or_die(dev, O_RDWR);

			for (int i = 0; i < 500; i++)
				put(cfd, "kx_shared", "x");
			_exit(0);
		}
	}
	for (int p = 0; p < 4; p++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	if (bad)
		fail("a writer process failed");
	set_io(&io, "kx_shared", "");
	if (ioctl(fd, KVSTORE_GET, &io))
		fail_errno("KVSTORE_GET kx_shared");
	if (io.version != base + 2000)
		fail("concurrent PUTs lost or duplicated");
	printf("4 processes x 500 PUTs: version %ld -> %u\n", base, io.version);
	close(fd);
}

static int cmd_kvstore(const char *dev)
{
	int fd = open_or_die(dev, O_RDWR);

	kv_round_trip(fd);
	kv_faults(fd);
	close(fd);
	kv_sessions(dev);
	kv_concurrent(dev);
	return 0;
}

/* One read of a heartbeat file; returns the beat number of its line. */
static long read_beat(int fd)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	long beat;

	if (n < 0)
		fail_errno("read");
	buf[n] = 0;
	if (sscanf(buf, "beat %ld\n", &beat) != 1 || buf[n - 1] != '\n')
		fail("read: not a `beat N` line");
	return beat;
}

/*
 * An O_NONBLOCK read right after a read is EAGAIN, unless a beat came in
 * between: a few tries.
 */
static void hb_nonblock(const char *dev, long period)
{
	int fd = open_or_die(dev, O_RDONLY | O_NONBLOCK);
	char buf[64];

	for (int tries = 0; tries < 5; tries++) {
		if (read(fd, buf, sizeof(buf)) < 0) {
			if (errno != EAGAIN)
				fail_errno("O_NONBLOCK read");
			printf("O_NONBLOCK read without a new beat: EAGAIN\n");
			close(fd);
			return;
		}
	}
	printf("FAIL: 5 O_NONBLOCK reads in a row found a new beat (period %ld ms)\n",
	       period);
	exit(1);
}

static void hb_blocking(const char *dev, long period)
{
	int fd = open_or_die(dev, O_RDONLY);
	long long t0 = now_ms(), elapsed;
	long first = read_beat(fd), prev = first, b;

	for (int i = 0; i < 4; i++) {
		b = read_beat(fd);
		if (b <= prev)
			fail("blocking reads: beat numbers do not rise");
		prev = b;
	}
	elapsed = now_ms() - t0;
	/* Five reads, each waiting for a new beat: at least four periods. */
	if (elapsed < 4 * period - period / 2)
		fail("five blocking reads returned faster than the beats come");
	printf("blocking reads: beats %ld..%ld in %lld ms\n", first, prev, elapsed);
	close(fd);
}

static void hb_poll(const char *dev, long period)
{
	int fd = open_or_die(dev, O_RDONLY);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN }, got;
	struct timeval tv;
	fd_set set;
	int ep, n, timeout = 20 * period + 2000;

	/* poll(2) sleeps until the next beat, which makes the file readable. */
	n = poll(&p, 1, timeout);
	if (n != 1 || !(p.revents & POLLIN))
		fail("poll(2) did not report IN at the next beat");
	read_beat(fd);
	printf("poll(2): IN at the next beat\n");

	FD_ZERO(&set);
	FD_SET(fd, &set);
	tv.tv_sec = timeout / 1000;
	tv.tv_usec = 0;
	n = select(fd + 1, &set, NULL, NULL, &tv);
	if (n != 1 || !FD_ISSET(fd, &set))
		fail("select(2) did not report the file readable at the next beat");
	read_beat(fd);
	printf("select(2): readable at the next beat\n");

	ep = epoll_create1(0);
	if (ep < 0)
		fail_errno("epoll_create1");
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		fail_errno("epoll_ctl");
	for (int i = 0; i < 3; i++) {
		n = epoll_wait(ep, &got, 1, timeout);
		if (n != 1 || !(got.events & EPOLLIN))
			fail("epoll_wait did not report EPOLLIN at the next beat");
		read_beat(fd);
	}
	printf("epoll: EPOLLIN at each of 3 beats\n");
	close(ep);
	close(fd);
}

/*
 * The beats counted by the timer over about 3 s against the time that
 * passed.  An emulated guest may run a timer late, never early: the count
 * is at most elapsed / period + 2 and, generously, at least half of
 * elapsed / period, minus 2.
 */
static void hb_rate(const char *dev, long period)
{
	int fd = open_or_die(dev, O_RDONLY);
	long long t0, elapsed;
	long b0, b1, want;

	b0 = ioctl(fd, HEARTBEAT_BEATS, 0);
	t0 = now_ms();
	sleep(3);
	b1 = ioctl(fd, HEARTBEAT_BEATS, 0);
	elapsed = now_ms() - t0;
	if (b0 < 0 || b1 < 0)
		fail_errno("HEARTBEAT_BEATS");
	want = elapsed / period;
	printf("%ld beats in %lld ms at %ld ms a beat (expected about %ld)\n",
	       b1 - b0, elapsed, period, want);
	if (b1 - b0 > want + 2 || b1 - b0 < want / 2 - 2)
		fail("the beat count does not follow the elapsed time");
	close(fd);
}

static int cmd_heartbeat(const char *dev, long period)
{
	hb_nonblock(dev, period);
	hb_blocking(dev, period);
	hb_poll(dev, period);
	hb_rate(dev, period);
	return 0;
}

static int cmd_period(const char *dev, long ms, int flags)
{
	int fd = open_or_die(dev, flags);
	long ret = ioctl(fd, HEARTBEAT_PERIOD, ms);

	if (ret < 0) {
		printf("HEARTBEAT_PERIOD: %s\n", strerror(errno));
		return 1;
	}
	printf("period %ld\n", ret);
	close(fd);
	return 0;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM in ms milliseconds, handled by on_alarm with `flags`. */
static void alarm_in(int ms, int flags)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = flags };
	struct itimerval it = { .it_value = { ms / 1000, ms % 1000 * 1000 } };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		fail_errno("sigaction/setitimer");
}

static void set_period(const char *dev, long ms)
{
	int fd = open_or_die(dev, O_RDWR);

	if (ioctl(fd, HEARTBEAT_PERIOD, ms) != ms)
		fail_errno("HEARTBEAT_PERIOD");
	close(fd);
}

static int cmd_signals(const char *dev, long period)
{
	int fd = open_or_die(dev, O_RDONLY), status;
	long long t0, elapsed;
	char buf[64];
	pid_t child;
	long beat;

	set_period(dev, 10000);
	alarm_in(300, 0);
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EINTR || alarms != 1)
		fail("a signal without SA_RESTART did not end the read with EINTR");
	printf("signal without SA_RESTART: read fails with EINTR\n");

	child = fork();
	if (child < 0)
		fail_errno("fork");
	if (child == 0) {
		sleep(1);
		set_period(dev, period);
		_exit(0);
	}
	alarm_in(300, SA_RESTART);
	t0 = now_ms();
	beat = read_beat(fd);
	elapsed = now_ms() - t0;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail("the process setting the period failed");
	if (alarms != 2 || elapsed < 900)
		fail("the read did not outlast the signal");
	printf("signal with SA_RESTART: the read went on, beat %ld after %lld ms\n",
	       beat, elapsed);
	close(fd);
	return 0;
}

static int cmd_blockread(const char *dev)
{
	int fd = open_or_die(dev, O_RDONLY);
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n < 0) {
		printf("read: %s\n", strerror(errno));
		return 1;
	}
	buf[n] = 0;
	printf("read: %s", buf);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "kvstore"))
		return cmd_kvstore(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "heartbeat"))
		return cmd_heartbeat(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "period"))
		return cmd_period(argv[2], atol(argv[3]), O_RDWR);
	if (argc == 5 && !strcmp(argv[1], "period") && !strcmp(argv[4], "r"))
		return cmd_period(argv[2], atol(argv[3]), O_RDONLY);
	if (argc == 4 && !strcmp(argv[1], "signals"))
		return cmd_signals(argv[2], atol(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "blockread"))
		return cmd_blockread(argv[2]);
	fprintf(stderr, "usage: kexamples_io kvstore DEV | heartbeat DEV PERIOD_MS |\n"
		"       period DEV MS [r] | signals DEV PERIOD_MS | blockread DEV\n");
	return 100;
}
