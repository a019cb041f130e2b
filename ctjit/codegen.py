"""Bytecode -> LLVM IR by context threading (ctjit/README.md).

One LLVM function per K function, `{i64, i64} kjit_f<N>(ptr vm, ptr R)`:
it runs the top frame (whose registers are at R) to its end, pops it and
returns (status, result).  Each bytecode instruction becomes, depending on
the techniques enabled:

  subroutine   a direct call to the VM's handler kop_NAME(vm, R, operands),
               operands as immediates (always, for non-trivial opcodes);
  +branch      branches as native compare-and-branch (otherwise a branch
               handler returns the next pc and a switch dispatches on it);
  +call        CALL as an inline frame push and a direct native call of
               the callee's stub; CALLV the same after selecting the
               target by the receiver's class id (kop_CALLV as the slow
               path); RET/RETV as an inline pop and `ret`;
  +tiny        moves, constants, globals, int arithmetic and compares,
               DIV/MOD, field and element access, CAST/INSTOF to script
               classes and CALLN of natives that only compute a result
               (the handler as the slow path) as IR; registers and the
               budget in SSA values; calls of small leaves inlined
               (InlineLowering, deoptimizing to the interpreter);
  +direct      functions that only compute on ints also get a direct
               version, called without a VM frame (DirectLowering).

Budget: each segment (a run of instructions entered only at its start and
ending at a branch, a return, anything that may run script code, or an
instruction whose handler charges the budget itself) charges its length
on entry; with too little budget left the function continues in the
interpreter from the segment's start, which then stops at exactly the
instruction where the interpreter alone would.  An instruction that throws
in the middle of a segment refunds the instructions after it.  With
+branch only segments entered from elsewhere compare the budget, for the
longest way on through those that only subtract (budget_regions).

Calling convention with the C VM (struct offsets from lkm/core/kjit.h
through layout.py; kops.c checks them against the structs):

  stub         {i64 status, i64 result} kjit_f<N>(ptr vm, ptr R), returned
               in rax:rdx like C's struct kjit_ret; status is KVM_OK 0,
               KVM_THROW 1 (exception in vm->exc, frame popped) or
               KVM_ABORT 2 (frames left for the report);
  handler      i32 kop_NAME(ptr vm, ptr R, i32 operand...) returns a
               status; a conditional branch handler also takes the
               fall-through pc and returns the next pc (JMP: its target);
               kop_RET/kop_RETV pop the frame and return the value (i64);
  runtime      kvm_jit_refill/interp/unwind/poll, kop_throw_div0 (see
               their uses below).

Registers belong to the VM stack, where the collector, the handlers and
the interpreter read them.  Below +tiny every access goes there (TBAA
tags, MEM_CLASSES, tell LLVM that they never overlap objects or struct
kvm).  From +tiny on (self.ssa) a stub keeps them, and the slice's
budget, in allocas that mem2reg makes SSA values, and writes the VM's
copies only where something reads them: before a handler, runtime call
or bail every register the function writes, before a stub call the
written reference registers (the collector's roots; it does not move
objects), and the budget before every call and return; a handler's
destination, the budget and a caught exception's register are read back
after (pre_call, post_call).  A handler that may run script code can
move that stack (it grows by reallocation), so R is kept in a stack slot
(%Rslot, promoted to SSA by LLVM) and recomputed as vm->stack plus the
frame's byte offset %boff after every handler call but a NOTHROW one;
vm->frames is likewise loaded afresh at each use (kop_CALL may push
frames past jit_frames_max, growing the array).

The IR is written as text: the kernel profile needs attributes the
llvmlite IR builder does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from frontend import opcodes as O
from frontend.builtins import signature_params
from frontend.checker import fold_int
from frontend.defs import BUILTINS
from frontend.image import (FIRST_SCRIPT_CLASS, FLAG_LAMBDA, FLAG_METHOD,
                            Image, K_INT, NATIVE_REF,
                            TY_BOOL, TY_CLASS, TY_INT)

from .layout import L

TECHNIQUES = ("branch", "call", "tiny", "direct")

# The opcode sets the lowering relies on, from opcodes.def's flags (its
# header says what each means):
# - RUNS_SCRIPT (s): may run script code, so consume budget: a segment
#   ends after each;
# - CHARGES ($): the handler charges the budget itself (string scans and
#   copies, every allocation): a segment ends after each too, so it sees
#   the interpreter's budget (an exception's allocations charge after the
#   fact: any instruction may throw, see lkm/core/gc.c);
# - NOTHROW (n): neither throws nor allocates: no pc store, no status;
# - TINY (i): emitted as IR in place;
# - BRANCHES: those with a jump target.
RUNS_SCRIPT = frozenset(op.name for op in O.OPCODES if op.runs_script)
CHARGES = frozenset(op.name for op in O.OPCODES if op.charges)
NOTHROW = frozenset(op.name for op in O.OPCODES if op.nothrow)
TINY = frozenset(op.name for op in O.OPCODES if op.tiny)
BRANCHES = frozenset(op.name for op in O.OPCODES if op.branches)
# Tiny with a fast path in IR and the handler as the slow path (it throws).
GUARDED = {"GETF", "SETF", "AGET", "ASET"}
# Functions longer than this (code words) stay in the interpreter: LLVM's
# compile time grows faster than linearly.
MAX_CODE_WORDS = 60000
# A function keeps its registers in SSA values (Lowering.ssa_ok) when its
# written registers times its code words are at most this: each call and
# slow path writes every written register back, so the IR grows with the
# product (a long init with hundreds of registers stays in the VM stack).
SSA_MAX_WORK = 20000
# Instructions a direct function may contain (with CALL only to direct
# functions and LOADK only of int constants).
DIRECT_OPS = ({"NOP", "MOV", "LOADI", "LOADK", "ADD", "SUB", "MUL",
               "ADDI", "BAND", "BOR", "BXOR", "SHL", "SHR", "USHR", "NEG",
               "BNOT", "NOT", "EQ", "NE", "LT", "LE", "DIV", "MOD", "RET",
               "RETV", "CALL"} | BRANCHES) - {"JNULL", "JNNULL"}
# Direct functions have at most this many registers (bounds the native
# frame, by which a chain may pass its stack floor: calls check it).
DIRECT_MAX_REGS = 64
# CALLV sites with more script targets (distinct methods with stubs in the
# slot, among the receiver's static class and its subclasses) than this
# keep the handler: each target is an inline frame push.  8 covers a
# dispatch over a handful of subclasses plus the base (Richards' apply).
CALLV_MAX_TARGETS = 8
# (1.1) Likewise for CALLF: the script functions that Func values of the
# register's type may call (closures, functions, bound methods).
CALLF_MAX_TARGETS = 4
# (1.1) Likewise for CALLI: the script methods that implement the
# interface method in the classes implementing the interface.
CALLI_MAX_TARGETS = 4

# The built-in class String (CAST and INSTOF to it test the object's kind).
STRING_CLASS = BUILTINS.class_by_name["String"].id

# (CALLN) natives that only compute their result from their arguments,
# inlined by +tiny: native id -> name.  Their C versions are in natives.c.
PURE_NATIVES = {BUILTINS.native(c, m).id: f"{c}.{m}"
                for c, m in (("Array", "size"), ("Math", "abs"),
                             ("Math", "min"), ("Math", "max"),
                             ("String", "length"), ("String", "charAt"),
                             ("File", "nonBlocking"))}

# (1.1, CALLN) the stream natives whose common case +tiny emits as IR
# (stream_native): a byte appended to an OutputStream's buffer with room
# left, a byte taken from an InputStream with bytes left, the count of
# an InputStream's bytes left when there are some.  Anything else (no
# room, a bound reached, an invalid or null stream, the end of the
# input) calls the native, which grows, throws or returns -1 or 0.
STREAM_NATIVES = {BUILTINS.native(c, m).id: f"{c}.{m}"
                  for c, m in (("OutputStream", "writeByte"),
                               ("InputStream", "readByte"),
                               ("InputStream", "available"))}



# the stream natives' kinds, which a fast version keeps apart, and the
# field each one moves: writeByte appends at len, readByte takes at pos
STREAM_KINDS = {"OutputStream.writeByte": "w", "InputStream.readByte": "r"}
STREAM_CURSOR = {"w": "OFF_STREAM_LEN", "r": "OFF_STREAM_POS"}


@dataclass
class FastPlan:
    """A loop's fast version (Lowering.plan_fast_loops): the code from
    `head` to `end`; per String.length or charAt call (its pc) the
    register whose String's length is read before the loop; per stream
    native call the kind whose state it uses, and per kind ("w", "r")
    the register holding that stream; per AGET or ASET the register
    whose array's length and elements are read before the loop."""
    head: int
    end: int
    strs: dict[int, int]
    stream_sites: dict[int, str]
    streams: dict[str, int]
    arrays: dict[int, int]


@dataclass
class CountedPlan:
    """A fast version's counted copy (FastLoop.counted_plan): `need`, the
    loop head's budget check, which covers a whole iteration; per charAt,
    AGET or ASET call (its pc) whose index is a counter of the loop, that
    counter's register and the most it grows in an iteration; per stream
    kind ("w", "r"), how many of its calls the loop makes at most in an
    iteration; `fused`, the counter and step of the loop's condition
    when the copy counts its iterations with it (FastLoop.fused_counter),
    else None."""
    need: int
    idx: dict[int, tuple[int, int]]
    streams: dict[str, int]
    fused: tuple[int, int] | None = None


@dataclass
class TablePlan:
    """A counted copy run as a table (FastLoop.table_plan): per byte c
    that the loop's one charAt can read, entries[c] is the byte its one
    writeByte then writes (bits 0-7) and what the iteration charges
    (bits 8-15); `name` is the table's global."""
    site: int
    name: str
    entries: list[int]


# Iterations a table's counted copy runs as one block (table_copy): under
# QEMU's software emulation one translation block instead of eight, and
# one step of the counter and the cursor.  rot13's 4 KiB blocks, K's time
# over C's: 1.25 without, 1.12 with (kprofile --stat, medians of six).
TABLE_UNROLL = 8
# What a tabulated iteration may run besides its charAt, its writeByte
# and its counter (FastLoop.table_plan): moves, constants, int
# arithmetic, compares and forward branches, none with an effect besides
# its register.
TABLE_OPS = frozenset({
    "NOP", "MOV", "LOADI", "ADD", "SUB", "MUL", "DIV", "MOD", "ADDI",
    "BAND", "BOR", "BXOR", "SHL", "SHR", "USHR", "NEG", "BNOT", "NOT",
    "EQ", "NE", "LT", "LE", "JMP", "JT", "JF", "JEQ", "JNE", "JLT", "JLE",
    "JEQI", "JNEI", "JLTI", "JLEI", "JGTI", "JGEI"})
# The source operator of each int instruction a table evaluates (fold_int).
_TABLE_FOLD = {"ADD": "+", "ADDI": "+", "SUB": "-", "MUL": "*", "DIV": "/",
               "MOD": "%", "BAND": "&", "BOR": "|", "BXOR": "^", "SHL": "<<",
               "SHR": ">>", "USHR": ">>>", "EQ": "==", "NE": "!=", "LT": "<",
               "LE": "<="}


def _native_arity(n: int) -> tuple[bool, int]:
    """(has a receiver, argument count with it) of native n, as the VM's
    kvm_native_nargs() counts them: methods and constructors get their
    receiver first."""
    nat = BUILTINS.natives[n]
    recv = nat.kind in ("METHOD", "CTOR")
    return recv, len(signature_params(nat.signature)) + (1 if recv else 0)


def native_symbol(n: int) -> str:
    """The C function of native n, as natives.c names and exports it
    from builtins.def: nat_<Owner>_<name>."""
    nat = BUILTINS.natives[n]
    return f"nat_{nat.owner}_{nat.name}"


def _stream_call(op, ops) -> bool:
    """A CALLN of a STREAM_NATIVES native: only its slow path (the
    native) may take budget, and it checks again after it."""
    return op.name == "CALLN" and ops[1] in STREAM_NATIVES


def _pure_call(op, ops) -> bool:
    """A CALLN of a PURE_NATIVES native: it neither runs script code nor
    looks at the budget (it only throws, for a null receiver or a bad
    index, which refunds the rest of its segment as a failing GETF does),
    so it does not end its segment."""
    return op.name == "CALLN" and ops[1] in PURE_NATIVES


# Memory classes of the loads and stores that stubs make themselves, as
# TBAA tags (metadata ids): accesses of two classes never touch the same
# bytes, so LLVM may keep a register's value in a machine register across
# a field or element store, or an object's field across a budget update.
#   reg    the VM register stack (vm->stack: one allocation of its own)
#   vm     struct kvm's fields and the frames array (vm->frames)
#   hdr    object headers: kind, class id, an array's length and element
#          pointer, a string's length and bytes (stubs never store there;
#          handlers, which may, are calls, and a call may touch any memory)
#   field  an instance's field slots (after its header)
#   elem   an array's elements (vm-allocated, apart from headers)
#   stream (1.1) an OutputStream's or InputStream's fields (struct kstream)
#   sbuf   the bytes of a stream's buffer (the device layer's allocation)
# Anything else (globals, Func values, direct code's slots) has no tag and
# may alias everything.
MEM_CLASSES = {"reg": 31, "vm": 32, "hdr": 33, "field": 34, "elem": 35,
               "stream": 36, "sbuf": 37}

# struct kjit_ret (status, value) of a stub, and (value, budget left) of a
# direct function: two i64s come back in rax:rdx.
RET_T = "{ i64, i64 }"
COLD = "!prof !0"      # branch weights: the second successor is hot
HOT_FIRST = "!prof !1"  # the first successor is hot


class Unsupported(Exception):
    """A function the JIT leaves to the interpreter."""


@dataclass
class Options:
    """The context-threading techniques enabled (all by default); with none
    the lowering is plain subroutine threading."""
    branch: bool = True
    call: bool = True
    tiny: bool = True
    direct: bool = True
    # leaf callees inlined (InlineLowering): part of +tiny, which it
    # needs together with +call and +branch; `-inline` after a level
    # turns it off (for the ablation)
    inline: bool = True
    # loops with a fast version (FastLoop): part of +tiny likewise;
    # `-fastloop` turns it off
    fastloop: bool = True
    # a fast version's counted copy (FastLoop.counted_plan); `-counted`
    # turns it off
    counted: bool = True
    # a counted copy that maps bytes run as a table (FastLoop.table_plan);
    # `-tabulate` turns it off
    tabulate: bool = True

    @classmethod
    def parse(cls, spec: str) -> "Options":
        """`subroutine`, `+branch`, `+call`, `+tiny`, `+direct`
        (cumulative, as in the paper's table, plus direct calls), `all`,
        or a comma list of technique names; any of them followed by
        `-inline` leaves callees out of line, by `-fastloop` gives no
        loop a fast version, by `-counted` no fast version a counted
        copy, by `-tabulate` no counted copy a table (any of them may
        follow, in any order)."""
        spec = (spec or "all").strip()
        off = set()
        while True:
            for tail in ("-inline", "-fastloop", "-counted", "-tabulate"):
                if spec.endswith(tail):
                    off.add(tail[1:])
                    spec = spec[:-len(tail)].strip()
                    break
            else:
                break
        opts = cls._parse(spec or "all")
        full = opts.branch and opts.call and opts.tiny
        opts.inline = "inline" not in off and full
        opts.fastloop = "fastloop" not in off and full
        opts.counted = "counted" not in off and opts.fastloop
        opts.tabulate = "tabulate" not in off and opts.counted
        return opts

    @classmethod
    def _parse(cls, spec: str) -> "Options":
        ladder = {"subroutine": 0, "sub": 0, "+branch": 1, "branch": 1,
                  "+call": 2, "call": 2, "+tiny": 3, "tiny": 3,
                  "+direct": 4, "direct": 4, "all": 4}
        if spec in ladder:
            n = ladder[spec]
            return cls(branch=n >= 1, call=n >= 2, tiny=n >= 3,
                       direct=n >= 4)
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        bad = [p for p in parts if p not in TECHNIQUES]
        if bad:
            raise ValueError(f"unknown context-threading level `{spec}` "
                             f"(subroutine, +branch, +call, +tiny, "
                             f"+direct or all)")
        if "direct" in parts and not {"branch", "call", "tiny"} <= \
                set(parts):
            raise ValueError("`direct` needs branch, call and tiny")
        return cls(branch="branch" in parts, call="call" in parts,
                   tiny="tiny" in parts, direct="direct" in parts)

    def label(self) -> str:
        on = [t for t in TECHNIQUES if getattr(self, t)]
        full = self.tiny and self.call and self.branch
        off = ("-inline" if full and not self.inline else "") + \
            ("-fastloop" if full and not self.fastloop else "") + \
            ("-counted" if full and self.fastloop and not self.counted
             else "") + \
            ("-tabulate" if full and self.counted and not self.tabulate
             else "")
        return "subroutine" + "".join("+" + t for t in on) + off


def decode(code: list[int]) -> list[tuple[int, O.Opcode, list[int]]]:
    """(pc, opcode, operand words) per instruction.  The code is trusted to
    be well formed: stubs only ever run for an image the VM verified (its
    digest binds them), and a bad opcode here is a KeyError."""
    out, pc = [], 0
    while pc < len(code):
        op = O.BY_NUMBER[code[pc]]
        out.append((pc, op, code[pc + 1:pc + op.size]))
        pc += op.size
    return out


def handler_params(op: O.Opcode) -> list[str]:
    """The IR parameter types of kop_NAME: vm, R, one i32 per operand word,
    and for a conditional branch the fall-through pc."""
    params = ["ptr", "ptr"] + ["i32"] * len(op.operands)
    if op.name in BRANCHES and op.name != "JMP":
        params.append("i32")          # the fall-through pc
    return params


def handler_ret(op: O.Opcode) -> str:
    """kop_RET and kop_RETV return the result value; the others a status
    (or, for branches, the next pc)."""
    return "i64" if op.name in ("RET", "RETV") else "i32"


class _Fn:
    """IR text of one function under construction.  `tmp` numbers values
    from one counter per function, so every name (and the labels built
    from a fresh number) is unique within it."""

    def __init__(self):
        self.lines: list[str] = []
        self.n = 0
        # allocas of inlined callees' registers, put in the entry block
        # (where mem2reg promotes them)
        self.allocas: list[str] = []
        # whether the allocas of direct_native's argument block are there
        self.native_block = False

    def tmp(self, hint="t") -> str:
        self.n += 1
        return f"%{hint}{self.n}"

    def emit(self, text: str):
        self.lines.append("  " + text)

    def label(self, name: str):
        self.lines.append(f"{name}:")


@dataclass
class ModuleIR:
    """The module's IR text, and per function whether it has a stub."""
    text: str
    compiled: list[bool] = field(default_factory=list)   # per function
    fallback: dict[int, str] = field(default_factory=dict)  # index -> why


class Lowering:
    """Lowers one K function to one LLVM function, the stub kjit_f<N>.

    `compiled` says which functions have stubs (calls to the others go
    through their handler), `direct` which have a direct version, `used`
    collects the external symbols referenced, shared by the whole module so
    generate() declares each once.  Per function, after segment(): insns,
    the segment starts and lengths, and `remaining[pc]`, the instructions
    after pc in its segment."""

    def __init__(self, img: Image, index: int, opts: Options,
                 compiled: list[bool], used: set[str],
                 direct: list[bool] | None = None,
                 direct_stack: int = L["DIRECT_STACK_USER"]):
        self.img = img
        self.direct = direct or [False] * len(img.functions)
        # the most registers of a direct function (bounds a chain's
        # frames when it reruns with frames)
        self.direct_maxregs = max(
            [len(f.regs) for i, f in enumerate(img.functions)
             if self.direct[i]] + [1])
        self.direct_stack = direct_stack
        self.index = index
        self.fn = img.functions[index]
        self.opts = opts
        self.compiled = compiled
        self.used = used            # handler/runtime symbols referenced
        self.mem_of: dict[str, str] = {}  # pointer -> its MEM_CLASSES key
        self.f = _Fn()
        self.pfx = ""               # label prefix (InlineLowering's own)
        self.ssa = False            # registers and budget in SSA values
        self.written = {v for _, op, ops in decode(self.fn.code)
                        for l, v in zip(op.operands, ops) if l == "A"
                        and v >= 0}
        self.refs = {i for i, t in enumerate(self.fn.regs)
                     if img.types[t][0] not in (TY_INT, TY_BOOL)}
        # loops with a fast version (plan_fast_loops): head -> FastPlan,
        # and the pcs of their bodies, where the fast version may leave
        self.fast: dict[int, "FastPlan"] = {}
        self.fast_pcs: set[int] = set()

    # ---- helpers ---------------------------------------------------------

    def e(self, text):
        self.f.emit(text)

    def t(self, hint="t"):
        return self.f.tmp(hint)

    def field_ptr(self, base: str, off: int) -> str:
        """A pointer `off` bytes into `base` (no instruction for 0)."""
        if off == 0:
            return base
        p = self.t("p")
        self.e(f"{p} = getelementptr inbounds i8, ptr {base}, i64 {off}")
        return p

    def load(self, ty: str, ptr: str, hint="v", mem=None) -> str:
        """A load at the natural alignment of the C field it reads;
        `mem` names its memory class (TBAA), found from the pointer when
        vm_field or frame_field made it."""
        v = self.t(hint)
        al = 8 if ty in ("i64", "ptr") else 4 if ty == "i32" else 1
        self.e(f"{v} = load {ty}, ptr {ptr}, align {al}{self.tbaa(ptr, mem)}")
        return v

    def tbaa(self, ptr: str, mem) -> str:
        """The `!tbaa` of an access: MEM_CLASSES says why accesses of two
        classes never overlap.  No class: the access may alias anything."""
        mem = mem or self.mem_of.get(ptr)
        return f", !tbaa !{MEM_CLASSES[mem]}" if mem else ""

    def load_expr(self, ty: str, ptr: str) -> str:
        """The right-hand side of a load (for a named result); only used
        for i64 fields, hence align 8."""
        return f"load {ty}, ptr {ptr}, align 8"

    def t_ashr(self, v: str, n: int) -> str:
        r = self.t("sh")
        self.e(f"{r} = ashr i64 {v}, {n}")
        return r

    def store(self, ty: str, val, ptr: str, mem=None):
        al = 8 if ty in ("i64", "ptr") else 4 if ty == "i32" else 1
        self.e(f"store {ty} {val}, ptr {ptr}, align {al}"
               f"{self.tbaa(ptr, mem)}")

    def vm_field(self, name: str) -> str:
        p = self.field_ptr("%vm", L[f"OFF_VM_{name}"])
        if p != "%vm":
            self.mem_of[p] = "vm"
        return p

    def R(self) -> str:
        """The current register base (never cached across handler calls:
        see reload_R)."""
        r = self.t("R")
        self.e(f"{r} = load ptr, ptr %Rslot, align 8")
        return r

    def reg_ptr(self, reg: int) -> str:
        r = self.R()
        p = self.t("r")
        self.e(f"{p} = getelementptr inbounds i64, ptr {r}, i64 {reg}")
        return p

    # Registers are i64 slots of the VM stack (union kvalue): ints and
    # booleans as values, references as pointers, null as 0.
    def get(self, reg: int) -> str:
        if self.ssa:
            return self.load("i64", f"%reg{reg}", "x")
        return self.load("i64", self.reg_ptr(reg), "x", mem="reg")

    def put(self, reg: int, val):
        if self.ssa:
            self.store("i64", val, f"%reg{reg}")
        else:
            self.store("i64", val, self.reg_ptr(reg), mem="reg")

    def mem_get(self, reg: int) -> str:
        return self.load("i64", self.reg_ptr(reg), "x", mem="reg")

    def mem_put(self, reg: int, val):
        self.store("i64", val, self.reg_ptr(reg), mem="reg")

    # ---- registers and budget in SSA values (self.ssa) -------------------
    #
    # With +call, +branch and +tiny, a stub keeps its registers in allocas
    # and the budget of the current slice in %budslot (SSA values after
    # mem2reg: machine registers), and makes the VM's copies exact only
    # where something else reads them:
    # - before a call of a handler or the runtime (pre_call(full=True)):
    #   among the registers the function ever writes (self.written; the
    #   others still hold what the frame started with), those the
    #   handler reads or writes (handler_reads: for a call, its run of
    #   arguments; none for a native called through its table, which
    #   reads its own block), the written reference registers, and the
    #   budget;
    # - before a call of a stub or of the interpreter for another frame
    #   (full=False): the reference registers it writes, which the
    #   collector marks, and the budget (the callee charges it);
    # - before a bail to the interpreter: the written registers live
    #   where it takes over (liveness) and the written references;
    # - before a return: the budget.
    # After a call (post_call) the budget is read back, and the registers
    # the call wrote (a handler's A operands); a stub's result comes back
    # as a value.  The unwinder writes a handler's exception register,
    # read back at the handler target.  The collector does not move
    # objects, so a reference kept in a machine register across a call
    # stays valid, and the VM's copy equals it whenever the collector
    # may run: it marks exactly what the interpreter's registers hold.

    def ssa_ok(self) -> bool:
        """Whether this function keeps its registers in SSA values: the
        inline techniques are on, and each handler target receives its
        exception in one register (read back there)."""
        if not (self.opts.branch and self.opts.call and self.opts.tiny):
            return False
        # every call and slow path writes the written registers back:
        # bounded, as the IR (and LLVM's time) grows with the product
        if len(self.written) * len(self.fn.code) > SSA_MAX_WORK:
            return False
        regs: dict[int, set[int]] = {}
        for h in self.fn.handlers:
            regs.setdefault(h.target, set()).add(h.register)
        return all(len(r) == 1 for r in regs.values())

    def pre_call(self, full: bool = True, reads=None):
        """full: the written reference registers and those among `reads`
        (default: what the current instruction's handler may read,
        handler_reads); else the written reference registers only.

        The VM's copy of an int register is read by nothing but the
        handler of the instruction at hand (its operands, and the run of
        arguments of a call); after it the stub goes on with its SSA
        values, and at a handler target the unwinder has written only the
        exception register.  The interpreter reads the others where it
        takes over the frame (a bail: tails() writes every register live
        there)."""
        if not self.ssa:
            return
        if full and reads is None:
            reads = self.handler_reads(self.cur_pc)
        self.store("i64", self.load("i64", "%budslot", "bud"),
                   self.vm_field("BUDGET"))
        regs = [r for r in sorted(self.written)
                if r in self.refs or (full and (reads is None or
                                                r in reads))]
        if regs:
            R = self.R()
            for r in regs:
                p = self.t("r")
                self.e(f"{p} = getelementptr inbounds i64, ptr {R}, "
                       f"i64 {r}")
                self.store("i64", self.get(r), p, mem="reg")

    def handler_reads(self, pc: int, dests: bool = True) -> set[int]:
        """The registers the handler of the instruction at pc (kop_NAME,
        or the VM function a call's slow path calls) may read or leave
        unwritten for post_call to read back: its r operands; with
        `dests`, its A operands where a handler of this function covers
        pc (a handler that throws leaves them as they were, and post_call
        takes them back for the handler target; else it writes them or
        the frame ends); for a CALLN or CALL the callee's arguments, and
        for the other instructions that take a run of registers (calls,
        RTOS, NEWARRV, CLOSURE) every register from their lowest r operand
        on.  A call's destination may be one of its own arguments (the
        emitter reuses a temporary): it is read then, before the call
        writes it."""
        _, op, ops = self.insn_at[pc]
        kinds = "rA" if dests and any(h.start <= pc < h.end
                                      for h in self.fn.handlers) else "r"
        regs = {v for l, v in zip(op.operands, ops)
                if l in kinds and v >= 0}
        if op.name == "CALLN":
            _, nargs = _native_arity(ops[1])
            regs |= set(range(ops[2], ops[2] + nargs))
        elif op.name == "CALL":
            nargs = _nargs(self.img, self.img.functions[ops[1]])
            regs |= set(range(ops[2], ops[2] + nargs))
        elif "N" in op.operands or op.name in RUNS_SCRIPT:
            low = min((v for l, v in zip(op.operands, ops) if l == "r"),
                      default=len(self.fn.regs))
            regs |= set(range(low, len(self.fn.regs)))
        return regs

    def liveness(self) -> dict[int, set[int]]:
        """The registers live on entry to each instruction: read before
        they are written on some path from it.  A handler target's live
        registers but its exception register are live at every
        instruction its range covers that may throw, before that
        instruction's own write (a failing instruction leaves its
        destination as it was)."""
        uses, defs, succ, exc = {}, {}, {}, {}
        for pc, op, ops in self.insns:
            uses[pc] = {v for l, v in zip(op.operands, ops)
                        if l == "r" and v >= 0}
            if op.name == "CALLN" or "N" in op.operands or \
                    op.name in RUNS_SCRIPT:
                uses[pc] |= self.handler_reads(pc, dests=False)
            defs[pc] = {v for l, v in zip(op.operands, ops)
                        if l == "A" and v >= 0}
            nxt = self.next_pc[pc]
            succ[pc] = []
            if op.name in BRANCHES:
                succ[pc].append(ops[-1])
            if op.name == "SWITCH":
                q = nxt
                for _ in range(ops[2]):
                    if q is None:
                        break
                    succ[pc].append(self.insn_at[q][2][-1])
                    q = self.next_pc[q]
            if op.name not in O.TERMINATORS and nxt is not None:
                succ[pc].append(nxt)
            exc[pc] = [] if op.name in NOTHROW else [
                (h.target, h.register) for h in self.fn.handlers
                if h.start <= pc < h.end]
        live: dict[int, set[int]] = {pc: set() for pc in uses}
        changed = True
        while changed:
            changed = False
            for pc, _, _ in reversed(self.insns):
                out = set()
                for t in succ[pc]:
                    out |= live[t]
                new = uses[pc] | (out - defs[pc])
                for t, r in exc[pc]:
                    new |= live[t] - {r}
                if new != live[pc]:
                    live[pc] = new
                    changed = True
        return live

    def post_call(self, dests=()):
        if not self.ssa:
            return
        self.store("i64", self.load("i64", self.vm_field("BUDGET"), "bud"),
                   "%budslot")
        for r in dests:
            if r >= 0:
                self.put(r, self.mem_get(r))

    def bud_sync_out(self):
        if self.ssa:
            self.store("i64", self.load("i64", "%budslot", "bud"),
                       self.vm_field("BUDGET"))

    def bud_sync_in(self):
        if self.ssa:
            self.store("i64", self.load("i64", self.vm_field("BUDGET"),
                                        "bud"), "%budslot")

    def bud_get(self) -> str:
        """The slice's budget left (vm->budget, or its SSA value)."""
        if self.ssa:
            return self.load("i64", "%budslot", "bud")
        return self.load("i64", self.vm_field("BUDGET"), "bud")

    def bud_put(self, v):
        if self.ssa:
            self.store("i64", v, "%budslot")
        else:
            self.store("i64", v, self.vm_field("BUDGET"))

    def get_arg(self, reg: int) -> str:
        """R[reg] read for a callee's argument register.  A volatile load:
        LLVM would otherwise merge the copies of consecutive argument
        registers into one 16-byte load and store, and the load, spanning
        the two 8-byte stores the caller's MOVs just made, cannot be
        forwarded from them (a stall of the order of a call's whole cost;
        the receiver and first argument of every method call)."""
        v = self.t("x")
        self.e(f"{v} = load volatile i64, ptr {self.reg_ptr(reg)}, align 8"
               f"{self.tbaa('', 'reg')}")
        return v

    def call_args(self, b: int, c: int, n: int) -> list[str]:
        """The n arguments of a CALLV or CALLI target, the receiver R[b]
        then R[c..c+n-1), for push_and_call(args=...), read in the target's
        block as CALLF's are.  Plain loads, unlike get_arg's: LLVM replaces
        them with the values the caller's MOVs just stored there, so an
        argument goes straight to the callee's register, with no
        store-to-load round trip on the way (the accumulator of a loop of
        method calls went through two of those per call, a lambda's
        through one).  The receiver is apart from the block, so the pair
        get_arg's comment fears (the receiver and the first argument,
        merged into one wide load) is not adjacent any more.  Each target
        reads its own count: a site typed by a built-in class lists every
        script class's slot, and those of unrelated hierarchies (never
        the receiver's class at run time) may take other counts."""
        return [self.get(b)] + [self.get(c + i) for i in range(n - 1)]

    def reload_R(self):
        """R := vm->stack + %boff, after a call that may have moved the
        register stack (it grows by reallocation).  The frame's offset in
        it never changes, only its base."""
        s = self.load("ptr", "%vm", "stk")
        r = self.t("R")
        self.e(f"{r} = getelementptr inbounds i8, ptr {s}, i64 %boff")
        self.store("ptr", r, "%Rslot")

    def frame_field(self, off: int) -> str:
        """A field of this function's frame, vm->frames[%fi]; the array is
        loaded afresh each time, as it may have been reallocated."""
        frames = self.load("ptr", self.vm_field("FRAMES"), "frs")
        p = self.t("fp")
        self.e(f"{p} = getelementptr inbounds i8, ptr {frames}, i64 %froff")
        q = self.field_ptr(p, off)
        self.mem_of[q] = "vm"
        return q

    def save_pc(self, pc: int):
        """Stores pc in the frame before anything that may fail: unwinding
        searches handlers at the frame's pc, and traces and abort reports
        print its line, exactly as for the interpreter."""
        self.store("i32", pc, self.frame_field(L["OFF_FRAME_PC"]))

    def call_handler(self, name: str, args: list, ret="i32") -> str:
        """A call of an external VM function, recorded for its declaration."""
        self.used.add(name)
        v = self.t("h")
        argtxt = ", ".join(args)
        self.e(f"{v} = call {ret} @{name}({argtxt})")
        return v

    def exc_site(self, st: str, k: int) -> str:
        """A block that refunds k instructions and unwinds with status st
        (an i32 value); returns its label.  k is the number of
        instructions of the segment after the failing one: charged on
        entry, never run.  The blocks are emitted by tails()."""
        lab = f"exc{self.f.tmp('')[1:]}"
        self.exc_sites.append((lab, st, k))
        return lab

    def check_status(self, st: str, k: int):
        """Goes on in a new block if st is KVM_OK, else to an exception
        site refunding k.  Calls pass k = 0: a call ends its segment."""
        bad = self.t("bad")
        self.e(f"{bad} = icmp ne i32 {st}, 0")
        ok = f"ok{self.f.tmp('')[1:]}"
        self.e(f"br i1 {bad}, label %{self.exc_site(st, k)}, label %{ok}, "
               f"{COLD}")
        self.f.label(ok)

    # ---- structure -------------------------------------------------------

    def segment(self):
        """Decodes the function and cuts it into budget segments:
        self.insns, next_pc, leaders, seg_start, seglen, remaining.

        A segment starts at pc 0, at every jump target and handler target,
        and after every branch, terminator, call (RUNS_SCRIPT) or
        self-charging instruction (CHARGES).  Each segment is entered only
        at its start and charges its whole length there.  The invariant
        that makes the budget exact: wherever the budget is looked at
        (a callee running, a handler charging) the segment has reached
        its last instruction, so the budget equals what the interpreter,
        charging one instruction at a time, would have.  An instruction
        that throws earlier refunds the rest of its segment (exc_site);
        the exception's own allocation is charged after the fact."""
        insns = decode(self.fn.code)
        self.insns = insns
        self.insn_at = {pc: (pc, op, ops) for pc, op, ops in insns}
        pcs = [pc for pc, _, _ in insns]
        self.next_pc = {pcs[i]: (pcs[i + 1] if i + 1 < len(pcs) else None)
                        for i in range(len(pcs))}
        self.prev_pc = {pcs[i]: (pcs[i - 1] if i else None)
                        for i in range(len(pcs))}
        self.jump_targets: set[int] = set()     # plan_fast_loops
        leaders = {0}
        seg_start = {0}
        for pc, op, ops in insns:
            nxt = self.next_pc[pc]
            if op.name in BRANCHES:
                leaders.add(ops[-1])
                if nxt is not None:
                    leaders.add(nxt)
            elif (op.name in O.TERMINATORS or op.name in CHARGES or
                  (op.name in RUNS_SCRIPT and not _pure_call(op, ops))):
                if nxt is not None:
                    leaders.add(nxt)
        for h in self.fn.handlers:
            leaders.add(h.target)
        seg_start |= leaders
        self.leaders = sorted(leaders)
        self.handler_targets = sorted({h.target for h in self.fn.handlers})
        # segment lengths
        seglen: dict[int, int] = {}
        remaining: dict[int, int] = {}   # instructions after pc in segment
        cur, run = None, []
        for pc, _, _ in insns:
            if pc in seg_start:
                if cur is not None:
                    seglen[cur] = len(run)
                    for i, p in enumerate(run):
                        remaining[p] = len(run) - i - 1
                cur, run = pc, []
            run.append(pc)
        if cur is not None:
            seglen[cur] = len(run)
            for i, p in enumerate(run):
                remaining[p] = len(run) - i - 1
        self.seglen, self.remaining = seglen, remaining
        self.seg_start = seg_start
        # budget_regions() fills these for a stub; inlined and direct
        # code check every segment
        self.unchecked: set[int] = set()
        self.check_need: dict[int, int] = {}
        self.longest: dict[int, int] = {}

    def budget_regions(self):
        """Segments that only subtract their length, the checks before
        them covering it.

        A segment is checked (a head) when it is the entry, a handler or
        switch target, the target of a backward branch (a loop head), has
        no predecessor, or comes after a segment ending in something that
        may take budget itself (a call, a charging instruction; a stream
        native's slow path checks again, stream_native).  Every other
        segment is entered only forward and only from segments that take
        nothing but their own lengths, so any path reaching it passed a
        head's check without a budget change in between but charges.  A
        head checks for need[H], the longest path from it through
        unchecked segments (forward only, so finite), refilling the slice
        as a segment does, the interpreter from H when the call's budget
        has less; then it charges its own length.  Every segment still
        charges its length on entry, so the budget any call or handler
        sees is unchanged, it never goes below zero in an unchecked
        segment, and a run that cannot go on stops in the interpreter at
        the exact instruction."""
        segs = sorted(self.seg_start)
        last = {}            # segment start -> its last instruction
        start = 0
        for pc, op, ops in self.insns:
            start = pc if pc in self.seg_start else start
            last[start] = (pc, op, ops)
        heads = {0} | set(self.handler_targets)
        succ: dict[int, list[int]] = {s: [] for s in segs}
        for s in segs:
            pc, op, ops = last[s]
            nxt = self.next_pc[pc]
            if op.name == "SWITCH":
                # the targets of its table are reached from it directly
                heads.add(ops[-1])
                q = nxt
                for _ in range(ops[2]):
                    if q is None:
                        break
                    heads.add(self.insn_at[q][2][-1])
                    q = self.next_pc[q]
                continue
            if op.name in BRANCHES:
                succ[s].append(ops[-1])
            if op.name not in O.TERMINATORS and nxt is not None:
                succ[s].append(nxt)
        preds: dict[int, list[int]] = {s: [] for s in segs}
        for s in segs:
            for t in succ[s]:
                preds[t].append(s)
        for t in segs:
            if not preds[t]:
                heads.add(t)
            for p in preds[t]:
                _, op, ops = last[p]
                # (a stream native checks again only as stream_native,
                # with +tiny)
                rechecks = self.opts.tiny and _stream_call(op, ops)
                if (p >= t or op.name in CHARGES or
                        (op.name in RUNS_SCRIPT and not _pure_call(op, ops)
                         and not rechecks)):
                    heads.add(t)
        unchecked = set(segs) - heads
        # the longest path from each segment through unchecked ones
        longest: dict[int, int] = {}
        for t in reversed(segs):
            more = [longest[u] for u in succ[t] if u in unchecked]
            longest[t] = self.seglen[t] + max(more, default=0)
        self.unchecked = unchecked
        self.check_need = {h: longest[h] for h in heads
                           if h in longest and longest[h] > self.seglen[h]}
        self.longest = longest

    # ---- loops with a fast version (Options.fastloop) ----------------------

    def plan_fast_loops(self):
        """The loops that get a fast version (FastLoop): an innermost loop,
        the code from a backward branch's target H to the last backward
        branch to H, all of whose instructions have an inline form that
        calls nothing (moves, arithmetic, globals, field and element
        access, branches but SWITCH, pure and stream natives), with no
        handler target in it, and in which a String's length, a stream's
        state or an array's length and elements can be read once before
        the loop (FastPlan)."""
        ends: dict[int, int] = {}
        table = set()                 # a SWITCH's JMP table
        for pc, op, ops in self.insns:
            if op.name == "SWITCH":
                q = self.next_pc[pc]
                for _ in range(ops[2]):
                    if q is None:
                        break
                    table.add(q)
                    q = self.next_pc[q]
            elif op.name in BRANCHES and ops[-1] <= pc:
                ends[ops[-1]] = max(ends.get(ops[-1], pc), pc)
        targets = set(self.handler_targets)
        for pc, op, ops in self.insns:
            if op.name in BRANCHES:
                targets.add(ops[-1])
        self.jump_targets = targets
        for h, e in ends.items():
            if any(h < h2 <= e for h2 in ends) or \
                    any(h <= t <= e for t in self.handler_targets):
                continue
            body = [x for x in self.insns if h <= x[0] <= e]
            if any(pc in table or not self.fast_ok(op, ops)
                   for pc, op, ops in body):
                continue
            plan = self.fast_plan(h, e, body)
            if plan:
                self.fast[h] = plan
                self.fast_pcs |= {pc for pc, _, _ in body}

    def fast_ok(self, op, ops) -> bool:
        """Whether an instruction's inline form in a fast version calls
        nothing (its slow path leaves the fast version instead)."""
        name = op.name
        if name == "SWITCH":
            return False
        if name in BRANCHES:
            return True
        if name == "LOADK":
            # tiny() leaves the other constants to the handler
            return self.img.constants[ops[1]][0] == K_INT
        if name in TINY:
            # pure IR, or a slow path that throws (a null, a bound, a
            # division by zero)
            return True
        # (available reads the cursor that a fast loop keeps aside for
        # readByte: a loop calling it has no fast version)
        return name == "CALLN" and (
            ops[1] in PURE_NATIVES or
            STREAM_NATIVES.get(ops[1]) in STREAM_KINDS)

    def fast_plan(self, h: int, e: int, body) -> "FastPlan | None":
        """What the fast version of the loop h..e reads before it: the
        length of each String register (never written in the loop) that
        a String.length or charAt there is called on; per stream kind,
        the stream register all its writeByte (readByte) calls there are
        made on, if there is one; the length and elements of each array
        register an AGET or ASET there indexes (only a native, never in
        the loop, changes them).  None when there is nothing to read."""
        written = {v for _, op, ops in body
                   for l, v in zip(op.operands, ops) if l == "A" and v >= 0}
        strs: dict[int, int] = {}        # CALLN pc -> its String register
        arrays: dict[int, int] = {}      # AGET/ASET pc -> its array
        streams: dict[str, set] = {"w": set(), "r": set()}
        sites: dict[str, dict[int, int]] = {"w": {}, "r": {}}
        for pc, op, ops in body:
            if op.name in ("AGET", "ASET"):
                x = self.invariant_value(
                    pc, ops[1] if op.name == "AGET" else ops[0], h, written)
                if x is not None:
                    arrays[pc] = x
                continue
            if op.name != "CALLN":
                continue
            x = self.invariant_value(pc, ops[2], h, written)
            name = PURE_NATIVES.get(ops[1]) or STREAM_NATIVES[ops[1]]
            if name in ("String.length", "String.charAt"):
                if x is not None:
                    strs[pc] = x
            elif name in STREAM_KINDS:
                k = STREAM_KINDS[name]
                streams[k].add(x)
                sites[k][pc] = x
        hoist = {k: next(iter(v)) for k, v in streams.items()
                 if len(v) == 1 and None not in v}
        if not strs and not hoist and not arrays:
            return None
        return FastPlan(h, e, strs,
                        {pc: k for k in hoist for pc in sites[k]}, hoist,
                        arrays)

    def invariant_value(self, pc: int, reg: int, h: int,
                        written: set[int]) -> int | None:
        """A register not written in the loop (from h) whose value reg
        holds at pc on every path: reg itself when the loop never writes
        it, else the source of a MOV into reg before pc in the same
        straight run of code (no jump target between, pc included).
        None when there is none."""
        if reg not in written:
            return reg
        cur = pc
        while cur > h and cur not in self.jump_targets:
            q = self.prev_pc[cur]
            if q is None or q < h:
                return None
            _, op, ops = self.insn_at[q]
            if op.name in O.TERMINATORS or op.name == "JMP":
                return None
            dests = [v for l, v in zip(op.operands, ops) if l == "A"]
            if reg in dests:
                if op.name == "MOV" and ops[1] not in written:
                    return ops[1]
                return None
            cur = q
        return None

    def lower(self) -> list[str]:
        """The IR lines of the stub.  Raises Unsupported for a function
        the JIT leaves to the interpreter."""
        code = self.fn.code
        if len(code) > MAX_CODE_WORDS:
            raise Unsupported(f"{len(code)} code words (limit "
                              f"{MAX_CODE_WORDS})")
        self.segment()
        if self.opts.branch:
            self.budget_regions()
        self.exc_sites: list[tuple[str, str, int]] = []
        self.bail_sites: list[tuple[str, int]] = []

        f = self.f
        # Entry: the caller pushed this function's frame, so it is the top
        # one; %fi is its index and %froff its byte offset in vm->frames,
        # %boff the byte offset of its registers in the VM stack.  All
        # three stay valid while the arrays move.
        f.label("entry")
        self.e("%Rslot = alloca ptr, align 8")
        self.e("store ptr %R0, ptr %Rslot, align 8")
        stk = self.load("ptr", "%vm", "stk")
        self.e(f"%stk.i = ptrtoint ptr {stk} to i64")
        self.e("%R0.i = ptrtoint ptr %R0 to i64")
        self.e("%boff = sub i64 %R0.i, %stk.i")
        nf = self.load("i32", self.vm_field("NFRAMES"), "nf")
        self.e(f"%fi = sub i32 {nf}, 1")
        self.e("%fi64 = zext i32 %fi to i64")
        self.e(f"%froff = mul i64 %fi64, {L['SIZEOF_FRAME']}")
        self.ssa = self.ssa_ok()
        if self.ssa:
            # the frame starts with the arguments and zeros
            nargs = _nargs(self.img, self.fn)
            for i in range(len(self.fn.regs)):
                self.e(f"%reg{i} = alloca i64, align 8")
                self.put(i, self.mem_get(i) if i < nargs else 0)
            self.e("%budslot = alloca i64, align 8")
            self.store("i64", self.load("i64", self.vm_field("BUDGET"),
                                        "bud"), "%budslot")
        self.e("br label %L0")
        if self.ssa and self.opts.fastloop:
            self.plan_fast_loops()
        self.body()
        for plan in self.fast.values():
            FastLoop(self, plan).emit()
        self.tails()
        f.lines[1:1] = ["  " + a for a in f.allocas]
        name = f"kjit_f{self.index}"
        return [f"define internal {RET_T} @{name}(ptr %vm, ptr %R0) #0 {{",
                *f.lines, "}"]

    def closed(self) -> bool:
        """Whether the current block already ends in a terminator."""
        last = self.f.lines[-1]
        return last.startswith(("  br ", "  ret ", "  switch ",
                                "  unreachable"))

    def body(self):
        """The instructions, a block L<pc> at every segment start (the only
        places control enters from elsewhere), charging on entry."""
        for pc, op, ops in self.insns:
            if pc in self.seg_start:
                if not self.closed():
                    self.e(f"br label %{self.L(pc)}")
                self.f.label(self.L(pc))
                if pc in self.fast:
                    # the loop's fast version, entered here each time
                    # (fastloop); this version of the loop from Lg<pc>
                    self.e(f"br label %fl{pc}_pre")
                    self.f.label(f"Lg{pc}")
                self.enter_segment(pc)
            if pc in self.fast_pcs:
                # where the fast version leaves, its segment charged
                if not self.closed():
                    self.e(f"br label %I{pc}")
                self.f.label(f"I{pc}")
            self.cur_pc = pc
            self.instr(pc, op, ops)
        # falling off the end is impossible (verifier); close the last block
        if not self.closed():
            self.e("unreachable")

    def enter_segment(self, pc: int):
        """The budget on entry to segment pc: its length subtracted where
        a head's check covered it (budget_regions), else charged, a head
        checking for its region's longest path."""
        if pc in self.unchecked:
            self.subtract(self.seglen[pc])
        elif pc in self.check_need:
            self.charge(pc, self.seglen[pc], self.check_need[pc])
        else:
            self.charge(pc, self.seglen[pc])

    def charge(self, pc: int, n: int, need: int | None = None):
        """A segment of n instructions charges them on entry.  When the
        slice (vm->budget) has less, kvm_jit_refill polls for signals
        and moves the next slice over; when the call's budget has less
        (or it was killed), the segment runs in the interpreter, which
        stops at the exact instruction.  A loop head checks for `need`,
        its region's longest path (budget_regions), instead of n.

        The budget is read again after the refill (which moved the next
        slice into vm->budget) before the segment's length is taken off."""
        body = f"{self.pfx}S{pc}"
        self.check(pc, need or n, body, f"{self.pfx}refill{pc}")
        self.f.label(body)
        self.subtract(n)

    def check(self, pc: int, need: int, go: str, refill: str):
        """On to go when the budget holds need, moving the next slice
        over (kvm_jit_refill, which also polls) when the slice has less;
        else to the interpreter from segment pc.  Charges nothing."""
        b = self.bud_get()
        ok = self.t("bok")
        self.e(f"{ok} = icmp sge i64 {b}, {need}")
        lab = self.bail_label(pc)
        self.e(f"br i1 {ok}, label %{go}, label %{refill}, {HOT_FIRST}")
        self.f.label(refill)
        self.used.add("kvm_jit_refill")
        r = self.t("r")
        # the refill reads the budget, and no register
        self.bud_sync_out()
        self.e(f"{r} = call i1 @kvm_jit_refill(ptr %vm, i64 {need})")
        self.bud_sync_in()
        self.e(f"br i1 {r}, label %{go}, label %{lab}, {HOT_FIRST}")

    def subtract(self, n: int):
        """Takes a segment's length off the budget, unchecked."""
        b = self.bud_get()
        nb = self.t("bud")
        self.e(f"{nb} = sub i64 {b}, {n}")
        self.bud_put(nb)

    def bail_label(self, pc: int) -> str:
        """Where a segment at pc goes when its budget cannot be charged:
        the interpreter, from the segment's start (tails)."""
        lab = f"bail{pc}"
        self.bail_sites.append((lab, pc))
        return lab

    def L(self, pc: int) -> str:
        """The label of the block at segment start pc."""
        return f"{self.pfx}L{pc}"

    def tails(self):
        """Bail-outs, exception paths and returns shared by the function.

        bail: the segment that could not be charged runs, with the rest of
        the function, in the interpreter from its start (pc stored in the
        frame first); kvm_jit_interp returns the frame's result as the
        stub's own, so it is tail-called.  exc: one block for every
        failing site, which passes its status and refund through phis.
        dispatch (subroutine threading of branches only): the next pc a
        branch handler returned, switched over the segment starts."""
        f = self.f
        live = self.liveness() if self.ssa and self.bail_sites else {}
        for lab, pc in self.bail_sites:
            f.label(lab)
            self.pre_call(full=True, reads=live[pc] if self.ssa else None)
            self.e(f"br label %bail")
        if self.bail_sites:
            f.label("bail")
            phi = ", ".join(f"[ {pc}, %{lab} ]" for lab, pc in self.bail_sites)
            self.e(f"%bpc = phi i32 {phi}")
            self.store("i32", "%bpc", self.frame_field(L["OFF_FRAME_PC"]))
            self.used.add("kvm_jit_interp")
            self.e(f"%bres = tail call {RET_T} @kvm_jit_interp(ptr %vm)")
            self.e(f"ret {RET_T} %bres")
        if self.exc_sites:
            for lab, st, k in self.exc_sites:
                f.label(lab)
                self.e("br label %exc")
            f.label("exc")
            sphi = ", ".join(f"[ {st}, %{lab} ]"
                             for lab, st, k in self.exc_sites)
            kphi = ", ".join(f"[ {k}, %{lab} ]"
                             for lab, st, k in self.exc_sites)
            self.e(f"%est = phi i32 {sphi}")
            self.e(f"%ek = phi i64 {kphi}")
            # a throw refunds the instructions of the segment after
            # it (the exception's allocations may have taken the budget
            # below zero: the handler's segment then stops where the
            # interpreter would); an abort leaves the budget as it is
            bp = self.vm_field("BUDGET")
            b = self.load("i64", bp, "bud")
            self.e("%isabort = icmp eq i32 %est, 2")
            nb = self.t("bud")
            self.e(f"{nb} = add i64 {b}, %ek")
            sel = self.t("bud")
            self.e(f"{sel} = select i1 %isabort, i64 {b}, i64 {nb}")
            self.store("i64", sel, bp)
            self.e("br i1 %isabort, label %ret_abort, label %unwind")
            # kvm_jit_unwind: the interpreter's unwinding step for this
            # frame: the handler target covering its pc, or -1 after
            # popping the frame and adding the trace line
            f.label("unwind")
            self.used.add("kvm_jit_unwind")
            self.e("%tgt = call i32 @kvm_jit_unwind(ptr %vm)")
            self.reload_R()
            if self.ssa:
                # the exception register, written by the unwinder
                cases = " ".join(f"i32 {t}, label %uw{t}"
                                 for t in self.handler_targets)
                self.e(f"switch i32 %tgt, label %ret_throw [ {cases} ]")
                for t in self.handler_targets:
                    f.label(f"uw{t}")
                    self.post_call({h.register for h in self.fn.handlers
                                    if h.target == t})
                    self.e(f"br label %L{t}")
            else:
                cases = " ".join(f"i32 {t}, label %L{t}"
                                 for t in self.handler_targets)
                self.e(f"switch i32 %tgt, label %ret_throw [ {cases} ]")
            f.label("ret_throw")
            self.e(f"ret {RET_T} {{ i64 1, i64 0 }}")
            f.label("ret_abort")
            self.e(f"ret {RET_T} {{ i64 2, i64 0 }}")
        if getattr(self, "need_dispatch", False):
            f.label("dispatch")
            cases = " ".join(f"i32 {t}, label %L{t}" for t in self.leaders)
            self.e(f"switch i32 %dpc, label %dead [ {cases} ]")
            f.label("dead")
            self.e("unreachable")
            # %dpc is a phi over the branch sites
            idx = f.lines.index("dispatch:")
            phi = ", ".join(f"[ {v}, %{lab} ]" for lab, v in self.dispatch_in)
            f.lines.insert(idx + 1, f"  %dpc = phi i32 {phi}")

    # ---- instructions ----------------------------------------------------

    def instr(self, pc: int, op: O.Opcode, ops: list[int]):
        """One instruction, by the most specific technique enabled; each
        inline form falls back to the handler call (generic)."""
        name = op.name
        if name in BRANCHES:
            return self.branch(pc, op, ops)
        if name in ("RET", "RETV"):
            return self.ret(op, ops)
        if name == "CALL" and self.opts.call and self.compiled[ops[1]]:
            return self.inline_call(pc, ops)
        if name == "CALLV" and self.opts.call:
            if self.inline_callv(pc, ops):
                return
        if name == "CALLF" and self.opts.call:
            if self.inline_callf(pc, ops):
                return
        if name == "CALLI" and self.opts.call:
            if self.inline_calli(pc, ops):
                return
        if self.opts.tiny and name in TINY:
            if self.tiny(pc, name, ops):
                return
        if self.opts.tiny and name in ("CAST", "INSTOF"):
            if self.cast(pc, op, ops):
                return
        if self.opts.tiny and name == "CALLN" and ops[1] in PURE_NATIVES:
            return self.pure_native(pc, op, ops)
        if self.opts.tiny and name == "CALLN" and ops[1] in STREAM_NATIVES:
            return self.stream_native(pc, op, ops)
        if self.opts.tiny and self.ssa and name == "CALLN":
            return self.direct_native(pc, op, ops)
        self.generic(pc, op, ops)

    def generic(self, pc, op, ops):
        """Subroutine threading: a call of kop_NAME with the operands as
        immediates.  A NOTHROW instruction neither fails nor allocates, so
        it needs no pc store, no status check and no reload of R."""
        throws = op.name not in NOTHROW
        if throws:
            self.save_pc(pc)
        # the handler reads its r operands (and, for those that take a
        # run of registers, e.g. natives' arguments, any of them); its A
        # operands are read back after it, so the VM's copies must hold
        # their values too: a handler that throws leaves them as they
        # were, and a handler target here may read them
        self.pre_call(full=True, reads=self.handler_reads(pc))
        args = ["ptr %vm", f"ptr {self.R()}"] + [f"i32 {v}" for v in ops]
        st = self.call_handler(f"kop_{op.name}", args)
        if throws:
            self.reload_R()
        self.post_call([v for l, v in zip(op.operands, ops) if l == "A"])
        if throws:
            self.check_status(st, self.remaining[pc])

    def branch(self, pc, op, ops):
        """A branch.  Without +branch the handler returns the next pc and
        the function's dispatch switch jumps there; each call gets its own
        block so the dispatch phi has one distinct edge per site.  With
        +branch: the compare inline (a reference is null when 0)."""
        nxt = self.next_pc[pc]
        target = ops[-1]
        if not self.opts.branch:
            args = ["ptr %vm", f"ptr {self.R()}"] + [f"i32 {v}" for v in ops]
            if op.name != "JMP":
                args.append(f"i32 {nxt}")
            v = self.call_handler(f"kop_{op.name}", args)
            self.need_dispatch = True
            lab = f"d{self.f.tmp('')[1:]}"
            self.e(f"br label %{lab}")
            self.f.label(lab)
            self.dispatch_in = getattr(self, "dispatch_in", [])
            self.dispatch_in.append((lab, v))
            self.e("br label %dispatch")
            return
        if op.name == "JMP":
            self.e(f"br label %{self.L(target)}")
            return
        if op.name == "SWITCH":
            return self.switch(pc, ops)
        c = self.branch_cond(op, ops)
        self.e(f"br i1 {c}, label %{self.L(target)}, "
               f"label %{self.L(nxt)}")

    def branch_cond(self, op, ops) -> str:
        """The i1 on which a conditional branch (not JMP or SWITCH) goes
        to its target."""
        n = op.name
        a = self.get(ops[0])
        c = self.t("c")
        if n in ("JT", "JF", "JNULL", "JNNULL"):
            pred = "ne" if n in ("JT", "JNNULL") else "eq"
            self.e(f"{c} = icmp {pred} i64 {a}, 0")
        else:
            pred = {"JEQ": "eq", "JNE": "ne", "JLT": "slt", "JLE": "sle",
                    "JEQI": "eq", "JNEI": "ne", "JLTI": "slt", "JLEI": "sle",
                    "JGTI": "sgt", "JGEI": "sge"}[n]
            self.e(f"{c} = icmp {pred} i64 {a}, "
                   f"{self.branch_operand(op, ops)}")
        return c

    def branch_operand(self, op, ops) -> str:
        """The second operand of a compare-and-branch: a register's value,
        or the immediate of the I forms."""
        if op.name in ("JEQ", "JNE", "JLT", "JLE"):
            return self.get(ops[1])
        return str(ops[1])

    def switch(self, pc, ops):
        """(1.1) SWITCH A lo n default: an LLVM switch on R[A] whose k-th
        case is the target of the k-th JMP of the table that follows
        (opcodes.def).  Those targets and the default are jump targets,
        so segment starts: the budget is charged as in the interpreter,
        one unit here and the target's segment on arrival.  The table's
        JMPs themselves never run."""
        a = self.get(ops[0])
        lo, n, dflt = ops[1], ops[2], ops[3]
        table = self.next_pc[pc]
        code = self.fn.code
        cases = " ".join(f"i64 {lo + k}, label "
                         f"%{self.L(code[table + 2 * k + 1])}"
                         for k in range(n))
        self.e(f"switch i64 {a}, label %{self.L(dflt)} [ {cases} ]")

    def ret(self, op, ops):
        """Return (status KVM_OK, value).  With +call the pop is inline:
        this frame is the top one, so nframes becomes its index."""
        if self.opts.call:
            v = self.get(ops[0]) if op.name == "RET" else "0"
            self.bud_sync_out()
            self.store("i32", "%fi", self.vm_field("NFRAMES"))
        else:
            args = ["ptr %vm", f"ptr {self.R()}"] + [f"i32 {x}" for x in ops]
            v = self.call_handler(f"kop_{op.name}", args, ret="i64")
        r = self.t("ret")
        self.e(f"{r} = insertvalue {RET_T} {{ i64 0, i64 0 }}, i64 {v}, 1")
        self.e(f"ret {RET_T} {r}")

    def inline_call(self, pc, ops):
        """CALL of a function with a stub: its direct version when it has
        one and may be entered, else an inline frame push and a call of
        its stub, else (bounds reached) kop_CALL."""
        a, g, b = ops
        k = self.f.tmp('')[1:]
        slow, join = f"ps{k}", f"pj{k}"
        if self.opts.direct and self.direct[g] and not self.inlinable(g):
            self.direct_entry(pc, g, a, b, k, join)
        self.save_pc(pc)
        self.push_and_call(g, a, b, slow, join)
        self.call_slow_path("kop_CALL", a, g, b, slow, join)

    def direct_entry(self, pc, g, a, b, k, join):
        """A call of direct function g from frame code: its direct entry
        with the stack floor and the budget; the result into R[a].  If
        the direct code gives up (budget, depth, stack or a division by
        zero: it has no side effects, and the budget is only stored on
        success) the call is run again with frames by kop_CALL, with
        direct calls off below it (vm->jit_nodirect), so it aborts or
        throws exactly as the interpreter would.  While jit_nodirect is
        set, or when the depth limit allows no frame, calls go on to the
        frame path."""
        nd = self.load("i32", self.vm_field("JIT_NODIRECT"), "nd")
        c = self.t("c")
        self.e(f"{c} = icmp eq i32 {nd}, 0")
        dt, dk, dr, df = (f"{x}{k}" for x in ("dt", "dk", "dr", "df"))
        self.e(f"br i1 {c}, label %{dt}, label %{df}, {HOT_FIRST}")
        self.f.label(dt)
        # rd frames left under the depth limit: none, and the frame path
        # aborts; else the floor is the higher of the stack the profile
        # allows and 8 bytes (a return address) per frame after the
        # first, so that a chain deeper than rd always reaches it
        nf = self.load("i32", self.vm_field("NFRAMES"), "nf")
        dep = self.load("i32", self.vm_field("DEPTH"), "dep")
        nf64, dep64, rd = self.t("nf"), self.t("dep"), self.t("rd")
        rd0 = self.t("rd")
        self.e(f"{nf64} = zext i32 {nf} to i64")
        self.e(f"{dep64} = zext i32 {dep} to i64")
        self.e(f"{rd0} = sub i64 {dep64}, {nf64}")
        # and as many as the register stack has room for: the frames
        # would take at most maxregs values each (vm->stack_max
        # bounds the interpreter's stack; a deeper chain reruns with
        # frames and aborts where the interpreter does)
        top, room_v, rd1 = self.t("top"), self.t("rv"), self.t("rd")
        rb = self.t("rb")
        self.e(f"{rb} = ptrtoint ptr {self.R()} to i64")
        sb = self.t("sb")
        self.e(f"{sb} = ptrtoint ptr {self.load('ptr', self.vm_field('STACK'), 'st')} to i64")
        self.e(f"{top} = sub i64 {rb}, {sb}")
        smax = self.load("i32", self.vm_field("STACK_MAX"), "smax")
        smax64 = self.t("smax")
        self.e(f"{smax64} = zext i32 {smax} to i64")
        used = self.t("used")
        self.e(f"{used} = add i64 {self.t_ashr(top, 3)}, {len(self.fn.regs)}")
        self.e(f"{room_v} = sub i64 {smax64}, {used}")
        self.e(f"{rd1} = sdiv i64 {room_v}, {self.direct_maxregs}")
        self.e(f"{rd} = call i64 @llvm.smin.i64(i64 {rd0}, i64 {rd1})")
        room, go = self.t("c"), f"dg{k}"
        self.e(f"{room} = icmp sgt i64 {rd}, 0")
        self.e(f"br i1 {room}, label %{go}, label %{df}, {HOT_FIRST}")
        self.f.label(go)
        sp, fl1, fl2, rd8 = (self.t(x) for x in ("sp", "fl", "fl", "rd"))
        self.e(f"{sp} = call i64 @llvm.read_register.i64(metadata !20)")
        # the stack the profile allows below here, but never below the
        # floor anchored to the stack's base (vm->stack_floor)
        fl0, sfl = self.t("fl"), self.t("sfl")
        self.e(f"{fl0} = sub i64 {sp}, {self.direct_stack}")
        self.e(f"{sfl} = {self.load_expr('i64', self.vm_field('STACK_FLOOR'))}")
        self.e(f"{fl1} = call i64 @llvm.umax.i64(i64 {fl0}, i64 {sfl})")
        self.e(f"{rd8} = shl i64 {rd}, 3")
        self.e(f"{fl2} = sub i64 {sp}, {rd8}")
        fl2b = self.t("fl")
        self.e(f"{fl2b} = add i64 {fl2}, 8")
        fl = self.t("fl")
        self.e(f"{fl} = call i64 @llvm.umax.i64(i64 {fl1}, i64 {fl2b})")
        # direct code gets the call's whole budget (slice and rest): it
        # polls by itself every slice (DirectLowering.charge)
        bud = self.bud_get()
        rest = self.load("i64", self.vm_field("BUDGET_REST"), "rest")
        tot = self.t("tot")
        self.e(f"{tot} = add i64 {bud}, {rest}")
        args = [f"i64 {self.get(b + i)}"
                for i in range(_nargs(self.img, self.img.functions[g]))]
        res = self.t("res")
        self.e(f"{res} = notail call {RET_T} @kjit_d{g}(i64 {fl}, "
               f"i64 {tot}{''.join(', ' + x for x in args)})")
        nb, bad = self.t("bud"), self.t("c")
        self.e(f"{nb} = extractvalue {RET_T} {res}, 1")
        self.e(f"{bad} = icmp slt i64 {nb}, 0")
        self.e(f"br i1 {bad}, label %{dr}, label %{dk}, {COLD}")
        self.f.label(dk)
        # split what is left again: the rest stays, unless less is left
        nsl, pos, b2, r2 = (self.t(x) for x in ("bud", "c", "bud", "rest"))
        self.e(f"{nsl} = sub i64 {nb}, {rest}")
        self.e(f"{pos} = icmp sgt i64 {nsl}, 0")
        self.e(f"{b2} = select i1 {pos}, i64 {nsl}, i64 0")
        self.e(f"{r2} = select i1 {pos}, i64 {rest}, i64 {nb}")
        self.bud_put(b2)
        self.store("i64", r2, self.vm_field("BUDGET_REST"))
        if a >= 0:
            v = self.t("v")
            self.e(f"{v} = extractvalue {RET_T} {res}, 0")
            self.put(a, v)
        self.e(f"br label %{join}")
        self.f.label(dr)
        self.save_pc(pc)
        ndp = self.vm_field("JIT_NODIRECT")
        n0 = self.load("i32", ndp, "nd")
        n1 = self.t("nd")
        self.e(f"{n1} = add i32 {n0}, 1")
        self.store("i32", n1, ndp)
        self.pre_call(full=True)
        st = self.call_handler("kop_CALL", ["ptr %vm", f"ptr {self.R()}",
                                            f"i32 {a}", f"i32 {g}",
                                            f"i32 {b}"])
        n2 = self.load("i32", ndp, "nd")
        n3 = self.t("nd")
        self.e(f"{n3} = sub i32 {n2}, 1")
        self.store("i32", n3, ndp)
        self.reload_R()
        self.post_call([a])
        self.check_status(st, 0)
        self.e(f"br label %{join}")
        self.f.label(df)

    def call_slow_path(self, handler, a, x, b, slow, join):
        """Block `slow`: the call through its handler (which pushes the frame
        and runs the callee, stub or interpreter), then on to `join`."""
        self.f.label(slow)
        self.pre_call(full=True)
        st = self.call_handler(handler, ["ptr %vm", f"ptr {self.R()}",
                                         f"i32 {a}", f"i32 {x}", f"i32 {b}"])
        self.reload_R()
        self.post_call([a])
        self.check_status(st, 0)
        self.e(f"br label %{join}")
        self.f.label(join)

    def push_and_call(self, g, a, b, slow, join, args=None):
        """The frame of script function g (which has a stub) pushed inline,
        arguments R[b..] (or the IR values `args`), and a direct call of
        its stub; the result into
        R[a].  Branches to slow when the frame index reaches
        jit_frames_max or the stack is too small, to join when done."""
        # The callee's registers start right after ours (R + my_nregs):
        # its base, in values, is our base plus our register count.
        callee = self.img.functions[g]
        nregs_c = len(callee.regs)
        nargs_c = _nargs(self.img, callee)
        my_nregs = len(self.fn.regs)
        nf = self.load("i32", self.vm_field("NFRAMES"), "nf")
        lim = self.load("i32", self.vm_field("JIT_FRAMES_MAX"), "lim")
        cap = self.load("i32", self.vm_field("STACK_CAP"), "scap")
        c1, c3, c5 = (self.t("c") for _ in range(3))
        # the frame index must stay below jit_frames_max (<= the depth
        # limit; frames_cap covers it): else the handler pushes the frame,
        # aborting at the depth limit, and runs it (in the interpreter
        # past the native levels)
        self.e(f"{c1} = icmp uge i32 {nf}, {lim}")
        cb = self.t("cb")
        self.e(f"{cb} = lshr i64 %boff, 3")
        cb2 = self.t("cb")
        self.e(f"{cb2} = add i64 {cb}, {my_nregs}")
        need = self.t("need")
        self.e(f"{need} = add i64 {cb2}, {nregs_c}")
        cap64 = self.t("cap")
        self.e(f"{cap64} = zext i32 {cap} to i64")
        self.e(f"{c3} = icmp ugt i64 {need}, {cap64}")
        self.e(f"{c5} = or i1 {c1}, {c3}")
        # and the C stack must be above the VM's floor (the stack's base
        # plus its reserve): else the handler runs the callee in the
        # interpreter, which does not recurse on the C stack
        self.used.add("read_register")
        sp, sfl, c6, c7 = (self.t(x) for x in ("sp", "sfl", "c", "c"))
        self.e(f"{sp} = call i64 @llvm.read_register.i64(metadata !20)")
        self.e(f"{sfl} = {self.load_expr('i64', self.vm_field('STACK_FLOOR'))}")
        self.e(f"{c6} = icmp ult i64 {sp}, {sfl}")
        self.e(f"{c7} = or i1 {c5}, {c6}")
        c5 = c7
        fast = f"pf{self.f.tmp('')[1:]}"
        self.e(f"br i1 {c5}, label %{slow}, label %{fast}, {COLD}")
        self.f.label(fast)
        if args is None:
            args = [self.get(b + i) if self.ssa else self.get_arg(b + i)
                    for i in range(nargs_c)]
        if self.inlinable(g):
            InlineLowering(self, g, a, nf, cb2, join, args).emit()
            return
        self.push_frame(g, nf, cb2, 0)
        # Zero the callee's non-argument registers (they start as 0/null,
        # lkm/image.md, and the collector scans them), then copy the
        # arguments; ours and the callee's registers do not overlap.
        R = self.R()
        rc = self.t("Rc")
        self.e(f"{rc} = getelementptr inbounds i64, ptr {R}, i64 {my_nregs}")
        for i in range(nargs_c, nregs_c):
            p = self.t("r")
            self.e(f"{p} = getelementptr inbounds i64, ptr {rc}, i64 {i}")
            self.store("i64", 0, p, mem="reg")
        for i in range(nargs_c):
            v = args[i]
            p = self.t("r")
            self.e(f"{p} = getelementptr inbounds i64, ptr {rc}, i64 {i}")
            self.store("i64", v, p, mem="reg")
        # the callee's stub runs its frame to the end and pops it
        res = self.t("res")
        self.pre_call(full=False)
        self.e(f"{res} = call {RET_T} @kjit_f{g}(ptr %vm, ptr {rc})")
        self.reload_R()
        self.post_call()
        st = self.t("st")
        self.e(f"{st} = extractvalue {RET_T} {res}, 0")
        st32 = self.t("st")
        self.e(f"{st32} = trunc i64 {st} to i32")
        self.check_status(st32, 0)
        if a >= 0:
            v = self.t("v")
            self.e(f"{v} = extractvalue {RET_T} {res}, 1")
            self.put(a, v)
        self.e(f"br label %{join}")

    def push_frame(self, g: int, nf: str, cb: str, pc):
        """Pushes the frame of script function g at index nf (an i32
        value: vm->nframes), its registers at value cb of the stack, its
        pc at pc (a number, or an i64 value).  Its ret_reg, ret_mode and entry are read only for
        frames the interpreter pushed (a frame pushed here runs
        natively, or in kvm_jit_interp as an entry frame)."""
        frames = self.load("ptr", self.vm_field("FRAMES"), "frs")
        nf64 = self.t("nf")
        self.e(f"{nf64} = zext i32 {nf} to i64")
        off = self.t("off")
        self.e(f"{off} = mul i64 {nf64}, {L['SIZEOF_FRAME']}")
        fp = self.t("fp")
        self.e(f"{fp} = getelementptr inbounds i8, ptr {frames}, i64 {off}")
        funcs = self.load("ptr", self.vm_field("FUNCS"), "fns")
        fnp = self.t("fn")
        self.e(f"{fnp} = getelementptr inbounds i8, ptr {funcs}, i64 "
               f"{g * L['SIZEOF_FUNC']}")
        self.store("ptr", fnp, self.field_ptr(fp, L["OFF_FRAME_FN"]))
        # base and pc in one store
        assert L["OFF_FRAME_PC"] == L["OFF_FRAME_BASE"] + 4
        cbm = self.t("cb")
        self.e(f"{cbm} = and i64 {cb}, 4294967295")
        if isinstance(pc, str):
            sh = self.t("pc")
            self.e(f"{sh} = shl i64 {pc}, 32")
            cbp = self.t("cb")
            self.e(f"{cbp} = or i64 {cbm}, {sh}")
            cbm = cbp
        elif pc:
            cbp = self.t("cb")
            self.e(f"{cbp} = or i64 {cbm}, {pc << 32}")
            cbm = cbp
        bp = self.field_ptr(fp, L['OFF_FRAME_BASE'])
        self.e(f"store i64 {cbm}, ptr {bp}, align 4")
        nf1 = self.t("nf")
        self.e(f"{nf1} = add i32 {nf}, 1")
        self.store("i32", nf1, self.vm_field("NFRAMES"))

    def inlinable(self, g: int) -> bool:
        """Whether a call of g from this function is inlined
        (InlineLowering): not from an inlined body, not recursive, and g
        a small leaf (inline_leaves)."""
        return (self.opts.inline and not self.pfx and g != self.index and
                self.compiled[g] and inline_leaves(self.img)[g])

    def callv_targets(self, s: int, recv: int) -> dict[int, list[int]]:
        """Vtable slot s of every script class whose method there has a
        stub and that may be the class of receiver register `recv`:
        target function -> class ids.  The image is fixed (its digest
        binds the stubs), so these are all the script targets.

        A slot number means a method only within one hierarchy, so the
        classes are those of the register's static class and its
        subclasses (script_subclasses); without them every unrelated
        hierarchy's slot s would count as a target and most sites would
        pass CALLV_MAX_TARGETS.  The switch on the class id stays the
        guard: a class left out takes kop_CALLV."""
        out: dict[int, list[int]] = {}
        under = script_subclasses(self.img, self.fn.regs[recv])
        for i, c in enumerate(self.img.classes):
            if s >= len(c.vtable):
                continue
            if under is not None and FIRST_SCRIPT_CLASS + i not in under:
                continue
            ref = c.vtable[s]
            if ref & NATIVE_REF or not self.compiled[ref]:
                continue
            out.setdefault(ref, []).append(FIRST_SCRIPT_CLASS + i)
        return out

    def inline_callv(self, pc, ops) -> bool:
        """CALLV: the receiver's class id selects the target among the
        script methods in slot s (direct calls of their stubs, frames
        pushed inline); a null receiver, a native method, a method
        without a stub or the native nesting bound go to kop_CALLV."""
        # The receiver's kind is checked before its class id: struct kobj's
        # cls is meaningful only for some kinds, and only instances
        # (KO_INSTANCE) can be of a script class.
        a, s, b, c, q = ops
        targets = self.callv_targets(s, b)
        if not targets or len(targets) > CALLV_MAX_TARGETS:
            return False
        self.save_pc(pc)
        k = self.f.tmp('')[1:]
        slow, join = f"vs{k}", f"vj{k}"
        o = self.get(b)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        nn = f"vn{k}"
        self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
        self.f.label(nn)
        labels = {g: f"vt{k}_{g}" for g in targets}
        # The register's static class is a script class, and it and
        # every subclass (all script classes) have the same method with
        # a stub in slot s: a receiver that is not null can only be one
        # of them (the verifier typed the register; the image is closed),
        # so that method is the target, with no class test (with +tiny,
        # which also decides casts by the class hierarchy).
        under = script_subclasses(self.img, self.fn.regs[b])
        if self.opts.tiny and len(targets) == 1 and \
                under == set(*targets.values()):
            self.e(f"br label %{labels[next(iter(targets))]}")
        else:
            self.class_switch(o, f"vk{k}", slow, [
                (c, labels[g]) for g, cs in targets.items() for c in cs])
        for g in targets:
            self.f.label(labels[g])
            args = self.call_args(b, c, _nargs(self.img,
                                               self.img.functions[g]))
            self.push_and_call(g, a, None, slow, join, args=args)
        self.f.label(slow)
        self.pre_call(full=True)
        st = self.call_handler("kop_CALLV", ["ptr %vm", f"ptr {self.R()}"]
                               + [f"i32 {x}" for x in ops])
        self.reload_R()
        self.post_call([a])
        self.check_status(st, 0)
        self.e(f"br label %{join}")
        self.f.label(join)
        return True

    def class_switch(self, o: str, ki: str, slow: str,
                     cases: list[tuple[int, str]]):
        """Branches on the class of the reference o (not null): to the
        label of its class id in cases, or to slow for any other class
        and for an object that is not an instance (struct kobj's cls is
        meaningful only for some kinds, and only instances can be of a
        script class).  ki names the block that reads the class id.  The
        receiver dispatch of CALLV and CALLI and the casts share it."""
        op = self.t("o")
        self.e(f"{op} = inttoptr i64 {o} to ptr")
        kind = self.load("i8", self.field_ptr(op, L["OFF_OBJ_KIND"]), "kd",
                         mem="hdr")
        inst = self.t("c")
        self.e(f"{inst} = icmp eq i8 {kind}, {L['KO_INSTANCE']}")
        self.e(f"br i1 {inst}, label %{ki}, label %{slow}, {HOT_FIRST}")
        self.f.label(ki)
        cls = self.load("i32", self.field_ptr(op, L["OFF_OBJ_CLS"]), "cls",
                        mem="hdr")
        text = " ".join(f"i32 {c}, label %{lab}" for c, lab in cases)
        self.e(f"switch i32 {cls}, label %{slow} [ {text} ]")

    def inline_calli(self, pc, ops) -> bool:
        """(1.1) CALLI as CALLV: the receiver's class id selects the
        target among the script methods that implement the interface
        method (calli_targets: the image is fixed, so these are all of
        them), each frame pushed inline and its stub called directly.  A
        site with one target is a monomorphic guard and a direct call.  A
        null receiver, a class with a native method there (inherited from
        a built-in class), a method without a stub or the native nesting
        bound go to kop_CALLI, which keeps the site's inline cache."""
        a, t, i, b, c, q = ops
        targets = {g: cs for g, cs in calli_targets(
            self.img, self.img.types[t][1], i).items() if self.compiled[g]}
        if not targets or len(targets) > CALLI_MAX_TARGETS:
            return False
        self.save_pc(pc)
        k = self.f.tmp('')[1:]
        slow, join = f"is{k}", f"ij{k}"
        o = self.get(b)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        nn = f"in{k}"
        self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
        self.f.label(nn)
        labels = {g: f"it{k}_{g}" for g in targets}
        self.class_switch(o, f"ik{k}", slow, [
            (c, labels[g]) for g, cs in targets.items() for c in cs])
        for g in targets:
            self.f.label(labels[g])
            args = self.call_args(b, c, _nargs(self.img,
                                               self.img.functions[g]))
            self.push_and_call(g, a, None, slow, join, args=args)
        self.f.label(slow)
        self.pre_call(full=True)
        st = self.call_handler("kop_CALLI", ["ptr %vm", f"ptr {self.R()}"]
                               + [f"i32 {x}" for x in ops])
        self.reload_R()
        self.post_call([a])
        self.check_status(st, 0)
        self.e(f"br label %{join}")
        self.f.label(join)
        return True

    def inline_callf(self, pc, ops) -> bool:
        """(1.1) CALLF as CALLV: the Func value's function index selects
        the target among the script functions Func values of this type
        may call (callf_targets), each pushed inline and its stub called
        directly, with what the value passes first (a bound method's
        receiver, a closure's captured values: kopi_callf_lead) before
        R[c..].  A null value, a native target, a target without a stub
        or the native nesting bound go to kop_CALLF."""
        a, b, c = ops
        ftype = self.fn.regs[b]
        targets = [g for g in callf_targets(self.img).get(ftype, ())
                   if self.compiled[g]]
        if not targets or len(targets) > CALLF_MAX_TARGETS:
            return False
        nparams = len(self.img.types[ftype][2])
        self.save_pc(pc)
        k = self.f.tmp('')[1:]
        slow, join = f"fs{k}", f"fj{k}"
        o = self.get(b)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        nn = f"fn{k}"
        self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
        self.f.label(nn)
        op = self.t("o")
        self.e(f"{op} = inttoptr i64 {o} to ptr")
        fi = self.load("i32", self.field_ptr(op, L["OFF_FN_FUNC"]), "fnidx")
        labels = {g: f"ft{k}_{g}" for g in targets}
        cases = " ".join(f"i32 {g}, label %{labels[g]}" for g in targets)
        self.e(f"switch i32 {fi}, label %{slow} [ {cases} ]")
        for g in targets:
            self.f.label(labels[g])
            callee = self.img.functions[g]
            lead = []
            if callee.flags & FLAG_METHOD:
                lead.append(self.load(
                    "i64", self.field_ptr(op, L["OFF_FN_RECV"]), "rv"))
            elif callee.flags & FLAG_LAMBDA:
                for j in range(_nargs(self.img, callee) - nparams):
                    lead.append(self.load("i64", self.field_ptr(
                        op, L["OFF_FN_CAP"] + 8 * j), "cv"))
            args = lead + [self.get(c + i) for i in range(nparams)]
            self.push_and_call(g, a, None, slow, join, args=args)
        self.call_slow_path("kop_CALLF", a, b, c, slow, join)
        return True

    # ---- shared pieces of the inline forms (and of FastLoop's) -----------

    def load_len(self, op_: str, off: int) -> str:
        """The i32 length at op_ + off (a String's, an array's) as an
        i64."""
        ln = self.load("i32", self.field_ptr(op_, off), "len", mem="hdr")
        v = self.t("len")
        self.e(f"{v} = zext i32 {ln} to i64")
        return v

    def string_byte(self, op_: str, i: str) -> str:
        """Byte i (checked) of the String at op_, 0..255, as an i64."""
        p = self.t("p")
        self.e(f"{p} = getelementptr inbounds i8, ptr {op_}, "
               f"i64 {L['OFF_STR_B']}")
        q = self.t("p")
        self.e(f"{q} = getelementptr inbounds i8, ptr {p}, i64 {i}")
        by = self.load("i8", q, "by", mem="hdr")
        v = self.t("by")
        self.e(f"{v} = zext i8 {by} to i64")
        return v

    def element(self, name: str, ops, elems: str, idx: str):
        """AGET or ASET of element idx (checked) of the elements at
        `elems`."""
        p = self.t("e")
        self.e(f"{p} = getelementptr inbounds i64, ptr {elems}, i64 {idx}")
        if name == "AGET":
            self.put(ops[0], self.load("i64", p, "x", mem="elem"))
        else:
            self.store("i64", self.get(ops[2]), p, mem="elem")

    def stream_byte(self, kind: str, a: int, b: int, buf: str,
                    cur: str, ty: str = "i32") -> str:
        """writeByte's (kind "w") or readByte's byte at cursor cur (an
        integer of type ty below the bound) of the buffer buf; returns
        the cursor moved by one."""
        if ty == "i64":
            cur64 = cur
        else:
            cur64 = self.t("cur")
            self.e(f"{cur64} = zext i32 {cur} to i64")
        q = self.t("p")
        self.e(f"{q} = getelementptr inbounds i8, ptr {buf}, i64 {cur64}")
        if kind == "w":
            # the byte is computed as the i64 it is: an empty asm keeps
            # instcombine from narrowing its arithmetic to i8, where x86
            # has no cmov and a select becomes a branch
            v = self.t("v")
            self.e(f'{v} = call i64 asm "", "=r,0"(i64 {self.get(b + 1)})')
            by = self.t("by")
            self.e(f"{by} = trunc i64 {v} to i8")
            self.store("i8", by, q, mem="sbuf")
        else:
            by = self.load("i8", q, "by", mem="sbuf")
            if a >= 0:
                v = self.t("by")
                self.e(f"{v} = zext i8 {by} to i64")
                self.put(a, v)
        cur1 = self.t("cur")
        self.e(f"{cur1} = add nuw {ty} {cur}, 1")
        return cur1

    def guarded(self, pc, name, ops):
        """Field and element access: the null and bounds checks and the
        access as IR; the handler, which throws, when a check fails.

        A field needs no class check: the verifier typed the register,
        and a field's absolute index is the same in every subclass.  The
        bounds check compares unsigned, so a negative index fails too, as
        in kopi_AGET."""
        k = self.f.tmp('')[1:]
        fast, slow, join = f"gf{k}", f"gs{k}", f"gj{k}"
        obj_reg = ops[1] if name in ("GETF", "AGET") else ops[0]
        o = self.get(obj_reg)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        op = self.t("o")
        self.e(f"{op} = inttoptr i64 {o} to ptr")
        if name in ("GETF", "SETF"):
            self.e(f"br i1 {isnull}, label %{slow}, label %{fast}, {COLD}")
            self.f.label(fast)
            fld = ops[2] if name == "GETF" else ops[1]
            p = self.field_ptr(op, L["OFF_INST_FIELDS"] + 8 * fld)
            if name == "GETF":
                self.put(ops[0], self.load("i64", p, "x", mem="field"))
            else:
                self.store("i64", self.get(ops[2]), p, mem="field")
        else:
            nn = f"gn{k}"
            self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
            self.f.label(nn)
            idx = self.get(ops[2] if name == "AGET" else ops[1])
            ln64 = self.load_len(op, L["OFF_ARR_LEN"])
            oob = self.t("c")
            self.e(f"{oob} = icmp uge i64 {idx}, {ln64}")
            self.e(f"br i1 {oob}, label %{slow}, label %{fast}, {COLD}")
            self.f.label(fast)
            v = self.load("ptr", self.field_ptr(op, L["OFF_ARR_V"]), "ev",
                          mem="hdr")
            self.element(name, ops, v, idx)
        self.e(f"br label %{join}")
        self.f.label(slow)
        self.generic(pc, O.BY_NAME[name], ops)
        self.e(f"br label %{join}")
        self.f.label(join)
        return True

    def cast(self, pc, op, ops) -> bool:
        """CAST and INSTOF to a script class type: null (CAST passes it,
        INSTOF gives false) and an instance of one of the class's script
        subclasses (a switch on the class id: the image is fixed) inline;
        to String: null and a string object (its kind) inline.  Anything
        else, the cast's failure included, takes the handler, which
        decides exactly as the interpreter.  Other types keep the
        handler."""
        a, b, t = ops
        under = script_subclasses(self.img, t)
        string = (not under and 0 <= t < len(self.img.types)
                  and self.img.types[t][0] == TY_CLASS
                  and self.img.types[t][1] == STRING_CLASS)
        if not under and not string:
            return False
        k = self.f.tmp('')[1:]
        yes, no, slow, join = (f"c{x}{k}" for x in ("y", "n", "s", "j"))
        o = self.get(b)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        nn = f"cnn{k}"
        self.e(f"br i1 {isnull}, label %{no}, label %{nn}, {COLD}")
        self.f.label(nn)
        if string:
            # a string object is a String; anything else (a script
            # subclass's instance, a failure) is the handler's to decide
            op_ = self.t("o")
            self.e(f"{op_} = inttoptr i64 {o} to ptr")
            kind = self.load("i8", self.field_ptr(op_, L["OFF_OBJ_KIND"]),
                             "kd", mem="hdr")
            isstr = self.t("c")
            self.e(f"{isstr} = icmp eq i8 {kind}, {L['KO_STRING']}")
            self.e(f"br i1 {isstr}, label %{yes}, label %{slow}, "
                   f"{HOT_FIRST}")
        else:
            self.class_switch(o, f"ck{k}", slow,
                              [(c, yes) for c in sorted(under)])
        # CAST: the value itself, null or not; INSTOF: false for null
        self.f.label(no)
        self.put(a, o if op.name == "CAST" else "0")
        self.e(f"br label %{join}")
        self.f.label(yes)
        self.put(a, o if op.name == "CAST" else "1")
        self.e(f"br label %{join}")
        self.f.label(slow)
        self.generic(pc, op, ops)
        self.e(f"br label %{join}")
        self.f.label(join)
        return True

    def pure_native(self, pc, op, ops):
        """CALLN of a native that only computes its result (PURE_NATIVES:
        Array.size, Math.abs/min/max, String.length and charAt,
        File.nonBlocking), as IR; a null receiver or an index out of
        charAt's bounds takes the handler, which throws.  The instruction
        does not end its segment (_pure_call): a throw refunds the
        instructions after it."""
        a, n, b = ops
        name = PURE_NATIVES[n]
        if name in ("Array.size", "String.length", "String.charAt",
                    "File.nonBlocking"):
            k = self.f.tmp('')[1:]
            fast, slow, join = f"nf{k}", f"ns{k}", f"nj{k}"
            o = self.get(b)
            isnull = self.t("c")
            self.e(f"{isnull} = icmp eq i64 {o}, 0")
            nn = f"nn{k}" if name == "String.charAt" else fast
            self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
            self.f.label(nn)
            op_ = self.t("o")
            self.e(f"{op_} = inttoptr i64 {o} to ptr")
            if name == "File.nonBlocking":
                # the O_NONBLOCK bit of the hidden flags the host sets
                # before each callback
                fl = self.load("i64", self.field_ptr(
                    op_, L["OFF_INST_FIELDS"] + 8 * L["KF_FILE_FLAGS"]),
                    "fl", mem="field")
                bit, c, v = self.t("b"), self.t("c"), self.t("v")
                self.e(f"{bit} = and i64 {fl}, {L['FL_NONBLOCK']}")
                self.e(f"{c} = icmp ne i64 {bit}, 0")
                self.e(f"{v} = zext i1 {c} to i64")
            else:
                off = L["OFF_ARR_LEN" if name == "Array.size"
                        else "OFF_STR_LEN"]
                # a string's length never changes: no store ever reaches it
                v = self.load_len(op_, off)
            if name == "String.charAt":
                # the byte at i, 0..255; unsigned, so i < 0 fails too
                i = self.get(b + 1)
                oob = self.t("c")
                self.e(f"{oob} = icmp uge i64 {i}, {v}")
                self.e(f"br i1 {oob}, label %{slow}, label %{fast}, {COLD}")
                self.f.label(fast)
                v = self.string_byte(op_, i)
            if a >= 0:
                self.put(a, v)
            self.e(f"br label %{join}")
            self.f.label(slow)
            self.generic(pc, op, ops)
            self.e(f"br label %{join}")
            self.f.label(join)
            return
        x = self.get(b)
        v = self.t("v")
        if name == "Math.abs":
            # abs(MIN) == MIN, as the native's unsigned negation
            ng, c = self.t("ng"), self.t("c")
            self.e(f"{ng} = sub i64 0, {x}")
            self.e(f"{c} = icmp slt i64 {x}, 0")
            self.e(f"{v} = select i1 {c}, i64 {ng}, i64 {x}")
        else:
            y = self.get(b + 1)
            fn = "smin" if name == "Math.min" else "smax"
            self.e(f"{v} = call i64 @llvm.{fn}.i64(i64 {x}, i64 {y})")
        if a >= 0:
            self.put(a, v)

    def direct_native(self, pc, op, ops):
        """CALLN of any other native: the native itself, called by name
        (nat_<Owner>_<name>, which the VM exports: a direct call, where
        its table kvm_natives[n] would be an indirect one and in the
        kernel a retpoline) with its arguments copied from
        their SSA values into a block on this stub's stack, as
        kop_CALLN's call_native() copies them from the registers, and
        its result taken from there.  Everything else is as for the
        handler: the pc stored, every written register in the VM's copy
        first (the native may collect or run script code), R read again
        after it, its status checked.  A null receiver of a method takes
        the handler, which throws."""
        a, n, b = ops
        recv, nargs = _native_arity(n)
        assert nargs <= 4, BUILTINS.natives[n].qualified  # KB_MAX_PARAMS
        k = self.f.tmp('')[1:]
        go, slow, join = f"dn{k}", f"dns{k}", f"dnj{k}"
        if not self.f.native_block:
            # entry-block slots (never an alloca in a loop): the native's
            # arguments, a receiver and at most three, and its result
            self.f.allocas.append("%nargs = alloca [4 x i64], align 8")
            self.f.allocas.append("%nret = alloca i64, align 8")
            self.f.native_block = True
        if recv:
            isnull = self.t("c")
            self.e(f"{isnull} = icmp eq i64 {self.get(b)}, 0")
            self.e(f"br i1 {isnull}, label %{slow}, label %{go}, {COLD}")
            self.f.label(go)
        self.save_pc(pc)
        # the native reads its block, not R: the collector's roots only
        self.pre_call(full=True, reads=())
        for i in range(nargs):
            p = self.t("p")
            self.e(f"{p} = getelementptr inbounds [4 x i64], ptr %nargs, "
                   f"i64 0, i64 {i}")
            self.store("i64", self.get(b + i), p)
        self.store("i64", "0", "%nret")
        fn = native_symbol(n)
        self.used.add(fn)
        st = self.t("h")
        self.e(f"{st} = call i32 @{fn}(ptr %vm, ptr %nargs, ptr %nret)")
        self.reload_R()
        self.post_call(())
        self.check_status(st, self.remaining[pc])
        if a >= 0:
            self.put(a, self.load("i64", "%nret", "nv"))
        if recv:
            self.e(f"br label %{join}")
            self.f.label(slow)
            self.generic(pc, op, ops)
            self.e(f"br label %{join}")
            self.f.label(join)

    def stream_native(self, pc, op, ops):
        """CALLN of OutputStream.writeByte or InputStream.readByte: the
        common case as IR, the native for anything else.  Both move a
        cursor (writeByte's len, readByte's pos) by one byte while it is
        below the stream's jend, which the VM keeps (kstream_sync()): 0
        for a stream no longer valid, else for an output stream the room
        it has without growing or throwing (cap, the read's limit,
        KDEV_CONTENT_MAX), for an input stream its len.  Neither fast
        path allocates, throws or charges (natives.c charges a byte's
        copy len / 64 = 0 units); the instruction still ends its segment
        (RUNS_SCRIPT), and the slow path checks the budget again where
        the next segment does not (budget_regions)."""
        a, n, b = ops
        name = STREAM_NATIVES[n]
        k = self.f.tmp('')[1:]
        nn, ok, slow, join = (f"s{x}{k}" for x in ("n", "f", "s", "j"))
        o = self.get(b)
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {o}, 0")
        self.e(f"br i1 {isnull}, label %{slow}, label %{nn}, {COLD}")
        self.f.label(nn)
        sp = self.t("o")
        self.e(f"{sp} = inttoptr i64 {o} to ptr")
        end = self.load("i32", self.field_ptr(sp, L["OFF_STREAM_JEND"]),
                        "jend", mem="stream")
        kind = STREAM_KINDS.get(name, "r")    # available: the read cursor
        cp = self.field_ptr(sp, L[STREAM_CURSOR[kind]])
        cur = self.load("i32", cp, "cur", mem="stream")
        past = self.t("c")
        self.e(f"{past} = icmp uge i32 {cur}, {end}")
        self.e(f"br i1 {past}, label %{slow}, label %{ok}, {COLD}")
        self.f.label(ok)
        if name == "InputStream.available":
            # bytes left (jend is the valid stream's len): jend - pos
            d, v = self.t("d"), self.t("v")
            self.e(f"{d} = sub i32 {end}, {cur}")
            self.e(f"{v} = zext i32 {d} to i64")
            if a >= 0:
                self.put(a, v)
        else:
            buf = self.load("ptr", self.field_ptr(sp, L["OFF_STREAM_BUF"]),
                            "buf", mem="stream")
            self.store("i32", self.stream_byte(kind, a, b, buf, cur), cp,
                       mem="stream")
        self.e(f"br label %{join}")
        self.f.label(slow)
        self.generic(pc, op, ops)
        nxt = self.next_pc[pc]
        if nxt in self.unchecked:
            # the native may have taken budget that the checks before
            # counted on (budget_regions): check again for the longest
            # way on, as the next segment would, the interpreter from it
            # when the call's budget has less
            self.check(nxt, self.longest[nxt], join,
                       f"{self.pfx}rc{self.f.tmp('')[1:]}")
        else:
            self.e(f"br label %{join}")
        self.f.label(join)

    def div0(self, pc):
        """The block of a division by zero (DIV/MOD as IR)."""
        self.save_pc(pc)
        self.pre_call(full=True, reads=())
        self.used.add("kop_throw_div0")
        st = self.t("st")
        self.e(f"{st} = call i32 @kop_throw_div0(ptr %vm)")
        self.e(f"br label %{self.exc_site(st, self.remaining[pc])}")

    def tiny(self, pc, name, ops) -> bool:
        """Emits name as IR; False to use the handler instead (e.g. LOADK
        of a string constant).  Int arithmetic wraps, as i64 arithmetic
        does (the language reference §6); shift counts are masked to 6
        bits."""
        if name in GUARDED:
            return self.guarded(pc, name, ops)
        if name == "NOP":
            return True
        if name == "MOV":
            self.put(ops[0], self.get(ops[1]))
            return True
        if name == "LOADI":
            self.put(ops[0], ops[1])
            return True
        if name == "LOADNULL":
            self.put(ops[0], 0)
            return True
        if name == "LOADK":
            kind, val = self.img.constants[ops[1]]
            if kind != K_INT:
                return False
            self.put(ops[0], val)
            return True
        if name in ("GETG", "SETG"):
            gl = self.load("ptr", self.vm_field("GLOBALS"), "gl")
            gi = ops[1] if name == "GETG" else ops[0]
            p = self.t("g")
            self.e(f"{p} = getelementptr inbounds i64, ptr {gl}, i64 {gi}")
            if name == "GETG":
                self.put(ops[0], self.load("i64", p, "x"))
            else:
                self.store("i64", self.get(ops[1]), p)
            return True
        if name in ("NEG", "BNOT", "NOT"):
            x = self.get(ops[1])
            v = self.t("v")
            if name == "NEG":
                self.e(f"{v} = sub i64 0, {x}")
            elif name == "BNOT":
                self.e(f"{v} = xor i64 {x}, -1")
            else:
                c = self.t("c")
                self.e(f"{c} = icmp eq i64 {x}, 0")
                self.e(f"{v} = zext i1 {c} to i64")
            self.put(ops[0], v)
            return True
        a, b, c = ops
        x = self.get(b)
        y = str(c) if name == "ADDI" else self.get(c)
        v = self.t("v")
        simple = {"ADD": "add", "ADDI": "add", "SUB": "sub", "MUL": "mul",
                  "BAND": "and", "BOR": "or", "BXOR": "xor"}
        if name in simple:
            self.e(f"{v} = {simple[name]} i64 {x}, {y}")
        elif name in ("SHL", "SHR", "USHR"):
            m = self.t("m")
            self.e(f"{m} = and i64 {y}, 63")
            ins = {"SHL": "shl", "SHR": "ashr", "USHR": "lshr"}[name]
            self.e(f"{v} = {ins} i64 {x}, {m}")
        elif name in ("EQ", "NE", "LT", "LE", "EQREF"):
            pred = {"EQ": "eq", "NE": "ne", "LT": "slt", "LE": "sle",
                    "EQREF": "eq"}[name]
            cc = self.t("c")
            self.e(f"{cc} = icmp {pred} i64 {x}, {y}")
            self.e(f"{v} = zext i1 {cc} to i64")
        elif name in ("DIV", "MOD"):
            z = self.t("c")
            self.e(f"{z} = icmp eq i64 {y}, 0")
            k = self.f.tmp('')[1:]
            ok, bad = f"dz{k}", f"dv{k}"
            self.e(f"br i1 {z}, label %{bad}, label %{ok}, {COLD}")
            self.f.label(bad)
            self.div0(pc)
            self.f.label(ok)
            m1 = self.t("c")
            self.e(f"{m1} = icmp eq i64 {y}, -1")
            # y == -1: DIV negates (wrapping), MOD gives 0; no trap on MIN
            safe = self.t("y")
            self.e(f"{safe} = select i1 {m1}, i64 1, i64 {y}")
            q = self.t("q")
            if name == "DIV":
                self.e(f"{q} = sdiv i64 {x}, {safe}")
                neg = self.t("n")
                self.e(f"{neg} = sub i64 0, {x}")
                self.e(f"{v} = select i1 {m1}, i64 {neg}, i64 {q}")
            else:
                self.e(f"{q} = srem i64 {x}, {safe}")
                self.e(f"{v} = select i1 {m1}, i64 0, i64 {q}")
        else:
            return False
        self.put(a, v)
        return True


class InlineLowering(Lowering):
    """A leaf callee g emitted in its caller's stub in place of a frame
    push and a call of its stub (inline_leaves says which are leaves).

    The callee's registers are allocas (SSA after mem2reg): they start as
    its arguments and zeros, as in a frame.  Its code is only moves,
    arithmetic, field and element access, casts, pure natives, branches
    and returns; nothing in it calls the VM but a segment's refill, which
    reads no registers, so the collector never runs while it has no
    frame.  Its segments charge the budget as its stub's would.

    Anything else, and every slow path (a null, an index out of bounds,
    a failing cast, a division by zero, an uncharged segment), deopts:
    the frame is pushed as the stub call would have pushed it, with the
    registers' current values and the pc of the instruction, the
    instructions of its segment from there on are refunded (charged on
    entry, not run yet), and the interpreter runs the frame from there
    to its end (kvm_jit_interp), which throws, aborts and traces exactly
    as the interpreter alone.  The caller's call site checked before
    entering that such a frame fits (depth, register stack, C stack: as
    for a frame push), and its pc is stored on the way to the
    interpreter, so its trace line is the call's."""

    def __init__(self, caller: Lowering, g: int, a: int, nf: str, cb: str,
                 join: str, args: list[str]):
        super().__init__(caller.img, g, caller.opts, caller.compiled,
                         caller.used, caller.direct, caller.direct_stack)
        self.caller = caller
        self.f = caller.f
        self.mem_of = caller.mem_of
        self.pfx = f"in{caller.f.tmp('')[1:]}_"
        self.a, self.nf, self.cb, self.join = a, nf, cb, join
        self.args = args
        self.call_pc = caller.cur_pc
        self.ssa = caller.ssa      # the budget: the caller's %budslot
        self.deopts: list[tuple[str, int, int]] = []

    def get(self, reg: int) -> str:
        return self.load("i64", f"%{self.pfx}r{reg}", "x")

    def put(self, reg: int, val):
        self.store("i64", val, f"%{self.pfx}r{reg}")

    def emit(self):
        """The body, entered from the caller's block (the checks passed),
        leaving to `join` with the result in the caller's R[a]."""
        self.segment()
        nregs = len(self.fn.regs)
        for i in range(nregs):
            self.f.allocas.append(f"%{self.pfx}r{i} = alloca i64, align 8")
            self.put(i, self.args[i] if i < len(self.args) else 0)
        self.e(f"br label %{self.L(0)}")
        for pc, op, ops in self.insns:
            if pc in self.seg_start:
                if not self.closed():
                    self.e(f"br label %{self.L(pc)}")
                self.f.label(self.L(pc))
                self.charge(pc, self.seglen[pc])
            elif self.closed():
                # after a deopt or a return in mid-segment: unreachable
                self.f.label(f"{self.pfx}u{self.f.tmp('')[1:]}")
            self.instr(pc, op, ops)
        if not self.closed():
            self.e("unreachable")
        if self.deopts:
            # one block for the inline site: each deopt passes its pc
            # and refund through phis (the registers, allocas, merge)
            dz = f"{self.pfx}deopt"
            for lab, pc, refund in self.deopts:
                self.f.label(lab)
                self.e(f"br label %{dz}")
            self.f.label(dz)
            pcs = ", ".join(f"[ {pc}, %{lab} ]"
                            for lab, pc, _ in self.deopts)
            ks = ", ".join(f"[ {k}, %{lab} ]" for lab, _, k in self.deopts)
            pc, k = self.t("dpc"), self.t("dk")
            self.e(f"{pc} = phi i64 {pcs}")
            self.e(f"{k} = phi i64 {ks}")
            self.deopt_block(pc, k)

    def bail_label(self, pc: int) -> str:
        return self.deopt(pc, 0)

    def deopt(self, pc: int, refund: int) -> str:
        """A block (emitted after the body) that continues the callee in
        the interpreter at pc, refunding `refund` instructions."""
        lab = f"{self.pfx}dz{self.f.tmp('')[1:]}"
        self.deopts.append((lab, pc, refund))
        return lab

    def deopt_block(self, pc: str, refund: str):
        """The callee's frame pushed at pc (an i64 value), `refund`
        instructions given back, and the interpreter runs it."""
        c = self.caller
        b = self.bud_get()
        nb = self.t("bud")
        self.e(f"{nb} = add i64 {b}, {refund}")
        self.bud_put(nb)
        c.save_pc(self.call_pc)
        self.push_frame(self.index, self.nf, self.cb, pc)
        rc = self.t("Rc")
        self.e(f"{rc} = getelementptr inbounds i64, ptr {c.R()}, "
               f"i64 {len(c.fn.regs)}")
        for i in range(len(self.fn.regs)):
            q = self.t("r")
            self.e(f"{q} = getelementptr inbounds i64, ptr {rc}, i64 {i}")
            self.store("i64", self.get(i), q, mem="reg")
        self.used.add("kvm_jit_interp")
        res = self.t("res")
        c.pre_call(full=False)
        self.e(f"{res} = call {RET_T} @kvm_jit_interp(ptr %vm)")
        c.reload_R()
        c.post_call()
        st, st32 = self.t("st"), self.t("st")
        self.e(f"{st} = extractvalue {RET_T} {res}, 0")
        self.e(f"{st32} = trunc i64 {st} to i32")
        c.check_status(st32, 0)
        if self.a >= 0:
            v = self.t("v")
            self.e(f"{v} = extractvalue {RET_T} {res}, 1")
            c.put(self.a, v)
        self.e(f"br label %{self.join}")

    def generic(self, pc, op, ops):
        """Not inline: the interpreter runs it, and the rest."""
        self.e(f"br label %{self.deopt(pc, self.remaining[pc] + 1)}")
        # what the inline form emits after its slow path is unreachable
        self.f.label(f"{self.pfx}u{self.f.tmp('')[1:]}")

    def div0(self, pc):
        self.e(f"br label %{self.deopt(pc, self.remaining[pc] + 1)}")

    def instr(self, pc: int, op: O.Opcode, ops: list[int]):
        name = op.name
        if name in BRANCHES:
            return self.branch(pc, op, ops)
        if name in ("RET", "RETV"):
            if self.a >= 0:
                self.caller.put(self.a, self.get(ops[0])
                                if name == "RET" else "0")
            self.e(f"br label %{self.join}")
            return
        if name in TINY and self.tiny(pc, name, ops):
            return
        if name in ("CAST", "INSTOF") and self.cast(pc, op, ops):
            return
        if name == "CALLN" and ops[1] in PURE_NATIVES:
            return self.pure_native(pc, op, ops)
        self.generic(pc, op, ops)


class FastLoop(Lowering):
    """The fast version of a loop (FastPlan), emitted after its caller's
    body, of which it is a second copy of the loop's code with the same
    registers (the caller's allocas), budget and segments.

    Every time the caller's code reaches the loop's head it goes to the
    fast version's preheader, which reads what the loop would read on
    every iteration and cannot change in it: the length of each String
    a String.length or charAt is called on, the cursor, bound and buffer
    of the stream each writeByte (readByte) is called on, and the length
    and elements of each array an AGET or ASET indexes, into allocas
    (machine registers after mem2reg); a null there, which the loop
    would throw on, goes to the caller's loop (Lg<head>) instead.

    In the fast version those calls use the values read before the loop
    (a stream's cursor moves in its alloca only), and nothing calls the
    VM: every slow path (a null, a bound, a stream's room, a division by
    zero) and every segment whose budget check fails leaves it, as does
    every branch out of the loop.  Leaving, it stores each stream's
    cursor back, then goes on in the caller's code: at the instruction
    that could not go on (I<pc>: its segment is charged), which runs it
    as the caller's code always does (slow path included), or at the
    segment start (L<pc>, which charges and refills).  So the VM, the
    collector and the interpreter never see the fast version's state:
    only calls can run them, and there are none in it.  The caller's
    code goes back to the preheader at the loop's head, after a refill
    or a slow path, and the loop is fast again.

    Why a second copy: the caller's slow paths call the VM and rejoin
    the loop, and across such a call LLVM must assume that any memory
    changed, so it loads a String's length and a stream's cursor, bound
    and buffer again on every iteration, and stores the cursor each
    time; in the fast version no call is on the loop's paths.

    The counted copy (counted_plan): a third copy of the loop, without
    the checks that a count worked out before it shows will pass.  It
    runs while its count of iterations lasts, then works the count out
    again, from the budget, the counters and the streams' cursors as
    they are then; when that count is 0 it goes on in the fast version,
    which checks every iteration and leaves where a check fails."""

    def __init__(self, caller: Lowering, plan: FastPlan):
        super().__init__(caller.img, caller.index, caller.opts,
                         caller.compiled, caller.used, caller.direct,
                         caller.direct_stack)
        self.plan = plan
        self.f = caller.f
        self.mem_of = caller.mem_of
        self.pfx = f"fl{plan.head}_"
        self.spfx = self.pfx       # the allocas' and exits' prefix
        self.ssa = True
        self.segment()
        self.budget_regions()
        self.jump_targets = caller.jump_targets
        self.exc_sites = caller.exc_sites
        self.bail_sites = caller.bail_sites
        self.exits: dict[str, str] = {}    # caller's label -> exit block
        self.counted = False               # emitting the counted copy
        self.cplan = self.counted_plan() if self.opts.counted else None
        self.tplan = self.table_plan() if self.opts.tabulate else None

    def inside(self, pc) -> bool:
        return pc is not None and self.plan.head <= pc <= self.plan.end

    def L(self, pc: int) -> str:
        if self.inside(pc):
            if self.counted and pc == self.plan.head:
                # a way back to the head ends an iteration of the counted
                # copy at its count (M)
                return f"{self.pfx}M"
            return f"{self.pfx}L{pc}"
        return self.leave(f"L{pc}")

    def leave(self, label: str) -> str:
        """The block that stores the streams' cursors back and goes on
        at the caller's `label` (emitted by emit())."""
        if label not in self.exits:
            self.exits[label] = f"{self.spfx}x{len(self.exits)}"
        return self.exits[label]

    # ---- the counted copy --------------------------------------------------

    def counted_plan(self) -> "CountedPlan | None":
        """What the counted copy can leave out, or None for no counted
        copy.  The loop's head must be its only budget check (every other
        segment in it unchecked: budget_regions), so that one iteration
        takes at most the head's need.  A charAt, AGET or ASET leaves its
        bound check out when its index holds, there (source_reg), a
        counter: a register whose every write in the loop adds a positive
        constant to itself, so that in iteration j of the copy it is
        between its value v0 before the copy and v0 + step * (j + 1),
        step being the sum of those constants.  Every stream call of the
        fast version leaves its bound check out: each moves the cursor by
        one, and the loop makes each call at most once an iteration (it
        has no inner loop).  None when nothing but the budget check would
        go, as a count costs as much as that check; and None for a loop
        that has one path through an iteration (no branch in it but the
        ones that leave it and the last, back to the head): the budget
        then falls by the same amount each iteration, and LLVM sees it
        and the indexes as counters of the fast version itself, whose
        every check it may then take out of the loop (and vectorize it:
        the counted copy of a sieve's initialization made it slower)."""
        plan = self.plan
        head, end = plan.head, plan.end
        if any(head < s <= end and s not in self.unchecked
               for s in self.seg_start):
            return None
        body = [x for x in self.insns if head <= x[0] <= end]
        if not any(op.name in BRANCHES and pc != end and
                   head <= ops[-1] <= end for pc, op, ops in body):
            return None
        need = self.check_need.get(head, self.seglen[head])
        steps: dict[int, int | None] = {}   # register -> step, None: no
        for pc, op, ops in body:
            for l, v in zip(op.operands, ops):
                if l != "A" or v < 0:
                    continue
                if (op.name == "ADDI" and ops[1] == v and ops[2] > 0 and
                        steps.get(v, 0) is not None):
                    steps[v] = steps.get(v, 0) + ops[2]
                else:
                    steps[v] = None
        idx: dict[int, tuple[int, int]] = {}
        for pc, op, ops in body:
            if op.name == "CALLN" and pc in plan.strs and \
                    PURE_NATIVES[ops[1]] == "String.charAt":
                reg = ops[2] + 1
            elif op.name in ("AGET", "ASET") and pc in plan.arrays:
                reg = ops[2] if op.name == "AGET" else ops[1]
            else:
                continue
            iv = self.source_reg(pc, reg, head)
            if iv is not None and steps.get(iv):
                idx[pc] = (iv, steps[iv])
        streams: dict[str, int] = {}
        for k in plan.stream_sites.values():
            streams[k] = streams.get(k, 0) + 1
        if not idx and not streams:
            return None
        return CountedPlan(need, idx, streams,
                           self.fused_counter(body, steps))

    def fused_counter(self, body, steps) -> tuple[int, int] | None:
        """(counter, step) when the loop's last instruction, its only way
        back to the head, compares a counter with something the loop does
        not change (JLT, JLE and their immediate forms), the counter's one
        ADDI coming before it in a straight run of code (no branch of the
        loop to after the ADDI, up to the branch included): every
        iteration that gets back adds exactly step to it.  The counted
        copy then keeps no count of its own: iteration j ends with the
        counter at v0 + step * (j + 1), so the count is a limit on the
        counter, and one compare with the lesser of the two is the
        iteration's only one.  Else None."""
        head, end = self.plan.head, self.plan.end
        _, op, ops = self.insn_at[end]
        if op.name not in ("JLT", "JLTI", "JLE", "JLEI") or ops[-1] != head:
            return None
        if any(o.name in BRANCHES and x[-1] == head and pc != end
               for pc, o, x in body):
            return None
        iv = ops[0]
        if not steps.get(iv) or (op.name in ("JLT", "JLE") and
                                 ops[1] in steps):
            return None
        sites = [pc for pc, o, x in body
                 if any(l == "A" and v == iv for l, v in zip(o.operands, x))]
        if len(sites) != 1:
            return None
        # (the copy is entered at the head only: a jump from before the
        # loop to its condition does not reach it)
        targets = {x[-1] for _, o, x in body if o.name in BRANCHES}
        q = sites[0]
        while q != end:
            q = self.next_pc[q]
            if q in targets:
                return None
        return iv, steps[iv]

    def table_plan(self) -> "TablePlan | None":
        """The counted copy as a table, or None.  A loop that reads one
        byte c of a String with charAt at its fused counter (before the
        counter's ADDI) and writes one byte with writeByte, computing it
        from c alone, maps bytes: what an
        iteration writes and charges is a function of c.  So when the
        copy has a fused counter and its iterations run nothing but that
        charAt, that writeByte, the counter's ADDI, the loop's compare
        and TABLE_OPS (forward branches only), every path reading no
        register it has not written (but the counter, as the charAt's
        index) and writing none that is live where the loop goes on (its
        head, after it), each of the 256 bytes is run through the
        iteration here, as the VM runs it: the byte it writes and the
        segments it charges (each at its start, as the counted copy
        does) are the table's entry.  An iteration of the copy is then a
        load of the String's byte, one of the entry, the byte's store and
        the charge's subtraction; the count before it is the same.  None
        when a byte divides by zero (the VM throws), writes no byte or
        charges over 255."""
        cp, plan = self.cplan, self.plan
        if cp is None or cp.fused is None:
            return None
        head, end = plan.head, plan.end
        iv = cp.fused[0]
        body = [x for x in self.insns if head <= x[0] <= end]
        chars = [pc for pc, op, ops in body if _pure_call(op, ops)]
        if len(chars) != 1 or chars[0] not in cp.idx or \
                PURE_NATIVES[self.insn_at[chars[0]][2][1]] != \
                "String.charAt" or list(plan.stream_sites.values()) != ["w"]:
            return None
        site, wsite = chars[0], next(iter(plan.stream_sites))
        # the charAt reads the fused counter as the iteration began:
        # before its ADDI (fused_counter: the one write of it, which every
        # path through the iteration runs)
        if cp.idx[site][0] != iv or any(
                pc <= site and op.name == "ADDI" and ops[0] == iv
                for pc, op, ops in body):
            return None
        defs: set[int] = set()
        for pc, op, ops in body:
            defs |= {v for l, v in zip(op.operands, ops) if l == "A" and v >= 0}
            if pc in (site, wsite, end) or \
                    (op.name == "ADDI" and ops[0] == iv):
                continue
            if op.name not in TABLE_OPS or (op.name in BRANCHES and
                                            not pc < ops[-1] <= end):
                return None
        live = self.liveness()
        after = self.next_pc[end]
        if (defs - {iv}) & (live[head] | (live[after] if after is not None
                                          else set())):
            return None
        entries = []
        for c in range(256):
            env: dict[int, int] = {}   # the registers written, by value
            pc, out, charge = head, None, 0
            while True:
                if pc in self.seg_start:
                    charge += self.seglen[pc]
                if pc == end:
                    break
                _, op, ops = self.insn_at[pc]
                n, nxt = op.name, self.next_pc[pc]
                if pc == site:
                    env[ops[0]] = c
                elif pc == wsite:
                    out = env.get(ops[2] + 1)
                    if out is None:
                        return None
                elif n == "ADDI" and ops[0] == iv:
                    pass
                elif n == "MOV":
                    if ops[1] in env:
                        env[ops[0]] = env[ops[1]]
                    else:
                        env.pop(ops[0], None)   # a register it does not know
                elif n == "LOADI":
                    env[ops[0]] = ops[1]
                elif n == "JMP":
                    nxt = ops[-1]
                elif n in BRANCHES:
                    a = env.get(ops[0])
                    b = (ops[1] if n.endswith("I") else env.get(ops[1])) \
                        if n not in ("JT", "JF") else 0
                    if a is None or b is None:
                        return None
                    go = {"JT": a != 0, "JF": a == 0, "JEQ": a == b,
                          "JNE": a != b, "JLT": a < b, "JLE": a <= b,
                          "JEQI": a == b, "JNEI": a != b, "JLTI": a < b,
                          "JLEI": a <= b, "JGTI": a > b,
                          "JGEI": a >= b}[n]
                    nxt = ops[-1] if go else nxt
                elif n != "NOP":
                    a = env.get(ops[1])
                    b = ops[2] if n == "ADDI" else \
                        env.get(ops[2]) if len(ops) > 2 else 0
                    if a is None or b is None:
                        return None
                    if n == "NOT":
                        v = int(not a)
                    elif n in ("NEG", "BNOT"):
                        v = fold_int("-", 0, a) if n == "NEG" else \
                            fold_int("^", a, -1)
                    else:
                        v = fold_int(_TABLE_FOLD[n], a, b)
                    if v is None:
                        return None
                    env[ops[0]] = v
                pc = nxt
            if out is None or charge > 255 or charge > cp.need:
                return None
            entries.append((out & 0xFF) | charge << 8)
        return TablePlan(site, f"kjit_map{self.index}_{head}", entries)

    def source_reg(self, pc: int, reg: int, h: int) -> int | None:
        """The register whose value reg holds at pc on every path: the
        source of a MOV into reg before pc in the same straight run of
        code (no jump target between, pc included) when nothing between
        writes that source; reg itself when nothing in that run writes
        it; else None."""
        seen: set[int] = set()        # written between there and pc
        cur = pc
        while cur > h and cur not in self.jump_targets:
            q = self.prev_pc[cur]
            if q is None or q < h:
                return None
            _, op, ops = self.insn_at[q]
            if op.name in O.TERMINATORS or op.name == "JMP":
                return None
            dests = {v for l, v in zip(op.operands, ops) if l == "A"}
            if reg in dests:
                if op.name == "MOV" and ops[1] not in seen:
                    return ops[1]
                return None
            seen |= dests
            cur = q
        return reg

    def count(self) -> str:
        """How many iterations the counted copy may run from here (an
        i64, 0 or less for none): the fewest of the budget's (the
        slice's budget over the head's need, the most an iteration
        takes), each counter's room below its String's or array's length
        and each stream's room below its bound, over the most they move
        in an iteration."""
        cp = self.cplan
        n = self.t("n")
        self.e(f"{n} = sdiv i64 {self.bud_get()}, {cp.need}")
        for pc, (iv, step) in sorted(cp.idx.items()):
            if pc in self.plan.strs:
                ln = self.load("i64", self.slot("len", self.plan.strs[pc]),
                               "len")
            else:
                ln = self.load("i64", self.slot("alen",
                                                self.plan.arrays[pc]), "len")
            v0 = self.get(iv)
            room = self.t("room")
            # the counter is at most v0 + step * (j + 1) in iteration j,
            # and must stay below the length: (len - 1 - v0) / step
            # iterations; none when v0 < 0 (the unsigned check fails)
            self.e(f"{room} = sub i64 {ln}, 1")
            r2 = self.t("room")
            self.e(f"{r2} = sub i64 {room}, {v0}")
            r3 = self.t("room")
            self.e(f"{r3} = sdiv i64 {r2}, {step}")
            neg = self.t("c")
            self.e(f"{neg} = icmp slt i64 {v0}, 0")
            r4 = self.t("room")
            self.e(f"{r4} = select i1 {neg}, i64 0, i64 {r3}")
            n = self.smin(n, r4)
        for k, m in sorted(cp.streams.items()):
            c64 = self.load("i64", self.slot("cur", k), "cur")
            e64 = self.load("i64", self.slot("end", k), "jend")
            room = self.t("room")
            self.e(f"{room} = sub i64 {e64}, {c64}")
            if m > 1:
                r2 = self.t("room")
                self.e(f"{r2} = sdiv i64 {room}, {m}")
                room = r2
            n = self.smin(n, room)
        return n

    def fused_limit(self, cnt: str) -> str:
        """The fused counter's limit for a count cnt (> 0): the counter
        goes on while below it.  v0 + step * cnt, v0 being the counter
        now, as its iteration cnt - 1 ends there, and no more than the
        loop's own bound (JLT: the bound; JLE: the bound plus one, when
        that is a number).  Where v0 + step * cnt overflows, v0: each
        iteration then goes through a new count."""
        iv, step = self.cplan.fused
        _, op, ops = self.insn_at[self.plan.end]
        v0 = self.get(iv)
        mv, mo = self.with_overflow("smul", cnt, str(step))
        av, ao = self.with_overflow("sadd", v0, mv)
        over, lim = self.t("c"), self.t("lim")
        self.e(f"{over} = or i1 {mo}, {ao}")
        self.e(f"{lim} = select i1 {over}, i64 {v0}, i64 {av}")
        bound = self.branch_operand(op, ops)
        if op.name in ("JLE", "JLEI"):
            top, b1, bb = self.t("c"), self.t("b"), self.t("b")
            self.e(f"{top} = icmp eq i64 {bound}, {2 ** 63 - 1}")
            self.e(f"{b1} = add i64 {bound}, 1")
            self.e(f"{bb} = select i1 {top}, i64 {lim}, i64 {b1}")
            bound = bb
        return self.smin(lim, bound)

    def with_overflow(self, name: str, a: str, b: str) -> tuple[str, str]:
        """LLVM's `name`.with.overflow.i64 of a and b: (the i64 result,
        the i1 overflow)."""
        sym = f"llvm.{name}.with.overflow.i64"
        self.used.add(sym)
        r, v, o = self.t("w"), self.t("w"), self.t("c")
        self.e(f"{r} = call {{ i64, i1 }} @{sym}(i64 {a}, i64 {b})")
        self.e(f"{v} = extractvalue {{ i64, i1 }} {r}, 0")
        self.e(f"{o} = extractvalue {{ i64, i1 }} {r}, 1")
        return v, o

    def branch(self, pc, op, ops):
        """The counted copy's last instruction with a fused counter: on
        to the next iteration while the counter is below its limit; else
        a new count if the loop's own condition holds, the way out if
        not."""
        if not (self.counted and self.cplan.fused and
                pc == self.plan.end):
            return super().branch(pc, op, ops)
        iv = self.get(ops[0])
        c = self.t("c")
        self.e(f"{c} = icmp slt i64 {iv}, "
               f"{self.load('i64', self.slot('lim', ''), 'lim')}")
        k = self.f.tmp('')[1:]
        self.e(f"br i1 {c}, label %{self.pfx}B, label %{self.pfx}E{k}, "
               f"{HOT_FIRST}")
        self.f.label(f"{self.pfx}E{k}")
        c2 = self.branch_cond(op, ops)
        self.e(f"br i1 {c2}, label %{self.pfx}P, "
               f"label %{self.L(self.next_pc[pc])}")

    def smin(self, a: str, b: str) -> str:
        c, v = self.t("c"), self.t("n")
        self.e(f"{c} = icmp slt i64 {a}, {b}")
        self.e(f"{v} = select i1 {c}, i64 {a}, i64 {b}")
        return v

    def enter_segment(self, pc: int):
        """In the counted copy every segment only takes its length: the
        count covers the head's check, the loop's only one."""
        if self.counted:
            self.subtract(self.seglen[pc])
        else:
            super().enter_segment(pc)

    def seg_label(self, pc: int) -> str:
        """The caller's segment start pc, charging: at the loop's head the
        caller's own loop, past the way to this version."""
        return f"Lg{pc}" if pc == self.plan.head else f"L{pc}"

    def generic(self, pc, op, ops):
        """Not in this version: the caller's code runs the instruction."""
        self.e(f"br label %{self.leave(f'I{pc}')}")
        # what the inline form emits after its slow path is unreachable
        self.f.label(f"{self.pfx}u{self.f.tmp('')[1:]}")

    def div0(self, pc):
        self.e(f"br label %{self.leave(f'I{pc}')}")

    def check(self, pc: int, need: int, go: str, refill: str):
        """The caller's segment refills or bails where this one's budget
        check fails."""
        ok = self.t("bok")
        self.e(f"{ok} = icmp sge i64 {self.bud_get()}, {need}")
        self.e(f"br i1 {ok}, label %{go}, "
               f"label %{self.leave(self.seg_label(pc))}, {HOT_FIRST}")

    def slot(self, what: str, key) -> str:
        return f"%{self.spfx}{what}{key}"

    def pure_native(self, pc, op, ops):
        a, n, b = ops
        if pc not in self.plan.strs:
            return super().pure_native(pc, op, ops)
        ln = self.load("i64", self.slot("len", self.plan.strs[pc]), "len")
        if PURE_NATIVES[n] == "String.length":
            if a >= 0:
                self.put(a, ln)
            return
        # charAt: the receiver holds the String whose length was read
        i = self.get(b + 1)
        if not self.unchecked_index(pc):
            oob = self.t("c")
            self.e(f"{oob} = icmp uge i64 {i}, {ln}")
            k = self.f.tmp('')[1:]
            self.e(f"br i1 {oob}, label %{self.leave(f'I{pc}')}, "
                   f"label %{self.pfx}cf{k}, {COLD}")
            self.f.label(f"{self.pfx}cf{k}")
        # the bytes of the String whose length was read (the receiver
        # holds it: invariant_value), so that they always go together
        o = self.t("o")
        self.e(f"{o} = inttoptr i64 {self.get(self.plan.strs[pc])} to ptr")
        v = self.string_byte(o, i)
        if a >= 0:
            self.put(a, v)

    def leave_if(self, c: str, pc: int, tag: str):
        """A failed check c (an i1) of the instruction at pc leaves the
        fast version for the caller's I<pc>, which runs it with its slow
        path; the fast version goes on in a new block named after tag."""
        j = self.f.tmp('')[1:]
        self.e(f"br i1 {c}, label %{self.leave(f'I{pc}')}, "
               f"label %{self.pfx}{tag}{j}, {COLD}")
        self.f.label(f"{self.pfx}{tag}{j}")

    def stream_native(self, pc, op, ops):
        a, n, b = ops
        k = self.plan.stream_sites.get(pc)
        if k is None:
            return super().stream_native(pc, op, ops)
        cur = self.load("i64", self.slot("cur", k), "cur")
        if not self.counted:
            # (the counted copy's count keeps the cursor below the bound)
            end = self.load("i64", self.slot("end", k), "jend")
            past = self.t("c")
            self.e(f"{past} = icmp uge i64 {cur}, {end}")
            self.leave_if(past, pc, "sf")
        buf = self.load("ptr", self.slot("buf", k), "buf")
        self.store("i64", self.stream_byte(k, a, b, buf, cur, "i64"),
                   self.slot("cur", k))

    def guarded(self, pc, name, ops):
        x = self.plan.arrays.get(pc)
        if x is None:
            return super().guarded(pc, name, ops)
        # AGET/ASET on an array whose length and elements were read
        idx = self.get(ops[2] if name == "AGET" else ops[1])
        if not self.unchecked_index(pc):
            oob = self.t("c")
            self.e(f"{oob} = icmp uge i64 {idx}, "
                   f"{self.load('i64', self.slot('alen', x), 'len')}")
            self.leave_if(oob, pc, "af")
        self.element(name, ops, self.load("ptr", self.slot("av", x), "ev"),
                     idx)
        return True

    def unchecked_index(self, pc: int) -> bool:
        """Whether the counted copy, being emitted, leaves the bound
        check of the charAt, AGET or ASET at pc out (its count keeps the
        index below the length)."""
        return self.counted and pc in self.cplan.idx

    def stream_field(self, k: str, off: str) -> str:
        """A pointer to field `off` (a layout name) of kind k's stream."""
        o = self.t("o")
        self.e(f"{o} = inttoptr i64 {self.get(self.plan.streams[k])} to ptr")
        return self.field_ptr(o, L[off])

    def emit(self):
        plan, f = self.plan, self.f
        for x in sorted(set(plan.strs.values())):
            f.allocas.append(f"{self.slot('len', x)} = alloca i64, align 8")
        for x in sorted(set(plan.arrays.values())):
            f.allocas += [f"{self.slot('alen', x)} = alloca i64, align 8",
                          f"{self.slot('av', x)} = alloca ptr, align 8"]
        for k in plan.streams:
            # the cursor and bound as i64, as the loop's counters are:
            # a byte's address is then the buffer indexed by the cursor,
            # with no pointer of its own to step
            f.allocas += [f"{self.slot('cur', k)} = alloca i64, align 8",
                          f"{self.slot('end', k)} = alloca i64, align 8",
                          f"{self.slot('buf', k)} = alloca ptr, align 8"]
        # the preheader: a null goes to the caller's loop, which throws
        f.label(f"{self.pfx}pre")
        for x in sorted(set(plan.strs.values())):
            self.nonnull(x)
            o = self.t("o")
            self.e(f"{o} = inttoptr i64 {self.get(x)} to ptr")
            self.store("i64", self.load_len(o, L["OFF_STR_LEN"]),
                       self.slot("len", x))
        for x in sorted(set(plan.arrays.values())):
            self.nonnull(x)
            o = self.t("o")
            self.e(f"{o} = inttoptr i64 {self.get(x)} to ptr")
            self.store("i64", self.load_len(o, L["OFF_ARR_LEN"]),
                       self.slot("alen", x))
            self.store("ptr", self.load("ptr", self.field_ptr(
                o, L["OFF_ARR_V"]), "ev", mem="hdr"), self.slot("av", x))
        for k, x in plan.streams.items():
            self.nonnull(x)
            for slot, fld, ty in (("cur", STREAM_CURSOR[k], "i32"),
                                  ("end", "OFF_STREAM_JEND", "i32"),
                                  ("buf", "OFF_STREAM_BUF", "ptr")):
                v = self.load(ty, self.stream_field(k, fld), slot,
                              mem="stream")
                if ty == "i32":
                    w = self.t(slot)
                    self.e(f"{w} = zext i32 {v} to i64")
                    v, ty = w, "i64"
                self.store(ty, v, self.slot(slot, k))
        if self.cplan:
            f.allocas += [f"{self.slot('k', '')} = alloca i64, align 8",
                          f"{self.slot('n', '')} = alloca i64, align 8"]
            self.e(f"br label %fc{plan.head}_P")
        else:
            self.e(f"br label %{self.L(plan.head)}")
        self.loop_copy()
        if self.cplan:
            self.counted, self.pfx = True, f"fc{plan.head}_"
            k, n = self.slot("k", ""), self.slot("n", "")
            # P: a count; none goes on in the checked version.  The
            # iterations of one count are a loop of their own (B to M, or
            # to the fused counter's compare), whose trip count LLVM sees.
            f.label(f"{self.pfx}P")
            cnt = self.count()
            if self.cplan.fused:
                f.allocas.append(f"{self.slot('lim', '')} = alloca i64, "
                                 f"align 8")
                self.store("i64", self.fused_limit(cnt),
                           self.slot("lim", ""))
            else:
                self.store("i64", cnt, n)
                self.store("i64", "0", k)
            c = self.t("c")
            self.e(f"{c} = icmp sgt i64 {cnt}, 0")
            self.e(f"br i1 {c}, label %{self.pfx}B, "
                   f"label %{self.spfx}L{plan.head}, {HOT_FIRST}")
            if not self.cplan.fused:
                # M, where an iteration ends: on while the count lasts,
                # else count again
                f.label(f"{self.pfx}M")
                k1 = self.t("k")
                self.e(f"{k1} = add i64 {self.load('i64', k, 'k')}, 1")
                self.store("i64", k1, k)
                c = self.t("c")
                self.e(f"{c} = icmp slt i64 {k1}, "
                       f"{self.load('i64', n, 'n')}")
                self.e(f"br i1 {c}, label %{self.pfx}B, "
                       f"label %{self.pfx}P, {HOT_FIRST}")
            if self.tplan:
                self.table_copy()
            else:
                self.loop_copy()
            self.counted, self.pfx = False, self.spfx
        # the ways out: each stream's cursor stored back
        for label, block in self.exits.items():
            f.label(block)
            for k in plan.streams:
                c = self.t("cur")
                self.e(f"{c} = trunc i64 "
                       f"{self.load('i64', self.slot('cur', k), 'cur')} to i32")
                self.store("i32", c, self.stream_field(k, STREAM_CURSOR[k]),
                           mem="stream")
            self.e(f"br label %{label}")

    def table_copy(self):
        """The counted copy as a table (table_plan).  B, where the count
        leads, runs one iteration (a count above 0 allows it), then W:
        while TABLE_UNROLL more fit below the counter's limit, U runs
        them as one block (no branch between them, one translation block
        under QEMU; their charges are subtracted together, as nothing
        looks at the budget in between), then S runs what is left one
        iteration at a time (S1), and E makes the loop's own compare once
        the counter reaches its limit."""
        tp = self.tplan
        iv, step = self.cplan.fused
        vals = ", ".join(f"i16 {v}" for v in tp.entries)
        self.used.add(f"@{tp.name} = internal unnamed_addr constant "
                      f"[256 x i16] [{vals}], align 2")
        pfx = self.pfx
        # B: one iteration, whatever the limit: the loop's own compare is
        # at its end (a do-while may enter with it false)
        self.f.label(f"{pfx}B")
        self.table_steps(1)
        self.e(f"br label %{pfx}W")
        self.f.label(f"{pfx}W")
        i = self.get(iv)
        lim = self.load("i64", self.slot("lim", ""), "lim")
        # the counter is an index below a String's length plus a step,
        # so adding TABLE_UNROLL steps cannot overflow (the limit can be
        # any int: no subtraction)
        last = self.t("i")
        self.e(f"{last} = add i64 {i}, {step * TABLE_UNROLL}")
        big = self.t("c")
        self.e(f"{big} = icmp sle i64 {last}, {lim}")
        self.e(f"br i1 {big}, label %{pfx}U, label %{pfx}S, {HOT_FIRST}")
        self.f.label(f"{pfx}U")
        self.table_steps(TABLE_UNROLL)
        self.e(f"br label %{pfx}W")
        self.f.label(f"{pfx}S")
        i = self.get(iv)
        lim = self.load("i64", self.slot("lim", ""), "lim")
        go = self.t("c")
        self.e(f"{go} = icmp slt i64 {i}, {lim}")
        self.e(f"br i1 {go}, label %{pfx}S1, label %{pfx}E")
        self.f.label(f"{pfx}S1")
        self.table_steps(1)
        self.e(f"br label %{pfx}S")
        self.f.label(f"{pfx}E")
        _, op, ops = self.insn_at[self.plan.end]
        again = self.branch_cond(op, ops)
        self.e(f"br i1 {again}, label %{pfx}P, "
               f"label %{self.L(self.next_pc[self.plan.end])}")

    def table_steps(self, n: int):
        """n iterations of a table's counted copy, which the count and
        the counter's limit allow: per iteration the String's byte at
        the counter, its entry, the entry's byte stored at the stream's
        cursor; then the counter and cursor moved and the charges
        subtracted."""
        tp = self.tplan
        iv, step = self.cplan.fused
        i = self.get(iv)
        o = self.t("o")
        self.e(f"{o} = inttoptr i64 {self.get(self.plan.strs[tp.site])} "
               f"to ptr")
        cur = self.load("i64", self.slot("cur", "w"), "cur")
        buf = self.load("ptr", self.slot("buf", "w"), "buf")
        charge = None
        for k in range(n):
            ik = i
            if k:
                ik = self.t("i")
                self.e(f"{ik} = add i64 {i}, {step * k}")
            c = self.string_byte(o, ik)
            p = self.t("p")
            self.e(f"{p} = getelementptr inbounds [256 x i16], "
                   f"ptr @{tp.name}, i64 0, i64 {c}")
            ent = self.t("ent")
            self.e(f"{ent} = load i16, ptr {p}, align 2")
            e64 = self.t("ent")
            self.e(f"{e64} = zext i16 {ent} to i64")
            ch = self.t("ch")
            self.e(f"{ch} = lshr i64 {e64}, 8")
            if charge is None:
                charge = ch
            else:
                s2 = self.t("ch")
                self.e(f"{s2} = add i64 {charge}, {ch}")
                charge = s2
            by = self.t("by")
            self.e(f"{by} = trunc i64 {e64} to i8")
            ck = cur
            if k:
                ck = self.t("cur")
                self.e(f"{ck} = add nuw i64 {cur}, {k}")
            q = self.t("p")
            self.e(f"{q} = getelementptr inbounds i8, ptr {buf}, i64 {ck}")
            self.store("i8", by, q, mem="sbuf")
        nb = self.t("bud")
        self.e(f"{nb} = sub i64 {self.bud_get()}, {charge}")
        self.bud_put(nb)
        cur1 = self.t("cur")
        self.e(f"{cur1} = add nuw i64 {cur}, {n}")
        self.store("i64", cur1, self.slot("cur", "w"))
        i1 = self.t("i")
        self.e(f"{i1} = add i64 {i}, {step * n}")
        self.put(iv, i1)

    def loop_copy(self):
        """The loop, as Lowering.body() emits it; the counted copy's
        first block is B, after its count."""
        for pc, op, ops in self.insns:
            if not self.inside(pc):
                continue
            if pc in self.seg_start:
                label = self.L(pc)
                if self.counted and pc == self.plan.head:
                    label = f"{self.pfx}B"
                if not self.closed():
                    self.e(f"br label %{label}")
                self.f.label(label)
                self.enter_segment(pc)
            self.cur_pc = pc
            self.instr(pc, op, ops)
        if not self.closed():
            self.e(f"br label %{self.L(self.next_pc[self.plan.end])}")

    def nonnull(self, reg: int):
        """On in a new block if R[reg] is not null, else to the caller's
        loop."""
        isnull = self.t("c")
        self.e(f"{isnull} = icmp eq i64 {self.get(reg)}, 0")
        k = self.f.tmp('')[1:]
        self.e(f"br i1 {isnull}, label %Lg{self.plan.head}, "
               f"label %{self.pfx}nn{k}, {COLD}")
        self.f.label(f"{self.pfx}nn{k}")


# Callees of at most this many code words may be inlined (inline_leaves).
INLINE_MAX_WORDS = 64
INLINE_MAX_REGS = 16
_INLINE_LEAVES: dict = {}


def inline_leaves(img: Image) -> list[bool]:
    """Per function, whether calls of it may be inlined (InlineLowering):
    small, no handlers, and every instruction from which a return is
    reachable one that InlineLowering emits in place (moves, constants,
    int arithmetic, globals, field and element access, casts to script
    classes, pure natives, branches, returns).  Instructions that reach
    no return (a throw's path: building and throwing the exception) may
    be anything: they deopt.  Computed once per image."""
    key = id(img)
    hit = _INLINE_LEAVES.get(key)
    if hit is not None and hit[0] is img:
        return hit[1]
    out = []
    for i, fn in enumerate(img.functions):
        ok = (i != img.init and not fn.handlers and
              len(fn.code) <= INLINE_MAX_WORDS and
              len(fn.regs) <= INLINE_MAX_REGS)
        if ok:
            insns = decode(fn.code)
            nxt = {insns[j][0]: insns[j + 1][0] if j + 1 < len(insns)
                   else None for j in range(len(insns))}
            succ = {}
            for pc, op, ops in insns:
                out_ = []
                if op.name in BRANCHES:
                    out_.append(ops[-1])
                    if op.name == "SWITCH":
                        t = nxt[pc]
                        out_ += [fn.code[t + 2 * k + 1]
                                 for k in range(ops[2])]
                if not op.terminates and nxt[pc] is not None:
                    out_.append(nxt[pc])
                succ[pc] = out_
            hot = {pc for pc, op, _ in insns if op.name in ("RET", "RETV")}
            changed = True
            while changed:
                changed = False
                for pc, _, _ in insns:
                    if pc not in hot and any(s in hot for s in succ[pc]):
                        hot.add(pc)
                        changed = True
            for pc, op, ops in insns:
                if pc in hot and not _inline_op(img, op, ops):
                    ok = False
                    break
        out.append(ok)
    _INLINE_LEAVES.clear()
    _INLINE_LEAVES[key] = (img, out)
    return out


def _inline_op(img: Image, op: O.Opcode, ops: list[int]) -> bool:
    """Whether InlineLowering emits op in place (its slow paths deopt)."""
    n = op.name
    if n in BRANCHES or n in ("RET", "RETV"):
        return True
    if n == "LOADK":
        return img.constants[ops[1]][0] == K_INT
    if n in TINY:
        return True
    if n in ("CAST", "INSTOF"):
        return bool(script_subclasses(img, ops[2]))
    return n == "CALLN" and ops[1] in PURE_NATIVES


class DirectLowering(Lowering):
    """The direct version of a function whose registers are all int or
    boolean and which only computes: no objects, no natives, no stores
    to globals, calls only to other direct functions (direct_functions).

    `{i64, i64} kjit_d<N>(i64 fl, i64 b, i64 args...)` keeps the
    registers in SSA values (machine registers), pushes no VM frame and
    returns {result, budget left}.  b is the budget, fl the stack floor:
    the frame code that enters a chain (when the depth limit allows rd
    >= 1 more frames) sets it to the higher of its stack pointer minus
    the stack the profile allows and minus 8 bytes per frame after the
    first; every call checks the stack pointer against it first.  As
    every level of a chain pushes at least a return address (noinline,
    notail), a chain deeper than rd reaches the floor.  Anything the
    interpreter would turn into an abort or an exception (the budget
    running out, a division by zero) and a call below the floor make
    it give up instead: it returns a negative budget, every direct caller
    passes that on, and the frame code that entered the chain runs the
    call again with frames (direct_entry).  That is exact because direct
    code has no effect but its result and the budget, which only the
    frame code stores.
    """

    # Registers are allocas (SSA after mem2reg), not VM stack slots.
    def get(self, reg: int) -> str:
        return self.load("i64", f"%reg{reg}", "x")

    def put(self, reg: int, val):
        self.store("i64", val, f"%reg{reg}")

    def lower(self) -> list[str]:
        """The IR lines of kjit_d<N>.  %bs holds the budget left, %refs the
        budget at this activation's last poll; `fail` gives up, returning
        budget -1."""
        self.segment()
        # targets of backward branches: every loop passes through one
        self.loop_heads = {ops[-1] for pc, op, ops in self.insns
                           if op.name in BRANCHES and ops[-1] <= pc}
        f = self.f
        nargs = _nargs(self.img, self.fn)
        f.label("entry")
        for i in range(len(self.fn.regs)):
            self.e(f"%reg{i} = alloca i64, align 8")
        self.e("%bs = alloca i64, align 8")
        self.e("%refs = alloca i64, align 8")
        for i in range(len(self.fn.regs)):
            self.put(i, f"%a{i}" if i < nargs else 0)
        self.store("i64", "%b0", "%bs")
        # the budget at the last poll: the entry budget (an argument, so
        # nothing to compute on the way to a leaf's return)
        self.store("i64", "%b0", "%refs")
        self.polled_rets, self.first_calls = self.rets_after_calls()
        self.e("br label %L0")
        self.body()
        f.label("fail")
        self.e(f"ret {RET_T} {{ i64 0, i64 -1 }}")
        params = "".join(f", i64 %a{i}" for i in range(nargs))
        # noinline and notail calls: every level of a chain pushes at
        # least its return address (the floor bounds the depth by it)
        return [f"define internal {RET_T} @kjit_d{self.index}(i64 %fl, "
                f"i64 %b0{params}) noinline #0 {{", *f.lines, "}"]

    def rets_after_calls(self) -> tuple[set[int], set[int]]:
        """The returns that some path from the entry reaches through a
        call: only those can end an activation that ran longer than a
        slice without a loop head (a leaf's return needs no check); and
        the calls some path reaches before any other call, where the
        activation's reference budget is set (so that a leaf's path does
        not keep the entry budget in a callee-saved register)."""
        succ: dict[int, list[int]] = {}
        for i, (pc, op, ops) in enumerate(self.insns):
            nxt = self.insns[i + 1][0] if i + 1 < len(self.insns) else None
            out = []
            if op.name in BRANCHES:
                out.append(ops[-1])
            if not op.terminates and nxt is not None:
                out.append(nxt)
            succ[pc] = out
        kinds = {pc: op.name for pc, op, ops in self.insns}
        seen, todo, rets, first = set(), [(0, False)], set(), set()
        while todo:
            pc, called = todo.pop()
            if (pc, called) in seen:
                continue
            seen.add((pc, called))
            if kinds[pc] in ("RET", "RETV") and called:
                rets.add(pc)
            if kinds[pc] == "CALL" and not called:
                first.add(pc)
            called = called or kinds[pc] == "CALL"
            todo.extend((s, called) for s in succ[pc])
        return rets, first

    def poll_check(self, nb: str):
        """At loop heads and at returns reached through calls: once a
        slice was spent since this activation's last poll (or its
        entry), poll, and give up if the task was killed (the rerun with
        frames then aborts with "killed").  A loop polls every slice; a
        recursion polls where an activation that ran longer than a slice
        returns, so no more than about two slices pass between polls."""
        ref = self.load("i64", "%refs", "ref")
        d, c = self.t("d"), self.t("c")
        self.e(f"{d} = sub i64 {ref}, {nb}")
        self.e(f"{c} = icmp ugt i64 {d}, {L['SLICE']}")
        k = self.f.tmp('')[1:]
        slow, go = f"pl{k}", f"pg{k}"
        self.e(f"br i1 {c}, label %{slow}, label %{go}, {COLD}")
        self.f.label(slow)
        self.used.add("kvm_jit_poll")
        killed = self.t("c")
        self.e(f"{killed} = call i1 @kvm_jit_poll()")
        again = f"pa{k}"
        self.e(f"br i1 {killed}, label %fail, label %{again}, {COLD}")
        self.f.label(again)
        self.store("i64", nb, "%refs")
        self.e(f"br label %{go}")
        self.f.label(go)

    def charge(self, pc: int, n: int):
        """The budget only decreases, so the run succeeds exactly when it
        is still >= 0 at the return (every caller checks what a call
        gives back): a segment only subtracts, except at loop heads
        (targets of backward branches), which give up on a negative
        budget so that a loop cannot outlast it, and poll."""
        b = self.load("i64", "%bs", "bud")
        nb = self.t("bud")
        self.e(f"{nb} = sub i64 {b}, {n}")
        if pc in self.loop_heads:
            c = self.t("c")
            self.e(f"{c} = icmp slt i64 {nb}, 0")
            body = f"S{pc}"
            self.e(f"br i1 {c}, label %fail, label %{body}, {COLD}")
            self.f.label(body)
            self.poll_check(nb)
        self.store("i64", nb, "%bs")

    def instr(self, pc: int, op: O.Opcode, ops: list[int]):
        name = op.name
        if name in BRANCHES:
            return self.branch(pc, op, ops)
        if name in ("RET", "RETV"):
            v = self.get(ops[0]) if name == "RET" else "0"
            b = self.load("i64", "%bs", "bud")
            if pc in self.polled_rets:
                self.poll_check(b)
            r1, r2 = self.t("ret"), self.t("ret")
            self.e(f"{r1} = insertvalue {RET_T} undef, i64 {v}, 0")
            self.e(f"{r2} = insertvalue {RET_T} {r1}, i64 {b}, 1")
            self.e(f"ret {RET_T} {r2}")
            return
        if name == "CALL":
            a, g, b = ops
            sp, low = self.t("sp"), self.t("c")
            self.e(f"{sp} = call i64 @llvm.read_register.i64(metadata !20)")
            self.e(f"{low} = icmp ult i64 {sp}, %fl")
            deeper = f"dc{self.f.tmp('')[1:]}"
            self.e(f"br i1 {low}, label %fail, label %{deeper}, {COLD}")
            self.f.label(deeper)
            args = "".join(f", i64 {self.get(b + i)}" for i in
                           range(_nargs(self.img, self.img.functions[g])))
            bud = self.load("i64", "%bs", "bud")
            if pc in self.first_calls:
                # an opaque copy: kept itself across the call, it does
                # not keep the entry budget alive from the entry on
                # (which would cost every leaf a callee-saved register)
                ref = self.t("ref")
                self.e(f'{ref} = call i64 asm "", "=r,0"(i64 {bud})')
                self.store("i64", ref, "%refs")
            res, nb, c = self.t("res"), self.t("bud"), self.t("c")
            self.e(f"{res} = notail call {RET_T} @kjit_d{g}(i64 %fl, "
                   f"i64 {bud}{args})")
            self.e(f"{nb} = extractvalue {RET_T} {res}, 1")
            self.e(f"{c} = icmp slt i64 {nb}, 0")
            ok = f"ok{self.f.tmp('')[1:]}"
            self.e(f"br i1 {c}, label %fail, label %{ok}, {COLD}")
            self.f.label(ok)
            self.store("i64", nb, "%bs")
            if a >= 0:
                v = self.t("v")
                self.e(f"{v} = extractvalue {RET_T} {res}, 0")
                self.put(a, v)
            return
        if not self.tiny(pc, name, ops):
            raise AssertionError(f"direct function with {name}")

    def div0(self, pc):
        """A division by zero gives up: the rerun with frames throws."""
        self.e("br label %fail")


def direct_functions(img: Image, compiled: list[bool]) -> list[bool]:
    """Which functions get a direct version (DirectLowering): the
    greatest set closed under CALL of functions with only int and
    boolean registers (so no receiver) and only DIRECT_OPS."""
    ok = []
    for i, fn in enumerate(img.functions):
        good = (compiled[i] and i != img.init and not fn.flags & 3 and
                len(fn.regs) <= DIRECT_MAX_REGS and
                all(img.types[t][0] in (TY_INT, TY_BOOL) for t in fn.regs))
        if good:
            for _, op, ops in decode(fn.code):
                if op.name not in DIRECT_OPS or (
                        op.name == "LOADK" and
                        img.constants[ops[1]][0] != K_INT):
                    good = False
                    break
        ok.append(good)
    changed = True
    while changed:
        changed = False
        for i, fn in enumerate(img.functions):
            if ok[i] and any(op.name == "CALL" and not ok[ops[1]]
                             for _, op, ops in decode(fn.code)):
                ok[i] = False
                changed = True
    return ok


_CALLF_TARGETS: dict = {}


def callf_targets(img: Image) -> dict[int, list[int]]:
    """(1.1) Func type index -> the script functions that Func values of
    that type may call: those LOADFN, BINDM (any class's method in the
    slot, of that signature) and CLOSURE make values of.  A function's
    flags say what a value passes before the call's arguments (nothing, a
    receiver, or a lambda's captured values).  Computed once per image."""
    key = id(img)
    hit = _CALLF_TARGETS.get(key)
    if hit is not None and hit[0] is img:
        return hit[1]
    out: dict[int, list[int]] = {}

    def add(t, g):
        if g not in out.setdefault(t, []):
            out[t].append(g)

    for fn in img.functions:
        for _, op, ops in decode(fn.code):
            if op.name == "LOADFN":
                add(fn.regs[ops[0]], ops[1])
            elif op.name == "CLOSURE":
                add(fn.regs[ops[0]], ops[1])
            elif op.name == "BINDM":
                t, s = fn.regs[ops[0]], ops[2]
                for cl in img.classes:
                    if s < len(cl.vtable) and not cl.vtable[s] & NATIVE_REF \
                            and img.functions[cl.vtable[s]].type == t:
                        add(t, cl.vtable[s])
            elif op.name == "BINDI":    # (1.1) through an interface
                for g in calli_targets(img, img.types[ops[2]][1], ops[3]):
                    add(fn.regs[ops[0]], g)
    _CALLF_TARGETS.clear()
    _CALLF_TARGETS[key] = (img, out)
    return out


def _nargs(img: Image, fn) -> int:
    """The argument registers of fn: its parameters, plus the receiver in
    R[0] for a method or constructor."""
    t = img.types[fn.type]
    n = len(t[2])
    if fn.flags & 3:       # method or constructor: the receiver
        n += 1
    return n


def generate(img: Image, digest: bytes, opts: Options,
             attrs: str = "nounwind", module_tail: str = "",
             table_name: str = "kjit_table",
             direct_stack: int = L["DIRECT_STACK_USER"]) -> ModuleIR:
    """The IR module of the stubs of img (digest: its 32-byte name);
    direct_stack: bytes of stack a chain of direct calls may use.

    The module: declarations of the externals used, the stubs (and direct
    versions), the table kjit_fns (NULL for an interpreted function) and
    `table_name`, a struct kjit_table {ABI version, function count,
    digest, kjit_fns} that the VM checks when it registers the stubs.
    Attribute group #0 is the profile's, #1 the externals'; !0 and !1 are
    branch weights, !20 names rsp for llvm.read_register."""
    nf = len(img.functions)
    compiled = [True] * nf
    bodies: dict[int, list[str]] = {}
    fallback: dict[int, str] = {}
    used: set[str] = set()
    # functions that cannot be compiled (the only reason Lowering raises
    # Unsupported: callers are lowered knowing which callees have stubs)
    for i, fn in enumerate(img.functions):
        if len(fn.code) > MAX_CODE_WORDS:
            compiled[i] = False
            fallback[i] = f"{len(fn.code)} code words"
    direct = (direct_functions(img, compiled) if opts.direct
              else [False] * nf)
    for i in range(nf):
        if not compiled[i]:
            continue
        try:
            bodies[i] = Lowering(img, i, opts, compiled, used, direct,
                                 direct_stack).lower()
        except Unsupported as e:
            compiled[i] = False
            fallback[i] = str(e)
            continue
        if direct[i]:
            bodies[i] += [""] + DirectLowering(
                img, i, opts, compiled, used, direct, direct_stack).lower()
    if any(i not in bodies for i in range(nf) if compiled[i]):
        raise AssertionError("lowering lost a function")
    out = ["; K context-threaded stubs (ctjit), "
           f"techniques: {opts.label()}",
           f"; image {digest.hex()}", ""]
    by_name = {op.name: op for op in O.OPCODES}
    for sym in sorted(used):
        if sym == "read_register":
            continue
        if sym.startswith("@"):
            # a global of the module's own (FastLoop.table_copy's tables)
            out.append(sym)
            continue
        if sym.startswith("llvm."):
            # (the counted copies' overflow checks: FastLoop.fused_limit)
            out.append(f"declare {{ i64, i1 }} @{sym}(i64, i64)")
            continue
        if sym == "kvm_jit_interp":
            out.append(f"declare {RET_T} @kvm_jit_interp(ptr) #1")
        elif sym == "kvm_jit_refill":
            out.append("declare i1 @kvm_jit_refill(ptr, i64) #1")
        elif sym == "kvm_jit_poll":
            out.append("declare i1 @kvm_jit_poll() #1")
        elif sym == "kvm_jit_unwind":
            out.append("declare i32 @kvm_jit_unwind(ptr) #1")
        elif sym == "kvm_jit_push":
            out.append("declare ptr @kvm_jit_push(ptr, i32, i32) #1")
        elif sym == "kop_throw_div0":
            out.append("declare i32 @kop_throw_div0(ptr) #1")
        elif sym.startswith("nat_"):
            out.append(f"declare i32 @{sym}(ptr, ptr, ptr) #1")
        else:
            op = by_name[sym[len("kop_"):]]
            out.append(f"declare {handler_ret(op)} @{sym}("
                       f"{', '.join(handler_params(op))}) #1")
    if any(direct) or "read_register" in used:
        out.append("declare i64 @llvm.read_register.i64(metadata)")
    if any(direct):
        out.append("declare i64 @llvm.umax.i64(i64, i64)")
        out.append("declare i64 @llvm.smin.i64(i64, i64)")
        out.append("declare i64 @llvm.smax.i64(i64, i64)")
    out.append("")
    for i in range(nf):
        if i in bodies:
            out.extend(bodies[i])
            out.append("")
    entries = ", ".join(f"ptr @kjit_f{i}" if compiled[i] else "ptr null"
                        for i in range(nf))
    out.append(f"@kjit_fns = internal constant [{nf} x ptr] [{entries}]")
    dig = "".join(f"\\{b:02X}" for b in digest)
    out.append(f"@{table_name} = dso_local constant {{ i32, i32, [32 x i8], "
               f"ptr }} {{ i32 {L['ABI_VERSION']}, i32 {nf}, "
               f"[32 x i8] c\"{dig}\", ptr @kjit_fns }}, align 8")
    out.append("")
    out.append(f"attributes #0 = {{ {attrs} }}")
    out.append("attributes #1 = { nounwind }")
    out.append('!0 = !{!"branch_weights", i32 1, i32 2000}')
    out.append('!1 = !{!"branch_weights", i32 2000, i32 1}')
    out.append('!20 = !{!"rsp"}')
    out.append('!30 = !{!"kjit memory"}')
    for mem, tag in MEM_CLASSES.items():
        out.append(f'!{tag + 10} = !{{!"{mem}", !30, i64 0}}')
        out.append(f'!{tag} = !{{!{tag + 10}, !{tag + 10}, i64 0}}')
    if module_tail:
        out.append(module_tail)
    return ModuleIR("\n".join(out) + "\n", compiled, fallback)


_SUBCLASSES: dict = {}


def script_subclasses(img: Image, ty: int) -> set[int] | None:
    """The script class ids that are type index `ty`'s class or one of
    its subclasses, or None when `ty` is not a script class type (a
    built-in class such as Object: every script class may be below it).
    Computed once per image."""
    if not 0 <= ty < len(img.types) or img.types[ty][0] != TY_CLASS:
        return None
    root = img.types[ty][1]
    if root < FIRST_SCRIPT_CLASS:
        return None
    key = id(img)
    hit = _SUBCLASSES.get(key)
    if hit is None or hit[0] is not img:
        # class id -> the ids of its script ancestors, itself included
        # (a superclass comes before its subclasses in the image)
        chains: dict[int, set[int]] = {}
        for n, cl in enumerate(img.classes):
            cid = FIRST_SCRIPT_CLASS + n
            chains[cid] = chains.get(cl.super_id, set()) | {cid}
        hit = (img, chains)
        _SUBCLASSES.clear()
        _SUBCLASSES[key] = hit
    return {cid for cid, up in hit[1].items() if root in up}


_IFACE_IMPLS: dict = {}


def iface_impls(img: Image) -> dict[int, set[int]]:
    """(1.1) Class id -> the interface indexes the class implements: those
    of its superclass, those it names, and all they extend (as link.c
    computes its itables).  Computed once per image."""
    key = id(img)
    hit = _IFACE_IMPLS.get(key)
    if hit is not None and hit[0] is img:
        return hit[1]
    supers: list[set[int]] = []
    for n, it in enumerate(img.interfaces):
        sup = {n}
        for e in it.extends:
            if e < n:
                sup |= supers[e]
        supers.append(sup)
    named = {cid: ifs for cid, ifs in img.implements}
    out: dict[int, set[int]] = {}
    for n, cl in enumerate(img.classes):
        cid = FIRST_SCRIPT_CLASS + n
        impl = set(out.get(cl.super_id, ()))
        for i in named.get(cid, ()):
            if i < len(supers):
                impl |= supers[i]
        out[cid] = impl
    _IFACE_IMPLS.clear()
    _IFACE_IMPLS[key] = (img, out)
    return out


def calli_targets(img: Image, iface: int, m: int) -> dict[int, list[int]]:
    """(1.1) Method m of interface `iface`: script function -> the class
    ids whose vtable holds it under the method's name (names are unique
    per vtable).  Classes whose slot holds a native are left out: their
    calls take the handler."""
    name = img.strings[img.interfaces[iface].methods[m][0]]
    out: dict[int, list[int]] = {}
    for cid, impl in iface_impls(img).items():
        if iface not in impl:
            continue
        for ref in img.classes[cid - FIRST_SCRIPT_CLASS].vtable:
            if ref & NATIVE_REF:
                continue
            fname = img.strings[img.functions[ref].name]
            if fname.rsplit(b".", 1)[-1] == name:
                out.setdefault(ref, []).append(cid)
                break
    return out
