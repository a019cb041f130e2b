"""Struct offsets and constants JIT code relies on, read from
lkm/core/kjit.h (the single source of truth; kops.c checks every value
against the C structs at compile time)."""

from __future__ import annotations

import pathlib
import re

KJIT_H = (pathlib.Path(__file__).resolve().parent.parent
          / "lkm" / "core" / "kjit.h")

_DEFINE = re.compile(r"^#define\s+KJIT_([A-Z0-9_]+)\s+(\d+)\s*$")


def read_layout(path: pathlib.Path = KJIT_H) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            values[m.group(1)] = int(m.group(2))
    return values


L = read_layout()
