/* SPDX-License-Identifier: GPL-2.0 */
/*
 * konoha_jit.h - the registry of JIT stub tables in konoha.ko.
 *
 * A companion module built by `ktc compile --jit --profile kernel`
 * (ctjit/__init__.py, write_kmod) calls konoha_jit_add() from its init
 * with each stub table it carries (struct kjit_table, lkm/core/kvm.h) and
 * konoha_jit_remove() from its exit.  Tables are keyed by image digest:
 * a script whose image has that digest, loaded AFTER the table was
 * added, runs on those stubs (a script already loaded keeps running in
 * the interpreter); a table for another digest is never used for it.
 * While a script uses a table, konoha.ko holds a reference on the
 * table's module (try_module_get), so the companion cannot be unloaded
 * before the script is.  A table is used only once its module is live
 * (its init has returned 0): a companion that adds some tables and then
 * fails its init is freed whatever its reference count, so no script may
 * have bound them in between.
 */
#ifndef KONOHA_JIT_H
#define KONOHA_JIT_H

struct kjit_table;
struct module;

int konoha_jit_add(const struct kjit_table *t, struct module *owner);
void konoha_jit_remove(const struct kjit_table *t);

#endif /* KONOHA_JIT_H */
