// SPDX-License-Identifier: GPL-2.0
/*
 * gc.c - memory accounting and the precise mark-and-sweep collector.
 *
 * Every block the VM allocates for a script (objects, array storage,
 * stream buffers, device files, conversion buffers, temporary roots, the
 * gray stack) is charged to the heap quota; the register stack and the
 * frames are not (vm.c: the depth limit bounds them).  A collection runs
 * when the charged volume passes vm->gc_next, and once more before an
 * allocation is refused; after that the run aborts with "out of memory".
 *
 * Roots: the reference registers of every live frame (kfunc.reg_is_ref),
 * the globals, the pending exception and the exceptions whose traces are
 * kept (vm->saved), string constants, Func values of functions, the
 * natives' temporary roots, the arrays being converted to strings and
 * the registered devices.  Marking uses an explicit gray
 * stack (never the C stack: 16 KiB in the kernel); if that stack cannot
 * grow, marking falls back to rescanning the heap.
 */
#include "kvm.h"

/*
 * The next collection comes at twice what survived the last, and at
 * least at a floor: GC_FLOOR_MIN (256 KiB) plus GC_FLOOR_PER_LIVE times
 * what survived, KVM_GC_FLOOR_MAX (1 MiB, the first collection's
 * threshold) from 64 KiB survived on.  What survived is the objects: the
 * host's charges of the moment (vm->host_used: a read's or a write's
 * buffer, parked calls) are added to the threshold, not doubled nor
 * counted towards the floor, so that a device streaming 64 KiB blocks is
 * paced as a small heap is, and its next workload of small blocks finds
 * its garbage recycled soon.  A driver whose heap holds a few
 * objects is collected every few thousand messages once its init is
 * done (kvm_gc_init_done), so that its garbage is soon recycled (below)
 * instead of being allocated afresh for megabytes; a heap with more
 * alive keeps the 1 MiB floor, which spares it marking that live part
 * over and over (AWFY's Storage runs 1.4 times slower with a floor of
 * 256 KiB, and DeltaBlue 1.2 times with a first collection there).
 */
#define GC_FLOOR_MIN		((size_t)1 << 18)
#define GC_FLOOR_PER_LIVE	12u
/* Gray stack entries kept from one collection to the next. */
#define GC_GRAY_KEEP		1024u
/*
 * What work costs, in instructions' worth of budget, so that no call
 * does much more than about 10x the work of ordinary code per unit
 * (bench/test_adversary.py measures it): fresh memory (page faults and
 * zeroing) costs about 0.5 ns a byte, an instruction about 2 ns, and a
 * collection about 25 ns per object it visits (a cache miss each).
 */
#define GC_BYTES_PER_UNIT	16u
#define GC_UNITS_PER_OBJECT	2u

/*
 * Work is charged to the running call's budget (while vm->charging):
 * an allocation one unit per GC_BYTES_PER_UNIT bytes, rounded up (the
 * allocator's own cost, and the zeroing or copying that fills the
 * block), before it is made: a call that cannot pay aborts with "budget
 * exceeded" instead.  A collection is charged GC_UNITS_PER_OBJECT per
 * object it marks and per object it sweeps, after it ran (one the call
 * cannot pay for is not started: can_collect), and so are the
 * allocations of an
 * exception being thrown (vm->lenient): these may take the budget below
 * zero, and the call then aborts at its next instruction, in the
 * interpreter and in JIT code alike (JIT segments are charged up front,
 * so only instructions that end a segment may charge strictly): see
 * kvm_charge_work().
 */

/*
 * Swept objects of up to 128 KiB are kept on a free list per size class
 * (16-byte steps up to 256 bytes, then powers of two), and an allocation
 * of that class takes one back before it asks the allocator: an
 * allocation costs a list pop and a clear of what must be cleared (a
 * String's header only) instead of the allocator's work on memory that
 * a collection only gives back in bulk, and its clearing of the whole
 * block (the kernel's init_on_alloc).  Such objects are allocated at
 * their class's size, which is what the kernel's allocator rounds them
 * to anyway.  The kept blocks are not charged, so nothing a script sees
 * (its heap, its budget, when it collects) changes; but the quota still
 * bounds the VM's memory: heap_used + free_bytes never passes it
 * (make_room), and a collection first frees the blocks of each class
 * that no allocation asked for during the last FREE_KEEP_GCS
 * collections: a device that streams 64 KiB blocks for a while still
 * finds the blocks its 4 KiB traffic left when that comes back, instead
 * of fresh ones the kernel clears (rot13's first 150 blocks of 4 KiB
 * after 64 KiB ones took 1.13 times as long when each collection freed
 * every block the last one kept).  Only a small heap keeps them (the
 * collection came at KVM_GC_FLOOR_MAX or sooner: at most half of that
 * survived the last one, or the init left less than 768 KiB, as in a
 * device driver):
 * with a large one, blocks handed out again all over it make later
 * collections mark more slowly than the allocator's fresh, adjacent ones
 * (Havlak: 1.3 s to 2.3 s).  Under KASAN, ASan or the GC stress test
 * nothing is kept, so that a swept object used again is caught.
 */
#if defined(CONFIG_KASAN) || defined(__SANITIZE_ADDRESS__) || \
	defined(KVM_GC_STRESS)
#define KVM_RECYCLE	0
#else
#define KVM_RECYCLE	1
#endif
#define FREE_CLASS_BYTES	16u
#define FREE_SMALL_MAX		(KVM_FREE_SMALL * FREE_CLASS_BYTES)
#define FREE_LARGE_SHIFT	9	/* the first power of two: 512 bytes */
/* collections a class's kept blocks outlive with no allocation of it */
#define FREE_KEEP_GCS		8

/* The size class of an object of n bytes, or -1 for a bigger one. */
static inline int free_class(size_t n)
{
	int shift = FREE_LARGE_SHIFT;

	if (!KVM_RECYCLE || n == 0)
		return -1;
	if (n <= FREE_SMALL_MAX)
		return (int)((n - 1) / FREE_CLASS_BYTES);
	while (((size_t)1 << shift) < n)
		shift++;
	if (shift - FREE_LARGE_SHIFT >= KVM_FREE_CLASSES - KVM_FREE_SMALL)
		return -1;
	return KVM_FREE_SMALL + shift - FREE_LARGE_SHIFT;
}

static inline size_t class_bytes(int c)
{
	if (c < KVM_FREE_SMALL)
		return ((size_t)c + 1) * FREE_CLASS_BYTES;
	return (size_t)1 << (c - KVM_FREE_SMALL + FREE_LARGE_SHIFT);
}

/* Frees the kept blocks of class c. */
static void free_class_kept(struct kvm *vm, int c)
{
	void *p;

	while ((p = vm->free_blocks[c])) {
		vm->free_blocks[c] = *(void **)p;
		vm->free_bytes -= class_bytes(c);
		kp_free(p);
	}
}

/*
 * At a collection: frees the kept blocks of the classes nothing was
 * allocated from since FREE_KEEP_GCS collections ago.
 */
static void age_kept(struct kvm *vm)
{
	int c;

	for (c = 0; c < KVM_FREE_CLASSES; c++) {
		if (!vm->free_blocks[c])
			continue;
		if (vm->free_age[c] >= FREE_KEEP_GCS)
			free_class_kept(vm, c);
		else
			vm->free_age[c]++;
	}
}

/* Frees every kept block. */
static void free_kept(struct kvm *vm)
{
	int c;

	for (c = 0; c < KVM_FREE_CLASSES; c++)
		free_class_kept(vm, c);
}

/* Frees the kept blocks if charging n more would pass the quota with them. */
static inline void make_room(struct kvm *vm, size_t n)
{
	if (vm->free_bytes &&
	    vm->heap_used + n > vm->lim.heap - vm->free_bytes)
		free_kept(vm);
}

/*
 * Charges n bytes to the quota only: no budget, no collection (which
 * would free the object being rooted).  false: over quota, no charge.
 */
static bool charge_quota(struct kvm *vm, size_t n)
{
	if (n > vm->lim.heap || vm->heap_used > vm->lim.heap - n)
		return false;
	make_room(vm, n);
	kvm_quota_add(vm, n);
	return true;
}

bool kvm_quota_take(struct kvm *vm, size_t n)
{
	return charge_quota(vm, n);
}

/*
 * Doubles vm->tmp for kvm_push_root().  KVM_OK, or KVM_ABORT (out of
 * memory) with vm->tmp unchanged.
 */
int kvm_grow_roots(struct kvm *vm)
{
	uint32_t cap = vm->tmp_cap ? vm->tmp_cap * 2 : 32;
	struct kobj **t;

	/* no collection here: the caller's object is not rooted yet */
	if (cap < vm->tmp_cap || !charge_quota(vm, (cap - vm->tmp_cap) *
					       sizeof(*t)))
		return kvm_abort(vm, KVM_ABORT_OOM);
	t = kp_realloc(vm->tmp, vm->tmp_cap * sizeof(*t), cap * sizeof(*t));
	if (!t) {
		vm->heap_used -= (cap - vm->tmp_cap) * sizeof(*t);
		return kvm_abort(vm, KVM_ABORT_OOM);
	}
	if (!vm->tmp)
		vm->live_allocs++;
	vm->tmp = t;
	vm->tmp_cap = cap;
	return KVM_OK;
}

/* Budget units for an allocation of n bytes: a unit per started 16 bytes. */
static inline size_t alloc_units(size_t n)
{
	return n / GC_BYTES_PER_UNIT + (n % GC_BYTES_PER_UNIT != 0);
}

/*
 * A collection the running call cannot pay for is not started (strict
 * charging only, where the budget is exact: see above): the allocation
 * goes ahead without it while the quota has room, else the call aborts
 * with "budget exceeded".  At most every object is marked and swept.
 * true: go on, *skip says without collecting; false: the abort is set.
 */
static bool can_collect(struct kvm *vm, bool *skip, size_t n)
{
	uint64_t cost = (uint64_t)vm->nobjects * 2 * GC_UNITS_PER_OBJECT;

	*skip = false;
	if (!vm->charging || vm->lenient ||
	    vm->budget + vm->budget_rest >= (int64_t)cost)
		return true;
	if (n <= vm->lim.heap && vm->heap_used <= vm->lim.heap - n) {
		*skip = true;
		return true;
	}
	kvm_charge(vm, cost);	/* fails: the abort, by the usual path */
	return false;
}

/*
 * Accounts for n bytes about to be allocated: the budget, a collection
 * past gc_next, then the quota.  true: heap_used includes n, which the
 * caller allocates or gives back; false: an abort is set.  Every script
 * allocation passes here, so any of them may collect: a native roots
 * (kvm_push_root) what it holds across a call that allocates.
 */
static KP_INLINE bool charge(struct kvm *vm, size_t n)
{
	/* allocation is among the deepest paths (stack_min_left) */
	kvm_note_stack(vm, (uintptr_t)__builtin_frame_address(0));
	if (vm->charging && !vm->lenient && !kvm_charge(vm, alloc_units(n)))
		return false;
#ifdef KVM_GC_STRESS
	/* testing: collect before every allocation to catch missing roots */
	kvm_gc(vm);
#endif
	if (vm->heap_used + n > vm->gc_next ||
	    n > vm->lim.heap - vm->heap_used) {
		bool skip;

		if (!can_collect(vm, &skip, n))
			return false;
		if (!skip)
			kvm_gc(vm);
	}
	if (n > vm->lim.heap || vm->heap_used > vm->lim.heap - n) {
		kvm_abort(vm, KVM_ABORT_OOM);
		return false;
	}
	make_room(vm, n);
	kvm_quota_add(vm, n);
	if (vm->lenient)
		kvm_charge_work(vm, alloc_units(n));
	return true;
}

/*
 * kvm_quota_take_collect(), the whole rule (kvm.h inlines the case where
 * n fits): kvm_quota_take for a charge that is not an allocation (a
 * parked call's state, a write's copy), from a point where an allocation
 * could collect: when the quota is short, a collection runs first
 * (charged as charge()'s are), so that the garbage of an earlier call
 * does not hold the quota.  false: still short (no abort set), or the
 * budget could not pay for the collection (its abort set).
 */
bool kvm_quota_take_collect_slow(struct kvm *vm, size_t n)
{
	bool skip;

	if (charge_quota(vm, n))
		return true;
	if (!can_collect(vm, &skip, n))
		return false;
	if (!skip)
		kvm_gc(vm);
	return charge_quota(vm, n);
}

/*
 * A charged block that is not an object (array storage, buffers): not
 * zeroed, unknown to the collector; its owner frees it with kvm_mem_free()
 * and the same n.  NULL: an abort is set.
 */
void *kvm_mem_alloc(struct kvm *vm, size_t n)
{
	void *p;

	if (!charge(vm, n))
		return NULL;
	p = kp_malloc(n);
	if (!p) {
		vm->heap_used -= n;
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	vm->live_allocs++;
	return p;
}

/* Only growth is charged.  NULL: an abort is set, p is kept at old. */
void *kvm_mem_realloc(struct kvm *vm, void *p, size_t old, size_t n)
{
	void *q;

	if (!p)
		return kvm_mem_alloc(vm, n);
	if (n > old && !charge(vm, n - old))
		return NULL;
	q = kp_realloc(p, old, n);
	if (!q) {
		if (n > old)
			vm->heap_used -= n - old;
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	if (n < old)
		vm->heap_used -= old - n;
	return q;
}

/* Frees a block of kvm_mem_alloc(); n must be the size it is charged at. */
void kvm_mem_free(struct kvm *vm, void *p, size_t n)
{
	if (!p)
		return;
	vm->heap_used -= n;
	vm->live_allocs--;
	kp_free(p);
}

/*
 * A zeroed object (every reference null) of size bytes, which
 * kvm_obj_size() must give back when it is freed.  Nothing roots it: the
 * caller stores it in a root before it allocates again.  NULL: an abort.
 */
struct kobj *kvm_obj_alloc(struct kvm *vm, size_t size, uint8_t kind,
			   uint32_t cls)
{
	return kvm_obj_alloc_part(vm, size, size, kind, cls);
}

/*
 * kvm_obj_alloc() with only the first `zero` bytes (the header at
 * least) zeroed: the caller writes the others before anything reads
 * them (a String's bytes, copied in).
 */
KP_PATH struct kobj *kvm_obj_alloc_part(struct kvm *vm, size_t size,
					size_t zero, uint8_t kind, uint32_t cls)
{
	int c = free_class(size);
	struct kobj *o;

	if (!charge(vm, size))
		return NULL;
	if (c >= 0)
		vm->free_age[c] = 0;
	if (c >= 0 && vm->free_blocks[c]) {
		o = vm->free_blocks[c];
		vm->free_blocks[c] = *(void **)o;
		vm->free_bytes -= class_bytes(c);
		memset(o, 0, zero);
	} else if (zero < size) {
		o = kp_malloc(c >= 0 ? class_bytes(c) : size);
		if (o)
			memset(o, 0, zero);
	} else {
		o = kp_zalloc(c >= 0 ? class_bytes(c) : size);
	}
	if (!o) {
		vm->heap_used -= size;
		kvm_abort(vm, KVM_ABORT_OOM);
		return NULL;
	}
	vm->live_allocs++;
	vm->nobjects++;
	o->kind = kind;
	o->cls = cls;
	o->gc_next = vm->objects;
	vm->objects = o;
	return o;
}

/* ---- marking ------------------------------------------------------------ */

/*
 * Whether o may reference other objects and must go on the gray stack:
 * instances (fields), Func values (a bound receiver, (1.1) a closure's
 * captured values), arrays of
 * references, (1.1) maps with reference keys or values.  Strings, boxes
 * and streams never do.
 */
static bool has_children(const struct kobj *o)
{
	switch (o->kind) {
	case KO_INSTANCE:
	case KO_FUNC:
		return true;
	case KO_ARRAY:
		return ((const struct karr *)o)->elem_ref;
	case KO_MAP:
		return ((const struct kmap *)o)->key_ref ||
			((const struct kmap *)o)->val_ref;
	default:
		return false;
	}
}

/*
 * Marks o (NULL allowed) and queues it for mark_children(); a marked
 * object is not queued again, so cycles end.  Also for device.c's roots.
 */
void kvm_gc_mark_obj(struct kvm *vm, struct kobj *o)
{
	struct kobj **g;
	uint32_t cap;

	if (!o || o->marked)
		return;
	o->marked = 1;
	vm->gc_work++;
	if (!has_children(o))
		return;
	if (vm->ngray == vm->gray_cap) {
		cap = vm->gray_cap ? vm->gray_cap * 2 : 256;
		/*
		 * The gray stack counts in heap_used, but may take it past
		 * the quota while a collection runs: a pointer per object
		 * at most, a third of the heap, given back after the
		 * collection (kvm_gc).  Refusing it would leave the rescan
		 * below, whose passes are quadratic on a long list.
		 */
		g = kp_realloc(vm->gray, vm->gray_cap * sizeof(*g),
			       cap * sizeof(*g));
		if (!g) {
			/* found again by the rescan in drain() */
			vm->gray_overflow = true;
			return;
		}
		kvm_quota_add(vm, (cap - vm->gray_cap) * sizeof(*g));
		vm->gray = g;
		vm->gray_cap = cap;
	}
	vm->gray[vm->ngray++] = o;
}

/* The type kinds are ordered so that every reference kind is >= KT_ANY. */
static bool field_is_ref(const struct kimage *img, uint32_t type)
{
	return img->types[type].kind >= KT_ANY;
}

/*
 * Marks what o references, by the image's field types: the verifier
 * ensures a reference field never holds an int.
 */
static void mark_children(struct kvm *vm, struct kobj *o)
{
	const struct kimage *img = vm->img;
	uint32_t i;

	switch (o->kind) {
	case KO_INSTANCE: {
		const struct kclass *c = img->classes[o->cls];
		struct kinst *in = (struct kinst *)o;

		for (i = 0; i < c->nfields; i++)
			if (field_is_ref(img, c->field_types[i]))
				kvm_gc_mark_obj(vm, in->f[i].o);
		break;
	}
	case KO_ARRAY: {
		struct karr *a = (struct karr *)o;

		if (a->elem_ref)
			for (i = 0; i < a->len; i++)
				kvm_gc_mark_obj(vm, a->v[i].o);
		break;
	}
	case KO_FUNC: {
		struct kfn *f = (struct kfn *)o;

		kvm_gc_mark_obj(vm, f->recv);
		/* (1.1) a closure: its lambda's reference parameters */
		if (f->ncap) {
			const uint8_t *ref = vm->img->funcs[f->m.func].reg_is_ref;
			uint32_t j;

			for (j = 0; j < f->ncap; j++)
				if (ref[j])
					kvm_gc_mark_obj(vm, f->cap[j].o);
		}
		break;
	}
	case KO_MAP:
		kvm_map_mark(vm, (struct kmap *)o);
		break;
	default:
		break;
	}
}

/*
 * Marks until nothing is gray.  Objects marked while the gray stack could
 * not grow were never queued: whole-heap passes find them.
 */
static void drain(struct kvm *vm)
{
	struct kobj *o;

	for (;;) {
		while (vm->ngray)
			mark_children(vm, vm->gray[--vm->ngray]);
		if (!vm->gray_overflow)
			break;
		/* the gray stack overflowed: rescan marked objects */
		vm->gray_overflow = false;
		for (o = vm->objects; o; o = o->gc_next)
			if (o->marked && has_children(o))
				mark_children(vm, o);
	}
}

/*
 * Only registers reg_is_ref declares references are read: an int register
 * holds any bit pattern.  Draining after each frame keeps the gray stack
 * short; the tables may still be NULL while the VM is being created.
 */
static void mark_roots(struct kvm *vm)
{
	const struct kimage *img = vm->img;
	uint32_t i, r;

	for (i = 0; i < vm->nframes; i++) {
		const struct kframe *f = &vm->frames[i];
		const union kvalue *regs = vm->stack + f->base;

		for (r = 0; r < f->fn->nregs; r++)
			if (f->fn->reg_is_ref[r])
				kvm_gc_mark_obj(vm, regs[r].o);
		drain(vm);
	}
	if (vm->globals)
		for (i = 0; i < img->nglobals; i++)
			if (img->globals[i].is_ref)
				kvm_gc_mark_obj(vm, vm->globals[i].o);
	if (vm->kstrings)
		for (i = 0; i < img->nconsts; i++)
			kvm_gc_mark_obj(vm, vm->kstrings[i]);
	if (vm->fnvals)
		for (i = 0; i < img->nfuncs; i++)
			kvm_gc_mark_obj(vm, vm->fnvals[i]);
	if (vm->empty_str)
		kvm_gc_mark_obj(vm, &vm->empty_str->h);
	for (i = 0; i < vm->ntmp; i++)
		kvm_gc_mark_obj(vm, vm->tmp[i]);
	for (i = 0; i < vm->nconv; i++)
		kvm_gc_mark_obj(vm, vm->conv[i].o);
	kvm_gc_mark_obj(vm, vm->exc);
	kvm_gc_mark_obj(vm, vm->trace_exc);
	for (i = 0; i < vm->nsaved; i++)
		kvm_gc_mark_obj(vm, vm->saved[i].exc);
	kvm_devices_mark(vm);
	kvm_wait_mark(vm);
	drain(vm);
}

/* ---- sweeping ----------------------------------------------------------- */

/*
 * Frees o and the storage it owns, giving back what each was charged; o
 * itself is kept for a later allocation if keep and there is room.
 */
static void free_obj(struct kvm *vm, struct kobj *o, bool keep)
{
	size_t size;
	int c;

	if (o->kind == KO_ARRAY) {
		struct karr *a = (struct karr *)o;

		kvm_mem_free(vm, a->v, (size_t)a->cap * sizeof(union kvalue));
	} else if (o->kind == KO_STREAM) {
		struct kstream *s = (struct kstream *)o;

		if (!s->borrowed)
			kvm_mem_free(vm, s->buf, s->cap);
	} else if (o->kind == KO_MAP) {
		kvm_map_free_storage(vm, (struct kmap *)o);
	} else if (o->kind == KO_INSTANCE && o->cls == KC_WaitQueue) {
		kvm_wq_free(vm, o);
	}
	size = kvm_obj_size(vm, o);
	c = free_class(size);
	if (c >= 0 && keep &&
	    vm->gc_next <= KVM_GC_FLOOR_MAX + vm->host_used &&
	    vm->heap_used - size + vm->free_bytes + class_bytes(c) <=
	    vm->lim.heap) {
		vm->heap_used -= size;
		vm->live_allocs--;
		*(void **)o = vm->free_blocks[c];
		vm->free_blocks[c] = o;
		vm->free_bytes += class_bytes(c);
		return;
	}
	kvm_mem_free(vm, o, size);
}

/* Frees the unmarked objects, unmarks the others for the next time. */
static void sweep(struct kvm *vm)
{
	struct kobj **link = &vm->objects;
	struct kobj *o;

	while ((o = *link)) {
		if (o->marked) {
			o->marked = 0;
			link = &o->gc_next;
		} else {
			*link = o->gc_next;
			free_obj(vm, o, true);
			vm->nobjects--;
		}
		vm->gc_work++;
	}
}

/*
 * One full, non-incremental collection, from charge() only; its work is
 * charged after it ran.
 */
void kvm_gc(struct kvm *vm)
{
	size_t live, next, floor;

	vm->gc_work = 0;
	/* what earlier collections kept and nobody took for long is surplus */
	age_kept(vm);
	mark_roots(vm);
	sweep(vm);
	vm->ngc++;
	kvm_charge_work(vm, vm->gc_work * GC_UNITS_PER_OBJECT);
	if (vm->gray_cap > GC_GRAY_KEEP) {
		/* a big gray stack is given back, with its charge */
		vm->heap_used -= vm->gray_cap * sizeof(*vm->gray);
		kp_free(vm->gray);
		vm->gray = NULL;
		vm->gray_cap = 0;
	}
	/* what survived: the objects, not the host's buffers of the moment */
	live = vm->heap_used - vm->host_used;
	floor = KVM_GC_FLOOR_MAX;
	if (live < (KVM_GC_FLOOR_MAX - GC_FLOOR_MIN) / GC_FLOOR_PER_LIVE)
		floor = GC_FLOOR_MIN + live * GC_FLOOR_PER_LIVE;
	next = live * 2;
	vm->gc_next = vm->host_used + (next > floor ? next : floor);
}

/*
 * The init has succeeded: what comes now is callbacks, which in a driver
 * mostly make garbage around the state the init built.  The next
 * collection comes GC_FLOOR_MIN after what the init left, if that is
 * sooner, and later ones follow what survives (kvm_gc).
 */
void kvm_gc_init_done(struct kvm *vm)
{
	if (vm->gc_next > vm->heap_used &&
	    vm->gc_next - vm->heap_used > GC_FLOOR_MIN)
		vm->gc_next = vm->heap_used + GC_FLOOR_MIN;
}

/* Frees every object, reachable or not: the VM is being destroyed. */
void kvm_free_all_objects(struct kvm *vm)
{
	struct kobj *o;

	while ((o = vm->objects)) {
		vm->objects = o->gc_next;
		free_obj(vm, o, false);
	}
	free_kept(vm);
	kp_free(vm->gray);
	vm->heap_used -= vm->gray_cap * sizeof(*vm->gray);
	vm->gray = NULL;
	vm->ngray = vm->gray_cap = 0;
}
