"""kasm: a small assembler from a readable text form to a K image (.kbc).

The image format is lkm/image.md.  Opcode numbers and operand letters come
from lkm/core/opcodes.def (read by frontend/opcodes.py), built-in classes
and natives from lkm/core/builtins.def (read by frontend/defs.py), and the
bytes are written by frontend/image.py's writer, the compiler's own: nothing
is repeated here.  The assembler checks syntax and names, never types: it
happily writes images the verifier must refuse, which is what the verifier
tests need (it uses the writer's non-strict mode, which writes every field
as given).

Python use:
    assemble(text) -> bytes             # parse + resolve + serialize
    m = parse(text); m.functions[0].code[3] = 99; m.to_bytes()
Command line:
    python3 -m tests.tools.kasm in.kasm -o out.kbc

Text format (one item per line; `;` starts a comment outside strings;
operands separated by commas and/or blanks):

    .source "hello.k"               source file name (meta section)
    .global TYPE NAME               a global variable

    .class NAME [extends SUPER]     a script class (id 32 + order of .class)
      .field TYPE NAME              fields this class adds
      .method NAME FUNC             vtable entry: overrides the super's slot
                                    of the same name, else a new slot
      .vtable REF...                (optional) the whole vtable, raw: function
                                    names, `native:ID`, or numbers
      .ctor FUNC                    constructor function (default: NAME.<init>)
    .end

    .function RTYPE NAME(PTYPE PNAME, ...)   a top-level function
    .method RTYPE CLASS.NAME(PTYPE PNAME, ...)  a method: r0 is `this`
    .ctor CLASS(PTYPE PNAME, ...)            a constructor CLASS.<init>
    .init                                    the init function <init>
      .reg TYPE NAME                register after the parameters
      .flags N / .owner CLASS|N / .type TYPE|#N / .nics N   raw overrides
      .line N                       line of the following instructions
      .handler START END TARGET CLASS|* REG   labels; `*` catches all
      LABEL:
      OPCODE operand, operand, ...
    .end

Types are written as in K: int boolean Any void String Point int[]
Array<int> Func<int(int, String)>; `#N` is a raw type index.  Types,
strings and constants are interned automatically in order of first use.

Operands by letter (a plain integer is always accepted as the raw value):
    A r     register: rN, a register name, `this`; A also -1 / `_` (none)
    i N     integer
    k       constant: integer literal, "string", or #N raw index
    j       label
    g       global name
    c       class name (built-in or script)
    t       type
    f       function name (`fib`, `Point.sum`, `Point.<init>`, `<init>`)
    s       vtable slot: Class.method or number
    F       field: Class.field (absolute index) or number
    n       native: `print`, `String.length`, `Device.register`, `Object_init`
    e       "string" or bare identifier (interned string)
    N q     integer
"""

from __future__ import annotations

import pathlib
import re
import sys
from dataclasses import dataclass, field

from frontend import image as im
from frontend.defs import BUILTINS
from frontend.opcodes import OPCODES as _OPCODES
from frontend.image import (FIRST_SCRIPT_CLASS, FLAG_CTOR, FLAG_INIT,  # noqa: F401
                            FLAG_METHOD, NATIVE_REF, NONE, TY_ANY, TY_ARRAY,
                            TY_BOOL, TY_CLASS, TY_FUNC, TY_INT, TY_VOID,
                            fix_digest, header)


class AsmError(Exception):
    pass


# name -> (opcode number, operand letters)
OPCODES = {op.name: (op.number, op.operands) for op in _OPCODES}


def native_id(name: str) -> int:
    """`print`, `String.length`, `Object_init` or `Device.register`."""
    for nat in BUILTINS.natives:
        if name in (nat.name, f"{nat.owner}.{nat.name}") and \
                (nat.owner == "Global" or "." in name or nat.kind == "CTOR"):
            return nat.id
    raise AsmError(f"unknown native `{name}`")


# ---- the resolved image -----------------------------------------------------
#
# A Module is a frontend.image.Image (records keep the file's own
# representation) that tests may change freely before writing it: any
# field may hold a value the verifier must refuse.

Function = im.Function


class Klass(im.ClassRecord):
    """A class record; `super` is the superclass id (super_id)."""

    @property
    def super(self) -> int:
        return self.super_id

    @super.setter
    def super(self, value: int):
        self.super_id = value


@dataclass(eq=False)
class Module(im.Image):
    major: int = im.VERSION_MAJOR
    minor: int = im.VERSION_MINOR

    @property
    def consts(self) -> list:
        """The constant pool, (kind, value) pairs."""
        return self.constants

    # interning helpers (usable by tests too)
    def intern(self, s) -> int:
        """Index of string `s` in the pool, added at the end if new (the
        inherited `string(i)` still reads the pool back as text)."""
        b = s.encode() if isinstance(s, str) else bytes(s)
        if b not in self.strings:
            self.strings.append(b)
        return self.strings.index(b)

    def const(self, kind: int, value: int) -> int:
        if (kind, value) not in self.constants:
            self.constants.append((kind, value))
        return self.constants.index((kind, value))

    def type(self, rec: tuple) -> int:
        if rec not in self.types:
            self.types.append(rec)
        return self.types.index(rec)

    def sections(self) -> list:
        """The seven (tag, payload) pairs."""
        return im.sections(self, strict=False)

    def to_bytes(self) -> bytes:
        return im.write(self, strict=False, major=self.major,
                        minor=self.minor)


# ---- the text form ------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s,]+')


def _strip_comment(line: str) -> str:
    out, q, esc = [], False, False
    for ch in line:
        if q:
            out.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                q = False
        elif ch == '"':
            q = True
            out.append(ch)
        elif ch == ";":
            break
        else:
            out.append(ch)
    return "".join(out).strip()


def _unquote(tok: str) -> bytes:
    body = tok[1:-1]
    out, i = bytearray(), 0
    esc = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39}
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nx = body[i + 1]
            if nx == "x":
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(esc[nx])
            i += 2
        else:
            out += ch.encode()
            i += 1
    return bytes(out)


def _split_type_args(s: str) -> list:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


@dataclass
class _PClass:
    name: str
    super: str
    fields: list = field(default_factory=list)     # (type, name)
    methods: list = field(default_factory=list)    # (name, func name)
    raw_vtable: list | None = None
    ctor: str | None = None


@dataclass
class _PFunc:
    name: str
    owner: str | None
    rtype: str
    params: list            # [(type, name)]
    flags: int
    regs: list = field(default_factory=list)       # [(type, name)]
    body: list = field(default_factory=list)       # (lineno, tokens) / labels
    handlers: list = field(default_factory=list)
    raw_flags: int | None = None
    raw_owner: str | None = None
    raw_type: str | None = None
    nics: int | None = None


class Assembler:
    def __init__(self, text: str):
        self.text = text
        self.m = Module()
        self.classes: list[_PClass] = []
        self.funcs: list[_PFunc] = []
        self.globals: list = []
        self.source = "<kasm>"

    # -- pass 1: parse ------------------------------------------------------
    def parse(self):
        cls = fn = None
        for lineno, raw in enumerate(self.text.splitlines(), 1):
            line = _strip_comment(raw)
            if not line:
                continue
            try:
                cls, fn = self._line(line, cls, fn)
            except AsmError as e:
                raise AsmError(f"line {lineno}: {e}") from None
            except (IndexError, ValueError, KeyError) as e:
                raise AsmError(f"line {lineno}: cannot parse `{line}`: {e}") \
                    from None
        if cls or fn:
            raise AsmError("missing .end at end of input")

    def _sig(self, text: str):
        mo = re.match(r"^(.*?)\s*([\w.<>@]+)\((.*)\)$", text.strip())
        if not mo:
            raise AsmError(f"bad signature `{text}`")
        params = []
        for p in _split_type_args(mo.group(3)):
            ty, nm = p.rsplit(None, 1)
            params.append((ty, nm))
        return mo.group(1).strip(), mo.group(2), params

    def _line(self, line, cls, fn):
        word = line.split(None, 1)[0]
        rest = line[len(word):].strip()
        if fn is not None:
            if word == ".end":
                return None, None
            if word == ".reg":
                ty, nm = rest.rsplit(None, 1)
                fn.regs.append((ty, nm))
            elif word == ".flags":
                fn.raw_flags = int(rest, 0)
            elif word == ".owner":
                fn.raw_owner = rest
            elif word == ".type":
                fn.raw_type = rest
            elif word == ".nics":
                fn.nics = int(rest, 0)
            elif word == ".line":
                fn.body.append(("line", int(rest, 0)))
            elif word == ".handler":
                fn.handlers.append(_TOKEN.findall(rest))
            elif word.endswith(":") and len(line.split()) == 1:
                fn.body.append(("label", word[:-1]))
            else:
                fn.body.append(("insn", _TOKEN.findall(line)))
            return cls, fn
        if cls is not None:
            if word == ".end":
                return None, None
            if word == ".field":
                ty, nm = rest.rsplit(None, 1)
                cls.fields.append((ty, nm))
            elif word == ".method":
                nm, fname = rest.split()
                cls.methods.append((nm, fname))
            elif word == ".vtable":
                cls.raw_vtable = rest.split()
            elif word == ".ctor":
                cls.ctor = rest
            else:
                raise AsmError(f"unexpected `{word}` in a class")
            return cls, fn
        if word == ".source":
            self.source = _unquote(rest).decode()
        elif word == ".global":
            ty, nm = rest.rsplit(None, 1)
            self.globals.append((ty, nm))
        elif word == ".class":
            parts = rest.split()
            sup = parts[2] if len(parts) > 2 and parts[1] == "extends" \
                else "Object"
            cls = _PClass(parts[0], sup)
            self.classes.append(cls)
        elif word == ".function":
            rt, nm, ps = self._sig(rest)
            fn = _PFunc(nm, None, rt, ps, 0)
        elif word == ".method":
            rt, nm, ps = self._sig(rest)
            owner = nm.split(".", 1)[0]
            fn = _PFunc(nm, owner, rt, [(owner, "this")] + ps, FLAG_METHOD)
        elif word == ".ctor":
            _, nm, ps = self._sig("void " + rest)
            fn = _PFunc(nm + ".<init>", nm, "void", [(nm, "this")] + ps,
                        FLAG_CTOR)
        elif word == ".init":
            fn = _PFunc("<init>", None, "void", [], FLAG_INIT)
        else:
            raise AsmError(f"unknown directive `{word}`")
        if fn is not None:
            self.funcs.append(fn)
        return cls, fn

    # -- resolution helpers -------------------------------------------------
    def class_id(self, name: str) -> int:
        if re.fullmatch(r"-?\d+|0x[0-9a-fA-F]+", name):
            return int(name, 0) & 0xFFFFFFFF
        if name in BUILTINS.class_by_name:
            return BUILTINS.class_by_name[name].id
        for i, c in enumerate(self.classes):
            if c.name == name:
                return FIRST_SCRIPT_CLASS + i
        raise AsmError(f"unknown class `{name}`")

    def type(self, text: str) -> int:
        t = text.strip()
        if t.startswith("#"):
            return int(t[1:], 0)
        if t.endswith("[]"):
            return self.m.type((TY_ARRAY, self.type(t[:-2])))
        simple = {"int": TY_INT, "boolean": TY_BOOL, "Any": TY_ANY,
                  "void": TY_VOID}
        if t in simple:
            return self.m.type((simple[t],))
        if t.startswith("Array<") and t.endswith(">"):
            return self.m.type((TY_ARRAY, self.type(t[6:-1])))
        if t.startswith("Func<") and t.endswith(">"):
            inner = t[5:-1]
            k = inner.index("(")
            res = self.type(inner[:k])
            params = tuple(self.type(p)
                           for p in _split_type_args(inner[k + 1:-1]))
            return self.m.type((TY_FUNC, res, params))
        return self.m.type((TY_CLASS, self.class_id(t)))

    def func_index(self, name: str) -> int:
        if re.fullmatch(r"-?\d+", name):
            return int(name) & 0xFFFFFFFF
        for i, f in enumerate(self.funcs):
            if f.name == name:
                return i
        raise AsmError(f"unknown function `{name}`")

    def class_fields(self, cid: int) -> list:
        """All field names of a class, absolute order."""
        if cid in BUILTINS.class_by_id:
            return list(BUILTINS.class_by_id[cid].field_names)
        c = self.classes[cid - FIRST_SCRIPT_CLASS]
        return self.class_fields(self.class_id(c.super)) + \
            [n for _, n in c.fields]

    def vtable_names(self, cid: int) -> list:
        return [n for n, _ in self.vtable(cid)]

    def vtable(self, cid: int) -> list:
        """[(name, ref)] of a class."""
        if cid in BUILTINS.class_by_id:
            return [(nat.name, NATIVE_REF | nat.id) if nat else (None, NONE)
                    for nat in BUILTINS.class_by_id[cid].vtable]
        c = self.classes[cid - FIRST_SCRIPT_CLASS]
        vt = list(self.vtable(self.class_id(c.super)))
        for nm, fname in c.methods:
            ref = self.func_index(fname)
            for k, (on, _) in enumerate(vt):
                if on == nm:
                    vt[k] = (nm, ref)
                    break
            else:
                vt.append((nm, ref))
        return vt

    # -- pass 2: resolve ----------------------------------------------------
    def resolve(self) -> Module:
        m = self.m
        m.source = m.intern(self.source)
        for f in self.funcs:
            m.intern(f.name)
        for ty, nm in self.globals:
            m.globals.append((m.intern(nm), self.type(ty)))
        for i, c in enumerate(self.classes):
            cid = FIRST_SCRIPT_CLASS + i
            sup = self.class_id(c.super)
            flds = [(m.intern(nm), self.type(ty)) for ty, nm in c.fields]
            if c.raw_vtable is not None:
                vt = []
                for r in c.raw_vtable:
                    if r.startswith("native:"):
                        vt.append(NATIVE_REF | int(r[7:], 0))
                    else:
                        vt.append(self.func_index(r))
            else:
                vt = [ref for _, ref in self.vtable(cid)]
            ctor = c.ctor if c.ctor is not None else c.name + ".<init>"
            try:
                ctor_i = self.func_index(ctor)
            except AsmError:
                ctor_i = NONE
            m.classes.append(Klass(m.intern(c.name), sup, flds, ctor_i, vt))
        init = None
        for i, f in enumerate(self.funcs):
            m.functions.append(self._function(f))
            if f.flags & FLAG_INIT:
                init = i
        if init is None:
            raise AsmError("no .init function")
        m.init = init
        return m

    def _function(self, f: _PFunc) -> Function:
        m = self.m
        decl = [t for t, _ in f.params]
        if f.flags & (FLAG_METHOD | FLAG_CTOR):
            decl = decl[1:]
        ftype = self.type(f.raw_type) if f.raw_type else \
            self.type(f"Func<{f.rtype}({', '.join(decl)})>")
        owner = None if f.owner is None else self.class_id(f.owner)
        if f.raw_owner is not None:
            owner = None if f.raw_owner in ("NONE", "none") else \
                self.class_id(f.raw_owner)
        regs = list(f.params) + list(f.regs)
        regnames = {nm: i for i, (_, nm) in enumerate(regs)}
        reg_types = [self.type(t) for t, _ in regs]
        # labels
        labels, pc = {}, 0
        for item in f.body:
            if item[0] == "label":
                labels[item[1]] = pc
            elif item[0] == "insn":
                op = item[1][0].upper()
                if op not in OPCODES:
                    raise AsmError(f"{f.name}: unknown opcode `{item[1][0]}`")
                pc += 1 + len(OPCODES[op][1])
        code, lines, maxq = [], [], -1
        for item in f.body:
            if item[0] == "line":
                lines.append((len(code), item[1]))
            elif item[0] == "insn":
                toks = item[1]
                op = toks[0].upper()
                num, letters = OPCODES[op]
                args = toks[1:]
                if len(args) != len(letters):
                    raise AsmError(f"{f.name}: {op} takes {len(letters)} "
                                   f"operands, got {len(args)}")
                code.append(num)
                for letter, a in zip(letters, args):
                    v = self._operand(letter, a, regnames, labels)
                    if letter == "q":
                        maxq = max(maxq, v)
                    code.append(v)
        handlers = []
        for h in f.handlers:
            s, e, t = (labels[x] if x in labels else int(x, 0) for x in h[:3])
            c = None if h[3] == "*" else self.class_id(h[3])
            r = self._operand("r", h[4], regnames, labels)
            handlers.append(im.Handler(s, e, t, c, r))
        flags = f.flags if f.raw_flags is None else f.raw_flags
        nics = f.nics if f.nics is not None else maxq + 1
        return Function(m.intern(f.name), owner, ftype, flags, reg_types,
                        code, handlers, lines, nics)

    def _int(self, a: str) -> int:
        return int(a, 0)

    def _operand(self, letter, a, regnames, labels) -> int:
        m = self.m
        if re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)", a) and letter not in "k":
            return int(a, 0)
        if letter in "Ar":
            if a == "_":
                return -1
            if re.fullmatch(r"r\d+", a):
                return int(a[1:])
            if a in regnames:
                return regnames[a]
            raise AsmError(f"unknown register `{a}`")
        if letter == "k":
            if a.startswith("#"):
                return int(a[1:], 0)
            if a.startswith('"'):
                return m.const(2, m.intern(_unquote(a)))
            return m.const(1, int(a, 0))
        if letter == "j":
            if a not in labels:
                raise AsmError(f"unknown label `{a}`")
            return labels[a]
        if letter == "g":
            for i, (_, nm) in enumerate(self.globals):
                if nm == a:
                    return i
            raise AsmError(f"unknown global `{a}`")
        if letter == "c":
            return self.class_id(a)
        if letter == "t":
            return self.type(a)
        if letter == "f":
            return self.func_index(a)
        if letter == "s":
            cname, meth = a.split(".", 1)
            names = self.vtable_names(self.class_id(cname))
            return names.index(meth)
        if letter == "F":
            cname, fld = a.split(".", 1)
            return self.class_fields(self.class_id(cname)).index(fld)
        if letter == "n":
            return native_id(a)
        if letter == "e":
            return m.intern(_unquote(a) if a.startswith('"') else a)
        raise AsmError(f"bad operand `{a}` for letter {letter}")


def parse(text: str) -> Module:
    """Parse and resolve kasm text into a Module (mutable, for tests)."""
    a = Assembler(text)
    a.parse()
    return a.resolve()


def assemble(text: str) -> bytes:
    return parse(text).to_bytes()


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="kasm", description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        data = assemble(pathlib.Path(args.input).read_text())
    except AsmError as e:
        print(f"{args.input}: error: {e}", file=sys.stderr)
        return 1
    pathlib.Path(args.output).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
