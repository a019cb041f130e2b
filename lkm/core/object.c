// SPDX-License-Identifier: GPL-2.0
/*
 * object.c - allocation of K objects and their run-time types.
 *
 * Every constructor here returns an object that nothing roots yet (see
 * kvm_obj_alloc in gc.c): the caller stores it in a register, a field of a
 * rooted object or on vm->tmp before its next allocation.  A NULL result
 * means an abort is set; constructors never throw.  Each value carries its
 * exact run-time type (the language reference §3): an instance its class,
 * an array or a Func the image type index it was created with, a box
 * whether it holds an int or a boolean.
 */
#include "kvm.h"

/* Strings and arrays stay below 2^31 bytes/elements whatever the quota. */
#define KVM_MAX_LEN	0x7fffffffu

/*
 * The bytes o was charged at when allocated, header included; the storage
 * an array or a stream owns is charged apart (free_obj in gc.c).  An
 * instance's size is read from its class, which the image keeps fixed.
 */
size_t kvm_obj_size(struct kvm *vm, const struct kobj *o)
{
	switch (o->kind) {
	case KO_INSTANCE:
		return sizeof(struct kinst) + sizeof(union kvalue) *
			(size_t)vm->img->classes[o->cls]->nfields;
	case KO_STRING:
		return sizeof(struct kstr) + ((const struct kstr *)o)->len + 1;
	case KO_ARRAY:
		return sizeof(struct karr);
	case KO_FUNC:	/* (1.1) a closure's captured values included */
		return sizeof(struct kfn) + sizeof(union kvalue) *
			(size_t)((const struct kfn *)o)->ncap;
	case KO_BOXI:
	case KO_BOXZ:
		return sizeof(struct kbox);
	case KO_STREAM:
		return sizeof(struct kstream);
	case KO_MAP:
		return sizeof(struct kmap);
	}
	return 0;
}

/*
 * A String of len bytes that the caller writes, every one of them,
 * before anything reads the String (they are not zeroed first), followed
 * by a NUL so that it can be read as a C string where no NUL is
 * expected.
 */
static KP_INLINE struct kstr *str_alloc(struct kvm *vm, size_t len)
{
	struct kstr *s;

	if (len > KVM_MAX_LEN) {
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	if (!len && vm->empty_str)
		return vm->empty_str;
	s = (struct kstr *)kvm_obj_alloc_part(vm, sizeof(*s) + len + 1,
					      sizeof(*s), KO_STRING,
					      KC_String);
	if (!s)
		return NULL;
	if (!len)
		vm->empty_str = s;
	s->len = (uint32_t)len;
	s->b[len] = '\0';
	return s;
}

struct kstr *kvm_str_alloc(struct kvm *vm, size_t len)
{
	return str_alloc(vm, len);
}

/*
 * A String of the len bytes at b, which may hold NULs (see
 * kvm_str_alloc); b NULL leaves the bytes zeroed for the caller to fill
 * before the string is seen by a script.
 */
KP_PATH struct kstr *kvm_str_new(struct kvm *vm, const void *b, size_t len)
{
	struct kstr *s = str_alloc(vm, len);

	if (!s || !len)
		return s;
	if (b)
		memcpy(s->b, b, len);
	else
		memset(s->b, 0, len);
	return s;
}

struct kstr *kvm_str_cstr(struct kvm *vm, const char *s)
{
	return kvm_str_new(vm, s, strlen(s));
}

/*
 * An instance of class cls with every field at its default (0, false or
 * null, all zero bits).  Runs no constructor: the caller does.
 */
struct kinst *kvm_inst_new(struct kvm *vm, uint32_t cls)
{
	const struct kclass *c = vm->img->classes[cls];

	return (struct kinst *)kvm_obj_alloc(vm, sizeof(struct kinst) +
			sizeof(union kvalue) * (size_t)c->nfields,
			KO_INSTANCE, cls);
}

/*
 * Makes room for n elements in a, without changing its length.  The
 * capacity at least doubles, so that n appends cost O(n) copies; the new
 * slots are zeroed, so a later length increase shows default values (and
 * never a stale reference to the collector).  KVM_OK or KVM_ABORT.
 */
int kvm_arr_reserve(struct kvm *vm, struct karr *a, uint32_t n)
{
	size_t cap;
	union kvalue *v;

	if (n <= a->cap)
		return KVM_OK;
	if (n > KVM_MAX_LEN)
		return kvm_abort(vm, KVM_ABORT_OOM);
	cap = a->cap ? (size_t)a->cap * 2 : 4;
	if (cap < n)
		cap = n;
	if (cap > KVM_MAX_LEN)
		cap = KVM_MAX_LEN;
	/* the realloc may collect; a may be held by no more than a C local */
	if (kvm_push_root(vm, &a->h))
		return KVM_ABORT;
	v = kvm_mem_realloc(vm, a->v, (size_t)a->cap * sizeof(*v),
			    cap * sizeof(*v));
	kvm_pop_roots(vm, 1);
	if (!v)
		return KVM_ABORT;
	memset(v + a->cap, 0, (cap - a->cap) * sizeof(*v));
	a->v = v;
	a->cap = (uint32_t)cap;
	return KVM_OK;
}

/*
 * An array of image type `type` (a KT_ARRAY type) with len default
 * elements.  elem_ref is fixed here from the element type: it tells the
 * collector whether to read the elements as references.
 */
struct karr *kvm_arr_new(struct kvm *vm, uint32_t type, uint32_t len)
{
	const struct kimage *img = vm->img;
	struct karr *a;

	if (len > KVM_MAX_LEN) {
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	a = (struct karr *)kvm_obj_alloc(vm, sizeof(*a), KO_ARRAY, KIMG_NONE);
	if (!a)
		return NULL;
	a->type = type;
	a->elem_ref = img->types[img->types[type].elem].kind >= KT_ANY;
	if (len) {
		if (kvm_arr_reserve(vm, a, len))
			return NULL;
		a->len = len;
	}
	return a;
}

/* An int or a boolean boxed to be stored as Any (KO_BOXI / KO_BOXZ). */
struct kobj *kvm_box(struct kvm *vm, bool boolean, int64_t v)
{
	struct kbox *b;

	b = (struct kbox *)kvm_obj_alloc(vm, sizeof(*b),
					 boolean ? KO_BOXZ : KO_BOXI,
					 KIMG_NONE);
	if (!b)
		return NULL;
	b->v = v;
	return &b->h;
}

/*
 * A Func value of image type `type` calling m, bound to recv for a method
 * (NULL for a function).  recv is rooted across the allocation since the
 * caller may hold it only in a C local.
 */
struct kfn *kvm_fn_new(struct kvm *vm, uint32_t type, struct kmethod_ref m,
		       struct kobj *recv)
{
	struct kfn *f;

	if (kvm_push_root(vm, recv))
		return NULL;
	f = (struct kfn *)kvm_obj_alloc(vm, sizeof(*f), KO_FUNC, KIMG_NONE);
	kvm_pop_roots(vm, 1);
	if (!f)
		return NULL;
	f->type = type;
	f->m = m;
	f->recv = recv;
	return f;
}

/*
 * (1.1) A lambda's closure: a Func value of image type `type` calling the
 * lambda function func with the ncap captured values at cap (registers of
 * the running frame, which root them: the collector never moves objects,
 * so they are copied after the allocation).  Each evaluation of a lambda
 * makes a new one (the language reference §6), charged like any object.
 */
struct kfn *kvm_closure_new(struct kvm *vm, uint32_t type, uint32_t func,
			    const union kvalue *cap, uint32_t ncap)
{
	struct kfn *f;
	uint32_t i;

	f = (struct kfn *)kvm_obj_alloc(vm, sizeof(*f) + sizeof(union kvalue) *
					(size_t)ncap, KO_FUNC, KIMG_NONE);
	if (!f)
		return NULL;
	f->type = type;
	f->m.func = func;
	f->m.native = KIMG_NONE;
	f->ncap = ncap;
	for (i = 0; i < ncap; i++)
		f->cap[i] = cap[i];
	return f;
}

/*
 * The class of o for subclass tests and class names: instances and
 * streams carry theirs, a string is a String; arrays, Funcs and boxes
 * have none (KIMG_NONE).
 */
uint32_t kvm_obj_class(const struct kobj *o)
{
	switch (o->kind) {
	case KO_INSTANCE:
	case KO_STREAM:
		return o->cls;
	case KO_STRING:
		return KC_String;
	default:
		return KIMG_NONE;
	}
}

/*
 * Whether the non-null o belongs to image type `type`, for casts and
 * instanceof (the caller handles null).  Arrays and Func types are
 * invariant: they match by type index, which is one per type since the
 * reader refuses duplicate types.
 */
bool kvm_instance_of(struct kvm *vm, const struct kobj *o, uint32_t type)
{
	const struct ktype *t = &vm->img->types[type];
	uint32_t cls;

	switch (t->kind) {
	case KT_ANY:
		return true;
	case KT_INT:
		return o->kind == KO_BOXI;
	case KT_BOOL:
		return o->kind == KO_BOXZ;
	case KT_CLASS:
		cls = kvm_obj_class(o);
		return cls != KIMG_NONE && kimg_subclass(vm->img, cls, t->elem);
	case KT_ARRAY:
		return o->kind == KO_ARRAY &&
			((const struct karr *)o)->type == type;
	case KT_FUNC:
		return o->kind == KO_FUNC &&
			((const struct kfn *)o)->type == type;
	case KT_MAP:	/* (1.1) both exact types: equal map types */
		return o->kind == KO_MAP &&
			((const struct kmap *)o)->type == type;
	case KT_IFACE:	/* (1.1) the class implements it (its itable) */
		cls = kvm_obj_class(o);
		return cls != KIMG_NONE &&
			kimg_find_impl(vm->img, cls, t->elem) != NULL;
	default:
		return false;
	}
}

/*
 * The run-time type of o (NULL: "null") as the language writes it, into
 * buf, NUL-terminated and cut to len; for exception messages.
 */
void kvm_obj_type_name(struct kvm *vm, const struct kobj *o, char *buf,
		       size_t len)
{
	const char *name = NULL;

	if (!len)
		return;
	switch (o ? o->kind : 0) {
	case 0:
		name = "null";
		break;
	case KO_INSTANCE:
	case KO_STREAM:
	case KO_STRING:
		name = vm->img->classes[kvm_obj_class(o)]->name;
		break;
	case KO_BOXI:
		name = "int";
		break;
	case KO_BOXZ:
		name = "boolean";
		break;
	case KO_ARRAY:
		kimg_type_name(vm->img, ((const struct karr *)o)->type, buf,
			       len);
		return;
	case KO_FUNC:
		kimg_type_name(vm->img, ((const struct kfn *)o)->type, buf,
			       len);
		return;
	case KO_MAP:
		kimg_type_name(vm->img, ((const struct kmap *)o)->type, buf,
			       len);
		return;
	}
	snprintf(buf, len, "%s", name ? name : "?");
}

/* Byte equality of two Strings, either of them NULL (null == null). */
bool kvm_str_eq(const struct kobj *a, const struct kobj *b)
{
	const struct kstr *x = (const struct kstr *)a;
	const struct kstr *y = (const struct kstr *)b;

	if (a == b)
		return true;
	if (!a || !b)
		return false;
	return x->len == y->len && !memcmp(x->b, y->b, x->len);
}
