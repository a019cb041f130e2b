// SPDX-License-Identifier: GPL-2.0
/*
 * kref_rot13: the C peer of examples/rot13.k in the chardev benchmark.
 *
 * A misc device /dev/kref_rot13 with the same semantics as the K driver:
 * each open file has its own buffer of pending bytes, at most
 * KREF_ROT13_CAP of them.  write(2) queues as many of its bytes as fit and
 * returns that count (a short write when the buffer fills; ENOSPC when it
 * is full already); read(2) returns up to its count of the pending bytes,
 * oldest first, rot13'd (letters rotated by 13, other bytes unchanged), and
 * 0 when none is pending.  Reads and writes never block.  lseek behaves as
 * a CharDevice's default seek: SEEK_SET and SEEK_CUR to any position >= 0,
 * anything else EINVAL; the position only counts bytes read and written.
 *
 * The bytes are rotated as they are queued, so read(2) is a plain copy;
 * what the caller sees is the same as rotating them on the way out.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

/* The most bytes one open file holds: one maximal CharDevice write. */
#define KREF_ROT13_CAP	65536

/*
 * One open file's state.  Pending bytes are buf[start, start + len); the
 * buffer is compacted to the front when a write would run past its end,
 * and start goes back to 0 whenever it empties.
 */
struct kref_rot13_file {
	struct mutex lock;	/* serialises reads and writes of this file */
	size_t start;
	size_t len;
	char *buf;		/* KREF_ROT13_CAP bytes */
};

static void kref_rot13_bytes(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'a' && c <= 'z')
			p[i] = 'a' + (c - 'a' + 13) % 26;
		else if (c >= 'A' && c <= 'Z')
			p[i] = 'A' + (c - 'A' + 13) % 26;
	}
}

static int kref_rot13_open(struct inode *inode, struct file *file)
{
	struct kref_rot13_file *rf;

	rf = kzalloc(sizeof(*rf), GFP_KERNEL);
	if (!rf)
		return -ENOMEM;
	rf->buf = kvmalloc(KREF_ROT13_CAP, GFP_KERNEL);
	if (!rf->buf) {
		kfree(rf);
		return -ENOMEM;
	}
	mutex_init(&rf->lock);
	file->private_data = rf;
	return 0;
}

static int kref_rot13_release(struct inode *inode, struct file *file)
{
	struct kref_rot13_file *rf = file->private_data;

	mutex_destroy(&rf->lock);
	kvfree(rf->buf);
	kfree(rf);
	return 0;
}

static ssize_t kref_rot13_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct kref_rot13_file *rf = file->private_data;
	size_t n;

	if (mutex_lock_interruptible(&rf->lock))
		return -ERESTARTSYS;
	n = min(count, rf->len);
	if (n && copy_to_user(ubuf, rf->buf + rf->start, n)) {
		mutex_unlock(&rf->lock);
		return -EFAULT;
	}
	rf->start += n;
	rf->len -= n;
	if (!rf->len)
		rf->start = 0;
	mutex_unlock(&rf->lock);
	*ppos += n;
	return n;
}

static ssize_t kref_rot13_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct kref_rot13_file *rf = file->private_data;
	char *dst;
	size_t n;

	if (mutex_lock_interruptible(&rf->lock))
		return -ERESTARTSYS;
	if (rf->len >= KREF_ROT13_CAP) {
		mutex_unlock(&rf->lock);
		return -ENOSPC;
	}
	n = min_t(size_t, count, KREF_ROT13_CAP - rf->len);
	if (rf->start + rf->len + n > KREF_ROT13_CAP) {
		memmove(rf->buf, rf->buf + rf->start, rf->len);
		rf->start = 0;
	}
	dst = rf->buf + rf->start + rf->len;
	if (copy_from_user(dst, ubuf, n)) {
		mutex_unlock(&rf->lock);
		return -EFAULT;
	}
	kref_rot13_bytes(dst, n);
	rf->len += n;
	mutex_unlock(&rf->lock);
	*ppos += n;
	return n;
}

/* A CharDevice's default seek: from the start or the position, to >= 0. */
static loff_t kref_rot13_llseek(struct file *file, loff_t offset, int whence)
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

static const struct file_operations kref_rot13_fops = {
	.owner = THIS_MODULE,
	.open = kref_rot13_open,
	.release = kref_rot13_release,
	.read = kref_rot13_read,
	.write = kref_rot13_write,
	.llseek = kref_rot13_llseek,
};

static struct miscdevice kref_rot13_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kref_rot13",
	.fops = &kref_rot13_fops,
	.mode = 0666,
};

static int __init kref_rot13_init(void)
{
	int err;

	err = misc_register(&kref_rot13_misc);
	if (err) {
		pr_err("cannot register /dev/kref_rot13: %d\n", err);
		return err;
	}
	pr_info("/dev/kref_rot13 registered\n");
	return 0;
}

static void __exit kref_rot13_exit(void)
{
	misc_deregister(&kref_rot13_misc);
	pr_info("/dev/kref_rot13 removed\n");
}

module_init(kref_rot13_init);
module_exit(kref_rot13_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference rot13 device for the chardev benchmark");
