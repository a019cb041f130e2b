// SPDX-License-Identifier: GPL-2.0
/*
 * string.c - string conversion (language reference §6) and byte buffers.
 *
 * Arrays and (1.1) maps are converted with an explicit stack (vm->conv,
 * also a GC root; its entries carry KOBJ_CONVERTING), never by C
 * recursion, so a deeply
 * nested array cannot overflow the 16 KiB kernel stack; objects call
 * their toString (vtable slot 0), which may re-enter the interpreter
 * (bounded by KVM_MAX_NEST in vm.c).  Every array element costs 8 units
 * of budget, every 64 bytes of a string copied one more, and the buffer
 * is charged as any allocation.
 *
 * A conversion is built in a struct kbuf, which is charged memory but not
 * an object: nothing points into it, so a collection during a toString
 * leaves it alone.  Only the final kvm_str_new() makes a String.
 */
#include "kvm.h"

/*
 * Appends n bytes to b, doubling its capacity (64 bytes at first).  The
 * length stays below 2^31, the limit of a String.  KVM_OK, or KVM_ABORT
 * with b as it was (still to be freed by the caller).
 */
int kvm_buf_put(struct kvm *vm, struct kbuf *b, const void *s, size_t n)
{
	size_t cap;
	char *p;

	if (n > 0x7fffffffu || b->len + n > 0x7fffffffu)
		return kvm_abort(vm, KVM_ABORT_OOM);
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap * 2 : 64;
		while (cap < b->len + n)
			cap *= 2;
		p = kvm_mem_realloc(vm, b->p, b->cap, cap);
		if (!p)
			return KVM_ABORT;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	return KVM_OK;
}

/* Frees b's bytes (charged at b->cap) and leaves it empty and reusable. */
void kvm_buf_free(struct kvm *vm, struct kbuf *b)
{
	kvm_mem_free(vm, b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

/*
 * Writes v in decimal and a NUL to buf (21 bytes at least: a sign and 19
 * digits); returns the length.  The magnitude is taken as unsigned so
 * that INT64_MIN, which has no positive int64_t, prints right.
 */
int kvm_fmt_int(char *buf, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return len;
}

struct kstr *kvm_int_to_str(struct kvm *vm, int64_t v)
{
	char buf[24];
	int n = kvm_fmt_int(buf, v);

	return kvm_str_new(vm, buf, (size_t)n);
}

static int put_int(struct kvm *vm, struct kbuf *b, int64_t v)
{
	char buf[24];
	int n = kvm_fmt_int(buf, v);

	return kvm_buf_put(vm, b, buf, (size_t)n);
}

/*
 * (1.1) A lambda's value: "<lambda FILE:LINE>", FILE as trace lines name
 * it and LINE where the lambda begins, the digits that end its function's
 * name ("main.lambda@12"; the loader checked that form).
 */
static int put_lambda(struct kvm *vm, struct kbuf *b, const char *name)
{
	const char *src = vm->img->source_name;
	const char *line = strrchr(name, '@') + 1;
	int st;

	st = kvm_buf_put(vm, b, "<lambda ", 8);
	if (!st)
		st = kvm_buf_put(vm, b, src, strlen(src));
	if (!st)
		st = kvm_buf_put(vm, b, ":", 1);
	if (!st)
		st = kvm_buf_put(vm, b, line, strlen(line));
	if (!st)
		st = kvm_buf_put(vm, b, ">", 1);
	return st;
}

/*
 * A Func value: "<function NAME>", or "<method NAME>" when it is bound to
 * a receiver; a native's name is prefixed by the class that owns it.
 */
static int put_func(struct kvm *vm, struct kbuf *b, const struct kfn *f)
{
	const char *name, *owner = NULL;
	int st;

	if (f->m.func != KIMG_NONE &&
	    (vm->img->funcs[f->m.func].flags & KFN_LAMBDA))
		return put_lambda(vm, b, vm->img->funcs[f->m.func].name);
	if (f->m.func != KIMG_NONE) {
		name = vm->img->funcs[f->m.func].name;
	} else {
		owner = kb_natives[f->m.native].owner;
		name = kb_natives[f->m.native].name;
	}
	st = kvm_buf_put(vm, b, f->recv ? "<method " : "<function ",
			 f->recv ? 8 : 10);
	if (!st && owner) {
		st = kvm_buf_put(vm, b, owner, strlen(owner));
		if (!st)
			st = kvm_buf_put(vm, b, ".", 1);
	}
	if (!st)
		st = kvm_buf_put(vm, b, name, strlen(name));
	if (!st)
		st = kvm_buf_put(vm, b, ">", 1);
	return st;
}

/* Whether the array a is on vm->conv, in this conversion or an outer one. */
static bool converting(const struct kobj *a)
{
	return a->flags & KOBJ_CONVERTING;
}

/*
 * Pops the conversion stack down to base, clearing the flags: every exit
 * of put_array (an error included) does, so no array stays flagged.
 */
static void conv_pop_to(struct kvm *vm, uint32_t base)
{
	while (vm->nconv > base)
		vm->conv[--vm->nconv].o->flags &= ~KOBJ_CONVERTING;
}

/*
 * Pushes the array a, whose elements are converted next, and flags it.
 * KVM_ABORT (out of memory) leaves a neither pushed nor flagged.
 */
static int conv_push(struct kvm *vm, struct kobj *a)
{
	struct kconv *c;
	uint32_t cap;

	if (vm->nconv == vm->conv_cap) {
		cap = vm->conv_cap ? vm->conv_cap * 2 : 16;
		c = kvm_mem_realloc(vm, vm->conv,
				    vm->conv_cap * sizeof(*c),
				    cap * sizeof(*c));
		if (!c)
			return KVM_ABORT;
		vm->conv = c;
		vm->conv_cap = cap;
	}
	vm->conv[vm->nconv].o = a;
	vm->conv[vm->nconv].i = 0;
	vm->nconv++;
	a->flags |= KOBJ_CONVERTING;
	return KVM_OK;
}

/*
 * Calls toString (vtable slot 0) of an object; *out may become NULL.  The
 * result is not rooted: the caller roots it before it allocates.
 */
static int call_tostring(struct kvm *vm, struct kobj *o, struct kstr **out)
{
	const struct kclass *c = vm->img->classes[kvm_obj_class(o)];
	union kvalue arg, ret;
	int st;

	arg.o = o;
	st = kvm_invoke(vm, c->vtable[0], &arg, 1, &ret);
	*out = (struct kstr *)ret.o;
	return st;
}

/*
 * Appends the conversion of a reference that is not an array.  The
 * result of a toString is rooted while the buffer grows.
 */
static int put_scalar_ref(struct kvm *vm, struct kbuf *b, struct kobj *o)
{
	struct kstr *s;
	int st;

	if (!o)
		return kvm_buf_put(vm, b, "null", 4);
	switch (o->kind) {
	case KO_STRING:
		s = (struct kstr *)o;
		if (!kvm_charge(vm, s->len / 64))
			return KVM_ABORT;
		return kvm_buf_put(vm, b, s->b, s->len);
	case KO_BOXI:
		return put_int(vm, b, ((struct kbox *)o)->v);
	case KO_BOXZ:
		return ((struct kbox *)o)->v ? kvm_buf_put(vm, b, "true", 4) :
			kvm_buf_put(vm, b, "false", 5);
	case KO_FUNC:
		return put_func(vm, b, (struct kfn *)o);
	default:
		st = call_tostring(vm, o, &s);
		if (st)
			return st;
		if (!s)
			return kvm_buf_put(vm, b, "null", 4);
		if (!kvm_charge(vm, s->len / 64))
			return KVM_ABORT;
		if (kvm_push_root(vm, &s->h))
			return KVM_ABORT;
		st = kvm_buf_put(vm, b, s->b, s->len);
		kvm_pop_roots(vm, 1);
		return st;
	}
}

/* Arrays and (1.1) maps: what put_array converts with vm->conv. */
static bool is_container(const struct kobj *o)
{
	return o && (o->kind == KO_ARRAY || o->kind == KO_MAP);
}

/* "[" or "{" when c is pushed, "[...]" or "{...}" when c is on vm->conv. */
static int put_open(struct kvm *vm, struct kbuf *b, struct kobj *c)
{
	bool map = c->kind == KO_MAP;
	int st;

	if (converting(c))
		return kvm_buf_put(vm, b, map ? "{...}" : "[...]", 5);
	st = conv_push(vm, c);
	if (!st)
		st = kvm_buf_put(vm, b, map ? "{" : "[", 1);
	return st;
}

/* A map's index: an entry was written (entries are fewer than 2^30). */
#define CONV_MAP_STARTED	0x80000000u

/*
 * The next item of the container on top of vm->conv: *v and its type
 * kind, with *sep the separator before it ("", ", " or ": ").  An array's
 * index counts elements; (1.1) a map's counts entries twice (key, then
 * value), dead entries skipped.  false when it has no more.
 */
static bool conv_next(struct kvm *vm, struct kconv *top, union kvalue *v,
		      uint8_t *kind, const char **sep)
{
	const struct kimage *img = vm->img;

	if (top->o->kind == KO_ARRAY) {
		struct karr *arr = (struct karr *)top->o;

		if (top->i >= arr->len)
			return false;
		*sep = top->i ? ", " : "";
		*v = arr->v[top->i++];
		*kind = img->types[img->types[arr->type].elem].kind;
		return true;
	} else {
		struct kmap *m = (struct kmap *)top->o;
		const struct ktype *mt = &img->types[m->type];
		uint32_t i = top->i & ~CONV_MAP_STARTED, e = i / 2;

		/*
		 * A toString may have changed the map: only live entries.
		 * The dead ones skipped cost a unit each (a map keeps them
		 * until a put compacts it).
		 */
		while (e < m->used && !m->e[e].live) {
			i = ++e * 2;
			kvm_charge_work(vm, 1);
		}
		if (e >= m->used)
			return false;
		if (i & 1) {
			*sep = ": ";
			*v = m->e[e].v;
			*kind = img->types[mt->result].kind;
		} else {
			*sep = top->i & CONV_MAP_STARTED ? ", " : "";
			*v = m->e[e].k;
			*kind = img->types[mt->elem].kind;
		}
		top->i = (i + 1) | CONV_MAP_STARTED;
		return true;
	}
}

/*
 * Converts the array (or (1.1) map) a into b, iteratively: the top of
 * vm->conv is the container being printed and its next index, a nested
 * one is pushed where a recursive version would call itself.  The caller
 * roots a; the nested containers are rooted by vm->conv itself.
 */
static int put_array(struct kvm *vm, struct kbuf *b, struct kobj *a)
{
	uint32_t base = vm->nconv;
	int st;

	/*
	 * A container whose conversion is in progress further out (a
	 * toString converting the array that contains its object) prints
	 * as [...] or {...}, as nested elements do.
	 */
	if (converting(a))
		return put_open(vm, b, a);
	st = put_open(vm, b, a);
	while (!st && vm->nconv > base) {
		struct kconv *top = &vm->conv[vm->nconv - 1];
		const char *sep;
		uint8_t ek;
		union kvalue e;

		if (!conv_next(vm, top, &e, &ek, &sep)) {
			bool map = top->o->kind == KO_MAP;

			conv_pop_to(vm, vm->nconv - 1);
			st = kvm_buf_put(vm, b, map ? "}" : "]", 1);
			continue;
		}
		if (*sep)
			st = kvm_buf_put(vm, b, sep, 2);
		/* formatting an element costs about what 8 instructions do */
		if (!st && !kvm_charge(vm, 8))
			st = KVM_ABORT;
		if (st)
			break;
		if (ek == KT_INT)
			st = put_int(vm, b, e.i);
		else if (ek == KT_BOOL)
			st = e.i ? kvm_buf_put(vm, b, "true", 4) :
				kvm_buf_put(vm, b, "false", 5);
		else if (is_container(e.o))
			st = put_open(vm, b, e.o);
		else
			st = put_scalar_ref(vm, b, e.o);
	}
	conv_pop_to(vm, base);
	return st;
}

/* Appends the conversion of the reference o (null included). */
static int put_ref(struct kvm *vm, struct kbuf *b, struct kobj *o)
{
	if (is_container(o))
		return put_array(vm, b, o);
	return put_scalar_ref(vm, b, o);
}

/*
 * The string conversion of the reference o, as a String in *out (not
 * rooted).  A String converts to itself and an object to its toString
 * result, without a copy; everything else is built in a buffer.  Returns
 * KVM_OK, or the status of a toString that threw or of an abort.
 */
int kvm_ref_to_string(struct kvm *vm, struct kobj *o, struct kstr **out)
{
	struct kbuf b = { 0 };
	struct kstr *s;
	int st;

	if (o && o->kind == KO_STRING) {
		*out = (struct kstr *)o;
		return KVM_OK;
	}
	if (o && o->kind != KO_ARRAY && o->kind != KO_FUNC &&
	    o->kind != KO_BOXI && o->kind != KO_BOXZ && o->kind != KO_MAP) {
		/* an object: its toString result, "null" for null */
		st = call_tostring(vm, o, &s);
		if (st)
			return st;
		if (s) {
			*out = s;
			return KVM_OK;
		}
		o = NULL;
	}
	if (kvm_push_root(vm, o))
		return KVM_ABORT;
	st = put_ref(vm, &b, o);
	kvm_pop_roots(vm, 1);
	if (!st) {
		s = kvm_str_new(vm, b.p, b.len);
		if (!s)
			st = KVM_ABORT;
		else
			*out = s;
	}
	kvm_buf_free(vm, &b);
	return st;
}

/*
 * The string conversion of v, whose static image type is `type` (it says
 * whether v.i or v.o is meaningful).  Same contract as kvm_ref_to_string.
 */
int kvm_to_string(struct kvm *vm, union kvalue v, uint32_t type,
		  struct kstr **out)
{
	switch (vm->img->types[type].kind) {
	case KT_INT:
		*out = kvm_int_to_str(vm, v.i);
		return *out ? KVM_OK : KVM_ABORT;
	case KT_BOOL:
		*out = kvm_str_cstr(vm, v.i ? "true" : "false");
		return *out ? KVM_OK : KVM_ABORT;
	default:
		return kvm_ref_to_string(vm, v.o, out);
	}
}

/* Appends the conversion of v (of the given type) to b: used by join. */
int kvm_buf_put_value(struct kvm *vm, struct kbuf *b, union kvalue v,
		      uint32_t type)
{
	switch (vm->img->types[type].kind) {
	case KT_INT:
		return put_int(vm, b, v.i);
	case KT_BOOL:
		return v.i ? kvm_buf_put(vm, b, "true", 4) :
			kvm_buf_put(vm, b, "false", 5);
	default:
		return put_ref(vm, b, v.o);
	}
}
