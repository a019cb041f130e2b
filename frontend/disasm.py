"""Disassembler for K images, in the clox style.

Per function a header line, then one line per instruction:

    offset line OPCODE operands

with operands decoded: registers as `r3`, constants with their value, jump
targets as `-> 0012`, function, class, global, field and native names, and
types in source syntax.  A `|` in the line column means "same line as the
previous instruction".

The input is whatever read_image accepted, which the verifier has not seen
(`ktc disasm` lists any image file, and tests list hand-made bad ones), so
every index an operand or record holds is checked before use and an
out-of-range one prints as `<kind N>` instead of raising.  The listing is
pure text: the CLI prints it.
"""

from __future__ import annotations

from . import image as im
from .defs import BUILTINS
from .opcodes import BY_NUMBER

# Longest type name a listing prints; a longer one ends with "...".
TYPE_NAME_MAX = 200


class Disassembler:
    """Renders one image; stateless apart from the image it reads."""

    def __init__(self, img: im.Image):
        self.img = img
        self._type_names: list[str] = []    # type_name()'s, in index order

    # names
    def class_name(self, cid: int | None) -> str:
        """A class id's name: built-ins from builtins.def, script classes
        from the image; None (a catch-all handler) is `*`."""
        if cid is None:
            return "*"
        if cid in BUILTINS.class_by_id:
            return BUILTINS.class_by_id[cid].name
        i = cid - im.FIRST_SCRIPT_CLASS
        if 0 <= i < len(self.img.classes):
            return self.img.string(self.img.classes[i].name)
        return f"<class {cid}>"

    def type_name(self, t: int) -> str:
        """A type index in source syntax (`int[]`, `Func<int(int)>`).
        In a loadable image a type refers only to earlier ones; the
        names are built in index order from those already built, so a
        hostile image (a type naming itself or a later one, or a chain
        of 10^5 nested arrays) costs neither recursion nor quadratic
        text: a forward reference prints as `<type N>` and a name is cut
        at TYPE_NAME_MAX characters."""
        if not 0 <= t < len(self.img.types):
            return f"<type {t}>"
        names = self._type_names
        while len(names) <= t:
            names.append(self._build_type_name(len(names)))
        return names[t]

    def _build_type_name(self, t: int) -> str:
        """Type t's name from the names of the types before it."""
        def sub(u: int) -> str:
            return self._type_names[u] if 0 <= u < t else f"<type {u}>"
        rec = self.img.types[t]
        kind = rec[0]
        if kind == im.TY_INT:
            name = "int"
        elif kind == im.TY_BOOL:
            name = "boolean"
        elif kind == im.TY_ANY:
            name = "Any"
        elif kind == im.TY_VOID:
            name = "void"
        elif kind == im.TY_CLASS:
            name = self.class_name(rec[1])
        elif kind == im.TY_ARRAY:
            name = sub(rec[1]) + "[]"
        elif kind == im.TY_FUNC:
            params = ", ".join(sub(p) for p in rec[2])
            name = f"Func<{sub(rec[1])}({params})>"
        elif kind == im.TY_MAP:
            name = f"Map<{sub(rec[1])}, {sub(rec[2])}>"
        elif kind == im.TY_IFACE:       # (1.1) its index may be anything
            name = self.iface_name(rec[1])
        else:
            name = f"<type {t}>"
        if len(name) > TYPE_NAME_MAX:
            name = name[:TYPE_NAME_MAX] + "..."
        return name

    def iface_name(self, i: int) -> str:
        """(1.1) Interface i's name, `<interface N>` when out of range."""
        ifs = self.img.interfaces
        if 0 <= i < len(ifs) and 0 <= ifs[i].name < len(self.img.strings):
            return self.img.string(ifs[i].name)
        return f"<interface {i}>"

    def signature(self, t: int) -> str:
        """A function type as `R(A, B)` (a function header's form);
        anything else as its type name."""
        rec = self.img.types[t] if 0 <= t < len(self.img.types) else None
        if not rec or rec[0] != im.TY_FUNC:
            return self.type_name(t)
        params = ", ".join(self.type_name(p) for p in rec[2])
        return f"{self.type_name(rec[1])}({params})"

    def func_name(self, f: int) -> str:
        """A function index's name (`fib`, `Point.sum`, `<init>`)."""
        if 0 <= f < len(self.img.functions):
            return self.img.string(self.img.functions[f].name)
        return f"<function {f}>"

    def native_name(self, n: int) -> str:
        """A native id's qualified name (`String.length`, `print`)."""
        if 0 <= n < len(BUILTINS.natives):
            return BUILTINS.natives[n].qualified
        return f"<native {n}>"

    def _class_chain(self, cid):
        """Field names of class `cid`, inherited first, and its vtable names.
        The superclass chain is walked with a visited set: a cycle, which
        the verifier refuses but read_image does not, ends the walk."""
        chain, seen = [], set()
        while cid not in BUILTINS.class_by_id and cid not in seen:
            i = cid - im.FIRST_SCRIPT_CLASS
            if not 0 <= i < len(self.img.classes):
                break
            seen.add(cid)
            chain.append(self.img.classes[i])
            cid = self.img.classes[i].super_id
        fields: list[str] = []
        vt: list[str] = []
        if cid in BUILTINS.class_by_id:
            bc = BUILTINS.class_by_id[cid]
            fields = list(bc.field_names)
            vt = [nat.name if nat else "?" for nat in bc.vtable]
        if not chain:
            return fields, vt
        for c in reversed(chain):
            fields = fields + [self.img.string(n) for n, _ in c.fields]
        vt = []
        for ref in chain[0].vtable:
            if ref & im.NATIVE_REF and ref != im.NONE:
                n = ref & ~im.NATIVE_REF
                vt.append(BUILTINS.natives[n].name
                          if n < len(BUILTINS.natives) else "?")
            else:
                full = self.func_name(ref)
                vt.append(full.rsplit(".", 1)[-1])
        return fields, vt

    def _reg_class(self, fn: im.Function, r: int):
        """The class id of register r's declared type, or None if it is not
        a class type (registers are typed for the whole function)."""
        if 0 <= r < len(fn.regs):
            t = fn.regs[r]
            if 0 <= t < len(self.img.types):
                rec = self.img.types[t]
                if rec[0] == im.TY_CLASS:
                    return rec[1]
        return None

    # instructions
    def operand(self, fn, letter, value, words):
        """One operand word, rendered by its opcodes.def letter: registers
        `r3` (`-` for an absent destination, -1), constants `k2(value)`,
        jumps `-> 0012`, names for globals, classes, types, functions,
        natives and strings, `ic0` for inline caches."""
        if letter in "Ar":
            return "-" if value == -1 else f"r{value}"
        if letter in "iN":
            return str(value)
        if letter == "k":
            if 0 <= value < len(self.img.constants):
                kind, v = self.img.constants[value]
                if kind == im.K_INT:
                    return f"k{value}({v})"
                if not 0 <= v < len(self.img.strings):
                    return f"k{value}(<string {v}>)"
                return f"k{value}({_quote(self.img.strings[v])})"
            return f"k{value}(?)"
        if letter == "j":
            return f"-> {value:04d}"
        if letter == "g":
            if 0 <= value < len(self.img.globals):
                return f"g{value}({self.img.string(self.img.globals[value][0])})"
            return f"g{value}"
        if letter == "c":
            return self.class_name(value)
        if letter == "t":
            return self.type_name(value)
        if letter == "f":
            return self.func_name(value)
        if letter == "n":
            return self.native_name(value)
        if letter == "e":
            if 0 <= value < len(self.img.strings):
                return self.img.string(value)
            return f"e{value}"
        if letter == "q":
            return f"ic{value}"
        # the slot or field number alone: its name depends on the class
        # of the object register, which _annotate appends
        if letter in "sF":
            return f"{'slot' if letter == 's' else 'field'} {value}"
        return str(value)

    def _annotate(self, fn, op, operands):
        """Names for slot and field operands, found through the class of
        the register that holds the object."""
        if op.name in ("GETF", "SETF", "BINDM", "CALLV"):
            # The object is the first plain register operand (GETF ArF,
            # SETF rFr, BINDM Ars, CALLV Asrrq: the receiver); the index is
            # the s or F one.
            obj = operands[op.operands.index("r")]
            slot = "s" in op.operands
            idx = operands[op.operands.index("s" if slot else "F")]
            cid = self._reg_class(fn, obj)
            if cid is None:
                return ""
            fields, vt = self._class_chain(cid)
            names = vt if slot else fields
            if 0 <= idx < len(names):
                return f"  ; {self.class_name(cid)}.{names[idx]}"
        return ""

    def function(self, index: int) -> list[str]:
        """The listing lines of one function: a `== N: name signature
        [flags] ==` header, the registers and their types, one line per
        instruction, then its handlers in search order."""
        fn = self.img.functions[index]
        flags = []
        if fn.flags & im.FLAG_METHOD:
            flags.append("method")
        if fn.flags & im.FLAG_CTOR:
            flags.append("constructor")
        if fn.flags & im.FLAG_INIT:
            flags.append("init")
        if fn.flags & im.FLAG_LAMBDA:
            flags.append("lambda")
        out = [f"== {index}: {self.func_name(index)} {self.signature(fn.type)}"
               f"{' [' + ', '.join(flags) + ']' if flags else ''} =="]
        regs = ", ".join(f"r{i} {self.type_name(t)}"
                         for i, t in enumerate(fn.regs))
        out.append(f"   registers: {regs or '(none)'}"
                   + (f"; inline caches: {fn.nics}" if fn.nics else ""))
        lines = sorted(fn.lines)
        li = 0
        this_line = cur_line = None
        pc = 0
        code = fn.code
        while pc < len(code):
            # the line table is sorted by pc: an instruction takes the
            # line of the last entry at or before it (lkm/image.md)
            while li < len(lines) and lines[li][0] <= pc:
                this_line = lines[li][1]
                li += 1
            # the line number only where it changes, `   ?` before the
            # first entry of the table
            line_col = "   |"
            if this_line != cur_line:
                line_col = f"{this_line:4d}" if this_line is not None else "   ?"
                cur_line = this_line
            # a bad opcode or a cut-off instruction is listed, not raised:
            # after a bad opcode the listing resynchronises word by word
            op = BY_NUMBER.get(code[pc])
            if op is None:
                out.append(f"{pc:04d} {line_col} <bad opcode {code[pc]}>")
                pc += 1
                continue
            operands = code[pc + 1:pc + 1 + len(op.operands)]
            if len(operands) < len(op.operands):
                out.append(f"{pc:04d} {line_col} {op.name} <truncated>")
                break
            text = " ".join(self.operand(fn, letter, v, code)
                            for letter, v in zip(op.operands, operands))
            note = self._annotate(fn, op, operands)
            out.append(f"{pc:04d} {line_col} {op.name:<8} {text}".rstrip()
                       + note)
            pc += op.size
        for h in fn.handlers:
            out.append(f"   handler [{h.start:04d}, {h.end:04d}) -> "
                       f"{h.target:04d} catch {self.class_name(h.class_id)}"
                       f" in r{h.register}")
        return out

    def all(self) -> str:
        """The whole listing: a `;` comment block (digest, source, classes
        with their vtables, globals), then every function in index order."""
        out = [f"; image {self.img.digest.hex()[:16]} source "
               f"{self.img.string(self.img.source)}"]
        for i, c in enumerate(self.img.classes):
            cid = im.FIRST_SCRIPT_CLASS + i
            fields = ", ".join(f"{self.type_name(t)} {self.img.string(n)}"
                               for n, t in c.fields)
            out.append(f"; class {cid} {self.img.string(c.name)} extends "
                       f"{self.class_name(c.super_id)} {{{fields}}} "
                       f"ctor {self.func_name(c.ctor)}")
            # each slot as `slot:name`: a function, or an inherited native
            vt = []
            for slot, ref in enumerate(c.vtable):
                if ref != im.NONE and ref & im.NATIVE_REF:
                    vt.append(f"{slot}:{self.native_name(ref & ~im.NATIVE_REF)}")
                else:
                    vt.append(f"{slot}:{self.func_name(ref)}")
            out.append(f";   vtable {' '.join(vt) or '(empty)'}")
        # (1.1) interfaces: `extends`, own methods by index (CALLI's
        # operand), then what each class names in `implements`
        for i, it in enumerate(self.img.interfaces):
            ext = ", ".join(self.iface_name(e) for e in it.extends)
            ms = " ".join(
                f"{k}:{self.img.string(n) if 0 <= n < len(self.img.strings) else '?'}"
                f" {self.signature(t) if 0 <= t < len(self.img.types) else f'<type {t}>'}"
                for k, (n, t) in enumerate(it.methods))
            out.append(f"; interface {i} {self.iface_name(i)}"
                       f"{' extends ' + ext if ext else ''} {{{ms}}}")
        for cid, ifs in self.img.implements:
            out.append(f"; class {self.class_name(cid)} implements "
                       f"{', '.join(self.iface_name(x) for x in ifs)}")
        for i, (n, t) in enumerate(self.img.globals):
            out.append(f"; global g{i} {self.type_name(t)} {self.img.string(n)}")
        for i in range(len(self.img.functions)):
            out.append("")
            out.extend(self.function(i))
        return "\n".join(out) + "\n"


def _quote(b: bytes) -> str:
    """A byte string as a K string literal: printable ASCII as is, the
    usual escapes, `\\xHH` for any other byte (strings are bytes, not text)."""
    out = []
    for ch in b:
        c = chr(ch)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= ch < 0x7F:
            out.append(c)
        else:
            out.append(f"\\x{ch:02x}")
    return '"' + "".join(out) + '"'


def disassemble(img: im.Image) -> str:
    """The listing of a whole image (what `ktc disasm` prints)."""
    return Disassembler(img).all()


def disassemble_function(img: im.Image, name: str) -> str:
    """The listing of the function called `name` (for tests)."""
    d = Disassembler(img)
    for i, fn in enumerate(img.functions):
        if img.string(fn.name) == name:
            return "\n".join(d.function(i)) + "\n"
    raise KeyError(name)
