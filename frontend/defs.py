"""Built-in classes, natives and errno values, read once from
lkm/core/builtins.def.

builtins.def is the single source of truth shared with the VM, which
expands it with X-macros.  This module is the only Python reader of it:
the checker and emitter (frontend/builtins.py builds their ClassInfos from
it), the disassembler (names of natives, fields and vtable slots) and the
test assembler tests/tools/kasm.py all use `BUILTINS`.  opcodes.py is its
sibling for opcodes.def.

Native ids are positional, as in the C enum: the id of a K_NATIVE line is
its 0-based position among the K_NATIVE lines, and the id column must
repeat it (checked here).  Images name natives by id, so the list is
append-only; tests/test_native_ids.py holds the ids already given out.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field

DEF_PATH = (pathlib.Path(__file__).resolve().parent.parent
            / "lkm" / "core" / "builtins.def")

# builtins.def's kinds: a method on a receiver, a static on a type name
# (`Math.min`), a top-level function (`print`), a constructor.
NATIVE_KINDS = frozenset(("METHOD", "STATIC", "FUNC", "CTOR"))

# One regular expression per entry form of builtins.def's header comment;
# a line that starts like an entry but does not match is an error, never
# skipped, so a typo cannot silently drop a native (and shift the ids).
_CLASS_LINE = re.compile(
    r'^K_CLASS\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(-?\d+)\s*,\s*(\w+)\s*,'
    r'\s*"([^"]*)"\s*\)')
_NATIVE_LINE = re.compile(
    r'^K_NATIVE\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,'
    r'\s*(-?\d+)\s*,\s*"([^"]*)"\s*\)')
_ERRNO_LINE = re.compile(r'^K_ERRNO\(\s*(\w+)\s*,\s*(\d+)\s*\)')


@dataclass(frozen=True)
class Native:
    """One K_NATIVE line.  `id` is the number images call it by."""
    id: int
    owner: str              # a class, or a pseudo-owner: Array Math System Global
    name: str
    kind: str               # METHOD STATIC FUNC CTOR
    slot: int               # vtable slot, -1 when not virtual
    signature: str          # "R(A, B)", the language reference's type syntax (§3)

    @property
    def qualified(self) -> str:
        """`print` for top-level functions, else `Owner.name`."""
        return self.name if self.owner == "Global" else \
            f"{self.owner}.{self.name}"


@dataclass
class BuiltinClass:
    """One K_CLASS line, with what follows from the whole file: the
    absolute field names and the vtable (slot -> Native, None where no
    native of the class or its ancestors has that slot)."""
    id: int
    name: str
    super_id: int           # -1: no superclass
    ctor_native: str | None  # name of the constructor native, None: NONE
    fields: list[tuple[str, str]]   # own fields: (type string, name)
    # Derived from the whole file (inherited part first):
    field_names: list[str] = field(default_factory=list)
    vtable: list[Native | None] = field(default_factory=list)


@dataclass
class Builtins:
    """The parsed file: classes and natives in file order (natives by id),
    errno values by name, and the classes indexed by id and by name."""
    classes: list[BuiltinClass] = field(default_factory=list)
    natives: list[Native] = field(default_factory=list)
    errnos: dict[str, int] = field(default_factory=dict)
    class_by_id: dict[int, BuiltinClass] = field(default_factory=dict)
    class_by_name: dict[str, BuiltinClass] = field(default_factory=dict)

    def native(self, owner: str, name: str) -> Native:
        """The native `owner.name`; KeyError if there is none (a linear
        scan: callers look up a handful of natives, not every call)."""
        for nat in self.natives:
            if nat.owner == owner and nat.name == name:
                return nat
        raise KeyError(f"{owner}.{name}")


def parse(text: str, where: str = str(DEF_PATH)) -> Builtins:
    """The tables of a builtins.def text; ValueError on a malformed line."""
    b = Builtins()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("K_CLASS("):
            m = _CLASS_LINE.match(line)
            if m is None:
                raise ValueError(f"{where}:{lineno}: malformed K_CLASS line")
            fields = []
            for part in m.group(5).split(";"):
                part = part.strip()
                if part:
                    ty, name = part.rsplit(None, 1)
                    fields.append((ty.strip(), name))
            ctor = m.group(4)
            b.classes.append(BuiltinClass(
                int(m.group(1)), m.group(2), int(m.group(3)),
                None if ctor == "NONE" else ctor, fields))
        elif line.startswith("K_NATIVE("):
            m = _NATIVE_LINE.match(line)
            if m is None:
                raise ValueError(f"{where}:{lineno}: malformed K_NATIVE line")
            nid = len(b.natives)
            if int(m.group(1)) != nid:
                raise ValueError(
                    f"{where}:{lineno}: native {m.group(2)}.{m.group(3)} "
                    f"has id {m.group(1)}, but its position makes it {nid} "
                    f"(natives are append-only: add new ones at the end)")
            if m.group(4) not in NATIVE_KINDS:
                raise ValueError(
                    f"{where}:{lineno}: unknown native kind {m.group(4)}")
            b.natives.append(Native(nid, m.group(2), m.group(3), m.group(4),
                                    int(m.group(5)), m.group(6)))
        elif line.startswith("K_ERRNO("):
            m = _ERRNO_LINE.match(line)
            if m is None:
                raise ValueError(f"{where}:{lineno}: malformed K_ERRNO line")
            b.errnos[m.group(1)] = int(m.group(2))
    b.class_by_id = {c.id: c for c in b.classes}
    b.class_by_name = {c.name: c for c in b.classes}
    done: set[int] = set()
    for c in b.classes:
        _derive(b, c, done, ())
    return b


def _derive(b: Builtins, c: BuiltinClass, done: set[int], path: tuple):
    """Absolute field names and vtable of `c`, its superclass's first.

    Depth first, so the file may list a class before its superclass:
    `done` holds the classes already derived, `path` the chain being
    derived, in which meeting `c` again means an inheritance cycle.  A
    native's slot overrides the inherited entry at that slot."""
    if c.id in done:
        return
    if c.id in path:
        raise ValueError(f"{DEF_PATH}: class {c.name} inherits from itself")
    sup = None
    if c.super_id >= 0:
        sup = b.class_by_id.get(c.super_id)
        if sup is None:
            raise ValueError(f"{DEF_PATH}: class {c.name} has an unknown "
                             f"superclass id {c.super_id}")
        _derive(b, sup, done, path + (c.id,))
    c.field_names = (list(sup.field_names) if sup else []) + \
        [name for _, name in c.fields]
    vt = list(sup.vtable) if sup else []
    for nat in b.natives:
        if nat.owner == c.name and nat.kind == "METHOD" and nat.slot >= 0:
            while len(vt) <= nat.slot:
                vt.append(None)
            vt[nat.slot] = nat
    c.vtable = vt
    done.add(c.id)


# Parsed at import: a malformed builtins.def stops every use of the
# compiler with a ValueError naming the line, before anything is compiled.
BUILTINS: Builtins = parse(DEF_PATH.read_text())
