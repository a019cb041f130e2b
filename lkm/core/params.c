// SPDX-License-Identifier: GPL-2.0
/*
 * params.c - a script's load-time parameters (the language reference
 * §9.3), read by System.param.
 *
 * Both homes hand the VM the same blob: entries "NAME=VALUE", each ended
 * by a NUL byte (`kvm --param`, the params of KONOHA_IOC_LOAD_PARAMS).
 * The blob comes from whoever loads the script, in the kernel from user
 * memory: kvm_params_check() trusts nothing of it, and the VM keeps a
 * copy charged to the script's heap quota, so the parameters are bounded
 * by the rules below and by the quota.
 */
#include "kvm.h"

/* A parameter name: 1..KVM_PARAM_NAME_MAX of [a-z0-9_]. */
static bool name_ok(const char *p, size_t n)
{
	size_t i;

	if (n < 1 || n > KVM_PARAM_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

/*
 * The entry at p (before end): its name and value, and where the next
 * entry begins.  false when it has no '=' or no ending NUL.
 */
static bool split_entry(const char *p, const char *end, size_t *name_len,
			const char **val, size_t *val_len, const char **next)
{
	const char *nul = memchr(p, '\0', (size_t)(end - p));
	const char *eq;

	if (!nul)
		return false;
	eq = memchr(p, '=', (size_t)(nul - p));
	if (!eq)
		return false;
	*name_len = (size_t)(eq - p);
	*val = eq + 1;
	*val_len = (size_t)(nul - eq - 1);
	*next = nul + 1;
	return true;
}

/*
 * 0 when blob holds at most KVM_PARAMS_MAX well-formed entries with
 * valid names, each given once, and values of at most
 * KVM_PARAM_VALUE_MAX bytes; else -EINVAL with a one-line reason in err
 * (which names a parameter only when its name is valid, so that nothing
 * of a hostile blob reaches a log unchecked).  Quadratic in the entries,
 * which are at most 32.
 */
int kvm_params_check(const char *blob, size_t len, char *err,
		     size_t errlen)
{
	const char *p = blob, *end, *val, *next, *q, *v2, *n2;
	size_t nl, vl, nl2, vl2;
	uint32_t count = 0;

	if (len > KVM_PARAMS_BLOB_MAX) {
		snprintf(err, errlen, "parameters larger than %u bytes",
			 (unsigned int)KVM_PARAMS_BLOB_MAX);
		return -EINVAL;
	}
	/* none given: blob may be NULL, and NULL + 0 is undefined */
	if (!len)
		return 0;
	end = blob + len;
	while (p < end) {
		if (++count > KVM_PARAMS_MAX) {
			snprintf(err, errlen, "more than %u parameters",
				 KVM_PARAMS_MAX);
			return -EINVAL;
		}
		if (!split_entry(p, end, &nl, &val, &vl, &next)) {
			snprintf(err, errlen,
				 "parameter %u: not NAME=VALUE", count);
			return -EINVAL;
		}
		if (!name_ok(p, nl)) {
			snprintf(err, errlen,
				 "parameter %u: bad name (1-31 of a-z, 0-9, _)",
				 count);
			return -EINVAL;
		}
		if (vl > KVM_PARAM_VALUE_MAX) {
			snprintf(err, errlen,
				 "parameter %.*s: value longer than %u bytes",
				 (int)nl, p, KVM_PARAM_VALUE_MAX);
			return -EINVAL;
		}
		/* the earlier entries were checked: they split */
		for (q = blob; q < p; q = n2) {
			split_entry(q, end, &nl2, &v2, &vl2, &n2);
			if (nl2 == nl && !memcmp(q, p, nl)) {
				snprintf(err, errlen,
					 "parameter %.*s given twice",
					 (int)nl, p);
				return -EINVAL;
			}
		}
		p = next;
	}
	return 0;
}

/*
 * Checks the blob and keeps a copy in the VM, charged to its heap quota;
 * called once, before the init.  0, -EINVAL with the reason in err, or
 * -ENOMEM (over the quota, or out of memory).
 */
int kvm_set_params(struct kvm *vm, const char *blob, size_t len, char *err,
		   size_t errlen)
{
	int e = kvm_params_check(blob, len, err, errlen);
	char *copy;

	if (e)
		return e;
	if (!len)
		return 0;
	copy = kvm_mem_alloc(vm, len);
	if (!copy) {
		/* nothing ran yet: the abort kvm_mem_alloc set is not kept */
		vm->abort_kind = KVM_ABORT_NONE;
		snprintf(err, errlen, "parameters exceed the heap quota");
		return -ENOMEM;
	}
	memcpy(copy, blob, len);
	kvm_mem_free(vm, vm->params, vm->params_len);
	vm->params = copy;
	vm->params_len = (uint32_t)len;
	return 0;
}

/*
 * The value of parameter name (n bytes): true with *val and *val_len, or
 * false.  The blob was checked when it was set.  *scanned counts the
 * bytes of every entry split on the way, values included (split_entry
 * reads them looking for the NUL), for the caller to charge: a miss costs
 * the whole blob, up to KVM_PARAMS_BLOB_MAX bytes.
 */
bool kvm_param_find(const struct kvm *vm, const uint8_t *name, size_t n,
		    const char **val, size_t *val_len, size_t *scanned)
{
	const char *p = vm->params, *end, *v, *next;
	size_t nl, vl;

	*scanned = 0;
	/* none given (NULL: NULL + 0 would be undefined) */
	if (!p)
		return false;
	end = p + vm->params_len;
	while (p < end) {
		split_entry(p, end, &nl, &v, &vl, &next);
		*scanned += (size_t)(next - p);
		if (nl == n && !memcmp(p, name, n)) {
			*val = v;
			*val_len = vl;
			return true;
		}
		p = next;
	}
	return false;
}

/* Frees the parameters (kvm_destroy). */
void kvm_params_free(struct kvm *vm)
{
	kvm_mem_free(vm, vm->params, vm->params_len);
	vm->params = NULL;
	vm->params_len = 0;
}
