/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loader.h - what the parts of the image loader share, and nothing the
 * rest of the VM may use (that is kimage.h).
 *
 * kimg_load() (loader.c) runs three passes over one struct ld:
 *
 *   read.c    reads the header and the seven sections into the tables of
 *             struct kimage, checking what a section can check alone:
 *             bounds, limits, indexes into earlier sections;
 *   link.c    adds the built-in classes and natives (builtins.h) and
 *             checks what crosses sections in the tables: class ids in
 *             types, function headers, the class hierarchy and vtables;
 *   verify.c  checks the code of every function, instruction by
 *             instruction, against the typing rules of image.md.
 *
 * loader.c keeps what all three use: the error sink, the arena, the
 * scratch buffer and the type table.  Nothing the passes build is ever
 * freed on its own: it lives in the arena, freed whole by kimg_free() or,
 * on a failure, by kimg_load() itself.  The first error wins (ld_err);
 * every pass returns ld->failed as soon as it sees one.
 */
#ifndef KLOADER_H
#define KLOADER_H

#include "kimage.h"
#include "builtins.h"

/* ---- limits (image.md, "Verifier limits") -------------------------------- */

#define LIM_TABLE	65535u		/* strings, constants, types, globals, functions */
#define LIM_CLASSES	4096u
#define LIM_FIELDS	256u
#define LIM_VTABLE	1024u
#define LIM_REGS	4096u
#define LIM_CODE	1048576u
#define LIM_IMAGE	(16u << 20)
#define LIM_STRING	(1u << 20)
/* (1.1) interfaces: their number, and the vtable slots of a class's itable */
#define LIM_IFACES	512u
#define LIM_ITABLE	4096u

#define HEADER_SIZE	48u
#define NSECTIONS	7u
#define SEC_INTERFACES	8u	/* (1.1) optional, after the seven */
#define TYPE_T		0xFFFFFFFEu	/* "T" in an Array method signature */
/* (1.1) Map method signatures: K, V, Array<K>, Array<V>, and the owner */
#define TYPE_K		0xFFFFFFFDu
#define TYPE_V		0xFFFFFFFCu
#define TYPE_AK		0xFFFFFFFBu
#define TYPE_AV		0xFFFFFFFAu
#define TYPE_MAP	0xFFFFFFF9u
/* (1.1) Array method signatures: Array<T> and Func<int(T, T)> */
#define TYPE_AT		0xFFFFFFF8u
#define TYPE_FT		0xFFFFFFF7u
/*
 * A placeholder of a generic signature (T, K, V, Array<K>, Array<V>,
 * Array<T>, Func<int(T, T)>; TYPE_MAP, among them, is only an owner).
 */
#define TYPE_IS_GENERIC(t)	((t) >= TYPE_FT && (t) != KIMG_NONE)
#define EXTRA_TYPES	256u		/* room for the loader's own types */

/* ---- the built-in library in one image (builtins.h) ----------------------- */

/* A native's signature resolved against one image's type table. */
struct native_sig {
	uint32_t owner;		/* class id, KIMG_NONE, or TYPE_T for Array */
	uint32_t result;	/* type index or TYPE_T */
	uint32_t nparams;
	uint32_t params[KB_MAX_PARAMS];
	uint32_t functype;	/* Func type, KIMG_NONE for generic ones */
};

/*
 * The image as the runtime sees it, plus what only the loader and the
 * lookup functions need.  kimg_load() hands out &priv->img, so img must
 * stay the first member: PRIV() turns the one back into the other.
 */
struct kimg_priv {
	struct kimage img;
	uint32_t nimage_types;		/* types from the file */
	uint32_t type_cap;
	uint32_t *type_hash;		/* open addressing, KIMG_NONE = empty */
	uint32_t type_hash_mask;
	uint32_t *class_pre;		/* by class id: preorder number */
	uint32_t *class_span;		/* size of the subtree */
	struct native_sig natives[KN__COUNT];
};

#define PRIV(img) ((struct kimg_priv *)(img))

/*
 * Raw class records, until the class table is built: read.c fills them
 * (script class i has id KIMG_FIRST_SCRIPT_CLASS + i), link.c turns them
 * into struct kclass once the built-in classes exist.
 */
struct raw_class {
	uint32_t name, super, nfields, ctor, nvtable;
	const uint32_t *field_names, *field_types, *vtable;
	/* (1.1) interfaces it names (`implements`); listed: seen in the file */
	uint32_t nimpl;
	const uint32_t *impl;
	bool listed;
};

struct arena_chunk;

/* The loader's state: on the heap, not on the (kernel) stack. */
struct ld {
	struct kimg_priv *priv;
	struct kimage *img;		/* &priv->img */
	struct arena_chunk *arena;	/* newest chunk first */
	size_t arena_total;
	char *err;
	size_t errlen;
	int failed;			/* the first error, 0 until then */
	const uint8_t *data;
	size_t size;
	const char *where;		/* for truncation messages */
	uint32_t nscript_classes;
	struct raw_class *raw;
	/* scratch of verify_code: instruction starts and used caches */
	uint8_t *scratch;
	size_t scratch_len;
	char tn1[96], tn2[96];		/* type names for messages */
};

/* ---- loader.c: errors, memory, types ------------------------------------- */

/*
 * Records the first error (code, a negative errno, and its message) and
 * returns ld->failed, so that `return ld_err(...)` propagates it; later
 * errors are dropped, the first one is the cause.
 */
int ld_err(struct ld *ld, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 16-byte aligned, zeroed arena memory; NULL after ld_err(-ENOMEM). */
void *ld_alloc(struct ld *ld, size_t n);
void *ld_array(struct ld *ld, size_t n, size_t sz);
/* ld->scratch of at least n zeroed bytes (contents not kept). */
int ld_scratch_reserve(struct ld *ld, size_t n);

bool ld_type_is_ref(const struct kimage *img, uint32_t t);
void ld_type_hash_insert(struct kimg_priv *priv, uint32_t idx);
uint32_t ld_add_type(struct ld *ld, const struct ktype *t);
uint32_t ld_add_simple_type(struct ld *ld, uint8_t kind, uint32_t elem);
uint32_t ld_type_class(const struct kimage *img, uint32_t t);
const struct kclass *ld_get_class(const struct kimage *img, uint32_t id);
/* Names of types for messages, in ld->tn1 / ld->tn2: two per message. */
const char *ld_tname1(struct ld *ld, uint32_t t);
const char *ld_tname2(struct ld *ld, uint32_t t);

/* ---- read.c: the sections ------------------------------------------------ */

int ld_read_image(struct ld *ld);
/* The bytes of string s, NUL-terminated; s must be checked first. */
const char *ld_str_of(const struct kimage *img, uint32_t s);
int ld_check_string(struct ld *ld, uint32_t s, const char *what);

/* ---- link.c: the built-in library and the tables ------------------------- */

int ld_verify_type_classes(struct ld *ld);
int ld_link_builtins(struct ld *ld);
int ld_verify_class_supers(struct ld *ld, struct kclass *sc);
int ld_verify_function_headers(struct ld *ld);
int ld_verify_classes(struct ld *ld, struct kclass *sc);
int ld_link_ifaces(struct ld *ld);
bool ld_class_exists(const struct kimage *img, uint32_t id);
bool ld_func_is_member(const struct kfunc *f);

/* ---- verify.c: the code -------------------------------------------------- */

int ld_verify_function(struct ld *ld, const struct kfunc *f);
bool ld_func_keeps_file(struct ld *ld, const struct kfunc *f);
bool ld_func_keeps_stream(struct ld *ld, const struct kfunc *f);

#endif /* KLOADER_H */
