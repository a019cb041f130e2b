"""(1.1) A CharDevice's File is one per open(2) (the language reference
§9.1); the VM gives a released file's File to the next open only when no
callback of the device can keep it (lkm/core/verify.c, ld_func_keeps_file;
lkm/core/device.c, file_private).

Each script below keeps the File of its open through one route (a field, a
global, an element, a map, a captured value, a call...) and, at the next
open, compares what it kept with the new File: a route the loader missed
would hand the kept File to the next open, and the script would see
"same". The heap tests show the reuse itself: opens of a device that keeps
no File allocate nothing, and one route is enough to stop that.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import wait_host

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
interface Sink {{ void take(File f); File get(); }}
class Box implements Sink {{
    File f;
    void take(File x) {{ f = x; }}
    File get() {{ return f; }}
}}
File g;
class D extends CharDevice {{
    File kept;
    Any any;
    File[] arr = new File[1];
    Array<File> list = new Array<File>();
    Map<int, File> map = new Map<int, File>();
    Func<File()> getter;
    Sink sink = new Box();
    Box box = new Box();
    Array<Any> anys = new Array<Any>();
    int opens;
    D() {{ mode = 0666; }}
    File same(File x) {{ return x; }}
    void remember(File x) {{ kept = x; }}
    File back() {{ {read} }}
    void open(File f) {{
        opens++;
        if (opens > 1) {{
            File old = back();
            print(old == f ? "same\\n" : "fresh\\n");
            print(old.position() + " " + old.canRead() + "\\n");
        }}
        {keep}
    }}
    void write(File f, InputStream in) {{ in.readAll(); }}
    int seek(File f, int offset, int whence) {{ return offset; }}
}}
CharDevice.register("d", new D());
"""

# route -> (statement in open() keeping f, body of back() finding it)
ROUTES = {
    "field": ("kept = f;", "return kept;"),
    "global": ("g = f;", "return g;"),
    "element": ("arr[0] = f;", "return arr[0];"),
    "array_literal": ("arr = [f];", "return arr[0];"),
    "array_add": ("list.add(f);", "return list[list.size() - 1];"),
    "map": ("map.put(1, f);", "return map.get(1);"),
    "any_field": ("any = f;", "return (File) any;"),
    "any_local": ("Any a = f; any = a;", "return (File) any;"),
    "any_array": ("anys.add(f);", "return (File) anys[0];"),
    "lambda": ("getter = () -> f;", "return getter();"),
    "method_arg": ("remember(f);", "return kept;"),
    "returned": ("kept = same(f);", "return kept;"),
    "interface_call": ("sink.take(f);", "return sink.get();"),
    "virtual_call": ("box.take(f);", "return box.get();"),
    "own_data": ("f.data = f; any = f.data;", "return (File) any;"),
    "bound_method": ("Func<void(File)> t = box.take; t(f);",
                     "return box.get();"),
}

# opened twice; the first file had a write and a seek to 5 before its close
OPS = "open d; write $ abc; lseek $ 5; close $; open d; close $"


def run(source: Path, jit: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", *(["--jit"] if jit else []),
         str(source), "--ops", OPS],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


# every route on the interpreter, three of them on the JIT as well
ROUTE_RUNS = [(r, False) for r in sorted(ROUTES)] + [
    pytest.param(r, True, marks=pytest.mark.jit)
    for r in ("lambda", "interface_call", "any_local")]


@pytest.mark.parametrize("route,jit", ROUTE_RUNS)
def test_kept_file_is_never_given_to_another_open(tmp_path, route, jit):
    if jit:
        pytest.importorskip("llvmlite")
    keep, read = ROUTES[route]
    source = tmp_path / f"{route}.k"
    source.write_text(PROGRAM.format(keep=keep, read=read))
    r = run(source, jit=jit)
    assert r.returncode == 0, r.stderr
    # the kept File still answers as it was at its release
    assert "fresh\n\n5 true\n" in r.stdout, r.stdout


# ---- the reuse, seen in the heap (tests/wait_host.c) ---------------------

# its callbacks read and write the File's fields, test it, copy it into
# another File variable and call its methods: none of that keeps it
PRIVATE = """
class D extends CharDevice {
    int opens;
    void open(File f) {
        opens++;
        if (f.data != null || f.position() != 0 || f.nonBlocking())
            throw new DeviceError(5, "not a new File");
        f.data = "opened";
    }
    int ioctl(File f, int cmd, int arg) {
        String s = (String) f.data;
        return s.length();
    }
    void release(File f) { File g = f; if (g != null) g.data = null; }
}
CharDevice.register("d", new D());
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    run_host = wait_host.build(tmp_path_factory.mktemp("reuse"))

    def heap_after_reopens(source: str) -> list[str]:
        return run_host(source, 1000000, "heap", "reopen", "500", "ioctl",
                        "9", "heap")
    return heap_after_reopens


def _used(line: str) -> int:
    return int(line.split()[2])


def test_opens_of_a_device_that_keeps_no_file_allocate_no_file(host):
    out = host(PRIVATE)
    # every open found a cleared File (open() throws otherwise), the last
    # one's data reached the ioctl, and 500 opens allocated nothing
    assert out[1:3] == ["reopened 500", "ioctl 6"] and out[-1] == "live 0", out
    assert _used(out[3]) == _used(out[0]), out


def test_one_route_out_makes_every_open_allocate_its_file(host):
    keeping = PRIVATE.replace("File g = f;", "File g = f; last = g;").replace(
        "int opens;", "int opens; File last;")
    out = host(keeping)
    assert out[1:3] == ["reopened 500", "ioctl 6"] and out[-1] == "live 0", out
    # a File each (an instance of four fields, 32 bytes of them)
    assert _used(out[3]) - _used(out[0]) >= 500 * 32, out
