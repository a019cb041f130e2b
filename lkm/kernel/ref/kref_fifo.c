// SPDX-License-Identifier: GPL-2.0
/*
 * kref_fifo: the C peer of examples/fifo.k in the chardev benchmark.
 *
 * Two independent misc devices, /dev/kref_fifo0 and /dev/kref_fifo1 (a
 * ping-pong between two processes needs one channel each way), each a
 * blocking FIFO with the same semantics as the K driver:
 *
 * - read(2) sleeps while the FIFO is empty (O_NONBLOCK: EAGAIN instead),
 *   then returns up to its count of the oldest bytes and wakes writers;
 * - write(2) sleeps while the FIFO is full (O_NONBLOCK: EAGAIN), then
 *   appends as many of its bytes as fit and wakes readers; a read or a
 *   write of 0 bytes returns 0 at once, as a pipe's does;
 * - poll reports IN while bytes are pending and OUT while there is room;
 * - a signal ends a wait with ERESTARTSYS (EINTR, or a restart under
 *   SA_RESTART);
 * - lseek is a CharDevice's default seek (SEEK_SET, SEEK_CUR to >= 0).
 *
 * Each FIFO holds at most KREF_FIFO_CAP bytes, in a ring allocated at load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define KREF_FIFO_CAP	65536
#define KREF_FIFO_COUNT	2

/*
 * One FIFO.  Pending bytes are the len bytes of the ring from head on.
 * len changes only under lock; the wait conditions and poll read it
 * without the lock (READ_ONCE) and the readers and writers recheck it
 * under the lock before they use it.
 */
struct kref_fifo {
	struct mutex lock;		/* guards head, len and buf */
	wait_queue_head_t readers;	/* woken when bytes arrive */
	wait_queue_head_t writers;	/* woken when room appears */
	size_t head;
	size_t len;
	char *buf;			/* KREF_FIFO_CAP bytes */
	struct miscdevice misc;
};

static struct kref_fifo kref_fifos[KREF_FIFO_COUNT];
static const char *const kref_fifo_names[KREF_FIFO_COUNT] = {
	"kref_fifo0", "kref_fifo1"
};

/* misc_open leaves the miscdevice in private_data: the FIFO around it. */
static struct kref_fifo *kref_fifo_of(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct kref_fifo, misc);
}

/* Whether a reader (bytes pending) or a writer (room left) may go on. */
static bool kref_fifo_ready(struct kref_fifo *f, bool reader)
{
	size_t len = READ_ONCE(f->len);

	return reader ? len != 0 : len < KREF_FIFO_CAP;
}

/*
 * Take the FIFO's lock once a reader (or a writer) may go on, sleeping
 * interruptibly in between.  Returns 0 with the lock held, -EAGAIN for a
 * non-blocking file that would have to sleep, or -ERESTARTSYS on a signal
 * (without the lock).  The condition is checked again under the lock, so
 * a reader woken with a writer that got in first sleeps again.
 */
static int kref_fifo_lock_when(struct kref_fifo *f, struct file *file,
			       bool reader)
{
	wait_queue_head_t *q = reader ? &f->readers : &f->writers;

	if (mutex_lock_interruptible(&f->lock))
		return -ERESTARTSYS;
	while (!kref_fifo_ready(f, reader)) {
		mutex_unlock(&f->lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(*q, kref_fifo_ready(f, reader)))
			return -ERESTARTSYS;
		if (mutex_lock_interruptible(&f->lock))
			return -ERESTARTSYS;
	}
	return 0;
}

static ssize_t kref_fifo_read(struct file *file, char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct kref_fifo *f = kref_fifo_of(file);
	size_t n, first;
	int err;

	if (!count)
		return 0;
	err = kref_fifo_lock_when(f, file, true);
	if (err)
		return err;
	n = min(count, f->len);
	first = min_t(size_t, n, KREF_FIFO_CAP - f->head);
	if (copy_to_user(ubuf, f->buf + f->head, first) ||
	    copy_to_user(ubuf + first, f->buf, n - first)) {
		mutex_unlock(&f->lock);
		return -EFAULT;
	}
	f->head = (f->head + n) % KREF_FIFO_CAP;
	WRITE_ONCE(f->len, f->len - n);
	mutex_unlock(&f->lock);
	wake_up_interruptible(&f->writers);
	*ppos += n;
	return n;
}

static ssize_t kref_fifo_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct kref_fifo *f = kref_fifo_of(file);
	size_t n, tail, first;
	int err;

	if (!count)
		return 0;
	err = kref_fifo_lock_when(f, file, false);
	if (err)
		return err;
	n = min_t(size_t, count, KREF_FIFO_CAP - f->len);
	tail = (f->head + f->len) % KREF_FIFO_CAP;
	first = min_t(size_t, n, KREF_FIFO_CAP - tail);
	if (copy_from_user(f->buf + tail, ubuf, first) ||
	    copy_from_user(f->buf, ubuf + first, n - first)) {
		mutex_unlock(&f->lock);
		return -EFAULT;
	}
	WRITE_ONCE(f->len, f->len + n);
	mutex_unlock(&f->lock);
	wake_up_interruptible(&f->readers);
	*ppos += n;
	return n;
}

static __poll_t kref_fifo_poll(struct file *file, poll_table *wait)
{
	struct kref_fifo *f = kref_fifo_of(file);
	__poll_t mask = 0;
	size_t len;

	poll_wait(file, &f->readers, wait);
	poll_wait(file, &f->writers, wait);
	len = READ_ONCE(f->len);
	if (len)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (len < KREF_FIFO_CAP)
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

/* A CharDevice's default seek: from the start or the position, to >= 0. */
static loff_t kref_fifo_llseek(struct file *file, loff_t offset, int whence)
{
	loff_t pos;

	switch (whence) {
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		pos = file->f_pos + offset;
		break;
	default:
		return -EINVAL;
	}
	if (pos < 0)
		return -EINVAL;
	file->f_pos = pos;
	return pos;
}

static const struct file_operations kref_fifo_fops = {
	.owner = THIS_MODULE,
	.read = kref_fifo_read,
	.write = kref_fifo_write,
	.poll = kref_fifo_poll,
	.llseek = kref_fifo_llseek,
};

/* Deregister and free the first n FIFOs. */
static void kref_fifo_remove(int n)
{
	while (n-- > 0) {
		misc_deregister(&kref_fifos[n].misc);
		kvfree(kref_fifos[n].buf);
		mutex_destroy(&kref_fifos[n].lock);
		pr_info("/dev/%s removed\n", kref_fifo_names[n]);
	}
}

static int __init kref_fifo_init(void)
{
	int i, err;

	for (i = 0; i < KREF_FIFO_COUNT; i++) {
		struct kref_fifo *f = &kref_fifos[i];

		f->buf = kvmalloc(KREF_FIFO_CAP, GFP_KERNEL);
		if (!f->buf) {
			err = -ENOMEM;
			goto fail;
		}
		mutex_init(&f->lock);
		init_waitqueue_head(&f->readers);
		init_waitqueue_head(&f->writers);
		f->misc.minor = MISC_DYNAMIC_MINOR;
		f->misc.name = kref_fifo_names[i];
		f->misc.fops = &kref_fifo_fops;
		f->misc.mode = 0666;
		err = misc_register(&f->misc);
		if (err) {
			kvfree(f->buf);
			mutex_destroy(&f->lock);
			goto fail;
		}
		pr_info("/dev/%s registered\n", kref_fifo_names[i]);
	}
	return 0;
fail:
	pr_err("cannot register /dev/%s: %d\n", kref_fifo_names[i], err);
	kref_fifo_remove(i);
	return err;
}

static void __exit kref_fifo_exit(void)
{
	kref_fifo_remove(KREF_FIFO_COUNT);
}

module_init(kref_fifo_init);
module_exit(kref_fifo_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference blocking FIFO devices for the chardev benchmark");
