// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_main.c - build/kvm: run a K image in the userspace VM.
 *
 *	kvm [--budget N] [--cb-budget N] [--heap BYTES] [--depth N]
 *	    [--param NAME=VALUE]... [--serve] [--stats] [--jit STUBS.so]
 *	    [--jit-nest N] IMAGE.kbc
 *
 * --param gives the script a load-time parameter (System.param, the
 * language reference §9.3); parameters that break its rules (params.c)
 * refuse the load with exit status 1 and the reason on stderr.
 *
 * --jit loads the JIT stubs `ktc compile --jit` made for this image (a
 * shared object exporting `kjit_table`; its handlers bind to this
 * executable's kop_* symbols): stubs for another image are refused
 * (exit 3).  --jit-nest N lets them run at most N frames deep natively
 * (1 to KP_JIT_NEST_MAX, the default): konoha.ko's smaller limit
 * (`ktc run` passes it) makes the frame array a waiting call keeps, which
 * the heap quota is charged for, as long as in the kernel.
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
 * other operand; "err ERRNO HEX" for an ioctl with ARG @HEX that failed:
 * the user buffer after the call); script output comes before it as "out
 * TEXT" lines and logged callback failures as "log TEXT" lines.  Today's
 * operations:
 *	open NAME [r|w|rw] [nonblock|-]	ok FD
 *	read FD [COUNT]		ok N HEX	(ok 0 - at EOF)
 *	readall FD		ok N HEX
 *	write FD [HEX]		ok N		("-" writes nothing)
 *	ioctl FD CMD [ARG]	ok RESULT	(ARG @HEX: ok RESULT HEX, err E HEX)
 *	lseek FD OFF [WHENCE]	ok POS		(0|set, 1|cur, 2|end, or any N)
 *	pread FD COUNT OFF	ok N HEX	(the position stays)
 *	pwrite FD OFF [HEX]	ok N		(the position stays)
 *	poll FD			ok MASK
 *	close FD		ok 0
 *	devices			ok NAME...
 *	wait MS			ok 0		(virtual time advances by MS)
 *	sync			ok 0		(every background op has ended)
 *	&OP OPERAND...		ok N		(OP runs as background op N)
 *	settle			ok 0		(runs what can run, see below)
 *	quit
 * A file opened r or w refuses write or read with EBADF, as Linux does.
 *
 * (1.1) Blocking (the language reference §9.2, §9.4).  Every operation that
 * runs a callback runs on a thread of its own, so that a callback waiting in
 * WaitQueue.await keeps its C stack while others run.  A baton makes the run
 * deterministic: exactly one thread runs at a time, handed the baton by the
 * main thread (the scheduler), and gives it back when its operation ends or
 * when it waits.  A foreground operation's answer is its ok/err line,
 * printed when it ends; if it waits, the runnable operations run meanwhile,
 * and when none can run and no timer or timeout is due, the run is a
 * deadlock: "deadlock: every operation waits" on stderr, exit status 2 (and
 * when only polls that wake themselves can run, a livelock: see
 * sched_step()).  `&OP` starts background operation N (counted from 1) and
 * answers at once; it runs at the next `settle` or command, and its own
 * answer comes, when it ends, as a line "&N ok ..." or "&N err ERRNO" among
 * the output lines of whichever command is running then (an FD that names no
 * open file makes background op N too: "ok N", then "&N err 9" at once, as
 * the process's own call fails).  `settle` runs every runnable operation
 * (those that wake-ups made runnable after the last command ended, so their
 * lines come after that command's answer) until none can run; every command
 * settles first too.  Settling is fair to the commands to come: between the
 * end of one command (other than `settle`) and the start of the next one
 * (its own settle included), each operation resumes at most
 * SIM_SETTLE_RESUMES times and the timers and timeouts due fire at most
 * SIM_SETTLE_FIRES times (each time a batch of the timers due).  An
 * operation still runnable after its share (two that keep waking each other,
 * a poll that wakes a queue it registered on) keeps its place on the run
 * list: it runs among the next foreground operation's steps, first come,
 * first served, and gets a new share after that command, so it cannot keep
 * the command from running.  The order stays deterministic: a settle runs
 * the first operation of the run list that still has a share, else fires
 * what is due.  Time is virtual for timers and awaitFor: it advances only by
 * `wait MS`, which runs the timers and timeouts due, by due time then start
 * order, each followed by what it woke (operations with a share at each
 * instant; timers without limit: time cannot pass a timer that restarts
 * itself without delay).  `sync` waits until every background operation has
 * ended.  `close` of a file a background operation uses releases it when
 * that operation ends.  At quit, operations still waiting or runnable are
 * killed (as by SIGKILL), then the files still open are released.
 */
#include "kvm.h"
#include <signal.h>
#include <pthread.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dlfcn.h>
#include <malloc.h>

/* sysexits.h's codes; 2 and 3 are this tool's own (see above). */
#define EX_USAGE	64
#define EX_NOINPUT	66
/* The serve protocol's descriptors start where a process's first would. */
#define FD_BASE		3
#define MAX_FILES	256

/* --serve: program output and logged reports become prefixed lines. */
static bool serve_mode;

/*
 * One open file of the serve protocol (files[fd - FD_BASE], NULL while
 * the slot is free).  The position is the host's to keep, as Linux
 * keeps it in struct file: device.c only reads and updates it.  (1.1)
 * Like a struct file it is counted: the descriptor holds a reference and
 * so does each operation using it, so that a close while a background
 * operation uses the file releases it when that operation ends.
 */
struct open_file {
	struct kdev_file *f;
	int64_t pos;
	bool can_read, can_write;	/* its open mode */
	bool nonblock;			/* (1.1) opened with nonblock */
	int refs;
};

/* The KDEV_FL_* flags of an open file, as device.c takes them. */
static unsigned int file_flags(const struct open_file *of)
{
	return (of->can_read ? KDEV_FL_READ : 0) |
	       (of->can_write ? KDEV_FL_WRITE : 0) |
	       (of->nonblock ? KDEV_FL_NONBLOCK : 0);
}

static struct open_file *files[MAX_FILES];
/* (1.1) slots an open in progress has taken (it may wait in open()) */
static bool fd_reserved[MAX_FILES];

/* Drops a reference to of: the last one releases the file. */
static void file_unref(struct open_file *of)
{
	if (--of->refs)
		return;
	kdev_release(of->f, of->pos);
	free(of);
}

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
		"[--param NAME=VALUE]... [--serve] [--stats] [--jit STUBS.so] "
		"[--jit-nest N] IMAGE.kbc\n");
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
	char *name;			/* n (malloc'd: it outlives the line) */
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

/* ---- (1.1) the simulation's operations and their scheduler -------------- */

/*
 * An operation in progress (the header comment above says how they are
 * scheduled).  Its thread runs only while it holds the baton
 * (running == the task); state changes under sched_mu.
 */
enum task_state {
	TASK_RUNNABLE,		/* on the run list */
	TASK_RUNNING,		/* holds the baton */
	TASK_WAITING,		/* in wq_wait, or in a poll with mask 0 */
	TASK_DONE,		/* ended; the scheduler joins and frees it */
};

struct sim_wq;
struct poll_ent;

struct task {
	struct task *next_run;		/* the run list */
	struct task *next_wait;		/* wq's waiters */
	struct task *next_all;		/* every task, in start order */
	struct sim_wq *wq;		/* waiting on, or NULL */
	struct poll_ent *polls;		/* a poll's registrations */
	bool poll_woken;		/* a registered queue was woken */
	bool spinning;			/* runnable: its own poll woke it */
	bool killed;			/* at quit: waits end, fatally */
	uint64_t round;			/* the round resumes counts in */
	unsigned int resumes;		/* resumed in that round */
	int64_t deadline;		/* awaitFor's timeout, virtual ns */
	int64_t wait_seq;		/* order in which waits began */
	int64_t timer_seq;		/* vm->timer_seq when the wait began */
	int wake;			/* enum kwait_result of the wait */
	enum task_state state;
	pthread_t thread;
	pthread_cond_t cv;		/* signalled when given the baton */
	unsigned int bg;		/* N of `&N`; 0 in the foreground */
	struct kvm *vm;
	const struct serve_op *op;
	struct serve_args args;
	struct serve_result res;
};

/*
 * A WaitQueue's host state (kvm_host.wq_size bytes, zeroed by the VM):
 * its waiters in the order they came, and the polls registered on it.
 */
struct sim_wq {
	struct task *head, *tail;
	struct poll_ent *pollers;
};

/* A poll's registration on a queue (PollTable.wait, poll_wait below). */
struct poll_ent {
	struct poll_ent *next_on_wq, *next_of_task;
	struct sim_wq *wq;
	struct task *task;
};

static pthread_mutex_t sched_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sched_cv = PTHREAD_COND_INITIALIZER;
static struct task *running;		/* the baton's holder, or NULL */
static struct task *run_head, *run_tail;
static struct task *all_tasks;
static __thread struct task *self;	/* the calling thread's task */
static unsigned int nbackground;	/* background operations started */
static unsigned int live_background;	/* of which not yet ended */
static bool fg_live;			/* a foreground operation is on */
static int64_t vnow;			/* virtual time, ns */
static int64_t timer_due = INT64_MAX;	/* the VM's timer_arm request */
static int64_t wait_seq;
/*
 * Timer runs at one virtual instant: a timer that keeps restarting
 * itself with start(0) would otherwise hold the simulation forever.
 */
#define SIM_TIMER_RUNS_MAX	100000
static int64_t timer_runs_at, timer_runs;
/*
 * The shares of settling (the header comment above): resumptions of each
 * operation, and fire_due() calls, in one round before it gives way to
 * the next command.  settle_round numbers the rounds (next_round()),
 * round_fires counts the current one's fire_due() calls.
 */
#define SIM_SETTLE_RESUMES	1000
#define SIM_SETTLE_FIRES	1000
static uint64_t settle_round;
static unsigned int round_fires;

static void make_runnable(struct task *t)
{
	t->state = TASK_RUNNABLE;
	t->spinning = false;
	t->next_run = NULL;
	if (run_tail)
		run_tail->next_run = t;
	else
		run_head = t;
	run_tail = t;
}

/*
 * The calling task gives the baton back (it has waited or ended) and,
 * unless it ended, sleeps until the scheduler hands it over again.
 */
static void task_yield(struct task *t, enum task_state st)
{
	pthread_mutex_lock(&sched_mu);
	t->state = st;
	running = NULL;
	pthread_cond_signal(&sched_cv);
	while (st != TASK_DONE && running != t)
		pthread_cond_wait(&t->cv, &sched_mu);
	pthread_mutex_unlock(&sched_mu);
}

/* Removes t from the queue it waits on, if any. */
static void wq_unlink(struct task *t)
{
	struct sim_wq *q = t->wq;
	struct task **pp, *prev = NULL;

	if (!q)
		return;
	for (pp = &q->head; *pp != t; pp = &(*pp)->next_wait)
		prev = *pp;
	*pp = t->next_wait;
	if (q->tail == t)
		q->tail = prev;
	t->next_wait = NULL;
	t->wq = NULL;
}

/* Drops every registration of t's poll. */
static void poll_unlink(struct task *t)
{
	struct poll_ent *e, **pp;

	while ((e = t->polls)) {
		t->polls = e->next_of_task;
		for (pp = &e->wq->pollers; *pp != e; pp = &(*pp)->next_on_wq)
			;
		*pp = e->next_on_wq;
		free(e);
	}
}

/* A waiting task ends its wait with result how and may run again. */
static void task_wake(struct task *t, int how)
{
	wq_unlink(t);
	poll_unlink(t);
	t->wake = how;
	t->deadline = INT64_MAX;
	make_runnable(t);
}

/*
 * kvm_host.wq_wait: queues the calling task on q (at the tail: wakeOne
 * takes the longest waiting), releases the script's lock, gives the
 * baton back, and once woken and scheduled takes the lock again.  The
 * task is queued before the lock goes, and no other thread runs before
 * it has given the baton back: no wake-up is lost.
 */
static int host_wq_wait(void *ctx, void *wq, int64_t timeout_ms,
			struct kp_mutex *lock)
{
	struct sim_wq *q = wq;
	struct task *t = self;

	(void)ctx;
	/* the VM lets only device callbacks wait, and they run in tasks */
	if (KP_WARN_ON(!t))
		return KWAIT_FATAL;
	/* killed at quit: a killable wait ends at once */
	if (t->killed)
		return KWAIT_FATAL;
	t->wq = q;
	t->next_wait = NULL;
	if (q->tail)
		q->tail->next_wait = t;
	else
		q->head = t;
	q->tail = t;
	t->deadline = timeout_ms < 0 ? INT64_MAX :
		vnow + timeout_ms * 1000000;
	t->wait_seq = ++wait_seq;
	t->timer_seq = t->vm->timer_seq;
	t->wake = KWAIT_WOKEN;
	kp_mutex_unlock(lock);
	task_yield(t, TASK_WAITING);
	kp_mutex_lock_always(lock);
	return t->wake;
}

/*
 * kvm_host.wq_wake: the longest waiter (all: every waiter), then every
 * poll registered on q, become runnable in that order.
 */
static void host_wq_wake(void *ctx, void *wq, bool all)
{
	struct sim_wq *q = wq;
	struct task *t;

	(void)ctx;
	while (q->head) {
		task_wake(q->head, KWAIT_WOKEN);
		if (!all)
			break;
	}
	while (q->pollers) {
		t = q->pollers->task;
		t->poll_woken = true;
		/* one whose poll is running now polls again at once */
		if (t->state == TASK_WAITING)
			task_wake(t, KWAIT_WOKEN);
		else
			poll_unlink(t);
	}
}

/* kvm_host.poll_wait: registers the poll of task pt on q. */
static void host_poll_wait(void *ctx, void *wq, void *pt)
{
	struct task *t = pt;
	struct sim_wq *q = wq;
	struct poll_ent *e, **pp;

	(void)ctx;
	for (e = t->polls; e; e = e->next_of_task)
		if (e->wq == q)
			return;
	e = malloc(sizeof(*e));
	if (!e) {
		/* unregistered, it would sleep through the wake-up */
		t->poll_woken = true;
		return;
	}
	e->wq = q;
	e->task = t;
	/* at the tail: a wake-up makes the polls runnable in their order */
	for (pp = &q->pollers; *pp; pp = &(*pp)->next_on_wq)
		;
	e->next_on_wq = NULL;
	*pp = e;
	e->next_of_task = t->polls;
	t->polls = e;
}

/* kvm_host.wq_fini: the VM frees a queue only when nothing is on it. */
static void host_wq_fini(void *ctx, void *wq)
{
	struct sim_wq *q = wq;

	(void)ctx;
	KP_WARN_ON(q->head || q->pollers);
}

static int64_t host_now_ns(void *ctx)
{
	(void)ctx;
	return vnow;
}

static void host_timer_arm(void *ctx, int64_t due_ns)
{
	(void)ctx;
	timer_due = due_ns;
}

/*
 * Takes the task at *link off the run list (prev: the one before it, or
 * NULL) and hands it the baton until it gives it back.
 */
static void run_one(struct task **link, struct task *prev)
{
	struct task *t = *link, **pp;

	*link = t->next_run;
	if (run_tail == t)
		run_tail = prev;
	pthread_mutex_lock(&sched_mu);
	t->state = TASK_RUNNING;
	running = t;
	pthread_cond_signal(&t->cv);
	while (running)
		pthread_cond_wait(&sched_cv, &sched_mu);
	pthread_mutex_unlock(&sched_mu);
	if (t->state != TASK_DONE)
		return;
	pthread_join(t->thread, NULL);
	for (pp = &all_tasks; *pp != t; pp = &(*pp)->next_all)
		;
	*pp = t->next_all;
	if (t->bg)
		live_background--;
	else
		fg_live = false;
	pthread_cond_destroy(&t->cv);
	free(t);
}

/*
 * The sequence number of the earliest-started timer due at due_ns (the
 * VM's own; see timer_first()).
 */
static int64_t timer_seq_due(struct kvm *vm, int64_t due_ns)
{
	int64_t seq = INT64_MAX;
	uint32_t i;

	for (i = 0; i < vm->ntimers; i++) {
		const struct kinst *ti = (const struct kinst *)vm->timers[i];

		if (ti->f[KF_TIMER_DUE].i == due_ns &&
		    ti->f[KF_TIMER_SEQ].i < seq)
			seq = ti->f[KF_TIMER_SEQ].i;
	}
	return seq;
}

/*
 * The simulation cannot go on (a deadlock, a livelock, runaway timers):
 * the output so far, then the one-line report on stderr, exit status 2.
 */
static void stop_run(const char *report)
{
	fflush(stdout);
	fprintf(stderr, "%s\n", report);
	fflush(stderr);
	_exit(2);
}

static void runaway_timers(void)
{
	char report[80];

	snprintf(report, sizeof(report), "abort: timers restart without "
		 "delay forever at %lld ms", (long long)(vnow / 1000000));
	stop_run(report);
}

/*
 * Runs the timer or timeout due first by now (virtual time), if any:
 * by due time, then the order they were started (a timer due at the
 * same time as a timeout goes first when it was started before that
 * wait began; the timers due together then run as one batch, without
 * those started after the timeout's wait began).  false: nothing is due.
 * runaway: the caller must run everything due before it can go on
 * (time must pass, or an operation must end), so timers that restart
 * without delay forever stop the run; a fair settle (settle()) gives
 * way instead and does not count.
 */
static bool fire_due(struct kvm *vm, bool runaway)
{
	struct task *t, *to = NULL;
	int64_t max_seq = INT64_MAX;
	bool timer;

	for (t = all_tasks; t; t = t->next_all)
		if (t->state == TASK_WAITING && t->deadline <= vnow &&
		    (!to || t->deadline < to->deadline ||
		     (t->deadline == to->deadline &&
		      t->wait_seq < to->wait_seq)))
			to = t;
	timer = timer_due <= vnow;
	if (!to && !timer)
		return false;
	if (timer && to && timer_due == to->deadline) {
		timer = timer_seq_due(vm, timer_due) <= to->timer_seq;
		max_seq = to->timer_seq;
	} else if (timer && to)
		timer = timer_due < to->deadline;
	if (!timer) {
		task_wake(to, KWAIT_TIMEOUT);
		return true;
	}
	if (runaway && timer_runs_at != vnow) {
		timer_runs_at = vnow;
		timer_runs = 0;
	}
	if (runaway && ++timer_runs > SIM_TIMER_RUNS_MAX)
		runaway_timers();
	/* the VM arms the next request; none if it may no longer fire */
	timer_due = INT64_MAX;
	kp_mutex_lock_always(&vm->lock);
	kvm_run_timers_started_by(vm, max_seq);
	kp_mutex_unlock(&vm->lock);
	return true;
}

/*
 * A poll whose callback wakes a queue it registered on is runnable again
 * at once (serve_poll()), as Linux's poll(2) loops without sleeping.
 * While an operation must end (sched_step()), steps that run only such
 * polls change nothing but what their poll callbacks change: after
 * SIM_SPIN_STEPS_MAX of them in a row, with no other operation run and
 * nothing fired in between, the run stops ("livelock: a poll keeps
 * waking itself", status 2), where the kernel's poll(2) would spin until
 * its timeout or a signal.  Each command starts the count anew.
 */
#define SIM_SPIN_STEPS_MAX	10000
static unsigned int spin_steps;

static void livelock(void)
{
	stop_run("livelock: a poll keeps waking itself (its poll() wakes a "
		 "queue it waits on)");
}

/*
 * One step while an operation must end (the foreground one, or every
 * background one for sync): the head of the run list runs, whatever its
 * share, or what is due fires.  The run list is first come, first
 * served, so the operation waited for runs among any that stay
 * runnable.
 */
static bool sched_step(struct kvm *vm)
{
	if (run_head) {
		spin_steps = run_head->spinning ? spin_steps + 1 : 0;
		if (spin_steps > SIM_SPIN_STEPS_MAX)
			livelock();
		run_one(&run_head, NULL);
		return true;
	}
	spin_steps = 0;
	return fire_due(vm, true);
}

/* A new round of settling: every operation gets its share again. */
static void next_round(void)
{
	settle_round++;
	round_fires = 0;
	spin_steps = 0;
}

/*
 * Runs until nothing can run and nothing is due, or what can run has had
 * its share of this round (the header comment above): the first task of
 * the run list with resumptions left runs; when none has, what is due
 * fires, SIM_SETTLE_FIRES times a round at most unless all_due (`wait`,
 * which must run every timer due before time passes).  The tasks past
 * their share stay on the run list in their order.
 */
static void settle_shares(struct kvm *vm, bool all_due)
{
	struct task **link, *prev, *t;

	for (;;) {
		prev = NULL;
		for (link = &run_head; (t = *link); link = &t->next_run) {
			if (t->round != settle_round) {
				t->round = settle_round;
				t->resumes = 0;
			}
			if (t->resumes < SIM_SETTLE_RESUMES)
				break;
			prev = t;
		}
		if (t) {
			t->resumes++;
			run_one(link, prev);
			continue;
		}
		if (!all_due && round_fires >= SIM_SETTLE_FIRES)
			return;
		if (!fire_due(vm, all_due))
			return;
		round_fires++;
	}
}

/*
 * The settle between commands (`settle`, and before every command), in
 * the round that began when the last command other than `settle` ended.
 */
static void settle(struct kvm *vm)
{
	settle_shares(vm, false);
}

/*
 * Nothing can run, nothing is due, and an operation that must end waits
 * (time advances only by `wait`): the run stops, status 2.
 */
static void deadlock(void)
{
	stop_run("deadlock: every operation waits");
}

/*
 * An operation's answer line: "ok ..." by its kind of result, or
 * "err ERRNO" ("err ERRNO HEX": an ioctl's user buffer after a call that
 * failed, which may have written to it first); prefix "&N " for a
 * background operation's.
 */
static void print_answer(const char *prefix, const struct serve_op *op,
			 int err, const struct serve_result *r)
{
	size_t i;

	fputs(prefix, stdout);
	if (err && op->kind == KDK_IOCTL && r->has_bytes) {
		printf("err %d ", -err);
		if (!r->nbytes)
			fputc('-', stdout);
		for (i = 0; i < r->nbytes; i++)
			printf("%02x", (unsigned char)r->bytes[i]);
		fputc('\n', stdout);
	} else if (err) {
		printf("err %d\n", -err);
	} else if (op->kind == KDK_DATA || op->kind == KDK_CONTENT) {
		printf("ok %zu ", r->nbytes);
		if (!r->nbytes)
			fputc('-', stdout);
		for (i = 0; i < r->nbytes; i++)
			printf("%02x", (unsigned char)r->bytes[i]);
		fputc('\n', stdout);
	} else if (op->kind == KDK_NAMES) {
		printf("ok%.*s\n", (int)r->nbytes, r->nbytes ? r->bytes : "");
	} else if (op->kind == KDK_IOCTL && r->has_bytes) {
		printf("ok %lld ", (long long)r->value);
		if (!r->nbytes)
			fputc('-', stdout);
		for (i = 0; i < r->nbytes; i++)
			printf("%02x", (unsigned char)r->bytes[i]);
		fputc('\n', stdout);
	} else {
		printf("ok %lld\n", (long long)r->value);
	}
}

/* Frees what parsing and running an operation allocated. */
static void serve_args_free(struct serve_args *a, struct serve_result *r)
{
	if (a->of)
		file_unref(a->of);
	a->of = NULL;
	free(a->name);
	free(a->bytes);
	free(a->ubuf);
	free(r->bytes);
}

/*
 * A task's thread: waits for the baton, runs the operation, drops the
 * file (a close's release runs here), prints the answer and ends.
 */
static void *task_main(void *arg)
{
	struct task *t = arg;
	char prefix[24] = "";
	int err;

	self = t;
	/* background operation N runs as another process: its own pid */
	if (t->bg)
		kp_set_thread_pid((int64_t)getpid() + t->bg);
	pthread_mutex_lock(&sched_mu);
	while (running != t)
		pthread_cond_wait(&t->cv, &sched_mu);
	pthread_mutex_unlock(&sched_mu);
	err = t->op->run(t->vm, t->op, &t->args, &t->res);
	if (t->args.of) {
		file_unref(t->args.of);
		t->args.of = NULL;
	}
	if (t->bg)
		snprintf(prefix, sizeof(prefix), "&%u ", t->bg);
	print_answer(prefix, t->op, err, &t->res);
	serve_args_free(&t->args, &t->res);
	task_yield(t, TASK_DONE);
	return NULL;
}

/*
 * Every operation's thread gets the same stack: the VM's guard allows a
 * call KP_USER_STACK below where it began, and the sanitizers' frames
 * are larger.
 */
#define TASK_STACK	(8u << 20)

/*
 * Starts op with its parsed operands (taken over) on a thread of its
 * own, runnable at the tail of the run list.  -errno when no thread can
 * be made (the operands are freed).
 */
static int task_start(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, unsigned int bg)
{
	struct task *t = calloc(1, sizeof(*t)), **pp;
	pthread_attr_t attr;
	int err;

	if (!t)
		return -ENOMEM;
	t->vm = vm;
	t->op = op;
	t->args = *a;
	t->bg = bg;
	t->deadline = INT64_MAX;
	pthread_cond_init(&t->cv, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, TASK_STACK);
	err = pthread_create(&t->thread, &attr, task_main, t);
	pthread_attr_destroy(&attr);
	if (err) {
		*a = t->args;
		pthread_cond_destroy(&t->cv);
		free(t);
		return -err;
	}
	memset(a, 0, sizeof(*a));
	for (pp = &all_tasks; *pp; pp = &(*pp)->next_all)
		;
	*pp = t;
	if (bg)
		live_background++;
	else
		fg_live = true;
	make_runnable(t);
	return 0;
}

/*
 * The end of the session: what can run runs (a settle); then every
 * operation still on is killed, as by SIGKILL, and runs to its end: a
 * waiting one is woken, its callback aborts ("abort: killed"); one still
 * runnable after its share of the settle aborts at its next wait (a
 * poll ends with EINTR).  Those woken meanwhile get the same.
 */
static void kill_waiting(struct kvm *vm)
{
	struct task *t;

	for (;;) {
		next_round();
		settle(vm);
		if (!all_tasks)
			return;
		for (t = all_tasks; t; t = t->next_all) {
			t->killed = true;
			if (t->state == TASK_WAITING)
				task_wake(t, KWAIT_FATAL);
		}
	}
}

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
	return files[fd - FD_BASE];
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
		/* the operation holds the file until it ends */
		a->of = get_file(word);
		if (!a->of)
			return -EBADF;
		a->of->refs++;
		return 0;
	case 'n':
		a->name = strdup(word);
		return a->name ? 0 : -ENOMEM;
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
		/* numbers past SEEK_END too: lseek refuses them (serve_lseek) */
		if (!strcmp(word, "set"))
			word = "0";
		else if (!strcmp(word, "cur"))
			word = "1";
		else if (!strcmp(word, "end"))
			word = "2";
		if (!parse_i64(word, &v))
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
 * kernel's VFS checks them: device.c knows no open modes.  The slot is
 * taken before open() runs, which may wait, as Linux takes the fd.
 */
static int serve_open(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	struct kdev *d = kdev_find(vm, a->name);
	struct open_file *of;
	int i, err;

	(void)op;
	if (!d)
		return -ENOENT;
	for (i = 0; i < MAX_FILES && (files[i] || fd_reserved[i]); i++)
		;
	if (i == MAX_FILES)
		return -EMFILE;
	of = calloc(1, sizeof(*of));
	if (!of)
		return -ENOMEM;
	of->can_read = a->can_read;
	of->can_write = a->can_write;
	of->nonblock = a->nonblock;
	fd_reserved[i] = true;
	err = kdev_open(d, file_flags(of), &of->f);
	fd_reserved[i] = false;
	if (err) {
		free(of);
		return err;
	}
	of->refs = 1;
	files[i] = of;
	r->value = FD_BASE + i;
	return 0;
}

/*
 * Linux's checks of a read or write of count bytes at pos before any
 * driver runs (rw_verify_area): a count that is negative as a ssize_t, a
 * negative position, or an end past the largest position fail with
 * EINVAL.  Then a read's count is cut to one call's most (read_count()).
 */
static int rw_verify(int64_t pos, int64_t count)
{
	if (count < 0 || pos < 0 || pos > INT64_MAX - count)
		return -EINVAL;
	return 0;
}

/*
 * What a read of count bytes can return: a Device's content and a
 * CharDevice's read are at most 64 KiB (KDEV_CONTENT_MAX, KDEV_READ_MAX),
 * so the host's buffer is cut to that, as konoha.ko cuts the call.
 */
static size_t read_count(int64_t count)
{
	size_t max = KDEV_CONTENT_MAX > KDEV_READ_MAX ? KDEV_CONTENT_MAX :
		KDEV_READ_MAX;

	return (uint64_t)count < max ? (size_t)count : max;
}

static int serve_read(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	size_t count;
	long n;
	int err;

	(void)vm;
	(void)op;
	if (!a->of->can_read)
		return -EBADF;
	err = rw_verify(a->of->pos, a->in[0]);
	if (err)
		return err;
	count = read_count(a->in[0]);
	r->bytes = malloc(count + 1);
	if (!r->bytes)
		return -ENOMEM;
	n = kdev_read(a->of->f, r->bytes, count, &a->of->pos,
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
	size_t count;
	long n;
	int err;

	(void)vm;
	(void)op;
	if (!a->of->can_read)
		return -EBADF;
	err = rw_verify(pos, a->in[0]);
	if (err)
		return err;
	count = read_count(a->in[0]);
	r->bytes = malloc(count + 1);
	if (!r->bytes)
		return -ENOMEM;
	n = kdev_read(a->of->f, r->bytes, count, &pos, file_flags(a->of));
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
	int err;

	(void)vm;
	(void)op;
	if (!a->of->can_write)
		return -EBADF;
	err = rw_verify(pos, (int64_t)a->nbytes);
	if (err)
		return err;
	n = kdev_write(a->of->f, a->bytes, a->nbytes, &pos,
		       file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->value = n;
	return 0;
}

/*
 * (1.1) poll(2) with no timeout: the callback's mask (5 for a Device);
 * while it is 0, the operation waits until a queue its poll registered
 * on (PollTable.wait) is woken, then polls again, as Linux's do_poll.
 * A wake-up during the poll itself makes it poll again without waiting,
 * but as Linux's busy poll does, only after what else can run: it goes
 * to the tail of the run list (a resumption of its settle's share), so a
 * poll that wakes its own queue cannot keep the next operation from
 * running.  Killed at quit, it ends with EINTR.
 */
static int serve_poll(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	struct task *t = self;
	int mask;

	(void)vm;
	(void)op;
	for (;;) {
		if (t->killed) {
			poll_unlink(t);
			return -EINTR;
		}
		t->poll_woken = false;
		mask = kdev_poll(a->of->f, a->of->pos, file_flags(a->of), t);
		if (mask)
			break;
		t->wake = KWAIT_WOKEN;
		if (t->poll_woken) {
			/* its registrations went with the wake-up */
			poll_unlink(t);
			make_runnable(t);
			t->spinning = true;
			task_yield(t, TASK_RUNNABLE);
			continue;
		}
		task_yield(t, TASK_WAITING);
		if (t->wake == KWAIT_FATAL) {
			poll_unlink(t);
			return -EINTR;
		}
	}
	poll_unlink(t);
	r->value = mask;
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
	int err;

	(void)vm;
	(void)op;
	if (!a->of->can_write)
		return -EBADF;
	err = rw_verify(a->of->pos, (int64_t)a->nbytes);
	if (err)
		return err;
	n = kdev_write(a->of->f, a->bytes, a->nbytes, &a->of->pos,
		       file_flags(a->of));
	if (n < 0)
		return (int)n;
	r->value = n;
	return 0;
}

/*
 * CMD cut to 32 bits as ioctl(2) takes it; the result comes back as
 * kdev_ioctl_result() filters it for any host, and one in -4095..-1 is
 * the error the caller of ioctl(2) would see (-1 and errno in a kernel).
 * ARG @HEX: the user buffer is the answer's bytes after the call,
 * whatever it returned.
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
			 a->of->pos, file_flags(a->of), &um, &r->value);
	if (!err && kdev_result_is_errno(r->value))
		err = (int)r->value;
	if (a->ubuf) {
		/* handed over: serve_command() prints and frees it */
		r->bytes = a->ubuf;
		r->nbytes = a->nubuf;
		r->has_bytes = true;
		a->ubuf = NULL;
	}
	return err;
}

/*
 * The new position is the answer.  WHENCE may be any number, as lseek(2)
 * takes it: kdev_llseek() refuses those outside 0..2 with EINVAL before
 * any callback (the language reference §9.1); one outside the int range
 * is passed as -1, so that no cut makes it 0..2.
 */
static int serve_lseek(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	int whence = a->in[1] >= 0 && a->in[1] <= 2 ? (int)a->in[1] : -1;
	int64_t pos;

	(void)vm;
	(void)op;
	pos = kdev_llseek(a->of->f, a->in[0], whence, &a->of->pos,
			  file_flags(a->of));
	if (pos < 0)
		return (int)pos;
	r->value = pos;
	return 0;
}

/*
 * The slot is free again at once; release() runs, whatever it answers,
 * when the last operation using the file ends (this one, unless a
 * background operation uses it too).
 */
static int serve_close(struct kvm *vm, const struct serve_op *op,
		       struct serve_args *a, struct serve_result *r)
{
	int i;

	(void)vm;
	(void)op;
	(void)r;
	for (i = 0; i < MAX_FILES; i++) {
		if (files[i] == a->of) {
			files[i] = NULL;
			file_unref(a->of);
			break;
		}
	}
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

/* The longest `wait`: virtual nanoseconds stay far from overflowing. */
#define SIM_WAIT_MAX_MS	10000000000ll

/*
 * (1.1) `wait MS`, on the scheduler's thread: virtual time advances to
 * each due time of a timer or an awaitFor timeout up to MS from now in
 * turn, running what falls due there (fire_due()) and what that makes
 * runnable, then to MS from now.  At each instant every timer and timeout
 * due fires before time passes (timers that restart without delay
 * forever stop the run); operations run with a share at each instant
 * (a round of settle_shares()), so ones that stay runnable do not hold
 * time.
 */
static int serve_wait(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	int64_t end, next;
	struct task *t;

	(void)op;
	(void)r;
	if (a->in[0] < 0 || a->in[0] > SIM_WAIT_MAX_MS)
		return -EINVAL;
	end = vnow + a->in[0] * 1000000;
	for (;;) {
		next_round();
		settle_shares(vm, true);
		next = timer_due;
		for (t = all_tasks; t; t = t->next_all)
			if (t->state == TASK_WAITING && t->deadline < next)
				next = t->deadline;
		if (next > end)
			break;
		vnow = next;
	}
	vnow = end;
	next_round();
	settle_shares(vm, true);
	return 0;
}

/*
 * (1.1) `sync`, on the scheduler's thread: runs until every background
 * operation has ended; a deadlock when they wait with nothing to wake
 * them.
 */
static int serve_sync(struct kvm *vm, const struct serve_op *op,
		      struct serve_args *a, struct serve_result *r)
{
	(void)op;
	(void)a;
	(void)r;
	while (live_background)
		if (!sched_step(vm))
			deadlock();
	settle(vm);
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
 * of the callbacks it ran came before it, and the answers of background
 * operations that ended meanwhile).  Operations that run no callback
 * (devops.def's `none`: devices, wait, sync) run on this, the
 * scheduler's, thread; the others on a task's (task_start()).  false:
 * quit.
 */
static bool serve_command(struct kvm *vm, char *line)
{
	char *words[SERVE_MAX_WORDS];
	const struct serve_op *op = NULL;
	struct serve_args a = { .can_read = true, .can_write = true };
	struct serve_result r = { 0 };
	const char *name;
	bool bg;
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
	/* what earlier commands woke runs first, its lines before ours */
	settle(vm);
	if (!strcmp(words[0], "settle")) {
		printf("ok 0\n");
		return true;
	}
	bg = words[0][0] == '&';
	name = words[0] + bg;
	for (i = 0; i < sizeof(serve_ops) / sizeof(serve_ops[0]); i++)
		if (!strcmp(name, serve_ops[i].name))
			op = &serve_ops[i];
	err = -ENOSYS;
	if (op)
		err = parse_operands(op->operands, words + 1, nwords - 1, &a);
	/* only a callback can run in the background (not wait or sync) */
	if (!err && bg && op->cb == KD_none)
		err = -EINVAL;
	if (!err && op->cb == KD_none) {
		err = op->run(vm, op, &a, &r);
		print_answer("", op, err, &r);
	} else if (!err && bg) {
		err = task_start(vm, op, &a, nbackground + 1);
		if (err)
			printf("err %d\n", -err);
		else
			printf("ok %u\n", ++nbackground);
	} else if (bg && err == -EBADF && op->cb != KD_none) {
		/* a bad FD: the background process's own call fails */
		printf("ok %u\n", ++nbackground);
		printf("&%u err %d\n", nbackground, EBADF);
	} else if (!err) {
		/* the task prints the answer when the operation ends */
		err = task_start(vm, op, &a, 0);
		if (err)
			print_answer("", op, err, &r);
		while (fg_live)
			if (!sched_step(vm))
				deadlock();
	} else {
		printf("err %d\n", -err);
	}
	serve_args_free(&a, &r);
	/* what runs after this answer has its shares anew */
	next_round();
	return true;
}

/*
 * Runs commands until quit or the end of stdin; then operations still
 * waiting are killed (kill_waiting()) and every file still open is
 * closed, so that release() runs for each as it would when a process
 * exits.
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
	kill_waiting(vm);
	for (i = 0; i < MAX_FILES; i++) {
		if (files[i]) {
			file_unref(files[i]);
			files[i] = NULL;
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
		/* (1.1) wait queues, poll and virtual time (the scheduler) */
		.wq_size = sizeof(struct sim_wq),
		.wq_fini = host_wq_fini,
		.wq_wait = host_wq_wait,
		.wq_wake = host_wq_wake,
		.poll_wait = host_poll_wait,
		.now_ns = host_now_ns,
		.timer_arm = host_timer_arm,
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
	/*
	 * The heap quota bounds what a script holds, so freed memory is kept
	 * for the next allocations instead of going back to the system at
	 * every free (glibc trims the heap's top past 128 KiB free, and maps
	 * larger blocks one by one): a loop that makes and drops a 40 KB
	 * array paid two page faults per page each time.  Setting the trim
	 * threshold stops glibc's moving mmap threshold, so that one is set
	 * too, to the most it would move to.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
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
		} else if (!strcmp(a, "--jit-nest")) {
			if (i + 1 >= argc || !parse_u64(argv[++i], &v) ||
			    v < 1 || v > KP_JIT_NEST_MAX)
				return usage();
			lim.jit_nest = (uint32_t)v;
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
