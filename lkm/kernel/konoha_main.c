// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_main.c - konoha.ko: the K VM in the kernel.
 *
 * /dev/konoha (root only) loads compiled images: write(2) the bytes and
 * close(2) the file (close fails with the load's errno, the reason goes
 * to the kernel log), or the ioctls of konoha_uapi.h, which also return
 * the reason as text, unload a script by name and list the scripts.
 *
 * A script's devices are character devices of our own dynamic major, in
 * the class "konoha": Device.register (in an init, under the script's
 * lock) adds the cdev and the node; nothing here ever waits for a
 * script's lock while holding a lock that registration takes, and the
 * callbacks run under the script's lock only (device.c takes it).
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
 * be ended by a signal, or at least by SIGKILL.  A release(2) from a
 * killed or exiting task that finds the script busy does not wait: a work
 * item runs release() once the lock is free (konoha_wq).
 *
 * JIT stubs come in companion modules (konoha_jit.h): a script loaded
 * while stubs for its image digest are registered runs on them and holds
 * a reference on their module until the script is freed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "kvm.h"
#include "konoha_jit.h"
#include "konoha_uapi.h"

/* Largest image accepted. */
#define KONOHA_IMAGE_MAX	(16u << 20)
/* Load flags konoha_uapi.h defines. */
#define KONOHA_LOAD_FLAGS	(KONOHA_LOAD_JIT | KONOHA_LOAD_NOJIT)
/* Default heap quota of one script, and the largest one accepted. */
#define KONOHA_HEAP		(16u << 20)
#define KONOHA_HEAP_MAX		(1u << 30)
/* Largest call depth accepted (frames live in the VM's heap). */
#define KONOHA_DEPTH_MAX	100000u
/*
 * Largest budget accepted, in instructions per init or callback: about a
 * minute of the interpreter at full speed, while a callback holds the
 * script's lock.
 */
#define KONOHA_BUDGET_MAX	10000000000ull
/* Devices of all scripts together. */
#define KONOHA_MINORS		256
/* Error text of a load, as returned to the caller. */
#define KONOHA_MSG_MAX		8192

atomic_long_t kp_live_blocks = ATOMIC_LONG_INIT(0);

struct konoha_script {
	struct list_head node;		/* in konoha_scripts once loaded */
	struct kref ref;
	char name[KONOHA_NAME_LEN];
	struct kimage *img;
	struct kvm *vm;
	atomic64_t calls;
	atomic64_t failed_calls;
	struct module *jit_owner;	/* holds a reference while used */
	bool live;		/* init done (under konoha_scripts_lock) */
	bool unloaded;		/* unpublished (under the script's lock) */
	/*
	 * Files whose release(2) could not wait for the script's lock,
	 * linked by next_spare; each holds its reference to the script
	 * until release_work has released it.
	 */
	spinlock_t pending_lock;
	struct kdev_file *pending;
	struct work_struct release_work;
};

/* The loaded scripts, oldest first. Taken before any script's lock. */
static LIST_HEAD(konoha_scripts);
static DEFINE_MUTEX(konoha_scripts_lock);

/*
 * A published device: its minor maps to it in konoha_minors until the
 * device is removed. konoha_minors_lock is taken under a script's lock
 * (registration) and never held while taking one.
 */
struct konoha_dev {
	struct konoha_script *script;
	struct kdev *kdev;
	struct cdev *cdev;
	int minor;
};

static DEFINE_IDR(konoha_minors);
static DEFINE_MUTEX(konoha_minors_lock);
static dev_t konoha_devt;

/* Runs the deferred releases; drained before the module goes. */
static struct workqueue_struct *konoha_wq;

static void script_release(struct kref *ref);

static void script_put(struct konoha_script *s)
{
	kref_put(&s->ref, script_release);
}

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

/* Counts a finished callback; -EIO is a failure the log tells about. */
static long count_call(struct kdev_file *f, long ret)
{
	struct konoha_script *s = file_script(f);
	u64 left = READ_ONCE(s->vm->stack_min_left);

	if (left < READ_ONCE(stack_min_left))
		WRITE_ONCE(stack_min_left, left);

	atomic64_inc(&s->calls);
	if (ret == -EIO)
		atomic64_inc(&s->failed_calls);
	return ret;
}

static int kdev_fop_open(struct inode *inode, struct file *file)
{
	struct konoha_script *s;
	struct konoha_dev *kd;
	struct kdev_file *f;
	struct kdev *d;
	int err;

	mutex_lock(&konoha_minors_lock);
	kd = idr_find(&konoha_minors, iminor(inode));
	if (!kd || kd->cdev != inode->i_cdev) {
		mutex_unlock(&konoha_minors_lock);
		return -ENXIO;
	}
	d = kd->kdev;
	s = kd->script;
	/* a script whose last reference is gone is on its way out */
	if (!kref_get_unless_zero(&s->ref)) {
		mutex_unlock(&konoha_minors_lock);
		return -ENXIO;
	}
	mutex_unlock(&konoha_minors_lock);

	err = -ENXIO;
	/*
	 * Until the init has finished its devices may still be removed:
	 * only a finished init makes d safe to use while we hold s (pairs
	 * with the unlock of the script's lock after the init).
	 */
	if (!smp_load_acquire(&s->vm->init_done))
		goto out_put;
	err = kdev_open(d, &f);
	if (err)
		goto out_put;
	atomic64_inc(&s->calls);
	file->private_data = f;
	return 0;

out_put:
	if (err == -EIO)
		atomic64_inc(&s->failed_calls);
	script_put(s);
	return err;
}

static ssize_t kdev_fop_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	struct kdev_file *f = file->private_data;
	int64_t pos = *ppos;
	char *bounce;
	long n;

	count = min_t(size_t, count, KDEV_CONTENT_MAX);
	bounce = kvmalloc(count ? count : 1, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	n = kdev_read(f, bounce, count, &pos);
	if (n > 0 && copy_to_user(buf, bounce, n))
		n = -EFAULT;
	if (n >= 0)
		*ppos = pos;
	kvfree(bounce);
	return count_call(f, n);
}

static ssize_t kdev_fop_write(struct file *file, const char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct kdev_file *f = file->private_data;
	int64_t pos = *ppos;
	char *bounce;
	long n;

	count = min_t(size_t, count, KDEV_WRITE_MAX);
	bounce = vmemdup_user(buf, count);
	if (IS_ERR(bounce))
		return PTR_ERR(bounce);
	n = kdev_write(f, bounce, count, &pos);
	if (n >= 0)
		*ppos = pos;
	kvfree(bounce);
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

	err = kdev_ioctl(f, cmd, arg, &result);
	if (err)
		return count_call(f, err);
	return count_call(f, (long)kdev_ioctl_result((int)result));
}

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

static loff_t kdev_fop_llseek(struct file *file, loff_t off, int whence)
{
	struct kdev_file *f = file->private_data;
	int64_t pos = file->f_pos;
	int64_t ret;

	ret = kdev_llseek(f, off, whence, &pos);
	if (ret >= 0)
		file->f_pos = pos;
	return ret;
}

/* The releases handed over by kdev_fop_release, in process context. */
static void script_release_work(struct work_struct *work)
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
		kdev_release(f);
		atomic64_inc(&s->calls);
		n++;
	}
	/* the files' references: s may be freed by the last one */
	while (n--)
		script_put(s);
}

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
	if (kdev_release_nowait(f, !(current->flags & PF_EXITING))) {
		spin_lock(&s->pending_lock);
		f->next_spare = s->pending;
		s->pending = f;
		spin_unlock(&s->pending_lock);
		queue_work(konoha_wq, &s->release_work);
		return 0;
	}
	atomic64_inc(&s->calls);
	script_put(s);
	return 0;
}

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
	return NULL;
}

static struct class konoha_class = {
	.name = "konoha",
	.devnode = konoha_devnode,
};

/* ---- the host of a VM ------------------------------------------------------ */

/* print(): one log line per line of output. */
static void host_output(void *ctx, const char *buf, size_t len)
{
	struct konoha_script *s = ctx;
	const char *nl;

	while (len) {
		nl = memchr(buf, '\n', len);
		if (!nl)
			nl = buf + len;
		pr_info("%s: %.*s\n", s->name, (int)(nl - buf), buf);
		if (nl == buf + len)
			break;
		len -= nl + 1 - buf;
		buf = nl + 1;
	}
}

/* A line of the report of a failed callback. */
/*
 * A line of a script's report for the kernel log: printk stops at a NUL
 * byte, which a K string may hold, so NULs are shown as \0.
 */
static void log_line(int level_err, const char *script, const char *indent,
		     const char *line, size_t len)
{
	char *buf = kmalloc(2 * len + 1, GFP_KERNEL);
	size_t i, n = 0;

	if (!buf)
		return;
	for (i = 0; i < len; i++) {
		if (line[i]) {
			buf[n++] = line[i];
		} else {
			buf[n++] = '\\';
			buf[n++] = '0';
		}
	}
	if (level_err)
		pr_err("%s: %s%.*s\n", script, indent, (int)n, buf);
	else
		pr_warn("%s: %s%.*s\n", script, indent, (int)n, buf);
	kfree(buf);
}

static void host_log(void *ctx, const char *line, size_t len)
{
	struct konoha_script *s = ctx;

	log_line(0, s->name, "", line, len);
}

/*
 * Whether /dev already has an entry of that name, whichever driver (or
 * anyone) made it: a script must not shadow /dev/null and the like
 * (LANGUAGE.md 9.3).  Anything but "no such entry" counts as taken.
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

/* Device.register: runs under the script's lock. */
static int host_dev_add(void *ctx, struct kdev *d)
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
	cdev->ops = &konoha_dev_fops;
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
out_free_kd:
	kp_free(kd);
	return err;
}

/*
 * Removes a device's node: at unload (under the script's lock), when an
 * init fails, and when the VM is destroyed.  Idempotent.
 */
static void host_dev_remove(void *ctx, struct kdev *d)
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
	kp_free(kd);
}

static const struct kvm_host konoha_host = {
	.output = host_output,
	.log = host_log,
	.dev_add = host_dev_add,
	.dev_remove = host_dev_remove,
};

/* ---- JIT stub tables ------------------------------------------------------ */

struct konoha_jit {
	struct list_head node;
	const struct kjit_table *table;
	struct module *owner;
};

/* Registered stub tables; never held while taking another lock. */
static LIST_HEAD(konoha_jits);
static DEFINE_MUTEX(konoha_jits_lock);

/* Called with konoha_jits_lock held. */
static struct konoha_jit *jit_find(const u8 *digest)
{
	struct konoha_jit *j;

	list_for_each_entry(j, &konoha_jits, node)
		if (!memcmp(j->table->digest, digest, sizeof(j->table->digest)))
			return j;
	return NULL;
}

/* Registers the stubs of one image: 0, -EINVAL, -EEXIST or -ENOMEM. */
int konoha_jit_add(const struct kjit_table *t, struct module *owner)
{
	struct konoha_jit *j;
	int err = 0;

	if (!t || t->abi != KJIT_ABI || !t->nfuncs || !t->fns) {
		pr_err("jit: %s: stub table refused (ABI %u, this module %u)\n",
		       owner ? module_name(owner) : "?", t ? t->abi : 0,
		       KJIT_ABI);
		return -EINVAL;
	}
	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	j->table = t;
	j->owner = owner;
	mutex_lock(&konoha_jits_lock);
	if (jit_find(t->digest))
		err = -EEXIST;
	else
		list_add_tail(&j->node, &konoha_jits);
	mutex_unlock(&konoha_jits_lock);
	if (err) {
		pr_err("jit: %s: stubs for image %*phN are already registered\n",
		       owner ? module_name(owner) : "?", 8, t->digest);
		kfree(j);
		return err;
	}
	pr_info("jit: stubs for image %*phN registered (%u functions)\n",
		8, t->digest, t->nfuncs);
	return 0;
}
EXPORT_SYMBOL_GPL(konoha_jit_add);

/*
 * Unregisters a table (its module's exit).  No script uses it: each one
 * that did held a reference on the module, which could not go before.
 */
void konoha_jit_remove(const struct kjit_table *t)
{
	struct konoha_jit *j, *tmp;

	mutex_lock(&konoha_jits_lock);
	list_for_each_entry_safe(j, tmp, &konoha_jits, node) {
		if (j->table == t) {
			list_del(&j->node);
			kfree(j);
			pr_info("jit: stubs for image %*phN unregistered\n",
				8, t->digest);
			break;
		}
	}
	mutex_unlock(&konoha_jits_lock);
}
EXPORT_SYMBOL_GPL(konoha_jit_remove);

/*
 * Binds the registered stubs for the script's image to its VM, before
 * anything runs: 0 (also when none are registered and none required), or
 * -errno with the reason in msg.
 */
static int script_attach_jit(struct konoha_script *s, u32 flags, char *msg)
{
	const struct kjit_table *t = NULL;
	struct module *owner = NULL;
	struct konoha_jit *j;
	char why[128];
	int err;

	if (flags & KONOHA_LOAD_NOJIT)
		return 0;
	mutex_lock(&konoha_jits_lock);
	j = jit_find(s->img->digest);
	/*
	 * Only the tables of a module whose init has returned: one still in
	 * its init may fail it after this table was added, and a failed
	 * module is freed whatever its reference count.  Once live, it goes
	 * only through delete_module, which try_module_get holds off.
	 */
	if (j && (!j->owner || j->owner->state == MODULE_STATE_LIVE) &&
	    try_module_get(j->owner)) {
		t = j->table;
		owner = j->owner;
	}
	mutex_unlock(&konoha_jits_lock);
	if (!t) {
		if (!(flags & KONOHA_LOAD_JIT))
			return 0;
		scnprintf(msg, KONOHA_MSG_MAX,
			  "no JIT stubs registered for image %*phN (load its companion module kjit_%*phN first)\n",
			  8, s->img->digest, 8, s->img->digest);
		return -ENOENT;
	}
	err = kvm_jit_register(s->vm, t, why, sizeof(why));
	if (err) {
		module_put(owner);
		if (!(flags & KONOHA_LOAD_JIT) && err != -ENOMEM) {
			pr_warn("%s: JIT stubs not used: %s\n", s->name, why);
			return 0;
		}
		scnprintf(msg, KONOHA_MSG_MAX, "%s\n", why);
		return err;
	}
	s->jit_owner = owner;
	return 0;
}

/* ---- scripts ------------------------------------------------------------- */

static void script_release(struct kref *ref)
{
	struct konoha_script *s = container_of(ref, struct konoha_script, ref);

	struct module *owner = s->jit_owner;

	kvm_destroy(s->vm);
	kimg_free(s->img);
	kp_free(s);
	if (owner)
		module_put(owner);	/* the stubs are no longer reachable */
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

/* The name of a script from its source file: basename without ".k". */
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

/* What a load asks for, and where its error text goes. */
struct load_req {
	const u8 *data;
	size_t len;
	u64 budget, heap;
	u32 depth;
	u32 flags;			/* KONOHA_LOAD_* */
	char name[KONOHA_NAME_LEN];	/* "" or the name wanted; the name used */
	char *msg;			/* KONOHA_MSG_MAX bytes */
};

/* Appends the report to the message and to the log, line by line. */
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
		log_line(1, rq->name, "  ", report, nl - report);
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

/* Takes a script that never became live off the list. */
static void script_forget(struct konoha_script *s)
{
	mutex_lock(&konoha_scripts_lock);	/* held briefly by all */
	list_del(&s->node);
	mutex_unlock(&konoha_scripts_lock);
}

/* Verifies an image, runs its init and keeps the script: 0 or -errno. */
static int script_load(struct load_req *rq)
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
	err = kimg_load(rq->data, rq->len, &img, why, sizeof(why));
	if (err) {
		pr_err("image refused: %s\n", why);
		scnprintf(rq->msg, KONOHA_MSG_MAX, "image refused: %s\n", why);
		return err == -ENOMEM ? err : -ENOEXEC;
	}
	if (!rq->name[0])
		name_from_source(img->source_name, rq->name);

	s = kp_zalloc(sizeof(*s));
	if (!s) {
		kimg_free(img);
		return -ENOMEM;
	}
	kref_init(&s->ref);
	strscpy(s->name, rq->name, sizeof(s->name));
	spin_lock_init(&s->pending_lock);
	INIT_WORK(&s->release_work, script_release_work);
	s->img = img;
	kvm_default_limits(&lim);
	lim.budget = rq->budget ? rq->budget : KVM_KERNEL_BUDGET;
	lim.cb_budget = lim.budget;
	lim.heap = rq->heap ? rq->heap : KONOHA_HEAP;
	lim.depth = rq->depth ? rq->depth : KVM_DEFAULT_DEPTH;
	host.ctx = s;
	s->vm = kvm_create(img, &lim, &host);
	if (!s->vm) {
		kp_free(s);
		kimg_free(img);
		return -ENOMEM;
	}

	/* the name is ours from here on: a second load of it fails at once */
	err = mutex_lock_killable(&konoha_scripts_lock);
	if (err) {
		script_put(s);
		return err;
	}
	err = script_find(rq->name) ? -EEXIST : 0;
	if (!err)
		list_add_tail(&s->node, &konoha_scripts);
	mutex_unlock(&konoha_scripts_lock);
	if (err) {
		script_put(s);
		scnprintf(rq->msg, KONOHA_MSG_MAX,
			  "a script named %s is already loaded\n", rq->name);
		return err;
	}

	err = script_attach_jit(s, rq->flags, rq->msg);
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
	script_put(s);
	return err;
}

/* Unpublishes the devices of a script: called with its lock held. */
static void script_unpublish(struct konoha_script *s)
{
	struct kdev *d;

	WRITE_ONCE(s->vm->init_done, false);	/* refuse opens in progress */
	for (d = s->vm->devices; d; d = d->next)
		host_dev_remove(s, d);
}

/* A live script by name, with a reference, or NULL. */
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
 */
static int script_unload(const char *name)
{
	struct konoha_script *s;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	s = script_get(name, &err);
	if (!s)
		return err;
	err = kp_mutex_lock(&s->vm->lock);
	if (err)
		goto out_put;
	if (s->unloaded)
		err = -ENOENT;		/* another unload got there first */
	else if (s->vm->open_files)
		err = -EBUSY;
	else
		script_unpublish(s);
	s->unloaded = !err;
	kp_mutex_unlock(&s->vm->lock);
	if (err)
		goto out_put;
	mutex_lock(&konoha_scripts_lock);	/* held briefly by all */
	list_del(&s->node);
	mutex_unlock(&konoha_scripts_lock);
	if (s->jit_owner)
		pr_info("jit: %s: %llu native entries\n", s->name,
			(unsigned long long)s->vm->jit_entries);
	pr_info("%s: unloaded\n", s->name);
	script_put(s);			/* the list's reference */
out_put:
	script_put(s);
	return err;
}

/* Fills info for a script the caller holds a reference on. */
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
	in->calls = atomic64_read(&s->calls);
	in->failed_calls = atomic64_read(&s->failed_calls);
	return 0;
}

/*
 * Takes a reference on each live script under konoha_scripts_lock, then
 * waits for their locks (and copies to the caller) without it.
 */
static int konoha_list(struct konoha_list *ls)
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
		script_put(held[i]);
	}
	kfree(held);
	ls->count = n;
out_free:
	kfree(in);
	ls->live_allocs = kp_live_allocs();
	return err;
}

/* ---- /dev/konoha ------------------------------------------------------------ */

/*
 * What was written to one open file of /dev/konoha.  Its descriptors may
 * be shared (threads, dup, fork): lock serializes writes and the load at
 * a close.
 */
struct konoha_upload {
	struct mutex lock;
	u8 *buf;
	size_t len, cap;
};

static int konoha_open(struct inode *inode, struct file *file)
{
	struct konoha_upload *up;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	/* not counted by kp_live_blocks: the count reads 0 with no script */
	up = kzalloc(sizeof(*up), GFP_KERNEL);
	if (!up)
		return -ENOMEM;
	mutex_init(&up->lock);
	file->private_data = up;
	return stream_open(inode, file);
}

static ssize_t konoha_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct konoha_upload *up = file->private_data;
	ssize_t ret = count;
	size_t cap;
	u8 *p;

	if (mutex_lock_killable(&up->lock))
		return -EINTR;
	if (count > KONOHA_IMAGE_MAX - up->len) {
		ret = -EFBIG;
		goto out_unlock;
	}
	if (up->len + count > up->cap) {
		cap = max_t(size_t, up->cap * 2, up->len + count);
		cap = min_t(size_t, cap, KONOHA_IMAGE_MAX);
		p = kp_realloc(up->buf, up->len, cap);
		if (!p) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		up->buf = p;
		up->cap = cap;
	}
	if (copy_from_user(up->buf + up->len, buf, count))
		ret = -EFAULT;
	else
		up->len += count;
out_unlock:
	mutex_unlock(&up->lock);
	return ret;
}

/* close(2): load what was written, report the result to the caller. */
static int konoha_flush(struct file *file, fl_owner_t id)
{
	struct konoha_upload *up = file->private_data;
	struct load_req *rq;
	size_t len;
	u8 *buf;
	int err;

	/* the load takes the bytes: a write meanwhile starts a new image */
	if (mutex_lock_killable(&up->lock))
		return -EINTR;
	buf = up->buf;
	len = up->len;
	up->buf = NULL;
	up->len = 0;
	up->cap = 0;
	mutex_unlock(&up->lock);
	if (!len) {
		kp_free(buf);
		return 0;
	}
	rq = kp_zalloc(sizeof(*rq) + KONOHA_MSG_MAX);
	if (!rq) {
		kp_free(buf);
		return -ENOMEM;
	}
	rq->msg = (char *)(rq + 1);
	rq->data = buf;
	rq->len = len;
	err = script_load(rq);
	kp_free(rq);
	kp_free(buf);
	return err;
}

static int konoha_release(struct inode *inode, struct file *file)
{
	struct konoha_upload *up = file->private_data;

	/* the last reference to the file: nobody else uses up */
	kp_free(up->buf);
	mutex_destroy(&up->lock);
	kfree(up);
	return 0;
}

static long ioctl_load(void __user *arg)
{
	struct konoha_load ld;
	struct load_req *rq;
	size_t n;
	u32 bad;
	int err;

	if (copy_from_user(&ld, arg, sizeof(ld)))
		return -EFAULT;
	rq = kp_zalloc(sizeof(*rq) + KONOHA_MSG_MAX);
	if (!rq)
		return -ENOMEM;
	rq->msg = (char *)(rq + 1);
	rq->budget = ld.budget;
	rq->heap = ld.heap;
	rq->depth = ld.depth;
	rq->flags = ld.flags;
	memcpy(rq->name, ld.name, sizeof(rq->name));
	rq->name[KONOHA_NAME_LEN - 1] = '\0';
	if ((ld.flags & ~KONOHA_LOAD_FLAGS) ||
	    ld.image_len > KONOHA_IMAGE_MAX) {
		bad = ld.flags & ~KONOHA_LOAD_FLAGS;
		scnprintf(rq->msg, KONOHA_MSG_MAX, bad ?
			  "unknown flags %#x\n" : "image larger than %u bytes\n",
			  bad ? bad : KONOHA_IMAGE_MAX);
		err = bad ? -EINVAL : -EFBIG;
		goto out_reply;
	}
	/* an empty image goes to the verifier too, for its message */
	rq->data = ld.image_len ?
		vmemdup_user(u64_to_user_ptr(ld.image), ld.image_len) :
		(const u8 *)"";
	if (IS_ERR(rq->data)) {
		err = PTR_ERR(rq->data);
		goto out_free;
	}
	rq->len = ld.image_len;
	err = script_load(rq);
	if (ld.image_len)
		kvfree(rq->data);

out_reply:

	n = strlen(rq->msg);
	ld.msg_out = n;
	memcpy(ld.name, rq->name, sizeof(ld.name));
	if (ld.msg_len) {
		n = min_t(size_t, n, ld.msg_len - 1);
		rq->msg[n] = '\0';
		if (copy_to_user(u64_to_user_ptr(ld.msg), rq->msg, n + 1))
			err = -EFAULT;
	}
	if (copy_to_user(arg, &ld, sizeof(ld)))
		err = -EFAULT;
out_free:
	kp_free(rq);
	return err;
}

static long konoha_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct konoha_unload ul;
	struct konoha_list ls;
	long err;

	switch (cmd) {
	case KONOHA_IOC_LOAD:
		return ioctl_load(uarg);
	case KONOHA_IOC_UNLOAD:
		if (copy_from_user(&ul, uarg, sizeof(ul)))
			return -EFAULT;
		ul.name[KONOHA_NAME_LEN - 1] = '\0';
		return script_unload(ul.name);
	case KONOHA_IOC_LIST:
		if (copy_from_user(&ls, uarg, sizeof(ls)))
			return -EFAULT;
		err = konoha_list(&ls);
		if (copy_to_user(uarg, &ls, sizeof(ls)))
			err = -EFAULT;
		return err;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations konoha_fops = {
	.owner = THIS_MODULE,
	.open = konoha_open,
	.write = konoha_write,
	.flush = konoha_flush,
	.release = konoha_release,
	.unlocked_ioctl = konoha_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice konoha_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "konoha",
	.fops = &konoha_fops,
	.mode = 0600,
};

static int __init konoha_init(void)
{
	int err;

	konoha_wq = alloc_workqueue("konoha", 0, 0);
	if (!konoha_wq)
		return -ENOMEM;
	err = alloc_chrdev_region(&konoha_devt, 0, KONOHA_MINORS, "konoha");
	if (err)
		goto out_destroy_wq;
	err = class_register(&konoha_class);
	if (err)
		goto out_unregister_region;
	err = misc_register(&konoha_misc);
	if (err) {
		pr_err("cannot register /dev/konoha: %d\n", err);
		goto out_unregister_class;
	}
	pr_info("/dev/konoha ready\n");
	return 0;

out_unregister_class:
	class_unregister(&konoha_class);
out_unregister_region:
	unregister_chrdev_region(konoha_devt, KONOHA_MINORS);
out_destroy_wq:
	destroy_workqueue(konoha_wq);
	return err;
}

static void __exit konoha_exit(void)
{
	struct konoha_script *s, *tmp;
	long left;

	misc_deregister(&konoha_misc);
	/*
	 * No file of ours is open: the module could not go otherwise.  A
	 * release handed to the work item may still be pending: finish it.
	 */
	destroy_workqueue(konoha_wq);
	list_for_each_entry_safe(s, tmp, &konoha_scripts, node) {
		list_del(&s->node);
		script_put(s);
	}
	class_unregister(&konoha_class);
	unregister_chrdev_region(konoha_devt, KONOHA_MINORS);
	idr_destroy(&konoha_minors);
	left = kp_live_allocs();
	if (left)
		pr_err("%ld blocks still allocated at unload\n", left);
	pr_info("unloaded\n");
}

module_init(konoha_init);
module_exit(konoha_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("K: character-device drivers in a typed scripting language");
