// SPDX-License-Identifier: GPL-2.0
/*
 * map.c - Map<K, V> (the language reference §8, 1.1): an insertion-ordered
 * hash map with O(1) expected time per operation.
 *
 * Layout (struct kmap in kvm.h): the entries in insertion order in
 * e[0..used), and an index of nidx 32-bit slots (a power of two, twice
 * cap) by linear probing, a slot holding the entry's number + 1 and the
 * hash bits its position does not give (see SLOT), or 0 when empty: a
 * probe reads the entry only when those bits match.  remove() marks its
 * entry dead (live 0, key and value cleared so the collector lets them
 * go) and its slot a tombstone; the dead entries are squeezed out, and
 * the index rebuilt without tombstones, when the entries array is full
 * (compaction), before it would grow.  Both keep every operation O(1)
 * amortized, and at most half of the index in use (make_room()).
 *
 * A large map's cost is its cache misses: a lookup reads one index slot
 * at a random place and, only when the hash bits match, its entry.  The
 * slots are four bytes so that the index is as small as it can be, and
 * a removal leaves a tombstone rather than shifting the rest of its run
 * back, which would read the entry of every slot it moves to find that
 * slot's home.
 *
 * Hostile keys: the hash is SipHash-1-3 keyed with a random 128-bit key
 * per VM (vm->map_seed), taken when the VM makes its first map.  A script
 * that does not know the key cannot choose keys that share slots, so a
 * crafted key set probes like a random one; keys are never compared by
 * hash alone.  An int key is hashed the same way: a cheaper keyed mix
 * would save a few percent of a large map's time, while the fast
 * universal families (multiply-shift) are known to cluster under linear
 * probing on structured key sets such as i << 20.
 *
 * Keys are equal by the `==` rule of §6 for K: int and boolean by value,
 * String by contents (null equal only to null), Any by its rule (boxes
 * by value, strings by contents, else identity), other references by
 * identity.  Only the values of int and boolean keys, the bytes of
 * strings and the addresses of other objects are hashed: nothing here
 * calls script code.  The collector never moves objects, so an address
 * is a stable identity hash.
 *
 * Charges (§8): the allocations by size (gc.c), plus one unit per lookup
 * (the key compared), per 64 bytes of a String key hashed or compared,
 * per entry moved by a compaction or indexed again by a rebuild, or copied
 * by keys() and values(), two per removal.  None depends on the hash,
 * which differs from run to run: the budget stays exact (lookup()).
 */
#include "kops.h"

enum kmap_key_kind {
	MK_VALUE,		/* int, boolean: by value */
	MK_STRING,		/* String: by contents */
	MK_ANY,			/* Any: the rule of EQANY */
	MK_REF,			/* other references: by identity */
};

/* Entries a map may hold: its index (two slots an entry) stays < 2^32. */
#define KMAP_MAX_ENTRIES	(1u << 30)
#define KMAP_MIN_CAP		8u

/* ---- the keyed hash --------------------------------------------------- */

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void sip_init(struct sip *s, const uint64_t k[2])
{
	s->v0 = k[0] ^ 0x736f6d6570736575ull;
	s->v1 = k[1] ^ 0x646f72616e646f6dull;
	s->v2 = k[0] ^ 0x6c7967656e657261ull;
	s->v3 = k[1] ^ 0x7465646279746573ull;
}

/* One compression round per 8-byte block (SipHash-1-3). */
static inline void sip_block(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	s->v0 ^= m;
}

/* The last block (length and tail bytes) and three finalization rounds. */
static inline uint32_t sip_final(struct sip *s, uint64_t last)
{
	sip_block(s, last);
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return (uint32_t)(s->v0 ^ s->v1 ^ s->v2 ^ s->v3);
}

/*
 * A 64-bit word with a tag that keeps apart the kinds an Any key may have
 * (a boxed int and a boxed boolean of the same value are different keys).
 */
static uint32_t hash_word(const struct kvm *vm, uint64_t w, uint64_t tag)
{
	struct sip s;

	sip_init(&s, vm->map_seed);
	sip_block(&s, w);
	return sip_final(&s, tag);
}

static uint32_t hash_bytes(const struct kvm *vm, const uint8_t *p,
			   uint32_t len)
{
	struct sip s;
	uint64_t last = (uint64_t)len << 56, m;
	uint32_t i, tail = len & 7;

	sip_init(&s, vm->map_seed);
	/* host byte order: the key is per VM, so no hash leaves it */
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		sip_block(&s, m);
	}
	while (tail--)
		last |= (uint64_t)p[i + tail] << (8 * tail);
	return sip_final(&s, last);
}

#define TAG_VALUE	1u
#define TAG_BOOL	2u
#define TAG_REF		3u
#define TAG_NULL	4u

/*
 * The hash of key k of map m.  A String's bytes cost a unit per 16
 * before they are read; false: the budget abort is set.
 */
static bool key_hash(struct kvm *vm, const struct kmap *m, union kvalue k,
		     uint32_t *h)
{
	const struct kobj *o = k.o;

	if (m->key_kind == MK_VALUE) {
		*h = hash_word(vm, (uint64_t)k.i, TAG_VALUE);
		return true;
	}
	if (!o) {
		*h = hash_word(vm, 0, TAG_NULL);
		return true;
	}
	if (m->key_kind == MK_ANY && o->kind == KO_BOXI) {
		*h = hash_word(vm, (uint64_t)((const struct kbox *)o)->v,
			       TAG_VALUE);
		return true;
	}
	if (m->key_kind == MK_ANY && o->kind == KO_BOXZ) {
		*h = hash_word(vm, (uint64_t)((const struct kbox *)o)->v,
			       TAG_BOOL);
		return true;
	}
	if (m->key_kind != MK_REF && o->kind == KO_STRING) {
		const struct kstr *s = (const struct kstr *)o;

		/* SipHash takes about a cycle a byte: a unit per 16 bytes */
		if (!kvm_charge(vm, s->len / 16))
			return false;
		*h = hash_bytes(vm, s->b, s->len);
		return true;
	}
	*h = hash_word(vm, (uint64_t)(uintptr_t)o, TAG_REF);
	return true;
}

/* Whether the keys a and b of m are equal (lookup() charges it). */
static bool key_eq(const struct kmap *m, union kvalue a, union kvalue b)
{
	switch (m->key_kind) {
	case MK_VALUE:
		return a.i == b.i;
	case MK_REF:
		return a.o == b.o;
	case MK_STRING:
		return kvm_str_eq(a.o, b.o);
	default:
		return any_eq(a.o, b.o);
	}
}

/* Units for comparing key k with an equal key: a String's bytes. */
static uint64_t eq_units(union kvalue k, const struct kmap *m)
{
	if (m->key_kind == MK_VALUE || m->key_kind == MK_REF || !k.o ||
	    k.o->kind != KO_STRING)
		return 0;
	return ((const struct kstr *)k.o)->len / 64;
}

/* ---- the index ------------------------------------------------------- */

/*
 * A slot is 32 bits: 0 when empty, SLOT_TOMB when its entry was removed,
 * else the entry's number + 1 in the bits of mask (nidx - 1) and, above
 * them, the hash bits that the home slot does not use.  The entry number
 * fits: x < cap = nidx / 2, so 1 <= x + 1 < mask (nidx >= 16), and mask
 * itself is free to mark a tombstone.  Four bytes a slot keep the index
 * of a large map small in the caches; the hash bits kept beside the
 * number spare most visits to entries of other keys.
 */
#define SLOT(h, x, mask)	(((h) & ~(mask)) | ((x) + 1))
#define SLOT_TOMB(mask)		(mask)
#define SLOT_ENTRY(s, mask)	(((s) & (mask)) - 1)
/* whether slot s may hold hash h: its hash bits above mask are h's */
#define SLOT_MAY_BE(s, h, mask)	((((s) ^ (h)) & ~(mask)) == 0)

/*
 * Looks k (hash h) up.  *slot gets its index slot, or where it would go:
 * the first tombstone on its run, or else the empty slot ending it.  The
 * result is its entry number, or -1 when absent.  A map without an index
 * (nothing put yet) has no slot: *slot is 0.
 *
 * The charge must not depend on the hash, which differs from run to run
 * (the budget is exact: a run stops at the same instruction every time,
 * in the interpreter and the JIT alike): a lookup costs one unit, the
 * key compared with the one found, plus its bytes for a String.  The
 * slots probed on the way are not counted: with the keyed hash and at
 * most half of the index in use (tombstones included, make_room()) they
 * are fewer than three on average, and a script cannot make them more.
 * -2: the budget abort is set.
 */
static int64_t lookup(struct kvm *vm, struct kmap *m, union kvalue k,
		      uint32_t h, uint32_t *slot)
{
	/* free: the first tombstone seen, nidx while there is none */
	uint32_t mask = m->nidx - 1, i, s, x, free = m->nidx;
	int64_t found = -1;

	*slot = 0;
	if (m->nidx) {
		for (i = h & mask; (s = m->idx[i]); i = (i + 1) & mask) {
			if (s == SLOT_TOMB(mask)) {
				if (free == m->nidx)
					free = i;
				continue;
			}
			if (!SLOT_MAY_BE(s, h, mask))
				continue;
			x = SLOT_ENTRY(s, mask);
			if (m->e[x].hash == h && key_eq(m, m->e[x].k, k)) {
				found = x;
				break;
			}
		}
		*slot = found < 0 && free != m->nidx ? free : i;
	}
	if (!kvm_charge(vm, 1 + (found >= 0 ? eq_units(k, m) : 0)))
		return -2;
	return found;
}

/* Puts entry number x (hash h) into the first free slot of its run. */
static void index_insert(struct kmap *m, uint32_t h, uint32_t x)
{
	uint32_t mask = m->nidx - 1, i;

	for (i = h & mask; m->idx[i]; i = (i + 1) & mask)
		;
	m->idx[i] = SLOT(h, x, mask);
}

/* ---- growth and compaction ------------------------------------------ */

/*
 * Squeezes the dead entries out of e[0..used), keeping the order, and
 * rebuilds the index (zeroed, nidx slots, no tombstones left): a unit
 * per entry looked at.  The caller has charged it.
 */
static void compact_and_index(struct kmap *m)
{
	uint32_t r, w = m->used;

	if (m->n < m->used) {
		for (r = w = 0; r < m->used; r++) {
			if (!m->e[r].live)
				continue;
			if (w != r)
				m->e[w] = m->e[r];
			w++;
		}
		memset(m->e + w, 0, (size_t)(m->used - w) * sizeof(*m->e));
		m->used = w;
	}
	memset(m->idx, 0, (size_t)m->nidx * sizeof(*m->idx));
	for (r = 0; r < w; r++)
		index_insert(m, m->e[r].hash, r);
}

/*
 * Makes room for one more entry at e[used].  When at least half of the
 * entries are dead they are squeezed out in place; otherwise the entries
 * array doubles and the index is made anew at twice its capacity.  Both
 * cost a unit per entry (moved or indexed), paid before the work.
 *
 * This is also what bounds the index's load: a slot is used or a
 * tombstone only for an entry of e[0..used) (a put takes one slot for
 * its new entry, a removal turns its entry's slot into a tombstone, and
 * a rebuild indexes the live entries alone), so at most used <= cap =
 * nidx / 2 slots are not empty, and every probe ends at an empty one.
 *
 * The new index is allocated before the entries grow, so that a failure
 * leaves the map as it was.  The map must be rooted (it is: a receiver
 * lives in a register).
 */
static int make_room(struct kvm *vm, struct kmap *m)
{
	uint32_t cap, nidx;
	struct kmentry *e;
	uint32_t *idx;

	if (m->used < m->cap)
		return KVM_OK;
	if (m->cap && m->used - m->n >= m->used / 2) {
		if (!kvm_charge(vm, (uint64_t)m->used + m->n))
			return KVM_ABORT;
		compact_and_index(m);
		return KVM_OK;
	}
	if (m->cap >= KMAP_MAX_ENTRIES)
		return kvm_abort(vm, KVM_ABORT_OOM);
	cap = m->cap ? m->cap * 2 : KMAP_MIN_CAP;
	nidx = cap * 2;
	if (!kvm_charge(vm, (uint64_t)m->used + m->n))
		return KVM_ABORT;
	if (kvm_push_root(vm, &m->h))
		return KVM_ABORT;
	idx = kvm_mem_alloc(vm, (size_t)nidx * sizeof(*idx));
	if (!idx) {
		kvm_pop_roots(vm, 1);
		return KVM_ABORT;
	}
	e = kvm_mem_realloc(vm, m->e, (size_t)m->cap * sizeof(*e),
			    (size_t)cap * sizeof(*e));
	kvm_pop_roots(vm, 1);
	if (!e) {
		kvm_mem_free(vm, idx, (size_t)nidx * sizeof(*idx));
		return KVM_ABORT;	/* e and its index are unchanged */
	}
	memset(e + m->cap, 0, (size_t)(cap - m->cap) * sizeof(*e));
	m->e = e;
	m->cap = cap;
	kvm_mem_free(vm, m->idx, (size_t)m->nidx * sizeof(*m->idx));
	m->idx = idx;
	m->nidx = nidx;
	compact_and_index(m);
	return KVM_OK;
}

/* ---- objects ------------------------------------------------------------ */

/**
 * kvm_map_new - a new empty map
 * @vm: the VM
 * @type: image index of its KT_MAP type (the verifier checked it)
 *
 * No storage until the first put.  The VM's hash key is drawn here, the
 * first time.  Return: the map (not rooted), or NULL with an abort set.
 */
struct kmap *kvm_map_new(struct kvm *vm, uint32_t type)
{
	const struct kimage *img = vm->img;
	const struct ktype *t = &img->types[type];
	uint8_t kk = img->types[t->elem].kind;
	struct kmap *m;

	if (!vm->map_seeded) {
		vm->map_seed[0] = kp_random_u64();
		vm->map_seed[1] = kp_random_u64();
		vm->map_seeded = true;
	}
	m = (struct kmap *)kvm_obj_alloc(vm, sizeof(*m), KO_MAP, KIMG_NONE);
	if (!m)
		return NULL;
	m->type = type;
	if (kk == KT_INT || kk == KT_BOOL)
		m->key_kind = MK_VALUE;
	else if (kk == KT_ANY)
		m->key_kind = MK_ANY;
	else if (kk == KT_CLASS && t->elem == img->t_string)
		m->key_kind = MK_STRING;
	else
		m->key_kind = MK_REF;
	m->key_ref = kk >= KT_ANY && kk != KT_VOID;
	kk = img->types[t->result].kind;
	m->val_ref = kk >= KT_ANY && kk != KT_VOID;
	return m;
}

/* Bytes the map holds beyond its object: what its storage is charged. */
size_t kvm_map_storage(const struct kmap *m)
{
	return (size_t)m->cap * sizeof(*m->e) +
		(size_t)m->nidx * sizeof(*m->idx);
}

void kvm_map_free_storage(struct kvm *vm, struct kmap *m)
{
	kvm_mem_free(vm, m->e, (size_t)m->cap * sizeof(*m->e));
	kvm_mem_free(vm, m->idx, (size_t)m->nidx * sizeof(*m->idx));
	m->e = NULL;
	m->idx = NULL;
	m->n = m->used = m->cap = m->nidx = 0;
}

/* Marks the live keys and values that are references (gc.c). */
void kvm_map_mark(struct kvm *vm, struct kmap *m)
{
	uint32_t i;

	for (i = 0; i < m->used; i++) {
		if (!m->e[i].live)
			continue;
		if (m->key_ref)
			kvm_gc_mark_obj(vm, m->e[i].k.o);
		if (m->val_ref)
			kvm_gc_mark_obj(vm, m->e[i].v.o);
	}
}

/* ---- operations --------------------------------------------------------- */

/*
 * The entry of key k, or NULL when absent (*st KVM_OK) or on an abort
 * (*st KVM_ABORT).
 */
struct kmentry *kvm_map_find(struct kvm *vm, struct kmap *m, union kvalue k,
			     int *st)
{
	uint32_t h, slot;
	int64_t x;

	*st = KVM_OK;
	if (!key_hash(vm, m, k, &h)) {
		*st = KVM_ABORT;
		return NULL;
	}
	x = lookup(vm, m, k, h, &slot);
	if (x == -2)
		*st = KVM_ABORT;
	return x >= 0 ? &m->e[x] : NULL;
}

/* Adds k -> v at the end, or replaces the value of k where it is. */
int kvm_map_put(struct kvm *vm, struct kmap *m, union kvalue k,
		union kvalue v)
{
	struct kmentry *e;
	uint32_t h, slot;
	int64_t x;
	int st;

	if (!key_hash(vm, m, k, &h))
		return KVM_ABORT;
	x = lookup(vm, m, k, h, &slot);
	if (x == -2)
		return KVM_ABORT;
	if (x >= 0) {
		m->e[x].v = v;
		return KVM_OK;
	}
	if (m->used == m->cap) {
		st = make_room(vm, m);
		if (st)
			return st;
		/* the index was made anew: find the free slot again */
		index_insert(m, h, m->used);
	} else {
		m->idx[slot] = SLOT(h, m->used, m->nidx - 1);
	}
	e = &m->e[m->used++];
	e->k = k;
	e->v = v;
	e->hash = h;
	e->live = 1;
	m->n++;
	return KVM_OK;
}

/* Removes k; *removed says whether it was there. */
int kvm_map_remove(struct kvm *vm, struct kmap *m, union kvalue k,
		   bool *removed)
{
	struct kmentry *e;
	uint32_t h, slot;
	int64_t x;

	*removed = false;
	if (!key_hash(vm, m, k, &h))
		return KVM_ABORT;
	x = lookup(vm, m, k, h, &slot);
	if (x == -2)
		return KVM_ABORT;
	if (x < 0)
		return KVM_OK;
	/* a unit for taking the entry out, and one for the index */
	if (!kvm_charge(vm, 2))
		return KVM_ABORT;
	m->idx[slot] = SLOT_TOMB(m->nidx - 1);
	e = &m->e[x];
	e->live = 0;
	e->k.i = 0;
	e->v.i = 0;
	m->n--;
	*removed = true;
	return KVM_OK;
}

/*
 * A new array of the keys (keys) or the values of m in insertion order,
 * a unit per entry visited on top of the allocation.  *out is not rooted.
 */
int kvm_map_list(struct kvm *vm, struct kmap *m, bool keys,
		 struct karr **out)
{
	const struct kimage *img = vm->img;
	const struct ktype *mt = &img->types[m->type];
	struct ktype at = { .kind = KT_ARRAY,
			    .elem = keys ? mt->elem : mt->result };
	uint32_t t = kimg_find_type(img, &at), i, w = 0;
	struct karr *a;

	/* the reader refuses an image whose map types lack these arrays */
	if (KP_WARN_ON(t == KIMG_NONE))
		return kvm_abort(vm, KVM_ABORT_OOM);
	if (!kvm_charge(vm, m->used))
		return KVM_ABORT;
	a = kvm_arr_new(vm, t, m->n);
	if (!a)
		return KVM_ABORT;
	for (i = 0; i < m->used && w < a->len; i++)
		if (m->e[i].live)
			a->v[w++] = keys ? m->e[i].k : m->e[i].v;
	*out = a;
	return KVM_OK;
}
