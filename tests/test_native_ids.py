"""Native ids are stable, and C and Python read builtins.def alike.

An image names a native by its id (CALLN operands, NATIVE_REF vtable
entries), and the id is the native's position among the K_NATIVE lines of
lkm/core/builtins.def.  Inserting, removing or reordering a line would
silently give every image already compiled a different native, so the
list only grows at the end.

tests/data/native-ids-<version>.txt records the ids a release gave out (for
image format <version>).  Such a file is written once, at the release, by

    python3 -m tests.test_native_ids --write <version>

and never edited afterwards; every one of them must still hold.  A new
native needs no change here: it is checked against the next release's
file once that exists.

The second half compares builtins.def as C reads it (the one table of
lkm/core/builtins.c and its type reader, through build/libkvm.so) with
frontend/defs.py's reading, so the VM and the compiler cannot disagree on
a class, a native or a signature.
"""

from __future__ import annotations

import argparse
import ctypes
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend import builtins as fb  # noqa: E402
from frontend import defs  # noqa: E402
from frontend import types as T  # noqa: E402
from frontend.defs import BUILTINS  # noqa: E402
from frontend.image import (TY_ANY, TY_BOOL, TY_CLASS, TY_INT,  # noqa: E402
                            TY_VOID)

DATA = ROOT / "tests" / "data"
BASELINES = sorted(DATA.glob("native-ids-*.txt"))
LIBKVM = ROOT / "build" / "libkvm.so"

# (id, owner, name, kind, slot, signature): the whole contract of an id.
Row = tuple[int, str, str, str, int, str]


def _row(nat: defs.Native) -> Row:
    return (nat.id, nat.owner, nat.name, nat.kind, nat.slot, nat.signature)


# ---------------------------------------------------------------- baselines

HEADER = """\
# Native ids given out with image format {version}: the K_NATIVE lines of
# lkm/core/builtins.def at that release, one per line, tab-separated:
# id, owner, name, kind, slot, signature.  Written by
# `python3 -m tests.test_native_ids --write {version}`; never edit it.
# tests/test_native_ids.py checks that builtins.def still gives each id
# the same native.
"""


def baseline_text(version: str, natives: list[defs.Native]) -> str:
    return HEADER.format(version=version) + "".join(
        "\t".join(str(x) for x in _row(n)) + "\n" for n in natives)


def read_baseline(path: pathlib.Path) -> list[Row]:
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 6:
            raise ValueError(f"{path}:{lineno}: want 6 tab-separated fields")
        i, owner, name, kind, slot, sig = parts
        rows.append((int(i), owner, name, kind, int(slot), sig))
    return rows


def check_kept(issued: list[Row], now: list[Row]) -> list[str]:
    """What breaks the ids of `issued` in `now` (builtins.def's rows)."""
    problems = []
    for pos, old in enumerate(issued):
        if old[0] != pos:
            problems.append(f"baseline line for id {old[0]} is at position "
                            f"{pos}: the baseline is corrupt")
        elif pos >= len(now):
            problems.append(f"native id {pos} ({old[1]}.{old[2]}) is gone: "
                            f"a native that must go keeps its line")
        elif now[pos] != old:
            new = now[pos]
            problems.append(
                f"native id {pos} was {old[1]}.{old[2]} {old[3]} slot "
                f"{old[4]} {old[5]!r}, builtins.def now gives {new[1]}."
                f"{new[2]} {new[3]} slot {new[4]} {new[5]!r}: natives are "
                f"append-only, add new ones after the last K_NATIVE line")
    return problems


def test_there_is_a_baseline():
    assert BASELINES, f"no native-ids-*.txt in {DATA}"


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.name)
def test_issued_native_ids_are_kept(path):
    issued = read_baseline(path)
    assert issued, f"{path} lists no natives"
    problems = check_kept(issued, [_row(n) for n in BUILTINS.natives])
    assert not problems, "\n".join(problems)


def test_ids_are_the_line_positions():
    assert [n.id for n in BUILTINS.natives] == \
        list(range(len(BUILTINS.natives)))


ISSUED_FOR_TESTS = read_baseline(BASELINES[-1]) if BASELINES else []


def _def_text(natives):
    return "\n".join(
        f'K_NATIVE({i}, {o}, {n}, {k}, {s}, "{sig}")'
        for i, o, n, k, s, sig in natives) + "\n"


def test_an_appended_native_is_accepted():
    rows = list(ISSUED_FOR_TESTS) + [
        (len(ISSUED_FOR_TESTS), "String", "isBlank", "METHOD", -1,
         "boolean()")]
    b = defs.parse(_def_text(rows), "test.def")
    assert [_row(n) for n in b.natives] == rows
    assert check_kept(ISSUED_FOR_TESTS, [_row(n) for n in b.natives]) == []


def test_an_inserted_native_is_refused():
    # An inserted line that keeps its neighbours' id columns: the reader
    # sees an id that is not the line's position.
    rows = list(ISSUED_FOR_TESTS[:3])
    rows.insert(1, (1, "Math", "sign", "STATIC", -1, "int(int)"))
    with pytest.raises(ValueError, match="append-only"):
        defs.parse(_def_text(rows), "test.def")


def test_a_renumbered_insertion_breaks_the_baseline():
    # The same insertion with the id column renumbered parses, but every
    # later id now names another native.
    rows = list(ISSUED_FOR_TESTS)
    rows.insert(14, (14, "String", "isBlank", "METHOD", -1, "boolean()"))
    rows = [(i,) + r[1:] for i, r in enumerate(rows)]
    b = defs.parse(_def_text(rows), "test.def")
    problems = check_kept(ISSUED_FOR_TESTS, [_row(n) for n in b.natives])
    assert problems and "native id 14 was String.length" in problems[0]
    assert len(problems) == len(ISSUED_FOR_TESTS) - 14


def test_a_changed_signature_breaks_the_baseline():
    rows = [r if r[2] != "charAt" else r[:5] + ("String(int)",)
            for r in ISSUED_FOR_TESTS]
    problems = check_kept(ISSUED_FOR_TESTS, rows)
    assert len(problems) == 1 and "String.charAt" in problems[0]


def test_a_dropped_native_breaks_the_baseline():
    problems = check_kept(ISSUED_FOR_TESTS, ISSUED_FOR_TESTS[:-1])
    assert len(problems) == 1 and "is gone" in problems[0]


# ------------------------------------------------ C's table against Python's

class KbClass(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("name", ctypes.c_char_p),
                ("super", ctypes.c_int32), ("ctor", ctypes.c_int32),
                ("fields", ctypes.c_char_p)]


class KbNative(ctypes.Structure):
    _fields_ = [("owner", ctypes.c_char_p), ("name", ctypes.c_char_p),
                ("kind", ctypes.c_uint8), ("slot", ctypes.c_int16),
                ("sig", ctypes.c_char_p)]


class KbType(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint8), ("dims", ctypes.c_uint8),
                ("cls", ctypes.c_uint32)]


KB_MAX_PARAMS = 3


class KbSig(ctypes.Structure):
    _fields_ = [("result", KbType), ("nparams", ctypes.c_uint32),
                ("params", KbType * KB_MAX_PARAMS)]


# enum kb_native_kind, in its order
C_KINDS = ("METHOD", "STATIC", "FUNC", "CTOR")
KB_T = 0xFF
KB_K, KB_V = 0xFE, 0xFD     # (1.1) a Map method's key and value types
KB_FT = 0xFC                # (1.1) Func<int(T, T)>: Array.sort's comparator
KB_FV = 0xFB                # (1.1) Func<void()>: Timer's function
KIMG_NONE = 0xFFFFFFFF


@pytest.fixture(scope="module")
def lib():
    if not LIBKVM.is_file():
        pytest.skip(f"{LIBKVM} is not built (make vm)")
    lib = ctypes.CDLL(str(LIBKVM))
    lib.kb_parse_sig.argtypes = [ctypes.c_char_p, ctypes.POINTER(KbSig)]
    lib.kb_parse_sig.restype = ctypes.c_int
    return lib


def c_natives(lib) -> list[KbNative]:
    n = ctypes.c_uint32.in_dll(lib, "kb_nnatives").value
    return list((KbNative * n).in_dll(lib, "kb_natives"))


def c_classes(lib) -> list[KbClass]:
    n = ctypes.c_uint32.in_dll(lib, "kb_nclasses").value
    return list((KbClass * n).in_dll(lib, "kb_classes"))


def test_c_natives_are_python_natives(lib):
    c = [(i, n.owner.decode(), n.name.decode(), C_KINDS[n.kind], n.slot,
          n.sig.decode()) for i, n in enumerate(c_natives(lib))]
    assert c == [_row(n) for n in BUILTINS.natives]


def test_c_classes_are_python_classes(lib):
    natives = c_natives(lib)
    c = [(k.id, k.name.decode(), k.super,
          natives[k.ctor].name.decode() if k.ctor >= 0 else None,
          k.fields.decode()) for k in c_classes(lib)]
    py = [(k.id, k.name, k.super_id, k.ctor_native,
           "; ".join(f"{t} {n}" for t, n in k.fields))
          for k in BUILTINS.classes]
    assert c == py


def _c_view(t: T.Type) -> tuple[int, int, int]:
    """A frontend type as struct kb_type: (base, dims, cls)."""
    dims = 0
    if t == T.FuncType(T.INT, [T.TVAR, T.TVAR]):
        return (KB_FT, 0, KIMG_NONE)
    if t == T.FuncType(T.VOID, []):
        return (KB_FV, 0, KIMG_NONE)
    while isinstance(t, T.ArrayType):
        t, dims = t.elem, dims + 1
    if isinstance(t, T.ClassType):
        return (TY_CLASS, dims, t.info.id)
    base = {T.INT: TY_INT, T.BOOL: TY_BOOL, T.VOID: TY_VOID,
            T.ANY: TY_ANY, T.TVAR: KB_T,
            T.KVAR: KB_K, T.VVAR: KB_V}[t]
    return (base, dims, KIMG_NONE)


def c_parse(lib, sig: str):
    out = KbSig()
    if lib.kb_parse_sig(sig.encode(), ctypes.byref(out)):
        return None
    view = [(t.base, t.dims, t.cls) for t in
            [out.result] + list(out.params[:out.nparams])]
    return view[0], view[1:]


def test_c_and_python_parse_every_signature_alike(lib):
    classes = fb.install().classes
    for n in BUILTINS.natives:
        ret, params = fb.parse_signature(n.signature, classes)
        want = (_c_view(ret), [_c_view(p) for p in params])
        assert c_parse(lib, n.signature) == want, n.qualified


@pytest.mark.parametrize("sig,want", [
    ("Array<String>(String)", ((TY_CLASS, 1, 1), [(TY_CLASS, 0, 1)])),
    ("int[][](Array<int[]>, boolean)",
     ((TY_INT, 2, KIMG_NONE), [(TY_INT, 2, KIMG_NONE),
                               (TY_BOOL, 0, KIMG_NONE)])),
    ("T(int, T)", ((KB_T, 0, KIMG_NONE), [(TY_INT, 0, KIMG_NONE),
                                          (KB_T, 0, KIMG_NONE)])),
    ("void( Any )", ((TY_VOID, 0, KIMG_NONE), [(TY_ANY, 0, KIMG_NONE)])),
    ("Array<T>(Func<int(T, T)>)", ((KB_T, 1, KIMG_NONE),
                                   [(KB_FT, 0, KIMG_NONE)])),
    ("T[]()", ((KB_T, 1, KIMG_NONE), [])),
])
def test_c_reads_the_type_syntax(lib, sig, want):
    assert c_parse(lib, sig) == want


@pytest.mark.parametrize("sig", [
    "", "int", "int(", "int(int", "int(int,)", "int(,int)", "int()x",
    "Nope()", "Array<int()", "Array<T[]>()", "T[][]()", "void[]()",
    "Func<int(T)>()", "Func<int(T, int)>()", "Func<int(T, T)>[]()",
    "Array<Func<int(T, T)>>()", "Func<void(T, T)>()", "Func<int(T, T)()",
    "int(int, int, int, int)", "int[][][][][]()",
])
def test_c_refuses_what_is_not_the_type_syntax(lib, sig):
    assert c_parse(lib, sig) is None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="write the native-id baseline of a release")
    ap.add_argument("--write", metavar="VERSION", required=True,
                    help="image format version of the release, e.g. 1.1")
    args = ap.parse_args(argv)
    path = DATA / f"native-ids-{args.write}.txt"
    if path.exists():
        print(f"{path} exists: a release's baseline is never rewritten",
              file=sys.stderr)
        return 1
    DATA.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline_text(args.write, BUILTINS.natives))
    print(f"wrote {path} ({len(BUILTINS.natives)} natives)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
