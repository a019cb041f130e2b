// SPDX-License-Identifier: GPL-2.0
/*
 * link.c - the loader's second pass: the built-in library and the tables.
 *
 * The built-in library is builtins.def's one C table (builtins.h); linking
 * turns it into real classes and resolved native signatures inside each
 * image, since a type is an index into the image's own type table.  Then
 * everything that crosses sections in the tables is checked: class ids
 * named by types, function headers, the superclass of every script class,
 * and each class's fields, constructor and vtable.
 *
 * After this pass every class, function header and vtable is sound, so
 * verify.c may follow any index they hold without checking it again.
 */
#include "loader.h"

/* ---- linking the built-in library --------------------------------------- */

/*
 * The index in this image of a type of builtins.def, added when absent;
 * "T" stays TYPE_T (verify.c substitutes the element type at each call),
 * and (1.1) "K", "V", "Array<K>", "Array<V>" of Map methods stay TYPE_K,
 * TYPE_V, TYPE_AK, TYPE_AV (the receiving map's types, likewise), and
 * "Array<T>", "Func<int(T, T)>" of Array methods TYPE_AT, TYPE_FT.
 */
static uint32_t builtin_type(struct ld *ld, const struct kb_type *bt,
			     const char *text)
{
	uint32_t t, i;

	switch (bt->base) {
	case KB_T:
		return bt->dims ? TYPE_AT : TYPE_T;
	case KB_FT:
		return TYPE_FT;
	case KB_K:
		return bt->dims ? TYPE_AK : TYPE_K;
	case KB_V:
		return bt->dims ? TYPE_AV : TYPE_V;
	case KT_INT:
		t = ld->img->t_int;
		break;
	case KT_BOOL:
		t = ld->img->t_bool;
		break;
	case KT_VOID:
		t = ld->img->t_void;
		break;
	case KT_ANY:
		t = ld->img->t_any;
		break;
	case KT_CLASS:
		t = ld_add_simple_type(ld, KT_CLASS, bt->cls);
		break;
	case KB_FV: {
		/* (1.1) Func<void()>, an ordinary type of the image */
		struct ktype ft = { .kind = KT_FUNC };

		ft.result = ld->img->t_void;

		t = ld_add_type(ld, &ft);
		break;
	}
	default:
		ld_err(ld, -EINVAL, "internal: bad type in builtins.def: %s",
		       text);
		return KIMG_NONE;
	}
	for (i = 0; i < bt->dims && t != KIMG_NONE; i++)
		t = ld_add_simple_type(ld, KT_ARRAY, t);
	return t;
}

/*
 * The signature of every native, in this image's types: what verify.c
 * checks native calls against, and the Func type a vtable slot holding the
 * native has.  Generic signatures (T of an Array method) have no Func
 * type: verify.c substitutes T for the element type at each call.
 */
static int link_natives(struct ld *ld)
{
	struct kimg_priv *priv = ld->priv;
	uint32_t i, tp[KB_MAX_PARAMS];

	for (i = 0; i < KN__COUNT; i++) {
		const struct kb_native *d = &kb_natives[i];
		struct native_sig *ns = &priv->natives[i];
		struct kb_sig bs;
		bool generic;
		uint32_t j;

		if (kb_parse_sig(d->sig, &bs))
			return ld_err(ld, -EINVAL, "internal: bad signature %s",
				      d->sig);
		/* Array and Map are pseudo-owners: any array, any map */
		if (!strcmp(d->owner, "Array"))
			ns->owner = TYPE_T;
		else if (!strcmp(d->owner, "Map"))
			ns->owner = TYPE_MAP;
		else
			ns->owner = kb_class_by_name(d->owner,
						     strlen(d->owner));
		ns->result = builtin_type(ld, &bs.result, d->sig);
		if (ns->result == KIMG_NONE)
			return ld->failed;
		generic = TYPE_IS_GENERIC(ns->result);
		ns->nparams = bs.nparams;
		for (j = 0; j < bs.nparams; j++) {
			ns->params[j] = builtin_type(ld, &bs.params[j], d->sig);
			if (ns->params[j] == KIMG_NONE)
				return ld->failed;
			generic |= TYPE_IS_GENERIC(ns->params[j]);
		}
		ns->functype = KIMG_NONE;
		if (!generic) {
			struct ktype ft = {
				.kind = KT_FUNC, .result = ns->result,
				.nparams = ns->nparams, .params = tp,
			};

			for (j = 0; j < ns->nparams; j++)
				tp[j] = ns->params[j];
			ns->functype = ld_add_type(ld, &ft);
			if (ns->functype == KIMG_NONE)
				return ld->failed;
		}
	}
	return 0;
}

/*
 * Copies the n bytes at s into the arena as a NUL-terminated string.
 * NULL: out of memory, ld->failed is set.
 */
static const char *arena_strndup(struct ld *ld, const char *s, size_t n)
{
	char *d = ld_alloc(ld, n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/*
 * The class record of one built-in class: fields parsed from the
 * builtins.def text and appended to the super's (supers come first in
 * builtins.def), and its super's vtable with the natives that name a
 * slot of this class put in: every slot ends up holding a native.
 */
static int link_builtin_class(struct ld *ld, const struct kb_class *d,
			      struct kclass *k)
{
	const struct kclass *sup = NULL;
	uint32_t nown = 0, i, nvt;
	const char *p, *fname;
	struct kb_type bt;
	size_t flen;
	int r;
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
		sup = ld_get_class(ld->img, (uint32_t)d->super);
		if (!sup)
			return ld_err(ld, -EINVAL, "internal: builtin order");
		k->super = sup->id;
		k->depth = sup->depth + 1;
	}
	/* count them first: a field of type T is as bad as a syntax error */
	p = d->fields;
	while ((r = kb_parse_field(&p, &bt, &fname, &flen)) > 0 &&
	       bt.base != KB_T)
		nown++;
	if (r)
		return ld_err(ld, -EINVAL, "internal: bad fields of %s: %s",
			      d->name, d->fields);
	/* inherited fields keep their indexes: GETF on the super works here */
	k->own_fields = sup ? sup->nfields : 0;
	k->nfields = k->own_fields + nown;
	ftypes = ld_array(ld, k->nfields, sizeof(*ftypes));
	fnames = ld_array(ld, k->nfields, sizeof(*fnames));
	if (!ftypes || !fnames)
		return ld->failed;
	for (i = 0; i < k->own_fields; i++) {
		ftypes[i] = sup->field_types[i];
		fnames[i] = sup->field_names[i];
	}
	p = d->fields;
	for (i = k->own_fields; i < k->nfields; i++) {
		kb_parse_field(&p, &bt, &fname, &flen);
		ftypes[i] = builtin_type(ld, &bt, d->fields);
		fnames[i] = arena_strndup(ld, fname, flen);
		if (ftypes[i] == KIMG_NONE || !fnames[i])
			return ld->failed;
	}
	k->field_types = ftypes;
	k->field_names = fnames;
	/* the super's length, or up to the last slot a native here names */
	nvt = sup ? sup->nvtable : 0;
	for (i = 0; i < KN__COUNT; i++)
		if (kb_natives[i].slot >= 0 &&
		    !strcmp(kb_natives[i].owner, d->name) &&
		    (uint32_t)kb_natives[i].slot >= nvt)
			nvt = (uint32_t)kb_natives[i].slot + 1;
	vt = ld_array(ld, nvt, sizeof(*vt));
	vtn = ld_array(ld, nvt, sizeof(*vtn));
	if (!vt || !vtn)
		return ld->failed;
	for (i = 0; i < nvt; i++) {
		vt[i].func = KIMG_NONE;
		vt[i].native = KIMG_NONE;
		vtn[i] = "";	/* until a native names the new slot */
		if (sup && i < sup->nvtable) {
			vt[i] = sup->vtable[i];
			vtn[i] = sup->vtable_names[i];
		}
	}
	for (i = 0; i < KN__COUNT; i++)
		if (kb_natives[i].slot >= 0 &&
		    !strcmp(kb_natives[i].owner, d->name)) {
			vt[kb_natives[i].slot].native = i;
			vtn[kb_natives[i].slot] = kb_natives[i].name;
		}
	/* a slot no native fills is a mistake in builtins.def, not the image */
	for (i = 0; i < nvt; i++)
		if (vt[i].native == KIMG_NONE)
			return ld_err(ld, -EINVAL, "internal: %s has a vtable gap",
				      d->name);
	k->nvtable = nvt;
	k->vtable = vt;
	k->vtable_names = vtn;
	return 0;
}

/*
 * Builds the class table (built-in classes at their fixed ids, a gap up
 * to KIMG_FIRST_SCRIPT_CLASS, then room for the script classes, which
 * ld_verify_class_supers() enters), adds the well-known types, and links
 * the built-in classes and natives.
 */
int ld_link_builtins(struct ld *ld)
{
	struct kimage *img = ld->img;
	struct kclass **classes;
	struct kclass *bk;
	uint32_t i;

	/* without script classes, the table ends with the built-in ones */
	img->nclasses = ld->nscript_classes ?
			KIMG_FIRST_SCRIPT_CLASS + ld->nscript_classes :
			KC__BUILTIN_COUNT;
	classes = ld_array(ld, img->nclasses, sizeof(*classes));
	bk = ld_array(ld, KC__BUILTIN_COUNT, sizeof(*bk));
	if (!classes || !bk)
		return ld->failed;
	img->classes = (const struct kclass *const *)classes;
	/* Built-in classes exist before the types that name them. */
	for (i = 0; i < kb_nclasses; i++)
		classes[kb_classes[i].id] = &bk[i];

	/*
	 * The types the VM and the verifier name directly.  A failure sets
	 * ld->failed and returns KIMG_NONE: one test after them all is enough.
	 */
	img->t_int = ld_add_simple_type(ld, KT_INT, 0);
	img->t_bool = ld_add_simple_type(ld, KT_BOOL, 0);
	img->t_any = ld_add_simple_type(ld, KT_ANY, 0);
	img->t_void = ld_add_simple_type(ld, KT_VOID, 0);
	img->t_string = ld_add_simple_type(ld, KT_CLASS, KC_String);
	img->t_string_array = ld_add_simple_type(ld, KT_ARRAY, img->t_string);
	for (i = 0; i < kb_nclasses; i++)
		if (ld_add_simple_type(ld, KT_CLASS, kb_classes[i].id) ==
		    KIMG_NONE)
			return ld->failed;
	if (ld->failed)
		return ld->failed;
	for (i = 0; i < kb_nclasses; i++)
		if (link_builtin_class(ld, &kb_classes[i], &bk[i]))
			return ld->failed;
	return link_natives(ld);
}

/* ---- verifying the tables --------------------------------------------------- */

/* True for built-in ids and for script classes entered so far. */
bool ld_class_exists(const struct kimage *img, uint32_t id)
{
	return ld_get_class(img, id) != NULL;
}

/*
 * Class ids in class types, known only now: read.c read the types before
 * the classes.  A class type names a built-in class or a script class of
 * this image; the ids between the two (up to KIMG_FIRST_SCRIPT_CLASS) are
 * gaps, NULL in the class table.
 */
int ld_verify_type_classes(struct ld *ld)
{
	const struct kimage *img = ld->img;
	uint32_t i, id;

	for (i = 0; i < ld->priv->nimage_types; i++) {
		/* (1.1) interface types: an index into the interfaces */
		if (img->types[i].kind == KT_IFACE &&
		    img->types[i].elem >= img->nifaces)
			return ld_err(ld, -EINVAL,
				      "type %u: interface %u does not exist (%u interfaces)",
				      i, img->types[i].elem, img->nifaces);
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

/* Methods and constructors take their receiver in r0. */
bool ld_func_is_member(const struct kfunc *f)
{
	return f->flags & (KFN_METHOD | KFN_CTOR);
}

/*
 * (1.1) Whether a lambda function's name ends in "lambda@" and 1 to 9
 * digits: string conversion prints those digits as the lambda's line.
 */
static bool lambda_name_ok(const char *name)
{
	const char *at = strrchr(name, '@');
	size_t n;

	if (!at || at - name < 6 || memcmp(at - 6, "lambda", 6))
		return false;
	for (n = 0; at[1 + n]; n++)
		if (at[1 + n] < '0' || at[1 + n] > '9')
			return false;
	return n >= 1 && n <= 9;
}

/*
 * Owner, flags, type and parameter registers of every function.  Sets
 * f->nargs: the receiver (members only) and the declared parameters,
 * which arrive in r0.. with exactly the declared types.
 */
int ld_verify_function_headers(struct ld *ld)
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
		/* known flags, at most one: flags & (flags - 1) clears a bit */
		if (f->flags & ~(KFN_METHOD | KFN_CTOR | KFN_INIT |
				 KFN_LAMBDA) ||
		    (f->flags & (f->flags - 1)))
			return ld_err(ld, -EINVAL, "function %s: bad flags %#x",
				      f->name, f->flags);
		if ((f->flags & KFN_LAMBDA) && !lambda_name_ok(f->name))
			return ld_err(ld, -EINVAL,
				      "function %s: a lambda's name must end in lambda@LINE",
				      f->name);
		if (ld_func_is_member(f)) {
			if (f->owner < KIMG_FIRST_SCRIPT_CLASS ||
			    !ld_class_exists(img, f->owner))
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
		/* r0 has the owner's class type: its GETFs verify against it */
		if (self && ld_type_class(img, f->reg_types[0]) != f->owner)
			return ld_err(ld, -EINVAL,
				      "function %s: receiver register r0 has type %s, expected %s",
				      f->name, ld_tname1(ld, f->reg_types[0]),
				      ld_get_class(img, f->owner)->name);
		for (j = 0; j < ft->nparams; j++)
			if (f->reg_types[self + j] != ft->params[j])
				return ld_err(ld, -EINVAL,
					      "function %s: parameter register r%u has type %s, expected %s",
					      f->name, self + j,
					      ld_tname1(ld,
							f->reg_types[self + j]),
					      ld_tname2(ld, ft->params[j]));
	}
	/* kvm_run_init() calls it with no arguments */
	if (img->funcs[img->init_func].flags != KFN_INIT ||
	    img->types[img->funcs[img->init_func].type].nparams)
		return ld_err(ld, -EINVAL,
			      "init function %s: must have the init flag and no parameters",
			      img->funcs[img->init_func].name);
	return 0;
}

/*
 * The classes a script class may extend (the language reference §4):
 * Object, Exception and the exception classes, Device, (1.1) CharDevice,
 * and script classes with a smaller id, so a class's super is always
 * entered before it.
 */
static bool extendable(uint32_t sup, uint32_t id)
{
	if (sup == KC_Object || (sup >= KC_Exception && sup <= KC_Device) ||
	    (sup >= KC_NoSuchElementException &&
	     sup <= KC_InterruptedException) || sup == KC_CharDevice)
		return true;
	return sup >= KIMG_FIRST_SCRIPT_CLASS && sup < id;
}

/*
 * Preorder numbers: a class is a subclass of C iff its number is in C's
 * span.  One pass each way suffices because a super always has a smaller
 * id than its subclasses (builtins.def's order; extendable() for scripts).
 * next[c] is the number the next child of c gets.
 */
static int number_classes(struct ld *ld)
{
	struct kimg_priv *priv = ld->priv;
	const struct kimage *img = ld->img;
	uint32_t *next, i, n = img->nclasses, counter = 0;

	/*
	 * class_span[c]: c and all its descendants; class_pre[c]: c's number.
	 * kimg_subclass() tests pre[c] <= pre[sub] < pre[c] + span[c].
	 */
	priv->class_pre = ld_array(ld, n, sizeof(uint32_t));
	priv->class_span = ld_array(ld, n, sizeof(uint32_t));
	next = ld_array(ld, n, sizeof(uint32_t));
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

/*
 * Supers of the script classes: valid, earlier, extendable.  Enters each
 * script class into the class table (sc: one record per script class,
 * filled further by ld_verify_classes()), so a class can extend only
 * classes entered before it: no cycles, and depths are known in order.
 */
int ld_verify_class_supers(struct ld *ld, struct kclass *sc)
{
	struct kimage *img = ld->img;
	struct kclass **classes = (struct kclass **)img->classes;
	uint32_t i;

	for (i = 0; i < ld->nscript_classes; i++) {
		const struct raw_class *rc = &ld->raw[i];
		uint32_t id = KIMG_FIRST_SCRIPT_CLASS + i;

		sc[i].id = id;
		if (ld_check_string(ld, rc->name, "class name"))
			return ld->failed;
		sc[i].name = ld_str_of(img, rc->name);
		/* built-in ids exist already; later script classes not yet */
		if (!ld_class_exists(img, rc->super) ||
		    !extendable(rc->super, id))
			return ld_err(ld, -EINVAL,
				      "class %s: cannot extend class %u",
				      sc[i].name, rc->super);
		sc[i].super = rc->super;
		sc[i].depth = ld_get_class(img, rc->super)->depth + 1;
		classes[id] = &sc[i];
	}
	return number_classes(ld);
}

/*
 * Small hash set of names, for unique vtable names: FNV-1a, then linear
 * probing in a table twice the vtable limit, so it never fills.
 */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* "Point.sum" -> "sum": vtable slots are named without their class. */
static const char *method_name(const char *fname)
{
	const char *p;

	for (p = fname; *p; p++)
		if (*p == '.')
			return p + 1;
	return fname;
}

static int link_itable(struct ld *ld, struct kclass *k,
		       const struct raw_class *rc, const uint32_t *hash,
		       uint32_t hmask);

/*
 * Fields (inherited ones first, at the same indexes), constructor and
 * vtable of one script class.  A vtable extends its super's: a slot the
 * super has keeps its name and type and holds either the same native
 * (inherited) or a method of this class or an ancestor; slot names are
 * unique, checked with a hash set of 2 * LIM_VTABLE entries in
 * ld->scratch.
 */
static int verify_class_body(struct ld *ld, struct kclass *k,
			     const struct raw_class *rc)
{
	struct kimage *img = ld->img;
	const struct kclass *sup = ld_get_class(img, k->super);
	uint32_t i, *ftypes, *hash, hmask = 2 * LIM_VTABLE - 1;
	const char **fnames, **vtn;
	struct kmethod_ref *vt;
	const struct kfunc *ctor;

	if (sup->nfields + rc->nfields > LIM_FIELDS)
		return ld_err(ld, -E2BIG, "class %s: %u fields (limit %u)",
			      k->name, sup->nfields + rc->nfields, LIM_FIELDS);
	k->own_fields = sup->nfields;
	k->nfields = sup->nfields + rc->nfields;
	ftypes = ld_array(ld, k->nfields, sizeof(*ftypes));
	fnames = ld_array(ld, k->nfields, sizeof(*fnames));
	if (!ftypes || !fnames)
		return ld->failed;
	for (i = 0; i < sup->nfields; i++) {
		ftypes[i] = sup->field_types[i];
		fnames[i] = sup->field_names[i];
	}
	for (i = 0; i < rc->nfields; i++) {
		uint32_t t = rc->field_types[i];

		if (ld_check_string(ld, rc->field_names[i], "field name"))
			return ld->failed;
		fnames[k->own_fields + i] = ld_str_of(img, rc->field_names[i]);
		/* a type of the file itself, and not void */
		if (t >= ld->priv->nimage_types || img->types[t].kind == KT_VOID)
			return ld_err(ld, -EINVAL,
				      "class %s: field %s has bad type %u",
				      k->name, fnames[k->own_fields + i], t);
		ftypes[k->own_fields + i] = t;
	}
	k->field_types = ftypes;
	k->field_names = fnames;

	/* a script class has its own constructor: the compiler writes one */
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
	vt = ld_array(ld, rc->nvtable, sizeof(*vt));
	vtn = ld_array(ld, rc->nvtable, sizeof(*vtn));
	hash = (uint32_t *)ld->scratch;
	if (!vt || !vtn)
		return ld->failed;
	/* every entry KIMG_NONE: empty */
	memset(hash, 0xff, (hmask + 1) * sizeof(uint32_t));
	for (i = 0; i < rc->nvtable; i++) {
		uint32_t ref = rc->vtable[i], sig, h;

		vt[i].func = KIMG_NONE;
		vt[i].native = KIMG_NONE;
		if (ref & KIMG_NATIVE_REF) {
			uint32_t n = ref & ~KIMG_NATIVE_REF;

			/* only the slot's native of builtins.def, inherited */
			if (n >= KN__COUNT || kb_natives[n].slot < 0 ||
			    (uint32_t)kb_natives[n].slot != i)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: native %u is not the built-in method of that slot",
					      k->name, i, n);
			if (i >= sup->nvtable || sup->vtable[i].native != n)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: native %s is not inherited",
					      k->name, i,
					      kb_natives[n].name);
			vt[i].native = n;
			vtn[i] = kb_natives[n].name;
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
		/*
		 * An override keeps the slot's exact type and name: a CALLV
		 * verified against the super passes the arguments it expects.
		 */
		if (i < sup->nvtable) {
			const struct kmethod_ref *sr = &sup->vtable[i];
			uint32_t ssig = sr->native != KIMG_NONE ?
				ld->priv->natives[sr->native].functype :
				img->funcs[sr->func].type;

			if (sig != ssig)
				return ld_err(ld, -EINVAL,
					      "class %s: vtable slot %u: %s has type %s, the superclass's slot has %s",
					      k->name, i, vtn[i],
					      ld_tname1(ld, sig),
					      ld_tname2(ld, ssig));
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
	return link_itable(ld, k, rc, hash, hmask);
}

/*
 * (1.1) A set of interface indexes, one bit each (LIM_IFACES bits): 64
 * bytes, small enough for the kernel stack of the loading task.
 */
struct iface_set {
	uint8_t bits[LIM_IFACES / 8];
};

/* i < LIM_IFACES: read.c bounds the interface count. */
static void iset_add(struct iface_set *set, uint32_t i)
{
	set->bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

static bool iset_has(const struct iface_set *set, uint32_t i)
{
	return set->bits[i / 8] & (1u << (i % 8));
}

/*
 * The members of set among 0..n-1, sorted, into a new arena array, and
 * their number in *count.  NULL: out of memory, ld->failed is set.
 */
static uint32_t *iset_list(struct ld *ld, const struct iface_set *set,
			   uint32_t n, uint32_t *count)
{
	uint32_t i, k = 0, *a;

	for (i = 0; i < n; i++)
		k += iset_has(set, i);
	a = ld_array(ld, k, sizeof(*a));
	if (!a)
		return NULL;
	k = 0;
	for (i = 0; i < n; i++)
		if (iset_has(set, i))
			a[k++] = i;
	*count = k;
	return a;
}

/*
 * (1.1) The closure of each interface: itself and every interface it
 * extends, directly or not.  read.c made each extend only earlier ones,
 * so one pass in order finds every closure it needs already built.
 */
int ld_link_ifaces(struct ld *ld)
{
	struct kimage *img = ld->img;
	struct kiface *ifs = (struct kiface *)img->ifaces;
	uint32_t i, j, k;

	for (i = 0; i < img->nifaces; i++) {
		struct iface_set set;

		memset(&set, 0, sizeof(set));
		iset_add(&set, i);
		for (j = 0; j < ifs[i].nextends; j++) {
			const struct kiface *e = &ifs[ifs[i].extends[j]];

			for (k = 0; k < e->nsupers; k++)
				iset_add(&set, e->supers[k]);
		}
		/* members are i and earlier interfaces only */
		ifs[i].supers = iset_list(ld, &set, i + 1, &ifs[i].nsupers);
		if (!ifs[i].supers)
			return ld->failed;
	}
	return 0;
}

/* The slot named name in a vtable hashed by verify_class_body, or NONE. */
static uint32_t slot_by_name(const uint32_t *hash, uint32_t hmask,
			     const char *const *vtn, const char *name)
{
	uint32_t h;

	for (h = name_hash(name) & hmask; hash[h] != KIMG_NONE;
	     h = (h + 1) & hmask)
		if (!strcmp(vtn[hash[h]], name))
			return hash[h];
	return KIMG_NONE;
}

/* The Func type of a vtable entry. */
static uint32_t ref_sig(struct ld *ld, const struct kmethod_ref *m)
{
	return m->native != KIMG_NONE ? ld->priv->natives[m->native].functype :
					ld->img->funcs[m->func].type;
}

/*
 * (1.1) The itable of class k: every interface it implements (those its
 * superclass does, those it names and all they extend), each with the
 * vtable slot of each of the interface's methods.  A slot must have the
 * method's name and exactly its type, else the class does not implement
 * the interface it claims and the image is refused.  hash is the vtable's
 * name hash of verify_class_body().
 */
static int link_itable(struct ld *ld, struct kclass *k,
		       const struct raw_class *rc, const uint32_t *hash,
		       uint32_t hmask)
{
	struct kimage *img = ld->img;
	const struct kclass *sup = ld_get_class(img, k->super);
	struct iface_set set;
	struct kimpl *impl;
	uint32_t *list, n, i, j, total = 0;

	/*
	 * The super's interfaces are linked again: their slots are found by
	 * name in this vtable, where an override may now fill them.
	 */
	memset(&set, 0, sizeof(set));
	for (i = 0; i < sup->nimpl; i++)
		iset_add(&set, sup->impl[i].iface);
	for (i = 0; i < rc->nimpl; i++) {
		const struct kiface *d = &img->ifaces[rc->impl[i]];

		for (j = 0; j < d->nsupers; j++)
			iset_add(&set, d->supers[j]);
	}
	list = iset_list(ld, &set, img->nifaces, &n);
	impl = ld_array(ld, n, sizeof(*impl));
	if (!list || !impl)
		return ld->failed;
	for (i = 0; i < n; i++) {
		const struct kiface *it = &img->ifaces[list[i]];
		uint32_t *slots;

		/* itables are arena memory: an image may not inflate them */
		total += it->nmethods;
		if (total > LIM_ITABLE)
			return ld_err(ld, -E2BIG,
				      "class %s: more than %u interface methods",
				      k->name, LIM_ITABLE);
		/* list is sorted: so is impl, which kimg_find_impl() bisects */
		slots = ld_array(ld, it->nmethods, sizeof(*slots));
		if (!slots)
			return ld->failed;
		for (j = 0; j < it->nmethods; j++) {
			uint32_t s = slot_by_name(hash, hmask, k->vtable_names,
						  it->method_names[j]);

			if (s == KIMG_NONE ||
			    ref_sig(ld, &k->vtable[s]) != it->method_types[j])
				return ld_err(ld, -EINVAL,
					      "class %s: does not implement %s.%s of type %s",
					      k->name, it->name,
					      it->method_names[j],
					      ld_tname1(ld, it->method_types[j]));
			slots[j] = s;
		}
		impl[i].iface = list[i];
		impl[i].slots = slots;
	}
	k->nimpl = n;
	k->impl = impl;
	return 0;
}

/*
 * Class bodies in id order, so that every super's body is done first.
 * The vtable name hash's scratch is reserved once for all of them.
 */
int ld_verify_classes(struct ld *ld, struct kclass *sc)
{
	uint32_t i;

	if (ld_scratch_reserve(ld, 2 * LIM_VTABLE * sizeof(uint32_t)))
		return ld->failed;
	for (i = 0; i < ld->nscript_classes; i++)
		if (verify_class_body(ld, &sc[i], &ld->raw[i]))
			return ld->failed;
	return 0;
}

