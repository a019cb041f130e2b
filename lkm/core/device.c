// SPDX-License-Identifier: GPL-2.0
/*
 * device.c - character devices written in K (the language reference §9):
 * Devices, whose files serve a content produced whole, and (1.1)
 * CharDevices, whose callbacks see every call with its File (§9.1).
 *
 * Shared by the userspace host (kvm --serve, the host library) and the
 * kernel glue: the host calls kdev_open/read/write/ioctl/poll/llseek/
 * release with host memory (the kernel glue copies from/to user space
 * itself; a CharDevice's ioctl reaches the caller's memory only through
 * the host's struct kdev_umem) and gets 0 or a count, or -errno.  Each
 * entry takes the script's lock and runs the callback as a top-level call
 * with a fresh budget.
 *
 * Every lock wait a user's system call makes is interruptible (-EINTR):
 * a callback that runs long cannot pin other users in an unkillable wait.
 * Only release, which must run, waits unconditionally (kdev_release), and
 * the kernel glue uses kdev_release_nowait() where even that would hang.
 */
#include "kvm.h"

/* The name of each callback (devops.def), by enum kd_callback. */
static const char *const callback_name[KD__COUNT] = {
#define KD_CB(name) #name,
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

/*
 * The vtable slot of callback cb in class owner ("Device" or
 * "CharDevice"): its virtual method of builtins.def, or -1 when the
 * class has none (Device has no poll or seek).  Looked up by name at
 * registration, which is rare; tests/test_devops.py checks that every
 * KD_CB is a CharDevice method and that the slots follow the table.
 */
static int callback_slot(const char *owner, int cb)
{
	uint32_t i;

	for (i = 0; i < KN__COUNT; i++)
		if (kb_natives[i].kind == KB_METHOD &&
		    kb_natives[i].slot >= 0 &&
		    !strcmp(kb_natives[i].owner, owner) &&
		    !strcmp(kb_natives[i].name, callback_name[cb]))
			return kb_natives[i].slot;
	return -1;
}

/*
 * A device name (the language reference §9): 1 to 31 of a-z, 0-9, _ and
 * -, so it fits struct kdev's name with its NUL and is safe as a /dev
 * path component and in the kernel log.
 */
static bool valid_name(const struct kstr *s)
{
	uint32_t i;

	if (s->len < 1 || s->len > 31)
		return false;
	for (i = 0; i < s->len; i++) {
		uint8_t c = s->b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The device of vm called name, or NULL. */
struct kdev *kdev_find(struct kvm *vm, const char *name)
{
	struct kdev *d;

	for (d = vm->devices; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

/*
 * The open and release callbacks of d that do nothing: the defaults
 * (natives) and script methods whose code is a lone RETV.  Nothing a
 * script sees depends on running them: such a call cannot throw, wait,
 * allocate or run out of budget (the budget is each call's own).
 */
static uint32_t noop_callbacks(const struct kvm *vm, const struct kdev *d)
{
	static const int ops[] = { KD_open, KD_release };
	uint32_t noop = 0;
	size_t i;

	/* a budget of none aborts even a lone RETV */
	if (!vm->lim.cb_budget)
		return 0;
	for (i = 0; i < KP_ARRAY_SIZE(ops); i++) {
		struct kmethod_ref m = d->ops[ops[i]];
		const struct kfunc *fn;

		if (m.func == KIMG_NONE) {
			if (m.native == KN_Device_open ||
			    m.native == KN_Device_release ||
			    m.native == KN_CharDevice_open ||
			    m.native == KN_CharDevice_release)
				noop |= 1u << ops[i];
			continue;
		}
		fn = &vm->img->funcs[m.func];
		if (fn->ncode == 1 && fn->code[0] == KOP_RETV &&
		    !fn->nhandlers)
			noop |= 1u << ops[i];
	}
	return noop;
}

/*
 * Device.register(name, obj) and (1.1) CharDevice.register (chr): checks
 * the name and the mode field (read once, here), resolves the callbacks
 * from obj's class and asks the host to create the node.  A bad name or
 * mode, a taken name or a host refusal throws DeviceError with its
 * errno.  The kdev is charged to the quota; obj stays reachable through
 * vm->devices (kvm_devices_mark).
 */
int kvm_device_register(struct kvm *vm, struct kobj *nameobj,
			struct kobj *obj, bool chr)
{
	const struct kstr *name = (const struct kstr *)nameobj;
	const struct kclass *c = vm->img->classes[obj->cls];
	struct kinst *in = (struct kinst *)obj;
	struct kdev *d, **tail;
	int64_t mode = in->f[KF_DEVICE_MODE].i;
	char msg[96];
	int i, slot, err;

	/* a dynamic call's arguments are checked by type, but not this */
	if (obj->kind != KO_INSTANCE ||
	    kimg_subclass(vm->img, obj->cls, KC_CharDevice) != chr)
		return kvm_throw_deverr(vm, EINVAL, "not a device of this class");
	if (!valid_name(name))
		return kvm_throw_deverr(vm, EINVAL, "invalid device name");
	/*
	 * 0 too: devtmpfs would quietly make it 0600 (the language
	 * reference §9.3).
	 */
	if ((mode & ~(int64_t)0777) || mode == 0)
		return kvm_throw_deverr(vm, EINVAL, "invalid device mode");
	if (kdev_find(vm, (const char *)name->b)) {
		snprintf(msg, sizeof(msg), "device %s already exists",
			 (const char *)name->b);
		return kvm_throw_deverr(vm, EEXIST, msg);
	}
	d = kvm_mem_alloc(vm, sizeof(*d));
	if (!d)
		return KVM_ABORT;
	memset(d, 0, sizeof(*d));
	d->vm = vm;
	memcpy(d->name, name->b, name->len);
	d->mode = (uint32_t)mode;
	d->chr = chr;
	d->obj = obj;
	/* the loader made every device vtable extend its class's own */
	d->file_private = chr;
	d->stream_private = chr;
	for (i = 0; i < KD__COUNT; i++) {
		slot = callback_slot(chr ? "CharDevice" : "Device", i);
		if (slot < 0)
			continue;
		d->ops[i] = c->vtable[slot];
		if (d->ops[i].func == KIMG_NONE)
			continue;
		if (vm->img->funcs[d->ops[i].func].flags & KFN_KEEPS_FILE)
			d->file_private = false;
		if (vm->img->funcs[d->ops[i].func].flags & KFN_KEEPS_STREAM)
			d->stream_private = false;
	}
	d->noop = noop_callbacks(vm, d);
	if (vm->host.dev_add) {
		err = vm->host.dev_add(vm->host.ctx, d);
		if (err) {
			kvm_mem_free(vm, d, sizeof(*d));
			/* (1.1) EEXIST: any node of that name (§9.3) */
			snprintf(msg, sizeof(msg), err == -EEXIST ?
				 "/dev/%s already exists" :
				 "cannot create device %s",
				 (const char *)name->b);
			return kvm_throw_deverr(vm, err < 0 ? -err : EIO, msg);
		}
	}
	/* appended: removal and listings follow registration order */
	for (tail = &vm->devices; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	vm->ndevices++;
	return KVM_OK;
}

/*
 * The collector's roots of the devices: each registered device object,
 * and (1.1) the File of each open CharDevice file and of each spare.
 */
void kvm_devices_mark(struct kvm *vm)
{
	struct kdev_file *f;
	struct kdev *d;

	for (d = vm->devices; d; d = d->next)
		kvm_gc_mark_obj(vm, d->obj);
	for (f = vm->chr_files; f; f = f->chr_next)
		kvm_gc_mark_obj(vm, f->file);
	for (f = vm->spare_files; f; f = f->next_spare)
		if (f->file)
			kvm_gc_mark_obj(vm, f->file);
	if (vm->spare_streams[0])
		kvm_gc_mark_obj(vm, &vm->spare_streams[0]->h);
	if (vm->spare_streams[1])
		kvm_gc_mark_obj(vm, &vm->spare_streams[1]->h);
}

/*
 * Removes every device: the host's dev_remove takes its node away, then
 * the kdev is freed.  Called after a failed init (under the script's
 * lock) and when the VM is destroyed.
 */
void kvm_devices_remove_all(struct kvm *vm)
{
	struct kdev *d;

	while ((d = vm->devices)) {
		vm->devices = d->next;
		if (vm->host.dev_remove)
			vm->host.dev_remove(vm->host.ctx, d);
		kvm_mem_free(vm, d, sizeof(*d));
	}
	vm->ndevices = 0;
}

/* ---- callbacks ---------------------------------------------------------- */

/*
 * Logs the report of a failed callback through the host, a line at a
 * time: its first line and at most KDEV_LOG_FRAMES trace lines, then how
 * many more there were (a stack overflow has a thousand, and any user of
 * a device can cause one).
 */
void kvm_log_report(struct kvm *vm)
{
	const char *p = kvm_report(vm), *end = p + vm->report_len, *nl;
	uint32_t line = 0, more = 0;
	char tail[48];

	if (!vm->host.log)
		return;
	/* by length: a message may hold NUL bytes */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (line++ <= KDEV_LOG_FRAMES)
			vm->host.log(vm->host.ctx, p, (size_t)(nl - p));
		else
			more++;
		p = nl < end ? nl + 1 : nl;
	}
	if (more) {
		snprintf(tail, sizeof(tail), "  ... %u more frames", more);
		vm->host.log(vm->host.ctx, tail, strlen(tail));
	}
}

/*
 * The only place that turns an errno a script chose (a DeviceError's, an
 * ioctl result read as one, an init's) into what a caller gets: Linux's
 * user errnos 1..KDEV_ERRNO_MAX stand, anything else is EIO.  The kernel's
 * internal codes (ERESTARTSYS 512 and up) must never leave a system call:
 * 512 would restart it forever, 514 and up are not errnos for userspace.
 */
int kdev_errno(int64_t e)
{
	return e >= 1 && e <= KDEV_ERRNO_MAX ? -(int)e : -EIO;
}

/*
 * An ioctl result as the caller gets it: a value in -4095..-1 is read as
 * an errno by userspace, so it goes through kdev_errno(); others as is.
 */
int64_t kdev_ioctl_result(int64_t r)
{
	return kdev_result_is_errno(r) ? kdev_errno(-r) : r;
}

/*
 * The result of callback op of d: 0 or -errno (the language reference
 * §9).  A DeviceError gives its errno (through kdev_errno()) and (1.1)
 * one log line, not its report (kdev_log_deverr(), §9.3).  Any other
 * exception or an abort is EIO and its report goes to the log.  The
 * exception is dropped either way: nothing of a callback outlives it.
 */
static KP_NOINLINE int cb_result(struct kdev *d, int op, int st)
{
	struct kvm *vm = d->vm;

	if (st == KVM_OK)
		return 0;
	/*
	 * (1.1) An uncaught InterruptedException fails the call without a
	 * log: with ERESTARTSYS when a signal is pending (Linux turns it
	 * into EINTR, or a restart under SA_RESTART), else with EINTR.
	 */
	if (st == KVM_THROW && vm->exc &&
	    kimg_subclass(vm->img, vm->exc->cls, KC_InterruptedException)) {
		vm->exc = NULL;
		if (vm->host.signal_pending &&
		    vm->host.signal_pending(vm->host.ctx))
			return -KVM_ERESTARTSYS;
		return -EINTR;
	}
	if (st == KVM_THROW && vm->exc &&
	    kimg_subclass(vm->img, vm->exc->cls, KC_DeviceError)) {
		int64_t e = ((struct kinst *)vm->exc)->f[KF_DEVERR_ERRNO].i;
		int err = kdev_errno(e);

		kdev_log_deverr(d, op, vm->exc, err);
		vm->exc = NULL;
		return err;
	}
	vm->exc = NULL;
	kvm_log_report(vm);
	return -EIO;
}

/*
 * Callback op of d with args (the device first) as a top-level call
 * under the callback budget, with cb as its state (vm->cb; NULL: none
 * of its own, no user memory).  The caller holds the script's lock and
 * roots the objects in args (the device is on vm->devices, an open
 * file's File on vm->chr_files, a stream is pushed with kvm_push_root).
 */
static KP_INLINE int run_cb_in(struct kdev *d, int op, union kvalue *args,
				uint32_t n, union kvalue *ret,
				struct kdev_cb *cb)
{
	struct kvm *vm = d->vm;
	struct kdev_cb none, *outer = vm->cb;
	int st;

	if (d->noop & (1u << op)) {
		/* what the call would count: its RETV, none for a native */
		vm->executed += d->ops[op].func != KIMG_NONE;
		return 0;
	}
	if (!cb) {
		none = (struct kdev_cb){ .ufile = NULL };
		cb = &none;
	}
	/* (1.1) the callbacks that may wait (the language reference §9.2) */
	cb->can_wait = d->chr && (op == KD_open || op == KD_read ||
				  op == KD_write || op == KD_ioctl);
	if (d->chr && n >= 2) {
		/* args[1] is the File: its state as of this call */
		struct kinst *file = (struct kinst *)args[1].o;

		cb->file = &file->h;
		cb->pos = file->f[KF_FILE_POS].i;
		cb->flags = file->f[KF_FILE_FLAGS].i;
	}
	vm->cb = cb;
	st = kvm_call_top(vm, d->ops[op], args, n, ret, vm->lim.cb_budget);
	vm->cb = outer;
	return likely(st == KVM_OK) ? 0 : cb_result(d, op, st);
}

static int run_cb(struct kdev *d, int op, union kvalue *args, uint32_t n,
		  union kvalue *ret)
{
	return run_cb_in(d, op, args, n, ret, NULL);
}

/* run_cb() inlined, for the calls every use of a device makes */
static KP_INLINE int run_cb_hot(struct kdev *d, int op, union kvalue *args,
				uint32_t n, union kvalue *ret)
{
	return run_cb_in(d, op, args, n, ret, NULL);
}

/*
 * The host could not make or root what a callback needs (its stream,
 * File, PollTable or buffer: the quota is full, or the roots' stack could
 * not grow within it): the abort kvm_abort() set is reported and logged,
 * as a callback's own would be.
 */
static void log_setup_abort(struct kvm *vm)
{
	kvm_make_report(vm, KVM_ABORT);
	kvm_log_report(vm);
}

/*
 * A stream outside any run: spare cleared as a new one would be, or a
 * new one, whose failure to allocate is logged.  The last call's abort
 * state is reset first, so that a failure here is reported as what it
 * is.  Nothing roots the stream: the caller pushes it before it
 * allocates again.
 */
static KP_INLINE struct kstream *new_stream(struct kvm *vm, bool output,
					    struct kstream *spare)
{
	struct kstream *s = spare;

	vm->abort_kind = KVM_ABORT_NONE;
	vm->ntrace = 0;
	if (s) {
		memset((char *)s + sizeof(s->h), 0, sizeof(*s) - sizeof(s->h));
	} else {
		s = (struct kstream *)kvm_obj_alloc(vm, sizeof(*s), KO_STREAM,
				output ? KC_OutputStream : KC_InputStream);
		if (!s) {
			log_setup_abort(vm);
			return NULL;
		}
	}
	s->output = output;
	s->valid = true;
	kstream_sync(s);
	return s;
}

/*
 * (1.1) The stream of a CharDevice's read or write: the spare one of a
 * finished callback when the device is stream_private, else a new one.
 */
static KP_INLINE struct kstream *chr_stream(struct kdev *d, bool output)
{
	struct kvm *vm = d->vm;
	struct kstream *s = NULL;

	if (d->stream_private) {
		s = vm->spare_streams[output];
		vm->spare_streams[output] = NULL;
	}
	return new_stream(vm, output, s);
}

/*
 * (1.1) A CharDevice callback's stream, invalid and with no buffer now:
 * kept for the next callback when no callback of d can have kept it.
 */
static void chr_stream_done(struct kdev *d, struct kstream *s)
{
	struct kvm *vm = d->vm;

	if (d->stream_private && !vm->spare_streams[s->output])
		vm->spare_streams[s->output] = s;
}

/* Frees f's content (charged at its capacity); a read produces anew. */
static void drop_content(struct kdev_file *f)
{
	struct kvm *vm = f->dev->vm;

	/* (a CharDevice's file never has any) */
	if (f->content)
		kvm_mem_free(vm, f->content, f->content_cap);
	f->content = NULL;
	f->content_len = f->content_cap = 0;
	f->has_content = false;
}

/*
 * Runs read(out) and makes its output the file's content: the stream's
 * buffer changes hands without a copy, still charged to the quota.  The
 * stream is invalid afterwards (a script that kept it gets DeviceError),
 * and on failure the file is left with no content.
 */
static int produce(struct kdev_file *f)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	struct kstream *s;
	union kvalue args[2], ret;
	int err;

	drop_content(f);
	s = new_stream(vm, true, NULL);
	if (!s)
		return -EIO;
	args[0].o = d->obj;
	args[1].o = &s->h;
	if (kvm_push_root(vm, &s->h)) {
		kstream_invalidate(s);
		log_setup_abort(vm);
		return -EIO;
	}
	err = run_cb(d, KD_read, args, 2, &ret);
	kvm_pop_roots(vm, 1);
	kstream_invalidate(s);
	if (err)
		return err;
	f->content = s->buf;
	f->content_len = s->len;
	f->content_cap = s->cap;
	f->has_content = true;
	s->buf = NULL;
	s->len = s->cap = 0;
	return 0;
}

/*
 * Device files are reused: an open+close loop allocates nothing.  At
 * most this many released ones are kept per VM.  Every file, kept or in
 * use, is charged to the script's heap quota: opens by any number of
 * users cannot take kernel memory beyond it.
 */
#define KDEV_SPARE_FILES	4

/*
 * Called under the script's lock with nothing unrooted live: the charge
 * may run a collection.  NULL when the quota is spent (no abort left
 * pending: nothing runs).  A spare comes with the File it kept, if any,
 * no longer rooted: the caller uses it before it allocates, or drops it.
 */
static struct kdev_file *file_get(struct kvm *vm)
{
	struct kdev_file *f = vm->spare_files;
	struct kobj *file;

	if (!f) {
		f = kvm_mem_alloc(vm, sizeof(*f));
		if (f)
			memset(f, 0, sizeof(*f));
		else
			vm->abort_kind = KVM_ABORT_NONE;
		return f;
	}
	vm->spare_files = f->next_spare;
	vm->nspare_files--;
	file = f->file;
	memset(f, 0, sizeof(*f));
	f->file = file;
	return f;
}

/* Gives f back: kept as a spare if there is room, else freed. */
static void file_put(struct kvm *vm, struct kdev_file *f)
{
	if (vm->nspare_files >= KDEV_SPARE_FILES) {
		kvm_mem_free(vm, f, sizeof(*f));
		return;
	}
	f->next_spare = vm->spare_files;
	vm->spare_files = f;
	vm->nspare_files++;
}

/* Frees the spare files (the VM is being destroyed). */
void kdev_free_spares(struct kvm *vm)
{
	struct kdev_file *f;

	while ((f = vm->spare_files)) {
		vm->spare_files = f->next_spare;
		kvm_mem_free(vm, f, sizeof(*f));
	}
	vm->nspare_files = 0;
}

/* ---- (1.1) CharDevice files ---------------------------------------------- */

/*
 * A built-in instance (a File, a PollTable) outside any run, as
 * new_stream() makes a stream: NULL, its failure logged, when the quota
 * is spent.  Nothing roots it.
 */
static struct kinst *new_builtin(struct kvm *vm, uint32_t cls)
{
	struct kinst *in;

	vm->abort_kind = KVM_ABORT_NONE;
	vm->ntrace = 0;
	in = kvm_inst_new(vm, cls);
	if (!in)
		log_setup_abort(vm);
	return in;
}

/* The File as a callback sees it: the call's position and flags. */
static void file_set(struct kdev_file *f, int64_t pos, unsigned int fl)
{
	struct kinst *in = (struct kinst *)f->file;

	in->f[KF_FILE_POS].i = pos;
	in->f[KF_FILE_FLAGS].i = fl & (KDEV_FL_READ | KDEV_FL_WRITE |
				       KDEV_FL_NONBLOCK);
}

/* An open CharDevice file's File becomes a root (vm->chr_files). */
static void chr_link(struct kvm *vm, struct kdev_file *f)
{
	f->chr_next = vm->chr_files;
	if (f->chr_next)
		f->chr_next->chr_pprev = &f->chr_next;
	f->chr_pprev = &vm->chr_files;
	vm->chr_files = f;
}

/*
 * Its release: the File is never passed to a callback again, but a
 * script that kept it may still ask it (the language reference §9.1).
 * The file keeps it only if its device is file_private.
 */
static void chr_unlink(struct kdev_file *f)
{
	struct kinst *in = (struct kinst *)f->file;

	in->f[KF_FILE_FLAGS].i |= KDEV_FL_RELEASED;
	*f->chr_pprev = f->chr_next;
	if (f->chr_next)
		f->chr_next->chr_pprev = f->chr_pprev;
	if (!f->dev->file_private)
		f->file = NULL;
	f->chr_next = NULL;
	f->chr_pprev = NULL;
}

/*
 * The File of a new open of a CharDevice: the one a spare kept, cleared
 * as a new one would be (no script can reach it: see file_private), or
 * a new one.  NULL when the quota is spent (logged).
 */
static struct kinst *file_object(struct kvm *vm, struct kdev_file *f)
{
	struct kinst *in = (struct kinst *)f->file;
	uint32_t n;

	if (!in)
		return (struct kinst *)new_builtin(vm, KC_File);
	n = vm->img->classes[KC_File]->nfields;
	/* a constant size clears in line: no memset() call an open */
	if (likely(n == KF_FILE__COUNT))
		memset(in->f, 0, sizeof(union kvalue) * KF_FILE__COUNT);
	else
		memset(in->f, 0, sizeof(union kvalue) * (size_t)n);
	return in;
}

/*
 * open(2): a file for d and the script's open(); -ENXIO until the init
 * has finished (the language reference §9), -ENOMEM when the quota has
 * no room for the file, or open()'s failure, in which case no file is
 * kept and release() will not run.  A CharDevice's file gets its File,
 * rooted while open() runs and then through vm->chr_files.
 */
int kdev_open(struct kdev *d, unsigned int fl, struct kdev_file **filep)
{
	struct kvm *vm = d->vm;
	struct kdev_file *f;
	struct kinst *file = NULL;
	union kvalue args[2], ret;
	int err;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	err = -ENXIO;
	if (!vm->init_done)
		goto out_unlock;
	err = -ENOMEM;
	f = file_get(vm);
	if (!f) {
		kdev_log_nomem(d, KD_open, sizeof(*f));
		goto out_unlock;
	}
	f->dev = d;
	args[0].o = d->obj;
	if (!d->chr) {
		f->file = NULL;		/* a Device's file has no File */
	} else {
		/*
		 * f is no object: the File's allocation may collect (f's
		 * own kept File, unrooted now, is reused without one)
		 */
		file = file_object(vm, f);
		if (!file) {
			file_put(vm, f);
			goto out_unlock;
		}
		if (kvm_push_root(vm, &file->h)) {
			log_setup_abort(vm);
			file_put(vm, f);
			goto out_unlock;
		}
		f->file = &file->h;
		file_set(f, 0, fl);
		args[1].o = &file->h;
	}
	err = run_cb_hot(d, KD_open, args, d->chr ? 2 : 1, &ret);
	if (d->chr)
		kvm_pop_roots(vm, 1);
	if (err) {
		if (file)
			file->f[KF_FILE_FLAGS].i |= KDEV_FL_RELEASED;
		/* open() may have kept the File unless the device is private */
		if (!d->file_private)
			f->file = NULL;
		file_put(vm, f);
		goto out_unlock;
	}
	if (d->chr)
		chr_link(vm, f);
	d->nopen++;
	vm->open_files++;
	*filep = f;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return err;
}

/*
 * A CharDevice's read(2) or pread(2) at *pos (the language reference
 * §9.1): read(f, out, count) with count cut to KDEV_READ_MAX, its output
 * bounded by count (read overflow beyond), copied to buf; the position
 * advances by it.  Under the script's lock.
 */
static KP_PATH long chr_read(struct kdev_file *f, char *buf, size_t count,
			     int64_t *pos, unsigned int fl)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	struct kstream *s;
	union kvalue args[4], ret;
	long n;
	int err;

	if (*pos < 0)
		return -EINVAL;
	if (count > KDEV_READ_MAX)
		count = KDEV_READ_MAX;
	/*
	 * The host's buffer (count bytes), which a callback that waits
	 * keeps for as long as it sleeps, is charged to the quota: sleeping
	 * readers cannot hold kernel memory beyond it.
	 */
	if (!kvm_quota_take_collect(vm, count)) {
		kdev_log_nomem(d, KD_read, count);
		return -ENOMEM;
	}
	s = chr_stream(d, true);
	if (!s) {
		kvm_quota_give(vm, count);
		return -EIO;
	}
	s->bounded = true;
	s->limit = (uint32_t)count;
	/* out.write and writeByte put the bytes straight into buf */
	s->borrowed = true;
	s->buf = (uint8_t *)buf;
	s->cap = (uint32_t)count;
	kstream_sync(s);
	if (kvm_push_root(vm, &s->h)) {
		s->buf = NULL;
		kstream_invalidate(s);
		kvm_quota_give(vm, count);
		log_setup_abort(vm);
		return -EIO;
	}
	file_set(f, *pos, fl);
	args[0].o = d->obj;
	args[1].o = f->file;
	args[2].o = &s->h;
	args[3].i = (int64_t)count;
	err = run_cb_hot(d, KD_read, args, 4, &ret);
	kvm_pop_roots(vm, 1);
	kstream_invalidate(s);
	n = err;
	if (!err) {
		/* out_put() kept len within limit = count, in buf */
		n = (long)s->len;
		*pos += n;
		((struct kinst *)f->file)->f[KF_FILE_POS].i = *pos;
	}
	/* the bytes are the caller's: the quota has buf's charge back */
	s->buf = NULL;
	s->len = s->cap = 0;
	chr_stream_done(d, s);
	kvm_quota_give(vm, count);
	return n;
}

/*
 * read(2): a Device's read at offset 0, or the first one, produces fresh
 * content (read()); every read copies out of the content at *pos.  Past
 * the end: 0, end of file.  A CharDevice reads through chr_read().
 */
KP_PATH long kdev_read(struct kdev_file *f, char *buf, size_t count,
		       int64_t *pos, unsigned int fl)
{
	struct kvm *vm = f->dev->vm;
	long n;
	int err;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	if (f->dev->chr) {
		n = chr_read(f, buf, count, pos, fl);
		goto out_unlock;
	}
	/* the first read(2), even after an lseek made the content */
	if (!f->has_content || *pos == 0 || !f->read_done) {
		err = produce(f);
		if (err) {
			n = err;
			goto out_unlock;
		}
	}
	f->read_done = true;
	n = 0;
	if (*pos < 0 || *pos >= (int64_t)f->content_len)
		goto out_unlock;
	n = (long)(f->content_len - (uint64_t)*pos);
	if ((size_t)n > count)
		n = (long)count;
	memcpy(buf, f->content + *pos, (size_t)n);
	*pos += n;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return n;
}

/*
 * write(2): the first KDEV_WRITE_MAX bytes of buf, copied into a charged
 * buffer, go to write() in an InputStream.  A Device's caller is told
 * that all of them were written, whatever write() consumed (writes have
 * no position); (1.1) a CharDevice's gets the count write(f, in)
 * consumed from the stream, and its position advances by it.
 */
KP_PATH long kdev_write(struct kdev_file *f, const char *buf, size_t count,
			int64_t *pos, unsigned int fl)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	struct kstream *s;
	union kvalue args[3], ret;
	size_t n = count < KDEV_WRITE_MAX ? count : KDEV_WRITE_MAX;
	long res = -EIO;
	int err;

	if (d->chr && *pos < 0)
		return -EINVAL;
	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	/* (1.1) the host's copy, kept while a CharDevice's write waits */
	if (d->chr && !kvm_quota_take_collect(vm, n)) {
		kdev_log_nomem(d, KD_write, n);
		kp_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	s = d->chr ? chr_stream(d, false) : new_stream(vm, false, NULL);
	if (!s)
		goto out_unlock;
	if (kvm_push_root(vm, &s->h)) {
		kstream_invalidate(s);
		log_setup_abort(vm);
		goto out_unlock;
	}
	if (d->chr) {
		/* (1.1) the host's copy, charged above, read in place */
		s->borrowed = true;
		s->buf = (uint8_t *)buf;
	} else {
		s->buf = kvm_mem_alloc(vm, n);
		if (!s->buf) {
			kvm_pop_roots(vm, 1);
			log_setup_abort(vm);
			goto out_unlock;
		}
		memcpy(s->buf, buf, n);
	}
	s->cap = (uint32_t)n;
	s->len = (uint32_t)n;
	kstream_sync(s);
	args[0].o = d->obj;
	if (d->chr) {
		file_set(f, *pos, fl);
		args[1].o = f->file;
		args[2].o = &s->h;
		err = run_cb_hot(d, KD_write, args, 3, &ret);
	} else {
		args[1].o = &s->h;
		err = run_cb(d, KD_write, args, 2, &ret);
	}
	kvm_pop_roots(vm, 1);
	kstream_invalidate(s);
	res = err ? err : (long)n;
	if (!err && d->chr) {
		res = (long)s->pos;
		*pos += res;
		((struct kinst *)f->file)->f[KF_FILE_POS].i = *pos;
	}
	/* copied for the callback only: given back to the quota at once */
	if (!s->borrowed)
		kvm_mem_free(vm, s->buf, s->cap);
	s->buf = NULL;
	s->len = s->cap = s->pos = 0;
	if (d->chr)
		chr_stream_done(d, s);
out_unlock:
	if (d->chr)
		kvm_quota_give(vm, n);
	kp_mutex_unlock(&vm->lock);
	return res;
}

/*
 * Runs callback cb with the ints in[n] after the device (and, for a
 * CharDevice, its File) under the script's lock, with callback state
 * st: 0 and the int result, or -errno.
 */
static int call_ints(struct kdev_file *f, int cb, const int64_t *in,
		     uint32_t n, int64_t pos, unsigned int fl,
		     struct kdev_cb *st, int64_t *result)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	union kvalue args[2 + KDEV_CALL_MAX_INTS], ret;
	uint32_t i, k = 1;
	int err;

	if (cb < 0 || cb >= KD__COUNT || n > KDEV_CALL_MAX_INTS)
		return -EINVAL;
	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	args[0].o = d->obj;
	if (d->chr) {
		file_set(f, pos, fl);
		args[k++].o = f->file;
		if (st)
			st->ufile = f->file;
	}
	for (i = 0; i < n; i++)
		args[k + i].i = in[i];
	ret.i = 0;
	err = run_cb_in(d, cb, args, k + n, &ret, st);
	if (!err)
		*result = ret.i;
	kp_mutex_unlock(&vm->lock);
	return err;
}

int kdev_call(struct kdev_file *f, int cb, const int64_t *in, uint32_t n,
	      int64_t *result)
{
	unsigned int fl = KDEV_FL_READ | KDEV_FL_WRITE;
	int64_t pos = 0;

	/* (the File's state as of its last call) */
	if (f->dev->chr) {
		fl = (unsigned int)((struct kinst *)f->file)->f[KF_FILE_FLAGS].i;
		pos = ((struct kinst *)f->file)->f[KF_FILE_POS].i;
	}
	return call_ints(f, cb, in, n, pos, fl, NULL, result);
}

/*
 * ioctl(2): ioctl(cmd, arg), for a CharDevice ioctl(f, cmd, arg) with the
 * caller's memory um reachable through f; its result filtered by
 * kdev_ioctl_result(), and (1.1) a CharDevice's outside the 32-bit int
 * range fails with EOVERFLOW.
 */
int kdev_ioctl(struct kdev_file *f, unsigned int cmd, int64_t arg,
	       int64_t pos, unsigned int fl, const struct kdev_umem *um,
	       int64_t *result)
{
	int64_t in[2] = { (int64_t)cmd, arg }, r;
	struct kdev_cb st = { .um = um };
	int err;

	err = call_ints(f, KD_ioctl, in, 2, pos, fl, &st, &r);
	if (err)
		return err;
	if (f->dev->chr && r != (int64_t)(int32_t)r)
		return -EOVERFLOW;
	*result = kdev_ioctl_result(r);
	return 0;
}

/*
 * (1.1) poll(2) of a CharDevice: poll(f, t) with a fresh PollTable,
 * valid during the call only; its mask keeps Poll's bits.  A failure is
 * logged (cb_result) and answers ERR; an interrupted wait for the lock
 * answers 0, so that poll(2) sees the signal.  A Device answers IN|OUT,
 * as Linux does for a driver without poll.
 */
int kdev_poll(struct kdev_file *f, int64_t pos, unsigned int fl, void *pt)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	struct kdev_cb cb = { .poll_pt = pt };
	struct kinst *t;
	union kvalue args[3], ret;
	int mask = KDEV_POLL_ERR;

	if (!d->chr)
		return KDEV_POLL_IN | KDEV_POLL_OUT;
	if (kp_mutex_lock(&vm->lock))
		return 0;
	t = new_builtin(vm, KC_PollTable);
	if (!t)
		goto out_unlock;
	if (kvm_push_root(vm, &t->h)) {
		log_setup_abort(vm);
		goto out_unlock;
	}
	t->f[KF_POLLTABLE_VALID].i = 1;
	file_set(f, pos, fl);
	args[0].o = d->obj;
	args[1].o = f->file;
	args[2].o = &t->h;
	ret.i = 0;
	cb.poll_file = f->file;
	if (!run_cb_in(d, KD_poll, args, 3, &ret, &cb))
		mask = (int)(ret.i & KDEV_POLL_MASK);
	kvm_pop_roots(vm, 1);
	t->f[KF_POLLTABLE_VALID].i = 0;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return mask;
}

/*
 * (1.1) lseek(2) of a CharDevice: seek(f, off, whence) gives the new
 * position; whence outside 0..2 fails before it runs, a negative result
 * after (the language reference §9.1).
 */
static int64_t chr_llseek(struct kdev_file *f, int64_t off, int whence,
			  int64_t *pos, unsigned int fl)
{
	struct kdev *d = f->dev;
	union kvalue args[4], ret;
	int err;

	if (whence < 0 || whence > 2)
		return -EINVAL;
	file_set(f, *pos, fl);
	args[0].o = d->obj;
	args[1].o = f->file;
	args[2].i = off;
	args[3].i = whence;
	ret.i = 0;
	err = run_cb(d, KD_seek, args, 4, &ret);
	if (err)
		return err;
	if (ret.i < 0)
		return -EINVAL;
	*pos = ret.i;
	((struct kinst *)f->file)->f[KF_FILE_POS].i = ret.i;
	return ret.i;
}

/*
 * lseek(2) within a Device's content: SEEK_END is its size, so it is
 * produced when there is none yet.  A position before 0 or past the end
 * is EINVAL (the language reference §9).  The new position, or -errno.
 */
int64_t kdev_llseek(struct kdev_file *f, int64_t off, int whence,
		    int64_t *pos, unsigned int fl)
{
	struct kvm *vm = f->dev->vm;
	int64_t base, np;
	int err = 0;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	if (f->dev->chr) {
		np = chr_llseek(f, off, whence, pos, fl);
		kp_mutex_unlock(&vm->lock);
		return np;
	}
	switch (whence) {
	case 0:
		base = 0;
		break;
	case 1:
		base = *pos;
		break;
	case 2:
		if (!f->has_content)
			err = produce(f);
		base = f->content_len;
		break;
	default:
		err = -EINVAL;
		break;
	}
	if (err)
		goto out_unlock;
	if (__builtin_add_overflow(base, off, &np) || np < 0) {
		err = -EINVAL;
		goto out_unlock;
	}
	/* bounds need the content: produce it unless seeking to 0 */
	if (!f->has_content && np > 0) {
		err = produce(f);
		if (err)
			goto out_unlock;
	}
	if (np > (int64_t)f->content_len) {
		err = -EINVAL;
		goto out_unlock;
	}
	*pos = np;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return err ? err : np;
}

/* Runs release() and gives the file back: under the script's lock. */
static void release_locked(struct kdev_file *f)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	union kvalue args[2], ret;

	args[0].o = d->obj;
	if (d->chr) {
		args[1].o = f->file;
		((struct kinst *)f->file)->f[KF_FILE_POS].i = f->close_pos;
		run_cb_hot(d, KD_release, args, 2, &ret);
		/* (1.1) the queues its polls registered on may go now */
		((struct kinst *)f->file)->f[KF_FILE_POLLED].o = NULL;
		chr_unlink(f);
	} else {
		run_cb(d, KD_release, args, 1, &ret);
	}
	drop_content(f);
	d->nopen--;
	vm->open_files--;
	file_put(vm, f);
}

/*
 * The final close(2): release() runs, whatever its result, and the file
 * is given back.  The lock wait cannot be interrupted: a release that
 * did not happen would leak the file and the script's open count.
 */
int kdev_release(struct kdev_file *f, int64_t pos)
{
	struct kvm *vm = f->dev->vm;

	/* the file's last call: nothing else uses f */
	f->close_pos = pos;
	kp_mutex_lock_always(&vm->lock);
	release_locked(f);
	kp_mutex_unlock(&vm->lock);
	return 0;
}

int kdev_release_nowait(struct kdev_file *f, int64_t pos, bool may_wait)
{
	struct kvm *vm = f->dev->vm;

	f->close_pos = pos;
	if (may_wait ? kp_mutex_lock_killable(&vm->lock) :
	    !kp_mutex_trylock(&vm->lock))
		return -EINTR;
	release_locked(f);
	kp_mutex_unlock(&vm->lock);
	return 0;
}
