/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kimage.h - an image as the loader leaves it: parsed, verified, and
 * linked with the built-in classes.  Produced by kimg_load() (loader.c),
 * read by the interpreter; nothing here changes after loading except
 * the inline caches.  The file format is lkm/image.md.
 */
#ifndef KIMAGE_H
#define KIMAGE_H

#include "kport.h"

/* "no index" in every table, as in the file (NONE of image.md) */
#define KIMG_NONE		0xFFFFFFFFu
/* a vtable entry of the file with this bit is a native id, not a function */
#define KIMG_NATIVE_REF		0x80000000u
/* built-in classes have ids below this; the unused ids are NULL gaps */
#define KIMG_FIRST_SCRIPT_CLASS	32u

/*
 * The kinds of the file's type records.  Every kind from KT_ANY on is a
 * reference, but for KT_VOID, which no register, field or element has:
 * the collector and kvm_arr_new() test `kind >= KT_ANY`.
 */
enum ktype_kind {
	KT_INT = 1,
	KT_BOOL = 2,
	KT_ANY = 3,
	KT_CLASS = 4,
	KT_ARRAY = 5,
	KT_FUNC = 6,
	KT_VOID = 7,
	KT_MAP = 8,		/* (1.1) Map<K, V>: key in elem, value in result */
	KT_IFACE = 9,		/* (1.1) an interface: its index in ifaces, in elem */
};

/* Opcode numbers, from opcodes.def. */
enum kop {
#define OP(name, operands, flags, doc) KOP_##name,
#include "opcodes.def"
#undef OP
	KOP__COUNT
};

/* Native ids, from builtins.def. */
enum knative {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) KN_##owner##_##name,
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
	KN__COUNT
};

/* Built-in class ids, from builtins.def. */
enum kclass_id {
#define K_CLASS(id, name, super, ctor, fields) KC_##name = id,
#define K_NATIVE(id, owner, name, kind, slot, sig)
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
	KC__BUILTIN_COUNT
};

struct kstr_lit {
	const uint8_t *bytes;	/* points into the loader's copy */
	uint32_t len;
};

/*
 * Types: the image's own table first, then types the loader adds for the
 * built-in library (String, Array<String>, the fields of built-in
 * classes, native signatures): ktype_index() of any type the runtime
 * needs is a valid index.  Equal types have equal indexes.
 */
struct ktype {
	uint8_t kind;
	uint32_t elem;		/* KT_CLASS: class id; KT_ARRAY: element type;
				 * KT_MAP: key type */
	uint32_t result;	/* KT_FUNC; KT_MAP: value type */
	uint32_t nparams;	/* KT_FUNC */
	const uint32_t *params;	/* KT_FUNC */
};

struct kconst {
	uint8_t kind;		/* 1 int, 2 string */
	int64_t ival;
	uint32_t str;		/* string index */
};

/* A vtable entry: a script function or a built-in native; one is NONE. */
struct kmethod_ref {
	uint32_t func;		/* function index, or KIMG_NONE */
	uint32_t native;	/* native id, or KIMG_NONE */
};

/*
 * (1.1) One interface a class implements, directly, through an ancestor
 * or through an interface it extends: the class's vtable slot of each of
 * the interface's own methods, in their order.  link.c checked that every
 * slot's method has the name and exactly the type of the interface's
 * method, which is what lets CALLI be typed against the interface alone.
 */
struct kimpl {
	uint32_t iface;		/* index in img->ifaces */
	const uint32_t *slots;	/* ifaces[iface].nmethods vtable slots */
};

/*
 * A class, built-in or script, as link.c leaves it.  A subclass's fields
 * and vtable extend its super's: field i and slot i mean the same in
 * every subclass, which is what lets GETF/SETF and CALLV be typed
 * against the static class alone.
 */
struct kclass {
	uint32_t id;
	const char *name;	/* NUL-terminated */
	uint32_t super;		/* class id or KIMG_NONE */
	uint32_t depth;		/* Object is 0 */
	uint32_t nfields;	/* all fields, inherited first */
	const uint32_t *field_types;
	const char *const *field_names;
	uint32_t own_fields;	/* index of this class's first field */
	uint32_t ctor_func;	/* script constructor, or KIMG_NONE */
	uint32_t ctor_native;	/* built-in constructor, or KIMG_NONE */
	uint32_t nvtable;
	const struct kmethod_ref *vtable;
	/* method names by slot, for dynamic calls (CALLA) by name */
	const char *const *vtable_names;
	/* (1.1) every interface implemented, sorted by interface index */
	uint32_t nimpl;
	const struct kimpl *impl;
	bool builtin;
};

/*
 * (1.1) An interface (the image's interfaces section).  Interfaces only
 * extend earlier ones, so the graph has no cycles; supers is the closure.
 */
struct kiface {
	const char *name;
	uint32_t nextends;
	const uint32_t *extends;	/* direct, each < this index */
	uint32_t nsupers;
	const uint32_t *supers;		/* itself and all it extends, sorted */
	uint32_t nmethods;		/* its own methods */
	const char *const *method_names;
	const uint32_t *method_types;	/* Func types without the receiver */
};

/* Catches what an instruction starting in [start, end) throws. */
struct khandler {
	uint32_t start, end, target;
	uint32_t class_id;	/* KIMG_NONE catches everything */
	uint32_t reg;
};

/* Sorted by pc (verify.c): an instruction has the line of the last <= it. */
struct kline {
	uint32_t pc, line;
};

/*
 * Inline cache of one CALLA, CALLV or (1.1) CALLI site: receiver
 * class/type -> resolved target.
 * The only part of a loaded image written at run time (by calls, which
 * vm->lock serialises).  It only saves the lookup (by name, in the
 * itable or the vtable): the arguments are checked against the target's
 * signature on every call.
 */
struct kinline_cache {
	uint32_t key;		/* class id, or KIMG_NONE when empty */
	struct kmethod_ref target;
	uint32_t misses;	/* resolutions by name (a statistic) */
};

#define KFN_METHOD	1u
#define KFN_CTOR	2u
#define KFN_INIT	4u
/*
 * (1.1) A lambda's synthetic function: no owner; its type's leading
 * parameters are the captured values (`this` first when captured), the
 * rest those of the Func type it was created for (CLOSURE).  Its name is
 * its trace name and ends in "lambda@LINE" (the line where it begins).
 */
#define KFN_LAMBDA	8u
/*
 * (1.1) Set by the loader, never by an image (link.c refuses unknown
 * bits): the function may let a File out of its File-typed registers
 * (verify.c, ld_func_keeps_file).
 */
#define KFN_KEEPS_FILE	0x100u
/* (1.1) The same for OutputStream and InputStream (ld_func_keeps_stream). */
#define KFN_KEEPS_STREAM	0x200u

struct kfunc {
	const char *name;	/* NUL-terminated: "fib", "Point.sum", "<init>" */
	uint32_t owner;		/* class id or KIMG_NONE */
	uint32_t type;		/* KT_FUNC type: declared parameters and result */
	uint32_t flags;
	uint32_t nargs;		/* registers taken by arguments, receiver included */
	uint32_t nregs;
	const uint32_t *reg_types;
	const uint8_t *reg_is_ref;	/* nregs bytes: 1 for reference registers */
	uint32_t ncode;
	const int32_t *code;
	uint32_t nhandlers;
	const struct khandler *handlers;
	uint32_t nlines;
	const struct kline *lines;
	uint32_t nics;
	struct kinline_cache *ics;
};

struct kglobal {
	const char *name;
	uint32_t type;
	bool is_ref;
};

struct kimage {
	/* SHA-256 of the file after its header: names the image (JIT stubs) */
	uint8_t digest[32];
	const char *source_name;
	uint32_t nstrings;
	const struct kstr_lit *strings;
	uint32_t nconsts;
	const struct kconst *consts;
	uint32_t ntypes;	/* image types plus the loader's additions */
	const struct ktype *types;
	uint32_t nclasses;	/* class ids 0..nclasses-1 that exist */
	const struct kclass *const *classes;	/* by class id; NULL gaps */
	/*
	 * each class's vtable by class id (NULL gaps): one load less per
	 * virtual call than classes[id]->vtable
	 */
	const struct kmethod_ref *const *vtables;
	uint32_t nifaces;	/* (1.1) the interfaces section */
	const struct kiface *ifaces;
	uint32_t nglobals;
	const struct kglobal *globals;
	uint32_t nfuncs;
	const struct kfunc *funcs;
	uint32_t init_func;
	/* well-known types, added by the loader when absent */
	uint32_t t_int, t_bool, t_any, t_string, t_string_array, t_void;
	void *arena;		/* everything above lives in here */
	size_t arena_size;
};

/*
 * kimg_load - parse and completely verify an image.
 * On success returns 0 and sets *out; on failure returns a negative errno
 * and writes a one-line reason (no trailing newline) into err.  Never
 * reads outside [data, data + size), whatever the bytes.
 */
int kimg_load(const uint8_t *data, size_t size, struct kimage **out,
	      char *err, size_t errlen);
void kimg_free(struct kimage *img);

/* Index of a type equal to *t, or KIMG_NONE. */
uint32_t kimg_find_type(const struct kimage *img, const struct ktype *t);
/* True when a value of type s may be stored in a register of type t. */
bool kimg_assignable(const struct kimage *img, uint32_t s, uint32_t t);
/* True when class id sub is cls or a subclass of it. */
bool kimg_subclass(const struct kimage *img, uint32_t sub, uint32_t cls);
/* (1.1) Class cls's slots of interface iface, or NULL if it lacks it. */
const struct kimpl *kimg_find_impl(const struct kimage *img, uint32_t cls,
				   uint32_t iface);
/* Type name as in source ("int", "Point", "int[]", "Func<int(int)>"). */
int kimg_type_name(const struct kimage *img, uint32_t type, char *buf,
		   size_t len);

/* SHA-256 (sha256.c). */
void ksha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif /* KIMAGE_H */
