"""Struct offsets and constants JIT code relies on, read from
lkm/core/kjit.h (the single source of truth; kops.c checks every value
against the C structs at compile time)."""

from __future__ import annotations

import pathlib
import re

KJIT_H = (pathlib.Path(__file__).resolve().parent.parent
          / "lkm" / "core" / "kjit.h")

# kjit.h keeps one "#define KJIT_NAME value" per line, plain decimal.
_DEFINE = re.compile(r"^#define\s+KJIT_([A-Z0-9_]+)\s+(\d+)\s*$")


def read_layout(path: pathlib.Path = KJIT_H) -> dict[str, int]:
    """The KJIT_* values of a kjit.h, by name without the prefix."""
    values = {}
    for line in path.read_text().splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            values[m.group(1)] = int(m.group(2))
    return values


# Read at import; a name kjit.h lacks is a KeyError, never a guessed offset.
L = read_layout()
