"""The table of device operations, read once from lkm/core/devops.def.

devops.def is the one list of the operations on script devices, shared
with the C side (device.c's callbacks, build/kvm's serve protocol, the
guest tool kdrive), which expands it with X-macros.  This module is its
only Python reader: ktc/host.py makes the host library's methods from it
and ktc/cli.py the `run --ops` language (parsing, argument counts, help).
The format is described in the file's header comment.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

DEF_PATH = (pathlib.Path(__file__).resolve().parent.parent
            / "lkm" / "core" / "devops.def")

# operand letters (devops.def's header): fd, name, mode, int, whence, bytes,
# (1.1) open option, ioctl argument (an int or @HEX, a user buffer)
LETTERS = frozenset("fnmiwboa")
WHENCE = {"0": 0, "set": 0, "1": 1, "cur": 1, "2": 2, "end": 2}
MODES = frozenset(("r", "w", "rw"))
FLAGS = frozenset(("nonblock", "-"))

_CB_LINE = re.compile(r'^KD_CB\(\s*(\w+)\s*\)\s*$')
_KIND_LINE = re.compile(r'^KD_KIND\(\s*(\w+)\s*,\s*"([^"]*)"\s*\)\s*$')
_OP_LINE = re.compile(
    r'^KD_OP\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,'
    r'\s*"([^"]*)"\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\)\s*$')


class DevopsError(Exception):
    """devops.def does not follow its format."""


@dataclass(frozen=True)
class Operand:
    """One operand of an operation, from a `letter:META[=default]` word of
    its KD_OP line."""
    letter: str             # one of LETTERS
    meta: str               # its name in help texts: FD, COUNT, ...
    default: str | None     # in TEXT form; None: required

    @property
    def optional(self) -> bool:
        """Whether the operand may be left out (it has a default)."""
        return self.default is not None


@dataclass(frozen=True)
class DevOp:
    """One KD_OP line: an operation on script devices.  `how` is "call"
    (the operation runs the script's callback `callback` on an open file)
    or "own" (open, close and the like, which the host implements itself);
    `where` says who offers it: "s" build/kvm's serve protocol (and so
    host.py and --ops), "k" the guest tool kdrive, "sk" both."""
    name: str               # the word in every language
    callback: str | None    # a KD_CB name, None for `none`
    how: str                # "call" or "own"
    where: str              # "s", "k" or "sk"
    operands: tuple[Operand, ...]
    kind: str               # a KD_KIND name
    shown: str              # what --ops prints; `%` is the result
    doc: str

    @property
    def served(self) -> bool:
        """Offered by the userspace simulation (serve, host.py, --ops)."""
        return "s" in self.where

    @property
    def in_kdrive(self) -> bool:
        """Offered by the guest tool kdrive (`ktc try`, the kernel tests)."""
        return "k" in self.where

    @property
    def has_fd(self) -> bool:
        """Whether the first operand is a file descriptor (the operation works on
        an open file)."""
        return bool(self.operands) and self.operands[0].letter == "f"

    @property
    def arity(self) -> tuple[int, int | None]:
        """Least and most words after the name under --ops (None: any
        number, the bytes operand taking the rest of the line)."""
        least = sum(1 for o in self.operands if not o.optional)
        most = None if any(o.letter == "b" for o in self.operands) \
            else len(self.operands)
        return least, most

    @property
    def synopsis(self) -> str:
        """`read FD [COUNT=4096]`: the operation as --ops writes it."""
        words = [self.name]
        opened = 0
        for o in self.operands:
            if o.optional:
                words.append(f"[{o.meta}={o.default}" if o.default
                             else "[" + o.meta)
                opened += 1
            else:
                words.append(o.meta)
        return " ".join(words) + "]" * opened


@dataclass(frozen=True)
class Table:
    """The whole of devops.def: callbacks, result kinds and operations, each
    in file order (the C side numbers them in that order)."""
    callbacks: tuple[str, ...]      # KD_CB lines, in order
    kinds: dict[str, str]           # KD_KIND name -> doc
    ops: dict[str, DevOp]           # KD_OP lines, in order


def _operands(text: str, where: str) -> tuple[Operand, ...]:
    """The operands of a KD_OP line's operand text; DevopsError unless each word
    is `letter:META[=default]` with a known letter, no required operand follows
    an optional one, and a bytes operand (which takes the rest of an --ops
    line) is last."""
    out = []
    for word in text.split():
        spec, eq, default = word.partition("=")
        letter, colon, meta = spec.partition(":")
        if len(letter) != 1 or letter not in LETTERS or not colon or \
                not meta:
            raise DevopsError(f"bad operand `{word}` ({where})")
        if out and out[-1].optional and not eq:
            raise DevopsError(f"required operand after an optional one "
                              f"`{word}` ({where})")
        if out and out[-1].letter == "b":
            raise DevopsError(f"bytes must be the last operand ({where})")
        out.append(Operand(letter, meta, default if eq else None))
    return tuple(out)


def parse(text: str) -> Table:
    """The table of a devops.def text; DevopsError when it is malformed."""
    callbacks: list[str] = []
    kinds: dict[str, str] = {}
    ops: dict[str, DevOp] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"devops.def:{lineno}"
        if line.startswith("KD_CB("):
            m = _CB_LINE.match(line)
            if not m or m.group(1) in callbacks:
                raise DevopsError(f"bad or repeated KD_CB line ({where})")
            callbacks.append(m.group(1))
        elif line.startswith("KD_KIND("):
            m = _KIND_LINE.match(line)
            if not m or m.group(1) in kinds:
                raise DevopsError(f"bad or repeated KD_KIND line ({where})")
            kinds[m.group(1)] = m.group(2)
        elif line.startswith("KD_OP("):
            m = _OP_LINE.match(line)
            if not m:
                raise DevopsError(f"bad KD_OP line ({where})")
            name, cb, how, whr, operands, kind, shown, doc = m.groups()
            if name in ops:
                raise DevopsError(f"operation {name} given twice ({where})")
            if cb != "none" and cb not in callbacks:
                raise DevopsError(f"{name}: no KD_CB({cb}) above ({where})")
            if how not in ("call", "own") or whr not in ("s", "k", "sk"):
                raise DevopsError(f"{name}: bad how or where ({where})")
            if kind not in kinds:
                raise DevopsError(f"{name}: unknown kind {kind} ({where})")
            op = DevOp(name, None if cb == "none" else cb, how, whr,
                       _operands(operands, where), kind, shown, doc)
            # What the C side's generic dispatch assumes of a `call`: a
            # callback, run on the file of the first operand, with only
            # int-sized operands after it.
            if how == "call" and (op.callback is None or not op.has_fd or
                                  any(o.letter not in "iw"
                                      for o in op.operands[1:])):
                raise DevopsError(f"{name}: a `call` runs a callback on an "
                                  f"FD with int operands ({where})")
            ops[name] = op
    return Table(tuple(callbacks), kinds, ops)


TABLE = parse(DEF_PATH.read_text())
OPS = TABLE.ops
# what the userspace simulation offers, in table order
SERVED = {name: op for name, op in OPS.items() if op.served}


def describe() -> str:
    """The table as text: each operation, where it is offered, its kind of
    result and its help line, then the kinds (`python3 -m ktc.devops`)."""
    lines = []
    for op in OPS.values():
        where = {"s": "serve", "k": "kdrive", "sk": "serve,kdrive"}[op.where]
        lines.append(f"{op.synopsis:<28} {where:<13} {op.kind:<8} {op.doc}")
    lines.append("")
    lines += [f"{kind:<8} {doc}" for kind, doc in TABLE.kinds.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
