/* SPDX-License-Identifier: GPL-2.0 */
/*
 * builtins.h - the built-in library of builtins.def as C sees it: one
 * table of the built-in classes, one of the natives, and the one reader
 * of builtins.def's type syntax (builtins.c).
 *
 * The loader (link.c, verify.c) builds each image's built-in classes and
 * native signatures from these tables; the VM (natives.c, kops.h) names
 * natives and resolves their signatures from them; only the natives'
 * implementations (kvm_natives[], natives.c) are bound elsewhere, since
 * they are static functions of natives.c.  The ids (enum knative, enum
 * kclass_id) come from the same lines, in kimage.h.
 *
 * Nothing here depends on an image: a parsed type names built-in classes
 * by id and arrays by depth, and each user turns it into its image's
 * type index (link.c adds the types, natives.c finds them).
 */
#ifndef KBUILTINS_H
#define KBUILTINS_H

#include "kimage.h"

enum kb_native_kind { KB_METHOD, KB_STATIC, KB_FUNC, KB_CTOR };

/* One K_CLASS line of builtins.def. */
struct kb_class {
	uint32_t id;
	const char *name;
	int32_t super;		/* class id, -1 for Object */
	int32_t ctor;		/* native id, -1 when not instantiable */
	const char *fields;	/* "Type name; Type name" */
};

/* One K_NATIVE line of builtins.def. */
struct kb_native {
	const char *owner;	/* class name, or a pseudo-owner: Array... */
	const char *name;
	uint8_t kind;		/* enum kb_native_kind */
	int16_t slot;		/* vtable slot scripts may override, or -1 */
	const char *sig;	/* "R(A, B)" in the type syntax */
};

/* The K_CLASS lines in file order (a superclass before its subclasses). */
extern const struct kb_class kb_classes[];
extern const uint32_t kb_nclasses;
/* By native id (enum knative): the K_NATIVE lines in file order. */
extern const struct kb_native kb_natives[KN__COUNT];
extern const uint32_t kb_nnatives;	/* KN__COUNT, for tests (ctypes) */

/* Methods and constructors get their receiver as their first argument. */
static inline bool kb_native_has_recv(uint32_t n)
{
	return kb_natives[n].kind == KB_METHOD ||
	       kb_natives[n].kind == KB_CTOR;
}

/* Id of the built-in class of that name (not NUL-terminated), or none. */
uint32_t kb_class_by_name(const char *name, size_t len);

/* ---- the type syntax ----------------------------------------------------- */

#define KB_MAX_PARAMS	3u	/* declared parameters, receiver excluded */
#define KB_MAX_DIMS	4u	/* arrays nested in one type */
#define KB_T		0xFFu	/* base "T": the receiving array's element */
/* (1.1) "K", "V": the receiving map's key and value types (Array<K> too) */
#define KB_K		0xFEu
#define KB_V		0xFDu
/*
 * (1.1) "Func<int(T, T)>": a comparator of the receiving array's elements
 * (Array.sort), the one Func type builtins.def names; no array holds it.
 * "T" itself may be wrapped once (Array<T>: what Array.slice returns).
 */
#define KB_FT		0xFCu
/*
 * (1.1) "Func<void()>": a function of no parameters and no result
 * (Timer's), an ordinary Func type; no array holds it either.
 */
#define KB_FV		0xFBu

/*
 * One type: a base wrapped in dims arrays (Array<X> and X[] both add
 * one).  base is KT_INT, KT_BOOL, KT_VOID, KT_ANY, KT_CLASS (cls is the
 * class id), or KB_T or (1.1) KB_K or KB_V, which sit in one array at
 * most (slice gives an Array<T>, keys() an Array<K>), or (1.1) KB_FT,
 * which sits in none.
 */
struct kb_type {
	uint8_t base;
	uint8_t dims;
	uint32_t cls;
};

/* A native's signature: "R(A, B)". */
struct kb_sig {
	struct kb_type result;
	uint32_t nparams;
	struct kb_type params[KB_MAX_PARAMS];
};

/*
 * Reads one type at *p (leading blanks skipped) and moves *p past it;
 * 0, or -EINVAL on anything but the type syntax of builtins.def.
 */
int kb_parse_type(const char **p, struct kb_type *t);
/* Reads a whole signature; 0, or -EINVAL (more than KB_MAX_PARAMS too). */
int kb_parse_sig(const char *s, struct kb_sig *sig);
/*
 * Reads the next "Type name" of a K_CLASS fields string at *p: 1 with
 * the field in *t, *name, *len and *p past it and its ';', 0 at the end
 * of the string, -EINVAL on a malformed field.
 */
int kb_parse_field(const char **p, struct kb_type *t, const char **name,
		   size_t *len);

#endif /* KBUILTINS_H */
