// SPDX-License-Identifier: GPL-2.0
/*
 * verify.c - the loader's last pass: the code of every function, checked
 * instruction by instruction against the typing rules of image.md, so
 * that the interpreter may trust every operand it decodes.
 *
 * Typing is per register, not per program point: every register has one
 * declared type for the whole function, so each instruction is checked
 * alone, in one linear pass, with no data flow.  Reference registers
 * (ld_type_is_ref) hold only references and the others only ints and
 * booleans, which is what lets the GC scan frames by register type.
 *
 * For each function: a first walk finds the instruction starts (jumps and
 * handlers may target only those) and checks that the code does not run
 * off its end; a second walk checks each instruction's operands against
 * their ranges (verify_operands, by the operand letters of opcodes.def)
 * and then its typing rule (verify_insn), which may therefore index any
 * table by an operand without checking it again.  Handlers and the line
 * table come last.  link.c has checked the classes, vtables and function
 * headers these rules rely on.
 */
#include "loader.h"

/*
 * Names and operand letters by opcode, for messages and decoding: an
 * instruction is its opcode word and strlen(op_operands[op]) operand words.
 */
static const char *const op_names[] = {
#define OP(name, operands, flags, doc) #name,
#include "opcodes.def"
#undef OP
};

static const char *const op_operands[] = {
#define OP(name, operands, flags, doc) operands,
#include "opcodes.def"
#undef OP
};

/* ---- verifying code ------------------------------------------------------------ */

/* What verify_insn needs about the instruction at hand. */
struct vinsn {
	const struct kfunc *f;
	uint32_t pc;
	int op;			/* in range: checked by the first walk */
	const int32_t *w;	/* operand words, all inside f->code */
};

/* An error located at the instruction: function, pc and opcode name. */
#define VERR(ld, v, fmt, ...) \
	ld_err(ld, -EINVAL, "function %s: pc %u: %s: " fmt, (v)->f->name, \
	       (v)->pc, op_names[(v)->op], ##__VA_ARGS__)

/* Declared type of register r (in range: verify_operands checked it). */
static uint32_t rtype(const struct vinsn *v, int32_t r)
{
	return v->f->reg_types[r];
}

/* Kind (KT_*) of register r's type. */
static uint8_t rkind(const struct kimage *img, const struct vinsn *v, int32_t r)
{
	return img->types[rtype(v, r)].kind;
}

/*
 * Register r has exactly type t.  Types are interned (read.c refuses
 * duplicates), so equal indexes are equal types.
 */
static int need_type(struct ld *ld, const struct vinsn *v, int32_t r,
		     uint32_t t)
{
	if (rtype(v, r) == t)
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected %s", r,
		    ld_tname1(ld, rtype(v, r)), ld_tname2(ld, t));
}

/* Register r holds a reference: any class, array, Func or Any type. */
static int need_ref(struct ld *ld, const struct vinsn *v, int32_t r)
{
	if (v->f->reg_is_ref[r])
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected a reference",
		    r, ld_tname1(ld, rtype(v, r)));
}

/*
 * A value of type s flows into register r: s <= type(r), as opcodes.def
 * defines it (equal, Any from a reference, or a subclass).
 */
static int need_into(struct ld *ld, const struct vinsn *v, uint32_t s,
		     int32_t r)
{
	if (kimg_assignable(ld->img, s, rtype(v, r)))
		return 0;
	return VERR(ld, v, "register r%d has type %s, cannot hold %s", r,
		    ld_tname1(ld, rtype(v, r)), ld_tname2(ld, s));
}

/* Register r flows into a slot of type t. */
static int need_from(struct ld *ld, const struct vinsn *v, int32_t r,
		     uint32_t t, const char *what)
{
	if (kimg_assignable(ld->img, rtype(v, r), t))
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected %s for %s", r,
		    ld_tname1(ld, rtype(v, r)), ld_tname2(ld, t), what);
}

/*
 * Registers of the same type, int or boolean.  A boolean register only
 * ever holds 0 or 1 (LOADI checks its immediate, the other writes come
 * from boolean results), so an operation may not mix the two: an int
 * result stored as a boolean would break that for every later reader.
 */
static int need_same_intbool(struct ld *ld, const struct vinsn *v,
			     int32_t a, int32_t b)
{
	uint8_t k = rkind(ld->img, v, a);

	if (k != KT_INT && k != KT_BOOL)
		return VERR(ld, v, "register r%d has type %s, expected int or boolean",
			    a, ld_tname1(ld, rtype(v, a)));
	return need_type(ld, v, b, rtype(v, a));
}

/*
 * Class of the class type in register r, else an error (Any, arrays and
 * Func types have no class: their members cannot be named statically).
 */
static int need_class(struct ld *ld, const struct vinsn *v, int32_t r,
		      const struct kclass **out)
{
	uint32_t id = ld_type_class(ld->img, rtype(v, r));

	if (id == KIMG_NONE)
		return VERR(ld, v, "register r%d has type %s, expected a class",
			    r, ld_tname1(ld, rtype(v, r)));
	*out = ld_get_class(ld->img, id);
	return 0;
}

/*
 * (1.1) An interface call's receiver and method: type t is an interface
 * type, i one of its own methods, and register b (checked again: it
 * starts an argument block) holds a subtype of t.  *sig gets the
 * method's Func type, which link.c made every implementing class's slot
 * have exactly.
 */
static int need_iface_method(struct ld *ld, const struct vinsn *v,
			     uint32_t t, int32_t i, int32_t b, uint32_t *sig)
{
	const struct ktype *ty = &ld->img->types[t];
	const struct kiface *it;

	if (ty->kind != KT_IFACE)
		return VERR(ld, v, "type %s is not an interface",
			    ld_tname1(ld, t));
	it = &ld->img->ifaces[ty->elem];
	if (i < 0 || (uint32_t)i >= it->nmethods)
		return VERR(ld, v, "interface %s has no method %d", it->name, i);
	if (b < 0 || (uint32_t)b >= v->f->nregs)
		return VERR(ld, v, "receiver register r%d out of range", b);
	if (!kimg_assignable(ld->img, rtype(v, b), t))
		return VERR(ld, v, "receiver r%d has type %s, expected %s", b,
			    ld_tname1(ld, rtype(v, b)), ld_tname2(ld, t));
	*sig = it->method_types[i];
	return 0;
}

/* Register r has an array type; *elem gets its element type. */
static int need_array(struct ld *ld, const struct vinsn *v, int32_t r,
		      uint32_t *elem)
{
	const struct ktype *t = &ld->img->types[rtype(v, r)];

	if (t->kind != KT_ARRAY)
		return VERR(ld, v, "register r%d has type %s, expected an array",
			    r, ld_tname1(ld, rtype(v, r)));
	*elem = t->elem;
	return 0;
}

/*
 * Argument block R[b..b+n): in range, argument i typed <= params[i].  A
 * TYPE_T parameter (generic Array natives) stands for elem, the element
 * type of the receiving array.
 */
static int need_args(struct ld *ld, const struct vinsn *v, int32_t b,
		     uint32_t n, const uint32_t *params, uint32_t elem)
{
	uint32_t i;

	if (b < 0 || (uint64_t)b + n > v->f->nregs)
		return VERR(ld, v, "argument registers r%d..r%lld out of range (%u registers)",
			    b, (long long)b + n - 1, v->f->nregs);
	for (i = 0; i < n; i++) {
		uint32_t pt = params[i] == TYPE_T ? elem : params[i];

		if (need_from(ld, v, b + (int32_t)i, pt, "an argument"))
			return ld->failed;
	}
	return 0;
}

/* The result of a call: A == -1 iff void, else result <= type(A). */
static int need_result(struct ld *ld, const struct vinsn *v, int32_t a,
		       uint32_t result)
{
	bool is_void = result < ld->img->ntypes &&
		       ld->img->types[result].kind == KT_VOID;

	if (is_void && a != -1)
		return VERR(ld, v, "result register r%d for a void call", a);
	if (!is_void && a == -1)
		return VERR(ld, v, "no result register for a call returning %s",
			    ld_tname1(ld, result));
	return is_void ? 0 : need_into(ld, v, result, a);
}

/*
 * Register b holds an instance of class cls or of a subclass.  b comes
 * from an argument block operand, which may be nregs for an empty block,
 * so it is checked here again.
 */
static int need_receiver(struct ld *ld, const struct vinsn *v, int32_t b,
			 uint32_t cls)
{
	const struct kclass *k;

	if (b < 0 || (uint32_t)b >= v->f->nregs)
		return VERR(ld, v, "receiver register r%d out of range", b);
	if (need_class(ld, v, b, &k))
		return ld->failed;
	if (!kimg_subclass(ld->img, k->id, cls))
		return VERR(ld, v, "receiver r%d has type %s, expected %s", b,
			    ld_tname1(ld, rtype(v, b)),
			    ld_get_class(ld->img, cls)->name);
	return 0;
}

/*
 * Signature (Func type) of vtable slot s of class k; link.c made every
 * slot of a subclass keep the type of its super's slot, so the type seen
 * through the static class holds for whatever the object really is.
 */
static int slot_sig(struct ld *ld, const struct vinsn *v,
		    const struct kclass *k, int32_t s, uint32_t *sig)
{
	const struct kmethod_ref *m;

	if (s < 0 || (uint32_t)s >= k->nvtable)
		return VERR(ld, v, "class %s has no vtable slot %d", k->name, s);
	m = &k->vtable[s];
	*sig = m->native != KIMG_NONE ? ld->priv->natives[m->native].functype :
					ld->img->funcs[m->func].type;
	return 0;
}

/*
 * CALLV A s B C q: the type of the method in slot s, through the static
 * class of B; (1.1) through an interface type, Object's slots
 * (toString): every interface type is a subtype of Object.
 */
static int callv_sig(struct ld *ld, const struct vinsn *v, uint32_t *sig)
{
	const struct kclass *k;

	if (rkind(ld->img, v, v->w[2]) == KT_IFACE)
		k = ld_get_class(ld->img, KC_Object);
	else if (need_class(ld, v, v->w[2], &k))
		return ld->failed;
	return slot_sig(ld, v, k, v->w[1], sig);
}

/*
 * (1.1) A type of a Map method's signature for the receiving map type mt:
 * K, V, Array<K> and Array<V> become its own types (the reader made sure
 * the arrays are in the image); other types are what they are.
 */
static uint32_t map_subst(const struct kimage *img, const struct ktype *mt,
			  uint32_t t)
{
	struct ktype at = { .kind = KT_ARRAY };

	switch (t) {
	case TYPE_K:
		return mt->elem;
	case TYPE_V:
		return mt->result;
	case TYPE_AK:
	case TYPE_AV:
		at.elem = t == TYPE_AK ? mt->elem : mt->result;
		return kimg_find_type(img, &at);
	default:
		return t;
	}
}

/*
 * (1.1) A type of an Array method's signature for the receiving array
 * type at: Array<T> is at itself, Func<int(T, T)> the Func type of that
 * shape on at's elements, KIMG_NONE when the image lacks it (then no
 * register has it either, and need_args refuses the call); other types,
 * T included (need_args substitutes it), are what they are.
 */
static uint32_t array_subst(const struct kimage *img, uint32_t at,
			    uint32_t t)
{
	uint32_t pair[2];
	struct ktype ft = {
		.kind = KT_FUNC, .result = img->t_int, .nparams = 2,
		.params = pair,
	};

	if (t == TYPE_AT)
		return at;
	if (t != TYPE_FT)
		return t;
	pair[0] = pair[1] = img->types[at].elem;
	return kimg_find_type(img, &ft);
}

/*
 * CALLN A n B: native n on the argument block at B (the receiver first
 * for methods and constructors), result into A.  Generic Array natives
 * take their T from the receiver's element type ((1.1) and their
 * Array<T> and Func<int(T, T)> from its type), (1.1) Map natives their
 * K and V from the receiver's map type.
 */
static int verify_calln(struct ld *ld, const struct vinsn *v)
{
	const struct native_sig *ns = &ld->priv->natives[v->w[1]];
	int32_t a = v->w[0], b = v->w[2];
	uint32_t elem = KIMG_NONE, tp[KB_MAX_PARAMS], i;
	const uint32_t *params = ns->params;
	uint32_t result = ns->result;

	if (kb_native_has_recv((uint32_t)v->w[1])) {
		if (b < 0 || (uint32_t)b >= v->f->nregs)
			return VERR(ld, v, "receiver register r%d out of range",
				    b);
		if (ns->owner == TYPE_T) {
			if (need_array(ld, v, b, &elem))
				return ld->failed;
			for (i = 0; i < ns->nparams; i++)
				tp[i] = array_subst(ld->img, rtype(v, b),
						    ns->params[i]);
			params = tp;
			result = array_subst(ld->img, rtype(v, b), ns->result);
		} else if (ns->owner == TYPE_MAP) {
			const struct ktype *mt = &ld->img->types[rtype(v, b)];

			if (mt->kind != KT_MAP)
				return VERR(ld, v, "register r%d has type %s, expected a map",
					    b, ld_tname1(ld, rtype(v, b)));
			for (i = 0; i < ns->nparams; i++)
				tp[i] = map_subst(ld->img, mt, ns->params[i]);
			params = tp;
			result = map_subst(ld->img, mt, ns->result);
		} else if (need_receiver(ld, v, b, ns->owner)) {
			return ld->failed;
		}
		b++;
	}
	if (need_args(ld, v, b, ns->nparams, params, elem))
		return ld->failed;
	return need_result(ld, v, a, result == TYPE_T ? elem : result);
}

/*
 * Classes NEW may create: script classes, and the built-in ones that
 * builtins.def gives a constructor (Object, the exception classes,
 * Device, (1.1) CharDevice, WaitQueue, Timer); the others (String, the
 * streams, File, PollTable) are made only by the VM and its natives.
 */
static bool instantiable(uint32_t c)
{
	uint32_t i;

	if (c >= KIMG_FIRST_SCRIPT_CLASS)
		return true;
	/* a built-in class with a constructor in builtins.def */
	for (i = 0; i < kb_nclasses; i++)
		if (kb_classes[i].id == c)
			return kb_classes[i].ctor >= 0;
	return false;
}

/*
 * Inline cache q taken by the instruction v (CALLV, CALLI): refused if
 * another site of the function took it already, see verify_insn().
 */
static int need_ic(struct ld *ld, struct vinsn *v, uint8_t *ic_used,
		   int32_t q)
{
	if (ic_used[q / 8] & (1u << (q % 8)))
		return VERR(ld, v, "inline cache %d used twice", q);
	ic_used[q / 8] |= (uint8_t)(1u << (q % 8));
	return 0;
}

/*
 * The typing rule of one instruction whose operands are in range.  Each
 * inline cache may serve one call site only (ic_used: a bit per cache), since
 * a cache remembers one call site's receiver class.  An opcode without a
 * case here is refused (the last line), so an instruction added to
 * opcodes.def is never trusted before it has a rule.
 * Return: 0, or ld->failed with the first error recorded.
 */
static int verify_insn(struct ld *ld, struct vinsn *v, uint8_t *ic_used)
{
	struct kimage *img = ld->img;
	const int32_t *w = v->w;
	const struct kclass *k;
	const struct ktype *t;
	uint32_t elem, sig, x;

	switch (v->op) {
	case KOP_NOP:
	case KOP_JMP:		/* the target was checked with the operands */
		return 0;
	case KOP_MOV:
		return need_into(ld, v, rtype(v, w[1]), w[0]);
	case KOP_LOADI:		/* into a boolean only 0 and 1 */
		if (rtype(v, w[0]) == img->t_bool) {
			if (w[1] != 0 && w[1] != 1)
				return VERR(ld, v, "immediate %d is not a boolean",
					    w[1]);
			return 0;
		}
		return need_type(ld, v, w[0], img->t_int);
	case KOP_LOADK:		/* kind 1: int constant, else a string */
		return need_type(ld, v, w[0], img->consts[w[1]].kind == 1 ?
				 img->t_int : img->t_string);
	case KOP_LOADNULL:
		return need_ref(ld, v, w[0]);
	case KOP_LOADFN:	/* flags 0: no method, constructor or init */
		if (img->funcs[w[1]].flags)
			return VERR(ld, v, "%s is not a top-level function",
				    img->funcs[w[1]].name);
		return need_type(ld, v, w[0], img->funcs[w[1]].type);
	case KOP_BINDM:
		if (need_class(ld, v, w[1], &k) || slot_sig(ld, v, k, w[2], &sig))
			return ld->failed;
		return need_type(ld, v, w[0], sig);
	case KOP_GETG:
		return need_into(ld, v, img->globals[w[1]].type, w[0]);
	case KOP_SETG:
		return need_from(ld, v, w[1], img->globals[w[0]].type,
				 "the global");
	/* arithmetic: ints only; the binary forms check their third operand */
	case KOP_ADD: case KOP_SUB: case KOP_MUL: case KOP_DIV: case KOP_MOD:
	case KOP_SHL: case KOP_SHR: case KOP_USHR:
		if (need_type(ld, v, w[2], img->t_int))
			return ld->failed;
		fallthrough;
	case KOP_ADDI: case KOP_NEG: case KOP_BNOT:
		if (need_type(ld, v, w[0], img->t_int) ||
		    need_type(ld, v, w[1], img->t_int))
			return ld->failed;
		return 0;
	case KOP_NOT:
		if (need_type(ld, v, w[0], img->t_bool))
			return ld->failed;
		return need_type(ld, v, w[1], img->t_bool);
	/* &, |, ^ on two ints or two booleans, never mixed */
	case KOP_BAND: case KOP_BOR: case KOP_BXOR:
		if (need_same_intbool(ld, v, w[0], w[1]))
			return ld->failed;
		return need_type(ld, v, w[2], rtype(v, w[0]));
	case KOP_EQ: case KOP_NE:
		if (need_type(ld, v, w[0], img->t_bool))
			return ld->failed;
		return need_same_intbool(ld, v, w[1], w[2]);
	case KOP_LT: case KOP_LE:
		if (need_type(ld, v, w[0], img->t_bool) ||
		    need_type(ld, v, w[1], img->t_int))
			return ld->failed;
		return need_type(ld, v, w[2], img->t_int);
	case KOP_EQREF: case KOP_EQANY:
		if (need_type(ld, v, w[0], img->t_bool) || need_ref(ld, v, w[1]))
			return ld->failed;
		return need_ref(ld, v, w[2]);
	case KOP_EQSTR:
		if (need_type(ld, v, w[0], img->t_bool) ||
		    need_type(ld, v, w[1], img->t_string))
			return ld->failed;
		return need_type(ld, v, w[2], img->t_string);
	/* conditional jumps: targets were checked with the operands */
	case KOP_JT: case KOP_JF:
		return need_type(ld, v, w[0], img->t_bool);
	case KOP_JEQ: case KOP_JNE:
		return need_same_intbool(ld, v, w[0], w[1]);
	case KOP_JLT: case KOP_JLE:
		if (need_type(ld, v, w[0], img->t_int))
			return ld->failed;
		return need_type(ld, v, w[1], img->t_int);
	case KOP_JEQI: case KOP_JNEI: case KOP_JLTI: case KOP_JLEI:
	case KOP_JGTI: case KOP_JGEI:
		return need_type(ld, v, w[0], img->t_int);
	case KOP_JNULL: case KOP_JNNULL:
		return need_ref(ld, v, w[0]);
	/*
	 * (1.1) SWITCH A lo n j: A int, then its table, n >= 1 JMPs.  The
	 * first walk decoded the code after it one instruction at a time,
	 * so n JMP opcode words 2 apart are n instruction starts, and each
	 * table target was checked as that JMP's operand.
	 */
	case KOP_SWITCH:
		if (w[2] < 1)
			return VERR(ld, v, "jump table of %d entries", w[2]);
		if ((uint64_t)v->pc + 5 + 2 * (uint64_t)w[2] > v->f->ncode)
			return VERR(ld, v, "jump table of %d entries runs off the code",
				    w[2]);
		for (x = 0; x < (uint32_t)w[2]; x++)
			if (v->f->code[v->pc + 5 + 2 * x] != KOP_JMP)
				return VERR(ld, v, "jump table entry %u is not a JMP",
					    x);
		return need_type(ld, v, w[0], img->t_int);
	/* string conversions: the result register is a String */
	case KOP_CONCAT:
		if (need_type(ld, v, w[2], img->t_string))
			return ld->failed;
		fallthrough;
	case KOP_RTOS:
		if (v->op == KOP_RTOS && need_ref(ld, v, w[1]))
			return ld->failed;
		if (v->op == KOP_CONCAT &&
		    need_type(ld, v, w[1], img->t_string))
			return ld->failed;
		return need_type(ld, v, w[0], img->t_string);
	case KOP_ITOS:
		if (need_type(ld, v, w[0], img->t_string))
			return ld->failed;
		return need_type(ld, v, w[1], img->t_int);
	case KOP_ZTOS:
		if (need_type(ld, v, w[0], img->t_string))
			return ld->failed;
		return need_type(ld, v, w[1], img->t_bool);
	/* ints and booleans cross into Any boxed, and back unboxed */
	case KOP_BOXI: case KOP_BOXZ:
		if (need_type(ld, v, w[0], img->t_any))
			return ld->failed;
		return need_type(ld, v, w[1], v->op == KOP_BOXI ?
				 img->t_int : img->t_bool);
	case KOP_UNBOXI: case KOP_UNBOXZ:
		if (need_type(ld, v, w[0], v->op == KOP_UNBOXI ?
			      img->t_int : img->t_bool))
			return ld->failed;
		return need_type(ld, v, w[1], img->t_any);
	/* the cast itself is checked when it runs; here only its types */
	case KOP_CAST:
		if (!ld_type_is_ref(img, (uint32_t)w[2]))
			return VERR(ld, v, "type %s is not a reference type",
				    ld_tname1(ld, (uint32_t)w[2]));
		if (need_type(ld, v, w[0], (uint32_t)w[2]))
			return ld->failed;
		return need_ref(ld, v, w[1]);
	/* int and boolean are allowed: they test a boxed value in an Any */
	case KOP_INSTOF:
		if (img->types[w[2]].kind == KT_VOID)
			return VERR(ld, v, "instanceof void");
		if (need_type(ld, v, w[0], img->t_bool))
			return ld->failed;
		return need_ref(ld, v, w[1]);
	/* the result register has exactly the class created */
	case KOP_NEW:
		if (!instantiable((uint32_t)w[1]))
			return VERR(ld, v, "class %s cannot be instantiated",
				    ld_get_class(img, (uint32_t)w[1])->name);
		if (ld_type_class(img, rtype(v, w[0])) != (uint32_t)w[1])
			return VERR(ld, v, "register r%d has type %s, expected %s",
				    w[0], ld_tname1(ld, rtype(v, w[0])),
				    ld_get_class(img, (uint32_t)w[1])->name);
		return 0;
	/*
	 * Fields by index in the static class: a subclass keeps its
	 * super's fields at the same indexes, so the index holds for
	 * whatever the object really is.
	 */
	case KOP_GETF:
	case KOP_SETF:
		/* x: the operand holding the object (B of GETF, A of SETF) */
		x = v->op == KOP_GETF ? 1 : 0;
		if (need_class(ld, v, w[x], &k))
			return ld->failed;
		if (w[x + 1] < 0 || (uint32_t)w[x + 1] >= k->nfields)
			return VERR(ld, v, "class %s has no field %d", k->name,
				    w[x + 1]);
		/*
		 * The built-in classes' hidden fields ($host, $pos, $valid,
		 * $period...) are the VM's own: host pointers, limits and
		 * state that natives trust.  Only natives touch them.
		 */
		if (k->field_names[w[x + 1]][0] == '$')
			return VERR(ld, v, "field %s of class %s is the VM's own",
				    k->field_names[w[x + 1]], k->name);
		if (v->op == KOP_GETF)
			return need_into(ld, v, k->field_types[w[2]], w[0]);
		return need_from(ld, v, w[2], k->field_types[w[1]], "the field");
	/* NEWARR A t len; NEWARRV A t C N: elements from R[C..C+N) */
	case KOP_NEWARR:
	case KOP_NEWARRV:
		t = &img->types[w[1]];
		if (t->kind != KT_ARRAY)
			return VERR(ld, v, "type %s is not an array type",
				    ld_tname1(ld, (uint32_t)w[1]));
		if (need_type(ld, v, w[0], (uint32_t)w[1]))
			return ld->failed;
		if (v->op == KOP_NEWARR)
			return need_type(ld, v, w[2], img->t_int);
		if ((uint64_t)(uint32_t)w[2] + (uint32_t)w[3] > v->f->nregs)
			return VERR(ld, v, "element registers r%d..r%lld out of range (%u registers)",
				    w[2], (long long)w[2] + w[3] - 1,
				    v->f->nregs);
		for (x = 0; x < (uint32_t)w[3]; x++)
			if (need_from(ld, v, w[2] + (int32_t)x, t->elem,
				      "an element"))
				return ld->failed;
		return 0;
	case KOP_NEWMAP:
		if (img->types[w[1]].kind != KT_MAP)
			return VERR(ld, v, "type %s is not a map type",
				    ld_tname1(ld, (uint32_t)w[1]));
		return need_type(ld, v, w[0], (uint32_t)w[1]);
	case KOP_AGET:
		if (need_array(ld, v, w[1], &elem) ||
		    need_type(ld, v, w[2], img->t_int))
			return ld->failed;
		return need_into(ld, v, elem, w[0]);
	case KOP_ASET:
		if (need_array(ld, v, w[0], &elem) ||
		    need_type(ld, v, w[1], img->t_int))
			return ld->failed;
		return need_from(ld, v, w[2], elem, "an element");
	/*
	 * A direct call: the callee's declared type, the receiver first for
	 * a method or constructor.  The init runs once, from the VM only.
	 */
	case KOP_CALL: {
		const struct kfunc *g = &img->funcs[w[1]];
		int32_t b = w[2];

		t = &img->types[g->type];
		if (g->flags & KFN_INIT)
			return VERR(ld, v, "cannot call the init");
		if (ld_func_is_member(g)) {
			if (need_receiver(ld, v, b, g->owner))
				return ld->failed;
			b++;
		}
		if (need_args(ld, v, b, t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	}
	/* a virtual call: the slot's type (callv_sig) */
	case KOP_CALLV:		/* A s B C q */
		if (callv_sig(ld, v, &sig))
			return ld->failed;
		t = &img->types[sig];
		if (need_args(ld, v, w[3], t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		if (need_ic(ld, v, ic_used, w[4]))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	case KOP_CALLN:
		return verify_calln(ld, v);
	/* a Func's parameters never include a receiver: BINDM holds it */
	case KOP_CALLF:
		t = &img->types[rtype(v, w[1])];
		if (t->kind != KT_FUNC)
			return VERR(ld, v, "register r%d has type %s, expected a Func type",
				    w[1], ld_tname1(ld, rtype(v, w[1])));
		if (need_args(ld, v, w[2], t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	/*
	 * (1.1) A lambda's closure: f takes the N captured values first,
	 * then exactly the parameters of A's Func type, and returns its
	 * result, so that CALLF through A passes what f expects.
	 */
	case KOP_CLOSURE: {	/* A f C N */
		const struct kfunc *g = &img->funcs[w[1]];
		const struct ktype *ft = &img->types[g->type];
		uint32_t n = (uint32_t)w[3];

		t = &img->types[rtype(v, w[0])];
		if (!(g->flags & KFN_LAMBDA))
			return VERR(ld, v, "%s is not a lambda function", g->name);
		if (t->kind != KT_FUNC)
			return VERR(ld, v, "register r%d has type %s, expected a Func type",
				    w[0], ld_tname1(ld, rtype(v, w[0])));
		if (ft->nparams != n + t->nparams || ft->result != t->result)
			return VERR(ld, v, "lambda %s with %u captured values does not have type %s",
				    g->name, n, ld_tname1(ld, rtype(v, w[0])));
		for (x = 0; x < t->nparams; x++)
			if (ft->params[n + x] != t->params[x])
				return VERR(ld, v, "lambda %s with %u captured values does not have type %s",
					    g->name, n,
					    ld_tname1(ld, rtype(v, w[0])));
		return need_args(ld, v, w[2], n, ft->params, KIMG_NONE);
	}
	/*
	 * A call on Any: receiver, arguments and result are all Any and
	 * are checked when it runs, through its inline cache.
	 */
	case KOP_CALLA:		/* A r e N C q */
		if (w[0] != -1 && need_type(ld, v, w[0], img->t_any))
			return ld->failed;
		if (need_type(ld, v, w[1], img->t_any))
			return ld->failed;
		if (w[4] < 0 || (uint64_t)w[4] + (uint32_t)w[3] > v->f->nregs)
			return VERR(ld, v, "argument registers r%d..r%lld out of range (%u registers)",
				    w[4], (long long)w[4] + w[3] - 1,
				    v->f->nregs);
		for (x = 0; x < (uint32_t)w[3]; x++)
			if (need_type(ld, v, w[4] + (int32_t)x, img->t_any))
				return ld->failed;
		if (ic_used[w[5] / 8] & (1u << (w[5] % 8)))
			return VERR(ld, v, "inline cache %d used twice", w[5]);
		ic_used[w[5] / 8] |= (uint8_t)(1u << (w[5] % 8));
		return 0;
	/*
	 * (1.1) An interface call: the method's signature through the
	 * interface type; the receiver's class finds its slot at run time.
	 */
	case KOP_CALLI:		/* A t i B C q */
		if (need_iface_method(ld, v, (uint32_t)w[1], w[2], w[3], &sig))
			return ld->failed;
		t = &img->types[sig];
		if (need_args(ld, v, w[4], t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		if (need_ic(ld, v, ic_used, w[5]))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	case KOP_BINDI:		/* A B t i */
		if (need_iface_method(ld, v, (uint32_t)w[2], w[3], w[1], &sig))
			return ld->failed;
		return need_type(ld, v, w[0], sig);
	/* v->f->type is a Func type: link.c checked the function headers */
	case KOP_RET:
		t = &img->types[v->f->type];
		if (img->types[t->result].kind == KT_VOID)
			return VERR(ld, v, "returning a value from a void function");
		return need_from(ld, v, w[0], t->result, "the result");
	case KOP_RETV:
		t = &img->types[v->f->type];
		if (img->types[t->result].kind != KT_VOID)
			return VERR(ld, v, "no value returned from a function returning %s",
				    ld_tname1(ld, t->result));
		return 0;
	case KOP_THROW:
		if (need_class(ld, v, w[0], &k))
			return ld->failed;
		if (!kimg_subclass(img, k->id, KC_Exception))
			return VERR(ld, v, "register r%d has type %s, not an exception",
				    w[0], k->name);
		return 0;
	}
	return ld_err(ld, -EINVAL, "function %s: pc %u: no verifier rule",
		      v->f->name, v->pc);
}

/*
 * Operand index of a register that starts an argument block (may be
 * empty), or -1.  The block's length is checked with the typing rule.
 */
static int arg_block_operand(int op)
{
	switch (op) {
	case KOP_CALL:
	case KOP_CALLN:
	case KOP_CALLF:
	case KOP_NEWARRV:
	case KOP_CLOSURE:	/* (1.1) the captured values */
		return 2;
	case KOP_CALLA:
		return 4;
	case KOP_CALLV:		/* the arguments; the receiver is apart */
		return 3;
	case KOP_CALLI:		/* (1.1) likewise */
		return 4;
	default:
		return -1;
	}
}

/* starts: a bit per code word, set where an instruction begins. */
static bool is_start(const uint8_t *starts, uint32_t pc)
{
	return starts[pc / 8] & (1u << (pc % 8));
}

/*
 * Operand ranges by letter (opcodes.def): every index an operand holds is
 * in range for its table, so verify_insn() and the interpreter may use it
 * directly.  A result register A may be -1 ("no result") on calls.
 * Types named by code must be the file's own (nimage_types), not the ones
 * link.c appended for the built-in signatures.
 */
static int verify_operands(struct ld *ld, struct vinsn *v,
			   const uint8_t *starts)
{
	const struct kimage *img = ld->img;
	const char *letters = op_operands[v->op];
	int block = arg_block_operand(v->op), i;
	uint32_t nregs = v->f->nregs;

	for (i = 0; letters[i]; i++) {
		int32_t x = v->w[i];
		uint32_t u = (uint32_t)x;

		switch (letters[i]) {
		case 'A':
			if (x == -1 && (v->op == KOP_CALL || v->op == KOP_CALLV ||
					v->op == KOP_CALLN || v->op == KOP_CALLF ||
					v->op == KOP_CALLA || v->op == KOP_CALLI))
				break;
			fallthrough;
		case 'r':
			if (i == block && u <= nregs)
				break;	/* an empty block may start at nregs */
			if (u >= nregs)
				return VERR(ld, v, "register r%d out of range (%u registers)",
					    x, nregs);
			break;
		case 'i':
			break;
		case 'k':
			if (u >= img->nconsts)
				return VERR(ld, v, "constant %d out of range (%u constants)",
					    x, img->nconsts);
			break;
		case 'j':
			if (u >= v->f->ncode || !is_start(starts, u))
				return VERR(ld, v, "jump target %d is not an instruction",
					    x);
			break;
		case 'g':
			if (u >= img->nglobals)
				return VERR(ld, v, "global %d out of range (%u globals)",
					    x, img->nglobals);
			break;
		case 'c':
			if (!ld_class_exists(img, u))
				return VERR(ld, v, "class %d does not exist", x);
			break;
		case 't':
			if (u >= ld->priv->nimage_types)
				return VERR(ld, v, "type %d out of range (%u types)",
					    x, ld->priv->nimage_types);
			break;
		case 'f':
			if (u >= img->nfuncs)
				return VERR(ld, v, "function %d out of range (%u functions)",
					    x, img->nfuncs);
			break;
		case 'n':
			if (u >= KN__COUNT)
				return VERR(ld, v, "native %d out of range (%u natives)",
					    x, (uint32_t)KN__COUNT);
			break;
		case 'e':
			if (u >= img->nstrings)
				return VERR(ld, v, "string %d out of range (%u strings)",
					    x, img->nstrings);
			break;
		case 'N':
			if (u > 255)
				return VERR(ld, v, "count %d out of range 0..255", x);
			break;
		case 'q':
			if (u >= v->f->nics)
				return VERR(ld, v, "inline cache %d out of range (%u caches)",
					    x, v->f->nics);
			break;
		default:	/* s, F: checked against the class */
			break;
		}
	}
	return 0;
}

/* ---- (1.1) where a File or a stream may go ------------------------------- */

/* Register r of f is declared of class cls (it holds one or null). */
static bool is_cls_reg(const struct kimage *img, const struct kfunc *f,
		       int64_t r, uint32_t cls)
{
	return r >= 0 && r < f->nregs &&
	       ld_type_class(img, f->reg_types[r]) == cls;
}

/*
 * Whether operand k of instruction op (a register of class cls) only
 * reads the object without handing it on: its fields (a File's data)
 * read or written, a test against null or another reference,
 * instanceof, or a copy into another register of cls.
 */
static bool reads_only(const struct kimage *img, const struct kfunc *f,
		       uint32_t op, uint32_t k, const int32_t *w, uint32_t cls)
{
	switch (op) {
	case KOP_MOV:
	case KOP_CAST:
		return is_cls_reg(img, f, w[0], cls);
	case KOP_GETF:
	case KOP_INSTOF:
		return k == 1;
	case KOP_SETF:
		return k == 0;		/* the object, not the value stored */
	case KOP_JNULL:
	case KOP_JNNULL:
	case KOP_EQREF:
		return true;
	}
	return false;
}

/*
 * Whether verified function f may let an object of built-in class cls
 * (File, OutputStream, InputStream) out of its registers of that class:
 * into a register of another type, a field, an element, a global, a
 * captured value, an argument (but the receiver of one of cls's own
 * natives), or the result.  Such a register holds nothing but an object
 * of cls, so when no callback of a CharDevice may keep one, the object a
 * callback got is unreachable from the script once the callback (for a
 * File, the file) is over, and device.c may give it to the next one.
 * Conservative: any use not listed in reads_only() keeps the object, and
 * so does the receiver of any call but a native of cls's.
 */
static bool func_keeps(struct ld *ld, const struct kfunc *f, uint32_t cls)
{
	const struct kimage *img = ld->img;
	uint32_t pc, op = 0, k;

	for (pc = 0; pc < f->ncode;
	     pc += 1 + (uint32_t)strlen(op_operands[op])) {
		const int32_t *w = f->code + pc + 1;
		struct vinsn v = { .f = f, .pc = pc, .op = f->code[pc], .w = w };
		int32_t blk = -1;	/* the argument block's operand */
		int64_t b = 0, n = 0;	/* its registers */
		uint32_t sig = 0;

		op = (uint32_t)f->code[pc];
		/* the callee's type as verify_insn found it (f is verified) */
		switch (op) {
		case KOP_CALL:
			blk = 2;
			n = img->funcs[w[1]].nargs;
			break;
		case KOP_CALLN:
			blk = 2;
			n = ld->priv->natives[w[1]].nparams;
			if (kb_native_has_recv((uint32_t)w[1])) {
				/* a native of cls's own: its receiver stays in */
				if (ld->priv->natives[w[1]].owner == cls)
					b = 1;
				else
					n++;
			}
			break;
		case KOP_CALLV:		/* A s B C q */
			blk = 3;
			callv_sig(ld, &v, &sig);
			n = img->types[sig].nparams;
			break;
		case KOP_CALLF:		/* A B C */
			blk = 2;
			n = img->types[f->reg_types[w[1]]].nparams;
			break;
		case KOP_CLOSURE:	/* A f C N */
		case KOP_NEWARRV:	/* A t C N */
			blk = 2;
			n = w[3];
			break;
		case KOP_CALLA:		/* A B e N C q */
			blk = 4;
			n = w[3];
			break;
		case KOP_CALLI:		/* A t i B C q */
			blk = 4;
			need_iface_method(ld, &v, (uint32_t)w[1], w[2], w[3],
					  &sig);
			n = img->types[sig].nparams;
			break;
		}
		if (blk >= 0)
			for (b += w[blk]; n > 0 && b < f->nregs; b++, n--)
				if (is_cls_reg(img, f, b, cls))
					return true;
		for (k = 0; op_operands[op][k]; k++)
			if (op_operands[op][k] == 'r' && (int32_t)k != blk &&
			    is_cls_reg(img, f, w[k], cls) &&
			    !reads_only(img, f, op, k, w, cls))
				return true;
	}
	return false;
}

/* f may let a File out (KFN_KEEPS_FILE). */
bool ld_func_keeps_file(struct ld *ld, const struct kfunc *f)
{
	return func_keeps(ld, f, KC_File);
}

/* (1.1) f may let an OutputStream or InputStream out (KFN_KEEPS_STREAM). */
bool ld_func_keeps_stream(struct ld *ld, const struct kfunc *f)
{
	return func_keeps(ld, f, KC_OutputStream) ||
	       func_keeps(ld, f, KC_InputStream);
}

/*
 * One function (header already checked by link.c).  The scratch buffer
 * holds the instruction-start bits and then the inline-cache bits, both
 * cleared here since the buffer is reused.  A function must end in an
 * instruction that does not fall through; with every jump landing on an
 * instruction start, the interpreter never decodes past the code.
 */
int ld_verify_function(struct ld *ld, const struct kfunc *f)
{
	struct kimage *img = ld->img;
	struct vinsn v = { .f = f };
	size_t start_bytes = ((size_t)f->ncode + 7) / 8;
	uint8_t *starts, *ic_used;
	uint32_t pc, i, last = 0;

	if (!f->ncode)
		return ld_err(ld, -EINVAL, "function %s: no code", f->name);
	/* one bit per code word, then one per inline cache */
	if (ld_scratch_reserve(ld, start_bytes + ((size_t)f->nics + 7) / 8))
		return ld->failed;
	starts = ld->scratch;
	ic_used = starts + start_bytes;
	memset(starts, 0, start_bytes + ((size_t)f->nics + 7) / 8);
	for (pc = 0; pc < f->ncode; pc += 1 + (uint32_t)strlen(op_operands[last])) {
		int32_t op = f->code[pc];

		/* first walk: the opcode, its operand words inside the code */
		if (op < 0 || op >= KOP__COUNT)
			return ld_err(ld, -EINVAL, "function %s: pc %u: bad opcode %d",
				      f->name, pc, op);
		if (strlen(op_operands[op]) >= f->ncode - pc)
			return ld_err(ld, -EINVAL,
				      "function %s: pc %u: %s: truncated instruction",
				      f->name, pc, op_names[op]);
		starts[pc / 8] |= (uint8_t)(1u << (pc % 8));
		last = (uint32_t)op;
	}
	if (last != KOP_RET && last != KOP_RETV && last != KOP_THROW &&
	    last != KOP_JMP)
		return ld_err(ld, -EINVAL,
			      "function %s: code falls off the end (last instruction %s)",
			      f->name, op_names[last]);
	/* second walk: every start is now known, so jumps can be checked */
	for (pc = 0; pc < f->ncode; pc += 1 + (uint32_t)strlen(op_operands[v.op])) {
		v.pc = pc;
		v.op = f->code[pc];
		v.w = f->code + pc + 1;
		if (verify_operands(ld, &v, starts) ||
		    verify_insn(ld, &v, ic_used))
			return ld->failed;
	}
	/*
	 * Handlers: a range inside the code, a target that is an instruction
	 * start, an exception class (NONE: any exception), and a register
	 * that can hold every exception the handler catches.
	 */
	for (i = 0; i < f->nhandlers; i++) {
		const struct khandler *h = &f->handlers[i];
		uint32_t cls = h->class_id == KIMG_NONE ? KC_Exception :
			       h->class_id;
		uint32_t rt;

		if (h->start > h->end || h->end > f->ncode)
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: range %u..%u out of code (%u words)",
				      f->name, i, h->start, h->end, f->ncode);
		if (h->target >= f->ncode || !is_start(starts, h->target))
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: target %u is not an instruction",
				      f->name, i, h->target);
		if (!kimg_subclass(img, cls, KC_Exception))
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: class %u is not an exception class",
				      f->name, i, h->class_id);
		if (h->reg >= f->nregs)
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: register r%u out of range (%u registers)",
				      f->name, i, h->reg, f->nregs);
		rt = f->reg_types[h->reg];
		if (img->types[rt].kind != KT_ANY &&
		    !kimg_subclass(img, cls, ld_type_class(img, rt)))
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: register r%u has type %s, cannot hold %s",
				      f->name, i, h->reg, ld_tname1(ld, rt),
				      ld_get_class(img, cls)->name);
	}
	/* sorted by pc: a trace finds an instruction's line by bisection */
	for (i = 0; i < f->nlines; i++) {
		if (f->lines[i].pc > f->ncode ||
		    (i && f->lines[i].pc < f->lines[i - 1].pc))
			return ld_err(ld, -EINVAL,
				      "function %s: line entry %u: pc %u out of order or range",
				      f->name, i, f->lines[i].pc);
	}
	return 0;
}

