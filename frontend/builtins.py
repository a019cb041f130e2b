"""Built-in classes, natives and errno constants for the checker and the
emitter, from lkm/core/builtins.def (the single source of truth shared
with the VM).

The file is read once, by frontend/defs.py; `load()` returns its tables.
`install()` creates the built-in ClassInfos (with fields, methods, vtables
and constructors) and the other built-in names of the top-level namespace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import types as T
from .defs import DEF_PATH, BUILTINS, BuiltinClass, Builtins, Native  # noqa: F401
from .symbols import ClassInfo, FieldInfo, FuncInfo, MethodInfo

# The id of the first script class (image.FIRST_SCRIPT_CLASS): the
# checker numbers script classes from here, in declaration order.
FIRST_SCRIPT_CLASS_ID = 32
# Pseudo-owners of static natives: names of the namespace, not types.
NAMESPACES = ("Math", "System", "Errno")
# The built-in classes scripts may extend, by the language reference §4;
# install() adds every subclass of Exception.
EXTENDABLE = ("Object", "Exception", "Device", "CharDevice")
# (1.1) Poll.NAME: the bits of a CharDevice's poll mask (the language
# reference §9.1), Linux's POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP; the
# VM's KDEV_POLL_* (kvm.h) are the same numbers.
POLL_BITS = {"IN": 1, "PRI": 2, "OUT": 4, "ERR": 8, "HUP": 16}


def load() -> Builtins:
    """The tables of builtins.def (parsed once, at import of defs.py)."""
    return BUILTINS


# ------------------------------------------------------------ type strings

_TOK_RE = re.compile(r"\s*(\w+|[<>()\[\],])")


def parse_type(text, classes):
    """Parse a type string of builtins.def ("Array<String>", "int[]", "T",
    "Func<int(int)>") with `classes` mapping class names to ClassInfo.

    Returns (type, the tokens after it).  "T" is the placeholder TypeVar
    of Array natives, replaced per call by the receiver's element type.
    builtins.def is ours, not user input: a malformed string raises
    ValueError, an unknown class name KeyError, when install() runs."""
    toks = _TOK_RE.findall(text)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take(expect=None):
        nonlocal pos
        tok = toks[pos]
        if expect is not None and tok != expect:
            raise ValueError(f"bad builtin type {text!r}")
        pos += 1
        return tok

    # recursive descent over the type grammar; `pos` is the next token
    def typ():
        name = take()
        if name == "Array":
            take("<")
            t = T.ArrayType(typ())
            take(">")
        elif name == "Func":
            take("<")
            ret = typ()
            take("(")
            params = []
            while peek() != ")":
                params.append(typ())
                if peek() == ",":
                    take(",")
            take(")")
            take(">")
            t = T.FuncType(ret, params)
        else:
            t = {"int": T.INT, "boolean": T.BOOL, "void": T.VOID, "Any": T.ANY,
                 "T": T.TVAR, "K": T.KVAR, "V": T.VVAR}.get(name)
            if t is None:
                t = T.ClassType(classes[name])
        while peek() == "[":
            take("[")
            take("]")
            t = T.ArrayType(t)
        return t

    result = typ()
    return result, toks[pos:]


def parse_signature(sig, classes):
    """"R(A, B)" -> (R, [A, B])."""
    ret, _ = parse_type(sig[:_outer_paren(sig)], classes)
    return ret, [parse_type(p.strip(), classes)[0]
                 for p in signature_params(sig)]


def signature_params(sig):
    """"R(A, B)" -> ["A", " B"], the parameters' type texts.  They are
    split at the commas that are outside every `<...>` and `(...)`, since
    a parameter may itself be a Func type with a parameter list."""
    inner = sig[_outer_paren(sig) + 1:-1]
    params = []
    depth = 0
    start = 0
    for i, ch in enumerate(inner):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            params.append(inner[start:i])
            start = i + 1
    if inner.strip():
        params.append(inner[start:])
    return params


def _outer_paren(sig):
    """Index of the `(` opening the parameter list: the first one outside
    `<...>`, since a Func result type has parentheses of its own."""
    depth = 0
    for i, ch in enumerate(sig):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            return i
    raise ValueError(sig)


# ------------------------------------------------------------ installation

@dataclass
class BuiltinScope:
    """The built-in part of the program: classes by name, static natives of
    the namespaces (`Math.min`), Array methods, `print`, errno values."""
    classes: dict                 # name -> ClassInfo
    statics: dict                 # owner name -> {name -> MethodInfo}
    array_methods: dict           # name -> MethodInfo (params/ret may hold T)
    print_func: FuncInfo
    errnos: dict
    natives: list                 # Native by id
    map_methods: dict = None      # (1.1) name -> MethodInfo (params/ret may hold K, V)


def install():
    """Create fresh built-in ClassInfos (a new set per compilation, so
    script classes never leak into another program).

    Unlike defs.py, which derives layouts in any order, this walks the
    classes in file order and needs every superclass listed before its
    subclasses (builtins.def is written so)."""
    b = load()
    classes = {}
    by_id = {}
    for bc in b.classes:
        sup = by_id[bc.super_id] if bc.super_id >= 0 else None
        ci = ClassInfo(bc.name, bc.id, sup, builtin=True)
        classes[bc.name] = ci
        by_id[bc.id] = ci
    # Fields (absolute indexes) and extendability.
    for bc in b.classes:
        ci = by_id[bc.id]
        ci.fields = list(ci.superclass.fields) if ci.superclass else []
        for ty, name in bc.fields:
            hidden = name.startswith("$")
            f = FieldInfo(name, parse_type(ty, classes)[0], len(ci.fields), ci, hidden=hidden)
            ci.fields.append(f)
            ci.own_fields.append(f)
        ci.extendable = (bc.name in EXTENDABLE
                         or (ci.superclass is not None and ci.superclass.name == "Exception"))
    statics = {"Math": {}, "System": {}}
    array_methods = {}
    map_methods = {}
    print_func = None
    ctor_by_native = {}
    # Natives by kind.  `print` takes any value here; the emitter converts
    # it to a String (ITOS, ZTOS or RTOS) before calling the native, whose
    # builtins.def signature is void(String).  Static natives of a class
    # (String.fromChar, Device.register) hang on the class; those of a
    # namespace (Math, System) in `statics`.  Array methods have no owner
    # class: they apply to every array type.
    for n in b.natives:
        ret, params = parse_signature(n.signature, classes)
        if n.kind == "FUNC":
            print_func = FuncInfo(n.name, ret, [T.ANY] if n.name == "print" else params,
                                  native_id=n.id, param_names=["x"])
            continue
        owner = classes.get(n.owner)
        if n.kind == "CTOR":
            m = MethodInfo("<init>", owner, T.VOID, params, kind="ctor", native_id=n.id)
            ctor_by_native[n.name] = m
        elif n.kind == "STATIC":
            m = MethodInfo(n.name, owner, ret, params, kind="static", native_id=n.id,
                           owner_name=n.owner)
            if owner is not None:
                owner.statics[n.name] = m
            else:
                statics.setdefault(n.owner, {})[n.name] = m
        elif n.owner == "Array":
            array_methods[n.name] = MethodInfo(n.name, None, ret, params, native_id=n.id,
                                               owner_name="Array")
        elif n.owner == "Map":
            map_methods[n.name] = MethodInfo(n.name, None, ret, params, native_id=n.id,
                                             owner_name="Map")
        else:
            m = MethodInfo(n.name, owner, ret, params, slot=n.slot, native_id=n.id)
            owner.methods[n.name] = m
    # Constructors.  Classes may share a constructor native (every
    # exception class but DeviceError uses Exception_init); each class
    # gets its own MethodInfo owned by it, with the shared native id, so
    # `new ArithmeticException(...)` names the class it creates.
    for bc in b.classes:
        ci = by_id[bc.id]
        if bc.ctor_native is not None:
            proto = ctor_by_native[bc.ctor_native]
            if proto.owner is ci:
                ci.ctor = proto
            else:
                m = MethodInfo("<init>", ci, T.VOID, proto.params, kind="ctor",
                               native_id=proto.native_id)
                ci.ctor = m
            ci.ctor.super_ctor = ci.superclass.ctor if ci.superclass else None
    # Vtables: inherit, then place this class's virtual natives at their slots.
    for bc in b.classes:
        ci = by_id[bc.id]
        vt = list(ci.superclass.vtable) if ci.superclass else []
        for m in ci.methods.values():
            if m.slot >= 0:
                while len(vt) <= m.slot:
                    vt.append(None)
                vt[m.slot] = m
        ci.vtable = vt
    return BuiltinScope(classes, statics, array_methods, print_func, dict(b.errnos), list(b.natives),
                        map_methods)
