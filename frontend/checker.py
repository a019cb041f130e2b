"""Type checker of K: names, types, classes, flow (the language reference
§2 to §9).

The second stage of the front end: source -> parse (parser.py) -> check
(this module) -> emit (emitter.py) -> image (image.py).  `check(program,
filename)` annotates the AST in place and returns `(ProgramInfo,
diagnostics)`; the emitter reads only those annotations, never a name or a
type node again (frontend/DESIGN.md lists them).  What it records:

- on every expression `ty`, its static type (types.py);
- on names and members `ref`, the symbol they denote (LocalVar, FieldInfo,
  GlobalInfo, FuncInfo, MethodInfo, IfaceMethod, an errno's int);
- on calls `kind` ("func", "virtual", "iface", "native", "dynamic",
  "funcval", "super", "super_ctor", "print"), `target`, `receiver` and
  `param_types`, which select the instruction the emitter writes;
- on declarations `info` and `var`, on switches `kind` and each arm's
  `values`, on lambdas their LambdaInfo with its captures;
- in ProgramInfo the classes in image order (parents first), the
  interfaces (extended ones first), functions, globals and the code units
  in the order their functions get indices.

The work is done in phases (Checker.run), because declarations may appear
in any order: top-level names first, then the class hierarchy and
interfaces, class layouts (fields and vtable slots), signatures, globals,
constants, and only then the bodies.

Every error of the file is reported once; an expression that already
failed gets `types.ERROR`, which is compatible with everything, so no error
cascades from it.  Flow analysis (reachability, definite assignment,
"possibly assigned" for finals) is done in the same walk as typing: `live`,
`da` and `pa` describe the point being checked.
"""
from __future__ import annotations

import errno as _errno
import sys as _sys

from . import ast as A
from . import types as T
from .builtins import FIRST_SCRIPT_CLASS_ID, POLL_BITS, install
from .diagnostics import Diagnostic, unused_locals
from .devicecheck import device_warnings
from .symbols import ClassInfo, FieldInfo, FuncInfo, GlobalInfo, LambdaInfo, LocalVar, MethodInfo, ProgramInfo
from .symbols import IfaceMethod, InterfaceInfo


def _errno_number_note(name: str) -> list[str]:
    """(E0213) For `Errno.NAME` that `Errno` lacks but Linux has: its
    number, which a script may write instead (DeviceError takes any int)."""
    n = getattr(_errno, name, None) if _sys.platform.startswith("linux") else None
    if not name.startswith("E") or not isinstance(n, int):
        return []
    return [f"`Errno` names only some of Linux's errnos; {name} is {n}: "
            f"`new DeviceError({n}, ...)`"]


class _All:
    """The definite-assignment set of an unreachable point: every variable.

    JLS 16's convention: after `return`, `break` or `throw` every variable
    counts as assigned, so that a join with a live path keeps exactly that
    path's set, and no E0402 is reported on dead code.  It is never
    mutated, so `copy` returns itself."""

    def __contains__(self, item):
        return True

    def copy(self):
        return self

    def __repr__(self):
        return "ALL"


ALL = _All()


# (1.1) The value of an expression that is not a constant expression (a
# sentinel, since None, False and 0 are all constant values).
_NC = object()
# (1.1) The value of an expression that would be constant but for a final
# global whose own value is being computed: a cycle, which is an error only
# when every initialiser in it would otherwise be constant (§2).
_CYC = object()
_U64 = 1 << 64


def _wrap(v):
    """`v` reduced to a signed 64-bit value (the run-time rules, §6)."""
    v %= _U64
    return v - _U64 if v >= 1 << 63 else v


def _const_text(v):
    """A constant as a label's message shows it."""
    if isinstance(v, bytes):
        return '"' + v.decode("latin-1") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _assigned_names(node):
    """(1.1) Names assigned anywhere in `node` (`=`, compound, `++`, `--`
    on a bare name or on `this.f`): what a loop or a try statement may have
    assigned when control comes back to a point of it (the "possibly
    assigned" set, the complement of JLS 16's definitely unassigned)."""
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if not isinstance(n, A.Node):
            continue
        if isinstance(n, (A.Assign, A.IncDec)):
            t = n.target
            if isinstance(t, A.Name):
                out.add(t.name)
            elif isinstance(t, A.Member) and isinstance(t.obj, A.This):
                out.add(t.name)
        for f in n.__dataclass_fields__:
            if f in ("span", "ty", "ref", "var", "info", "resolved"):
                continue
            v = getattr(n, f, None)
            if isinstance(v, (A.Node, list)):
                stack.append(v)
    return out


def _back_edge_names(body):
    """(1.1) Names a loop body may have assigned when control reaches its
    next iteration: along the paths that complete the body normally or end
    in a `continue` of this loop (JLS 16: a local assigned only on paths that
    then leave the loop, by `break`, `return` or `throw`, is still
    definitely unassigned at the loop's condition).  Nested loops and try
    statements count everything they assign; only the literal `true` is a
    constant condition (§5)."""
    top = {"loop": True, "breaks": [], "conts": []}

    def walk(s, acc, ctx):
        # (can complete normally, names possibly assigned on those paths)
        if s is None or isinstance(s, A.EmptyStmt):
            return True, acc
        if isinstance(s, A.Block):
            live = True
            for x in s.stmts:
                if not live:
                    break
                live, acc = walk(x, acc, ctx)
            return live, acc
        if isinstance(s, A.Break):
            ctx[-1]["breaks"].append(acc)
            return False, set()
        if isinstance(s, A.Continue):
            next(fr for fr in reversed(ctx) if fr["loop"])["conts"].append(acc)
            return False, set()
        if isinstance(s, (A.Return, A.Throw)):
            return False, set()
        if isinstance(s, A.If):
            acc = acc | _assigned_names(s.cond)
            l1, a1 = walk(s.then, acc, ctx)
            l2, a2 = walk(s.els, acc, ctx)
            return l1 or l2, (a1 if l1 else set()) | (a2 if l2 else set())
        if isinstance(s, (A.While, A.DoWhile, A.For, A.ForEach)):
            acc = acc | _assigned_names(s)
            fr = {"loop": True, "breaks": [], "conts": []}
            walk(s.body, acc, ctx + [fr])
            cond = getattr(s, "cond", False)
            forever = cond is None or (isinstance(cond, A.BoolLit) and cond.value)
            return not forever or bool(fr["breaks"]), acc
        if isinstance(s, A.Switch):
            acc = acc | _assigned_names(s.selector)
            fr = {"loop": False, "breaks": []}
            live = not any(arm.is_default for arm in s.arms)
            out = set(acc) if live else set()
            for arm in s.arms:
                la, aa = walk(arm.body, acc, ctx + [fr])
                if la:
                    live, out = True, out | aa
            for b in fr["breaks"]:
                live, out = True, out | b
            return live, out
        if isinstance(s, A.Try):
            acc = acc | _assigned_names(s)
            for part in [s.body] + [c.body for c in s.catches] + [s.finally_]:
                walk(part, acc, ctx)
            return True, acc
        return True, acc | _assigned_names(s)

    live, acc = walk(body, set(), [top])
    out = set(acc) if live else set()
    for c in top["conts"]:
        out |= c
    return out


def da_join(a, b):
    """Definite assignment where two paths meet: the variables assigned on both.
    ALL (a dead path) is the identity, and the result is a fresh set, so
    neither operand is aliased."""
    if a is ALL:
        return b.copy() if b is not ALL else ALL
    if b is ALL:
        return a.copy()
    return a & b


class Namespace:
    """A built-in name that is neither a value nor a type: Math, System, Errno."""

    def __init__(self, name):
        self.name = name


class _AnyName:
    """The top-level symbol of the type name `Any`: a type, but neither a
    class nor an interface (it cannot be extended, called or created)."""
    name = "Any"


ANY_NAME = _AnyName()


class _Fn:
    """The function whose body is being checked.

    `kind` is "func", "method", "ctor", "init" (top-level statements and
    global initialisers), "field" (a field initialiser, which runs in the
    constructor's frame) or "lambda".  `scopes` is the stack of block
    scopes, innermost last; `locals` every LocalVar declared, in order,
    which is the register order the emitter gives them.  `loops` is the
    stack of enclosing loops and switch statements: each collects the
    definite-assignment sets of its `break`s and `continue`s, and a
    switch's entry also has `switch: True` and the possibly-assigned sets of
    its breaks (`pas`)."""

    def __init__(self, kind, ret, cls=None, owner=None, name=""):
        self.kind = kind          # func method ctor init field
        self.ret = ret
        self.cls = cls
        self.owner = owner        # FuncInfo / MethodInfo / ProgramInfo
        self.name = name
        self.scopes = [{}]
        self.locals = []
        self.loops = []           # [ {breaks: [da], continues: [da]} ]
        self.parent = None        # (1.1) of a lambda: the enclosing _Fn
        self.lam = None           # (1.1) of a lambda: its LambdaInfo


def _bin_verb(op):
    """The verb of an arithmetic operator in E0201's message, or None."""
    return {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "take the remainder of"}.get(op)


class Checker:
    """One check of one file: the symbol tables being built, the diagnostics, and
    the flow state of the point being checked.

    Flow state: `live` is whether the current point is reachable; `da` the set
    of LocalVars (and blank final fields, in a constructor) definitely assigned
    there, or ALL where dead; `pa` the set possibly assigned (for the finals
    rules and effective finality); `bf_depth` and `bf_assign` restrict where a
    blank final field may be assigned. Each stmt_X / expr_X method checks one
    kind of node, updates this state as control flows through it and, for
    expressions, returns the type it also stores in `e.ty`."""
    def __init__(self, filename):
        """The state of one check of `filename`; `install()` gives the built-in
        classes, natives and statics this checker's symbols start from."""
        self.filename = filename
        self.diags = []
        self.info = ProgramInfo()
        self.bs = install()
        self.fn = None
        self.live = True
        self.unreachable_reported = False
        self.da = set()
        # (1.1) The variables and blank final fields that may have been
        # assigned on some path to this point (the complement of JLS 16's
        # "definitely unassigned"): unions at joins, empty where dead.
        self.pa = set()
        self.bf_depth = 0         # > 0 inside a loop, try, catch or finally
        self.bf_assign = None     # the `f = e;` a constructor may assign f by
        self.in_target = None     # the Member being checked as a target
        self.const_memo = {}
        # (1.1) Ioctl calls reported out of range (E0900): a label whose
        # constant they spoil gets no E0511 of its own
        self.bad_ioctl_calls = set()
        self.const_cycle_hits = set()   # constant globals met while busy
        self.declared_locals = []   # W0001: LocalVars declared by statements
        self.var_fn = {}            # (1.1) LocalVar -> the _Fn declaring it
        self.captured = []          # (1.1) (LocalVar, span) used by lambdas
        self.initialising = []      # (1.1) locals whose initialiser is checked
        self.init_reported = set()  # indices into it whose E0402 was reported
        self.read_locals = set()    # W0001: LocalVars some name reads
        self.STRING = T.ClassType(self.bs.classes["String"])
        self.exception_cls = self.bs.classes["Exception"]

    # ------------------------------------------------------------ helpers
    def error(self, code, msg, span, labels=None, notes=None, label=""):
        """Records diagnostic `code` at `span`; `labels` are (span, text) pairs
        shown under other places, `label` the text under `span` itself."""
        self.diags.append(Diagnostic(code, msg, span, labels=list(labels or []),
                                     notes=list(notes or []), label=label))

    # ------------------------------------------------------------ entry
    def run(self, program):
        """Checks the whole `program` and returns `(ProgramInfo, diagnostics)`,
        the diagnostics sorted by position.

        The phases run in this order because each needs the previous one's
        results: names must exist before an `extends` can be resolved, a
        superclass must be laid out before its subclasses (fields and vtable
        slots are inherited by index), signatures before bodies call them, and
        capture errors can only be judged once every assignment of a function
        is known."""
        info = self.info
        program.info = info
        info.natives = self.bs.natives
        top = info.top
        for name, ci in self.bs.classes.items():
            top[name] = ci
        for ci in sorted(self.bs.classes.values(), key=lambda c: c.id):
            info.classes.append(ci)
        info.class_by_name = dict(self.bs.classes)
        top["Any"] = ANY_NAME
        for ns in ("Math", "System", "Errno", "Ioctl", "Poll"):
            top[ns] = Namespace(ns)
        top["print"] = self.bs.print_func
        self.builtin_names = set(top)
        self.decl_spans = {}
        self.declare_top(program)
        self.resolve_hierarchy()
        self.resolve_interfaces()
        self.layout_classes()
        self.check_implements()
        self.resolve_functions()
        self.resolve_globals()
        self.resolve_constants()
        self.check_bodies(program)
        self.check_captures()
        self.diags += unused_locals(self.declared_locals, self.read_locals)
        self.diags += device_warnings(self, program)
        self.diags.sort(key=lambda d: (d.span[1], d.span[2]))
        return info, self.diags

    # ------------------------------------------------------------ declarations
    def declare_name(self, name, span, sym):
        """Enters a top-level symbol; E0102 if it shadows a built-in name, E0101
        if it is declared twice (the first declaration wins, so later
        references resolve to it). Returns whether it was entered."""
        top = self.info.top
        if name in self.builtin_names:
            self.error("E0102", f"`{name}` is a built-in name and cannot be redeclared", span)
            return False
        if name in top:
            self.error("E0101", f"the name `{name}` is declared twice", span,
                       labels=[(self.decl_spans[name], f"first declaration of `{name}`")])
            return False
        top[name] = sym
        self.decl_spans[name] = span
        return True

    def declare_top(self, program):
        """The first pass over the top-level items: creates the InterfaceInfo,
        ClassInfo, FuncInfo and GlobalInfo of every declaration and enters
        their names, so that any item may refer to any other whatever the
        order. Class ids are given in declaration order here and renumbered by
        resolve_hierarchy; methods declared outside their class (`R C.m(...)`)
        wait in `out_methods` until their class is known."""
        info = self.info
        self.class_decls = []
        self.func_decls = []
        self.out_methods = []
        self.global_decls = []
        self.iface_decls = []
        for item in program.items:
            if isinstance(item, A.InterfaceDecl):
                ii = InterfaceInfo(item.name, decl=item)
                item.info = ii
                self.declare_name(item.name, item.name_span, ii)
                self.iface_decls.append(item)
            elif isinstance(item, A.ClassDecl):
                ci = ClassInfo(item.name, FIRST_SCRIPT_CLASS_ID + len(info.script_classes), decl=item)
                ci.span = item.name_span
                # script classes may be extended by script classes
                ci.extendable = True
                item.info = ci
                info.script_classes.append(ci)
                info.classes.append(ci)
                if self.declare_name(item.name, item.name_span, ci):
                    info.class_by_name[item.name] = ci
                self.class_decls.append(item)
            elif isinstance(item, A.FuncDecl):
                # the signature is resolved later (resolve_functions); its code
                # unit index, `func_index`, is given by check_bodies
                fi = FuncInfo(item.name, T.ERROR, [], decl=item, index=len(info.functions),
                              param_names=[p.name for p in item.params])
                item.info = fi
                info.functions.append(fi)
                self.declare_name(item.name, item.name_span, fi)
                self.func_decls.append(item)
            elif isinstance(item, A.MethodDecl):
                self.out_methods.append(item)
            elif isinstance(item, A.GlobalDecl):
                gi = GlobalInfo(item.name, None, len(info.globals), decl=item, final=item.final)
                item.info = gi
                info.globals.append(gi)
                if self.is_class_name(item.name):
                    pass  # reported by declare_name as a duplicate
                self.declare_name(item.name, item.name_span, gi)
                self.global_decls.append(item)

    def type_kind(self, name):
        """"an interface" or "a class", for messages about a type's name."""
        return "an interface" if isinstance(self.info.top.get(name), InterfaceInfo) else "a class"

    def is_class_name(self, name):
        """Whether `name` denotes a type at top level (a class, an interface or
        `Any`): a local, parameter or field may not take such a name (E0103).
        """
        sym = self.info.top.get(name)
        return isinstance(sym, (ClassInfo, InterfaceInfo)) or sym is ANY_NAME

    def resolve_hierarchy(self):
        """Resolves each script class's `extends` (Object by default): E0704 for
        an interface, E0300 for a built-in class scripts may not extend or for
        `Any`, E0104 for an unknown name, E0301 for a cycle (which is then cut
        at Object). Finally renumbers the script classes so that every class
        comes after its superclass, the order the image and its loader require.
        """
        obj = self.bs.classes["Object"]
        for cd in self.class_decls:
            ci = cd.info
            ci.superclass = obj
            if cd.superclass is None:
                continue
            sym = self.info.top.get(cd.superclass)
            if isinstance(sym, InterfaceInfo):
                self.error("E0704", f"class `{cd.name}` cannot extend interface `{cd.superclass}`", cd.super_span,
                           notes=[f"a class implements interfaces: `class {cd.name} implements {cd.superclass}`"])
            elif isinstance(sym, ClassInfo):
                if not sym.extendable:
                    self.error("E0300", f"class `{cd.name}` cannot extend `{cd.superclass}`", cd.super_span,
                               notes=["scripts may extend `Object`, `Exception` and its subclasses, `Device`, `CharDevice`, and their own classes"])
                else:
                    ci.superclass = sym
            elif sym is ANY_NAME:
                self.error("E0300", f"class `{cd.name}` cannot extend `Any`", cd.super_span)
            else:
                self.error("E0104", f"cannot find class `{cd.superclass}`", cd.super_span)
        # cycles
        for cd in self.class_decls:
            ci = cd.info
            seen = set()
            c = ci
            while c is not None and not c.builtin:
                if id(c) in seen:
                    self.error("E0301", f"cyclic inheritance: `{cd.name}` is its own ancestor", cd.super_span)
                    ci.superclass = obj
                    break
                seen.add(id(c))
                c = c.superclass
        # The image needs every superclass before its subclasses; classes may
        # be declared in any order, so renumber them parents first.
        order, placed = [], set()

        def place(ci):
            if id(ci) in placed or ci.builtin:
                return
            placed.add(id(ci))
            if ci.superclass is not None:
                place(ci.superclass)
            order.append(ci)

        for ci in self.info.script_classes:
            place(ci)
        if order != self.info.script_classes:
            for i, ci in enumerate(order):
                ci.id = FIRST_SCRIPT_CLASS_ID + i
            n = len(self.info.script_classes)
            self.info.script_classes[:] = order
            self.info.classes[-n:] = order

    def depth(self, ci):
        """The number of superclasses above `ci` (Object's is 0)."""
        d = 0
        while ci.superclass is not None:
            ci = ci.superclass
            d += 1
        return d

    # ------------------------------------------------------------ (1.1) interfaces
    def iface_list(self, owner, names, what):
        """The InterfaceInfos of an `extends` or `implements` list: each
        name must be an interface, named once (the language reference §4)."""
        out, seen = [], {}
        for name, span in names:
            sym = self.info.top.get(name)
            if name in seen:
                self.error("E0706", f"interface `{name}` is named twice in the {what} list of `{owner}`", span,
                           labels=[(seen[name], "first named here")])
                continue
            seen[name] = span
            if isinstance(sym, InterfaceInfo):
                out.append(sym)
            elif isinstance(sym, ClassInfo) or sym is ANY_NAME:
                hint = ("an interface extends only interfaces" if what == "`extends`"
                        else f"a class extends a class: `class {owner} extends {name}`")
                self.error("E0704", f"`{name}` is a class, not an interface", span, notes=[hint])
            else:
                self.error("E0104", f"cannot find interface `{name}`", span)
        return out

    def resolve_interfaces(self):
        """Extends lists, cycles, the image order (an interface after those
        it extends), own signatures and method sets; the `implements`
        lists of classes."""
        for d in self.iface_decls:
            d.info.extends = self.iface_list(d.name, d.extends, "`extends`")
        # cycles: an interface among its own ancestors
        order = []
        for d in self.iface_decls:
            ii = d.info
            if self._iface_cyclic(ii):
                self.error("E0705", f"cyclic interface inheritance: `{ii.name}` extends itself", d.name_span,
                           notes=["through " + " -> ".join(f"`{n}`" for n in self._iface_cycle_path(ii))])
        for d in self.iface_decls:
            if self._iface_cyclic(d.info):
                d.info.extends = []
        placed = set()

        def place(ii):
            if id(ii) in placed:
                return
            placed.add(id(ii))
            for e in ii.extends:
                place(e)
            order.append(ii)

        for d in self.iface_decls:
            place(d.info)
        for i, ii in enumerate(order):
            # an interface's index is its place in this order: after all those
            # it extends
            ii.index = i
        self.info.interfaces = order
        # own signatures
        for d in self.iface_decls:
            ii = d.info
            for m in d.members:
                if isinstance(m, A.FieldDecl):
                    self.error("E0700", f"interface `{ii.name}` cannot have field `{m.name}`", m.name_span,
                               notes=["an interface holds only method signatures"])
                elif isinstance(m, A.CtorDecl):
                    self.error("E0702", f"interface `{ii.name}` cannot have a constructor", m.name_span,
                               notes=["an interface holds only method signatures"])
                elif isinstance(m, A.MethodDecl):
                    if m.body is not None:
                        self.error("E0701", f"interface method `{ii.name}.{m.name}` cannot have a body", m.name_span,
                                   notes=[f"write the signature only: `...{m.name}(...);`, and the body in the classes"])
                    seen = {}
                    for p in m.params:
                        if p.final:
                            self.error("E0703", f"parameter `{p.name}` of interface method `{ii.name}.{m.name}` cannot be `final`",
                                       p.span)
                        # a signature has no body, but its parameters follow
                        # the rules of any function's (§2): no type's name,
                        # no name twice
                        if self.is_class_name(p.name):
                            self.error("E0103", f"parameter `{p.name}` has the name of {self.type_kind(p.name)}",
                                       p.name_span)
                        elif p.name in seen:
                            self.error("E0106", f"`{p.name}` is already declared in interface method "
                                       f"`{ii.name}.{m.name}`", p.name_span,
                                       labels=[(seen[p.name].name_span, f"`{p.name}` first declared here")])
                        else:
                            seen[p.name] = p
                    ret, params = self.method_sig(m)
                    if m.name in ii.own:
                        self.error("E0303", f"`{m.name}` is declared twice in interface `{ii.name}`", m.name_span,
                                   labels=[(ii.own[m.name].decl.name_span, "first declared here")],
                                   notes=["K has no overloading"])
                        continue
                    im = IfaceMethod(m.name, ii, ret, params, len(ii.own), decl=m,
                                     param_names=[p.name for p in m.params])
                    m.info = im
                    ii.own[m.name] = im
                    if m.name == "toString" and not (ret == self.STRING and not params) and \
                            not T.is_error(ret):
                        self.error("E0708", f"interface method `{ii.name}.toString` must be `String toString()`",
                                   m.name_span, notes=[f"found `{_sig_text(im)}`"])
        # method sets, in order (those extended first)
        for ii in order:
            ms = {}
            for e in ii.extends:
                for name, im in e.methods.items():
                    self._merge_method(ms, im, ii.name, ii.decl.name_span, "interface")
            for name, im in ii.own.items():
                self._merge_method(ms, im, ii.name, im.decl.name_span, "interface")
            ii.methods = ms
        for cd in self.class_decls:
            cd.info.interfaces = self.iface_list(cd.name, cd.interfaces, "`implements`")

    def _iface_cyclic(self, ii):
        """Whether `ii` is among the interfaces it extends, directly or not."""
        seen, todo = set(), list(ii.extends)
        while todo:
            x = todo.pop()
            if x is ii:
                return True
            if id(x) in seen:
                continue
            seen.add(id(x))
            todo.extend(x.extends)
        return False

    def _iface_cycle_path(self, ii):
        """Names along one cycle from `ii` back to itself."""
        def dfs(x, path, seen):
            for e in x.extends:
                if e is ii:
                    return path + [e.name]
                if id(e) not in seen:
                    seen.add(id(e))
                    r = dfs(e, path + [e.name], seen)
                    if r:
                        return r
            return None
        return dfs(ii, [ii.name], set()) or [ii.name]

    def _merge_method(self, ms, im, owner, span, what):
        """Adds IfaceMethod `im` to the method set `ms`; the same name with
        another signature is E0707 (one signature reached twice is one
        method)."""
        old = ms.get(im.name)
        if old is None:
            ms[im.name] = im
            return True
        if old.ret == im.ret and old.params == im.params:
            return True
        if any(T.is_error(t) for t in [old.ret, im.ret] + old.params + im.params):
            return True
        self.error("E0707", f"{what} `{owner}` has two methods `{im.name}` with different signatures", span,
                   notes=[f"`{old.iface.name}` has `{_sig_text(old)}`",
                          f"`{im.iface.name}` has `{_sig_text(im)}`"])
        return False

    def check_implements(self):
        """Every method of every interface a script class names must be
        declared, added or inherited with the same signature; one error
        per class lists every missing method (the language reference §4)."""
        for cd in self.class_decls:
            ci = cd.info
            if not ci.interfaces:
                continue
            ms = {}
            clashing = set()    # names reported as E0707: not missing too
            for ii in ci.interfaces:
                for im in ii.methods.values():
                    if not self._merge_method(ms, im, ci.name, cd.name_span, "class"):
                        clashing.add(im.name)
            missing = []
            for im in ms.values():
                if im.name in clashing:
                    continue
                m = ci.lookup_method(im.name)
                # A method implements an interface method only with a vtable
                # slot (an itable entry is a slot number) and exactly its
                # signature.
                if m is None or m.slot is None or m.slot < 0 or m.ret != im.ret or m.params != im.params:
                    # a signature that failed to resolve has been reported
                    # already
                    if m is not None and any(T.is_error(t) for t in [m.ret] + m.params):
                        continue
                    missing.append(im)
            if missing:
                names = ", ".join(f"`{im.iface.name}.{im.name}`" for im in missing)
                notes = [f"missing `{_sig_text(im)}` of `{im.iface.name}`" for im in missing]
                for im in missing:
                    m = ci.lookup_method(im.name)
                    if m is not None:
                        notes.append(f"`{m.qualname}` is `{_sig_text(m)}`, not `{_sig_text(im)}`")
                self.error("E0709", f"class `{ci.name}` does not implement {names}", cd.name_span, notes=notes)

    # ------------------------------------------------------------ types
    def resolve_type(self, node, allow_void=False, what="a variable"):
        """Resolves the type node `node`, records it in `node.resolved` and
        returns it; `void` is E0206 unless `allow_void` (a return type), `what`
        naming the place in the message."""
        t = self._resolve_type(node)
        if t == T.VOID and not allow_void:
            self.error("E0206", f"`void` is not allowed as the type of {what}", node.span)
            t = T.ERROR
        node.resolved = t
        return t

    def _resolve_type(self, node):
        """The Type a type node denotes, or ERROR after reporting an unknown or
        non-type name (E0104), or `void` inside an array, map or Func type
        (E0206). A compound type with an erroneous part is ERROR as a whole, so
        that no message mentions a half-known type. Every part node gets its
        `resolved` type too, for the emitter's type table."""
        if isinstance(node, A.NamedType):
            n = node.name
            if n == "int":
                t = T.INT
            elif n == "boolean":
                t = T.BOOL
            elif n == "void":
                t = T.VOID
            else:
                sym = self.info.top.get(n)
                if sym is ANY_NAME:
                    t = T.ANY
                elif isinstance(sym, ClassInfo):
                    t = T.ClassType(sym)
                elif isinstance(sym, InterfaceInfo):
                    t = T.InterfaceType(sym)
                elif sym is not None:
                    self.error("E0104", f"`{n}` is not a type", node.span)
                    t = T.ERROR
                else:
                    self.error("E0104", f"cannot find type `{n}`", node.span)
                    t = T.ERROR
        elif isinstance(node, A.ArrayTypeNode):
            e = self._resolve_type(node.elem)
            node.elem.resolved = e
            if e == T.VOID:
                self.error("E0206", "arrays of `void` are not allowed", node.elem.span)
                e = T.ERROR
            t = T.ERROR if T.is_error(e) else T.ArrayType(e)
        elif isinstance(node, A.MapTypeNode):
            k = self._resolve_type(node.key)
            node.key.resolved = k
            v = self._resolve_type(node.val)
            node.val.resolved = v
            for part, pt, what in ((node.key, k, "key"), (node.val, v, "value")):
                if pt == T.VOID:
                    self.error("E0206", f"`void` is not allowed as a map {what} type", part.span)
            t = T.ERROR if T.is_error(k) or T.is_error(v) or T.VOID in (k, v) else T.MapType(k, v)
        elif isinstance(node, A.FuncTypeNode):
            r = self._resolve_type(node.ret)
            node.ret.resolved = r
            ps = []
            for p in node.params:
                pt = self._resolve_type(p)
                p.resolved = pt
                if pt == T.VOID:
                    self.error("E0206", "`void` is not allowed as a parameter type", p.span)
                    pt = T.ERROR
                ps.append(pt)
            t = T.ERROR if T.is_error(r) or any(T.is_error(p) for p in ps) else T.FuncType(r, ps)
        else:
            raise TypeError(node)
        node.resolved = t
        return t

    # ------------------------------------------------------------ classes
    def method_sig(self, md):
        """The resolved (return type, parameter types) of a method or function
        declaration."""
        ret = self.resolve_type(md.ret, allow_void=True)
        params = []
        for p in md.params:
            params.append(self.resolve_type(p.type, what="a parameter"))
        return ret, params

    def layout_classes(self):
        """Attaches methods declared outside their class to it (E0710 for an
        interface, E0308 for a built-in or unknown class, whose methods are
        still checked as orphans), then lays out every script class,
        superclasses first (by depth), since a class starts from its
        superclass's fields and vtable."""
        by_class = {}
        for md in self.out_methods:
            sym = self.info.top.get(md.class_name)
            if isinstance(sym, InterfaceInfo):
                self.error("E0710", f"cannot add a method to interface `{md.class_name}`", md.class_span,
                           notes=["an interface holds only the signatures written in its body"])
                self.orphan_method(md)
            elif isinstance(sym, ClassInfo) and not sym.builtin:
                by_class.setdefault(id(sym), []).append(md)
            elif isinstance(sym, ClassInfo) or sym is ANY_NAME:
                self.error("E0308", f"cannot add a method to the built-in class `{md.class_name}`", md.class_span)
                self.orphan_method(md)
            else:
                self.error("E0308", f"cannot find class `{md.class_name}` to add method `{md.name}` to", md.class_span)
                self.orphan_method(md)
        for cd in sorted(self.class_decls, key=lambda c: self.depth(c.info)):
            self.layout_class(cd, by_class.get(id(cd.info), []))

    def orphan_method(self, md):
        """A method whose class is unknown: still check its body (without `this`)."""
        ret, params = self.method_sig(md)
        md.info = MethodInfo(md.name, None, ret, params, decl=md, owner_name=md.class_name,
                             param_names=[p.name for p in md.params])

    def layout_class(self, cd, extra_methods):
        """Builds the layout of one script class: fields after the inherited ones
        (field i means the same in every subclass), the vtable copied from the
        superclass with overrides put in the slot they override and new methods
        appended, and the constructor.

        Reports a name declared twice in the class or clashing with an
        inherited field or method (E0303), an override with another signature
        (E0302; the slot and signature of the overridden method stay, so calls
        through the superclass type remain well typed), a misnamed or second
        constructor (E0307, E0304). A class without a constructor gets an
        implicit one with its superclass's parameters, which passes them on to
        `super(...)`."""
        ci = cd.info
        sup = ci.superclass
        ci.fields = list(sup.fields)
        ci.vtable = list(sup.vtable)
        own_names = {}
        ctor_decls = []
        for m in cd.members:
            if isinstance(m, A.FieldDecl):
                ft = self.resolve_type(m.type, what="a field")
                if self.is_class_name(m.name):
                    self.error("E0103", f"field `{m.name}` has the name of {self.type_kind(m.name)}", m.name_span)
                if m.name in own_names:
                    self.error("E0303", f"`{m.name}` is declared twice in class `{ci.name}`", m.name_span,
                               labels=[(own_names[m.name], "first declared here")])
                    continue
                inh_f = sup.lookup_field(m.name)
                inh_m = sup.lookup_method(m.name)
                if inh_f is not None:
                    notes = []
                    if getattr(m, "init", None) is not None:
                        notes = [f"to give the inherited field a value, assign it in the "
                                 f"constructor: `{m.name} = ...;`"]
                    self.error("E0303", f"field `{m.name}` is already declared in superclass `{inh_f.owner.name}`",
                               m.name_span, notes=notes)
                elif inh_m is not None:
                    self.error("E0303", f"field `{m.name}` clashes with method `{inh_m.owner_name}.{m.name}`",
                               m.name_span)
                own_names[m.name] = m.name_span
                fi = FieldInfo(m.name, ft, len(ci.fields), ci, decl=m, final=m.final)
                m.info = fi
                ci.fields.append(fi)
                ci.own_fields.append(fi)
            elif isinstance(m, A.CtorDecl):
                ctor_decls.append(m)
        for m in [x for x in cd.members if isinstance(x, A.MethodDecl)] + extra_methods:
            ret, params = self.method_sig(m)
            mi = MethodInfo(m.name, ci, ret, params, decl=m, param_names=[p.name for p in m.params])
            m.info = mi
            if m.name in own_names:
                self.error("E0303", f"`{m.name}` is declared twice in class `{ci.name}`", m.name_span,
                           labels=[(own_names[m.name], "first declared here")])
                continue
            own_names[m.name] = m.name_span
            inh_f = sup.lookup_field(m.name)
            inh_m = sup.lookup_method(m.name)
            if inh_f is not None:
                self.error("E0303", f"method `{m.name}` clashes with field `{inh_f.owner.name}.{m.name}`", m.name_span)
            ci.methods[m.name] = mi
            # An override takes the slot of the method it overrides, so that
            # CALLV through the superclass's type reaches it. A built-in method
            # without a slot (slot < 0) is called natively and cannot be
            # overridden: a script method of that name gets a new slot.
            if inh_m is not None and inh_m.slot >= 0:
                if inh_m.ret != ret and not (T.is_error(ret) or T.is_error(inh_m.ret)) or \
                        len(inh_m.params) != len(params) or \
                        any(a != b and not T.is_error(a) and not T.is_error(b) for a, b in zip(inh_m.params, params)):
                    want = f"{inh_m.ret} {m.name}({', '.join(str(p) for p in inh_m.params)})"
                    got = f"{ret} {m.name}({', '.join(str(p) for p in params)})"
                    self.error("E0302", f"method `{m.name}` overrides `{inh_m.owner_name}.{m.name}` with a different signature",
                               m.name_span, notes=[f"expected `{want}`", f"   found `{got}`"])
                mi.slot = inh_m.slot
                ci.vtable[mi.slot] = mi
            else:
                mi.slot = len(ci.vtable)
                ci.vtable.append(mi)
        for fd in ci.own_fields:
            if fd.name in ci.methods:
                md = ci.methods[fd.name].decl
                self.error("E0303", f"method `{fd.name}` clashes with field `{ci.name}.{fd.name}`", md.name_span,
                           labels=[(fd.decl.name_span, "field declared here")])
        # constructor
        sctor = sup.ctor
        for i, c in enumerate(ctor_decls):
            if c.name != ci.name:
                self.error("E0307", f"constructor `{c.name}` must have the name of its class `{ci.name}`",
                           c.name_span, notes=["a method needs a return type"])
            if i > 0:
                self.error("E0304", f"class `{ci.name}` has more than one constructor", c.name_span,
                           labels=[(ctor_decls[0].name_span, "first constructor")],
                           notes=["K has no overloading: one constructor per class"])
                params = [self.resolve_type(p.type, what="a parameter") for p in c.params]
                c.info = MethodInfo("<init>", ci, T.VOID, params, kind="ctor", decl=c,
                                    param_names=[p.name for p in c.params])
                c.info.super_ctor = sctor
                continue
            params = [self.resolve_type(p.type, what="a parameter") for p in c.params]
            mi = MethodInfo("<init>", ci, T.VOID, params, kind="ctor", decl=c,
                            param_names=[p.name for p in c.params])
            mi.super_ctor = sctor
            c.info = mi
            ci.ctor = mi
        if ci.ctor is None:
            params = list(sctor.params) if sctor else []
            mi = MethodInfo("<init>", ci, T.VOID, params, kind="ctor",
                            param_names=list(sctor.param_names) if sctor else [])
            mi.implicit = True
            mi.super_ctor = sctor
            mi.param_vars = [LocalVar(n, t, ci.span, is_param=True, index=i)
                             for i, (n, t) in enumerate(zip(mi.param_names, params))]
            mi.locals = list(mi.param_vars)
            ci.ctor = mi

    def resolve_functions(self):
        """The signatures of the top-level functions, before any body calls them.
        """
        for fd in self.func_decls:
            ret, params = self.method_sig(fd)
            fd.info.ret = ret
            fd.info.params = params

    def resolve_globals(self):
        """The types of the globals: declared ones first, then those declared
        `var` (inferred from their initialiser, which may use other globals in
        any order: infer_global recurses and detects a cycle)."""
        for gd in self.global_decls:
            if gd.type is not None:
                gd.info.type = self.resolve_type(gd.type, what="a variable")
        self.inferring = set()
        for gd in self.global_decls:
            if gd.type is None and gd.info.type is None:
                self.infer_global(gd)

    def infer_global(self, gd):
        """Infers the type of the `var` global `gd` by checking its initialiser
        now, in a fresh init context; a global whose initialiser needs its own
        type is E0207. The initialiser is marked `init_checked` so that
        check_bodies does not check it (and report its errors) a second time.
        """
        if id(gd) in self.inferring:
            self.error("E0207", f"cannot infer the type of `{gd.name}`: its initialiser depends on itself", gd.name_span)
            gd.info.type = T.ERROR
            return
        self.inferring.add(id(gd))
        saved = (self.fn, self.live, self.da)
        self.fn = _Fn("init", T.VOID, owner=self.info, name="<init>")
        self.live, self.da = True, set()
        t = self.check_value(gd.init)
        self.fn, self.live, self.da = saved
        gd.init_checked = True
        gd.info.type = self.var_type_from(t, gd.init, gd.name)

    def var_type_from(self, t, init, name):
        """The type a `var` declaration takes from its initialiser's type `t`:
        `null` gives none (E0207)."""
        if t == T.NULL:
            self.error("E0207", f"cannot infer the type of `{name}` from `null`", init.span,
                       notes=["declare the variable with a type"])
            return T.ERROR
        return t

    # ------------------------------------------------------------ bodies
    def check_bodies(self, program):
        """Checks every body, in the order that fixes the function indices of the
        image: functions, then per class its constructor (with the field
        initialisers, which run in it) and methods, then the orphan methods,
        and last the init (top-level statements and global initialisers in
        source order).

        Field initialisers are checked each in a context of their own with
        nothing definitely assigned; a class whose implicit constructor leaves
        a blank final field unassigned is E0502 here. In the init an
        unreachable statement is reported once and checking goes on as if it
        were reachable."""
        info = self.info
        for fd in self.func_decls:
            fd.info.func_index = len(info.code_units)
            info.code_units.append(fd.info)
            self.check_function(fd, fd.info, _Fn("func", fd.info.ret, owner=fd.info, name=fd.name))
        for cd in self.class_decls:
            ci = cd.info
            ci.ctor.func_index = len(info.code_units)
            info.code_units.append(ci.ctor)
            for m in cd.members:
                if isinstance(m, A.FieldDecl) and m.init is not None:
                    # a field initialiser runs in the constructor's frame,
                    # before its body: it has `this` but nothing is assigned
                    # yet
                    self.fn = _Fn("field", T.VOID, cls=ci, owner=ci.ctor, name=ci.name)
                    self.live, self.da, self.pa = True, set(), set()
                    self.check_assign_to(m.init, m.info.type if m.info else T.ERROR)
            for m in cd.members:
                if isinstance(m, A.CtorDecl):
                    self.check_ctor(m, ci)
            if ci.ctor is not None and ci.ctor.implicit:
                for f in ci.own_fields:
                    if f.blank_final:
                        self.error("E0502", f"blank final field `{f.name}` is never assigned", f.decl.name_span,
                                   notes=[f"class `{ci.name}` needs a constructor that assigns it"])
            for mi in list(ci.methods.values()):
                mi.func_index = len(info.code_units)
                info.code_units.append(mi)
                self.check_function(mi.decl, mi, _Fn("method", mi.ret, cls=ci, owner=mi, name=f"{ci.name}.{mi.name}"))
        for md in self.out_methods:
            if md.info is not None and md.info.owner is None:
                self.check_function(md, md.info, _Fn("func", md.info.ret, owner=md.info, name=md.name))
        # the init: top-level statements and global initialisers in order
        self.fn = _Fn("init", T.VOID, owner=info, name="<init>")
        self.live, self.da, self.pa = True, set(), set()
        reported = False
        for item in program.items:
            if isinstance(item, A.GlobalDecl):
                if not self.live and not reported and item.init is not None:
                    self.error("E0400", "unreachable statement", item.span)
                    reported = True
                if item.init is not None and not getattr(item, "init_checked", False):
                    self.check_assign_to(item.init, item.info.type)
            elif isinstance(item, A.Stmt):
                if not self.live and not reported:
                    self.error("E0400", "unreachable statement", item.span)
                    reported = True
                    self.live = True
                self.check_stmt(item)
        info.init_locals = self.fn.locals

    def declare_params(self, decl, mi):
        """Declares the parameters of `decl` as the first locals of the current
        function."""
        mi.param_vars = []
        for i, p in enumerate(decl.params):
            t = mi.params[i] if i < len(mi.params) else T.ERROR
            v = self.declare_local(p.name, t, p.name_span or p.span, is_param=True,
                                   final=p.final)
            p.var = v
            mi.param_vars.append(v)

    def check_function(self, decl, mi, fn):
        """Checks the body of a function or method `decl` whose symbol is `mi`, in
        context `fn`, and records its locals on `mi`. E0401 if a non-void body
        can complete normally, reported at the closing brace."""
        self.fn = fn
        self.live, self.da, self.pa = True, set(), set()
        self.unreachable_reported = False
        self.declare_params(decl, mi)
        self.check_block(decl.body, new_scope=False)
        # after an `unreachable statement` error the flow is in recovery (as
        # in javac): no second error for the same dead path
        if self.live and not self.unreachable_reported and mi.ret != T.VOID and not T.is_error(mi.ret):
            what = "method" if fn.kind == "method" else "function"
            b = decl.body.span
            self.error("E0401", f"missing return: {what} `{fn.name}` can reach its end without returning `{mi.ret}`",
                       (b[0], b[3], b[4] - 1, b[3], b[4]),
                       labels=[(decl.name_span, f"`{fn.name}` returns `{mi.ret}`")],
                       notes=["every path must end in `return` or `throw`"])
        mi.locals = fn.locals

    def check_ctor(self, cd, ci):
        """Checks constructor `cd` of class `ci`: E0305 if its superclass's
        constructor takes arguments and the body does not begin with
        `super(...)` (the only place such a call is allowed: `ctor_first`), and
        at a normal completion every blank final field must be assigned
        (E0502)."""
        mi = cd.info
        fn = _Fn("ctor", T.VOID, cls=ci, owner=mi, name=f"{ci.name}")
        self.fn = fn
        self.live, self.da, self.pa = True, set(), set()
        self.declare_params(cd, mi)
        stmts = cd.body.stmts
        first_is_super = bool(stmts) and isinstance(stmts[0], A.ExprStmt) and \
            isinstance(stmts[0].expr, A.Call) and isinstance(stmts[0].expr.callee, A.Super)
        sctor = mi.super_ctor
        if not first_is_super and sctor is not None and sctor.params and mi is ci.ctor:
            sig = ", ".join(str(p) for p in sctor.params)
            self.error("E0305", f"constructor of `{ci.name}` must begin with `super(...)`", cd.name_span,
                       notes=[f"the constructor of `{ci.superclass.name}` takes `({sig})`"])
        self.ctor_first = stmts[0].expr if first_is_super else None
        self.check_block(cd.body, new_scope=False)
        self.ctor_first = None
        if self.live and mi is ci.ctor:
            b = cd.body.span
            self.check_blank_finals((b[0], b[3], b[4] - 1, b[3], b[4]))
        mi.locals = fn.locals

    def check_blank_finals(self, span):
        """(1.1) Where a constructor completes normally (its end, `return;`)
        every blank final field of its class must be definitely assigned
        (the language reference §4)."""
        fn = self.fn
        if fn is None or fn.kind != "ctor" or self.da is ALL:
            return
        for f in fn.cls.own_fields:
            if f.blank_final and f not in self.da:
                self.error("E0502", f"blank final field `{f.name}` might not have been assigned", span,
                           labels=[(f.decl.name_span, f"`{f.name}` declared here")],
                           notes=[f"the constructor of `{fn.cls.name}` must assign it on every path"])

    # ------------------------------------------------------------ scopes
    def declare_local(self, name, ty, span, is_param=False, final=False, has_init=False):
        """Declares a local or parameter in the innermost scope and returns its
        LocalVar, whose `index` is its position in the function's locals (the
        emitter's register order). E0103 if it has a type's name, E0106 if it
        shadows a local visible here, including (1.1) those of the functions a
        lambda is written in. A parameter is definitely assigned from the
        start."""
        fn = self.fn
        if self.is_class_name(name):
            self.error("E0103", f"{'parameter' if is_param else 'variable'} `{name}` has the name of "
                       f"{self.type_kind(name)}", span)
        else:
            # (1.1) a lambda's parameters and locals may not redeclare
            # those visible where it is written either (§2)
            f, found = fn, False
            while f is not None and not found:
                for scope in f.scopes:
                    if name in scope:
                        prev = scope[name]
                        where = "in this function" if f is fn else "where this lambda is written"
                        self.error("E0106", f"`{name}` is already declared {where}", span,
                                   labels=[(prev.span, f"`{name}` first declared here")])
                        found = True
                        break
                f = f.parent
        v = LocalVar(name, ty, span, is_param=is_param, index=len(fn.locals), final=final,
                     has_init=has_init)
        self.var_fn[v] = fn
        fn.locals.append(v)
        fn.scopes[-1][name] = v
        if is_param:
            self.da.add(v)
        return v

    def lookup_local(self, name):
        """A local or parameter: (1.1) of the lambda being checked, then of
        the enclosing lambdas and function (§2)."""
        fn = self.fn
        while fn is not None:
            for scope in reversed(fn.scopes):
                v = scope.get(name)
                if v is not None:
                    return v
            fn = fn.parent
        return None

    # ------------------------------------------------------------ statements
    def check_block(self, block, new_scope=True):
        """Checks the statements of `block`, in a new scope unless the caller
        opened it. The first unreachable statement is E0400; checking then goes
        on as if it were reachable, with everything assigned, so the rest of
        the dead code reports no flow error (javac's recovery)."""
        if new_scope:
            self.fn.scopes.append({})
        reported = False
        for s in block.stmts:
            if not self.live and not reported:
                self.error("E0400", "unreachable statement", s.span)
                reported = True
                self.unreachable_reported = True
                self.live = True
                self.da = ALL
            self.check_stmt(s)
        if new_scope:
            self.fn.scopes.pop()

    def dead(self):
        """The current point is unreachable (after `return`, `break`, `continue`,
        `throw`): every variable counts as assigned and nothing as possibly
        assigned."""
        self.live = False
        self.da = ALL
        self.pa = set()

    def check_stmt(self, s):
        """Checks statement `s` by its class's stmt_ method."""
        m = getattr(self, "stmt_" + type(s).__name__)
        m(s)

    def stmt_Block(self, s):
        self.check_block(s)

    def stmt_EmptyStmt(self, s):
        pass

    def stmt_VarDecl(self, s):
        """A local declaration: its type is declared or inferred (`var`), the
        initialiser is checked before the local is declared, with its name in
        `initialising`: as in Java the local is in scope there but not yet
        assigned, so `int x = x + 1;` is E0402 even where a global or field `x`
        exists, and a lambda there cannot use it (E0606: used_in_own_initialiser). The local
        is definitely assigned only when it has an initialiser. A `final` local
        needs one (E0501)."""
        if s.type is None:
            self.initialising.append(s.name)
            t = self.check_value(s.init)
            self.end_initialiser()
            t = self.var_type_from(t, s.init, s.name)
        else:
            t = self.resolve_type(s.type, what="a variable")
            if s.init is not None:
                # (1.1) a lambda in the initialiser cannot use the local
                self.initialising.append(s.name)
                self.check_assign_to(s.init, t)
                self.end_initialiser()
        if s.final and s.init is None:
            self.error("E0501", f"final variable `{s.name}` needs an initialiser", s.name_span,
                       notes=["a final local is declared `final T x = e;`"])
        v = self.declare_local(s.name, t, s.name_span, final=s.final, has_init=s.init is not None)
        s.var = v
        if s.final and s.init is None:
            self.assign_var(v)      # reported above: no cascade of E0402
        self.declared_locals.append(v)
        if s.init is not None:
            self.assign_var(v)

    def assign_var(self, v):
        """Marks `v` definitely assigned at the current point (a no-op where
        dead)."""
        if self.da is not ALL:
            self.da.add(v)

    def stmt_ExprStmt(self, s):
        """An expression statement: only assignments, `++`/`--`, calls and `new`
        (E0220). A plain `f = e;` statement outside loops and try statements is
        the one form that may assign a blank final field: it is recorded in
        `bf_assign` for final_write."""
        e = s.expr
        if not isinstance(e, (A.Assign, A.IncDec, A.Call, A.New)) or \
                getattr(s, "parenthesized", False):
            self.check_expr(e)
            self.error("E0220", "this expression is not a statement", e.span,
                       notes=["only assignments, `++`/`--`, calls and `new` can be used as statements"])
            return
        # (1.1) the only statement that may assign a blank final field
        self.bf_assign = e if isinstance(e, A.Assign) and e.op == "=" and self.bf_depth == 0 else None
        self.check_expr(e)
        self.bf_assign = None

    def condition(self, e, what):
        """Checks the condition `e` of a statement (E0202 unless boolean) and
        returns the definite-assignment sets when it is true and when it is
        false."""
        t, f, ty = self.flow_cond(e)
        if ty != T.BOOL and not T.is_error(ty):
            self.error("E0202", f"{what} must be `boolean`, found `{ty}`", e.span)
        return t, f

    def stmt_If(self, s):
        """`if`: the then-branch starts from the condition's true set and the
        else-branch from its false set; after the statement the point is live
        if either branch completes normally (or there is no else), and the
        variables definitely assigned are those of every live branch."""
        t, f = self.condition(s.cond, "the condition of `if`")
        self.da = t
        pa0 = set(self.pa)
        self.check_stmt(s.then)
        live1, da1 = self.live, self.da
        pa1 = self.pa
        self.live, self.da, self.pa = True, f, pa0
        if s.els is not None:
            self.check_stmt(s.els)
        self.pa = self.pa | pa1
        self.live = live1 or self.live
        self.da = da_join(da1 if live1 else ALL, self.da if self.live or s.els is None else ALL) \
            if self.live else ALL
        if not live1 and s.els is not None and self.live:
            pass

    def _loop(self, cond, body, kind, update=None):
        """The flow of `while` and `for`: the body starts from the condition's
        true set; the loop completes normally unless its condition is the
        constant `true` (or absent) and no `break` leaves it, and after it the
        variables assigned are those of the false condition joined with every
        `break`'s. A constant `false` condition makes the body unreachable
        (E0400), as in Java."""
        const_true = cond is None or (isinstance(cond, A.BoolLit) and cond.value)
        const_false = isinstance(cond, A.BoolLit) and not cond.value
        if cond is not None:
            t, f = self.condition(cond, f"the condition of `{kind}`")
        else:
            t, f = self.da, ALL
        loop = {"breaks": [], "continues": []}
        self.fn.loops.append(loop)
        self.da = t
        if const_false:
            self.error("E0400", "unreachable statement", body.span,
                       notes=[f"the condition of this `{kind}` loop is `false`"])
        self.check_stmt(body)
        # the update is reached by `continue` even when the body's end is not
        if update:
            self.live = True
            for u in update:
                self.check_expr(u)
        self.fn.loops.pop()
        out = f
        for b in loop["breaks"]:
            out = da_join(out, b)
        self.live = (not const_true) or bool(loop["breaks"])
        self.da = out if self.live else ALL

    def enter_repeated(self, *nodes, loop_body=None):
        """(1.1) Before a loop, try or catch: what its parts assign may be
        assigned already when control reaches them (again), and a blank
        final field may not be assigned there.  Of a loop's body
        (`loop_body`, its condition and update being `nodes`), only what
        can reach the next iteration counts (_back_edge_names).  Returns
        what `leave_repeated` restores: everything the statement assigns."""
        resolve = self.assigned_vars
        names = _assigned_names(list(nodes))
        after = self.pa | resolve(names | _assigned_names(loop_body))
        if loop_body is not None:
            names = names | _back_edge_names(loop_body)
        self.pa = self.pa | resolve(names)
        self.bf_depth += 1
        return after

    def assigned_vars(self, names):
        """The locals and final fields visible here that `names` (from
        _assigned_names) denote."""
        extra = set()
        for n in names:
            v = self.lookup_local(n)
            if v is not None:
                extra.add(v)
            elif self.fn is not None and self.fn.cls is not None:
                f = self.fn.cls.lookup_field(n)
                if f is not None and f.final:
                    extra.add(f)
        return extra

    def leave_repeated(self, pa):
        """Ends what enter_repeated began: the possibly-assigned set is the one
        from before (grown by the part's own assignments, which enter_repeated
        already added), or empty where dead."""
        self.bf_depth -= 1
        self.pa = set(pa) if self.live else set()

    def stmt_While(self, s):
        """`while`: see _loop; the body's assignments may be assigned again at the
        condition."""
        pa = self.enter_repeated(s.cond, loop_body=s.body)
        self._loop(s.cond, s.body, "while")
        self.leave_repeated(pa)

    def stmt_DoWhile(self, s):
        """`do ... while`: see _stmt_DoWhile."""
        pa = self.enter_repeated(s.cond, loop_body=s.body)
        self._stmt_DoWhile(s)
        self.leave_repeated(pa)

    def _stmt_DoWhile(self, s):
        """The flow of `do`: the body runs first, from the current sets; the
        condition is reachable if the body completes normally or a `continue`
        reaches it, and starts from their join. The loop completes normally if
        the condition can be false or a `break` leaves it."""
        loop = {"breaks": [], "continues": []}
        self.fn.loops.append(loop)
        self.check_stmt(s.body)
        self.fn.loops.pop()
        body_live = self.live or bool(loop["continues"])
        da = self.da
        for c in loop["continues"]:
            da = da_join(da, c) if self.live else c
        self.live = True
        self.da = da
        t, f = self.condition(s.cond, "the condition of `do`")
        const_true = isinstance(s.cond, A.BoolLit) and s.cond.value
        out = f if body_live else ALL
        for b in loop["breaks"]:
            out = da_join(out, b)
        self.live = (body_live and not const_true) or bool(loop["breaks"])
        self.da = out if self.live else ALL

    def stmt_For(self, s):
        """`for (init; cond; update)`: the init's declarations are in a scope of
        the whole statement; the update runs after the body, and is checked as
        reachable even when the body is not (it is reached by `continue`)."""
        self.fn.scopes.append({})
        for i in s.init:
            self.check_stmt(i) if isinstance(i, A.VarDecl) else self.check_expr(i.expr)
        pa = self.enter_repeated(s.cond, s.update, loop_body=s.body)
        self._loop(s.cond, s.body, "for", s.update)
        self.leave_repeated(pa)
        self.fn.scopes.pop()

    def stmt_ForEach(self, s):
        """`for (T x : a)`: see _stmt_ForEach."""
        pa = self.enter_repeated(loop_body=s.body)
        self._stmt_ForEach(s)
        self.leave_repeated(pa)

    def _stmt_ForEach(self, s):
        """The flow of `for (T x : a)`: only arrays are iterable (a map is E0219,
        with a hint to iterate over `keys()` or `values()`); the loop variable,
        of the element type or a declared type the elements are assignable to
        (E0200), is assigned for the body. The loop may run zero times, so
        after it only what was assigned before (and at each `break`) is
        definitely assigned."""
        it = self.check_value(s.iterable)
        elem = T.ERROR
        if isinstance(it, T.ArrayType):
            elem = it.elem
        elif isinstance(it, T.MapType):
            self.error("E0219", f"cannot iterate over a value of type `{it}`", s.iterable.span,
                       notes=["`for (T x : a)` needs an array: iterate over `keys()` or `values()`"])
        elif not T.is_error(it):
            self.error("E0219", f"cannot iterate over a value of type `{it}`", s.iterable.span,
                       notes=["`for (T x : a)` needs an array"])
        if s.type is None:
            vt = elem
        else:
            vt = self.resolve_type(s.type, what="a variable")
            if not T.assignable(elem, vt):
                self.error("E0200", f"mismatched types: elements of `{it}` are `{elem}`, not `{vt}`", s.type.span)
        self.fn.scopes.append({})
        v = self.declare_local(s.name, vt, s.name_span, final=s.final, has_init=True)
        s.var = v
        # a copy: the body's assignments go into self.da in place
        before = self.da.copy()
        self.assign_var(v)
        loop = {"breaks": [], "continues": []}
        self.fn.loops.append(loop)
        self.check_stmt(s.body)
        self.fn.loops.pop()
        self.fn.scopes.pop()
        self.live = True
        self.da = before.copy() if before is not ALL else ALL
        for b in loop["breaks"]:
            self.da = da_join(self.da, b)

    def stmt_Break(self, s):
        """`break`: leaves the innermost loop or (1.1) switch statement (E0403
        outside one); what is assigned here reaches the point after it."""
        # (1.1) the innermost loop or switch statement
        if not self.fn.loops:
            self.error("E0403", "`break` outside of a loop", s.span)
        else:
            ctx = self.fn.loops[-1]
            ctx["breaks"].append(self.da.copy() if self.da is not ALL else ALL)
            # a break out of a switch also carries what may have been assigned,
            # for the join after it
            if ctx.get("switch"):
                ctx["pas"].append(set(self.pa))
        self.dead()

    def stmt_Continue(self, s):
        """`continue`: goes to the next iteration of the innermost loop, skipping
        enclosing switches (E0403 outside a loop)."""
        # (1.1) `continue` belongs to the innermost loop, not to a switch
        loops = [c for c in self.fn.loops if not c.get("switch")]
        if not loops:
            self.error("E0403", "`continue` outside of a loop", s.span)
        else:
            loops[-1]["continues"].append(self.da.copy() if self.da is not ALL else ALL)
        self.dead()

    def stmt_Return(self, s):
        """`return`: E0405 at top level; in a void function or constructor a value
        is E0404, in a non-void one a missing value is E0404 and the value must
        be assignable to the return type. A `return;` in a constructor is a
        normal completion, so the blank finals must be assigned there too."""
        fn = self.fn
        if fn.kind == "ctor" and s.value is None and fn.owner is fn.cls.ctor:
            self.check_blank_finals(s.span)
        if fn.kind == "init":
            self.error("E0405", "`return` outside of a function", s.span)
            if s.value is not None:
                self.check_expr(s.value)
        elif fn.ret == T.VOID:
            if s.value is not None:
                t = self.check_expr(s.value)
                what = "constructor" if fn.kind == "ctor" else (
                    "this lambda" if fn.kind == "lambda" else f"`{fn.name}`")
                self.error("E0404", f"{what} returns `void`: `return` cannot have a value", s.value.span)
        elif s.value is None:
            if not T.is_error(fn.ret):
                self.error("E0404", f"`return` needs a value of type `{fn.ret}`", s.span)
        else:
            self.check_assign_to(s.value, fn.ret)
        self.dead()

    def stmt_Throw(self, s):
        """`throw e`: `e` must be an Exception (or null, which throws a
        NullPointerException at run time); E0218 otherwise."""
        t = self.check_value(s.value)
        if not (T.is_error(t) or t == T.NULL or
                (isinstance(t, T.ClassType) and t.info.is_subclass_of(self.exception_cls))):
            self.error("E0218", f"cannot throw a value of type `{t}`", s.value.span,
                       notes=["only instances of `Exception` and its subclasses can be thrown"])
        self.dead()

    def stmt_Try(self, s):
        """`try`: its body, catches and finally may run after one another's
        assignments (an exception can leave the body anywhere), so they are a
        "repeated" region for the finals rules (enter_repeated): a catch may
        run after what the body assigns, the finally after what the body and
        the catches assign, but the body itself runs once (JLS 16.2.15)."""
        pa0 = set(self.pa)
        body = self.assigned_vars(_assigned_names(s.body))
        catches = self.assigned_vars(_assigned_names(s.catches))
        pa = self.enter_repeated(s.body, s.catches, s.finally_)
        self.pa = set(pa0)
        self._stmt_Try(s, pa0 | body, pa0 | body | catches)
        self.leave_repeated(pa)

    def _stmt_Try(self, s, catch_pa, finally_pa):
        """The flow of a try statement. Each catch starts from what was definitely
        assigned before the try (the body may have thrown before any of its
        assignments), and so does the finally. After the statement: live if the
        body or some catch completes normally and the finally does; assigned is
        the join of the body's and the catches' ends, plus what the finally
        assigns. A catch of a class an earlier catch already covers is
        unreachable (E0400, JLS 14.21), and only Exceptions can be caught
        (E0218)."""
        before = self.da.copy() if self.da is not ALL else ALL
        self.check_block(s.body)
        live, da = self.live, (self.da if self.live else ALL)
        caught = []
        for c in s.catches:
            ct = self.resolve_type(c.type, what="a variable")
            if not T.is_error(ct) and not (isinstance(ct, T.ClassType) and ct.info.is_subclass_of(self.exception_cls)):
                self.error("E0218", f"cannot catch `{ct}`: it is not an `Exception`", c.type.span)
            elif isinstance(ct, T.ClassType):
                # JLS 14.22: a catch block is unreachable when an earlier one
                # catches the same class or a superclass of it
                for prev in caught:
                    if ct.info.is_subclass_of(prev[0].info):
                        self.error("E0400", f"unreachable catch: `{ct}` is already caught by the earlier `catch ({prev[0]} ...)`",
                                   c.type.span, labels=[(prev[1], f"`{prev[0]}` caught here")])
                        break
                caught.append((ct, c.type.span))
            self.live = True
            self.da = before.copy() if before is not ALL else ALL
            self.pa = set(catch_pa)
            self.fn.scopes.append({})
            v = self.declare_local(c.name, ct, c.name_span, final=c.final, has_init=True)
            c.var = v
            self.assign_var(v)
            self.check_block(c.body)
            self.fn.scopes.pop()
            if self.live:
                da = da_join(da, self.da) if live else self.da
                live = True
        if s.finally_ is not None:
            self.live = True
            self.da = before.copy() if before is not ALL else ALL
            self.pa = set(finally_pa)
            self.check_block(s.finally_)
            fin_live, fin_da = self.live, self.da
            self.live = live and fin_live
            if self.live:
                if da is ALL:
                    self.da = ALL
                else:
                    # what the finally assigns is assigned after the statement
                    # too
                    self.da = da | fin_da if fin_da is not ALL else da
            else:
                self.da = ALL
        else:
            self.live = live
            self.da = da if live else ALL

    # ------------------------------------------------------------ expressions
    def check_assign_to(self, e, dst, what=None):
        """Check `e` flowing into a slot of type `dst`."""
        t = self.check_value(e, expected=dst)
        if not T.assignable(t, dst):
            self.error("E0200", f"mismatched types: expected `{dst}`, found `{t}`", e.span,
                       label=f"expected `{dst}`")
        return t

    def check_value(self, e, expected=None):
        """Checks `e` where a value is needed: a call of a void function is E0206
        here."""
        t = self.check_expr(e, expected)
        if t == T.VOID:
            self.error("E0206", "this expression has type `void` and has no value", e.span)
            e.ty = T.ERROR
            return T.ERROR
        return t

    def check_expr(self, e, expected=None):
        """Checks expression `e` by its class's expr_ method, records its type in
        `e.ty` and returns it. `expected` is the type of the slot it flows
        into, if known (used only by the expressions that take their type from
        the context)."""
        t = getattr(self, "expr_" + type(e).__name__)(e, expected)
        e.ty = t
        return t

    def expr_IntLit(self, e, exp):
        return T.INT

    def expr_BoolLit(self, e, exp):
        return T.BOOL

    def expr_NullLit(self, e, exp):
        return T.NULL

    def expr_StringLit(self, e, exp):
        return self.STRING

    def in_class(self):
        """Whether the code being checked has a `this` (a method, constructor,
        field initialiser, or a lambda in one)."""
        return self.fn is not None and self.fn.cls is not None

    def expr_This(self, e, exp):
        """`this`: the current class's type, in a method, constructor or field
        initialiser (E0216 elsewhere)."""
        if not self.in_class():
            self.error("E0216", "`this` is only available in methods and constructors", e.span)
            return T.ERROR
        return T.ClassType(self.fn.cls)

    def expr_Super(self, e, exp):
        """A bare `super` (not called, not `super.m(...)`): E0216."""
        self.error("E0216", "`super` can only be called or used to call a method", e.span)
        return T.ERROR

    def lookup_name(self, name):
        """What a bare name denotes, innermost first: a local or parameter (of
        this function or, in a lambda, of those it is written in), a field or
        method of the current class (inherited ones included), then a top-level
        symbol; None if unknown."""
        v = self.lookup_local(name)
        if v is not None:
            return v
        if self.in_class():
            f = self.fn.cls.lookup_field(name)
            if f is not None:
                return f
            m = self.fn.cls.lookup_method(name)
            if m is not None:
                return m
        return self.info.top.get(name)

    def end_initialiser(self):
        """The innermost local's initialiser has been checked."""
        self.init_reported.discard(len(self.initialising) - 1)
        self.initialising.pop()

    def used_in_own_initialiser(self, name, sym, span, value=False) -> bool:
        """Whether a name in a local's initialiser names that local (an
        error, reported here; `initialising`). That local is not assigned
        there: the name would find a global, a field, a function or nothing,
        never the local the writer meant, so say why instead of silently
        using the other one (or E0100). In a lambda, as a value or as a
        callee: E0606. Elsewhere, as a value (value): E0402, as in Java; a
        callee there is looked up as before."""
        if name not in self.initialising or isinstance(sym, LocalVar):
            return False
        if self.fn is not None and self.fn.lam is not None:
            self.error("E0606", f"a lambda cannot use `{name}` in its own initialiser", span,
                       notes=[f"`{name}` is not assigned until its initialiser has run; "
                              "use a global or a field"])
            return True
        if not value:
            return False
        # reported once a declaration, as E0402 is for any local (expr_Name)
        entry = len(self.initialising) - 1 - self.initialising[::-1].index(name)
        if entry in self.init_reported:
            return True
        self.init_reported.add(entry)
        self.error("E0402", f"variable `{name}` might not have been assigned", span,
                   notes=[f"this is the local `{name}` being declared: its initialiser "
                          "runs before it is assigned; "
                          + (f"the field is `this.{name}`" if isinstance(sym, FieldInfo)
                             else f"to use another `{name}`, give the local a "
                             "name of its own")])
        return True

    def expr_Name(self, e, exp):
        """A bare name used as a value. A local must be definitely assigned
        (E0402, reported once: the local is then treated as assigned); a local
        of an enclosing function is captured by the lambdas in between
        (capture). A blank final field read in its constructor must be assigned
        (check_final_read). A `var` global used before its declaration has its
        type inferred now. Functions and methods of the script are values of
        their Func type; built-in ones (E0215), types and namespaces (E0105)
        are not."""
        sym = self.lookup_name(e.name)
        e.ref = sym
        if self.used_in_own_initialiser(e.name, sym, e.span, value=True):
            return T.ERROR
        if isinstance(sym, LocalVar):
            self.read_locals.add(sym)
            # a local of an enclosing function: the lambdas in between capture
            # it
            if self.var_fn.get(sym) is not self.fn:
                self.capture(sym, e.span)
            if sym not in self.da:
                self.error("E0402", f"variable `{e.name}` might not have been assigned", e.span)
                self.assign_var(sym)
            return sym.type
        if isinstance(sym, FieldInfo):
            self.check_final_read(sym, e.span)
            return sym.type
        if isinstance(sym, GlobalInfo):
            if sym.type is None:
                self.infer_global(sym.decl)
            return sym.type
        if isinstance(sym, FuncInfo):
            if sym.native_id is not None:
                self.error("E0215", f"built-in function `{e.name}` is not a value", e.span)
                return T.ERROR
            return sym.func_type()
        if isinstance(sym, MethodInfo):
            if sym.native_id is not None:
                self.error("E0215", f"built-in method `{sym.qualname}` is not a value", e.span)
                return T.ERROR
            return sym.func_type()
        if isinstance(sym, (ClassInfo, InterfaceInfo)) or sym is ANY_NAME:
            self.error("E0105", f"`{e.name}` is a type, not a value", e.span)
            return T.ERROR
        if isinstance(sym, Namespace):
            self.error("E0105", f"`{e.name}` is a namespace, not a value", e.span)
            return T.ERROR
        self.error("E0100", f"cannot find `{e.name}` in this scope", e.span)
        return T.ERROR

    def type_qualifier(self, obj):
        """If `obj` is a bare name denoting a type or namespace, return the symbol."""
        if isinstance(obj, A.Name):
            if self.lookup_local(obj.name) is not None:
                return None
            if self.in_class() and (self.fn.cls.lookup_field(obj.name) or self.fn.cls.lookup_method(obj.name)):
                return None
            sym = self.info.top.get(obj.name)
            if isinstance(sym, (ClassInfo, InterfaceInfo, Namespace)) or sym is ANY_NAME:
                obj.ref = sym
                return sym
        return None

    @staticmethod
    def builtin_value_note(name, params, exp) -> str:
        """The note of E0215 for `x.name`, a built-in method used as a value
        (params: its parameter types): a lambda calls it where a Func is
        expected, else it was meant to be called."""
        call = f"{name}({'' if not params else '...'})"
        if isinstance(exp, T.FuncType):
            return f"a lambda can call it: `({'' if not exp.params else '...'}) -> x.{call}`"
        return f"call it: `{call}`"

    def expr_Member(self, e, exp):
        """`obj.name` used as a value: `Errno.X` is an int constant (its value is
        recorded as `e.ref`, for folding and the emitter), a static method of a
        namespace or class is not a value (E0215); otherwise a field, or a
        script method as a Func value bound to the receiver, of a class; a
        method of an interface. `Any` has no fields (E0214): it must be cast
        first."""
        q = self.type_qualifier(e.obj)
        if q is not None:
            if isinstance(q, Namespace) and q.name == "Errno":
                v = self.bs.errnos.get(e.name)
                if v is None:
                    self.error("E0213", f"no errno constant `Errno.{e.name}`", e.name_span,
                               notes=_errno_number_note(e.name))
                    return T.ERROR
                e.ref = v
                return T.INT
            if isinstance(q, Namespace) and q.name == "Poll":
                v = POLL_BITS.get(e.name)
                if v is None:
                    self.error("E0213", f"no poll constant `Poll.{e.name}`", e.name_span)
                    return T.ERROR
                e.ref = v
                return T.INT
            m = self.static_method(q, e.name)
            if m is not None:
                self.error("E0215", f"built-in method `{m.qualname}` is not a value", e.span,
                           notes=["call it instead"])
            else:
                self.error("E0213", f"`{q.name}` has no static member `{e.name}`", e.name_span)
            return T.ERROR
        if isinstance(e.obj, A.Super):
            self.error("E0309", f"`super.{e.name}` is not a value: it can only be called", e.span)
            return T.ERROR
        t = self.check_value(e.obj)
        if T.is_error(t):
            return T.ERROR
        if isinstance(t, T.AnyType):
            self.error("E0214", f"cannot access field `{e.name}` through `Any`", e.name_span,
                       notes=["cast the value to its class first"])
            return T.ERROR
        if isinstance(t, T.ClassType):
            f = t.info.lookup_field(e.name)
            if f is not None:
                e.ref = f
                if isinstance(e.obj, A.This) and self.in_target is not e:
                    self.check_final_read(f, e.span)
                return f.type
            m = t.info.lookup_method(e.name)
            if m is not None:
                if m.native_id is not None:
                    self.error("E0215", f"built-in method `{m.qualname}` is not a value", e.span,
                               notes=[self.builtin_value_note(e.name, m.params, exp)])
                    return T.ERROR
                e.ref = m
                return m.func_type()
        if isinstance(t, T.InterfaceType):
            if e.name == "toString":
                self.error("E0711", f"`{e.name}` through interface `{t}` is not a value", e.span,
                           notes=["call it: `toString()`"])
                return T.ERROR
            m = t.info.methods.get(e.name)
            if m is not None:
                e.ref = m
                return m.func_type()
        if isinstance(t, T.ArrayType) and e.name in self.bs.array_methods:
            self.error("E0215", f"built-in method `Array.{e.name}` is not a value", e.span,
                       notes=[self.builtin_value_note(
                           e.name, self.bs.array_methods[e.name].params, exp)])
            return T.ERROR
        if isinstance(t, T.MapType) and e.name in self.bs.map_methods:
            self.error("E0215", f"built-in method `Map.{e.name}` is not a value", e.span)
            return T.ERROR
        notes = []
        if isinstance(t, T.ArrayType) and e.name == "length":
            notes = ["an array's length is its `size()`"]
        self.error("E0213", f"no field `{e.name}` on type `{t}`", e.name_span, notes=notes)
        return T.ERROR

    def static_method(self, q, name):
        """The built-in static method `name` of namespace or class `q`, or None.
        """
        if isinstance(q, Namespace):
            return self.bs.statics.get(q.name, {}).get(name)
        if isinstance(q, ClassInfo):
            return q.statics.get(name)
        return None

    def expr_Index(self, e, exp):
        """`a[i]`: `a` must be an array and `i` an int; a map has no indexing
        (E0210, with a hint to use get and put)."""
        t = self.check_value(e.obj)
        it = self.check_value(e.index)
        if it != T.INT and not T.is_error(it) and not isinstance(t, T.MapType):
            self.error("E0200", f"mismatched types: an index must be `int`, found `{it}`", e.index.span)
        if isinstance(t, T.ArrayType):
            return t.elem
        if isinstance(t, T.MapType):
            self.error("E0210", f"cannot index a value of type `{t}`", e.obj.span,
                       notes=["a map has no indexing: use `get(k)` and `put(k, v)`"])
        elif not T.is_error(t):
            self.error("E0210", f"cannot index a value of type `{t}`", e.obj.span)
        return T.ERROR

    def check_args(self, call, params, what):
        """Checks the arguments of `call` against parameter types `params` (E0212
        for a wrong count, after which the arguments are still checked for
        their own errors) and records `params` as the call's `param_types`, the
        types the emitter converts the arguments to."""
        call.param_types = list(params)
        if len(call.args) != len(params):
            n = len(params)
            self.error("E0212", f"{what} takes {n} argument{'s' if n != 1 else ''} but {len(call.args)} "
                       f"{'were' if len(call.args) != 1 else 'was'} supplied", call.span)
            for a in call.args:
                self.check_expr(a)
            return
        for a, p in zip(call.args, params):
            self.check_assign_to(a, p)

    def expr_Call(self, e, exp):
        """A call. Decides which instruction will make it and records it as
        `e.kind` with its `target` and `receiver`:

        - a name: a script function ("func"), the built-in `print` ("print",
        whose one argument may have any type), or a method of the current class
        called on `this` ("virtual"); - `super.m(...)` ("super"), `super(...)`
        ("super_ctor"); - `Q.m(...)` on a namespace or built-in class: a static
        native ("native"); - `o.m(...)` by `o`'s static type: a class's method
        ("virtual", or "native" for a built-in method that has no vtable slot),
        an interface's ("iface"; `toString` is Object's slot 0 of every class,
        so it stays "virtual"), an array's or map's built-in method ("native",
        its parameter and return types instantiated for the element, key and
        value types), or any method of `Any` ("dynamic": looked up by name and
        checked at run time); - any other callee: a Func value ("funcval").

        Returns the call's result type."""
        c = e.callee
        if isinstance(c, A.Super):
            return self.call_super_ctor(e)
        if isinstance(c, A.Name):
            sym = self.lookup_name(c.name)
            c.ref = sym
            if self.used_in_own_initialiser(c.name, sym, c.span):
                for a in e.args:
                    self.check_expr(a)
                return T.ERROR
            if isinstance(sym, FuncInfo):
                c.ty = sym.func_type()
                if sym.native_id is not None:   # print
                    e.kind = "print"
                    e.target = sym
                    e.param_types = [T.ANY]
                    if len(e.args) != 1:
                        self.error("E0212", f"`print` takes 1 argument but {len(e.args)} were supplied", e.span)
                        for a in e.args:
                            self.check_expr(a)
                    else:
                        self.check_value(e.args[0])
                    return T.VOID
                e.kind = "func"
                e.target = sym
                self.check_args(e, sym.params, f"function `{c.name}`")
                return sym.ret
            if isinstance(sym, MethodInfo):
                c.ty = sym.func_type()
                e.kind = "virtual"
                e.target = sym
                e.receiver = None
                self.check_args(e, sym.params, f"method `{sym.qualname}`")
                return sym.ret
            if isinstance(sym, InterfaceInfo):
                self.error("E0211", f"`{c.name}` is an interface and cannot be called", c.span)
                for a in e.args:
                    self.check_expr(a)
                return T.ERROR
            if isinstance(sym, ClassInfo):
                self.error("E0211", f"`{c.name}` is a class and cannot be called", c.span,
                           notes=[f"use `new {c.name}(...)` to create an instance"])
                for a in e.args:
                    self.check_expr(a)
                return T.ERROR
        elif isinstance(c, A.Member):
            if isinstance(c.obj, A.Super):
                return self.call_super_method(e)
            q = self.type_qualifier(c.obj)
            if q is not None:
                m = self.static_method(q, c.name)
                if m is None:
                    self.error("E0213", f"`{q.name}` has no static method `{c.name}`", c.name_span)
                    for a in e.args:
                        self.check_expr(a)
                    return T.ERROR
                e.kind = "native"
                e.target = m
                self.check_args(e, m.params, f"`{m.qualname}`")
                if m.owner_name == "Ioctl":
                    self.check_ioctl_args(e)
                return m.ret
            t = self.check_value(c.obj)
            c.ty = t
            if isinstance(t, T.AnyType):
                # The receiver's class is known only at run time: CALLA looks
                # the method up by name and checks the arguments against its
                # signature then, so each argument is passed as Any and the
                # result is Any.
                e.kind = "dynamic"
                e.name = c.name
                e.receiver = c.obj
                e.param_types = [T.ANY] * len(e.args)
                for a in e.args:
                    self.check_value(a)
                return T.ANY
            if isinstance(t, T.ClassType):
                f = t.info.lookup_field(c.name)
                m = t.info.lookup_method(c.name) if f is None else None
                if m is not None:
                    # a built-in method with a vtable slot (toString) may be
                    # overridden, so it is called virtually
                    e.kind = "native" if (m.native_id is not None and m.slot < 0) else "virtual"
                    e.target = m
                    e.receiver = c.obj
                    c.ref = m
                    self.check_args(e, m.params, f"method `{m.qualname}`")
                    return m.ret
            elif isinstance(t, T.InterfaceType):
                m = t.info.methods.get(c.name)
                if c.name == "toString":
                    # Object's toString or its override: slot 0 of any class
                    m = self.bs.classes["Object"].lookup_method("toString")
                    e.kind = "virtual"
                elif m is not None:
                    e.kind = "iface"
                if m is not None:
                    e.target = m
                    e.receiver = c.obj
                    c.ref = m
                    self.check_args(e, m.params, f"method `{t}.{c.name}`")
                    return m.ret
            elif isinstance(t, T.ArrayType):
                m = self.bs.array_methods.get(c.name)
                if m is not None:
                    e.kind = "native"
                    e.target = m
                    e.receiver = c.obj
                    c.ref = m
                    self.check_args(e, [T.substitute(p, t.elem) for p in m.params], f"method `Array.{c.name}`")
                    return T.substitute(m.ret, t.elem)
            elif isinstance(t, T.MapType):
                m = self.bs.map_methods.get(c.name)
                if m is not None:
                    e.kind = "native"
                    e.target = m
                    e.receiver = c.obj
                    c.ref = m
                    self.check_args(e, [T.substitute_map(p, t) for p in m.params],
                                    f"method `Map.{c.name}`")
                    return T.substitute_map(m.ret, t)
            elif T.is_error(t):
                for a in e.args:
                    self.check_expr(a)
                return T.ERROR
            # a field of a Func type is not a method: it falls through to the
            # call of a Func value below
            if not (isinstance(t, T.ClassType) and t.info.lookup_field(c.name)):
                self.error("E0213", f"no method `{c.name}` on type `{t}`", c.name_span)
                for a in e.args:
                    self.check_expr(a)
                return T.ERROR
        # a call of a Func value
        ft = self.check_value(c)
        if T.is_error(ft):
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        if not isinstance(ft, T.FuncType):
            what = f"`{c.name}`" if isinstance(c, A.Name) else (f"`{c.name}`" if isinstance(c, A.Member) else "this expression")
            self.error("E0211", f"{what} has type `{ft}` and cannot be called", c.span)
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        e.kind = "funcval"
        self.check_args(e, list(ft.params), f"`{ft}`")
        return ft.ret

    def call_super_ctor(self, e):
        """`super(...)`: allowed only as the first statement of a constructor
        (E0306); its arguments are checked against the superclass's
        constructor."""
        fn = self.fn
        e.kind = "super_ctor"
        if fn is None or fn.kind != "ctor" or getattr(self, "ctor_first", None) is not e:
            self.error("E0306", "`super(...)` can only be the first statement of a constructor", e.span)
            for a in e.args:
                self.check_expr(a)
            return T.VOID
        sctor = fn.cls.superclass.ctor
        e.target = sctor
        self.check_args(e, sctor.params, f"the constructor of `{fn.cls.superclass.name}`")
        return T.VOID

    def call_super_method(self, e):
        """`super.m(...)`: calls the superclass's `m` non-virtually, from a method
        or constructor (of a lambda written in one, too)."""
        c = e.callee
        fn = self.root_fn()
        if not self.in_class() or fn.kind not in ("method", "ctor"):
            self.error("E0216", "`super` is only available in methods and constructors", c.obj.span)
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        m = fn.cls.superclass.lookup_method(c.name)
        if m is None:
            self.error("E0213", f"superclass `{fn.cls.superclass.name}` has no method `{c.name}`", c.name_span)
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        e.kind = "super"
        e.target = m
        c.ref = m
        self.check_args(e, m.params, f"method `{m.qualname}`")
        return m.ret

    def expr_New(self, e, exp):
        """`new C(...)`: `C` must be a class with a constructor (built-in classes
        without one and interfaces are E0217); records the class and
        constructor for the emitter."""
        t = self._resolve_type(e.type)
        if T.is_error(t):
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        if isinstance(t, T.InterfaceType):
            self.error("E0217", f"cannot create an instance of interface `{t}` with `new`", e.type.span,
                       notes=[f"create an instance of a class that implements `{t}`"])
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        if not isinstance(t, T.ClassType) or t.info.ctor is None:
            self.error("E0217", f"cannot create an instance of `{t}` with `new`", e.type.span)
            for a in e.args:
                self.check_expr(a)
            return T.ERROR
        e.cls = t.info
        e.ctor = t.info.ctor
        self.check_args(e, e.ctor.params, f"the constructor of `{t}`")
        return t

    def expr_NewArray(self, e, exp):
        """`new T[n]` (`n` an int) or `new T[]`: an empty array of element type
        `T`."""
        el = self.resolve_type(e.elem, what="an array element")
        if e.size is not None:
            st = self.check_value(e.size)
            if st != T.INT and not T.is_error(st):
                self.error("E0200", f"mismatched types: an array size must be `int`, found `{st}`", e.size.span)
        return T.ERROR if T.is_error(el) else T.ArrayType(el)

    def expr_NewMap(self, e, exp):
        """(1.1) `new Map<K, V>()`: an empty map of exactly that type."""
        return self.resolve_type(e.type, what="a map")

    def expr_ArrayLit(self, e, exp):
        """`[a, b, ...]`: with an expected array type every element is checked
        against its element type (this is how `[]` and `[null]` get a type);
        otherwise the type is the join of the elements' types (E0205 if there
        is none, E0208 if nothing fixes it)."""
        if isinstance(exp, T.ArrayType):
            for x in e.elems:
                self.check_assign_to(x, exp.elem)
            return exp
        if not e.elems:
            self.error("E0208", "cannot infer the type of the empty array literal `[]`", e.span,
                       notes=["give it an expected type, e.g. `int[] a = [];`"])
            return T.ERROR
        ts = [self.check_value(x) for x in e.elems]
        j = ts[0]
        # an expected `Any` (`Any x = [1, "a"];`, an element of an `Any[]`
        # literal) makes elements with no other join `Any[]` (§3)
        jexp = exp if isinstance(exp, T.AnyType) else None
        for x, t in zip(e.elems[1:], ts[1:]):
            nj = T.join(j, t, jexp)
            if nj is None:
                self.error("E0205", f"array literal elements have incompatible types `{j}` and `{t}`", x.span)
                return T.ERROR
            j = nj
        if j == T.NULL:
            self.error("E0208", "cannot infer the element type of an array literal of `null`s", e.span)
            return T.ERROR
        return T.ERROR if T.is_error(j) else T.ArrayType(j)

    def expr_Unary(self, e, exp):
        """`!e` (through flow_cond, so that `!` swaps the true and false sets),
        `-e` and `~e` on ints."""
        if e.op == "!":
            t, f, ty = self.flow_cond(e)
            self.da = da_join(t, f)
            return ty
        t = self.check_value(e.operand)
        if t != T.INT and not T.is_error(t):
            self.error("E0201", f"cannot apply unary `{e.op}` to `{t}`", e.span)
            return T.ERROR
        return T.INT

    def flow_cond(self, e, exp=None):
        """Check a boolean expression; returns (da_true, da_false, type).
        `exp` is the expected type of an operand that need not be boolean
        (a branch of `?:` or an arm of a switch expression)."""
        if isinstance(e, A.BoolLit):
            e.ty = T.BOOL
            d = self.da
            return (d, ALL, T.BOOL) if e.value else (ALL, d, T.BOOL)
        if isinstance(e, A.Unary) and e.op == "!":
            t, f, ty = self.flow_cond(e.operand)
            if ty != T.BOOL and not T.is_error(ty):
                self.error("E0201", f"cannot apply `!` to `{ty}`", e.span)
                ty = T.ERROR
            e.ty = ty
            return f, t, ty
        if isinstance(e, A.Binary) and e.op in ("&&", "||"):
            t1, f1, ty1 = self.flow_cond(e.left)
            self.da = t1 if e.op == "&&" else f1
            t2, f2, ty2 = self.flow_cond(e.right)
            bad = [(x, ty) for x, ty in ((e.left, ty1), (e.right, ty2)) if ty != T.BOOL and not T.is_error(ty)]
            ty = T.BOOL
            if bad:
                self.error("E0201", f"operands of `{e.op}` must be `boolean`, found `{bad[0][1]}`", e.op_span,
                           labels=[(x.span, f"`{t}`") for x, t in bad])
                ty = T.ERROR
            elif T.is_error(ty1) or T.is_error(ty2):
                ty = T.ERROR
            e.ty = ty
            if e.op == "&&":
                return t2, da_join(f1, f2), ty
            return da_join(t1, t2), f2, ty
        ty = self.check_value(e, exp)
        # a boolean `?:` or switch expression: true and false sets joined
        # branch by branch (JLS 16.1), which expr_Cond and
        # expr_SwitchExpr leave on the node
        sets = getattr(e, "flow_sets", None)
        if sets is not None:
            e.flow_sets = None
            if ty == T.BOOL:
                return sets[0], sets[1], ty
        d = self.da
        # any other expression assigns the same whichever its value: two sets,
        # not aliased
        return d, (d.copy() if d is not ALL else ALL), ty

    def expr_Binary(self, e, exp):
        """A binary operator. `&&` and `||` go through flow_cond. `+` with a
        String operand is concatenation; `==` and `!=` need one operand's type
        to be assignable to the other's and record the wider as `e.operand_ty`
        (how the emitter compares: ints, booleans or references; `null == null`
        compares as Any); `&`, `|`, `^` work on two booleans too; everything
        else takes two ints. A comparison's type is boolean even when it fails,
        which spares the enclosing condition a second error."""
        op = e.op
        if op in ("&&", "||"):
            t, f, ty = self.flow_cond(e)
            self.da = da_join(t, f)
            return ty
        lt = self.check_value(e.left)
        rt = self.check_value(e.right)
        if T.is_error(lt) or T.is_error(rt):
            return T.BOOL if op in ("==", "!=", "<", "<=", ">", ">=") else T.ERROR
        labels = [(e.left.span, f"{lt}"), (e.right.span, f"{rt}")]
        if op == "+" and (lt == self.STRING or rt == self.STRING):
            e.operand_ty = self.STRING
            return self.STRING
        if op in ("==", "!="):
            if lt == rt:
                e.operand_ty = lt
            elif T.assignable(lt, rt):
                e.operand_ty = rt
            elif T.assignable(rt, lt):
                e.operand_ty = lt
            else:
                self.error("E0209", f"cannot compare `{lt}` and `{rt}`", e.op_span, labels=labels)
                return T.BOOL
            # `null == null` compares references
            if e.operand_ty == T.NULL:
                e.operand_ty = T.ANY
            return T.BOOL
        if op in ("&", "|", "^") and lt == T.BOOL and rt == T.BOOL:
            return T.BOOL
        if lt == T.INT and rt == T.INT:
            return T.BOOL if op in ("<", "<=", ">", ">=") else T.INT
        verb = _bin_verb(op)
        msg = f"cannot {verb} `{lt}` and `{rt}`" if verb and op != "-" else \
            (f"cannot subtract `{rt}` from `{lt}`" if op == "-" else f"cannot apply `{op}` to `{lt}` and `{rt}`")
        self.error("E0201", msg, e.op_span, labels=labels)
        return T.BOOL if op in ("<", "<=", ">", ">=") else T.ERROR

    def lvalue(self, target, what):
        """Check an assignment target; returns its type."""
        if isinstance(target, A.Name):
            sym = self.lookup_name(target.name)
            target.ref = sym
            if isinstance(sym, LocalVar):
                # only compound assignment and ++/-- get here: they read it
                self.read_locals.add(sym)
                if sym not in self.da:
                    self.error("E0402", f"variable `{target.name}` might not have been assigned", target.span)
                    self.assign_var(sym)
                target.ty = sym.type
                return sym, sym.type
            if isinstance(sym, FieldInfo):
                target.ty = sym.type
                return sym, sym.type
            if isinstance(sym, GlobalInfo):
                if sym.type is None:
                    self.infer_global(sym.decl)
                target.ty = sym.type
                return sym, sym.type
            if sym is None:
                self.error("E0100", f"cannot find `{target.name}` in this scope", target.span)
                target.ty = T.ERROR
                return None, T.ERROR
            kind = {FuncInfo: "function", MethodInfo: "method", ClassInfo: "class"}.get(type(sym), "name")
            self.error("E0013", f"cannot {what} {kind} `{target.name}`", target.span)
            target.ty = T.ERROR
            return None, T.ERROR
        if isinstance(target, A.Member):
            saved, self.in_target = self.in_target, target
            t = self.check_expr(target)
            self.in_target = saved
            if isinstance(target.ref, FieldInfo) or T.is_error(t):
                return target.ref, t
            self.error("E0013", f"cannot {what} method `{target.name}`", target.span)
            return None, T.ERROR
        if isinstance(target, A.Index):
            return None, self.check_expr(target)
        self.check_expr(target)
        self.error("E0013", f"cannot {what} this expression", target.span,
                   notes=["only variables, fields and array elements can be assigned"])
        return None, T.ERROR

    def expr_Assign(self, e, exp):
        """`t = v` and compound `t op= v`. A plain assignment to a local does not
        read it (no E0402) and makes it definitely assigned; a compound one
        reads it (lvalue). `+=` also concatenates to a String, `&=`, `|=`, `^=`
        also work on booleans. Every write goes through final_write for the
        rules of finals."""
        verb = "assign to"
        if e.op == "=":
            if isinstance(e.target, A.Name) and isinstance(self.lookup_local(e.target.name), LocalVar):
                v = self.lookup_local(e.target.name)
                e.target.ref = v
                e.target.ty = v.type
                self.check_assign_to(e.value, v.type)
                self.final_write(e, v, e.target, verb)
                self.assign_var(v)
                return v.type
            sym, tt = self.lvalue(e.target, verb)
            self.check_assign_to(e.value, tt)
            self.final_write(e, sym, e.target, verb)
            return tt
        sym, tt = self.lvalue(e.target, verb)
        self.final_write(e, sym, e.target, f"apply `{e.op}` to")
        vt = self.check_value(e.value)
        if T.is_error(tt) or T.is_error(vt):
            return tt
        base = e.op[:-1]
        ok = (tt == T.INT and vt == T.INT) or \
            (base == "+" and tt == self.STRING) or \
            (base in ("&", "|", "^") and tt == T.BOOL and vt == T.BOOL)
        if not ok:
            self.error("E0201", f"cannot apply `{e.op}` to `{tt}` and `{vt}`", e.op_span,
                       labels=[(e.target.span, f"{tt}"), (e.value.span, f"{vt}")])
        return tt

    def expr_IncDec(self, e, exp):
        """`++`/`--` on an int variable, field or element; checked as a write by
        final_write."""
        sym, tt = self.lvalue(e.target, "increment" if e.op == "++" else "decrement")
        self.final_write(e, sym, e.target, "increment" if e.op == "++" else "decrement")
        if tt != T.INT and not T.is_error(tt):
            self.error("E0201", f"cannot apply `{e.op}` to `{tt}`", e.span)
            return T.ERROR
        return tt

    def expr_Cond(self, e, exp):
        """`c ? a : b`: each branch starts from the condition's true or false set;
        the result type is the expected type when both branches are assignable
        to it (1.1), else the join of the two (E0205)."""
        t, f, ty = self.flow_cond(e.cond)
        if ty != T.BOOL and not T.is_error(ty):
            self.error("E0202", f"the condition of `?:` must be `boolean`, found `{ty}`", e.cond.span)
        self.da = t
        t1, f1, a = self.flow_cond(e.then, exp)
        self.da = f
        t2, f2, b = self.flow_cond(e.els, exp)
        e.flow_sets = (da_join(t1, t2), da_join(f1, f2))
        self.da = da_join(da_join(t1, f1), da_join(t2, f2))
        # two branches of the expected array type (e.g. both `[]`) have that
        # type
        if exp is not None and not T.is_error(exp) and isinstance(exp, (T.ArrayType,)) and a == b:
            return a
        # (1.1) with an expected type, `?:` takes it when both branches are
        # assignable to it (`Shape s = c ? sq : ci;`, the language reference §3)
        if exp is not None and a != b and not T.is_error(exp) and exp != T.VOID and \
                T.assignable(a, exp) and T.assignable(b, exp):
            return exp
        j = T.join(a, b, exp)
        if j is None:
            self.error("E0205", f"`?:` branches have incompatible types `{a}` and `{b}`", e.els.span,
                       label=f"{b}", labels=[(e.then.span, f"{a}")])
            return T.ERROR
        return j

    def expr_Cast(self, e, exp):
        """`(T) e`: E0203 unless castable (types.castable). An array literal or
        lambda operand takes `T` as its expected type."""
        tt = self.resolve_type(e.type, what="a cast")
        st = self.check_value(e.expr, tt if isinstance(e.expr, (A.ArrayLit, A.Lambda)) else None)
        if not T.castable(st, tt):
            self.error("E0203", f"cannot cast `{st}` to `{tt}`", e.span)
            return tt
        return tt

    def expr_InstanceOf(self, e, exp):
        """`e instanceof T`: E0204 when the test can never be true (unrelated
        classes) or, for `int` and `boolean`, unless `e` is `Any`. Its type is
        always boolean."""
        st = self.check_value(e.expr)
        tt = self.resolve_type(e.type, what="an `instanceof` test")
        if T.is_error(st) or T.is_error(tt):
            return T.BOOL
        ok = isinstance(st, T.AnyType) or \
            (isinstance(st, (T.ClassType, T.InterfaceType)) and
             isinstance(tt, (T.ClassType, T.InterfaceType)) and T.castable(st, tt)) or \
            (st == tt and st.is_ref) or (isinstance(st, T.NullType) and tt.is_ref)
        if tt in (T.INT, T.BOOL) and not isinstance(st, T.AnyType):
            ok = False
        if not ok and tt in (T.INT, T.BOOL):
            self.error("E0204", f"`instanceof {tt}` needs an operand of type `Any`, found `{st}`", e.span)
        elif not ok:
            self.error("E0204", f"`{st}` can never be an instance of `{tt}`", e.span)
        return T.BOOL

    # ------------------------------------------------------------ (1.1) lambdas
    def root_fn(self):
        """The function, method, constructor, field initialiser or init
        that the lambdas being checked are written in (self.fn outside
        lambdas)."""
        fn = self.fn
        while fn is not None and fn.lam is not None:
            fn = fn.parent
        return fn

    @staticmethod
    def frame_name(fn):
        """The trace name of the frame `fn` runs in (§7): a constructor's
        and a field initialiser's is `Class.<init>`."""
        if fn.kind in ("ctor", "field") and fn.cls is not None:
            return f"{fn.cls.name}.<init>"
        return fn.name

    def capture(self, v, span):
        """A lambda uses `v`, a local of an enclosing function or lambda:
        each lambda between them copies it (in order of first use), and
        `v` must be final or effectively final once its function has been
        checked (check_captures)."""
        owner = self.var_fn.get(v)
        fn = self.fn
        while fn is not None and fn is not owner and fn.lam is not None:
            if not any(c is v for c in fn.lam.captures):
                fn.lam.captures.append(v)
            fn = fn.parent
        self.captured.append((v, span))

    def check_captures(self):
        """(§6) Every local a lambda uses is final or effectively final:
        known only once its whole function has been checked, since an
        assignment after the lambda counts too."""
        seen = set()
        for v, span in self.captured:
            if v.final or v.effectively_final or (id(v), span) in seen:
                continue
            seen.add((id(v), span))
            self.error("E0603", f"a lambda cannot use `{v.name}`: it is not final or effectively final",
                       span, labels=[(v.span, f"`{v.name}` declared here")],
                       notes=["a lambda copies the locals it uses when it is evaluated, so they "
                              "must not be assigned after their initialisation"])

    def expr_Lambda(self, e, exp):
        """(§6) A lambda: it takes the expected Func type, and its body is
        checked as a function of its own, nested in the current one."""
        parent = self.fn
        line = e.span[1]
        name = f"{self.frame_name(parent)}.lambda@{line}" if parent is not None else f"<init>.lambda@{line}"
        ok = isinstance(exp, T.FuncType)
        if not ok and not T.is_error(exp):
            if exp is None:
                msg = "a lambda needs an expected `Func` type"
            else:
                msg = f"a lambda needs an expected `Func` type, not `{exp}`"
            self.error("E0600", msg, e.span,
                       notes=["a lambda may be assigned, passed, returned or cast to a `Func` type; "
                              "`var`, `Any`, `print` and operators give it none"])
        if ok and len(e.params) != len(exp.params):
            n, m = len(e.params), len(exp.params)
            self.error("E0601", f"this lambda has {n} parameter{'s' if n != 1 else ''} but `{exp}` "
                       f"takes {m}", e.span)
            ok = False
        ptypes = []
        for i, p in enumerate(e.params):
            want = exp.params[i] if ok else T.ERROR
            if p.type is not None:
                pt = self.resolve_type(p.type, what="a parameter")
                if ok and pt != want and not T.is_error(pt) and not T.is_error(want):
                    self.error("E0602", f"lambda parameter `{p.name}` has type `{pt}` but `{exp}` "
                               f"gives it `{want}`", p.type.span,
                               notes=["a typed lambda parameter has exactly the Func type's "
                                      "parameter type"])
                ptypes.append(pt)
            else:
                ptypes.append(want)
        # A lambda checked a second time keeps its LambdaInfo (and so its index
        # among the lambdas) and recomputes its captures.
        li = e.info
        if li is None:
            li = LambdaInfo(name, line, exp if ok else T.ERROR, e)
            e.info = li
            self.info.lambdas.append(li)
        else:
            li.captures = []
        if not ok:
            li.ret = T.ERROR
        # `this` is captured when the lambda is written in a method,
        # constructor or field initialiser, or in a lambda that captured it.
        if parent is not None and parent.cls is not None and (
                parent.kind in ("method", "ctor", "field") or
                (parent.lam is not None and parent.lam.this_type is not None)):
            li.this_type = T.ClassType(parent.cls)
        # The body is a function of its own: it starts live, with no blank
        # final context and nothing possibly assigned. What is definitely
        # assigned where the lambda is written stays so inside, since the
        # lambda copies those values when it is evaluated.
        saved = (self.fn, self.live, self.da, self.pa, self.bf_depth, self.bf_assign,
                 self.unreachable_reported, self.in_target, getattr(self, "ctor_first", None))
        fn = _Fn("lambda", li.ret, cls=parent.cls if li.this_type is not None else None,
                 owner=li, name=name)
        fn.parent, fn.lam = parent, li
        self.fn = fn
        self.live = True
        if self.da is ALL:
            # Written where everything counts as assigned (a `?:` branch that
            # a literal condition skips): so is everything visible here, but
            # the lambda's own locals still need their own tracking.
            da, f = set(), parent
            while f is not None:
                da.update(f.locals)
                if f.cls is not None:
                    da.update(fi for fi in f.cls.fields if fi.blank_final)
                f = f.parent
            self.da = da
        else:
            self.da = self.da.copy()
        self.pa = set()
        self.bf_depth, self.bf_assign, self.in_target, self.ctor_first = 0, None, None, None
        self.unreachable_reported = False
        li.param_vars = []
        for p, pt in zip(e.params, ptypes):
            v = self.declare_local(p.name, pt, p.name_span or p.span, is_param=True, final=p.final)
            p.var = v
            li.param_vars.append(v)
        body = e.body
        if isinstance(body, A.Block):
            self.check_block(body, new_scope=False)
            if self.live and not self.unreachable_reported and li.ret != T.VOID and \
                    not T.is_error(li.ret):
                b = body.span
                self.error("E0401", f"missing return: this lambda can reach its end without "
                           f"returning `{li.ret}`", (b[0], b[3], b[4] - 1, b[3], b[4]),
                           notes=["every path must end in `return` or `throw`"])
        elif ok and li.ret == T.VOID:
            self.check_expr(body)
            if not isinstance(body, (A.Assign, A.IncDec, A.Call, A.New)) or \
                    getattr(e, "paren_body", False):
                self.error("E0605", "the body of a lambda returning `void` must be a statement "
                           "expression", body.span,
                           notes=["only an assignment, `++`/`--`, a call or `new` can be the body "
                                  "of a `void` lambda; write a block `{ ... }` otherwise"])
        elif ok:
            self.check_assign_to(body, li.ret)
        else:
            self.check_expr(body)
        li.locals = fn.locals
        (self.fn, self.live, self.da, self.pa, self.bf_depth, self.bf_assign,
         self.unreachable_reported, self.in_target, self.ctor_first) = saved
        return exp if ok else T.ERROR

    # ------------------------------------------------------------ (1.1) final
    def final_write(self, e, sym, target, verb):
        """Check that the assignment, compound assignment or `++`/`--` `e`
        may write `sym` (the language reference §4, §5), and keep the
        flow facts of finals: a blank final field assigned by its
        constructor becomes definitely assigned, and a local written where
        it may already be assigned is not effectively final."""
        plain = isinstance(e, A.Assign) and e.op == "="
        if isinstance(sym, LocalVar) and self.var_fn.get(sym) is not self.fn:
            # (1.1) a lambda only copies the locals it uses (§6)
            self.error("E0604", f"a lambda cannot {verb} `{sym.name}`, a local of an enclosing function",
                       target.span, labels=[(sym.span, f"`{sym.name}` declared here")],
                       notes=["a lambda copies the locals it uses when it is evaluated; "
                              "use a field, a global or an array element to share a value"])
            sym.effectively_final = False
            return
        if isinstance(sym, LocalVar):
            if sym.final:
                kind = "parameter" if sym.is_param else "variable"
                self.error("E0500", f"cannot {verb} final {kind} `{sym.name}`", target.span,
                           labels=[(sym.span, f"`{sym.name}` is declared final here")])
                return
            # Effectively final (JLS 4.12.4): a local without an initialiser
            # may be assigned once, where nothing may have assigned it yet; any
            # other write, compound or `++`/`--` included, makes it not
            # effectively final.
            if not plain or sym.has_init or sym in self.pa:
                sym.effectively_final = False
            self.pa.add(sym)
        elif isinstance(sym, GlobalInfo) and sym.final:
            self.error("E0500", f"cannot {verb} final global `{sym.name}`", target.span,
                       labels=[(sym.decl.name_span, f"`{sym.name}` is declared final here")])
        elif isinstance(sym, FieldInfo) and sym.final:
            fn = self.fn
            direct = isinstance(target, A.Name) or (
                isinstance(target, A.Member) and isinstance(target.obj, A.This))
            if plain and direct and sym.blank_final and fn is not None and fn.kind == "ctor" \
                    and fn.cls is sym.owner and fn.owner is fn.cls.ctor:
                if self.bf_assign is not e:
                    self.error("E0500", f"cannot assign to final field `{sym.name}` here", target.span,
                               notes=["a blank final field is assigned by a statement `f = e;` of its "
                                      "class's constructor, outside loops, `try`, `catch` and `finally`"])
                elif sym in self.pa:
                    self.error("E0503", f"final field `{sym.name}` might already have been assigned",
                               target.span, labels=[(sym.decl.name_span, f"`{sym.name}` declared here")])
                self.pa.add(sym)
                self.assign_var(sym)
                return
            self.error("E0500", f"cannot {verb} final field `{sym.name}`", target.span,
                       labels=[(sym.decl.name_span, f"`{sym.name}` is declared final here")]
                       if sym.decl is not None else None)

    def check_final_read(self, f, span):
        """A blank final field read in its class's constructor or field
        initialisers before it is definitely assigned (§4)."""
        fn = self.root_fn()
        if not f.blank_final or fn is None or fn.cls is not f.owner:
            return
        if fn.kind == "field" or (fn.kind == "ctor" and fn.owner is fn.cls.ctor):
            if f not in self.da:
                self.error("E0504", f"final field `{f.name}` might not have been assigned", span,
                           labels=[(f.decl.name_span, f"`{f.name}` declared here")])

    # ------------------------------------------------------------ (1.1) switch
    def switch_head(self, s):
        """The selector and labels of a switch statement or expression
        (§5): an int or String selector, constant labels of its type, no
        value twice, at most one `default`.  Sets `s.kind` and each arm's
        `values`."""
        t = self.check_value(s.selector)
        kind = None
        if t == T.INT:
            kind = "int"
        elif t == self.STRING:
            kind = "String"
        elif not T.is_error(t):
            self.error("E0510", f"cannot switch on a value of type `{t}`", s.selector.span,
                       notes=["the selector of a switch must be `int` or `String`"])
        s.kind = kind
        seen = {}
        default = None
        for arm in s.arms:
            if arm.is_default:
                if default is not None:
                    self.error("E0514", "a switch has more than one `default` arm",
                               self._arm_head(arm), labels=[(self._arm_head(default), "first `default`")])
                else:
                    default = arm
            values = []
            for lab in arm.labels:
                lt = self.check_value(lab)
                if T.is_error(lt):
                    continue
                if kind is not None and lt != t:
                    self.error("E0200", f"mismatched types: a label of a switch on `{t}` must be `{t}`, "
                               f"found `{lt}`", lab.span, label=f"expected `{t}`")
                    continue
                v = self.constant(lab)
                if v is _NC and self._spoiled_by_bad_ioctl(lab, set()):
                    continue
                if v is _NC or v is _CYC:
                    notes = ["a label is a literal, a constant global or an operator applied to constants"]
                    if self._divides_by_zero(lab):
                        notes = ["a division or remainder by zero is not a constant expression"]
                    self.error("E0511", "a `case` label must be a constant expression", lab.span,
                               notes=notes)
                    continue
                if kind is None:
                    continue
                if v in seen:
                    self.error("E0513", f"duplicate `case` label {_const_text(v)}", lab.span,
                               labels=[(seen[v], "first used here")])
                    continue
                seen[v] = lab.span
                values.append(v)
            arm.values = values
        return default

    def _arm_head(self, arm):
        """The span of an arm's `case`/`default` keyword, where E0514 points.
        """
        f, l, c = arm.span[0], arm.span[1], arm.span[2]
        return (f, l, c, l, c + (7 if arm.is_default else 4))

    def _divides_by_zero(self, e):
        """Whether `e` holds a `/` or `%` whose divisor is the constant 0."""
        stack = [e]
        while stack:
            n = stack.pop()
            if isinstance(n, A.Binary):
                if n.op in ("/", "%") and self.constant(n.right) == 0 and n.right.ty == T.INT:
                    return True
                stack += [n.left, n.right]
            elif isinstance(n, A.Unary):
                stack.append(n.operand)
            elif isinstance(n, A.Cond):
                stack += [n.cond, n.then, n.els]
        return False

    def stmt_Switch(self, s):
        """A switch statement: flow by the rules of §5 (reachability, and
        definite assignment after the switch)."""
        default = self.switch_head(s)
        da0 = self.da.copy() if self.da is not ALL else ALL
        pa0 = set(self.pa)
        ctx = {"breaks": [], "continues": [], "switch": True, "pas": []}
        self.fn.loops.append(ctx)
        ends, pas = [], []
        for arm in s.arms:
            self.live = True
            self.da = da0.copy() if da0 is not ALL else ALL
            self.pa = set(pa0)
            self.check_stmt(arm.body)
            if self.live:
                ends.append(self.da)
                pas.append(self.pa)
        self.fn.loops.pop()
        # the switch is left by the arms that complete normally and by every
        # `break`
        ends += ctx["breaks"]
        pas += ctx["pas"]
        if default is None:
            self.live = True
            self.da = da0
            pas.append(pa0)
        elif ends:
            self.live = True
            da = ALL
            for d in ends:
                da = da_join(da, d)
            self.da = da
        else:
            self.dead()
            return
        self.pa = set().union(*pas)

    def expr_SwitchExpr(self, e, exp):
        """A switch expression (§5): a `default`, arms `e;` or `throw e;`,
        at least one value; the expected type, else the join of the values
        in order.  Definite assignment flows through the arms as through
        `?:`."""
        default = self.switch_head(e)
        if default is None:
            f, l, c = e.span[0], e.span[1], e.span[2]
            self.error("E0515", "a switch expression needs a `default` arm", (f, l, c, l, c + 6),
                       notes=["add `default -> ...` (it may throw)"])
        da0 = self.da.copy() if self.da is not ALL else ALL
        live0 = self.live
        pa0 = set(self.pa)
        values, ends, pas, trues, falses = [], [], [], [], []
        target = exp if exp is not None and not T.is_error(exp) else None
        for arm in e.arms:
            self.da = da0.copy() if da0 is not ALL else ALL
            self.pa = set(pa0)
            body = arm.body
            if isinstance(body, A.ExprStmt):
                v = body.expr
                if target is not None:
                    t = self.check_assign_to(v, target)
                    tv = fv = self.da
                else:
                    tv, fv, t = self.flow_cond(v)
                    self.da = da_join(tv, fv)
                trues.append(tv)
                falses.append(fv)
                values.append((v, t))
                ends.append(self.da)
                pas.append(self.pa)
            elif isinstance(body, A.Throw):
                self.stmt_Throw(body)
                # a throwing arm leaves the point after the expression as
                # reachable as the other arms make it
                self.live = live0
            else:
                self.error("E0516", "an arm of a switch expression cannot be a block", body.span,
                           notes=["its arms are `case L -> e;` or `case L -> throw e;`: "
                                  "use a function for statements"])
        da = ALL
        for d in ends:
            da = da_join(da, d)
        self.da = da
        # for a boolean switch expression in a condition (flow_cond)
        dt = df = ALL
        for x, y in zip(trues, falses):
            dt, df = da_join(dt, x), da_join(df, y)
        e.flow_sets = (dt, df)
        self.pa = set().union(pa0, *pas)
        if not values:
            f, l, c = e.span[0], e.span[1], e.span[2]
            self.error("E0517", "no arm of this switch expression gives a value", (f, l, c, l, c + 6))
            return T.ERROR
        if target is not None:
            return target
        j = values[0][1]
        for v, t in values[1:]:
            if T.is_error(j) or T.is_error(t):
                return T.ERROR
            nj = T.join(j, t)
            if nj is None:
                self.error("E0205", f"switch expression arms have incompatible types `{j}` and `{t}`",
                           v.span, label=f"{t}")
                return T.ERROR
            j = nj
        return j

    # ------------------------------------------------------------ (1.1) constants
    def resolve_constants(self):
        """Final globals need an initialiser; those of type int, boolean or
        String with a constant initialiser are constant globals (§2)."""
        for gd in self.global_decls:
            if not gd.final:
                continue
            if gd.init is None:
                self.error("E0501", f"final global `{gd.name}` needs an initialiser", gd.name_span,
                           notes=["a final global is declared `final T x = e;`"])
                continue
            self.global_const(gd.info)

    def global_const(self, gi):
        """The value of the constant global `gi`, or _NC.  Checks its
        initialiser first if that has not been done yet."""
        if gi.const_state == "done":
            return gi.const_value if gi.is_const else _NC
        gd = gi.decl
        if not gi.final or gd is None or gd.init is None:
            return _NC
        if gi.const_state == "busy":
            # reported where its evaluation ends, if the cycle is made of
            # would-be constants only (a call or a division by zero in it
            # makes its globals plain final ones)
            self.const_cycle_hits.add(gi)
            return _CYC
        # const_state: None (not evaluated yet), "busy" (being evaluated:
        # meeting it again is a cycle, E0505), "done" (is_const and const_value
        # are final).
        gi.const_state = "busy"
        if not getattr(gd, "init_checked", False):
            if gi.type is None:
                self.infer_global(gd)
            else:
                saved = (self.fn, self.live, self.da, self.pa)
                self.fn = _Fn("init", T.VOID, owner=self.info, name="<init>")
                self.live, self.da, self.pa = True, set(), set()
                self.check_assign_to(gd.init, gi.type)
                self.fn, self.live, self.da, self.pa = saved
                gd.init_checked = True
        v = _NC
        if gi.type in (T.INT, T.BOOL, self.STRING):
            v = self.constant(gd.init)
        if gi.const_state == "busy":
            gi.const_state = "done"
            if v is _CYC:
                if gi in self.const_cycle_hits:
                    self.error("E0505", f"constant global `{gi.name}` depends on itself", gd.name_span,
                               notes=["constant globals may not refer to each other in a cycle"])
                    return _NC
                return _CYC
            if v is not _NC:
                gi.is_const, gi.const_value = True, v
        return v if gi.is_const else _NC

    def constant(self, e):
        """The value of the checked expression `e` if it is a constant
        expression (§6: int as a Python int, boolean as bool, String as
        bytes), else _NC.  Evaluated with the run-time rules; a `/` or `%`
        by zero is not constant."""
        key = id(e)
        hit = self.const_memo.get(key)
        # keyed by id(e), with the node kept in the value: an id reused by
        # another node after the first was freed must not hit
        if hit is not None and hit[0] is e:
            return hit[1]
        v = self._constant(e) if e.ty in (T.INT, T.BOOL, self.STRING) else _NC
        if v is not _CYC:       # known only once the cycle's start is done
            self.const_memo[key] = (e, v)
        return v

    def _constant(self, e):
        """The constant value of `e` without the memo: literals, constant globals,
        `Errno.X`, (1.1) `Ioctl.*` of constants, and operators on constants.
        Ints are wrapped to 64 bits at every step, as the VM computes them, so
        that a folded label equals the run-time value."""
        if isinstance(e, A.IntLit):
            return _wrap(e.value)
        if isinstance(e, A.BoolLit):
            return bool(e.value)
        if isinstance(e, A.StringLit):
            return bytes(e.value)
        if isinstance(e, A.Name):
            return self.global_const(e.ref) if isinstance(e.ref, GlobalInfo) else _NC
        if isinstance(e, A.Member):
            # Errno.* and the other built-in constants the checker folds
            return e.ref if type(e.ref) is int else _NC
        if isinstance(e, A.Call):
            return self._ioctl_constant(e)
        if isinstance(e, A.Unary):
            a = self.constant(e.operand)
            if a is _NC or a is _CYC:
                return a
            if e.op == "!":
                return not a if isinstance(a, bool) else _NC
            if isinstance(a, bool) or not isinstance(a, int):
                return _NC
            return _wrap(-a) if e.op == "-" else _wrap(~a)
        if isinstance(e, A.Cond):
            c, a, b = self.constant(e.cond), self.constant(e.then), self.constant(e.els)
            if any(x is _NC for x in (c, a, b)):
                return _NC
            if any(x is _CYC for x in (c, a, b)):
                return _CYC
            if not isinstance(c, bool):
                return _NC
            return a if c else b
        if isinstance(e, A.Binary):
            a, b = self.constant(e.left), self.constant(e.right)
            if a is _NC or b is _NC:
                return _NC
            if a is _CYC or b is _CYC:
                return _CYC
            return _fold(e.op, a, b)
        return _NC

    def _spoiled_by_bad_ioctl(self, e, seen):
        """Whether expression `e` is not constant only because of an
        `Ioctl` call reported out of range (E0900): in `e` itself, or in
        the initialiser of a global it names."""
        if e in self.bad_ioctl_calls:
            return True
        if isinstance(e, A.Name) and isinstance(e.ref, GlobalInfo):
            gd = e.ref.decl
            if e.ref in seen or gd is None or getattr(gd, "init", None) is None:
                return False
            seen.add(e.ref)
            return self._spoiled_by_bad_ioctl(gd.init, seen)
        if isinstance(e, A.Unary):
            return self._spoiled_by_bad_ioctl(e.operand, seen)
        if isinstance(e, A.Binary):
            return (self._spoiled_by_bad_ioctl(e.left, seen)
                    or self._spoiled_by_bad_ioctl(e.right, seen))
        if isinstance(e, A.Cond):
            return any(self._spoiled_by_bad_ioctl(x, seen)
                       for x in (e.cond, e.then, e.els))
        return False

    def check_ioctl_args(self, e):
        """(1.1) `Ioctl.io/ior/iow/iowr` with constant arguments is a
        constant expression (§9.1), so arguments out of range are a compile
        error, checked in the run-time order: type, nr, size (E0900)."""
        ranges = (("type", 255), ("nr", 255), ("size", 16383))
        if len(e.args) != len(e.target.params):
            return
        vals = [self.constant(a) for a in e.args]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
            return
        for a, v, (what, top) in zip(e.args, vals, ranges):
            if not 0 <= v <= top:
                self.error("E0900", f"bad ioctl {what} {v}", a.span,
                           notes=[f"`{e.target.qualname}` takes a {what} in 0..{top}"])
                self.bad_ioctl_calls.add(e)
                return

    def _ioctl_constant(self, e):
        """(1.1) `Ioctl.io/ior/iow/iowr` applied to constant expressions:
        Linux's command number (§9.1), or _NC when an argument is not
        constant or out of range (the call itself reports that)."""
        t = e.target
        dirs = {"io": 0, "iow": 1, "ior": 2, "iowr": 3}
        if e.kind != "native" or t is None or getattr(t, "owner_name", None) != "Ioctl" \
                or t.name not in dirs:
            return _NC
        args = [self.constant(a) for a in e.args]
        if any(a is _NC or isinstance(a, bool) or not isinstance(a, int) for a in args):
            return _NC
        if len(args) != (2 if t.name == "io" else 3):
            return _NC
        typ, nr = args[0], args[1]
        size = args[2] if len(args) == 3 else 0
        if not (0 <= typ <= 255 and 0 <= nr <= 255 and 0 <= size <= 16383):
            return _NC
        return dirs[t.name] << 30 | size << 16 | typ << 8 | nr


def _to_bytes(v):
    """String conversion of a constant (§6)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"true" if v else b"false"
    return str(v).encode()


def _fold(op, a, b):
    """A binary operator of levels 3 to 9 applied to two constants, with
    the run-time rules (§6), or _NC (a zero divisor, mixed operands)."""
    if op == "+" and (isinstance(a, bytes) or isinstance(b, bytes)):
        return _to_bytes(a) + _to_bytes(b)
    if op in ("==", "!="):
        if type(a) is not type(b):
            return _NC
        return (a == b) == (op == "==")
    if isinstance(a, bool) and isinstance(b, bool):
        if op in ("&&", "&"):
            return a and b
        if op in ("||", "|"):
            return a or b
        if op == "^":
            return a != b
        return _NC
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int) or not isinstance(b, int):
        return _NC
    if op in ("<", "<=", ">", ">="):
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op in ("/", "%"):
        if b == 0:
            return _NC
        # truncating division, as at run time (Python's // floors)
        q = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            q = -q
        return _wrap(q) if op == "/" else _wrap(a - q * b)
    # shift counts are taken modulo 64, as at run time
    s = b & 63
    ops = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
           "&": lambda: a & b, "|": lambda: a | b, "^": lambda: a ^ b,
           "<<": lambda: a << s, ">>": lambda: a >> s,
           ">>>": lambda: (a % _U64) >> s}
    f = ops.get(op)
    return _wrap(f()) if f is not None else _NC


def fold_int(op, a, b):
    """Binary operator op (its source form: + - * / % & | ^ << >> >>>
    == != < <=) on two ints with the run-time rules (§6), as an int (a
    compare gives 0 or 1); None for a zero divisor.  The JIT evaluates
    bytecode with it (ctjit's FastLoop.table_plan)."""
    v = _fold(op, a, b)
    return None if v is _NC else int(v)


def _sig_text(m):
    """`R name(P1, P2)`: a method's signature in messages."""
    return f"{m.ret} {m.name}({', '.join(str(p) for p in m.params)})"


def check(program, filename="<input>"):
    """Check and annotate `program`; returns (ProgramInfo, diagnostics)."""
    return Checker(filename).run(program)
