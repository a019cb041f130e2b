/* SPDX-License-Identifier: GPL-2.0 */
/*
 * konoha.h - what the parts of konoha.ko share; nothing outside the
 * module uses it (companion modules see konoha_jit.h, user space
 * konoha_uapi.h).
 *
 *   konoha_main.c    module init and exit, the host callbacks of a VM
 *   konoha_ctl.c     /dev/konoha: writes, the load at close, the ioctls
 *   konoha_script.c  the registry of scripts: load, unload, list, the
 *                    reference counting that bounds their lifetimes, and
 *                    (1.1) their timers (a delayed work item each)
 *   konoha_dev.c     the character devices scripts register: the minor
 *                    map, the class, the nodes, their file_operations and
 *                    (1.1) the wait queues their callbacks sleep on
 *   konoha_jit.c     the registry of JIT stub tables of companion modules
 *
 * Locks: konoha_scripts_lock is held only for list operations, never
 * while waiting for a script's lock (vm->lock); konoha_minors_lock is
 * taken under a script's lock (registration) and never held while taking
 * one; konoha_jits_lock is never held while taking another.  So no wait
 * for a script's lock, which a busy callback holds, can stall the loads,
 * unloads and lists of the other scripts.
 *
 * (1.1) A callback waiting in WaitQueue.await sleeps with its script's
 * lock released and takes it again without interruption.  A script's
 * timer work and deferred releases (release_work) take its lock as
 * kworkers; so nothing waits for either work item (cancel_*_sync, a
 * flush) while holding a script's lock.
 */
#ifndef KONOHA_H
#define KONOHA_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "kvm.h"
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
/* Lines a live script's callbacks may print per 5 s (host_output()). */
#define KONOHA_PRINT_BURST	200

/*
 * A loaded script: its image, its VM and the counters /dev/konoha lists.
 * The VM's host context is the script, so a device file finds its script
 * through f->dev->vm->host.ctx.
 */
struct konoha_script {
	struct list_head node;		/* in konoha_scripts once loaded */
	struct kref ref;
	char name[KONOHA_NAME_LEN];
	struct kimage *img;
	struct kvm *vm;
	/* finished callbacks, failed ones: per CPU, summed when listed */
	u64 __percpu *calls;
	u64 __percpu *failed_calls;
	/* freed after a grace period: kdev_fop_open looks it up under RCU */
	struct rcu_head rcu;
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
	/*
	 * (1.1) The script's one timer request (kvm_host.timer_arm): runs
	 * kvm_run_timers() under the script's lock when its earliest Timer
	 * is due.  Cancelled and waited for, without the lock, before the
	 * VM goes (script_stop_timers()).
	 */
	struct delayed_work timer_work;
	/*
	 * Reports of failed callbacks go to the kernel log at most 10 per
	 * 5 s per script: any user of a 0666 device can make callbacks fail
	 * (under the script's lock, which log_shown also belongs to).
	 */
	struct ratelimit_state log_rs;
	bool log_shown;		/* the report being logged passed */
	/* print() lines of callbacks: KONOHA_PRINT_BURST per 5 s */
	struct ratelimit_state print_rs;
	/*
	 * The buffer of KDEV_BOUNCE_MAX bytes that read(2) and write(2)
	 * copy through (konoha_dev.c), made by the first call that needs
	 * it and kept until the script is freed; one call holds it at a
	 * time (taken with xchg), the others allocate their own.
	 */
	void *bounce;
	atomic_t bounce_made;
};

/* A per-CPU counter's total. */
static inline u64 konoha_sum(u64 __percpu *c)
{
	u64 n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += *per_cpu_ptr(c, cpu);
	return n;
}

/* kp_free() after an RCU grace period, of p's rcu_head `field`. */
#define kp_free_rcu(p, field)					\
	do {							\
		atomic_long_dec(&kp_live_blocks);		\
		kvfree_rcu(p, field);				\
	} while (0)

/*
 * A published device: its minor maps to it in konoha_minors until the
 * device is removed. konoha_minors_lock is taken under a script's lock
 * (registration) and never held while taking one.
 */
struct konoha_dev {
	struct rcu_head rcu;		/* freed after a grace period */
	struct konoha_script *script;
	struct kdev *kdev;
	struct cdev *cdev;
	int minor;
};

/*
 * (1.1) The poll(2) call a CharDevice's poll registers its queues on
 * (kvm_host.poll_wait, PollTable.wait): what kdev_fop_poll() got, on its
 * stack, handed through kdev_poll() as its pt.
 */
struct konoha_poll {
	struct file *file;
	poll_table *table;
};

/* What a load asks for, and where its error text goes. */
struct load_req {
	const u8 *data;
	size_t len;
	u64 budget, heap;
	u32 depth;
	u32 flags;			/* KONOHA_LOAD_* */
	char name[KONOHA_NAME_LEN];	/* "" or the name wanted; the name used */
	char *msg;			/* KONOHA_MSG_MAX bytes */
	/* load-time parameters (kernel copies, unchecked), or NULL */
	const char *params;
	size_t params_len;
};

/* konoha_main.c */
extern struct workqueue_struct *konoha_wq;
extern const struct kvm_host konoha_host;
void konoha_log_line(int level_err, const char *script, const char *indent,
		     const char *line, size_t len);

/* konoha_ctl.c */
extern struct miscdevice konoha_misc;

/* konoha_script.c */
extern struct list_head konoha_scripts;
void konoha_script_put(struct konoha_script *s);
int konoha_script_load(struct load_req *rq);
int konoha_script_unload(const char *name);
int konoha_list(struct konoha_list *ls);

/* konoha_dev.c */
extern struct idr konoha_minors;
extern dev_t konoha_devt;
extern struct class konoha_class;
int konoha_dev_add(void *ctx, struct kdev *d);
void konoha_dev_remove(void *ctx, struct kdev *d);
void konoha_release_work(struct work_struct *work);
void konoha_dev_host(struct kvm_host *host);

/* konoha_jit.c */
int konoha_jit_attach(struct konoha_script *s, u32 flags, char *msg);

#endif /* KONOHA_H */
