// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_jit.c - the registry of JIT stub tables.
 *
 * Companion modules register a stub table per image (konoha_jit.h says
 * the contract, struct kjit_table is in lkm/core/kvm.h); a script loaded
 * while stubs for its image digest are registered runs on them and holds
 * a reference on their module until the script is freed
 * (konoha_jit_attach(), dropped in the script's release).  Tables are
 * looked up by digest only, so a table never serves another image.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "konoha.h"
#include "konoha_jit.h"

/* One registered table and the module that carries it (NULL: built in). */
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

/*
 * Registers the stubs of one image: 0, -EINVAL, -EEXIST or -ENOMEM.  t is
 * not copied: it lives in the owner's module, which must keep it until
 * its konoha_jit_remove().  One table per digest, the first one wins.
 */
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
int konoha_jit_attach(struct konoha_script *s, u32 flags, char *msg)
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
	/*
	 * kvm_jit_register() checks the ABI and the function count again
	 * and may run out of memory for the frames.  Without KONOHA_LOAD_JIT
	 * a mismatch only costs speed: the script is interpreted.
	 */
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
