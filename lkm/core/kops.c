// SPDX-License-Identifier: GPL-2.0
/*
 * kops.c - the opcode handlers that JIT code calls (ctjit/README.md).
 *
 * Each kop_NAME takes the VM, the registers R of the top frame (the JIT'd
 * function's own) and the instruction's operands as immediates, in the
 * order of opcodes.def, and returns a status (KVM_OK, KVM_THROW,
 * KVM_ABORT).  The caller stored the instruction's pc in its frame
 * (unless the opcode has the flag n); after any handler it re-reads its
 * registers (the stack may move).
 *
 * The handlers of the ordinary opcodes are not written here: kops.h's
 * KOPI defines each one, with its prototype, as a wrapper of the
 * implementation the interpreter inlines, when included with
 * KOPS_HANDLERS.  This file has the handlers of control flow, written by
 * hand.  Branch handlers (used only by the subroutine-threading ablation)
 * return the next pc: the target J when taken, else NEXT.  Calls run the
 * callee to its end (its stub, or the interpreter) before returning.
 * RET and RETV return the function's result.
 *
 * Every kop_NAME is exported, from the list of opcodes.def, at the end.
 */
#define KOPS_HANDLERS
#include "kops.h"

/*
 * The layout JIT code relies on (kjit.h, read by ctjit/layout.py).  Every
 * offset compiled code reads is asserted here, so a field moved in C
 * without kjit.h fails the build instead of a stub in the kernel.
 */
#include "kjit.h"

#define OFF(t, f)	__builtin_offsetof(t, f)
_Static_assert(OFF(struct kvm, stack) == KJIT_OFF_VM_STACK, "kvm.stack");
_Static_assert(OFF(struct kvm, frames) == KJIT_OFF_VM_FRAMES, "kvm.frames");
_Static_assert(OFF(struct kvm, budget) == KJIT_OFF_VM_BUDGET, "kvm.budget");
_Static_assert(OFF(struct kvm, stack_cap) == KJIT_OFF_VM_STACK_CAP,
	       "kvm.stack_cap");
_Static_assert(OFF(struct kvm, nframes) == KJIT_OFF_VM_NFRAMES,
	       "kvm.nframes");
_Static_assert(OFF(struct kvm, frames_cap) == KJIT_OFF_VM_FRAMES_CAP,
	       "kvm.frames_cap");
_Static_assert(OFF(struct kvm, jit_frames_max) == KJIT_OFF_VM_JIT_FRAMES_MAX,
	       "kvm.jit_frames_max");
_Static_assert(OFF(struct kvm, globals) == KJIT_OFF_VM_GLOBALS,
	       "kvm.globals");
_Static_assert(OFF(struct kvm, funcs) == KJIT_OFF_VM_FUNCS, "kvm.funcs");
_Static_assert(OFF(struct kvm, jit_nodirect) == KJIT_OFF_VM_JIT_NODIRECT,
	       "kvm.jit_nodirect");
_Static_assert(OFF(struct kvm, budget_rest) == KJIT_OFF_VM_BUDGET_REST,
	       "kvm.budget_rest");
_Static_assert(OFF(struct kvm, stack_floor) == KJIT_OFF_VM_STACK_FLOOR,
	       "kvm.stack_floor");
_Static_assert(OFF(struct kvm, lim.depth) == KJIT_OFF_VM_DEPTH, "kvm.depth");
_Static_assert(KVM_SLICE == KJIT_SLICE, "slice");
_Static_assert(OFF(struct kvm, stack_max) == KJIT_OFF_VM_STACK_MAX,
	       "kvm.stack_max");
_Static_assert(OFF(struct kframe, fn) == KJIT_OFF_FRAME_FN, "kframe.fn");
_Static_assert(OFF(struct kframe, base) == KJIT_OFF_FRAME_BASE,
	       "kframe.base");
_Static_assert(OFF(struct kframe, pc) == KJIT_OFF_FRAME_PC, "kframe.pc");
_Static_assert(OFF(struct kframe, ret_reg) == KJIT_OFF_FRAME_RET_REG,
	       "kframe.ret_reg");
_Static_assert(OFF(struct kframe, ret_mode) == KJIT_OFF_FRAME_RET_MODE,
	       "kframe.ret_mode");
_Static_assert(OFF(struct kframe, entry) == KJIT_OFF_FRAME_ENTRY,
	       "kframe.entry");
_Static_assert(sizeof(struct kframe) == KJIT_SIZEOF_FRAME, "kframe size");
_Static_assert(OFF(struct kobj, cls) == KJIT_OFF_OBJ_CLS, "kobj.cls");
_Static_assert(OFF(struct kobj, kind) == KJIT_OFF_OBJ_KIND, "kobj.kind");
_Static_assert(sizeof(((struct kobj *)0)->kind) == 1, "kobj.kind size");
_Static_assert(KO_INSTANCE == KJIT_KO_INSTANCE, "KO_INSTANCE");
_Static_assert(KO_STRING == KJIT_KO_STRING, "KO_STRING");
_Static_assert(OFF(struct kinst, f) == KJIT_OFF_INST_FIELDS, "kinst.f");
_Static_assert(OFF(struct karr, len) == KJIT_OFF_ARR_LEN, "karr.len");
_Static_assert(OFF(struct kfn, m.func) == KJIT_OFF_FN_FUNC, "kfn.m.func");
_Static_assert(OFF(struct kfn, recv) == KJIT_OFF_FN_RECV, "kfn.recv");
_Static_assert(OFF(struct kfn, cap) == KJIT_OFF_FN_CAP, "kfn.cap");
_Static_assert(OFF(struct karr, v) == KJIT_OFF_ARR_V, "karr.v");
_Static_assert(OFF(struct kstr, len) == KJIT_OFF_STR_LEN, "kstr.len");
_Static_assert(OFF(struct kstr, b) == KJIT_OFF_STR_B, "kstr.b");
_Static_assert(OFF(struct kstream, len) == KJIT_OFF_STREAM_LEN, "kstream.len");
_Static_assert(OFF(struct kstream, pos) == KJIT_OFF_STREAM_POS, "kstream.pos");
_Static_assert(OFF(struct kstream, jend) == KJIT_OFF_STREAM_JEND &&
	       sizeof(((struct kstream *)0)->jend) == 4, "kstream.jend");
_Static_assert(OFF(struct kstream, buf) == KJIT_OFF_STREAM_BUF, "kstream.buf");
_Static_assert(KF_FILE_FLAGS == KJIT_KF_FILE_FLAGS &&
	       KDEV_FL_NONBLOCK == KJIT_FL_NONBLOCK, "File flags");
_Static_assert(sizeof(struct kfunc) == KJIT_SIZEOF_FUNC, "kfunc size");
_Static_assert(sizeof(union kvalue) == 8, "kvalue size");
_Static_assert(KVM_OK == KJIT_ST_OK && KVM_THROW == KJIT_ST_THROW &&
	       KVM_ABORT == KJIT_ST_ABORT, "statuses");
_Static_assert(KJIT_ABI_VERSION == KJIT_ABI, "abi");
#undef OFF

/* Short names that keep each handler's parameter list readable. */
typedef int32_t i32;
typedef struct kvm kvm_t;
typedef union kvalue kval_t;

/*
 * A hand-written handler: its prototype (the kernel wants one before an
 * exported definition), then its definition.
 */
#define HANDLER(type, name, ...)					\
	type name(__VA_ARGS__);						\
	type name(__VA_ARGS__)

/* ---- branches (subroutine threading without branch inlining) ----------- */

/*
 * JUMP1 tests one register (a), JUMP2 two (a, b) or, as JUMPI, a register
 * and an immediate.  The JIT passes next, the pc past the branch, so the
 * handler needs no instruction lengths.
 */
#define JUMP1(name, cond)						\
	HANDLER(int, kop_##name, kvm_t *vm, kval_t *R, i32 a, i32 j,	\
		i32 next)						\
	{								\
		(void)vm;						\
		return (cond) ? j : next;				\
	}
#define JUMP2(name, cond)						\
	HANDLER(int, kop_##name, kvm_t *vm, kval_t *R, i32 a, i32 b,	\
		i32 j, i32 next)					\
	{								\
		(void)vm;						\
		return (cond) ? j : next;				\
	}
#define JUMPI(name, op)	JUMP2(name, R[a].i op (int64_t)b)
JUMP1(JT, R[a].i)
JUMP1(JF, !R[a].i)
JUMP1(JNULL, !R[a].o)
JUMP1(JNNULL, R[a].o)
JUMP2(JEQ, R[a].i == R[b].i)
JUMP2(JNE, R[a].i != R[b].i)
JUMP2(JLT, R[a].i < R[b].i)
JUMP2(JLE, R[a].i <= R[b].i)
JUMPI(JEQI, ==)
JUMPI(JNEI, !=)
JUMPI(JLTI, <)
JUMPI(JLEI, <=)
JUMPI(JGTI, >)
JUMPI(JGEI, >=)
#undef JUMPI
#undef JUMP2
#undef JUMP1

HANDLER(int, kop_JMP, kvm_t *vm, kval_t *R, i32 j)
{
	(void)vm;
	(void)R;
	return j;
}

/* (1.1) The table follows the instruction: it starts at the next pc. */
HANDLER(int, kop_SWITCH, kvm_t *vm, kval_t *R, i32 a, i32 lo, i32 n, i32 j,
	i32 next)
{
	const struct kframe *fr = &vm->frames[vm->nframes - 1];

	return kopi_SWITCH(fr->fn->code, R, a, lo, n, j, next);
}

/* ---- throws and native calls ------------------------------------------- */

/* Division by zero, for tiny-inlined DIV and MOD. */
HANDLER(int, kop_throw_div0, kvm_t *vm)
{
	return throw_div0(vm);
}

/*
 * CALLN (flag s) and THROW (flag t) are not ordinary: their handlers are
 * written here, over the implementations vm.c's cases use.
 */
HANDLER(int, kop_CALLN, kvm_t *vm, kval_t *R, i32 a, i32 n, i32 b)
{
	return kopi_CALLN(vm, R, a, n, b);
}

HANDLER(int, kop_THROW, kvm_t *vm, kval_t *R, i32 a)
{
	return kopi_THROW(vm, R, a);
}

/* ---- calls: the callee runs to its end before the handler returns ------- */

/*
 * Runs the pushed callee to its end (its stub or the interpreter, which
 * pop its frame) and stores the result into the caller's R[a], converted
 * by mode; a < 0 drops it.  The caller's registers are re-read: the call
 * may have moved the stack.
 */
static int finish_call(kvm_t *vm, i32 a, uint8_t mode)
{
	struct kjit_ret r = kvm_jit_run_top(vm);
	union kvalue v = r.v;
	int st;

	if (r.st)
		return (int)r.st;
	if (a < 0)
		return KVM_OK;
	st = ret_convert(vm, mode, &v);
	if (st)
		return st;
	kvm_top_regs(vm)[a] = v;
	return KVM_OK;
}

/*
 * Pushes script function f with R[b..] (after recv if not NULL).  The
 * push may grow, and so move, vm->stack: the arguments are read from the
 * caller's base after it, never through the caller's R.
 */
static int push_call(kvm_t *vm, i32 a, uint32_t f, struct kobj *recv, i32 b,
		     uint8_t mode)
{
	uint32_t caller = vm->frames[vm->nframes - 1].base;
	const struct kfunc *callee = &vm->img->funcs[f];
	const union kvalue *src;
	union kvalue *dst;
	uint32_t i, k = 0;

	dst = kvm_jit_push(vm, f, a);
	if (!dst)
		return KVM_ABORT;
	vm->frames[vm->nframes - 1].ret_mode = mode;
	src = vm->stack + caller + b;
	if (recv)
		dst[k++].o = recv;
	for (i = 0; k < callee->nargs; i++)
		dst[k++] = src[i];
	return KVM_OK;
}

/* Also the interpreter's call of a callee that has a stub (vm.c). */
HANDLER(int, kop_CALL, kvm_t *vm, kval_t *R, i32 a, i32 f, i32 b)
{
	int st;

	(void)R;
	st = push_call(vm, a, (uint32_t)f, NULL, b, KRET_PLAIN);
	return st ? st : finish_call(vm, a, KRET_PLAIN);
}

/*
 * CALLV A s B C q: the receiver R[b], the arguments R[c..].  A built-in
 * class's slot may hold a native: it runs with no frame.  Inline cache q
 * is the interpreter's (vm.c): JIT code selects its targets by class id
 * and calls this handler for the rest, which looks the slot up.
 */
HANDLER(int, kop_CALLV, kvm_t *vm, kval_t *R, i32 a, i32 s, i32 b, i32 c,
	i32 q)
{
	struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };
	int st = kopi_callv_target(vm, R, s, b, &m);

	(void)q;
	if (st)
		return st;
	if (m.func == KIMG_NONE)
		return kopi_native_call(vm, R, a, m.native, R[b].o, c);
	st = push_call(vm, a, m.func, R[b].o, c, KRET_PLAIN);
	return st ? st : finish_call(vm, a, KRET_PLAIN);
}

/*
 * (1.1) CALLI A t i B C q: CALLV with the method found through inline
 * cache q.
 */
HANDLER(int, kop_CALLI, kvm_t *vm, kval_t *R, i32 a, i32 t, i32 i, i32 b,
	i32 c, i32 q)
{
	struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };
	int st = kopi_calli_target(vm, kvm_top_fn(vm), R, t, i, b, q, &m);

	if (st)
		return st;
	if (m.func == KIMG_NONE)
		return kopi_native_call(vm, R, a, m.native, R[b].o, c);
	st = push_call(vm, a, m.func, R[b].o, c, KRET_PLAIN);
	return st ? st : finish_call(vm, a, KRET_PLAIN);
}

/*
 * A Func value's call: a bound method's receiver, or (1.1) a closure's
 * captured values, go before the arguments R[c..].
 */
HANDLER(int, kop_CALLF, kvm_t *vm, kval_t *R, i32 a, i32 b, i32 c)
{
	struct kfn *f = (struct kfn *)R[b].o;
	union kvalue *dst;
	uint32_t caller, i, k;

	if (unlikely(!f))
		return throw_npe(vm);
	if (f->m.func == KIMG_NONE)
		return kopi_native_call(vm, R, a, f->m.native, f->recv, c);
	caller = vm->frames[vm->nframes - 1].base;
	dst = kvm_jit_push(vm, f->m.func, a);
	if (!dst)
		return KVM_ABORT;
	vm->frames[vm->nframes - 1].ret_mode = KRET_PLAIN;
	k = kopi_callf_lead(f, dst);
	for (i = 0; k < vm->img->funcs[f->m.func].nargs; i++)
		dst[k++] = vm->stack[caller + c + i];
	return finish_call(vm, a, KRET_PLAIN);
}

/*
 * CALLA: the method found by name, its arguments checked and unboxed;
 * mode boxes its result for the Any register R[a].
 */
HANDLER(int, kop_CALLA, kvm_t *vm, kval_t *R, i32 a, i32 b, i32 e, i32 n,
	i32 c, i32 q)
{
	const struct kimage *img = vm->img;
	struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };
	union kvalue *dst;
	uint8_t mode;
	uint32_t caller;
	int st;

	st = kopi_calla_target(vm, kvm_top_fn(vm), R, b, e, n, c, q, &m);
	if (st)
		return st;
	if (m.func == KIMG_NONE)
		return kopi_calla_native(vm, R, a, m.native, b, n, c);
	caller = vm->frames[vm->nframes - 1].base;
	mode = ret_mode_of(img, img->types[img->funcs[m.func].type].result);
	dst = kvm_jit_push(vm, m.func, a);
	if (!dst)
		return KVM_ABORT;
	vm->frames[vm->nframes - 1].ret_mode = mode;
	kopi_calla_args(vm, dst, vm->stack + caller, b, n, c, m.func);
	return finish_call(vm, a, mode);
}

/*
 * RTOS: a script toString runs in a frame of its own, whose KRET_TOSTR
 * turns a null result into "null"; anything else converts natively.
 */
HANDLER(int, kop_RTOS, kvm_t *vm, kval_t *R, i32 a, i32 b)
{
	struct kobj *o = R[b].o;
	uint32_t ts = kopi_rtos_script(vm, o);
	union kvalue *dst;

	if (ts == KIMG_NONE)
		return kopi_RTOS_native(vm, R, a, b);
	dst = kvm_jit_push(vm, ts, a);
	if (!dst)
		return KVM_ABORT;
	vm->frames[vm->nframes - 1].ret_mode = KRET_TOSTR;
	dst[0].o = o;
	return finish_call(vm, a, KRET_TOSTR);
}

/*
 * RET and RETV without apply/return inlining: pop the frame.  The result
 * word is returned as it is (a reference's bits for a reference); the
 * stub's caller converts it by the frame's ret_mode.
 */
HANDLER(int64_t, kop_RET, kvm_t *vm, kval_t *R, i32 a)
{
	vm->nframes--;
	return R[a].i;
}

HANDLER(int64_t, kop_RETV, kvm_t *vm, kval_t *R)
{
	(void)R;
	vm->nframes--;
	return 0;
}

/*
 * The handlers and JIT entry points stubs link against (kernel: exports):
 * one kop_NAME per line of opcodes.def.  The assertion makes a missing
 * handler a compile error in userspace too, where KP_EXPORT is empty.
 */
#define OP(name, operands, flags, doc)					\
	_Static_assert(sizeof(&kop_##name) != 0, "kop_" #name);	\
	KP_EXPORT(kop_##name);
#include "opcodes.def"
#undef OP
KP_EXPORT(kop_throw_div0);
KP_EXPORT(kvm_jit_interp);
KP_EXPORT(kvm_jit_unwind);
KP_EXPORT(kvm_jit_push);
KP_EXPORT(kvm_jit_refill);
KP_EXPORT(kvm_jit_poll);
