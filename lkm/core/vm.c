// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - the K interpreter: frames, calls, exceptions, limits.
 *
 * Registers live on one value stack owned by the VM; a script call pushes
 * a struct kframe and never recurses on the C stack.  Native code that
 * must run script code (toString during a conversion, join) re-enters
 * kvm_execute() through kvm_invoke(), at most KVM_MAX_NEST levels deep
 * and never with less than KVM_STACK_RESERVE of the C stack left.
 *
 * Exceptions unwind VM frames through each function's handler table; the
 * trace of an uncaught exception is collected while unwinding.  Aborts
 * (budget, heap, depth, a fatal signal) take a snapshot of the frames and
 * unwind without running handlers.
 *
 * The budget runs in slices (kvm_budget_refill): between two, the VM
 * polls for a fatal signal and lets the scheduler run others.
 */
#include "kvm.h"

/*
 * Words of each instruction: the opcode and one per operand letter
 * (sizeof counts the string's NUL for the opcode word).  A return steps
 * the caller past its call with it, whatever kind of call it was.
 */
static const uint8_t op_len[KOP__COUNT] = {
#define OP(name, operands, flags, doc) sizeof(operands),
#include "opcodes.def"
#undef OP
};

/* Values of the register stack a new VM starts with; it doubles. */
#define STACK_MIN	1024u

/* ---- limits ------------------------------------------------------------- */

/*
 * Appends one line (fn at pc) to the trace of the pending exception or
 * abort.  The trace is the host's memory, not the script's: it is not
 * charged, and when it cannot grow the line is dropped, never the run.
 */
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

/*
 * Ends the running top-level call: nothing catches an abort, so the
 * frames are not unwound; kvm_call_top() drops them.  The first abort
 * wins, on the way out of which others may follow: its kind stays and
 * its trace is the frames at that moment, innermost first.  Returns
 * KVM_ABORT, for `return kvm_abort(vm, ...)`.
 */
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

/*
 * Whether the running call must end for a fatal signal: one seen before
 * (vm->killed stays set), or one kp_poll() finds now (it also lets others
 * run).  The budget's refill asks here, and System.sleep after it slept.
 */
bool kvm_killed(struct kvm *vm)
{
	if (!vm->killed && kp_poll())
		vm->killed = true;
	return vm->killed;
}

/*
 * The current slice is spent: polls for a fatal signal (and lets others
 * run), then moves the next slice, at least need units, from budget_rest
 * into budget.  need is what the caller runs before it checks again (one
 * instruction, or a JIT segment charged up front).  false: the task was
 * killed (vm->killed) or the call's budget has less than need left; the
 * caller aborts.
 */
bool kvm_budget_refill(struct kvm *vm, int64_t need)
{
	int64_t total, slice;

	if (kvm_killed(vm))
		return false;
	/* budget may be negative: allocations charge without checking */
	total = vm->budget + vm->budget_rest;
	if (total < need)
		return false;
	slice = need > KVM_SLICE ? need : KVM_SLICE;
	if (slice > total)
		slice = total;
	vm->budget = slice;
	vm->budget_rest = total - slice;
	return true;
}

/*
 * kvm_charge() of n units of work (a native that scans or copies), the
 * whole rule (kvm.h inlines the case where the slice pays): refills the
 * slice as needed.  false: the run is aborted ("budget exceeded", or
 * "killed" when the refill found a fatal signal), and the budget is left
 * negative so no instruction runs on it.
 */
bool kvm_charge_slow(struct kvm *vm, uint64_t n)
{
	if (n > (uint64_t)INT64_MAX ||
	    (vm->budget < (int64_t)n && !kvm_budget_refill(vm, (int64_t)n))) {
		vm->budget = -1;
		kvm_abort(vm, vm->killed ? KVM_ABORT_KILLED : KVM_ABORT_BUDGET);
		return false;
	}
	vm->budget -= (int64_t)n;
	return true;
}

/*
 * Called where a native re-enters the interpreter (kvm_invoke): aborts
 * with "stack overflow" when this C frame is below the floor set by
 * kvm_call_top(), and records the lowest address seen for statistics.
 */
int kvm_check_stack(struct kvm *vm)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	kvm_note_stack(vm, sp);
	if (unlikely(sp < vm->stack_floor))
		return kvm_abort(vm, KVM_ABORT_DEPTH);
	return KVM_OK;
}

/* ---- exceptions --------------------------------------------------------- */

/* Forgets saved trace i; the others keep their order (innermost last). */
static void drop_saved(struct kvm *vm, uint32_t i)
{
	kp_free(vm->saved[i].ents);
	memmove(&vm->saved[i], &vm->saved[i + 1],
		(vm->nsaved - i - 1) * sizeof(vm->saved[0]));
	vm->nsaved--;
}

/* Forgets every saved trace (a top-level call ends). */
static void drop_all_saved(struct kvm *vm)
{
	while (vm->nsaved)
		drop_saved(vm, vm->nsaved - 1);
}

/*
 * The pending trace belongs to an exception caught in a frame that is
 * still live: keep a copy while another exception is thrown.
 */
static void save_trace(struct kvm *vm)
{
	struct ksaved_trace *t;
	struct ktrace_ent *ents;
	uint32_t fi = vm->trace_frame;

	if (!vm->trace_exc || fi == KIMG_NONE || fi >= vm->nframes ||
	    !vm->ntrace)
		return;
	ents = kp_malloc(vm->ntrace * sizeof(*ents));
	if (!ents)
		return;		/* the rethrow starts a new trace, as before */
	if (vm->nsaved == KVM_SAVED_TRACES)
		drop_saved(vm, 0);
	memcpy(ents, vm->trace, vm->ntrace * sizeof(*ents));
	t = &vm->saved[vm->nsaved++];
	t->exc = vm->trace_exc;
	t->fn = vm->frames[fi].fn;
	t->frame = fi;
	t->n = vm->ntrace;
	t->ents = ents;
}

/*
 * The exception exc starts unwinding from the top frame.  The trace in
 * progress is kept when this is a rethrow of the same exception from the
 * frame that caught it (finally's THROW); otherwise it is saved, if its
 * frame is live, and a new trace starts, or a saved one comes back when
 * exc is rethrown from the frame that caught it earlier.  Always
 * KVM_THROW; exc is in vm->exc, which the collector marks.
 */
static int begin_throw(struct kvm *vm, struct kobj *exc)
{
	uint32_t fi = vm->nframes ? vm->nframes - 1 : KIMG_NONE;
	uint32_t i;

	/* traces of frames that have returned are gone */
	for (i = vm->nsaved; i-- > 0;)
		if (vm->saved[i].frame >= vm->nframes ||
		    vm->saved[i].fn != vm->frames[vm->saved[i].frame].fn)
			drop_saved(vm, i);
	/* a rethrow (finally) from the frame that caught it keeps its trace */
	if (exc != vm->trace_exc || fi != vm->trace_frame || !vm->ntrace ||
	    vm->trace[vm->ntrace - 1].fn != vm->frames[fi].fn) {
		save_trace(vm);
		vm->ntrace = 0;
		vm->trace_exc = exc;
		vm->trace_frame = KIMG_NONE;
		for (i = vm->nsaved; i-- > 0;) {
			struct ksaved_trace *t = &vm->saved[i];

			if (t->exc != exc || t->frame != fi)
				continue;
			/* the trace it had when its frame caught it */
			vm->ntrace = 0;
			while (vm->ntrace < t->n && vm->ntrace < vm->trace_cap) {
				vm->trace[vm->ntrace] = t->ents[vm->ntrace];
				vm->ntrace++;
			}
			vm->trace_frame = fi;
			drop_saved(vm, i);
			break;
		}
	}
	vm->exc = exc;
	return KVM_THROW;
}

/*
 * Throws a new instance of the built-in exception class cls with a copy
 * of msg as its message.  KVM_THROW, or KVM_ABORT when the heap quota
 * refused the exception.
 */
int kvm_throw_new(struct kvm *vm, uint32_t cls, const char *msg)
{
	/* a native's mistake must not take the kernel with it */
	if (KP_WARN_ON(!msg))
		msg = "";
	return kvm_throw_newn(vm, cls, msg, strlen(msg));
}

int kvm_throw_newn(struct kvm *vm, uint32_t cls, const char *msg, size_t len)
{
	struct kstr *s;
	struct kinst *e;

	/*
	 * Any instruction may throw, also inside a JIT segment that was
	 * charged up front: the exception's allocations charge afterwards
	 * (gc.c), so that the budget left decides nothing here.
	 */
	vm->lenient = true;
	s = kvm_str_new(vm, msg, len);
	if (!s || kvm_push_root(vm, &s->h)) {
		vm->lenient = false;
		return KVM_ABORT;
	}
	e = kvm_inst_new(vm, cls);
	kvm_pop_roots(vm, 1);
	vm->lenient = false;
	if (!e)
		return KVM_ABORT;
	e->f[KF_EXC_MESSAGE].o = &s->h;
	return begin_throw(vm, &e->h);
}

/* Throws a DeviceError carrying err, a positive errno. */
int kvm_throw_deverr(struct kvm *vm, int err, const char *msg)
{
	int st = kvm_throw_new(vm, KC_DeviceError, msg);

	if (st == KVM_THROW)
		((struct kinst *)vm->exc)->f[KF_DEVERR_ERRNO].i = err;
	return st;
}

/* The IndexOutOfBoundsException of index i into something of length n. */
int kvm_throw_index(struct kvm *vm, int64_t i, int64_t n)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "index %lld out of range for length %lld",
		 (long long)i, (long long)n);
	return kvm_throw_new(vm, KC_IndexOutOfBoundsException, msg);
}

/*
 * The handler of fn that catches exc thrown at pc, or NULL.  The table
 * lists inner try blocks before the ones around them (the image format
 * requires it), so the first match is the innermost; class NONE is a
 * finally's catch-all.
 */
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

/*
 * The register stack and the frames are not charged to the heap quota
 * (vm->stack_max and the depth limit bound them), so that every
 * mode counts them alike: JIT code pre-grows the frames, direct code
 * keeps registers in machine registers.
 */
static bool grow_stack(struct kvm *vm, size_t need)
{
	size_t cap = vm->stack_cap ? vm->stack_cap : STACK_MIN;
	union kvalue *s;

	if (need > vm->stack_max)
		return kvm_abort(vm, KVM_ABORT_DEPTH), false;
	while (cap < need)
		cap *= 2;
	if (cap > vm->stack_max)
		cap = vm->stack_max;
	s = kp_realloc(vm->stack, vm->stack_cap * sizeof(*s),
		       cap * sizeof(*s));
	if (!s)
		return kvm_abort(vm, KVM_ABORT_OOM), false;
	vm->stack = s;
	vm->stack_cap = (uint32_t)cap;
	return true;
}

/*
 * Doubles the frame array, never past the depth limit (push_frame checks
 * the limit first).  false: the run aborted with "out of memory".
 */
static bool grow_frames(struct kvm *vm)
{
	uint32_t cap = vm->frames_cap ? vm->frames_cap * 2 : 64;
	struct kframe *f;

	if (cap > vm->lim.depth)
		cap = vm->lim.depth;
	f = kp_realloc(vm->frames, vm->frames_cap * sizeof(*f),
		       (size_t)cap * sizeof(*f));
	if (!f)
		return kvm_abort(vm, KVM_ABORT_OOM), false;
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
static inline __attribute__((__always_inline__)) union kvalue *
push_frame(struct kvm *vm, const struct kfunc *fn, int32_t ret_reg,
	   uint8_t ret_mode)
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
	/*
	 * Usually a handful of registers: a loop beats a call to memset, and
	 * four stores an iteration, the rest without a loop, beat a store
	 * an iteration (fewer branches: an emulator pays for each).  The
	 * empty asm keeps compilers from turning the loop into a memset.
	 */
	for (i = fn->nargs; i + 4 <= fn->nregs; i += 4) {
		r[i].i = 0;
		r[i + 1].i = 0;
		r[i + 2].i = 0;
		r[i + 3].i = 0;
		__asm__ volatile("");
	}
	switch (fn->nregs - i) {
	case 3:
		r[i + 2].i = 0;
		fallthrough;
	case 2:
		r[i + 1].i = 0;
		fallthrough;
	case 1:
		r[i].i = 0;
	}
	f = &vm->frames[vm->nframes++];
	f->fn = fn;
	f->base = base;
	f->pc = 0;
	f->ret_reg = ret_reg;
	f->ret_mode = ret_mode;
	f->entry = 0;
	return r;
}

/*
 * The frame of script method callee called on recv (CALLV, CALLI), its
 * other arguments copied from the stack at index args (the caller's
 * argument block: read after the push, which may move the stack).  The
 * receiver is an object rooted in a register of the caller; the push
 * allocates none.  NULL when the push fails (the abort is recorded).
 */
static inline union kvalue *push_method(struct kvm *vm,
					const struct kfunc *callee,
					int32_t ret_reg, struct kobj *recv,
					uint32_t args)
{
	union kvalue *dst = push_frame(vm, callee, ret_reg, KRET_PLAIN);
	const union kvalue *src;
	uint32_t i;

	if (unlikely(!dst))
		return NULL;
	dst[0].o = recv;
	src = vm->stack + args;
	for (i = 1; i < callee->nargs; i++)
		dst[i] = src[i - 1];
	return dst;
}

#include "kops.h"

/* ---- unwinding ---------------------------------------------------------- */

/*
 * One step of unwinding the pending exception through the top frame: the
 * target pc of its handler (the exception stored in the handler's
 * register), or -1 after popping the frame.  Traces get one line per
 * frame the exception passes.
 */
static inline int32_t unwind_step(struct kvm *vm)
{
	uint32_t fi = vm->nframes - 1;
	struct kframe *fr = &vm->frames[fi];
	const struct kfunc *fn = fr->fn;
	const struct khandler *h = find_handler(vm, fn, fr->pc, vm->exc);

	if (h) {
		if (vm->trace_frame != fi) {
			trace_add(vm, fn, fr->pc);
			vm->trace_frame = fi;
		}
		vm->stack[fr->base + h->reg].o = vm->exc;
		vm->exc = NULL;
		return (int32_t)h->target;
	}
	if (vm->trace_frame != fi)
		trace_add(vm, fn, fr->pc);
	vm->trace_frame = KIMG_NONE;
	vm->nframes--;
	return -1;
}

/*
 * Runs the top frame, just pushed by a call in the interpreter, with its
 * JIT stub, and delivers the result to the caller like a return.  Out of
 * line: it keeps the loop's registers for the loop.
 */
static KP_NOINLINE int run_stub(struct kvm *vm)
{
	/* the stub pops the frame: read where the result goes first */
	const struct kframe *cf = &vm->frames[vm->nframes - 1];
	int32_t ret_reg = cf->ret_reg;
	uint8_t mode = cf->ret_mode;
	struct kjit_ret res;
	union kvalue v;
	int st;

	vm->jit_entries++;
	res = vm->jit_fns[cf->fn - vm->funcs](vm, vm->stack + cf->base);
	if (res.st)
		return (int)res.st;
	if (ret_reg < 0)
		return KVM_OK;
	v = res.v;
	st = ret_convert(vm, mode, &v);
	if (st)
		return st;
	kvm_top_regs(vm)[ret_reg] = v;
	return KVM_OK;
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
/* Dispatches *ip without charging it (it was charged already). */
#define vmredispatch()	goto *disptab[*ip]
#else
#define vmdispatch(o)	switch (o)
#define vmcase(l)	case KOP_##l:
#define vmfetch()	goto next
#define vmredispatch()	goto redispatch
#endif
#define vmnext(n)	do { ip += (n); vmfetch(); } while (0)
#define vmjump(t)	do { ip = code + (t); vmfetch(); } while (0)
/* past the instruction NAME at ip (its length from opcodes.def) */
#define vmnextop(name)	vmnext(KOP_LEN_##name)

/*
 * Operand words of the instruction at ip, registers as ints (RI) or
 * references (RO).  The verifier proved each operand in range for its
 * letter and each register of the kind used, so none is checked here.
 */
#define A1	ip[1]
#define A2	ip[2]
#define A3	ip[3]
#define A4	ip[4]
#define A5	ip[5]
#define A6	ip[6]
#define RI(x)	(R[x].i)
#define RO(x)	(R[x].o)
#define U(x)	((uint64_t)(x))

/*
 * The loop caches the top frame, its code and its registers in locals:
 * reload them after anything that may push or pop a frame or move
 * vm->stack (grow_stack), that is after every call out that may run
 * script code.
 */
#define LOAD_FRAME() do {						\
		fr = &vm->frames[vm->nframes - 1];			\
		fn = fr->fn;						\
		code = fn->code;					\
		R = vm->stack + fr->base;				\
	} while (0)
/*
 * The pc is stored only where something may look at it: a throw (the
 * handler lookup), an abort (the trace) and a call (the return address).
 */
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
/*
 * An implementation from kops.h that cannot run script code.  The budget
 * is synced anyway: a budget live across calls costs the loop a register.
 */
#define OPST(call) do {							\
		SAVE_PC();						\
		SYNC_OUT();						\
		st = (call);						\
		SYNC_IN();						\
		if (unlikely(st))					\
			goto status;					\
	} while (0)
/*
 * The callee f's frame is pushed with its arguments (registers dst):
 * its JIT stub runs it on the C stack while native levels remain, else
 * it runs here.
 */
#define ENTER(f) do {							\
		if (unlikely(vm->jit_fns != NULL) && vm->jit_fns[f] &&	\
		    vm->nframes <= vm->jit_frames_max)			\
			goto native_call;				\
		LOAD_FRAME();						\
		ip = code;						\
		vmfetch();						\
	} while (0)

/*
 * The opcodes whose cases kvm_execute has by hand: control flow, which
 * jumps, pushes or pops frames, or throws.  opcodes.def's header defines
 * them by their line: a "j" operand, or the flag t or s.  Every other
 * opcode is ordinary and gets the case VM_ORDINARY, generated from its
 * opcodes.def line and its KOPI implementation in kops.h.  A name is
 * tested with VM_CHECK(VM_HAND_NAME): 1 when listed here, else 0.
 */
#define VM_HAND		~, 1
#define VM_HAND_JMP	VM_HAND
#define VM_HAND_JT	VM_HAND
#define VM_HAND_JF	VM_HAND
#define VM_HAND_JEQ	VM_HAND
#define VM_HAND_JNE	VM_HAND
#define VM_HAND_JLT	VM_HAND
#define VM_HAND_JLE	VM_HAND
#define VM_HAND_JEQI	VM_HAND
#define VM_HAND_JNEI	VM_HAND
#define VM_HAND_JLTI	VM_HAND
#define VM_HAND_JLEI	VM_HAND
#define VM_HAND_JGTI	VM_HAND
#define VM_HAND_JGEI	VM_HAND
#define VM_HAND_JNULL	VM_HAND
#define VM_HAND_JNNULL	VM_HAND
#define VM_HAND_RTOS	VM_HAND
#define VM_HAND_CALL	VM_HAND
#define VM_HAND_CALLV	VM_HAND
#define VM_HAND_CALLN	VM_HAND
#define VM_HAND_CALLF	VM_HAND
#define VM_HAND_CALLA	VM_HAND
#define VM_HAND_CALLI	VM_HAND
#define VM_HAND_RET	VM_HAND
#define VM_HAND_RETV	VM_HAND
#define VM_HAND_THROW	VM_HAND
#define VM_HAND_SWITCH	VM_HAND
#define VM_SECOND(x, n, ...)	n
#define VM_CHECK(...)		VM_SECOND(__VA_ARGS__, 0, ~)
#define VM_IF(c)		VM_IF_(c)
#define VM_IF_(c)		VM_IF_##c
#define VM_IF_0(t, f)		f
#define VM_IF_1(t, f)		t
#define VM_NOTHING(name, operands, flags)

/*
 * Called only where the compiler proves the call dead: the generated case
 * of an opcode that opcodes.def says is control flow, missing from the
 * VM_HAND list, does not compile.
 */
extern void vm_control_flow_is_not_ordinary(void)
	__attribute__((__error__("control flow (a j operand, flag t or s) "
				 "needs a VM_HAND_NAME and a case by hand")));

/*
 * The case of an ordinary opcode.  Its flag n (neither throws nor
 * allocates), folded by the compiler, spares the call of its
 * implementation the pc store, the budget's sync and the status check.
 * The next instruction is past the opcode's word and its operand words.
 */
#define VM_ORDINARY(name, operands, flags)				\
	vmcase(name)							\
		if (KOP_FLAG(operands, 'j') || KOP_FLAG(flags, 't') ||	\
		    KOP_FLAG(flags, 's'))				\
			vm_control_flow_is_not_ordinary();		\
		if (KOP_FLAG(flags, 'n'))				\
			(void)kopx_##name(vm, R, ip);			\
		else							\
			OPST(kopx_##name(vm, R, ip));			\
		vmnext(sizeof(operands));

/*
 * Runs the top frame from its pc until the frame marked entry returns
 * (KVM_OK, its result in vm->retval) or an exception leaves it (KVM_THROW,
 * the entry frame popped, the exception in vm->exc).  On KVM_ABORT the
 * frames stay as they were, for the trace; kvm_call_top() drops them.
 * Script calls push frames and loop here; only natives and JIT stubs that
 * call back in nest kvm_execute() on the C stack.  budget is a local copy
 * of vm->budget, written back around every call out (OPST, PROTECT).
 */
static int kvm_execute(struct kvm *vm)
{
#if defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO)
	static const void *const disptab[KOP__COUNT] KP_JUMP_TABLE = {
#define OP(name, operands, flags, doc) [KOP_##name] = &&L_##name,
#include "opcodes.def"
#undef OP
	};
#endif
	const struct kimage *img = vm->img;
	struct kframe *fr;
	const struct kfunc *fn;
	const int32_t *code, *ip;
	union kvalue *R, *dst, v;
	int64_t budget = vm->budget;
	int st;

	LOAD_FRAME();
	ip = code + fr->pc;
	vmfetch();
#if !(defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO))
next:
	if (unlikely(--budget < 0))
		goto out_budget;
redispatch:
#endif
	vmdispatch(*ip) {
	/* the ordinary opcodes: one generated case each (VM_ORDINARY) */
#define OP(name, operands, flags, doc)					\
	VM_IF(VM_CHECK(VM_HAND_##name))(VM_NOTHING, VM_ORDINARY)	\
		(name, operands, flags)
#include "opcodes.def"
#undef OP

	/* control flow, by hand (VM_HAND_NAME) */
	vmcase(JMP)
		vmjump(A1);
	vmcase(JT)
		if (RI(A1))
			vmjump(A2);
		vmnextop(JT);
	vmcase(JF)
		if (!RI(A1))
			vmjump(A2);
		vmnextop(JF);
	vmcase(JEQ)
		if (RI(A1) == RI(A2))
			vmjump(A3);
		vmnextop(JEQ);
	vmcase(JNE)
		if (RI(A1) != RI(A2))
			vmjump(A3);
		vmnextop(JNE);
	vmcase(JLT)
		if (RI(A1) < RI(A2))
			vmjump(A3);
		vmnextop(JLT);
	vmcase(JLE)
		if (RI(A1) <= RI(A2))
			vmjump(A3);
		vmnextop(JLE);
	vmcase(JEQI)
		if (RI(A1) == A2)
			vmjump(A3);
		vmnextop(JEQI);
	vmcase(JNEI)
		if (RI(A1) != A2)
			vmjump(A3);
		vmnextop(JNEI);
	vmcase(JLTI)
		if (RI(A1) < A2)
			vmjump(A3);
		vmnextop(JLTI);
	vmcase(JLEI)
		if (RI(A1) <= A2)
			vmjump(A3);
		vmnextop(JLEI);
	vmcase(JGTI)
		if (RI(A1) > A2)
			vmjump(A3);
		vmnextop(JGTI);
	vmcase(JGEI)
		if (RI(A1) >= A2)
			vmjump(A3);
		vmnextop(JGEI);
	vmcase(JNULL)
		if (!RO(A1))
			vmjump(A2);
		vmnextop(JNULL);
	vmcase(JNNULL)
		if (RO(A1))
			vmjump(A2);
		vmnextop(JNNULL);
	vmcase(SWITCH)		/* (1.1) its table of JMPs follows it */
		vmjump(kopi_SWITCH(code, R, A1, A2, A3, A4,
				   (int32_t)(ip - code) + 5));

	vmcase(RTOS) {
		struct kobj *o = RO(A2);
		uint32_t ts = kopi_rtos_script(vm, o);

		/* a script toString runs in a frame, not on the C stack */
		if (ts != KIMG_NONE) {
			SAVE_PC();
			dst = push_frame(vm, &img->funcs[ts], A1, KRET_TOSTR);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			dst[0].o = o;
			ENTER(ts);
		}
		PROTECT(kopi_RTOS_native(vm, R, A1, A2));
		vmnextop(RTOS);
	}

	/*
	 * Calls push the callee's frame and copy its arguments from the
	 * caller's block of registers at the argument operand; the caller's
	 * pc stays on the call, which the return steps past (op_len).
	 */
	vmcase(CALL) {
		uint32_t f = (uint32_t)A2;
		const struct kfunc *callee = &img->funcs[f];
		uint32_t caller = fr->base, i;
		const union kvalue *src;

		/* a callee with a stub: the handler JIT code calls, out of line */
		if (unlikely(vm->jit_fns != NULL) && vm->jit_fns[f] &&
		    vm->nframes < vm->jit_frames_max) {
			PROTECT(kop_CALL(vm, R, A1, A2, A3));
			vmnextop(CALL);
		}
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
		/*
		 * A s B C q: the method in slot s of the receiver's class.  An
		 * instance's class is read in place and looked up through the
		 * site's inline cache, whose target does not wait for the
		 * receiver's loads (the vtable's would: one more load between
		 * the receiver and the callee); a miss refills it in place.
		 * Null and the other kinds go through the helper.
		 */
		struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };
		struct kobj *recv = RO(A3);
		struct kinline_cache *ic = &fn->ics[A5];

		if (likely(recv && recv->kind == KO_INSTANCE)) {
			if (unlikely(ic->key != recv->cls)) {
				ic->key = recv->cls;
				ic->target = img->vtables[recv->cls][A2];
			}
			m = ic->target;
		} else {
			OPST(kopi_callv_target(vm, R, A2, A3, &m));
		}
		if (m.func != KIMG_NONE) {
			SAVE_PC();
			dst = push_method(vm, &img->funcs[m.func], A1, recv,
					  fr->base + A4);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			ENTER(m.func);
		}
		PROTECT(kopi_native_call(vm, R, A1, m.native, recv, A4));
		vmnextop(CALLV);
	}
	vmcase(CALLI) {
		/*
		 * (1.1) A t i B C q: CALLV of the method cache q holds for the
		 * receiver's class; a hit is tested in place, a miss (and a
		 * null receiver) goes through the helper, which refills it
		 */
		struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };
		struct kobj *recv = RO(A4);
		const struct kinline_cache *ic = &fn->ics[A6];

		if (likely(recv && recv->kind == KO_INSTANCE &&
			   ic->key == recv->cls))
			m = ic->target;
		else
			OPST(kopi_calli_target(vm, fn, R, A2, A3, A4, A6, &m));
		if (m.func != KIMG_NONE) {
			SAVE_PC();
			dst = push_method(vm, &img->funcs[m.func], A1, recv,
					  fr->base + A5);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			ENTER(m.func);
		}
		PROTECT(kopi_native_call(vm, R, A1, m.native, recv, A5));
		vmnextop(CALLI);
	}
	vmcase(CALLN)
		PROTECT(kopi_CALLN(vm, R, A1, A2, A3));
		vmnextop(CALLN);
	vmcase(CALLF) {
		struct kfn *f = (struct kfn *)RO(A2);
		uint32_t caller = fr->base, i, k;

		if (unlikely(!f))
			THROW_NPE();
		if (f->m.func != KIMG_NONE) {
			const struct kfunc *callee = &img->funcs[f->m.func];
			const union kvalue *src;

			SAVE_PC();
			dst = push_frame(vm, callee, A1, KRET_PLAIN);
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			src = vm->stack + caller + A3;
			/* a receiver or (1.1) captured values, then the args */
			k = kopi_callf_lead(f, dst);
			for (i = 0; k < callee->nargs; i++)
				dst[k++] = src[i];
			ENTER(f->m.func);
		}
		PROTECT(kopi_native_call(vm, R, A1, f->m.native, f->recv, A3));
		vmnextop(CALLF);
	}
	vmcase(CALLA) {
		/* A r e N r q: dest, receiver, name, argc, first arg, cache */
		struct kmethod_ref m = { KIMG_NONE, KIMG_NONE };

		OPST(kopi_calla_target(vm, fn, R, A2, A3, A4, A5, A6, &m));
		if (m.func != KIMG_NONE) {
			const struct kfunc *callee = &img->funcs[m.func];
			uint32_t caller = fr->base;

			dst = push_frame(vm, callee, A1,
					 ret_mode_of(img,
						     img->types[callee->type].result));
			if (unlikely(!dst)) {
				st = KVM_ABORT;
				goto status;
			}
			kopi_calla_args(vm, dst, vm->stack + caller, A2, A4, A5,
					m.func);
			ENTER(m.func);
		}
		PROTECT(kopi_calla_native(vm, R, A1, m.native, A2, A4, A5));
		vmnextop(CALLA);
	}
	vmcase(RET)
		v = R[A1];
		goto do_return;
	vmcase(RETV)
		v.o = NULL;
		goto do_return;
	vmcase(THROW)
		SAVE_PC();
		st = kopi_THROW(vm, R, A1);
		goto status;
#if !(defined(__GNUC__) && !defined(KVM_NO_COMPUTED_GOTO))
	default:
		/* unreachable: the loader verified every opcode */
		KP_WARN_ON(1);
		SAVE_PC();
		st = kvm_abort(vm, KVM_ABORT_DEPTH);
		goto out;
#endif
	}

native_call:
	/* the callee's frame is pushed; its stub runs it to its end */
	SYNC_OUT();
	st = run_stub(vm);
	SYNC_IN();
	LOAD_FRAME();
	if (unlikely(st))
		goto status;
	ip = code + fr->pc + op_len[code[fr->pc]];
	vmfetch();

	/*
	 * v is the result (null for RETV).  The entry frame hands it to
	 * kvm_execute()'s caller; any other returns into the frame below,
	 * whose ret_mode may box it (CALLA) or replace a null toString
	 * result (RTOS), which can allocate and so abort.
	 */
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
			/*
			 * a box or "null" is an allocation, charged to the
			 * budget (and it may collect): vm->budget must be
			 * ours, and what it charged ours after
			 */
			SYNC_OUT();
			st = ret_convert(vm, mode, &v);
			SYNC_IN();
			if (unlikely(st))
				goto status;
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
		int32_t target;
		/* read before unwind_step() pops the frame */
		bool entry = vm->frames[vm->nframes - 1].entry;

		target = unwind_step(vm);
		if (target >= 0) {
			LOAD_FRAME();
			ip = code + target;
			vmfetch();
		}
		if (entry) {
			st = KVM_THROW;
			goto out;
		}
	}

out_budget:
	/*
	 * The slice ran out before this instruction: undo its charge, poll
	 * for signals and move the next slice over, then run it.
	 */
	SAVE_PC();
	vm->budget = budget + 1;
	if (likely(kvm_budget_refill(vm, 1))) {
		budget = vm->budget - 1;
		vmredispatch();
	}
	budget = -1;
	st = kvm_abort(vm, vm->killed ? KVM_ABORT_KILLED : KVM_ABORT_BUDGET);
out:
	vm->budget = budget;
	return st;
}

#undef vmdispatch
#undef vmcase
#undef vmfetch
#undef vmnext
#undef vmnextop
#undef vmredispatch
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
#undef OPST
#undef ENTER
#undef VM_ORDINARY
#undef VM_NOTHING
#undef VM_IF_1
#undef VM_IF_0
#undef VM_IF_
#undef VM_IF
#undef VM_CHECK
#undef VM_SECOND

/* ---- JIT support (ctjit/README.md) --------------------------------------- */

/* THROW from JIT code: exc is not null (the code tested it). */
int kvm_throw_obj(struct kvm *vm, struct kobj *exc)
{
	return begin_throw(vm, exc);
}

/* Pushes a frame for function f; the caller copies the arguments. */
union kvalue *kvm_jit_push(struct kvm *vm, uint32_t f, int32_t ret_reg)
{
	return push_frame(vm, &vm->funcs[f], ret_reg, KRET_PLAIN);
}

/*
 * Runs the top frame in the interpreter from its pc to its end, as the
 * entry frame of a kvm_execute() of its own: a JIT stub falls back here
 * for a frame it cannot run natively.  The result is moved out of
 * vm->retval, which the collector does not mark: no stale pointer stays.
 */
struct kjit_ret kvm_jit_interp(struct kvm *vm)
{
	struct kjit_ret r;

	vm->frames[vm->nframes - 1].entry = 1;
	r.st = kvm_execute(vm);
	r.v.i = 0;
	if (r.st == KVM_OK)
		r.v = vm->retval;
	vm->retval.i = 0;
	return r;
}

/*
 * Runs the top frame, just pushed for function fi, to its end: natively
 * if it can.
 */
static inline __attribute__((__always_inline__)) struct kjit_ret
run_top_fn(struct kvm *vm, uint32_t fi)
{
	const struct kframe *fr = &vm->frames[vm->nframes - 1];
	kjit_fn nat = vm->jit_fns ? vm->jit_fns[fi] : NULL;

	/* stubs recurse on the C stack: not below the VM's floor */
	if (nat && vm->nframes <= vm->jit_frames_max &&
	    (uintptr_t)__builtin_frame_address(0) >= vm->stack_floor) {
		vm->jit_entries++;
		return nat(vm, vm->stack + fr->base);
	}
	return kvm_jit_interp(vm);
}

/* run_top_fn() of the top frame's function */
static inline __attribute__((__always_inline__)) struct kjit_ret
run_top(struct kvm *vm)
{
	return run_top_fn(vm, (uint32_t)(vm->frames[vm->nframes - 1].fn -
					 vm->funcs));
}

/* run_top() for the JIT's call handlers (kops.c) */
struct kjit_ret kvm_jit_run_top(struct kvm *vm)
{
	return run_top(vm);
}

/*
 * JIT code's handler lookup: one unwind_step() of vm->exc through the top
 * frame, whose pc the code stored.  The handler's pc, or -1 when the
 * frame was popped and the stub returns KVM_THROW to its caller.
 */
int32_t kvm_jit_unwind(struct kvm *vm)
{
	return unwind_step(vm);
}

/* A JIT segment of n instructions found the slice short (charge()). */
bool kvm_jit_refill(struct kvm *vm, int64_t n)
{
	return kvm_budget_refill(vm, n);
}

/*
 * Direct code (no VM at hand) polls every KVM_SLICE instructions; true
 * makes it give up, and the run with frames that follows aborts.
 */
bool kvm_jit_poll(void)
{
	return kp_poll();
}

/* The first 8 bytes of a digest as 16 hex digits and a NUL, for errors. */
static void hex16(char *out, const uint8_t *d)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 8; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[16] = '\0';
}

/*
 * Binds a stub table to vm (see kvm.h).  Stubs compiled for another image
 * would read registers and constants by the wrong layout: the digest and
 * function count must match.
 */
int kvm_jit_register(struct kvm *vm, const struct kjit_table *t, char *err,
		     size_t errlen)
{
	char want[17], have[17];

	if (t->abi != KJIT_ABI) {
		snprintf(err, errlen, "JIT stubs use ABI %u, this VM %u",
			 t->abi, KJIT_ABI);
		return -EINVAL;
	}
	if (memcmp(t->digest, vm->img->digest, sizeof(t->digest)) ||
	    t->nfuncs != vm->img->nfuncs) {
		hex16(want, t->digest);
		hex16(have, vm->img->digest);
		snprintf(err, errlen,
			 "JIT stubs were compiled for image %s, not %s",
			 want, have);
		return -EINVAL;
	}
	/* stubs push frames below jit_frames_max without growing them */
	vm->jit_frames_max = vm->lim.depth;
	if (vm->jit_frames_max > vm->lim.jit_nest)
		vm->jit_frames_max = vm->lim.jit_nest;
	if (vm->jit_frames_max > KP_JIT_NEST_MAX)
		vm->jit_frames_max = KP_JIT_NEST_MAX;
	while (vm->frames_cap < vm->jit_frames_max)
		if (!grow_frames(vm)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	vm->jit_fns = t->fns;
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

/*
 * Calls m, a script function or a native, with args (the receiver first
 * for a method) and stores its result in *ret.  The status is the
 * callee's: a native's directly, a script function's as its frame ends
 * (an exception that leaves it is pending in vm->exc).  args holds at
 * least the callee's parameters, copied into the new frame's registers,
 * which the collector marks: the caller need not root them during the
 * call.  Nests on the C stack: at most KVM_MAX_NEST deep.  top_sp: 0,
 * or kvm_call_top()'s frame address when it is the caller.
 */
static inline __attribute__((__always_inline__)) int
invoke_in(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
	  uint32_t nargs, union kvalue *ret, uintptr_t top_sp)
{
	const struct kfunc *fn;
	struct kjit_ret res;
	union kvalue *r;
	uint32_t i, n;

	if (m.func == KIMG_NONE) {
		ret->i = 0;
		return kvm_natives[m.native](vm, args, ret);
	}
	if (top_sp) {
		/*
		 * kvm_call_top(): no nesting yet, and its own frame, just
		 * measured, is the stack's depth
		 */
		if (unlikely(top_sp < vm->stack_floor))
			return kvm_abort(vm, KVM_ABORT_DEPTH);
	} else if (vm->nest >= KVM_MAX_NEST || kvm_check_stack(vm)) {
		/* a native re-enters the interpreter on the C stack */
		return kvm_abort(vm, KVM_ABORT_DEPTH);
	}
	fn = &vm->funcs[m.func];
	r = push_frame(vm, fn, -1, KRET_PLAIN);
	if (!r)
		return KVM_ABORT;
	n = fn->nargs < nargs ? fn->nargs : nargs;
	for (i = 0; i < n; i++)
		r[i] = args[i];
	vm->nest++;
	res = run_top_fn(vm, m.func);
	vm->nest--;
	*ret = res.v;
	return (int)res.st;
}

/* invoke_in() for natives; kvm_call_top() has it inline (a call less). */
int kvm_invoke(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
	       uint32_t nargs, union kvalue *ret)
{
	return invoke_in(vm, m, args, nargs, ret, 0);
}

/*
 * A host's call into the script (its init, a device callback), made with
 * vm->lock held.  It gets a fresh budget and a C stack floor measured from
 * here, and leaves no state behind whatever happened: the frames an abort
 * left, the nesting, the natives' roots above the host's, saved traces
 * and the marks of conversions cut short are all reset.  A failed call
 * leaves its report in vm->report (kvm_report()).
 */
KP_PATH int kvm_call_top(struct kvm *vm, struct kmethod_ref m,
			 union kvalue *args, uint32_t nargs, union kvalue *ret,
			 uint64_t budget)
{
	int64_t total = budget > (uint64_t)INT64_MAX ? INT64_MAX :
		(int64_t)budget, left;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uint32_t ntmp = vm->ntmp;	/* the host's roots (device streams) */
	uint64_t stack_left;
	int st;

	vm->budget = total < KVM_SLICE ? total : KVM_SLICE;
	vm->budget_rest = total - vm->budget;
	vm->killed = false;
	vm->charging = true;
	vm->stack_floor = kp_stack_base(sp) + KVM_STACK_RESERVE;
	vm->stack_low = sp;
	vm->abort_kind = KVM_ABORT_NONE;
	vm->exc = NULL;
	vm->trace_exc = NULL;
	vm->trace_frame = KIMG_NONE;
	vm->ntrace = 0;
	st = invoke_in(vm, m, args, nargs, ret, sp);
	left = vm->budget + vm->budget_rest;
	vm->executed += (uint64_t)total - (uint64_t)(left < 0 ? 0 : left);
	vm->budget_rest = 0;
	vm->charging = false;
	/* the stack's base is the floor less the reserve */
	stack_left = vm->stack_low - (vm->stack_floor - KVM_STACK_RESERVE);
	if (stack_left < vm->stack_min_left)
		vm->stack_min_left = stack_left;
	if (st != KVM_OK)
		kvm_make_report(vm, st);
	vm->nframes = 0;
	vm->nest = 0;
	vm->ntmp = ntmp;
	drop_all_saved(vm);
	while (vm->nconv)
		vm->conv[--vm->nconv].o->flags &= ~KOBJ_CONVERTING;
	vm->trace_exc = NULL;
	return st;
}

/* ---- reports ------------------------------------------------------------ */

/*
 * The source line of the instruction at pc: fn->lines is sorted by pc
 * (the verifier checks it), one entry where each line's code starts.  0
 * when pc is before the first entry.
 */
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

/*
 * Appends n bytes to vm->report, keeping it NUL-terminated.  The report
 * is the host's memory (not charged): if it cannot grow, it is cut short.
 */
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

/*
 * The report of a failed call: "abort: <limit>" or "<Class>: <message>",
 * then one "  at <function> (<file>:<line>)" per trace entry, innermost
 * first.  The exception's class and message are read, not converted: no
 * script code runs and nothing is allocated on the script's heap.
 */
void kvm_make_report(struct kvm *vm, int st)
{
	static const char *const aborts[] = {
		[KVM_ABORT_NONE] = "abort: unknown",
		[KVM_ABORT_BUDGET] = "abort: budget exceeded",
		[KVM_ABORT_OOM] = "abort: out of memory",
		[KVM_ABORT_DEPTH] = "abort: stack overflow",
		[KVM_ABORT_KILLED] = "abort: killed",
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

/* The last failed call's report, or ""; valid until the next call. */
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
	lim->jit_nest = KP_JIT_NEST_MAX;
}

/* kvm_mem_alloc() zeroed: charged to the quota, NULL on failure. */
static void *mem_zalloc(struct kvm *vm, size_t n)
{
	void *p = kvm_mem_alloc(vm, n);

	if (p)
		memset(p, 0, n);
	return p;
}

/*
 * A VM for img, a loaded and verified image that must outlive it.  It has
 * its globals, the String objects of the string constants (so loading a
 * constant never allocates) and the first stack and frames; the init has
 * not run (kvm_run_init).  NULL when memory or the heap quota ran out.
 */
struct kvm *kvm_create(const struct kimage *img, const struct kvm_limits *lim,
		       const struct kvm_host *host)
{
	struct kvm *vm;
	uint32_t i;

	vm = kp_zalloc(sizeof(*vm));
	if (!vm)
		return NULL;
	vm->img = img;
	vm->funcs = img->funcs;
	vm->lim = *lim;
	if (vm->lim.depth < 1)
		vm->lim.depth = 1;
	vm->stack_max = KVM_STACK_VALUES_MIN;
	if ((uint64_t)vm->lim.depth * KVM_STACK_VALUES_PER_FRAME > vm->stack_max)
		vm->stack_max = (uint64_t)vm->lim.depth *
			KVM_STACK_VALUES_PER_FRAME > 0x7fffffffu ? 0x7fffffffu :
			vm->lim.depth * KVM_STACK_VALUES_PER_FRAME;
	vm->host = *host;
	vm->gc_next = KVM_GC_FLOOR_MAX;
	vm->stack_min_left = UINT64_MAX;
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

		if (k->kind != 2)	/* 1: an int, 2: a string */
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

/*
 * Runs the script's top level once, under the init budget.  The lock is
 * free (nothing reaches the VM before its init registers a device, and
 * opens of those wait for the init to end), so it is taken without a
 * killable wait.  A failed init removes the devices it registered: a
 * script that threw leaves nothing a user could open.
 */
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
		/* (1.1) the init's timers fire from now on */
		kvm_timers_init_done(vm);
		kvm_gc_init_done(vm);
	} else {
		vm->init_failed = true;
		kvm_devices_remove_all(vm);
		/* (1.1) and never if it failed */
		kvm_stop_timers(vm);
	}
	kp_mutex_unlock(&vm->lock);
	return st;
}

/* Charged blocks not freed: 0 after kvm_destroy() (a leak check). */
long kvm_live_allocs(const struct kvm *vm)
{
	return vm->live_allocs;
}

/*
 * Frees vm and everything it allocated; NULL is allowed.  Called when
 * nothing can use vm any more (no call running, no device file open):
 * the devices are removed first (the host's dev_remove), then every
 * object, then the VM's own blocks, each at the size it was charged.
 */
void kvm_destroy(struct kvm *vm)
{
	if (!vm)
		return;
	kvm_devices_remove_all(vm);
	kdev_free_spares(vm);
	kvm_wait_free(vm);
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
	kp_free(vm->stack);
	kp_free(vm->frames);
	kvm_mem_free(vm, vm->tmp, vm->tmp_cap * sizeof(struct kobj *));
	kvm_mem_free(vm, vm->conv, vm->conv_cap * sizeof(struct kconv));
	kvm_params_free(vm);
	KP_WARN_ON(vm->live_allocs != 0);
	drop_all_saved(vm);
	kp_free(vm->trace);
	kp_free(vm->report);
	kp_mutex_destroy(&vm->lock);
	kp_free(vm);
}
