// SPDX-License-Identifier: GPL-2.0
/*
 * wait.c - (1.1) blocking and time: WaitQueue, PollTable.wait and Timer
 * (the language reference §9.2).
 *
 * Callbacks that wait.  A CharDevice callback that calls await() sleeps
 * in the host (kvm_host.wq_wait) with the script's lock released, so
 * other callbacks of the same script run meanwhile: other processes,
 * timers, the same file from another thread.  Each of them needs a call
 * stack of its own, while the sleeping one keeps its C stack (its task's
 * kernel stack, or its thread's) where it is.  So before it sleeps, the
 * waiting call's execution state (the register stack, frames, natives'
 * roots, budget, traces: struct kctx) is put aside with kvm_park(), and
 * the VM gets an empty one; after the wake-up, with the lock taken again,
 * kvm_unpark() swaps it back.  Pointers into the register stack held by
 * the waiting C frames (the interpreter's, JIT code's) stay valid: no one
 * else uses that stack meanwhile.
 *
 * A parked state is charged to the heap quota and its objects are roots
 * (kvm_wait_mark).  await may sleep only at the top nesting level of a
 * callback (vm->nest 1): a native that calls back into the script (sort's
 * comparator, toString in a conversion) keeps C state about objects that
 * others could change while it slept.
 *
 * Timers are VM objects on vm->timers while active; the host is asked to
 * call kvm_run_timers() when the earliest is due (one request per VM, a
 * delayed work item in the kernel, virtual time in the simulation).
 */
#include "kvm.h"

/* Idle states kept for reuse: a ping-pong of waits allocates nothing. */
#define KVM_IDLE_CTX_MAX	2u
/* Timer callbacks one kvm_run_timers() runs before it lets others go. */
#define KVM_TIMER_BATCH		64u
/*
 * How far behind a periodic timer may fall and still run its missed
 * periods one after another: beyond it, it starts again a period from
 * now.
 */
#define KVM_TIMER_CATCHUP_NS	1000000000LL
/* The longest delay of Timer.start and every, and of awaitFor's clamp. */
#define KVM_TIMER_MAX_MS	10000000
#define KVM_AWAIT_MAX_MS	10000
/* Budget units an await or awaitFor costs before it sleeps. */
#define KVM_WAIT_UNITS		100
/*
 * Budget units per active timer for each pass over vm->timers (a start
 * or cancel finding the earliest due time, a cancel finding the timer, a
 * run finding the next one due): a pass loads each timer object, which
 * a script with many timers cannot keep in the cache.
 */
#define KVM_TIMER_SCAN_UNITS	4

/* ---- parking a call's execution state ----------------------------------- */

/* Exchanges the execution state of vm and c (struct kctx's fields). */
static KP_INLINE void swap_state(struct kvm *vm, struct kctx *c)
{
	struct ksaved_trace t;
	uint32_t i, n;

#define SWAP(f) do {				\
		__typeof__(vm->f) t_ = vm->f;	\
		vm->f = c->f;			\
		c->f = t_;			\
	} while (0)
	SWAP(stack);
	SWAP(frames);
	SWAP(budget);
	SWAP(budget_rest);
	SWAP(stack_cap);
	SWAP(nframes);
	SWAP(frames_cap);
	SWAP(jit_nodirect);
	SWAP(nest);
	SWAP(stack_floor);
	SWAP(stack_low);
	SWAP(tmp);
	SWAP(ntmp);
	SWAP(tmp_cap);
	SWAP(conv);
	SWAP(nconv);
	SWAP(conv_cap);
	SWAP(exc);
	SWAP(trace_exc);
	SWAP(trace_frame);
	SWAP(trace);
	SWAP(ntrace);
	SWAP(trace_cap);
	SWAP(nsaved);
	SWAP(abort_kind);
	SWAP(killed);
	SWAP(charging);
	SWAP(lenient);
	SWAP(cb);
#undef SWAP
	/*
	 * One entry at a time: the wait runs deep in the kernel's stack.
	 * Entries past nsaved are unused (save_trace fills them, drop_saved
	 * frees): the used ones of both sides are enough.
	 */
	n = vm->nsaved > c->nsaved ? vm->nsaved : c->nsaved;
	for (i = 0; i < n; i++) {
		t = vm->saved[i];
		vm->saved[i] = c->saved[i];
		c->saved[i] = t;
	}
}

/* Frees an idle state and the arrays it holds, at what each was charged. */
static void idle_free(struct kvm *vm, struct kctx *c)
{
	kp_free(c->stack);
	kp_free(c->frames);
	kvm_mem_free(vm, c->tmp, c->tmp_cap * sizeof(struct kobj *));
	kvm_mem_free(vm, c->conv, c->conv_cap * sizeof(struct kconv));
	kp_free(c->trace);
	kp_free(c);
}

/*
 * The state a finished call left in the VM, now in c, made idle: every
 * count back to zero (a top-level call resets them as it ends), then
 * kept, or freed beyond KVM_IDLE_CTX_MAX.
 */
static void idle_put(struct kvm *vm, struct kctx *c)
{
	c->nframes = 0;
	c->nest = 0;
	c->ntmp = 0;
	c->nconv = 0;
	c->ntrace = 0;
	c->nsaved = 0;
	c->exc = NULL;
	c->trace_exc = NULL;
	c->trace_frame = KIMG_NONE;
	c->abort_kind = KVM_ABORT_NONE;
	c->killed = c->charging = c->lenient = false;
	c->cb = NULL;
	c->charged = 0;
	if (vm->nidle_ctx >= KVM_IDLE_CTX_MAX) {
		idle_free(vm, c);
		return;
	}
	c->next = vm->idle_ctx;
	vm->idle_ctx = c;
	vm->nidle_ctx++;
}

/*
 * An idle state: empty arrays (kept ones, or none yet).  Its frame array
 * holds at least vm->jit_frames_max frames, as kvm_jit_register() made
 * the first state's: JIT stubs push frames inline below that index
 * without growing the array (push_and_call in ctjit/codegen.py), so a
 * call that runs on this state while another waits must find them.
 */
static struct kctx *idle_get(struct kvm *vm)
{
	struct kctx *c = vm->idle_ctx;
	struct kframe *f;

	if (c) {
		vm->idle_ctx = c->next;
		vm->nidle_ctx--;
		c->next = NULL;
	} else {
		c = kp_zalloc(sizeof(*c));
		if (!c)
			return NULL;
		c->trace_frame = KIMG_NONE;
	}
	if (c->frames_cap < vm->jit_frames_max) {
		f = kp_realloc(c->frames, c->frames_cap * sizeof(*f),
			       vm->jit_frames_max * sizeof(*f));
		if (!f) {
			idle_put(vm, c);
			return NULL;
		}
		c->frames = f;
		c->frames_cap = vm->jit_frames_max;
	}
	return c;
}

/*
 * Puts the running call's state aside and gives the VM an idle one, for
 * a wait (the caller then releases the lock).  The register stack,
 * frames and traces (the pending one and the saved copies) of a parked
 * call are charged to the heap quota (the running call's are not: the
 * depth limit bounds them); its roots and conversions were charged as
 * they grew.  NULL: out of memory or over the quota, an abort set,
 * nothing moved.
 */
static struct kctx *kvm_park(struct kvm *vm)
{
	struct kctx *c;
	size_t n = sizeof(*c) + vm->stack_cap * sizeof(union kvalue) +
		vm->frames_cap * sizeof(struct kframe) +
		vm->trace_cap * sizeof(struct ktrace_ent);
	uint32_t i;

	for (i = 0; i < vm->nsaved; i++)
		n += vm->saved[i].n * sizeof(struct ktrace_ent);
	/* the caller rooted what it holds: a collection may run */
	if (!kvm_quota_take_collect(vm, n)) {
		if (vm->abort_kind == KVM_ABORT_NONE)
			kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	c = idle_get(vm);
	if (!c) {
		kvm_quota_give(vm, n);
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	swap_state(vm, c);
	c->charged = n;
	c->next = vm->parked;
	vm->parked = c;
	vm->nparked++;
	return c;
}

/*
 * With the lock taken again after the wait: the VM's current state (an
 * idle one: whoever ran meanwhile finished or parked) makes way for c's.
 */
static void kvm_unpark(struct kvm *vm, struct kctx *c)
{
	struct kctx **pp;

	for (pp = &vm->parked; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	vm->nparked--;
	kvm_quota_give(vm, c->charged);
	swap_state(vm, c);
	idle_put(vm, c);
}

uint32_t kvm_waiting(const struct kvm *vm)
{
	return vm->nparked;
}

/*
 * The collector's roots of the parked calls (as mark_roots() marks the
 * running one's) and of the active timers.
 */
void kvm_wait_mark(struct kvm *vm)
{
	const struct kctx *c;
	uint32_t i, r;

	for (c = vm->parked; c; c = c->next) {
		for (i = 0; i < c->nframes; i++) {
			const struct kframe *f = &c->frames[i];
			const union kvalue *regs = c->stack + f->base;

			for (r = 0; r < f->fn->nregs; r++)
				if (f->fn->reg_is_ref[r])
					kvm_gc_mark_obj(vm, regs[r].o);
		}
		for (i = 0; i < c->ntmp; i++)
			kvm_gc_mark_obj(vm, c->tmp[i]);
		for (i = 0; i < c->nconv; i++)
			kvm_gc_mark_obj(vm, c->conv[i].o);
		kvm_gc_mark_obj(vm, c->exc);
		kvm_gc_mark_obj(vm, c->trace_exc);
		for (i = 0; i < c->nsaved; i++)
			kvm_gc_mark_obj(vm, c->saved[i].exc);
		if (c->cb) {
			kvm_gc_mark_obj(vm, c->cb->ufile);
			kvm_gc_mark_obj(vm, c->cb->poll_file);
			kvm_gc_mark_obj(vm, c->cb->file);
		}
	}
	for (i = 0; i < vm->ntimers; i++)
		kvm_gc_mark_obj(vm, vm->timers[i]);
}

/* Frees what kvm_destroy() finds: idle states, the timer list. */
void kvm_wait_free(struct kvm *vm)
{
	struct kctx *c;

	KP_WARN_ON(vm->parked != NULL);
	while ((c = vm->idle_ctx)) {
		vm->idle_ctx = c->next;
		idle_free(vm, c);
	}
	vm->nidle_ctx = 0;
	kvm_mem_free(vm, vm->timers, vm->timers_cap * sizeof(struct kobj *));
	vm->timers = NULL;
	vm->ntimers = vm->timers_cap = 0;
}

/* ---- WaitQueue ---------------------------------------------------------- */

/* new WaitQueue(): the host's state, charged to the quota. */
int kvm_wq_init(struct kvm *vm, struct kobj *q)
{
	void *h;

	if (!vm->host.wq_size || !vm->host.wq_wait)
		return KVM_OK;
	h = kvm_mem_alloc(vm, vm->host.wq_size);
	if (!h)
		return KVM_ABORT;
	memset(h, 0, vm->host.wq_size);
	if (vm->host.wq_init)
		vm->host.wq_init(vm->host.ctx, h);
	((struct kinst *)q)->f[KF_WQ_HOST].i = (int64_t)(uintptr_t)h;
	return KVM_OK;
}

/* The collector frees q: nothing waits on it or polls it (see kvm.h). */
void kvm_wq_free(struct kvm *vm, struct kobj *q)
{
	void *h = kvm_wq_host(q);

	if (!h)
		return;
	KP_WARN_ON(((struct kinst *)q)->f[KF_WQ_WAITERS].i != 0);
	if (vm->host.wq_fini)
		vm->host.wq_fini(vm->host.ctx, h);
	kvm_mem_free(vm, h, vm->host.wq_size);
	((struct kinst *)q)->f[KF_WQ_HOST].i = 0;
}

/*
 * await (timeout_ms < 0) and awaitFor: sleeps on q with the lock
 * released.  *woken: false when the timeout passed.  Only in the top
 * level of a callback that may wait (vm->cb->can_wait: open, read,
 * write and ioctl of a CharDevice); a signal makes it and every later
 * wait of the callback throw InterruptedException, a fatal one aborts.
 */
KP_PATH int kvm_wq_wait(struct kvm *vm, struct kobj *q, int64_t timeout_ms,
			bool *woken)
{
	struct kdev_cb *cb = vm->cb;
	void *h = kvm_wq_host(q);
	struct kctx *c;
	int r;

	*woken = false;
	if (!cb || !cb->can_wait || vm->nest != 1 || !h)
		return kvm_throw_new(vm, KC_IllegalStateException,
				     "cannot wait here");
	if (cb->interrupted)
		return kvm_throw_new(vm, KC_InterruptedException,
				     "interrupted");
	/*
	 * Sleeping is free, but the wait itself (the lock released and
	 * taken again, a trip through the scheduler) costs the host as
	 * much as a few hundred instructions: a loop of awaitFor(0) pays
	 * for it, so the budget still bounds a callback's work.
	 */
	if (!kvm_charge(vm, KVM_WAIT_UNITS))
		return KVM_ABORT;
	/* a signal that came while running counts as one during the wait */
	if (kvm_push_root(vm, q))
		return KVM_ABORT;
	c = kvm_park(vm);
	if (!c) {
		kvm_pop_roots(vm, 1);
		return KVM_ABORT;
	}
	((struct kinst *)q)->f[KF_WQ_WAITERS].i++;
	r = vm->host.wq_wait(vm->host.ctx, h, timeout_ms, &vm->lock);
	kvm_unpark(vm, c);
	((struct kinst *)q)->f[KF_WQ_WAITERS].i--;
	kvm_pop_roots(vm, 1);
	if (cb->file) {
		/* f.position() and the flags are this call's again */
		struct kinst *file = (struct kinst *)cb->file;

		file->f[KF_FILE_POS].i = cb->pos;
		file->f[KF_FILE_FLAGS].i = cb->flags;
	}
	switch (r) {
	case KWAIT_TIMEOUT:
		return KVM_OK;
	case KWAIT_SIGNAL:
		cb->interrupted = true;
		return kvm_throw_new(vm, KC_InterruptedException,
				     "interrupted");
	case KWAIT_FATAL:
		vm->killed = true;
		return kvm_abort(vm, KVM_ABORT_KILLED);
	default:
		*woken = true;
		return KVM_OK;
	}
}

/* awaitFor's ms, clamped to 0..KVM_AWAIT_MAX_MS. */
int64_t kvm_await_ms(int64_t ms)
{
	return ms < 0 ? 0 : ms > KVM_AWAIT_MAX_MS ? KVM_AWAIT_MAX_MS : ms;
}

/*
 * PollTable.wait(q) in a CharDevice's poll: the host's poll call is
 * registered on q, and q is added to the File's $polled list, which
 * keeps it allocated until the file's release (epoll waits on it until
 * then).  A table kept past its poll throws DeviceError(EINVAL).
 *
 * The host registers each queue once per poll call: Linux's poll_wait
 * allocates an entry per call (poll(2)'s table pages, epoll's
 * eppoll_entry), outside the heap quota, so a loop of t.wait(q) must not
 * reach it more than once.  The table's $valid is 1 + the number of
 * queues this poll registered, which are kept first in $polled.
 */
int kvm_poll_wait(struct kvm *vm, struct kobj *t, struct kobj *q)
{
	struct kinst *table = (struct kinst *)t;
	struct kdev_cb *cb = vm->cb;
	struct kinst *file;
	struct karr *a;
	struct kobj *o;
	void *h;
	uint32_t i, type, done;

	if (!table->f[KF_POLLTABLE_VALID].i || !cb || !cb->poll_file)
		return kvm_throw_deverr(vm, EINVAL, "poll table used after its poll");
	if (!q)
		return kvm_throw_new(vm, KC_NullPointerException,
				     "null dereference");
	file = (struct kinst *)cb->poll_file;
	a = (struct karr *)file->f[KF_FILE_POLLED].o;
	if (a) {
		if (!kvm_charge(vm, a->len))
			return KVM_ABORT;
		for (i = 0; i < a->len; i++)
			if (a->v[i].o == q)
				goto listed;
	} else {
		type = vm->img->classes[KC_File]->field_types[KF_FILE_POLLED];
		a = kvm_arr_new(vm, type, 0);
		if (!a)
			return KVM_ABORT;
		file->f[KF_FILE_POLLED].o = &a->h;
	}
	if (kvm_arr_reserve(vm, a, a->len + 1))
		return KVM_ABORT;
	i = a->len;
	a->v[a->len++].o = q;
listed:
	done = (uint32_t)(table->f[KF_POLLTABLE_VALID].i - 1);
	if (i < done)
		return KVM_OK;	/* registered by this poll already */
	/* q joins the queues this poll registered, at the front */
	o = a->v[done].o;
	a->v[done].o = q;
	a->v[i].o = o;
	table->f[KF_POLLTABLE_VALID].i++;
	h = kvm_wq_host(q);
	if (h && cb->poll_pt && vm->host.poll_wait)
		vm->host.poll_wait(vm->host.ctx, h, cb->poll_pt);
	return KVM_OK;
}

/* ---- Timer -------------------------------------------------------------- */

static int64_t now_ns(struct kvm *vm)
{
	return vm->host.now_ns ? vm->host.now_ns(vm->host.ctx) : 0;
}

/* Whether timers_arm() looks for the earliest due time now. */
static bool timers_armed(const struct kvm *vm)
{
	return vm->host.timer_arm && vm->init_done && !vm->timers_stopped;
}

/* Asks the host for a run at the earliest due time, if it may fire. */
static void timers_arm(struct kvm *vm)
{
	int64_t due = INT64_MAX;
	uint32_t i;

	if (!timers_armed(vm))
		return;
	for (i = 0; i < vm->ntimers; i++) {
		int64_t d = ((struct kinst *)vm->timers[i])->f[KF_TIMER_DUE].i;

		if (d < due)
			due = d;
	}
	vm->host.timer_arm(vm->host.ctx, due);
}

/* Takes t off vm->timers (it is there while active). */
static void timer_unlist(struct kvm *vm, struct kobj *t)
{
	uint32_t i;

	for (i = 0; i < vm->ntimers; i++) {
		if (vm->timers[i] == t) {
			vm->timers[i] = vm->timers[--vm->ntimers];
			return;
		}
	}
}

/*
 * The passes over vm->timers a start or cancel makes, charged to the
 * running call (none when the host cancels a timer that failed): the
 * budget bounds them as it bounds the call's instructions.
 */
static bool charge_timer_passes(struct kvm *vm, uint64_t passes)
{
	return !vm->charging ||
		kvm_charge(vm, passes * vm->ntimers * KVM_TIMER_SCAN_UNITS);
}

/*
 * Timer.start (period_ms 0) and every: (re)starts t, due ms from now, or
 * (1.1) in the init ms after the init ends: its due time is kept as that
 * offset until kvm_timers_init_done() (a slow init must not leave a
 * periodic timer behind, to run its missed periods in a burst).  ms
 * outside the method's range throws IllegalArgumentException.
 */
int kvm_timer_start(struct kvm *vm, struct kobj *t, int64_t ms, bool every)
{
	struct kinst *ti = (struct kinst *)t;
	char msg[48];

	if (ms < (every ? 1 : 0) || ms > KVM_TIMER_MAX_MS) {
		snprintf(msg, sizeof(msg), "bad delay %lld", (long long)ms);
		return kvm_throw_new(vm, KC_IllegalArgumentException, msg);
	}
	/* unloading (or a failed init): it would never fire */
	if (vm->timers_stopped)
		return KVM_OK;
	if (!charge_timer_passes(vm, timers_armed(vm)))
		return KVM_ABORT;
	if (!ti->f[KF_TIMER_ACTIVE].i) {
		if (vm->ntimers == vm->timers_cap) {
			uint32_t cap = vm->timers_cap ? vm->timers_cap * 2 : 8;
			struct kobj **n;

			n = kvm_mem_realloc(vm, vm->timers, vm->timers_cap *
					    sizeof(*n), cap * sizeof(*n));
			if (!n)
				return KVM_ABORT;
			vm->timers = n;
			vm->timers_cap = cap;
		}
		vm->timers[vm->ntimers++] = t;
		ti->f[KF_TIMER_ACTIVE].i = 1;
	}
	ti->f[KF_TIMER_DUE].i = (vm->init_done ? now_ns(vm) : 0) +
		ms * 1000000;
	ti->f[KF_TIMER_PERIOD].i = every ? ms * 1000000 : 0;
	ti->f[KF_TIMER_SEQ].i = ++vm->timer_seq;
	timers_arm(vm);
	return KVM_OK;
}

/* Timer.cancel, or the host's for a failed timer: KVM_OK or KVM_ABORT. */
int kvm_timer_cancel(struct kvm *vm, struct kobj *t)
{
	struct kinst *ti = (struct kinst *)t;

	if (!ti->f[KF_TIMER_ACTIVE].i)
		return KVM_OK;
	if (!charge_timer_passes(vm, 1 + timers_armed(vm)))
		return KVM_ABORT;
	ti->f[KF_TIMER_ACTIVE].i = 0;
	timer_unlist(vm, t);
	timers_arm(vm);
	return KVM_OK;
}

/*
 * The active timer due first by now (ties: started first) among those
 * started by sequence number max_seq, or NULL.
 */
static struct kinst *timer_due(struct kvm *vm, int64_t now, int64_t max_seq)
{
	struct kinst *best = NULL;
	uint32_t i;

	for (i = 0; i < vm->ntimers; i++) {
		struct kinst *t = (struct kinst *)vm->timers[i];

		if (t->f[KF_TIMER_DUE].i > now ||
		    t->f[KF_TIMER_SEQ].i > max_seq)
			continue;
		if (!best || t->f[KF_TIMER_DUE].i < best->f[KF_TIMER_DUE].i ||
		    (t->f[KF_TIMER_DUE].i == best->f[KF_TIMER_DUE].i &&
		     t->f[KF_TIMER_SEQ].i < best->f[KF_TIMER_SEQ].i))
			best = t;
	}
	return best;
}

/*
 * A timer that cannot run for want of memory (before its call began):
 * its "abort: out of memory" report is logged and it is cancelled, as
 * when its function aborts.  No trace: nothing of it ran.
 */
static void timer_oom(struct kvm *vm, struct kinst *t)
{
	vm->abort_kind = KVM_ABORT_OOM;
	vm->ntrace = 0;
	kvm_make_report(vm, KVM_ABORT);
	kvm_log_report(vm);
	vm->abort_kind = KVM_ABORT_NONE;
	kvm_timer_cancel(vm, &t->h);
}

/*
 * Runs t's function as a top-level call with a callback's budget and no
 * waiting; a failure logs its report and cancels t.  t is rooted.
 */
static void timer_fire(struct kvm *vm, struct kinst *t)
{
	struct kfn *f = (struct kfn *)t->f[KF_TIMER_F].o;
	struct kdev_cb cb = { .ufile = NULL };
	union kvalue *args, ret;
	size_t n;
	uint32_t i;
	int st;

	if (!f)
		return;
	n = (size_t)f->ncap + 1;
	args = kvm_mem_alloc(vm, n * sizeof(*args));
	if (!args) {
		timer_oom(vm, t);
		return;
	}
	/* what the Func passes: a bound receiver, a closure's values */
	n = 0;
	if (f->recv)
		args[n++].o = f->recv;
	for (i = 0; i < f->ncap; i++)
		args[n++] = f->cap[i];
	vm->cb = &cb;
	st = kvm_call_top(vm, f->m, args, (uint32_t)n, &ret,
			  vm->lim.cb_budget);
	vm->cb = NULL;
	kvm_mem_free(vm, args, ((size_t)f->ncap + 1) * sizeof(*args));
	if (st != KVM_OK) {
		vm->exc = NULL;
		kvm_log_report(vm);
		kvm_timer_cancel(vm, &t->h);
	}
}

/*
 * The host's request came due: runs the timers due by now, by due time
 * then start order, then asks for the next.  One run holds the script's
 * lock for at most KVM_TIMER_BATCH timers and about two callbacks'
 * budgets of instructions (a timer that restarts itself with start(0),
 * or many heavy ones due together, cannot hold the host or keep a woken
 * waiter from its lock for long); the rest are due at once, for the
 * next run.  A one-shot timer is inactive from when its function begins;
 * a periodic one is due a period after its last due time, so that its
 * runs keep up with the clock when the host wakes it late (a kernel's
 * delayed work waits for whole jiffies: 4 ms at HZ=250, longer than a
 * short period): the periods it missed run one after another.  One that
 * fell more than KVM_TIMER_CATCHUP_NS behind (the script's lock was held
 * that long, or its function takes longer than its period) skips them
 * and is due a period from now.
 */
void kvm_run_timers(struct kvm *vm)
{
	kvm_run_timers_started_by(vm, INT64_MAX);
}

/*
 * kvm_run_timers(), but only the timers last (re)started by sequence
 * number max_seq (vm->timer_seq as it was then): the simulation runs the
 * timers due together with an awaitFor timeout in start order around it
 * (the language reference §9.4), those started after the wait began after
 * its timeout.
 */
void kvm_run_timers_started_by(struct kvm *vm, int64_t max_seq)
{
	int64_t now = now_ns(vm);
	uint64_t first = vm->executed, scans = 0;
	uint32_t runs;
	struct kinst *t;

	if (!vm->init_done || vm->timers_stopped)
		return;
	for (runs = 0; runs < KVM_TIMER_BATCH; runs++) {
		/* the passes that find the timers count as their work */
		if (vm->executed - first + scans >= vm->lim.cb_budget)
			break;
		scans += (uint64_t)vm->ntimers * KVM_TIMER_SCAN_UNITS;
		t = timer_due(vm, now, max_seq);
		if (!t)
			break;
		/* rooted before it leaves the list (a one-shot timer does) */
		if (kvm_push_root(vm, &t->h)) {
			timer_oom(vm, t);
			continue;
		}
		if (t->f[KF_TIMER_PERIOD].i) {
			t->f[KF_TIMER_DUE].i += t->f[KF_TIMER_PERIOD].i;
			if (t->f[KF_TIMER_DUE].i <= now - KVM_TIMER_CATCHUP_NS)
				t->f[KF_TIMER_DUE].i = now +
					t->f[KF_TIMER_PERIOD].i;
			t->f[KF_TIMER_SEQ].i = ++vm->timer_seq;
		} else {
			t->f[KF_TIMER_ACTIVE].i = 0;
			timer_unlist(vm, &t->h);
		}
		timer_fire(vm, t);
		kvm_pop_roots(vm, 1);
	}
	timers_arm(vm);
}

/* Unloading: no timer fires or starts from now on. */
void kvm_stop_timers(struct kvm *vm)
{
	uint32_t i;

	vm->timers_stopped = true;
	for (i = 0; i < vm->ntimers; i++)
		((struct kinst *)vm->timers[i])->f[KF_TIMER_ACTIVE].i = 0;
	vm->ntimers = 0;
	if (vm->host.timer_arm)
		vm->host.timer_arm(vm->host.ctx, INT64_MAX);
}

/*
 * After a successful init: the timers it started count their delays from
 * now (kvm_timer_start()) and may fire.
 */
void kvm_timers_init_done(struct kvm *vm)
{
	int64_t now = now_ns(vm);
	uint32_t i;

	for (i = 0; i < vm->ntimers; i++)
		((struct kinst *)vm->timers[i])->f[KF_TIMER_DUE].i += now;
	timers_arm(vm);
}
