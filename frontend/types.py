"""Static types of K (the language reference §3).

The checker gives every expression one of these (`node.ty`); the emitter
maps them to the image's type table (ProgramEmitter.ty), and the loader's
verifier applies the same rules again to the image, so `assignable` here
and kimg_assignable in lkm/core must agree.

Types are immutable values: equal types compare equal and hash alike.
`str(t)` gives source syntax: `int`, `boolean`, `String`, `Point`, `int[]`,
`Func<int(int)>`, `Map<String, int>`.  `ErrorType` is the type of an expression that already
produced a diagnostic: it is compatible with everything, which stops
cascades.
"""
from __future__ import annotations


class Type:
    """A static type; subclasses define equality and `str` (source
    syntax)."""
    __slots__ = ()
    is_ref = False          # a reference type (accepts null)

    def __repr__(self):
        return f"<{self}>"


class _Simple(Type):
    """A type without parameters: one instance of each class is enough
    (INT, BOOL, ...), and all instances of one class are equal."""
    __slots__ = ()
    name = "?"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self).__name__)

    def __str__(self):
        return self.name


class IntType(_Simple):
    __slots__ = ()
    name = "int"


class BoolType(_Simple):
    __slots__ = ()
    name = "boolean"


class VoidType(_Simple):
    __slots__ = ()
    name = "void"


class NullType(_Simple):
    """The type of the literal `null`: assignable to every reference type,
    never the declared type of anything (`var x = null;` is E0207)."""
    __slots__ = ()
    name = "null"
    is_ref = True


class AnyType(_Simple):
    """`Any`: every value, ints and booleans boxed; methods are called on it
    by name at run time (CALLA), fields are not reachable through it."""
    __slots__ = ()
    name = "Any"
    is_ref = True


class ErrorType(_Simple):
    """The type of an expression that already failed.  It counts as a
    reference (`is_ref`) so that no rule on references reports it again."""
    __slots__ = ()
    name = "<error>"
    is_ref = True


class ClassType(Type):
    """An instance of a class (built-in or script); `info` is a symbols.ClassInfo."""
    __slots__ = ("info",)
    is_ref = True

    def __init__(self, info):
        self.info = info

    def __eq__(self, other):
        return isinstance(other, ClassType) and other.info is self.info

    def __hash__(self):
        return id(self.info)

    def __str__(self):
        return self.info.name


class InterfaceType(Type):
    """(1.1) An interface type; `info` is a symbols.InterfaceInfo."""
    __slots__ = ("info",)
    is_ref = True

    def __init__(self, info):
        self.info = info

    def __eq__(self, other):
        return isinstance(other, InterfaceType) and other.info is self.info

    def __hash__(self):
        return id(self.info)

    def __str__(self):
        return self.info.name


class ArrayType(Type):
    """`T[]` (also written `Array<T>`): invariant in T, so `String[]` is not
    an `Object[]` (a store could not be checked statically otherwise)."""
    __slots__ = ("elem",)
    is_ref = True

    def __init__(self, elem):
        self.elem = elem

    def __eq__(self, other):
        return isinstance(other, ArrayType) and other.elem == self.elem

    def __hash__(self):
        return hash(("array", self.elem))

    def __str__(self):
        return f"{self.elem}[]"


class MapType(Type):
    """(1.1) `Map<K, V>`: invariant in both, like arrays."""
    __slots__ = ("key", "val")
    is_ref = True

    def __init__(self, key, val):
        self.key = key
        self.val = val

    def __eq__(self, other):
        return (isinstance(other, MapType) and other.key == self.key
                and other.val == self.val)

    def __hash__(self):
        return hash(("map", self.key, self.val))

    def __str__(self):
        return f"Map<{self.key}, {self.val}>"


class FuncType(Type):
    """(1.1) `Func<R(P, ...)>`: equal only with the same return and
    parameter types (no variance), which is the rule CALLF's run-time check
    and the verifier apply too."""
    __slots__ = ("ret", "params")
    is_ref = True

    def __init__(self, ret, params):
        self.ret = ret
        self.params = tuple(params)

    def __eq__(self, other):
        return (isinstance(other, FuncType) and other.ret == self.ret
                and other.params == self.params)

    def __hash__(self):
        return hash(("func", self.ret, self.params))

    def __str__(self):
        return f"Func<{self.ret}({', '.join(str(p) for p in self.params)})>"


INT = IntType()
BOOL = BoolType()
VOID = VoidType()
NULL = NullType()
ANY = AnyType()
ERROR = ErrorType()


def is_error(t):
    """Whether `t` is the type of an expression that already failed."""
    return isinstance(t, ErrorType)


def is_subclass(sub, sup):
    """True when ClassInfo `sub` is `sup` or one of its descendants."""
    c = sub
    while c is not None:
        if c is sup:
            return True
        c = c.superclass
    return False


def implements(ci, ii):
    """(1.1) Does ClassInfo `ci` implement InterfaceInfo `ii`: does it or an
    ancestor name `ii` or an interface extending it (the language
    reference §3)?"""
    c = ci
    while c is not None:
        for i in getattr(c, "interfaces", ()):
            if any(s is ii for s in i.supers()):
                return True
        c = c.superclass
    return False


def ref_subtype(src, dst):
    """Subtyping between class and (1.1) interface types: a class is a
    subtype of its ancestors and of the interfaces it implements, an
    interface of those it extends and of `Object`."""
    if isinstance(src, ClassType) and isinstance(dst, ClassType):
        return is_subclass(src.info, dst.info)
    if isinstance(dst, InterfaceType):
        if isinstance(src, ClassType):
            return implements(src.info, dst.info)
        if isinstance(src, InterfaceType):
            return any(s is dst.info for s in src.info.supers())
        return False
    if isinstance(src, InterfaceType) and isinstance(dst, ClassType):
        # an interface type is a subtype of Object only (the one built-in class
        # without a superclass)
        return dst.info.superclass is None and dst.info.builtin
    return False


def assignable(src, dst):
    """May a value of static type `src` flow into a slot of type `dst`?

    Equal types; anything but void into Any (ints and booleans are boxed);
    `null` into any reference type; a class or interface type into its
    supertypes.  Arrays, maps and Func types are invariant: only equal
    types match."""
    if isinstance(src, ErrorType) or isinstance(dst, ErrorType):
        return True
    if src == dst:
        return not isinstance(src, VoidType)
    if isinstance(dst, VoidType) or isinstance(src, VoidType):
        return False
    if isinstance(dst, AnyType):
        return True
    if isinstance(src, NullType):
        return dst.is_ref
    if isinstance(src, (ClassType, InterfaceType)) and \
            isinstance(dst, (ClassType, InterfaceType)):
        return ref_subtype(src, dst)
    return False


def common_superclass(a, b):
    """Nearest common superclass of two ClassInfos."""
    ancestors = set()
    c = a
    while c is not None:
        ancestors.add(id(c))
        c = c.superclass
    c = b
    while c is not None:
        if id(c) in ancestors:
            return c
        c = c.superclass
    return None


def join(a, b, expected=None):
    """Join of two types (the language reference §3), or None when there is
    none: the type of `?:` and of array literal and switch expression
    values.  Equal types join to themselves, `null` to the other reference
    type, two classes to their nearest common superclass, an interface type
    and one of its subtypes to the interface; otherwise only an expected
    `Any` gives a join (everything else, e.g. `int` and `String`, is an
    error for the caller to report)."""
    if isinstance(a, ErrorType) or isinstance(b, ErrorType):
        return ERROR
    if a == b:
        return a
    if isinstance(a, NullType) and b.is_ref:
        return b
    if isinstance(b, NullType) and a.is_ref:
        return a
    if isinstance(a, ClassType) and isinstance(b, ClassType):
        c = common_superclass(a.info, b.info)
        if c is not None:
            return ClassType(c)
    # (1.1) a type and a subtype of it, one of them an interface type
    if isinstance(a, InterfaceType) or isinstance(b, InterfaceType):
        if ref_subtype(a, b):
            return b
        if ref_subtype(b, a):
            return a
    if isinstance(expected, AnyType):
        return ANY
    return None


def castable(src, dst):
    """Is `(dst) e` legal for `e` of static type `src`?

    A cast that may succeed: from or to Any (unboxing checks the value at
    run time), `null` to a reference type, between related classes (a
    downcast is checked by CAST), and (1.1) between interfaces and the
    classes scripts may extend.  Unrelated classes, and ints to booleans,
    are E0203."""
    if isinstance(src, ErrorType) or isinstance(dst, ErrorType):
        return True
    if src == dst:
        return True
    if isinstance(src, AnyType):
        return not isinstance(dst, (VoidType, NullType))
    if isinstance(dst, AnyType):
        return not isinstance(src, VoidType)
    if isinstance(src, NullType):
        return dst.is_ref
    if isinstance(src, ClassType) and isinstance(dst, ClassType):
        return is_subclass(src.info, dst.info) or is_subclass(dst.info, src.info)
    # (1.1) interface types with each other and with the class types
    # scripts may extend, both ways, tested at run time (JLS 5.5)
    if isinstance(src, InterfaceType) and isinstance(dst, InterfaceType):
        return True
    if isinstance(src, InterfaceType) and isinstance(dst, ClassType):
        return dst.info.extendable
    if isinstance(src, ClassType) and isinstance(dst, InterfaceType):
        return src.info.extendable
    return False


class TypeVar(Type):
    """The placeholder `T` of Array natives (builtins.def), substituted by the
    element type of the receiving array at each call."""
    __slots__ = ()
    is_ref = True

    def __eq__(self, other):
        return isinstance(other, TypeVar)

    def __hash__(self):
        return hash("T")

    def __str__(self):
        return "T"


TVAR = TypeVar()


class MapVar(Type):
    """The placeholders `K` and `V` of Map natives (builtins.def),
    substituted by the key and value types of the receiving map."""
    __slots__ = ("name",)
    is_ref = True

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, MapVar) and other.name == self.name

    def __hash__(self):
        return hash(("mapvar", self.name))

    def __str__(self):
        return self.name


KVAR = MapVar("K")
VVAR = MapVar("V")


def substitute_map(t, m):
    """Replace the placeholders K and V in `t` by the key and value types
    of the MapType `m`."""
    if t == KVAR:
        return m.key
    if t == VVAR:
        return m.val
    if isinstance(t, ArrayType):
        return ArrayType(substitute_map(t.elem, m))
    return t


def substitute(t, elem):
    """Replace the placeholder T in `t` by `elem`."""
    if isinstance(t, TypeVar):
        return elem
    if isinstance(t, ArrayType):
        return ArrayType(substitute(t.elem, elem))
    if isinstance(t, FuncType):
        return FuncType(substitute(t.ret, elem), [substitute(p, elem) for p in t.params])
    return t
