"""Static types of K (LANGUAGE.md 3).

Types are immutable values: equal types compare equal and hash alike.
`str(t)` gives source syntax: `int`, `boolean`, `String`, `Point`, `int[]`,
`Func<int(int)>`, `Map<String, int>`.  `ErrorType` is the type of an expression that already
produced a diagnostic: it is compatible with everything, which stops
cascades.
"""
from __future__ import annotations


class Type:
    __slots__ = ()
    is_ref = False          # a reference type (accepts null)

    def __repr__(self):
        return f"<{self}>"


class _Simple(Type):
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
    __slots__ = ()
    name = "null"
    is_ref = True


class AnyType(_Simple):
    __slots__ = ()
    name = "Any"
    is_ref = True


class ErrorType(_Simple):
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
        return dst.info.superclass is None and dst.info.builtin
    return False


def assignable(src, dst):
    """May a value of static type `src` flow into a slot of type `dst`?"""
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
    """Join of two types (LANGUAGE.md 3), or None when there is none."""
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
    """Is `(dst) e` legal for `e` of static type `src`?"""
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
