// SPDX-License-Identifier: GPL-2.0
/*
 * device.c - character devices written in K (the language reference §9).
 *
 * Shared by the userspace host (kvm --serve, the host library) and the
 * kernel glue: the host calls kdev_open/read/write/ioctl/llseek/release
 * with host memory (the kernel glue copies from/to user space itself) and
 * gets 0 or a count, or -errno.  Each entry takes the script's lock and
 * runs the callback as a top-level call with a fresh budget.
 *
 * Every lock wait a user's system call makes is interruptible (-EINTR):
 * a callback that runs long cannot pin other users in an unkillable wait.
 * Only release, which must run, waits unconditionally (kdev_release), and
 * the kernel glue uses kdev_release_nowait() where even that would hang.
 */
#include "kvm.h"

/* The vtable slot of every native (builtins.def), -1 if not virtual. */
static const int8_t native_slot[KN__COUNT] = {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) slot,
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
};

/*
 * The Device method of each callback (devops.def): a KD_CB line without
 * its builtins.def method does not compile.
 */
static const uint16_t callback_native[KD__COUNT] = {
#define KD_CB(name) KN_Device_##name,
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
};

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
 * Device.register(name, obj): checks the name and the mode field (read
 * once, here), resolves the callbacks from obj's class and asks the host
 * to create the node.  A bad name or mode, a taken name or a host refusal
 * throws DeviceError with its errno.  The kdev is charged to the quota;
 * obj stays reachable through vm->devices (kvm_devices_mark).
 */
int kvm_device_register(struct kvm *vm, struct kobj *nameobj,
			struct kobj *obj)
{
	const struct kstr *name = (const struct kstr *)nameobj;
	const struct kclass *c = vm->img->classes[obj->cls];
	struct kinst *in = (struct kinst *)obj;
	struct kdev *d, **tail;
	int64_t mode = in->f[KF_DEVICE_MODE].i;
	char msg[96];
	int i, err;

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
	d->obj = obj;
	/* the loader made every Device vtable extend Device's own */
	for (i = 0; i < KD__COUNT; i++)
		d->ops[i] = c->vtable[native_slot[callback_native[i]]];
	if (vm->host.dev_add) {
		err = vm->host.dev_add(vm->host.ctx, d);
		if (err) {
			kvm_mem_free(vm, d, sizeof(*d));
			snprintf(msg, sizeof(msg), "cannot create device %s",
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

/* The collector's roots of the devices: each registered Device object. */
void kvm_devices_mark(struct kvm *vm)
{
	struct kdev *d;

	for (d = vm->devices; d; d = d->next)
		kvm_gc_mark_obj(vm, d->obj);
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
static void log_report(struct kvm *vm)
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
	return r < 0 && r >= -4095 ? kdev_errno(-r) : r;
}

/*
 * The result of callback op of d: 0 or -errno (the language reference
 * §9).  A DeviceError gives its errno (through kdev_errno()) and (1.1)
 * one log line, not its report (kdev_log_deverr(), §9.3).  Any other
 * exception or an abort is EIO and its report goes to the log.  The
 * exception is dropped either way: nothing of a callback outlives it.
 */
static int cb_result(struct kdev *d, int op, int st)
{
	struct kvm *vm = d->vm;

	if (st == KVM_OK)
		return 0;
	if (st == KVM_THROW && vm->exc &&
	    kimg_subclass(vm->img, vm->exc->cls, KC_DeviceError)) {
		int64_t e = ((struct kinst *)vm->exc)->f[KF_DEVERR_ERRNO].i;
		int err = kdev_errno(e);

		kdev_log_deverr(d, op, vm->exc, err);
		vm->exc = NULL;
		return err;
	}
	vm->exc = NULL;
	log_report(vm);
	return -EIO;
}

/*
 * Callback op of d with args (the Device first) as a top-level call
 * under the callback budget.  The caller holds the script's lock and
 * roots the objects in args (the Device is on vm->devices, a stream is
 * pushed with kvm_push_root).
 */
static int run_cb(struct kdev *d, int op, union kvalue *args, uint32_t n,
		  union kvalue *ret)
{
	struct kvm *vm = d->vm;
	int st;

	st = kvm_call_top(vm, d->ops[op], args, n, ret, vm->lim.cb_budget);
	return cb_result(d, op, st);
}

/*
 * A stream outside any run; its failure to allocate is logged.  The last
 * call's abort state is reset first, so that a failure here is reported
 * as what it is.  Nothing roots the stream: the caller pushes it before
 * it allocates again.
 */
static struct kstream *new_stream(struct kvm *vm, bool output)
{
	struct kstream *s;

	vm->abort_kind = KVM_ABORT_NONE;
	vm->ntrace = 0;
	s = (struct kstream *)kvm_obj_alloc(vm, sizeof(*s), KO_STREAM,
			output ? KC_OutputStream : KC_InputStream);
	if (!s) {
		kvm_make_report(vm, KVM_ABORT);
		log_report(vm);
		return NULL;
	}
	s->output = output;
	s->valid = true;
	return s;
}

/* Frees f's content (charged at its capacity); a read produces anew. */
static void drop_content(struct kdev_file *f)
{
	struct kvm *vm = f->dev->vm;

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
	s = new_stream(vm, true);
	if (!s)
		return -EIO;
	args[0].o = d->obj;
	args[1].o = &s->h;
	if (kvm_push_root(vm, &s->h)) {
		s->valid = false;
		return -EIO;
	}
	err = run_cb(d, KD_read, args, 2, &ret);
	kvm_pop_roots(vm, 1);
	s->valid = false;
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
 * pending: nothing runs).
 */
static struct kdev_file *file_get(struct kvm *vm)
{
	struct kdev_file *f = vm->spare_files;

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
	memset(f, 0, sizeof(*f));
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

/*
 * open(2): a file for d and the script's open(); -ENXIO until the init
 * has finished (the language reference §9), -ENOMEM when the quota has
 * no room for the file, or open()'s failure, in which case no file is
 * kept and release() will not run.
 */
int kdev_open(struct kdev *d, struct kdev_file **filep)
{
	struct kvm *vm = d->vm;
	struct kdev_file *f;
	union kvalue args[1], ret;
	int err;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	err = -ENXIO;
	if (!vm->init_done)
		goto out_unlock;
	err = -ENOMEM;
	f = file_get(vm);
	if (!f)
		goto out_unlock;
	f->dev = d;
	args[0].o = d->obj;
	err = run_cb(d, KD_open, args, 1, &ret);
	if (err) {
		file_put(vm, f);
		goto out_unlock;
	}
	d->nopen++;
	vm->open_files++;
	*filep = f;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return err;
}

/*
 * read(2): a read at offset 0, or the first one, produces fresh content
 * (read()); every read copies out of the content at *pos.  Past the end:
 * 0, end of file.
 */
long kdev_read(struct kdev_file *f, char *buf, size_t count, int64_t *pos)
{
	struct kvm *vm = f->dev->vm;
	long n;
	int err;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	if (!f->has_content || *pos == 0) {
		err = produce(f);
		if (err) {
			n = err;
			goto out_unlock;
		}
	}
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
 * buffer, go to write() in an InputStream.  Unless it fails the caller is
 * told that all of them were written, whatever write() consumed; writes
 * have no position.
 */
long kdev_write(struct kdev_file *f, const char *buf, size_t count,
		int64_t *pos)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	struct kstream *s;
	union kvalue args[2], ret;
	size_t n = count < KDEV_WRITE_MAX ? count : KDEV_WRITE_MAX;
	long res = -EIO;
	int err;

	(void)pos;
	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	s = new_stream(vm, false);
	if (!s)
		goto out_unlock;
	if (kvm_push_root(vm, &s->h)) {
		s->valid = false;
		goto out_unlock;
	}
	s->buf = kvm_mem_alloc(vm, n);
	if (!s->buf) {
		kvm_pop_roots(vm, 1);
		kvm_make_report(vm, KVM_ABORT);
		log_report(vm);
		goto out_unlock;
	}
	s->cap = (uint32_t)n;
	s->len = (uint32_t)n;
	memcpy(s->buf, buf, n);
	args[0].o = d->obj;
	args[1].o = &s->h;
	err = run_cb(d, KD_write, args, 2, &ret);
	kvm_pop_roots(vm, 1);
	s->valid = false;
	res = err ? err : (long)n;
out_unlock:
	kp_mutex_unlock(&vm->lock);
	return res;
}

int kdev_call(struct kdev_file *f, int cb, const int64_t *in, uint32_t n,
	      int64_t *result)
{
	struct kdev *d = f->dev;
	struct kvm *vm = d->vm;
	union kvalue args[1 + KDEV_CALL_MAX_INTS], ret;
	uint32_t i;
	int err;

	if (cb < 0 || cb >= KD__COUNT || n > KDEV_CALL_MAX_INTS)
		return -EINVAL;
	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
	args[0].o = d->obj;
	for (i = 0; i < n; i++)
		args[1 + i].i = in[i];
	ret.i = 0;
	err = run_cb(d, cb, args, 1 + n, &ret);
	if (!err)
		*result = ret.i;
	kp_mutex_unlock(&vm->lock);
	return err;
}

/* ioctl(2): ioctl(cmd, arg); its result filtered by kdev_ioctl_result(). */
int kdev_ioctl(struct kdev_file *f, unsigned int cmd, int64_t arg,
	       int64_t *result)
{
	int64_t in[2] = { (int64_t)cmd, arg }, r;
	int err;

	err = kdev_call(f, KD_ioctl, in, 2, &r);
	if (!err)
		*result = kdev_ioctl_result(r);
	return err;
}

/*
 * lseek(2) within the content: SEEK_END is its size, so it is produced
 * when there is none yet.  A position before 0 or past the end is EINVAL
 * (the language reference §9).  The new position, or -errno.
 */
int64_t kdev_llseek(struct kdev_file *f, int64_t off, int whence,
		    int64_t *pos)
{
	struct kvm *vm = f->dev->vm;
	int64_t base, np;
	int err = 0;

	if (kp_mutex_lock(&vm->lock))
		return -EINTR;
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
	union kvalue args[1], ret;

	args[0].o = d->obj;
	run_cb(d, KD_release, args, 1, &ret);
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
int kdev_release(struct kdev_file *f)
{
	struct kvm *vm = f->dev->vm;

	kp_mutex_lock_always(&vm->lock);
	release_locked(f);
	kp_mutex_unlock(&vm->lock);
	return 0;
}

int kdev_release_nowait(struct kdev_file *f, bool may_wait)
{
	struct kvm *vm = f->dev->vm;

	if (may_wait ? kp_mutex_lock_killable(&vm->lock) :
	    !kp_mutex_trylock(&vm->lock))
		return -EINTR;
	release_locked(f);
	kp_mutex_unlock(&vm->lock);
	return 0;
}
