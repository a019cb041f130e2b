// SPDX-License-Identifier: GPL-2.0
/*
 * natives.c - the built-in library of builtins.def (the language
 * reference §8).
 *
 * A native gets its arguments in args[] (receiver first for methods and
 * constructors) and stores its result in *ret; it returns a status.  The
 * interpreter has already refused a null receiver; any other argument may
 * be null, and a native that dereferences one checks it (npe()).
 *
 * Rooting: the objects in args[] are rooted by the caller (the calling
 * frame's registers, or the host) for the whole call, but args[] itself
 * may be a copy, and what a native allocates is rooted by nothing: a
 * native keeps a new object in vm->tmp (kvm_push_root) before it
 * allocates again, since any allocation may collect.
 *
 * Budget: the call instruction costs one unit.  A native whose work grows
 * with its input charges it too, before or while it runs: one unit per 64
 * bytes scanned or copied (charge_bytes), one per element visited or
 * moved.  Allocations charge their size themselves (gc.c).
 */
#include "kops.h"	/* any_eq, str_eq_charge: == as the opcodes do it */

/* Argument k by its declared type (the verifier checked it), or NULL. */
#define ARG_STR(k)	((struct kstr *)args[k].o)
#define ARG_ARR(k)	((struct karr *)args[k].o)
#define ARG_INST(k)	((struct kinst *)args[k].o)

/* ---- the natives by id --------------------------------------------------- */

/*
 * The one place natives.c expands builtins.def: it binds each native id
 * to its nat_<Owner>_<name> below.  Everything else about a native (its
 * names, kind, slot, signature) is in builtins.c's table, kb_natives[].
 * Each is also exported: JIT code calls a native by name, a direct call,
 * rather than through kvm_natives[] (an indirect call, and in the kernel
 * a retpoline).
 */
#define K_CLASS(id, name, super, ctor, fields)
#define K_ERRNO(name, value)
#define K_NATIVE(id, owner, name, kind, slot, sig)			\
	int nat_##owner##_##name(struct kvm *vm, union kvalue *args,	\
				 union kvalue *ret);			\
	KP_EXPORT(nat_##owner##_##name);
#include "builtins.def"
#undef K_NATIVE

const knative_fn kvm_natives[KN__COUNT] = {
#define K_NATIVE(id, owner, name, kind, slot, sig) nat_##owner##_##name,
#include "builtins.def"
#undef K_NATIVE
};
#undef K_CLASS
#undef K_ERRNO

/* ---- signatures ---------------------------------------------------------- */

/*
 * A type of builtins.def as this image's type: the loader added every
 * type a native signature names (link.c), so each one is found.
 */
static int sig_param(const struct kimage *img, const struct kb_type *bt,
		     struct knparam *p)
{
	struct ktype t = { .kind = KT_CLASS, .elem = bt->cls };
	uint32_t i;

	p->cls = bt->cls;
	if (bt->base == KB_T || bt->base == KB_FT) {
		/* (1.1) Array<T> and Func<int(T, T)>: found at each call too */
		p->kind = bt->base == KB_FT ? KP_FT : (bt->dims ? KP_AT : KP_T);
		p->type = KIMG_NONE;
		return 0;
	}
	if (bt->base == KB_K || bt->base == KB_V) {
		/* (1.1) the receiving map's types, found at each call */
		p->kind = bt->base == KB_K ? (bt->dims ? KP_AK : KP_K) :
					     (bt->dims ? KP_AV : KP_V);
		p->type = KIMG_NONE;
		return 0;
	}
	switch (bt->base) {
	case KT_INT:
		p->type = img->t_int;
		break;
	case KT_BOOL:
		p->type = img->t_bool;
		break;
	case KT_VOID:
		p->type = img->t_void;
		break;
	case KT_ANY:
		p->type = img->t_any;
		break;
	case KB_FV:
		/* (1.1) Func<void()> */
		t.kind = KT_FUNC;
		t.elem = 0;
		t.result = img->t_void;
		p->type = kimg_find_type(img, &t);
		break;
	default:
		p->type = kimg_find_type(img, &t);
		break;
	}
	for (i = 0; i < bt->dims && p->type != KIMG_NONE; i++) {
		t.kind = KT_ARRAY;
		t.elem = p->type;
		p->type = kimg_find_type(img, &t);
	}
	/* a type link.c did not add: a bug, warned by kvm_natives_init() */
	if (p->type == KIMG_NONE)
		return -EINVAL;
	p->kind = img->types[p->type].kind;
	return 0;
}

/*
 * The signature of every native in vm->img's types, for calls by name
 * (CALLA checks and unboxes by it) and for the argument count of every
 * call.  It reads only builtins.def and the linked image: a failure is a
 * bug, not a bad image.
 */
int kvm_natives_init(struct kvm *vm)
{
	struct kb_sig bs;
	uint32_t n, i;
	int err;

	for (n = 0; n < KN__COUNT; n++) {
		struct knsig *sig = &vm->nsig[n];

		err = kb_parse_sig(kb_natives[n].sig, &bs);
		if (!err)
			err = sig_param(vm->img, &bs.result, &sig->ret);
		for (i = 0; !err && i < bs.nparams; i++)
			err = sig_param(vm->img, &bs.params[i], &sig->p[i]);
		if (KP_WARN_ON(err))
			return err;
		sig->nparams = (uint8_t)bs.nparams;
		sig->has_recv = kb_native_has_recv(n);
	}
	return 0;
}

/* The argument words of native n: its receiver, if any, and parameters. */
uint32_t kvm_native_nargs(const struct kvm *vm, uint32_t n)
{
	return vm->nsig[n].nparams + (vm->nsig[n].has_recv ? 1 : 0);
}

/* ---- helpers ------------------------------------------------------------ */

/* A null argument the native would dereference, as the opcodes say it. */
static int npe(struct kvm *vm)
{
	return kvm_throw_new(vm, KC_NullPointerException, "null dereference");
}

/*
 * *ret := a new String of the n bytes at b (copied).  Natives call it
 * last: nothing allocates between it and the return, after which the
 * caller roots the result.
 */
static int ret_str(struct kvm *vm, union kvalue *ret, const void *b,
		   size_t n)
{
	struct kstr *s = kvm_str_new(vm, b, n);

	if (!s)
		return KVM_ABORT;
	ret->o = &s->h;
	return KVM_OK;
}

/* Charges the work of touching n bytes: one unit per 64. */
static bool charge_bytes(struct kvm *vm, uint64_t n)
{
	return kvm_charge(vm, n / 64);
}

/* n bytes looked at one by one (a loop over bytes, not memchr): n / 8. */
static bool charge_byte_loop(struct kvm *vm, uint64_t n)
{
	return kvm_charge(vm, n / 8);
}

/*
 * First occurrence of needle in hay[from..), or -1.  Naive search whose
 * work is charged as it goes, so a quadratic case runs out of budget
 * instead of stalling the kernel.
 */
static int find(struct kvm *vm, const struct kstr *hay, uint32_t from,
		const struct kstr *needle, int64_t *pos)
{
	uint32_t n = hay->len, m = needle->len, i;
	uint64_t work = 0;

	*pos = -1;
	if (m == 0) {
		*pos = from <= n ? (int64_t)from : -1;
		return KVM_OK;
	}
	if (m > n)
		return KVM_OK;
	for (i = from; i <= n - m; i++) {
		const uint8_t *p = memchr(hay->b + i, needle->b[0],
					  n - m + 1 - i);

		if (!p) {
			work += n - m + 1 - i;	/* the bytes memchr scanned */
			break;
		}
		/* the bytes scanned and compared, and 256 (four units) for
		 * the memchr and memcmp calls of this candidate */
		work += (uint64_t)(p - (hay->b + i)) + m + 256;
		i = (uint32_t)(p - hay->b);
		if (work >= 4096) {
			if (!charge_bytes(vm, work))
				return KVM_ABORT;
			work = 0;
		}
		if (!memcmp(p, needle->b, m)) {
			*pos = i;
			break;
		}
	}
	return charge_bytes(vm, work) ? KVM_OK : KVM_ABORT;
}

/* ---- Object, Exception, DeviceError, Device ----------------------------- */

/*
 * The constructors of built-in classes run after NEW made the instance
 * with every field zeroed: they only store their arguments.
 */
int nat_Object_Object_init(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

/*
 * Object's toString (vtable slot 0): a String is itself, anything else
 * the name of its class.
 */
int nat_Object_toString(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	struct kobj *o = args[0].o;

	if (o->kind == KO_STRING) {
		ret->o = o;
		return KVM_OK;
	}
	ret->o = (struct kobj *)kvm_str_cstr(vm,
				vm->img->classes[kvm_obj_class(o)]->name);
	return ret->o ? KVM_OK : KVM_ABORT;
}

int nat_Exception_Exception_init(struct kvm *vm, union kvalue *args,
				 union kvalue *ret)
{
	(void)vm; (void)ret;
	ARG_INST(0)->f[KF_EXC_MESSAGE] = args[1];
	return KVM_OK;
}

/* "Class: message", the first line of a report too (kvm_make_report). */
int nat_Exception_toString(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	struct kinst *e = ARG_INST(0);
	const char *name = vm->img->classes[e->h.cls]->name;
	struct kstr *msg = (struct kstr *)e->f[KF_EXC_MESSAGE].o;
	size_t nl = strlen(name), ml = msg ? msg->len : 4;
	struct kstr *s;

	s = kvm_str_alloc(vm, nl + 2 + ml);
	if (!s)
		return KVM_ABORT;
	memcpy(s->b, name, nl);
	memcpy(s->b + nl, ": ", 2);
	memcpy(s->b + nl + 2, msg ? msg->b : (const uint8_t *)"null", ml);
	ret->o = &s->h;
	return KVM_OK;
}

/* The message given to the constructor, null when there was none. */
int nat_Exception_getMessage(struct kvm *vm, union kvalue *args,
			     union kvalue *ret)
{
	(void)vm;
	*ret = ARG_INST(0)->f[KF_EXC_MESSAGE];
	return KVM_OK;
}

/*
 * DeviceError(errno, message): any errno is stored as given; only the
 * callback's result filters it (kdev_errno() in device.c).
 */
int nat_DeviceError_DeviceError_init(struct kvm *vm,
				     union kvalue *args,
				     union kvalue *ret)
{
	(void)vm; (void)ret;
	ARG_INST(0)->f[KF_DEVERR_ERRNO] = args[1];
	ARG_INST(0)->f[KF_EXC_MESSAGE] = args[2];
	return KVM_OK;
}

/* As given to the constructor, not yet filtered. */
int nat_DeviceError_errno(struct kvm *vm, union kvalue *args,
			  union kvalue *ret)
{
	(void)vm;
	*ret = ARG_INST(0)->f[KF_DEVERR_ERRNO];
	return KVM_OK;
}

/* The mode field's default; register() reads it once, after the ctor. */
int nat_Device_Device_init(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	(void)vm; (void)ret;
	ARG_INST(0)->f[KF_DEVICE_MODE].i = 0600;
	return KVM_OK;
}

/*
 * The default callbacks (the language reference §9): open, read (empty
 * content) and release do nothing; write and ioctl fail with EINVAL and
 * ENOTTY, as a driver without those operations would.
 */
int nat_Device_open(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

int nat_Device_read(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

int nat_Device_write(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)args; (void)ret;
	return kvm_throw_deverr(vm, EINVAL, "write not supported");
}

int nat_Device_ioctl(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)args; (void)ret;
	return kvm_throw_deverr(vm, ENOTTY, "ioctl not supported");
}

int nat_Device_release(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

/* Device.register is static: no receiver check was made for it. */
int nat_Device_register(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	(void)ret;
	if (!args[0].o || !args[1].o)
		return npe(vm);
	return kvm_device_register(vm, args[0].o, args[1].o, false);
}

/* ---- String ------------------------------------------------------------- */

int nat_String_length(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	(void)vm;
	ret->i = ARG_STR(0)->len;
	return KVM_OK;
}

/* The byte at i, 0..255; the unsigned compare also refuses i < 0. */
int nat_String_charAt(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	struct kstr *s = ARG_STR(0);
	int64_t i = args[1].i;

	if ((uint64_t)i >= s->len)
		return kvm_throw_index(vm, i, s->len);
	ret->i = s->b[i];
	return KVM_OK;
}

/* Bytes [b, e), 0 <= b <= e <= length, else the bounds in the message. */
KP_PATH int nat_String_substring(struct kvm *vm, union kvalue *args,
				 union kvalue *ret)
{
	struct kstr *s = ARG_STR(0);
	int64_t b = args[1].i, e = args[2].i;

	if (b < 0 || b > e || e > (int64_t)s->len) {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "begin %lld, end %lld, length %u",
			 (long long)b, (long long)e, s->len);
		return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
	}
	if (!charge_bytes(vm, (uint64_t)(e - b)))
		return KVM_ABORT;
	/* the whole of s is s itself (see concat_same()) */
	if (b == 0 && e == (int64_t)s->len) {
		ret->o = &s->h;
		return KVM_OK;
	}
	return ret_str(vm, ret, s->b + b, (size_t)(e - b));
}

/* The first position of s, -1 if absent, 0 for "". */
int nat_String_indexOf(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	if (!args[1].o)
		return npe(vm);
	return find(vm, ARG_STR(0), 0, ARG_STR(1), &ret->i);
}

int nat_String_contains(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	int64_t pos;
	int st;

	if (!args[1].o)
		return npe(vm);
	st = find(vm, ARG_STR(0), 0, ARG_STR(1), &pos);
	ret->i = pos >= 0;
	return st;
}

/*
 * startsWith and endsWith charge the prefix's length whatever the answer:
 * the compare may read all of it.
 */
int nat_String_startsWith(struct kvm *vm, union kvalue *args,
			  union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *p = ARG_STR(1);

	if (!p)
		return npe(vm);
	ret->i = p->len <= s->len && !memcmp(s->b, p->b, p->len);
	return charge_bytes(vm, p->len) ? KVM_OK : KVM_ABORT;
}

int nat_String_endsWith(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *p = ARG_STR(1);

	if (!p)
		return npe(vm);
	ret->i = p->len <= s->len &&
		!memcmp(s->b + s->len - p->len, p->b, p->len);
	return charge_bytes(vm, p->len) ? KVM_OK : KVM_ABORT;
}

/*
 * Appends v to a.  The growth may collect: a is rooted by
 * kvm_arr_reserve(), but a reference v must be rooted by the caller.
 */
static int arr_push(struct kvm *vm, struct karr *a, union kvalue v)
{
	int st = kvm_arr_reserve(vm, a, a->len + 1);

	if (st)
		return st;
	a->v[a->len++] = v;
	return KVM_OK;
}

/* Appends the string s[b..e) to the array a (both rooted by the caller). */
static int push_piece(struct kvm *vm, struct karr *a, const struct kstr *s,
		      uint32_t b, uint32_t e)
{
	struct kstr *p = kvm_str_new(vm, s->b + b, e - b);
	union kvalue v;
	int st;

	if (!p)
		return KVM_ABORT;
	/* a unit per piece, on top of the copy the allocation charged */
	if (!kvm_charge(vm, 1))
		return KVM_ABORT;
	v.o = &p->h;
	if (kvm_push_root(vm, &p->h))
		return KVM_ABORT;
	st = arr_push(vm, a, v);
	kvm_pop_roots(vm, 1);
	return st;
}

/*
 * The fields between occurrences of sep, empty ones included, the last
 * one after the last sep; an empty sep splits into single bytes.  The
 * array is rooted while the pieces are made; on a failure *ret still
 * gets it, which is harmless: the status says the result is not used.
 */
int nat_String_split(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *sep = ARG_STR(1);
	struct karr *a;
	uint32_t start = 0, i;
	int64_t pos;
	int st = KVM_OK;

	if (!sep)
		return npe(vm);
	a = kvm_arr_new(vm, vm->img->t_string_array, 0);
	if (!a)
		return KVM_ABORT;
	if (kvm_push_root(vm, &a->h))
		return KVM_ABORT;
	if (sep->len == 0) {
		for (i = 0; i < s->len && !st; i++)
			st = push_piece(vm, a, s, i, i + 1);
	} else {
		for (;;) {
			st = find(vm, s, start, sep, &pos);
			if (st)
				break;
			if (pos < 0) {
				st = push_piece(vm, a, s, start, s->len);
				break;
			}
			st = push_piece(vm, a, s, start, (uint32_t)pos);
			if (st)
				break;
			start = (uint32_t)pos + sep->len;
		}
	}
	kvm_pop_roots(vm, 1);
	ret->o = &a->h;
	return st;
}

/*
 * Without the bytes <= 0x20 at both ends; s itself when nothing is cut,
 * which is safe because Strings are immutable.
 */
int nat_String_trim(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	struct kstr *s = ARG_STR(0);
	uint32_t b = 0, e = s->len;

	while (b < e && s->b[b] <= 0x20)
		b++;
	while (e > b && s->b[e - 1] <= 0x20)
		e--;
	if (!charge_byte_loop(vm, (uint64_t)b + (s->len - e)))
		return KVM_ABORT;
	if (b == 0 && e == s->len) {
		ret->o = &s->h;
		return KVM_OK;
	}
	return ret_str(vm, ret, s->b + b, e - b);
}

/* toUpper and toLower: ASCII letters only, every other byte kept. */
static int change_case(struct kvm *vm, union kvalue *args,
		       union kvalue *ret, bool upper)
{
	struct kstr *s = ARG_STR(0), *r;
	uint32_t i;

	/* a byte loop, not a block copy: one unit per byte */
	if (!kvm_charge(vm, s->len))
		return KVM_ABORT;
	r = kvm_str_new(vm, s->b, s->len);
	if (!r)
		return KVM_ABORT;
	for (i = 0; i < r->len; i++) {
		uint8_t c = r->b[i];

		if (upper && c >= 'a' && c <= 'z')
			r->b[i] = c - 'a' + 'A';
		else if (!upper && c >= 'A' && c <= 'Z')
			r->b[i] = c - 'A' + 'a';
	}
	ret->o = &r->h;
	return KVM_OK;
}

int nat_String_toUpper(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	return change_case(vm, args, ret, true);
}

int nat_String_toLower(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	return change_case(vm, args, ret, false);
}

/*
 * Every non-overlapping from, left to right, replaced by to; an empty
 * from changes nothing.  The result grows in a charged kbuf, freed on
 * every path.
 */
int nat_String_replace(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *from = ARG_STR(1), *to = ARG_STR(2);
	struct kbuf b = { 0 };
	uint32_t start = 0;
	int64_t pos;
	int st;

	if (!from || !to)
		return npe(vm);
	if (from->len == 0) {
		ret->o = &s->h;
		return KVM_OK;
	}
	for (;;) {
		st = find(vm, s, start, from, &pos);
		if (st)
			break;
		if (pos < 0) {
			st = kvm_buf_put(vm, &b, s->b + start, s->len - start);
			break;
		}
		st = kvm_buf_put(vm, &b, s->b + start, (uint32_t)pos - start);
		if (!st)
			st = kvm_buf_put(vm, &b, to->b, to->len);
		if (!st && !charge_bytes(vm, to->len))
			st = KVM_ABORT;
		if (st)
			break;
		start = (uint32_t)pos + from->len;
	}
	if (!st)
		st = ret_str(vm, ret, b.p, b.len);
	kvm_buf_free(vm, &b);
	return st;
}

/*
 * n copies of s, "" for n <= 0.  A result longer than a String may be
 * (2^31 - 1 bytes) is "out of memory", like any allocation past the
 * quota, and is refused before anything is charged or copied.
 */
int nat_String_repeat(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *r;
	int64_t n = args[1].i;
	uint64_t total, done, chunk;

	if (n <= 0 || s->len == 0)
		return ret_str(vm, ret, "", 0);
	total = (uint64_t)s->len * (uint64_t)n;
	if ((uint64_t)n > 0x7fffffffu || total > 0x7fffffffu)
		return kvm_abort(vm, KVM_ABORT_OOM);
	if (!charge_bytes(vm, total))
		return KVM_ABORT;
	r = kvm_str_alloc(vm, (size_t)total);
	if (!r)
		return KVM_ABORT;
	/* doubling copies: O(log n) memcpy calls even for a 1-byte s */
	memcpy(r->b, s->b, s->len);
	for (done = s->len; done < total; done += chunk) {
		chunk = done < total - done ? done : total - done;
		memcpy(r->b + done, r->b, (size_t)chunk);
	}
	ret->o = &r->h;
	return KVM_OK;
}

/*
 * The value of [+-]?[0-9]+ within the int range; anything else throws
 * NumberFormatException quoting at most 64 bytes of the text.  lim is
 * the magnitude allowed: one more for a negative number (INT64_MIN).
 */
int nat_String_toInt(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct kstr *s = ARG_STR(0);
	uint32_t i = 0;
	bool neg = false;
	uint64_t v = 0, lim;
	char msg[120];
	uint32_t n;

	if (i < s->len && (s->b[i] == '+' || s->b[i] == '-'))
		neg = s->b[i++] == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (i == s->len)
		goto bad;
	for (; i < s->len; i++) {
		unsigned int d = (unsigned int)s->b[i] - '0';

		/* v * 10 + d <= lim, without a division per digit */
		if (d > 9 || v > lim / 10 || (v == lim / 10 && d > lim % 10))
			goto bad;
		v = v * 10 + d;
	}
	ret->i = neg ? (int64_t)(0 - v) : (int64_t)v;
	/* a division per digit: one unit per byte */
	return kvm_charge(vm, s->len) ? KVM_OK : KVM_ABORT;
bad:
	if (!kvm_charge(vm, i))
		return KVM_ABORT;
	/* by length: the string may hold NUL bytes */
	n = s->len > 64 ? 64 : s->len;
	memcpy(msg, "invalid int \"", 13);
	memcpy(msg + 13, s->b, n);
	msg[13 + n] = '"';
	return kvm_throw_newn(vm, KC_NumberFormatException, msg, 14 + n);
}

/* The one-byte String of c, 0..255; else c is a bad index into 256. */
int nat_String_fromChar(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	uint8_t c;

	if ((uint64_t)args[0].i > 255)
		return kvm_throw_index(vm, args[0].i, 256);
	c = (uint8_t)args[0].i;
	return ret_str(vm, ret, &c, 1);
}

/* ---- Array -------------------------------------------------------------- */

int nat_Array_size(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	(void)vm;
	ret->i = ARG_ARR(0)->len;
	return KVM_OK;
}

/* args[1] is rooted by the caller's register while the array grows. */
int nat_Array_add(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	(void)ret;
	return arr_push(vm, ARG_ARR(0), args[1]);
}

/*
 * pop and remove clear the slot they vacate: slots past the length stay
 * zero (kvm_arr_reserve's invariant), so a later growth shows defaults.
 */
int nat_Array_pop(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);

	if (a->len == 0)
		return kvm_throw_index(vm, -1, 0);
	*ret = a->v[--a->len];
	a->v[a->len].i = 0;
	return KVM_OK;
}

/*
 * Inserts before index i, 0 <= i <= length (i == length appends); the
 * elements moved are charged as 8 bytes each.
 */
int nat_Array_insert(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);
	int64_t i = args[1].i;
	int st;

	(void)ret;
	if ((uint64_t)i > a->len)
		return kvm_throw_index(vm, i, a->len);
	st = kvm_arr_reserve(vm, a, a->len + 1);
	if (st)
		return st;
	if (!charge_bytes(vm, (uint64_t)(a->len - i) * 8))
		return KVM_ABORT;
	memmove(&a->v[i + 1], &a->v[i], (a->len - (size_t)i) * sizeof(*a->v));
	a->v[i] = args[2];
	a->len++;
	return KVM_OK;
}

/* The element at i; the ones after it move down, 8 bytes charged each. */
int nat_Array_remove(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);
	int64_t i = args[1].i;

	if ((uint64_t)i >= a->len)
		return kvm_throw_index(vm, i, a->len);
	if (!charge_bytes(vm, (uint64_t)(a->len - i) * 8))
		return KVM_ABORT;
	*ret = a->v[i];
	memmove(&a->v[i], &a->v[i + 1],
		(a->len - (size_t)i - 1) * sizeof(*a->v));
	a->len--;
	a->v[a->len].i = 0;
	return KVM_OK;
}

int nat_Array_clear(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);

	(void)vm; (void)ret;
	/* an array that never had storage has a->v == NULL */
	if (a->len)
		memset(a->v, 0, (size_t)a->len * sizeof(*a->v));
	a->len = 0;
	return KVM_OK;
}

/*
 * The elements' string conversions separated by sep.  A conversion may
 * call a script toString, which may change the array: the loop reads
 * a->len and a->v afresh at each element and holds nothing else of it.
 */
int nat_Array_join(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);
	struct kstr *sep = ARG_STR(1);
	uint32_t et = vm->img->types[a->type].elem, i;
	struct kbuf b = { 0 };
	int st = KVM_OK;

	if (!sep)
		return npe(vm);
	/* toString may run script code: keep both alive */
	if (kvm_push_root(vm, &a->h))
		return KVM_ABORT;
	if (kvm_push_root(vm, &sep->h)) {
		kvm_pop_roots(vm, 1);
		return KVM_ABORT;
	}
	for (i = 0; i < a->len && !st; i++) {
		if (i > 0)
			st = kvm_buf_put(vm, &b, sep->b, sep->len);
		/* formatting an element costs about what 8 instructions do */
		if (!st && !kvm_charge(vm, 8))
			st = KVM_ABORT;
		if (!st)
			st = kvm_buf_put_value(vm, &b, a->v[i], et);
	}
	kvm_pop_roots(vm, 2);
	if (!st)
		st = ret_str(vm, ret, b.p, b.len);
	kvm_buf_free(vm, &b);
	return st;
}

/* ---- Math, System, print ------------------------------------------------ */

int nat_Math_min(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	(void)vm;
	ret->i = args[0].i < args[1].i ? args[0].i : args[1].i;
	return KVM_OK;
}

int nat_Math_max(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	(void)vm;
	ret->i = args[0].i > args[1].i ? args[0].i : args[1].i;
	return KVM_OK;
}

int nat_Math_abs(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	(void)vm;
	/* abs(MIN) == MIN: negate in unsigned arithmetic */
	ret->i = args[0].i < 0 ? (int64_t)(0 - (uint64_t)args[0].i) :
		args[0].i;
	return KVM_OK;
}

/* A monotonic clock in nanoseconds, positive (kp_nanotime). */
int nat_System_nanoTime(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	(void)vm; (void)args;
	ret->i = kp_nanotime();
	return KVM_OK;
}

int nat_System_random(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	uint64_t bound = (uint64_t)args[0].i, lim, r;

	if (args[0].i <= 0)
		return kvm_throw_new(vm, KC_ArithmeticException,
				     "bound must be positive");
	/* rejection sampling: uniform over [0, bound) */
	lim = UINT64_MAX - UINT64_MAX % bound;
	do {
		r = kp_random_u64();
	} while (r >= lim);
	ret->i = (int64_t)(r % bound);
	return KVM_OK;
}

/*
 * pid and comm are the calling process's: in the kernel the one whose
 * system call runs the callback.
 */
int nat_System_pid(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	(void)vm; (void)args;
	ret->i = kp_pid();
	return KVM_OK;
}

/* kp_comm() NUL-terminates the name within KP_COMM_LEN bytes. */
int nat_System_comm(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	char comm[KP_COMM_LEN];

	(void)args;
	kp_comm(comm);
	return ret_str(vm, ret, comm, strlen(comm));
}

/*
 * Sleeps ms milliseconds, clamped to 0..10000 (the language reference
 * §8): time asleep costs no budget, so the clamp is what bounds it.  In
 * the kernel a signal cuts the sleep short, and a fatal one then aborts
 * the call (§9.2: it ends a callback waiting or running), as the next
 * budget refill would, but before any more of the script runs.
 */
int nat_System_sleep(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	int64_t ms = args[0].i;

	(void)ret;
	if (ms < 0)
		ms = 0;
	if (ms > 10000)
		ms = 10000;
	kp_sleep_ms((unsigned int)ms);
	if (vm->charging && kvm_killed(vm))
		return kvm_abort(vm, KVM_ABORT_KILLED);
	return KVM_OK;
}

/*
 * One line to the host's output: the bytes and the newline in one call,
 * so that a host writing lines atomically never splits one.  The line is
 * built in a charged buffer; null prints "null".
 */
int nat_Global_print(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct kstr *s = ARG_STR(0);
	const uint8_t *b = s ? s->b : (const uint8_t *)"null";
	size_t n = s ? s->len : 4;
	char *line;

	(void)ret;
	if (!charge_bytes(vm, n))
		return KVM_ABORT;
	line = kvm_mem_alloc(vm, n + 1);
	if (!line)
		return KVM_ABORT;
	memcpy(line, b, n);
	line[n] = '\n';
	if (vm->host.output)
		vm->host.output(vm->host.ctx, line, n + 1);
	kvm_mem_free(vm, line, n + 1);
	return KVM_OK;
}

/* ---- streams ------------------------------------------------------------ */

/*
 * A stream is valid only during the callback it was made for: device.c
 * clears valid when the callback returns, and a script that kept the
 * stream in a field gets DeviceError(EINVAL).
 */
static int stream_check(struct kvm *vm, struct kstream *s)
{
	if (!s->valid)
		return kvm_throw_deverr(vm, EINVAL,
					"stream used outside its callback");
	return KVM_OK;
}

/*
 * Appends n bytes to an output stream: at most KDEV_CONTENT_MAX in all
 * (beyond, DeviceError(EFBIG) inside the callback).  The buffer is the
 * device layer's (kstream), charged to the quota; s is rooted while it
 * grows, since the realloc may collect.
 */
static KP_INLINE int out_put(struct kvm *vm, struct kstream *s, const void *b,
			     uint32_t n)
{
	uint32_t cap;
	uint8_t *p;
	char msg[48];

	/* (1.1) a CharDevice read adds none of a write past its count */
	if (s->bounded && (uint64_t)s->len + n > s->limit) {
		snprintf(msg, sizeof(msg), "read overflow: %u bytes", s->limit);
		return kvm_throw_new(vm, KC_IllegalStateException, msg);
	}
	if ((uint64_t)s->len + n > KDEV_CONTENT_MAX)
		return kvm_throw_deverr(vm, EFBIG,
					"content exceeds 65536 bytes");
	if (s->len + n > s->cap) {
		/* a borrowed buffer holds the whole bound: unreachable */
		if (KP_WARN_ON(s->borrowed))
			return kvm_abort(vm, KVM_ABORT_OOM);
		cap = s->cap ? s->cap * 2 : 256;
		while (cap < s->len + n)
			cap *= 2;
		if (kvm_push_root(vm, &s->h))
			return KVM_ABORT;
		p = kvm_mem_realloc(vm, s->buf, s->cap, cap);
		kvm_pop_roots(vm, 1);
		if (!p)
			return KVM_ABORT;
		s->buf = p;
		s->cap = cap;
		kstream_sync(s);
	}
	/* an empty write to a stream with no buffer yet: NULL + 0 is UB */
	if (n)
		memcpy(s->buf + s->len, b, n);
	s->len += n;
	return charge_bytes(vm, n) ? KVM_OK : KVM_ABORT;
}

KP_PATH int nat_OutputStream_write(struct kvm *vm, union kvalue *args,
				   union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	struct kstr *str = ARG_STR(1);
	int st = stream_check(vm, s);

	(void)ret;
	if (st)
		return st;
	if (!str)
		return npe(vm);
	return out_put(vm, s, str->b, str->len);
}

/* The int's low 8 bits. */
int nat_OutputStream_writeByte(struct kvm *vm, union kvalue *args,
			       union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	uint8_t c = (uint8_t)(args[1].i & 0xff);
	int st = stream_check(vm, s);

	(void)ret;
	if (st)
		return st;
	return out_put(vm, s, &c, 1);
}

/*
 * size and available: the bytes written so far, or left to read.  On an
 * invalid stream the value is stored but the status throws.
 */
int nat_OutputStream_size(struct kvm *vm, union kvalue *args,
			  union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	int st = stream_check(vm, s);

	ret->i = s->len;
	return st;
}

/* The rest of the input; the position moves only once the String exists. */
int nat_InputStream_readAll(struct kvm *vm, union kvalue *args,
			    union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	uint32_t pos = s->pos;
	int st = stream_check(vm, s);

	if (st)
		return st;
	if (!charge_bytes(vm, s->len - pos))
		return KVM_ABORT;
	st = ret_str(vm, ret, s->buf + pos, s->len - pos);
	if (!st)
		s->pos = s->len;
	return st;
}

/* The next byte, 0..255, or -1 at the end. */
int nat_InputStream_readByte(struct kvm *vm, union kvalue *args,
			     union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	int st = stream_check(vm, s);

	if (st)
		return st;
	ret->i = s->pos < s->len ? s->buf[s->pos++] : -1;
	return KVM_OK;
}

KP_PATH int nat_InputStream_available(struct kvm *vm, union kvalue *args,
				      union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	int st = stream_check(vm, s);

	ret->i = s->len - s->pos;
	return st;
}

/* ---- Map (1.1; the map itself is map.c) ------------------------------- */

#define ARG_MAP(k)	((struct kmap *)args[k].o)

/* The live entries: removed ones wait dead for a compaction (map.c). */
int nat_Map_size(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	(void)vm;
	ret->i = ARG_MAP(0)->n;
	return KVM_OK;
}

/*
 * Map lookups hash and compare the key, which costs budget for a String
 * key and so may abort: kvm_map_find() reports it in st.
 */
int nat_Map_has(struct kvm *vm, union kvalue *args,
		union kvalue *ret)
{
	int st;

	ret->i = kvm_map_find(vm, ARG_MAP(0), args[1], &st) != NULL;
	return st;
}

/*
 * "key K not found", K being the key's string conversion cut to 64 bytes
 * (§8): the one map operation that may run script code (a toString),
 * whose exception or abort is returned instead.  The message is copied
 * out of the conversion before the exception is allocated.
 */
static int throw_no_key(struct kvm *vm, struct kmap *m, union kvalue k)
{
	char msg[96];
	struct kstr *s;
	size_t n;
	int st;

	st = kvm_to_string(vm, k, vm->img->types[m->type].elem, &s);
	if (st)
		return st;
	n = s->len > 64 ? 64 : s->len;
	memcpy(msg, "key ", 4);
	memcpy(msg + 4, s->b, n);
	memcpy(msg + 4 + n, " not found", 10);
	return kvm_throw_newn(vm, KC_NoSuchElementException, msg, n + 14);
}

int nat_Map_get(struct kvm *vm, union kvalue *args,
		union kvalue *ret)
{
	struct kmentry *e;
	int st;

	e = kvm_map_find(vm, ARG_MAP(0), args[1], &st);
	if (e) {
		*ret = e->v;
		return KVM_OK;
	}
	return st ? st : throw_no_key(vm, ARG_MAP(0), args[1]);
}

/* The value of k, else the default: no exception and no toString. */
int nat_Map_getOr(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	struct kmentry *e;
	int st;

	e = kvm_map_find(vm, ARG_MAP(0), args[1], &st);
	*ret = e ? e->v : args[2];
	return st;
}

/*
 * A new key goes at the end of the insertion order; a key already there
 * keeps its place and gets the new value.
 */
int nat_Map_put(struct kvm *vm, union kvalue *args,
		union kvalue *ret)
{
	(void)ret;
	return kvm_map_put(vm, ARG_MAP(0), args[1], args[2]);
}

/* Whether k was there; its entry stays dead until a compaction. */
int nat_Map_remove(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	bool removed;
	int st = kvm_map_remove(vm, ARG_MAP(0), args[1], &removed);

	ret->i = removed;
	return st;
}

/* Frees the storage: the map is as NEWMAP made it. */
int nat_Map_clear(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	(void)ret;
	kvm_map_free_storage(vm, ARG_MAP(0));
	return KVM_OK;
}

/* keys and values: a new array, in insertion order. */
int nat_Map_keys(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	struct karr *a;
	int st = kvm_map_list(vm, ARG_MAP(0), true, &a);

	if (!st)
		ret->o = &a->h;
	return st;
}

int nat_Map_values(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	struct karr *a;
	int st = kvm_map_list(vm, ARG_MAP(0), false, &a);

	if (!st)
		ret->o = &a->h;
	return st;
}

/* ---- (1.1) Array, String and Math additions ------------------------------ */

/*
 * These natives may run script code (sort's cmp, format's toString
 * calls), which can move the register stack that args points into: they
 * read their arguments into locals first and root what they hold across
 * the calls.
 */

/*
 * One call of sort's comparator f on (x, y), through kvm_invoke (its
 * stack guard, nesting bound and frame depth), charged as a call
 * instruction is.  cargs[0..lead) holds what f passes first (a bound
 * receiver or a closure's captured values, kopi_callf_lead's order);
 * x and y go after it.
 */
static int cmp_call(struct kvm *vm, const struct kfn *f, union kvalue *cargs,
		    uint32_t lead, union kvalue x, union kvalue y, int64_t *r)
{
	union kvalue res;
	int st;

	/* kvm_charge(vm, 1) without the call while the slice lasts */
	if (likely(vm->budget >= 1))
		vm->budget--;
	else if (!kvm_charge(vm, 1))
		return KVM_ABORT;
	cargs[lead] = x;
	cargs[lead + 1] = y;
	res.i = 0;
	st = kvm_invoke(vm, f->m, cargs, lead + 2, &res);
	*r = res.i;
	return st;
}

/*
 * Merges the sorted runs s[lo..mid) and s[mid..hi) into d[lo..hi): an
 * element of the right run goes first only when cmp says it is greater,
 * which keeps equal elements in their order (stability).  The caller
 * charged the moves.
 */
static int merge_runs(struct kvm *vm, const struct kfn *f,
		      union kvalue *cargs, uint32_t lead,
		      const union kvalue *s, union kvalue *d,
		      uint32_t lo, uint32_t mid, uint32_t hi)
{
	uint32_t i = lo, j = mid, k = lo;
	int64_t r;
	int st;

	while (i < mid && j < hi) {
		bool right;

		st = cmp_call(vm, f, cargs, lead, s[i], s[j], &r);
		if (st)
			return st;
		/* without a branch on cmp's answer, which is a coin toss */
		right = r > 0;
		d[k++] = right ? s[j] : s[i];
		j += right;
		i += !right;
	}
	memcpy(&d[k], &s[i], (size_t)(mid - i) * sizeof(*d));
	k += mid - i;
	memcpy(&d[k], &s[j], (size_t)(hi - j) * sizeof(*d));
	return KVM_OK;
}

/*
 * sort(cmp): a bottom-up merge sort, stable, at most n * ceil(log2 n)
 * calls of cmp whatever it answers.  It sorts a copy: one private array
 * of 2n elements (the copy and the merge buffer, counted against the heap
 * quota and seen by the collector, so elements that cmp drops from the
 * array stay alive), and stores the result back after the last call of
 * cmp, unless cmp threw or the array's size changed meanwhile.  Every
 * element copied or moved costs a unit, charged before each pass.
 */
int nat_Array_sort(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	struct karr *a = ARG_ARR(0), *buf;
	struct kfn *f = (struct kfn *)args[1].o;
	union kvalue small[8], *cargs = small, *s, *d, *t;
	uint32_t n = a->len, lead, k;
	uint64_t w, lo;
	size_t csize = 0;
	int st;

	(void)ret;
	if (!f)
		return npe(vm);
	if (n < 2)
		return KVM_OK;
	if (kvm_push_root(vm, &a->h))
		return KVM_ABORT;
	if (kvm_push_root(vm, &f->h)) {
		kvm_pop_roots(vm, 1);
		return KVM_ABORT;
	}
	lead = (f->recv ? 1 : 0) + f->ncap;
	if (lead + 2 > KP_ARRAY_SIZE(small)) {
		csize = (size_t)(lead + 2) * sizeof(*cargs);
		cargs = kvm_mem_alloc(vm, csize);
		if (!cargs) {
			kvm_pop_roots(vm, 2);
			return KVM_ABORT;
		}
	}
	k = 0;
	if (f->recv)
		cargs[k++].o = f->recv;
	memcpy(&cargs[k], f->cap, (size_t)f->ncap * sizeof(*cargs));
	st = KVM_ABORT;
	if ((uint64_t)n * 2 > 0x7fffffffu) {
		kvm_abort(vm, KVM_ABORT_OOM);
		goto out;
	}
	if (!kvm_charge(vm, n))
		goto out;
	buf = kvm_arr_new(vm, a->type, n * 2);
	if (!buf)
		goto out;
	if (kvm_push_root(vm, &buf->h))
		goto out;
	s = buf->v;
	d = buf->v + n;
	memcpy(s, a->v, (size_t)n * sizeof(*s));
	st = KVM_OK;
	for (w = 1; w < n && !st; w *= 2) {
		if (!kvm_charge(vm, n)) {
			st = KVM_ABORT;
			break;
		}
		for (lo = 0; lo < n && !st; lo += 2 * w) {
			uint64_t mid = lo + w < n ? lo + w : n;
			uint64_t hi = lo + 2 * w < n ? lo + 2 * w : n;

			st = merge_runs(vm, f, cargs, lead, s, d, (uint32_t)lo,
					(uint32_t)mid, (uint32_t)hi);
		}
		t = s;
		s = d;
		d = t;
	}
	if (!st && a->len != n)
		st = kvm_throw_new(vm, KC_IllegalStateException,
				   "array modified during sort");
	if (!st && !kvm_charge(vm, n))
		st = KVM_ABORT;
	if (!st)
		memcpy(a->v, s, (size_t)n * sizeof(*s));
	kvm_pop_roots(vm, 1);
out:
	if (csize)
		kvm_mem_free(vm, cargs, csize);
	kvm_pop_roots(vm, 2);
	return st;
}

/*
 * Whether the element x equals v by the == rule of the language reference
 * §6 for the element type et: int and boolean by value, String by
 * contents (the scan charged as == charges it), Any by its rule, other
 * references by identity.  False in *eq and KVM_ABORT on the budget.
 */
static int elem_eq(struct kvm *vm, uint32_t et, union kvalue x,
		   union kvalue v, bool *eq)
{
	uint8_t kind = vm->img->types[et].kind;
	bool strs;

	*eq = false;
	if (kind == KT_INT || kind == KT_BOOL) {
		*eq = x.i == v.i;
		return KVM_OK;
	}
	strs = et == vm->img->t_string ||
	       (kind == KT_ANY && x.o && v.o && x.o->kind == KO_STRING &&
		v.o->kind == KO_STRING);
	if (strs) {
		if (!str_eq_charge(vm, x.o, v.o))
			return KVM_ABORT;
		*eq = kvm_str_eq(x.o, v.o);
	} else {
		*eq = kind == KT_ANY ? any_eq(x.o, v.o) : x.o == v.o;
	}
	return KVM_OK;
}

/*
 * The first index of v in a, or -1.  One unit per element visited,
 * charged by blocks of 256 after they are visited (and the last block
 * for what it visited), so the work between two charges stays bounded.
 */
static int array_find(struct kvm *vm, const struct karr *a, union kvalue v,
		      int64_t *pos)
{
	uint32_t et = vm->img->types[a->type].elem, i, done = 0;
	bool eq = false;
	int st = KVM_OK;

	*pos = -1;
	for (i = 0; i < a->len; i++) {
		st = elem_eq(vm, et, a->v[i], v, &eq);
		if (st || eq)
			break;
		if (i + 1 - done == 256) {
			if (!kvm_charge(vm, 256))
				return KVM_ABORT;
			done = i + 1;
		}
	}
	if (!st && eq)
		*pos = i;
	if (!st && !kvm_charge(vm, (uint64_t)(i < a->len ? i + 1 : i) - done))
		st = KVM_ABORT;
	return st;
}

int nat_Array_indexOf(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	return array_find(vm, ARG_ARR(0), args[1], &ret->i);
}

int nat_Array_contains(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	int64_t pos;
	int st = array_find(vm, ARG_ARR(0), args[1], &pos);

	ret->i = pos >= 0;
	return st;
}

/* A new array of a's type holding a[b..e); substring's bounds rule. */
int nat_Array_slice(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	struct karr *a = ARG_ARR(0), *r;
	int64_t b = args[1].i, e = args[2].i;

	if (b < 0 || b > e || e > (int64_t)a->len) {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "begin %lld, end %lld, length %u",
			 (long long)b, (long long)e, a->len);
		return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
	}
	if (!kvm_charge(vm, (uint64_t)(e - b)))
		return KVM_ABORT;
	if (kvm_push_root(vm, &a->h))
		return KVM_ABORT;
	r = kvm_arr_new(vm, a->type, (uint32_t)(e - b));
	kvm_pop_roots(vm, 1);
	if (!r)
		return KVM_ABORT;
	if (e > b)
		memcpy(r->v, a->v + b, (size_t)(e - b) * sizeof(*r->v));
	ret->o = &r->h;
	return KVM_OK;
}

/* In place, a unit per element. */
int nat_Array_reverse(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	struct karr *a = ARG_ARR(0);
	uint32_t i, j;

	(void)ret;
	if (!kvm_charge(vm, a->len))
		return KVM_ABORT;
	for (i = 0, j = a->len; i + 1 < j; i++) {
		union kvalue x = a->v[i];

		a->v[i] = a->v[--j];
		a->v[j] = x;
	}
	return KVM_OK;
}

/* Unsigned bytes from the start; the first difference, else the length. */
int nat_String_compareTo(struct kvm *vm, union kvalue *args,
			 union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *t = ARG_STR(1);
	uint32_t n;
	int c;

	if (!t)
		return npe(vm);
	n = s->len < t->len ? s->len : t->len;
	if (!charge_bytes(vm, n))
		return KVM_ABORT;
	c = memcmp(s->b, t->b, n);	/* compares as unsigned char */
	if (!c)
		c = s->len < t->len ? -1 : s->len > t->len;
	ret->i = c < 0 ? -1 : c > 0;
	return KVM_OK;
}

/*
 * The start of the last occurrence of t in s, -1 if none, s->len for "".
 * A naive search backwards, charged as find() charges: the positions
 * scanned, plus the compared bytes and four units per candidate.
 */
int nat_String_lastIndexOf(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	struct kstr *s = ARG_STR(0), *t = ARG_STR(1);
	uint32_t n, m, i;
	uint64_t steps = 0, work = 0;

	if (!t)
		return npe(vm);
	n = s->len;
	m = t->len;
	ret->i = m == 0 ? (int64_t)n : -1;
	if (m == 0 || m > n)
		return KVM_OK;
	/* steps: bytes looked at one by one; work: candidates' compares */
	for (i = n - m + 1; i-- > 0;) {
		steps++;
		if (s->b[i] == t->b[0]) {
			work += m + 256;
			if (!memcmp(s->b + i, t->b, m)) {
				ret->i = i;
				break;
			}
		}
		if (work >= 4096 || steps >= 4096) {
			if (!charge_bytes(vm, work) ||
			    !charge_byte_loop(vm, steps))
				return KVM_ABORT;
			work = steps = 0;
		}
	}
	return charge_bytes(vm, work) && charge_byte_loop(vm, steps) ?
		KVM_OK : KVM_ABORT;
}

/* pack and the unpacks: widths 1, 2, 4, 8, else IllegalArgumentException. */
static int check_width(struct kvm *vm, int64_t w)
{
	char msg[48];

	if (w == 1 || w == 2 || w == 4 || w == 8)
		return KVM_OK;
	snprintf(msg, sizeof(msg), "bad width %lld", (long long)w);
	return kvm_throw_new(vm, KC_IllegalArgumentException, msg);
}

/* The width bytes at offset of s, little-endian, in the low bits. */
static int unpack_bytes(struct kvm *vm, union kvalue *args, uint64_t *v)
{
	struct kstr *s = ARG_STR(0);
	int64_t off = args[1].i, w = args[2].i;
	int st = check_width(vm, w);
	int i;

	if (st)
		return st;
	if (off < 0 || off > (int64_t)s->len - w) {
		char msg[96];

		snprintf(msg, sizeof(msg), "offset %lld, width %lld, length %u",
			 (long long)off, (long long)w, s->len);
		return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
	}
	*v = 0;
	for (i = 0; i < w; i++)
		*v |= (uint64_t)s->b[off + i] << (8 * i);
	return KVM_OK;
}

/* Zero-extended: a width-8 value may come out negative all the same. */
int nat_String_unpack(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	uint64_t v;
	int st = unpack_bytes(vm, args, &v);

	if (!st)
		ret->i = (int64_t)v;
	return st;
}

int nat_String_unpackSigned(struct kvm *vm, union kvalue *args,
			    union kvalue *ret)
{
	unsigned int shift = 64 - 8 * (unsigned int)args[2].i;
	uint64_t v;
	int st = unpack_bytes(vm, args, &v);

	/* the width's top bit to bit 63, then an arithmetic shift back */
	if (!st)
		ret->i = (int64_t)(v << shift) >> shift;
	return st;
}

/* The low w bytes of v, little-endian, as a String of w bytes. */
int nat_String_pack(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	uint64_t v = (uint64_t)args[0].i;
	int64_t w = args[1].i;
	uint8_t b[8];
	int st = check_width(vm, w), i;

	if (st)
		return st;
	for (i = 0; i < w; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return ret_str(vm, ret, b, (size_t)w);
}

/* -1, 0 or 1 by comparison: a - b, the usual trick, can overflow. */
int nat_Math_compare(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)vm;
	ret->i = args[0].i < args[1].i ? -1 : args[0].i > args[1].i;
	return KVM_OK;
}

/* ---- (1.1) String.format ------------------------------------------------- */

/* One directive of String.format: %[-0][width]conv. */
struct fmt_dir {
	uint32_t at;		/* index of its '%' in fmt */
	char flag;		/* '-', '0' or 0 */
	uint32_t width;		/* 0: none */
	char conv;
};

/* Every malformed format or argument throws IllegalArgumentException. */
static int fmt_fail(struct kvm *vm, const char *msg)
{
	return kvm_throw_new(vm, KC_IllegalArgumentException, msg);
}

/*
 * Reads the directive whose '%' is at *i (not "%%"), leaving *i after it;
 * false when it is malformed: no conversion, an unknown one, a flag
 * without a width, a width outside 1..9999 or with a leading zero, or
 * the flag 0 on c or s.
 */
static bool fmt_parse(const struct kstr *fmt, uint32_t *i, struct fmt_dir *d)
{
	uint32_t p = *i + 1;

	d->at = *i;
	d->flag = 0;
	d->width = 0;
	if (p < fmt->len && (fmt->b[p] == '-' || fmt->b[p] == '0'))
		d->flag = (char)fmt->b[p++];
	if (p < fmt->len && fmt->b[p] >= '1' && fmt->b[p] <= '9') {
		while (p < fmt->len && fmt->b[p] >= '0' && fmt->b[p] <= '9') {
			if (d->width > 9999)
				return false;
			d->width = d->width * 10 + (fmt->b[p++] - '0');
		}
		if (d->width > 9999)
			return false;
	}
	if (p >= fmt->len || (d->flag && !d->width))
		return false;
	d->conv = (char)fmt->b[p];
	*i = p + 1;
	if (!strchr("dxXobcs", d->conv) || !d->conv)
		return false;
	return !(d->flag == '0' && (d->conv == 'c' || d->conv == 's'));
}

/* Digits of v for conv d x X o b (the last four as unsigned), no sign. */
static uint32_t fmt_digits(char conv, int64_t v, char *buf, bool *neg)
{
	/* 64 digits at most: an int in base 2; buf holds as many */
	const char *dig = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned int base = conv == 'd' ? 10 : conv == 'o' ? 8 :
			    conv == 'b' ? 2 : 16;
	uint64_t u = (uint64_t)v;
	char tmp[64];
	uint32_t n = 0, k = 0;

	*neg = conv == 'd' && v < 0;
	if (*neg)
		u = 0 - u;
	do {
		tmp[n++] = dig[u % base];
		u /= base;
	} while (u);
	while (n)
		buf[k++] = tmp[--n];
	return k;
}

/* Appends n bytes of ch. */
static int buf_fill(struct kvm *vm, struct kbuf *b, char ch, uint32_t n)
{
	char pad[64];
	int st = KVM_OK;

	memset(pad, ch, sizeof(pad));
	while (n && !st) {
		uint32_t k = n < sizeof(pad) ? n : sizeof(pad);

		st = kvm_buf_put(vm, b, pad, k);
		n -= k;
	}
	return st;
}

/* An int directive on the boxed int v, padded as d says. */
static int fmt_int(struct kvm *vm, struct kbuf *b, const struct fmt_dir *d,
		   int64_t v)
{
	char digits[64];
	uint32_t n, len, pad;
	bool neg;
	int st;

	if (d->conv == 'c') {
		uint8_t c = (uint8_t)v;

		n = 1;
		neg = false;
		digits[0] = (char)c;
	} else {
		n = fmt_digits(d->conv, v, digits, &neg);
	}
	/* the sign goes after space padding, before zero padding */
	len = n + (neg ? 1 : 0);
	pad = d->width > len ? d->width - len : 0;
	st = KVM_OK;
	if (pad && !d->flag)
		st = buf_fill(vm, b, ' ', pad);
	if (!st && neg)
		st = kvm_buf_put(vm, b, "-", 1);
	if (!st && pad && d->flag == '0')
		st = buf_fill(vm, b, '0', pad);
	if (!st)
		st = kvm_buf_put(vm, b, digits, n);
	if (!st && pad && d->flag == '-')
		st = buf_fill(vm, b, ' ', pad);
	return st;
}

/*
 * A %s directive: the string conversion of v (which may call a toString
 * and so run script code), padded to the width on the left, or on the
 * right with the flag -.
 */
static int fmt_str(struct kvm *vm, struct kbuf *b, const struct fmt_dir *d,
		   struct kobj *v)
{
	size_t start = b->len, len;
	uint32_t pad;
	union kvalue x;
	int st;

	x.o = v;
	st = kvm_buf_put_value(vm, b, x, vm->img->t_any);
	if (st)
		return st;
	len = b->len - start;
	if (len >= d->width)
		return KVM_OK;
	pad = d->width - (uint32_t)len;
	st = buf_fill(vm, b, ' ', pad);
	if (st || d->flag == '-')
		return st;
	/* move the conversion right, the padding in front of it */
	memmove(b->p + start + pad, b->p + start, len);
	memset(b->p + start, ' ', pad);
	return KVM_OK;
}

/*
 * The failures of one directive d on the argument v (an Any: a boxed int
 * for d x X o b c), as the language reference §8 words them; KVM_OK when
 * the argument fits.
 */
static int fmt_check_arg(struct kvm *vm, const struct fmt_dir *d,
			 struct kobj *v)
{
	char msg[200], tn[96];

	if (d->conv == 's')
		return KVM_OK;
	if (!v || v->kind != KO_BOXI) {
		kvm_obj_type_name(vm, v, tn, sizeof(tn));
		snprintf(msg, sizeof(msg),
			 "directive at index %u needs an int, got %s", d->at,
			 tn);
		return fmt_fail(vm, msg);
	}
	if (d->conv == 'c' && (uint64_t)((struct kbox *)v)->v > 255) {
		snprintf(msg, sizeof(msg),
			 "directive at index %u needs a byte, got %lld", d->at,
			 (long long)((struct kbox *)v)->v);
		return fmt_fail(vm, msg);
	}
	return KVM_OK;
}

/*
 * String.format(fmt, args): one pass over fmt, left to right, so the
 * first failure in fmt's order is the one thrown (after any toString
 * calls of the directives before it); the count of arguments is checked
 * at the end.  The scan of fmt is charged up front, each directive one
 * unit (an element converted) and its padding by the byte, and the
 * result's bytes before it is made.  args is read again at each
 * directive: a toString may change it.
 */
int nat_String_format(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	struct kstr *fmt = ARG_STR(0);
	struct karr *av = ARG_ARR(1);
	struct kbuf b = { 0 };
	struct fmt_dir d;
	uint32_t i = 0, lit, used = 0;
	char msg[120];
	int st = KVM_OK;

	if (!fmt || !av)
		return npe(vm);
	if (!charge_bytes(vm, fmt->len))
		return KVM_ABORT;
	if (kvm_push_root(vm, &fmt->h))
		return KVM_ABORT;
	if (kvm_push_root(vm, &av->h)) {
		kvm_pop_roots(vm, 1);
		return KVM_ABORT;
	}
	while (i < fmt->len && !st) {
		struct kobj *v;

		for (lit = i; i < fmt->len && fmt->b[i] != '%'; i++)
			;
		st = kvm_buf_put(vm, &b, fmt->b + lit, i - lit);
		if (st || i == fmt->len)
			break;
		if (i + 1 < fmt->len && fmt->b[i + 1] == '%') {
			st = kvm_buf_put(vm, &b, "%", 1);
			i += 2;
			continue;
		}
		if (!fmt_parse(fmt, &i, &d)) {
			snprintf(msg, sizeof(msg),
				 "bad format directive at index %u", d.at);
			st = fmt_fail(vm, msg);
			break;
		}
		if (used >= av->len) {
			snprintf(msg, sizeof(msg),
				 "missing argument for directive at index %u",
				 d.at);
			st = fmt_fail(vm, msg);
			break;
		}
		v = av->v[used++].o;
		st = fmt_check_arg(vm, &d, v);
		if (!st && !kvm_charge(vm, 1 + d.width / 64))
			st = KVM_ABORT;
		if (!st)
			st = d.conv == 's' ? fmt_str(vm, &b, &d, v) :
			     fmt_int(vm, &b, &d, ((struct kbox *)v)->v);
	}
	if (!st && used < av->len) {
		snprintf(msg, sizeof(msg),
			 "too many arguments: %u given, %u used", av->len,
			 used);
		st = fmt_fail(vm, msg);
	}
	kvm_pop_roots(vm, 2);
	if (!st && !charge_bytes(vm, b.len))
		st = KVM_ABORT;
	if (!st)
		st = ret_str(vm, ret, b.p, b.len);
	kvm_buf_free(vm, &b);
	return st;
}

/* ---- (1.1) Ioctl command numbers, System.param ---------------------------- */

/*
 * Linux's _IOC(dir, type, nr, size) (the language reference §9.1): type
 * and nr 0..255, size 0..16383, checked in that order, else
 * IllegalArgumentException.  frontend/checker.py folds the same formula
 * for constant arguments (and refuses bad constant ones at compile time).
 */
static int ioctl_number(struct kvm *vm, union kvalue *ret, int64_t dir,
			int64_t type, int64_t nr, int64_t size)
{
	char msg[48];

	if (type < 0 || type > 255)
		snprintf(msg, sizeof(msg), "bad ioctl type %lld",
			 (long long)type);
	else if (nr < 0 || nr > 255)
		snprintf(msg, sizeof(msg), "bad ioctl nr %lld", (long long)nr);
	else if (size < 0 || size > 16383)
		snprintf(msg, sizeof(msg), "bad ioctl size %lld",
			 (long long)size);
	else {
		ret->i = dir << 30 | size << 16 | type << 8 | nr;
		return KVM_OK;
	}
	return kvm_throw_new(vm, KC_IllegalArgumentException, msg);
}

int nat_Ioctl_io(struct kvm *vm, union kvalue *args,
		 union kvalue *ret)
{
	return ioctl_number(vm, ret, 0, args[0].i, args[1].i, 0);
}

int nat_Ioctl_iow(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	return ioctl_number(vm, ret, 1, args[0].i, args[1].i, args[2].i);
}

int nat_Ioctl_ior(struct kvm *vm, union kvalue *args,
		  union kvalue *ret)
{
	return ioctl_number(vm, ret, 2, args[0].i, args[1].i, args[2].i);
}

int nat_Ioctl_iowr(struct kvm *vm, union kvalue *args,
		   union kvalue *ret)
{
	return ioctl_number(vm, ret, 3, args[0].i, args[1].i, args[2].i);
}

/*
 * The load-time parameter name (params.c), as a new String, or null when
 * it was not given.  The names compared and the value copied are charged.
 */
int nat_System_param(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	struct kstr *name = ARG_STR(0);
	const char *val;
	size_t n, scanned;
	bool found;

	if (!name)
		return npe(vm);
	found = kvm_param_find(vm, name->b, name->len, &val, &n, &scanned);
	if (!charge_bytes(vm, scanned))
		return KVM_ABORT;
	if (!found) {
		ret->o = NULL;
		return KVM_OK;
	}
	if (!charge_bytes(vm, n))
		return KVM_ABORT;
	return ret_str(vm, ret, val, n);
}

/* ---- (1.1) CharDevice, File, InputStream.read ---------------------------- */

/* The mode field's default, as Device's. */
int nat_CharDevice_CharDevice_init(struct kvm *vm, union kvalue *args,
				   union kvalue *ret)
{
	(void)vm; (void)ret;
	ARG_INST(0)->f[KF_DEVICE_MODE].i = 0600;
	return KVM_OK;
}

/*
 * The default callbacks of a CharDevice (the language reference §9.1):
 * open and release do nothing, read writes nothing (end of file), write
 * and ioctl fail with EINVAL and ENOTTY, poll answers IN | OUT and seek
 * moves within 0.. from the start or the position, never from the end.
 */
int nat_CharDevice_open(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

int nat_CharDevice_read(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

int nat_CharDevice_write(struct kvm *vm, union kvalue *args,
			 union kvalue *ret)
{
	(void)args; (void)ret;
	return kvm_throw_deverr(vm, EINVAL, "write not supported");
}

int nat_CharDevice_ioctl(struct kvm *vm, union kvalue *args,
			 union kvalue *ret)
{
	(void)args; (void)ret;
	return kvm_throw_deverr(vm, ENOTTY, "ioctl not supported");
}

int nat_CharDevice_release(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	(void)vm; (void)args; (void)ret;
	return KVM_OK;
}

int nat_CharDevice_poll(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	(void)vm; (void)args;
	ret->i = KDEV_POLL_IN | KDEV_POLL_OUT;
	return KVM_OK;
}

int nat_CharDevice_seek(struct kvm *vm, union kvalue *args,
			union kvalue *ret)
{
	struct kinst *f = ARG_INST(1);
	int64_t off = args[2].i, base, np;

	if (!f)
		return npe(vm);
	switch (args[3].i) {
	case 0:
		base = 0;
		break;
	case 1:
		base = f->f[KF_FILE_POS].i;
		break;
	default:
		return kvm_throw_deverr(vm, EINVAL, "cannot seek from there");
	}
	if (__builtin_add_overflow(base, off, &np) || np < 0)
		return kvm_throw_deverr(vm, EINVAL, "negative position");
	ret->i = np;
	return KVM_OK;
}

/* CharDevice.register is static: no receiver check was made for it. */
int nat_CharDevice_register(struct kvm *vm, union kvalue *args,
			    union kvalue *ret)
{
	(void)ret;
	if (!args[0].o || !args[1].o)
		return npe(vm);
	return kvm_device_register(vm, args[0].o, args[1].o, true);
}

/*
 * File: what device.c stored before the callback (the call's position
 * and flags); a File kept after its release keeps its last answers.
 */
int nat_File_position(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	(void)vm;
	ret->i = ARG_INST(0)->f[KF_FILE_POS].i;
	return KVM_OK;
}

int nat_File_canRead(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)vm;
	ret->i = !!(ARG_INST(0)->f[KF_FILE_FLAGS].i & KDEV_FL_READ);
	return KVM_OK;
}

int nat_File_canWrite(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	(void)vm;
	ret->i = !!(ARG_INST(0)->f[KF_FILE_FLAGS].i & KDEV_FL_WRITE);
	return KVM_OK;
}

KP_PATH int nat_File_nonBlocking(struct kvm *vm, union kvalue *args,
				 union kvalue *ret)
{
	(void)vm;
	ret->i = !!(ARG_INST(0)->f[KF_FILE_FLAGS].i & KDEV_FL_NONBLOCK);
	return KVM_OK;
}

/*
 * The caller's memory is reachable only from the ioctl callback of that
 * file, in the caller's own call (vm->cb, set by kdev_ioctl), and at
 * most KDEV_USER_MAX bytes at once.  KVM_OK, or the status of the throw.
 */
static int user_check(struct kvm *vm, struct kobj *file, int64_t n)
{
	char msg[48];

	if (!vm->cb || vm->cb->ufile != file || !vm->cb->um)
		return kvm_throw_new(vm, KC_IllegalStateException,
				     "cannot access user memory here");
	if (n < 0 || n > KDEV_USER_MAX) {
		snprintf(msg, sizeof(msg), "bad length %lld", (long long)n);
		return kvm_throw_new(vm, KC_IllegalArgumentException, msg);
	}
	return KVM_OK;
}

/* n bytes at the caller's addr, as a new String; EFAULT on a bad one. */
int nat_File_readUser(struct kvm *vm, union kvalue *args,
		      union kvalue *ret)
{
	int64_t n = args[2].i;
	struct kstr *s;
	int st = user_check(vm, args[0].o, n);

	if (st)
		return st;
	if (!charge_bytes(vm, (uint64_t)n))
		return KVM_ABORT;
	s = kvm_str_new(vm, NULL, (size_t)n);
	if (!s)
		return KVM_ABORT;
	if (n && vm->cb->um->get(vm->cb->um->ctx, (uint64_t)args[1].i, s->b,
				 (size_t)n))
		return kvm_throw_deverr(vm, EFAULT, "bad user address");
	ret->o = &s->h;
	return KVM_OK;
}

/* The bytes of a String to the caller's addr; EFAULT on a bad one. */
int nat_File_writeUser(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	struct kstr *b = ARG_STR(2);
	int st;

	(void)ret;
	if (!b)
		return npe(vm);
	st = user_check(vm, args[0].o, b->len);
	if (st)
		return st;
	if (!charge_bytes(vm, b->len))
		return KVM_ABORT;
	if (b->len && vm->cb->um->put(vm->cb->um->ctx, (uint64_t)args[1].i,
				      b->b, b->len))
		return kvm_throw_deverr(vm, EFAULT, "bad user address");
	return KVM_OK;
}

/* Up to max bytes of the rest of the input; "" at its end or for max <= 0. */
KP_PATH int nat_InputStream_read(struct kvm *vm, union kvalue *args,
				 union kvalue *ret)
{
	struct kstream *s = (struct kstream *)args[0].o;
	int64_t max = args[1].i;
	uint32_t n = s->len - s->pos;
	int st = stream_check(vm, s);

	if (st)
		return st;
	if (max <= 0)
		n = 0;
	else if ((uint64_t)max < n)
		n = (uint32_t)max;
	if (!charge_bytes(vm, n))
		return KVM_ABORT;
	st = ret_str(vm, ret, s->buf + s->pos, n);
	if (!st)
		s->pos += n;
	return st;
}

/* ---- (1.1) WaitQueue, Timer, PollTable.wait (wait.c) --------------------- */

int nat_WaitQueue_WaitQueue_init(struct kvm *vm, union kvalue *args,
				 union kvalue *ret)
{
	(void)ret;
	return kvm_wq_init(vm, args[0].o);
}

KP_PATH int nat_WaitQueue_await(struct kvm *vm, union kvalue *args,
				union kvalue *ret)
{
	bool woken;

	(void)ret;
	return kvm_wq_wait(vm, args[0].o, -1, &woken);
}

/* true: woken up; false: ms (clamped to 0..10,000) passed first */
int nat_WaitQueue_awaitFor(struct kvm *vm, union kvalue *args,
			   union kvalue *ret)
{
	bool woken;
	int st = kvm_wq_wait(vm, args[0].o, kvm_await_ms(args[1].i), &woken);

	ret->i = woken;
	return st;
}

KP_PATH int nat_WaitQueue_wakeOne(struct kvm *vm, union kvalue *args,
				  union kvalue *ret)
{
	(void)ret;
	kvm_wq_wake(vm, args[0].o, false);
	return KVM_OK;
}

KP_PATH int nat_WaitQueue_wakeAll(struct kvm *vm, union kvalue *args,
				  union kvalue *ret)
{
	(void)ret;
	kvm_wq_wake(vm, args[0].o, true);
	return KVM_OK;
}

/* new Timer(f): a null f fails here rather than when the timer fires */
int nat_Timer_Timer_init(struct kvm *vm, union kvalue *args,
			 union kvalue *ret)
{
	(void)ret;
	if (!args[1].o)
		return npe(vm);
	ARG_INST(0)->f[KF_TIMER_F].o = args[1].o;
	return KVM_OK;
}

int nat_Timer_start(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	(void)ret;
	return kvm_timer_start(vm, args[0].o, args[1].i, false);
}

int nat_Timer_every(struct kvm *vm, union kvalue *args,
		    union kvalue *ret)
{
	(void)ret;
	return kvm_timer_start(vm, args[0].o, args[1].i, true);
}

int nat_Timer_cancel(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)ret;
	return kvm_timer_cancel(vm, args[0].o);
}

int nat_Timer_active(struct kvm *vm, union kvalue *args,
		     union kvalue *ret)
{
	(void)vm;
	ret->i = !!ARG_INST(0)->f[KF_TIMER_ACTIVE].i;
	return KVM_OK;
}

int nat_PollTable_wait(struct kvm *vm, union kvalue *args,
		       union kvalue *ret)
{
	(void)ret;
	return kvm_poll_wait(vm, args[0].o, args[1].o);
}
