// SPDX-License-Identifier: GPL-2.0
/*
 * kref_dev: the C baseline of the open_overhead benchmark.
 *
 * A misc device /dev/kref whose open and release do nothing and whose read
 * returns a fixed string: the cheapest character device the kernel can
 * offer, against which the scripted drivers of konoha.ko are measured.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static const char refdev_text[] = "kref: hello from C\n";

static int refdev_open(struct inode *inode, struct file *file)
{
	return 0;
}

static int refdev_release(struct inode *inode, struct file *file)
{
	return 0;
}

static ssize_t refdev_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, refdev_text,
				       sizeof(refdev_text) - 1);
}

static const struct file_operations refdev_fops = {
	.owner = THIS_MODULE,
	.open = refdev_open,
	.release = refdev_release,
	.read = refdev_read,
	.llseek = default_llseek,
};

static struct miscdevice refdev_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kref",
	.fops = &refdev_fops,
	.mode = 0666,
};

static int __init refdev_init(void)
{
	int err;

	err = misc_register(&refdev_misc);
	if (err) {
		pr_err("cannot register /dev/kref: %d\n", err);
		return err;
	}
	pr_info("/dev/kref registered\n");
	return 0;
}

static void __exit refdev_exit(void)
{
	misc_deregister(&refdev_misc);
	pr_info("/dev/kref removed\n");
}

module_init(refdev_init);
module_exit(refdev_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference misc device for the open_overhead benchmark");
