// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_dev.c - the character devices of scripts.
 *
 * A script's devices are character devices of our own dynamic major, in
 * the class "konoha": Device.register (in an init, under the script's
 * lock) calls konoha_dev_add(), which takes a minor, adds the cdev and
 * creates the node; konoha_dev_remove() undoes it at unload, when an init
 * fails and when the VM is destroyed.  Nothing here ever waits for a
 * script's lock while holding a lock that registration takes, and the
 * callbacks of the file_operations below run under the script's lock
 * only (device.c takes it).
 *
 * Each open file holds a reference on its script, so a script outlives
 * the files of its devices; an unload refuses a script with open files.
 * (1.1) A CharDevice callback may sleep in a WaitQueue (konoha_wq_wait())
 * with the script's lock released, so other callbacks run meanwhile; its
 * errno, ERESTARTSYS included, is the system call's as device.c gives it.
 * A release(2) from a killed or exiting task that finds the script busy
 * does not wait: konoha_release_work() releases the file once the lock
 * is free.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "konoha.h"

/* Published devices by minor (struct konoha_dev). */
DEFINE_IDR(konoha_minors);
static DEFINE_MUTEX(konoha_minors_lock);
/* Our dynamic major and its KONOHA_MINORS minors (konoha_init). */
dev_t konoha_devt;

/* ---- device files --------------------------------------------------------- */

/* The script of an open device file. */
static struct konoha_script *file_script(struct kdev_file *f)
{
	return f->dev->vm->host.ctx;
}

/*
 * The least kernel stack any script call has left, in bytes above the
 * stack's base, where the VM looked (native re-entry, allocation): for
 * measuring the worst case (tests/kernel/guest/khostile.sh).
 */
static unsigned long stack_min_left = ULONG_MAX;
module_param(stack_min_left, ulong, 0444);
MODULE_PARM_DESC(stack_min_left,
		 "least kernel stack left in a script call (bytes, read only)");

/* The file's KDEV_FL_* flags as of this call (open mode, O_NONBLOCK). */
static unsigned int file_flags(struct file *file)
{
	return (file->f_mode & FMODE_READ ? KDEV_FL_READ : 0) |
	       (file->f_mode & FMODE_WRITE ? KDEV_FL_WRITE : 0) |
	       (READ_ONCE(file->f_flags) & O_NONBLOCK ? KDEV_FL_NONBLOCK : 0);
}

/* Counts a finished callback; -EIO is a failure the log tells about. */
static long count_call(struct kdev_file *f, long ret)
{
	struct konoha_script *s = file_script(f);
	u64 left = READ_ONCE(s->vm->stack_min_left);

	if (left < READ_ONCE(stack_min_left))
		WRITE_ONCE(stack_min_left, left);

	this_cpu_inc(*s->calls);
	if (ret == -EIO)
		this_cpu_inc(*s->failed_calls);
	return ret;
}

/*
 * The minor leads to the device and its script under RCU (a device and
 * a script are freed a grace period after they are unpublished: see
 * konoha_dev_remove() and script_free()); the script is pinned before
 * the read section ends (an unload may be removing the device
 * meanwhile), and the open itself runs in device.c under the script's
 * lock.  The file holds its reference until release.
 */
static int kdev_fop_open(struct inode *inode, struct file *file)
{
	struct konoha_script *s;
	struct konoha_dev *kd;
	struct kdev_file *f;
	struct kdev *d;
	int err;

	rcu_read_lock();
	kd = idr_find(&konoha_minors, iminor(inode));
	if (!kd || kd->cdev != inode->i_cdev) {
		rcu_read_unlock();
		return -ENXIO;
	}
	d = kd->kdev;
	s = kd->script;
	/* a script whose last reference is gone is on its way out */
	if (!kref_get_unless_zero(&s->ref)) {
		rcu_read_unlock();
		return -ENXIO;
	}
	rcu_read_unlock();

	err = -ENXIO;
	/*
	 * Until the init has finished its devices may still be removed:
	 * only a finished init makes d safe to use while we hold s (pairs
	 * with the unlock of the script's lock after the init).
	 */
	if (!smp_load_acquire(&s->vm->init_done))
		goto out_put;
	err = kdev_open(d, file_flags(file), &f);
	if (err)
		goto out_put;
	this_cpu_inc(*s->calls);
	file->private_data = f;
	return 0;

out_put:
	if (err == -EIO)
		this_cpu_inc(*s->failed_calls);
	konoha_script_put(s);
	return err;
}

/*
 * read(2) and write(2) copy through a kernel buffer: the VM sees kernel
 * memory only, and at most KDEV_CONTENT_MAX / KDEV_WRITE_MAX bytes a call.
 * Up to KDEV_BOUNCE_SMALL bytes it is on the stack (a FIFO's messages, a
 * line of text).  Above, it is the script's kept buffer (s->bounce) when
 * no other call holds it, else one allocated for this call: a streaming
 * driver is spared an allocation a call, which the kernel also clears
 * (init_on_alloc).  The kept buffer holds what earlier calls left there,
 * and none of it leaves: a write hands the VM only the bytes it copied
 * in, a read copies out only the bytes the script wrote (an OutputStream
 * appends from the buffer's start).
 */
#define KDEV_BOUNCE_SMALL	64
#define KDEV_BOUNCE_MAX		max3(KDEV_CONTENT_MAX, KDEV_READ_MAX, \
				     KDEV_WRITE_MAX)

/*
 * A buffer of count bytes (KDEV_BOUNCE_SMALL < count <= KDEV_BOUNCE_MAX)
 * or NULL; *kept: it is the script's kept one.
 */
static void *bounce_get(struct konoha_script *s, size_t count, bool *kept)
{
	void *p;

	/*
	 * Under KASAN every call gets count bytes of its own, so that a
	 * write past a read's count (a bound the VM or the JIT got wrong)
	 * lands in a redzone rather than in the kept buffer's rest, as
	 * gc.c keeps no swept objects there.
	 */
	if (IS_ENABLED(CONFIG_KASAN)) {
		*kept = false;
		return kvmalloc(count, GFP_KERNEL);
	}
	p = xchg(&s->bounce, NULL);
	*kept = true;
	if (p)
		return p;
	/* it is made once: while a call holds it, others allocate */
	if (atomic_cmpxchg(&s->bounce_made, 0, 1) == 0) {
		p = kvmalloc(KDEV_BOUNCE_MAX, GFP_KERNEL);
		if (p)
			return p;
		atomic_set(&s->bounce_made, 0);
	}
	*kept = false;
	return kvmalloc(count, GFP_KERNEL);
}

static void bounce_put(struct konoha_script *s, void *p, bool kept)
{
	if (kept)
		p = xchg(&s->bounce, p);
	/* a kept buffer finds the slot empty: there is only one */
	if (!WARN_ON_ONCE(kept && p))
		kvfree(p);
}

static KP_PATH ssize_t kdev_fop_read(struct file *file, char __user *buf,
				     size_t count, loff_t *ppos)
{
	struct kdev_file *f = file->private_data;
	struct konoha_script *s = file_script(f);
	int64_t pos = *ppos;
	char small[KDEV_BOUNCE_SMALL], *bounce = small;
	bool kept = false;
	long n;

	count = min_t(size_t, count, KDEV_CONTENT_MAX);
	if (count > sizeof(small)) {
		bounce = bounce_get(s, count, &kept);
		if (!bounce)
			return -ENOMEM;
	}
	n = kdev_read(f, bounce, count, &pos, file_flags(file));
	if (n > 0 && copy_to_user(buf, bounce, n))
		n = -EFAULT;
	if (n >= 0)
		*ppos = pos;
	if (bounce != small)
		bounce_put(s, bounce, kept);
	return count_call(f, n);
}

static KP_PATH ssize_t kdev_fop_write(struct file *file, const char __user *buf,
				      size_t count, loff_t *ppos)
{
	struct kdev_file *f = file->private_data;
	struct konoha_script *s = file_script(f);
	int64_t pos = *ppos;
	char small[KDEV_BOUNCE_SMALL], *bounce = small;
	bool kept = false;
	long n;

	count = min_t(size_t, count, KDEV_WRITE_MAX);
	if (count > sizeof(small)) {
		bounce = bounce_get(s, count, &kept);
		if (!bounce)
			return -ENOMEM;
	}
	if (copy_from_user(bounce, buf, count)) {
		/* no call of the script's: not counted */
		if (bounce != small)
			bounce_put(s, bounce, kept);
		return -EFAULT;
	}
	n = kdev_write(f, bounce, count, &pos, file_flags(file));
	if (n >= 0)
		*ppos = pos;
	if (bounce != small)
		bounce_put(s, bounce, kept);
	return count_call(f, n);
}

/*
 * ioctl(2) returns an int (fs/ioctl.c keeps the low 32 bits of what we
 * return), so the errno rule applies to that int: a 64-bit result whose
 * low half reads as -512 must not restart the call.
 */
static long kdev_do_ioctl(struct file *file, unsigned int cmd, int64_t arg)
{
	struct kdev_file *f = file->private_data;
	int64_t result;
	int err;

	err = kdev_ioctl(f, cmd, arg, file->f_pos, file_flags(file), NULL,
			 &result);
	if (err)
		return count_call(f, err);
	return count_call(f, (long)kdev_ioctl_result((int)result));
}

/* The argument is a number to the script: never dereferenced here. */
static long kdev_fop_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	return kdev_do_ioctl(file, cmd, (int64_t)(long)arg);
}

/* A 32-bit caller: the argument, a K int, is its int sign-extended. */
static long kdev_fop_compat_ioctl(struct file *file, unsigned int cmd,
				  unsigned long arg)
{
	return kdev_do_ioctl(file, cmd, (int64_t)(s32)(u32)arg);
}

/*
 * (1.1) A CharDevice's ioctl may copy from and to the caller's memory
 * (File.readUser and writeUser), only during that call: device.c calls
 * these while the ioctl's callback runs in the caller's own context, so
 * the copies are the caller's.  A 32-bit caller's addresses are its
 * 32-bit pointers (compat_ptr).
 */
struct chr_umem {
	bool compat;
};

static void __user *chr_uaddr(const struct chr_umem *u, uint64_t addr)
{
#ifdef CONFIG_COMPAT
	if (u->compat)
		return compat_ptr((u32)addr);
#endif
	return (void __user *)(uintptr_t)addr;
}

static int chr_uget(void *ctx, uint64_t addr, void *dst, size_t n)
{
	return copy_from_user(dst, chr_uaddr(ctx, addr), n) ? -EFAULT : 0;
}

static int chr_uput(void *ctx, uint64_t addr, const void *src, size_t n)
{
	return copy_to_user(chr_uaddr(ctx, addr), src, n) ? -EFAULT : 0;
}

/*
 * A CharDevice's ioctl: the result is already within the 32-bit int
 * range (device.c fails others with EOVERFLOW) and an errno through
 * kdev_ioctl_result(), so it is returned as it is.
 */
static long kdev_do_chr_ioctl(struct file *file, unsigned int cmd,
			      int64_t arg, bool compat)
{
	struct kdev_file *f = file->private_data;
	struct chr_umem u = { .compat = compat };
	struct kdev_umem um = { chr_uget, chr_uput, &u };
	int64_t result;
	int err;

	err = kdev_ioctl(f, cmd, arg, file->f_pos, file_flags(file), &um,
			 &result);
	if (err)
		return count_call(f, err);
	return count_call(f, (long)result);
}

static long kdev_fop_chr_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	return kdev_do_chr_ioctl(file, cmd, (int64_t)(long)arg, false);
}

static long kdev_fop_chr_compat_ioctl(struct file *file, unsigned int cmd,
				      unsigned long arg)
{
	return kdev_do_chr_ioctl(file, cmd, (int64_t)(s32)(u32)arg, true);
}

/*
 * (1.1) poll(2), select(2) and epoll of a CharDevice: the script's mask
 * in Linux's bits, IN and OUT with RDNORM and WRNORM.  Each queue the
 * script's poll passes to PollTable.wait is registered on wait
 * (konoha_poll_wait()), so a wake-up of that queue makes poll(2) ask
 * again; the File keeps those queues allocated until its release, which
 * comes after epoll has let go of the file (__fput) and after poll(2)
 * and select(2) have dropped the reference each of their entries holds.
 */
static __poll_t kdev_fop_poll(struct file *file, poll_table *wait)
{
	struct kdev_file *f = file->private_data;
	struct konoha_poll pt = { .file = file, .table = wait };
	int m = kdev_poll(f, file->f_pos, file_flags(file), &pt);
	__poll_t mask = 0;

	this_cpu_inc(*file_script(f)->calls);
	if (m & KDEV_POLL_IN)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (m & KDEV_POLL_PRI)
		mask |= EPOLLPRI;
	if (m & KDEV_POLL_OUT)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (m & KDEV_POLL_ERR)
		mask |= EPOLLERR;
	if (m & KDEV_POLL_HUP)
		mask |= EPOLLHUP;
	return mask;
}

/*
 * lseek(2): device.c's rule, within the content (no script callback
 * runs, except read() when SEEK_END needs the content); (1.1) a
 * CharDevice's seek callback.
 */
static loff_t kdev_fop_llseek(struct file *file, loff_t off, int whence)
{
	struct kdev_file *f = file->private_data;
	int64_t pos = file->f_pos;
	int64_t ret;

	ret = kdev_llseek(f, off, whence, &pos, file_flags(file));
	if (ret >= 0)
		file->f_pos = pos;
	return ret;
}

/* ---- (1.1) waiting: the kvm_host hooks of wait queues (wait.c) ---------- */

/*
 * A WaitQueue's host state, wq_size bytes the VM allocates (charged to
 * the script's quota) and frees with the object: two wait queue heads.
 * Callbacks in await wait on `waiters`, exclusively, so that wakeOne
 * wakes one of them; poll, select and epoll wait on `pollers`, every one
 * of which a wake-up wakes.  On one head an epoll entry added with
 * EPOLLEXCLUSIVE would be an exclusive entry among the waiters, taking
 * (or being passed over by) wakeOne's single wake-up.
 */
struct konoha_wq {
	wait_queue_head_t waiters;
	wait_queue_head_t pollers;
};

static void konoha_wq_init(void *ctx, void *wq)
{
	struct konoha_wq *q = wq;

	init_waitqueue_head(&q->waiters);
	init_waitqueue_head(&q->pollers);
}

/* Nothing to free; the VM frees a queue only when nobody is on it. */
static void konoha_wq_fini(void *ctx, void *wq)
{
	struct konoha_wq *q = wq;

	/*
	 * No barrier needed: a waiter roots its queue and a File the queues
	 * its polls registered on (released after epoll and poll(2) let go
	 * of the file), so nobody can be on it now, nor come.
	 */
	WARN_ON_ONCE(waitqueue_active(&q->waiters));
	/* no barrier needed: as above */
	WARN_ON_ONCE(waitqueue_active(&q->pollers));
}

/*
 * Ends the wait of entry w on head: true when a wake-up took it off the
 * queue (autoremove_wake_function does, under head's lock, only when it
 * woke this task).  The task is running before the lock is taken, so a
 * wake-up that comes after the check passes over it to the next
 * exclusive waiter (try_to_wake_up fails on a running task): a wake-up
 * is either seen here or given to someone else, never lost.
 */
static __always_inline bool konoha_wait_end(wait_queue_head_t *head,
						 struct wait_queue_entry *w)
{
	unsigned long flags;
	bool woken;

	__set_current_state(TASK_RUNNING);
	spin_lock_irqsave(&head->lock, flags);
	woken = list_empty(&w->entry);
	if (!woken)
		list_del_init(&w->entry);
	spin_unlock_irqrestore(&head->lock, flags);
	return woken;
}

/*
 * WaitQueue.await and awaitFor (kvm_host.wq_wait, the language reference
 * §9.2), called by the VM with the script's lock held and the waiting
 * call's state parked.  The task goes on the queue as an exclusive
 * waiter before the lock is released, so a wake-up made under the lock
 * after that reaches it; it sleeps interruptibly, and takes the lock
 * again without interruption (the VM's state must be swapped back under
 * it; the wait for it is bounded by the budget of the callback holding
 * it).  A signal already pending ends the wait at once, without letting
 * the lock go.  A waiter that a wake-up chose but that returns for a
 * signal passes the wake-up on (wake_up: the next exclusive waiter), so
 * wakeOne is never lost.
 */
static KP_PATH int konoha_wq_wait(void *ctx, void *wq, int64_t timeout_ms,
				  struct kp_mutex *lock)
{
	wait_queue_head_t *head = &((struct konoha_wq *)wq)->waiters;
	long left = MAX_SCHEDULE_TIMEOUT;
	int r = KWAIT_WOKEN;
	bool woken;
	DEFINE_WAIT(w);

	if (timeout_ms >= 0)
		left = msecs_to_jiffies((unsigned int)min_t(int64_t, timeout_ms,
							     INT_MAX));
	prepare_to_wait_exclusive(head, &w, TASK_INTERRUPTIBLE);
	if (left && !signal_pending(current)) {
		kp_mutex_unlock(lock);
		left = schedule_timeout(left);
		woken = konoha_wait_end(head, &w);
		kp_mutex_lock_always(lock);
	} else if (!left) {
		/*
		 * awaitFor(0) has passed already (schedule_timeout(0) would
		 * sleep until the next tick): the lock is only let go, so
		 * that whoever waits for it may run.
		 */
		woken = konoha_wait_end(head, &w);
		kp_mutex_unlock(lock);
		cond_resched();
		kp_mutex_lock_always(lock);
	} else {
		woken = konoha_wait_end(head, &w);
	}
	if (fatal_signal_pending(current))
		r = KWAIT_FATAL;
	else if (signal_pending(current))
		r = KWAIT_SIGNAL;
	else if (!woken && timeout_ms >= 0 && !left)
		r = KWAIT_TIMEOUT;
	if (woken && r != KWAIT_WOKEN)
		wake_up(head);
	return r;
}

/*
 * wakeOne (all false): one waiter, the longest waiting, and every poller
 * (an EPOLLEXCLUSIVE entry included); wakeAll: everyone.
 *
 * Entries go on a script's queues only under the script's lock (a
 * waiter in konoha_wq_wait, a poller through PollTable.wait in a poll
 * callback), and the natives that wake them run under it too: the lock
 * orders the two, so a head found empty here has nobody to wake, and
 * its own lock is not taken (a FIFO's reader wakes the writers' queue
 * after every message, empty while nobody writes).
 */
static KP_PATH void konoha_wq_wake(void *ctx, void *wq, bool all)
{
	struct konoha_script *s = ctx;
	struct konoha_wq *q = wq;

	lockdep_assert_held(&s->vm->lock.m);
	/* ordered by the script's lock (above): no barrier needed */
	if (waitqueue_active(&q->waiters)) {
		if (all)
			wake_up_all(&q->waiters);
		else
			wake_up(&q->waiters);
	}
	/* ordered by the script's lock too: no barrier needed */
	if (waitqueue_active(&q->pollers))
		wake_up_all(&q->pollers);
}

/* PollTable.wait(q): q on the poll(2) call of kdev_fop_poll(). */
static void konoha_poll_wait(void *ctx, void *wq, void *pt)
{
	struct konoha_poll *p = pt;

	poll_wait(p->file, &((struct konoha_wq *)wq)->pollers, p->table);
}

/* ERESTARTSYS (a restart or EINTR) or EINTR for an interrupted callback. */
static bool konoha_signal_pending(void *ctx)
{
	return signal_pending(current);
}

/* The wait hooks of a script's VM (konoha_script_load()). */
void konoha_dev_host(struct kvm_host *host)
{
	host->wq_size = sizeof(struct konoha_wq);
	host->wq_init = konoha_wq_init;
	host->wq_fini = konoha_wq_fini;
	host->wq_wait = konoha_wq_wait;
	host->wq_wake = konoha_wq_wake;
	host->poll_wait = konoha_poll_wait;
	host->signal_pending = konoha_signal_pending;
}

/* The releases handed over by kdev_fop_release, in process context. */
void konoha_release_work(struct work_struct *work)
{
	struct konoha_script *s =
		container_of(work, struct konoha_script, release_work);
	struct kdev_file *f, *next;
	unsigned int n = 0;

	spin_lock(&s->pending_lock);
	f = s->pending;
	s->pending = NULL;
	spin_unlock(&s->pending_lock);
	for (; f; f = next) {
		next = f->next_spare;
		kdev_release(f, f->close_pos);
		this_cpu_inc(*s->calls);
		n++;
	}
	/* the files' references: s may be freed by the last one */
	while (n--)
		konoha_script_put(s);
}

/* release(2): the last close of a file; drops the file's reference. */
static int kdev_fop_release(struct inode *inode, struct file *file)
{
	struct kdev_file *f = file->private_data;
	struct konoha_script *s = file_script(f);

	/*
	 * release(2) waits for the script without interruption by ordinary
	 * signals, but a killed task must not hang: it hands the release
	 * to the work item instead.  So does an exiting task that finds the
	 * script busy: once a fatal signal has been taken it is no longer
	 * pending, and nobody waits for the result of an exit's close.
	 */
	if (kdev_release_nowait(f, file->f_pos,
				!(current->flags & PF_EXITING))) {
		spin_lock(&s->pending_lock);
		f->next_spare = s->pending;
		s->pending = f;
		spin_unlock(&s->pending_lock);
		queue_work(konoha_wq, &s->release_work);
		return 0;
	}
	this_cpu_inc(*s->calls);
	konoha_script_put(s);
	return 0;
}

/*
 * One member per system call of lkm/core/devops.def's operations (the
 * table of device operations); each runs its callback through device.c.
 */
static const struct file_operations konoha_dev_fops = {
	.owner = THIS_MODULE,
	.open = kdev_fop_open,
	.read = kdev_fop_read,
	.write = kdev_fop_write,
	.unlocked_ioctl = kdev_fop_ioctl,
	.compat_ioctl = kdev_fop_compat_ioctl,
	.llseek = kdev_fop_llseek,
	.release = kdev_fop_release,
};

/*
 * (1.1) The same for a CharDevice: read and write at *ppos serve
 * pread(2) and pwrite(2) too (Linux passes their offset there and leaves
 * f_pos alone); ioctls may reach the caller's memory; poll.
 */
static const struct file_operations konoha_chr_fops = {
	.owner = THIS_MODULE,
	.open = kdev_fop_open,
	.read = kdev_fop_read,
	.write = kdev_fop_write,
	.unlocked_ioctl = kdev_fop_chr_ioctl,
	.compat_ioctl = kdev_fop_chr_compat_ioctl,
	.llseek = kdev_fop_llseek,
	.poll = kdev_fop_poll,
	.release = kdev_fop_release,
};

/*
 * The node's permissions: the script's `mode` field, read at registration.
 * The class callback takes a const device from 6.2 on (Kbuild probes it).
 */
#ifdef KONOHA_DEVNODE_CONST
static char *konoha_devnode(const struct device *dev, umode_t *mode)
#else
static char *konoha_devnode(struct device *dev, umode_t *mode)
#endif
{
	struct konoha_dev *kd = dev_get_drvdata(dev);

	if (mode && kd && kd->kdev)
		*mode = kd->kdev->mode;
	return NULL;	/* the node's name is the device's */
}

/* The class of all script devices: /sys/class/konoha. */
struct class konoha_class = {
	.name = "konoha",
	.devnode = konoha_devnode,
};

/*
 * Whether /dev already has an entry of that name, whichever driver (or
 * anyone) made it: a script must not shadow /dev/null and the like
 * (the language reference §9.3).  Anything but "no such entry" counts as
 * taken.
 */
static bool dev_node_exists(const char *name)
{
	char path[sizeof("/dev/") + KONOHA_NAME_LEN];
	struct path p;
	int err;

	snprintf(path, sizeof(path), "/dev/%s", name);
	err = kern_path(path, 0, &p);
	if (!err)
		path_put(&p);
	return err != -ENOENT;
}

/* Called with konoha_minors_lock held: our own devices, published or not. */
static bool dev_name_taken(const char *name)
{
	struct konoha_dev *kd;
	int id;

	if (!strcmp(name, "konoha"))
		return true;
	idr_for_each_entry(&konoha_minors, kd, id)
		if (kd->kdev && !strcmp(kd->kdev->name, name))
			return true;
	return false;
}

/* ---- publishing devices ---------------------------------------------------- */

/*
 * Device.register: runs under the script's lock.  The name is checked
 * and the minor taken under konoha_minors_lock, so two devices cannot
 * take one name; opens reach the device only after cdev_add(), and its
 * node appears last.  Every failure undoes what was done, in reverse.
 */
int konoha_dev_add(void *ctx, struct kdev *d)
{
	struct konoha_script *s = ctx;
	struct konoha_dev *kd;
	struct device *dev;
	struct cdev *cdev;
	dev_t devt;
	int err;

	kd = kp_zalloc(sizeof(*kd));
	if (!kd)
		return -ENOMEM;
	cdev = cdev_alloc();
	if (!cdev) {
		err = -ENOMEM;
		goto out_free_kd;
	}
	cdev->owner = THIS_MODULE;
	cdev->ops = d->chr ? &konoha_chr_fops : &konoha_dev_fops;
	kd->script = s;
	kd->kdev = d;
	kd->cdev = cdev;

	/* a path walk sleeps: before taking the lock */
	if (dev_node_exists(d->name)) {
		err = -EEXIST;
		goto out_put_cdev;
	}
	mutex_lock(&konoha_minors_lock);
	if (dev_name_taken(d->name)) {
		mutex_unlock(&konoha_minors_lock);
		err = -EEXIST;
		goto out_put_cdev;
	}
	err = idr_alloc(&konoha_minors, kd, 0, KONOHA_MINORS, GFP_KERNEL);
	mutex_unlock(&konoha_minors_lock);
	if (err < 0)
		goto out_put_cdev;
	kd->minor = err;
	devt = MKDEV(MAJOR(konoha_devt), kd->minor);

	err = cdev_add(cdev, devt, 1);
	if (err)
		goto out_remove_minor;
	dev = device_create(&konoha_class, NULL, devt, kd, "%s", d->name);
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		cdev_del(cdev);
		cdev = NULL;
		goto out_remove_minor;
	}
	d->host_data = kd;
	return 0;

out_remove_minor:
	mutex_lock(&konoha_minors_lock);
	idr_remove(&konoha_minors, kd->minor);
	mutex_unlock(&konoha_minors_lock);
out_put_cdev:
	if (cdev)
		kobject_put(&cdev->kobj);
	/* published for a moment: an open may be looking at it */
	kp_free_rcu(kd, rcu);
	return err;
out_free_kd:
	kp_free(kd);
	return err;
}

/*
 * Removes a device's node: at unload (under the script's lock), when an
 * init fails, and when the VM is destroyed.  Idempotent.
 */
void konoha_dev_remove(void *ctx, struct kdev *d)
{
	struct konoha_dev *kd = d->host_data;

	if (!kd)
		return;
	d->host_data = NULL;
	device_destroy(&konoha_class, MKDEV(MAJOR(konoha_devt), kd->minor));
	cdev_del(kd->cdev);
	mutex_lock(&konoha_minors_lock);
	idr_remove(&konoha_minors, kd->minor);
	mutex_unlock(&konoha_minors_lock);
	/* an open may still be looking at it (kdev_fop_open) */
	kp_free_rcu(kd, rcu);
}
