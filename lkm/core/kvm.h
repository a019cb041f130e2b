/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm.h - the K virtual machine: values, objects, the VM and its API.
 *
 * One struct kvm runs one loaded image (struct kimage, read-only except
 * its inline caches).  The VM never prints: program output and log lines
 * go to the host's callbacks (struct kvm_host).  The same code builds for
 * userspace (build/kvm, the host library) and for the kernel (konoha.ko).
 *
 * Values: a register is a union kvalue.  int and boolean are unboxed in
 * .i; every reference type is .o, NULL for null.  The loader guarantees
 * that a register declared as a reference only ever holds a reference.
 *
 * Status codes: every VM function that can run script code returns
 * KVM_OK, KVM_THROW (vm->exc holds the exception) or KVM_ABORT
 * (vm->abort_kind says which limit; nothing can catch it).
 */
#ifndef KVM_H
#define KVM_H

#include "kport.h"
#include "kimage.h"
#include "builtins.h"

struct kvm;
struct kobj;
struct kdev;
struct kdev_file;

union kvalue {
	int64_t i;
	struct kobj *o;
};

enum kvm_status {
	KVM_OK = 0,
	KVM_THROW = 1,
	KVM_ABORT = 2,
};

enum kvm_abort_kind {
	KVM_ABORT_NONE = 0,
	KVM_ABORT_BUDGET,
	KVM_ABORT_OOM,
	KVM_ABORT_DEPTH,
	KVM_ABORT_KILLED,	/* the calling task got a fatal signal */
};

/* ---- objects ------------------------------------------------------------ */

enum kobj_kind {
	KO_INSTANCE = 1,	/* script or built-in class instance */
	KO_STRING,
	KO_ARRAY,
	KO_FUNC,
	KO_BOXI,		/* boxed int (in Any) */
	KO_BOXZ,		/* boxed boolean */
	KO_STREAM,		/* OutputStream / InputStream */
	KO_MAP,			/* (1.1) Map<K, V> (map.c) */
};

struct kobj {
	struct kobj *gc_next;	/* list of every object of the VM */
	uint32_t cls;		/* class id: instances, streams, strings */
	uint8_t kind;
	uint8_t marked;
	uint16_t flags;
};

#define KOBJ_CONVERTING	1u	/* an array or (1.1) map on vm->conv */

struct kinst {
	struct kobj h;
	union kvalue f[];	/* kclass.nfields fields */
};

struct kstr {
	struct kobj h;
	uint32_t len;
	uint8_t b[];		/* len bytes and a NUL (not part of it) */
};

struct karr {
	struct kobj h;
	uint32_t type;		/* image type index of the array type */
	uint8_t elem_ref;	/* elements are references */
	uint32_t len, cap;
	union kvalue *v;
};

/*
 * A Func value: a top-level function (recv NULL, ncap 0), a bound method
 * (recv set) or (1.1) a lambda's closure: m.func is the lambda's synthetic
 * function (KFN_LAMBDA), whose leading ncap parameters receive cap[] (the
 * captured values, `this` first when captured) before the call's own
 * arguments.  Which cap[] entries are references is read from that
 * function's parameter registers (reg_is_ref), so a closure needs no map.
 */
struct kfn {
	struct kobj h;
	uint32_t type;		/* image type index of its Func type */
	struct kmethod_ref m;	/* script function or native */
	uint32_t ncap;		/* (1.1) captured values in cap[] */
	struct kobj *recv;	/* bound receiver, or NULL for a function */
	union kvalue cap[];	/* (1.1) a lambda's captured values */
};

struct kbox {
	struct kobj h;
	int64_t v;
};

/*
 * A Map<K, V> (map.c): entries in insertion order in e[0..used), the
 * removed ones dead until the next compaction, and an open-addressed
 * index of nidx 32-bit slots (a power of two, or 0 before the first put)
 * holding the entry's number + 1 and some of its hash bits, 0 for an
 * empty slot and a mark of its own for a removed entry's (map.c's SLOT).
 */
struct kmentry {
	union kvalue k, v;
	uint32_t hash;
	uint32_t live;
};

struct kmap {
	struct kobj h;
	uint32_t type;		/* image type index of the map type */
	uint8_t key_kind;	/* enum kmap_key_kind (map.c) */
	uint8_t key_ref, val_ref;	/* keys / values are references */
	uint32_t n;		/* live entries */
	uint32_t used;		/* entries used, dead ones included */
	uint32_t cap;		/* entries allocated */
	uint32_t nidx;		/* index slots */
	struct kmentry *e;
	uint32_t *idx;
};

/* A device stream; its buffer belongs to the device layer (device.c). */
struct kstream {
	struct kobj h;
	bool valid;		/* false once its callback returned */
	bool output;
	/*
	 * (1.1) A CharDevice read's output: at most limit bytes in all
	 * (the read's count), beyond which a write throws "read overflow".
	 */
	bool bounded;
	/*
	 * (1.1) buf is the host's (a CharDevice read's or write's own
	 * buffer, alive for the callback): never grown or freed here.  A
	 * borrowed output buffer holds limit bytes, so out_put() stops at
	 * the bound before it would grow.
	 */
	bool borrowed;
	uint32_t limit;
	uint32_t len, cap, pos;
	/*
	 * The cursor bound of JIT code's inline writeByte and readByte
	 * (ctjit): while the stream is valid, the end of the room an
	 * output stream has without growing or throwing (cap, the read's
	 * limit, KDEV_CONTENT_MAX) or an input stream's len; 0 once it is
	 * not.  kstream_sync() keeps it after every change of the others:
	 * JIT code writes buf below it unchecked.
	 */
	uint32_t jend;
	uint8_t *buf;
};

/* Built-in hidden fields (absolute indexes, builtins.def). */
#define KF_EXC_MESSAGE	0
#define KF_DEVERR_ERRNO	1
#define KF_DEVICE_MODE	0
/* (1.1) File's fields: Any data, then the hidden position and flags. */
#define KF_FILE_DATA	0
#define KF_FILE_POS	1
#define KF_FILE_FLAGS	2
/* (1.1) PollTable's hidden field: nonzero while its poll runs (wait.c). */
#define KF_POLLTABLE_VALID	0
/* (1.1) File's queues its poll registered on (wait.c), until release */
#define KF_FILE_POLLED	3
#define KF_FILE__COUNT	4	/* File's fields (builtins.def) */
/* (1.1) WaitQueue's hidden fields: the host's state, waiting callbacks */
#define KF_WQ_HOST	0
#define KF_WQ_WAITERS	1
/* (1.1) Timer's hidden fields (wait.c); times in host nanoseconds */
#define KF_TIMER_F	0
#define KF_TIMER_DUE	1
#define KF_TIMER_PERIOD	2
#define KF_TIMER_SEQ	3
#define KF_TIMER_ACTIVE	4

/* ---- the VM ------------------------------------------------------------- */

struct kvm_limits {
	uint64_t budget;	/* instructions per init */
	uint64_t cb_budget;	/* instructions per device callback */
	size_t heap;		/* bytes */
	uint32_t depth;		/* frames */
	/*
	 * Frames JIT stubs may run natively (at most KP_JIT_NEST_MAX):
	 * the frame array each waiting call keeps, charged to the heap, is
	 * this long.  build/kvm --jit-nest sets the kernel's for a faithful
	 * simulation.
	 */
	uint32_t jit_nest;
};

#define KVM_DEFAULT_BUDGET	(1ull << 32)
#define KVM_DEFAULT_HEAP	(256u << 20)
#define KVM_DEFAULT_DEPTH	1000u
#define KVM_KERNEL_BUDGET	100000000ull
/*
 * Native code (toString during a conversion, join) re-entering the
 * interpreter nests on the C stack: at most this many times.  The
 * kernel stack is 16 KiB and each level costs the interpreter's frame.
 */
#define KVM_MAX_NEST		16
/* Instructions between two polls for signals and rescheduling. */
#define KVM_SLICE		8192
/*
 * Stack native code leaves untouched: re-entering the interpreter from
 * a native, or a JIT call, with less than this left aborts with "stack
 * overflow".  Interrupts run on their own stacks on x86-64; this covers
 * what the allocator, printk and the glue may need below the VM.
 */
#define KVM_STACK_RESERVE	(5u << 10)
/*
 * The register stack (values of all live frames) is bounded by
 * vm->stack_max values: 16 per frame the depth limit allows, and at
 * least this many (1 MiB), whatever the heap quota.  Frames are not
 * charged to the quota, in any home or mode, so that the JIT (whose
 * direct code keeps registers in machine registers) counts them as the
 * interpreter does.  Passing it is a "stack overflow", like the depth
 * limit.
 */
#define KVM_STACK_VALUES_MIN	(1u << 17)
#define KVM_STACK_VALUES_PER_FRAME 16u

struct kvm_host {
	/* program output: bytes of print(), the newline included */
	void (*output)(void *ctx, const char *buf, size_t len);
	/* one line of a logged report (callback failures), no newline */
	void (*log)(void *ctx, const char *line, size_t len);
	/* a device was registered / is being removed (may be NULL) */
	int (*dev_add)(void *ctx, struct kdev *dev);
	void (*dev_remove)(void *ctx, struct kdev *dev);
	void *ctx;

	/*
	 * (1.1) Wait queues, poll and timers (wait.c, the language
	 * reference §9.2).  A host without them (wq_wait NULL) makes
	 * WaitQueue.await throw "cannot wait here" and never fires timers.
	 * Every hook but now_ns is called with the script's lock held.
	 *
	 * Each WaitQueue object owns wq_size bytes of host state (aligned
	 * to 16, charged to the heap quota), set up by wq_init and torn
	 * down by wq_fini when the object is freed: no waiter can be on it
	 * then (a waiting callback roots it), nor a poller (a File roots
	 * every queue its poll registered on until its release).
	 */
	size_t wq_size;
	void (*wq_init)(void *ctx, void *wq);
	void (*wq_fini)(void *ctx, void *wq);
	/*
	 * Queues the calling task on wq as an exclusive waiter, releases
	 * lock, sleeps until a wake-up of wq, timeout_ms (< 0: none) or a
	 * signal, then takes lock again without interruption.  The task is
	 * queued before the lock goes: a wake-up made under the lock after
	 * that is never lost.  Returns enum kwait_result.
	 */
	int (*wq_wait)(void *ctx, void *wq, int64_t timeout_ms,
		       struct kp_mutex *lock);
	/* Wakes every poller of wq and one waiter (all: every waiter). */
	void (*wq_wake)(void *ctx, void *wq, bool all);
	/*
	 * In a CharDevice's poll: registers the poll call pt (what the
	 * host passed to kdev_poll) on wq, as Linux's poll_wait does.
	 */
	void (*poll_wait)(void *ctx, void *wq, void *pt);
	/* Monotonic nanoseconds for timers (virtual in the simulation). */
	int64_t (*now_ns)(void *ctx);
	/*
	 * Asks for a call of kvm_run_timers() at or after due_ns (with the
	 * lock taken by the host), replacing any earlier request; due_ns
	 * INT64_MAX cancels it.
	 */
	void (*timer_arm)(void *ctx, int64_t due_ns);
	/*
	 * Whether the calling task has a signal pending: a callback that
	 * ends with an uncaught InterruptedException then fails with
	 * -ERESTARTSYS, else with -EINTR.  NULL: never.
	 */
	bool (*signal_pending)(void *ctx);
};

/* (1.1) What kvm_host.wq_wait returns. */
enum kwait_result {
	KWAIT_WOKEN = 0,	/* a wake-up (or a spurious return) */
	KWAIT_TIMEOUT,		/* timeout_ms passed */
	KWAIT_SIGNAL,		/* a signal: InterruptedException */
	KWAIT_FATAL,		/* a fatal signal: the callback aborts */
};

/* Linux's ERESTARTSYS: not in userspace errno.h (the kernel's 512). */
#define KVM_ERESTARTSYS		512

/*
 * A JIT stub runs the top frame (fn's registers at R) to its end, pops
 * that frame and returns the status and, for KVM_OK, the result.  The
 * struct is two integers: returned in rax:rdx on x86-64.
 */
struct kjit_ret {
	int64_t st;
	union kvalue v;
};

typedef struct kjit_ret (*kjit_fn)(struct kvm *vm, union kvalue *R);

struct kframe {
	const struct kfunc *fn;
	uint32_t base;		/* first register in vm->stack */
	uint32_t pc;		/* start of the instruction in progress */
	int32_t ret_reg;	/* caller's destination register, -1 none */
	uint8_t ret_mode;	/* enum kret_mode */
	uint8_t entry;		/* first frame of a kvm_execute() */
};

enum kret_mode {
	KRET_PLAIN = 0,
	KRET_BOXI,		/* CALLA: box an int result */
	KRET_BOXZ,		/* CALLA: box a boolean result */
	KRET_VOIDNULL,		/* CALLA: void result stores null */
	KRET_TOSTR,		/* RTOS: a null toString result is "null" */
};

struct ktrace_ent {
	const struct kfunc *fn;
	uint32_t pc;
};

/* Parsed native signature (builtins.def). */
#define KP_T		100	/* "T": the array's element type */
/* (1.1) Map methods: the map's key type, value type, Array<K>, Array<V> */
#define KP_K		101
#define KP_V		102
#define KP_AK		103
#define KP_AV		104
/* (1.1) Array methods: Array<T> (the array's type), Func<int(T, T)> */
#define KP_AT		105
#define KP_FT		106
struct knparam {
	uint8_t kind;		/* KT_INT/BOOL/CLASS/ARRAY/VOID, KP_T..KP_FT */
	uint32_t type;		/* image type index, or NONE */
	uint32_t cls;		/* KT_CLASS: class id */
};

struct knsig {
	uint8_t nparams;	/* declared, receiver excluded */
	bool has_recv;
	struct knparam ret;	/* kind KT_VOID for void */
	struct knparam p[KB_MAX_PARAMS];
};

struct kvm {
	/*
	 * Execution state read and written by JIT code: this block comes
	 * first, in this order, with fixed-width fields only, so its
	 * offsets are the same in every home (KJIT_OFF_* in kjit.h, checked
	 * at compile time in kops.c and read by ctjit/layout.py).
	 */
	union kvalue *stack;
	struct kframe *frames;
	int64_t budget;		/* instructions left in this call */
	uint32_t stack_cap;	/* in values */
	uint32_t nframes, frames_cap;
	/*
	 * JIT stubs run only frames below this index (min of the depth
	 * limit and KP_JIT_NEST_MAX): the C stack holds at most that many
	 * native levels; deeper frames run in the interpreter.
	 */
	uint32_t jit_frames_max;
	union kvalue *globals;
	const struct kfunc *funcs;	/* img->funcs */
	/*
	 * Direct calls (ctjit/README.md): nonzero while a call that left
	 * direct code is run again with frames, whose calls then all push
	 * frames.
	 */
	uint32_t jit_nodirect;
	/* values the register stack may hold (KVM_STACK_VALUES_MIN) */
	uint32_t stack_max;
	/*
	 * The budget of a call is counted in slices (KVM_SLICE): budget is
	 * what is left of the current slice, budget_rest what the call has
	 * beyond it.  Whoever runs the slice out calls kvm_budget_refill,
	 * which polls for a fatal signal and reschedules before it moves
	 * the next slice over, so a call never runs long without a check.
	 */
	int64_t budget_rest;
	/*
	 * Native code must keep the C stack above this address (the stack
	 * base plus KVM_STACK_RESERVE), set when a top-level call starts.
	 */
	uint64_t stack_floor;
	struct kvm_limits lim;

	const struct kimage *img;
	struct kvm_host host;
	struct kp_mutex lock;

	/* execution */
	uint32_t nest;		/* kvm_execute() nesting */
	union kvalue retval;	/* result of the last entry frame */
	/* JIT stubs by function index (NULL: interpreted), or NULL */
	const kjit_fn *jit_fns;

	/* pending exception / abort */
	struct kobj *exc;
	enum kvm_abort_kind abort_kind;
	bool killed;		/* kp_poll said so: the call aborts */
	bool charging;		/* in a top-level call: work costs budget */
	bool lenient;		/* throwing: allocations charge after (gc.c) */
	struct ktrace_ent *trace;
	uint32_t ntrace, trace_cap;
	struct kobj *trace_exc;	/* exception the trace belongs to */
	uint32_t trace_frame;	/* frame index where it was caught */
	/*
	 * Traces of caught exceptions that a frame still holds while another
	 * exception is thrown (a try inside a finally): a rethrow of one of
	 * them from the frame that caught it gets its trace back.  Innermost
	 * last; the oldest is dropped when all are taken.
	 */
#define KVM_SAVED_TRACES	8
	struct ksaved_trace {
		struct kobj *exc;
		const struct kfunc *fn;	/* of frame */
		uint32_t frame;
		uint32_t n;
		struct ktrace_ent *ents;
	} saved[KVM_SAVED_TRACES];
	uint32_t nsaved;
	char *report;		/* last report, lines ending in '\n' */
	size_t report_len;

	/* heap */
/* kept blocks' size classes: 16, 32, ... 256 bytes, then 512 ... 128 KiB */
#define KVM_FREE_SMALL		16
#define KVM_FREE_CLASSES	(KVM_FREE_SMALL + 9)
	struct kobj *objects;
	size_t heap_used;	/* charged bytes */
	size_t heap_peak;
	size_t gc_next;		/* collect when heap_used exceeds this */
	/*
	 * Of heap_used, the host's charges outstanding through
	 * kvm_quota_take_collect() (a callback's stream buffers, parked
	 * calls' state): not objects, so not what a collection's pacing
	 * counts as surviving (gc.c).
	 */
	size_t host_used;
/* the first collection's gc_next, and the most of a later one's floor */
#define KVM_GC_FLOOR_MAX	((size_t)1 << 20)
	long live_allocs;	/* blocks from kvm_mem_alloc not yet freed */
	uint64_t ngc;
	uint64_t gc_work;	/* objects the running collection visited */
	uint32_t nobjects;	/* on vm->objects */
	struct kobj **gray;
	uint32_t ngray, gray_cap;
	bool gray_overflow;
	/*
	 * Swept small objects kept for the next allocations of their size
	 * class (gc.c): not charged, but heap_used + free_bytes stays
	 * within the quota.
	 */
	void *free_blocks[KVM_FREE_CLASSES];
	size_t free_bytes;
	/* per class, the collections since one of its blocks was allocated */
	uint8_t free_age[KVM_FREE_CLASSES];

	/* roots */
	struct kobj **kstrings;	/* string constants by constant index */
	/*
	 * The String "" that every empty result shares, made by the first
	 * (kvm_str_new()); only identity through Object tells it from a
	 * new one (see concat_same() in kops.h).
	 */
	struct kstr *empty_str;
	struct kobj **fnvals;	/* Func values by function index */
	/*
	 * Natives' temporary roots, a stack that grows (kvm_push_root):
	 * an entry is never dropped, and when it cannot grow the call
	 * aborts with "out of memory" before anything is left unrooted.
	 */
	struct kobj **tmp;
	uint32_t ntmp, tmp_cap;
	struct kconv {
		struct kobj *o;	/* an array or (1.1) map being converted */
		uint32_t i;	/* next element */
	} *conv;
	uint32_t nconv, conv_cap;

	/* devices (device.c) */
	struct kdev *devices;	/* registration order */
	uint32_t ndevices;
	uint32_t open_files;
	/* released device files kept for the next opens (under vm->lock) */
	struct kdev_file *spare_files;
	uint32_t nspare_files;
	/*
	 * (1.1) An InputStream [0] and an OutputStream [1] of a finished
	 * callback of a stream_private device, no longer valid and
	 * unreachable from the script, kept (as roots) for the next.
	 */
	struct kstream *spare_streams[2];
	/* (1.1) the open files of CharDevices, whose File objects are roots */
	struct kdev_file *chr_files;
	/* (1.1) the device callback running, or NULL (device.c) */
	struct kdev_cb *cb;
	/*
	 * (1.1) Callbacks waiting in WaitQueue.await (wait.c), each with
	 * its execution state put aside, and idle states kept for reuse.
	 */
	struct kctx *parked;
	uint32_t nparked;
	struct kctx *idle_ctx;
	uint32_t nidle_ctx;
	/* (1.1) Timers started and not cancelled (roots), and a counter */
	struct kobj **timers;
	uint32_t ntimers, timers_cap;
	int64_t timer_seq;
	bool timers_stopped;	/* unloading: none starts or fires */
	bool init_done;
	bool init_failed;

	/* statistics */
	uint64_t executed;	/* instructions of finished calls */
	/*
	 * The lowest C stack address seen where native code re-enters the
	 * interpreter and where memory is allocated, in the running call;
	 * the least stack left (above the stack's base) of any call.
	 */
	uintptr_t stack_low;
	uint64_t stack_min_left;
	uint64_t jit_entries;	/* JIT stubs entered from C (not stub to stub) */

	/*
	 * The key of the maps' keyed hash (map.c), random per VM and taken
	 * when the first map is made: a script cannot choose keys that
	 * collide without knowing it.
	 */
	uint64_t map_seed[2];
	bool map_seeded;

	/*
	 * (1.1) Load-time parameters (params.c): "NAME=VALUE" entries each
	 * ended by NUL, checked by kvm_params_check(), charged to the quota.
	 */
	char *params;
	uint32_t params_len;

	/*
	 * Natives' signatures (5 KiB), last: the fields every callback uses
	 * stay on the struct's first page (a page less for the emulator's
	 * TLB to refill after each context switch).
	 */
	struct knsig nsig[KN__COUNT];
};

/*
 * (1.1) The execution state of one top-level call, put aside while that
 * call waits in WaitQueue.await (the language reference §9.2) so that
 * other callbacks run on a state of their own: the fields of struct kvm
 * of the same names, swapped with it by kvm_park() and kvm_unpark()
 * (wait.c).  An idle one holds empty arrays kept for reuse.
 */
struct kctx {
	struct kctx *next;
	union kvalue *stack;
	struct kframe *frames;
	int64_t budget, budget_rest;
	uint32_t stack_cap, nframes, frames_cap, jit_nodirect, nest;
	uint64_t stack_floor;
	uintptr_t stack_low;
	struct kobj **tmp;
	uint32_t ntmp, tmp_cap;
	struct kconv *conv;
	uint32_t nconv, conv_cap;
	struct kobj *exc, *trace_exc;
	uint32_t trace_frame;
	struct ktrace_ent *trace;
	uint32_t ntrace, trace_cap;
	struct ksaved_trace saved[KVM_SAVED_TRACES];
	uint32_t nsaved;
	enum kvm_abort_kind abort_kind;
	bool killed, charging, lenient;
	struct kdev_cb *cb;
	size_t charged;		/* heap quota charged while parked */
};

/* ---- API for hosts ------------------------------------------------------ */

/*
 * (1.1) Timers (wait.c).  kvm_run_timers: the host's timer_arm request
 * came due; runs the timers due by now_ns(), with the lock held, and
 * asks for the next.  kvm_stop_timers: unloading, with the lock held;
 * afterwards no timer starts or fires (the host then cancels its own
 * request and waits for a run in progress).  kvm_waiting: callbacks
 * now sleeping in a wait.  kvm_run_timers_started_by: kvm_run_timers()
 * for the timers last started by sequence number max_seq (those started
 * later wait for the next run).
 */
void kvm_run_timers(struct kvm *vm);
void kvm_run_timers_started_by(struct kvm *vm, int64_t max_seq);
void kvm_stop_timers(struct kvm *vm);
uint32_t kvm_waiting(const struct kvm *vm);

/*
 * Native stubs compiled by `ktc compile --jit` for one image: a table
 * exported by the stub object (ctjit/README.md).
 */
#define KJIT_ABI	7u
struct kjit_table {
	uint32_t abi;		/* KJIT_ABI */
	uint32_t nfuncs;	/* the image's function count */
	uint8_t digest[32];	/* the image the stubs were compiled from */
	const kjit_fn *fns;	/* nfuncs entries, NULL: interpreted */
};

/*
 * Binds stubs to a VM before it runs anything.  0, or -EINVAL with a
 * one-line reason in err when the table is for another image or ABI.
 */
int kvm_jit_register(struct kvm *vm, const struct kjit_table *t, char *err,
		     size_t errlen);

/* Defaults for userspace (kvm, ktc run). */
void kvm_default_limits(struct kvm_limits *lim);
/* NULL when out of memory.  The image must outlive the VM. */
struct kvm *kvm_create(const struct kimage *img, const struct kvm_limits *lim,
		       const struct kvm_host *host);
/* Runs the init once; on failure its devices are removed. */
int kvm_run_init(struct kvm *vm);
/* The report of the last failed run ("Class: msg\n  at ...\n"), or "". */
const char *kvm_report(struct kvm *vm);
/* Frees every object and device; afterwards vm->live_allocs was 0. */
void kvm_destroy(struct kvm *vm);
/* Frees the device files kept for reuse (kvm_destroy does it). */
void kdev_free_spares(struct kvm *vm);
/* Blocks allocated by the VM and not freed (for tests). */
long kvm_live_allocs(const struct kvm *vm);

/*
 * (1.1) Load-time parameters (params.c, the language reference §9.3):
 * a blob of "NAME=VALUE" entries, each ended by a NUL byte; at most
 * KVM_PARAMS_MAX of them, names of 1..KVM_PARAM_NAME_MAX of [a-z0-9_]
 * given once each, values of at most KVM_PARAM_VALUE_MAX bytes.
 */
#define KVM_PARAMS_MAX		32u
#define KVM_PARAM_NAME_MAX	31u
#define KVM_PARAM_VALUE_MAX	1024u
#define KVM_PARAMS_BLOB_MAX	\
	(KVM_PARAMS_MAX * (KVM_PARAM_NAME_MAX + KVM_PARAM_VALUE_MAX + 2))
/* 0, or -EINVAL with a one-line reason in err. */
int kvm_params_check(const char *blob, size_t len, char *err,
		     size_t errlen);
/* Checks and keeps a copy, before the init: 0, -EINVAL or -ENOMEM. */
int kvm_set_params(struct kvm *vm, const char *blob, size_t len, char *err,
		   size_t errlen);
bool kvm_param_find(const struct kvm *vm, const uint8_t *name, size_t n,
		    const char **val, size_t *val_len, size_t *scanned);
void kvm_params_free(struct kvm *vm);

/* ---- device file API (device.c); all return 0/-errno ------------------- */

/*
 * The callbacks of a Device, in devops.def's order (the table of device
 * operations): KD_open, KD_read, ... index struct kdev's ops[].
 */
enum kd_callback {
#define KD_CB(name) KD_##name,
#define KD_KIND(name, doc)
#define KD_OP(name, cb, how, where, operands, kind, shown, doc)
#include "devops.def"
#undef KD_CB
#undef KD_KIND
#undef KD_OP
	KD__COUNT
};
/* The callback column of an operation that runs none. */
#define KD_none		(-1)

struct kdev {
	struct kvm *vm;
	struct kdev *next;
	char name[32];
	uint32_t mode;		/* permission bits, 0..0777 */
	bool chr;		/* (1.1) a CharDevice, not a Device */
	struct kobj *obj;	/* the Device or CharDevice instance */
	/*
	 * The script's methods for the callbacks, by enum kd_callback; a
	 * Device has no poll and seek (those entries are unused).
	 */
	struct kmethod_ref ops[KD__COUNT];
	/*
	 * (1.1) A CharDevice none of whose callbacks may keep its File
	 * (KFN_KEEPS_FILE): a released file's File goes to the next open.
	 */
	bool file_private;
	/*
	 * (1.1) A CharDevice none of whose callbacks may keep a stream
	 * (KFN_KEEPS_STREAM): a read's or write's stream, once its callback
	 * is over, goes to the next one (vm->spare_streams).
	 */
	bool stream_private;
	/*
	 * The callbacks that do nothing, by bit (1 << enum kd_callback):
	 * open and release when they are the defaults or an empty method
	 * (one RETV).  run_cb_in() does not enter the VM for them.
	 */
	uint32_t noop;
	uint32_t nopen;
	void *host_data;	/* for the host (e.g. the miscdevice) */
};

/*
 * One open file of a device.  Its content is what the last read() made,
 * handed out by read(2) and lseek(2); it is charged to the quota at its
 * capacity and freed when a read at offset 0 makes it again, or at close.
 */
struct kdev_file {
	struct kdev *dev;
	uint8_t *content;
	uint32_t content_len, content_cap;
	bool has_content;	/* false: the next read(2) runs read() */
	bool read_done;		/* a read(2) ran (an lseek may have made content) */
	struct kdev_file *next_spare;	/* on vm->spare_files */
	/*
	 * (1.1) A CharDevice's file: its File object, a root while the
	 * file is open (on vm->chr_files); a File outlives its kdev_file.
	 * A spare keeps the File of a released file of a file_private
	 * device, which no script can reach, for the next open (a root on
	 * vm->spare_files).
	 */
	struct kobj *file;
	struct kdev_file *chr_next, **chr_pprev;
	/*
	 * (1.1) The file position release() sees, from kdev_release() or
	 * kdev_release_nowait(); kept for a release the host runs later.
	 */
	int64_t close_pos;
};

/*
 * (1.1) The caller's memory during a CharDevice ioctl (File.readUser and
 * writeUser): get and put copy n bytes at the caller's address addr and
 * return 0, or -EFAULT.  The kernel glue copies from and to user space;
 * the simulation has one buffer.  Valid only during that kdev_ioctl().
 */
struct kdev_umem {
	int (*get)(void *ctx, uint64_t addr, void *dst, size_t n);
	int (*put)(void *ctx, uint64_t addr, const void *src, size_t n);
	void *ctx;
};

/*
 * (1.1) The state of one device callback in progress (vm->cb): which
 * file's user memory it may reach.  One per callback, so that callbacks
 * that wait (the language reference §9.2) can each keep their own.
 */
struct kdev_cb {
	struct kobj *ufile;	/* the File whose ioctl this is, or NULL */
	const struct kdev_umem *um;
	/* may WaitQueue.await sleep (open, read, write, ioctl of a CharDevice) */
	bool can_wait;
	/* a signal ended a wait: every later wait throws at once */
	bool interrupted;
	/* in poll: the host's poll call (kdev_poll's pt) and the File */
	void *poll_pt;
	struct kobj *poll_file;
	/*
	 * A CharDevice call's File and its position and flags as of this
	 * call: set again after a wait, as other calls on the same File
	 * set their own meanwhile (wait.c).
	 */
	struct kobj *file;
	int64_t pos, flags;
};

/* (1.1) A file's flags as of a call (File's $flags, kdev_* fl). */
#define KDEV_FL_READ		1u
#define KDEV_FL_WRITE		2u
#define KDEV_FL_NONBLOCK	4u
#define KDEV_FL_RELEASED	8u	/* the File's own: never passed again */

/* (1.1) Poll's bits (Linux's POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP). */
#define KDEV_POLL_IN		1
#define KDEV_POLL_PRI		2
#define KDEV_POLL_OUT		4
#define KDEV_POLL_ERR		8
#define KDEV_POLL_HUP		16
#define KDEV_POLL_MASK		31

/* The most a read() may write into the content (EFBIG beyond). */
#define KDEV_CONTENT_MAX	65536u
/* (1.1) A CharDevice read's count is cut to this. */
#define KDEV_READ_MAX		65536u
/* (1.1) The most File.readUser and writeUser copy at once. */
#define KDEV_USER_MAX		65536u
/* Trace lines of a logged callback report; the rest are counted. */
#define KDEV_LOG_FRAMES		16u
/* The bytes of one write(2) that write() sees; a longer one is short. */
#define KDEV_WRITE_MAX		65536u

struct kdev *kdev_find(struct kvm *vm, const char *name);
/*
 * fl: the file's KDEV_FL_* flags as of this call (open mode, O_NONBLOCK),
 * which a CharDevice's File answers.  pos: the call's position, which
 * the host keeps (Linux's f_pos, or pread's offset in a local); for the
 * calls without one of their own (ioctl, poll, release) the file's
 * position, which f.position() answers there.
 */
int kdev_open(struct kdev *dev, unsigned int fl, struct kdev_file **filep);
/* buf: host memory (kernel glue bounces through it); *pos updated */
long kdev_read(struct kdev_file *f, char *buf, size_t count, int64_t *pos,
	       unsigned int fl);
long kdev_write(struct kdev_file *f, const char *buf, size_t count,
		int64_t *pos, unsigned int fl);
/*
 * um: the caller's memory for a CharDevice's File.readUser/writeUser
 * (NULL: none).  A CharDevice result outside the 32-bit int range is
 * -EOVERFLOW; any result still goes through kdev_ioctl_result().
 */
int kdev_ioctl(struct kdev_file *f, unsigned int cmd, int64_t arg,
	       int64_t pos, unsigned int fl, const struct kdev_umem *um,
	       int64_t *result);
/*
 * (1.1) poll(2): the KDEV_POLL_* mask of a CharDevice's poll (ERR when
 * it fails, 0 when the wait for the lock was interrupted), IN|OUT for a
 * Device.
 */
int kdev_poll(struct kdev_file *f, int64_t pos, unsigned int fl, void *pt);
/*
 * Runs callback cb (enum kd_callback) of f's device with the ints in[n]
 * after the receiver and, for a CharDevice, its File (at most
 * KDEV_CALL_MAX_INTS), under the script's
 * lock with a callback's budget: 0 and its int result in *result (0 for
 * a void method), or -errno.  The way of every operation whose callback
 * takes only ints (devops.def's `call`), and of kdev_ioctl().
 */
int kdev_call(struct kdev_file *f, int cb, const int64_t *in, uint32_t n,
	      int64_t *result);
#define KDEV_CALL_MAX_INTS	4u
int64_t kdev_llseek(struct kdev_file *f, int64_t off, int whence,
		    int64_t *pos, unsigned int fl);
int kdev_release(struct kdev_file *f, int64_t pos);
/*
 * release(2) for a caller that must not hang on the script's lock (a
 * killed or exiting task): may_wait, it waits killably, else it only tries
 * the lock.  0 when released; -EINTR when not, and the host must then call
 * kdev_release() later from a context that may wait (the kernel glue's
 * work item), so release() still runs and nothing leaks.
 */
int kdev_release_nowait(struct kdev_file *f, int64_t pos, bool may_wait);

/* Linux's largest user errno (EHWPOISON); see kdev_errno() in device.c. */
#define KDEV_ERRNO_MAX		133
/* -e for a user errno e (1..KDEV_ERRNO_MAX), else -EIO. */
int kdev_errno(int64_t e);
/* Whether a system call's result r is an errno to its caller (-4095..-1). */
static inline bool kdev_result_is_errno(int64_t r)
{
	return r < 0 && r >= -4095;
}

/* An ioctl result: -4095..-1 through kdev_errno(), others as they are. */
int64_t kdev_ioctl_result(int64_t r);
/*
 * (1.1) Logs "DEVICE: CALLBACK: DeviceError(ENAME): MESSAGE" for callback
 * cb of d, whose DeviceError exc makes it fail with err (-errno as the
 * caller gets it), unless err is -EAGAIN or -EINTR (devlog.c).
 */
void kdev_log_deverr(struct kdev *d, int cb, struct kobj *exc, int err);
void kdev_log_nomem(struct kdev *d, int cb, size_t bytes);

/* ---- internal API shared by the core files ------------------------------ */

/* memory (gc.c): charged to the quota; NULL = out of memory abort set */
void *kvm_mem_alloc(struct kvm *vm, size_t n);
void *kvm_mem_realloc(struct kvm *vm, void *p, size_t old, size_t n);
void kvm_mem_free(struct kvm *vm, void *p, size_t n);
struct kobj *kvm_obj_alloc(struct kvm *vm, size_t size, uint8_t kind,
			   uint32_t cls);
struct kobj *kvm_obj_alloc_part(struct kvm *vm, size_t size, size_t zero,
				uint8_t kind, uint32_t cls);
void kvm_gc(struct kvm *vm);
void kvm_free_all_objects(struct kvm *vm);

int kvm_grow_roots(struct kvm *vm);

/*
 * Charges work that already ran to the running call (none outside a
 * call): the budget may go below zero, and the call then aborts at its
 * next instruction, in the interpreter and in JIT code alike.  For work
 * a strict kvm_charge() could not stop before it (a collection, an
 * exception's allocations, the removed entries a map's conversion skips).
 */
static inline void kvm_charge_work(struct kvm *vm, uint64_t units)
{
	if (vm->charging)
		vm->budget -= (int64_t)units;
}

/* Records sp, a C stack address of the running call (vm->stack_low). */
static inline void kvm_note_stack(struct kvm *vm, uintptr_t sp)
{
	if (sp < vm->stack_low)
		vm->stack_low = sp;
}

/*
 * Roots o until the matching kvm_pop_roots.  KVM_OK, or KVM_ABORT (out
 * of memory) with nothing pushed: the caller returns the status without
 * popping, and must not allocate again.
 */
static inline __must_check int kvm_push_root(struct kvm *vm, struct kobj *o)
{
	if (unlikely(vm->ntmp == vm->tmp_cap) && kvm_grow_roots(vm))
		return KVM_ABORT;
	vm->tmp[vm->ntmp++] = o;
	return KVM_OK;
}

static inline void kvm_pop_roots(struct kvm *vm, uint32_t n)
{
	KP_WARN_ON(n > vm->ntmp);
	vm->ntmp -= n;
}

/*
 * (1.1) Recomputes s->jend from the stream's other fields: after any of
 * valid, output, bounded, limit, len (input), cap or buf changed.
 */
static inline void kstream_sync(struct kstream *s)
{
	uint32_t end;

	if (!s->valid || !s->buf) {
		s->jend = 0;
		return;
	}
	if (!s->output) {
		s->jend = s->len;
		return;
	}
	end = s->cap < KDEV_CONTENT_MAX ? s->cap : KDEV_CONTENT_MAX;
	if (s->bounded && s->limit < end)
		end = s->limit;
	s->jend = end;
}

/* (1.1) Ends s's use: natives and JIT code refuse it from now on. */
static inline void kstream_invalidate(struct kstream *s)
{
	s->valid = false;
	s->jend = 0;
}

/* objects (object.c) */
struct kstr *kvm_str_alloc(struct kvm *vm, size_t len);
struct kstr *kvm_str_new(struct kvm *vm, const void *b, size_t len);
struct kstr *kvm_str_cstr(struct kvm *vm, const char *s);
struct kinst *kvm_inst_new(struct kvm *vm, uint32_t cls);
struct karr *kvm_arr_new(struct kvm *vm, uint32_t type, uint32_t len);
int kvm_arr_reserve(struct kvm *vm, struct karr *a, uint32_t n);
struct kobj *kvm_box(struct kvm *vm, bool boolean, int64_t v);
struct kfn *kvm_fn_new(struct kvm *vm, uint32_t type, struct kmethod_ref m,
		       struct kobj *recv);
struct kfn *kvm_closure_new(struct kvm *vm, uint32_t type, uint32_t func,
			    const union kvalue *cap, uint32_t ncap);
uint32_t kvm_obj_class(const struct kobj *o);	/* NONE if not a class */
bool kvm_instance_of(struct kvm *vm, const struct kobj *o, uint32_t type);
void kvm_obj_type_name(struct kvm *vm, const struct kobj *o, char *buf,
		       size_t len);
bool kvm_str_eq(const struct kobj *a, const struct kobj *b);
size_t kvm_obj_size(struct kvm *vm, const struct kobj *o);

/* heap quota only, no budget, no collection (gc.c); false: over it */
bool kvm_quota_take(struct kvm *vm, size_t n);
/* kvm_quota_take_collect() when n does not fit as the quota stands */
bool kvm_quota_take_collect_slow(struct kvm *vm, size_t n);

/*
 * Whether n more bytes fit in the quota with room left for the kept
 * blocks too (gc.c's make_room() would free none): the fast paths'
 * test, where the slow ones are gc.c's exact rules.
 */
static KP_INLINE bool kvm_quota_fits(const struct kvm *vm, size_t n)
{
	return n <= vm->lim.heap && vm->heap_used <= vm->lim.heap - n &&
		vm->free_bytes <= vm->lim.heap - vm->heap_used - n;
}

/* Adds n bytes that fit (the caller checked) to the quota's use. */
static KP_INLINE void kvm_quota_add(struct kvm *vm, size_t n)
{
	vm->heap_used += n;
	if (vm->heap_used > vm->heap_peak)
		vm->heap_peak = vm->heap_used;
}

/*
 * Charges n bytes to the quota, collecting first when they do not fit
 * (gc.c); false: still short, or an abort set.
 */
static KP_INLINE bool kvm_quota_take_collect(struct kvm *vm, size_t n)
{
	if (likely(kvm_quota_fits(vm, n)))
		kvm_quota_add(vm, n);
	else if (!kvm_quota_take_collect_slow(vm, n))
		return false;
	vm->host_used += n;
	return true;
}

/* Gives back n bytes charged with kvm_quota_take_collect(). */
static KP_INLINE void kvm_quota_give(struct kvm *vm, size_t n)
{
	vm->heap_used -= n;
	vm->host_used -= n;
}

/* (1.1) waits and timers (wait.c) */
int kvm_wq_init(struct kvm *vm, struct kobj *q);
void kvm_wq_free(struct kvm *vm, struct kobj *q);
int kvm_wq_wait(struct kvm *vm, struct kobj *q, int64_t timeout_ms,
		bool *woken);
int64_t kvm_await_ms(int64_t ms);
/* A WaitQueue's host state (NULL: none, the host cannot wait). */
static inline void *kvm_wq_host(const struct kobj *q)
{
	return (void *)(uintptr_t)((const struct kinst *)q)->f[KF_WQ_HOST].i;
}

/* wakeOne / wakeAll: anywhere, waking nobody when nobody waits. */
static KP_INLINE void kvm_wq_wake(struct kvm *vm, struct kobj *q, bool all)
{
	void *h = kvm_wq_host(q);

	if (h && vm->host.wq_wake)
		vm->host.wq_wake(vm->host.ctx, h, all);
}
int kvm_poll_wait(struct kvm *vm, struct kobj *t, struct kobj *q);
int kvm_timer_start(struct kvm *vm, struct kobj *t, int64_t ms, bool every);
int kvm_timer_cancel(struct kvm *vm, struct kobj *t);
void kvm_timers_init_done(struct kvm *vm);
void kvm_gc_init_done(struct kvm *vm);
void kvm_wait_mark(struct kvm *vm);
void kvm_wait_free(struct kvm *vm);
/* Logs vm->report through the host, cut as a callback's (device.c). */
void kvm_log_report(struct kvm *vm);

/* maps (map.c) */
struct kmap *kvm_map_new(struct kvm *vm, uint32_t type);
size_t kvm_map_storage(const struct kmap *m);	/* bytes beyond the object */
void kvm_map_free_storage(struct kvm *vm, struct kmap *m);
void kvm_map_mark(struct kvm *vm, struct kmap *m);
struct kmentry *kvm_map_find(struct kvm *vm, struct kmap *m, union kvalue k,
			     int *st);
int kvm_map_put(struct kvm *vm, struct kmap *m, union kvalue k,
		union kvalue v);
int kvm_map_remove(struct kvm *vm, struct kmap *m, union kvalue k,
		   bool *removed);
int kvm_map_list(struct kvm *vm, struct kmap *m, bool keys,
		 struct karr **out);

/* exceptions (vm.c) */
int kvm_throw_new(struct kvm *vm, uint32_t cls, const char *msg);
/* The same with a message of len bytes (NULs allowed). */
int kvm_throw_newn(struct kvm *vm, uint32_t cls, const char *msg, size_t len);
int kvm_throw_deverr(struct kvm *vm, int err, const char *msg);
int kvm_throw_index(struct kvm *vm, int64_t i, int64_t n);
int kvm_abort(struct kvm *vm, enum kvm_abort_kind kind);
/* kvm_charge() when the slice cannot pay n: refills or aborts */
bool kvm_charge_slow(struct kvm *vm, uint64_t n);

/* Charges n units of work about to be done; false: a budget abort set. */
static KP_INLINE bool kvm_charge(struct kvm *vm, uint64_t n)
{
	if (likely(n <= (uint64_t)INT64_MAX && vm->budget >= (int64_t)n)) {
		vm->budget -= (int64_t)n;
		return true;
	}
	return kvm_charge_slow(vm, n);
}
/* Whether a fatal signal ends the running call (sets vm->killed). */
bool kvm_killed(struct kvm *vm);
/* Moves the next slice over; false: the budget or the task is done. */
bool kvm_budget_refill(struct kvm *vm, int64_t need);
/* KVM_OK, or an abort when less than KVM_STACK_RESERVE is left. */
int kvm_check_stack(struct kvm *vm);

/* calls (vm.c): args[0] is the receiver for methods */
int kvm_invoke(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
	       uint32_t nargs, union kvalue *ret);
/* Runs a top-level call (init or callback) with a fresh budget. */
int kvm_call_top(struct kvm *vm, struct kmethod_ref m, union kvalue *args,
		 uint32_t nargs, union kvalue *ret, uint64_t budget);
/* Builds vm->report for the failed top-level call that returned st. */
void kvm_make_report(struct kvm *vm, int st);

/* strings (string.c) */
struct kbuf {
	char *p;
	size_t len, cap;
};
int kvm_buf_put(struct kvm *vm, struct kbuf *b, const void *s, size_t n);
void kvm_buf_free(struct kvm *vm, struct kbuf *b);
/*
 * String conversion of a value of the given image type (the language
 * reference §6).
 */
int kvm_to_string(struct kvm *vm, union kvalue v, uint32_t type,
		  struct kstr **out);
int kvm_ref_to_string(struct kvm *vm, struct kobj *o, struct kstr **out);
int kvm_buf_put_value(struct kvm *vm, struct kbuf *b, union kvalue v,
		      uint32_t type);
struct kstr *kvm_int_to_str(struct kvm *vm, int64_t v);
int kvm_fmt_int(char *buf, int64_t v);	/* returns length; buf >= 21 */

/* natives (natives.c); their names, kinds and signatures: builtins.h */
typedef int (*knative_fn)(struct kvm *vm, union kvalue *args,
			  union kvalue *ret);
extern const knative_fn kvm_natives[KN__COUNT];
int kvm_natives_init(struct kvm *vm);
uint32_t kvm_native_nargs(const struct kvm *vm, uint32_t n);

/* devices (device.c) */
int kvm_device_register(struct kvm *vm, struct kobj *name, struct kobj *obj,
			bool chr);
void kvm_devices_remove_all(struct kvm *vm);
void kvm_devices_mark(struct kvm *vm);
void kvm_gc_mark_obj(struct kvm *vm, struct kobj *o);

#endif /* KVM_H */
