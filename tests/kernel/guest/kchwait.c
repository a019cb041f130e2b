// SPDX-License-Identifier: GPL-2.0
/*
 * kchwait: drives the waiting CharDevices of the kchardev suite
 * (tests/kernel/scripts/kwait*.k, examples/fifo.k) inside the guest and
 * checks every answer: blocking, poll/select/epoll, signals, SIGKILL,
 * many processes exchanging messages, timers.
 *
 *   kchwait block DEV          a reader blocked until another process writes
 *   kchwait nonblock DEV       O_NONBLOCK and F_SETFL O_NONBLOCK: EAGAIN
 *   kchwait poll|select|epoll DEV
 *                              readiness of an empty and a non-empty queue,
 *                              and a waiter in poll(2), select(2) or
 *                              epoll_wait(2) woken by a writer in another
 *                              process (epoll: level and edge triggered)
 *   kchwait sigint DEV         SIGINT during a blocked read: EINTR
 *   kchwait restart DEV        the same under SA_RESTART: the read goes on
 *                              and returns what a writer sends later
 *   kchwait catch DEV          a script that catches InterruptedException:
 *                              its result stands, every later wait throws
 *   kchwait wakeone DEV        wakeOne wakes exactly one of two waiters
 *   kchwait wakeone_excl DEV   wakeOne wakes a waiter queued after a
 *                              process sleeping in epoll_wait(2) on an
 *                              EPOLLEXCLUSIVE registration of DEV
 *   kchwait gate DEV GATE      open(2) of GATE waits in the script's open:
 *                              SIGINT gives EINTR, KW_GATE on DEV lets a
 *                              second one through
 *   kchwait killwait DEV       SIGKILL of a process blocked in read(2)
 *   kchwait killrun DEV        SIGKILL of a process running a callback
 *   kchwait killsleep DEV      SIGKILL of a process in System.sleep
 *   kchwait awaitfor DEV       awaitFor: false after its timeout, true when
 *                              woken, 0 ms at once
 *   kchwait exchange [-p P] [-n N] [-s SIZE] [-t TOKENS] DEV
 *                              P processes each read a message of SIZE
 *                              bytes and write one, N times, with TOKENS
 *                              messages in flight (the others block):
 *                              every message is read exactly once
 *   kchwait timer DEV PERIOD_MS RUN_MS
 *                              a periodic Timer's count against the clock,
 *                              and a reader woken by the timer
 *   kchwait perfile DEV FILEDEV
 *                              queues of each open file (FILEDEV) polled by
 *                              epoll and poll(2), freed by the collector
 *                              after the files' release, kept while open
 *   kchwait outside DEV BAD OLD
 *                              await where it may not wait: "cannot wait
 *                              here" in the init, a comparator, a timer,
 *                              seek, poll, release and a Device's read
 *
 * Each prints what it checked and exits 0, or prints "kchwait: ..." on
 * the first failure and exits 1.  Built with gcc -static: the test
 * initramfs has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* /dev/kwait's ioctls (tests/kernel/scripts/kwait.k) */
#define KW_AWAITFOR	_IO('w', 1)
#define KW_SPIN		_IO('w', 2)
#define KW_STARTS	_IO('w', 3)
#define KW_INTR		_IO('w', 4)
#define KW_AWAIT	_IO('w', 5)
#define KW_WAKEONE	_IO('w', 6)
#define KW_CATCH	_IO('w', 7)
#define KW_INITMSG	_IO('w', 8)
#define KW_NESTED	_IO('w', 9)
#define KW_TIMER	_IO('w', 10)
#define KW_TIMERST	_IO('w', 11)
#define KW_RELEASE	_IO('w', 12)
#define KW_LEN		_IO('w', 13)
#define KW_GATE		_IO('w', 14)
#define KW_GATED	_IO('w', 15)
#define KW_WAITERS	_IO('w', 16)
#define KW_GC		_IO('w', 17)
#define KW_SLEEP	_IO('w', 18)
/* /dev/kwtimer's (tests/kernel/scripts/kwait_timer.k) */
#define KT_EVERY	_IO('t', 1)
#define KT_STOP		_IO('t', 2)
#define KT_TICKS	_IO('t', 3)
#define KT_BOOT		_IO('t', 4)

/* How long a child must stay blocked to count as blocked. */
#define BLOCKED_MS	300

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "kchwait: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

static long ioctl_or_die(int fd, unsigned long cmd, long arg, const char *what)
{
	long r = ioctl(fd, cmd, arg);

	if (r < 0)
		fail("%s: ioctl: %s", what, strerror(errno));
	return r;
}

static void write_str(const char *path, const char *s)
{
	int fd = open_or_die(path, O_WRONLY);

	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		fail("write %s: %s", path, strerror(errno));
	close(fd);
}

/* Empties a queue left non-empty by an earlier case. */
static void drain(const char *path)
{
	char buf[4096];
	int fd = open_or_die(path, O_RDONLY | O_NONBLOCK);

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* The child must still run BLOCKED_MS from now. */
static void expect_blocked(pid_t pid, const char *what)
{
	int status;

	sleep_ms(BLOCKED_MS);
	if (waitpid(pid, &status, WNOHANG) != 0)
		fail("%s: the child did not block (status 0x%x)", what, status);
}

/* Waits for the child and checks that it exited 0. */
static void expect_exit0(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) < 0)
		fail("%s: waitpid: %s", what, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("%s: the child ended with status 0x%x", what, status);
}

/* An ioctl of DEV that returns one of the script's counters. */
static long stat_of(const char *dev, unsigned long cmd)
{
	int fd = open_or_die(dev, O_RDONLY | O_NONBLOCK);
	long r = ioctl_or_die(fd, cmd, 0, "stats");

	close(fd);
	return r;
}

/*
 * Until the script's counter cmd (KW_WAITERS, KW_GATED) is want, while
 * the child pid runs: the script, not a guess of time, says the child
 * sleeps, so that a signal never comes before its handler is set.  The
 * counters are taken relative to their value before: a wait ended by
 * SIGKILL is an abort, whose finally blocks do not run (the language
 * reference §7), so it is never counted off.
 */
static void wait_count(const char *dev, unsigned long cmd, long want,
		       pid_t pid, const char *what)
{
	long long t0 = now_ms();
	int status;

	while (stat_of(dev, cmd) != want) {
		if (pid > 0 && waitpid(pid, &status, WNOHANG) != 0)
			fail("%s: the child ended (status 0x%x)", what, status);
		if (now_ms() - t0 > 20000)
			fail("%s: the script counts %ld, want %ld, after 20 s", what,
			     stat_of(dev, cmd), want);
		sleep_ms(10);
	}
}

/* Reads "wake" from fd in the child: exit status 0 when it did. */
static int child_read_wake(int fd)
{
	char buf[16];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r != 4 || memcmp(buf, "wake", 4)) {
		fprintf(stderr, "kchwait: child read returned %zd (%s)\n", r,
			r < 0 ? strerror(errno) : "wrong bytes");
		return 5;
	}
	return 0;
}

/* ---- blocking ------------------------------------------------------------ */

static int cmd_block(const char *dev)
{
	pid_t pid;

	drain(dev);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_read_wake(open_or_die(dev, O_RDONLY)));
	expect_blocked(pid, "blocked read");
	write_str(dev, "wake");
	expect_exit0(pid, "blocked read");
	printf("a reader blocked in read(2) was woken by a writer in another process\n");
	return 0;
}

static int cmd_nonblock(const char *dev)
{
	long long t0;
	char buf[8];
	int fd;

	drain(dev);
	fd = open_or_die(dev, O_RDONLY | O_NONBLOCK);
	t0 = now_ms();
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("O_NONBLOCK read of an empty queue: not EAGAIN");
	close(fd);
	/* the flag as of each call: set after the open */
	fd = open_or_die(dev, O_RDONLY);
	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		fail("fcntl: %s", strerror(errno));
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("read after F_SETFL O_NONBLOCK: not EAGAIN");
	if (now_ms() - t0 > 2000)
		fail("EAGAIN took %lld ms", now_ms() - t0);
	close(fd);
	printf("O_NONBLOCK at open and by F_SETFL: EAGAIN at once\n");
	return 0;
}

/* ---- poll, select, epoll ------------------------------------------------- */

enum how { BY_POLL, BY_SELECT, BY_EPOLL, BY_EPOLLET };

static const char *const how_name[] = { "poll", "select", "epoll", "epoll (edge)" };

/* Readiness of fd with a zero timeout: bit 1 readable, bit 2 writable. */
static int ready_now(int fd, enum how how)
{
	int r = 0;

	if (how == BY_POLL) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

		if (poll(&p, 1, 0) < 0)
			fail("poll: %s", strerror(errno));
		if (p.revents & ~(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM))
			fail("poll revents 0x%x", p.revents);
		r = (p.revents & POLLIN ? 1 : 0) | (p.revents & POLLOUT ? 2 : 0);
	} else if (how == BY_SELECT) {
		struct timeval tv = { 0, 0 };
		fd_set rd, wr;

		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_SET(fd, &rd);
		FD_SET(fd, &wr);
		if (select(fd + 1, &rd, &wr, NULL, &tv) < 0)
			fail("select: %s", strerror(errno));
		r = (FD_ISSET(fd, &rd) ? 1 : 0) | (FD_ISSET(fd, &wr) ? 2 : 0);
	} else {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT }, got;
		int ep = epoll_create1(0), n;

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			fail("epoll: %s", strerror(errno));
		n = epoll_wait(ep, &got, 1, 0);
		if (n < 0)
			fail("epoll_wait: %s", strerror(errno));
		if (n)
			r = (got.events & EPOLLIN ? 1 : 0) |
			    (got.events & EPOLLOUT ? 2 : 0);
		close(ep);
	}
	return r;
}

/* In the child: waits without a timeout until fd is readable. */
static int child_wait_readable(int fd, enum how how)
{
	if (how == BY_POLL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN))
			return 3;
	} else if (how == BY_SELECT) {
		fd_set rd;

		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (select(fd + 1, &rd, NULL, NULL, NULL) != 1 || !FD_ISSET(fd, &rd))
			return 3;
	} else {
		struct epoll_event ev = { .events = EPOLLIN }, got;
		int ep = epoll_create1(0);

		if (how == BY_EPOLLET)
			ev.events |= EPOLLET;
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return 2;
		if (epoll_wait(ep, &got, 1, -1) != 1 || !(got.events & EPOLLIN))
			return 3;
		if (how == BY_EPOLLET) {
			/* edge: no new event until the next write */
			if (epoll_wait(ep, &got, 1, 100) != 0)
				return 6;
		}
		close(ep);
	}
	return child_read_wake(fd);
}

static void check_ready(const char *dev, enum how how)
{
	const char *name = how_name[how];
	int fd, r;
	pid_t pid;

	drain(dev);
	fd = open_or_die(dev, O_RDWR);
	r = ready_now(fd, how);
	if (r != 2)
		fail("%s on an empty queue: readiness %d, want 2 (writable only)", name, r);
	if (write(fd, "x", 1) != 1)
		fail("write: %s", strerror(errno));
	r = ready_now(fd, how);
	if (r != 3)
		fail("%s with a byte queued: readiness %d, want 3", name, r);
	close(fd);
	drain(dev);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_wait_readable(open_or_die(dev, O_RDONLY), how));
	expect_blocked(pid, name);
	write_str(dev, "wake");
	expect_exit0(pid, name);
	printf("%s: empty queue writable only, then readable; a waiter woken by a writer in another process\n",
	       name);
}

static int cmd_ready(const char *dev, enum how how)
{
	check_ready(dev, how);
	if (how == BY_EPOLL)
		check_ready(dev, BY_EPOLLET);
	return 0;
}

/* ---- signals ------------------------------------------------------------- */

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static void set_handler(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	if (sigaction(sig, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
}

static int cmd_sigint(const char *dev)
{
	long starts, intr, w0;
	pid_t pid;

	drain(dev);
	starts = stat_of(dev, KW_STARTS);
	intr = stat_of(dev, KW_INTR);
	w0 = stat_of(dev, KW_WAITERS);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		char buf[8];
		int fd = open_or_die(dev, O_RDONLY);
		ssize_t r;

		set_handler(SIGINT, 0);
		r = read(fd, buf, sizeof(buf));
		if (r != -1 || errno != EINTR || handled != 1) {
			fprintf(stderr, "kchwait: read returned %zd (%s), handler ran %d times\n",
				r, r < 0 ? strerror(errno) : "data", (int)handled);
			_exit(3);
		}
		_exit(0);
	}
	wait_count(dev, KW_WAITERS, w0 + 1, pid, "SIGINT");
	expect_blocked(pid, "SIGINT");
	kill(pid, SIGINT);
	expect_exit0(pid, "SIGINT");
	if (stat_of(dev, KW_STARTS) != starts + 1 || stat_of(dev, KW_INTR) != intr + 1)
		fail("the script saw %ld read starts and %ld interruptions, want 1 and 1",
		     stat_of(dev, KW_STARTS) - starts, stat_of(dev, KW_INTR) - intr);
	printf("SIGINT during await: read(2) fails with EINTR, once, the handler ran\n");
	return 0;
}

static int cmd_restart(const char *dev)
{
	long starts, intr, w0;
	pid_t pid;

	drain(dev);
	starts = stat_of(dev, KW_STARTS);
	intr = stat_of(dev, KW_INTR);
	w0 = stat_of(dev, KW_WAITERS);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open_or_die(dev, O_RDONLY);
		int rc;

		set_handler(SIGINT, SA_RESTART);
		rc = child_read_wake(fd);
		if (!rc && handled != 1) {
			fprintf(stderr, "kchwait: handler ran %d times\n", (int)handled);
			rc = 3;
		}
		_exit(rc);
	}
	wait_count(dev, KW_WAITERS, w0 + 1, pid, "SA_RESTART");
	kill(pid, SIGINT);
	/* restarted: waiting again in a second read callback, not failed */
	wait_count(dev, KW_STARTS, starts + 2, pid, "SA_RESTART after the signal");
	wait_count(dev, KW_WAITERS, w0 + 1, pid, "SA_RESTART after the signal");
	expect_blocked(pid, "SA_RESTART after the signal");
	write_str(dev, "wake");
	expect_exit0(pid, "SA_RESTART");
	if (stat_of(dev, KW_STARTS) != starts + 2 || stat_of(dev, KW_INTR) != intr + 1)
		fail("the script saw %ld read starts and %ld interruptions, want 2 and 1",
		     stat_of(dev, KW_STARTS) - starts, stat_of(dev, KW_INTR) - intr);
	printf("SIGINT under SA_RESTART: the read restarted transparently and got the data\n");
	return 0;
}

static int cmd_catch(const char *dev)
{
	long w0 = stat_of(dev, KW_WAITERS);
	pid_t pid;

	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open_or_die(dev, O_RDONLY);
		long r;

		set_handler(SIGINT, SA_RESTART);
		r = ioctl(fd, KW_CATCH, 0);
		if (r != 11 || handled != 1) {
			fprintf(stderr, "kchwait: KW_CATCH returned %ld (%s), handler ran %d times\n",
				r, r < 0 ? strerror(errno) : "result", (int)handled);
			_exit(3);
		}
		_exit(0);
	}
	wait_count(dev, KW_WAITERS, w0 + 1, pid, "catch");
	kill(pid, SIGINT);
	expect_exit0(pid, "catch");
	printf("a caught InterruptedException: the next await throws at once, the result (11) stands\n");
	return 0;
}

static int cmd_wakeone(const char *dev)
{
	long w0 = stat_of(dev, KW_WAITERS);
	pid_t a, b, first;
	int status, fd;

	a = fork();
	if (a == 0)
		_exit(ioctl(open_or_die(dev, O_RDONLY), KW_AWAIT, 0) == 1 ? 0 : 3);
	b = fork();
	if (b == 0)
		_exit(ioctl(open_or_die(dev, O_RDONLY), KW_AWAIT, 0) == 1 ? 0 : 3);
	if (a < 0 || b < 0)
		fail("fork: %s", strerror(errno));
	wait_count(dev, KW_WAITERS, w0 + 2, -1, "wakeOne waiters");
	expect_blocked(a, "wakeOne waiter a");
	expect_blocked(b, "wakeOne waiter b");
	fd = open_or_die(dev, O_RDONLY);
	ioctl_or_die(fd, KW_WAKEONE, 0, "wakeOne");
	first = waitpid(-1, &status, 0);
	if (first != a && first != b)
		fail("wakeOne: waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("wakeOne: the woken waiter ended with status 0x%x", status);
	/* the other one is still waiting */
	expect_blocked(first == a ? b : a, "wakeOne: the other waiter");
	if (stat_of(dev, KW_WAITERS) != w0 + 1)
		fail("wakeOne: %ld waiters left, want 1",
		     stat_of(dev, KW_WAITERS) - w0);
	ioctl_or_die(fd, KW_WAKEONE, 0, "wakeOne");
	expect_exit0(first == a ? b : a, "wakeOne: the other waiter");
	close(fd);
	printf("wakeOne woke one waiter of two, then the other\n");
	return 0;
}

static void kill_and_reap(pid_t pid, const char *what);

/*
 * An EPOLLEXCLUSIVE epoll entry is an exclusive entry on a wait queue:
 * on the queue of the script's waiters it would take wakeOne's one
 * wake-up (or be passed over), and a waiter queued after it would sleep
 * on.  The poller sleeps in epoll_wait first, then the waiter queues.
 */
static int cmd_wakeone_excl(const char *dev)
{
	long w0 = stat_of(dev, KW_WAITERS);
	long long t0;
	pid_t p, a;
	int status, fd;

	p = fork();
	if (p == 0) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE };
		int ep = epoll_create1(0);

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD,
					open_or_die(dev, O_RDONLY), &ev))
			_exit(3);
		for (;;)
			epoll_wait(ep, &ev, 1, -1);
	}
	if (p < 0)
		fail("fork: %s", strerror(errno));
	expect_blocked(p, "wakeOne: the EPOLLEXCLUSIVE poller");
	a = fork();
	if (a == 0)
		_exit(ioctl(open_or_die(dev, O_RDONLY), KW_AWAIT, 0) == 1 ? 0 : 3);
	if (a < 0)
		fail("fork: %s", strerror(errno));
	wait_count(dev, KW_WAITERS, w0 + 1, a, "wakeOne waiter");
	fd = open_or_die(dev, O_RDONLY);
	ioctl_or_die(fd, KW_WAKEONE, 0, "wakeOne");
	close(fd);
	for (t0 = now_ms(); waitpid(a, &status, WNOHANG) == 0; sleep_ms(10))
		if (now_ms() - t0 > 5000)
			fail("wakeOne: the waiter still sleeps 5 s later, behind an EPOLLEXCLUSIVE poller");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("wakeOne: the waiter ended with status 0x%x", status);
	kill_and_reap(p, "the EPOLLEXCLUSIVE poller");
	printf("wakeOne woke the waiter queued behind an EPOLLEXCLUSIVE poller\n");
	return 0;
}

static int cmd_gate(const char *dev, const char *gate)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		int g;

		set_handler(SIGINT, 0);
		g = open(gate, O_RDONLY);
		_exit(g == -1 && errno == EINTR && handled == 1 ? 0 : 3);
	}
	wait_count(dev, KW_GATED, 1, pid, "open that waits");
	kill(pid, SIGINT);
	expect_exit0(pid, "open that waits, SIGINT");
	if (stat_of(dev, KW_GATED) != 0)
		fail("the interrupted open still counts as waiting");
	printf("SIGINT during an open that waits: EINTR\n");
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(open(gate, O_RDONLY) >= 0 ? 0 : 3);
	wait_count(dev, KW_GATED, 1, pid, "open that waits");
	expect_blocked(pid, "open that waits");
	fd = open_or_die(dev, O_RDONLY);
	ioctl_or_die(fd, KW_GATE, 1, "gate");
	expect_exit0(pid, "open let through");
	ioctl_or_die(fd, KW_GATE, 0, "gate");
	close(fd);
	printf("the gate let a waiting open through\n");
	return 0;
}

/* ---- SIGKILL ------------------------------------------------------------- */

/* SIGKILLs pid and checks that it is gone within a few seconds. */
static void kill_and_reap(pid_t pid, const char *what)
{
	long long t0 = now_ms();
	int status;

	kill(pid, SIGKILL);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			fail("%s: waitpid: %s", what, strerror(errno));
		if (now_ms() - t0 > 5000)
			fail("%s: still alive 5 s after SIGKILL", what);
		sleep_ms(10);
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail("%s: ended with status 0x%x, not by SIGKILL", what, status);
	printf("%s: gone %lld ms after SIGKILL\n", what, now_ms() - t0);
}

static int cmd_killwait(const char *dev)
{
	pid_t pid;

	drain(dev);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		char buf[8];

		if (read(open_or_die(dev, O_RDONLY), buf, sizeof(buf)) < 0)
			_exit(4);
		_exit(3);
	}
	expect_blocked(pid, "killwait");
	kill_and_reap(pid, "a process waiting in read(2)");
	/* the script still serves: another reader is woken as before */
	return cmd_block(dev);
}

/*
 * A child in ioctl(cmd, arg) of DEV, checked still in it (expect_blocked),
 * then killed with SIGKILL and reaped (kill_and_reap); what names it.
 */
static void kill_in_ioctl(const char *dev, unsigned long cmd, long arg,
			  const char *what)
{
	pid_t pid;

	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		ioctl(open_or_die(dev, O_RDONLY), cmd, arg);
		_exit(3);
	}
	expect_blocked(pid, what);
	kill_and_reap(pid, what);
}

static int cmd_killrun(const char *dev)
{
	char buf[8];
	long long t0;
	int fd;

	kill_in_ioctl(dev, KW_SPIN, 0, "a process running a callback");
	/* the lock is free again: a non-blocking read answers at once */
	drain(dev);
	fd = open_or_die(dev, O_RDONLY | O_NONBLOCK);
	t0 = now_ms();
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("read after the kill: not EAGAIN");
	if (now_ms() - t0 > 2000)
		fail("read after the kill took %lld ms", now_ms() - t0);
	close(fd);
	printf("the script answers at once after the kill\n");
	return 0;
}

/*
 * SIGKILL of a process in System.sleep: the sleep ends early and the
 * callback aborts there (the guest script checks that its print after
 * the sleep never reaches the log).
 */
static int cmd_killsleep(const char *dev)
{
	kill_in_ioctl(dev, KW_SLEEP, 10000, "a process in System.sleep");
	return 0;
}

/* ---- awaitFor ------------------------------------------------------------ */

static int cmd_awaitfor(const char *dev)
{
	struct rusage ru0, ru1;
	long long t0, dt;
	long r, slept;
	pid_t pid;
	int i, fd = open_or_die(dev, O_RDONLY);

	/*
	 * At once: none of 100 sleeps (an awaitFor(0) that slept until the
	 * next tick would be a voluntary context switch each), whatever the
	 * load makes of their time.
	 */
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ms();
	for (i = 0; i < 100; i++) {
		r = ioctl_or_die(fd, KW_AWAITFOR, 0, "awaitFor(0)");
		if (r != 0)
			fail("awaitFor(0) returned %ld, want 0", r);
	}
	dt = now_ms() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	slept = ru1.ru_nvcsw - ru0.ru_nvcsw;
	if (slept > 10 || dt > 5000)
		fail("100 awaitFor(0) slept %ld times in %lld ms, want each at once",
		     slept, dt);
	printf("100 awaitFor(0): false at once, %ld sleeps, %lld ms in all\n",
	       slept, dt);
	t0 = now_ms();
	r = ioctl_or_die(fd, KW_AWAITFOR, 400, "awaitFor(400)");
	dt = now_ms() - t0;
	if (r != 0 || dt < 400 || dt > 5000)
		fail("awaitFor(400) returned %ld after %lld ms, want 0 after 400..5000",
		     r, dt);
	printf("awaitFor(400) nobody wakes: false after %lld ms\n", dt);
	/* woken by a write from another process after BLOCKED_MS */
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		sleep_ms(BLOCKED_MS);
		write_str(dev, "x");
		_exit(0);
	}
	t0 = now_ms();
	r = ioctl_or_die(fd, KW_AWAITFOR, 8000, "awaitFor(8000)");
	dt = now_ms() - t0;
	expect_exit0(pid, "awaitFor writer");
	if (r != 1 || dt < BLOCKED_MS - 50 || dt > 6000)
		fail("awaitFor(8000) woken after %d ms returned %ld after %lld ms",
		     BLOCKED_MS, r, dt);
	printf("awaitFor(8000) woken by a writer: true after %lld ms\n", dt);
	close(fd);
	drain(dev);
	return 0;
}

/* ---- many processes ------------------------------------------------------ */

/* Message (p, i) of size bytes in msg: "PP IIIIIIIIIII...\n". */
static void make_msg(char *msg, long size, long p, long i)
{
	memset(msg, '.', size);
	snprintf(msg, size, "%02ld %011ld", p, i);
	msg[strlen(msg)] = '.';
	msg[size - 1] = '\n';
}

/* Counts message got (size bytes) in seen[]: 0, or 1 when it is bad. */
static int count_msg(char *got, long size, long procs, long n, long tokens,
		     unsigned int *seen)
{
	long gp, gi;

	got[size - 1] = '\0';
	if (sscanf(got, "%ld %ld", &gp, &gi) != 2 || gp < 0 || gp > procs ||
	    gi < 0 || gi >= (gp == procs ? tokens : n))
		return 1;
	__atomic_fetch_add(&seen[gp * n + gi], 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Messages passed around by P processes, each reading one message and
 * then writing one of its own, N times: TOKENS messages circulate, so at
 * any time at least P - TOKENS processes are blocked in read(2) and every
 * write wakes one of them (fifo.k wakes all its readers: they race for
 * the message).  No deadlock: a process blocked in read holds no message,
 * so the TOKENS messages are queued or about to be.  This process writes
 * the tokens first and reads the TOKENS messages left at the end; every
 * message written, by anyone, must be read exactly once (counted in
 * shared memory).
 */
static int cmd_exchange(int argc, char **argv)
{
	long procs = 8, n = 10000, size = 16, tokens = 3, p, i, bad = 0;
	char msg[4096], got[4096];
	unsigned int *seen;
	long long t0;
	int opt, fd;

	while ((opt = getopt(argc, argv, "p:n:s:t:")) != -1) {
		switch (opt) {
		case 'p': procs = strtol(optarg, NULL, 10); break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 's': size = strtol(optarg, NULL, 10); break;
		case 't': tokens = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || procs < 1 || procs > 64 || n < 1 ||
	    n > 10000000 || size < 16 || size > 4096 || 65536 % size ||
	    tokens < 1 || tokens >= procs || tokens > n)
		return 2;
	drain(argv[optind]);
	/* seen[p * n + i]: message i of process p; the tokens as p = procs */
	seen = mmap(NULL, (procs + 1) * n * sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seen == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	fd = open_or_die(argv[optind], O_RDWR);
	for (i = 0; i < tokens; i++) {
		make_msg(msg, size, procs, i);
		if (write(fd, msg, size) != size)
			fail("token %ld: write: %s", i, strerror(errno));
	}
	t0 = now_ms();
	for (p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (pid)
			continue;
		close(fd);
		fd = open_or_die(argv[optind], O_RDWR);
		for (i = 0; i < n; i++) {
			/* whole messages: the FIFO holds a multiple of size */
			ssize_t r = read(fd, got, size);

			if (r != size)
				fail("process %ld: read %ld returned %zd (%s)", p, i,
				     r, r < 0 ? strerror(errno) : "short");
			if (count_msg(got, size, procs, n, tokens, seen))
				fail("process %ld: read a bad message '%s'", p, got);
			make_msg(msg, size, p, i);
			if (write(fd, msg, size) != size)
				fail("process %ld: write %ld: %s", p, i,
				     strerror(errno));
		}
		_exit(0);
	}
	for (p = 0; p < procs; p++) {
		int status;

		if (wait(&status) < 0)
			fail("wait: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("an exchanging process ended with status 0x%x", status);
	}
	/* the last TOKENS messages, then nothing */
	for (i = 0; i < tokens; i++) {
		if (read(fd, got, size) != size)
			fail("message %ld of the last %ld: %s", i, tokens,
			     strerror(errno));
		if (count_msg(got, size, procs, n, tokens, seen))
			fail("read a bad message '%s'", got);
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) || read(fd, got, size) != -1 ||
	    errno != EAGAIN)
		fail("%s", "messages left after the last ones");
	close(fd);
	for (p = 0; p <= procs; p++) {
		for (i = 0; i < (p == procs ? tokens : n); i++) {
			if (seen[p * n + i] != 1 && bad++ < 10)
				fprintf(stderr, "kchwait: message %ld of %s %ld read %u times\n",
					i, p == procs ? "tokens" : "process", p,
					seen[p * n + i]);
		}
	}
	if (bad)
		fail("%ld messages lost or duplicated", bad);
	printf("%ld processes x %ld blocking read+write exchanges of %ld bytes, %ld messages in flight: each of %ld messages read once (%lld ms)\n",
	       procs, n, size, tokens, procs * n + tokens, now_ms() - t0);
	return 0;
}

/* ---- timers -------------------------------------------------------------- */

static int cmd_timer(const char *dev, long period, long run)
{
	long long t0, dt;
	long ticks, boots, want, again;
	char line[64];
	ssize_t r;
	int fd = open_or_die(dev, O_RDONLY);

	/* the init's own timer fires after the init, every 5 ms */
	boots = ioctl_or_die(fd, KT_BOOT, 0, "boot ticks");
	if (boots < 1)
		fail("the timer the init started never ran");
	/* the clock from before the start to after the cancel: no tick
	 * can come outside it */
	t0 = now_ms();
	ioctl_or_die(fd, KT_EVERY, period, "every");
	/* a reader woken by the timer's function */
	r = read(fd, line, sizeof(line) - 1);
	if (r <= 0)
		fail("read woken by the timer: %s", r < 0 ? strerror(errno) : "EOF");
	line[r] = '\0';
	if (strncmp(line, "tick ", 5))
		fail("read woken by the timer got '%s'", line);
	sleep_ms(run);
	ticks = ioctl_or_die(fd, KT_STOP, 0, "cancel");
	dt = now_ms() - t0;
	want = dt / period;
	printf("every(%ld): %ld ticks in %lld ms (%ld expected); a reader woken by a tick got '%.*s'\n",
	       period, ticks, dt, want, (int)strcspn(line, "\n"), line);
	/* never early; late under emulation, but not by more than half */
	if (ticks > want + 1 || ticks < want / 2)
		fail("%ld ticks in %lld ms of a %ld ms period", ticks, dt, period);
	sleep_ms(3 * period + 100);
	again = ioctl_or_die(fd, KT_TICKS, 0, "ticks");
	if (again != ticks)
		fail("the cancelled timer ticked on: %ld, then %ld", ticks, again);
	printf("cancelled: no tick after\n");
	close(fd);
	return 0;
}

/* ---- queues freed by the collector ----------------------------------------- */

#define PERFILE_N 64

/*
 * FILEDEV's poll registers the file's own queue: PERFILE_N files are
 * opened, added to an epoll set and polled; half are closed (epoll lets
 * go of them, then the release unroots their queues), a collection runs,
 * and the other half must still answer epoll (their queues are alive);
 * then all are closed and collected and the set is empty.  KASAN and the
 * queues' WARN_ON_ONCE(waitqueue_active) watch the frees.
 */
static int cmd_perfile(const char *dev, const char *filedev)
{
	struct epoll_event evs[PERFILE_N];
	int fds[PERFILE_N], ep, i, n, kept = 0;
	int cfd = open_or_die(dev, O_RDONLY);

	ep = epoll_create1(0);
	if (ep < 0)
		fail("epoll_create1: %s", strerror(errno));
	for (i = 0; i < PERFILE_N; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.fd = i };
		struct pollfd p;

		fds[i] = open_or_die(filedev, O_RDWR);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			fail("epoll_ctl: %s", strerror(errno));
		p.fd = fds[i];
		p.events = POLLIN | POLLOUT;
		if (poll(&p, 1, 0) != 1 || p.revents != POLLOUT)
			fail("poll of file %d: revents 0x%x", i, p.revents);
	}
	for (i = 0; i < PERFILE_N; i += 2) {
		close(fds[i]);
		fds[i] = -1;
	}
	ioctl_or_die(cfd, KW_GC, 0, "collection");
	n = epoll_wait(ep, evs, PERFILE_N, 0);
	for (i = 0; i < n; i++)
		if (evs[i].data.fd % 2 == 1 && evs[i].events == EPOLLOUT)
			kept++;
	if (n != PERFILE_N / 2 || kept != n)
		fail("epoll after closing half: %d events, %d of the open files", n, kept);
	for (i = 1; i < PERFILE_N; i += 2)
		close(fds[i]);
	ioctl_or_die(cfd, KW_GC, 0, "collection");
	n = epoll_wait(ep, evs, PERFILE_N, 0);
	if (n != 0)
		fail("epoll after closing all: %d events", n);
	close(ep);
	close(cfd);
	printf("%d files' own queues polled by epoll and poll(2): the open ones answer after a collection, the released ones are freed\n",
	       PERFILE_N);
	return 0;
}

/* ---- where waiting is refused --------------------------------------------- */

static int cmd_outside(const char *dev, const char *bad, const char *old)
{
	struct pollfd p;
	char buf[8];
	long r, released;
	int fd = open_or_die(dev, O_RDONLY), bfd;

	if (ioctl_or_die(fd, KW_INITMSG, 0, "init") != 1)
		fail("await in the init did not throw \"cannot wait here\"");
	printf("init: cannot wait here\n");
	if (ioctl_or_die(fd, KW_NESTED, 0, "nested") != 1)
		fail("await in a sort comparator did not throw \"cannot wait here\"");
	printf("sort comparator: cannot wait here\n");
	released = ioctl_or_die(fd, KW_RELEASE, 0, "release count");
	bfd = open_or_die(bad, O_RDWR);
	if (lseek(bfd, 0, SEEK_SET) != -1 || errno != EIO)
		fail("lseek whose seek awaits: not EIO");
	printf("seek: EIO\n");
	p.fd = bfd;
	p.events = POLLIN;
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR))
		fail("poll whose poll awaits: revents 0x%x, want POLLERR", p.revents);
	printf("poll: POLLERR\n");
	close(bfd);
	if (ioctl_or_die(fd, KW_RELEASE, 0, "release count") != released + 1)
		fail("release: await did not throw \"cannot wait here\"");
	printf("release: cannot wait here\n");
	bfd = open_or_die(old, O_RDONLY);
	if (read(bfd, buf, sizeof(buf)) != -1 || errno != EIO)
		fail("a Device's read that awaits: not EIO");
	close(bfd);
	printf("Device read: EIO\n");
	ioctl_or_die(fd, KW_TIMER, 0, "timer");
	sleep_ms(500);
	r = ioctl_or_die(fd, KW_TIMERST, 0, "timer state");
	if (r != 10)
		fail("timer whose function awaits: state %ld, want 10 (one run, cancelled)", r);
	printf("timer: one run, cancelled\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "block"))
		rc = cmd_block(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "nonblock"))
		rc = cmd_nonblock(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "poll"))
		rc = cmd_ready(argv[2], BY_POLL);
	else if (argc == 3 && !strcmp(argv[1], "select"))
		rc = cmd_ready(argv[2], BY_SELECT);
	else if (argc == 3 && !strcmp(argv[1], "epoll"))
		rc = cmd_ready(argv[2], BY_EPOLL);
	else if (argc == 3 && !strcmp(argv[1], "sigint"))
		rc = cmd_sigint(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "restart"))
		rc = cmd_restart(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "catch"))
		rc = cmd_catch(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "wakeone"))
		rc = cmd_wakeone(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "wakeone_excl"))
		rc = cmd_wakeone_excl(argv[2]);
	else if (argc == 4 && !strcmp(argv[1], "gate"))
		rc = cmd_gate(argv[2], argv[3]);
	else if (argc == 3 && !strcmp(argv[1], "killwait"))
		rc = cmd_killwait(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "killrun"))
		rc = cmd_killrun(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "killsleep"))
		rc = cmd_killsleep(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "awaitfor"))
		rc = cmd_awaitfor(argv[2]);
	else if (argc >= 3 && !strcmp(argv[1], "exchange"))
		rc = cmd_exchange(argc - 1, argv + 1);
	else if (argc == 5 && !strcmp(argv[1], "timer"))
		rc = cmd_timer(argv[2], strtol(argv[3], NULL, 10),
			       strtol(argv[4], NULL, 10));
	else if (argc == 4 && !strcmp(argv[1], "perfile"))
		rc = cmd_perfile(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "outside"))
		rc = cmd_outside(argv[2], argv[3], argv[4]);
	if (rc == 2)
		fprintf(stderr, "usage: see the comment at the top of kchwait.c\n");
	return rc;
}
