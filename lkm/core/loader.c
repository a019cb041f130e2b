// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - kimg_load() and kimg_free(), and what every pass of the
 * loader shares: the first-error sink, the arena, the scratch buffer and
 * the type table with its queries (kimg_find_type, kimg_assignable, ...),
 * which the interpreter uses after loading too.
 *
 * An image (lkm/image.md) is parsed (read.c), linked with the built-in
 * classes of builtins.def and its tables checked (link.c), and its code
 * verified instruction by instruction (verify.c), all before anything
 * runs.  loader.h says what the passes share and in which order they run.
 *
 * The bytes come from users: every read goes through a cursor that knows
 * how many bytes are left, every count is checked against the limits of
 * image.md (and against the bytes left) before anything is allocated, and
 * every allocation comes from one arena that kimg_free() releases as a
 * whole, so a failure at any point frees everything.  No recursion on
 * input-controlled depth, small stack frames: this code runs in the
 * kernel too.
 */
#include "loader.h"

/* ---- the arena ------------------------------------------------------------ */

/*
 * A chunk header, followed by size bytes of which used are handed out.
 * Chunks come zeroed from kp_zalloc() and nothing is freed before the
 * whole list is, so every allocation is zeroed.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	size_t pad;		/* keeps the data 16-byte aligned */
};

/* Most images fit a few chunks; bigger tables get chunks of their own. */
#define ARENA_CHUNK	(64u << 10)

/* err may be NULL: the code is still recorded, the message dropped. */
int ld_err(struct ld *ld, int code, const char *fmt, ...)
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

/*
 * Sizes round up to 16 bytes, so every block stays aligned like the
 * chunk data.  A block larger than a chunk gets a chunk of its own, linked
 * behind the current one so that the small ones keep filling it.  No
 * block may pass 1 GiB: the rounding cannot overflow, and no count the
 * limits allow comes near it (an image is at most 16 MiB).
 */
void *ld_alloc(struct ld *ld, size_t n)
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

/* Frees a whole chunk list: a failed load's or a loaded image's. */
static void arena_free_all(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *next = c->next;

		kp_free(c);
		c = next;
	}
}

/*
 * n elements of size sz, zeroed; n * sz cannot overflow (bounded counts).
 * An empty table still gets a (1-byte) block, so that NULL always means
 * a failure and callers need not tell the two apart.
 */
void *ld_array(struct ld *ld, size_t n, size_t sz)
{
	if (n && sz > (((size_t)1 << 30) / n)) {
		ld_err(ld, -ENOMEM, "out of memory: %zu x %zu bytes", n, sz);
		return NULL;
	}
	return ld_alloc(ld, n && sz ? n * sz : 1);
}

/*
 * The scratch buffer is reused across functions and classes, grown only
 * when too small; it is kp_zalloc'ed apart from the arena (it does not
 * outlive kimg_load()), so a grown buffer starts zeroed but a reused one
 * does not: callers clear what they use.
 */
int ld_scratch_reserve(struct ld *ld, size_t n)
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

/* ---- types ------------------------------------------------------------------ */

/*
 * The type table holds the image's types (indexes below nimage_types,
 * which the code may name) and, after them, the types the loader adds for
 * the built-in library and the well-known ones; type_cap leaves room for
 * EXTRA_TYPES of those.  Every type appears once (type_hash finds equal
 * ones), so two types are equal iff their indexes are.
 */

/* Reference types live in reference registers, which the GC scans. */
bool ld_type_is_ref(const struct kimage *img, uint32_t t)
{
	uint8_t k;

	if (t >= img->ntypes)
		return false;
	k = img->types[t].kind;
	return k != KT_INT && k != KT_BOOL && k != KT_VOID;
}

/* FNV-1a over a type's structure; the table is open-addressed. */
static uint32_t type_hash(const struct ktype *t)
{
	uint32_t h = 2166136261u, i;

	h = (h ^ t->kind) * 16777619u;
	if (t->kind == KT_CLASS || t->kind == KT_ARRAY ||
	    t->kind == KT_IFACE || t->kind == KT_MAP)
		h = (h ^ t->elem) * 16777619u;
	if (t->kind == KT_MAP)
		h = (h ^ t->result) * 16777619u;
	if (t->kind == KT_FUNC) {
		h = (h ^ t->result) * 16777619u;
		h = (h ^ t->nparams) * 16777619u;
		for (i = 0; i < t->nparams; i++)
			h = (h ^ t->params[i]) * 16777619u;
	}
	return h ^ (h >> 15);
}

/*
 * Structural equality, one level deep: component types are compared by
 * index, which is enough because they are interned already (a type names
 * only earlier types, or the loader added them first).
 */
static bool type_equal(const struct ktype *a, const struct ktype *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case KT_CLASS:
	case KT_ARRAY:
	case KT_IFACE:
		return a->elem == b->elem;
	case KT_MAP:
		return a->elem == b->elem && a->result == b->result;
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

/*
 * Linear probing from the hash; the table is never full (see
 * ld_type_hash_insert), so the loop ends at an empty slot.  No hash yet
 * (the types section not read) finds nothing.
 */
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

/* The table has a free slot: its mask is at least twice type_cap. */
void ld_type_hash_insert(struct kimg_priv *priv, uint32_t idx)
{
	uint32_t h = type_hash(&priv->img.types[idx]) & priv->type_hash_mask;

	while (priv->type_hash[h] != KIMG_NONE)
		h = (h + 1) & priv->type_hash_mask;
	priv->type_hash[h] = idx;
}

/*
 * Index of a type equal to t, appended (loader type) when absent.  t may
 * live on the caller's stack: its parameter list is copied to the arena.
 * KIMG_NONE with ld->failed set when no room or memory is left.
 */
uint32_t ld_add_type(struct ld *ld, const struct ktype *t)
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
		params = ld_array(ld, t->nparams, sizeof(*params));
		if (!params)
			return KIMG_NONE;
		memcpy(params, t->params, t->nparams * sizeof(*params));
		types[idx].params = params;
	}
	priv->img.ntypes++;
	ld_type_hash_insert(priv, idx);
	return idx;
}

/* A type without parameters: int, boolean, ..., a class or an array. */
uint32_t ld_add_simple_type(struct ld *ld, uint8_t kind, uint32_t elem)
{
	struct ktype t = { .kind = kind, .elem = elem };

	return ld_add_type(ld, &t);
}

/* Class id of a class type, or KIMG_NONE. */
uint32_t ld_type_class(const struct kimage *img, uint32_t t)
{
	if (t < img->ntypes && img->types[t].kind == KT_CLASS)
		return img->types[t].elem;
	return KIMG_NONE;
}

/* The class of id, or NULL for ids of the gap before the script classes. */
const struct kclass *ld_get_class(const struct kimage *img, uint32_t id)
{
	if (id >= img->nclasses)
		return NULL;
	return img->classes[id];
}

/*
 * O(1) by the preorder numbering of link.c: sub is below cls iff its
 * number falls in cls's span.  Before the numbering (class_pre NULL) only
 * a class itself counts.
 */
bool kimg_subclass(const struct kimage *img, uint32_t sub, uint32_t cls)
{
	const struct kimg_priv *priv = PRIV(img);

	if (!ld_get_class(img, sub) || !ld_get_class(img, cls))
		return false;
	if (sub == cls)
		return true;
	if (!priv->class_pre)
		return false;
	return priv->class_pre[sub] > priv->class_pre[cls] &&
	       priv->class_pre[sub] - priv->class_pre[cls] <
	       priv->class_span[cls];
}

/*
 * (1.1) Binary search of a class's sorted implemented interfaces.  Before
 * link.c has filled them (nimpl 0) a class implements nothing.
 */
const struct kimpl *kimg_find_impl(const struct kimage *img, uint32_t cls,
				   uint32_t iface)
{
	const struct kclass *k = ld_get_class(img, cls);
	uint32_t lo = 0, hi;

	if (!k)
		return NULL;
	hi = k->nimpl;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (k->impl[mid].iface == iface)
			return &k->impl[mid];
		if (k->impl[mid].iface < iface)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* (1.1) Whether interface sub is sup or extends it (supers is sorted). */
static bool iface_extends(const struct kimage *img, uint32_t sub, uint32_t sup)
{
	const struct kiface *it;
	uint32_t lo = 0, hi;

	if (sub >= img->nifaces || !img->ifaces[sub].supers)
		return sub == sup;
	it = &img->ifaces[sub];
	hi = it->nsupers;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (it->supers[mid] == sup)
			return true;
		if (it->supers[mid] < sup)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Assignability is identity, any reference into Any, and subclassing
 * between class types: arrays and function types are invariant.  (1.1) A
 * class type is assignable to the interfaces its class implements, an
 * interface type to those it extends and to Object (the language
 * reference §3).
 */
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
		return ld_type_is_ref(img, s);
	if (ts->kind == KT_CLASS && tt->kind == KT_CLASS)
		return kimg_subclass(img, ts->elem, tt->elem);
	if (tt->kind == KT_IFACE && ts->kind == KT_CLASS)
		return kimg_find_impl(img, ts->elem, tt->elem) != NULL;
	if (tt->kind == KT_IFACE && ts->kind == KT_IFACE)
		return iface_extends(img, ts->elem, tt->elem);
	if (ts->kind == KT_IFACE && tt->kind == KT_CLASS)
		return tt->elem == KC_Object;
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

/*
 * Array and function types may nest as deep as the image likes; names
 * print "..." below this depth so that the recursion stays bounded.
 * The work is bounded too: a name stops growing when its buffer is full
 * (a function type may have 4096 parameters, each of a function type:
 * without that stop, naming one nested six deep would take 4096^6
 * steps, in the verifier or in a cast's message at run time).
 */
#define TYPE_NAME_DEPTH 6

static void type_name_rec(const struct kimage *img, uint32_t t, char *buf,
			  size_t len, size_t *pos, int depth)
{
	const struct ktype *ty;
	const struct kclass *cls;
	uint32_t i;

	if (*pos + 1 >= len)
		return;		/* the buffer is full: nothing more shows */
	if (t >= img->ntypes) {
		name_put(buf, len, pos, t == TYPE_T ? "T" : "<bad type>");
		return;
	}
	ty = &img->types[t];
	if (depth > TYPE_NAME_DEPTH &&
	    (ty->kind == KT_ARRAY || ty->kind == KT_FUNC ||
	     ty->kind == KT_MAP)) {
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
		cls = ld_get_class(img, ty->elem);
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
		for (i = 0; i < ty->nparams && *pos + 1 < len; i++) {
			if (i)
				name_put(buf, len, pos, ", ");
			type_name_rec(img, ty->params[i], buf, len, pos,
				      depth + 1);
		}
		name_put(buf, len, pos, ")>");
		break;
	case KT_MAP:	/* canonical, as in messages: Map<String, int> */
		name_put(buf, len, pos, "Map<");
		type_name_rec(img, ty->elem, buf, len, pos, depth + 1);
		name_put(buf, len, pos, ", ");
		type_name_rec(img, ty->result, buf, len, pos, depth + 1);
		name_put(buf, len, pos, ">");
		break;
	case KT_IFACE:	/* (1.1) */
		name_put(buf, len, pos, ty->elem < img->nifaces ?
			 img->ifaces[ty->elem].name : "<bad interface>");
		break;
	default:
		name_put(buf, len, pos, "<bad type>");
	}
}

/*
 * Writes the name of type into buf (len bytes, NUL-terminated, cut when
 * too long) and returns its length.  For messages of the loader and of
 * the running VM (casts); an index out of the table names "<bad type>".
 */
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

/*
 * Two buffers, so that one message can name two types; each call
 * overwrites its own buffer, valid until the next call of the same one.
 */
const char *ld_tname1(struct ld *ld, uint32_t t)
{
	kimg_type_name(ld->img, t, ld->tn1, sizeof(ld->tn1));
	return ld->tn1;
}

const char *ld_tname2(struct ld *ld, uint32_t t)
{
	kimg_type_name(ld->img, t, ld->tn2, sizeof(ld->tn2));
	return ld->tn2;
}

/* ---- the passes ---------------------------------------------------------- */

/*
 * Everything after reading.  The order matters: class ids in types are
 * checked against the raw class count before the built-in classes are
 * added (which appends types of them); the supers of the script classes,
 * which enter them into the class table and number it for
 * kimg_subclass(), before the function headers (which name their owner
 * classes); the class bodies (fields, vtables) before the code, which
 * reads them.
 */
static int verify_image(struct ld *ld)
{
	const struct kmethod_ref **vt;
	struct kclass *sc;
	uint32_t i;

	if (ld_verify_type_classes(ld) || ld_link_builtins(ld))
		return ld->failed;
	sc = ld_array(ld, ld->nscript_classes, sizeof(*sc));
	if (!sc || ld_verify_class_supers(ld, sc) ||
	    ld_verify_function_headers(ld) || ld_link_ifaces(ld) ||
	    ld_verify_classes(ld, sc))
		return ld->failed;
	vt = ld_array(ld, ld->img->nclasses, sizeof(*vt));
	if (!vt)
		return ld->failed;
	for (i = 0; i < ld->img->nclasses; i++)
		if (ld->img->classes[i])
			vt[i] = ld->img->classes[i]->vtable;
	ld->img->vtables = vt;
	for (i = 0; i < ld->img->nfuncs; i++)
		if (ld_verify_function(ld, &ld->img->funcs[i]))
			return ld->failed;
	/*
	 * Only now: LOADFN's rule reads the flags of the function it names,
	 * which must stay the image's until every function is verified.
	 */
	for (i = 0; i < ld->img->nfuncs; i++) {
		struct kfunc *f = (struct kfunc *)&ld->img->funcs[i];

		if (ld_func_keeps_file(ld, f))
			f->flags |= KFN_KEEPS_FILE;
		if (ld_func_keeps_stream(ld, f))
			f->flags |= KFN_KEEPS_STREAM;
	}
	return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

/*
 * The contract is in kimage.h.  The caller keeps data: everything the
 * image needs (strings, code, tables) is copied into the arena, so data
 * may be freed once this returns.  The struct ld and the scratch buffer
 * are freed on both paths; only the arena is handed to the image.
 */
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
	ld->priv = ld_alloc(ld, sizeof(*ld->priv));
	if (!ld->priv) {
		ret = ld->failed;
		goto out_free_ld;
	}
	ld->img = &ld->priv->img;
	ret = ld_read_image(ld);
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

/*
 * Frees an image of kimg_load() (NULL allowed) in one sweep over the
 * arena: struct kimage itself lives in it.  No VM may still use it.
 */
void kimg_free(struct kimage *img)
{
	if (img)
		arena_free_all(img->arena);
}
