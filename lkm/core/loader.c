// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - parse an image (lkm/image.md), link it with the built-in
 * classes of builtins.def, and verify it completely before anything runs.
 *
 * The bytes come from users: every read goes through a cursor that knows
 * how many bytes are left, every count is checked against the limits of
 * image.md (and against the bytes left) before anything is allocated, and
 * every allocation comes from one arena that kimg_free() releases as a
 * whole, so a failure at any point frees everything.  No recursion on
 * input-controlled depth, small stack frames: this file runs in the
 * kernel too.
 *
 * Phases: parse_*() read the sections into the image structures, checking
 * only what a section can check alone (bounds, limits, indexes into
 * earlier sections); link_*() add the built-in classes and the types the
 * runtime needs; verify_*() check everything that crosses sections, the
 * class table and, instruction by instruction, the code (verify_code).
 */
#include "kimage.h"

/* ---- limits (image.md, "Verifier limits") ------------------------------ */

#define LIM_TABLE	65535u		/* strings, constants, types, globals, functions */
#define LIM_CLASSES	4096u
#define LIM_FIELDS	256u
#define LIM_VTABLE	1024u
#define LIM_REGS	4096u
#define LIM_CODE	1048576u
#define LIM_IMAGE	(16u << 20)
#define LIM_STRING	(1u << 20)

#define HEADER_SIZE	48u
#define NSECTIONS	7u
#define MAX_NATIVE_PARAMS 4u
#define TYPE_T		0xFFFFFFFEu	/* "T" in an Array method signature */
#define EXTRA_TYPES	256u		/* room for the loader's own types */

/* ---- the built-in library, from builtins.def ----------------------------- */

enum native_kind { NK_METHOD, NK_STATIC, NK_FUNC, NK_CTOR };

/* Constructor natives by name (K_CLASS names them without their owner). */
enum {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) CTOR_##kind(id, name)
#define K_ERRNO(name, value)
#define CTOR_CTOR(id, name) LDC_##name = id,
#define CTOR_METHOD(id, name)
#define CTOR_STATIC(id, name)
#define CTOR_FUNC(id, name)
#include "builtins.def"
#undef CTOR_CTOR
#undef CTOR_METHOD
#undef CTOR_STATIC
#undef CTOR_FUNC
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
	LDC_NONE = -1
};

struct builtin_class_def {
	uint32_t id;
	const char *name;
	int32_t super;
	int32_t ctor;
	const char *fields;
};

static const struct builtin_class_def builtin_classes[] = {
#define K_CLASS(id, name, super, ctor, fields) \
	{ id, #name, super, LDC_##ctor, fields },
#define K_NATIVE(id, owner, name, kind, slot, sig)
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
};

struct native_def {
	const char *owner;
	const char *name;
	uint8_t kind;
	int16_t slot;
	const char *sig;
};

static const struct native_def native_defs[] = {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) \
	{ #owner, #name, NK_##kind, slot, sig },
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
};

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

/* A native's signature resolved against one image's type table. */
struct native_sig {
	uint32_t owner;		/* class id, KIMG_NONE, or TYPE_T for Array */
	uint32_t result;	/* type index or TYPE_T */
	uint32_t nparams;
	uint32_t params[MAX_NATIVE_PARAMS];
	uint32_t functype;	/* Func type, KIMG_NONE for generic ones */
};

/*
 * The image as the runtime sees it, plus what only the loader and the
 * lookup functions need.  kimg_load() hands out &priv->img.
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

/* ---- the arena ------------------------------------------------------------ */

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	size_t pad;		/* keeps the data 16-byte aligned */
};

#define ARENA_CHUNK	(64u << 10)

/* Raw class records, until the class table is built. */
struct raw_class {
	uint32_t name, super, nfields, ctor, nvtable;
	const uint32_t *field_names, *field_types, *vtable;
};

/* The loader's state: on the heap, not on the (kernel) stack. */
struct ld {
	struct kimg_priv *priv;
	struct kimage *img;
	struct arena_chunk *arena;
	size_t arena_total;
	char *err;
	size_t errlen;
	int failed;
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

static void *arena_alloc(struct ld *ld, size_t n);

static int ld_err(struct ld *ld, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ld_err(struct ld *ld, int code, const char *fmt, ...)
{
	__builtin_va_list ap;

	if (ld->failed)
		return ld->failed;
	ld->failed = code;
	if (ld->err && ld->errlen) {
		__builtin_va_start(ap, fmt);
		vsnprintf(ld->err, ld->errlen, fmt, ap);
		__builtin_va_end(ap);
	}
	return code;
}

static void *arena_alloc(struct ld *ld, size_t n)
{
	struct arena_chunk *c = ld->arena;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (n > ((size_t)1 << 30)) {
		ld_err(ld, -ENOMEM, "out of memory: %zu bytes", n);
		return NULL;
	}
	if (!c || c->size - c->used < need) {
		size_t sz = need > ARENA_CHUNK ? need : ARENA_CHUNK;

		c = kp_zalloc(sizeof(*c) + sz);
		if (!c) {
			ld_err(ld, -ENOMEM, "out of memory: %zu bytes", n);
			return NULL;
		}
		c->size = sz;
		ld->arena_total += sizeof(*c) + sz;
		if (ld->arena && need > ARENA_CHUNK) {
			/* a big block: keep filling the current chunk */
			c->next = ld->arena->next;
			ld->arena->next = c;
		} else {
			c->next = ld->arena;
			ld->arena = c;
		}
	}
	p = (uint8_t *)(c + 1) + c->used;
	c->used += need;
	return p;
}

static void arena_free_all(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *next = c->next;

		kp_free(c);
		c = next;
	}
}

/* n elements of size sz, zeroed; n * sz cannot overflow (bounded counts). */
static void *arena_array(struct ld *ld, size_t n, size_t sz)
{
	if (n && sz > (((size_t)1 << 30) / n)) {
		ld_err(ld, -ENOMEM, "out of memory: %zu x %zu bytes", n, sz);
		return NULL;
	}
	return arena_alloc(ld, n && sz ? n * sz : 1);
}

/* ---- the cursor ------------------------------------------------------------- */

struct kcur {
	size_t off, end;	/* into ld->data */
};

static int cur_need(struct ld *ld, const struct kcur *c, size_t n)
{
	if (c->end - c->off >= n)
		return 0;
	return ld_err(ld, -EINVAL,
		      "truncated %s: need %zu bytes at offset %zu, %zu left",
		      ld->where, n, c->off, c->end - c->off);
}

static int rd_u8(struct ld *ld, struct kcur *c, uint8_t *v)
{
	if (cur_need(ld, c, 1))
		return ld->failed;
	*v = ld->data[c->off++];
	return 0;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int rd_u32(struct ld *ld, struct kcur *c, uint32_t *v)
{
	if (cur_need(ld, c, 4))
		return ld->failed;
	*v = get_u32(ld->data + c->off);
	c->off += 4;
	return 0;
}

static int rd_i64(struct ld *ld, struct kcur *c, int64_t *v)
{
	uint64_t lo, hi;

	if (cur_need(ld, c, 8))
		return ld->failed;
	lo = get_u32(ld->data + c->off);
	hi = get_u32(ld->data + c->off + 4);
	*v = (int64_t)(lo | hi << 32);
	c->off += 8;
	return 0;
}

/*
 * A count: at most lim (else -E2BIG), and at least min_each bytes per
 * entry must be left (else truncated), so nothing is allocated for
 * entries the image cannot hold.
 */
static int rd_count(struct ld *ld, struct kcur *c, uint32_t *n, uint32_t lim,
		    size_t min_each, const char *what)
{
	if (rd_u32(ld, c, n))
		return ld->failed;
	if (*n > lim)
		return ld_err(ld, -E2BIG, "too many %s: %u (limit %u)", what,
			      *n, lim);
	if (min_each && (size_t)*n > (c->end - c->off) / min_each)
		return ld_err(ld, -EINVAL,
			      "truncated %s: %u %s need %zu bytes at offset %zu, %zu left",
			      ld->where, *n, what, (size_t)*n * min_each,
			      c->off, c->end - c->off);
	return 0;
}

/* n u32 words into a new arena array. */
static uint32_t *rd_u32_array(struct ld *ld, struct kcur *c, uint32_t n)
{
	uint32_t *a, i;

	if (cur_need(ld, c, (size_t)n * 4))
		return NULL;
	a = arena_array(ld, n, sizeof(*a));
	if (!a)
		return NULL;
	for (i = 0; i < n; i++)
		a[i] = get_u32(ld->data + c->off + (size_t)i * 4);
	c->off += (size_t)n * 4;
	return a;
}

/* ---- types ------------------------------------------------------------------ */

static bool type_is_ref(const struct kimage *img, uint32_t t)
{
	uint8_t k;

	if (t >= img->ntypes)
		return false;
	k = img->types[t].kind;
	return k != KT_INT && k != KT_BOOL && k != KT_VOID;
}

static uint32_t type_hash(const struct ktype *t)
{
	uint32_t h = 2166136261u, i;

	h = (h ^ t->kind) * 16777619u;
	if (t->kind == KT_CLASS || t->kind == KT_ARRAY)
		h = (h ^ t->elem) * 16777619u;
	if (t->kind == KT_FUNC) {
		h = (h ^ t->result) * 16777619u;
		h = (h ^ t->nparams) * 16777619u;
		for (i = 0; i < t->nparams; i++)
			h = (h ^ t->params[i]) * 16777619u;
	}
	return h ^ (h >> 15);
}

static bool type_equal(const struct ktype *a, const struct ktype *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case KT_CLASS:
	case KT_ARRAY:
		return a->elem == b->elem;
	case KT_FUNC:
		if (a->result != b->result || a->nparams != b->nparams)
			return false;
		return !a->nparams ||
		       !memcmp(a->params, b->params,
			       (size_t)a->nparams * sizeof(uint32_t));
	default:
		return true;
	}
}

uint32_t kimg_find_type(const struct kimage *img, const struct ktype *t)
{
	const struct kimg_priv *priv = PRIV(img);
	uint32_t h, idx;

	if (!priv->type_hash)
		return KIMG_NONE;
	h = type_hash(t) & priv->type_hash_mask;
	while ((idx = priv->type_hash[h]) != KIMG_NONE) {
		if (type_equal(&img->types[idx], t))
			return idx;
		h = (h + 1) & priv->type_hash_mask;
	}
	return KIMG_NONE;
}

static void type_hash_insert(struct kimg_priv *priv, uint32_t idx)
{
	uint32_t h = type_hash(&priv->img.types[idx]) & priv->type_hash_mask;

	while (priv->type_hash[h] != KIMG_NONE)
		h = (h + 1) & priv->type_hash_mask;
	priv->type_hash[h] = idx;
}

/* Index of a type equal to t, appended (loader type) when absent. */
static uint32_t add_type(struct ld *ld, const struct ktype *t)
{
	struct kimg_priv *priv = ld->priv;
	struct ktype *types = (struct ktype *)priv->img.types;
	uint32_t idx = kimg_find_type(&priv->img, t);
	uint32_t *params;

	if (idx != KIMG_NONE)
		return idx;
	if (priv->img.ntypes >= priv->type_cap) {
		ld_err(ld, -EINVAL, "internal: too many built-in types");
		return KIMG_NONE;
	}
	idx = priv->img.ntypes;
	types[idx] = *t;
	if (t->kind == KT_FUNC && t->nparams) {
		params = arena_array(ld, t->nparams, sizeof(*params));
		if (!params)
			return KIMG_NONE;
		memcpy(params, t->params, t->nparams * sizeof(*params));
		types[idx].params = params;
	}
	priv->img.ntypes++;
	type_hash_insert(priv, idx);
	return idx;
}

static uint32_t add_simple_type(struct ld *ld, uint8_t kind, uint32_t elem)
{
	struct ktype t = { .kind = kind, .elem = elem };

	return add_type(ld, &t);
}

/* Class id of a class type, or KIMG_NONE. */
static uint32_t type_class(const struct kimage *img, uint32_t t)
{
	if (t < img->ntypes && img->types[t].kind == KT_CLASS)
		return img->types[t].elem;
	return KIMG_NONE;
}

static const struct kclass *get_class(const struct kimage *img, uint32_t id)
{
	if (id >= img->nclasses)
		return NULL;
	return img->classes[id];
}

bool kimg_subclass(const struct kimage *img, uint32_t sub, uint32_t cls)
{
	const struct kimg_priv *priv = PRIV(img);

	if (!get_class(img, sub) || !get_class(img, cls))
		return false;
	if (sub == cls)
		return true;
	if (!priv->class_pre)
		return false;
	return priv->class_pre[sub] > priv->class_pre[cls] &&
	       priv->class_pre[sub] - priv->class_pre[cls] <
	       priv->class_span[cls];
}

bool kimg_assignable(const struct kimage *img, uint32_t s, uint32_t t)
{
	const struct ktype *ts, *tt;

	if (s >= img->ntypes || t >= img->ntypes)
		return false;
	if (s == t)
		return img->types[s].kind != KT_VOID;
	ts = &img->types[s];
	tt = &img->types[t];
	if (tt->kind == KT_ANY)
		return type_is_ref(img, s);
	if (ts->kind == KT_CLASS && tt->kind == KT_CLASS)
		return kimg_subclass(img, ts->elem, tt->elem);
	return false;
}

/* Appends s to buf at *pos, always NUL-terminated, truncating. */
static void name_put(char *buf, size_t len, size_t *pos, const char *s)
{
	while (*s && *pos + 1 < len)
		buf[(*pos)++] = *s++;
	if (len)
		buf[*pos < len ? *pos : len - 1] = '\0';
}

#define TYPE_NAME_DEPTH 6

static void type_name_rec(const struct kimage *img, uint32_t t, char *buf,
			  size_t len, size_t *pos, int depth)
{
	const struct ktype *ty;
	const struct kclass *cls;
	uint32_t i;

	if (t >= img->ntypes) {
		name_put(buf, len, pos, t == TYPE_T ? "T" : "<bad type>");
		return;
	}
	ty = &img->types[t];
	if (depth > TYPE_NAME_DEPTH &&
	    (ty->kind == KT_ARRAY || ty->kind == KT_FUNC)) {
		name_put(buf, len, pos, "...");
		return;
	}
	switch (ty->kind) {
	case KT_INT:
		name_put(buf, len, pos, "int");
		break;
	case KT_BOOL:
		name_put(buf, len, pos, "boolean");
		break;
	case KT_ANY:
		name_put(buf, len, pos, "Any");
		break;
	case KT_VOID:
		name_put(buf, len, pos, "void");
		break;
	case KT_CLASS:
		cls = get_class(img, ty->elem);
		name_put(buf, len, pos, cls ? cls->name : "<bad class>");
		break;
	case KT_ARRAY:
		type_name_rec(img, ty->elem, buf, len, pos, depth + 1);
		name_put(buf, len, pos, "[]");
		break;
	case KT_FUNC:
		name_put(buf, len, pos, "Func<");
		type_name_rec(img, ty->result, buf, len, pos, depth + 1);
		name_put(buf, len, pos, "(");
		for (i = 0; i < ty->nparams; i++) {
			if (i)
				name_put(buf, len, pos, ", ");
			type_name_rec(img, ty->params[i], buf, len, pos,
				      depth + 1);
		}
		name_put(buf, len, pos, ")>");
		break;
	default:
		name_put(buf, len, pos, "<bad type>");
	}
}

int kimg_type_name(const struct kimage *img, uint32_t type, char *buf,
		   size_t len)
{
	size_t pos = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	type_name_rec(img, type, buf, len, &pos, 0);
	return (int)pos;
}

static const char *tname1(struct ld *ld, uint32_t t)
{
	kimg_type_name(ld->img, t, ld->tn1, sizeof(ld->tn1));
	return ld->tn1;
}

static const char *tname2(struct ld *ld, uint32_t t)
{
	kimg_type_name(ld->img, t, ld->tn2, sizeof(ld->tn2));
	return ld->tn2;
}

/* ---- parsing the sections ------------------------------------------------- */

static const char *const section_names[NSECTIONS] = {
	"strings", "constants", "types", "classes", "globals", "functions",
	"meta",
};

static const char *str_of(const struct kimage *img, uint32_t s)
{
	return (const char *)img->strings[s].bytes;
}

static int check_string(struct ld *ld, uint32_t s, const char *what)
{
	if (s >= ld->img->nstrings)
		return ld_err(ld, -EINVAL, "%s: string %u out of range (%u strings)",
			      what, s, ld->img->nstrings);
	return 0;
}

static int parse_strings(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kstr_lit *strs;
	uint32_t n, i, len;
	uint8_t *copy;

	if (rd_count(ld, c, &n, LIM_TABLE, 4, "strings"))
		return ld->failed;
	strs = arena_array(ld, n, sizeof(*strs));
	if (!strs)
		return ld->failed;
	for (i = 0; i < n; i++) {
		if (rd_u32(ld, c, &len))
			return ld->failed;
		if (len > LIM_STRING)
			return ld_err(ld, -E2BIG,
				      "string %u too long: %u bytes (limit %u)",
				      i, len, LIM_STRING);
		if (cur_need(ld, c, len))
			return ld->failed;
		copy = arena_alloc(ld, (size_t)len + 1);
		if (!copy)
			return ld->failed;
		memcpy(copy, ld->data + c->off, len);
		copy[len] = '\0';
		c->off += len;
		strs[i].bytes = copy;
		strs[i].len = len;
	}
	img->strings = strs;
	img->nstrings = n;
	return 0;
}

static int parse_constants(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kconst *k;
	uint32_t n, i;

	if (rd_count(ld, c, &n, LIM_TABLE, 5, "constants"))
		return ld->failed;
	k = arena_array(ld, n, sizeof(*k));
	if (!k)
		return ld->failed;
	for (i = 0; i < n; i++) {
		if (rd_u8(ld, c, &k[i].kind))
			return ld->failed;
		if (k[i].kind == 1) {
			if (rd_i64(ld, c, &k[i].ival))
				return ld->failed;
		} else if (k[i].kind == 2) {
			if (rd_u32(ld, c, &k[i].str))
				return ld->failed;
			if (k[i].str >= img->nstrings)
				return ld_err(ld, -EINVAL,
					      "constant %u: string %u out of range (%u strings)",
					      i, k[i].str, img->nstrings);
		} else {
			return ld_err(ld, -EINVAL, "constant %u: bad kind %u", i,
				      k[i].kind);
		}
	}
	img->consts = k;
	img->nconsts = n;
	return 0;
}

static int parse_types(struct ld *ld, struct kcur *c)
{
	struct kimg_priv *priv = ld->priv;
	struct kimage *img = ld->img;
	struct ktype *types;
	uint32_t n, i, j, hsize;

	if (rd_count(ld, c, &n, LIM_TABLE, 1, "types"))
		return ld->failed;
	priv->type_cap = n + EXTRA_TYPES;
	types = arena_array(ld, priv->type_cap, sizeof(*types));
	if (!types)
		return ld->failed;
	for (hsize = 64; hsize < 2 * priv->type_cap; hsize *= 2)
		;
	priv->type_hash = arena_array(ld, hsize, sizeof(uint32_t));
	if (!priv->type_hash)
		return ld->failed;
	memset(priv->type_hash, 0xff, (size_t)hsize * sizeof(uint32_t));
	priv->type_hash_mask = hsize - 1;
	img->types = types;
	img->ntypes = 0;
	for (i = 0; i < n; i++) {
		struct ktype *t = &types[i];
		uint32_t *params;

		if (rd_u8(ld, c, &t->kind))
			return ld->failed;
		switch (t->kind) {
		case KT_INT:
		case KT_BOOL:
		case KT_ANY:
		case KT_VOID:
			break;
		case KT_CLASS:	/* the class id is checked with the classes */
			if (rd_u32(ld, c, &t->elem))
				return ld->failed;
			break;
		case KT_ARRAY:
			if (rd_u32(ld, c, &t->elem))
				return ld->failed;
			if (t->elem >= i)
				return ld_err(ld, -EINVAL,
					      "type %u: element type %u is not an earlier type",
					      i, t->elem);
			if (types[t->elem].kind == KT_VOID)
				return ld_err(ld, -EINVAL,
					      "type %u: array of void", i);
			break;
		case KT_FUNC:
			if (rd_u32(ld, c, &t->result))
				return ld->failed;
			if (t->result >= i)
				return ld_err(ld, -EINVAL,
					      "type %u: result type %u is not an earlier type",
					      i, t->result);
			if (rd_count(ld, c, &t->nparams, LIM_REGS, 4,
				     "parameters"))
				return ld->failed;
			params = rd_u32_array(ld, c, t->nparams);
			if (!params)
				return ld->failed;
			for (j = 0; j < t->nparams; j++) {
				if (params[j] >= i)
					return ld_err(ld, -EINVAL,
						      "type %u: parameter %u type %u is not an earlier type",
						      i, j, params[j]);
				if (types[params[j]].kind == KT_VOID)
					return ld_err(ld, -EINVAL,
						      "type %u: parameter %u is void",
						      i, j);
			}
			t->params = params;
			break;
		default:
			return ld_err(ld, -EINVAL, "type %u: bad kind %u", i,
				      t->kind);
		}
		if (kimg_find_type(img, t) != KIMG_NONE)
			return ld_err(ld, -EINVAL,
				      "type %u: duplicate of type %u", i,
				      kimg_find_type(img, t));
		img->ntypes = i + 1;
		type_hash_insert(priv, i);
	}
	priv->nimage_types = n;
	return 0;
}

static int parse_classes(struct ld *ld, struct kcur *c)
{
	uint32_t n, i;

	if (rd_count(ld, c, &n, LIM_CLASSES, 20, "classes"))
		return ld->failed;
	ld->raw = arena_array(ld, n, sizeof(*ld->raw));
	if (!ld->raw)
		return ld->failed;
	for (i = 0; i < n; i++) {
		struct raw_class *rc = &ld->raw[i];
		uint32_t j;

		if (rd_u32(ld, c, &rc->name) || rd_u32(ld, c, &rc->super))
			return ld->failed;
		if (rd_count(ld, c, &rc->nfields, LIM_FIELDS, 8, "fields"))
			return ld->failed;
		rc->field_names = arena_array(ld, rc->nfields, 4);
		rc->field_types = arena_array(ld, rc->nfields, 4);
		if (!rc->field_names || !rc->field_types)
			return ld->failed;
		for (j = 0; j < rc->nfields; j++) {
			if (rd_u32(ld, c, (uint32_t *)&rc->field_names[j]) ||
			    rd_u32(ld, c, (uint32_t *)&rc->field_types[j]))
				return ld->failed;
		}
		if (rd_u32(ld, c, &rc->ctor))
			return ld->failed;
		if (rd_count(ld, c, &rc->nvtable, LIM_VTABLE, 4, "vtable slots"))
			return ld->failed;
		rc->vtable = rd_u32_array(ld, c, rc->nvtable);
		if (!rc->vtable)
			return ld->failed;
	}
	ld->nscript_classes = n;
	return 0;
}

static int parse_globals(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kglobal *g;
	uint32_t n, i, name;

	if (rd_count(ld, c, &n, LIM_TABLE, 8, "globals"))
		return ld->failed;
	g = arena_array(ld, n, sizeof(*g));
	if (!g)
		return ld->failed;
	for (i = 0; i < n; i++) {
		if (rd_u32(ld, c, &name) || rd_u32(ld, c, &g[i].type))
			return ld->failed;
		if (check_string(ld, name, "global"))
			return ld->failed;
		g[i].name = str_of(img, name);
		if (g[i].type >= ld->priv->nimage_types ||
		    img->types[g[i].type].kind == KT_VOID)
			return ld_err(ld, -EINVAL, "global %s: bad type %u",
				      g[i].name, g[i].type);
		g[i].is_ref = type_is_ref(img, g[i].type);
	}
	img->globals = g;
	img->nglobals = n;
	return 0;
}

static int parse_function(struct ld *ld, struct kcur *c, uint32_t fi,
			  struct kfunc *f)
{
	struct kimage *img = ld->img;
	uint32_t name, n, i;
	uint8_t *isref;
	int32_t *code;
	struct khandler *h;
	struct kline *l;
	struct kinline_cache *ics;

	if (rd_u32(ld, c, &name) || rd_u32(ld, c, &f->owner) ||
	    rd_u32(ld, c, &f->type) || rd_u32(ld, c, &f->flags))
		return ld->failed;
	if (name >= img->nstrings)
		return ld_err(ld, -EINVAL,
			      "function %u: name string %u out of range (%u strings)",
			      fi, name, img->nstrings);
	f->name = str_of(img, name);
	if (rd_count(ld, c, &f->nregs, LIM_REGS, 4, "registers"))
		return ld->failed;
	f->reg_types = rd_u32_array(ld, c, f->nregs);
	isref = arena_array(ld, f->nregs, 1);
	if (!f->reg_types || !isref)
		return ld->failed;
	for (i = 0; i < f->nregs; i++) {
		uint32_t t = f->reg_types[i];

		if (t >= ld->priv->nimage_types || img->types[t].kind == KT_VOID)
			return ld_err(ld, -EINVAL,
				      "function %s: register r%u has bad type %u",
				      f->name, i, t);
		isref[i] = type_is_ref(img, t);
	}
	f->reg_is_ref = isref;
	if (rd_count(ld, c, &f->ncode, LIM_CODE, 4, "code words"))
		return ld->failed;
	f->code = code = arena_array(ld, f->ncode, sizeof(*code));
	if (!code)
		return ld->failed;
	for (i = 0; i < f->ncode; i++) {
		code[i] = (int32_t)get_u32(ld->data + c->off);
		c->off += 4;
	}
	if (rd_count(ld, c, &f->nhandlers, LIM_CODE, 20, "handlers"))
		return ld->failed;
	f->handlers = h = arena_array(ld, f->nhandlers, sizeof(*h));
	if (!h)
		return ld->failed;
	for (i = 0; i < f->nhandlers; i++) {
		if (rd_u32(ld, c, &h[i].start) || rd_u32(ld, c, &h[i].end) ||
		    rd_u32(ld, c, &h[i].target) ||
		    rd_u32(ld, c, &h[i].class_id) || rd_u32(ld, c, &h[i].reg))
			return ld->failed;
	}
	if (rd_count(ld, c, &f->nlines, LIM_CODE, 8, "line entries"))
		return ld->failed;
	f->lines = l = arena_array(ld, f->nlines, sizeof(*l));
	if (!l)
		return ld->failed;
	for (i = 0; i < f->nlines; i++) {
		if (rd_u32(ld, c, &l[i].pc) || rd_u32(ld, c, &l[i].line))
			return ld->failed;
	}
	if (rd_u32(ld, c, &n))
		return ld->failed;
	/* each cache serves one CALLA, so there are fewer than code words */
	if (n > f->ncode)
		return ld_err(ld, -E2BIG,
			      "function %s: %u inline caches for %u code words",
			      f->name, n, f->ncode);
	f->nics = n;
	f->ics = ics = arena_array(ld, n, sizeof(*ics));
	if (!ics)
		return ld->failed;
	for (i = 0; i < n; i++) {
		ics[i].key = KIMG_NONE;
		ics[i].target.func = KIMG_NONE;
		ics[i].target.native = KIMG_NONE;
	}
	return 0;
}

static int parse_functions(struct ld *ld, struct kcur *c)
{
	struct kfunc *f;
	uint32_t n, i;

	if (rd_count(ld, c, &n, LIM_TABLE, 40, "functions"))
		return ld->failed;
	f = arena_array(ld, n, sizeof(*f));
	if (!f)
		return ld->failed;
	ld->img->funcs = f;
	for (i = 0; i < n; i++) {
		if (parse_function(ld, c, i, &f[i]))
			return ld->failed;
		ld->img->nfuncs = i + 1;
	}
	return 0;
}

static int parse_meta(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	uint32_t src;

	if (rd_u32(ld, c, &src) || rd_u32(ld, c, &img->init_func))
		return ld->failed;
	if (check_string(ld, src, "source file name"))
		return ld->failed;
	img->source_name = str_of(img, src);
	if (img->init_func >= img->nfuncs)
		return ld_err(ld, -EINVAL,
			      "init function %u out of range (%u functions)",
			      img->init_func, img->nfuncs);
	return 0;
}

static int parse_image(struct ld *ld)
{
	static int (*const parsers[NSECTIONS])(struct ld *, struct kcur *) = {
		parse_strings, parse_constants, parse_types, parse_classes,
		parse_globals, parse_functions, parse_meta,
	};
	struct kcur c = { .off = 0, .end = ld->size };
	uint8_t digest[32];
	uint32_t v, i;

	ld->where = "image";
	if (cur_need(ld, &c, HEADER_SIZE))
		return ld->failed;
	if (memcmp(ld->data, "KBC\0", 4))
		return ld_err(ld, -EINVAL, "bad magic: not a K image");
	if (ld->data[4] != 1 || ld->data[5] != 0 || ld->data[6] != 0 ||
	    ld->data[7] != 0)
		return ld_err(ld, -EINVAL, "unsupported image version %u.%u",
			      ld->data[4] | ld->data[5] << 8,
			      ld->data[6] | ld->data[7] << 8);
	v = get_u32(ld->data + 8);
	if (v != ld->size)
		return ld_err(ld, -EINVAL,
			      "image size field %u does not match %zu bytes",
			      v, ld->size);
	if (get_u32(ld->data + 12))
		return ld_err(ld, -EINVAL, "reserved header field not 0");
	ksha256(ld->data + HEADER_SIZE, ld->size - HEADER_SIZE, digest);
	if (memcmp(digest, ld->data + 16, 32))
		return ld_err(ld, -EINVAL, "bad digest");
	memcpy(ld->img->digest, digest, 32);
	c.off = HEADER_SIZE;
	for (i = 0; i < NSECTIONS; i++) {
		struct kcur sec;
		uint32_t tag, len;

		ld->where = "image";
		if (rd_u32(ld, &c, &tag) || rd_u32(ld, &c, &len))
			return ld->failed;
		if (tag != i + 1)
			return ld_err(ld, -EINVAL,
				      "section %u: expected tag %u (%s), found %u",
				      i + 1, i + 1, section_names[i], tag);
		if (cur_need(ld, &c, len))
			return ld->failed;
		sec.off = c.off;
		sec.end = c.off + len;
		ld->where = section_names[i];
		if (parsers[i](ld, &sec))
			return ld->failed;
		if (sec.off != sec.end)
			return ld_err(ld, -EINVAL,
				      "%s section: %zu bytes left over at offset %zu",
				      section_names[i], sec.end - sec.off,
				      sec.off);
		c.off = sec.end;
	}
	if (c.off != c.end)
		return ld_err(ld, -EINVAL,
			      "%zu bytes after the last section at offset %zu",
			      c.end - c.off, c.off);
	return 0;
}

/* ---- linking the built-in library --------------------------------------- */

static uint32_t builtin_class_by_name(const char *name, size_t len)
{
	uint32_t i;

	for (i = 0; i < KP_ARRAY_SIZE(builtin_classes); i++) {
		const char *n = builtin_classes[i].name;

		if (strlen(n) == len && !memcmp(n, name, len))
			return builtin_classes[i].id;
	}
	return KIMG_NONE;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * One type of builtins.def's type syntax at *p (int, boolean, void, Any,
 * T, a built-in class, Array<X>, X[]); the strings are ours, so the
 * nesting is fixed and small.
 */
static uint32_t builtin_type(struct ld *ld, const char **p, int depth)
{
	const char *s = *p, *e;
	uint32_t t, cls;

	while (is_space(*s))
		s++;
	for (e = s; (*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
		    (*e >= '0' && *e <= '9') || *e == '_'; e++)
		;
	if (depth > 4 || e == s)
		goto bad;
	if (e - s == 5 && !memcmp(s, "Array", 5) && *e == '<') {
		e++;
		t = builtin_type(ld, &e, depth + 1);
		if (t == KIMG_NONE || *e != '>')
			goto bad;
		e++;
		t = t == TYPE_T ? TYPE_T : add_simple_type(ld, KT_ARRAY, t);
	} else if (e - s == 3 && !memcmp(s, "int", 3)) {
		t = ld->img->t_int;
	} else if (e - s == 7 && !memcmp(s, "boolean", 7)) {
		t = ld->img->t_bool;
	} else if (e - s == 4 && !memcmp(s, "void", 4)) {
		t = ld->img->t_void;
	} else if (e - s == 3 && !memcmp(s, "Any", 3)) {
		t = ld->img->t_any;
	} else if (e - s == 1 && *s == 'T') {
		t = TYPE_T;
	} else {
		cls = builtin_class_by_name(s, (size_t)(e - s));
		if (cls == KIMG_NONE)
			goto bad;
		t = add_simple_type(ld, KT_CLASS, cls);
	}
	while (t != KIMG_NONE && t != TYPE_T && e[0] == '[' && e[1] == ']') {
		t = add_simple_type(ld, KT_ARRAY, t);
		e += 2;
	}
	*p = e;
	return t;
bad:
	ld_err(ld, -EINVAL, "internal: bad type in builtins.def: %s", *p);
	return KIMG_NONE;
}

static int link_natives(struct ld *ld)
{
	struct kimg_priv *priv = ld->priv;
	uint32_t i, tp[MAX_NATIVE_PARAMS];

	for (i = 0; i < KN__COUNT; i++) {
		const struct native_def *d = &native_defs[i];
		struct native_sig *ns = &priv->natives[i];
		const char *p = d->sig;
		bool generic;
		uint32_t j;

		if (!strcmp(d->owner, "Array"))
			ns->owner = TYPE_T;
		else
			ns->owner = builtin_class_by_name(d->owner,
							  strlen(d->owner));
		ns->result = builtin_type(ld, &p, 0);
		if (ns->result == KIMG_NONE || *p++ != '(')
			return ld_err(ld, -EINVAL, "internal: bad signature %s",
				      d->sig);
		generic = ns->result == TYPE_T;
		while (is_space(*p))
			p++;
		while (*p != ')') {
			if (ns->nparams >= MAX_NATIVE_PARAMS)
				return ld_err(ld, -EINVAL,
					      "internal: bad signature %s", d->sig);
			ns->params[ns->nparams] = builtin_type(ld, &p, 0);
			if (ns->params[ns->nparams] == KIMG_NONE)
				return ld->failed;
			generic |= ns->params[ns->nparams] == TYPE_T;
			ns->nparams++;
			while (is_space(*p) || *p == ',')
				p++;
			if (!*p)
				return ld_err(ld, -EINVAL,
					      "internal: bad signature %s", d->sig);
		}
		ns->functype = KIMG_NONE;
		if (!generic) {
			struct ktype ft = {
				.kind = KT_FUNC, .result = ns->result,
				.nparams = ns->nparams, .params = tp,
			};

			for (j = 0; j < ns->nparams; j++)
				tp[j] = ns->params[j];
			ns->functype = add_type(ld, &ft);
			if (ns->functype == KIMG_NONE)
				return ld->failed;
		}
	}
	return 0;
}

/* Copies [s, e) into the arena as a NUL-terminated string. */
static const char *arena_strndup(struct ld *ld, const char *s, size_t n)
{
	char *d = arena_alloc(ld, n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int link_builtin_class(struct ld *ld, const struct builtin_class_def *d,
			      struct kclass *k)
{
	const struct kclass *sup = NULL;
	uint32_t nown = 0, i, nvt;
	const char *p;
	uint32_t *ftypes;
	const char **fnames;
	struct kmethod_ref *vt;
	const char **vtn;

	k->id = d->id;
	k->name = d->name;
	k->builtin = true;
	k->ctor_func = KIMG_NONE;
	k->ctor_native = d->ctor < 0 ? KIMG_NONE : (uint32_t)d->ctor;
	k->super = KIMG_NONE;
	if (d->super >= 0) {
		sup = get_class(ld->img, (uint32_t)d->super);
		if (!sup)
			return ld_err(ld, -EINVAL, "internal: builtin order");
		k->super = sup->id;
		k->depth = sup->depth + 1;
	}
	for (p = d->fields; *p; p++)
		nown += *p == ';';
	if (*d->fields)
		nown++;
	k->own_fields = sup ? sup->nfields : 0;
	k->nfields = k->own_fields + nown;
	ftypes = arena_array(ld, k->nfields, sizeof(*ftypes));
	fnames = arena_array(ld, k->nfields, sizeof(*fnames));
	if (!ftypes || !fnames)
		return ld->failed;
	for (i = 0; i < k->own_fields; i++) {
		ftypes[i] = sup->field_types[i];
		fnames[i] = sup->field_names[i];
	}
	p = d->fields;
	for (i = k->own_fields; i < k->nfields; i++) {
		const char *e;

		ftypes[i] = builtin_type(ld, &p, 0);
		if (ftypes[i] == KIMG_NONE)
			return ld->failed;
		while (is_space(*p))
			p++;
		for (e = p; *e && *e != ';' && !is_space(*e); e++)
			;
		fnames[i] = arena_strndup(ld, p, (size_t)(e - p));
		if (!fnames[i])
			return ld->failed;
		p = e;
		while (is_space(*p) || *p == ';')
			p++;
	}
	k->field_types = ftypes;
	k->field_names = fnames;
	nvt = sup ? sup->nvtable : 0;
	for (i = 0; i < KN__COUNT; i++)
		if (native_defs[i].slot >= 0 &&
		    !strcmp(native_defs[i].owner, d->name) &&
		    (uint32_t)native_defs[i].slot >= nvt)
			nvt = (uint32_t)native_defs[i].slot + 1;
	vt = arena_array(ld, nvt, sizeof(*vt));
	vtn = arena_array(ld, nvt, sizeof(*vtn));
	if (!vt || !vtn)
		return ld->failed;
	for (i = 0; i < nvt; i++) {
		vt[i].func = KIMG_NONE;
		vt[i].native = KIMG_NONE;
		vtn[i] = "";
		if (sup && i < sup->nvtable) {
			vt[i] = sup->vtable[i];
			vtn[i] = sup->vtable_names[i];
		}
	}
	for (i = 0; i < KN__COUNT; i++)
		if (native_defs[i].slot >= 0 &&
		    !strcmp(native_defs[i].owner, d->name)) {
			vt[native_defs[i].slot].native = i;
			vtn[native_defs[i].slot] = native_defs[i].name;
		}
	for (i = 0; i < nvt; i++)
		if (vt[i].native == KIMG_NONE)
			return ld_err(ld, -EINVAL, "internal: %s has a vtable gap",
				      d->name);
	k->nvtable = nvt;
	k->vtable = vt;
	k->vtable_names = vtn;
	return 0;
}

static int link_builtins(struct ld *ld)
{
	struct kimage *img = ld->img;
	struct kclass **classes;
	struct kclass *bk;
	uint32_t i;

	img->nclasses = ld->nscript_classes ?
			KIMG_FIRST_SCRIPT_CLASS + ld->nscript_classes :
			KC__BUILTIN_COUNT;
	classes = arena_array(ld, img->nclasses, sizeof(*classes));
	bk = arena_array(ld, KC__BUILTIN_COUNT, sizeof(*bk));
	if (!classes || !bk)
		return ld->failed;
	img->classes = (const struct kclass *const *)classes;
	/* Built-in classes exist before the types that name them. */
	for (i = 0; i < KP_ARRAY_SIZE(builtin_classes); i++)
		classes[builtin_classes[i].id] = &bk[i];

	img->t_int = add_simple_type(ld, KT_INT, 0);
	img->t_bool = add_simple_type(ld, KT_BOOL, 0);
	img->t_any = add_simple_type(ld, KT_ANY, 0);
	img->t_void = add_simple_type(ld, KT_VOID, 0);
	img->t_string = add_simple_type(ld, KT_CLASS, KC_String);
	img->t_string_array = add_simple_type(ld, KT_ARRAY, img->t_string);
	for (i = 0; i < KP_ARRAY_SIZE(builtin_classes); i++)
		if (add_simple_type(ld, KT_CLASS, builtin_classes[i].id) ==
		    KIMG_NONE)
			return ld->failed;
	if (ld->failed)
		return ld->failed;
	for (i = 0; i < KP_ARRAY_SIZE(builtin_classes); i++)
		if (link_builtin_class(ld, &builtin_classes[i], &bk[i]))
			return ld->failed;
	return link_natives(ld);
}

/* ---- verifying the tables --------------------------------------------------- */

static bool class_exists(const struct kimage *img, uint32_t id)
{
	return get_class(img, id) != NULL;
}

/* Class ids in class types, known only now. */
static int verify_type_classes(struct ld *ld)
{
	const struct kimage *img = ld->img;
	uint32_t i, id;

	for (i = 0; i < ld->priv->nimage_types; i++) {
		if (img->types[i].kind != KT_CLASS)
			continue;
		id = img->types[i].elem;
		if (id < KC__BUILTIN_COUNT)
			continue;
		if (id < KIMG_FIRST_SCRIPT_CLASS ||
		    id - KIMG_FIRST_SCRIPT_CLASS >= ld->nscript_classes)
			return ld_err(ld, -EINVAL,
				      "type %u: class %u does not exist", i, id);
	}
	return 0;
}

static bool func_is_member(const struct kfunc *f)
{
	return f->flags & (KFN_METHOD | KFN_CTOR);
}

/* Owner, flags, type and parameter registers of every function. */
static int verify_function_headers(struct ld *ld)
{
	struct kimage *img = ld->img;
	struct kfunc *funcs = (struct kfunc *)img->funcs;
	uint32_t i, j;

	for (i = 0; i < img->nfuncs; i++) {
		struct kfunc *f = &funcs[i];
		const struct ktype *ft;
		uint32_t self = 0;

		if (f->type >= ld->priv->nimage_types ||
		    img->types[f->type].kind != KT_FUNC)
			return ld_err(ld, -EINVAL,
				      "function %s: type %u is not a Func type",
				      f->name, f->type);
		ft = &img->types[f->type];
		if (f->flags & ~(KFN_METHOD | KFN_CTOR | KFN_INIT) ||
		    (f->flags & (f->flags - 1)))
			return ld_err(ld, -EINVAL, "function %s: bad flags %#x",
				      f->name, f->flags);
		if (func_is_member(f)) {
			if (f->owner < KIMG_FIRST_SCRIPT_CLASS ||
			    !class_exists(img, f->owner))
				return ld_err(ld, -EINVAL,
					      "function %s: owner %u is not a script class",
					      f->name, f->owner);
			self = 1;
		} else if (f->owner != KIMG_NONE) {
			return ld_err(ld, -EINVAL,
				      "function %s: owner %u but not a method or constructor",
				      f->name, f->owner);
		}
		if ((f->flags & KFN_INIT) && i != img->init_func)
			return ld_err(ld, -EINVAL,
				      "function %s: init flag on a function that is not the init",
				      f->name);
		if ((f->flags & (KFN_CTOR | KFN_INIT)) &&
		    img->types[ft->result].kind != KT_VOID)
			return ld_err(ld, -EINVAL,
				      "function %s: a %s must return void",
				      f->name, f->flags & KFN_CTOR ?
				      "constructor" : "init");
		f->nargs = ft->nparams + self;
		if (f->nregs < f->nargs)
			return ld_err(ld, -EINVAL,
				      "function %s: %u registers for %u arguments",
				      f->name, f->nregs, f->nargs);
		if (self && type_class(img, f->reg_types[0]) != f->owner)
			return ld_err(ld, -EINVAL,
				      "function %s: receiver register r0 has type %s, expected %s",
				      f->name, tname1(ld, f->reg_types[0]),
				      get_class(img, f->owner)->name);
		for (j = 0; j < ft->nparams; j++)
			if (f->reg_types[self + j] != ft->params[j])
				return ld_err(ld, -EINVAL,
					      "function %s: parameter register r%u has type %s, expected %s",
					      f->name, self + j,
					      tname1(ld, f->reg_types[self + j]),
					      tname2(ld, ft->params[j]));
	}
	if (img->funcs[img->init_func].flags != KFN_INIT ||
	    img->types[img->funcs[img->init_func].type].nparams)
		return ld_err(ld, -EINVAL,
			      "init function %s: must have the init flag and no parameters",
			      img->funcs[img->init_func].name);
	return 0;
}

/* LANGUAGE.md 4: Object, Exception and its subclasses, Device, earlier script classes. */
static bool extendable(uint32_t sup, uint32_t id)
{
	if (sup == KC_Object || (sup >= KC_Exception && sup <= KC_Device))
		return true;
	return sup >= KIMG_FIRST_SCRIPT_CLASS && sup < id;
}

/* Preorder numbers: a class is a subclass of C iff its number is in C's span. */
static int number_classes(struct ld *ld)
{
	struct kimg_priv *priv = ld->priv;
	const struct kimage *img = ld->img;
	uint32_t *next, i, n = img->nclasses, counter = 0;

	priv->class_pre = arena_array(ld, n, sizeof(uint32_t));
	priv->class_span = arena_array(ld, n, sizeof(uint32_t));
	next = arena_array(ld, n, sizeof(uint32_t));
	if (!priv->class_pre || !priv->class_span || !next)
		return ld->failed;
	/* supers have smaller ids: sizes bottom-up, numbers top-down */
	for (i = n; i-- > 0;) {
		if (!img->classes[i])
			continue;
		priv->class_span[i]++;
		if (img->classes[i]->super != KIMG_NONE)
			priv->class_span[img->classes[i]->super] +=
				priv->class_span[i];
	}
	for (i = 0; i < n; i++) {
		uint32_t s;

		if (!img->classes[i])
			continue;
		s = img->classes[i]->super;
		if (s == KIMG_NONE) {
			priv->class_pre[i] = counter;
			counter += priv->class_span[i];
		} else {
			priv->class_pre[i] = next[s];
			next[s] += priv->class_span[i];
		}
		next[i] = priv->class_pre[i] + 1;
	}
	return 0;
}

/* Supers of the script classes: valid, earlier, extendable. */
static int verify_class_supers(struct ld *ld, struct kclass *sc)
{
	struct kimage *img = ld->img;
	struct kclass **classes = (struct kclass **)img->classes;
	uint32_t i;

	for (i = 0; i < ld->nscript_classes; i++) {
		const struct raw_class *rc = &ld->raw[i];
		uint32_t id = KIMG_FIRST_SCRIPT_CLASS + i;

		sc[i].id = id;
		if (check_string(ld, rc->name, "class name"))
			return ld->failed;
		sc[i].name = str_of(img, rc->name);
		/* ids 0..12 exist already; later script classes not yet */
		if (!class_exists(img, rc->super) || !extendable(rc->super, id))
			return ld_err(ld, -EINVAL,
				      "class %s: cannot extend class %u",
				      sc[i].name, rc->super);
		sc[i].super = rc->super;
		sc[i].depth = get_class(img, rc->super)->depth + 1;
		classes[id] = &sc[i];
	}
	return number_classes(ld);
}

/* Small hash set of names, for unique vtable names. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static const char *method_name(const char *fname)
{
	const char *p;

	for (p = fname; *p; p++)
		if (*p == '.')
			return p + 1;
	return fname;
}

static int verify_class_body(struct ld *ld, struct kclass *k,
			     const struct raw_class *rc)
{
	struct kimage *img = ld->img;
	const struct kclass *sup = get_class(img, k->super);
	uint32_t i, *ftypes, *hash, hmask = 2 * LIM_VTABLE - 1;
	const char **fnames, **vtn;
	struct kmethod_ref *vt;
	const struct kfunc *ctor;

	if (sup->nfields + rc->nfields > LIM_FIELDS)
		return ld_err(ld, -E2BIG, "class %s: %u fields (limit %u)",
			      k->name, sup->nfields + rc->nfields, LIM_FIELDS);
	k->own_fields = sup->nfields;
	k->nfields = sup->nfields + rc->nfields;
	ftypes = arena_array(ld, k->nfields, sizeof(*ftypes));
	fnames = arena_array(ld, k->nfields, sizeof(*fnames));
	if (!ftypes || !fnames)
		return ld->failed;
	for (i = 0; i < sup->nfields; i++) {
		ftypes[i] = sup->field_types[i];
		fnames[i] = sup->field_names[i];
	}
	for (i = 0; i < rc->nfields; i++) {
		uint32_t t = rc->field_types[i];

		if (check_string(ld, rc->field_names[i], "field name"))
			return ld->failed;
		fnames[k->own_fields + i] = str_of(img, rc->field_names[i]);
		if (t >= ld->priv->nimage_types || img->types[t].kind == KT_VOID)
			return ld_err(ld, -EINVAL,
				      "class %s: field %s has bad type %u",
				      k->name, fnames[k->own_fields + i], t);
		ftypes[k->own_fields + i] = t;
	}
	k->field_types = ftypes;
	k->field_names = fnames;

	k->ctor_native = KIMG_NONE;
	k->ctor_func = rc->ctor;
	if (rc->ctor >= img->nfuncs)
		return ld_err(ld, -EINVAL,
			      "class %s: constructor %u out of range (%u functions)",
			      k->name, rc->ctor, img->nfuncs);
	ctor = &img->funcs[rc->ctor];
	if (!(ctor->flags & KFN_CTOR) || ctor->owner != k->id)
		return ld_err(ld, -EINVAL,
			      "class %s: constructor %s is not a constructor of the class",
			      k->name, ctor->name);

	if (rc->nvtable < sup->nvtable)
		return ld_err(ld, -EINVAL,
			      "class %s: vtable of %u slots is shorter than its superclass's %u",
			      k->name, rc->nvtable, sup->nvtable);
	vt = arena_array(ld, rc->nvtable, sizeof(*vt));
	vtn = arena_array(ld, rc->nvtable, sizeof(*vtn));
	hash = (uint32_t *)ld->scratch;
	if (!vt || !vtn)
		return ld->failed;
	memset(hash, 0xff, (hmask + 1) * sizeof(uint32_t));
	for (i = 0; i < rc->nvtable; i++) {
		uint32_t ref = rc->vtable[i], sig, h;

		vt[i].func = KIMG_NONE;
		vt[i].native = KIMG_NONE;
		if (ref & KIMG_NATIVE_REF) {
			uint32_t n = ref & ~KIMG_NATIVE_REF;

			if (n >= KN__COUNT || native_defs[n].slot < 0 ||
			    (uint32_t)native_defs[n].slot != i)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: native %u is not the built-in method of that slot",
					      k->name, i, n);
			if (i >= sup->nvtable || sup->vtable[i].native != n)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: native %s is not inherited",
					      k->name, i, native_defs[n].name);
			vt[i].native = n;
			vtn[i] = native_defs[n].name;
			sig = ld->priv->natives[n].functype;
		} else {
			const struct kfunc *f;

			if (ref >= img->nfuncs)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: function %u out of range (%u functions)",
					      k->name, i, ref, img->nfuncs);
			f = &img->funcs[ref];
			if (!(f->flags & KFN_METHOD) ||
			    !kimg_subclass(img, k->id, f->owner))
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: %s is not a method of the class or an ancestor",
					      k->name, i, f->name);
			vt[i].func = ref;
			vtn[i] = method_name(f->name);
			sig = f->type;
		}
		if (i < sup->nvtable) {
			const struct kmethod_ref *sr = &sup->vtable[i];
			uint32_t ssig = sr->native != KIMG_NONE ?
				ld->priv->natives[sr->native].functype :
				img->funcs[sr->func].type;

			if (sig != ssig)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: %s has type %s, the superclass's slot has %s",
					      k->name, i, vtn[i], tname1(ld, sig),
					      tname2(ld, ssig));
			if (strcmp(vtn[i], sup->vtable_names[i]))
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: %s overrides %s",
					      k->name, i, vtn[i],
					      sup->vtable_names[i]);
		}
		/* names are unique per vtable */
		for (h = name_hash(vtn[i]) & hmask; hash[h] != KIMG_NONE;
		     h = (h + 1) & hmask)
			if (!strcmp(vtn[hash[h]], vtn[i]))
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slots %u and %u are both named %s",
					      k->name, hash[h], i, vtn[i]);
		hash[h] = i;
	}
	k->nvtable = rc->nvtable;
	k->vtable = vt;
	k->vtable_names = vtn;
	return 0;
}

static int scratch_reserve(struct ld *ld, size_t n)
{
	if (ld->scratch_len >= n)
		return 0;
	kp_free(ld->scratch);
	ld->scratch_len = 0;
	ld->scratch = kp_zalloc(n);
	if (!ld->scratch)
		return ld_err(ld, -ENOMEM, "out of memory: %zu bytes", n);
	ld->scratch_len = n;
	return 0;
}

static int verify_classes(struct ld *ld, struct kclass *sc)
{
	uint32_t i;

	if (scratch_reserve(ld, 2 * LIM_VTABLE * sizeof(uint32_t)))
		return ld->failed;
	for (i = 0; i < ld->nscript_classes; i++)
		if (verify_class_body(ld, &sc[i], &ld->raw[i]))
			return ld->failed;
	return 0;
}

/* ---- verifying code ------------------------------------------------------------ */

/* What verify_insn needs about the instruction at hand. */
struct vinsn {
	const struct kfunc *f;
	uint32_t pc;
	int op;
	const int32_t *w;	/* operand words */
};

#define VERR(ld, v, fmt, ...) \
	ld_err(ld, -EINVAL, "function %s: pc %u: %s: " fmt, (v)->f->name, \
	       (v)->pc, op_names[(v)->op], ##__VA_ARGS__)

static uint32_t rtype(const struct vinsn *v, int32_t r)
{
	return v->f->reg_types[r];
}

static uint8_t rkind(const struct kimage *img, const struct vinsn *v, int32_t r)
{
	return img->types[rtype(v, r)].kind;
}

/* Register r has exactly type t. */
static int need_type(struct ld *ld, const struct vinsn *v, int32_t r,
		     uint32_t t)
{
	if (rtype(v, r) == t)
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected %s", r,
		    tname1(ld, rtype(v, r)), tname2(ld, t));
}

static int need_ref(struct ld *ld, const struct vinsn *v, int32_t r)
{
	if (v->f->reg_is_ref[r])
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected a reference",
		    r, tname1(ld, rtype(v, r)));
}

/* A value of type s flows into register r. */
static int need_into(struct ld *ld, const struct vinsn *v, uint32_t s,
		     int32_t r)
{
	if (kimg_assignable(ld->img, s, rtype(v, r)))
		return 0;
	return VERR(ld, v, "register r%d has type %s, cannot hold %s", r,
		    tname1(ld, rtype(v, r)), tname2(ld, s));
}

/* Register r flows into a slot of type t. */
static int need_from(struct ld *ld, const struct vinsn *v, int32_t r,
		     uint32_t t, const char *what)
{
	if (kimg_assignable(ld->img, rtype(v, r), t))
		return 0;
	return VERR(ld, v, "register r%d has type %s, expected %s for %s", r,
		    tname1(ld, rtype(v, r)), tname2(ld, t), what);
}

/* Registers of the same type, int or boolean. */
static int need_same_intbool(struct ld *ld, const struct vinsn *v,
			     int32_t a, int32_t b)
{
	uint8_t k = rkind(ld->img, v, a);

	if (k != KT_INT && k != KT_BOOL)
		return VERR(ld, v, "register r%d has type %s, expected int or boolean",
			    a, tname1(ld, rtype(v, a)));
	return need_type(ld, v, b, rtype(v, a));
}

/* Class of the class type in register r, else an error. */
static int need_class(struct ld *ld, const struct vinsn *v, int32_t r,
		      const struct kclass **out)
{
	uint32_t id = type_class(ld->img, rtype(v, r));

	if (id == KIMG_NONE)
		return VERR(ld, v, "register r%d has type %s, expected a class",
			    r, tname1(ld, rtype(v, r)));
	*out = get_class(ld->img, id);
	return 0;
}

static int need_array(struct ld *ld, const struct vinsn *v, int32_t r,
		      uint32_t *elem)
{
	const struct ktype *t = &ld->img->types[rtype(v, r)];

	if (t->kind != KT_ARRAY)
		return VERR(ld, v, "register r%d has type %s, expected an array",
			    r, tname1(ld, rtype(v, r)));
	*elem = t->elem;
	return 0;
}

/* Argument block R[b..b+n): in range, argument i typed <= params[i]. */
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
			    tname1(ld, result));
	return is_void ? 0 : need_into(ld, v, result, a);
}

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
			    tname1(ld, rtype(v, b)), get_class(ld->img, cls)->name);
	return 0;
}

/* Signature of vtable slot s of class k. */
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

static int verify_calln(struct ld *ld, const struct vinsn *v)
{
	const struct native_def *d = &native_defs[v->w[1]];
	const struct native_sig *ns = &ld->priv->natives[v->w[1]];
	int32_t a = v->w[0], b = v->w[2];
	uint32_t elem = KIMG_NONE;

	if (d->kind == NK_METHOD || d->kind == NK_CTOR) {
		if (b < 0 || (uint32_t)b >= v->f->nregs)
			return VERR(ld, v, "receiver register r%d out of range",
				    b);
		if (ns->owner == TYPE_T) {
			if (need_array(ld, v, b, &elem))
				return ld->failed;
		} else if (need_receiver(ld, v, b, ns->owner)) {
			return ld->failed;
		}
		b++;
	}
	if (need_args(ld, v, b, ns->nparams, ns->params, elem))
		return ld->failed;
	return need_result(ld, v, a,
			   ns->result == TYPE_T ? elem : ns->result);
}

static bool instantiable(uint32_t c)
{
	return c == KC_Object || (c >= KC_Exception && c <= KC_Device) ||
	       c >= KIMG_FIRST_SCRIPT_CLASS;
}

/* The typing rule of one instruction whose operands are in range. */
static int verify_insn(struct ld *ld, struct vinsn *v, uint8_t *ic_used)
{
	struct kimage *img = ld->img;
	const int32_t *w = v->w;
	const struct kclass *k;
	const struct ktype *t;
	uint32_t elem, sig, x;

	switch (v->op) {
	case KOP_NOP:
	case KOP_JMP:
		return 0;
	case KOP_MOV:
		return need_into(ld, v, rtype(v, w[1]), w[0]);
	case KOP_LOADI:
		if (rtype(v, w[0]) == img->t_bool) {
			if (w[1] != 0 && w[1] != 1)
				return VERR(ld, v, "immediate %d is not a boolean",
					    w[1]);
			return 0;
		}
		return need_type(ld, v, w[0], img->t_int);
	case KOP_LOADK:
		return need_type(ld, v, w[0], img->consts[w[1]].kind == 1 ?
				 img->t_int : img->t_string);
	case KOP_LOADNULL:
		return need_ref(ld, v, w[0]);
	case KOP_LOADFN:
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
	case KOP_CAST:
		if (!type_is_ref(img, (uint32_t)w[2]))
			return VERR(ld, v, "type %s is not a reference type",
				    tname1(ld, (uint32_t)w[2]));
		if (need_type(ld, v, w[0], (uint32_t)w[2]))
			return ld->failed;
		return need_ref(ld, v, w[1]);
	case KOP_INSTOF:
		if (img->types[w[2]].kind == KT_VOID)
			return VERR(ld, v, "instanceof void");
		if (need_type(ld, v, w[0], img->t_bool))
			return ld->failed;
		return need_ref(ld, v, w[1]);
	case KOP_NEW:
		if (!instantiable((uint32_t)w[1]))
			return VERR(ld, v, "class %s cannot be instantiated",
				    get_class(img, (uint32_t)w[1])->name);
		if (type_class(img, rtype(v, w[0])) != (uint32_t)w[1])
			return VERR(ld, v, "register r%d has type %s, expected %s",
				    w[0], tname1(ld, rtype(v, w[0])),
				    get_class(img, (uint32_t)w[1])->name);
		return 0;
	case KOP_GETF:
	case KOP_SETF:
		x = v->op == KOP_GETF ? 1 : 0;
		if (need_class(ld, v, w[x], &k))
			return ld->failed;
		if (w[x + 1] < 0 || (uint32_t)w[x + 1] >= k->nfields)
			return VERR(ld, v, "class %s has no field %d", k->name,
				    w[x + 1]);
		if (v->op == KOP_GETF)
			return need_into(ld, v, k->field_types[w[2]], w[0]);
		return need_from(ld, v, w[2], k->field_types[w[1]], "the field");
	case KOP_NEWARR:
	case KOP_NEWARRV:
		t = &img->types[w[1]];
		if (t->kind != KT_ARRAY)
			return VERR(ld, v, "type %s is not an array type",
				    tname1(ld, (uint32_t)w[1]));
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
	case KOP_CALL: {
		const struct kfunc *g = &img->funcs[w[1]];
		int32_t b = w[2];

		t = &img->types[g->type];
		if (g->flags & KFN_INIT)
			return VERR(ld, v, "cannot call the init");
		if (func_is_member(g)) {
			if (need_receiver(ld, v, b, g->owner))
				return ld->failed;
			b++;
		}
		if (need_args(ld, v, b, t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	}
	case KOP_CALLV:
		if (need_class(ld, v, w[2], &k) || slot_sig(ld, v, k, w[1], &sig))
			return ld->failed;
		t = &img->types[sig];
		if (need_args(ld, v, w[2] + 1, t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	case KOP_CALLN:
		return verify_calln(ld, v);
	case KOP_CALLF:
		t = &img->types[rtype(v, w[1])];
		if (t->kind != KT_FUNC)
			return VERR(ld, v, "register r%d has type %s, expected a Func type",
				    w[1], tname1(ld, rtype(v, w[1])));
		if (need_args(ld, v, w[2], t->nparams, t->params, KIMG_NONE))
			return ld->failed;
		return need_result(ld, v, w[0], t->result);
	case KOP_CALLA:
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
	case KOP_RET:
		t = &img->types[v->f->type];
		if (img->types[t->result].kind == KT_VOID)
			return VERR(ld, v, "returning a value from a void function");
		return need_from(ld, v, w[0], t->result, "the result");
	case KOP_RETV:
		t = &img->types[v->f->type];
		if (img->types[t->result].kind != KT_VOID)
			return VERR(ld, v, "no value returned from a function returning %s",
				    tname1(ld, t->result));
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

/* Operand index of a register that starts an argument block (may be empty). */
static int arg_block_operand(int op)
{
	switch (op) {
	case KOP_CALL:
	case KOP_CALLN:
	case KOP_CALLF:
	case KOP_NEWARRV:
		return 2;
	case KOP_CALLA:
		return 4;
	default:
		return -1;
	}
}

static bool is_start(const uint8_t *starts, uint32_t pc)
{
	return starts[pc / 8] & (1u << (pc % 8));
}

/* Operand ranges by letter (opcodes.def). */
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
					v->op == KOP_CALLA))
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
			if (!class_exists(img, u))
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

static int verify_function(struct ld *ld, const struct kfunc *f)
{
	struct kimage *img = ld->img;
	struct vinsn v = { .f = f };
	size_t start_bytes = ((size_t)f->ncode + 7) / 8;
	uint8_t *starts, *ic_used;
	uint32_t pc, i, last = 0;

	if (!f->ncode)
		return ld_err(ld, -EINVAL, "function %s: no code", f->name);
	if (scratch_reserve(ld, start_bytes + ((size_t)f->nics + 7) / 8))
		return ld->failed;
	starts = ld->scratch;
	ic_used = starts + start_bytes;
	memset(starts, 0, start_bytes + ((size_t)f->nics + 7) / 8);
	for (pc = 0; pc < f->ncode; pc += 1 + (uint32_t)strlen(op_operands[last])) {
		int32_t op = f->code[pc];

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
	for (pc = 0; pc < f->ncode; pc += 1 + (uint32_t)strlen(op_operands[v.op])) {
		v.pc = pc;
		v.op = f->code[pc];
		v.w = f->code + pc + 1;
		if (verify_operands(ld, &v, starts) ||
		    verify_insn(ld, &v, ic_used))
			return ld->failed;
	}
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
		    !kimg_subclass(img, cls, type_class(img, rt)))
			return ld_err(ld, -EINVAL,
				      "function %s: handler %u: register r%u has type %s, cannot hold %s",
				      f->name, i, h->reg, tname1(ld, rt),
				      get_class(img, cls)->name);
	}
	for (i = 0; i < f->nlines; i++) {
		if (f->lines[i].pc > f->ncode ||
		    (i && f->lines[i].pc < f->lines[i - 1].pc))
			return ld_err(ld, -EINVAL,
				      "function %s: line entry %u: pc %u out of order or range",
				      f->name, i, f->lines[i].pc);
	}
	return 0;
}

static int verify_image(struct ld *ld)
{
	struct kclass *sc;
	uint32_t i;

	if (verify_type_classes(ld) || link_builtins(ld))
		return ld->failed;
	sc = arena_array(ld, ld->nscript_classes, sizeof(*sc));
	if (!sc || verify_class_supers(ld, sc) ||
	    verify_function_headers(ld) || verify_classes(ld, sc))
		return ld->failed;
	for (i = 0; i < ld->img->nfuncs; i++)
		if (verify_function(ld, &ld->img->funcs[i]))
			return ld->failed;
	return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

int kimg_load(const uint8_t *data, size_t size, struct kimage **out,
	      char *err, size_t errlen)
{
	struct ld *ld;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	ld = kp_zalloc(sizeof(*ld));
	if (!ld) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ld->err = err;
	ld->errlen = errlen;
	ld->data = data;
	ld->size = size;
	ld->where = "image";
	if (size > LIM_IMAGE) {
		ret = ld_err(ld, -E2BIG, "image too large: %zu bytes (limit %u)",
			     size, LIM_IMAGE);
		goto out_free_ld;
	}
	ld->priv = arena_alloc(ld, sizeof(*ld->priv));
	if (!ld->priv) {
		ret = ld->failed;
		goto out_free_ld;
	}
	ld->img = &ld->priv->img;
	ret = parse_image(ld);
	if (!ret)
		ret = verify_image(ld);
	if (ret) {
		arena_free_all(ld->arena);
		goto out_free_ld;
	}
	ld->img->arena = ld->arena;
	ld->img->arena_size = ld->arena_total;
	*out = ld->img;
out_free_ld:
	kp_free(ld->scratch);
	kp_free(ld);
	return ret;
}

void kimg_free(struct kimage *img)
{
	if (img)
		arena_free_all(img->arena);
}
