"""The K instruction set, read from lkm/core/opcodes.def at import.

opcodes.def is the single source of truth: the opcode number of an
instruction is the 0-based position of its OP(...) line, and its operand
letters say how many operand words follow the opcode word and what each
one means (see the comment at the top of opcodes.def).  Nothing here
repeats the list by hand.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

DEF_PATH = (pathlib.Path(__file__).resolve().parent.parent
            / "lkm" / "core" / "opcodes.def")

# The letters opcodes.def's header defines.  An unknown one is an error at
# import: it would be an operand kind that the disassembler, kasm and the
# JIT (which decode operands by letter) do not know how to treat.
OPERAND_LETTERS = frozenset("ArikjgctfsFneNq")

FLAG_LETTERS = frozenset("ts$ni")

# OP(NAME, "operands", "flags", "semantics"); \" may occur in semantics
_OP_LINE = re.compile(
    r'^OP\(\s*([A-Z_][A-Z0-9_]*)\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"\s*,'
    r'\s*"((?:[^"\\]|\\.)*)"\s*\)')


@dataclass(frozen=True)
class Opcode:
    """One OP(...) line.  `number` is the opcode word's value (the line's
    position); `doc` is the semantics column, for listings and errors."""
    name: str
    number: int
    operands: str    # one letter per operand word
    flags: str       # opcodes.def's flag letters (t s $ n i)
    doc: str

    @property
    def terminates(self) -> bool:
        """Control never falls through it."""
        return "t" in self.flags

    @property
    def runs_script(self) -> bool:
        """May run script code (a call, a toString)."""
        return "s" in self.flags

    @property
    def charges(self) -> bool:
        """Its handler charges the budget itself (scans, allocation)."""
        return "$" in self.flags

    @property
    def nothrow(self) -> bool:
        """Neither throws nor allocates."""
        return "n" in self.flags

    @property
    def tiny(self) -> bool:
        """The JIT emits it as IR in place."""
        return "i" in self.flags

    @property
    def branches(self) -> bool:
        """Has a jump target."""
        return "j" in self.operands

    @property
    def size(self) -> int:
        """Words taken by one instruction: the opcode and its operands."""
        return 1 + len(self.operands)


def _parse(text: str) -> list[Opcode]:
    """The opcodes of an opcodes.def text, numbered by position.  Any line
    beginning with `OP(` must match exactly (ValueError otherwise): a
    skipped line would renumber every opcode after it."""
    ops: list[Opcode] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line.startswith("OP("):
            continue
        m = _OP_LINE.match(line)
        if m is None:
            raise ValueError(f"{DEF_PATH}:{lineno}: malformed OP line")
        name, operands, flags, doc = m.groups()
        bad = set(operands) - OPERAND_LETTERS
        if bad:
            raise ValueError(
                f"{DEF_PATH}:{lineno}: unknown operand letter(s) {sorted(bad)}")
        bad = set(flags) - FLAG_LETTERS
        if bad:
            raise ValueError(
                f"{DEF_PATH}:{lineno}: unknown flag letter(s) {sorted(bad)}")
        ops.append(Opcode(name, len(ops), operands, flags,
                          doc.replace('\\"', '"')))
    return ops


# Read once at import, by everything that needs opcode numbers: the
# emitter, the disassembler, tests/tools/kasm.py and the JIT.
OPCODES: list[Opcode] = _parse(DEF_PATH.read_text())
BY_NAME: dict[str, Opcode] = {op.name: op for op in OPCODES}
BY_NUMBER: dict[int, Opcode] = {op.number: op for op in OPCODES}


def opcode(name: str) -> Opcode:
    return BY_NAME[name]


# Instructions after which control never falls through (flag t).
TERMINATORS = frozenset(op.name for op in OPCODES if op.terminates)

# Module-level constants OP_NAME = number, for readers of the emitter.
globals().update({f"OP_{op.name}": op.number for op in OPCODES})


def encode(name: str, *operands: int) -> list[int]:
    """The code words of one instruction: its number, then the operands
    as given (ValueError if their count does not match the letters).
    Values are not range-checked here: image.write refuses a word that
    does not fit 32 bits, and the verifier the rest."""
    op = BY_NAME[name]
    if len(operands) != len(op.operands):
        raise ValueError(f"{name} takes {len(op.operands)} operands "
                         f"({op.operands!r}), got {len(operands)}")
    return [op.number, *operands]
