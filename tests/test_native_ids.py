"""Native ids are stable: builtins.def may only grow at the end.

An image names a native by its id (CALLN operands, NATIVE_REF vtable
entries), and the id is the native's position among the K_NATIVE lines of
lkm/core/builtins.def (the VM's enum is expanded from the same lines, in the
same order).  Inserting, removing or reordering a line would silently give
every image already compiled a different native.  ISSUED is the list of
ids given out so far; a new native is appended to builtins.def and to
ISSUED, never inserted.  A native that must go keeps its line (and id).
"""

import pytest

from frontend import defs
from frontend.defs import BUILTINS

# (id, owner, name, kind, slot, signature): the whole contract of an id.
ISSUED = [
    (0, "Object", "Object_init", "CTOR", -1, "void()"),
    (1, "Object", "toString", "METHOD", 0, "String()"),
    (2, "Exception", "Exception_init", "CTOR", -1, "void(String)"),
    (3, "Exception", "toString", "METHOD", 0, "String()"),
    (4, "Exception", "getMessage", "METHOD", 1, "String()"),
    (5, "DeviceError", "DeviceError_init", "CTOR", -1, "void(int, String)"),
    (6, "DeviceError", "errno", "METHOD", 2, "int()"),
    (7, "Device", "Device_init", "CTOR", -1, "void()"),
    (8, "Device", "open", "METHOD", 1, "void()"),
    (9, "Device", "read", "METHOD", 2, "void(OutputStream)"),
    (10, "Device", "write", "METHOD", 3, "void(InputStream)"),
    (11, "Device", "ioctl", "METHOD", 4, "int(int, int)"),
    (12, "Device", "release", "METHOD", 5, "void()"),
    (13, "Device", "register", "STATIC", -1, "void(String, Device)"),
    (14, "String", "length", "METHOD", -1, "int()"),
    (15, "String", "charAt", "METHOD", -1, "int(int)"),
    (16, "String", "substring", "METHOD", -1, "String(int, int)"),
    (17, "String", "indexOf", "METHOD", -1, "int(String)"),
    (18, "String", "contains", "METHOD", -1, "boolean(String)"),
    (19, "String", "startsWith", "METHOD", -1, "boolean(String)"),
    (20, "String", "endsWith", "METHOD", -1, "boolean(String)"),
    (21, "String", "split", "METHOD", -1, "Array<String>(String)"),
    (22, "String", "trim", "METHOD", -1, "String()"),
    (23, "String", "toUpper", "METHOD", -1, "String()"),
    (24, "String", "toLower", "METHOD", -1, "String()"),
    (25, "String", "replace", "METHOD", -1, "String(String, String)"),
    (26, "String", "repeat", "METHOD", -1, "String(int)"),
    (27, "String", "toInt", "METHOD", -1, "int()"),
    (28, "String", "fromChar", "STATIC", -1, "String(int)"),
    (29, "Array", "size", "METHOD", -1, "int()"),
    (30, "Array", "add", "METHOD", -1, "void(T)"),
    (31, "Array", "pop", "METHOD", -1, "T()"),
    (32, "Array", "insert", "METHOD", -1, "void(int, T)"),
    (33, "Array", "remove", "METHOD", -1, "T(int)"),
    (34, "Array", "clear", "METHOD", -1, "void()"),
    (35, "Array", "join", "METHOD", -1, "String(String)"),
    (36, "Math", "min", "STATIC", -1, "int(int, int)"),
    (37, "Math", "max", "STATIC", -1, "int(int, int)"),
    (38, "Math", "abs", "STATIC", -1, "int(int)"),
    (39, "System", "nanoTime", "STATIC", -1, "int()"),
    (40, "System", "random", "STATIC", -1, "int(int)"),
    (41, "System", "pid", "STATIC", -1, "int()"),
    (42, "System", "comm", "STATIC", -1, "String()"),
    (43, "System", "sleep", "STATIC", -1, "void(int)"),
    (44, "OutputStream", "write", "METHOD", -1, "void(String)"),
    (45, "OutputStream", "writeByte", "METHOD", -1, "void(int)"),
    (46, "OutputStream", "size", "METHOD", -1, "int()"),
    (47, "InputStream", "readAll", "METHOD", -1, "String()"),
    (48, "InputStream", "readByte", "METHOD", -1, "int()"),
    (49, "InputStream", "available", "METHOD", -1, "int()"),
    (50, "Global", "print", "FUNC", -1, "void(String)"),
]


def _row(nat: defs.Native) -> tuple:
    return (nat.id, nat.owner, nat.name, nat.kind, nat.slot, nat.signature)


def test_issued_native_ids_are_kept():
    now = [_row(n) for n in BUILTINS.natives]
    for old, new in zip(ISSUED, now):
        assert new == old, (
            f"native id {old[0]} was {old[1]}.{old[2]} {old[3]} slot {old[4]} "
            f"{old[5]!r}, builtins.def now gives {new[1]}.{new[2]} {new[3]} "
            f"slot {new[4]} {new[5]!r}: natives are append-only, add new "
            f"ones after the last K_NATIVE line")
    assert len(now) >= len(ISSUED), (
        f"builtins.def lost natives {ISSUED[len(now)]!r} and after: ids "
        f"given out must stay")


def test_every_native_is_recorded():
    new = [_row(n) for n in BUILTINS.natives[len(ISSUED):]]
    assert not new, (
        f"natives {new!r} are not in ISSUED yet: append them there, so that "
        f"their ids are kept from now on")


def test_ids_are_the_line_positions():
    assert [n.id for n in BUILTINS.natives] == \
        list(range(len(BUILTINS.natives)))


def _def_text(natives):
    return "\n".join(
        f'K_NATIVE({i}, {o}, {n}, {k}, {s}, "{sig}")'
        for i, o, n, k, s, sig in natives) + "\n"


def test_an_inserted_native_is_refused():
    # A line inserted in the middle keeps its neighbours' id columns, so the
    # reader sees an id that is not the line's position.
    rows = list(ISSUED[:3])
    rows.insert(1, (1, "Math", "sign", "STATIC", -1, "int(int)"))
    with pytest.raises(ValueError, match="append-only"):
        defs.parse(_def_text(rows), "test.def")


def test_an_appended_native_is_accepted():
    rows = list(ISSUED) + [(len(ISSUED), "Math", "sign", "STATIC", -1,
                            "int(int)")]
    b = defs.parse(_def_text(rows), "test.def")
    assert [_row(n) for n in b.natives] == rows
    assert b.native("Math", "sign").id == len(ISSUED)
