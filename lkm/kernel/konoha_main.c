// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_main.c - konoha.ko: the K VM in the kernel.  This file: module
 * init and exit, and the host callbacks a script's VM calls (output, log,
 * device registration).  konoha.h says which file does what.
 *
 * /dev/konoha (root only) loads compiled images (konoha_ctl.c); the
 * scripts' lifetimes and the rule that every wait for a script's lock can
 * be ended by SIGKILL are konoha_script.c's; JIT stubs come in companion
 * modules (konoha_jit.c).
 *
 * A script's devices are character devices of our own dynamic major, in
 * the class "konoha": Device.register (in an init, under the script's
 * lock) adds the cdev and the node; nothing here ever waits for a
 * script's lock while holding a lock that registration takes, and the
 * callbacks run under the script's lock only (device.c takes it).  A
 * release(2) from a killed or exiting task that finds the script busy
 * does not wait: a work item runs release() once the lock is free
 * (konoha_wq).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "konoha.h"

/*
 * Blocks allocated through kport.h and not yet freed, by all scripts and
 * loads together: konoha_exit() reports a leak when it is not 0.
 */
atomic_long_t kp_live_blocks = ATOMIC_LONG_INIT(0);

/* Runs the deferred releases; drained before the module goes. */
struct workqueue_struct *konoha_wq;

/* ---- the host of a VM ------------------------------------------------------ */

/*
 * __ratelimit() for one of a script's limits, what naming its lines.  The
 * kernel's own note of refused lines ("host_log: 12 callbacks
 * suppressed") would name this file's function, not the script: the
 * limits keep their count (RATELIMIT_MSG_ON_RELEASE, and they are never
 * released), and the first line let through after some were refused is
 * preceded by "SCRIPT: WHAT suppressed: N".
 */
static bool script_ratelimit(struct konoha_script *s,
			     struct ratelimit_state *rs, const char *what)
{
	unsigned long flags;
	int missed;

	if (!__ratelimit(rs))
		return false;
	raw_spin_lock_irqsave(&rs->lock, flags);
	missed = rs->missed;
	rs->missed = 0;
	raw_spin_unlock_irqrestore(&rs->lock, flags);
	if (missed)
		pr_warn("%s: %s suppressed: %d\n", s->name, what, missed);
	return true;
}

/*
 * print(): one log line per line of output.  Called under the script's
 * lock, by the script; a NUL in the output ends its line early.
 *
 * The init's output is logged whole: only CAP_SYS_ADMIN loads a script,
 * and the kernel conformance suite reads its results there.  Once the
 * script is live, its prints come from callbacks that any user of a
 * 0666 device can trigger, so they pass through a per-script limit of
 * KONOHA_PRINT_BURST lines per 5 s (the budget bounds the bytes of one
 * call, not the calls).  Once the limit refuses a line, the rest of
 * that print is dropped with it: a single print of megabytes of newlines
 * would otherwise ask the limiter once per line, far more work than the
 * budget charged for the bytes.  READ_ONCE: live is written under
 * konoha_scripts_lock, which the script's lock does not exclude; a print
 * racing the end of the init is logged either way.
 */
static void host_output(void *ctx, const char *buf, size_t len)
{
	struct konoha_script *s = ctx;
	const char *nl;

	while (len) {
		nl = memchr(buf, '\n', len);
		if (!nl)
			nl = buf + len;
		if (READ_ONCE(s->live) &&
		    !script_ratelimit(s, &s->print_rs, "print lines"))
			break;
		pr_info("%s: %.*s\n", s->name, (int)(nl - buf), buf);
		if (nl == buf + len)
			break;
		len -= nl + 1 - buf;
		buf = nl + 1;
	}
}

/*
 * The most bytes of a report line that reach the log: printk keeps about
 * 1 KiB of a record anyway, and an exception's message (the first line)
 * may be megabytes long, which would ask kmalloc for more than it ever
 * gives (a WARNING) if the whole line were copied.
 */
#define KONOHA_LOG_LINE_MAX	512u

/*
 * A line of a script's report for the kernel log: printk stops at a NUL
 * byte, which a K string may hold, so NULs are shown as \0.  A longer
 * line is cut to KONOHA_LOG_LINE_MAX bytes and ends in "...".
 */
void konoha_log_line(int level_err, const char *script, const char *indent,
		     const char *line, size_t len)
{
	const char *cut = len > KONOHA_LOG_LINE_MAX ? "..." : "";
	char *buf;
	size_t i, n = 0;

	len = min_t(size_t, len, KONOHA_LOG_LINE_MAX);
	buf = kmalloc(2 * len + 1, GFP_KERNEL);
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
		pr_err("%s: %s%.*s%s\n", script, indent, (int)n, buf, cut);
	else
		pr_warn("%s: %s%.*s%s\n", script, indent, (int)n, buf, cut);
	kfree(buf);
}

/* A script's report (a failed callback's trace), as warnings. */
static void host_log(void *ctx, const char *line, size_t len)
{
	struct konoha_script *s = ctx;

	/* a report begins with an unindented line; its trace lines follow */
	if (!len || line[0] != ' ')
		s->log_shown = script_ratelimit(s, &s->log_rs, "reports");
	if (s->log_shown)
		konoha_log_line(0, s->name, "", line, len);
}

/*
 * The callbacks of every script's VM; konoha_script_load() copies it and
 * sets ctx to the script.
 */
const struct kvm_host konoha_host = {
	.output = host_output,
	.log = host_log,
	.dev_add = konoha_dev_add,
	.dev_remove = konoha_dev_remove,
};

/* ---- the module -------------------------------------------------------------- */

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
		konoha_script_put(s);
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
