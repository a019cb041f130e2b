"""Seeded generator of well-typed, terminating K programs (1.0, and the
1.1 constructs of gen11.py).

`generate(seed)` returns a `Case`: the K text, the `ktc run` limits it
needs, and the behaviour the reference model (kast.Machine, written from
docs/language.md) predicts: stdout, exit status and stderr report.

Termination: every callable (function, method slot, constructor) has a
level and calls only callables of lower levels, except bounded
self-recursion on a decreasing counter and `toString`, whose recursion
follows the data (cyclic data ends in a stack overflow the model predicts
exactly); loops count up to small bounds.  The model runs with fuel, and a
program it cannot finish is dropped and the next candidate of the same
seed tried.  Known open bugs of the implementation are avoided unless
their flag (FLAGS) is turned on.  Lambda bodies have a level of their
own, and only callables above it call Func values (gen11.py).

A new expression form is one more entry in `Gen.expr_choices` (1.1
ones: `Gen11.expr11_choices`) and a node with `k`/`ev` in kast.py; a new
statement one more entry in `Gen.stmt` (1.1 ones: `Gen11.stmt11`).
"""

from __future__ import annotations

import random
import sys
import threading
from dataclasses import dataclass, field

from .kast import (
    BUILTIN_EXC, Arr, ArrLit, Assign, BI, Bin, Call, Cast, ClassDecl,
    ClassInfo, Cond, Ctor, Decl, ExprStmt, FieldDecl, FieldGet, For, ForEach,
    Func, GlobalDecl, If, IncDec, Index, InstOf, Jump, KAbort, Lit, MAX, MIN,
    MCall, Machine, Method, New, NewArr, NewEmpty, OutsideMethod, Print,
    Program, RawLine, Reject, Avoid, Static, This, Try, Un, Var, While,
    elem, is_arr, render, InterfaceDecl, is_func, ArrLit,
)
from .gen11 import Gen11, bare_lambda

# Known open bugs: False = do not generate programs that hit them.
FLAGS = {
    # `(Any) e` / an assignment expression to an Any target used as a
    # value: the verifier refuses the image
    "any_upcast_value": True,
    # `x + y`, String operand: toString of x runs before y is evaluated
    "concat_order": True,
    # `>>` does not close two levels in Array<Array<int[]>>
    "shr_array_suffix": True,
    # trace of an exception through a finally that throws and catches
    "finally_trace": True,
    # Array.clear() on an array that never had storage
    "clear_never_stored": True,
    # an array converted again from a toString called by its own
    # conversion: the language reference §6 says "[...]", the VM recurses
    "cyclic_root_conversion": True,
    # an uncaught exception whose message holds a NUL byte: the report
    # stops at the NUL and has no trace (found by this generator)
    "nul_in_report": True,
}

WORDS = ["", "a", "ab", "K", "x,y,,z", " pad ", "42", "-7", "+5", "0",
         "abcabc", "a\tb", "line\nbreak", "\x01\x7f", "9223372036854775807",
         "9223372036854775808", "-9223372036854775808", "Hello", "q\"u\\o",
         ",", "--", "é"]
INT_EDGE = [0, 1, -1, 2, 7, 63, 64, 65, 255, 256, MAX, MIN, MAX - 1,
            MIN + 1, 1 << 32, -(1 << 31), 0x5555555555555555, 1000003]


@dataclass
class Case:
    seed: int
    text: str
    args: list[str]
    out: str
    status: int
    err: str
    notes: list[str] = field(default_factory=list)


class Ctx:
    """Where code is being generated."""

    def __init__(self, level, ret=None, cls=None, fn=None):
        self.level = level       # may call callables of lower levels
        self.ret = ret           # return type (None: void)
        self.cls = cls           # class of `this`
        self.fn = fn             # the callable (for self-recursion)
        self.vars: list[Var] = []
        self.ro: set[str] = set()      # read-only names (loop counters)
        self.loop = 0
        self.fin = 0
        self.foreach = 0
        self.top = False
        self.tostring = False
        self.sw = False          # in a switch arm: `break` leaves it

    def child(self):
        c = Ctx(self.level, self.ret, self.cls, self.fn)
        c.vars = list(self.vars)
        c.ro = set(self.ro)
        c.loop, c.fin, c.foreach = self.loop, self.fin, self.foreach
        c.top, c.tostring = self.top, self.tostring
        c.sw = self.sw
        return c


class Slot:
    def __init__(self, name, owner, ret, params, level):
        self.name = name
        self.owner = owner
        self.ret = ret
        self.params = params
        self.level = level


class Gen(Gen11):
    def __init__(self, seed, flags=None):
        self.seed = seed
        self.rng = random.Random(seed)
        self.flags = dict(FLAGS, **(flags or {}))
        self.n = 0
        self.p = Program()
        self.p.flags = self.flags
        self.slots: list[Slot] = []
        self.funcs: list[Func] = []
        self.flevel: dict[str, int] = {}
        self.classes: list[str] = []
        self.excs: list[str] = []
        self.globals: list[Var] = []
        self.setup11()

    def name(self, pre):
        self.n += 1
        return f"{pre}{self.n}"

    def chance(self, p):
        return self.rng.random() < p

    # ------------------------------------------------------------ types

    def ref_types(self):
        ts = ["String", "Any", "int[]", "String[]", "Any[]"]
        ts += self.classes
        ts += [c + "[]" for c in self.classes[:2]]
        return ts

    def any_type(self, simple=False):
        r = self.rng.random()
        if r < 0.35:
            return "int"
        if r < 0.45:
            return "boolean"
        if r < 0.65:
            return "String"
        if simple:
            return self.rng.choice(["int", "String", "boolean"])
        if self.v11 and self.chance(0.2):
            ts = self.types11()
            if ts:
                return self.rng.choice(ts)
        t = self.rng.choice(self.ref_types())
        if self.chance(0.05):
            t = "int[][]"
        return t

    def field_type(self):
        return self.any_type()

    # ------------------------------------------------------------ literals

    def int_lit(self):
        r = self.rng.random()
        if r < 0.6:
            return Lit("int", self.rng.randint(-5, 20))
        if r < 0.8:
            v = self.rng.choice(INT_EDGE)
            if v == MIN:
                return Lit("int", v, self.rng.choice(
                    ["(-9223372036854775808)", "0x8000000000000000"]))
            return Lit("int", v)
        if r < 0.87:
            c = self.rng.choice("azAZ09 ~")
            return Lit("int", ord(c), f"'{c}'")
        v = self.rng.randint(0, 300)
        form = self.rng.choice(["x", "b", "o"])
        if form == "x":
            return Lit("int", v, hex(v))
        if form == "b":
            return Lit("int", v, "0b" + bin(v)[2:])
        return Lit("int", v, "0" + oct(v)[2:] if v else "0")

    def str_lit(self):
        return Lit("String", self.rng.choice(WORDS))

    def small(self, hi=6):
        return Lit("int", self.rng.randint(0, hi))

    # ------------------------------------------------------------ expressions

    def vars_of(self, ctx, t, writable=False):
        out = []
        for v in ctx.vars:
            if writable and (v.name in ctx.ro or v.name in self.frozen):
                continue
            if (writable and v.ty == t) or \
                    (not writable and self.p.assignable(v.ty, t)):
                out.append(v)
        return out

    def expr(self, ctx, t, d=2, exact=False):
        """An expression whose static type is assignable to t (exactly t
        when exact; never the bare null literal then)."""
        for _ in range(30):
            e = self.try_expr(ctx, t, d, exact)
            if e is not None and (not exact or e.ty == t):
                return e
        return self.leaf(ctx, t, exact=True)

    def leaf(self, ctx, t, exact=False):
        vs = [v for v in self.vars_of(ctx, t)
              if not exact or v.ty == t]
        if vs and self.chance(0.6):
            return self.rng.choice(vs)
        if t == "int":
            return self.int_lit()
        if t == "boolean":
            return Lit("boolean", self.chance(0.5))
        if t == "String":
            return self.str_lit()
        if t == "Any" and not exact:
            return self.rng.choice([self.int_lit(), self.str_lit(),
                                    Lit("boolean", True)])
        if is_arr(t):
            return NewArr(elem(t), self.small(3))
        x = self.leaf11(ctx, t, exact)
        if x is not None:
            return x
        if t in self.p.classes and not self.p.classes[t].builtin:
            return self.new_obj(ctx, t, 0)
        if t in self.p.classes:
            return New(t, [self.str_lit()])
        if t == "Any":
            return Index(NewArr("Any", Lit("int", 1)), Lit("int", 0), "Any")
        if exact:
            return Cast(t, Lit("null", None))
        return Lit("null", None)

    def try_expr(self, ctx, t, d, exact):
        ch = self.expr_choices(ctx, t, d, exact)
        tot = sum(w for w, _ in ch)
        r = self.rng.random() * tot
        for w, f in ch:
            r -= w
            if r <= 0:
                return f()
        return None

    def expr_choices(self, ctx, t, d, exact):
        rng = self.rng
        ch = [(3, lambda: self.leaf(ctx, t, exact))]
        if d <= 0:
            return ch
        e = lambda tt, dd=d - 1, ex=False: self.expr(ctx, tt, dd, ex)  # noqa
        ch.append((1, lambda: self.call(ctx, t, d)))
        ch.append((1, lambda: self.mcall(ctx, t, d)))
        ch.append((0.7, lambda: self.field_get(ctx, t, d)))
        ch.append((0.6, lambda: self.index(ctx, t, d)))
        ch.append((0.3, lambda: self.cond(ctx, t, d)))
        if t == "int":
            ch += [
                (4, lambda: Bin(rng.choice(["+", "-", "*", "&", "|", "^",
                                            "<<", ">>", ">>>", "+", "-"]),
                                e("int"), e("int"), "int")),
                (1, lambda: Bin(rng.choice(["/", "%"]), e("int"),
                                e("int"), "int")),
                (0.7, lambda: Un(rng.choice(["-", "~"]), e("int"), "int")),
                (1, lambda: BI(self.expr(ctx, rng.choice(
                    ["int[]", "String[]", "Any[]"] + [c + "[]" for c in
                                                      self.classes[:1]]),
                    d - 1, True), "size", [], "int")),
                (1.2, lambda: self.str_int(ctx, d)),
                (0.8, lambda: Static(rng.choice(["Math.min", "Math.max"]),
                                     [e("int"), e("int")], "int")),
                (0.3, lambda: Static("Math.abs", [e("int")], "int")),
                (0.5, lambda: Cast("int", e("Any", ex=True))),
                (0.8, lambda: self.assign_expr(ctx, "int", d)),
                (0.6, lambda: self.incdec(ctx)),
            ]
        elif t == "boolean":
            ch += [
                (2, lambda: Bin(rng.choice(["<", "<=", ">", ">="]),
                                e("int"), e("int"), "boolean")),
                (2, lambda: self.equality(ctx, d)),
                (1.5, lambda: Bin(rng.choice(["&&", "||", "&", "|", "^"]),
                                  e("boolean"), e("boolean"), "boolean")),
                (0.7, lambda: Un("!", e("boolean"), "boolean")),
                (1, lambda: BI(e("String"), rng.choice(
                    ["contains", "startsWith", "endsWith"]),
                    [self.nonnull_str(ctx, d - 1)], "boolean")),
                (1, lambda: self.instof(ctx, d)),
                (0.3, lambda: Cast("boolean", e("Any", ex=True))),
            ]
        elif t == "String":
            ch += [
                (4, lambda: self.concat(ctx, d)),
                (1.5, lambda: self.str_str(ctx, d)),
                (0.7, lambda: BI(self.expr(ctx, rng.choice(
                    ["int[]", "String[]", "Any[]", "boolean[]", "int[][]"] +
                    [c + "[]" for c in self.classes[:2]]), d - 1, True),
                    "join", [self.nonnull_str(ctx, 0)], "String")),
                (0.6, lambda: self.tostring_call(ctx, d)),
                (0.3, lambda: Static("String.fromChar", [
                    rng.choice([Bin("&", e("int"), Lit("int", 255), "int"),
                                e("int")])], "String")),
                (0.4, lambda: Cast("String", e("Any", ex=True))),
                (0.4, lambda: self.assign_expr(ctx, "String", d)),
            ]
        elif t == "Any":
            if not exact:
                ch += [(2, lambda: self.expr(ctx, self.any_type(), d - 1))]
            if self.flags["any_upcast_value"]:
                ch += [(0.5, lambda: Cast("Any", self.expr(
                    ctx, self.any_type(), d - 1)))]
        elif is_arr(t):
            et = elem(t)
            ch += [
                (1.5, lambda: self.arr_lit(ctx, et, d, exact)),
                (1, lambda: NewArr(et, rng.choice([
                    self.small(5), Bin("&", e("int"), Lit("int", 7), "int"),
                    Lit("int", -1)]))),
                (0.7, lambda: NewEmpty(et)),
                (0.3, lambda: Cast(t, e("Any", ex=True))),
            ]
            if et == "String":
                ch.append((0.8, lambda: BI(e("String"), "split",
                                           [self.nonnull_str(ctx, 0)],
                                           "String[]")))
        elif t in self.p.classes:
            subs = [c for c in self.classes + self.excs
                    if self.p.sub(c, t) and (not exact or c == t)]
            if subs:
                ch.append((2, lambda: self.new_obj(ctx, rng.choice(subs),
                                                   d - 1)))
            downs = [c for c in self.classes + self.excs
                     if self.p.sub(c, t) and c != t]
            sups = [c for c in self.classes + self.excs
                    if self.p.sub(t, c) and c != t]
            if sups:
                ch.append((0.4, lambda: Cast(t, self.expr(
                    ctx, rng.choice(sups), d - 1, exact=True))))
            if downs and not exact:
                ch.append((0.2, lambda: Cast(rng.choice(downs),
                                             self.expr(ctx, t, d - 1,
                                                       exact=True))))
            ch.append((0.3, lambda: Cast(t, e("Any", ex=True))))
            if ctx.cls and self.p.sub(ctx.cls, t) and \
                    (not exact or ctx.cls == t):
                ch.append((0.5, lambda: This(ctx.cls)))
        ch += self.expr11_choices(ctx, t, d, exact)
        return ch

    def nonnull_str(self, ctx, d):
        if self.chance(0.7):
            return self.str_lit()
        return self.concat(ctx, max(d, 1))

    def cond(self, ctx, t, d):
        a = self.expr(ctx, t, d - 1)
        if a.ty == "null":
            return None
        b = self.expr(ctx, a.ty, d - 1, exact=a.ty not in self.classes)
        return Cond(self.expr(ctx, "boolean", d - 1), a, b, a.ty)

    def equality(self, ctx, d):
        t = self.any_type()
        a = self.expr(ctx, t, d - 1)
        if a.ty == "null":
            return None
        if a.ty == "Any" and self.chance(0.5):
            b = self.expr(ctx, self.any_type(simple=True), d - 1)
        else:
            b = self.expr(ctx, a.ty, d - 1)
        return Bin(self.rng.choice(["==", "!="]), a, b, "boolean")

    def instof(self, ctx, d):
        if self.chance(0.5) or not self.classes:
            e = self.expr(ctx, "Any", d - 1, exact=True)
            tt = self.rng.choice(["int", "boolean", "String", "int[]",
                                  "String[]", "Any[]"] + self.classes +
                                 self.excs + self.ifaces + self.mtypes +
                                 self.ftypes)
            return InstOf(e, tt)
        c = self.rng.choice(self.classes + self.ifaces)
        e = self.expr(ctx, c, d - 1)
        if e.ty == "null":
            return None
        subs = [k for k in self.classes if self.p.sub(k, e.ty)]
        if self.ifaces and (not subs or self.chance(0.3)):
            # (1.1) an interface and a class: tested at run time
            subs = self.ifaces + (self.classes if self.p.is_iface(e.ty)
                                  else [])
        return InstOf(e, self.rng.choice(subs))

    def concat(self, ctx, d):
        t = self.any_type()
        if self.chance(0.5):
            a = self.expr(ctx, "String", d - 1)
            b = self.expr(ctx, t, d - 1)
        else:
            a = self.expr(ctx, t, d - 1)
            b = self.expr(ctx, "String", d - 1)
            if a.ty not in ("int", "boolean", "String") and \
                    not self.flags["concat_order"] and not b.trivial:
                b = self.str_lit()
        if a.ty == "null" or b.ty == "null":
            return None
        if a.ty != "String" and b.ty != "String":
            return None
        return Bin("+", a, b, "String")

    def str_int(self, ctx, d):
        rng = self.rng
        s = self.expr(ctx, "String", d - 1)
        k = rng.choice(["length", "length", "charAt", "indexOf", "toInt"])
        if k == "length":
            return BI(s, "length", [], "int")
        if k == "charAt":
            return BI(s, "charAt", [self.expr(ctx, "int", 0)], "int")
        if k == "indexOf":
            return BI(s, "indexOf", [self.nonnull_str(ctx, d - 1)], "int")
        if self.chance(0.6):
            s = Lit("String", rng.choice(["12", "-3", "+5", "0", "x1",
                                          "9223372036854775807",
                                          "9223372036854775808", ""]))
        return BI(s, "toInt", [], "int")

    def str_str(self, ctx, d):
        rng = self.rng
        s = self.expr(ctx, "String", d - 1)
        k = rng.choice(["substring", "trim", "toUpper", "toLower",
                        "replace", "repeat"])
        if k == "substring":
            return BI(s, k, [self.small(4), self.small(6)], "String")
        if k == "replace":
            return BI(s, k, [self.nonnull_str(ctx, 0),
                             self.nonnull_str(ctx, 0)], "String")
        if k == "repeat":
            return BI(s, k, [rng.choice([self.small(4), Lit("int", -2)])],
                      "String")
        return BI(s, k, [], "String")

    def arr_lit(self, ctx, et, d, exact, empty_ok=False):
        n = self.rng.randint(0 if empty_ok else 1, 3)
        if n == 0:
            return ArrLit(et, [])
        # without an expected type the elements must join to et exactly
        els = [self.expr(ctx, et, d - 1, exact=True) for _ in range(n)]
        return ArrLit(et, els)

    def tostring_call(self, ctx, d):
        cs = self.classes + self.excs
        if not cs:
            return None
        c = self.rng.choice(cs)
        o = self.expr(ctx, c, d - 1)
        if o.ty == "null" or not self.p.is_class(o.ty):
            return None
        if self.p.sub(o.ty, "Exception") and self.chance(0.5):
            return BI(o, "getMessage", [], "String")
        return BI(o, "toString", [], "String")

    def field_get(self, ctx, t, d):
        cands = []
        for c in self.classes:
            for fd in self.p.all_fields(c):
                if self.p.assignable(fd.ty, t):
                    cands.append((c, fd))
        if not cands:
            return None
        c, fd = self.rng.choice(cands)
        if ctx.cls and self.p.sub(ctx.cls, c) and self.chance(0.5):
            return Var(fd.name, fd.ty, "field")
        o = self.expr(ctx, c, d - 1)
        if o.ty == "null":
            return None
        return FieldGet(o, fd.name, fd.ty)

    def index(self, ctx, t, d):
        at = t + "[]" if t != "Any" or self.chance(0.5) else "Any[]"
        if t in self.classes and self.classes.index(t) >= 2:
            return None
        o = self.expr(ctx, at, d - 1, exact=True)
        i = self.expr(ctx, "int", d - 1) if self.chance(0.3) else \
            self.small(3)
        return Index(o, i, elem(at))

    def call(self, ctx, t, d):
        fs = [f for f in self.funcs if f.ret is not None and
              self.flevel[f.name] < ctx.level and
              self.p.assignable(f.ret, t)]
        if not fs:
            return None
        f = self.rng.choice(fs)
        return Call(f, [self.expr_x(ctx, pt, d - 1) for _n, pt in f.params])

    def mcall(self, ctx, t, d):
        ss = [s for s in self.slots if s.ret is not None and
              s.level < ctx.level and self.p.assignable(s.ret, t)]
        if not ss:
            return None
        s = self.rng.choice(ss)
        args = [self.expr_x(ctx, pt, d - 1) for _n, pt in s.params]
        if ctx.cls and self.p.sub(ctx.cls, s.owner) and self.chance(0.4):
            return MCall(None, s.name, args, s.ret, bare=True)
        o = self.expr(ctx, s.owner, d - 1)
        if o.ty == "null":
            return None
        return MCall(o, s.name, args, s.ret)

    def new_obj(self, ctx, c, d):
        ps = self.p.ctor_params(c)
        return New(c, [self.expr_x(ctx, pt, max(d - 1, 0)) for pt in ps])

    def target(self, ctx, t):
        """An assignable place of type exactly t."""
        vs = self.vars_of(ctx, t, writable=True)
        r = self.rng.random()
        if vs and r < 0.6:
            v = self.rng.choice(vs)
            if v.kind == "local":
                self.assigned.add(v.name)   # not effectively final
            return v
        if r < 0.8:
            for c in self.rng.sample(self.classes, len(self.classes)):
                for fd in self.p.all_fields(c):
                    if fd.ty == t and fd.name not in self.frozen:
                        o = self.expr(ctx, c, 1)
                        if o.ty != "null":
                            return FieldGet(o, fd.name, t)
        if t == "Any" and not self.flags["any_upcast_value"]:
            return None
        if not t.endswith("[][]"):
            a = self.expr(ctx, t + "[]", 1, exact=True)
            return Index(a, self.small(2), t)
        return None

    def assign_expr(self, ctx, t, d):
        tg = self.target(ctx, t)
        if tg is None or (t == "Any" and not self.flags["any_upcast_value"]):
            return None
        if isinstance(tg, Var):
            if t == "int" and self.chance(0.6):
                return Assign(tg, self.rng.choice(
                    ["+", "-", "*", "&", "|", "^", "<<", ">>", "/", "%"]),
                    self.expr(ctx, "int", d - 1))
            if t == "String" and self.chance(0.4):
                return Assign(tg, "+", self.expr(ctx, self.any_type(),
                                                 d - 1))
            return Assign(tg, "", self.expr_x(ctx, t, d - 1))
        # a field or element: a compound only with a trivial operand
        if t == "int" and self.chance(0.5):
            return Assign(tg, self.rng.choice(["+", "-", "*"]),
                          self.int_lit())
        return Assign(tg, "", self.expr(ctx, t, d - 1))

    def incdec(self, ctx):
        tg = self.target(ctx, "int")
        if tg is None:
            return None
        return IncDec(tg, self.rng.choice(["++", "--"]), self.chance(0.5))

    # ------------------------------------------------------------ statements

    def block(self, ctx, n, d):
        out = []
        c = ctx.child()
        for _ in range(n):
            s = self.stmt(c, d)
            if s is None:
                continue
            out.append(s)
            if isinstance(s, Decl):
                c.vars.append(Var(s.name, s.ty, "local"))
            if not s.completes:
                break
        return out

    def stmt(self, ctx, d):
        rng = self.rng
        r = rng.random()
        if ctx.fin and not self.flags["finally_trace"]:
            # finally blocks stay simple: no throws, no calls
            return Print(self.concat_safe(ctx))
        if self.v11 and r < 0.1:
            s = self.stmt11(ctx, d)
            if s is not None:
                return s
            r = rng.random()
        if r < 0.14:
            t = self.any_type()
            e = self.expr_x(ctx, t, 2)
            if e.ty == "null":
                return None
            use_var = not bare_lambda(e) and self.chance(0.3)
            return Decl(self.name("v"), e.ty if use_var else t, e, use_var)
        if r < 0.32:
            return Print(self.expr(ctx, self.any_type(), 2))
        if r < 0.42:
            t = self.any_type()
            tg = self.target(ctx, t)
            if tg is None:
                return None
            if isinstance(tg, Var) and t == "String" and self.chance(0.3):
                return ExprStmt(Assign(tg, "+", self.expr(
                    ctx, self.any_type(), 1)))
            return ExprStmt(Assign(tg, "", self.expr_x(ctx, t, 2)))
        if r < 0.47:
            e = self.incdec(ctx)
            return ExprStmt(e) if e else None
        if r < 0.55:
            return self.call_stmt(ctx)
        if r < 0.60:
            return self.arr_stmt(ctx)
        if d <= 0:
            return Print(self.expr(ctx, "String", 1))
        if r < 0.68:
            c = self.expr(ctx, "boolean", 2)
            return If(c, self.block(ctx, rng.randint(1, 3), d - 1),
                      self.block(ctx, rng.randint(1, 2), d - 1)
                      if self.chance(0.5) else None)
        if r < 0.76:
            return self.loop(ctx, d)
        if r < 0.86:
            return self.try_stmt(ctx, d)
        if r < 0.90 and (ctx.loop or ctx.sw):
            return Jump(rng.choice(["break", "continue"] if ctx.loop
                                   else ["break"]))
        if r < 0.94:
            return self.throw_stmt(ctx)
        if r < 0.97 and not ctx.top:
            return self.return_stmt(ctx)
        return Print(self.expr(ctx, "String", 2))

    def concat_safe(self, ctx):
        vs = [v for v in ctx.vars if v.ty in ("int", "String", "boolean")
              and v.trivial]
        a = self.rng.choice(vs) if vs and self.chance(0.7) else \
            self.int_lit()
        return Bin("+", Lit("String", "fin "), a, "String")

    def return_stmt(self, ctx):
        if ctx.ret is None:
            return Jump("return")
        return Jump("return", self.expr_x(ctx, ctx.ret, 2))

    def throw_stmt(self, ctx):
        cs = self.excs + BUILTIN_EXC
        c = self.rng.choice(cs)
        if c in self.excs:
            e = self.new_obj(ctx, c, 1)
        else:
            e = New(c, [self.expr(ctx, "String", 1)])
        if self.chance(0.2):
            v = [x for x in ctx.vars if x.ty in cs]
            if v:
                return Jump("throw", self.rng.choice(v))
        if not ctx.top and ctx.fn is not None:
            return If(self.expr(ctx, "boolean", 1), [Jump("throw", e)], None)
        return Jump("throw", e) if self.chance(0.3) else \
            If(self.expr(ctx, "boolean", 1), [Jump("throw", e)], None)

    def call_stmt(self, ctx):
        fs = [f for f in self.funcs if self.flevel[f.name] < ctx.level]
        ss = [s for s in self.slots if s.level < ctx.level]
        if ss and (not fs or self.chance(0.5)):
            s = self.rng.choice(ss)
            args = [self.expr_x(ctx, pt, 1) for _n, pt in s.params]
            o = self.expr(ctx, s.owner, 1)
            if o.ty == "null":
                return None
            return ExprStmt(MCall(o, s.name, args, s.ret))
        if fs:
            f = self.rng.choice(fs)
            return ExprStmt(Call(f, [self.expr_x(ctx, pt, 1)
                                     for _n, pt in f.params]))
        return None

    def arr_stmt(self, ctx):
        t = self.rng.choice(["int[]", "String[]", "Any[]"] +
                            [c + "[]" for c in self.classes[:2]])
        a = self.expr(ctx, t, 1, exact=True)
        et = elem(t)
        k = self.rng.choice(["add", "add", "pop", "insert", "remove",
                             "clear"])
        if ctx.foreach and k in ("add", "insert"):
            k = "pop"
        if k == "add":
            return ExprStmt(BI(a, "add", [self.expr(ctx, et, 1)], None))
        if k == "insert":
            return ExprStmt(BI(a, "insert", [self.small(2),
                                             self.expr(ctx, et, 1)], None))
        if k == "remove":
            return ExprStmt(BI(a, "remove", [self.small(2)], et))
        return ExprStmt(BI(a, k, [], et if k == "pop" else None))

    def loop(self, ctx, d):
        rng = self.rng
        c = ctx.child()
        c.loop += 1
        k = rng.random()
        v = self.name("i")
        c.ro.add(v)
        if k < 0.4:
            c.vars.append(Var(v, "int", "local"))
            body = self.block(c, rng.randint(1, 3), d - 1)
            return For(v, self.small(2), Lit("int", rng.randint(0, 5)),
                       body)
        if k < 0.7:
            c.vars.append(Var(v, "int", "local"))
            body = self.block(c, rng.randint(1, 3), d - 1)
            do = self.chance(0.4)
            if do and not blk_completes_(body):
                # a do body that cannot complete would make the loop's
                # end unreachable: guard it (the guard always holds)
                body = [If(Bin(">", Var(v, "int", "local"), Lit("int", 0),
                               "boolean"), body, None)]
            return While(v, Lit("int", rng.randint(0, 4)), body, do=do)
        t = rng.choice(["int", "String", "Any"] + self.classes[:1])
        arr = self.expr(ctx, t + "[]", 1, exact=True)
        c.foreach += 1
        use_var = self.chance(0.3)
        self.maybe_final(v, 0.15)
        c.vars.append(Var(v, t, "local"))
        body = self.block(c, rng.randint(1, 3), d - 1)
        return ForEach(v, t, arr, body, use_var)

    def try_stmt(self, ctx, d):
        rng = self.rng
        body = self.block(ctx, rng.randint(1, 3), d - 1)
        catches = []
        pool = self.excs + BUILTIN_EXC
        chosen = []
        for _ in range(rng.randint(0, 2)):
            c = rng.choice(pool)
            # a catch of a subclass of an earlier catch is unreachable
            if any(self.p.sub(c, x) for x in chosen):
                continue
            chosen.append(c)
        if self.chance(0.5) and not any(x == "Exception" for x in chosen):
            chosen.append("Exception")
        for c in chosen:
            var = self.name("e")
            self.maybe_final(var, 0.15)
            cc = ctx.child()
            cc.vars.append(Var(var, c, "local"))
            hb = [Print(Bin("+", Lit("String", "caught "),
                            Var(var, c, "local"), "String"))]
            hb += self.block(cc, rng.randint(0, 1), d - 1)
            catches.append((c, var, hb))
        fin = None
        if not catches or self.chance(0.4):
            fc = ctx.child()
            fc.fin += 1
            fin = self.block(fc, rng.randint(1, 2), 0)
        return Try(body, catches, fin)

    # ------------------------------------------------------------ declarations

    def make_classes(self):
        rng = self.rng
        for _ in range(rng.randint(1, 4)):
            name = self.name("C")
            sup = rng.choice(["Object"] * 2 + self.classes)
            ci = ClassInfo(name, sup)
            self.p.classes[name] = ci
            self.classes.append(name)
        for _ in range(rng.randint(0, 2)):
            name = self.name("X")
            sup = rng.choice(["Exception", "ArithmeticException",
                              "IndexOutOfBoundsException"] + self.excs)
            ci = ClassInfo(name, sup, is_exc=True)
            self.p.classes[name] = ci
            self.excs.append(name)
        # fields (types may name any class: declared after all classes)
        for c in self.classes:
            ci = self.p.classes[c]
            for _ in range(rng.randint(0, 3)):
                t = self.field_type()
                init = None
                if self.chance(0.5):
                    init = self.field_init(t)
                fd = FieldDecl(self.name("f"), t, init)
                if self.v11 and self.chance(0.15):
                    fd.final = True         # blank: the constructor sets it
                    self.frozen.add(fd.name)
                ci.fields.append(fd)
        for c in self.excs:
            ci = self.p.classes[c]
            if self.chance(0.5):
                ci.fields.append(FieldDecl(self.name("f"), "int",
                                           Lit("int", rng.randint(0, 9))))
        self.make_ifaces()

    def field_init(self, t):
        if t == "int":
            return self.int_lit()
        if t == "boolean":
            return Lit("boolean", self.chance(0.5))
        if t == "String":
            return self.str_lit()
        if is_arr(t) and elem(t) in ("int", "String"):
            ctx = Ctx(0)
            return self.arr_lit(ctx, elem(t), 1, False, empty_ok=True)
        if is_arr(t):
            return NewEmpty(elem(t))
        if is_func(t) and self.chance(0.6):
            # (1.1) a lambda, made by make_bodies once the constructors
            # and levels are known
            return PENDING_LAMBDA
        return None

    def make_ctors(self):
        rng = self.rng
        for c in self.classes + self.excs:
            ci = self.p.classes[c]
            blank = [fd for fd in ci.fields if fd.final and fd.init is None]
            if self.chance(0.4) and not blank:
                continue        # implicit constructor
            sp = self.p.ctor_params(ci.sup)
            params = []
            for _ in range(rng.randint(0, 2)):
                params.append((self.name("p"), self.any_type(simple=True)))
            if ci.is_exc:
                params.insert(0, (self.name("p"), "String"))
            ctx = Ctx(0, None, c)
            ctx.vars = [Var(n, t, "local") for n, t in params]
            sargs = None
            if sp or ci.sup in self.classes:
                sargs = [self.ctor_arg(ctx, t) for t in sp]
            body = []
            for fd in ci.fields:
                if fd.final and fd.init is not None:
                    continue
                cands = [v for v in ctx.vars if v.ty == fd.ty]
                if cands and self.chance(0.7):
                    body.append(ExprStmt(Assign(Var(fd.name, fd.ty,
                                                    "field"), "",
                                                rng.choice(cands))))
                elif fd.final:
                    # a blank final is assigned exactly once
                    body.append(ExprStmt(Assign(
                        Var(fd.name, fd.ty, "field"), "",
                        self.leaf(Ctx(0), fd.ty) if fd.ty in
                        ("int", "String", "boolean") else
                        Lit("null", None))))
            if self.chance(0.2):
                body.append(Print(Lit("String", "new " + c)))
            ci.ctor = Ctor(params, sargs, body)

    def ctor_arg(self, ctx, t):
        vs = [v for v in ctx.vars if v.ty == t]
        if vs and self.chance(0.7):
            return self.rng.choice(vs)
        return self.leaf(Ctx(0), t) if t in ("int", "String", "boolean") \
            else Lit("null", None)

    def make_signatures(self):
        rng = self.rng
        entries = []
        for c in self.classes:
            for _ in range(rng.randint(0, 1 if self.ifaces else 2)):
                entries.append(("m", c))
        for _ in range(rng.randint(2, 5)):
            entries.append(("f", None))
        for i in self.ifaces:
            for _ in range(rng.randint(0 if len(self.ifaces) > 1 else 1, 2)):
                entries.append(("m", i))
        rng.shuffle(entries)
        self.lam_level = rng.randint(1, len(entries) // 2 + 1)
        for lvl, (k, c) in enumerate(entries, start=1):
            ret = None if self.chance(0.2) else self.any_type()
            params = [(self.name("a"), self.any_type())
                      for _ in range(rng.randint(0, 2))]
            for n, _t in params:
                self.maybe_final(n, 0.1)
            if k == "m" and self.p.is_iface(c):
                name = self.name("m")
                self.p.classes[c].sigs[name] = (ret, params)
                self.slots.append(Slot(name, c, ret, params, lvl))
            elif k == "m":
                s = Slot(self.name("m"), c, ret, params, lvl)
                self.slots.append(s)
            else:
                f = Func(self.name("fn"), ret, params, [])
                self.funcs.append(f)
                self.flevel[f.name] = lvl

    def body_for(self, ctx, params, ret, n):
        ctx.vars += [Var(nm, t, "local") for nm, t in params]
        body = self.block(ctx, n, 2)
        if blk_completes_(body) and ret is not None:
            body.append(Jump("return", self.expr_x(ctx, ret, 2)))
        return body

    def make_bodies(self):
        rng = self.rng
        for c in self.classes:
            for fd in self.p.classes[c].fields:
                if fd.init is PENDING_LAMBDA:
                    # in a field initialiser: no outer locals, no fields
                    # (a blank final may not be assigned yet there)
                    fd.init = self.lambda_(Ctx(self.lam_level), fd.ty, 1)
        for f in self.funcs:
            ctx = Ctx(self.flevel[f.name], f.ret, None, f)
            ctx.vars = list(self.globals)
            f.body = self.body_for(ctx, f.params, f.ret, rng.randint(1, 4))
        for s in self.slots:
            iface = self.p.is_iface(s.owner)
            if iface:
                req, opt = self.iface_impls(s)
                impls = req + opt
            else:
                impls = [s.owner] + [c for c in self.classes
                                     if c != s.owner and
                                     self.p.sub(c, s.owner)
                                     and self.chance(0.5)]
            for c in impls:
                ci = self.p.classes[c]
                ctx = self.class_ctx(c, s.level, s.ret)
                body = self.body_for(ctx, s.params, s.ret, rng.randint(1, 3))
                if c != s.owner and self.chance(0.3) and \
                        s.name in self.p.classes[s.owner].methods:
                    pass
                m = Method(s.name, s.ret, s.params, body)
                m.owner = c
                if c != s.owner and self.chance(0.4) and \
                        (not iface or c in opt):
                    sup = ci.sup
                    call = MCall(None, s.name,
                                 [Var(n, t, "local") for n, t in s.params],
                                 s.ret, sup=sup)
                    if s.ret is None:
                        m.body = [ExprStmt(call)] + body
                    else:
                        m.body = [Print(Bin("+", Lit("String", "super "),
                                            call, "String"))] + body
                ci.methods[s.name] = m
                if self.chance(0.2):
                    ci.outside.add(s.name)
        # toString overrides (level 0: no calls but recursion on data)
        for c in self.classes + self.excs:
            if self.chance(0.55):
                self.make_tostring(c)

    def class_ctx(self, c, level, ret):
        ctx = Ctx(level, ret, c)
        ctx.vars = list(self.globals)
        for fd in self.p.all_fields(c):
            ctx.vars.append(Var(fd.name, fd.ty, "field"))
        return ctx

    def make_tostring(self, c):
        ci = self.p.classes[c]
        ctx = self.class_ctx(c, 0, "String")
        ctx.tostring = True
        body = []
        fields = self.p.all_fields(c)
        if self.chance(0.25):
            body.append(Print(Bin("+", Lit("String", "ts "),
                                  Lit("String", c), "String")))
        ints = [f for f in fields if f.ty == "int"]
        if ints and self.chance(0.3):
            f = self.rng.choice(ints)
            cls = self.rng.choice(self.excs + ["Exception"])
            body.append(If(Bin("<", Var(f.name, "int", "field"),
                               Lit("int", 0), "boolean"),
                           [Jump("throw", New(cls, [Bin(
                               "+", Lit("String", "neg "),
                               Var(f.name, "int", "field"), "String")])
                               if cls == "Exception" else
                               self.new_obj(ctx, cls, 0))], None))
        e = Lit("String", c + "<")
        for f in fields[:3]:
            v = Var(f.name, f.ty, "field")
            if is_arr(f.ty) and self.chance(0.5):
                v = BI(v, "join", [Lit("String", self.rng.choice(
                    ["|", ", ", ""]))], "String")
            e = Bin("+", Bin("+", e, Lit("String", f" {f.name}="),
                             "String"), v, "String")
        e = Bin("+", e, Lit("String", ">"), "String")
        body.append(Jump("return", e))
        m = Method("toString", "String", [], body)
        m.owner = c
        ci.methods["toString"] = m

    # ------------------------------------------------------------ program

    def program(self):
        rng = self.rng
        p = self.p
        self.make_classes()
        self.make_ctors()
        for _ in range(rng.randint(0, 3)):
            t = self.any_type()
            self.globals.append(Var(self.name("g"), t, "global"))
        const_items = self.make_consts()
        self.make_signatures()
        self.make_bodies()
        items = const_items
        for i in self.ifaces:
            items.append(InterfaceDecl(p.classes[i]))
        for c in self.classes + self.excs:
            items.append(ClassDecl(p.classes[c]))
            for name in p.classes[c].outside:
                items.append(OutsideMethod(p.classes[c].methods[name]))
        items += self.funcs
        top = Ctx(10 ** 6)
        top.top = True
        for g in self.globals:
            if g in self.consts:
                top.vars.append(g)
                continue
            init = self.expr_x(top, g.ty, 2) if self.chance(0.8) else None
            items.append(GlobalDecl(g.name, g.ty, init))
            top.vars.append(g)
        rng.shuffle(items)
        stmts = []
        # (1.1 programs: a little less random code, room for the rest)
        for _ in range(rng.randint(2, 6) if self.v11 else
                       rng.randint(3, 8)):
            if self.chance(0.8):
                tb = self.block(top, rng.randint(1, 3), 2)
                v = self.name("e")
                stmts.append(Try(tb, [("Exception", v, [Print(Bin(
                    "+", Lit("String", "top "), Var(v, "Exception", "local"),
                    "String"))])], None))
            else:
                stmts += self.block(top, 1, 2)
        for st in self.scenario11(top):
            stmts.insert(rng.randint(0, len(stmts)), st)
        from .scenarios import add_scenarios
        extra, sst = add_scenarios(self, top)
        items += extra
        stmts += sst
        for s in stmts:
            if isinstance(s, Decl):
                s.use_var = False     # a global: `var` only for locals
        # top-level statements: after their globals, in order
        done = False
        for s in stmts:
            if done:
                break
            items.append(s)
            if not s.completes:
                done = True
        p.items = items
        p.notes.append(f"seed {self.seed}")
        return p


PENDING_LAMBDA = Lit("null", None)


def blk_completes_(stmts):
    return all(s.completes for s in stmts)


# ---------------------------------------------------------------- driver

def run_model(prog, fuel=400_000):
    """Runs the model in a thread with a large stack (deep recursion)."""
    res = {}

    def go():
        try:
            m = Machine(prog, fuel=fuel)
            res["r"] = m.run()
            res["m"] = m
        except (Reject, Avoid) as e:
            res["x"] = e
        except RecursionError as e:
            res["x"] = Reject(f"model recursion: {e}")

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    threading.stack_size(512 << 20)
    t = threading.Thread(target=go)
    t.start()
    t.join()
    threading.stack_size(0)
    sys.setrecursionlimit(old)
    if "x" in res:
        raise res["x"]
    return res["r"], res["m"]


def generate(seed: int, flags=None) -> Case:
    """The case of seed: the first of its candidates that the model can
    run to the end without meeting an avoided bug."""
    last = None
    for attempt in range(40):
        g = Gen(seed * 1000 + attempt, flags)
        prog = g.program()
        render(prog, random.Random(seed * 7 + attempt))
        try:
            (out, status, err), m = run_model(prog)
        except (Reject, Avoid) as e:
            last = e
            continue
        fix = getattr(prog, "fix_limits", None)
        if fix:
            fix(m)
        args = []
        for k in ("budget", "heap", "depth"):
            if k in prog.limits:
                args += [f"--{k}", str(prog.limits[k])]
        return Case(seed, prog.text, args, out, status, err,
                    list(prog.notes))
    raise RuntimeError(f"seed {seed}: no program after 40 tries ({last})")


if __name__ == "__main__":
    s = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    c = generate(s)
    print(c.text)
    print("// args:", c.args, "status:", c.status)
    print("// --- out\n" + c.out + "// --- err\n" + c.err)
