"""The context-threading JIT (ctjit/): parity with the interpreter on the
whole conformance suite, the IR of fib, digest binding, and exact limits.

Parity: every tests/conformance program, run as `ktc run --jit`, gives the
stdout, stderr and exit status the suite expects of the interpreter (the
discovery and expectations of tests/test_conformance.py).
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_conformance as conf  # noqa: E402
from ktc import cli, host  # noqa: E402
from frontend.compiler import compile_source  # noqa: E402

ctjit = pytest.importorskip("ctjit")
pytestmark = pytest.mark.jit

FIB = """\
int fib(int n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }
print(fib(20));
"""


def build_so(image: bytes, tmp: str, ct: str = "all") -> str:
    stubs = ctjit.compile_image(image, ct=ct)
    obj = os.path.join(tmp, "s.jit.o")
    so = os.path.join(tmp, "s.jit.so")
    with open(obj, "wb") as f:
        f.write(stubs.obj)
    ctjit.link_shared(obj, so)
    return so


def run_vm(image: bytes, args=(), jit=True, ct="all", cwd=None, so=None):
    binary = conf.vm_binary()
    with tempfile.TemporaryDirectory(prefix="ktc-jit-") as tmp:
        img = os.path.join(tmp, "p.kbc")
        with open(img, "wb") as f:
            f.write(image)
        extra = []
        if jit:
            extra = ["--jit", so or build_so(image, tmp, ct)]
        r = subprocess.run([binary, *args, *extra, img], cwd=cwd,
                           capture_output=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def run_program_jit(path: pathlib.Path, args: list[str]):
    parsed = cli.build_parser().parse_args(["run", *args, path.name])
    if parsed.ops is not None or parsed.param:
        r = subprocess.run(
            [sys.executable, "-m", "ktc.cli", "run", "--jit", *args,
             path.name], cwd=path.parent, capture_output=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        return r.returncode, r.stdout, r.stderr
    source = path.read_bytes().decode("latin-1")
    try:
        image = compile_source(source, path.name)
    except Exception:   # compile errors: the JIT is not involved
        return conf.run_program(path, args)
    return run_vm(image, host.limit_args(parsed.budget, parsed.heap,
                                         parsed.depth), cwd=path.parent)


@pytest.mark.parametrize("path", conf.programs(),
                         ids=[str(p.relative_to(conf.SUITE))
                              for p in conf.programs()])
def test_parity(path: pathlib.Path):
    source = path.read_bytes().decode("latin-1")
    d = conf.directives(source)
    status = int(d.get("status", "0"))
    args = shlex.split(d.get("args", ""))
    got_status, out, err = run_program_jit(path, args)
    err_text = err.decode("latin-1")
    context = f"\n--- stderr (JIT) ---\n{err_text}"
    expected_out = path.with_suffix(".out")
    if expected_out.exists():
        assert out.decode("latin-1") == \
            expected_out.read_bytes().decode("latin-1"), context
    assert got_status == status, f"exit status {got_status}, expected " \
        f"{status}{context}"
    expected_err = path.with_suffix(".err")
    if expected_err.exists():
        assert err_text == expected_err.read_bytes().decode("latin-1")
    head = path.with_suffix(".errhead")
    if head.exists():
        assert err_text.startswith(head.read_bytes().decode("latin-1")), \
            context


# ---- the IR of fib: the four techniques ----------------------------------

def fib_ir(ct):
    image = compile_source(FIB, "fib.k")
    return ctjit.compile_image(image, ct=ct).ir


def fib_body(ir):
    m = re.search(r"define internal \{ i64, i64 \} @kjit_f0\(.*?\n\}", ir,
                  re.S)
    assert m, ir
    return m.group(0)


def test_ir_subroutine_threading_calls_handlers():
    body = fib_body(fib_ir("subroutine"))
    # every instruction is a direct call of its handler, operands immediate
    assert "call i32 @kop_ADDI(ptr %vm, ptr %R" in body
    assert re.search(r"@kop_ADDI\(ptr %vm, ptr %R\d+, i32 1, i32 0, i32 -1\)",
                     body)
    assert "call i32 @kop_CALL(" in body
    assert "call { i64, i64 } @kjit_f0(" not in body
    assert "call i32 @kop_ADD(" in body
    assert "call i64 @kop_RET(" in body
    # branches return the next pc and dispatch through a switch
    assert "call i32 @kop_JGEI(" in body
    assert "switch i32 %dpc" in body


def test_ir_branch_inlining():
    body = fib_body(fib_ir("+branch"))
    assert "@kop_JGEI" not in body
    assert re.search(r"icmp sge i64 %x\d+, 2\n\s+br i1 %c\d+, label %L6, "
                     r"label %L4", body)
    assert "@kop_CALL(" in body            # calls still go through handlers


def test_ir_call_return_inlining():
    body = fib_body(fib_ir("+call"))
    assert "@kop_RET(" not in body
    # kop_CALL remains only as the slow path (past the native frames or
    # the stack's capacity)
    assert body.count("call { i64, i64 } @kjit_f0(") == 2
    # a native call of the callee's own stub, with a depth check
    assert "call { i64, i64 } @kjit_f0(ptr %vm, ptr %Rc" in body
    assert re.search(r"icmp uge i32 %nf\d+, %lim\d+", body)
    assert "ret { i64, i64 }" in body
    assert "@kop_ADDI(" in body            # tiny ops still call handlers


def test_ir_tiny_inlining():
    body = fib_body(fib_ir("+tiny"))
    # no handler call left in fib but the slow path of calls
    assert set(re.findall(r"@kop_\w+", body)) == {"@kop_CALL"}
    assert re.search(r"= add i64 %x\d+, -1", body)
    assert re.search(r"= add i64 %x\d+, %x\d+", body)


def test_ir_budget_per_segment():
    # fib's segments: [JGEI] [RET] [ADDI CALL] [ADDI CALL] [ADD RET];
    # the entry checks for its longest way on (JGEI then ADDI CALL), the
    # segments after each call check for themselves, [RET] and the first
    # [ADDI CALL] only subtract
    body = fib_body(fib_ir("all"))
    checks = re.findall(r"icmp sge i64 %bud\d+, ([1-9]\d*)", body)
    assert sorted(map(int, checks)) == [2, 2, 3]
    subs = re.findall(r"= sub i64 %bud\d+, ([1-9]\d*)", body)
    assert sorted(map(int, subs)) == [1, 1, 2, 2, 2]
    # without +branch every segment checks for its own length
    body0 = fib_body(fib_ir("subroutine"))
    checks0 = re.findall(r"icmp sge i64 %bud\d+, ([1-9]\d*)", body0)
    assert sorted(map(int, checks0)) == [1, 1, 2, 2, 2]


# A counting loop whose body branches: [i < n] [x % 3 == 0] [s += 2]
# [s += 1] [i++, back]: the loop head checks for the longest way round.
SUMLOOP = """\
int f(int n) {
    int s = 0;
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0) s = s + 2;
        else s = s + 1;
    }
    return s;
}
print(f(10));
"""


def test_ir_loop_head_checks_its_whole_body():
    image = compile_source(SUMLOOP, "p.k")
    ir = ctjit.compile_image(image, ct="all").ir
    body = fib_body(ir)
    checks = sorted(map(int, re.findall(r"icmp sge i64 %bud\d+, ([1-9]\d*)",
                                        body)))
    subs = re.findall(r"= sub i64 %bud\d+, ([1-9]\d*)", body)
    # the entry segment and the loop head check (the loop's test, reached
    # from both, only subtracts); the body's segments only subtract
    assert len(checks) == 2, body
    assert len(subs) > len(checks)
    # the head's check covers more than its own length
    assert max(checks) > 2
    # with +branch off every segment checks for its own length
    ir0 = ctjit.compile_image(image, ct="subroutine").ir
    n0 = re.findall(r"icmp sge i64 %bud\d+, ([1-9]\d*)", fib_body(ir0))
    assert len(n0) == len(subs)


# ---- CALLV: virtual calls dispatched natively (+call) -------------------

FIBM = """\
class F { int fib(int n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); } }
F f = new F();
print(f.fib(20));
"""

# Receivers of four classes in turn: A.f, B.f (recursive), C.f (throws),
# D inheriting A.f; toString native for A and D, script for B and C; a
# null receiver at the end (the trace of its NPE).
POLY = """\
class A { int k; A(int k) { this.k = k; } int f(int n) { return n + k; } }
class B extends A {
    B() { super(1); }
    int f(int n) { if (n < 1) return 0; return 1 + f(n - 1); }
    String toString() { return "B" + k; }
}
class C extends B {
    int f(int n) { if (n == 4) throw new Exception("c" + n); return 2 * n; }
}
class D extends A { D() { super(7); } }
int g(A a, int n) {
    try { return a.f(n); } catch (Exception e) { print(e.getMessage()); return -1; }
}
A[] xs = new A[5];
xs[0] = new A(3); xs[1] = new B(); xs[2] = new C(); xs[3] = new D();
int s = 0;
for (int i = 0; i < 24; i = i + 1) {
    A a = xs[i % 4];
    s = s + g(a, i % 6);
    print(a.toString());
}
print(s);
print(xs[4].f(1));
"""


# Returns that convert the result for the caller: an Any call of script
# methods returning int and boolean (the result boxed), a script
# toString returning null ("null"), and both in a loop that also
# collects, so that the conversions' allocations are charged to the
# budget (and may collect) between other instructions.
CONVERTED = """\
class C {
    int k;
    C(int k) { this.k = k; }
    int f(int n) { return n + k; }
    boolean odd(int n) { return n % 2 == 1; }
    String toString() { if (k % 2 == 0) return null; return "c" + k; }
}
Any a = new C(1);
Any r = a.f(2);
print(r);
print(a.odd(3));
String t = "";
for (int i = 0; i < 40; i++) {
    Any c = new C(i);
    Any v = c.f(i);
    Any w = c.odd(i);
    t = t + c;
    int[] junk = new int[50];
    if (i % 10 == 0) print(t.length());
}
print(t);
"""


def test_converted_returns_budget_sweep_is_exact(tmp_path):
    """The box of a dynamic call's int or boolean result and the "null"
    of a null toString are charged to the budget by the interpreter as
    by the JIT: every budget stops both at the same point."""
    image = compile_source(CONVERTED, "c.k")
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    sos = []
    for ct in ("subroutine", "all"):
        (tmp_path / ct).mkdir()
        sos.append(build_so(image, str(tmp_path / ct), ct))
    want = run_vm(image, jit=False)
    assert want[0] == 0 and b"c39" in want[1]
    for budget in list(range(1, 60)) + list(range(need - 400, need + 3, 3)):
        args = ["--budget", str(budget)]
        base = run_vm(image, args, jit=False)
        for so in sos:
            assert run_vm(image, args, so=so) == base, f"budget {budget}"


def test_ir_callv_native_dispatch():
    image = compile_source(FIBM, "fibm.k")
    ir = ctjit.compile_image(image, ct="+call").ir
    fns = {m.group(1): m.group(0) for m in re.finditer(
        r"define internal \{ i64, i64 \} @kjit_f(\d+)\(.*?\n\}", ir, re.S)}
    # the method: the body that calls its own stub natively
    rec = [(i, b) for i, b in fns.items()
           if f"call {{ i64, i64 }} @kjit_f{i}(ptr %vm, ptr %Rc" in b]
    assert len(rec) == 1, ir
    i, body = rec[0]
    # receiver's class id selects the target; the handler only as the
    # slow path (null receiver, native or unstubbed target, nesting bound)
    assert re.search(r"switch i32 %cls\d+, label %vs\d+ \[ i32 \d+, "
                     r"label %vt\d+_" + i + r" \]", body)
    assert body.count(f"call {{ i64, i64 }} @kjit_f{i}(") == 2
    assert body.count("call i32 @kop_CALLV(") == 2
    assert re.search(r"icmp uge i32 %nf\d+, %lim\d+", body)
    # subroutine/+branch keep the handler only
    ir0 = ctjit.compile_image(image, ct="+branch").ir
    assert "switch i32 %cls" not in ir0


def test_callv_polymorphic_parity(tmp_path):
    image = compile_source(POLY, "p.k")
    for ct in ("+branch", "+call", "all"):
        so = build_so(image, str(tmp_path), ct)
        want = run_vm(image, jit=False)
        assert want[0] == 2 and b"NullPointerException" in want[2]
        assert b"c4" in want[1] and b"B1" in want[1] and b"D" in want[1]
        assert run_vm(image, so=so) == want
        for depth in (3, 4, 5, 10):
            args = ["--depth", str(depth)]
            assert run_vm(image, args, so=so) == \
                run_vm(image, args, jit=False)


@pytest.mark.parametrize("src", [FIBM.replace("fib(20)", "fib(7)"), POLY],
                         ids=["fibm", "poly"])
def test_callv_budget_sweep_is_exact(src, tmp_path):
    image = compile_source(src, "p.k")
    so = build_so(image, str(tmp_path))
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    for budget in list(range(1, 40)) + list(range(need - 30, need + 3)):
        if budget <= 0:
            continue
        args = ["--budget", str(budget)]
        assert run_vm(image, args, so=so) == \
            run_vm(image, args, jit=False), f"budget {budget}"


def test_callv_deep_recursion_past_native_nesting(tmp_path):
    src = ("class R { int rec(int n) { if (n == 0) return 0; "
           "return 1 + rec(n - 1); } }\n"
           "R r = new R();\nprint(r.rec(997));\nprint(r.rec(999));\n")
    image = compile_source(src, "p.k")
    want = run_vm(image, jit=False)
    assert want[0] == 2 and b"abort: stack overflow" in want[2]
    assert run_vm(image) == want


def test_ct_levels_parse():
    from ctjit.codegen import Options
    assert Options.parse("subroutine").label() == "subroutine"
    assert Options.parse("+call").label() == "subroutine+branch+call"
    assert Options.parse("+tiny").label() == "subroutine+branch+call+tiny"
    assert Options.parse("all").label() == \
        "subroutine+branch+call+tiny+direct"
    with pytest.raises(ValueError):
        Options.parse("bogus")
    with pytest.raises(ValueError):
        Options.parse("call,direct")


@pytest.mark.parametrize("ct", ["subroutine", "+branch", "+call", "+tiny",
                                "+direct"])
def test_every_level_runs_fib(ct):
    image = compile_source(FIB, "fib.k")
    st, out, err = run_vm(image, ct=ct)
    assert (st, out, err) == (0, b"6765\n", b"")


# ---- digest binding --------------------------------------------------------

def test_digest_mismatch_is_refused(tmp_path):
    a = compile_source(FIB, "fib.k")
    b = compile_source(FIB.replace("fib(20)", "fib(21)"), "fib.k")
    so = build_so(a, str(tmp_path))
    st, out, err = run_vm(b, so=so)
    da, db = a[16:24].hex(), b[16:24].hex()
    assert st == 3
    assert out == b""
    assert err.decode() == (f"error: JIT stubs were compiled for image {da}, "
                            f"not {db}\n")


def test_cli_compile_jit_writes_object(tmp_path):
    src = tmp_path / "fib.k"
    src.write_text(FIB)
    r = subprocess.run([sys.executable, "-m", "ktc.cli", "compile",
                        "--jit", str(src)], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fib.kbc").exists()
    assert (tmp_path / "fib.jit.o").read_bytes()[:4] == b"\x7fELF"


def test_cli_run_jit(tmp_path):
    src = tmp_path / "fib.k"
    src.write_text(FIB)
    r = subprocess.run([sys.executable, "-m", "ktc.cli", "run", "--jit",
                        str(src)], cwd=ROOT, capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "6765\n", "")


# ---- exact limits ----------------------------------------------------------

LOOPS = """\
int g;
int f(int n) {
    int s = 0;
    for (int i = 0; i < n; i = i + 1) {
        try {
            if (i % 3 == 0) { s = s + 10 / (i - i); }
            s = s + i;
        } catch (ArithmeticException e) { s = s + 1; }
    }
    g = g + 1;
    return s;
}
print(f(3));
print(f(4) + f(2));
int rec(int n) { if (n == 0) return 0; return 1 + rec(n - 1); }
print(rec(150));
"""


# Handlers that charge the budget themselves (== on Strings and on Any,
# concatenation) in the middle of straight-line code.
STRINGS = """\
int f(String a, String b) {
    Any c = b;
    int n = 0;
    for (int i = 0; i < 4; i = i + 1) {
        if (a == b) { n = n + 1; }
        n = n + 2;
        if (c == a) { n = n + 1; }
        String d = a + b;
        n = n + d.length() % 7;
    }
    return n;
}
String x = "ab".repeat(400);
print(f(x, "ab".repeat(400)));
print(f(x, x + ""));
"""


# Inlined pure natives in the middle of their segments (charAt, length,
# Math.min and abs do not end one): a charAt past the end caught in a
# loop refunds the rest of its segment.
CHARS = """\
int scan(String s, int extra) {
    int n = 0;
    for (int i = 0; i < s.length() + extra; i++) {
        try {
            n = n + s.charAt(i) % 7 + Math.min(i, 3) + Math.abs(n % 5);
        } catch (IndexOutOfBoundsException e) {
            n = n + 100;
        }
        n = n + 1;
    }
    return n;
}
print(scan("hello, world", 3));
print(scan("ab", 0) + scan("", 2));
"""


# Loop heads that check for their whole body: nested loops, a call and
# a throw inside a body, a body with a long and a short way round, a
# loop whose head is also reached from a handler.
NESTED = """\
class K { int v; int get(int i) { if (i == 7) throw new Exception("seven"); return v + i; } }
K k = new K();
int total = 0;
for (int i = 0; i < 6; i++) {
    for (int j = 0; j < i; j++) {
        if ((i + j) % 2 == 0) { total = total + j * 3 + i; total = total % 1000; }
        else total = total - 1;
    }
    try {
        total = total + k.get(i + 2);
    } catch (Exception e) {
        total = total + 50;
    }
    int w = 0;
    while (w < 3) { w++; if (w == 2) continue; total = total + w; }
}
print(total);
"""


# Direct functions (sq, div, both, odd) called from frame code (safe,
# uses, the init, getg which reads a global): a division by zero caught
# around a direct call, an uncaught one (its trace), recursion.
DIRECT = """\
int g = 5;
int sq(int x) { return x * x; }
int div(int a, int b) { return a / b; }
int getg() { return g + 1; }
boolean odd(int n) { if (n == 0) return false; return !odd(n - 1); }
int both(int n) { if (n == 0) return 1; return sq(n) % 7 + both(n - 1); }
int safe(int a, int b) {
    try { return div(a, b); } catch (ArithmeticException e) { return -7; }
}
int uses(String s) { return s.length() + sq(3) + getg(); }
print(safe(7, 0));
print(safe(7, 2));
print(both(30));
g = 40;
print(uses("abc"));
print(odd(31));
print(div(1, 0));
"""


def test_direct_functions_are_the_pure_int_ones():
    from ctjit.codegen import direct_functions
    from frontend.image import read_image
    img = read_image(compile_source(DIRECT, "d.k"))
    names = [img.string(f.name) for f in img.functions]
    direct = direct_functions(img, [True] * len(names))
    assert {n for n, d in zip(names, direct) if d} == \
        {"sq", "div", "odd", "both"}


def test_ir_direct_calls():
    ir = fib_ir("all")
    m = re.search(r"define internal \{ i64, i64 \} @kjit_d0\(i64 %fl, "
                  r"i64 %b0, i64 %a0\) noinline #0.*?\n\}", ir, re.S)
    assert m, ir
    body = m.group(0)
    # no handler and no VM frame: registers and budget in SSA values
    assert "@kop_" not in body and "%Rslot" not in body
    assert body.count("notail call { i64, i64 } @kjit_d0(i64 %fl, ") == 2
    assert "ret { i64, i64 } { i64 0, i64 -1 }" in body
    assert "@llvm.read_register.i64(metadata !20)" in body
    # the frame code enters the chain, and runs a call that gave up
    # again through kop_CALL with direct calls off
    f0 = fib_body(ir)
    assert f0.count("notail call { i64, i64 } @kjit_d0(i64 %fl") == 2
    assert len(re.findall(r"@llvm.umax.i64\(i64 %fl\d+, i64 %fl\d+\)",
                          f0)) == 2
    assert f0.count("call i32 @kop_CALL(") == 4
    assert "kjit_d0" not in fib_ir("+tiny")


@pytest.mark.parametrize("args", [[], ["--depth", "12"], ["--depth", "31"],
                                  ["--depth", "32"], ["--budget", "700"]])
def test_direct_parity(args, tmp_path):
    image = compile_source(DIRECT, "d.k")
    want, got = interp_vs_jit(image, args, str(tmp_path))
    assert got == want
    if not args:
        assert want[0] == 2 and b"  at div (d.k:3)" in want[2]


TAIL = """\
int sum(int n, int acc) { if (n == 0) return acc; return sum(n - 1, acc + n); }
int f(int n) { return sum(n, 0); }
print(f(3));
print(f(40));
print(f(997));
"""


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6, 40, 41, 42, 43, 998,
                                   999, 1000])
def test_direct_depth_limit_is_exact(depth, tmp_path):
    # a tail call stays a call (notail): every level counts
    image = compile_source(TAIL, "t.k")
    want, got = interp_vs_jit(image, ["--depth", str(depth)], str(tmp_path))
    assert got == want


def test_direct_recursion_past_the_stack_floor(tmp_path):
    # 1 MiB of stack for direct code in userspace: a million levels do
    # not fit (nor in the 8 MiB of the process), so the call gives up at
    # the floor and runs again with frames
    src = ("int rec(int n) { if (n == 0) return 0; return 1 + rec(n - 1); }\n"
           "print(rec(1000000));\n")
    image = compile_source(src, "p.k")
    args = ["--depth", "1000002"]
    want, got = interp_vs_jit(image, args, str(tmp_path))
    assert want == (0, b"1000000\n", b"")
    assert got == want

def interp_vs_jit(image, args, tmp):
    so = build_so(image, tmp)
    return (run_vm(image, args, jit=False), run_vm(image, args, so=so))


# Array loops with a fast version (the arrays' lengths and elements read
# before the loop): a sieve's inner loop, a sum running past the end, a
# null array (the ordinary version throws).
ARRLOOP = """\
int sieve(int n) {
    boolean[] flags = new boolean[n];
    int count = 0;
    for (int i = 2; i <= n; i++) {
        if (!flags[i - 1]) {
            count++;
            for (int j = i + i; j <= n; j += i) flags[j - 1] = true;
        }
    }
    return count;
}
int sum(int[] a, int extra) {
    int s = 0;
    for (int i = 0; i < a.size() + extra; i++) s = s + a[i] * 3;
    return s;
}
print(sieve(300));
int[] a = new int[20];
for (int i = 0; i < 20; i++) a[i] = i;
print(sum(a, 0));
int[] z = null;
try { print(sum(z, 5)); } catch (Exception e) { print(e.getMessage()); }
print(sum(a, 1));
"""


# A call whose result goes to one of its own argument registers (here h's
# second argument, and charAt's index): the argument is read by the call,
# so the interpreter, taking over after a segment whose budget check
# fails, must find it written back (liveness). Budgets that cover the
# short way to the call but not the check's longest path bail there.
CALLARG = """\
int h(String s, int b, int c) { print(b); return b + c; }
int g(int x) { return x + 1; }
int f(String s, int i) {
    int x = 2 * h(s, i * 7 + 3, g(i) > 0 ? 1 : i * i + i * 3 + i * 5 + i * 7 + i * 9 + i * 11 + i * 13 + i * 15 + i * 17 + i * 19 + i * 21);
    int y = 1000 + s.charAt(g(i) % 8);
    if (y > 1100) print(y);
    else print(y * y + y * 3 + y * 5 + y * 7 + y * 9 + y * 11 + y * 13 + y * 15);
    return x + y;
}
int t = 0;
for (int k = 0; k < 3; k++) t = t + f("abcdefgh", k + 4);
print(t);
"""


def test_ir_array_loops_have_a_fast_version():
    ir = ctjit.compile_image(compile_source(ARRLOOP, "a.k")).ir
    assert ir.count("_pre:") == 2


@pytest.mark.parametrize("src", [FIB.replace("fib(20)", "fib(7)"), LOOPS,
                                 STRINGS, DIRECT, CHARS, NESTED, SUMLOOP,
                                 ARRLOOP, CALLARG],
                         ids=["fib", "loops", "strings", "direct", "chars",
                              "nested", "sumloop", "arrloop", "callarg"])
def test_budget_sweep_is_exact(src, tmp_path):
    image = compile_source(src, "p.k")
    so = build_so(image, str(tmp_path))
    # the budget the whole run needs, from the interpreter's count
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    for budget in list(range(1, 60)) + list(range(need - 40, need + 3)):
        if budget <= 0:
            continue
        args = ["--budget", str(budget)]
        want = run_vm(image, args, jit=False)
        got = run_vm(image, args, so=so)
        assert got == want, f"budget {budget}"


# A Device read that grows its output one writeByte at a time: the
# native's growth charges the budget in the middle of a loop body whose
# segments only subtract (budget_regions), so writeByte's slow path checks
# again. Around the first growth (the 257th byte) every budget stops the
# JIT where the interpreter stops, at each level that lowers writeByte
# differently.
GROW = """\
class Gen extends Device {
    void read(OutputStream out) {
        int k = 0;
        for (int i = 0; i < N; i++) {
            if (i % 7 == 0) k = k + 1;
            out.writeByte('a' + (i + k) % 26);
        }
    }
}
Device.register("gen", new Gen());
"""


def _gen_read(image, budget, so=None):
    """The read's bytes or its error, and the log (an abort's report and
    the line it stopped at), under a callback budget."""
    args = ["--jit", so] if so else []
    with host.VM(image, budget=budget, vm_args=args) as vm:
        f = vm.open("gen")
        try:
            got = f.read(4096)
        except OSError as e:
            got = e.errno
        return got, list(vm.log)


@pytest.mark.parametrize("ct", ["+branch", "all"])
def test_writebyte_growth_budget_is_exact(ct, tmp_path):
    # the budget a read of 256 bytes needs, from the interpreter
    small = compile_source(GROW.replace("N", "256"), "g.k")
    lo, hi = 1, 1 << 16
    while lo < hi:
        mid = (lo + hi) // 2
        if isinstance(_gen_read(small, mid)[0], bytes):
            hi = mid
        else:
            lo = mid + 1
    image = compile_source(GROW.replace("N", "300"), "g.k")
    so = build_so(image, str(tmp_path), ct)
    for budget in range(lo - 3, lo + 40):
        want = _gen_read(image, budget)
        assert _gen_read(image, budget, so) == want, f"budget {budget}"


# Loops with a fast version (ctjit FastLoop): a CharDevice whose read
# rotates a String into its stream byte by byte (String.charAt,
# OutputStream.writeByte) and whose write sums its input (readByte). The
# fast version reads the String's length and the streams' state before
# the loop and leaves at every slow path; each variant makes one of those
# happen: the loop running past the String's end (charAt throws), a null
# String (the loop runs in the caller's version), a division by zero, a
# read whose count is smaller than the bytes written (the stream's bound,
# then its limit), two registers holding the same stream (then neither is
# read before the loop), and the budget running out anywhere in the loop.
FASTLOOP = """\
class R extends CharDevice {
    int total = 0;
    R() { mode = 0666; }
    void open(File f) { f.data = DATA; }
    void write(File f, InputStream in) {
        int n = 0;
        int c = in.readByte();
        while (c >= 0) { n = n + c; c = in.readByte(); }
        total = total + n;
        if (total == 38250) throw new DeviceError(Errno.ENOSPC, "sum " + total);
    }
    void read(File f, OutputStream out, int count) {
        String s = (String) f.data;
        OutputStream o2 = out;
        int n = 10;
        if (s != null) n = s.length() + EXTRA;
        for (int i = 0; i < n; i++) {
            int c = s.charAt(i);
            if (c >= 'a' && c <= 'z') c = (c - 'a' + 13) % 26 + 'a';
            else if (c >= 'A' && c <= 'Z') c = (c - 'A' + 13) % DIV + 'A';
            out.writeByte(c);
            if (ALIAS) o2.writeByte(c);
        }
    }
}
CharDevice.register("r13", new R());
"""


def _fastloop_src(data='"Hello, World! " + "abcXYZ".repeat(40)', extra=0,
                  div=26, alias="false"):
    return (FASTLOOP.replace("DATA", data).replace("EXTRA", str(extra))
            .replace("DIV", str(div)).replace("ALIAS", alias))


def _write_read_read(image, device, data, budget, so=None, count=4096):
    """The results of a write of data and two reads of count bytes on one
    open file of device (bytes, a count or an errno) and the log, under a
    callback budget; [errno] when the open fails."""
    args = ["--cb-budget", str(budget)] + (["--jit", so] if so else [])
    out = []
    with host.VM(image, vm_args=args) as vm:
        try:
            f = vm.open(device)
        except OSError as e:
            return [e.errno], list(vm.log)
        for op, arg in (("write", data), ("read", count), ("read", count)):
            try:
                out.append(getattr(f, op)(arg))
            except OSError as e:
                out.append(e.errno)
        return out, list(vm.log)


def _least_budget(run) -> int:
    """The least callback budget (below 2^20) under which run(budget),
    a (results, log) pair, logs no abort: every call completes."""
    lo, hi = 1, 1 << 20
    while lo < hi:
        mid = (lo + hi) // 2
        if b"abort" not in "".join(run(mid)[1]).encode():
            hi = mid
        else:
            lo = mid + 1
    return lo


def _r13(image, budget, so=None, count=4096):
    return _write_read_read(image, "r13", b"\x01\x02\xff" * 50, budget, so,
                            count)


FASTLOOP_CASES = {
    "plain": {},
    "past-the-end": {"extra": 1},
    "null": {"data": "null"},
    "div0": {"div": 0},
    "alias": {"alias": "true"},
}


def test_ir_fast_loop_calls_nothing():
    """The read's loop has a fast version, and no call is in it: its
    blocks (fl<head>_...) only leave to the caller's code.  (The empty
    inline asm that keeps a written byte's arithmetic in i64 is no
    call.)"""
    image = compile_source(_fastloop_src(), "r.k")
    ir = ctjit.compile_image(image).ir
    read = ir[ir.index("define internal", ir.index("kjit_f3") - 40):]
    read = read[:read.index("\n}\n")]
    blocks = re.split(r"\n(?=[\w.]+:)", read)
    fast = [b for b in blocks if b.startswith("fl")]
    assert any(b.startswith("fl") and "_pre:" in b.split("\n")[0]
               for b in fast), "no fast version"
    assert len(fast) > 5
    assert not [b for b in fast if re.search(r" call [^\n]*@", b)]
    assert "fastloop" not in ctjit.codegen.Options.parse("all").label()
    off = ctjit.compile_image(image, ct="all-fastloop").ir
    assert "_pre:" not in off and "fl" not in off.split("kjit_f3")[1][:2000]


@pytest.mark.parametrize("case", sorted(FASTLOOP_CASES))
def test_fast_loop_parity(case, tmp_path):
    """Each variant's results and log (exceptions with their lines,
    short reads) are the interpreter's, with and without fast loops."""
    image = compile_source(_fastloop_src(**FASTLOOP_CASES[case]), "r.k")
    so = build_so(image, str(tmp_path))
    off = build_so(image, str(tmp_path / "off"), "all-fastloop") \
        if (tmp_path / "off").mkdir() is None else None
    for count in (4096, 7):
        want = _r13(image, 10 ** 7, count=count)
        assert _r13(image, 10 ** 7, so, count) == want, count
        assert _r13(image, 10 ** 7, off, count) == want, count


def test_fast_loop_budget_sweep_is_exact(tmp_path):
    """Every budget that runs out in the write's or the read's loop stops
    the JIT where the interpreter stops (the segment checks of the fast
    version leave it for the caller's, which refills or bails); and a
    read of 20,000 bytes goes through two dozen refills, leaving the
    fast version and coming back each time."""
    image = compile_source(_fastloop_src(), "r.k")
    so = build_so(image, str(tmp_path))
    lo = _least_budget(lambda b: _r13(image, b))
    for budget in list(range(1, lo, max(1, lo // 150))) + \
            list(range(lo - 60, lo + 3)):
        assert _r13(image, budget, so) == _r13(image, budget), budget
    big = compile_source(_fastloop_src('"Hello! ".repeat(2500)'), "b.k")
    so = build_so(big, str(tmp_path / "b") if (tmp_path / "b").mkdir()
                  is None else "")
    for budget in (10 ** 7, 200000, 150000):
        assert _r13(big, budget, so, 65536) == _r13(big, budget, None,
                                                    65536), budget


# Counted copies of fast loops (FastLoop.counted_plan): a count worked
# out before the copy stands for the budget check, the bound checks of a
# charAt, AGET or ASET indexed by a counter of the loop and those of the
# stream calls, in loops with more than one path through an iteration
# (a loop with one path has none: LLVM counts its budget and indexes
# itself). The loops here step their counters by 1, by 2 and by 3
# (in two places, one conditional), before or after the index is used,
# or not at all in some iterations (a `continue` past the increment),
# start them at 0, 1 or below 0 (the first charAt throws), run them past
# the String's or array's end (EX1..EX3), make two stream calls an
# iteration, and a read may be bounded below what it writes (its count).
COUNTED = """\
class C extends CharDevice {
    C() { mode = 0666; }
    void open(File f) { f.data = "Hello, counted loops! ".repeat(9); }
    void write(File f, InputStream in) {
        int n = 0;
        int c = in.readByte();
        while (c >= 0) {
            n = n + c;
            c = in.readByte();
            int d = in.readByte();
            if (d > 0) n = n + 2 * d;
        }
        print(n);
    }
    void read(File f, OutputStream out, int count) {
        String s = (String) f.data;
        int[] a = new int[40];
        for (int i = 0; i < 40; i++) {
            if (i % 3 == 0) a[i] = i * 3;
            else a[i] = i;
        }
        for (int i = START; i < s.length() + EX1; i += 2) {
            int c = s.charAt(i);
            if (c == ' ') c = '_';
            out.writeByte(c);
            out.writeByte(c + 1);
        }
        int k = START;
        while (k < s.length() - 1 + EX2) {
            k++;
            int c = s.charAt(k);
            if (c <= 'l') c = c - 32;
            out.writeByte(c);
        }
        int p = START;
        int z = 0;
        int lim = s.length() + EX2;
        while (p < lim) {
            int c = s.charAt(p);
            if (c == 'o' && z < 40) {
                z++;
                continue;
            }
            out.writeByte(c);
            p++;
        }
        int j = START + 3;
        int t = 0;
        while (j < 38 + EX3) {
            t = t + a[j];
            j++;
            if (t % 2 == 0) j = j + 2;
        }
        out.writeByte('0' + t % 10);
    }
}
CharDevice.register("cnt", new C());
"""


def _counted_src(start=0, ex1=0, ex2=0, ex3=0):
    return (COUNTED.replace("START", str(start)).replace("EX1", str(ex1))
            .replace("EX2", str(ex2)).replace("EX3", str(ex3)))


def _cnt(image, budget, so=None, count=4096):
    return _write_read_read(image, "cnt", bytes(range(1, 200)) * 3, budget,
                            so, count)


def test_ir_counted_copy_leaves_the_checks_out():
    """Every loop of COUNTED gets a counted copy (fc<head>_...), which
    has no bound check and no budget check and calls nothing; rot13's
    read loop gets one too, a loop with one path none.  `-counted`
    leaves them out."""
    for src in (_counted_src(), (ROOT / "examples" / "rot13.k").read_text()):
        image = compile_source(src, "c.k")
        ir = ctjit.compile_image(image).ir
        blocks = re.split(r"\n(?=[\w.]+:)", ir)
        counted = [b for b in blocks if re.match(r"fc\d+_", b)]
        heads = {b.split("_")[0] for b in counted}
        assert len(heads) == (6 if src.startswith("class C") else 1)
        # the count's own blocks (M, P) aside, no compare but the
        # program's own and the division's zero test
        body = [b for b in counted
                if not re.match(r"fc\d+_[MP]:", b)]
        text = "\n".join(body)
        assert not re.search(r" call [^\n]*@", text)  # (an empty asm is none)
        assert "icmp uge" not in text           # bounds: i >= len
        assert "icmp sge i64 %bud" not in text  # the budget
        off = ctjit.compile_image(image, ct="all-counted").ir
        assert not re.search(r"^fc\d+_", off, re.M)
        assert re.search(r"^fl\d+_pre:", off, re.M)
    assert ctjit.codegen.Options.parse("all-counted").label() == \
        "subroutine+branch+call+tiny+direct-counted"
    # a loop with one path through an iteration keeps its fast version
    # only
    one = compile_source("int fill(int[] a) {\n"
                         "    for (int i = 0; i < a.size(); i++) a[i] = 1;\n"
                         "    return a[0];\n"
                         "}\n"
                         "print(fill(new int[50]));\n", "o.k")
    ir = ctjit.compile_image(one).ir
    assert re.search(r"^fl\d+_pre:", ir, re.M)
    assert not re.search(r"^fc\d+_", ir, re.M)


@pytest.mark.parametrize("case", [(0, 0, 0, 0), (1, 0, 0, 0), (-3, 0, 0, 0),
                                  (0, 1, 0, 0), (1, 5, 0, 0), (0, 0, 1, 0),
                                  (1, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 5)])
def test_counted_copy_parity(case, tmp_path):
    """The results and log (the write's sum, the reads' bytes, where an
    exception is thrown) are the interpreter's, with the counted copies
    and without them, for reads bounded at 4096, 7 and 50 bytes; the
    case is the counters' start and how far each loop runs past its
    String's or array's end."""
    image = compile_source(_counted_src(*case), "c.k")
    so = build_so(image, str(tmp_path))
    (tmp_path / "off").mkdir()
    off = build_so(image, str(tmp_path / "off"), "all-counted")
    for count in (4096, 7, 50):
        want = _cnt(image, 10 ** 7, count=count)
        assert _cnt(image, 10 ** 7, so, count) == want, count
        assert _cnt(image, 10 ** 7, off, count) == want, count


def test_counted_copy_budget_sweep_is_exact(tmp_path):
    """Every budget that runs out in one of COUNTED's loops stops the
    JIT where the interpreter stops: the counted copy runs only as many
    iterations as the budget covers, then the checked version goes on."""
    image = compile_source(_counted_src(), "c.k")
    so = build_so(image, str(tmp_path))
    lo = _least_budget(lambda b: _cnt(image, b))
    for budget in list(range(1, lo, max(1, lo // 200))) + \
            list(range(lo - 40, lo + 3)):
        assert _cnt(image, budget, so) == _cnt(image, budget), budget


# Loops that map bytes (FastLoop.table_plan): the first three are
# tabulated (rot13's shape; signed division and remainder of negatives,
# shifts, NOT, negation and boolean compares; a step of 2), the last
# three are not (a field's value in the byte's computation, a byte that
# divides by zero, a register live after the loop).
TABLES = """\
class T extends CharDevice {
    int key = 7;
    T() { mode = 0666; }
    void open(File f) { f.data = ""; }
    void write(File f, InputStream in) { f.data = (String) f.data + in.readAll(); }
    void read(File f, OutputStream out, int count) {
        String s = (String) f.data;
        int n = Math.min(count / 8, s.length());
        for (int i = 0; i < n; i++) {
            int c = s.charAt(i);
            if (c >= 'a' && c <= 'z') c = (c - 'a' + 13) % 26 + 'a';
            else if (c >= 'A' && c <= 'Z') c = (c - 'A' + 13) % 26 + 'A';
            out.writeByte(c);
        }
        for (int i = START; i < n; i++) {
            int c = s.charAt(i) - 128;
            int d = c / 3 + c % 7 * 5;
            d = d ^ (c << 3) ^ (c >> 2) ^ (c >>> 60);
            boolean odd = (c & 1) == 1;
            if (!odd) d = -d; else d = ~d;
            if (c < -100 || c > 100) d = d * 1000003;
            boolean lo = c < -50;
            boolean hi = c <= 50;
            if (lo != hi) d = (d | 0x40) - (c & 3);
            out.writeByte(d);
        }
        for (int i = START; i < n; i += 2) {
            int c = s.charAt(i);
            int r = c;
            if (c > 0x7f) r = 255 - c;
            out.writeByte(r);
        }
        int k = key;
        for (int i = 0; i < n; i++) {
            int c = s.charAt(i);
            if (c == 0) c = 1;
            out.writeByte(c ^ k);
        }
        for (int i = 0; i < n; i++) {
            int c = s.charAt(i);
            if (c > 200) c = 1000 / (c - DIV0);
            out.writeByte(c);
        }
        int last = 0;
        for (int i = 0; i < n; i++) {
            last = s.charAt(i);
            if (last == 0) last = 1;
            out.writeByte(last);
        }
        out.writeByte(last);
        f.data = s.substring(n, s.length());
    }
}
CharDevice.register("tab", new T());
"""


def _tables_src(start=0, div0=255):
    return TABLES.replace("START", str(start)).replace("DIV0", str(div0))


def _tab(image, budget, so=None, count=16384):
    return _write_read_read(image, "tab", bytes(range(256)) * 3, budget,
                            so, count)


def test_ir_tables_only_for_byte_maps():
    """TABLES's first three loops run their counted copies as tables: a
    block of TABLE_UNROLL iterations (U) and one of a single iteration
    (S1), each iteration a load of the byte and one of its entry and a
    store, with no compare and no call; the other loops do not, and
    with DIV0 moved off the bytes (no division by zero) the fifth one
    does too.  `-tabulate` leaves the tables out, not the counted
    copies; rot13.k's read loop gets one."""
    n = ctjit.codegen.TABLE_UNROLL
    for src, want in ((_tables_src(), 3), (_tables_src(div0=256), 4),
                      ((ROOT / "examples" / "rot13.k").read_text(), 1)):
        image = compile_source(src, "t.k")
        ir = ctjit.compile_image(image).ir
        tables = re.findall(r"^@kjit_map\d+_\d+ = internal unnamed_addr "
                            r"constant \[256 x i16\]", ir, re.M)
        assert len(tables) == want, src[:40]
        for label, k in (("U", n), ("S1", 1)):
            blocks = re.findall(rf"^fc\d+_{label}:\n(?:  [^\n]*\n)+", ir,
                                re.M)
            assert len(blocks) == want, label
            for b in blocks:
                assert b.count(" = load i8,") == k     # the String's bytes
                assert b.count(" = load i16, ptr %") == k   # their entries
                assert b.count("@kjit_map") == k
                assert b.count("store i8 ") == k
                assert " icmp " not in b and " call " not in b
        off = ctjit.compile_image(image, ct="all-tabulate").ir
        assert "@kjit_map" not in off
        assert re.search(r"^fc\d+_B:", off, re.M)
    assert ctjit.codegen.Options.parse("all-tabulate").label() == \
        "subroutine+branch+call+tiny+direct-tabulate"


@pytest.mark.parametrize("start,div0", [(0, 256), (1, 256), (-2, 256),
                                        (0, 255)])
def test_table_parity(start, div0, tmp_path):
    """Every byte through TABLES's loops gives what the interpreter
    gives, with the tables and without them, for reads of 4096, 7 and 50
    bytes: the bytes read, or the read's error (DIV0 255: an
    ArithmeticException at byte 255 in the fifth loop; a negative
    start: an IndexOutOfBoundsException in the second)."""
    image = compile_source(_tables_src(start, div0), "t.k")
    so = build_so(image, str(tmp_path))
    (tmp_path / "off").mkdir()
    off = build_so(image, str(tmp_path / "off"), "all-tabulate")
    for count in (16384, 400, 57):
        want = _tab(image, 10 ** 7, count=count)
        assert _tab(image, 10 ** 7, so, count) == want, count
        assert _tab(image, 10 ** 7, off, count) == want, count
    out, log = _tab(image, 10 ** 7)
    if start >= 0 and div0 == 256:
        # the 768 bytes: each loop's output of the first read
        assert isinstance(out[1], bytes) and len(out[1]) > 4 * 768
    else:
        assert ("IndexOutOfBoundsException" if start < 0 else
                "ArithmeticException") in "".join(log)


def test_table_budget_sweep_is_exact(tmp_path):
    """Every budget that runs out in TABLES's loops (DIV0 off the bytes,
    so that the read completes) stops the JIT where the interpreter
    stops: a table's entry charges what the byte's path through the
    iteration charges."""
    image = compile_source(_tables_src(div0=256), "t.k")
    so = build_so(image, str(tmp_path))
    lo = _least_budget(lambda b: _tab(image, b))
    assert lo > 5000
    for budget in list(range(1, lo, max(1, lo // 300))) + \
            list(range(lo - 40, lo + 3)):
        assert _tab(image, budget, so) == _tab(image, budget), budget


# Loop shapes at the edges of FastLoop.table_plan: the charAt after the
# counter's ADDI and the charAt at another counter (no table: the table
# reads the fused counter as its iteration began), do-whiles entered with
# their condition false, the second with a bound of MIN (tables: the
# first iteration runs whatever the limit, and the limit is compared,
# not subtracted).
TABLE_EDGES = """\
class T extends CharDevice {
    T() { mode = 0666; }
    void read(File f, OutputStream out, int count) {
        String s = "abcdefghijklmnopqrstuvwxyz0123456789";
        int m = count / 8;
        int i = 0;
        while (i < m) {
            int d = 0;
            if (d == 0) d = 1;
            i = i + 1;
            out.writeByte(s.charAt(i) + d);
        }
        int j = 1;
        for (int k = 0; k < m; k++) {
            int c = s.charAt(j);
            if (c > 'x') c = c + 1;
            j++;
            out.writeByte(c);
        }
        int p = 5;
        do {
            int c = s.charAt(p);
            if (c > 'x') c = c + 1;
            out.writeByte(c);
            p++;
        } while (p < 3);
        int low = -9223372036854775807 - 1;
        int q = 7;
        do {
            int c = s.charAt(q);
            if (c < 'c') c = c - 1;
            out.writeByte(c);
            q++;
        } while (q < low);
        for (int r = 2; r < m; r++) {
            int c = s.charAt(r);
            if (c == 'q') c = '!';
            out.writeByte(c);
        }
    }
}
CharDevice.register("edge", new T());
"""


def test_table_edges_match_the_interpreter(tmp_path):
    """TABLE_EDGES's loops give the interpreter's bytes and budget
    aborts on the JIT, tables or not; the first two get no table, the
    do-whiles and the last loop one each."""
    image = compile_source(TABLE_EDGES, "e.k")
    ir = ctjit.compile_image(image).ir
    assert len(re.findall(r"^@kjit_map\d+_\d+ = ", ir, re.M)) == 3
    so = build_so(image, str(tmp_path))
    (tmp_path / "off").mkdir()
    off = build_so(image, str(tmp_path / "off"), "all-tabulate")

    def run(budget, stubs=None, count=256):
        return _write_read_read(image, "edge", b"x", budget, stubs, count)
    for count in (256, 80, 9, 1):
        want = run(10 ** 6, count=count)
        assert run(10 ** 6, so, count) == want, count
        assert run(10 ** 6, off, count) == want, count
    out = run(10 ** 6)[0][1]
    # 32 iterations of the first two loops, one of each do-while
    assert len(out) == 96 and out[:2] == b"cd" and out[32:34] == b"bc"
    assert out[64:66] == b"fh" and out[66:] == b"cdefghijklmnop!rstuvwxyz012345"
    for budget in range(1, 900, 7):
        assert run(budget, so) == run(budget), budget


# (1.1) switch: a SWITCH table, a binary search with 64-bit pivots and
# String dispatch (length, a byte, contents) in loops, so that the budget
# runs out inside each kind of dispatch.
SWITCHES = """\
int dense(int x) {
    return switch (x) { case 0 -> 1; case 1 -> 2; case 2 -> 3; case 4 -> 5; default -> 0; };
}
int sparse(int x) {
    return switch (x) {
        case -5 -> 1; case 70 -> 2; case 900 -> 3; case 4294967296 -> 4;
        case 12345 -> 5; default -> 0;
    };
}
int word(String s) {
    return switch (s) {
        case "aa" -> 1; case "ab" -> 2; case "ac" -> 3; case "ad" -> 4;
        case "b" -> 5; case "ccc" -> 6; default -> 0;
    };
}
int total = 0;
String[] ws = ["aa", "ad", "b", "ccc", "zz", "ab"];
for (int i = 0; i < 12; i++) {
    total += dense(i % 6) + sparse(i * 70 - 5) + word(ws[i % 6]);
    switch (i % 3) {
        case 0 -> total++;
        case 1 -> { continue; }
        default -> {}
    }
}
print(total);
"""


@pytest.mark.parametrize("ct", ["subroutine", "+branch", "all"])
def test_switch_budget_sweep_is_exact(ct, tmp_path):
    """Every budget up to what the run needs stops the JIT at the
    instruction where the interpreter stops, at the levels that lower
    SWITCH as a handler call and as an LLVM switch."""
    image = compile_source(SWITCHES, "p.k")
    so = build_so(image, str(tmp_path), ct)
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    for budget in range(1, need + 3):
        args = ["--budget", str(budget)]
        assert run_vm(image, args, so=so) == run_vm(image, args, jit=False), \
            f"budget {budget}"


@pytest.mark.parametrize("depth", [1, 2, 50, 63, 64, 65, 100, 149, 150, 151,
                                   152, 1000])
def test_depth_limit_is_exact(depth, tmp_path):
    image = compile_source(LOOPS, "p.k")
    so = build_so(image, str(tmp_path))
    args = ["--depth", str(depth)]
    assert run_vm(image, args, so=so) == run_vm(image, args, jit=False)


def test_deep_recursion_past_native_nesting(tmp_path):
    src = ("int rec(int n) { if (n == 0) return 0; return 1 + rec(n - 1); }\n"
           "print(rec(998));\nprint(rec(999));\n")
    image = compile_source(src, "p.k")
    want = run_vm(image, jit=False)
    assert want[0] == 2 and b"abort: stack overflow" in want[2]
    assert run_vm(image) == want


def test_stats_count_the_same_instructions(tmp_path):
    image = compile_source(LOOPS, "p.k")
    so = build_so(image, str(tmp_path))
    a = run_vm(image, ["--stats"], jit=False)[2]
    b = run_vm(image, ["--stats"], so=so)[2]
    pick = re.compile(rb"instructions \d+")
    assert pick.findall(a) == pick.findall(b)


def _write(tmp_path, image):
    p = tmp_path / "p.kbc"
    p.write_bytes(image)
    return p


# ---- the kernel profile ----------------------------------------------------

EXC = """\
class Box { int v; Box(int v) { this.v = v; } int get() { return v; } }
int f(int[] a, int i) {
    try { return a[i] / (i - 2); }
    catch (ArithmeticException e) { return -1; }
}
int[] a = new int[4];
Box b = new Box(5);
int s = 0;
for (int i = 0; i < 4; i = i + 1) { s = s + f(a, i) + b.get(); }
print(s);
"""


def objdump(path, *flags):
    r = subprocess.run(["objdump", *flags, str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip("objdump is missing")
    return r.stdout


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
@pytest.mark.parametrize("ct", ["subroutine", "all"])
def test_kernel_object(kernel, ct, tmp_path):
    image = compile_source(EXC, "k.k")
    stubs = ctjit.compile_image(image, profile="kernel", kernel=kernel,
                                ct=ct)
    obj = tmp_path / "k.o"
    obj.write_bytes(stubs.obj)
    dis = objdump(obj, "-dr", "--no-show-raw-insn")
    relocs = objdump(obj, "-r")
    assert "GOT" not in relocs                      # dso_local, static
    assert not re.search(r"%[xyz]mm\d|%st\b|%mm\d", dis)   # no SSE, x87, MMX
    assert not re.search(r"^\s+[0-9a-f]+:\s+ret", dis, re.M)  # return thunk
    assert "__x86_return_thunk" in dis
    assert not re.search(r"jmp\s+\*|call\s+\*", dis)     # no indirect jumps
    endbr = "endbr64" in dis
    assert endbr == (kernel == "6.12")
    text = objdump(obj, "-t")
    assert "kjit_table" in text
    if kernel == "6.12":
        # 16 bytes of patchable prefix before each function
        m = re.search(r"([0-9a-f]+) <kjit_f0>:", dis)
        start = int(m.group(1), 16)
        assert start >= 16
        assert re.search(rf"\n\s+{start - 1:x}:\s+nop", dis)


NATIVE_LOOP = """\
int hits(String s, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k = k + s.indexOf("l") + s.substring(1, 3).length();
    return k;
}
print(hits("hello", 1000));
"""


def test_natives_are_called_by_name(tmp_path):
    # a native that is not inlined: a direct call of the VM's exported
    # nat_<Owner>_<name> from the stub, not of kop_CALLN (which stays for
    # a null receiver only) nor through the table kvm_natives[] (an
    # indirect call: a retpoline in the kernel); the kernel object has
    # no indirect call and no GOT; the result is the interpreter's
    image = compile_source(NATIVE_LOOP, "n.k")
    stubs = ctjit.compile_image(image, profile="userspace")
    assert "@kvm_natives" not in stubs.ir
    loop = stubs.ir[stubs.ir.index("define"):]
    assert "call i32 @nat_String_indexOf(" in loop
    assert "call i32 @nat_String_substring(" in loop
    kern = ctjit.compile_image(image, profile="kernel", kernel="6.1")
    obj = tmp_path / "n.o"
    obj.write_bytes(kern.obj)
    relocs = objdump(obj, "-r")
    assert "nat_String_indexOf" in relocs and "GOT" not in relocs
    dis = objdump(obj, "-d", "--no-show-raw-insn")
    assert not re.search(r"call\s+\*|jmp\s+\*", dis)
    src = tmp_path / "n.k"
    src.write_text(NATIVE_LOOP)
    out = [subprocess.run([sys.executable, "-m", "ktc.cli", "run", *jit,
                           str(src)], capture_output=True, text=True,
                          check=True).stdout for jit in ([], ["--jit"])]
    assert out[0] == out[1] == "4000\n"


def test_kernel_callv_is_a_direct_call(tmp_path):
    # a recursive method: its virtual self-calls are direct calls of its
    # stub (targets are selected by class id, so no indirect call, no
    # retpoline thunk); kop_CALLV only behind the slow-path branches.
    # (The init's call of the native print is a direct call too.)
    image = compile_source(FIBM, "m.k")
    stubs = ctjit.compile_image(image, profile="kernel", kernel="6.12")
    obj = tmp_path / "m.o"
    obj.write_bytes(stubs.obj)
    dis = objdump(obj, "-dr", "--no-show-raw-insn")
    assert not re.search(r"jmp\s+\*|call\s+\*", dis)
    fns = dict(re.findall(r"<(kjit_f\d+)>:\n(.*?)(?=\n\n|\Z)", dis,
                          re.S))
    rec = [n for n, body in fns.items()
           if len(re.findall(rf"call\s+[0-9a-f]+ <{n}>", body)) == 2]
    assert len(rec) == 1, dis
    body = fns[rec[0]]
    assert "__x86_indirect_thunk" not in body
    assert "kvm_natives" not in body
    assert len(re.findall(r"R_X86_64_PLT32\s+kop_CALLV", body)) == 2


def test_kernel_kmod_dir(tmp_path):
    src = tmp_path / "drv.k"
    src.write_text(EXC)
    r = subprocess.run([sys.executable, "-m", "ktc.cli", "compile",
                        "--jit", "--profile", "kernel", str(src)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = tmp_path / "drv.kmod"
    kbuild = (d / "Kbuild").read_text()
    assert "if_changed" in kbuild and "obj-m" in kbuild
    assert (d / "drv.stubs").read_bytes()[:4] == b"\x7fELF"
    glue = list(d.glob("kjit_*_glue.c"))
    assert glue and "kjit_table" in glue[0].read_text()


def test_userspace_object_runs_exceptions_and_objects():
    image = compile_source(EXC, "k.k")
    assert run_vm(image) == run_vm(image, jit=False)


# ---- casts to String ----------------------------------------------------------

STRING_CASTS = """\
class Box { int v; Box(int v) { this.v = v; } }
Any[] xs = ["abc", null, new Box(3), 7, "", true];
int n = 0;
for (int i = 0; i < 6; i++) {
    Any x = xs[i];
    if (x instanceof String) n = n * 10 + 1; else n = n * 10 + 2;
}
print(n);
String t = (String) xs[0];
print(t.length());
String u = (String) xs[1];
print(u == null);
for (int i = 2; i < 6; i++) {
    try { String w = (String) xs[i]; print(w); }
    catch (ClassCastException e) { print(e.getMessage()); }
}
String z = (String) xs[3];
"""


@pytest.mark.parametrize("ct", ["+call", "all"])
def test_string_casts_parity(ct, tmp_path):
    """CAST and INSTOF to String, inline at +tiny: a String, null, an
    instance, a boxed int and bool (each failing cast's message), and an
    uncaught failure, as the interpreter gives them."""
    image = compile_source(STRING_CASTS, "c.k")
    want = run_vm(image, jit=False)
    assert want[0] == 2 and b"ClassCastException" in want[2], want
    assert want[1].startswith(b"122212\n3\ntrue\ncannot cast Box"), want
    so = build_so(image, str(tmp_path), ct)
    assert run_vm(image, so=so) == want


def test_string_cast_is_inline():
    """At +tiny a cast to String tests the object's kind; the handler
    (kop_CAST) is left for what is not a string object."""
    image = compile_source(STRING_CASTS, "c.k")
    ir = ctjit.compile_image(image, ct="+tiny").ir
    assert re.search(r"icmp eq i8 %kd\d+, 2", ir), ir
    ir0 = ctjit.compile_image(image, ct="+call").ir
    assert not re.search(r"icmp eq i8 %kd\d+, 2", ir0)
    assert "call i32 @kop_CAST(" in ir0


# ---- (1.1) interfaces: CALLI at every level ---------------------------------

IFACE_PROGRAMS = sorted((conf.SUITE / "interfaces").glob("*.k"))

IFACES = """\
interface Shape { int area(); }
interface Named extends Shape { String name(); }
class Sq implements Named {
    int s; Sq(int s) { this.s = s; }
    int area() { return s * s; } String name() { return "sq"; }
}
class Rect implements Shape {
    int w; Rect(int w) { this.w = w; } int area() { return w * 2; }
}
class Big extends Sq { Big() { super(9); } int area() { return 1000; } }
class Err extends Exception implements Named {
    Err() { super("e"); } int area() { return 7; } String name() { return getMessage(); }
}
Shape[] xs = [new Sq(3), new Rect(4), new Big(), new Err(), null];
int total = 0;
for (int i = 0; i < 5; i++) {
    Shape x = xs[i % 4];
    total += x.area();
    Named n = x instanceof Named ? (Named) x : null;
    if (n != null) print(n.name() + " " + n.area());
}
var f = xs[0].area;
print(total + f());
print(xs[4].area());
"""


@pytest.mark.parametrize("ct", ["subroutine", "+branch", "+call", "+tiny",
                                "all"])
@pytest.mark.parametrize("path", IFACE_PROGRAMS,
                         ids=[p.stem for p in IFACE_PROGRAMS])
def test_interfaces_parity_at_every_level(path, ct, tmp_path):
    """Every interfaces conformance program gives the interpreter's
    stdout, stderr and status at each JIT level (test_parity runs them
    at the default one only)."""
    source = path.read_bytes().decode("latin-1")
    d = conf.directives(source)
    parsed = cli.build_parser().parse_args(
        ["run", *shlex.split(d.get("args", "")), path.name])
    args = host.limit_args(parsed.budget, parsed.heap, parsed.depth)
    image = compile_source(source, path.name)
    so = build_so(image, str(tmp_path), ct)
    want = run_vm(image, args, jit=False, cwd=path.parent)
    assert want[0] == int(d.get("status", "0"))
    assert run_vm(image, args, cwd=path.parent, so=so) == want


def test_interfaces_calli_native_dispatch():
    """At +call, a CALLI site selects its script targets by the
    receiver's class id and calls their stubs directly; kop_CALLI is
    only the slow path.  Below +call it is the handler alone."""
    image = compile_source(IFACES, "i.k")
    ir = ctjit.compile_image(image, ct="+call").ir
    assert re.search(r"switch i32 %cls\d+, label %is\d+ \[", ir), ir
    assert "call i32 @kop_CALLI(" in ir
    ir0 = ctjit.compile_image(image, ct="+branch").ir
    assert "call i32 @kop_CALLI(" in ir0
    assert not re.search(r"label %is\d+", ir0)


@pytest.mark.parametrize("ct", ["subroutine", "+call", "all"])
def test_interfaces_budget_sweep_is_exact(ct, tmp_path):
    """Every budget stops interface calls (inline, through the handler's
    cache, natives inherited from Exception, a null receiver) where the
    interpreter stops."""
    image = compile_source(IFACES, "i.k")
    so = build_so(image, str(tmp_path), ct)
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    want = run_vm(image, jit=False)
    assert want[0] == 2 and b"NullPointerException" in want[2]
    for budget in range(1, need + 3):
        args = ["--budget", str(budget)]
        assert run_vm(image, args, so=so) == run_vm(image, args, jit=False), \
            f"budget {budget}"


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 8])
def test_interfaces_depth_limit_is_exact(depth, tmp_path):
    image = compile_source(IFACES, "i.k")
    so = build_so(image, str(tmp_path), "+call")
    args = ["--depth", str(depth)]
    assert run_vm(image, args, so=so) == run_vm(image, args, jit=False)


# ---- (1.1) lambdas: CALLF inline, every level, exact limits ----------------

LAMBDAS = """\
class Acc {
    int total;
    Func<void(int)> adder() { return n -> total += n; }
}
int apply(Func<int(int)> f, int x) { return f(x); }
Func<int(int)> scale(int k) { return x -> x * k; }
Func<int(int)> down = null;
down = n -> n == 0 ? 0 : 1 + down(n - 1);
Acc a = new Acc();
Func<void(int)> add = a.adder();
Func<int(int)> twice = scale(2);
Func<int(int)> sq = x -> x * x;
Func<String(String, int)> rep = (s, n) -> n == 0 ? "" : s + rep(s, n - 1);
int s = 0;
for (int i = 0; i < 30; i++) {
    add(i);
    s += apply(i % 2 == 0 ? twice : sq, i);
}
print(a.total + " " + s + " " + down(40) + " " + rep("ab", 3));
Func<int(int)> boom = d -> 10 / d;
print(apply(boom, 0));
"""


def test_ir_callf_inline():
    image = compile_source(LAMBDAS, "l.k")
    ir = ctjit.compile_image(image, ct="+call").ir
    # the Func value's function index selects the target; kop_CALLF only
    # as the slow path
    assert re.search(r"switch i32 %fnidx\d+, label %fs\d+ \[", ir)
    assert "call i32 @kop_CALLF(" in ir
    ir0 = ctjit.compile_image(image, ct="+branch").ir
    assert "%fnidx" not in ir0


@pytest.mark.parametrize("ct", ["subroutine", "+branch", "+call", "+tiny",
                                "+direct"])
def test_lambda_every_level_parity(ct, tmp_path):
    image = compile_source(LAMBDAS, "l.k")
    want = run_vm(image, jit=False)
    assert want[0] == 2 and b"ArithmeticException" in want[2]
    assert b"l.k.lambda" not in want[2] and b"<init>.lambda@20" in want[2]
    so = build_so(image, str(tmp_path), ct)
    assert run_vm(image, so=so) == want


def test_lambda_budget_sweep_is_exact(tmp_path):
    src = LAMBDAS.replace("i < 30", "i < 3").replace("down(40)", "down(3)")
    image = compile_source(src, "l.k")
    so = build_so(image, str(tmp_path))
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(_write(tmp_path, image))], capture_output=True)
    need = int(re.search(rb"instructions (\d+)", r.stderr).group(1))
    for budget in list(range(1, 50)) + list(range(need - 40, need + 3)):
        if budget <= 0:
            continue
        args = ["--budget", str(budget)]
        assert run_vm(image, args, so=so) == \
            run_vm(image, args, jit=False), f"budget {budget}"


@pytest.mark.parametrize("depth", [1, 2, 3, 10, 41, 42, 43, 44, 60])
def test_lambda_depth_limit_is_exact(depth, tmp_path):
    image = compile_source(LAMBDAS, "l.k")
    so = build_so(image, str(tmp_path))
    args = ["--depth", str(depth)]
    assert run_vm(image, args, so=so) == run_vm(image, args, jit=False)


def test_lambda_heap_limit_is_exact(tmp_path):
    src = ("Func<int()>[] all = [];\nint n = 0;\n"
           "while (n < 100000) { int k = n; all.add(() -> k); n++; }\n"
           "print(all[5]());\n")
    image = compile_source(src, "h.k")
    so = build_so(image, str(tmp_path))
    for heap in (20000, 60000, 150000):
        args = ["--heap", str(heap)]
        want = run_vm(image, args, jit=False)
        assert want[0] == 2 and b"out of memory" in want[2]
        assert run_vm(image, args, so=so) == want
