"""Fixed-shape parts added to random programs, for what random code reaches
too rarely: join -> toString -> join chains up to the native nesting limit
(and past it), exceptions thrown through those natives, cyclic arrays,
allocation near the heap quota, and the three aborts (budget, heap,
depth), each built from kast nodes so the model runs them like the rest.
"""

from __future__ import annotations

from .kast import (
    ArrLit, Assign, BI, Bin, Call, ClassDecl, ClassInfo, Ctor, Decl, ExprStmt,
    FieldDecl, FieldGet, For, Func, If, Index, Jump, KAbort, Lit, Method, New,
    NewArr, NewEmpty, Print, RawLine, Try, Var, is_arr,
)


def S(s):
    return Lit("String", s)


def I(v):
    return Lit("int", v)


def cat(*parts):
    e = parts[0]
    for p in parts[1:]:
        e = Bin("+", e, p, "String")
    return e


def guard(g, stmts):
    """try { stmts } catch (Exception e) { print("caught " + e); }"""
    v = g.name("e")
    return Try(stmts, [("Exception", v, [Print(cat(
        S("caught "), Var(v, "Exception", "local")))])], None)


def deep_join(g, items):
    """class T { T[] kids; int k; String toString() { ...kids.join... } }
    and chains of depth around the nesting limit (16 native levels)."""
    rng = g.rng
    p = g.p
    t = g.name("T")
    ci = ClassInfo(t, "Object")
    p.classes[t] = ci
    kids, k = g.name("kids"), g.name("k")
    arr_t = rng.choice([t + "[]", "Any[]"])
    ci.fields = [FieldDecl(kids, arr_t, ArrLit(arr_t[:-2], [])),
                 FieldDecl(k, "int", None)]
    pk = g.name("p")
    ci.ctor = Ctor([(pk, "int")], None, [ExprStmt(Assign(
        Var(k, "int", "this_field"), "", Var(pk, "int", "local")))])
    bad = rng.choice([-1, -1, rng.randint(0, 16)])
    sep = rng.choice([",", "", " | "])
    kv = Var(k, "int", "field")
    conv = rng.random()
    if conv < 0.6:
        inner = BI(Var(kids, arr_t, "field"), "join", [S(sep)], "String")
    else:
        inner = Var(kids, arr_t, "field")     # array conversion
    body = [If(Bin("==", kv, I(bad), "boolean"),
               [Jump("throw", New("Exception", [cat(S("deep "), kv)]))],
               None),
            Jump("return", cat(S("t"), kv, S("("), inner, S(")")))]
    ts = Method("toString", "String", [], body)
    ts.owner = t
    ci.methods["toString"] = ts
    items.append(ClassDecl(ci))
    n, r, i, q = g.name("n"), g.name("r"), g.name("i"), g.name("q")
    rv = Var(r, t, "local")
    chain = Func(g.name("chain"), t, [(n, "int")], [
        Decl(r, t, New(t, [I(0)])),
        For(i, I(1), Var(n, "int", "local"), [
            Decl(q, t, New(t, [Var(i, "int", "local")])),
            ExprStmt(BI(FieldGet(Var(q, t, "local"), kids, arr_t), "add",
                        [rv], None)),
            ExprStmt(Assign(rv, "", Var(q, t, "local")))]),
        Jump("return", rv)])
    items.append(chain)
    out = []
    for _ in range(rng.randint(2, 4)):
        d = rng.choice([rng.randint(1, 18), rng.randint(13, 17)])
        c = Call(chain, [I(d)])
        how = rng.random()
        if how < 0.3:
            e = c                                  # print: a frame, no nest
        elif how < 0.55:
            e = ArrLit(t, [c])                     # array conversion
        elif how < 0.8:
            e = BI(ArrLit(t, [c, New(t, [I(99)])]), "join", [S(";")],
                   "String")
        else:
            e = cat(S("s="), c)
        out.append(guard(g, [Print(e)]))
    g.p.notes.append("deep join chains")
    return out


def cyclic(g, items):
    rng = g.rng
    a, b = g.name("cy"), g.name("cy")
    av, bv = Var(a, "Any[]", "local"), Var(b, "Any[]", "local")
    out = [Decl(a, "Any[]", ArrLit("Any", [I(1), S("two")])),
           ExprStmt(BI(av, "add", [av], None)),
           Decl(b, "Any[]", ArrLit("Any", [av, Lit("boolean", True)])),
           ExprStmt(BI(av, "add", [bv], None))]
    for _ in range(rng.randint(2, 4)):
        e = rng.choice([av, bv, BI(av, "join", [S("/")], "String"),
                        cat(S("b="), bv), BI(bv, "join", [S("")],
                                             "String")])
        out.append(Print(e))
    if rng.random() < 0.5:
        out.append(ExprStmt(BI(bv, "insert", [I(0), bv], None)))
        out.append(Print(bv))
    g.p.notes.append("cyclic arrays")
    return out


def heap_pressure(g, items):
    """Garbage several times the quota, live data well under it."""
    rng = g.rng
    heap = rng.choice([4, 6, 8]) << 20
    g.p.limits["heap"] = heap
    k = rng.choice([512, 1024, 2048])
    n = (3 * heap) // (8 * k)
    live = heap // 6                     # bytes kept, estimated 16/int
    keep_every = max(1, (n * k * 16) // live + 1)
    keep, acc, i, tv, s = (g.name("keep"), g.name("acc"), g.name("i"),
                           g.name("t"), g.name("s"))
    kv, av = Var(keep, "int[][]", "local"), Var(acc, "int", "local")
    iv, tvv = Var(i, "int", "local"), Var(tv, "int[]", "local")
    idx = Bin("%", iv, I(k), "int")
    body = [Decl(tv, "int[]", NewArr("int", I(k))),
            ExprStmt(Assign(Index(tvv, idx, "int"), "", iv)),
            ExprStmt(Assign(av, "+", Index(tvv, idx, "int"))),
            If(Bin("==", Bin("%", iv, I(keep_every), "int"), I(0),
                   "boolean"), [ExprStmt(BI(kv, "add", [tvv], None))], None),
            Decl(s, "String", BI(S("ab"), "repeat", [I(k // 4)], "String")),
            ExprStmt(Assign(av, "+", BI(Var(s, "String", "local"), "length",
                                        [], "int")))]
    out = [Decl(keep, "int[][]", NewEmpty("int[]")), Decl(acc, "int", I(0)),
           For(i, I(0), I(n), body),
           Print(cat(S("acc "), av, S(" kept "),
                     BI(kv, "size", [], "int")))]
    g.p.notes.append(f"heap pressure {heap}")
    return out


def abort_tail(g, items):
    rng = g.rng
    kind = rng.choice(["budget", "heap", "depth", "depth", "tostring",
                       "nest", "uncaught"])
    p = g.p
    out = []
    if kind == "budget":
        v = g.name("spin")
        out.append(Decl(v, "int", I(0)))

        def act(m):
            raise KAbort("budget exceeded", m.trace())
        out.append(RawLine(f"while (true) {{ {v}++; }}", act, False))

        def fix(m):
            p.limits["budget"] = 50 * m.steps + 500_000
        p.fix_limits = fix
    elif kind == "heap":
        v = g.name("hog")
        p.limits.setdefault("heap", rng.choice([4, 8]) << 20)
        out.append(Decl(v, "int[][]", NewEmpty("int[]")))

        def act(m):
            raise KAbort("out of memory", m.trace())
        out.append(RawLine(f"while (true) {{ {v}.add(new int[4096]); }}",
                           act, False))
    elif kind == "depth":
        n = g.name("n")
        f = Func(g.name("down"), "int", [(n, "int")], [])
        f.body = [Jump("return", Bin("+", Call(f, [Bin(
            "+", Var(n, "int", "local"), I(1), "int")]), I(1), "int"))]
        items.append(f)
        if rng.random() < 0.6:
            p.limits["depth"] = rng.randint(20, 300)
        out.append(Print(Call(f, [I(0)])))
    elif kind in ("tostring", "nest"):
        c = g.name("L")
        ci = ClassInfo(c, "Object")
        p.classes[c] = ci
        nx = g.name("next")
        ci.fields = [FieldDecl(nx, c, None)]
        nv = Var(nx, c, "field")
        inner = nv if kind == "tostring" else ArrLit(c, [nv])
        ts = Method("toString", "String", [],
                    [Jump("return", cat(S("L"), inner))])
        ts.owner = c
        ci.methods["toString"] = ts
        items.append(ClassDecl(ci))
        v = g.name("loop")
        vv = Var(v, c, "local")
        if kind == "tostring" and rng.random() < 0.5:
            p.limits["depth"] = rng.randint(30, 200)
        out += [Decl(v, c, New(c, [])),
                ExprStmt(Assign(FieldGet(vv, nx, c), "", vv)),
                guard(g, [Print(vv)])]
    else:
        cls = rng.choice(g.excs + ["Exception", "NullPointerException"])
        e = g.new_obj(g.top_ctx, cls, 1) if cls in g.excs else \
            New(cls, [S("the end")])
        out.append(Jump("throw", e))
    g.p.notes.append(f"tail {kind}")
    return out


def add_scenarios(g, top):
    """(extra declarations, statements) for program g."""
    g.top_ctx = top
    rng = g.rng
    items, stmts = [], []
    r = rng.random()
    if r < 0.3:
        stmts += deep_join(g, items)
    elif r < 0.4:
        stmts += cyclic(g, items)
    elif r < 0.47:
        stmts += heap_pressure(g, items)
    if rng.random() < 0.25:
        stmts += abort_tail(g, items)
    return items, stmts
