// SPDX-License-Identifier: GPL-2.0
/*
 * kfib_ref: the C baseline of the kfib benchmark (bench/test_kfib.py).
 *
 * A misc device /dev/kfibref whose ioctl(fd, 1, n) returns fib(n), computed
 * by the same naive recursion as the K script it is measured against.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#define KFIB_CMD 1
#define KFIB_MAX 40

/* noinline: keep the recursion a recursion (no unrolling into a loop). */
static noinline long kfib(long n)
{
	if (n < 2)
		return n;
	return kfib(n - 1) + kfib(n - 2);
}

static long kfib_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (cmd != KFIB_CMD)
		return -ENOTTY;
	if (arg > KFIB_MAX)
		return -EINVAL;
	return kfib((long)arg);
}

static const struct file_operations kfib_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kfib_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kfib_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kfibref",
	.fops = &kfib_fops,
	.mode = 0666,
};

static int __init kfib_init(void)
{
	int err;

	err = misc_register(&kfib_misc);
	if (err) {
		pr_err("cannot register /dev/kfibref: %d\n", err);
		return err;
	}
	pr_info("/dev/kfibref registered\n");
	return 0;
}

static void __exit kfib_exit(void)
{
	misc_deregister(&kfib_misc);
	pr_info("/dev/kfibref removed\n");
}

module_init(kfib_init);
module_exit(kfib_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Recursive fib(n) in C, the kfib benchmark's baseline");
