// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - the K interpreter: frames, calls, exceptions, limits.
 *
 * Registers live on one value stack owned by the VM; a script call pushes
 * a struct kframe and never recurses on the C stack.  Native code that
 * must run script code (toString during a conversion, join) re-enters
 * kvm_execute() through kvm_invoke(), at most KVM_MAX_NEST levels deep.
 *
 * Exceptions unwind VM frames through each function's handler table; the
 * trace of an uncaught exception is collected while unwinding.  Aborts
 * (budget, heap, depth) take a snapshot of the frames and unwind without
 * running handlers.
 */
#include "kvm.h"

static const uint8_t op_len[KOP__COUNT] = {
#define OP(name, operands, doc) sizeof(operands),
#include "opcodes.def"
#undef OP
};

#define STACK_MIN	1024u

/* ---- limits ------------------------------------------------------------- */

static void trace_add(struct kvm *vm, const struct kfunc *fn, uint32_t pc)
{
	struct ktrace_ent *t;
	uint32_t cap;

	if (vm->ntrace == vm->trace_cap) {
		/* one line per frame; frames are bounded by the depth limit */
		if (vm->trace_cap >= vm->lim.depth + 2u * KVM_MAX_NEST)
			return;
		cap = vm->trace_cap ? vm->trace_cap * 2 : 64;
		t = kp_realloc(vm->trace, vm->trace_cap * sizeof(*t),
			       cap * sizeof(*t));
		if (!t)
			return;
		vm->trace = t;
		vm->trace_cap = cap;
	}
	vm->trace[vm->ntrace].fn = fn;
	vm->trace[vm->ntrace].pc = pc;
	vm->ntrace++;
}

int kvm_abort(struct kvm *vm, enum kvm_abort_kind kind)
{
	uint32_t i;

	if (vm->abort_kind == KVM_ABORT_NONE) {
		vm->abort_kind = kind;
		vm->ntrace = 0;
		for (i = vm->nframes; i-- > 0;)
			trace_add(vm, vm->frames[i].fn, vm->frames[i].pc);
	}
	return KVM_ABORT;
}

bool kvm_charge(struct kvm *vm, uint64_t n)
{
	if (n > (uint64_t)INT64_MAX || vm->budget < (int64_t)n) {
		vm->budget = -1;
		kvm_abort(vm, KVM_ABORT_BUDGET);
		return false;
	}
	vm->budget -= (int64_t)n;
	return true;
}

/* ---- exceptions --------------------------------------------------------- */

/* The exception exc starts unwinding from the top frame. */
static int begin_throw(struct kvm *vm, struct kobj *exc)
{
	uint32_t fi = vm->nframes ? vm->nframes - 1 : KIMG_NONE;

	/* a rethrow (finally) from the frame that caught it keeps its trace */
	if (exc != vm->trace_exc || fi != vm->trace_frame || !vm->ntrace ||
	    vm->trace[vm->ntrace - 1].fn != vm->frames[fi].fn) {
		vm->ntrace = 0;
		vm->trace_exc = exc;
		vm->trace_frame = KIMG_NONE;
	}
	vm->exc = exc;
	return KVM_THROW;
}

int kvm_throw_new(struct kvm *vm, uint32_t cls, const char *msg)
{
	struct kstr *s;
	struct kinst *e;

	s = kvm_str_cstr(vm, msg);
	if (!s)
		return KVM_ABORT;
	kvm_push_root(vm, &s->h);
	e = kvm_inst_new(vm, cls);
	kvm_pop_roots(vm, 1);
	if (!e)
		return KVM_ABORT;
	e->f[KF_EXC_MESSAGE].o = &s->h;
	return begin_throw(vm, &e->h);
}

int kvm_throw_deverr(struct kvm *vm, int err, const char *msg)
{
	int st = kvm_throw_new(vm, KC_DeviceError, msg);

	if (st == KVM_THROW)
		((struct kinst *)vm->exc)->f[KF_DEVERR_ERRNO].i = err;
	return st;
}

int kvm_throw_index(struct kvm *vm, int64_t i, int64_t n)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "index %lld out of range for length %lld",
		 (long long)i, (long long)n);
	return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
}

static KP_NOINLINE int throw_cast(struct kvm *vm, const struct kobj *o,
				  uint32_t type)
{
	char a[96], b[96], msg[224];

	kvm_obj_type_name(vm, o, a, sizeof(a));
	kimg_type_name(vm->img, type, b, sizeof(b));
	snprintf(msg, sizeof(msg), "cannot cast %s to %s", a, b);
	return kvm_throw_new(vm, KC_ClassCastException, msg);
}

static KP_NOINLINE int throw_npe(struct kvm *vm)
{
	return kvm_throw_new(vm, KC_NullPointerException, "null dereference");
}

static const struct khandler *find_handler(struct kvm *vm,
					   const struct kfunc *fn,
					   uint32_t pc, struct kobj *exc)
{
	uint32_t i;

	for (i = 0; i < fn->nhandlers; i++) {
		const struct khandler *h = &fn->handlers[i];

		if (pc < h->start || pc >= h->end)
			continue;
		if (h->class_id == KIMG_NONE ||
		    kimg_subclass(vm->img, exc->cls, h->class_id))
			return h;
	}
	return NULL;
}

/* ---- frames ------------------------------------------------------------- */

static bool grow_stack(struct kvm *vm, size_t need)
{
	size_t cap = vm->stack_cap ? vm->stack_cap : STACK_MIN;
	union kvalue *s;

	while (cap < need)
		cap *= 2;
	if (cap > 0xffffffffu)
		return kvm_abort(vm, KVM_ABORT_OOM), false;
	s = kvm_mem_realloc(vm, vm->stack, vm->stack_cap * sizeof(*s),
			    cap * sizeof(*s));
	if (!s)
		return false;
	vm->stack = s;
	vm->stack_cap = (uint32_t)cap;
	return true;
}

static bool grow_frames(struct kvm *vm)
{
	uint32_t cap = vm->frames_cap ? vm->frames_cap * 2 : 64;
	struct kframe *f;

	if (cap > vm->lim.depth)
		cap = vm->lim.depth;
	f = kvm_mem_realloc(vm, vm->frames, vm->frames_cap * sizeof(*f),
			    (size_t)cap * sizeof(*f));
	if (!f)
		return false;
	vm->frames = f;
	vm->frames_cap = cap;
	return true;
}

/*
 * Pushes a frame for fn above the top frame and returns its registers:
 * the non-argument registers are zeroed, the caller fills R[0..nargs)
 * before anything can allocate.  NULL: the run aborted (depth or heap);
 * vm->stack may have moved either way.
 */
static inline union kvalue *push_frame(struct kvm *vm,
				       const struct kfunc *fn,
				       int32_t ret_reg, uint8_t ret_mode)
{
	uint32_t base = 0, i;
	struct kframe *f;
	union kvalue *r;

	if (unlikely(vm->nframes >= vm->lim.depth)) {
		kvm_abort(vm, KVM_ABORT_DEPTH);
		return NULL;
	}
	if (vm->nframes) {
		f = &vm->frames[vm->nframes - 1];
		base = f->base + f->fn->nregs;
	}
	if (unlikely((size_t)base + fn->nregs > vm->stack_cap) &&
	    !grow_stack(vm, (size_t)base + fn->nregs))
		return NULL;
	if (unlikely(vm->nframes == vm->frames_cap) && !grow_frames(vm))
		return NULL;
	r = vm->stack + base;
	/* usually a handful of registers: a loop beats a call to memset */
	for (i = fn->nargs; i < fn->nregs; i++)
		r[i].i = 0;
	f = &vm->frames[vm->nframes++];
	f->fn = fn;
	f->base = base;
	f->pc = 0;
	f->ret_reg = ret_reg;
	f->ret_mode = ret_mode;
	f->entry = 0;
	return r;
}

/* ---- dynamic calls (CALLA) ---------------------------------------------- */

#define KEY_ARRAY	(KIMG_NONE - 1)

static bool name_eq(const char *a, const struct kstr_lit *b)
{
	size_t n = strlen(a);

	return n == b->len && !memcmp(a, b->bytes, n);
}

static bool find_native(const char *owner, const struct kstr_lit *name,
			struct kmethod_ref *m)
{
	uint32_t n;

	for (n = 0; n < KN__COUNT; n++) {
		if (strcmp(kvm_native_owners[n], owner))
			continue;
		if (!name_eq(kvm_native_names[n], name))
			continue;
		m->func = KIMG_NONE;
		m->native = n;
		return true;
	}
	return false;
}

static bool find_vtable(const struct kclass *c, const struct kstr_lit *name,
			struct kmethod_ref *m)
{
	uint32_t i;

	for (i = 0; i < c->nvtable; i++) {
		if (c->vtable_names[i] && name_eq(c->vtable_names[i], name)) {
			*m = c->vtable[i];
			return true;
		}
	}
	return false;
}

static bool resolve_dynamic(struct kvm *vm, struct kobj *recv,
			    const struct kstr_lit *name,
			    struct kmethod_ref *m)
{
	const struct kimage *img = vm->img;

	switch (recv->kind) {
	case KO_STRING:
		if (find_native("String", name, m) &&
		    vm->nsig[m->native].has_recv)
			return true;
		return find_vtable(img->classes[KC_String], name, m);
	case KO_ARRAY:
		return find_native("Array", name, m);
	case KO_STREAM:
		if (find_native(recv->cls == KC_OutputStream ?
				"OutputStream" : "InputStream", name, m))
			return true;
		return find_vtable(img->classes[recv->cls], name, m);
	case KO_INSTANCE:
		return find_vtable(img->classes[recv->cls], name, m);
	default:
		return false;
	}
}

/* Can a dynamic argument (an Any) be passed to a parameter of type? */
static bool dyn_ok(struct kvm *vm, struct kobj *v, uint32_t type)
{
	uint8_t kind = vm->img->types[type].kind;

	if (kind == KT_INT || kind == KT_BOOL)
		return v && v->kind == (kind == KT_INT ? KO_BOXI : KO_BOXZ);
	return !v || kvm_instance_of(vm, v, type);
}

/* The parameter value of a checked dynamic argument (unboxed if needed). */
static union kvalue dyn_val(struct kvm *vm, struct kobj *v, uint32_t type)
{
	uint8_t kind = vm->img->types[type].kind;
	union kvalue r;

	if (kind == KT_INT || kind == KT_BOOL)
		r.i = ((struct kbox *)v)->v;
	else
		r.o = v;
	return r;
}

static int dyn_arg(struct kvm *vm, struct kobj *v, uint32_t type,
		   union kvalue *out)
{
	if (!dyn_ok(vm, v, type))
		return throw_cast(vm, v, type);
	*out = dyn_val(vm, v, type);
	return KVM_OK;
}

static int dyn_arg_native(struct kvm *vm, struct kobj *recv, struct kobj *v,
			  const struct knparam *p, union kvalue *out)
{
	uint32_t type = p->type;

	if (p->kind == KP_T)
		type = vm->img->types[((struct karr *)recv)->type].elem;
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

static KP_NOINLINE int throw_argc(struct kvm *vm, uint32_t want, uint32_t got)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "expected %u arguments, got %u", want, got);
	return kvm_throw_new(vm, KC_ClassCastException, msg);
}

static KP_NOINLINE int throw_nomethod(struct kvm *vm, struct kobj *recv,
			  const struct kstr_lit *name)
{
	char a[96], msg[200];
	int n = name->len > 64 ? 64 : (int)name->len;

	kvm_obj_type_name(vm, recv, a, sizeof(a));
	snprintf(msg, sizeof(msg), "no method %.*s in %s", n,
		 (const char *)name->bytes, a);
	return kvm_throw_new(vm, KC_NoSuchMethodException, msg);
}

static uint8_t ret_mode_of(const struct kimage *img, uint32_t type)
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
static KP_NOINLINE int calla_native(struct kvm *vm, uint32_t n,
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
	}
	if (kind == KT_INT || kind == KT_BOOL) {
		res->o = kvm_box(vm, kind == KT_BOOL, r.i);
		return res->o ? KVM_OK : KVM_ABORT;
	}
	res->o = kind == KT_VOID ? NULL : r.o;
	return KVM_OK;
}

/* ---- out-of-line helpers: they keep kvm_execute's frame small --------- */

static KP_NOINLINE int throw_negative_size(struct kvm *vm, int64_t n)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "negative array size %lld", (long long)n);
	return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
}

/* Calls native n with [recv,] src[0..); its arguments live here. */
static KP_NOINLINE int call_native(struct kvm *vm, uint32_t n,
				   struct kobj *recv, const union kvalue *src,
				   union kvalue *out)
{
	union kvalue a[4];
	uint32_t k = 0, i = 0, nargs = kvm_native_nargs(vm, n);

	if (recv)
		a[k++].o = recv;
	while (k < nargs)
		a[k++] = src[i++];
	return kvm_natives[n](vm, a, out);
}

/* ---- string operations used by opcodes ---------------------------------- */

static KP_NOINLINE int concat(struct kvm *vm, struct kobj *a, struct kobj *b,
		  struct kobj **out)
{
	const struct kstr *x = (const struct kstr *)a;
	const struct kstr *y = (const struct kstr *)b;
	const uint8_t *xb = x ? x->b : (const uint8_t *)"null";
	const uint8_t *yb = y ? y->b : (const uint8_t *)"null";
	size_t xl = x ? x->len : 4, yl = y ? y->len : 4;
	struct kstr *s;

	s = kvm_str_new(vm, NULL, xl + yl);
	if (!s)
		return KVM_ABORT;
	memcpy(s->b, xb, xl);
	memcpy(s->b + xl, yb, yl);
	*out = &s->h;
	return KVM_OK;
}

static bool any_eq(const struct kobj *a, const struct kobj *b)
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

/* ---- the interpreter loop ----------------------------------------------- */

/*
 * Dispatch, after Lua's lvm.c: with GCC or clang, computed goto through
 * a table built from opcodes.def; otherwise a switch in a loop.  Every
 * executed instruction costs one unit of budget.
 */
#if defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO)
#define vmdispatch(o)	goto *disptab[o];
#define vmcase(l)	L_##l:
#define vmfetch()	do {						\
		if (unlikely(--budget < 0))				\
			goto out_budget;				\
		goto *disptab[*ip];					\
	} while (0)
#else
#define vmdispatch(o)	switch (o)
#define vmcase(l)	case KOP_##l:
#define vmfetch()	goto next
#endif
#define vmnext(n)	do { ip += (n); vmfetch(); } while (0)
#define vmjump(t)	do { ip = code + (t); vmfetch(); } while (0)

#define A1	ip[1]
#define A2	ip[2]
#define A3	ip[3]
#define A4	ip[4]
#define A5	ip[5]
#define A6	ip[6]
#define RI(x)	(R[x].i)
#define RO(x)	(R[x].o)
#define U(x)	((uint64_t)(x))

#define LOAD_FRAME() do {						\
		fr = &vm->frames[vm->nframes - 1];			\
		fn = fr->fn;						\
		code = fn->code;					\
		R = vm->stack + fr->base;				\
	} while (0)
#define SAVE_PC()	(fr->pc = (uint32_t)(ip - code))
#define SYNC_OUT()	(vm->budget = budget)
#define SYNC_IN()	(budget = vm->budget)
/* Calls out of the loop: the pc and budget are visible to the callee. */
#define PROTECT(call) do {						\
		SAVE_PC();						\
		SYNC_OUT();						\
		st = (call);						\
		SYNC_IN();						\
		LOAD_FRAME();						\
		if (unlikely(st))					\
			goto status;					\
	} while (0)
#define THROW_NPE()	PROTECT(throw_npe(vm))

static int kvm_execute(struct kvm *vm)
{
#if defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO)
	static const void *const disptab[KOP__COUNT] KP_JUMP_TABLE = {
#define OP(name, operands, doc) [KOP_##name] = &&L_##name,
#include "opcodes.def"
#undef OP
	};
#endif
	const struct kimage *img = vm->img;
	struct kframe *fr;
	const struct kfunc *fn;
	const int32_t *code, *ip;
	union kvalue *R, v;
	int64_t budget = vm->budget;
	int st;

	LOAD_FRAME();
	ip = code + fr->pc;
	vmfetch();
#if !(defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO))
next:
	if (unlikely(--budget < 0))
		goto out_budget;
#endif
	vmdispatch(*ip) {
	vmcase(NOP)
		vmnext(1);
	vmcase(MOV)
		R[A1] = R[A2];
		vmnext(3);
	vmcase(LOADI)
		RI(A1) = A2;
		vmnext(3);
	vmcase(LOADK) {
		const struct kconst *k = &img->consts[A2];

		if (k->kind == 1)
			RI(A1) = k->ival;
		else
			RO(A1) = vm->kstrings[A2];
		vmnext(3);
	}
	vmcase(LOADNULL)
		RO(A1) = NULL;
		vmnext(2);
	vmcase(LOADFN) {
		uint32_t f = (uint32_t)A2;

		if (unlikely(!vm->fnvals[f])) {
			struct kmethod_ref m = { .func = f,
						 .native = KIMG_NONE };
			struct kfn *o;

			SAVE_PC();
			o = kvm_fn_new(vm, img->funcs[f].type, m, NULL);
			if (!o) {
				st = KVM_ABORT;
				goto status;
			}
			vm->fnvals[f] = &o->h;
		}
		RO(A1) = vm->fnvals[f];
		vmnext(3);
	}
	vmcase(BINDM) {
		struct kobj *recv = RO(A2);
		struct kfn *o;

		if (unlikely(!recv))
			THROW_NPE();
		SAVE_PC();
		o = kvm_fn_new(vm, fn->reg_types[A1],
			       img->classes[kvm_obj_class(recv)]->vtable[A3],
			       recv);
		if (!o) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = &o->h;
		vmnext(4);
	}
	vmcase(GETG)
		R[A1] = vm->globals[A2];
		vmnext(3);
	vmcase(SETG)
		vm->globals[A1] = R[A2];
		vmnext(3);

	vmcase(ADD)
		RI(A1) = (int64_t)(U(RI(A2)) + U(RI(A3)));
		vmnext(4);
	vmcase(SUB)
		RI(A1) = (int64_t)(U(RI(A2)) - U(RI(A3)));
		vmnext(4);
	vmcase(MUL)
		RI(A1) = (int64_t)(U(RI(A2)) * U(RI(A3)));
		vmnext(4);
	vmcase(DIV) {
		int64_t b = RI(A2), c = RI(A3);

		if (unlikely(c == 0))
			PROTECT(kvm_throw_new(vm, KC_ArithmeticException,
					      "division by zero"));
		RI(A1) = c == -1 ? (int64_t)(0 - U(b)) : b / c;
		vmnext(4);
	}
	vmcase(MOD) {
		int64_t b = RI(A2), c = RI(A3);

		if (unlikely(c == 0))
			PROTECT(kvm_throw_new(vm, KC_ArithmeticException,
					      "division by zero"));
		RI(A1) = c == -1 ? 0 : b % c;
		vmnext(4);
	}
	vmcase(ADDI)
		RI(A1) = (int64_t)(U(RI(A2)) + U((int64_t)A3));
		vmnext(4);
	vmcase(BAND)
		RI(A1) = RI(A2) & RI(A3);
		vmnext(4);
	vmcase(BOR)
		RI(A1) = RI(A2) | RI(A3);
		vmnext(4);
	vmcase(BXOR)
		RI(A1) = RI(A2) ^ RI(A3);
		vmnext(4);
	vmcase(SHL)
		RI(A1) = (int64_t)(U(RI(A2)) << (RI(A3) & 63));
		vmnext(4);
	vmcase(SHR) {
		/* arithmetic shift without >> of a negative value */
		int64_t b = RI(A2);
		unsigned int c = (unsigned int)(RI(A3) & 63);

		RI(A1) = b < 0 ? (int64_t)~(~U(b) >> c) : (int64_t)(U(b) >> c);
		vmnext(4);
	}
	vmcase(USHR)
		RI(A1) = (int64_t)(U(RI(A2)) >> (RI(A3) & 63));
		vmnext(4);
	vmcase(NEG)
		RI(A1) = (int64_t)(0 - U(RI(A2)));
		vmnext(3);
	vmcase(BNOT)
		RI(A1) = ~RI(A2);
		vmnext(3);
	vmcase(NOT)
		RI(A1) = !RI(A2);
		vmnext(3);

	vmcase(EQ)
		RI(A1) = RI(A2) == RI(A3);
		vmnext(4);
	vmcase(NE)
		RI(A1) = RI(A2) != RI(A3);
		vmnext(4);
	vmcase(LT)
		RI(A1) = RI(A2) < RI(A3);
		vmnext(4);
	vmcase(LE)
		RI(A1) = RI(A2) <= RI(A3);
		vmnext(4);
	vmcase(EQREF)
		RI(A1) = RO(A2) == RO(A3);
		vmnext(4);
	vmcase(EQSTR)
		RI(A1) = kvm_str_eq(RO(A2), RO(A3));
		vmnext(4);
	vmcase(EQANY)
		RI(A1) = any_eq(RO(A2), RO(A3));
		vmnext(4);

	vmcase(JMP)
		vmjump(A1);
	vmcase(JT)
		if (RI(A1))
			vmjump(A2);
		vmnext(3);
	vmcase(JF)
		if (!RI(A1))
			vmjump(A2);
		vmnext(3);
	vmcase(JEQ)
		if (RI(A1) == RI(A2))
			vmjump(A3);
		vmnext(4);
	vmcase(JNE)
		if (RI(A1) != RI(A2))
			vmjump(A3);
		vmnext(4);
	vmcase(JLT)
		if (RI(A1) < RI(A2))
			vmjump(A3);
		vmnext(4);
	vmcase(JLE)
		if (RI(A1) <= RI(A2))
			vmjump(A3);
		vmnext(4);
	vmcase(JEQI)
		if (RI(A1) == A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JNEI)
		if (RI(A1) != A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JLTI)
		if (RI(A1) < A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JLEI)
		if (RI(A1) <= A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JGTI)
		if (RI(A1) > A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JGEI)
		if (RI(A1) >= A2)
			vmjump(A3);
		vmnext(4);
	vmcase(JNULL)
		if (!RO(A1))
			vmjump(A2);
		vmnext(3);
	vmcase(JNNULL)
		if (RO(A1))
			vmjump(A2);
		vmnext(3);

	vmcase(CONCAT) {
		struct kobj *o;

		PROTECT(concat(vm, RO(A2), RO(A3), &o));
		RO(A1) = o;
		vmnext(4);
	}
	vmcase(ITOS) {
		struct kstr *s;

		SAVE_PC();
		s = kvm_int_to_str(vm, RI(A2));
		if (!s) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = &s->h;
		vmnext(3);
	}
	vmcase(ZTOS) {
		struct kstr *s;

		SAVE_PC();
		s = kvm_str_cstr(vm, RI(A2) ? "true" : "false");
		if (!s) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = &s->h;
		vmnext(3);
	}
	vmcase(RTOS) {
		struct kobj *o = RO(A2);
		struct kstr *s = NULL;

		/* a script toString runs in a frame, not on the C stack */
		if (o && (o->kind == KO_INSTANCE || o->kind == KO_STREAM) &&
		    img->classes[o->cls]->vtable[0].func != KIMG_NONE) {
			uint32_t ts = img->classes[o->cls]->vtable[0].func;
			const struct kfunc *callee = &img->funcs[ts];
			union kvalue *dst;

			SAVE_PC();
			dst = push_frame(vm, callee, A1, KRET_TOSTR);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			dst[0].o = o;
			LOAD_FRAME();
			ip = code;
			vmfetch();
		}

		PROTECT(kvm_ref_to_string(vm, RO(A2), &s));
		RO(A1) = &s->h;
		vmnext(3);
	}

	vmcase(BOXI)
	vmcase(BOXZ) {
		struct kobj *o;

		SAVE_PC();
		o = kvm_box(vm, *ip == KOP_BOXZ, RI(A2));
		if (!o) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = o;
		vmnext(3);
	}
	vmcase(UNBOXI)
	vmcase(UNBOXZ) {
		struct kobj *o = RO(A2);
		bool z = *ip == KOP_UNBOXZ;

		if (unlikely(!o))
			THROW_NPE();
		if (unlikely(o->kind != (z ? KO_BOXZ : KO_BOXI)))
			PROTECT(throw_cast(vm, o,
					   z ? img->t_bool : img->t_int));
		RI(A1) = ((struct kbox *)o)->v;
		vmnext(3);
	}
	vmcase(CAST) {
		struct kobj *o = RO(A2);

		if (o && unlikely(!kvm_instance_of(vm, o, (uint32_t)A3)))
			PROTECT(throw_cast(vm, o, (uint32_t)A3));
		RO(A1) = o;
		vmnext(4);
	}
	vmcase(INSTOF) {
		struct kobj *o = RO(A2);

		RI(A1) = o && kvm_instance_of(vm, o, (uint32_t)A3);
		vmnext(4);
	}

	vmcase(NEW) {
		struct kinst *o;

		SAVE_PC();
		o = kvm_inst_new(vm, (uint32_t)A2);
		if (!o) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = &o->h;
		vmnext(3);
	}
	vmcase(GETF) {
		struct kobj *o = RO(A2);

		if (unlikely(!o))
			THROW_NPE();
		R[A1] = ((struct kinst *)o)->f[A3];
		vmnext(4);
	}
	vmcase(SETF) {
		struct kobj *o = RO(A1);

		if (unlikely(!o))
			THROW_NPE();
		((struct kinst *)o)->f[A2] = R[A3];
		vmnext(4);
	}
	vmcase(NEWARR) {
		int64_t n = RI(A3);
		struct karr *a;

		if (unlikely(n < 0))
			PROTECT(throw_negative_size(vm, n));
		SAVE_PC();
		a = n > 0x7fffffff ? (kvm_abort(vm, KVM_ABORT_OOM), NULL) :
			kvm_arr_new(vm, (uint32_t)A2, (uint32_t)n);
		if (!a) {
			st = KVM_ABORT;
			goto status;
		}
		RO(A1) = &a->h;
		vmnext(4);
	}
	vmcase(NEWARRV) {
		uint32_t n = (uint32_t)A4, i;
		struct karr *a;

		SAVE_PC();
		a = kvm_arr_new(vm, (uint32_t)A2, n);
		if (!a) {
			st = KVM_ABORT;
			goto status;
		}
		for (i = 0; i < n; i++)
			a->v[i] = R[A3 + (int32_t)i];
		RO(A1) = &a->h;
		vmnext(5);
	}
	vmcase(AGET) {
		struct karr *a = (struct karr *)RO(A2);
		int64_t i = RI(A3);

		if (unlikely(!a))
			THROW_NPE();
		if (unlikely(U(i) >= a->len))
			PROTECT(kvm_throw_index(vm, i, a->len));
		R[A1] = a->v[i];
		vmnext(4);
	}
	vmcase(ASET) {
		struct karr *a = (struct karr *)RO(A1);
		int64_t i = RI(A2);

		if (unlikely(!a))
			THROW_NPE();
		if (unlikely(U(i) >= a->len))
			PROTECT(kvm_throw_index(vm, i, a->len));
		a->v[i] = R[A3];
		vmnext(4);
	}

	vmcase(CALL) {
		const struct kfunc *callee = &img->funcs[A2];
		uint32_t caller = fr->base, i;
		union kvalue *dst;
		const union kvalue *src;

		SAVE_PC();
		dst = push_frame(vm, callee, A1, KRET_PLAIN);
		if (unlikely(!dst)) {
			st = KVM_ABORT;
			goto status;
		}
		src = vm->stack + caller + A3;
		for (i = 0; i < callee->nargs; i++)
			dst[i] = src[i];
		LOAD_FRAME();
		ip = code;
		vmfetch();
	}
	vmcase(CALLV) {
		struct kobj *recv = RO(A3);
		struct kmethod_ref m;

		if (unlikely(!recv))
			THROW_NPE();
		m = img->classes[kvm_obj_class(recv)]->vtable[A2];
		if (m.func != KIMG_NONE) {
			const struct kfunc *callee = &img->funcs[m.func];
			uint32_t caller = fr->base, i;
			union kvalue *dst;
			const union kvalue *src;

			SAVE_PC();
			dst = push_frame(vm, callee, A1, KRET_PLAIN);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			src = vm->stack + caller + A3;
			for (i = 0; i < callee->nargs; i++)
				dst[i] = src[i];
			LOAD_FRAME();
			ip = code;
			vmfetch();
		}
		v.i = 0;
		PROTECT(call_native(vm, m.native, NULL, &R[A3], &v));
		if (A1 >= 0)
			R[A1] = v;
		vmnext(4);
	}
	vmcase(CALLN) {
		uint32_t n = (uint32_t)A2;

		if (vm->nsig[n].has_recv && unlikely(!RO(A3)))
			THROW_NPE();
		v.i = 0;
		PROTECT(call_native(vm, n, NULL, &R[A3], &v));
		if (A1 >= 0)
			R[A1] = v;
		vmnext(4);
	}
	vmcase(CALLF) {
		struct kfn *f = (struct kfn *)RO(A2);
		uint32_t caller = fr->base, i, k;

		if (unlikely(!f))
			THROW_NPE();
		if (f->m.func != KIMG_NONE) {
			const struct kfunc *callee = &img->funcs[f->m.func];
			struct kobj *recv = f->recv;
			union kvalue *dst;
			const union kvalue *src;

			SAVE_PC();
			dst = push_frame(vm, callee, A1, KRET_PLAIN);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			src = vm->stack + caller + A3;
			k = 0;
			if (recv)
				dst[k++].o = recv;
			for (i = 0; k < callee->nargs; i++)
				dst[k++] = src[i];
			LOAD_FRAME();
			ip = code;
			vmfetch();
		}
		v.i = 0;
		PROTECT(call_native(vm, f->m.native, f->recv, &R[A3], &v));
		if (A1 >= 0)
			R[A1] = v;
		vmnext(4);
	}
	vmcase(CALLA) {
		/* A r e N r q: dest, receiver, name, argc, first arg, cache */
		struct kobj *recv = RO(A2);
		const struct kstr_lit *name = &img->strings[A3];
		uint32_t argc = (uint32_t)A4, i, key;
		struct kinline_cache *ic = &fn->ics[A6];
		struct kmethod_ref m;

		if (unlikely(!recv))
			THROW_NPE();
		key = recv->kind == KO_ARRAY ? KEY_ARRAY : kvm_obj_class(recv);
		if (likely(key != KIMG_NONE && ic->key == key)) {
			m = ic->target;
		} else {
			if (!resolve_dynamic(vm, recv, name, &m))
				PROTECT(throw_nomethod(vm, recv, name));
			ic->misses++;
			if (key != KIMG_NONE) {
				ic->key = key;
				ic->target = m;
			}
		}
		if (m.func != KIMG_NONE) {
			const struct kfunc *callee = &img->funcs[m.func];
			const struct ktype *sig = &img->types[callee->type];
			uint32_t caller = fr->base;
			union kvalue *dst;

			if (sig->nparams != argc)
				PROTECT(throw_argc(vm, sig->nparams, argc));
			for (i = 0; i < argc; i++) {
				struct kobj *x = RO(A5 + (int32_t)i);

				if (!dyn_ok(vm, x, sig->params[i]))
					PROTECT(throw_cast(vm, x,
							   sig->params[i]));
			}
			SAVE_PC();
			dst = push_frame(vm, callee, A1,
					 ret_mode_of(img, sig->result));
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			R = vm->stack + caller;
			dst[0].o = recv;
			for (i = 0; i < argc; i++)
				dst[1 + i] = dyn_val(vm, RO(A5 + (int32_t)i),
						     sig->params[i]);
			LOAD_FRAME();
			ip = code;
			vmfetch();
		}
		v.o = NULL;
		PROTECT(calla_native(vm, m.native, recv, &R[A5], argc, &v));
		if (A1 >= 0)
			R[A1] = v;
		vmnext(7);
	}
	vmcase(RET)
		v = R[A1];
		goto do_return;
	vmcase(RETV)
		v.o = NULL;
		goto do_return;
	vmcase(THROW) {
		struct kobj *e = RO(A1);

		if (unlikely(!e))
			THROW_NPE();
		SAVE_PC();
		st = begin_throw(vm, e);
		goto status;
	}
#if !(defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO))
	default:
		/* unreachable: the loader verified every opcode */
		KP_WARN_ON(1);
		SAVE_PC();
		st = kvm_abort(vm, KVM_ABORT_DEPTH);
		goto out;
#endif
	}

do_return: {
		bool entry = fr->entry;
		int32_t ret_reg = fr->ret_reg;
		uint8_t mode = fr->ret_mode;

		vm->nframes--;
		if (entry) {
			vm->retval = v;
			st = KVM_OK;
			goto out;
		}
		LOAD_FRAME();
		if (ret_reg >= 0) {
			if (mode == KRET_BOXI || mode == KRET_BOXZ) {
				v.o = kvm_box(vm, mode == KRET_BOXZ, v.i);
				if (!v.o) {
					st = KVM_ABORT;
					goto status;
				}
			} else if (mode == KRET_VOIDNULL) {
				v.o = NULL;
			} else if (mode == KRET_TOSTR && !v.o) {
				v.o = (struct kobj *)kvm_str_cstr(vm, "null");
				if (!v.o) {
					st = KVM_ABORT;
					goto status;
				}
			}
			R[ret_reg] = v;
		}
		ip = code + fr->pc + op_len[code[fr->pc]];
		vmfetch();
	}

status:
	if (st == KVM_ABORT)
		goto out;
	/* KVM_THROW: unwind to the innermost handler */
	for (;;) {
		const struct khandler *h;
		uint32_t fi = vm->nframes - 1;

		fr = &vm->frames[fi];
		fn = fr->fn;
		h = find_handler(vm, fn, fr->pc, vm->exc);
		if (h) {
			if (vm->trace_frame != fi) {
				trace_add(vm, fn, fr->pc);
				vm->trace_frame = fi;
			}
			LOAD_FRAME();
			RO(h->reg) = vm->exc;
			vm->exc = NULL;
			ip = code + h->target;
			vmfetch();
		}
		if (vm->trace_frame != fi)
			trace_add(vm, fn, fr->pc);
		vm->trace_frame = KIMG_NONE;
		vm->nframes--;
		if (fr->entry) {
			st = KVM_THROW;
			goto out;
		}
	}

out_budget:
	SAVE_PC();
	budget = -1;
	st = kvm_abort(vm, KVM_ABORT_BUDGET);
out:
	vm->budget = budget;
	return st;
}

#undef vmdispatch
#undef vmcase
#undef vmfetch
#undef vmnext
#undef vmjump
#undef A1
#undef A2
#undef A3
#undef A4
#undef A5
#undef A6
#undef RI
#undef RO
#undef U
#undef LOAD_FRAME
#undef SAVE_PC
#undef SYNC_OUT
#undef SYNC_IN
#undef PROTECT
#undef THROW_NPE

/* ---- entry points ------------------------------------------------------- */

int kvm_invoke(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
	       uint32_t nargs, union kvalue *ret)
{
	const struct kfunc *fn;
	union kvalue *r;
	uint32_t i;
	int st;

	if (m.func == KIMG_NONE) {
		ret->i = 0;
		return kvm_natives[m.native](vm, args, ret);
	}
	if (vm->nest >= KVM_MAX_NEST)
		return kvm_abort(vm, KVM_ABORT_DEPTH);
	fn = &vm->img->funcs[m.func];
	r = push_frame(vm, fn, -1, KRET_PLAIN);
	if (!r)
		return KVM_ABORT;
	for (i = 0; i < fn->nargs && i < nargs; i++)
		r[i] = args[i];
	vm->frames[vm->nframes - 1].entry = 1;
	vm->nest++;
	st = kvm_execute(vm);
	vm->nest--;
	ret->i = 0;
	if (st == KVM_OK)
		*ret = vm->retval;
	vm->retval.i = 0;
	return st;
}

int kvm_call_top(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
		 uint32_t nargs, union kvalue *ret, uint64_t budget)
{
	int st;

	vm->budget = budget > (uint64_t)INT64_MAX ? INT64_MAX :
		(int64_t)budget;
	vm->abort_kind = KVM_ABORT_NONE;
	vm->exc = NULL;
	vm->trace_exc = NULL;
	vm->trace_frame = KIMG_NONE;
	vm->ntrace = 0;
	st = kvm_invoke(vm, m, args, nargs, ret);
	vm->executed += budget - (uint64_t)(vm->budget < 0 ? 0 : vm->budget);
	if (st != KVM_OK)
		kvm_make_report(vm, st);
	vm->nframes = 0;
	vm->nest = 0;
	vm->ntmp = 0;
	while (vm->nconv)
		vm->conv[--vm->nconv].o->flags &= ~KOBJ_CONVERTING;
	vm->trace_exc = NULL;
	return st;
}

/* ---- reports ------------------------------------------------------------ */

static uint32_t line_of(const struct kfunc *fn, uint32_t pc)
{
	uint32_t lo = 0, hi = fn->nlines, line = 0;

	/* last entry with entry.pc <= pc */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (fn->lines[mid].pc <= pc) {
			line = fn->lines[mid].line;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return line;
}

static void report_put(struct kvm *vm, const char *s, size_t n, size_t *cap)
{
	char *p;
	size_t c;

	if (vm->report_len + n + 1 > *cap) {
		c = *cap ? *cap : 256;
		while (c < vm->report_len + n + 1)
			c *= 2;
		p = kp_realloc(vm->report, *cap, c);
		if (!p)
			return;
		vm->report = p;
		*cap = c;
	}
	memcpy(vm->report + vm->report_len, s, n);
	vm->report_len += n;
	vm->report[vm->report_len] = '\0';
}

void kvm_make_report(struct kvm *vm, int st)
{
	static const char *const aborts[] = {
		[KVM_ABORT_NONE] = "abort: unknown",
		[KVM_ABORT_BUDGET] = "abort: budget exceeded",
		[KVM_ABORT_OOM] = "abort: out of memory",
		[KVM_ABORT_DEPTH] = "abort: stack overflow",
	};
	char line[512];
	size_t cap = 0;
	uint32_t i;

	kp_free(vm->report);
	vm->report = NULL;
	vm->report_len = 0;
	if (st == KVM_ABORT) {
		report_put(vm, aborts[vm->abort_kind],
			   strlen(aborts[vm->abort_kind]), &cap);
	} else if (vm->exc) {
		struct kinst *e = (struct kinst *)vm->exc;
		const char *cname = vm->img->classes[e->h.cls]->name;
		struct kstr *msg = (struct kstr *)e->f[KF_EXC_MESSAGE].o;

		report_put(vm, cname, strlen(cname), &cap);
		report_put(vm, ": ", 2, &cap);
		if (msg)
			report_put(vm, (const char *)msg->b, msg->len, &cap);
		else
			report_put(vm, "null", 4, &cap);
	}
	report_put(vm, "\n", 1, &cap);
	for (i = 0; i < vm->ntrace; i++) {
		const struct ktrace_ent *t = &vm->trace[i];
		int n = snprintf(line, sizeof(line), "  at %s (%s:%u)\n",
				 t->fn->name, vm->img->source_name,
				 line_of(t->fn, t->pc));

		if (n > (int)sizeof(line) - 1)
			n = sizeof(line) - 1;
		report_put(vm, line, (size_t)n, &cap);
	}
}

const char *kvm_report(struct kvm *vm)
{
	return vm->report ? vm->report : "";
}

/* ---- life cycle --------------------------------------------------------- */

void kvm_default_limits(struct kvm_limits *lim)
{
	lim->budget = KVM_DEFAULT_BUDGET;
	lim->cb_budget = KVM_DEFAULT_BUDGET;
	lim->heap = KVM_DEFAULT_HEAP;
	lim->depth = KVM_DEFAULT_DEPTH;
}

static void *mem_zalloc(struct kvm *vm, size_t n)
{
	void *p = kvm_mem_alloc(vm, n);

	if (p)
		memset(p, 0, n);
	return p;
}

struct kvm *kvm_create(const struct kimage *img, const struct kvm_limits *lim,
		       const struct kvm_host *host)
{
	struct kvm *vm;
	uint32_t i;

	vm = kp_zalloc(sizeof(*vm));
	if (!vm)
		return NULL;
	vm->img = img;
	vm->lim = *lim;
	if (vm->lim.depth < 1)
		vm->lim.depth = 1;
	vm->host = *host;
	vm->gc_next = 1u << 20;
	vm->trace_frame = KIMG_NONE;
	kp_mutex_init(&vm->lock);
	if (kvm_natives_init(vm))
		goto out_destroy;
	/* setup allocations are charged like the script's own */
	vm->globals = mem_zalloc(vm, (img->nglobals + 1) *
				 sizeof(union kvalue));
	if (!vm->globals)
		goto out_destroy;
	vm->kstrings = mem_zalloc(vm, (img->nconsts + 1) *
				  sizeof(struct kobj *));
	if (!vm->kstrings)
		goto out_destroy;
	vm->fnvals = mem_zalloc(vm, (img->nfuncs + 1) *
				sizeof(struct kobj *));
	if (!vm->fnvals)
		goto out_destroy;
	for (i = 0; i < img->nconsts; i++) {
		const struct kconst *k = &img->consts[i];
		struct kstr *s;

		if (k->kind != 2)
			continue;
		s = kvm_str_new(vm, img->strings[k->str].bytes,
				img->strings[k->str].len);
		if (!s)
			goto out_destroy;
		vm->kstrings[i] = &s->h;
	}
	if (!grow_stack(vm, STACK_MIN) || !grow_frames(vm))
		goto out_destroy;
	vm->abort_kind = KVM_ABORT_NONE;
	return vm;

out_destroy:
	kvm_destroy(vm);
	return NULL;
}

int kvm_run_init(struct kvm *vm)
{
	struct kmethod_ref m = { .func = vm->img->init_func,
				 .native = KIMG_NONE };
	union kvalue ret;
	int st;

	kp_mutex_lock_always(&vm->lock);
	st = kvm_call_top(vm, m, NULL, 0, &ret, vm->lim.budget);
	if (st == KVM_OK) {
		vm->init_done = true;
	} else {
		vm->init_failed = true;
		kvm_devices_remove_all(vm);
	}
	kp_mutex_unlock(&vm->lock);
	return st;
}

long kvm_live_allocs(const struct kvm *vm)
{
	return vm->live_allocs;
}

void kvm_destroy(struct kvm *vm)
{
	if (!vm)
		return;
	kvm_devices_remove_all(vm);
	vm->nframes = 0;
	vm->ntmp = 0;
	vm->nconv = 0;
	kvm_free_all_objects(vm);
	kvm_mem_free(vm, vm->globals, (vm->img->nglobals + 1) *
		     sizeof(union kvalue));
	kvm_mem_free(vm, vm->kstrings, (vm->img->nconsts + 1) *
		     sizeof(struct kobj *));
	kvm_mem_free(vm, vm->fnvals, (vm->img->nfuncs + 1) *
		     sizeof(struct kobj *));
	kvm_mem_free(vm, vm->stack, vm->stack_cap * sizeof(union kvalue));
	kvm_mem_free(vm, vm->frames, vm->frames_cap * sizeof(struct kframe));
	kvm_mem_free(vm, vm->conv, vm->conv_cap * sizeof(struct kconv));
	KP_WARN_ON(vm->live_allocs != 0);
	kp_free(vm->trace);
	kp_free(vm->report);
	kp_mutex_destroy(&vm->lock);
	kp_free(vm);
}
