"""(1.1) A CharDevice read's OutputStream and a write's InputStream are
valid during their callback only (the language reference §9.1); the VM
gives a finished callback's stream to the next read or write only when no
callback of the device can keep one (lkm/core/verify.c,
ld_func_keeps_stream; lkm/core/device.c, stream_private).

Each script below keeps a stream through one route (a field, a global, an
element, a map, a captured value, a call...) and, in the next callback,
compares what it kept with its new stream and uses it: a route the loader
missed would hand the kept stream to the next callback, valid again, and
the script would see "same" and write or read through it. The heap tests
show the reuse itself: reads and writes of a device that keeps no stream
allocate nothing, and one route is enough to stop that.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import wait_host

ROOT = Path(__file__).resolve().parent.parent

# {S}: the stream class; {use}: a use of old, the kept stream
PROGRAM = """
interface Sink {{ void take({S} s); {S} get(); }}
class Box implements Sink {{
    {S} s;
    void take({S} x) {{ s = x; }}
    {S} get() {{ return s; }}
}}
{S} g;
class D extends CharDevice {{
    {S} kept;
    Any any;
    {S}[] arr = new {S}[1];
    Array<{S}> list = new Array<{S}>();
    Map<int, {S}> map = new Map<int, {S}>();
    Func<{S}()> getter;
    Sink sink = new Box();
    Box box = new Box();
    Array<Any> anys = new Array<Any>();
    int calls;
    D() {{ mode = 0666; }}
    {S} same({S} x) {{ return x; }}
    void remember({S} x) {{ kept = x; }}
    {S} back() {{ {read} }}
    void check({S} now) {{
        {S} old = back();
        print(old == now ? "same" : "fresh");
        try {{ {use} print("valid"); }}
        catch (DeviceError e) {{ print("errno " + e.errno()); }}
    }}
    void read(File f, OutputStream s, int count) {{
        calls++;
        if (calls > 1) {read_check} else {{ {read_keep} }}
        s.write("r");
    }}
    void write(File f, InputStream s) {{
        calls++;
        if (calls > 1) {write_check} else {{ {write_keep} }}
        s.readAll();
    }}
}}
CharDevice.register("d", new D());
"""

# route -> (statement keeping s, body of back() finding it)
ROUTES = {
    "field": ("kept = s;", "return kept;"),
    "global": ("g = s;", "return g;"),
    "element": ("arr[0] = s;", "return arr[0];"),
    "array_literal": ("arr = [s];", "return arr[0];"),
    "array_add": ("list.add(s);", "return list[list.size() - 1];"),
    "map": ("map.put(1, s);", "return map.get(1);"),
    "any_field": ("any = s;", "return ({S}) any;"),
    "any_local": ("Any a = s; any = a;", "return ({S}) any;"),
    "any_array": ("anys.add(s);", "return ({S}) anys[0];"),
    "lambda": ("getter = () -> s;", "return getter();"),
    "method_arg": ("remember(s);", "return kept;"),
    "returned": ("kept = same(s);", "return kept;"),
    "interface_call": ("sink.take(s);", "return sink.get();"),
    "virtual_call": ("box.take(s);", "return box.get();"),
    "file_data": ("f.data = s; any = f.data;", "return ({S}) any;"),
    "bound_method": ("Func<void({S})> t = box.take; t(s);",
                     "return box.get();"),
}

KINDS = {
    # the callback that keeps, the one that checks, a use of the kept one
    "output": ("OutputStream", "read", 'old.write("!");',
               "open d; read $ 10; read $ 10; close $"),
    "input": ("InputStream", "write", "old.readAll();",
              "open d; write $ abc; write $ def; close $"),
}


def program(kind: str, route: str) -> str:
    cls, cb, use, _ = KINDS[kind]
    keep, read = (x.replace("{S}", cls) for x in ROUTES[route])
    other = "write" if cb == "read" else "read"
    return PROGRAM.format(
        S=cls, read=read, use=use,
        **{f"{cb}_keep": keep, f"{cb}_check": "check(s);",
           f"{other}_keep": "", f"{other}_check": "{ }"})


def run(source: Path, ops: str, jit: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", *(["--jit"] if jit else []),
         str(source), "--ops", ops],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


# every route for each kind on the interpreter, three on the JIT as well
ROUTE_RUNS = [(k, r, False) for k in sorted(KINDS) for r in sorted(ROUTES)] \
    + [pytest.param("output", r, True, marks=pytest.mark.jit)
       for r in ("lambda", "interface_call", "any_local")]


@pytest.mark.parametrize("kind,route,jit", ROUTE_RUNS)
def test_kept_stream_is_never_given_to_another_callback(tmp_path, kind,
                                                         route, jit):
    if jit:
        pytest.importorskip("llvmlite")
    source = tmp_path / f"{kind}_{route}.k"
    source.write_text(program(kind, route))
    r = run(source, KINDS[kind][3], jit=jit)
    assert r.returncode == 0, r.stderr
    # a new stream, and the kept one refuses to work outside its callback
    assert "fresh\nerrno 22\n" in r.stdout, r.stdout


# ---- the reuse, seen in the heap (tests/wait_host.c) ---------------------

# its callbacks only read and write bytes through their streams, test
# them and copy them into other stream variables: none of that keeps one
PRIVATE = """
class D extends CharDevice {
    int pending;
    void write(File f, InputStream in) {
        InputStream i = in;
        if (i == null) return;
        while (i.readByte() >= 0) pending++;
    }
    void read(File f, OutputStream out, int count) {
        while (pending > 0 && out.size() < count) { out.writeByte(65); pending--; }
    }
}
CharDevice.register("d", new D());
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    run_host = wait_host.build(tmp_path_factory.mktemp("reuse"))

    def heap_after_rw(source: str) -> list[str]:
        return run_host(source, 1000000, "heap", "rw", "500", "heap")
    return heap_after_rw


def _used(line: str) -> int:
    return int(line.split()[2])


def test_reads_and_writes_of_a_device_that_keeps_no_stream_allocate_none(host):
    out = host(PRIVATE)
    # after the first write and read made the two streams, 500 of each
    # allocated nothing
    assert out[1] == "rw 500" and out[-1] == "live 0", out
    assert _used(out[2]) - _used(out[0]) < 2 * 128, out


def test_one_route_out_makes_every_callback_allocate_its_stream(host):
    keeping = PRIVATE.replace("InputStream i = in;",
                              "InputStream i = in; last = i;").replace(
        "int pending;", "int pending; InputStream last;")
    out = host(keeping)
    assert out[1] == "rw 500" and out[-1] == "live 0", out
    # a stream each (its header and fields, 48 bytes and more)
    assert _used(out[2]) - _used(out[0]) >= 500 * 48, out
