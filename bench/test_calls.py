"""The cost of one call by kind: a virtual call, a call through an
interface, a lambda call (a Func value holding a closure), a bound method
and a top-level function, on the interpreter and on the JIT.

Every program runs the same loop, `acc = CALL(acc)` N times, where each
callee computes `x + 1`; only the call differs.  An "empty loop" row
(`acc = acc + 1`, no call) measures the loop itself, so that the net time
of a row (its least CPU time, user + system, minus the empty loop's) is
the time of its N calls: CPU time, and the least of the runs, are what
the other users of a shared machine disturb least, so the ratios use
them; the wall-time medians pytest-benchmark takes are shown too.
The goal (1.1): an interface call, a lambda call and a virtual call each
cost within 10% of one another, on the interpreter and on the JIT.  The
interface row is skipped while the compiler does not accept interfaces.

Each timed round is one process (`build/kvm`, with `--jit` and the stubs
of `ktc compile --jit` on the JIT); compilation is outside the timing.
The results, with the net ratios to the virtual call, go to
bench/results/calls.md.

    CALLS_N        calls per run on the interpreter (default 3,000,000;
                   ten times as many on the JIT)
    CALLS_ROUNDS   timed runs per row (default 9)
"""

import os
import subprocess
import sys
import time

import pytest

from benchlib import RESULTS_DIR, ROOT, link_stubs, machine, median_of

N = int(os.environ.get("CALLS_N", "3000000"))
ROUNDS = int(os.environ.get("CALLS_ROUNDS", "9"))
BUDGET = 100_000_000_000

PROGRAM = """\
interface I { int step(int x); }
class S implements I {
    int step(int x) { return x + 1; }
}
class T extends S {
    int other() { return 0; }
}
int step(int x) { return x + 1; }
int run(int n, int one) {
    S s = new T();
    I i = s;
    Func<int(int)> f = x -> x + 1;
    Func<int(int)> g = x -> x + one;
    Func<int(int)> b = s.step;
    int acc = 0;
    for (int k = 0; k < n; k++) {
        CALL
    }
    if (f == g || b == null || i == null) return -1;
    return acc;
}
print(run(N, 1));
"""

# row -> the loop's statement
KINDS = {
    "empty loop": "acc = acc + 1;",
    "virtual call": "acc = s.step(acc);",
    "interface call": "acc = i.step(acc);",
    "lambda call": "acc = f(acc);",
    "lambda call, one captured value": "acc = g(acc);",
    "bound method call": "acc = b(acc);",
    "top-level function call": "acc = step(acc);",
}
MODES = ("interpreter", "JIT")
COMPARED = ("virtual call", "interface call", "lambda call",
            "lambda call, one captured value")

RESULTS = {}   # (mode, kind) -> (median, min) seconds, or why it did not run


def ktc(*args):
    """`ktc` of this work tree (not an installed one: the rows need the
    compiler of the VM they run on)."""
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def source(kind, n, interfaces=True):
    text = PROGRAM.replace("CALL", KINDS[kind]).replace("run(N,", f"run({n},")
    if not interfaces:
        text = text.replace("interface I { int step(int x); }\n", "")
        text = text.replace(" implements I", "")
        text = text.replace("    I i = s;\n", "").replace(" || i == null", "")
    return text


@pytest.fixture(scope="module", autouse=True)
def report():
    """Writes bench/results/calls.md when the module's rows are done."""
    yield
    if not RESULTS:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["# Benchmark `calls`", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M:%S')} on {machine()}.", "",
             f"`acc = CALL(acc)` in a loop, each callee computing `x + 1`; "
             f"{N:,} calls on the interpreter, {10 * N:,} on the JIT; "
             f"{ROUNDS} runs (one process each). Net = least CPU time "
             "(user + system) minus the empty loop's: the time of the calls "
             "alone (CPU time and the least run are what a shared machine "
             "disturbs least). The goal: interface, lambda and virtual calls "
             "within 10% of one another.",
             ""]
    for mode in MODES:
        n = N if mode == "interpreter" else 10 * N
        empty = RESULTS.get((mode, "empty loop"))
        virt = RESULTS.get((mode, "virtual call"))
        base = virt[1] - empty[1] if isinstance(virt, tuple) and \
            isinstance(empty, tuple) else None
        lines += [f"## {mode}", "",
                  "| row | median wall s | least CPU s | net s | net ns per call | "
                  "net / virtual call |", "|---|---|---|---|---|---|"]
        for kind in KINDS:
            v = RESULTS.get((mode, kind), "not run")
            if not isinstance(v, tuple):
                lines.append(f"| {kind} | {v} | | | | |")
                continue
            if kind == "empty loop" or not isinstance(empty, tuple):
                lines.append(f"| {kind} | {v[0]:.4f} | {v[1]:.4f} | | | |")
                continue
            net = v[1] - empty[1]
            ratio = f"{net / base:.2f}" if base else "n/a"
            lines.append(f"| {kind} | {v[0]:.4f} | {v[1]:.4f} | {net:.4f} | "
                         f"{net / n * 1e9:.2f} | {ratio} |")
        lines.append("")
    (RESULTS_DIR / "calls.md").write_text("\n".join(lines) + "\n")


@pytest.mark.benchmark(group="calls")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_calls(benchmark, kind, mode, kvm, tmp_path):
    n = N if mode == "interpreter" else 10 * N
    src = tmp_path / "calls.k"
    src.write_text(source(kind, n))
    image = tmp_path / "calls.kbc"
    jit = ["--jit"] if mode == "JIT" else []
    if ktc("check", str(src)).returncode != 0:
        if kind == "interface call":
            RESULTS[(mode, kind)] = "skipped: no interfaces yet"
            pytest.skip("the compiler does not accept interfaces yet")
        src.write_text(source(kind, n, interfaces=False))
    r = ktc("compile", *jit, str(src), "-o", str(image))
    assert r.returncode == 0, r.stderr
    cmd = [str(kvm), "--budget", str(BUDGET)]
    if mode == "JIT":
        so = tmp_path / "calls.jit.so"
        link_stubs(tmp_path / "calls.jit.o", so)
        cmd += ["--jit", str(so)]
    cmd.append(str(image))

    cpu = []

    def run():
        # the CPU time the VM process used (user + system), beside the
        # wall time pytest-benchmark takes: other users of the machine
        # lengthen the latter much more than the former
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        assert p.returncode == 0, f"{cmd} exited {p.returncode}"
        cpu.append(ru.ru_utime + ru.ru_stime)
        return out

    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert out == f"{n}\n"
    median, _ = median_of(benchmark)
    if median is not None:
        RESULTS[(mode, kind)] = (median, min(cpu))
