// SPDX-License-Identifier: GPL-2.0
/*
 * builtins.c - builtins.def compiled into the one C table of the built-in
 * classes and natives, and the one reader of its type syntax.
 *
 * The tables are constant data shared by every image and every VM; the
 * reader only recognises the text of those lines, so a malformed line is
 * a bug of this tree, reported as -EINVAL to the first user that reads it
 * (the loader refuses every image until it is fixed).
 */
#include "builtins.h"

/* Constructor natives by name (K_CLASS names them without their owner). */
enum {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) KB_CTOR_##kind(id, name)
#define K_ERRNO(name, value)
#define KB_CTOR_CTOR(id, name) KB_CTOR_##name = id,
#define KB_CTOR_METHOD(id, name)
#define KB_CTOR_STATIC(id, name)
#define KB_CTOR_FUNC(id, name)
#include "builtins.def"
#undef KB_CTOR_CTOR
#undef KB_CTOR_METHOD
#undef KB_CTOR_STATIC
#undef KB_CTOR_FUNC
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
	KB_CTOR_NONE = -1
};

/* File order: a superclass before its subclasses, as link.c needs. */
const struct kb_class kb_classes[] = {
#define K_CLASS(id, name, super, ctor, fields) \
	{ id, #name, super, KB_CTOR_##ctor, fields },
#define K_NATIVE(id, owner, name, kind, slot, sig)
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
};

const uint32_t kb_nclasses = KP_ARRAY_SIZE(kb_classes);

/*
 * By native id, which is the line's position among the K_NATIVE lines:
 * images name natives by it, so the lines are append-only.
 */
const struct kb_native kb_natives[KN__COUNT] = {
#define K_CLASS(id, name, super, ctor, fields)
#define K_NATIVE(id, owner, name, kind, slot, sig) \
	{ #owner, #name, KB_##kind, slot, sig },
#define K_ERRNO(name, value)
#include "builtins.def"
#undef K_CLASS
#undef K_NATIVE
#undef K_ERRNO
};

const uint32_t kb_nnatives = KN__COUNT;

/*
 * A linear scan: a few dozen classes, looked up only while a VM or an
 * image is set up, never while a script runs.
 */
uint32_t kb_class_by_name(const char *name, size_t len)
{
	uint32_t i;

	for (i = 0; i < kb_nclasses; i++) {
		const char *n = kb_classes[i].name;

		if (strlen(n) == len && !memcmp(n, name, len))
			return kb_classes[i].id;
	}
	return KIMG_NONE;
}

/* ---- the type syntax ----------------------------------------------------- */

/*
 * The syntax's lexemes: words ([A-Za-z0-9_]+), punctuation, and blanks
 * (space and tab only) allowed between them.
 */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_word(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

static const char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* Is the n-byte word at s exactly the literal lit? */
#define WORD_IS(s, n, lit) ((n) == sizeof(lit) - 1 && !memcmp(s, lit, n))

/*
 * void is not a type of values: no array holds it.  (1.1) T, K and V are
 * wrapped once at most (Array<T>, Array<K>), the forms verify.c resolves;
 * Func<int(T, T)> is never wrapped.
 */
static bool can_wrap(const struct kb_type *t)
{
	if (t->base == KB_T || t->base == KB_K || t->base == KB_V)
		return t->dims == 0;
	return t->base != KB_FT && t->base != KB_FV && t->base != KT_VOID &&
		t->dims < KB_MAX_DIMS;
}

/*
 * (1.1) The rest of "Func<int(T, T)>" after "Func<" (the comparator type
 * of Array.sort: *base KB_FT) or of "Func<void()>" (Timer's: KB_FV), the
 * only Func types builtins.def uses, so the reader accepts exactly those.
 */
static int parse_func(const char **p, uint8_t *base)
{
	const char *e = *p;
	struct kb_type r, a, b;

	if (kb_parse_type(&e, &r) || r.dims)
		return -EINVAL;
	e = skip_blanks(e);
	if (r.base == KT_VOID) {
		if (*e++ != '(' || *e++ != ')' || *e++ != '>')
			return -EINVAL;
		*base = KB_FV;
		*p = e;
		return 0;
	}
	if (r.base != KT_INT)
		return -EINVAL;
	*base = KB_FT;
	if (*e++ != '(' || kb_parse_type(&e, &a))
		return -EINVAL;
	e = skip_blanks(e);
	if (*e++ != ',' || kb_parse_type(&e, &b))
		return -EINVAL;
	e = skip_blanks(e);
	if (*e++ != ')' || *e++ != '>')
		return -EINVAL;
	if (a.base != KB_T || a.dims || b.base != KB_T || b.dims)
		return -EINVAL;
	*p = e;
	return 0;
}

/*
 * int, boolean, void, Any, T, (1.1) K and V, a built-in class, Array<X>,
 * X[], (1.1) Func<int(T, T)>, Func<void()>: the types
 * the lines of builtins.def use.  Array<X> nests by recursion, bounded by
 * KB_MAX_DIMS as the dims count is.
 */
int kb_parse_type(const char **p, struct kb_type *t)
{
	const char *s = skip_blanks(*p), *e = s;
	size_t n;

	while (is_word(*e))
		e++;
	n = (size_t)(e - s);
	if (!n)
		return -EINVAL;
	if (WORD_IS(s, n, "Func") && *e == '<') {
		e++;
		if (parse_func(&e, &t->base))
			return -EINVAL;
		t->dims = 0;
		t->cls = KIMG_NONE;
	} else if (WORD_IS(s, n, "Array") && *e == '<') {
		e++;
		/* X with one dimension more, X's own [] suffixes included */
		if (kb_parse_type(&e, t) || *e != '>' || !can_wrap(t))
			return -EINVAL;
		e++;
		t->dims++;
	} else {
		t->dims = 0;
		t->cls = KIMG_NONE;
		if (WORD_IS(s, n, "int")) {
			t->base = KT_INT;
		} else if (WORD_IS(s, n, "boolean")) {
			t->base = KT_BOOL;
		} else if (WORD_IS(s, n, "void")) {
			t->base = KT_VOID;
		} else if (WORD_IS(s, n, "Any")) {
			t->base = KT_ANY;
		} else if (WORD_IS(s, n, "T")) {
			t->base = KB_T;
		} else if (WORD_IS(s, n, "K")) {
			t->base = KB_K;
		} else if (WORD_IS(s, n, "V")) {
			t->base = KB_V;
		} else {
			t->base = KT_CLASS;
			t->cls = kb_class_by_name(s, n);
			if (t->cls == KIMG_NONE)
				return -EINVAL;
		}
	}
	/* each [] suffix wraps what came before it once more */
	while (e[0] == '[' && e[1] == ']') {
		if (!can_wrap(t))
			return -EINVAL;
		t->dims++;
		e += 2;
	}
	*p = e;
	return 0;
}

/*
 * "R()" or "R(A, B, ...)" and nothing after the ')': a stray character is
 * a typo in builtins.def, refused rather than ignored.
 */
int kb_parse_sig(const char *s, struct kb_sig *sig)
{
	sig->nparams = 0;
	if (kb_parse_type(&s, &sig->result))
		return -EINVAL;
	s = skip_blanks(s);
	if (*s++ != '(')
		return -EINVAL;
	s = skip_blanks(s);
	if (*s == ')')
		return s[1] ? -EINVAL : 0;
	for (;;) {
		if (sig->nparams == KB_MAX_PARAMS ||
		    kb_parse_type(&s, &sig->params[sig->nparams]))
			return -EINVAL;
		sig->nparams++;
		s = skip_blanks(s);
		if (*s == ')')
			return s[1] ? -EINVAL : 0;
		if (*s++ != ',')
			return -EINVAL;
	}
}

/* "Type name" then ';' or the end; blanks between type and name required. */
int kb_parse_field(const char **p, struct kb_type *t, const char **name,
		   size_t *len)
{
	const char *s = skip_blanks(*p), *e;

	if (!*s)
		return 0;
	if (kb_parse_type(&s, t) || !is_blank(*s))
		return -EINVAL;
	s = skip_blanks(s);
	/* hidden fields ('$') are named like the others */
	for (e = s + (*s == '$'); is_word(*e); e++)
		;
	if (e == s + (*s == '$'))
		return -EINVAL;
	*name = s;
	*len = (size_t)(e - s);
	e = skip_blanks(e);
	if (*e == ';')
		e++;
	else if (*e)
		return -EINVAL;
	*p = e;
	return 1;
}
