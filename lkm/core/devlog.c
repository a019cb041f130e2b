// SPDX-License-Identifier: GPL-2.0
/*
 * devlog.c - the log line of a device callback that ends with a
 * DeviceError (the language reference §9.3):
 *
 *	DEVICE: CALLBACK: DeviceError(ENAME): MESSAGE
 *
 * and (kdev_log_nomem) the line of a call that fails with ENOMEM before
 * its callback runs, when the script's heap quota has no room for what
 * the call needs (its file, its buffer):
 *
 *	DEVICE: CALLBACK: out of memory: no room for N bytes (heap U of L)
 *
 * They go through the host's log (kvm_host.log): the kernel glue
 * rate-limits it per script with the reports of failed callbacks, build/kvm
 * writes it to stderr (a "log" line under --serve).  EAGAIN and EINTR are
 * a device's ordinary answers and are not logged.
 */
#include "kvm.h"

/* The name of each callback (devops.def), by enum kd_callback. */
static const char *const cb_names[KD__COUNT] = {
#define KD_CB(name) #name,
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

/* Errno's name for e (builtins.def's K_ERRNO lines), or NULL. */
static const char *errno_name(int e)
{
	switch (e) {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig)
#define K_ERRNO(name, value) case value: return #name;
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
	default:
		return NULL;
	}
}

/* The most bytes of a message the line shows. */
#define DEVLOG_MSG_MAX	200u

/*
 * Logs the line for callback cb of d, which threw exc (a DeviceError)
 * and fails with err (-errno, from kdev_errno(): what the caller gets).
 * The message is the script's: it is cut to DEVLOG_MSG_MAX bytes and
 * its control bytes (a newline would start what reads as another log
 * line) are shown as '?'.  A null message shows as "null".
 */
void kdev_log_deverr(struct kdev *d, int cb, struct kobj *exc, int err)
{
	struct kvm *vm = d->vm;
	const struct kstr *m;
	const char *ename;
	char line[96 + DEVLOG_MSG_MAX], num[16];
	size_t n, i, len;

	if (!vm->host.log || err == -EAGAIN || err == -EINTR ||
	    cb < 0 || cb >= KD__COUNT)
		return;
	ename = errno_name(-err);
	if (!ename) {
		snprintf(num, sizeof(num), "%d", -err);
		ename = num;
	}
	m = (const struct kstr *)((struct kinst *)exc)->f[KF_EXC_MESSAGE].o;
	n = snprintf(line, sizeof(line), "%s: %s: DeviceError(%s): ", d->name,
		     cb_names[cb], ename);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (!m) {
		len = snprintf(line + n, sizeof(line) - n, "null");
		n += len < sizeof(line) - n ? len : 0;
	} else {
		len = m->len < DEVLOG_MSG_MAX ? m->len : DEVLOG_MSG_MAX;
		if (len > sizeof(line) - 1 - n)
			len = sizeof(line) - 1 - n;
		for (i = 0; i < len; i++) {
			uint8_t c = m->b[i];

			line[n + i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
		n += len;
	}
	vm->host.log(vm->host.ctx, line, n);
}

/* Logs that callback cb of d could not run: no quota for bytes more. */
void kdev_log_nomem(struct kdev *d, int cb, size_t bytes)
{
	struct kvm *vm = d->vm;
	char line[160];
	int n;

	if (!vm->host.log || cb < 0 || cb >= KD__COUNT)
		return;
	n = snprintf(line, sizeof(line),
		     "%s: %s: out of memory: no room for %zu bytes "
		     "(heap %zu of %zu)", d->name, cb_names[cb], bytes,
		     vm->heap_used, vm->lim.heap);
	if (n > 0)
		vm->host.log(vm->host.ctx, line,
			     (size_t)n < sizeof(line) ? (size_t)n :
			     sizeof(line) - 1);
}
