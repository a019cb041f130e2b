"""Quick correctness of the Are We Fast Yet ports (bench/awfy/): every K
benchmark runs once with a tiny inner iteration count under `ktc run`, on
the interpreter and (marker jit) on the JIT, and must end with its
verifyResult line; the Lua ports run the same way on lua5.4 and luajit when
they are installed. The timing suite is bench/test_awfy.py.

A port whose result is wrong fails here: the harnesses print
`NAME: verifyResult ok` only after every inner iteration verified, and a
failed verifyResult ends the run with an error (checked below on a
deliberately broken Sieve).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "awfy"))
import awfy  # noqa: E402

NAMES = [b.name for b in awfy.BENCHMARKS]
# The whole run is the script's init, one call for the budget.
BUDGET = str(10**12)


def run_k(source: str, tmp_path: Path, jit: bool):
    path = tmp_path / "awfy.k"
    path.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", "--budget", BUDGET,
         *(["--jit"] if jit else []), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def check_k(name: str, tmp_path: Path, jit: bool):
    b = awfy.BY_NAME[name]
    proc = run_k(awfy.k_source(name, 1, b.tiny), tmp_path, jit)
    assert proc.returncode == 0, proc.stderr
    assert awfy.verified(name, proc.stdout), proc.stdout + proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_k_interpreter(name, tmp_path):
    check_k(name, tmp_path, jit=False)


@pytest.mark.jit
@pytest.mark.parametrize("name", NAMES)
def test_k_jit(name, tmp_path):
    pytest.importorskip("ctjit")
    check_k(name, tmp_path, jit=True)


def lua_or_skip(program: str) -> str:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (make setup installs it)")
    return program


# Every port on luajit, and on lua5.4 (whose bit helpers differ) all but
# Havlak, the one that takes seconds at any inner count.
LUA_RUNS = [(n, "luajit") for n in NAMES] + [
    (n, "lua5.4") for n in NAMES if n != "Havlak"]


@pytest.mark.parametrize("name,program", LUA_RUNS,
                         ids=[f"{n}-{p}" for n, p in LUA_RUNS])
def test_lua(name, program):
    b = awfy.BY_NAME[name]
    proc = subprocess.run(
        [lua_or_skip(program), *awfy.lua_args(name, 1, b.tiny)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert awfy.verified(name, proc.stdout), proc.stdout + proc.stderr


def broken_sieve(text: str) -> str:
    """Sieve's source expecting 670 primes below 5000 instead of 669."""
    checks = ("result == 669", "result == 670")
    assert text.count(checks[0]) == 1
    return text.replace(*checks)


def test_k_failed_verify_fails_the_run(tmp_path):
    source = awfy.k_source("Sieve", 1, 1)
    proc = run_k(broken_sieve(source), tmp_path, jit=False)
    assert proc.returncode != 0
    assert "Sieve: verifyResult failed" in proc.stderr
    assert not awfy.verified("Sieve", proc.stdout)


def test_lua_failed_verify_fails_the_run(tmp_path):
    program = lua_or_skip("lua5.4")
    for f in awfy.LUA_DIR.glob("*.lua"):
        shutil.copy(f, tmp_path / f.name)
    sieve = tmp_path / "Sieve.lua"
    sieve.write_text(broken_sieve(sieve.read_text()))
    proc = subprocess.run(
        [program, str(tmp_path / "harness.lua"), "Sieve", "1", "1"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Sieve: verifyResult failed" in proc.stderr
    assert not awfy.verified("Sieve", proc.stdout)


def test_havlak_knows_only_its_published_counts(tmp_path):
    """Havlak's verifyResult has expected loop counts for 1, 15, 150, 1500
    and 15000 inner iterations only; any other count is an error, not a
    silent pass."""
    proc = subprocess.run(
        [lua_or_skip("lua5.4"), *awfy.lua_args("Havlak", 1, 2)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "no known result for 2" in proc.stderr


def test_kernel_script_on_the_host(tmp_path):
    """The one script bench/test_awfy_kernel.py loads into konoha.ko (the
    kernel subset behind one device) compiles without name clashes between
    the benchmarks, and its ioctl runs each of them, verified, under `ktc
    run --ops` with one inner iteration (DeltaBlue: 20); an unknown command
    is refused."""
    path = tmp_path / "kawfy.k"
    path.write_text(awfy.kernel_source("kawfy"))
    calls = [(awfy.KERNEL_CMD_BASE + i, 20 if name == "DeltaBlue" else 1)
             for i, (name, _) in enumerate(awfy.KERNEL_SUBSET)]
    ops = "open kawfy; " + "; ".join(f"ioctl $ {c} {n}" for c, n in calls)
    ops += f"; ioctl $ {awfy.KERNEL_CMD_BASE + len(calls)} 1; close $"
    proc = subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", "--ops", ops, str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = [line for line in proc.stdout.splitlines()
               if line.startswith(("result", "error"))]
    assert results == ["result 1"] * len(calls) + [
        "error ENOTTY (25): Inappropriate ioctl for device"], proc.stdout
