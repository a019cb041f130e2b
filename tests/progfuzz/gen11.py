"""The K 1.1 part of the generator (a mixin of gen.Gen): lambdas with
captured variables, interfaces, switch statements and expressions, final
variables and fields, constant globals, Map<K, V>, and the 1.1 built-ins
(Array.sort/indexOf/contains/slice/reverse, String.compareTo/lastIndexOf,
String.format, Math.compare).

A program uses them when `Gen.v11` is set (most programs), each at a
modest rate next to the 1.0 constructs.  The rules kept here:

- Expected types: a bare lambda is generated only where the language
  reference §3 gives it a Func expected type (`expr_x`: initialisers,
  assignments, arguments, returns, a lambda's body, an array literal
  there); anywhere else a lambda is the operand of a cast to its type.
- Capture: a lambda reads only the locals that are never assigned
  (`assigned`: every local `target` picked) and not loop counters; the
  locals it read are then frozen (`frozen`: never picked as a target
  again), as are final variables and fields.
- Termination: lambda bodies have the level `lam_level`, and only code
  of a higher level (and the top level) calls a Func value or sorts, so
  a Func never calls one.
- Determinism: the model runs sort's merge passes as the VM does, so a
  comparator may be any lambda (prints, throws, inconsistent answers).
"""

from __future__ import annotations

from .kast import (
    BI, MAX, MIN, ArrLit, Bin, Block, Cast, Decl, Expr, ExprStmt, FCall,
    For, ForEach, GlobalDecl, If, Index, Jump, Lambda, Lit, New, NewMap, Print,
    Static, Stmt, Switch, SwitchExpr, Un, Var, elem, fsig, func_type,
    is_arr, is_func, is_map, map_kv, map_type, wrap,
)

# Func types the programs use (registered at import: canonical strings)
F_II = func_type("int", ["int"])
F_III = func_type("int", ["int", "int"])
F_SS = func_type("String", ["String"])
F_BS = func_type("boolean", ["String"])
F_VI = func_type(None, ["int"])
F_I = func_type("int", [])
F_SIS = func_type("String", ["int", "String"])
F_CUR = func_type(F_II, ["int"])
FUNC_TYPES = [F_II, F_III, F_SS, F_BS, F_VI, F_I, F_SIS, F_CUR]

KEY_STRS = ["a", "b", "c", "", "K", "ab"]
SPARSE = [0, 1, 7, 100, 1000, -1, -50, MAX, MIN, 1 << 40, 65, 255]
FMT_TEXT = ["", "x=", " ", "[", "]", ":", "ab", ", "]


def walk_vars(x, out: set):
    """The names of every Var in the node tree x."""
    if isinstance(x, Var):
        out.add(x.name)
    elif isinstance(x, (list, tuple)):
        for y in x:
            walk_vars(y, out)
    elif isinstance(x, (Expr, Stmt)):
        for y in vars(x).values():
            walk_vars(y, out)


def bare_lambda(e) -> bool:
    """Whether e needs its expected type (no `var` then)."""
    if isinstance(e, Lambda):
        return True
    return isinstance(e, ArrLit) and any(isinstance(x, Lambda)
                                         for x in e.elems)



class Gen11:
    """Mixin of gen.Gen."""

    def setup11(self):
        rng = self.rng
        self.v11 = rng.random() < 0.75
        self.assigned: set[str] = set()
        self.frozen: set[str] = set()
        self.ifaces: list[str] = []
        self.consts: list[Var] = []
        self.lam_level = 1
        self.ftypes: list[str] = []
        self.mtypes: list[str] = []
        if not self.v11:
            return
        self.ftypes = rng.sample(FUNC_TYPES, rng.randint(1, 4))
        for _ in range(rng.randint(0, 2)):
            k = rng.choice(["int", "String"])
            v = rng.choice(["int", "String", "boolean", "int[]", "Any"])
            t = map_type(k, v)
            if t not in self.mtypes:
                self.mtypes.append(t)

    def types11(self):
        ts = self.ftypes + self.mtypes + self.ifaces
        if self.ftypes:
            ts.append(self.ftypes[0] + "[]")
        return ts

    def final_name(self, name):
        """Declares name final (rendered `final`, never assigned)."""
        self.p.finals.add(name)
        self.frozen.add(name)

    def maybe_final(self, name, p=0.12):
        if self.v11 and self.chance(p):
            self.final_name(name)

    def can_call_funcs(self, ctx):
        return self.v11 and ctx.level > self.lam_level

    def make_consts(self):
        """Constant globals (`final int K = 3;`), switch labels among
        others: GlobalDecl items, visible everywhere as globals."""
        items = []
        if not self.v11 or not self.chance(0.4):
            return items
        for _ in range(self.rng.randint(1, 2)):
            ty = self.rng.choice(["int", "int", "String"])
            if ty == "int":
                v = self.rng.choice(SPARSE + list(range(-2, 8)))
            else:
                v = self.rng.choice(KEY_STRS)
            e = self.const_expr(ty, v)
            g = Var(self.name("K"), ty, "global")
            g.const = v
            self.final_name(g.name)
            self.consts.append(g)
            self.globals.append(g)
            items.append(GlobalDecl(g.name, ty, e, const=v))
        return items

    # ------------------------------------------------------------ interfaces

    def make_ifaces(self):
        if not self.v11 or not self.classes or not self.chance(0.5):
            return
        from .kast import ClassInfo
        rng = self.rng
        for _ in range(rng.randint(1, 2)):
            name = self.name("I")
            ci = ClassInfo(name, None, is_iface=True)
            if self.ifaces and self.chance(0.4):
                ci.ifaces.append(rng.choice(self.ifaces))
            self.p.classes[name] = ci
            self.ifaces.append(name)
        for i in self.ifaces:
            for c in rng.sample(self.classes,
                                min(len(self.classes), rng.randint(1, 2))):
                ci = self.p.classes[c]
                if i not in ci.ifaces:
                    ci.ifaces.append(i)

    def iface_impls(self, s):
        """The classes that must define the method of interface slot s
        (they name an interface that has it and inherit no definition),
        then some that override it."""
        p = self.p
        req, opt = [], []
        for c in self.classes:
            ci = p.classes[c]
            if not p.sub(c, s.owner):
                continue
            if any(p.sub(j, s.owner) for j in ci.ifaces) and \
                    not p.sub(ci.sup, s.owner):
                req.append(c)
            elif self.chance(0.4):
                opt.append(c)
        return req, opt

    # ------------------------------------------------------------ lambdas

    def lambda_(self, ctx, t, d):
        """A lambda of Func type t written in ctx."""
        rng = self.rng
        ret, pts = fsig(t)
        pnames = [self.name("x") for _ in pts]
        from .gen import Ctx
        lctx = Ctx(self.lam_level, ret, ctx.cls, None)
        outer = set()
        for v in ctx.vars:
            if v.kind == "local":
                if v.name in self.assigned or v.name in ctx.ro:
                    continue
                outer.add(v.name)
            lctx.vars.append(v)
        lctx.ro = set(outer)
        lctx.vars += [Var(n, pt, "local") for n, pt in zip(pnames, pts)]
        typed = self.chance(0.3)
        if typed:
            for n in pnames:
                self.maybe_final(n, 0.3)
        r = rng.random()
        if ret is not None and is_func(ret) and r < 0.6:
            kind, body = "expr", self.lambda_(lctx, ret, d - 1)
        elif ret is None and r < 0.5:
            kind, body = "print", self.expr(lctx, self.any_type(),
                                            max(d - 1, 1))
        elif ret is None or r < 0.3:
            kind = "block"
            body = self.block(lctx, rng.randint(1, 2), 1)
            if ret is not None and all(s.completes for s in body):
                body.append(Jump("return", self.expr_x(lctx, ret, 1)))
        else:
            kind, body = "expr", self.expr_x(lctx, ret, max(d - 1, 1))
        used: set[str] = set()
        walk_vars(body, used)
        self.frozen |= used & outer
        return Lambda(t, pnames, kind, body, typed=typed,
                      paren=self.chance(0.15))

    def expr_x(self, ctx, t, d):
        """An expression in a position that gives it t as expected type:
        there a lambda (or an array literal of them) may stand bare."""
        if self.v11 and is_func(t) and self.chance(0.6):
            return self.lambda_(ctx, t, d)
        if self.v11 and is_arr(t) and is_func(elem(t)) and self.chance(0.4):
            return ArrLit(elem(t), [self.lambda_(ctx, elem(t), d)
                                    for _ in range(self.rng.randint(1, 3))])
        return self.expr(ctx, t, d)

    def fcall(self, ctx, t, d):
        """A call of a Func value whose result is assignable to t (None:
        any, for a statement)."""
        if not self.can_call_funcs(ctx):
            return None
        fts = [f for f in self.ftypes + [F_II]
               if t is None or (fsig(f)[0] is not None and
                                self.p.assignable(fsig(f)[0], t))]
        if not fts:
            return None
        ft = self.rng.choice(fts)
        f = self.expr(ctx, ft, d - 1, exact=True)
        return FCall(f, [self.expr_x(ctx, pt, d - 1)
                         for pt in fsig(ft)[1]])

    # ------------------------------------------------------------ leaves

    def leaf11(self, ctx, t, exact):
        """A leaf of a 1.1 type, or None."""
        if is_func(t):
            return Cast(t, self.lambda_(ctx, t, 1))
        if is_map(t):
            return NewMap(t)
        if self.p.is_iface(t):
            impl = [c for c in self.classes if self.p.sub(c, t)]
            if impl:
                o = self.new_obj(ctx, self.rng.choice(impl), 0)
                return Cast(t, o) if exact else o
            return Cast(t, Lit("null", None))
        return None

    # ------------------------------------------------------------ switch

    def const_expr(self, ty, v):
        """A constant expression of value v (the language reference §6)."""
        rng = self.rng
        cs = [c for c in self.consts if c.ty == ty and c.const == v]
        if cs and self.chance(0.5):
            return rng.choice(cs)
        r = rng.random()
        if ty == "String":
            if len(v) >= 2 and r < 0.25:
                k = rng.randint(1, len(v) - 1)
                return Bin("+", Lit("String", v[:k]), Lit("String", v[k:]),
                           "String")
            return Lit("String", v)
        if r < 0.15 and 32 < v < 127 and chr(v) not in "'\\":
            return Lit("int", v, f"'{chr(v)}'")
        if r < 0.3 and MIN < v < MAX:
            k = rng.randint(1, 3)
            return Bin("+", Lit("int", v - k), Lit("int", k), "int")
        if r < 0.4 and v not in (MIN,):
            return Un("-", Lit("int", wrap(-v)), "int")
        if v == MIN:
            return Lit("int", v, "(-9223372036854775808)")
        return Lit("int", v)

    def label_values(self, ty, n):
        rng = self.rng
        if ty == "String":
            pool = list(KEY_STRS) + ["Hello", "42", " pad "]
        elif self.chance(0.5):
            base = rng.randint(-2, 4)
            pool = list(range(base, base + 6))
        else:
            pool = list(SPARSE)
        pool += [c.const for c in self.consts if c.ty == ty]
        vals = []
        for v in rng.sample(pool, len(pool)):
            if v not in vals:
                vals.append(v)
            if len(vals) >= n:
                break
        return vals

    def arms_labels(self, ty, narms):
        """narms label lists of distinct values."""
        vals = self.label_values(ty, narms * 2)
        out = []
        for _ in range(narms):
            if not vals:
                break
            k = self.rng.randint(1, min(2, len(vals)))
            labs, vals = vals[:k], vals[k:]
            out.append([(self.const_expr(ty, v), v) for v in labs])
        return out

    def selector(self, ctx, ty):
        if ty == "int" and self.chance(0.4):
            return Bin("&", self.expr(ctx, "int", 1), Lit("int", 7), "int")
        return self.expr(ctx, ty, 1)

    def switch_stmt(self, ctx, d, sel=None):
        rng = self.rng
        ty = "int" if sel is not None or self.chance(0.6) else "String"
        sel = sel or self.selector(ctx, ty)
        arms = []
        for labels in self.arms_labels(ty, rng.randint(0, 4)):
            arms.append([labels, None])
        if self.chance(0.6) or not arms:
            arms.insert(rng.randint(0, len(arms)), [None, None])
        sctx = ctx.child()
        sctx.sw = True
        for arm in arms:
            r = rng.random()
            if r < 0.35:
                arm[1] = Print(self.expr(sctx, self.any_type(), 1))
            elif r < 0.5:
                e = self.incdec(sctx) or self.assign_expr(sctx, "int", 1)
                arm[1] = ExprStmt(e) if e is not None else \
                    Print(self.str_lit())
            elif r < 0.58:
                arm[1] = Jump("throw", New(rng.choice(
                    ["IllegalArgumentException", "IllegalStateException",
                     "Exception"]), [self.expr(sctx, "String", 1)]))
            else:
                arm[1] = self.block(sctx, rng.randint(0, 3), d - 1)
        return Switch(sel, [tuple(a) for a in arms])

    def switch_expr(self, ctx, t, d):
        rng = self.rng
        if t == "null":
            return None
        ty = "int" if self.chance(0.6) else "String"
        sel = self.selector(ctx, ty)
        arms = []
        for labels in self.arms_labels(ty, rng.randint(0, 2)):
            arms.append((labels, "val", self.expr(ctx, t, d - 1, True)))
        dflt = (None, "val", self.expr(ctx, t, d - 1, True))
        if arms and self.chance(0.15):
            dflt = (None, "throw", New("IllegalStateException",
                                       [self.str_lit()]))
        arms.insert(rng.randint(0, len(arms)), dflt)
        if self.chance(0.1) and len(arms) > 1:
            i = rng.randrange(len(arms))
            if arms[i][0] is not None and \
                    sum(a[1] == "val" for a in arms) > 1:
                arms[i] = (arms[i][0], "throw", New(
                    "IllegalArgumentException", [self.str_lit()]))
        return SwitchExpr(sel, arms, t)

    # ------------------------------------------------------------ maps

    def key(self, ctx, kty):
        if kty == "int":
            return self.small(4) if self.chance(0.7) else \
                self.expr(ctx, "int", 1)
        if self.chance(0.8):
            return Lit("String", self.rng.choice(KEY_STRS))
        return self.expr(ctx, "String", 1)

    def map_expr(self, ctx, mt):
        return self.expr(ctx, mt, 1, exact=True)

    def map_get(self, ctx, t, d):
        mts = [mt for mt in self.mtypes
               if self.p.assignable(map_kv(mt)[1], t)]
        if not mts:
            return None
        mt = self.rng.choice(mts)
        k, v = map_kv(mt)
        if self.chance(0.5):
            return BI(self.map_expr(ctx, mt), "get", [self.key(ctx, k)], v)
        return BI(self.map_expr(ctx, mt), "getOr",
                  [self.key(ctx, k), self.expr_x(ctx, v, d - 1)], v)

    def map_stmt(self, ctx, d):
        rng = self.rng
        mt = rng.choice(self.mtypes)
        k, v = map_kv(mt)
        mvars = [x for x in ctx.vars if x.ty == mt]
        if not mvars and self.chance(0.6):
            return Decl(self.name("m"), mt, NewMap(mt))
        m = rng.choice(mvars) if mvars and self.chance(0.8) else \
            self.map_expr(ctx, mt)
        r = rng.random()
        if r < 0.5:
            return ExprStmt(BI(m, "put", [self.key(ctx, k),
                                          self.expr_x(ctx, v, 1)], None))
        if r < 0.6:
            return ExprStmt(BI(m, "remove", [self.key(ctx, k)], "boolean"))
        if r < 0.63:
            return ExprStmt(BI(m, "clear", [], None))
        if r < 0.75 or d <= 0 or not isinstance(m, Var):
            return Print(m if self.chance(0.5) else BI(
                m, rng.choice(["keys", "values"]), [],
                (k if self.chance(0.5) else v) + "[]"))
        # iteration in insertion order
        kv = self.name("k")
        self.maybe_final(kv, 0.3)
        c = ctx.child()
        c.foreach += 1
        c.loop += 1
        c.ro.add(kv)
        c.vars.append(Var(kv, k, "local"))
        body = [Print(Bin("+", Bin("+", Var(kv, k, "local"),
                                   Lit("String", "="), "String"),
                          BI(m, "get", [Var(kv, k, "local")], v),
                          "String"))]
        body += self.block(c, rng.randint(0, 1), d - 1)
        return ForEach(kv, k, BI(m, "keys", [], k + "[]"), body)

    # ------------------------------------------------------------ arrays

    def sortable(self):
        return self.rng.choice(["int[]", "int[]", "String[]", "Any[]"] +
                               [c + "[]" for c in self.classes[:1]])

    def comparator(self, ctx, et):
        rng = self.rng
        ft = func_type("int", [et, et])
        a, b = self.name("x"), self.name("x")
        va, vb = Var(a, et, "local"), Var(b, et, "local")
        r = rng.random()
        if r < 0.5 or et not in ("int", "String"):
            return self.expr_x(ctx, ft, 2)
        if et == "int":
            key = rng.choice(["id", "neg", "mod", "and"])

            def kf(v):
                if key == "id":
                    return v
                if key == "neg":
                    return Un("-", v, "int")
                if key == "mod":
                    return Bin("%", v, Lit("int", 3), "int")
                return Bin("&", v, Lit("int", 7), "int")
            if rng.random() < 0.5:
                va, vb = vb, va
            body = Static("Math.compare", [kf(va), kf(vb)], "int")
        else:
            if rng.random() < 0.5:
                body = BI(va, "compareTo", [vb], "int")
            else:
                body = Static("Math.compare", [BI(va, "length", [], "int"),
                                               BI(vb, "length", [], "int")],
                              "int")
        if rng.random() < 0.3:
            blk = [Print(Bin("+", Bin("+", Lit("String", "cmp "), va,
                                      "String"), vb, "String")),
                   Jump("return", body)]
            return Lambda(ft, [a, b], "block", blk)
        return Lambda(ft, [a, b], "expr", body, typed=rng.random() < 0.3)

    def arr_stmt11(self, ctx):
        t = self.sortable()
        a = self.expr(ctx, t, 1, exact=True)
        if self.can_call_funcs(ctx) and self.chance(0.7):
            return ExprStmt(BI(a, "sort", [self.comparator(ctx, elem(t))],
                               None))
        return ExprStmt(BI(a, "reverse", [], None))

    def arr_query(self, ctx, t, d):
        """indexOf (int), contains (boolean), slice (an array)."""
        if is_arr(t):
            if t.endswith("[][]"):
                return None
            a = self.expr(ctx, t, d - 1, exact=True)
            return BI(a, "slice", [self.small(3), self.small(4)], t)
        at = self.sortable()
        a = self.expr(ctx, at, d - 1, exact=True)
        v = self.expr(ctx, elem(at), d - 1)
        if v.ty == "null" and elem(at) in ("int", "boolean"):
            return None
        return BI(a, "indexOf" if t == "int" else "contains", [v], t)

    # ------------------------------------------------------------ strings

    def format_(self, ctx, d):
        rng = self.rng
        fmt = rng.choice(FMT_TEXT)
        args = []
        for _ in range(rng.randint(0, 3)):
            c = rng.choice("ddxXobcss%")
            if c == "%":
                fmt += "%%"
            elif c == "s":
                fmt += rng.choice(["%s", "%6s", "%-4s", "%1s"])
                args.append(self.expr(ctx, self.any_type(), d - 1))
            elif c == "c":
                fmt += "%c"
                args.append(rng.choice([
                    Lit("int", rng.randint(65, 90)),
                    Bin("&", self.expr(ctx, "int", d - 1), Lit("int", 127),
                        "int")]))
            else:
                fmt += "%" + rng.choice(["", "", "5", "-3", "04"]) + c
                args.append(self.expr(ctx, "int", d - 1))
            fmt += rng.choice(FMT_TEXT)
        r = rng.random()
        if r < 0.04:
            fmt += rng.choice(["%q", "%", "%05s", "%-d"])
        elif r < 0.07:
            args.append(self.int_lit())
        elif r < 0.1 and args:
            args.pop()
        elif r < 0.13:
            fmt += "%d"
            args.append(self.expr(ctx, rng.choice(["String", "Any"]),
                                  d - 1))
        arr = ArrLit("Any", args)
        if not args and self.chance(0.5):
            arr = self.expr(ctx, "Any[]", d - 1, exact=True)
        return Static("String.format", [Lit("String", fmt), arr], "String")

    # ------------------------------------------------------------ workouts

    def scenario11(self, top):
        """Top-level blocks that surely run the 1.1 constructs (random
        code reaches them too rarely): a map filled in a loop and
        worked on, an array sorted, lambdas capturing locals stored in
        an array and called in a loop, a switch inside a loop; each
        guarded by a catch of Exception."""
        if not self.v11:
            return []
        from .scenarios import guard
        rng = self.rng
        out = []
        kinds = ["map", "sort", "lambdas", "switch"]
        for kind in rng.sample(kinds, rng.randint(0, 2)):
            ctx = top.child()
            ctx.top = True
            body = getattr(self, "work_" + kind)(ctx)
            out.append(guard(self, body))
        return out

    def counted(self, ctx, n, make_body):
        """for (int i = 0; i < n; i++) { make_body(ctx with i) }"""
        i = self.name("i")
        c = ctx.child()
        c.loop += 1
        c.ro.add(i)
        iv = Var(i, "int", "local")
        c.vars.append(iv)
        return For(i, Lit("int", 0), Lit("int", n), make_body(c, iv))

    def work_map(self, ctx):
        rng = self.rng
        mt = rng.choice(self.mtypes) if self.mtypes else \
            map_type(rng.choice(["int", "String"]), "int")
        if mt not in self.mtypes:
            self.mtypes.append(mt)
        k, v = map_kv(mt)
        mv = Var(self.name("m"), mt, "local")
        self.maybe_final(mv.name, 0.3)
        out = [Decl(mv.name, mt, NewMap(mt))]
        c = ctx.child()
        c.vars.append(mv)

        big = self.chance(0.2)
        span = rng.randint(20, 300) if big else rng.randint(2, 5)

        def fill(cc, iv):
            mod = Bin("%", Bin("*", iv, Lit("int", rng.choice([1, 7, 13])),
                               "int"), Lit("int", span), "int")
            key = mod if k == "int" else Bin("+", Lit("String", "k"), mod,
                                             "String")
            put = ExprStmt(BI(mv, "put", [key, self.expr_x(cc, v, 1)],
                              None))
            if not big:
                return [put]
            # many entries: growth, and removals between the puts
            gone = Bin("+", Lit("String", "k"), Bin(
                "/", iv, Lit("int", 3), "int"), "String") \
                if k == "String" else Bin("/", iv, Lit("int", 3), "int")
            return [put, If(Bin("==", Bin("%", iv, Lit("int", 4), "int"),
                                Lit("int", 3), "boolean"),
                            [ExprStmt(BI(mv, "remove", [gone],
                                         "boolean"))], None)]
        out.append(self.counted(c, rng.randint(span, 2 * span) if big
                                else rng.randint(1, 7), fill))
        for _ in range(rng.randint(1, 4)):
            s = self.map_stmt(c, 1)
            out.append(s)
            if isinstance(s, Decl):
                c.vars.append(Var(s.name, s.ty, "local"))
        if not big:
            out.append(Print(mv))
        out.append(Print(Bin("+", Lit("String", "size "),
                             BI(mv, "size", [], "int"), "String")))
        if big:
            out.append(Print(BI(BI(mv, "keys", [], k + "[]"), "join",
                                [Lit("String", ",")], "String")))
            return out
        kv = self.name("k")
        out.append(ForEach(kv, k, BI(mv, "keys", [], k + "[]"), [
            Print(Bin("+", Bin("+", Var(kv, k, "local"), Lit("String", "->"),
                               "String"),
                      BI(mv, "get", [Var(kv, k, "local")], v), "String"))]))
        return out

    def work_sort(self, ctx):
        rng = self.rng
        t = rng.choice(["int[]", "int[]", "String[]"])
        et = elem(t)
        av = Var(self.name("s"), t, "local")
        n = rng.randint(0, 8)
        els = [self.int_lit() if et == "int" else self.str_lit()
               for _ in range(n)]
        out = [Decl(av.name, t, ArrLit(et, els) if els else
                    self.expr(ctx, t, 1, exact=True))]
        c = ctx.child()
        c.vars.append(av)
        cmp = None
        if et == "int" and self.chance(0.3):
            # a comparator with many captured values (more than the
            # VM's few argument slots on the stack)
            caps = []
            for _ in range(rng.randint(5, 10)):
                caps.append(Var(self.name("c"), "int", "local"))
                out.append(Decl(caps[-1].name, "int", self.int_lit()))
            tot = caps[0]
            for x in caps[1:]:
                tot = Bin("+", tot, x, "int")
            a, b = self.name("x"), self.name("x")
            cmp = Lambda(func_type("int", ["int", "int"]), [a, b], "expr",
                         Static("Math.compare", [
                             Bin("^", Var(a, "int", "local"), tot, "int"),
                             Bin("^", Var(b, "int", "local"), tot, "int")],
                             "int"))
            self.frozen |= {x.name for x in caps}
        out.append(ExprStmt(BI(av, "sort", [cmp or self.comparator(c, et)],
                               None)))
        out.append(Print(av))
        r = rng.random()
        if r < 0.3:
            out.append(Print(BI(av, "slice", [self.small(2), self.small(5)],
                                t)))
        elif r < 0.6:
            out.append(ExprStmt(BI(av, "reverse", [], None)))
            out.append(Print(BI(av, "join", [Lit("String", ",")],
                                "String")))
        else:
            out.append(Print(BI(av, "indexOf", [self.expr(c, et, 1)],
                                "int")))
        return out

    def work_lambdas(self, ctx):
        rng = self.rng
        ft = rng.choice([F_II, F_SS, F_III, F_CUR, F_SIS])
        if ft not in self.ftypes:
            self.ftypes.append(ft)
        out = []
        c = ctx.child()
        for _ in range(rng.randint(1, 2)):
            t = rng.choice(["int", "String"])
            v = self.name("v")
            self.maybe_final(v, 0.4)
            out.append(Decl(v, t, self.expr(c, t, 1)))
            c.vars.append(Var(v, t, "local"))
        arr = Var(self.name("fs"), ft + "[]", "local")
        out.append(Decl(arr.name, arr.ty, ArrLit(ft, [
            self.lambda_(c, ft, 2) for _ in range(rng.randint(1, 3))])))
        c.vars.append(arr)
        ret, pts = fsig(ft)
        fv = self.name("f")

        def call_each(cc, iv):
            args = [iv if pt == "int" else self.expr(cc, pt, 1)
                    for pt in pts]
            call = FCall(Index(arr, iv, ft), args)
            if is_func(ret):
                call = FCall(call, [self.expr(cc, "int", 1)])
            return [Print(call)]
        if rng.random() < 0.5:
            out.append(self.counted(c, rng.randint(1, 3), call_each))
        else:
            cc = c.child()
            cc.loop += 1
            cc.foreach += 1
            cc.ro.add(fv)
            f = Var(fv, ft, "local")
            args = [self.expr(cc, pt, 1) for pt in pts]
            call = FCall(f, args)
            if is_func(ret):
                call = FCall(call, [self.expr(cc, "int", 1)])
            out.append(ForEach(fv, ft, arr, [Print(call)]))
        return out

    def work_switch(self, ctx):
        def body(cc, iv):
            return [self.switch_stmt(cc, 2, iv if self.chance(0.6)
                                     else None)]
        return [self.counted(ctx, self.rng.randint(2, 7), body)]

    # ------------------------------------------------------------ choices

    def expr11_choices(self, ctx, t, d, exact):
        """Weighted choices of 1.1 expressions of type t (see
        Gen.expr_choices)."""
        if not self.v11:
            return []
        rng = self.rng
        e = lambda tt, dd=d - 1: self.expr(ctx, tt, dd)  # noqa: E731
        ch = []
        if not bare_type(t):
            ch.append((0.12, lambda: self.switch_expr(ctx, t, d)))
        if t != "null":
            ch.append((0.3, lambda: self.fcall(ctx, t, d)))
        if self.mtypes and t not in ("null",):
            ch.append((0.2, lambda: self.map_get(ctx, t, d)))
        if t == "int":
            ch += [
                (0.3, lambda: Static("Math.compare", [e("int"), e("int")],
                                     "int")),
                (0.3, lambda: BI(e("String"), "compareTo",
                                 [self.nonnull_str(ctx, d - 1)], "int")),
                (0.2, lambda: BI(e("String"), "lastIndexOf",
                                 [self.nonnull_str(ctx, d - 1)], "int")),
                (0.3, lambda: self.arr_query(ctx, "int", d)),
            ]
            if self.mtypes:
                ch.append((0.3, lambda: BI(self.map_expr(
                    ctx, rng.choice(self.mtypes)), "size", [], "int")))
        elif t == "boolean":
            ch.append((0.3, lambda: self.arr_query(ctx, "boolean", d)))
            if self.mtypes:
                def mb():
                    mt = rng.choice(self.mtypes)
                    return BI(self.map_expr(ctx, mt), rng.choice(
                        ["has", "remove"]), [self.key(ctx, map_kv(mt)[0])],
                        "boolean")
                ch.append((0.4, mb))
        elif t == "String":
            ch.append((0.3, lambda: self.format_(ctx, d)))
        elif is_arr(t):
            ch.append((0.3, lambda: self.arr_query(ctx, t, d)))
            for mt in self.mtypes:
                k, v = map_kv(mt)
                if k + "[]" == t:
                    ch.append((0.4, lambda mt=mt: BI(self.map_expr(ctx, mt),
                                                     "keys", [], t)))
                if v + "[]" == t:
                    ch.append((0.4, lambda mt=mt: BI(self.map_expr(ctx, mt),
                                                     "values", [], t)))
        elif self.p.is_iface(t) or t in self.classes:
            others = [c for c in self.classes + self.ifaces if c != t]
            if others and (self.p.is_iface(t) or self.ifaces):
                def cross():
                    if self.p.is_iface(t):
                        o = rng.choice(others)
                    else:
                        o = rng.choice(self.ifaces)
                    return Cast(t, self.expr(ctx, o, d - 1, exact=True))
                ch.append((0.4, cross))
        return ch

    def stmt11(self, ctx, d):
        """A 1.1 statement, or None."""
        rng = self.rng
        r = rng.random()
        if r < 0.3 and d > 0:
            return self.switch_stmt(ctx, d)
        if r < 0.5 and self.mtypes:
            return self.map_stmt(ctx, d)
        if r < 0.62:
            return self.arr_stmt11(ctx)
        if r < 0.75:
            e = self.fcall(ctx, None, 2)
            return ExprStmt(e) if e is not None else None
        if r < 0.9 and self.ftypes:
            # a lambda in a local, called at once (a block: its own scope)
            ft = rng.choice(self.ftypes)
            v = self.name("f")
            self.maybe_final(v, 0.3)
            lam = self.lambda_(ctx, ft, 2)
            body = [Decl(v, ft, lam)]
            if self.can_call_funcs(ctx):
                c = ctx.child()
                c.vars.append(Var(v, ft, "local"))
                call = FCall(Var(v, ft, "local"),
                             [self.expr_x(c, pt, 1) for pt in fsig(ft)[1]])
                body.append(Print(call) if call.ty is not None
                            else ExprStmt(call))
            else:
                body.append(Print(Var(v, ft, "local")))
            return Block(body)
        # a final local
        t = self.any_type()
        e = self.expr_x(ctx, t, 2)
        if e.ty == "null":
            return None
        v = self.name("v")
        self.final_name(v)
        use_var = not bare_lambda(e) and self.chance(0.3)
        return Decl(v, e.ty if use_var else t, e, use_var)


def bare_type(t):
    return t in ("null", "void") or t is None

