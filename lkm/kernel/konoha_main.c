// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_main.c - konoha.ko: the K VM in the kernel (prototype).
 *
 * /dev/konoha (root only, 0600) takes a compiled image: write(2) appends
 * bytes, close(2) (the flush of the file) verifies the image with
 * kimg_load(), creates a VM for it and runs its init; the init registers
 * the script's devices, each a misc device driven by device.c. close(2)
 * fails with the loader's or the init's error, the message goes to the
 * kernel log. Scripts stay loaded until the module is removed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvm.h"

/* Largest image accepted on /dev/konoha. */
#define KONOHA_IMAGE_MAX	(16u << 20)
/* Heap quota of one script in the kernel. */
#define KONOHA_HEAP		(16u << 20)

struct konoha_script {
	struct list_head node;
	struct kimage *img;
	struct kvm *vm;
};

static LIST_HEAD(konoha_scripts);
static DEFINE_MUTEX(konoha_scripts_lock);

/* ---- devices of scripts ------------------------------------------------ */

struct konoha_dev {
	struct miscdevice misc;
	struct kdev *kdev;
};

static int kdev_fop_open(struct inode *inode, struct file *file)
{
	struct konoha_dev *kd = container_of(file->private_data,
					     struct konoha_dev, misc);
	struct kdev_file *f;
	int err;

	/*
	 * misc_open() calls us with misc_mtx held, and an init registers its
	 * devices with the script's lock held: never wait for that lock
	 * before the init is over.
	 */
	if (!READ_ONCE(kd->kdev->vm->init_done))
		return -ENXIO;
	err = kdev_open(kd->kdev, &f);
	if (err)
		return err;
	file->private_data = f;
	return 0;
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
	return n;
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
	return n;
}

static long kdev_fop_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	int64_t result;
	int err;

	err = kdev_ioctl(file->private_data, cmd, (int64_t)(long)arg, &result);
	return err ? err : (long)result;
}

static loff_t kdev_fop_llseek(struct file *file, loff_t off, int whence)
{
	int64_t pos = file->f_pos;
	int64_t ret;

	ret = kdev_llseek(file->private_data, off, whence, &pos);
	if (ret < 0)
		return ret;
	file->f_pos = pos;
	return pos;
}

static int kdev_fop_release(struct inode *inode, struct file *file)
{
	return kdev_release(file->private_data);
}

static const struct file_operations konoha_dev_fops = {
	.owner = THIS_MODULE,
	.open = kdev_fop_open,
	.read = kdev_fop_read,
	.write = kdev_fop_write,
	.unlocked_ioctl = kdev_fop_ioctl,
	.llseek = kdev_fop_llseek,
	.release = kdev_fop_release,
};

/* ---- the host of a VM --------------------------------------------------- */

static void host_output(void *ctx, const char *buf, size_t len)
{
	pr_info("%.*s", (int)len, buf);
}

static void host_log(void *ctx, const char *line, size_t len)
{
	pr_warn("%.*s\n", (int)len, line);
}

static int host_dev_add(void *ctx, struct kdev *d)
{
	struct konoha_dev *kd;
	int err;

	kd = kzalloc(sizeof(*kd), GFP_KERNEL);
	if (!kd)
		return -ENOMEM;
	kd->kdev = d;
	kd->misc.minor = MISC_DYNAMIC_MINOR;
	kd->misc.name = d->name;
	kd->misc.fops = &konoha_dev_fops;
	kd->misc.mode = d->mode;
	err = misc_register(&kd->misc);
	if (err) {
		kfree(kd);
		return err;
	}
	d->host_data = kd;
	return 0;
}

static void host_dev_remove(void *ctx, struct kdev *d)
{
	struct konoha_dev *kd = d->host_data;

	if (!kd)
		return;
	misc_deregister(&kd->misc);
	kfree(kd);
	d->host_data = NULL;
}

static const struct kvm_host konoha_host = {
	.output = host_output,
	.log = host_log,
	.dev_add = host_dev_add,
	.dev_remove = host_dev_remove,
};

static void log_report(const char *what, const char *report)
{
	const char *nl;

	pr_err("%s\n", what);
	while (*report) {
		nl = strchrnul(report, '\n');
		pr_err("  %.*s\n", (int)(nl - report), report);
		report = *nl ? nl + 1 : nl;
	}
}

static void script_destroy(struct konoha_script *s)
{
	kvm_destroy(s->vm);
	kimg_free(s->img);
	kfree(s);
}

/* Verifies an image, runs its init and keeps the script: 0 or -errno. */
static int script_load(const u8 *data, size_t size)
{
	struct konoha_script *s;
	struct kvm_limits lim;
	char err_msg[128];
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	err = kimg_load(data, size, &s->img, err_msg, sizeof(err_msg));
	if (err) {
		pr_err("image refused: %s\n", err_msg);
		goto out_free_script;
	}
	kvm_default_limits(&lim);
	lim.budget = KVM_KERNEL_BUDGET;
	lim.cb_budget = KVM_KERNEL_BUDGET;
	lim.heap = KONOHA_HEAP;
	err = -ENOMEM;
	s->vm = kvm_create(s->img, &lim, &konoha_host);
	if (!s->vm)
		goto out_free_image;
	if (kvm_run_init(s->vm) != KVM_OK) {
		log_report("the init of the script failed:", kvm_report(s->vm));
		err = -EINVAL;
		goto out_destroy_vm;
	}
	mutex_lock(&konoha_scripts_lock);
	list_add_tail(&s->node, &konoha_scripts);
	mutex_unlock(&konoha_scripts_lock);
	return 0;

out_destroy_vm:
	kvm_destroy(s->vm);
out_free_image:
	kimg_free(s->img);
out_free_script:
	kfree(s);
	return err;
}

/* ---- /dev/konoha -------------------------------------------------------- */

struct konoha_upload {
	u8 *buf;
	size_t len, cap;
};

static int konoha_open(struct inode *inode, struct file *file)
{
	struct konoha_upload *up;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	up = kzalloc(sizeof(*up), GFP_KERNEL);
	if (!up)
		return -ENOMEM;
	file->private_data = up;
	return stream_open(inode, file);
}

static ssize_t konoha_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct konoha_upload *up = file->private_data;
	size_t cap;
	u8 *p;

	if (count > KONOHA_IMAGE_MAX - up->len)
		return -EFBIG;
	if (up->len + count > up->cap) {
		cap = max_t(size_t, up->cap * 2, up->len + count);
		cap = min_t(size_t, cap, KONOHA_IMAGE_MAX);
		p = kvmalloc(cap, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		if (up->len)
			memcpy(p, up->buf, up->len);
		kvfree(up->buf);
		up->buf = p;
		up->cap = cap;
	}
	if (copy_from_user(up->buf + up->len, buf, count))
		return -EFAULT;
	up->len += count;
	return count;
}

/* close(2): load what was written, report the result to the caller. */
static int konoha_flush(struct file *file, fl_owner_t id)
{
	struct konoha_upload *up = file->private_data;
	int err;

	if (!up->len)
		return 0;
	err = script_load(up->buf, up->len);
	up->len = 0;
	return err;
}

static int konoha_release(struct inode *inode, struct file *file)
{
	struct konoha_upload *up = file->private_data;

	kvfree(up->buf);
	kfree(up);
	return 0;
}

static const struct file_operations konoha_fops = {
	.owner = THIS_MODULE,
	.open = konoha_open,
	.write = konoha_write,
	.flush = konoha_flush,
	.release = konoha_release,
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

	err = misc_register(&konoha_misc);
	if (err) {
		pr_err("cannot register /dev/konoha: %d\n", err);
		return err;
	}
	pr_info("/dev/konoha ready\n");
	return 0;
}

static void __exit konoha_exit(void)
{
	struct konoha_script *s, *tmp;

	misc_deregister(&konoha_misc);
	list_for_each_entry_safe(s, tmp, &konoha_scripts, node) {
		list_del(&s->node);
		script_destroy(s);
	}
	pr_info("unloaded\n");
}

module_init(konoha_init);
module_exit(konoha_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("K: character-device drivers in a typed scripting language");
