"""The `map` benchmark: Map<K, V> against Lua 5.4 tables and Python dicts
doing the same work, each run as a subprocess, side by side in one
pytest-benchmark run.

Every workload puts N keys, gets each one back (summing the values),
removes every other one, and prints the sum and the size left
(bench/peers/map.k, map.lua, map.py; the three programs build the same
keys the same way):

    int          10^6 int keys spread over 2^40 ((i * 2654435761) & (2^40-1))
    int-collide  10^6 int keys i << 20: equal low bits, one bucket for any
                 hash that keeps an int's low bits
    str          10^5 String keys "k" + i * 7919
    str-collide  2^17 String keys of 17 blocks "Aa"/"BB" by the bits of i:
                 all share Java's String.hashCode
    str-control  the same keys built alike from "xq"/"zk" (distinct hash
                 codes): what str-collide costs without the collisions

The crafted sets must cost K no more than 3x their ordinary counterparts
(int-collide against int, str-collide against str-control) in CPU
time: the VM's keyed hash makes them random-looking.  Checked as soon as
both of a pair have run.

    MAP_ROUNDS   timed runs per peer and workload (default 3)

Compilation happens outside the timing; each timed round is one whole
process, start-up included, and its printed result is checked; its CPU
time (user + system, from the children's rusage) is kept beside the wall
time.  Results: bench/results/map_<workload>.md and _cpu.md (ratios
against the K interpreter), summed up in bench/results/map.md.
"""

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from benchlib import K_LABEL, TABLES, link_stubs, median_of, run_checked, table

PEERS_DIR = Path(__file__).resolve().parent / "peers"
ROUNDS = int(os.environ.get("MAP_ROUNDS", "3"))
K_BUDGET = 100_000_000_000
# A crafted key set may cost at most this many times its ordinary one.
COLLIDE_LIMIT = 3.0

WORKLOADS = {
    "int": 1_000_000,
    "int-collide": 1_000_000,
    "str": 100_000,
    "str-collide": 1 << 17,
    "str-control": 1 << 17,
}
PEERS = [
    (K_LABEL, "k"),
    ("K (JIT)", "k-jit"),
    ("lua5.4", "lua"),
    ("python3", "python"),
]
for _mode, _n in WORKLOADS.items():
    _tab = table(f"map_{_mode}", f"map {_mode}, N = {_n}, wall time, "
                 f"median of {ROUNDS} runs",
                 "One process puts N keys, gets each back and removes every "
                 "other one (bench/peers/map.*); start-up included, K "
                 "compiled before timing.")
    # CPU time (user + system) of the same runs: on a shared machine it
    # moves much less than the wall time
    _cpu = table(f"map_{_mode}_cpu", f"map {_mode}, N = {_n}, CPU time of "
                 f"the same runs, median of {ROUNDS}")
    for _label, _ in PEERS:
        _tab.declare(_label)
        _cpu.declare(_label)


def expected(n):
    """The line every program prints: the sum of 0..n-1 and n // 2."""
    return f"{n * (n - 1) // 2} {n - (n + 1) // 2}"


def k_source(mode, n):
    text = (PEERS_DIR / "map.k").read_text()
    text, c1 = re.subn(r'^String mode = "MODE";', f'String mode = "{mode}";',
                       text, flags=re.M)
    text, c2 = re.subn(r"^int n = N;", f"int n = {n};", text, flags=re.M)
    assert c1 == c2 == 1, "bench/peers/map.k must declare mode and n"
    return text


def version_of(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=30)
    except OSError:
        return ""
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0][:40] if lines else ""


def prepare(kind, mode, n, workdir, ktc, request, tab, label):
    if kind in ("k", "k-jit"):
        kvm = request.getfixturevalue("kvm")
        src = workdir / f"map_{mode}.k"
        src.write_text(k_source(mode, n))
        image = workdir / f"map_{mode}.kbc"
        jit = ["--jit"] if kind == "k-jit" else []
        run_checked([*ktc, "compile", *jit, str(src), "-o", str(image)])
        if not jit:
            return [str(kvm), "--budget", str(K_BUDGET), str(image)]
        so = workdir / f"map_{mode}.jit.so"
        link_stubs(workdir / f"map_{mode}.jit.o", so)
        return [str(kvm), "--budget", str(K_BUDGET), "--jit", str(so),
                str(image)]
    if kind == "lua":
        if shutil.which("lua5.4") is None:
            tab.set(label, status="skipped: not installed")
            pytest.skip("lua5.4 is not installed (make setup installs it)")
        tab.set(label, version=version_of(["lua5.4", "-v"]))
        return ["lua5.4", str(PEERS_DIR / "map.lua"), mode, str(n)]
    tab.set(label, version=version_of([sys.executable, "--version"]))
    return [sys.executable, str(PEERS_DIR / "map.py"), mode, str(n)]


@pytest.mark.parametrize("mode", list(WORKLOADS))
@pytest.mark.parametrize("peer", PEERS, ids=[p[0] for p in PEERS])
def test_map(benchmark, peer, mode, ktc, tmp_path, request):
    label, kind = peer
    n = WORKLOADS[mode]
    tab = TABLES[f"map_{mode}"]
    tab.set(label, status="failed")
    cmd = prepare(kind, mode, n, tmp_path, ktc, request, tab, label)

    cpu = []

    def run():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime +
                   after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited "
                                 f"{proc.returncode}:\n{proc.stderr.strip()}")
        return proc.stdout

    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert out.strip() == expected(n), f"{label} printed {out.strip()!r}"
    median, fastest = median_of(benchmark)
    tab.set(label, status="ok", median=median, min=fastest)
    TABLES[f"map_{mode}_cpu"].set(label, status="ok",
                                  median=statistics.median(cpu),
                                  min=min(cpu))
    if kind in ("k", "k-jit"):
        check_crafted(label, mode)


# A crafted key set and the ordinary one it is measured against.
PAIRS = {"int-collide": "int", "str-collide": "str-control"}


def check_crafted(label, mode):
    """Once both of a pair are timed (whichever ran last): K's crafted
    set costs at most COLLIDE_LIMIT times the ordinary one, in CPU time
    (the wall time of a shared machine moves too much)."""
    for crafted, ordinary in PAIRS.items():
        if mode not in (crafted, ordinary):
            continue
        a = TABLES[f"map_{crafted}_cpu"].rows[label].get("median")
        b = TABLES[f"map_{ordinary}_cpu"].rows[label].get("median")
        if a is not None and b is not None:
            assert a <= COLLIDE_LIMIT * b, \
                f"{label}: {crafted} took {a:.3f} s, {ordinary} {b:.3f} s"
