// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_script.c - the registry of loaded scripts: load, unload, list.
 *
 * Lifetimes: a script is reference counted.  The list of loaded scripts
 * holds one reference, each open file of its devices one more, and an
 * open(2) in progress one while it runs.  Unloading unpublishes the
 * nodes and drops the list's reference; the VM and its image are freed
 * with the last reference.  A load puts its script on the list (not yet
 * live) before it runs the init, so two loads of one name cannot both
 * run: the second fails with EEXIST at once.
 *
 * Waiting: konoha_scripts_lock is held only for list operations, never
 * while waiting for a script's lock; every wait for a script's lock can
 * be ended by a signal, or at least by SIGKILL.  The exceptions are the
 * kworkers (timers, deferred releases), which get no signals, and a
 * callback taking the lock back after a wait in a WaitQueue.
 *
 * (1.1) Timers: each script has one delayed work item, armed by the VM
 * (kvm_host.timer_arm) for its earliest Timer; it runs the due timers
 * under the script's lock.  Unloading, and the last reference, stop the
 * timers under the lock and then wait for the work without it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "konoha.h"

/* The loaded scripts, oldest first. Taken before any script's lock. */
LIST_HEAD(konoha_scripts);
static DEFINE_MUTEX(konoha_scripts_lock);

/* ---- (1.1) timers ---------------------------------------------------------- */

/* Monotonic nanoseconds, the clock of Timer's due times (kvm_host.now_ns). */
static int64_t script_now_ns(void *ctx)
{
	return (int64_t)ktime_get_ns();
}

/*
 * kvm_host.timer_arm, with the script's lock held: the one timer request
 * of the script, due_ns from now (rounded up to whole jiffies, at once
 * when due already), replacing the earlier one; INT64_MAX cancels it
 * without waiting (the lock is held: the work may be waiting for it).
 *
 * The work runs on system_unbound_wq: a timer callback may run for its
 * whole budget (seconds), which on a per-CPU workqueue would hold back
 * the other work items of that CPU.
 */
static void script_timer_arm(void *ctx, int64_t due_ns)
{
	struct konoha_script *s = ctx;
	int64_t delta;

	if (due_ns == INT64_MAX) {
		cancel_delayed_work(&s->timer_work);
		return;
	}
	delta = due_ns - (int64_t)ktime_get_ns();
	mod_delayed_work(system_unbound_wq, &s->timer_work,
			 delta > 0 ? nsecs_to_jiffies(delta + TICK_NSEC - 1) : 0);
}

/*
 * The timer request came due: the script's due timers run under its
 * lock, taken without interruption (a kworker gets no signals), unless
 * the script is being unloaded.  kvm_run_timers() asks for the next run.
 */
static void script_timer_work(struct work_struct *work)
{
	struct konoha_script *s = container_of(to_delayed_work(work),
					       struct konoha_script, timer_work);

	kp_mutex_lock_always(&s->vm->lock);
	if (!s->unloaded)
		kvm_run_timers(s->vm);
	kp_mutex_unlock(&s->vm->lock);
}

/*
 * From here on no timer of s fires: none starts or runs once
 * kvm_stop_timers() has run under the lock, and the work item, cancelled
 * and waited for without the lock (it takes the lock itself: holding it
 * here would deadlock with a run in progress), is idle for good.
 */
static void script_stop_timers(struct konoha_script *s)
{
	kp_mutex_lock_always(&s->vm->lock);
	kvm_stop_timers(s->vm);
	kp_mutex_unlock(&s->vm->lock);
	cancel_delayed_work_sync(&s->timer_work);
}

/* ---- the registry -------------------------------------------------------- */

/*
 * The script's memory, after a grace period: kdev_fop_open() may still
 * be reading its reference count under RCU.
 */
static void script_free(struct konoha_script *s)
{
	free_percpu(s->calls);
	free_percpu(s->failed_calls);
	kvfree(s->bounce);
	kp_free_rcu(s, rcu);
}

/*
 * The last reference: the timers (stopped already by an unload; not when
 * the module goes with the script still loaded), the VM (and with it the
 * devices it still has), the image, and only then the stubs' module,
 * since the VM may point into it until it is destroyed.
 */
static void script_release(struct kref *ref)
{
	struct konoha_script *s = container_of(ref, struct konoha_script, ref);

	/* read before s is freed; dropped only after the VM is gone */
	struct module *owner = s->jit_owner;

	script_stop_timers(s);
	kvm_destroy(s->vm);
	kimg_free(s->img);
	script_free(s);
	if (owner)
		module_put(owner);	/* the stubs are no longer reachable */
}

/* Drops a reference; the last one frees the script (may sleep). */
void konoha_script_put(struct konoha_script *s)
{
	kref_put(&s->ref, script_release);
}

/* Called with konoha_scripts_lock held. */
static struct konoha_script *script_find(const char *name)
{
	struct konoha_script *s;

	list_for_each_entry(s, &konoha_scripts, node)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

/*
 * A name for the list and the log: 1 to 31 of [A-Za-z0-9_.-].  No spaces,
 * slashes or control bytes, so a name printed in a log line or in the
 * list can never be mistaken for something else.
 */
static bool valid_script_name(const char *name)
{
	size_t i, n = strnlen(name, KONOHA_NAME_LEN);

	if (n < 1 || n >= KONOHA_NAME_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum(name[i]) && !strchr("_-.", name[i]))
			return false;
	return true;
}

/*
 * The name of a script from its source file: basename without ".k".  The
 * source name comes from the image, so every byte outside the name
 * alphabet becomes '_': the result always passes valid_script_name().
 */
static void name_from_source(const char *src, char *name)
{
	const char *base = strrchr(src, '/');
	size_t n, i;

	base = base ? base + 1 : src;
	n = strlen(base);
	if (n > 2 && !strcmp(base + n - 2, ".k"))
		n -= 2;
	n = min_t(size_t, n, KONOHA_NAME_LEN - 1);
	for (i = 0; i < n; i++)
		name[i] = isalnum(base[i]) || strchr("_-.", base[i]) ?
			base[i] : '_';
	name[n] = '\0';
	if (!n)
		strscpy(name, "script", KONOHA_NAME_LEN);
}

/*
 * Appends the report to the message and to the log, line by line.  The
 * message is cut at KONOHA_MSG_MAX (scnprintf never writes past it and
 * returns what it wrote, so used stays below the size); the log gets
 * every line.  Loads are root's only: no rate limit here.
 */
static void report_init_failure(struct load_req *rq, const char *report,
				size_t len)
{
	size_t used = strlen(rq->msg);
	const char *end = report + len, *nl;

	pr_err("%s: init failed:\n", rq->name);
	used += scnprintf(rq->msg + used, KONOHA_MSG_MAX - used,
			  "%s: init failed:\n", rq->name);
	/* by length: a message may hold NUL bytes */
	while (report < end) {
		nl = memchr(report, '\n', end - report);
		if (!nl)
			nl = end;
		konoha_log_line(1, rq->name, "  ", report, nl - report);
		used += scnprintf(rq->msg + used, KONOHA_MSG_MAX - used,
				  "  %.*s\n", (int)(nl - report), report);
		report = nl < end ? nl + 1 : nl;
	}
}

/*
 * The errno of a failed init: a DeviceError's own as kdev_errno() maps
 * it (EIO outside 1..133: never ERESTARTSYS and the like), else EINVAL.
 */
static int init_errno(struct kvm *vm)
{
	s64 e;

	if (!vm->exc || !kimg_subclass(vm->img, vm->exc->cls, KC_DeviceError))
		return -EINVAL;
	e = ((struct kinst *)vm->exc)->f[KF_DEVERR_ERRNO].i;
	return kdev_errno(e);
}

/*
 * Takes a script that never became live off the list.  Not killable: the
 * name must be given back, and the lock is never held across a wait.
 */
static void script_forget(struct konoha_script *s)
{
	mutex_lock(&konoha_scripts_lock);	/* held briefly by all */
	list_del(&s->node);
	mutex_unlock(&konoha_scripts_lock);
}

/*
 * Verifies an image, runs its init and keeps the script: 0 or -errno,
 * with the reason in rq->msg.  The script enters the list (not yet live)
 * before its init runs, so that the name is taken; until live it is
 * invisible to unload and list, and a failed init takes it off again.
 *
 * Every exit after kvm_create() frees through konoha_script_put(): the
 * reference of kref_init() is the one the list keeps once the load
 * succeeds.  CAP_SYS_ADMIN is checked here, and not only at the open of
 * /dev/konoha, since a descriptor can be passed to another process.
 */
int konoha_script_load(struct load_req *rq)
{
	struct konoha_script *s;
	struct kvm_host host = konoha_host;
	struct kvm_limits lim;
	struct kimage *img;
	char why[128];
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (rq->budget > KONOHA_BUDGET_MAX || rq->heap > KONOHA_HEAP_MAX ||
	    rq->depth > KONOHA_DEPTH_MAX) {
		scnprintf(rq->msg, KONOHA_MSG_MAX,
			  "limits out of range (budget <= %llu instructions, heap <= %u bytes, depth <= %u)\n",
			  KONOHA_BUDGET_MAX, KONOHA_HEAP_MAX, KONOHA_DEPTH_MAX);
		return -EINVAL;
	}
	if (rq->name[0] && !valid_script_name(rq->name)) {
		scnprintf(rq->msg, KONOHA_MSG_MAX,
			  "invalid script name (1-31 of [A-Za-z0-9_.-])\n");
		return -EINVAL;
	}
	/* rq->data is the caller's: kimg_load() copies what it keeps */
	err = kimg_load(rq->data, rq->len, &img, why, sizeof(why));
	if (err) {
		pr_err("image refused: %s\n", why);
		scnprintf(rq->msg, KONOHA_MSG_MAX, "image refused: %s\n", why);
		return err == -ENOMEM ? err : -ENOEXEC;
	}
	if (!rq->name[0])
		name_from_source(img->source_name, rq->name);

	s = kp_zalloc(sizeof(*s));
	if (s) {
		s->calls = alloc_percpu(u64);
		s->failed_calls = alloc_percpu(u64);
	}
	if (!s || !s->calls || !s->failed_calls) {
		if (s)
			script_free(s);
		kimg_free(img);
		return -ENOMEM;
	}
	kref_init(&s->ref);
	strscpy(s->name, rq->name, sizeof(s->name));
	spin_lock_init(&s->pending_lock);
	ratelimit_state_init(&s->log_rs, 5 * HZ, 10);
	ratelimit_state_init(&s->print_rs, 5 * HZ, KONOHA_PRINT_BURST);
	/* the count of refused lines is logged with the script's name */
	ratelimit_set_flags(&s->log_rs, RATELIMIT_MSG_ON_RELEASE);
	ratelimit_set_flags(&s->print_rs, RATELIMIT_MSG_ON_RELEASE);
	INIT_WORK(&s->release_work, konoha_release_work);
	INIT_DELAYED_WORK(&s->timer_work, script_timer_work);
	s->img = img;
	/* 0 selects the kernel default (konoha_uapi.h) */
	kvm_default_limits(&lim);
	lim.budget = rq->budget ? rq->budget : KVM_KERNEL_BUDGET;
	lim.cb_budget = lim.budget;
	lim.heap = rq->heap ? rq->heap : KONOHA_HEAP;
	lim.depth = rq->depth ? rq->depth : KVM_DEFAULT_DEPTH;
	host.ctx = s;
	/* (1.1) wait queues, poll and timers (the language reference §9.2) */
	konoha_dev_host(&host);
	host.now_ns = script_now_ns;
	host.timer_arm = script_timer_arm;
	s->vm = kvm_create(img, &lim, &host);
	if (!s->vm) {
		script_free(s);
		kimg_free(img);
		return -ENOMEM;
	}
	/* checked and copied by the core, charged to the script's quota */
	err = kvm_set_params(s->vm, rq->params, rq->params_len, why,
			     sizeof(why));
	if (err) {
		scnprintf(rq->msg, KONOHA_MSG_MAX, "parameters refused: %s\n",
			  why);
		konoha_script_put(s);
		return err;
	}

	/* the name is ours from here on: a second load of it fails at once */
	err = mutex_lock_killable(&konoha_scripts_lock);
	if (err) {
		konoha_script_put(s);
		return err;
	}
	err = script_find(rq->name) ? -EEXIST : 0;
	if (!err)
		list_add_tail(&s->node, &konoha_scripts);
	mutex_unlock(&konoha_scripts_lock);
	if (err) {
		konoha_script_put(s);
		scnprintf(rq->msg, KONOHA_MSG_MAX,
			  "a script named %s is already loaded\n", rq->name);
		return err;
	}

	/* may take a reference on the stubs' module (s->jit_owner) */
	err = konoha_jit_attach(s, rq->flags, rq->msg);
	if (err) {
		pr_err("%s: %s", s->name, rq->msg);
		goto out_forget;
	}
	if (kvm_run_init(s->vm) != KVM_OK) {
		/* kvm_run_init() removed the devices of the script */
		report_init_failure(rq, kvm_report(s->vm), s->vm->report_len);
		err = init_errno(s->vm);
		goto out_forget;
	}

	/* the init succeeded: nothing may fail from here on */
	mutex_lock(&konoha_scripts_lock);	/* held briefly by all */
	s->live = true;
	mutex_unlock(&konoha_scripts_lock);
	if (s->jit_owner)
		pr_info("jit: %s: runs on the stubs of %s\n", s->name,
			module_name(s->jit_owner));
	pr_info("%s: loaded\n", s->name);
	return 0;

out_forget:
	script_forget(s);
	konoha_script_put(s);
	return err;
}

/*
 * Unpublishes the devices of a script: called with its lock held.  The
 * kdevs stay in the VM until it is destroyed; only their nodes go.  An
 * open that passed the lockless init_done test of konoha_dev.c finds it
 * false once it has the lock (kdev_open), and fails with ENXIO.
 */
static void script_unpublish(struct konoha_script *s)
{
	struct kdev *d;

	WRITE_ONCE(s->vm->init_done, false);	/* refuse opens in progress */
	for (d = s->vm->devices; d; d = d->next)
		konoha_dev_remove(s, d);
}

/*
 * A live script by name, with a reference, or NULL with *err set (-ENOENT,
 * or -EINTR when killed).  A script still running its init is not found:
 * nobody may unload it before its load has decided.
 */
static struct konoha_script *script_get(const char *name, int *err)
{
	struct konoha_script *s;

	*err = mutex_lock_killable(&konoha_scripts_lock);
	if (*err)
		return NULL;
	s = script_find(name);
	if (s && s->live)
		kref_get(&s->ref);
	else
		s = NULL;
	mutex_unlock(&konoha_scripts_lock);
	if (!s)
		*err = -ENOENT;
	return s;
}

/*
 * Waits for the script's lock without holding konoha_scripts_lock: a
 * callback that keeps its script busy delays only this unload, never the
 * loads, unloads and lists of the other scripts.
 *
 * (1.1) Once the unload is decided, the script's timers stop under the
 * lock; then, without it, a timer run in progress is waited for.
 */
int konoha_script_unload(const char *name)
{
	struct konoha_script *s;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	s = script_get(name, &err);
	if (!s)
		return err;
	/* interruptible: a callback may hold the lock for its whole budget */
	err = kp_mutex_lock(&s->vm->lock);
	if (err)
		goto out_put;
	if (s->unloaded)
		err = -ENOENT;		/* another unload got there first */
	else if (s->vm->open_files || kvm_waiting(s->vm))
		err = -EBUSY;	/* (1.1) an open() may be waiting, no file yet */
	else
		script_unpublish(s);
	s->unloaded = !err;
	if (!err)
		kvm_stop_timers(s->vm);
	kp_mutex_unlock(&s->vm->lock);
	if (err)
		goto out_put;
	cancel_delayed_work_sync(&s->timer_work);
	mutex_lock(&konoha_scripts_lock);	/* held briefly by all */
	list_del(&s->node);
	mutex_unlock(&konoha_scripts_lock);
	if (s->jit_owner)
		pr_info("jit: %s: %llu native entries\n", s->name,
			(unsigned long long)s->vm->jit_entries);
	pr_info("%s: unloaded\n", s->name);
	konoha_script_put(s);			/* the list's reference */
out_put:
	konoha_script_put(s);
	return err;
}

/*
 * Fills info for a script the caller holds a reference on (takes its lock,
 * interruptibly: 0 or -EINTR).  The counters are atomics, read without it.
 */
static int script_info(struct konoha_script *s, struct konoha_script_info *in)
{
	struct kdev *d;
	size_t used = 0;
	int err;

	memset(in, 0, sizeof(*in));
	strscpy(in->name, s->name, sizeof(in->name));
	err = kp_mutex_lock(&s->vm->lock);
	if (err)
		return err;
	for (d = s->vm->devices; d; d = d->next)
		used += scnprintf(in->devices + used, sizeof(in->devices) - used,
				  "%s%s", used ? " " : "", d->name);
	in->heap_used = s->vm->heap_used;
	in->heap_limit = s->vm->lim.heap;
	in->ndevices = s->vm->ndevices;
	in->open_files = s->vm->open_files;
	kp_mutex_unlock(&s->vm->lock);
	in->calls = konoha_sum(s->calls);
	in->failed_calls = konoha_sum(s->failed_calls);
	return 0;
}

/*
 * Takes a reference on each live script under konoha_scripts_lock, then
 * waits for their locks (and copies to the caller) without it.  count is
 * the number of live scripts even when max is smaller, so a caller can
 * retry with room for all; after an error the references are still
 * dropped.  live_allocs is read last: a put above may have freed a
 * script that an unload had left to the last reference.
 */
int konoha_list(struct konoha_list *ls)
{
	struct konoha_script_info __user *out = u64_to_user_ptr(ls->scripts);
	struct konoha_script_info *in = NULL;
	struct konoha_script **held = NULL;
	struct konoha_script *s;
	u32 n = 0, nheld = 0, i;
	int err;

	in = kzalloc(sizeof(*in), GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	err = mutex_lock_killable(&konoha_scripts_lock);
	if (err)
		goto out_free;
	list_for_each_entry(s, &konoha_scripts, node)
		n += s->live;
	if (ls->max && n) {
		/* not counted by kp_live_blocks, as in konoha_open */
		held = kmalloc_array(min(n, ls->max), sizeof(*held),
				     GFP_KERNEL);
		if (!held)
			err = -ENOMEM;
	}
	if (held) {
		list_for_each_entry(s, &konoha_scripts, node) {
			if (!s->live || nheld == min(n, ls->max))
				continue;
			kref_get(&s->ref);
			held[nheld++] = s;
		}
	}
	mutex_unlock(&konoha_scripts_lock);
	for (i = 0; i < nheld; i++) {
		if (!err)
			err = script_info(held[i], in);
		if (!err && copy_to_user(out + i, in, sizeof(*in)))
			err = -EFAULT;
		konoha_script_put(held[i]);
	}
	kfree(held);
	ls->count = n;
out_free:
	kfree(in);
	ls->live_allocs = kp_live_allocs();
	return err;
}
