"""The context-threading ablation: each technique of Berndl et al. (CGO
2005) added in turn, on three K programs.

    levels: K (interpreter), subroutine, +branch, +call, +tiny, +direct
    programs: fib (bench/peers/fib.k, N from FIB_N), sieve and nbody_int
              (bench/programs/)

`ktc compile --jit --ct=LEVEL` selects the techniques (cumulative, as the
paper's table adds them); the stubs are linked into a shared object and run
by build/kvm --jit.  Each timed round is one process; compilation is
outside the timing.  One table per program (bench/results/ablation_*.md),
the ratio column relative to the interpreter.

    ABLATION_ROUNDS  timed runs per level (default 3)
"""

import os
import re
from pathlib import Path

import pytest

from benchlib import K_LABEL, link_stubs, median_of, run_checked, table

BENCH = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("ABLATION_ROUNDS", "3"))
FIB_N = int(os.environ.get("FIB_N", "32"))
BUDGET = 100_000_000_000

LEVELS = [K_LABEL, "subroutine", "+branch", "+call", "+tiny", "+direct"]
PROGRAMS = {
    "fib": BENCH / "peers" / "fib.k",
    "sieve": BENCH / "programs" / "sieve.k",
    "nbody_int": BENCH / "programs" / "nbody_int.k",
}

TABLES = {}
for _name in PROGRAMS:
    TABLES[_name] = table(
        f"ablation_{_name}",
        f"context threading on {_name}, median of {ROUNDS} runs",
        "Each row adds one technique to the previous one (subroutine "
        "threading, then branch inlining, apply/return inlining, tiny "
        "inlining, direct calls of int-only functions); the ratio is to "
        "the interpreter.")
    for _level in LEVELS:
        TABLES[_name].declare(_level)


def source_of(name):
    text = PROGRAMS[name].read_text()
    if name == "fib":
        text = re.sub(r"print\(fib\(\d+\)\);", f"print(fib({FIB_N}));", text)
    return text


@pytest.mark.benchmark(group="ablation")
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_ablation(benchmark, name, level, ktc, kvm, tmp_path):
    tab = TABLES[name]
    tab.set(level, status="failed")
    src = tmp_path / f"{name}.k"
    src.write_text(source_of(name))
    image = tmp_path / f"{name}.kbc"
    cmd = [str(kvm), "--budget", str(BUDGET)]
    if level == K_LABEL:
        run_checked([*ktc, "compile", str(src), "-o", str(image)])
    else:
        run_checked([*ktc, "compile", "--jit", f"--ct={level}", str(src),
                     "-o", str(image)])
        so = tmp_path / f"{name}.jit.so"
        link_stubs(tmp_path / f"{name}.jit.o", so)
        cmd += ["--jit", str(so)]
    cmd.append(str(image))
    expected = run_checked([str(kvm), "--budget", str(BUDGET), str(image)])

    def run():
        return run_checked(cmd)

    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert out == expected
    median, fastest = median_of(benchmark)
    tab.set(level, status="ok", median=median, min=fastest)
