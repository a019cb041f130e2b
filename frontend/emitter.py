"""Bytecode emitter: the checked, annotated AST (DESIGN.md) to an image.

The third stage of the front end: source -> parse (parser.py) -> check
(checker.py) -> emit (this module) -> image (image.py writes the bytes that
lkm/core's loader reads and verifies).  The emitter trusts the checker: it
reads only the annotations (`ty`, `ref`, `kind`, `target`, `info`, `var`
...), never reports a diagnostic, and raises EmitError only on an internal
inconsistency.

`emit(program)` returns an `image.Image`; `image.write` turns it into
bytes.  One `FunctionEmitter` per function body.  Registers are typed for
the whole function (opcodes.def): parameters first, then locals and
temporaries allocated per type, freed temporaries reused by later values
of the same type; call arguments go to consecutive registers.

Control flow is emitted with the loop condition at the bottom (one branch
per iteration), conditions as fused compare-and-branch instructions, and
code after an unconditional transfer is never emitted.  `finally` code is
copied onto every exit path, and a catch-all handler runs it on an
exception and rethrows; protected ranges get a hole around every copy so
that an exception in the finally code is not caught by its own try.

Switches (1.1) are lowered to a jump table, a binary search or a chain of
comparisons by the density of their labels (see DENSE_MIN below); String
switches dispatch on the length first.  Lambdas (1.1) are functions of
their own, after the init: CLOSURE copies `this` and the captured locals
into the closure, and the lambda's function finds them in its first
registers.  Each CALLV, CALLI and CALLA site gets the next inline cache
index of its function (`nics`).

Evaluation order is the language reference's (§6): operands left to right,
a local read by an earlier operand copied when a later one assigns it
(`protect`).
"""

from __future__ import annotations

import dataclasses

from . import ast as A
from . import image as im
from . import types as T
from .opcodes import BY_NAME, TERMINATORS

I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1
U64 = 2 ** 64

PRINT_NATIVE = "print"


class EmitError(Exception):
    """An internal error of the emitter, with the source line in progress."""


def _wrap(v: int) -> int:
    """`v` reduced to a signed 64-bit value, as the VM computes."""
    v %= U64
    return v - U64 if v >= 2 ** 63 else v


def _fits32(v) -> bool:
    """Whether `v` fits the signed 32-bit immediate of LOADI, ADDI, JxxI and
    SWITCH."""
    return v is not None and I32_MIN <= v <= I32_MAX


def _line(node) -> int | None:
    """The source line of `node`'s span, or None."""
    span = getattr(node, "span", None)
    if span and len(span) > 1 and isinstance(span[1], int):
        return span[1]
    return None


_FOLDED_OPS = frozenset("+ - * / % & | ^ << >> >>>".split())
_UNSET = object()


def const_int(e) -> int | None:
    """The value of an int expression made only of literals, else None.
    The emitter asks at every level of an operator chain, so the answer for
    an operator node is kept in the node (`_const_int`, not a field): each
    node is folded once, and a long chain costs linear time, not
    quadratic."""
    if isinstance(e, A.IntLit):
        return _wrap(e.value)
    if not isinstance(e, (A.Unary, A.Binary)):
        return None
    v = e.__dict__.get("_const_int", _UNSET)
    if v is _UNSET:
        v = e._const_int = _fold(e)
    return v


def _fold(e) -> int | None:
    """const_int of a Unary or Binary node, without the memo."""
    if isinstance(e, A.Unary) and e.op in ("-", "~"):
        v = const_int(e.operand)
        if v is None:
            return None
        return _wrap(-v) if e.op == "-" else _wrap(~v)
    if isinstance(e, A.Binary) and isinstance(e.ty, T.IntType) \
            and e.op in _FOLDED_OPS:
        a = const_int(e.left)
        if a is None:
            return None
        b = const_int(e.right)
        if b is None:
            return None
        op = e.op
        if op == "+":
            return _wrap(a + b)
        if op == "-":
            return _wrap(a - b)
        if op == "*":
            return _wrap(a * b)
        if op in ("/", "%"):
            if b == 0:
                return None
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            return _wrap(q) if op == "/" else _wrap(a - q * b)
        if op == "&":
            return a & b
        if op == "|":
            return a | b
        if op == "^":
            return a ^ b
        s = b & 63
        if op == "<<":
            return _wrap(a << s)
        if op == ">>":
            return a >> s
        return _wrap((a % U64) >> s)
    return None


# ------------------------------------------------------------- AST walking

def _children(node):
    """The child nodes of `node`, skipping the checker's annotations (which point
    at symbols and other parts of the tree, not at children)."""
    for f in dataclasses.fields(node):
        if f.name in ("span", "ty", "ref", "var", "info", "target",
                      "receiver", "cls", "ctor", "param_types", "resolved",
                      "operand_ty"):
            continue
        v = getattr(node, f.name, None)
        if isinstance(v, A.Node):
            yield v
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, A.Node):
                    yield x


# Keyed by id(node), with the node kept in the value: an id reused by another
# node after the first was freed must not hit.
_written_cache: dict[int, frozenset] = {}


def locals_written(node) -> frozenset:
    """LocalVars assigned (=, op=, ++, --) anywhere inside `node`."""
    key = id(node)
    got = _written_cache.get(key)
    if got is not None and got[0] is node:
        return got[1]
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (A.Assign, A.IncDec)):
            t = n.target
            if isinstance(t, A.Name) and _is_local(t.ref):
                out.add(id(t.ref))
        stack.extend(_children(n))
    res = frozenset(out)
    _written_cache[key] = (node, res)
    return res


def _is_local(ref) -> bool:
    """Whether `ref` is a checker LocalVar (by name: the emitter does not import
    symbols)."""
    return type(ref).__name__ == "LocalVar"


def _kind(ref) -> str:
    """The class name of a checker symbol, which selects how a name or call is
    emitted."""
    return type(ref).__name__


# ------------------------------------------------------------- code buffer

class Label:
    """A code position, possibly not known yet: jumps to it record the
    operand word to patch (finish() writes `pos` there).  Binding a label
    makes the code after it reachable only if something jumps to it (so
    far) or it is `live` (a loop top reached by a later backward jump, a
    handler entry): the join point after an `if` whose branches both
    return stays unreachable, and nothing is emitted there."""
    __slots__ = ("pos", "refs", "live")

    def __init__(self, live=False):
        self.pos = None
        self.refs = []       # code positions of operand words to patch
        self.live = live     # bound code is reachable whatever the refs


class Region:
    """A protected range of one try statement, as a list of intervals.

    It is suspended around every copy of finally code emitted inside it
    (a `break`, `continue` or `return` leaving the try runs the finally
    there), so that an exception in that copy is not caught by the try it
    belongs to; the handler table gets one entry per interval."""

    def __init__(self, start):
        self.intervals = []
        self.open = start

    def suspend(self, pos):
        """Closes the open interval at `pos` (an empty one is dropped)."""
        if self.open is not None:
            if pos > self.open:
                self.intervals.append((self.open, pos))
            self.open = None

    def resume(self, pos):
        """Opens a new interval at `pos`, unless one is open."""
        if self.open is None:
            self.open = pos


@dataclasses.dataclass
class LoopCtx:
    """A loop on the control stack: where `break` and `continue` go."""
    brk: Label
    cont: Label


@dataclasses.dataclass
class TryCtx:
    """A try statement on the control stack: the regions still open (the
    catch region while the body is emitted, the finally region through the
    catches) and the finally block that every exit crossing it runs."""
    regions: list
    finally_: A.Block | None


@dataclasses.dataclass
class SwitchCtx:
    """(1.1) A switch statement: where its `break`s go."""
    brk: Label


# (1.1) Lowering of switch dispatch (the language reference §5).  A run of
# at least DENSE_MIN int labels spanning at most DENSE_FACTOR times their
# number (and TABLE_MAX values) becomes one SWITCH jump table; other label
# sets are split by binary search on the sorted labels down to runs of
# LINEAR_MAX, compared one by one.  String labels dispatch on the length
# (as int labels), then, in a group of more than LINEAR_MAX labels of one
# length, on the byte where they differ most, then compare contents.
DENSE_MIN = 3
DENSE_FACTOR = 3
TABLE_MAX = 4096
LINEAR_MAX = 3


# ------------------------------------------------------------- emitter

class ProgramEmitter:
    """The image of one checked program: function indices, the type table,
    classes, interfaces and globals (through image.ImageBuilder), and one
    FunctionEmitter per body."""

    def __init__(self, program, filename=None):
        self.program = program
        self.info = program.info
        if filename is None:
            span = getattr(program, "span", None)
            filename = span[0] if span and span[0] else "<input>"
        self.b = im.ImageBuilder(str(filename))
        self.class_by_id = {c.id: c for c in self.info.classes}

    # types
    def ty(self, t) -> int:
        """The image type index of checker type `t` (the builder interns it). Any,
        the type of `null` and ERROR (which a checked program no longer has)
        are all Any."""
        b = self.b
        if isinstance(t, T.IntType):
            return b.t_int()
        if isinstance(t, T.BoolType):
            return b.t_bool()
        if isinstance(t, T.VoidType):
            return b.t_void()
        if isinstance(t, T.ClassType):
            return b.t_class(t.info.id)
        if isinstance(t, T.ArrayType):
            return b.t_array(self.ty(t.elem))
        if isinstance(t, T.FuncType):
            return b.t_func(self.ty(t.ret), [self.ty(p) for p in t.params])
        if isinstance(t, T.MapType):
            return b.t_map(self.ty(t.key), self.ty(t.val))
        if isinstance(t, T.InterfaceType):
            return b.t_iface(t.info.index)
        # Any, null (only as a register of a null value), error
        return b.t_any()

    def emit(self) -> im.Image:
        """Emits the whole image. Function indices: the checker's code units in
        their order (functions, then per class its constructor and methods),
        then the init, then the lambdas; all are reserved before any body is
        emitted, since calls, LOADFN and CLOSURE refer forward."""
        info = self.info
        b = self.b
        units = list(info.code_units)
        for i, u in enumerate(units):
            if getattr(u, "func_index", None) is None:
                u.func_index = i
        nfuncs = max([u.func_index for u in units], default=-1) + 1
        # reserve every function first: calls may refer forward
        slots = [None] * nfuncs
        for u in units:
            slots[u.func_index] = u
        for i, u in enumerate(slots):
            if u is None:
                raise EmitError(f"no code unit has function index {i}")
            if _kind(u) == "FuncInfo":
                b.reserve_function(u.name, None, self.ty(u.func_type()), 0)
            else:
                flags = im.FLAG_CTOR if u.is_ctor else im.FLAG_METHOD
                name = f"{u.owner.name}.{'<init>' if u.is_ctor else u.name}"
                b.reserve_function(name, u.owner.id,
                                   self.ty(u.func_type()), flags)
        # (1.1) interfaces, in the checker's order: each after those it
        # extends, as the image requires
        for ii in info.interfaces:
            b.add_interface(ii.name)
        for ii in info.interfaces:
            b.set_interface(ii.index, [e.index for e in ii.extends],
                            [(m.name, self.ty(m.func_type()))
                             for m in ii.own.values()])
        init = b.reserve_function("<init>", None,
                                  b.t_func(b.t_void(), []), im.FLAG_INIT)
        b.set_init(init)
        # (1.1) lambdas' functions follow the init
        for li in info.lambdas:
            li.func_index = b.reserve_function(li.name, None,
                                               self.ty(li.func_type()),
                                               im.FLAG_LAMBDA)
        for g in info.globals:
            b.add_global(g.name, self.ty(g.type))
        for c in info.script_classes:
            self.emit_class(c)
        for u in slots:
            FunctionEmitter(self, u).emit_unit()
        FunctionEmitter(self, None).emit_init()
        for li in info.lambdas:
            FunctionEmitter(self, li).emit_lambda()
        return b.image

    def emit_class(self, c):
        """Sets the layout of script class `c`: its own fields (after the
        inherited ones), its whole vtable (a built-in method is a native
        reference), its constructor and the interfaces it names."""
        vtable = []
        for m in c.vtable:
            if m.native_id is not None:
                vtable.append(im.NATIVE_REF | m.native_id)
            else:
                vtable.append(m.func_index)
        fields = [(f.name, self.ty(f.type)) for f in c.own_fields]
        self.b.set_class(c.id, c.name, c.superclass.id, fields,
                         c.ctor.func_index, vtable)
        self.b.set_implements(c.id, [i.index for i in c.interfaces])


class FunctionEmitter:
    """The code of one function: a method, constructor, function, lambda
    (`unit` is its symbol) or the init (`unit` None).

    Registers are typed for the whole function (`reg_ty`, and `reg_idx`
    their image type indices).  Each register is at any time either held by
    a local (listed in the scope that declared it), a temporary in `temps`,
    or in `free`; `release` moves only temporaries back to `free`, so a
    caller may release whatever register an expression gave it, a local's
    included.  `ctl` is the stack of enclosing loops, switches and try
    statements that `break`, `continue` and `return` consult; `reachable`
    is false after a terminator until a label that is jumped to is bound,
    and `op` emits nothing while it is false."""

    def __init__(self, pe: ProgramEmitter, unit):
        """`pe` is the program's emitter (shared type table and builder); the
        register 0 of a method is allocated by emit_unit, not here."""
        self.pe = pe
        self.b = pe.b
        self.unit = unit
        self.code: list = []
        self.lines: list[tuple[int, int]] = []
        self.line = 0
        self.reachable = True
        self.reg_ty: list = []          # types.Type per register
        self.reg_idx: list[int] = []    # image type index per register
        self.free: set[int] = set()
        self.temps: set[int] = set()
        self.var_reg: dict[int, int] = {}   # id(LocalVar) -> register
        self.scopes: list[list[int]] = []
        self.ctl: list = []
        self.handlers: list = []       # (start, end, Label, class id, reg)
        self.nics = 0
        self.fixups: list = []         # (code position, Label)
        self.this_ty = None
        self.ret_ty = T.VOID

    # ----------------------------------------------------------- registers
    def _new_reg(self, t) -> int:
        """A new register of type `t` (null and ERROR become Any); returns its
        number."""
        if isinstance(t, (T.NullType, T.ErrorType)) or t is None:
            t = T.ANY
        self.reg_ty.append(t)
        self.reg_idx.append(self.pe.ty(t))
        return len(self.reg_ty) - 1

    def temp(self, t) -> int:
        """A temporary register of type `t`: the lowest free register of the same
        image type, else a new one. Reusing only an exact type keeps every
        register single-typed for the whole function, which the verifier
        requires; taking the lowest keeps frames small and images reproducible.
        """
        if isinstance(t, (T.NullType, T.ErrorType)) or t is None:
            t = T.ANY
        idx = self.pe.ty(t)
        best = None
        for r in self.free:
            if self.reg_idx[r] == idx and (best is None or r < best):
                best = r
        if best is None:
            best = self._new_reg(t)
        else:
            self.free.discard(best)
        self.temps.add(best)
        return best

    def block(self, types) -> list[int]:
        """Consecutive registers of the given types, held as temporaries."""
        idxs = [self.pe.ty(t if not isinstance(t, (T.NullType, T.ErrorType))
                           else T.ANY) for t in types]
        n = len(idxs)
        if n == 0:
            return []
        nregs = len(self.reg_idx)
        # Try each start p: the registers p.. must be free and of the right
        # types; past the last register new ones are made, so p == nregs always
        # fits.
        for p in range(nregs + 1):
            ok = True
            for j in range(n):
                r = p + j
                if r >= nregs:
                    break
                if r not in self.free or self.reg_idx[r] != idxs[j]:
                    ok = False
                    break
            if ok:
                regs = []
                for j in range(n):
                    r = p + j
                    if r < len(self.reg_idx):
                        self.free.discard(r)
                    else:
                        r = self._new_reg(types[j])
                    self.temps.add(r)
                    regs.append(r)
                return regs
        raise EmitError("no register block")  # unreachable: p == nregs fits

    def release(self, *regs):
        """Frees the given registers if they are temporaries; locals' registers
        (and None, -1) are left alone."""
        for r in regs:
            if r is not None and r in self.temps:
                self.temps.discard(r)
                self.free.add(r)

    def local_reg(self, var) -> int:
        """The register of local `var`, declared earlier in this function."""
        r = self.var_reg.get(id(var))
        if r is None:
            raise EmitError(f"local `{var.name}` used before its declaration")
        return r

    def declare(self, var) -> int:
        """A register for a new local, owned by the innermost scope.

        It is taken like a temporary (the lowest free one of its type) and
        then removed from `temps`, so that `release` leaves it alone until
        pop_scope frees it with the scope; the register of a local whose
        scope has closed may so hold a later local or temporary."""
        r = self.temp(var.type)
        self.temps.discard(r)
        self.var_reg[id(var)] = r
        if self.scopes:
            self.scopes[-1].append(r)
        return r

    def push_scope(self):
        """Opens a block scope: the locals declared until pop_scope."""
        self.scopes.append([])

    def pop_scope(self):
        """Closes a block scope: its locals' registers become free, to be reused
        by later locals and temporaries of the same type."""
        for r in self.scopes.pop():
            self.free.add(r)

    def is_box(self, src_t, reg) -> bool:
        """Whether a `src_t` value stored into `reg` must be boxed (an int or
        boolean into an Any register)."""
        return (isinstance(src_t, (T.IntType, T.BoolType))
                and isinstance(self.reg_ty[reg], T.AnyType))

    # ----------------------------------------------------------- code
    def op(self, name, *operands):
        """Appends instruction `name` with its operands (a Label operand is
        patched by finish()), and a line table entry when the line changed; the
        line of an entry with no instruction yet is overwritten. Nothing is
        emitted where the code is unreachable, and a terminator (JMP, RET,
        THROW, ...) makes what follows unreachable."""
        if not self.reachable:
            return
        opc = BY_NAME[name]
        assert len(operands) == len(opc.operands), (name, operands)
        pos = len(self.code)
        if not self.lines or self.lines[-1][1] != self.line:
            # no instruction at this line yet: the entry moves to the new line
            if self.lines and self.lines[-1][0] == pos:
                self.lines[-1] = (pos, self.line)
            else:
                self.lines.append((pos, self.line))
        self.code.append(opc.number)
        for letter, v in zip(opc.operands, operands):
            if isinstance(v, Label):
                v.refs.append(len(self.code))
                self.fixups.append((len(self.code), v))
                self.code.append(0)
            else:
                self.code.append(v)
        if name in TERMINATORS:
            self.reachable = False

    def bind(self, label: Label):
        """Binds `label` here; see Label for when this makes the code reachable
        again."""
        label.pos = len(self.code)
        if label.refs or label.live:
            self.reachable = True

    def pos(self) -> int:
        """The current code position (the index of the next word)."""
        return len(self.code)

    def at(self, node):
        """Makes `node`'s line the line of the instructions that follow."""
        ln = _line(node)
        if ln is not None:
            self.line = ln

    def mov(self, dst, src):
        """MOV unless `dst` is `src`."""
        if dst != src:
            self.op("MOV", dst, src)

    def load_int(self, dst, v):
        """Loads int constant `v`: LOADI for a 32-bit value, else LOADK from the
        constant pool."""
        if _fits32(v):
            self.op("LOADI", dst, v)
        else:
            self.op("LOADK", dst, self.b.const_int(v))

    def finish(self, fn_index, params_types=None):
        """Completes the function at index `fn_index`: an end that can be reached
        returns (RETV for void functions, constructors and the init; the type's
        default value otherwise, where the checker has already proved the end
        unreachable but this emitter's coarser reachability could not), labels
        are patched, and registers, code, lines, inline cache count and
        handlers go to the image."""
        if self.reachable:
            if isinstance(self.ret_ty, T.VoidType) or self.unit is None \
                    or getattr(self.unit, "is_ctor", False):
                self.op("RETV")
            else:
                r = self.temp(self.ret_ty)
                self.default_value(r)
                self.op("RET", r)
        code = self.code
        for at, label in self.fixups:
            if label.pos is None:
                raise EmitError(f"line {self.line}: jump to an unbound label")
            code[at] = label.pos
        f = self.b.function(fn_index)
        f.regs = list(self.reg_idx)
        f.code = code
        f.lines = self.lines
        f.nics = self.nics
        f.handlers = [im.Handler(s, e, lab.pos, cid, reg)
                      for (s, e, lab, cid, reg) in self.handlers]

    def default_value(self, r):
        """Loads 0, false or null into `r`, by its type."""
        t = self.reg_ty[r]
        if isinstance(t, (T.IntType, T.BoolType)):
            self.op("LOADI", r, 0)
        else:
            self.op("LOADNULL", r)

    # ----------------------------------------------------------- units
    def emit_unit(self):
        """Emits a function, method or constructor. The calling convention fixes
        the first registers: a method's or constructor's receiver in register 0
        (`this`), then the parameters in order; a CALL copies the argument
        block into them."""
        u = self.unit
        kind = _kind(u)
        self.ret_ty = u.ret if kind == "FuncInfo" else (
            T.VOID if u.is_ctor else u.ret)
        if kind == "FuncInfo":
            params = [p.var for p in u.decl.params]
        else:
            # register 0: the receiver
            self.this_ty = T.ClassType(u.owner)
            self._new_reg(self.this_ty)
            if u.decl is not None:
                params = [p.var for p in u.decl.params]
            else:
                # an implicit constructor has no declaration: the checker made
                # its parameters
                params = list(u.param_vars)
        for v, pt in zip(params, u.params):
            r = self._new_reg(pt)
            self.var_reg[id(v)] = r
        self.line = _line(u.decl) or _line(getattr(u.owner, "decl", None)) or 0
        self.push_scope()
        if kind == "MethodInfo" and u.is_ctor:
            self.emit_ctor_body(u, params)
        else:
            self.stmt_list(u.decl.body.stmts)
        self.pop_scope()
        self.finish(u.func_index)

    def emit_lambda(self):
        """(1.1) A lambda's function: `this` (when captured) and the
        captured locals in its leading registers, in the order CLOSURE
        passes them, then its own parameters (the language reference
        §6)."""
        li = self.unit
        self.ret_ty = li.ret
        if li.this_type is not None:
            # the captured `this` in register 0, then the captured locals, in
            # the order CLOSURE copies them
            self.this_ty = li.this_type
            self._new_reg(li.this_type)
        for v in li.captures:
            self.var_reg[id(v)] = self._new_reg(v.type)
        for v, pt in zip(li.param_vars, li.params):
            self.var_reg[id(v)] = self._new_reg(pt)
        self.line = li.line
        self.push_scope()
        body = li.decl.body
        if isinstance(body, A.Block):
            self.stmt_list(body.stmts)
        elif isinstance(li.ret, T.VoidType):
            self.effect(body)
        else:
            r = self.value(body, li.ret)
            self.at(body)
            self.op("RET", r)
        self.pop_scope()
        self.finish(li.func_index)

    def emit_ctor_body(self, u, params):
        """A constructor: the superclass's constructor first (the explicit
        `super(...)`, else an implicit call, which passes an implicit
        constructor's parameters on), then this class's field initialisers in
        declaration order, then the rest of the body (the language reference
        §4)."""
        owner = u.owner
        stmts = list(u.decl.body.stmts) if u.decl is not None else []
        first = stmts[0] if stmts else None
        if (isinstance(first, A.ExprStmt) and isinstance(first.expr, A.Call)
                and first.expr.kind == "super_ctor"):
            self.stmt(first)
            stmts = stmts[1:]
        else:
            sup = u.super_ctor
            if sup is None and owner.superclass is not None:
                sup = owner.superclass.ctor
            if sup is not None:
                args = [(v, v.type) for v in params] if u.implicit else []
                self.call_super_ctor(sup, None, args)
        # field initialisers of this class, in order
        for f in owner.own_fields:
            decl = f.decl
            if decl is not None and decl.init is not None:
                self.at(decl)
                r = self.value(decl.init, f.type)
                self.at(decl)
                self.op("SETF", 0, f.index, r)
                self.release(r)
        self.stmt_list(stmts)

    def call_super_ctor(self, sup, call, args):
        """`super(...)`: explicit (`call` set, args are its expressions) or
        implicit (args are (LocalVar, type) pairs passed on)."""
        if sup.native_id is not None and sup.native_id == self._object_init():
            return          # Object() does nothing
        if call is not None:
            types = list(call.param_types or sup.params)
            regs = self.block([self.this_ty] + types)
            self.mov(regs[0], 0)
            for e, r in zip(call.args, regs[1:]):
                self.into(e, r)
            self.at(call)
        else:
            regs = self.block([self.this_ty] + list(sup.params))
            self.mov(regs[0], 0)
            for (v, _), r in zip(args, regs[1:]):
                self.mov(r, self.local_reg(v))
        if sup.native_id is not None:
            self.op("CALLN", -1, sup.native_id, regs[0])
        else:
            self.op("CALL", -1, sup.func_index, regs[0])
        self.release(*regs)

    def _object_init(self):
        """The native id of Object's constructor, whose call is skipped: it does
        nothing."""
        obj = self.pe.class_by_id.get(0)
        if obj is not None and obj.ctor is not None:
            return obj.ctor.native_id
        return 0

    def emit_init(self):
        """The init function: top-level statements and the initialisers of
        non-constant globals in source order. Constant globals are stored
        first, so that functions called by the init see their value however
        early they run."""
        b = self.b
        self.ret_ty = T.VOID
        prog = self.pe.program
        self.line = _line(prog) or 1
        self.push_scope()
        # (1.1) constant globals hold their value from the start (§2)
        for item in prog.items:
            if isinstance(item, A.GlobalDecl) and item.info.is_const:
                self.at(item)
                r = self.load_const(item.info.const_value, item.info.type, None)
                self.op("SETG", item.info.index, r)
                self.release(r)
        for item in prog.items:
            if isinstance(item, A.GlobalDecl):
                if item.init is not None and not item.info.is_const:
                    self.at(item)
                    g = item.info
                    r = self.value(item.init, g.type)
                    self.at(item)
                    self.op("SETG", g.index, r)
                    self.release(r)
            elif isinstance(item, (A.ClassDecl, A.FuncDecl, A.MethodDecl,
                                   A.InterfaceDecl)):
                continue
            else:
                self.stmt(item)
        self.pop_scope()
        self.finish(b.image.init)

    # ----------------------------------------------------------- statements
    def stmt_list(self, stmts):
        """Emits statements in order (unreachable ones emit nothing)."""
        for s in stmts:
            self.stmt(s)

    def stmt(self, s):
        """Emits statement `s` by its class's stmt_ method, unless unreachable.
        """
        if not self.reachable:
            return
        self.at(s)
        m = getattr(self, "stmt_" + type(s).__name__, None)
        if m is None:
            raise EmitError(f"line {self.line}: cannot emit {type(s).__name__}")
        m(s)

    def stmt_Block(self, s):
        """A block: its locals' registers are freed at its end."""
        self.push_scope()
        self.stmt_list(s.stmts)
        self.pop_scope()

    def stmt_EmptyStmt(self, s):
        pass

    def stmt_VarDecl(self, s):
        """A local declaration: a register of the local's type, owned by the
        current scope."""
        # the initialiser cannot read the new variable (definite
        # assignment), so it is evaluated straight into its register
        dst = self.declare(s.var)
        if s.init is not None:
            self.into(s.init, dst)

    def stmt_ExprStmt(self, s):
        """An expression statement: its value is discarded."""
        self.effect(s.expr)

    def stmt_If(self, s):
        """`if`: one conditional branch on the negated condition (fused with a
        comparison where possible)."""
        if s.els is None:
            end = Label()
            self.branch(s.cond, end, False)
            self.stmt(s.then)
            self.bind(end)
            return
        els, end = Label(), Label()
        self.branch(s.cond, els, False)
        self.stmt(s.then)
        self.op("JMP", end)
        self.bind(els)
        self.stmt(s.els)
        self.bind(end)

    def _loop(self, cond, body, update=(), first_cond=True, node=None):
        """Rotated loop: [JMP cond;] body: BODY; cont: UPDATE; cond: branch
        back to body when COND holds."""
        top, cont, brk, check = Label(live=True), Label(), Label(), Label()
        if first_cond:
            if cond is None or (isinstance(cond, A.BoolLit) and cond.value):
                pass            # no check at entry
            elif isinstance(cond, A.BoolLit) and not cond.value:
                return          # checker: never happens (unreachable body)
            else:
                self.op("JMP", check)
        self.bind(top)
        self.ctl.append(LoopCtx(brk, cont))
        self.stmt(body)
        self.ctl.pop()
        self.bind(cont)
        for u in update:
            self.at(u)
            self.effect(u)
        self.bind(check)
        if cond is not None:
            self.at(cond)
            self.branch(cond, top, True)
        else:
            self.op("JMP", top)
        self.bind(brk)

    def stmt_While(self, s):
        """`while`: see _loop."""
        self._loop(s.cond, s.body, node=s)

    def stmt_DoWhile(self, s):
        """`do ... while`: _loop without the jump to the condition at entry."""
        self._loop(s.cond, s.body, first_cond=False, node=s)

    def stmt_For(self, s):
        """`for`: the init in a scope of the whole statement, then _loop with the
        update."""
        self.push_scope()
        for i in s.init:
            if isinstance(i, A.Node) and isinstance(i, A.Stmt):
                self.stmt(i)
            else:
                self.at(i)
                self.effect(i)
        self._loop(s.cond, s.body, s.update, node=s)
        self.pop_scope()

    def stmt_ForEach(self, s):
        """`for (T x : a)`. The array is evaluated once and kept in a register for
        the whole loop: a copy, unless it is a local the body never assigns, so
        that assigning the variable in the body does not change the array
        walked. The size is read again (Array.size) before every iteration,
        since the body may grow or shrink the array; the index, the size and
        the array register belong to the statement's scope. An element going
        into an Any variable is boxed."""
        self.push_scope()
        arr_t = s.iterable.ty
        r = self.value(s.iterable)
        it = s.iterable
        # a local the body never assigns may be walked in its own register
        stable = (isinstance(it, A.Name) and _is_local(it.ref)
                  and id(it.ref) not in locals_written(s.body))
        if r not in self.temps and not stable:
            # the loop walks the array it started with, even if the body
            # assigns the variable
            t = self.temp(self.reg_ty[r])
            self.mov(t, r)
            r = t
        if r in self.temps:
            self.scopes[-1].append(r)
            self.temps.discard(r)
        idx = self.temp(T.INT)
        self.temps.discard(idx)
        self.scopes[-1].append(idx)
        n = self.temp(T.INT)
        self.temps.discard(n)
        self.scopes[-1].append(n)
        self.at(s)
        self.op("LOADI", idx, 0)
        top, cont, brk, check = Label(live=True), Label(), Label(), Label()
        self.op("JMP", check)
        self.bind(top)
        var = s.var
        self.push_scope()
        dst = self.declare(var)
        elem_t = arr_t.elem if isinstance(arr_t, T.ArrayType) else T.ANY
        if self.is_box(elem_t, dst):
            t = self.temp(elem_t)
            self.op("AGET", t, r, idx)
            self.op("BOXI" if isinstance(elem_t, T.IntType) else "BOXZ",
                    dst, t)
            self.release(t)
        else:
            self.op("AGET", dst, r, idx)
        self.ctl.append(LoopCtx(brk, cont))
        self.stmt(s.body)
        self.ctl.pop()
        self.pop_scope()
        self.bind(cont)
        self.at(s)
        self.op("ADDI", idx, idx, 1)
        self.bind(check)
        self.op("CALLN", n, self._native_id("Array", "size"), r)
        self.op("JLT", idx, n, top)
        self.bind(brk)
        self.pop_scope()

    def _native_id(self, owner, name):
        """The id of built-in native `owner.name` (builtins.def)."""
        from .builtins import load
        for nat in load().natives:
            if nat.owner == owner and nat.name == name:
                return nat.id
        raise EmitError(f"no native {owner}.{name}")

    def _exit(self, upto):
        """Leave the try statements above control-stack index `upto`
        (exclusive): suspend their protected ranges and run their finally
        code, innermost first.  Returns the regions to resume."""
        suspended = []
        saved = self.ctl
        for i in range(len(saved) - 1, upto - 1, -1):
            ctx = saved[i]
            if not isinstance(ctx, TryCtx):
                continue
            for reg in ctx.regions:
                if reg.open is not None:
                    reg.suspend(self.pos())
                    suspended.append(reg)
            if ctx.finally_ is not None:
                # The copy runs outside this try: a `break` or `return` in the
                # finally must not run it again, and jumps from it resolve
                # against the enclosing constructs.
                self.ctl = saved[:i]
                self.stmt(ctx.finally_)
                self.ctl = saved
        return suspended

    def _resume(self, regions):
        """Reopens the regions _exit suspended, after the jump that left them.
        """
        for reg in regions:
            reg.resume(self.pos())

    def _crosses_finally(self, upto):
        """Whether leaving the control stack down to index `upto` runs some
        finally code."""
        return any(isinstance(c, TryCtx) and c.finally_ is not None
                   for c in self.ctl[upto:])

    def _loop_index(self, kinds=(LoopCtx,)):
        """The index on the control stack of the innermost construct of `kinds`
        (loops, or loops and switches)."""
        for i in range(len(self.ctl) - 1, -1, -1):
            if isinstance(self.ctl[i], kinds):
                return i
        raise EmitError(f"line {self.line}: break or continue outside a loop")

    def stmt_Break(self, s):
        """`break`: runs the finally code of the try statements it leaves (_exit),
        then jumps past the innermost loop or (1.1) switch."""
        # (1.1) the innermost loop or switch statement
        i = self._loop_index((LoopCtx, SwitchCtx))
        regions = self._exit(i + 1)
        self.at(s)
        # the jump is a terminator: the region stays suspended until _resume
        # reopens it for the code after it
        self.op("JMP", self.ctl[i].brk)
        self._resume(regions)

    def stmt_Continue(self, s):
        """`continue`: runs the finally code it crosses, then jumps to the
        innermost loop's update (switches do not catch it)."""
        i = self._loop_index()
        regions = self._exit(i + 1)
        self.at(s)
        self.op("JMP", self.ctl[i].cont)
        self._resume(regions)

    def stmt_Return(self, s):
        """`return`: the value is computed first, then the finally code of every
        enclosing try runs, then RET. A value held in a local's register is
        copied first when finally code runs, since the finally may assign that
        local and must not change the value returned (Java's rule)."""
        if s.value is None:
            regions = self._exit(0)
            self.at(s)
            self.op("RETV")
            self._resume(regions)
            return
        r = self.value(s.value, self.ret_ty)
        if self._crosses_finally(0) and r not in self.temps:
            t = self.temp(self.reg_ty[r])
            self.mov(t, r)
            r = t
        regions = self._exit(0)
        self.at(s)
        self.op("RET", r)
        self._resume(regions)
        self.release(r)

    def stmt_Throw(self, s):
        """`throw`: THROW (the VM throws NullPointerException for null)."""
        r = self.value(s.value)
        self.at(s)
        self.op("THROW", r)
        self.release(r)

    def stmt_Try(self, s):
        """A try statement. Layout:

        body; [finally copy]; JMP end catch_i: body_i; [finally copy]; JMP end
        (one per catch) all: finally; THROW exc (with a finally) end:

        The catch region covers the body only; the finally region covers the
        body and the catches but not the finally copies (each normal exit runs
        its own copy, and _exit suspends both regions around the copies of
        `break`, `continue` and `return`). The catch-all handler stores the
        exception in a temporary, runs the finally and rethrows it. Handlers
        are added when the statement is finished, so an inner try's come before
        an outer's: the VM takes the first handler whose range holds the pc and
        whose class matches."""
        start = self.pos()
        catch_region = Region(start) if s.catches else None
        all_region = Region(start) if s.finally_ is not None else None
        regions = [r for r in (catch_region, all_region) if r is not None]
        ctx = TryCtx(regions, s.finally_)
        end = Label()
        self.ctl.append(ctx)
        self.stmt(s.body)
        self.ctl.pop()
        # the catches are not covered by their own try's catch handlers
        if catch_region is not None:
            catch_region.suspend(self.pos())
            ctx.regions = [r for r in regions if r is not catch_region]
        # normal completion of the body
        if all_region is not None:
            all_region.suspend(self.pos())
            if self.reachable:
                self.stmt(s.finally_)
        self.op("JMP", end)
        # (start, end, label, class id or None for catch-all, register of the
        # exception)
        handler_entries = []
        for c in s.catches:
            lab = Label(live=True)
            self.bind(lab)
            if all_region is not None:
                all_region.resume(self.pos())
            self.push_scope()
            reg = self.declare(c.var)
            cls = c.var.type
            cid = cls.info.id if isinstance(cls, T.ClassType) else None
            # one handler entry per interval of the body's protected range
            for (a, b_) in catch_region.intervals:
                handler_entries.append((a, b_, lab, cid, reg))
            self.at(c)
            self.ctl.append(ctx)
            self.stmt(c.body)
            self.ctl.pop()
            self.pop_scope()
            if all_region is not None:
                all_region.suspend(self.pos())
                if self.reachable:
                    self.stmt(s.finally_)
            self.op("JMP", end)
        if all_region is not None:
            all_region.suspend(self.pos())
            lab = Label(live=True)
            self.bind(lab)
            # class id 2 is Exception (builtins.def); 1 is String, 0 Object
            exc = self.temp(T.ClassType(self.pe.class_by_id[2]))
            for (a, b_) in all_region.intervals:
                handler_entries.append((a, b_, lab, None, exc))
            self.stmt(s.finally_)
            self.at(s.finally_)
            self.op("THROW", exc)
            self.release(exc)
        self.handlers.extend(handler_entries)
        self.bind(end)

    # ----------------------------------------------------------- (1.1) switch
    def stmt_Switch(self, s):
        """The selector once, the dispatch, then the arms in order, each
        ending with a jump past the switch (no fall-through)."""
        sel = self.value(s.selector)
        end = Label()
        labels = [Label() for _ in s.arms]
        self.at(s)
        self.dispatch(s, sel, labels, end)
        self.release(sel)
        self.ctl.append(SwitchCtx(end))
        for arm, lab in zip(s.arms, labels):
            self.bind(lab)
            self.stmt(arm.body)
            self.at(s)
            self.op("JMP", end)
        self.ctl.pop()
        self.bind(end)

    def expr_SwitchExpr(self, e, want):
        """As stmt_Switch, each value arm evaluated into the result."""
        t = e.ty
        if want is not None and (self.reg_ty[want] == t or self._subtype(
                t, self.reg_ty[want])):
            r = want
        else:
            r = self.temp(t)
        sel = self.value(e.selector)
        end = Label()
        labels = [Label() for _ in e.arms]
        self.at(e)
        self.dispatch(e, sel, labels, end)
        self.release(sel)
        for arm, lab in zip(e.arms, labels):
            self.bind(lab)
            if not self.reachable:
                continue
            if isinstance(arm.body, A.Throw):
                self.stmt_Throw(arm.body)
                continue
            self.into(arm.body.expr, r)
            self.at(e)
            self.op("JMP", end)
        self.bind(end)
        return r

    def dispatch(self, s, sel, labels, end):
        """Jump from the selector in `sel` to the label of the arm whose
        label equals it, else the default arm's, else `end`."""
        default = end
        cases = []
        for arm, lab in zip(s.arms, labels):
            if arm.is_default:
                default = lab
            cases += [(v, lab) for v in arm.values or ()]
        cases.sort(key=lambda c: c[0])
        if s.kind == "String":
            self.string_dispatch(sel, cases, default)
        else:
            self.int_dispatch(sel, cases, default)

    def int_dispatch(self, sel, cases, default):
        """`cases`: (value, label) sorted by distinct value."""
        n = len(cases)
        if n == 0:
            self.op("JMP", default)
            return
        lo, hi = cases[0][0], cases[-1][0]
        span = hi - lo + 1
        if n >= DENSE_MIN and span <= DENSE_FACTOR * n and span <= TABLE_MAX \
                and _fits32(lo) and _fits32(hi):
            self.jump_table(sel, lo, span, cases, default)
            return
        if n <= LINEAR_MAX:
            for v, lab in cases:
                if _fits32(v):
                    self.op("JEQI", sel, v, lab)
                else:
                    k = self.temp(T.INT)
                    self.load_int(k, v)
                    self.op("JEQ", sel, k, lab)
                    self.release(k)
            self.op("JMP", default)
            return
        # binary search: split at the middle value, the upper half when sel >=
        # pivot
        mid = n // 2
        pivot = cases[mid][0]
        upper = Label()
        # JGEI sel pivot, or JLE k sel for a pivot beyond 32 bits: both jump
        # when sel >= pivot
        if _fits32(pivot):
            self.op("JGEI", sel, pivot, upper)
        else:
            k = self.temp(T.INT)
            self.load_int(k, pivot)
            self.op("JLE", k, sel, upper)
            self.release(k)
        self.int_dispatch(sel, cases[:mid], default)
        self.bind(upper)
        self.int_dispatch(sel, cases[mid:], default)

    def jump_table(self, sel, lo, span, cases, default):
        """SWITCH sel lo span default, then its table: one JMP per value
        lo..lo+span-1 (opcodes.def), to the value's label or the default.
        SWITCH never falls through: it goes to the target of the table's
        JMP, which the verifier and the JIT see as ordinary jumps."""
        by_value = dict(cases)
        self.op("SWITCH", sel, lo, span, default)
        for v in range(lo, lo + span):
            self.reachable = True       # the table follows a terminator
            self.op("JMP", by_value.get(v, default))

    def string_dispatch(self, sel, cases, default):
        """String labels: `length()` (which throws NullPointerException on
        a null selector, even with a default) dispatched as int labels,
        then by content (charged like `==`)."""
        n = self.temp(T.INT)
        self.op("CALLN", n, self._native_id("String", "length"), sel)
        # the labels by length, in byte order within each length (cases are
        # sorted)
        groups: dict[int, list] = {}
        for v, lab in cases:
            groups.setdefault(len(v), []).append((v, lab))
        glabels = [(ln, Label()) for ln in sorted(groups)]
        # the length is not needed once dispatched: its register is free for
        # the groups
        self.int_dispatch(n, glabels, default)
        self.release(n)
        for ln, gl in glabels:
            self.bind(gl)
            self.string_group(sel, ln, groups[ln], default, set())

    def string_group(self, sel, ln, group, default, used):
        """Labels of one length `ln`: split on a byte while more than
        LINEAR_MAX remain (positions in `used` are known equal), then
        compare contents."""
        if len(group) > LINEAR_MAX:
            best, pos = 1, None
            # the byte position with the most distinct values among the group's
            # labels
            for p in range(ln):
                if p in used:
                    continue
                k = len({v[p] for v, _ in group})
                if k > best:
                    best, pos = k, p
            if pos is not None:
                regs = self.block([self.reg_ty[sel], T.INT])
                self.mov(regs[0], sel)
                self.op("LOADI", regs[1], pos)
                c = self.temp(T.INT)
                self.op("CALLN", c, self._native_id("String", "charAt"), regs[0])
                self.release(*regs)
                subs: dict[int, list] = {}
                for v, lab in group:
                    subs.setdefault(v[pos], []).append((v, lab))
                slabels = [(b, Label()) for b in sorted(subs)]
                self.int_dispatch(c, slabels, default)
                self.release(c)
                for b, sl in slabels:
                    self.bind(sl)
                    self.string_group(sel, ln, subs[b], default, used | {pos})
                return
        k = self.temp(self.reg_ty[sel])
        eq = self.temp(T.BOOL)
        for v, lab in group:
            self.op("LOADK", k, self.b.const_str(v))
            self.op("EQSTR", eq, sel, k)
            self.op("JT", eq, lab)
        self.release(k, eq)
        self.op("JMP", default)

    def load_const(self, v, t, want) -> int:
        """(1.1) A register holding the constant `v` (int, bool or bytes)
        of type `t`."""
        if isinstance(v, bool):
            r = self.dst(want, T.BOOL)
            self.op("LOADI", r, 1 if v else 0)
        elif isinstance(v, int):
            r = self.dst(want, T.INT)
            self.load_int(r, v)
        else:
            r = self.dst(want, T.ClassType(self.pe.class_by_id[1]))
            self.op("LOADK", r, self.b.const_str(v))
        return r

    # ----------------------------------------------------------- values
    def value(self, e, ty=None) -> int:
        """A register holding `e` (converted to `ty` if given: boxing,
        null).  The register may belong to a local: `release` it, never
        write it.  An int or boolean going to Any is boxed into a new
        temporary, and `null` is loaded in a register of type `ty`, since
        the instruction reading it needs that type."""
        if ty is not None and not isinstance(ty, (T.VoidType,)):
            if isinstance(ty, T.AnyType) and isinstance(
                    e.ty, (T.IntType, T.BoolType)):
                dst = self.temp(T.ANY)
                return self.into(e, dst)
            if isinstance(e, A.NullLit):
                dst = self.temp(ty)
                return self.into(e, dst)
        return self.expr(e)

    def into(self, e, dst) -> int:
        """Evaluate `e` into register `dst` (boxing as needed)."""
        if self.is_box(e.ty, dst):
            r = self.expr(e)
            self.at(e)
            self.op("BOXI" if isinstance(e.ty, T.IntType) else "BOXZ", dst, r)
            self.release(r)
            return dst
        r = self.expr(e, dst)
        if r != dst:
            self.mov(dst, r)
            self.release(r)
        return dst

    def expr(self, e, want=None) -> int:
        """A register holding `e`, preferably `want` (a hint, which an expression
        may ignore), of `e`'s static type (as_static). The line of the
        instructions is `e`'s, restored afterwards."""
        saved = self.line
        self.at(e)
        m = getattr(self, "expr_" + type(e).__name__, None)
        if m is None:
            raise EmitError(f"line {self.line}: cannot emit {type(e).__name__}")
        r = m(e, want)
        self.line = saved
        return self.as_static(e, r, want)

    def as_static(self, e, r, want) -> int:
        """`r` itself when it is `want` or has exactly `e`'s static type,
        else a register of that type holding it.  An upcast (`(Any) s`,
        `(Shape) sq`) and an assignment used as a value (`a = s` with
        `Any a`) leave the value in a register of the operand's type;
        instructions that require an exact type (CALLA's receiver,
        UNBOXI/UNBOXZ's operand, ...) take the expression's register, so
        it gets the static type by a MOV (opcodes.def: S <= T)."""
        if r < 0 or r == want:
            return r
        t = e.ty
        if t is None or isinstance(t, (T.NullType, T.ErrorType,
                                       T.VoidType)):
            return r
        if self.reg_idx[r] == self.pe.ty(t) or not self._subtype(
                self.reg_ty[r], t):
            return r
        if want is not None and self._subtype(t, self.reg_ty[want]):
            dst = want
        else:
            dst = self.temp(t)
        self.mov(dst, r)
        self.release(r)
        return dst

    def dst(self, want, t, exact=True) -> int:
        """Where an instruction producing a `t` writes: `want` when its
        type allows it, else a new temporary."""
        if want is not None:
            wt = self.reg_ty[want]
            if wt == t or (not exact and self._subtype(t, wt)):
                return want
        return self.temp(t)

    def _subtype(self, s, t) -> bool:
        """Whether a register of type `s` may be stored into one of type `t`
        without a check (the loader's S <= T)."""
        if s == t:
            return True
        if isinstance(t, T.AnyType):
            return s.is_ref
        # classes and (1.1) interfaces: as kimg_assignable in the loader
        return T.ref_subtype(s, t)

    def protect(self, r, later) -> int:
        """Copy a local's register when a later operand may assign it.

        Operands are evaluated left to right (the language reference §6).
        `r`, the value of an earlier operand, is copied to a temporary when
        it is a local's register and one of the `later` operands assigns
        that local (`x + (x = 1)` adds the old `x`); temporaries and `this`
        cannot change."""
        if r in self.temps or r == 0 and self.this_ty is not None:
            return r
        written = set()
        for e in later:
            if e is not None:
                written |= locals_written(e)
        if not written:
            return r
        for vid, reg in self.var_reg.items():
            if reg == r and vid in written:
                t = self.temp(self.reg_ty[r])
                self.mov(t, r)
                return t
        return r

    def effect(self, e):
        """Evaluate `e` for its side effects only.

        Calls, assignments and `++`/`--` are told the value is discarded:
        no copy of the old value, no result register for a void call."""
        saved = self.line
        self.at(e)
        if isinstance(e, A.Call):
            r = self.expr_Call(e, None, discard=True)
            self.release(r)
        elif isinstance(e, A.IncDec):
            self.release(self.incdec(e, None, discard=True))
        elif isinstance(e, A.Assign):
            self.release(self.expr_Assign(e, None, discard=True))
        else:
            self.release(self.expr(e))
        self.line = saved

    # literals and names
    def expr_IntLit(self, e, want):
        r = self.dst(want, T.INT)
        self.load_int(r, _wrap(e.value))
        return r

    def expr_BoolLit(self, e, want):
        r = self.dst(want, T.BOOL)
        self.op("LOADI", r, 1 if e.value else 0)
        return r

    def expr_NullLit(self, e, want):
        """`null`: LOADNULL into `want` when it is a reference register, else into
        an Any temporary."""
        if want is not None and self.reg_ty[want].is_ref:
            r = want
        else:
            r = self.temp(T.ANY)
        self.op("LOADNULL", r)
        return r

    def expr_StringLit(self, e, want):
        r = self.dst(want, T.ClassType(self.pe.class_by_id[1]))
        self.op("LOADK", r, self.b.const_str(e.value))
        return r

    def expr_This(self, e, want):
        """`this` is register 0 of a method, constructor or lambda that captured
        it."""
        return 0

    def expr_Name(self, e, want):
        """A bare name: a local's own register (the caller must not write it), a
        field of `this` (GETF on register 0), a global (GETG; a constant
        global's value is loaded instead), or a function (LOADFN)."""
        ref = e.ref
        k = _kind(ref)
        if k == "LocalVar":
            return self.local_reg(ref)
        if k == "FieldInfo":
            r = self.dst(want, ref.type, exact=False)
            self.op("GETF", r, 0, ref.index)
            return r
        if k == "GlobalInfo":
            if ref.is_const:    # (1.1) a constant global (§2)
                return self.load_const(ref.const_value, ref.type, want)
            r = self.dst(want, ref.type, exact=False)
            self.op("GETG", r, ref.index)
            return r
        if k == "FuncInfo":
            r = self.dst(want, ref.func_type())
            self.op("LOADFN", r, ref.func_index)
            return r
        raise EmitError(f"line {self.line}: cannot take the value of "
                        f"`{e.name}`")

    def expr_Member(self, e, want):
        """`o.f` (GETF), `Errno.X` (the int the checker resolved), or a method as
        a Func value bound to its receiver: BINDM by vtable slot, (1.1) BINDI
        by interface and slot."""
        ref = e.ref
        if isinstance(ref, int) and not isinstance(ref, bool):
            r = self.dst(want, T.INT)
            self.load_int(r, ref)
            return r
        k = _kind(ref)
        if k == "FieldInfo":
            o = self.expr(e.obj)
            self.release(o)
            r = self.dst(want, ref.type, exact=False)
            self.at(e)
            self.op("GETF", r, o, ref.index)
            return r
        if k == "MethodInfo":
            o = self.expr(e.obj)
            self.release(o)
            r = self.dst(want, ref.func_type())
            self.at(e)
            self.op("BINDM", r, o, ref.slot)
            return r
        if k == "IfaceMethod":      # (1.1) bound through an interface type
            o = self.expr(e.obj)
            self.release(o)
            r = self.dst(want, ref.func_type())
            self.at(e)
            self.op("BINDI", r, o, self.pe.ty(ref.iface.type), ref.slot)
            return r
        raise EmitError(f"line {self.line}: cannot emit member `{e.name}`")

    def expr_Index(self, e, want):
        """`a[i]`: AGET (the VM checks the bounds and null)."""
        a = self.expr(e.obj)
        a = self.protect(a, [e.index])
        i = self.expr(e.index)
        self.release(a, i)
        r = self.dst(want, e.ty, exact=False)
        self.at(e)
        self.op("AGET", r, a, i)
        return r

    # operators
    def expr_Unary(self, e, want):
        """`-`, `~` (folded when the operand is made of literals) and `!`."""
        c = const_int(e) if isinstance(e.ty, T.IntType) else None
        if c is not None:
            r = self.dst(want, T.INT)
            self.load_int(r, c)
            return r
        if e.op == "!":
            x = self.expr(e.operand)
            self.release(x)
            r = self.dst(want, T.BOOL)
            self.op("NOT", r, x)
            return r
        x = self.expr(e.operand)
        self.release(x)
        r = self.dst(want, T.INT)
        self.op("NEG" if e.op == "-" else "BNOT", r, x)
        return r

    ARITH = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV", "%": "MOD",
             "&": "BAND", "|": "BOR", "^": "BXOR", "<<": "SHL", ">>": "SHR",
             ">>>": "USHR"}

    def expr_Binary(self, e, want):
        """Arithmetic, concatenation and comparisons. Int expressions made only of
        literals are folded (const_int); `x + k` and `x - k` with a 32-bit
        constant become ADDI."""
        op = e.op
        if op in ("&&", "||"):
            return self.logical(e, want)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return self.compare_value(e, want)
        # class id 1 is String: `+` with a String operand is concatenation
        if isinstance(e.ty, T.ClassType) and e.ty.info.id == 1:
            return self.concat(e, want)
        if isinstance(e.ty, T.IntType):
            c = const_int(e)
            if c is not None:
                r = self.dst(want, T.INT)
                self.load_int(r, c)
                return r
            if op in ("+", "-"):
                k = const_int(e.right)
                if k is not None and op == "-":
                    k = -k
                if _fits32(k):
                    x = self.expr(e.left)
                    self.release(x)
                    r = self.dst(want, T.INT)
                    self.at(e)
                    self.op("ADDI", r, x, k)
                    return r
                k = const_int(e.left)
                if op == "+" and _fits32(k):
                    x = self.expr(e.right)
                    self.release(x)
                    r = self.dst(want, T.INT)
                    self.at(e)
                    self.op("ADDI", r, x, k)
                    return r
        x = self.expr(e.left)
        x = self.protect(x, [e.right])
        y = self.expr(e.right)
        self.release(x, y)
        r = self.dst(want, e.ty)
        self.at(e)
        self.op(self.ARITH[op], r, x, y)
        return r

    def logical(self, e, want):
        """The value of `a && b` or `a || b` in a boolean register: `a` into it, a
        jump past `b` when `a` decides, else `b` into the same register."""
        if want is not None and want in self.temps \
                and isinstance(self.reg_ty[want], T.BoolType):
            r = want
        else:
            r = self.temp(T.BOOL)
        end = Label()
        self.into(e.left, r)
        self.at(e)
        self.op("JF" if e.op == "&&" else "JT", r, end)
        self.into(e.right, r)
        self.bind(end)
        return r

    def _operand_type(self, e):
        """The type in which `==`/`!=` compares: the checker's `operand_ty`, else
        (for trees built without it) one worked out from the operands; `null`
        and errors compare as Any."""
        ot = getattr(e, "operand_ty", None)
        lt, rt = e.left.ty, e.right.ty
        if ot is None or isinstance(ot, T.ErrorType):
            if lt == rt:
                ot = lt
            elif isinstance(lt, T.AnyType) or isinstance(rt, T.AnyType):
                ot = T.ANY
            elif isinstance(lt, T.NullType):
                ot = rt
            else:
                ot = lt
        if isinstance(ot, T.NullType) or isinstance(ot, T.ErrorType):
            ot = T.ANY
        return ot

    def compare_value(self, e, want):
        """A comparison as a boolean value. Ints and booleans use EQ/NE/LT/LE (`>`
        and `>=` swap the operands); references use EQSTR (String contents),
        EQANY (Any: boxed values by value) or EQREF (identity), and `!=`
        negates their result."""
        op = e.op
        if op in ("==", "!="):
            ot = self._operand_type(e)
            if isinstance(ot, (T.IntType, T.BoolType)):
                name = "EQ" if op == "==" else "NE"
                x, y = self._two(e.left, e.right, None)
            else:
                name = self._eq_op(ot)
                conv = ot if isinstance(ot, T.AnyType) else None
                x, y = self._two(e.left, e.right, conv)
            self.release(x, y)
            r = self.dst(want, T.BOOL)
            self.at(e)
            self.op(name, r, x, y)
            # there is no not-equal form of the reference comparisons
            if op == "!=" and name not in ("EQ", "NE"):
                self.op("NOT", r, r)
            return r
        x, y = self._two(e.left, e.right, None)
        self.release(x, y)
        r = self.dst(want, T.BOOL)
        self.at(e)
        if op == "<":
            self.op("LT", r, x, y)
        elif op == "<=":
            self.op("LE", r, x, y)
        elif op == ">":
            # a > b is b < a
            self.op("LT", r, y, x)
        else:
            self.op("LE", r, y, x)
        return r

    def _eq_op(self, ot):
        """The equality instruction of operand type `ot`."""
        if isinstance(ot, T.AnyType):
            return "EQANY"
        if isinstance(ot, T.ClassType) and ot.info.id == 1:
            return "EQSTR"
        return "EQREF"

    def _two(self, a, b, conv):
        """Evaluates two operands in order, the first protected from the second; a
        `null` operand is loaded into a register of the other's type; `conv`
        converts both (boxing into Any)."""
        if conv is not None:
            x = self.value(a, conv)
        elif isinstance(a, A.NullLit):
            x = self.value(a, b.ty if b.ty.is_ref else T.ANY)
        else:
            x = self.expr(a)
        x = self.protect(x, [b])
        if conv is not None:
            y = self.value(b, conv)
        elif isinstance(b, A.NullLit):
            y = self.value(b, a.ty if a.ty.is_ref and not isinstance(
                a.ty, T.NullType) else T.ANY)
        else:
            y = self.expr(b)
        return x, y

    def to_string(self, e) -> int:
        """A String register holding the string conversion of `e`."""
        return self.convert(e, self.concat_operand(e))

    def concat_operand(self, e) -> int | None:
        """The value of an operand of string conversion, not yet converted
        (None for a `null` literal, which needs no code)."""
        if isinstance(e, A.NullLit):
            return None
        return self.expr(e)

    def convert(self, e, x) -> int:
        """The string conversion of `e`, whose value is in `x`
        (`concat_operand`): may call toString."""
        t = e.ty
        string_t = T.ClassType(self.pe.class_by_id[1])
        if t == string_t and x is not None:
            return x
        r = self.temp(string_t)
        self.at(e)
        if x is None:
            self.op("LOADNULL", r)
            return r
        self.release(x)
        if isinstance(t, T.IntType):
            self.op("ITOS", r, x)
        elif isinstance(t, T.BoolType):
            self.op("ZTOS", r, x)
        else:
            self.op("RTOS", r, x)
        return r

    def concat(self, e, want):
        """`a + b` on Strings: CONCAT of the two string conversions."""
        # The language reference §6: both operands are evaluated, left then right,
        # before the operation; the conversion (a toString call) is part
        # of the operation, so it comes after the right operand's side
        # effects: left, right, toString of left, toString of right.
        x = self.concat_operand(e.left)
        if x is not None:
            x = self.protect(x, [e.right])
        y = self.concat_operand(e.right)
        xs = self.convert(e.left, x)
        ys = self.convert(e.right, y)
        self.release(xs, ys)
        r = self.dst(want, e.ty)
        self.at(e)
        self.op("CONCAT", r, xs, ys)
        return r

    def expr_Cond(self, e, want):
        """`c ? a : b`: both branches evaluated into the same register (`want`
        when its type fits)."""
        t = e.ty
        if want is not None and (self.reg_ty[want] == t or self._subtype(
                t, self.reg_ty[want])):
            r = want
        else:
            r = self.temp(t)
        els, end = Label(), Label()
        self.branch(e.cond, els, False)
        self.into(e.then, r)
        self.op("JMP", end)
        self.bind(els)
        self.into(e.els, r)
        self.bind(end)
        return r

    def expr_Cast(self, e, want):
        """A cast: to int/boolean from Any unboxes (UNBOXI/UNBOXZ throw
        ClassCastException on another value), from int/boolean to Any boxes, an
        upcast is free, `null` is loaded in the target type, and a downcast is
        CAST (checked at run time)."""
        s, t = e.expr.ty, e.ty
        if isinstance(t, T.IntType) or isinstance(t, T.BoolType):
            if s == t:
                return self.expr(e.expr, want)
            x = self.expr(e.expr)
            self.release(x)
            r = self.dst(want, t)
            self.at(e)
            self.op("UNBOXI" if isinstance(t, T.IntType) else "UNBOXZ", r, x)
            return r
        if isinstance(s, (T.IntType, T.BoolType)):
            x = self.expr(e.expr)
            self.release(x)
            r = self.dst(want, T.ANY)
            self.at(e)
            self.op("BOXI" if isinstance(s, T.IntType) else "BOXZ", r, x)
            return r
        if isinstance(e.expr, A.NullLit) or isinstance(s, T.NullType):
            x = self.expr(e.expr)
            self.release(x)
            r = self.dst(want, t)
            self.op("LOADNULL", r)
            return r
        if self._subtype(s, t):
            return self.expr(e.expr, want)
        x = self.expr(e.expr)
        self.release(x)
        r = self.dst(want, t)
        self.at(e)
        self.op("CAST", r, x, self.pe.ty(t))
        return r

    def expr_Lambda(self, e, want):
        """(1.1) A new closure: `this` and the captured locals copied into
        consecutive registers, then CLOSURE of the lambda's function."""
        li = e.info
        lead = ([li.this_type] if li.this_type is not None else []) + \
            [v.type for v in li.captures]
        # CLOSURE's count operand is a byte
        if len(lead) > 255:
            raise EmitError(f"line {self.line}: a lambda captures more than "
                            "255 values")
        regs = self.block(lead)
        i = 0
        if li.this_type is not None:
            self.mov(regs[0], 0)
            i = 1
        for v in li.captures:
            self.mov(regs[i], self.local_reg(v))
            i += 1
        self.release(*regs)
        r = self.dst(want, li.type)
        self.at(e)
        self.op("CLOSURE", r, li.func_index, regs[0] if regs else 0,
                len(regs))
        return r

    def expr_InstanceOf(self, e, want):
        """`e instanceof T`: INSTOF against T's image type; an int or boolean
        operand is boxed to Any first."""
        t = e.type.resolved if e.type is not None else None
        x = self.value(e.expr, T.ANY if not e.expr.ty.is_ref else None)
        self.release(x)
        r = self.dst(want, T.BOOL)
        self.at(e)
        self.op("INSTOF", r, x, self.pe.ty(t))
        return r

    # assignment
    def expr_Assign(self, e, want, discard=False):
        """`t = v` and compound `t op= v`. A compound assignment reads the target
        once (GETG/GETF/AGET into a temporary, with the object and index
        evaluated once), combines, and writes it back. Returns the register
        holding the assigned value (an assignment is an expression)."""
        tgt = e.target
        op = e.op
        if op == "=":
            return self.assign(tgt, e, want, discard)
        bop = op[:-1]
        k = _kind(getattr(tgt, "ref", None))
        if isinstance(tgt, A.Name) and k == "LocalVar":
            reg = self.local_reg(tgt.ref)
            self.combine(e, bop, reg, reg)
            return reg
        if isinstance(tgt, A.Name) and k == "GlobalInfo":
            g = tgt.ref
            cur = self.temp(g.type)
            self.op("GETG", cur, g.index)
            self.combine(e, bop, cur, cur)
            self.at(e)
            self.op("SETG", g.index, cur)
            return cur
        if isinstance(tgt, (A.Name, A.Member)) and k == "FieldInfo":
            f = tgt.ref
            o = 0 if isinstance(tgt, A.Name) else self.expr(tgt.obj)
            if o != 0:
                o = self.protect(o, [e.value])
            cur = self.temp(f.type)
            self.at(tgt)
            self.op("GETF", cur, o, f.index)
            self.combine(e, bop, cur, cur)
            self.at(e)
            self.op("SETF", o, f.index, cur)
            self.release(o)
            return cur
        if isinstance(tgt, A.Index):
            a = self.expr(tgt.obj)
            a = self.protect(a, [tgt.index, e.value])
            i = self.expr(tgt.index)
            i = self.protect(i, [e.value])
            cur = self.temp(tgt.ty)
            self.at(tgt)
            self.op("AGET", cur, a, i)
            self.combine(e, bop, cur, cur)
            self.at(e)
            self.op("ASET", a, i, cur)
            self.release(a, i)
            return cur
        raise EmitError(f"line {self.line}: bad assignment target")

    def combine(self, e, bop, cur, dst):
        """dst := cur BOP value (compound assignment)."""
        t = self.reg_ty[cur]
        if isinstance(t, T.ClassType) and t.info.id == 1:
            cur_safe = self.protect(cur, [e.value])
            y = self.to_string(e.value)
            self.at(e)
            self.op("CONCAT", dst, cur_safe, y)
            self.release(y)
            if cur_safe != cur:
                self.release(cur_safe)
            return
        if isinstance(t, T.IntType) and bop in ("+", "-"):
            k = const_int(e.value)
            if k is not None and bop == "-":
                k = -k
            if _fits32(k):
                self.at(e)
                self.op("ADDI", dst, cur, k)
                return
        cur_safe = self.protect(cur, [e.value])
        y = self.expr(e.value)
        self.at(e)
        self.op(self.ARITH[bop], dst, cur_safe, y)
        self.release(y)
        if cur_safe != cur:
            self.release(cur_safe)

    def assign(self, tgt, e, want, discard):
        """A plain assignment to a local (evaluated straight into its register), a
        global, a field or an element; the object and index are evaluated
        before the value and protected from it."""
        k = _kind(getattr(tgt, "ref", None))
        if isinstance(tgt, A.Name) and k == "LocalVar":
            reg = self.local_reg(tgt.ref)
            self.into(e.value, reg)
            return reg
        if isinstance(tgt, A.Name) and k == "GlobalInfo":
            g = tgt.ref
            r = self.value(e.value, g.type)
            self.at(e)
            self.op("SETG", g.index, r)
            return r
        if isinstance(tgt, (A.Name, A.Member)) and k == "FieldInfo":
            f = tgt.ref
            if isinstance(tgt, A.Name):
                o = 0
            else:
                o = self.expr(tgt.obj)
                o = self.protect(o, [e.value])
            r = self.value(e.value, f.type)
            self.at(e)
            self.op("SETF", o, f.index, r)
            self.release(o)
            return r
        if isinstance(tgt, A.Index):
            a = self.expr(tgt.obj)
            a = self.protect(a, [tgt.index, e.value])
            i = self.expr(tgt.index)
            i = self.protect(i, [e.value])
            r = self.value(e.value, tgt.ty)
            self.at(e)
            self.op("ASET", a, i, r)
            self.release(a, i)
            return r
        raise EmitError(f"line {self.line}: bad assignment target")

    def expr_IncDec(self, e, want):
        """`++`/`--` used as a value: see incdec."""
        return self.incdec(e, want, discard=False)

    def incdec(self, e, want, discard):
        """`++`/`--` on a local, global, field or element by ADDI. The postfix
        form used as a value gives the old value, kept in a register of its
        own; `discard` (a statement) spares that copy."""
        d = 1 if e.op == "++" else -1
        tgt = e.target
        k = _kind(getattr(tgt, "ref", None))
        post = not e.prefix and not discard
        if isinstance(tgt, A.Name) and k == "LocalVar":
            reg = self.local_reg(tgt.ref)
            if post:
                old = want if (want is not None and want != reg and
                               self.reg_ty[want] == T.INT) else self.temp(T.INT)
                self.mov(old, reg)
                self.op("ADDI", reg, reg, d)
                return old
            self.op("ADDI", reg, reg, d)
            return reg
        if isinstance(tgt, A.Name) and k == "GlobalInfo":
            cur = self.temp(T.INT)
            self.op("GETG", cur, tgt.ref.index)
            new = self.temp(T.INT) if post else cur
            self.op("ADDI", new, cur, d)
            self.op("SETG", tgt.ref.index, new)
            if post:
                self.release(new)
            return cur
        if isinstance(tgt, (A.Name, A.Member)) and k == "FieldInfo":
            f = tgt.ref
            o = 0 if isinstance(tgt, A.Name) else self.expr(tgt.obj)
            cur = self.temp(T.INT)
            self.op("GETF", cur, o, f.index)
            new = self.temp(T.INT) if post else cur
            self.op("ADDI", new, cur, d)
            self.op("SETF", o, f.index, new)
            self.release(o)
            if post:
                self.release(new)
            return cur
        if isinstance(tgt, A.Index):
            a = self.expr(tgt.obj)
            a = self.protect(a, [tgt.index])
            i = self.expr(tgt.index)
            cur = self.temp(T.INT)
            self.op("AGET", cur, a, i)
            new = self.temp(T.INT) if post else cur
            self.op("ADDI", new, cur, d)
            self.op("ASET", a, i, new)
            self.release(a, i)
            if post:
                self.release(new)
            return cur
        raise EmitError(f"line {self.line}: bad ++/-- target")

    # objects and arrays
    def expr_New(self, e, want):
        """`new C(...)`: NEW into the first register of a block whose others are
        the constructor's arguments, then the constructor's CALL (or CALLN for
        a built-in one; Object's is skipped). The object's register stays held
        and is the result."""
        cls = e.cls
        ctor = e.ctor if e.ctor is not None else cls.ctor
        ct = T.ClassType(cls)
        types = list(e.param_types or ctor.params)
        regs = self.block([ct] + types)
        self.at(e)
        self.op("NEW", regs[0], cls.id)
        for a, r in zip(e.args, regs[1:]):
            self.into(a, r)
        self.at(e)
        if ctor.native_id is not None:
            # Object's constructor does nothing: its call is left out
            if ctor.native_id != self._object_init():
                self.op("CALLN", -1, ctor.native_id, regs[0])
        else:
            self.op("CALL", -1, ctor.func_index, regs[0])
        self.release(*regs[1:])
        return regs[0]

    def expr_NewArray(self, e, want):
        """`new T[n]` (NEWARR; the VM checks 0 <= n and charges the heap) or `new
        T[]` (an empty NEWARRV)."""
        t = e.ty
        if e.size is None:
            r = self.dst(want, t)
            self.op("NEWARRV", r, self.pe.ty(t), 0, 0)
            return r
        n = self.expr(e.size)
        self.release(n)
        r = self.dst(want, t)
        self.at(e)
        self.op("NEWARR", r, self.pe.ty(t), n)
        return r

    def expr_NewMap(self, e, want):
        """(1.1) `new Map<K, V>()`: NEWMAP of the map's type."""
        r = self.dst(want, e.ty)
        self.at(e)
        self.op("NEWMAP", r, self.pe.ty(e.ty))
        return r

    def expr_ArrayLit(self, e, want):
        """`[a, b, ...]`: the elements in consecutive registers and one NEWARRV,
        whose count operand is a byte; a longer literal is allocated with
        NEWARR and filled element by element."""
        t = e.ty
        elem = t.elem if isinstance(t, T.ArrayType) else T.ANY
        ti = self.pe.ty(t)
        if len(e.elems) <= 255:
            regs = self.block([elem] * len(e.elems))
            for x, r in zip(e.elems, regs):
                self.into(x, r)
            self.release(*regs)
            r = self.dst(want, t)
            self.at(e)
            self.op("NEWARRV", r, ti, regs[0] if regs else 0, len(regs))
            return r
        # long literals: allocate, then store element by element
        r = self.temp(t)
        n = self.temp(T.INT)
        self.load_int(n, len(e.elems))
        self.op("NEWARR", r, ti, n)
        for i, x in enumerate(e.elems):
            self.load_int(n, i)
            v = self.value(x, elem)
            self.at(e)
            self.op("ASET", r, n, v)
            self.release(v)
        self.release(n)
        return r

    # calls
    def expr_Call(self, e, want, discard=False):
        """A call, by the `kind` the checker chose:

        - "print": the argument's string conversion, then CALLN of print; -
        "func": CALL by function index; - "iface": (1.1) CALLI by interface
        type and slot, with an inline cache; - "virtual": CALLV by vtable slot,
        with an inline cache (a method without a slot, a built-in one, is
        called directly, receiver first); "super" calls the superclass's
        method directly; "native": CALLN, with a receiver unless static; -
        "funcval": CALLF of a Func value; - "dynamic": CALLA by name on an
        Any receiver, arguments boxed to Any, with an inline cache; -
        "super_ctor": call_super_ctor.

        Arguments are evaluated left to right into consecutive registers after
        the receiver (the argument block; CALLV, CALLI and CALLF name the
        receiver or Func value's register apart); the result goes to `want`
        when its type allows. `discard` means the value is not needed."""
        kind = e.kind
        ret = e.ty if e.ty is not None else T.VOID
        void = isinstance(ret, T.VoidType)
        target = e.target

        def result():
            """The register of the call's result: -1 for void (the VM's "no
            result"), a throwaway temporary when discarded, else `want` when
            its type allows."""
            if void:
                return -1
            if discard:
                return self.temp(ret)
            return self.dst(want, ret, exact=False)

        if kind == "print":
            s = self.to_string(e.args[0])
            self.release(s)
            self.at(e)
            nid = target.native_id if target is not None and \
                target.native_id is not None else self._native_id(
                    "Global", "print")
            self.op("CALLN", -1, nid, s)
            return -1
        if kind == "func":
            types = list(e.param_types or target.params)
            regs = self.args_block([], types, e.args)
            self.release(*regs)
            r = result()
            self.at(e)
            self.op("CALL", r, target.func_index, regs[0] if regs else 0)
            return r
        if kind == "iface":
            # (1.1) CALLI: the method of the interface that declares it,
            # through a per-site inline cache; the receiver apart, as CALLV
            o, regs = self.receiver_and_args(e)
            r = result()
            self.at(e)
            self.op("CALLI", r, self.pe.ty(target.iface.type), target.slot,
                    o, regs[0] if regs else 0, self.nics)
            self.nics += 1
            return r
        if kind == "virtual" and target.slot is not None and \
                target.slot >= 0:
            # CALLV through the site's inline cache; the receiver apart
            o, regs = self.receiver_and_args(e)
            r = result()
            self.at(e)
            self.op("CALLV", r, target.slot, o, regs[0] if regs else 0,
                    self.nics)
            self.nics += 1
            return r
        if kind in ("virtual", "super", "native"):
            recv = e.receiver
            has_recv = kind != "native" or target.kind != "static"
            types = list(e.param_types or target.params)
            # a built-in static (Math.max, System.*) has no receiver register
            if has_recv:
                if recv is None:
                    rt = self.this_ty
                elif isinstance(recv, A.Super):
                    rt = self.this_ty
                else:
                    rt = recv.ty
                regs = self.block([rt] + types)
                if recv is None or isinstance(recv, A.Super):
                    self.mov(regs[0], 0)
                else:
                    self.into(recv, regs[0])
            else:
                regs = self.block(types)
            off = 1 if has_recv else 0
            for a, r in zip(e.args, regs[off:]):
                self.into(a, r)
            self.release(*regs)
            r = result()
            self.at(e)
            first = regs[0] if regs else 0
            if kind == "virtual":
                # a method without a vtable slot: a built-in one (CALLN) or a
                # function-like method (CALL); those with one took CALLV
                if target.native_id is not None:
                    self.op("CALLN", r, target.native_id, first)
                else:
                    self.op("CALL", r, target.func_index, first)
            elif target.native_id is not None:
                self.op("CALLN", r, target.native_id, first)
            else:
                self.op("CALL", r, target.func_index, first)
            return r
        if kind == "funcval":
            ft = e.callee.ty
            f = self.expr(e.callee)
            f = self.protect(f, e.args)
            types = list(ft.params) if isinstance(ft, T.FuncType) else \
                [a.ty for a in e.args]
            regs = self.args_block([], types, e.args)
            self.release(f, *regs)
            r = result()
            self.at(e)
            self.op("CALLF", r, f, regs[0] if regs else 0)
            return r
        if kind == "dynamic":
            recv = e.receiver if e.receiver is not None else e.callee.obj
            o = self.value(recv, T.ANY)
            o = self.protect(o, e.args)
            regs = self.args_block([], [T.ANY] * len(e.args), e.args)
            self.release(o, *regs)
            r = -1 if discard else self.dst(want, T.ANY)
            self.at(e)
            # the method name is an index into the string table; CALLA takes
            # the argument count, since the callee is unknown until run time
            name = e.name or getattr(e.callee, "name", "")
            self.op("CALLA", r, o, self.b.string(name), len(regs),
                    regs[0] if regs else 0, self.nics)
            self.nics += 1
            return r
        if kind == "super_ctor":
            sup = target
            self.call_super_ctor(sup, e, None)
            return -1
        raise EmitError(f"line {self.line}: unknown call kind {kind!r}")

    def receiver_and_args(self, e):
        """The receiver of a CALLV or CALLI in a register of its own (a
        local's, `this`'s: no copy) and the arguments in a block after it
        is evaluated, both released.  Like CALLF's Func value, the receiver
        stays apart from the block, so a call on a local costs no move;
        it is copied only when an argument assigns its local (`protect`).
        """
        if e.receiver is None or isinstance(e.receiver, A.Super):
            o = 0
        else:
            o = self.protect(self.expr(e.receiver), e.args)
        types = list(e.param_types or e.target.params)
        regs = self.args_block([], types, e.args)
        self.release(o, *regs)
        return o, regs

    def args_block(self, lead, types, args):
        """A block of registers of `types` holding `args`, evaluated in order.
        """
        regs = self.block(types)
        for a, r in zip(args, regs):
            self.into(a, r)
        return regs

    # ----------------------------------------------------------- branches
    def branch(self, e, label, when: bool):
        """Jump to `label` when boolean `e` evaluates to `when`."""
        saved = self.line
        self.at(e)
        self._branch(e, label, when)
        self.line = saved

    def _branch(self, e, label, when):
        """Emits the jump. Literals jump or fall through; `!` swaps `when`; `&&`
        and `||` short-circuit with a skip label where the first operand alone
        cannot decide; int and boolean comparisons fuse with the jump
        (compare_branch); a comparison with `null` is JNULL/JNNULL; anything
        else is evaluated and tested with JT/JF."""
        if isinstance(e, A.BoolLit):
            if e.value == when:
                self.op("JMP", label)
            return
        if isinstance(e, A.Unary) and e.op == "!":
            self.branch(e.operand, label, not when)
            return
        if isinstance(e, A.Binary):
            op = e.op
            if op in ("&&", "||"):
                # `a && b` jumping when true (or `a || b` when false) needs
                # both: if `a` fails, skip `b`; otherwise either operand alone
                # can take the jump
                short = (op == "&&") == when     # needs a skip label
                if short:
                    skip = Label()
                    self.branch(e.left, skip, not when)
                    self.branch(e.right, label, when)
                    self.bind(skip)
                else:
                    self.branch(e.left, label, when)
                    self.branch(e.right, label, when)
                return
            if op in ("<", "<=", ">", ">=") or (
                    op in ("==", "!=") and isinstance(
                        self._operand_type(e), (T.IntType, T.BoolType))):
                self.compare_branch(e, label, when)
                return
            if op in ("==", "!="):
                eq_when = when if op == "==" else not when
                for a, b in ((e.left, e.right), (e.right, e.left)):
                    if isinstance(b, A.NullLit) and not isinstance(
                            a, A.NullLit):
                        x = self.expr(a)
                        self.release(x)
                        self.at(e)
                        self.op("JNULL" if eq_when else "JNNULL", x, label)
                        return
        r = self.expr(e)
        self.release(r)
        self.op("JT" if when else "JF", r, label)

    # (op, when) -> instruction with operands (a, b) in that order
    _CMP = {("<", True): ("JLT", False), ("<", False): ("JLE", True),
            ("<=", True): ("JLE", False), ("<=", False): ("JLT", True),
            (">", True): ("JLT", True), (">", False): ("JLE", False),
            (">=", True): ("JLE", True), (">=", False): ("JLT", False),
            ("==", True): ("JEQ", False), ("==", False): ("JNE", False),
            ("!=", True): ("JNE", False), ("!=", False): ("JEQ", False)}
    _CMPI = {("<", True): "JLTI", ("<", False): "JGEI",
             ("<=", True): "JLEI", ("<=", False): "JGTI",
             (">", True): "JGTI", (">", False): "JLEI",
             (">=", True): "JGEI", (">=", False): "JLTI",
             ("==", True): "JEQI", ("==", False): "JNEI",
             ("!=", True): "JNEI", ("!=", False): "JEQI"}
    _SWAP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==",
             "!=": "!="}

    def compare_branch(self, e, label, when):
        """A fused compare-and-branch: the immediate forms (JLTI ...) when one
        operand is a 32-bit constant (on the left it swaps the operator), else
        JLT/JLE/JEQ/JNE with the operands in the order _CMP gives."""
        op = e.op
        is_int = isinstance(e.left.ty, T.IntType)
        if is_int:
            k = const_int(e.right)
            if _fits32(k):
                x = self.expr(e.left)
                self.release(x)
                self.at(e)
                self.op(self._CMPI[(op, when)], x, k, label)
                return
            k = const_int(e.left)
            if _fits32(k):
                x = self.expr(e.right)
                self.release(x)
                self.at(e)
                self.op(self._CMPI[(self._SWAP[op], when)], x, k, label)
                return
        x, y = self._two(e.left, e.right, None)
        self.release(x, y)
        name, swap = self._CMP[(op, when)]
        self.at(e)
        if swap:
            self.op(name, y, x, label)
        else:
            self.op(name, x, y, label)


def emit(program, filename=None) -> im.Image:
    """The image of a checked program (an `image.Image`; `image.write`
    gives its bytes)."""
    pe = ProgramEmitter(program, filename)
    img = pe.emit()
    return img


def emit_bytes(program, filename=None) -> bytes:
    """The bytes of the image of a checked program."""
    return im.write(emit(program, filename))
