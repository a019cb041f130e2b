"""Limits that hostile scripts test: temporary roots under deep native
nesting, work charged to the budget (allocation, collection), killing a
running call, and the same stopping point in every JIT level.

The kernel suites (tests/kernel/) repeat the device cases as an
unprivileged user; these run the userspace VM, under ASan and UBSan
where it matters.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from frontend.compiler import compile_source  # noqa: E402

KVM = ROOT / "build" / "kvm"
KVM_ASAN = ROOT / "build" / "kvm-asan"

# Each write adds a child to the deepest node and descends; read renders
# the tree through toString, join and an array conversion: each node is
# one more native level holding roots while the next one allocates.
TREE = """\
class Node {
    Array<Node> kids = new Array<Node>();
    Array<Node> none = new Array<Node>();
    String name;
    Node(String n) { name = n; }
    String toString() {
        return name + "[" + kids.join(",") + none + "]";
    }
}
class Tree extends Device {
    Node root = new Node("root");
    Node cur = root;
    Tree() { mode = 0666; }
    void write(InputStream in) {
        Node n = new Node(in.readAll().trim());
        cur.kids.add(n);
        cur = n;
    }
    void read(OutputStream out) {
        out.write(root.toString() + "\\n");
    }
}
Device.register("tree", new Tree());
"""


def image_file(tmp_path, src, name="p"):
    path = tmp_path / f"{name}.kbc"
    path.write_bytes(compile_source(src, f"{name}.k"))
    return path


def serve(vm, image, lines, *args):
    r = subprocess.run([str(vm), *args, "--serve", str(image)],
                       input="\n".join(lines) + "\nquit\n",
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout.splitlines(), r.stderr


@pytest.mark.parametrize("heap", [60_000, 1 << 20])
@pytest.mark.parametrize("depth", [14, 15, 16, 24])
def test_deep_tree_device_keeps_its_roots(depth, heap, tmp_path):
    image = image_file(tmp_path, TREE)
    cmds = ["open tree"]
    cmds += [f"write 3 {('n%d' % i).encode().hex()}" for i in range(depth)]
    cmds += ["read 3 100000", "read 3 100000", "close 3"]
    st, out, err = serve(KVM_ASAN, image, cmds, "--heap", str(heap))
    # no root was dropped (the VM warned before it did), nothing leaked
    assert st == 0 and "warning" not in err and "ERROR" not in err, err
    reads = [ln for ln in out if ln.startswith(("ok", "err"))][depth + 1:]
    if depth < 16:
        # 15 native levels fit: the whole tree comes back
        text = bytes.fromhex(reads[0].split()[2]).decode()
        assert text.startswith("root[n0[n1[") and text.count("[") == \
            depth + 1 + depth + 1
    else:
        # deeper: the read fails with EIO, the abort is logged, and the
        # device still answers
        assert reads[0] == "err 5"
        assert "log abort: stack overflow" in out
    assert reads[-1] == "ok 0"


ADVERSARY = ROOT / "bench" / "programs" / "adversary.k"


@pytest.mark.parametrize("cmd,arg", [(1, 0), (2, 200_000), (3, 0),
                                     (4, 1_000_000), (5, 0), (6, 100_000),
                                     (7, 0)])
def test_hostile_work_is_stopped_by_the_budget(cmd, arg, tmp_path):
    """Every kind of work ends when a callback's budget does, near a full
    heap too; the device stays usable (bench/test_adversary.py times
    these)."""
    image = tmp_path / "adv.kbc"
    image.write_bytes(compile_source(ADVERSARY.read_text(), "adv.k"))
    cmds = ["open adversary"] + ["ioctl 3 0 2000"] * 30
    cmds += [f"ioctl 3 {cmd} {arg}"] * 3 + ["ioctl 3 0 0"]
    t = time.monotonic()
    st, out, err = serve(KVM_ASAN, image, cmds, "--budget", "100000000",
                         "--cb-budget", "200000", "--heap", str(16 << 20))
    assert st == 0 and "ERROR" not in err, err
    answers = [ln for ln in out if ln.startswith(("ok", "err"))]
    assert answers[-4:] == ["err 5", "err 5", "err 5", "ok 0"], answers
    assert "log abort: budget exceeded" in out
    # three callbacks of 200,000 units, under ASan: well under a second
    assert time.monotonic() - t < 20


LOOP = """\
int spin(int n) { int s = 0; while (n > 0) { s = s + n; } return s; }
int fib(int n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }
class Box { int v; }
print("start");
if (%s) {
    Box b = new Box();
    while (b.v >= 0) { b.v = b.v + 1; }
}
if (%s) print(fib(80));
print(spin(3));
"""


def jit_so(image, tmp_path, ct):
    ctjit = pytest.importorskip("ctjit")
    stubs = ctjit.compile_image(image.read_bytes(), ct=ct)
    obj, so = tmp_path / "s.jit.o", tmp_path / "s.jit.so"
    obj.write_bytes(stubs.obj)
    ctjit.link_shared(str(obj), str(so))
    return so


@pytest.mark.parametrize("mode", ["interp", "subroutine", "all"])
@pytest.mark.parametrize("loop", [("true", "false"), ("false", "false"),
                                  ("false", "true")],
                         ids=["frame-loop", "direct-loop", "direct-recursion"])
def test_sigterm_ends_a_running_call(mode, loop, tmp_path):
    """SIGTERM stands for the kernel's fatal signal: the call ends at its
    next poll, long before its budget would: in a loop of frame code, a
    loop of direct code and a recursion of direct code without loops.
    The budget is 10^15 instructions: the JIT's frame loop runs the
    default 2^32 in well under a second."""
    image = image_file(tmp_path, LOOP % loop)
    cmd = [str(KVM), "--budget", str(10**15)]
    if mode != "interp":
        cmd += ["--jit", str(jit_so(image, tmp_path, mode))]
    p = subprocess.Popen([*cmd, str(image)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(0.5)     # started and looping (stdout is block-buffered)
    t = time.monotonic()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    took = time.monotonic() - t
    assert p.returncode == 2, err
    assert out == b"start\n"
    assert err.decode().startswith("abort: killed\n  at "), err
    assert took < 1.0, took


# Allocation and collection are charged where they happen: a budget sweep
# must stop every JIT level at the interpreter's instruction, with the
# same output, also when an exception's allocation or a collection takes
# the budget below zero inside a segment.
ALLOC = """\
class P { int x; int y; P next; String toString() { return "P" + x; } }
int work(int n) {
    P head = null;
    int s = 0;
    for (int i = 0; i < n; i++) {
        P p = new P();
        p.x = i;
        p.next = head;
        head = p;
        Any a = i;
        int[] arr = new int[i % 40];
        s += (int) a + arr.size();
        try {
            if (i % 7 == 3) { P q = null; s += q.x; }
            s += arr[i % 5];
        } catch (Exception e) {
            s += e.getMessage().length();
        }
        if (i % 11 == 0) print("" + head + " " + s);
    }
    return s;
}
print(work(120));
"""


@pytest.mark.parametrize("ct", ["subroutine", "+call", "all"])
def test_allocation_charges_stop_every_level_alike(ct, tmp_path):
    image = image_file(tmp_path, ALLOC)
    so = jit_so(image, tmp_path, ct)
    r = subprocess.run([str(KVM), "--stats", str(image)],
                       capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    budgets = sorted({*range(1, 60), *range(need // 3, need // 3 + 40),
                      *range(need - 40, need + 3)})
    for budget in budgets:
        for heap in ("4000", "1000000"):
            args = ["--budget", str(budget), "--heap", heap]
            want = subprocess.run([str(KVM), *args, str(image)],
                                  capture_output=True)
            got = subprocess.run([str(KVM), *args, "--jit", str(so),
                                  str(image)], capture_output=True)
            assert (got.returncode, got.stdout, got.stderr) == \
                (want.returncode, want.stdout, want.stderr), \
                f"budget {budget} heap {heap}"
