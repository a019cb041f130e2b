"""The program representation of the generator and its reference model.

Every node prints itself as K source (`k()` for expressions, `emit()`
for statements) and runs itself on a `Machine` (`ev()` / `ex()`), an AST
interpreter written from the language reference (docs/language.md)
alone: nothing here uses frontend/, lkm/ or ctjit/.  The model produces
what `ktc run` must print: stdout, the exit status and the stderr report
(uncaught exception or abort, with its trace).

Types are canonical strings, as K writes them in messages: `int`,
`boolean`, `String`, `Any`, a class or (1.1) interface name, `T[]` for
arrays, (1.1) `Map<K, V>` and `Func<R(A1, A2)>`; `null` is the type of the
null literal.
"""

from __future__ import annotations

import re

MASK = (1 << 64) - 1
MIN = -(1 << 63)
MAX = (1 << 63) - 1
NEST_MAX = 16            # native re-entries (join/array conversion -> toString)
FILE = "p.k"


def wrap(x: int) -> int:
    x &= MASK
    return x - (1 << 64) if x >> 63 else x


def is_arr(t: str) -> bool:
    return t.endswith("[]")


def elem(t: str) -> str:
    return t[:-2]


def is_map(t: str) -> bool:
    return t.startswith("Map<") and not is_arr(t)


def map_kv(t: str) -> tuple[str, str]:
    """(K, V) of the map type t (`Map<K, V>`, K a simple type)."""
    k, v = t[4:-1].split(", ", 1)
    return k, v


def map_type(k: str, v: str) -> str:
    return f"Map<{k}, {v}>"


# (1.1) Func types, canonical as messages write them: Func<R(A1, A2)>
FUNC_SIGS: dict[str, tuple] = {}


def func_type(ret, params) -> str:
    """The canonical Func type of result ret (None: void) and params,
    registered so that fsig can take it apart."""
    t = f"Func<{'void' if ret is None else ret}({', '.join(params)})>"
    FUNC_SIGS[t] = (ret, list(params))
    return t


def is_func(t: str) -> bool:
    return t in FUNC_SIGS


def fsig(t: str):
    """(result type or None, [parameter types]) of a Func type."""
    return FUNC_SIGS[t]


PRIMS = ("int", "boolean")
BUILTIN_EXC = ["Exception", "ArithmeticException", "NullPointerException",
               "IndexOutOfBoundsException", "ClassCastException",
               "NumberFormatException", "NoSuchMethodException",
               # (1.1)
               "NoSuchElementException", "IllegalArgumentException",
               "IllegalStateException"]


# ---------------------------------------------------------------- control

class KThrow(Exception):
    def __init__(self, obj):
        self.obj = obj


class KAbort(Exception):
    def __init__(self, kind, trace):
        self.kind = kind
        self.trace = trace


class Reject(Exception):
    """The model gave up (too long, too much output): drop the program."""


class Avoid(Exception):
    """The program would hit a known, open bug (a flag of the generator):
    drop it."""


class Ret(Exception):
    def __init__(self, v):
        self.v = v


class Brk(Exception):
    pass


class Cont(Exception):
    pass


# ---------------------------------------------------------------- values

class Obj:
    __slots__ = ("cls", "f", "trace")

    def __init__(self, cls):
        self.cls = cls
        self.f = {}
        self.trace = None


class Fn:
    """(1.1) A lambda value: the node, the captured locals (copied when
    the lambda was evaluated), `this`, and the frame name of its calls."""
    __slots__ = ("ty", "lam", "env", "this", "frame")

    def __init__(self, ty, lam, env, this, frame):
        self.ty = ty
        self.lam = lam
        self.env = env
        self.this = this
        self.frame = frame


class KMap:
    """(1.1) A Map<K, V>: a dict keeps the insertion order, and K being
    int or String its keys compare as the language reference §8 says."""
    __slots__ = ("kty", "vty", "d")

    def __init__(self, kty, vty):
        self.kty = kty
        self.vty = vty
        self.d = {}


class Arr:
    __slots__ = ("ety", "v", "stored")

    def __init__(self, ety, items):
        self.ety = ety
        self.v = items
        self.stored = bool(items)   # ever had storage (Array.clear bug)


def rtype(v) -> str:
    if type(v) is bool:
        return "boolean"
    if type(v) is int:
        return "int"
    if type(v) is str:
        return "String"
    if isinstance(v, Arr):
        return v.ety + "[]"
    if isinstance(v, KMap):
        return map_type(v.kty, v.vty)
    if isinstance(v, Fn):
        return v.ty
    return v.cls


def default(t: str):
    if t == "int":
        return 0
    if t == "boolean":
        return False
    return None


# ---------------------------------------------------------------- classes

class ClassInfo:
    def __init__(self, name, sup, is_exc=False, builtin=False,
                 is_iface=False):
        self.name = name
        self.sup = sup
        self.is_exc = is_exc
        self.builtin = builtin
        self.is_iface = is_iface    # (1.1) an interface: sup is None
        self.ifaces: list[str] = []  # implemented / extended interfaces
        self.sigs = {}          # interface: name -> (ret, params)
        self.fields = []        # FieldDecl
        self.methods = {}       # name -> Method (declared in this class)
        self.ctor = None        # Ctor or None (implicit)
        self.line = 0
        self.outside = set()    # method names printed outside the body


class Program:
    """Classes, functions, top-level items, limits, and the K text."""

    def __init__(self):
        self.classes: dict[str, ClassInfo] = {}
        self.order: list[str] = []          # script classes, declaration order
        self.funcs: dict[str, "Func"] = {}
        self.items: list = []               # top-level items in source order
        self.limits: dict[str, int] = {}    # budget/heap/depth
        self.flags: dict[str, bool] = {}
        self.text = ""
        self.notes: list[str] = []
        self.finals: set[str] = set()       # names declared `final`
        o = ClassInfo("Object", None, builtin=True)
        self.classes["Object"] = o
        for n in BUILTIN_EXC:
            self.classes[n] = ClassInfo(
                n, None if n == "Object" else
                ("Object" if n == "Exception" else "Exception"),
                is_exc=True, builtin=True)

    def sub(self, a: str, b: str) -> bool:
        """a is b or a subtype of b (class and interface names): a class
        is a subtype of its ancestors and of the interfaces it or an
        ancestor implements, an interface of those it extends and of
        Object."""
        while a is not None:
            if a == b:
                return True
            c = self.classes.get(a)
            if c is None:
                return False
            if c.is_iface and b == "Object":
                return True
            if any(self.sub(j, b) for j in c.ifaces):
                return True
            a = c.sup
        return False

    def is_iface(self, t: str) -> bool:
        c = self.classes.get(t)
        return c is not None and c.is_iface

    def iface_sigs(self, i: str) -> dict:
        """The methods of interface i: its own and those it extends."""
        out = {}
        for j in self.classes[i].ifaces:
            out.update(self.iface_sigs(j))
        out.update(self.classes[i].sigs)
        return out

    def is_class(self, t: str) -> bool:
        return t in self.classes

    def assignable(self, s: str, t: str) -> bool:
        if s == t or t == "Any":
            return True
        if s == "null":
            return t not in PRIMS
        if self.is_class(s) and self.is_class(t):
            return self.sub(s, t)
        return False

    def lca(self, a: str, b: str) -> str:
        chain = []
        x = a
        while x is not None:
            chain.append(x)
            x = self.classes[x].sup
        y = b
        while y not in chain:
            y = self.classes[y].sup
        return y

    def find_method(self, cls: str, name: str):
        """(defining class, Method) of name for run-time class cls."""
        c = cls
        while c is not None:
            ci = self.classes[c]
            if name in ci.methods:
                return c, ci.methods[name]
            c = ci.sup
        return None, None

    def all_fields(self, cls: str):
        chain = []
        c = cls
        while c is not None:
            chain.append(self.classes[c])
            c = self.classes[c].sup
        out = []
        for ci in reversed(chain):
            out.extend(ci.fields)
        return out

    def ctor_params(self, cls: str):
        ci = self.classes[cls]
        if ci.builtin:
            return [] if cls == "Object" else ["String"]
        if ci.ctor is not None:
            return [p[1] for p in ci.ctor.params]
        return self.ctor_params(ci.sup)


# ---------------------------------------------------------------- machine

class Machine:
    def __init__(self, prog: Program, fuel=400_000, max_out=200_000):
        self.p = prog
        self.out: list[str] = []
        self.outlen = 0
        self.frames: list[list] = []   # [name, line, locals, this]
        self.g: dict = {}
        self.nest = 1
        self.depth = prog.limits.get("depth", 1000)
        self.steps = 0
        self.fuel = fuel
        self.max_out = max_out
        self.converting: list = []     # arrays being converted
        self.flags = prog.flags

    # bookkeeping
    def step(self, n=1):
        self.steps += n
        if self.steps > self.fuel:
            raise Reject("fuel")

    def write(self, s: str):
        self.out.append(s + "\n")
        self.outlen += len(s) + 1
        if self.outlen > self.max_out:
            raise Reject("output")

    @property
    def fr(self):
        return self.frames[-1]

    def line(self, n):
        self.frames[-1][1] = n

    def trace(self):
        return [(f[0], f[1]) for f in reversed(self.frames)]

    def push(self, name, this=None):
        if len(self.frames) >= self.depth:
            raise KAbort("stack overflow", self.trace())
        self.frames.append([name, 0, {}, this])

    def pop(self):
        self.frames.pop()

    # exceptions
    def exc(self, cls, msg):
        o = Obj(cls)
        o.f["$message"] = msg
        return o

    def throw(self, cls, msg):
        self.raise_obj(self.exc(cls, msg))

    def raise_obj(self, o):
        if o.trace is None:
            o.trace = self.trace()
        raise KThrow(o)

    def npe(self):
        self.throw("NullPointerException", "null dereference")

    def oob(self, i, n):
        self.throw("IndexOutOfBoundsException",
                   f"index {i} out of range for length {n}")

    # calls
    def call_func(self, fn, args):
        self.push(fn.name)
        loc = self.fr[2]
        for (n, _t), a in zip(fn.params, args):
            loc[n] = a
        try:
            run_block(self, fn.body)
            r = None
        except Ret as r_:
            r = r_.v
        finally:
            self.pop()
        return r

    def call_method(self, recv, name, args, static_cls=None):
        """Virtual call (static_cls None) or super call (static_cls set)."""
        start = recv.cls if static_cls is None else static_cls
        owner, m = self.p.find_method(start, name)
        if m is None:   # native methods of Object / Exception
            return self.native_method(recv, name)
        self.push(f"{owner}.{name}", recv)
        loc = self.fr[2]
        for (n, _t), a in zip(m.params, args):
            loc[n] = a
        try:
            run_block(self, m.body)
            r = None
        except Ret as r_:
            r = r_.v
        finally:
            self.pop()
        return r

    def native_method(self, recv, name):
        if name == "toString":
            return self.native_tostring(recv)
        if name == "getMessage":
            return recv.f.get("$message")
        raise AssertionError(name)

    def native_tostring(self, o):
        if self.p.sub(o.cls, "Exception"):
            m = o.f.get("$message")
            return f"{o.cls}: {'null' if m is None else m}"
        return o.cls

    def script_tostring(self, cls):
        owner, m = self.p.find_method(cls, "toString")
        return m is not None

    def new(self, cls, args):
        o = Obj(cls)
        for fd in self.p.all_fields(cls):
            o.f[fd.name] = default(fd.ty)
        if self.p.sub(cls, "Exception"):
            o.f["$message"] = None
        self.construct(o, cls, args)
        return o

    def construct(self, o, cls, args):
        ci = self.p.classes[cls]
        if ci.builtin:
            if cls != "Object":
                o.f["$message"] = args[0]
            return
        self.push(f"{cls}.<init>", o)
        try:
            if ci.ctor is None:
                self.line(ci.line)
                self.construct(o, ci.sup, args)
                self.field_inits(o, ci)
            else:
                ct = ci.ctor
                loc = self.fr[2]
                for (n, _t), a in zip(ct.params, args):
                    loc[n] = a
                if ct.super_args is not None:
                    self.line(ct.super_line)
                    sargs = [e.ev(self) for e in ct.super_args]
                    self.construct(o, ci.sup, sargs)
                else:
                    self.line(ct.line)
                    self.construct(o, ci.sup, [])
                self.field_inits(o, ci)
                try:
                    run_block(self, ct.body)
                except Ret:
                    pass
        finally:
            self.pop()

    def field_inits(self, o, ci):
        for fd in ci.fields:
            if fd.init is not None:
                self.line(fd.line)
                o.f[fd.name] = fd.init.ev(self)

    # string conversion
    def conv(self, v, native=False) -> str:
        """String conversion of v.  native: the conversion runs inside a
        native (array element, join) so a script toString nests."""
        self.step()
        if v is None:
            return "null"
        t = type(v)
        if t is bool:
            return "true" if v else "false"
        if t is int:
            return str(v)
        if t is str:
            return v
        if isinstance(v, Arr):
            return self.conv_array(v, root=not native)
        if isinstance(v, KMap):
            return self.conv_map(v)
        if isinstance(v, Fn):
            return f"<lambda {FILE}:{v.lam.line}>"
        if not self.script_tostring(v.cls):
            return self.native_tostring(v)
        if native:
            if self.nest >= NEST_MAX:
                raise KAbort("stack overflow", self.trace())
            self.nest += 1
        try:
            s = self.call_method(v, "toString", [])
        finally:
            if native:
                self.nest -= 1
        return "null" if s is None else s

    def conv_array(self, a, root=True):
        if any(x is a for x in self.converting):
            if root and not self.flags.get("cyclic_root_conversion"):
                # the language reference §6: "[...]"; the VM recurses
                # (reported)
                raise Avoid("root array already being converted")
            return "[...]"
        self.converting.append(a)
        try:
            parts = []
            i = 0
            while i < len(a.v):
                e = a.v[i]
                i += 1
                self.step(2)
                parts.append(self.conv_elem(e))
            return "[" + ", ".join(parts) + "]"
        finally:
            self.converting.pop()

    def conv_elem(self, e):
        """An element of an array or map, converted inside a native."""
        if isinstance(e, (Arr, KMap)):
            if any(x is e for x in self.converting):
                return "[...]" if isinstance(e, Arr) else "{...}"
            if isinstance(e, Arr):
                return self.conv_array(e, root=False)
            return self.conv_map(e)
        return self.conv(e, native=True)

    def conv_map(self, mp):
        """(1.1) `{k1: v1, k2: v2}` in insertion order; a map already
        being converted is `{...}`."""
        if any(x is mp for x in self.converting):
            return "{...}"
        self.converting.append(mp)
        try:
            parts = []
            for k, v in list(mp.d.items()):
                self.step(2)
                parts.append(self.conv_elem(k) + ": " + self.conv_elem(v))
            return "{" + ", ".join(parts) + "}"
        finally:
            self.converting.pop()

    def call_fn(self, f, args):
        """(1.1) Calls the lambda value f: a frame named after where the
        lambda was written, its captured values and its parameters."""
        self.push(f.frame, f.this)
        loc = self.fr[2]
        loc.update(f.env)
        lam = f.lam
        for n, a in zip(lam.pnames, args):
            loc[n] = a
        try:
            self.line(lam.line)
            if lam.kind == "block":
                try:
                    run_block(self, lam.body)
                    r = None
                except Ret as r_:
                    r = r_.v
            elif lam.kind == "print":
                v = lam.body.ev(self)
                self.write(self.conv(v))
                r = None
            else:
                r = lam.body.ev(self)
                if lam.ret is None:
                    r = None
        finally:
            self.pop()
        return r

    def call_native_fn(self, f, args):
        """A Func called by a native (sort's cmp): one more native
        re-entry, no frame of the native's own."""
        if self.nest >= NEST_MAX:
            raise KAbort("stack overflow", self.trace())
        self.nest += 1
        try:
            return self.call_fn(f, args)
        finally:
            self.nest -= 1

    def join(self, a, sep):
        parts = []
        i = 0
        while i < len(a.v):
            e = a.v[i]
            i += 1
            self.step(2)
            parts.append(self.conv_elem(e))
        return sep.join(parts)

    # the whole run
    def run(self):
        """(stdout, status, stderr) of the program."""
        self.push("<init>")
        for it in self.p.items:
            if isinstance(it, GlobalDecl):
                self.g[it.name] = default(it.ty)
                if it.const is not None:
                    # (1.1) a constant global holds its value from the
                    # start of the init
                    self.g[it.name] = it.const
        status, err = 0, ""
        try:
            for it in self.p.items:
                it.ex(self)
        except KThrow as e:
            o = e.obj
            m = o.f.get("$message")
            if m is not None and "\0" in m and \
                    not self.flags.get("nul_in_report"):
                # the VM's report stops at the NUL and loses the trace
                raise Avoid("NUL byte in an uncaught exception's message")
            err = f"{o.cls}: {'null' if m is None else m}\n" + \
                "".join(f"  at {n} ({FILE}:{ln})\n" for n, ln in o.trace)
            status = 2
        except KAbort as e:
            err = f"abort: {e.kind}\n" + \
                "".join(f"  at {n} ({FILE}:{ln})\n" for n, ln in e.trace)
            status = 2
        return "".join(self.out), status, err


# ---------------------------------------------------------------- helpers

def run_block(m, stmts):
    for s in stmts:
        s.ex(m)


def int_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def k_str_lit(s: str) -> str:
    out = []
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20 or c >= 0x7f:
            out.append(f"\\x{c:02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


INT_RE = re.compile(r"[+-]?[0-9]+\Z")


def k_trim(s: str) -> str:
    i, j = 0, len(s)
    while i < j and ord(s[i]) <= 0x20:
        i += 1
    while j > i and ord(s[j - 1]) <= 0x20:
        j -= 1
    return s[i:j]


def ascii_case(s: str, up: bool) -> str:
    b = s.encode("latin-1")
    return (b.upper() if up else b.lower()).decode("latin-1")


def k_eq(m, a, b, ta: str, tb: str) -> bool:
    """== of the language reference §6 for static operand types ta, tb."""
    if ta in PRIMS and tb in PRIMS:
        return a == b
    if "Any" in (ta, tb) or ta in PRIMS or tb in PRIMS:
        if type(a) in (int, bool, str) or type(b) in (int, bool, str):
            return type(a) is type(b) and a == b
        return a is b
    if ta == "String" or tb == "String":
        m.step(1)
        return a == b
    return a is b


# ---------------------------------------------------------------- types

def k_type(t: str, style) -> str:
    """K text of type t; style(t) picks `T[]` (False) or `Array<T>` (True)
    for an array type."""
    if not is_arr(t):
        return t
    inner = k_type(elem(t), style)
    if style(t):
        # `>>` closing Array<Array<X[]>>: a known open bug, behind a flag
        if not style.flags.get("shr_array_suffix") and \
                re.match(r"^Array<.*\[\]>$", inner):
            return inner + "[]"
        return f"Array<{inner}>"
    return inner + "[]"


class Style:
    def __init__(self, rng, flags):
        self.rng = rng
        self.flags = flags

    def __call__(self, t):
        return self.rng.random() < 0.4


# ---------------------------------------------------------------- expressions

class Expr:
    ty = "int"
    trivial = False     # evaluating it has no effect and cannot throw

    def k(self, st) -> str:
        raise NotImplementedError

    def ev(self, m):
        raise NotImplementedError


class Lit(Expr):
    def __init__(self, ty, v, text=None):
        self.ty = ty
        self.v = v
        self.text = text
        self.trivial = True

    def k(self, st):
        if self.text is not None:
            return self.text
        if self.ty == "int":
            return str(self.v) if self.v >= 0 else f"({self.v})"
        if self.ty == "boolean":
            return "true" if self.v else "false"
        if self.ty == "String":
            return k_str_lit(self.v)
        return "null"

    def ev(self, m):
        m.step()
        return self.v


class Var(Expr):
    """A local, parameter, global, or field of `this` (kind)."""

    def __init__(self, name, ty, kind):
        self.name = name
        self.ty = ty
        self.kind = kind
        self.trivial = kind != "field"

    def k(self, st):
        if self.kind == "this_field" or (self.kind == "field" and
                                         st.rng.random() < 0.3):
            return "this." + self.name
        return self.name

    def ev(self, m):
        m.step()
        if self.kind == "local":
            return m.fr[2][self.name]
        if self.kind == "global":
            return m.g[self.name]
        return m.fr[3].f[self.name]

    def store(self, m, v):
        if self.kind == "local":
            m.fr[2][self.name] = v
        elif self.kind == "global":
            m.g[self.name] = v
        else:
            m.fr[3].f[self.name] = v


class This(Expr):
    def __init__(self, ty):
        self.ty = ty

    def k(self, st):
        return "this"

    def ev(self, m):
        return m.fr[3]


class FieldGet(Expr):
    def __init__(self, obj, name, ty):
        self.obj = obj
        self.name = name
        self.ty = ty

    def k(self, st):
        return f"{self.obj.k(st)}.{self.name}"

    def ev(self, m):
        o = self.obj.ev(m)
        m.step()
        if o is None:
            m.npe()
        return o.f[self.name]


class Index(Expr):
    def __init__(self, arr, idx, ty):
        self.arr = arr
        self.idx = idx
        self.ty = ty

    def k(self, st):
        return f"{self.arr.k(st)}[{self.idx.k(st)}]"

    def ev(self, m):
        a = self.arr.ev(m)
        i = self.idx.ev(m)
        m.step()
        if a is None:
            m.npe()
        if not 0 <= i < len(a.v):
            m.oob(i, len(a.v))
        return a.v[i]


INT_OPS = {"+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"}
CMP_OPS = {"<", "<=", ">", ">="}


def int_op(m, op, a, b):
    if op == "+":
        return wrap(a + b)
    if op == "-":
        return wrap(a - b)
    if op == "*":
        return wrap(a * b)
    if op in ("/", "%"):
        if b == 0:
            m.throw("ArithmeticException", "division by zero")
        q = wrap(int_div(a, b))
        return q if op == "/" else wrap(a - wrap(q * b))
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    n = b & 63
    if op == "<<":
        return wrap(a << n)
    if op == ">>":
        return a >> n
    return wrap((a & MASK) >> n)


class Bin(Expr):
    def __init__(self, op, l, r, ty, lt=None, rt=None):
        self.op = op
        self.l = l
        self.r = r
        self.ty = ty
        self.lt = lt or l.ty     # static operand types (for == and +)
        self.rt = rt or r.ty

    def k(self, st):
        return f"({self.l.k(st)} {self.op} {self.r.k(st)})"

    def ev(self, m):
        op = self.op
        if op == "&&":
            return self.l.ev(m) and self.r.ev(m)
        if op == "||":
            return self.l.ev(m) or self.r.ev(m)
        a = self.l.ev(m)
        b = self.r.ev(m)
        m.step()
        if self.ty == "String":      # concatenation
            return m.conv(a) + m.conv(b)
        if op in ("==", "!="):
            e = k_eq(m, a, b, self.lt, self.rt)
            return e if op == "==" else not e
        if self.ty == "boolean" and self.lt == "boolean":
            if op == "&":
                return a and b
            if op == "|":
                return a or b
            if op == "^":
                return a != b
        if op in CMP_OPS:
            return {"<": a < b, "<=": a <= b, ">": a > b,
                    ">=": a >= b}[op]
        return int_op(m, op, a, b)


class Un(Expr):
    def __init__(self, op, e, ty):
        self.op = op
        self.e = e
        self.ty = ty

    def k(self, st):
        return f"({self.op}{self.e.k(st)})"

    def ev(self, m):
        v = self.e.ev(m)
        m.step()
        if self.op == "!":
            return not v
        if self.op == "-":
            return wrap(-v)
        return ~v


class Cond(Expr):
    def __init__(self, c, a, b, ty):
        self.c = c
        self.a = a
        self.b = b
        self.ty = ty

    def k(self, st):
        return f"({self.c.k(st)} ? {self.a.k(st)} : {self.b.k(st)})"

    def ev(self, m):
        return self.a.ev(m) if self.c.ev(m) else self.b.ev(m)


class Call(Expr):
    def __init__(self, fn, args):
        self.fn = fn
        self.args = args
        self.ty = fn.ret

    def k(self, st):
        return f"{self.fn.name}({', '.join(a.k(st) for a in self.args)})"

    def ev(self, m):
        args = [a.ev(m) for a in self.args]
        m.step()
        return m.call_func(self.fn, args)


class MCall(Expr):
    """o.m(args), this-less m(args) (obj None), or super.m(args)."""

    def __init__(self, obj, name, args, ty, sup=None, bare=False):
        self.obj = obj
        self.name = name
        self.args = args
        self.ty = ty
        self.sup = sup          # superclass name for super.m(...)
        self.bare = bare

    def k(self, st):
        a = ", ".join(x.k(st) for x in self.args)
        if self.sup:
            return f"super.{self.name}({a})"
        if self.bare:
            return f"{self.name}({a})"
        return f"{self.obj.k(st)}.{self.name}({a})"

    def ev(self, m):
        o = m.fr[3] if (self.sup or self.bare) else self.obj.ev(m)
        args = [a.ev(m) for a in self.args]
        m.step()
        if o is None:
            m.npe()
        return m.call_method(o, self.name, args, self.sup)


class New(Expr):
    def __init__(self, cls, args):
        self.cls = cls
        self.args = args
        self.ty = cls

    def k(self, st):
        return f"(new {self.cls}({', '.join(a.k(st) for a in self.args)}))"

    def ev(self, m):
        args = [a.ev(m) for a in self.args]
        m.step()
        return m.new(self.cls, args)


class NewArr(Expr):
    def __init__(self, ety, n):
        self.ety = ety
        self.n = n
        self.ty = ety + "[]"

    def k(self, st):
        base = self.ety
        dims = 0
        while is_arr(base):
            base = elem(base)
            dims += 1
        return f"(new {base}[{self.n.k(st)}]" + "[]" * dims + ")"

    def ev(self, m):
        n = self.n.ev(m)
        m.step()
        if n < 0:
            m.throw("IndexOutOfBoundsException", f"negative array size {n}")
        if n > 100000:
            raise Reject("huge array")
        m.step(n // 16)
        a = Arr(self.ety, [default(self.ety)] * n)
        return a


class NewEmpty(Expr):
    def __init__(self, ety):
        self.ety = ety
        self.ty = ety + "[]"

    def k(self, st):
        return f"(new Array<{k_type(self.ety, st.style)}>())"

    def ev(self, m):
        m.step()
        return Arr(self.ety, [])


class ArrLit(Expr):
    def __init__(self, ety, elems):
        self.ety = ety
        self.elems = elems
        self.ty = ety + "[]"

    def k(self, st):
        return "[" + ", ".join(e.k(st) for e in self.elems) + "]"

    def ev(self, m):
        vs = [e.ev(m) for e in self.elems]
        m.step()
        return Arr(self.ety, vs)


class Cast(Expr):
    def __init__(self, ty, e):
        self.ty = ty
        self.e = e

    def k(self, st):
        return f"(({k_type(self.ty, st.style)}) {self.e.k(st)})"

    def ev(self, m):
        v = self.e.ev(m)
        m.step()
        t = self.ty
        if v is None:
            if t in PRIMS:
                m.npe()
            return None
        if t == "Any" or instance_of(m.p, v, t):
            return v
        m.throw("ClassCastException", f"cannot cast {rtype(v)} to {t}")


def instance_of(p, v, t) -> bool:
    if v is None:
        return False
    if t == "Any":
        return True
    if t == "int":
        return type(v) is int
    if t == "boolean":
        return type(v) is bool
    if t == "String":
        return type(v) is str
    if is_arr(t):
        return isinstance(v, Arr) and v.ety == elem(t)
    if is_map(t) or is_func(t):
        return rtype(v) == t
    return isinstance(v, Obj) and p.sub(v.cls, t)


class InstOf(Expr):
    def __init__(self, e, t):
        self.e = e
        self.t = t
        self.ty = "boolean"

    def k(self, st):
        return f"({self.e.k(st)} instanceof {k_type(self.t, st.style)})"

    def ev(self, m):
        v = self.e.ev(m)
        m.step()
        return instance_of(m.p, v, self.t)


class Assign(Expr):
    """target op= value, as an expression; `op` is "" for plain `=`."""

    def __init__(self, target, op, value):
        self.t = target
        self.op = op
        self.v = value
        self.ty = target.ty

    def k(self, st):
        return f"({self.t.k(st)} {self.op}= {self.v.k(st)})"

    def ev(self, m):
        return assign(m, self.t, self.op, self.v)


def compound(m, op, ty, old, new):
    if ty == "String":
        return m.conv(old) + m.conv(new)
    if ty == "boolean":
        return {"&": old and new, "|": old or new, "^": old != new}[op]
    return int_op(m, op, old, new)


def assign(m, t, op, value):
    """Assignment to a Var, FieldGet or Index: operands left to right,
    then the store.  A compound assignment reads (and saves) the
    target's value before the right operand is evaluated (JLS 15.26.2),
    so a field or element read fails before it."""
    if isinstance(t, Var):
        old = t.ev(m) if op else None
        v = value.ev(m)
        m.step()
        if op:
            v = compound(m, op, t.ty, old, v)
        t.store(m, v)
        return v
    if isinstance(t, FieldGet):
        o = t.obj.ev(m)
        if op:
            if o is None:
                m.npe()
            old = o.f[t.name]
        v = value.ev(m)
        m.step()
        if o is None:
            m.npe()
        if op:
            v = compound(m, op, t.ty, old, v)
        o.f[t.name] = v
        return v
    a = t.arr.ev(m)
    i = t.idx.ev(m)
    if op:
        if a is None:
            m.npe()
        if not 0 <= i < len(a.v):
            m.oob(i, len(a.v))
        old = a.v[i]
    v = value.ev(m)
    m.step()
    if a is None:
        m.npe()
    if not 0 <= i < len(a.v):
        m.oob(i, len(a.v))
    if op:
        v = compound(m, op, t.ty, old, v)
    a.v[i] = v
    return v


class IncDec(Expr):
    def __init__(self, target, op, prefix):
        self.t = target
        self.op = op
        self.prefix = prefix
        self.ty = "int"

    def k(self, st):
        if self.prefix:
            return f"({self.op}{self.t.k(st)})"
        return f"({self.t.k(st)}{self.op})"

    def ev(self, m):
        t = self.t
        d = 1 if self.op == "++" else -1
        if isinstance(t, Var):
            old = t.ev(m)
            t.store(m, wrap(old + d))
        elif isinstance(t, FieldGet):
            o = t.obj.ev(m)
            if o is None:
                m.npe()
            old = o.f[t.name]
            o.f[t.name] = wrap(old + d)
        else:
            a = t.arr.ev(m)
            i = t.idx.ev(m)
            if a is None:
                m.npe()
            if not 0 <= i < len(a.v):
                m.oob(i, len(a.v))
            old = a.v[i]
            a.v[i] = wrap(old + d)
        m.step()
        return wrap(old + d) if self.prefix else old


class BI(Expr):
    """A built-in method on a String or an array receiver."""

    def __init__(self, recv, name, args, ty):
        self.recv = recv
        self.name = name
        self.args = args
        self.ty = ty

    def k(self, st):
        return (f"{self.recv.k(st)}.{self.name}"
                f"({', '.join(a.k(st) for a in self.args)})")

    def ev(self, m):
        r = self.recv.ev(m)
        args = [a.ev(m) for a in self.args]
        m.step()
        if r is None:
            m.npe()
        if isinstance(r, KMap):
            return map_method(m, r, self.name, args)
        if isinstance(r, Arr) and self.name in ARR11:
            return arr_method11(m, r, self.name, args)
        for a, x in zip(args, self.args):
            if a is None and x.ty == "String":
                if self.name in ("compareTo", "lastIndexOf"):
                    m.npe()     # (1.1) the language reference §8
                raise Avoid("null argument of a built-in")
        if isinstance(r, Arr):
            return arr_method(m, r, self.name, args)
        if type(r) is str:
            return str_method(m, r, self.name, args)
        # an object: toString / getMessage (native or script)
        return m.call_method(r, self.name, args)


def str_method(m, s, name, a):
    n = len(s)
    m.step(1 + n // 64)
    if name == "length":
        return n
    if name == "charAt":
        if not 0 <= a[0] < n:
            m.oob(a[0], n)
        return ord(s[a[0]])
    if name == "substring":
        b, e = a
        if not 0 <= b <= e <= n:
            m.throw("IndexOutOfBoundsException",
                    f"begin {b}, end {e}, length {n}")
        return s[b:e]
    if name == "indexOf":
        return s.find(a[0])
    if name == "lastIndexOf":
        return s.rfind(a[0])
    if name == "compareTo":
        m.step(1 + min(n, len(a[0])) // 64)
        return (s > a[0]) - (s < a[0])
    if name == "contains":
        return a[0] in s
    if name == "startsWith":
        return s.startswith(a[0])
    if name == "endsWith":
        return s.endswith(a[0])
    if name == "split":
        sep = a[0]
        parts = list(s) if sep == "" else s.split(sep)
        return Arr("String", parts)
    if name == "trim":
        return k_trim(s)
    if name == "toUpper":
        return ascii_case(s, True)
    if name == "toLower":
        return ascii_case(s, False)
    if name == "replace":
        return s if a[0] == "" else s.replace(a[0], a[1])
    if name == "repeat":
        if a[0] * n > 1_000_000:
            raise Reject("huge string")
        return s * a[0] if a[0] > 0 else ""
    if name == "toInt":
        if INT_RE.match(s):
            v = int(s)
            if MIN <= v <= MAX:
                return v
        m.throw("NumberFormatException", f'invalid int "{s[:64]}"')
    raise AssertionError(name)


def arr_method(m, a, name, args):
    n = len(a.v)
    if name == "size":
        return n
    if name == "add":
        m.step(1)
        a.v.append(args[0])
        a.stored = True
        if len(a.v) > 200000:
            raise Reject("huge array")
        return None
    if name == "pop":
        if n == 0:
            m.oob(-1, 0)
        return a.v.pop()
    if name == "insert":
        i = args[0]
        if not 0 <= i <= n:
            m.oob(i, n)
        m.step(1 + n // 16)
        a.v.insert(i, args[1])
        a.stored = True
        return None
    if name == "remove":
        i = args[0]
        if not 0 <= i < n:
            m.oob(i, n)
        m.step(1 + n // 16)
        return a.v.pop(i)
    if name == "clear":
        if not a.stored and not m.flags.get("clear_never_stored"):
            raise Avoid("Array.clear of an array that never had storage")
        a.v.clear()
        return None
    if name == "join":
        return m.join(a, args[0])
    raise AssertionError(name)


class Static(Expr):
    """Math.min/max/abs, String.fromChar."""

    def __init__(self, name, args, ty):
        self.name = name
        self.args = args
        self.ty = ty

    def k(self, st):
        return f"{self.name}({', '.join(a.k(st) for a in self.args)})"

    def ev(self, m):
        a = [x.ev(m) for x in self.args]
        m.step()
        if self.name == "Math.min":
            return min(a)
        if self.name == "Math.max":
            return max(a)
        if self.name == "Math.abs":
            return wrap(abs(a[0]))
        if self.name == "Math.compare":
            return (a[0] > a[1]) - (a[0] < a[1])
        if self.name == "String.format":
            return k_format(m, a[0], a[1])
        if self.name == "String.fromChar":
            if not 0 <= a[0] <= 255:
                m.oob(a[0], 256)
            return chr(a[0])
        raise AssertionError(self.name)


# ---------------------------------------------------------------- statements

class Writer:
    def __init__(self, style, rng, finals=frozenset()):
        self.lines: list[str] = []
        self.style = style
        self.rng = rng
        self.finals = finals        # names rendered with `final`

    def add(self, ind, text) -> int:
        self.lines.append("    " * ind + text)
        return len(self.lines)

    def cur_line(self) -> int:
        """The line the text being built will be on (an expression's k()
        runs before its statement's add)."""
        return len(self.lines) + 1

    def fin(self, name) -> str:
        return "final " if name in self.finals else ""


class InlineWriter(Writer):
    """Writes the statements of a lambda's block body on the one line of
    the lambda: each statement's line is that line."""

    def __init__(self, parent):
        super().__init__(parent.style, parent.rng, parent.finals)
        self.fixed = parent.cur_line()

    def add(self, ind, text) -> int:
        self.lines.append(text.strip())
        return self.fixed

    def cur_line(self) -> int:
        return self.fixed


class Stmt:
    line = 0
    completes = True

    def emit(self, w, ind):
        raise NotImplementedError

    def ex(self, m):
        raise NotImplementedError


def emit_block(w, ind, stmts):
    for s in stmts:
        s.emit(w, ind)


class Decl(Stmt):
    def __init__(self, name, ty, init, use_var=False):
        self.name = name
        self.ty = ty
        self.init = init
        self.use_var = use_var

    def emit(self, w, ind):
        t = "var" if self.use_var else k_type(self.ty, w.style)
        self.line = w.add(ind, f"{w.fin(self.name)}{t} {self.name} = "
                          f"{self.init.k(w)};")

    def ex(self, m):
        m.line(self.line)
        m.fr[2][self.name] = self.init.ev(m)


class GlobalDecl(Stmt):
    def __init__(self, name, ty, init, const=None):
        self.name = name
        self.ty = ty
        self.init = init
        self.const = const      # (1.1) a constant global's value

    def emit(self, w, ind):
        t = k_type(self.ty, w.style)
        if self.init is None:
            self.line = w.add(ind, f"{t} {self.name};")
        else:
            self.line = w.add(ind, f"{w.fin(self.name)}{t} {self.name} = "
                              f"{self.init.k(w)};")

    def ex(self, m):
        if self.init is not None:
            m.line(self.line)
            m.g[self.name] = self.init.ev(m)


class ExprStmt(Stmt):
    def __init__(self, e):
        self.e = e

    def emit(self, w, ind):
        txt = self.e.k(w)
        if txt.startswith("(") and txt.endswith(")") and \
                isinstance(self.e, (Assign, IncDec, New)):
            txt = txt[1:-1]     # a statement expression, not parenthesised
        self.line = w.add(ind, txt + ";")

    def ex(self, m):
        m.line(self.line)
        self.e.ev(m)


class Print(Stmt):
    def __init__(self, e):
        self.e = e

    def emit(self, w, ind):
        self.line = w.add(ind, f"print({self.e.k(w)});")

    def ex(self, m):
        m.line(self.line)
        v = self.e.ev(m)
        m.write(m.conv(v))


class If(Stmt):
    def __init__(self, c, then, els):
        self.c = c
        self.then = then
        self.els = els
        self.completes = blk_completes(then) or els is None or \
            blk_completes(els)

    def emit(self, w, ind):
        self.line = w.add(ind, f"if ({self.c.k(w)}) {{")
        emit_block(w, ind + 1, self.then)
        if self.els is not None:
            w.add(ind, "} else {")
            emit_block(w, ind + 1, self.els)
        w.add(ind, "}")

    def ex(self, m):
        m.line(self.line)
        m.step()
        if self.c.ev(m):
            run_block(m, self.then)
        elif self.els is not None:
            run_block(m, self.els)


def blk_completes(stmts) -> bool:
    return all(s.completes for s in stmts)


class For(Stmt):
    """for (int V = LO; V < HI; V++) { body } with V read-only."""

    def __init__(self, var, lo, hi, body):
        self.var = var
        self.lo = lo
        self.hi = hi
        self.body = body

    def emit(self, w, ind):
        v = self.var
        self.line = w.add(ind, f"for (int {v} = {self.lo.k(w)}; {v} < "
                          f"{self.hi.k(w)}; {v}++) {{")
        emit_block(w, ind + 1, self.body)
        w.add(ind, "}")

    def ex(self, m):
        m.line(self.line)
        loc = m.fr[2]
        loc[self.var] = self.lo.ev(m)
        while True:
            m.line(self.line)
            m.step()
            if not loc[self.var] < self.hi.ev(m):
                break
            try:
                run_block(m, self.body)
            except Brk:
                break
            except Cont:
                pass
            m.line(self.line)
            loc[self.var] = wrap(loc[self.var] + 1)


class While(Stmt):
    """int C = 0; while (C < N) { C++; body } (the counter declared by the
    generator just before), or do { C++; body } while (C < N);"""

    def __init__(self, var, hi, body, do=False):
        self.var = var
        self.hi = hi
        self.body = body
        self.do = do

    def emit(self, w, ind):
        v = self.var
        self.line0 = w.add(ind, f"int {v} = 0;")
        if self.do:
            self.line = w.add(ind, "do {")
        else:
            self.line = w.add(ind, f"while ({v} < {self.hi.k(w)}) {{")
        w.add(ind + 1, f"{v}++;")
        emit_block(w, ind + 1, self.body)
        if self.do:
            self.cline = w.add(ind, f"}} while ({v} < {self.hi.k(w)});")
        else:
            w.add(ind, "}")

    def ex(self, m):
        loc = m.fr[2]
        m.line(self.line0)
        loc[self.var] = 0
        first = True
        while True:
            m.step()
            if not (self.do and first):
                m.line(self.cline if self.do else self.line)
                if not loc[self.var] < self.hi.ev(m):
                    break
            first = False
            loc[self.var] += 1
            try:
                run_block(m, self.body)
            except Brk:
                break
            except Cont:
                pass


class ForEach(Stmt):
    def __init__(self, var, ty, arr, body, use_var=False):
        self.var = var
        self.ty = ty
        self.arr = arr
        self.body = body
        self.use_var = use_var

    def emit(self, w, ind):
        t = "var" if self.use_var else k_type(self.ty, w.style)
        self.line = w.add(ind, f"for ({w.fin(self.var)}{t} {self.var} : "
                          f"{self.arr.k(w)}) {{")
        emit_block(w, ind + 1, self.body)
        w.add(ind, "}")

    def ex(self, m):
        m.line(self.line)
        a = self.arr.ev(m)
        if a is None:
            m.npe()
        i = 0
        loc = m.fr[2]
        while True:
            m.line(self.line)
            m.step()
            if i >= len(a.v):
                break
            loc[self.var] = a.v[i]
            i += 1
            try:
                run_block(m, self.body)
            except Brk:
                break
            except Cont:
                pass


class Jump(Stmt):
    """break; continue; return [e]; throw e;"""

    completes = False

    def __init__(self, kind, e=None):
        self.kind = kind
        self.e = e

    def emit(self, w, ind):
        if self.e is None:
            self.line = w.add(ind, f"{self.kind};")
        else:
            self.line = w.add(ind, f"{self.kind} {self.e.k(w)};")

    def ex(self, m):
        m.line(self.line)
        m.step()
        if self.kind == "break":
            raise Brk()
        if self.kind == "continue":
            raise Cont()
        v = self.e.ev(m) if self.e is not None else None
        if self.kind == "return":
            raise Ret(v)
        if v is None:
            m.npe()
        m.raise_obj(v)


class Try(Stmt):
    def __init__(self, body, catches, fin):
        self.body = body
        self.catches = catches      # [(cls, var, stmts)]
        self.fin = fin
        c = blk_completes(body) or any(blk_completes(b)
                                       for _c, _v, b in catches)
        self.completes = c and (fin is None or blk_completes(fin))

    def emit(self, w, ind):
        self.line = w.add(ind, "try {")
        emit_block(w, ind + 1, self.body)
        for cls, var, stmts in self.catches:
            w.add(ind, f"}} catch ({w.fin(var)}{cls} {var}) {{")
            emit_block(w, ind + 1, stmts)
        if self.fin is not None:
            w.add(ind, "} finally {")
            emit_block(w, ind + 1, self.fin)
        w.add(ind, "}")

    def ex(self, m):
        m.step()
        pending = None
        try:
            try:
                run_block(m, self.body)
            except KThrow as e:
                for cls, var, stmts in self.catches:
                    if m.p.sub(e.obj.cls, cls):
                        m.fr[2][var] = e.obj
                        run_block(m, stmts)
                        break
                else:
                    raise
        except (KThrow, Ret, Brk, Cont) as e:
            pending = e
        if self.fin is not None:
            run_block(m, self.fin)     # a jump here replaces pending
        if pending is not None:
            raise pending


class RawLine(Stmt):
    """A fixed line of K with a model action (used by scenarios)."""

    def __init__(self, text, action=None, completes=True):
        self.text = text
        self.action = action
        self.completes = completes

    def emit(self, w, ind):
        self.line = w.add(ind, self.text)

    def ex(self, m):
        m.line(self.line)
        if self.action:
            self.action(m)


# ---------------------------------------------------------------- declarations

class FieldDecl:
    def __init__(self, name, ty, init, final=False):
        self.name = name
        self.ty = ty
        self.init = init
        self.line = 0
        self.final = final      # (1.1)


def k_params(params, w) -> str:
    return ", ".join(f"{w.fin(n)}{k_type(t, w.style)} {n}"
                     for n, t in params)


class Func:
    def __init__(self, name, ret, params, body):
        self.name = name
        self.ret = ret
        self.params = params        # [(name, type)]
        self.body = body
        self.line = 0

    def emit(self, w, ind):
        ps = k_params(self.params, w)
        r = "void" if self.ret is None else k_type(self.ret, w.style)
        self.line = w.add(ind, f"{r} {self.name}({ps}) {{")
        emit_block(w, ind + 1, self.body)
        w.add(ind, "}")

    def ex(self, m):
        pass


class Method(Func):
    owner = ""

    def emit_outside(self, w, ind):
        ps = k_params(self.params, w)
        r = "void" if self.ret is None else k_type(self.ret, w.style)
        self.line = w.add(ind, f"{r} {self.owner}.{self.name}({ps}) {{")
        emit_block(w, ind + 1, self.body)
        w.add(ind, "}")


class Ctor:
    def __init__(self, params, super_args, body):
        self.params = params
        self.super_args = super_args    # None: no super(...) line
        self.body = body
        self.line = 0
        self.super_line = 0


class ClassDecl:
    """The K text of a script class (its model is the ClassInfo)."""

    def __init__(self, ci: ClassInfo):
        self.ci = ci

    def ex(self, m):
        pass

    def emit(self, w, ind):
        ci = self.ci
        ext = "" if ci.sup == "Object" and w.rng.random() < 0.7 \
            else f" extends {ci.sup}"
        if ci.ifaces:
            ext += " implements " + ", ".join(ci.ifaces)
        ci.line = w.add(ind, f"class {ci.name}{ext} {{")
        for fd in ci.fields:
            t = ("final " if fd.final else "") + k_type(fd.ty, w.style)
            if fd.init is None:
                fd.line = w.add(ind + 1, f"{t} {fd.name};")
            else:
                fd.line = w.add(ind + 1, f"{t} {fd.name} = {fd.init.k(w)};")
        if ci.ctor is not None:
            ct = ci.ctor
            ps = k_params(ct.params, w)
            ct.line = w.add(ind + 1, f"{ci.name}({ps}) {{")
            if ct.super_args is not None:
                ct.super_line = w.add(
                    ind + 2,
                    f"super({', '.join(a.k(w) for a in ct.super_args)});")
            emit_block(w, ind + 2, ct.body)
            w.add(ind + 1, "}")
        for name, mt in ci.methods.items():
            if name not in ci.outside:
                mt.emit(w, ind + 1)
        w.add(ind, "}")


class InterfaceDecl:
    """(1.1) `interface I extends J { R m(T a); ... }`."""

    def __init__(self, ci: ClassInfo):
        self.ci = ci

    def ex(self, m):
        pass

    def emit(self, w, ind):
        ci = self.ci
        ext = f" extends {', '.join(ci.ifaces)}" if ci.ifaces else ""
        if not ci.sigs:
            ci.line = w.add(ind, f"interface {ci.name}{ext} {{ }}")
            return
        ci.line = w.add(ind, f"interface {ci.name}{ext} {{")
        for name, (ret, params) in ci.sigs.items():
            r = "void" if ret is None else k_type(ret, w.style)
            ps = ", ".join(f"{k_type(t, w.style)} {n}" for n, t in params)
            w.add(ind + 1, f"{r} {name}({ps});")
        w.add(ind, "}")


class OutsideMethod:
    def __init__(self, mt):
        self.mt = mt

    def ex(self, m):
        pass

    def emit(self, w, ind):
        self.mt.emit_outside(w, ind)


def render(prog: Program, rng) -> str:
    style = Style(rng, prog.flags)
    w = Writer(style, rng, prog.finals)
    w.add(0, f"// generated by tests/progfuzz ({'; '.join(prog.notes)})")
    for it in prog.items:
        it.emit(w, 0)
    prog.text = "\n".join(w.lines) + "\n"
    return prog.text


# ---------------------------------------------------------------- (1.1)

ARR11 = ("sort", "indexOf", "contains", "slice", "reverse")


def arr_method11(m, a, name, args):
    """Array.sort/indexOf/contains/slice/reverse (the language reference
    §8)."""
    n = len(a.v)
    if name == "sort":
        return arr_sort(m, a, args[0])
    if name in ("indexOf", "contains"):
        et = a.ety
        for i in range(n):
            m.step()
            if i < len(a.v) and k_eq(m, a.v[i], args[0], et, et):
                return i if name == "indexOf" else True
        return -1 if name == "indexOf" else False
    if name == "slice":
        b, e = args
        if not 0 <= b <= e <= n:
            m.throw("IndexOutOfBoundsException",
                    f"begin {b}, end {e}, length {n}")
        m.step(1 + (e - b))
        return Arr(a.ety, a.v[b:e])
    if name == "reverse":
        m.step(1 + n)
        a.v.reverse()
        return None
    raise AssertionError(name)


def arr_sort(m, a, f):
    """The VM's sort: a bottom-up merge sort of a copy, each merge taking
    the right run's element only when cmp answers > 0; the result is
    stored back after the last call of cmp (nothing when cmp throws or
    the size changed)."""
    if f is None:
        m.npe()
    n = len(a.v)
    if n < 2:
        return None
    m.step(n)
    s = list(a.v)
    d = [None] * n
    w = 1
    while w < n:
        m.step(n)
        for lo in range(0, n, 2 * w):
            mid = min(lo + w, n)
            hi = min(lo + 2 * w, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                m.step()
                r = m.call_native_fn(f, [s[i], s[j]])
                if r > 0:
                    d[k] = s[j]
                    j += 1
                else:
                    d[k] = s[i]
                    i += 1
                k += 1
            d[k:k + mid - i] = s[i:mid]
            k += mid - i
            d[k:k + hi - j] = s[j:hi]
        s, d = d, s
        w *= 2
    if len(a.v) != n:
        m.throw("IllegalStateException", "array modified during sort")
    a.v[:] = s
    return None


def map_method(m, mp, name, a):
    """Map<K, V> methods (the language reference §8)."""
    d = mp.d
    m.step(1 + len(d) // 8)
    if name == "size":
        return len(d)
    if name == "has":
        return a[0] in d
    if name == "get":
        if a[0] not in d:
            ks = m.conv(a[0])[:64]
            m.throw("NoSuchElementException", f"key {ks} not found")
        return d[a[0]]
    if name == "getOr":
        return d[a[0]] if a[0] in d else a[1]
    if name == "put":
        d[a[0]] = a[1]
        if len(d) > 100000:
            raise Reject("huge map")
        return None
    if name == "remove":
        if a[0] in d:
            del d[a[0]]
            return True
        return False
    if name == "clear":
        d.clear()
        return None
    if name == "keys":
        m.step(len(d))
        return Arr(mp.kty, list(d.keys()))
    if name == "values":
        m.step(len(d))
        return Arr(mp.vty, list(d.values()))
    raise AssertionError(name)


def k_format(m, fmt, args):
    """String.format (the language reference §8), checked left to right."""
    if fmt is None or args is None:
        m.npe()
    out = []
    used = 0
    i = 0
    n = len(fmt)

    def bad(at):
        m.throw("IllegalArgumentException",
                f"bad format directive at index {at}")

    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        at = i
        i += 1
        if i < n and fmt[i] == "%":
            out.append("%")
            i += 1
            continue
        flag = ""
        if i < n and fmt[i] in "-0":
            flag = fmt[i]
            i += 1
        ws = ""
        while i < n and fmt[i].isdigit() and fmt[i] in "0123456789":
            ws += fmt[i]
            i += 1
        if ws and (ws[0] == "0" or int(ws) > 9999):
            bad(at)
        if flag and not ws:
            bad(at)
        if i >= n or fmt[i] not in "dxXobcs":
            bad(at)
        conv = fmt[i]
        i += 1
        if flag == "0" and conv not in "dxXob":
            bad(at)
        if used >= len(args.v):
            m.throw("IllegalArgumentException",
                    f"missing argument for directive at index {at}")
        v = args.v[used]
        used += 1
        m.step()
        if conv == "s":
            body = m.conv(v, native=True)
        else:
            if type(v) is not int:
                t = "null" if v is None else rtype(v)
                m.throw("IllegalArgumentException",
                        f"directive at index {at} needs an int, got {t}")
            if conv == "d":
                body = str(v)
            elif conv == "c":
                if not 0 <= v <= 255:
                    m.throw("IllegalArgumentException",
                            f"directive at index {at} needs a byte, got {v}")
                body = chr(v)
            else:
                u = v & MASK
                body = {"x": f"{u:x}", "X": f"{u:X}", "o": f"{u:o}",
                        "b": f"{u:b}"}[conv]
        w = int(ws) if ws else 0
        if len(body) < w:
            pad = w - len(body)
            if flag == "-":
                body = body + " " * pad
            elif flag == "0":
                if body.startswith("-"):
                    body = "-" + "0" * pad + body[1:]
                else:
                    body = "0" * pad + body
            else:
                body = " " * pad + body
        out.append(body)
    if used != len(args.v):
        m.throw("IllegalArgumentException",
                f"too many arguments: {len(args.v)} given, {used} used")
    return "".join(out)


class NewMap(Expr):
    def __init__(self, ty):
        self.ty = ty

    def k(self, st):
        return f"(new {self.ty}())"

    def ev(self, m):
        m.step()
        k, v = map_kv(self.ty)
        return KMap(k, v)


class Lambda(Expr):
    """(1.1) `params -> body`: kind "expr" (an expression body), "print"
    (a void expression body `print(e)`) or "block" (statements)."""

    def __init__(self, ty, pnames, kind, body, typed=False, paren=False):
        self.ty = ty
        self.ret, self.ptypes = fsig(ty)
        self.pnames = pnames
        self.kind = kind
        self.body = body
        self.typed = typed
        self.paren = paren
        self.line = 0

    def k(self, st):
        self.line = st.cur_line()
        if self.typed:
            ps = "(" + ", ".join(f"{st.fin(n)}{k_type(t, st.style)} {n}"
                                 for n, t in zip(self.pnames,
                                                 self.ptypes)) + ")"
        elif len(self.pnames) == 1 and not self.paren:
            ps = self.pnames[0]
        else:
            ps = "(" + ", ".join(self.pnames) + ")"
        if self.kind == "expr":
            b = self.body.k(st)
        elif self.kind == "print":
            b = f"print({self.body.k(st)})"
        else:
            iw = InlineWriter(st)
            emit_block(iw, 0, self.body)
            b = "{ " + " ".join(iw.lines) + " }" if iw.lines else "{ }"
        txt = f"{ps} -> {b}"
        return f"({txt})" if self.paren else txt

    def ev(self, m):
        m.step()
        return Fn(self.ty, self, dict(m.fr[2]), m.fr[3],
                  f"{m.fr[0]}.lambda@{self.line}")


class FCall(Expr):
    """(1.1 values, 1.0 syntax) a call of a Func-typed expression."""

    def __init__(self, f, args):
        self.f = f
        self.args = args
        self.ty = fsig(f.ty)[0]

    def k(self, st):
        fk = self.f.k(st)
        if not isinstance(self.f, (Var, FieldGet, Index, FCall, Call,
                                   MCall)):
            fk = f"({fk})"
        return f"{fk}({', '.join(a.k(st) for a in self.args)})"

    def ev(self, m):
        f = self.f.ev(m)
        args = [a.ev(m) for a in self.args]
        m.step()
        if f is None:
            m.npe()
        return m.call_fn(f, args)


def switch_arm(arms, v):
    dflt = None
    for arm in arms:
        labels = arm[0]
        if labels is None:
            dflt = arm
        elif any(val == v for _e, val in labels):
            return arm
    return dflt


def k_labels(labels, st):
    if labels is None:
        return "default"
    return "case " + ", ".join(e.k(st) for e, _v in labels)


class Switch(Stmt):
    """(1.1) A switch statement; arms are (labels, body): labels a list of
    (constant expression, value) or None for default, body a one-line
    statement (an expression statement, a print or a throw) or a list of
    statements (a block)."""

    def __init__(self, sel, arms):
        self.sel = sel
        self.arms = arms
        dflt = any(a[0] is None for a in arms)
        self.completes = not dflt or any(
            arm_completes(b) for _l, b in arms)

    def emit(self, w, ind):
        self.line = w.add(ind, f"switch ({self.sel.k(w)}) {{")
        for labels, body in self.arms:
            head = k_labels(labels, w)
            if isinstance(body, list):
                w.add(ind + 1, head + " -> {")
                emit_block(w, ind + 2, body)
                w.add(ind + 1, "}")
            else:
                n = len(w.lines)
                body.emit(w, ind + 1)
                w.lines[n] = "    " * (ind + 1) + head + " -> " + \
                    w.lines[n].strip()
        w.add(ind, "}")

    def ex(self, m):
        m.line(self.line)
        v = self.sel.ev(m)
        m.step()
        if v is None:
            m.npe()
        arm = switch_arm(self.arms, v)
        if arm is None:
            return
        try:
            if isinstance(arm[1], list):
                run_block(m, arm[1])
            else:
                arm[1].ex(m)
        except Brk:
            pass


def arm_completes(body) -> bool:
    if not isinstance(body, list):
        return body.completes
    return blk_completes(body) or has_break(body)


def has_break(stmts) -> bool:
    """A `break` that leaves the switch these statements are an arm of
    (not one of a nested loop or switch; lambdas are expressions)."""
    for s in stmts:
        if isinstance(s, Jump) and s.kind == "break":
            return True
        if isinstance(s, If):
            if has_break(s.then) or (s.els is not None and
                                     has_break(s.els)):
                return True
        if isinstance(s, Block) and has_break(s.stmts):
            return True
        if isinstance(s, Try):
            if has_break(s.body) or any(has_break(b)
                                        for _c, _v, b in s.catches) or \
                    (s.fin is not None and has_break(s.fin)):
                return True
    return False


class SwitchExpr(Expr):
    """(1.1) A switch expression: arms (labels, kind, e), kind "val" (the
    arm gives e) or "throw"; always parenthesised, on one line."""

    def __init__(self, sel, arms, ty):
        self.sel = sel
        self.arms = arms
        self.ty = ty

    def k(self, st):
        parts = []
        for labels, kind, e in self.arms:
            body = e.k(st) if kind == "val" else f"throw {e.k(st)}"
            parts.append(f"{k_labels(labels, st)} -> {body};")
        return f"(switch ({self.sel.k(st)}) {{ {' '.join(parts)} }})"

    def ev(self, m):
        v = self.sel.ev(m)
        m.step()
        if v is None:
            m.npe()
        _l, kind, e = switch_arm(self.arms, v)
        x = e.ev(m)
        if kind == "val":
            return x
        if x is None:
            m.npe()
        m.raise_obj(x)


class Block(Stmt):
    """`{ stmts }`: a scope of its own."""

    def __init__(self, stmts):
        self.stmts = stmts
        self.completes = blk_completes(stmts)

    def emit(self, w, ind):
        self.line = w.add(ind, "{")
        emit_block(w, ind + 1, self.stmts)
        w.add(ind, "}")

    def ex(self, m):
        run_block(m, self.stmts)
