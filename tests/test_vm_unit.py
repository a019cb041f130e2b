"""VM behaviour beyond the conformance suite: exact instruction budget,
heap accounting and collection, no leaks at exit, traces through finally,
re-entrant string conversion, dynamic calls, the serve protocol and the
command line of build/kvm.

The VM is $KTC_VM if set (e.g. build/kvm-asan), else build/kvm."""

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend import compiler  # noqa: E402
from ktc import host  # noqa: E402
from tests.tools import kasm  # noqa: E402


@pytest.fixture(scope="module")
def vm_bin():
    try:
        return host.find_vm(announce=lambda m: print(m, file=sys.stderr))
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")


def run_image(vm_bin, image, *args, stdin=None, name="t.kbc"):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(image)
        r = subprocess.run([vm_bin, *args, path], input=stdin,
                           capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def run_k(vm_bin, source, *args, stdin=None):
    image = compiler.compile_source(source, "t.k")
    return run_image(vm_bin, image, *args, stdin=stdin)


def live_allocs(stderr):
    for line in stderr.splitlines():
        if line.startswith("stats: live allocations"):
            return int(line.split()[-1])
    raise AssertionError("no stats line in " + repr(stderr))


# ---- the instruction budget is exact ---------------------------------------

LOOP = """
.source "b.k"
.init
  .reg int i
  .line 1
  LOADI i, 0
top:
  ADDI i, i, 1
  JLTI i, 10, top
  RETV
.end
"""


def test_budget_counts_every_instruction(vm_bin):
    image = kasm.assemble(LOOP)
    # LOADI + 10 * (ADDI + JLTI) + RETV = 22 instructions
    status, _, err = run_image(vm_bin, image, "--budget", "22")
    assert status == 0, err
    status, _, err = run_image(vm_bin, image, "--budget", "21")
    assert status == 2
    assert err == "abort: budget exceeded\n  at <init> (b.k:1)\n"


# ---- memory ------------------------------------------------------------------

def test_garbage_is_collected_under_a_small_quota(vm_bin):
    src = """
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        int[] a = new int[16];
        String s = "item " + i;
        Any b = i;
        n += a.length() == 0 ? 0 : 1;
    }
    print(n);
    """.replace("a.length()", "a.size()")
    status, out, err = run_k(vm_bin, src, "--heap", "300000", "--stats")
    assert status == 0, err
    assert out == "100000\n"
    assert live_allocs(err) == 0


def test_out_of_memory_is_an_abort_and_frees_everything(vm_bin):
    src = """
    Array<String> keep = new Array<String>();
    try {
        while (true) keep.add("some text " + keep.size());
    } finally {
        print("never");
    }
    """
    status, out, err = run_k(vm_bin, src, "--heap", "1000000", "--stats")
    assert status == 2
    assert out == ""
    assert err.startswith("abort: out of memory\n  at <init> (t.k:")
    assert live_allocs(err) == 0


def test_no_leak_after_uncaught_exception_in_nested_calls(vm_bin):
    src = """
    class P { String toString() { return "p" + (1 / 0); } }
    Array<Any> a = [1, new P()];
    print(a);
    """
    status, _, err = run_k(vm_bin, src, "--stats")
    assert status == 2
    assert err.startswith("ArithmeticException: division by zero\n"
                          "  at P.toString (t.k:2)\n  at <init> (t.k:4)\n")
    assert live_allocs(err) == 0


# ---- exceptions and traces --------------------------------------------------

def test_rethrow_by_finally_keeps_the_original_trace(vm_bin):
    src = """int g(int x) {
    try {
        return 10 / x;
    } finally {
        print("fin");
    }
}
print(g(0));
"""
    status, out, err = run_k(vm_bin, src)
    assert status == 2
    assert out == "fin\n"
    assert err == ("ArithmeticException: division by zero\n"
                   "  at g (t.k:3)\n  at <init> (t.k:8)\n")


def test_stack_overflow_trace_has_one_line_per_frame(vm_bin):
    src = "int r(int n) { return r(n + 1); }\nprint(r(0));\n"
    status, _, err = run_k(vm_bin, src, "--depth", "50")
    assert status == 2
    lines = err.splitlines()
    assert lines[0] == "abort: stack overflow"
    assert lines[1:50] == ["  at r (t.k:1)"] * 49
    assert lines[50:] == ["  at <init> (t.k:2)"]


# ---- string conversion --------------------------------------------------------

def test_recursive_tostring_runs_in_frames(vm_bin):
    src = """
    class L { L next; int v; L(int v, L n) { this.v = v; next = n; }
      String toString() { return next == null ? "" + v : v + "," + next; } }
    L l = null;
    for (int i = 0; i < 600; i++) l = new L(i, l);
    String s = "" + l;
    print(s.length());
    print(s.substring(0, 8));
    """
    status, out, err = run_k(vm_bin, src)
    assert status == 0, err
    assert out == "2289\n599,598,\n"


def test_cyclic_arrays_and_null_tostring(vm_bin):
    src = """
    class N { String toString() { return null; } }
    Array<Any> a = [1, "x", new N(), null, true];
    a.add(a);
    print(a);
    print(new N());
    print(a.join("|"));
    """
    status, out, err = run_k(vm_bin, src)
    assert status == 0, err
    assert out == ("[1, x, null, null, true, [...]]\nnull\n"
                   "1|x|null|null|true|[1, x, null, null, true, [...]]\n")


# ---- dynamic calls -------------------------------------------------------------

def test_dynamic_calls_through_a_polymorphic_site(vm_bin):
    src = """
    class A { int f(int x) { return x + 1; } }
    class B extends A { int f(int x) { return x * 10; } }
    class C { String f(int x) { return "c" + x; } }
    Array<Any> objs = [new A(), new B(), new C(), new A(), new C()];
    for (Any o : objs) print(o.f(3));
    Any s = "hello";
    print(s.length());
    Any arr = [1, 2];
    arr.add(3);
    print(arr);
    try { Any n = 5; n.f(1); } catch (NoSuchMethodException e) { print("nsm"); }
    try { objs[0].f("x"); } catch (ClassCastException e) { print("cce"); }
    try { objs[0].f(); } catch (ClassCastException e) { print("argc"); }
    try { Any z = null; z.f(1); } catch (NullPointerException e) { print(e); }
    """
    status, out, err = run_k(vm_bin, src)
    assert status == 0, err
    assert out == ("4\n30\nc3\n4\nc3\n5\n[1, 2, 3]\nnsm\ncce\nargc\n"
                   "NullPointerException: null dereference\n")


# ---- devices through --serve ---------------------------------------------------

DEVICE = """
class Hello extends Device {
    int opens;
    OutputStream kept;
    void open() { opens++; }
    void read(OutputStream out) { kept = out; out.write("hello #" + opens + "\\n"); }
    void write(InputStream in) {
        String s = in.readAll();
        print("got " + s.trim());
        if (s == "boom") throw new ArithmeticException("bad");
    }
    int ioctl(int cmd, int arg) {
        if (cmd == 1) kept.write("x");
        if (cmd == 2) throw new DeviceError(Errno.EBUSY, "busy");
        if (cmd == 3) while (true) {}
        return arg * 2;
    }
    void release() { print("released"); }
}
Device.register("hello", new Hello());
class Big extends Device {
    void read(OutputStream out) { for (int i = 0; i < 70000; i++) out.writeByte(65); }
}
Device.register("big", new Big());
"""


def test_serve_protocol(vm_bin):
    cmds = "\n".join([
        "devices", "open hello", "read 3 4", "read 3 100", "read 3 100",
        "lseek 3 -2 2", "read 3 10", "lseek 3 100 0", "write 3 6869",
        "write 3 626f6f6d", "ioctl 3 5 21", "ioctl 3 1 0", "ioctl 3 2 0",
        "ioctl 3 3 0", "open big", "read 4 10", "open nope", "close 3",
        "close 3", "quit"]) + "\n"
    status, out, err = run_k(vm_bin, DEVICE, "--budget", "1000000",
                             "--serve", "--stats", stdin=cmds)
    assert status == 0, err
    assert out.splitlines() == [
        "ok hello big",
        "ok 3",
        "ok 4 68656c6c",
        "ok 5 6f2023310a",
        "ok 0 -",
        "ok 7",
        "ok 2 310a",
        "err 22",
        "out got hi",
        "ok 2",
        "out got boom",
        "log ArithmeticException: bad",
        "log   at Hello.write (t.k:10)",
        "err 5",
        "ok 42",
        # (1.1) an uncaught DeviceError logs one line (the language
        # reference §9.3)
        "log hello: ioctl: DeviceError(EINVAL): stream used outside its callback",
        "err 22",
        "log hello: ioctl: DeviceError(EBUSY): busy",
        "err 16",
        "log abort: budget exceeded",
        "log   at Hello.ioctl (t.k:15)",
        "err 5",
        "ok 4",
        "log big: read: DeviceError(EFBIG): content exceeds 65536 bytes",
        "err 27",
        "err 2",
        "out released",
        "ok 0",
        "err 9",
    ]
    assert live_allocs(err) == 0


def test_failed_init_removes_devices_and_reports(vm_bin):
    src = 'class D extends Device {}\nDevice.register("d", new D());\n' \
          'print(1 / 0);\n'
    status, out, err = run_k(vm_bin, src, "--serve", stdin="devices\n")
    assert status == 2
    assert out == ""
    assert err == ("ArithmeticException: division by zero\n"
                   "  at <init> (t.k:3)\n")


# ---- command line --------------------------------------------------------------

def test_usage_and_invalid_image(vm_bin):
    r = subprocess.run([vm_bin], capture_output=True, text=True)
    assert r.returncode == 64 and "usage" in r.stderr
    r = subprocess.run([vm_bin, "--budget", "x", "a.kbc"],
                       capture_output=True, text=True)
    assert r.returncode == 64
    status, _, err = run_image(vm_bin, b"KBC\0garbage")
    assert status == 3
    assert err.startswith("error: invalid image: ")
