// SPDX-License-Identifier: GPL-2.0
/*
 * read.c - the loader's first pass: the header and the seven sections of
 * an image (lkm/image.md), and (1.1) the optional interfaces section, into
 * the tables of struct kimage.
 *
 * Every byte is read through a cursor (struct kcur) bounded by its
 * section, so nothing here can read outside [data, data + size) whatever
 * the bytes say.  Every count is checked, before anything is allocated
 * for it, against its limit and against the bytes its entries need at
 * least: an image cannot make the loader allocate much more than its own
 * size.  A section may refer only to earlier sections (and a type only to
 * earlier types), so the reads need no fixups; what crosses sections the
 * other way (class ids in types, for one) is left to link.c.
 */
#include "loader.h"

/* ---- the cursor ------------------------------------------------------------- */

/* A window [off, end) of ld->data; end never exceeds ld->size. */
struct kcur {
	size_t off, end;	/* into ld->data */
};

/* At least n bytes left, else the truncation error. */
static int cur_need(struct ld *ld, const struct kcur *c, size_t n)
{
	if (c->end - c->off >= n)
		return 0;
	return ld_err(ld, -EINVAL,
		      "truncated %s: need %zu bytes at offset %zu, %zu left",
		      ld->where, n, c->off, c->end - c->off);
}

/*
 * The readers: 0 with the value stored and the cursor past it, or
 * ld->failed after the truncation error, with neither touched.  Values
 * are little-endian whatever the host (image.md, "Header").
 */
static int rd_u8(struct ld *ld, struct kcur *c, uint8_t *v)
{
	if (cur_need(ld, c, 1))
		return ld->failed;
	*v = ld->data[c->off++];
	return 0;
}

/* Little-endian, any alignment; the caller has checked the bounds. */
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

/* n u32 words into a new arena array (bounds checked first). */
static uint32_t *rd_u32_array(struct ld *ld, struct kcur *c, uint32_t n)
{
	uint32_t *a, i;

	if (cur_need(ld, c, (size_t)n * 4))
		return NULL;
	a = ld_array(ld, n, sizeof(*a));
	if (!a)
		return NULL;
	for (i = 0; i < n; i++)
		a[i] = get_u32(ld->data + c->off + (size_t)i * 4);
	c->off += (size_t)n * 4;
	return a;
}

/* ---- parsing the sections ------------------------------------------------- */

/* Section i has tag i + 1; they come in this order, each exactly once. */
static const char *const section_names[NSECTIONS] = {
	"strings", "constants", "types", "classes", "globals", "functions",
	"meta",
};

/* No bound check here: see ld_check_string(). */
const char *ld_str_of(const struct kimage *img, uint32_t s)
{
	return (const char *)img->strings[s].bytes;
}

/* String index s in range, else an error naming what it is for. */
int ld_check_string(struct ld *ld, uint32_t s, const char *what)
{
	if (s >= ld->img->nstrings)
		return ld_err(ld, -EINVAL, "%s: string %u out of range (%u strings)",
			      what, s, ld->img->nstrings);
	return 0;
}

/*
 * Strings are copied out of the image with a NUL added, so that the rest
 * of the VM may use them as C strings (a string with a NUL inside simply
 * reads short there); len keeps the full length.
 */
static int parse_strings(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kstr_lit *strs;
	uint32_t n, i, len;
	uint8_t *copy;

	/* a string is at least its u32 length */
	if (rd_count(ld, c, &n, LIM_TABLE, 4, "strings"))
		return ld->failed;
	strs = ld_array(ld, n, sizeof(*strs));
	if (!strs)
		return ld->failed;
	for (i = 0; i < n; i++) {
		if (rd_u32(ld, c, &len))
			return ld->failed;
		/* the bound of one copy; the image size bounds them all */
		if (len > LIM_STRING)
			return ld_err(ld, -E2BIG,
				      "string %u too long: %u bytes (limit %u)",
				      i, len, LIM_STRING);
		if (cur_need(ld, c, len))
			return ld->failed;
		copy = ld_alloc(ld, (size_t)len + 1);
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

/*
 * Constants: kind 1 is an int (i64), kind 2 a string index, 5 bytes at
 * least.  The string index is checked here since strings come first; the
 * VM makes one String object per string constant (vm->kstrings).
 */
static int parse_constants(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kconst *k;
	uint32_t n, i;

	if (rd_count(ld, c, &n, LIM_TABLE, 5, "constants"))
		return ld->failed;
	k = ld_array(ld, n, sizeof(*k));
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

/*
 * (1.1) Map<K, V>.keys() and values() make an Array<K> and an Array<V>,
 * whose types the image must hold too (image.md): the natives then find
 * them, and the verifier types their results, without adding types.
 */
static int map_arrays_present(struct ld *ld)
{
	const struct kimage *img = ld->img;
	uint32_t i;

	for (i = 0; i < img->ntypes; i++) {
		const struct ktype *t = &img->types[i];
		struct ktype ak = { .kind = KT_ARRAY, .elem = t->elem };
		struct ktype av = { .kind = KT_ARRAY, .elem = t->result };

		if (t->kind != KT_MAP)
			continue;
		if (kimg_find_type(img, &ak) == KIMG_NONE ||
		    kimg_find_type(img, &av) == KIMG_NONE)
			return ld_err(ld, -EINVAL,
				      "type %u: the image lacks the array types of its keys and values",
				      i);
	}
	return 0;
}

/*
 * Types may name only earlier types (class types aside: class ids are
 * checked by link.c once the classes are read), so the table is acyclic
 * and can be built in one pass.  Duplicates are refused: type equality is
 * index equality for the verifier.  The table and its hash are sized for
 * EXTRA_TYPES more, which link.c adds.
 */
static int parse_types(struct ld *ld, struct kcur *c)
{
	struct kimg_priv *priv = ld->priv;
	struct kimage *img = ld->img;
	struct ktype *types;
	uint32_t n, i, j, hsize;

	if (rd_count(ld, c, &n, LIM_TABLE, 1, "types"))
		return ld->failed;
	/*
	 * A power-of-two hash at most half full (64 slots at least), so an
	 * open-addressing probe always ends at an empty slot (0xff bytes:
	 * KIMG_NONE).
	 */
	priv->type_cap = n + EXTRA_TYPES;
	types = ld_array(ld, priv->type_cap, sizeof(*types));
	if (!types)
		return ld->failed;
	for (hsize = 64; hsize < 2 * priv->type_cap; hsize *= 2)
		;
	priv->type_hash = ld_array(ld, hsize, sizeof(uint32_t));
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
		case KT_IFACE:	/* (1.1) the index, with the interfaces */
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
			/* a void result is allowed, a void parameter not */
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
		case KT_MAP:	/* (1.1) key in elem, value in result */
			if (rd_u32(ld, c, &t->elem) || rd_u32(ld, c, &t->result))
				return ld->failed;
			if (t->elem >= i || t->result >= i)
				return ld_err(ld, -EINVAL,
					      "type %u: key or value type is not an earlier type",
					      i);
			if (types[t->elem].kind == KT_VOID ||
			    types[t->result].kind == KT_VOID)
				return ld_err(ld, -EINVAL,
					      "type %u: map of void", i);
			break;
		default:
			return ld_err(ld, -EINVAL, "type %u: bad kind %u", i,
				      t->kind);
		}
		/* the hash holds types 0..i-1: t is compared with those */
		if (kimg_find_type(img, t) != KIMG_NONE)
			return ld_err(ld, -EINVAL,
				      "type %u: duplicate of type %u", i,
				      kimg_find_type(img, t));
		img->ntypes = i + 1;
		ld_type_hash_insert(priv, i);
	}
	priv->nimage_types = n;
	return map_arrays_present(ld);
}

/*
 * Script classes, raw: their names, supers, fields and vtables refer to
 * strings, types, classes and functions that link.c checks, once the
 * built-in classes and all the functions exist.
 */
static int parse_classes(struct ld *ld, struct kcur *c)
{
	uint32_t n, i;

	/* name, super, nfields, ctor and nvtable: 20 bytes at least */
	if (rd_count(ld, c, &n, LIM_CLASSES, 20, "classes"))
		return ld->failed;
	ld->raw = ld_array(ld, n, sizeof(*ld->raw));
	if (!ld->raw)
		return ld->failed;
	for (i = 0; i < n; i++) {
		struct raw_class *rc = &ld->raw[i];
		uint32_t j;

		if (rd_u32(ld, c, &rc->name) || rd_u32(ld, c, &rc->super))
			return ld->failed;
		if (rd_count(ld, c, &rc->nfields, LIM_FIELDS, 8, "fields"))
			return ld->failed;
		rc->field_names = ld_array(ld, rc->nfields, 4);
		rc->field_types = ld_array(ld, rc->nfields, 4);
		if (!rc->field_names || !rc->field_types)
			return ld->failed;
		/* arena memory: const only for link.c, which reads it */
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

/*
 * Globals: a name and a type of the file (not void).  is_ref is computed
 * once here: the collector reads it to know which globals to mark.
 */
static int parse_globals(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kglobal *g;
	uint32_t n, i, name;

	if (rd_count(ld, c, &n, LIM_TABLE, 8, "globals"))
		return ld->failed;
	g = ld_array(ld, n, sizeof(*g));
	if (!g)
		return ld->failed;
	for (i = 0; i < n; i++) {
		if (rd_u32(ld, c, &name) || rd_u32(ld, c, &g[i].type))
			return ld->failed;
		if (ld_check_string(ld, name, "global"))
			return ld->failed;
		g[i].name = ld_str_of(img, name);
		if (g[i].type >= ld->priv->nimage_types ||
		    img->types[g[i].type].kind == KT_VOID)
			return ld_err(ld, -EINVAL, "global %s: bad type %u",
				      g[i].name, g[i].type);
		g[i].is_ref = ld_type_is_ref(img, g[i].type);
	}
	img->globals = g;
	img->nglobals = n;
	return 0;
}

/*
 * One function record: name, header, typed registers, code, handlers,
 * line table and the number of inline caches.  Owner, flags and the
 * function type are checked by link.c (they name classes), handlers and
 * code by verify.c; here only what bounds the reads and the allocations.
 */
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
	f->name = ld_str_of(img, name);
	/*
	 * reg_is_ref is derived from the register types here, once: the
	 * collector marks exactly these registers, and the verifier makes
	 * sure that no int is ever written to one of them.
	 */
	if (rd_count(ld, c, &f->nregs, LIM_REGS, 4, "registers"))
		return ld->failed;
	f->reg_types = rd_u32_array(ld, c, f->nregs);
	isref = ld_array(ld, f->nregs, 1);
	if (!f->reg_types || !isref)
		return ld->failed;
	for (i = 0; i < f->nregs; i++) {
		uint32_t t = f->reg_types[i];

		if (t >= ld->priv->nimage_types || img->types[t].kind == KT_VOID)
			return ld_err(ld, -EINVAL,
				      "function %s: register r%u has bad type %u",
				      f->name, i, t);
		isref[i] = ld_type_is_ref(img, t);
	}
	f->reg_is_ref = isref;
	if (rd_count(ld, c, &f->ncode, LIM_CODE, 4, "code words"))
		return ld->failed;
	f->code = code = ld_array(ld, f->ncode, sizeof(*code));
	if (!code)
		return ld->failed;
	/* rd_count() checked 4 bytes per code word are left */
	for (i = 0; i < f->ncode; i++) {
		code[i] = (int32_t)get_u32(ld->data + c->off);
		c->off += 4;
	}
	/*
	 * Handlers (five words) and line entries (two) are only read here:
	 * their pcs are checked by verify.c against the instruction starts.
	 */
	if (rd_count(ld, c, &f->nhandlers, LIM_CODE, 20, "handlers"))
		return ld->failed;
	f->handlers = h = ld_array(ld, f->nhandlers, sizeof(*h));
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
	f->lines = l = ld_array(ld, f->nlines, sizeof(*l));
	if (!l)
		return ld->failed;
	for (i = 0; i < f->nlines; i++) {
		if (rd_u32(ld, c, &l[i].pc) || rd_u32(ld, c, &l[i].line))
			return ld->failed;
	}
	/*
	 * Inline caches take no bytes in the image, so the bytes-left rule of
	 * rd_count() cannot bound them: the code size does instead.
	 */
	if (rd_u32(ld, c, &n))
		return ld->failed;
	/* each cache serves one CALLA, so there are fewer than code words */
	if (n > f->ncode)
		return ld_err(ld, -E2BIG,
			      "function %s: %u inline caches for %u code words",
			      f->name, n, f->ncode);
	f->nics = n;
	f->ics = ics = ld_array(ld, n, sizeof(*ics));
	if (!ics)
		return ld->failed;
	for (i = 0; i < n; i++) {
		/* empty: the first call through it fills it */
		ics[i].key = KIMG_NONE;
		ics[i].target.func = KIMG_NONE;
		ics[i].target.native = KIMG_NONE;
	}
	return 0;
}

/*
 * The function table; nfuncs counts the records read whole, so a failure
 * never leaves a half-read function inside the table's bounds.
 */
static int parse_functions(struct ld *ld, struct kcur *c)
{
	struct kfunc *f;
	uint32_t n, i;

	if (rd_count(ld, c, &n, LIM_TABLE, 40, "functions"))
		return ld->failed;
	f = ld_array(ld, n, sizeof(*f));
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

/*
 * The source file name and the init function, run once after loading.
 * Only the index is checked here; link.c checks that the function is
 * flagged as the init and takes no parameters.
 */
static int parse_meta(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	uint32_t src;

	if (rd_u32(ld, c, &src) || rd_u32(ld, c, &img->init_func))
		return ld->failed;
	if (ld_check_string(ld, src, "source file name"))
		return ld->failed;
	img->source_name = ld_str_of(img, src);
	if (img->init_func >= img->nfuncs)
		return ld_err(ld, -EINVAL,
			      "init function %u out of range (%u functions)",
			      img->init_func, img->nfuncs);
	return 0;
}

/*
 * (1.1) The optional interfaces section: the interfaces (name, the
 * earlier interfaces each extends, its own method signatures), then the
 * interfaces each script class names in `implements`.  An interface may
 * extend only interfaces before it, so the graph read here is acyclic; a
 * cycle in a script is the compiler's error, and in an image an index
 * that is not earlier.  What needs the classes (names matching vtable
 * slots) is link.c's.
 */
static int parse_interfaces(struct ld *ld, struct kcur *c)
{
	struct kimage *img = ld->img;
	struct kiface *ifs;
	uint32_t n, i, j, name, ncls;

	/* name, nextends and nmethods: 12 bytes at least */
	if (rd_count(ld, c, &n, LIM_IFACES, 12, "interfaces"))
		return ld->failed;
	ifs = ld_array(ld, n, sizeof(*ifs));
	if (!ifs)
		return ld->failed;
	img->ifaces = ifs;
	for (i = 0; i < n; i++) {
		struct kiface *it = &ifs[i];
		const char **names;
		uint32_t *types;

		if (rd_u32(ld, c, &name) ||
		    ld_check_string(ld, name, "interface name"))
			return ld->failed;
		it->name = ld_str_of(img, name);
		if (rd_count(ld, c, &it->nextends, LIM_IFACES, 4, "extended interfaces"))
			return ld->failed;
		it->extends = rd_u32_array(ld, c, it->nextends);
		if (!it->extends)
			return ld->failed;
		for (j = 0; j < it->nextends; j++)
			if (it->extends[j] >= i)
				return ld_err(ld, -EINVAL,
					      "interface %s: extends interface %u, which is not an earlier one (a cycle or a bad index)",
					      it->name, it->extends[j]);
		if (rd_count(ld, c, &it->nmethods, LIM_VTABLE, 8, "interface methods"))
			return ld->failed;
		names = ld_array(ld, it->nmethods, sizeof(*names));
		types = ld_array(ld, it->nmethods, sizeof(*types));
		if (!names || !types)
			return ld->failed;
		for (j = 0; j < it->nmethods; j++) {
			if (rd_u32(ld, c, &name) || rd_u32(ld, c, &types[j]) ||
			    ld_check_string(ld, name, "interface method name"))
				return ld->failed;
			names[j] = ld_str_of(img, name);
			if (types[j] >= ld->priv->nimage_types ||
			    img->types[types[j]].kind != KT_FUNC)
				return ld_err(ld, -EINVAL,
					      "interface %s: method %s: type %u is not a Func type",
					      it->name, names[j], types[j]);
		}
		it->method_names = names;
		it->method_types = types;
		img->nifaces = i + 1;
	}
	/* class id and count: 8 bytes at least */
	if (rd_count(ld, c, &ncls, LIM_CLASSES, 8, "implementing classes"))
		return ld->failed;
	for (i = 0; i < ncls; i++) {
		struct raw_class *rc;
		uint32_t id, *impl;

		if (rd_u32(ld, c, &id))
			return ld->failed;
		if (id < KIMG_FIRST_SCRIPT_CLASS ||
		    id - KIMG_FIRST_SCRIPT_CLASS >= ld->nscript_classes)
			return ld_err(ld, -EINVAL,
				      "implements: class %u is not a script class", id);
		rc = &ld->raw[id - KIMG_FIRST_SCRIPT_CLASS];
		if (rc->listed)
			return ld_err(ld, -EINVAL,
				      "implements: class %u listed twice", id);
		rc->listed = true;
		if (rd_count(ld, c, &rc->nimpl, LIM_IFACES, 4, "implemented interfaces"))
			return ld->failed;
		rc->impl = impl = rd_u32_array(ld, c, rc->nimpl);
		if (!impl)
			return ld->failed;
		for (j = 0; j < rc->nimpl; j++)
			if (impl[j] >= img->nifaces)
				return ld_err(ld, -EINVAL,
					      "implements: class %u: interface %u out of range (%u interfaces)",
					      id, impl[j], img->nifaces);
	}
	return 0;
}

/*
 * The header (magic, version 1.0, the image size, a reserved word, the
 * SHA-256 of everything after the header), then the sections in order,
 * each parsed through a cursor bounded by its declared length and
 * required to consume exactly that length.  The digest is checked before
 * any section is parsed: a damaged image fails early and with a clear
 * message; it is no defence, the verifier is.  The digest is kept in the
 * image: it names the image (kvm_jit_register matches stubs by it).
 *
 *	 0  "KBC\0"      4  major, minor (u16)   8  size     12  reserved
 *	16  SHA-256 of [48, size)                 48  section 1 (tag, len)
 *
 * Return: 0, or ld->failed with the first error in ld->err.
 */
int ld_read_image(struct ld *ld)
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

		/* ld->where names the part a truncation message is about */
		ld->where = "image";
		if (rd_u32(ld, &c, &tag) || rd_u32(ld, &c, &len))
			return ld->failed;
		if (tag != i + 1)
			return ld_err(ld, -EINVAL,
				      "section %u: expected tag %u (%s), found %u",
				      i + 1, i + 1, section_names[i], tag);
		if (cur_need(ld, &c, len))
			return ld->failed;
		/* the section's parser cannot read past its declared length */
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
	/* (1.1) the optional eighth section: a header's worth of bytes */
	if (c.end - c.off >= 8) {
		struct kcur sec;
		uint32_t tag, len;

		ld->where = "image";
		if (rd_u32(ld, &c, &tag) || rd_u32(ld, &c, &len))
			return ld->failed;
		if (tag != SEC_INTERFACES)
			return ld_err(ld, -EINVAL,
				      "section %u: expected tag %u (interfaces), found %u",
				      SEC_INTERFACES, SEC_INTERFACES, tag);
		if (cur_need(ld, &c, len))
			return ld->failed;
		sec.off = c.off;
		sec.end = c.off + len;
		ld->where = "interfaces";
		if (parse_interfaces(ld, &sec))
			return ld->failed;
		if (sec.off != sec.end)
			return ld_err(ld, -EINVAL,
				      "interfaces section: %zu bytes left over at offset %zu",
				      sec.end - sec.off, sec.off);
		c.off = sec.end;
	}
	if (c.off != c.end)
		return ld_err(ld, -EINVAL,
			      "%zu bytes after the last section at offset %zu",
			      c.end - c.off, c.off);
	return 0;
}
