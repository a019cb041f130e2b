/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kops.h - the implementations of the opcodes, shared by the interpreter
 * loop (vm.c, where they inline) and by the handlers that JIT code calls
 * (kops.c exports them as kop_NAME): one semantics for both.
 *
 * An ordinary opcode (opcodes.def's header says which) is written once,
 * here, with KOPI (below): its interpreter case in vm.c, its handler
 * kop_NAME, the handler's prototype and its export all follow from that
 * and from its opcodes.def line.  Branches, calls, returns and THROW are
 * written by hand in vm.c and kops.c, with the helpers here.
 *
 * An implementation takes the VM, the registers R of the top frame and
 * the instruction's operands, and returns KVM_OK, KVM_THROW or
 * KVM_ABORT.  Unless its opcode has the flag n (neither throws nor
 * allocates), the caller has stored the instruction's pc in the top
 * frame first (traces and abort reports read it).  An implementation
 * that may run script code (a native re-entering the VM) can move the
 * register stack: it re-reads R with kvm_top_regs() before writing a
 * result, and its caller re-reads R afterwards.
 *
 * The trivial opcodes (moves, constants, int arithmetic, compares) are
 * one-line implementations, so the interpreter and the JIT's
 * subroutine-threaded handlers run the same code; ctjit also emits them
 * as IR in place (tiny inlining).
 */
#ifndef KOPS_H
#define KOPS_H

#include "kvm.h"

/* ---- shared by vm.c and kops.c ------------------------------------------ */

int kvm_throw_obj(struct kvm *vm, struct kobj *exc);

/* JIT support (vm.c): see ctjit/README.md for the protocol. */
union kvalue *kvm_jit_push(struct kvm *vm, uint32_t f, int32_t ret_reg);
struct kjit_ret kvm_jit_interp(struct kvm *vm);
struct kjit_ret kvm_jit_run_top(struct kvm *vm);
int32_t kvm_jit_unwind(struct kvm *vm);
bool kvm_jit_refill(struct kvm *vm, int64_t n);
bool kvm_jit_poll(void);
/* kops.c: CALL of a function with a stub (the interpreter uses it too) */
int kop_CALL(struct kvm *vm, union kvalue *R, int32_t a, int32_t f,
	     int32_t b);

/* ---- what C derives from opcodes.def ---------------------------------- */

/* KOP_LEN_NAME: the words of one NAME instruction (1 + its operands). */
enum {
#define OP(name, operands, flags, doc) KOP_LEN_##name = sizeof(operands),
#include "opcodes.def"
#undef OP
};

/*
 * Does an opcodes.def flag string hold the letter c?  The compiler folds
 * the test to a constant, so vm.c selects code by it without a cost.
 */
#define KOP_FLAG(flags, c)	(__builtin_strchr(flags, c) != NULL)

/*
 * KOPI(NAME, operand parameters...) { body } implements the ordinary
 * opcode NAME: one that neither branches nor pushes frames (opcodes.def's
 * header).  It defines the inline kopi_NAME(vm, R, operands...), with one
 * int32_t parameter per operand letter in their order (checked against
 * opcodes.def at compile time), whose body returns KVM_OK, KVM_THROW or
 * KVM_ABORT.  From that one definition come:
 *  - kopx_NAME(vm, R, ip): the same, with the operands read from the
 *    instruction at ip; vm.c's generated case calls it;
 *  - in kops.c (KOPS_HANDLERS): kop_NAME, the out-of-line handler JIT
 *    code calls, with its prototype; kops.c exports every kop_NAME.
 * The parameters vm and R are there for every opcode, used or not.
 */
#define KOP_UNUSED	__attribute__((__unused__))
#define KOP_P(x)	int32_t x KOP_UNUSED
#define KOP_NARGS(...)	KOP_NARGS_(, ##__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define KOP_NARGS_(z, a, b, c, d, e, f, n, ...)	n
#define KOP_CAT(a, b)	KOP_CAT_(a, b)
#define KOP_CAT_(a, b)	a##b
#define KOP_PARAMS(...)	KOP_CAT(KOP_PARAMS_, KOP_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define KOP_PARAMS_0()
#define KOP_PARAMS_1(a)	, KOP_P(a)
#define KOP_PARAMS_2(a, b)	, KOP_P(a), KOP_P(b)
#define KOP_PARAMS_3(a, b, c)	, KOP_P(a), KOP_P(b), KOP_P(c)
#define KOP_PARAMS_4(a, b, c, d)	KOP_PARAMS_3(a, b, c), KOP_P(d)
#define KOP_PARAMS_5(a, b, c, d, e)	KOP_PARAMS_4(a, b, c, d), KOP_P(e)
#define KOP_PARAMS_6(a, b, c, d, e, f)	KOP_PARAMS_5(a, b, c, d, e), KOP_P(f)
/* the operand parameters, as arguments */
#define KOP_ARGS(...)	KOP_CAT(KOP_ARGS_, KOP_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define KOP_ARGS_0()
#define KOP_ARGS_1(a)	, a
#define KOP_ARGS_2(a, b)	, a, b
#define KOP_ARGS_3(a, b, c)	, a, b, c
#define KOP_ARGS_4(a, b, c, d)	, a, b, c, d
#define KOP_ARGS_5(a, b, c, d, e)	, a, b, c, d, e
#define KOP_ARGS_6(a, b, c, d, e, f)	, a, b, c, d, e, f
/* the operand words of the instruction at ip, as arguments */
#define KOP_IPARGS_0
#define KOP_IPARGS_1	, ip[1]
#define KOP_IPARGS_2	KOP_IPARGS_1, ip[2]
#define KOP_IPARGS_3	KOP_IPARGS_2, ip[3]
#define KOP_IPARGS_4	KOP_IPARGS_3, ip[4]
#define KOP_IPARGS_5	KOP_IPARGS_4, ip[5]
#define KOP_IPARGS_6	KOP_IPARGS_5, ip[6]
#define KOP_SIG(...)							\
	struct kvm *vm KOP_UNUSED, union kvalue *R KOP_UNUSED		\
	KOP_PARAMS(__VA_ARGS__)

#ifdef KOPS_HANDLERS
#define KOP_HANDLER(name, ...)						\
	int kop_##name(KOP_SIG(__VA_ARGS__));				\
	int kop_##name(KOP_SIG(__VA_ARGS__))				\
	{								\
		return kopi_##name(vm, R KOP_ARGS(__VA_ARGS__));	\
	}
#else
#define KOP_HANDLER(name, ...)
#endif

#define KOPI(name, ...)							\
	_Static_assert(KOP_LEN_##name == 1 + KOP_NARGS(__VA_ARGS__),	\
		       "kopi_" #name ": one parameter per operand letter"); \
	static inline int kopi_##name(KOP_SIG(__VA_ARGS__));		\
	KOP_HANDLER(name, __VA_ARGS__)					\
	static inline __attribute__((__always_inline__)) int		\
	kopx_##name(struct kvm *vm, union kvalue *R,			\
		    const int32_t *ip KOP_UNUSED)				\
	{								\
		return kopi_##name(vm, R				\
			KOP_CAT(KOP_IPARGS_, KOP_NARGS(__VA_ARGS__)));	\
	}								\
	static inline int kopi_##name(KOP_SIG(__VA_ARGS__))

/*
 * The registers of the top frame.  Re-read after anything that may run
 * script code: a call can grow, and so move, the register stack.
 */
static inline union kvalue *kvm_top_regs(struct kvm *vm)
{
	return vm->stack + vm->frames[vm->nframes - 1].base;
}

/* The function of the instruction in progress: its types, its caches. */
static inline const struct kfunc *kvm_top_fn(struct kvm *vm)
{
	return vm->frames[vm->nframes - 1].fn;
}

/*
 * "cannot cast A to B": o's run-time type against image type `type`.
 * The throw helpers are out of line: the rare path keeps its buffers out
 * of the interpreter's frame (see the 16 KiB kernel stack, kvm.h).
 */
static KP_NOINLINE __attribute__((__unused__)) int throw_cast(struct kvm *vm, const struct kobj *o,
				  uint32_t type)
{
	char a[96], b[96], msg[224];

	kvm_obj_type_name(vm, o, a, sizeof(a));
	kimg_type_name(vm->img, type, b, sizeof(b));
	snprintf(msg, sizeof(msg), "cannot cast %s to %s", a, b);
	return kvm_throw_new(vm, KC_ClassCastException, msg);
}

static KP_NOINLINE __attribute__((__unused__)) int throw_npe(struct kvm *vm)
{
	return kvm_throw_new(vm, KC_NullPointerException, "null dereference");
}

/* ---- dynamic calls (CALLA) ---------------------------------------------- */

/*
 * CALLA's inline-cache keys for receivers that are not instances: every
 * array (every map) has the same natives, so one key covers them all.
 * Class ids are below img->nclasses, so they never collide with these.
 */
#define KEY_ARRAY	(KIMG_NONE - 1)
#define KEY_MAP		(KIMG_NONE - 2)	/* (1.1) */

/*
 * A C string against an image string, which is not NUL-terminated; *work
 * grows by the budget units of the comparison (a unit per 64 bytes).
 */
static inline bool name_eq(const char *a, const struct kstr_lit *b,
			   uint64_t *work)
{
	size_t n = strlen(a);

	*work += 1 + n / 64;
	return n == b->len && !memcmp(a, b->bytes, n);
}

/*
 * The native of builtins.def on owner called name.  A linear scan of the
 * table: it runs only when a CALLA site's inline cache misses.
 */
static inline bool find_native(const char *owner, const struct kstr_lit *name,
			struct kmethod_ref *m, uint64_t *work)
{
	uint32_t n;

	for (n = 0; n < KN__COUNT; n++) {
		++*work;
		if (strcmp(kb_natives[n].owner, owner))
			continue;
		if (!name_eq(kb_natives[n].name, name, work))
			continue;
		m->func = KIMG_NONE;
		m->native = n;
		return true;
	}
	return false;
}

/* The method of class c called name, by its vtable's names. */
static inline bool find_vtable(const struct kclass *c, const struct kstr_lit *name,
			struct kmethod_ref *m, uint64_t *work)
{
	uint32_t i;

	for (i = 0; i < c->nvtable; i++) {
		++*work;
		if (c->vtable_names[i] &&
		    name_eq(c->vtable_names[i], name, work)) {
			*m = c->vtable[i];
			return true;
		}
	}
	return false;
}

/*
 * CALLA's lookup of the method name on recv, by what recv is at run time
 * (the language reference §6, dynamic calls): a String's natives (not its
 * static ones) then its class's methods, the natives of arrays and maps,
 * a stream's natives then its class's methods, an instance's vtable.
 * Boxes and Func values have no methods.  false: NoSuchMethodException.
 * *work: the budget units of the search (names are compared byte by
 * byte: a script's long method names make a miss cost more).
 */
static inline bool resolve_dynamic(struct kvm *vm, struct kobj *recv,
			    const struct kstr_lit *name,
			    struct kmethod_ref *m, uint64_t *work)
{
	const struct kimage *img = vm->img;

	switch (recv->kind) {
	case KO_STRING:
		if (find_native("String", name, m, work) &&
		    vm->nsig[m->native].has_recv)
			return true;
		return find_vtable(img->classes[KC_String], name, m, work);
	case KO_ARRAY:
		return find_native("Array", name, m, work);
	case KO_MAP:
		return find_native("Map", name, m, work);
	case KO_STREAM:
		if (find_native(recv->cls == KC_OutputStream ?
				"OutputStream" : "InputStream", name, m, work))
			return true;
		return find_vtable(img->classes[recv->cls], name, m, work);
	case KO_INSTANCE:
		return find_vtable(img->classes[recv->cls], name, m, work);
	default:
		return false;
	}
}

/* Can a dynamic argument (an Any) be passed to a parameter of type? */
static inline bool dyn_ok(struct kvm *vm, struct kobj *v, uint32_t type)
{
	uint8_t kind = vm->img->types[type].kind;

	if (kind == KT_INT || kind == KT_BOOL)
		return v && v->kind == (kind == KT_INT ? KO_BOXI : KO_BOXZ);
	return !v || kvm_instance_of(vm, v, type);
}

/* The parameter value of a checked dynamic argument (unboxed if needed). */
static inline union kvalue dyn_val(struct kvm *vm, struct kobj *v, uint32_t type)
{
	uint8_t kind = vm->img->types[type].kind;
	union kvalue r;

	if (kind == KT_INT || kind == KT_BOOL)
		r.i = ((struct kbox *)v)->v;
	else
		r.o = v;
	return r;
}

/* dyn_ok() and dyn_val(), or ClassCastException when v does not fit. */
static inline int dyn_arg(struct kvm *vm, struct kobj *v, uint32_t type,
		   union kvalue *out)
{
	if (!dyn_ok(vm, v, type))
		return throw_cast(vm, v, type);
	*out = dyn_val(vm, v, type);
	return KVM_OK;
}

/*
 * (1.1) The type a Map method's K, V, Array<K> or Array<V> stands for on
 * the map recv (the reader made sure the arrays are in the image).
 */
static inline uint32_t map_param_type(struct kvm *vm, struct kobj *recv,
				      uint8_t kind)
{
	const struct ktype *mt = &vm->img->types[((struct kmap *)recv)->type];
	struct ktype at = { .kind = KT_ARRAY };

	if (kind == KP_K)
		return mt->elem;
	if (kind == KP_V)
		return mt->result;
	at.elem = kind == KP_AK ? mt->elem : mt->result;
	return kimg_find_type(vm->img, &at);
}

/*
 * (1.1) The type an Array method's Array<T> or Func<int(T, T)> stands for
 * on the array recv; KIMG_NONE when the image has no such Func type.
 */
static inline uint32_t array_param_type(struct kvm *vm, struct kobj *recv,
					uint8_t kind)
{
	uint32_t at = ((struct karr *)recv)->type, pair[2];
	struct ktype ft = {
		.kind = KT_FUNC, .result = vm->img->t_int, .nparams = 2,
		.params = pair,
	};

	if (kind == KP_AT)
		return at;
	pair[0] = pair[1] = vm->img->types[at].elem;
	return kimg_find_type(vm->img, &ft);
}

/*
 * (1.1) A dynamic argument for sort's Func<int(T, T)> when the image has
 * no such type: no value has it, so only null passes (sort then throws
 * NullPointerException); the message names the type as the checker would.
 */
static KP_NOINLINE __attribute__((__unused__)) int dyn_cmp_absent(struct kvm *vm, struct kobj *recv,
					 struct kobj *v, union kvalue *out)
{
	char a[96], e[96], msg[320];

	if (!v) {
		out->o = NULL;
		return KVM_OK;
	}
	kvm_obj_type_name(vm, v, a, sizeof(a));
	kimg_type_name(vm->img,
		       vm->img->types[((struct karr *)recv)->type].elem, e,
		       sizeof(e));
	snprintf(msg, sizeof(msg), "cannot cast %s to Func<int(%s, %s)>", a,
		 e, e);
	return kvm_throw_new(vm, KC_ClassCastException, msg);
}

static inline int dyn_arg_native(struct kvm *vm, struct kobj *recv, struct kobj *v,
			  const struct knparam *p, union kvalue *out)
{
	uint32_t type = p->type;

	if (p->kind == KP_T) {
		type = vm->img->types[((struct karr *)recv)->type].elem;
	} else if (p->kind == KP_AT || p->kind == KP_FT) {
		type = array_param_type(vm, recv, p->kind);
		if (type == KIMG_NONE)
			return dyn_cmp_absent(vm, recv, v, out);
	} else if (p->kind >= KP_K && p->kind <= KP_AV) {
		type = map_param_type(vm, recv, p->kind);
	}
	if (type == KIMG_NONE) {
		/* a class the image's type table does not name */
		uint32_t cls = v ? kvm_obj_class(v) : KIMG_NONE;

		if (v && (cls == KIMG_NONE ||
			  !kimg_subclass(vm->img, cls, p->cls))) {
			char a[96], msg[200];

			kvm_obj_type_name(vm, v, a, sizeof(a));
			snprintf(msg, sizeof(msg), "cannot cast %s to %s", a,
				 vm->img->classes[p->cls]->name);
			return kvm_throw_new(vm, KC_ClassCastException, msg);
		}
		out->o = v;
		return KVM_OK;
	}
	return dyn_arg(vm, v, type, out);
}

static KP_NOINLINE __attribute__((__unused__)) int throw_argc(struct kvm *vm, uint32_t want, uint32_t got)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "expected %u arguments, got %u", want, got);
	return kvm_throw_new(vm, KC_ClassCastException, msg);
}

/*
 * NoSuchMethodException of a CALLA; the name, which the image may make
 * long, is cut at 64 bytes so the receiver's type still fits.
 */
static KP_NOINLINE __attribute__((__unused__)) int throw_nomethod(struct kvm *vm, struct kobj *recv,
			  const struct kstr_lit *name)
{
	char a[96], msg[200];
	int n = name->len > 64 ? 64 : (int)name->len;

	kvm_obj_type_name(vm, recv, a, sizeof(a));
	snprintf(msg, sizeof(msg), "no method %.*s in %s", n,
		 (const char *)name->bytes, a);
	return kvm_throw_new(vm, KC_NoSuchMethodException, msg);
}

/*
 * How a CALLA's script method returns a result of image type `type` into
 * an Any register (enum kret_mode): int and boolean boxed, void as null.
 */
static inline uint8_t ret_mode_of(const struct kimage *img, uint32_t type)
{
	switch (img->types[type].kind) {
	case KT_INT:
		return KRET_BOXI;
	case KT_BOOL:
		return KRET_BOXZ;
	case KT_VOID:
		return KRET_VOIDNULL;
	default:
		return KRET_PLAIN;
	}
}

/*
 * A native reached by CALLA: check, unbox, call, box.  A script method
 * is handled in the interpreter (it pushes a frame).
 */
static KP_NOINLINE __attribute__((__unused__)) int calla_native(struct kvm *vm, uint32_t n,
				    struct kobj *recv, union kvalue *src,
				    uint32_t argc, union kvalue *res)
{
	const struct knsig *sig = &vm->nsig[n];
	union kvalue a[4], r;
	uint32_t i, rt;
	uint8_t kind;
	int st;

	if (sig->nparams != argc)
		return throw_argc(vm, sig->nparams, argc);
	a[0].o = recv;
	for (i = 0; i < argc; i++) {
		st = dyn_arg_native(vm, recv, src[i].o, &sig->p[i], &a[1 + i]);
		if (st)
			return st;
	}
	r.i = 0;
	st = kvm_natives[n](vm, a, &r);
	if (st)
		return st;
	kind = sig->ret.kind;
	if (kind == KP_T) {
		rt = vm->img->types[((struct karr *)recv)->type].elem;
		kind = vm->img->types[rt].kind;
	} else if (kind == KP_AT) {
		kind = KT_ARRAY;
	} else if (kind >= KP_K && kind <= KP_AV) {
		rt = map_param_type(vm, recv, kind);
		kind = vm->img->types[rt].kind;
	}
	if (kind == KT_INT || kind == KT_BOOL) {
		res->o = kvm_box(vm, kind == KT_BOOL, r.i);
		return res->o ? KVM_OK : KVM_ABORT;
	}
	res->o = kind == KT_VOID ? NULL : r.o;
	return KVM_OK;
}

/* ---- out-of-line helpers: they keep kvm_execute's frame small --------- */

static KP_NOINLINE __attribute__((__unused__)) int throw_negative_size(struct kvm *vm, int64_t n)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "negative array size %lld", (long long)n);
	return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
}

/* Calls native n with [recv,] src[0..); its arguments live here. */
static KP_NOINLINE __attribute__((__unused__)) int call_native(struct kvm *vm, uint32_t n,
				   struct kobj *recv, const union kvalue *src,
				   union kvalue *out)
{
	/* a receiver and at most KB_MAX_PARAMS (3) arguments */
	union kvalue a[4];
	uint32_t k = 0, i = 0, nargs = kvm_native_nargs(vm, n);

	if (recv)
		a[k++].o = recv;
	while (k < nargs)
		a[k++] = src[i++];
	return kvm_natives[n](vm, a, out);
}

/* ---- string operations used by opcodes ---------------------------------- */

/*
 * CONCAT's result when it is one of its operands, else NULL: with one of
 * them "" the result is the other, as trim() gives its receiver when
 * there is nothing to trim.  Strings never change and String `==`
 * compares contents, so only an identity test through Object (`==`, an
 * Object map key, indexOf) sees that the result is not new, which the
 * language reference leaves open.
 */
static inline struct kobj *concat_same(struct kobj *a, struct kobj *b)
{
	if (!a || !b)
		return NULL;
	if (!((struct kstr *)a)->len)
		return b;
	return ((struct kstr *)b)->len ? NULL : a;
}

/*
 * CONCAT's new String of a then b, a null operand read as "null", when
 * concat_same() found no operand to return.  a and b stay in the
 * caller's registers, which root them while the result is allocated (the
 * collector never moves objects).  KVM_ABORT: out of quota.
 */
static KP_NOINLINE __attribute__((__unused__)) int concat(struct kvm *vm, struct kobj *a, struct kobj *b,
		  struct kobj **out)
{
	const struct kstr *x = (const struct kstr *)a;
	const struct kstr *y = (const struct kstr *)b;
	const uint8_t *xb = x ? x->b : (const uint8_t *)"null";
	const uint8_t *yb = y ? y->b : (const uint8_t *)"null";
	size_t xl = x ? x->len : 4, yl = y ? y->len : 4;
	struct kstr *s;

	/* the allocation is charged by size, which covers the copy */
	s = kvm_str_alloc(vm, xl + yl);
	if (!s)
		return KVM_ABORT;
	memcpy(s->b, xb, xl);
	memcpy(s->b + xl, yb, yl);
	*out = &s->h;
	return KVM_OK;
}

/*
 * String == compares contents: when the lengths match, the scan of both
 * is charged like natives do, one unit per 64 bytes (docs/
 * language-decisions.md), before it runs.  False: budget abort.
 */
static inline bool str_eq_charge(struct kvm *vm, const struct kobj *a,
				 const struct kobj *b)
{
	const struct kstr *x = (const struct kstr *)a;
	const struct kstr *y = (const struct kstr *)b;

	if (a == b || !a || !b || x->len != y->len || x->len < 64)
		return true;
	return kvm_charge(vm, x->len / 64);
}

/*
 * == on Any: the same object, two boxes of one kind holding the same
 * value, or two Strings with the same contents (charged by the caller).
 */
static inline bool any_eq(const struct kobj *a, const struct kobj *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->kind != b->kind)
		return false;
	switch (a->kind) {
	case KO_BOXI:
	case KO_BOXZ:
		return ((const struct kbox *)a)->v ==
			((const struct kbox *)b)->v;
	case KO_STRING:
		return kvm_str_eq(a, b);
	default:
		return false;
	}
}

/* The result of a call made by a CALLA or RTOS, converted for the caller. */
static inline int ret_convert(struct kvm *vm, uint8_t mode, union kvalue *v)
{
	if (mode == KRET_BOXI || mode == KRET_BOXZ) {
		v->o = kvm_box(vm, mode == KRET_BOXZ, v->i);
		if (!v->o)
			return KVM_ABORT;
	} else if (mode == KRET_VOIDNULL) {
		v->o = NULL;
	} else if (mode == KRET_TOSTR && !v->o) {
		v->o = (struct kobj *)kvm_str_cstr(vm, "null");
		if (!v->o)
			return KVM_ABORT;
	}
	return KVM_OK;
}

/* ---- trivial opcodes ---------------------------------------------------- */

/*
 * R[a] := expr, for the int and boolean ops that cannot fail (the JIT
 * also emits them as IR in place: ctjit/codegen.py, Codegen.tiny).
 */
/*
 * Arithmetic on uint64_t: + - * wrap modulo 2^64 (the language reference
 * §6) where signed overflow would be undefined in C.  Shift counts use
 * their low 6 bits, a shift by 64 or more being undefined too.
 */
#define KU(x)	((uint64_t)(x))
#define KOP_TINY3(name, expr)						\
	KOPI(name, a, b, c)						\
	{								\
		R[a].i = (expr);					\
		return KVM_OK;						\
	}
#define KOP_TINY2(name, expr)						\
	KOPI(name, a, b)						\
	{								\
		R[a].i = (expr);					\
		return KVM_OK;						\
	}

KOP_TINY3(ADD, (int64_t)(KU(R[b].i) + KU(R[c].i)))
KOP_TINY3(SUB, (int64_t)(KU(R[b].i) - KU(R[c].i)))
KOP_TINY3(MUL, (int64_t)(KU(R[b].i) * KU(R[c].i)))
KOP_TINY3(ADDI, (int64_t)(KU(R[b].i) + KU((int64_t)c)))
KOP_TINY3(BAND, R[b].i & R[c].i)
KOP_TINY3(BOR, R[b].i | R[c].i)
KOP_TINY3(BXOR, R[b].i ^ R[c].i)
KOP_TINY3(SHL, (int64_t)(KU(R[b].i) << (R[c].i & 63)))
/* arithmetic shift without >> of a negative value */
KOP_TINY3(SHR, R[b].i < 0 ? (int64_t)~(~KU(R[b].i) >> (R[c].i & 63)) :
	  (int64_t)(KU(R[b].i) >> (R[c].i & 63)))
KOP_TINY3(USHR, (int64_t)(KU(R[b].i) >> (R[c].i & 63)))
KOP_TINY2(NEG, (int64_t)(0 - KU(R[b].i)))
KOP_TINY2(BNOT, ~R[b].i)
KOP_TINY2(NOT, !R[b].i)
KOP_TINY3(EQ, R[b].i == R[c].i)
KOP_TINY3(NE, R[b].i != R[c].i)
KOP_TINY3(LT, R[b].i < R[c].i)
KOP_TINY3(LE, R[b].i <= R[c].i)
KOP_TINY3(EQREF, R[b].o == R[c].o)
KOP_TINY2(LOADI, b)
#undef KOP_TINY2
#undef KOP_TINY3

KOPI(NOP)
{
	return KVM_OK;
}

KOPI(MOV, a, b)
{
	R[a] = R[b];
	return KVM_OK;
}

KOPI(LOADNULL, a)
{
	R[a].o = NULL;
	return KVM_OK;
}

/* GETG and SETG: g < img->nglobals, checked by the verifier. */
KOPI(GETG, a, g)
{
	R[a] = vm->globals[g];
	return KVM_OK;
}

KOPI(SETG, g, b)
{
	vm->globals[g] = R[b];
	return KVM_OK;
}

/* Constant k: an int (kind 1), or a String made by kvm_create(). */
KOPI(LOADK, a, k)
{
	const struct kconst *c = &vm->img->consts[k];

	if (c->kind == 1)
		R[a].i = c->ival;
	else
		R[a].o = vm->kstrings[k];
	return KVM_OK;
}

/* == on Strings and on Any: they may abort (the budget, str_eq_charge). */
KOPI(EQSTR, a, b, c)
{
	if (unlikely(!str_eq_charge(vm, R[b].o, R[c].o)))
		return KVM_ABORT;
	R[a].i = kvm_str_eq(R[b].o, R[c].o);
	return KVM_OK;
}

KOPI(EQANY, a, b, c)
{
	const struct kobj *x = R[b].o, *y = R[c].o;

	if (x && y && x->kind == KO_STRING && y->kind == KO_STRING &&
	    unlikely(!str_eq_charge(vm, x, y)))
		return KVM_ABORT;
	R[a].i = any_eq(x, y);
	return KVM_OK;
}

/*
 * (1.1) SWITCH A lo n j: the next pc.  table is the pc of the n JMPs that
 * follow the instruction (the verifier checked that they are there); the
 * k-th one's target word is code[table + 2k + 1].  k is computed modulo
 * 2^64, so a selector below lo is out of range too.
 */
static inline int32_t kopi_SWITCH(const int32_t *code, const union kvalue *R,
				  int32_t a, int32_t lo, int32_t n, int32_t j,
				  int32_t table)
{
	uint64_t k = (uint64_t)R[a].i - (uint64_t)(int64_t)lo;

	if (k < (uint64_t)(uint32_t)n)
		return code[table + 2 * (int64_t)k + 1];
	return j;
}

/* ---- opcodes that may throw, allocate or run script code ----------------- */

static KP_NOINLINE __attribute__((__unused__)) int throw_div0(struct kvm *vm)
{
	return kvm_throw_new(vm, KC_ArithmeticException, "division by zero");
}

/*
 * DIV and MOD by -1 are a negation and 0: INT64_MIN / -1 overflows, which
 * C leaves undefined and x86 traps on; K gives INT64_MIN and 0 (the
 * language reference §6).
 */
KOPI(DIV, a, b, c)
{
	int64_t x = R[b].i, y = R[c].i;

	if (unlikely(y == 0))
		return throw_div0(vm);
	R[a].i = y == -1 ? (int64_t)(0 - KU(x)) : x / y;
	return KVM_OK;
}

KOPI(MOD, a, b, c)
{
	int64_t x = R[b].i, y = R[c].i;

	if (unlikely(y == 0))
		return throw_div0(vm);
	R[a].i = y == -1 ? 0 : x % y;
	return KVM_OK;
}

/*
 * The Func value of top-level function f: made on first use and kept in
 * vm->fnvals (a root), so every LOADFN of f gives the same object.
 */
KOPI(LOADFN, a, f)
{
	if (unlikely(!vm->fnvals[f])) {
		struct kmethod_ref m = { .func = (uint32_t)f,
					 .native = KIMG_NONE };
		struct kfn *o;

		o = kvm_fn_new(vm, vm->img->funcs[f].type, m, NULL);
		if (!o)
			return KVM_ABORT;
		vm->fnvals[f] = &o->h;
	}
	R[a].o = vm->fnvals[f];
	return KVM_OK;
}

/*
 * The method in vtable slot s of the receiver's class, bound to it; the
 * Func value's type is A's declared type.  recv stays rooted in R[b].
 */
KOPI(BINDM, a, b, s)
{
	struct kobj *recv = R[b].o;
	struct kfn *o;

	if (unlikely(!recv))
		return throw_npe(vm);
	o = kvm_fn_new(vm, kvm_top_fn(vm)->reg_types[a],
		       vm->img->classes[kvm_obj_class(recv)]->vtable[s], recv);
	if (!o)
		return KVM_ABORT;
	R[a].o = &o->h;
	return KVM_OK;
}

/*
 * (1.1) The vtable entry of the receiver o's class for method i of
 * interface type t, found by its itable (link.c).  The verifier made the
 * receiver's static type a subtype of t, so the class implements it; NULL
 * only for an image that lied, which the caller reports as a failed cast.
 */
static inline const struct kmethod_ref *
iface_method(const struct kimage *img, uint32_t cls, int32_t t, int32_t i)
{
	const struct kimpl *impl = kimg_find_impl(img, cls,
						  img->types[t].elem);

	if (unlikely(!impl))
		return NULL;
	return &img->classes[cls]->vtable[impl->slots[i]];
}

/*
 * (1.1) BINDI: the receiver's method for interface method i, bound to it
 * (the bound method names the class that defines it, as with BINDM).
 */
KOPI(BINDI, a, b, t, i)
{
	struct kobj *recv = R[b].o;
	const struct kmethod_ref *m;
	struct kfn *o;

	if (unlikely(!recv))
		return throw_npe(vm);
	m = iface_method(vm->img, kvm_obj_class(recv), t, i);
	if (unlikely(!m))
		return throw_cast(vm, recv, (uint32_t)t);
	o = kvm_fn_new(vm, kvm_top_fn(vm)->reg_types[a], *m, recv);
	if (!o)
		return KVM_ABORT;
	R[a].o = &o->h;
	return KVM_OK;
}

/*
 * (1.1) A new closure of lambda function f with the n captured values
 * R[c..c+n), of A's Func type (its run-time type, the language
 * reference §6).
 */
KOPI(CLOSURE, a, f, c, n)
{
	struct kfn *o = kvm_closure_new(vm, kvm_top_fn(vm)->reg_types[a],
					(uint32_t)f, &R[c], (uint32_t)n);

	if (!o)
		return KVM_ABORT;
	R[a].o = &o->h;
	return KVM_OK;
}

KOPI(CONCAT, a, b, c)
{
	struct kobj *o = concat_same(R[b].o, R[c].o);
	int st;

	/* "" + s and s + "": s itself */
	if (o) {
		R[a].o = o;
		return KVM_OK;
	}
	st = concat(vm, R[b].o, R[c].o, &o);
	if (st)
		return st;
	R[a].o = o;
	return KVM_OK;
}

/* ITOS and ZTOS: the String of an int (decimal) or a boolean. */
KOPI(ITOS, a, b)
{
	struct kstr *s = kvm_int_to_str(vm, R[b].i);

	if (!s)
		return KVM_ABORT;
	R[a].o = &s->h;
	return KVM_OK;
}

KOPI(ZTOS, a, b)
{
	struct kstr *s = kvm_str_cstr(vm, R[b].i ? "true" : "false");

	if (!s)
		return KVM_ABORT;
	R[a].o = &s->h;
	return KVM_OK;
}

/*
 * RTOS: the script toString of R[b] to run in a frame, or KIMG_NONE.
 * Slot 0 of every vtable is toString (Object's first method), overridden
 * or not.
 */
static inline uint32_t kopi_rtos_script(struct kvm *vm, struct kobj *o)
{
	if (o && (o->kind == KO_INSTANCE || o->kind == KO_STREAM))
		return vm->img->classes[o->cls]->vtable[0].func;
	return KIMG_NONE;
}

/* RTOS without a script toString (may still run script code: arrays) */
static inline int kopi_RTOS_native(struct kvm *vm, union kvalue *R,
				   int32_t a, int32_t b)
{
	struct kstr *s = NULL;
	int st = kvm_ref_to_string(vm, R[b].o, &s);

	if (st)
		return st;
	kvm_top_regs(vm)[a].o = &s->h;
	return KVM_OK;
}

/* BOXI and BOXZ (z): R[a] := R[b] boxed */
static inline int box_reg(struct kvm *vm, union kvalue *R, int32_t a,
			  int32_t b, bool z)
{
	struct kobj *o = kvm_box(vm, z, R[b].i);

	if (!o)
		return KVM_ABORT;
	R[a].o = o;
	return KVM_OK;
}

/* UNBOXI and UNBOXZ (z): R[a] := R[b] unboxed, checked */
static inline int unbox_reg(struct kvm *vm, union kvalue *R, int32_t a,
			    int32_t b, bool z)
{
	struct kobj *o = R[b].o;

	if (unlikely(!o))
		return throw_npe(vm);
	if (unlikely(o->kind != (z ? KO_BOXZ : KO_BOXI)))
		return throw_cast(vm, o, z ? vm->img->t_bool : vm->img->t_int);
	R[a].i = ((struct kbox *)o)->v;
	return KVM_OK;
}

KOPI(BOXI, a, b)
{
	return box_reg(vm, R, a, b, false);
}

KOPI(BOXZ, a, b)
{
	return box_reg(vm, R, a, b, true);
}

KOPI(UNBOXI, a, b)
{
	return unbox_reg(vm, R, a, b, false);
}

KOPI(UNBOXZ, a, b)
{
	return unbox_reg(vm, R, a, b, true);
}

/* null passes every cast to a reference type (the language reference §3). */
KOPI(CAST, a, b, t)
{
	struct kobj *o = R[b].o;

	if (o && unlikely(!kvm_instance_of(vm, o, (uint32_t)t)))
		return throw_cast(vm, o, (uint32_t)t);
	R[a].o = o;
	return KVM_OK;
}

/* null is an instance of nothing. */
KOPI(INSTOF, a, b, t)
{
	struct kobj *o = R[b].o;

	R[a].i = o && kvm_instance_of(vm, o, (uint32_t)t);
	return KVM_OK;
}

/* Instance of class c, fields zeroed; the constructor is a CALL after. */
KOPI(NEW, a, c)
{
	struct kinst *o = kvm_inst_new(vm, (uint32_t)c);

	if (!o)
		return KVM_ABORT;
	R[a].o = &o->h;
	return KVM_OK;
}

/*
 * GETF and SETF: f is the field's absolute index (inherited fields
 * first), which the verifier checked against the static class: every
 * subclass has at least those fields.
 */
KOPI(GETF, a, b, f)
{
	struct kobj *o = R[b].o;

	if (unlikely(!o))
		return throw_npe(vm);
	R[a] = ((struct kinst *)o)->f[f];
	return KVM_OK;
}

KOPI(SETF, a, f, c)
{
	struct kobj *o = R[a].o;

	if (unlikely(!o))
		return throw_npe(vm);
	((struct kinst *)o)->f[f] = R[c];
	return KVM_OK;
}

/*
 * An array of type t and length R[c], elements zeroed.  A length past
 * 2^31 - 1 exceeds any heap quota: it is "out of memory", not an
 * exception, as any allocation past the quota would be.
 */
KOPI(NEWARR, a, t, c)
{
	int64_t n = R[c].i;
	struct karr *arr;

	if (unlikely(n < 0))
		return throw_negative_size(vm, n);
	if (n > 0x7fffffff)
		return kvm_abort(vm, KVM_ABORT_OOM);
	arr = kvm_arr_new(vm, (uint32_t)t, (uint32_t)n);
	if (!arr)
		return KVM_ABORT;
	R[a].o = &arr->h;
	return KVM_OK;
}

/* (1.1) An empty Map of type t: its storage comes with the first put. */
KOPI(NEWMAP, a, t)
{
	struct kmap *m = kvm_map_new(vm, (uint32_t)t);

	if (!m)
		return KVM_ABORT;
	R[a].o = &m->h;
	return KVM_OK;
}

/*
 * An array literal: the n values in R[c..c+n), which root them while the
 * array is allocated.
 */
KOPI(NEWARRV, a, t, c, n)
{
	struct karr *arr = kvm_arr_new(vm, (uint32_t)t, (uint32_t)n);
	int32_t i;

	if (!arr)
		return KVM_ABORT;
	for (i = 0; i < n; i++)
		arr->v[i] = R[c + i];
	R[a].o = &arr->h;
	return KVM_OK;
}

/* AGET and ASET: unsigned, the one compare also refuses i < 0. */
KOPI(AGET, a, b, c)
{
	struct karr *arr = (struct karr *)R[b].o;
	int64_t i = R[c].i;

	if (unlikely(!arr))
		return throw_npe(vm);
	if (unlikely(KU(i) >= arr->len))
		return kvm_throw_index(vm, i, arr->len);
	R[a] = arr->v[i];
	return KVM_OK;
}

KOPI(ASET, a, b, c)
{
	struct karr *arr = (struct karr *)R[a].o;
	int64_t i = R[b].i;

	if (unlikely(!arr))
		return throw_npe(vm);
	if (unlikely(KU(i) >= arr->len))
		return kvm_throw_index(vm, i, arr->len);
	arr->v[i] = R[c];
	return KVM_OK;
}

/* A native call: R may move (a native can run script code). */
static inline int kopi_native_call(struct kvm *vm, union kvalue *R,
				   int32_t a, uint32_t n, struct kobj *recv,
				   int32_t b)
{
	union kvalue v;
	int st;

	v.i = 0;
	st = call_native(vm, n, recv, &R[b], &v);
	if (st)
		return st;
	if (a >= 0)
		kvm_top_regs(vm)[a] = v;
	return KVM_OK;
}

/*
 * CALLN: native n with its arguments at R[b..]; a native method's
 * receiver is R[b] and must not be null.  The result goes to R[a] unless
 * a < 0 (a void native).
 */
static inline int kopi_CALLN(struct kvm *vm, union kvalue *R, int32_t a,
			     int32_t n, int32_t b)
{
	const struct kstr *s;
	int64_t v;

	if (vm->nsig[n].has_recv && unlikely(!R[b].o))
		return throw_npe(vm);
	/*
	 * The natives that only compute their result, without the call
	 * (as their versions in natives.c do; ctjit inlines the same ones):
	 * the hottest natives of loops.  Anything that may throw (charAt
	 * out of bounds) goes on to the native.
	 */
	switch (n) {
	case KN_Array_size:
		v = ((const struct karr *)R[b].o)->len;
		break;
	case KN_String_length:
		v = ((const struct kstr *)R[b].o)->len;
		break;
	case KN_String_charAt:
		s = (const struct kstr *)R[b].o;
		if ((uint64_t)R[b + 1].i >= s->len)
			return kopi_native_call(vm, R, a, (uint32_t)n, NULL, b);
		v = s->b[R[b + 1].i];
		break;
	case KN_Math_min:
		v = R[b].i < R[b + 1].i ? R[b].i : R[b + 1].i;
		break;
	case KN_Math_max:
		v = R[b].i > R[b + 1].i ? R[b].i : R[b + 1].i;
		break;
	default:
		return kopi_native_call(vm, R, a, (uint32_t)n, NULL, b);
	}
	if (a >= 0)
		R[a].i = v;
	return KVM_OK;
}

/*
 * What a Func value passes before a call's own arguments: a bound
 * method's receiver, or (1.1) a closure's captured values.  Stores them
 * at dst and returns how many.
 */
static inline uint32_t kopi_callf_lead(const struct kfn *f,
				       union kvalue *dst)
{
	uint32_t k = 0, j;

	if (f->recv)
		dst[k++].o = f->recv;
	for (j = 0; j < f->ncap; j++)
		dst[k++] = f->cap[j];
	return k;
}

/* CALLV: the method in slot s of the receiver R[b]. */
static inline int kopi_callv_target(struct kvm *vm, union kvalue *R,
				    int32_t s, int32_t b,
				    struct kmethod_ref *m)
{
	struct kobj *recv = R[b].o;

	if (unlikely(!recv))
		return throw_npe(vm);
	*m = vm->img->classes[kvm_obj_class(recv)]->vtable[s];
	return KVM_OK;
}

/*
 * (1.1) CALLI: the method of the receiver R[b] for method i of interface
 * type t.  Inline cache q of the calling function fn remembers the last
 * receiver class and its method, so a monomorphic site costs one compare
 * more than CALLV; a miss searches the class's itable (a binary search)
 * and refills the cache.
 */
static inline int kopi_calli_target(struct kvm *vm, const struct kfunc *fn,
				    union kvalue *R, int32_t t, int32_t i,
				    int32_t b, int32_t q,
				    struct kmethod_ref *m)
{
	struct kobj *recv = R[b].o;
	struct kinline_cache *ic = &fn->ics[q];
	const struct kmethod_ref *found;
	uint32_t cls;

	if (unlikely(!recv))
		return throw_npe(vm);
	cls = kvm_obj_class(recv);
	if (likely(ic->key == cls)) {
		*m = ic->target;
		return KVM_OK;
	}
	found = iface_method(vm->img, cls, t, i);
	if (unlikely(!found))
		return throw_cast(vm, recv, (uint32_t)t);
	ic->misses++;
	ic->key = cls;
	ic->target = *found;
	*m = *found;
	return KVM_OK;
}

/*
 * CALLA: resolve the method named e on R[b] through inline cache q and
 * check the arguments R[c..c+n) of a script target.
 */
static inline int kopi_calla_target(struct kvm *vm, const struct kfunc *fn,
				    union kvalue *R, int32_t b, int32_t e,
				    int32_t n, int32_t c, int32_t q,
				    struct kmethod_ref *m)
{
	const struct kimage *img = vm->img;
	struct kobj *recv = R[b].o;
	const struct kstr_lit *name = &img->strings[e];
	struct kinline_cache *ic = &fn->ics[q];
	uint32_t argc = (uint32_t)n, i, key;

	if (unlikely(!recv))
		return throw_npe(vm);
	/* boxes and Func values have no class: never cached, they miss */
	key = recv->kind == KO_ARRAY ? KEY_ARRAY :
		recv->kind == KO_MAP ? KEY_MAP : kvm_obj_class(recv);
	if (likely(key != KIMG_NONE && ic->key == key)) {
		*m = ic->target;
	} else {
		uint64_t work = 0;
		bool found = resolve_dynamic(vm, recv, name, m, &work);

		/* a miss searches by name: charged, found or not */
		if (!kvm_charge(vm, work))
			return KVM_ABORT;
		if (!found)
			return throw_nomethod(vm, recv, name);
		ic->misses++;
		if (key != KIMG_NONE) {
			ic->key = key;
			ic->target = *m;
		}
	}
	/* a native's arguments are checked by calla_native() */
	if (m->func != KIMG_NONE) {
		const struct ktype *sig = &img->types[img->funcs[m->func].type];

		if (sig->nparams != argc)
			return throw_argc(vm, sig->nparams, argc);
		for (i = 0; i < argc; i++) {
			struct kobj *x = R[c + (int32_t)i].o;

			if (!dyn_ok(vm, x, sig->params[i]))
				return throw_cast(vm, x, sig->params[i]);
		}
	}
	return KVM_OK;
}

/* CALLA's arguments for script method f: receiver, then unboxed values. */
static inline void kopi_calla_args(struct kvm *vm, union kvalue *dst,
				   const union kvalue *R, int32_t b,
				   int32_t n, int32_t c, uint32_t f)
{
	const struct ktype *sig = &vm->img->types[vm->img->funcs[f].type];
	int32_t i;

	dst[0] = R[b];
	for (i = 0; i < n; i++)
		dst[1 + i] = dyn_val(vm, R[c + i].o, sig->params[i]);
}

/* CALLA that reached a native: its result, boxed as Any, into R[a]. */
static inline int kopi_calla_native(struct kvm *vm, union kvalue *R,
				    int32_t a, uint32_t native, int32_t b,
				    int32_t n, int32_t c)
{
	union kvalue v;
	int st;

	v.o = NULL;
	st = calla_native(vm, native, R[b].o, &R[c], (uint32_t)n, &v);
	if (st)
		return st;
	if (a >= 0)
		kvm_top_regs(vm)[a] = v;
	return KVM_OK;
}

/* THROW: `throw null` throws a NullPointerException instead. */
static inline int kopi_THROW(struct kvm *vm, union kvalue *R, int32_t a)
{
	struct kobj *e = R[a].o;

	if (unlikely(!e))
		return throw_npe(vm);
	return kvm_throw_obj(vm, e);
}

#endif /* KOPS_H */
