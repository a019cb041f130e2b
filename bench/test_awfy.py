"""The Are We Fast Yet benchmarks (bench/awfy/): each benchmark in K and in
Lua, run by five peers in one session, every run checked by the benchmark's
own verifyResult.

    python3 -m pytest bench/test_awfy.py --benchmark-only

Peers: the K interpreter and the K JIT (build/kvm on an image compiled
beforehand; for the JIT also its native stubs, linked into a shared
object), lua5.4, `luajit -joff` (LuaJIT's interpreter) and luajit. Each
timed round is one whole process running ITERATIONS outer iterations of the
benchmark at AWFY's default inner iteration count (bench/awfy/awfy.py
lists both); compiling is never timed.

A round is timed by the CPU time (user + system) of the process it runs,
read from the children's resource usage: the machines this runs on are
shared, and wall time would count the waits for a CPU as well. Wall times
are kept in each benchmark's extra_info.

At the end of the module the per-benchmark medians, the ratios K
interpreter / lua5.4 and K JIT / luajit, and their geometric means are
written to bench/results/awfy.md.

    AWFY_ROUNDS      timed rounds per benchmark and peer (default 3)
    AWFY_BENCHMARKS  comma-separated names to run (default: all)
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from benchlib import RESULTS_DIR, ROOT, machine

sys.path.insert(0, str(ROOT / "bench" / "awfy"))
import awfy  # noqa: E402

ROUNDS = int(os.environ.get("AWFY_ROUNDS", "3"))
_ONLY = [n for n in os.environ.get("AWFY_BENCHMARKS", "").split(",") if n]
BENCHMARKS = [b for b in awfy.BENCHMARKS if not _ONLY or b.name in _ONLY]


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    program: str = ""      # the Lua interpreter, for Lua peers
    flags: tuple = ()


K_INTERP = Peer("k-interp", "K (interpreter)")
K_JIT = Peer("k-jit", "K (JIT)")
LUA = Peer("lua5.4", "lua5.4", "lua5.4")
LUAJIT_OFF = Peer("luajit-joff", "luajit -joff", "luajit", ("-joff",))
LUAJIT = Peer("luajit", "luajit", "luajit")
PEERS = [K_INTERP, K_JIT, LUA, LUAJIT_OFF, LUAJIT]

# RESULTS[benchmark][peer key] = median CPU seconds of a run
RESULTS: dict[str, dict[str, float]] = {}
VERSIONS: dict[str, str] = {}


def child_cpu() -> float:
    """CPU seconds used so far by this process's finished children: a
    round's difference is the CPU time of the one process it ran."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def version_of(peer: Peer) -> str:
    if not peer.program:
        return ""
    proc = subprocess.run([peer.program, "-v"], capture_output=True,
                          text=True, timeout=30)
    line = (proc.stdout or proc.stderr).strip().splitlines()[0]
    return line.split("  ")[0].split(" --")[0]


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return num / den


def render() -> list[str]:
    """The results as Markdown: one row per benchmark, then geomeans over
    the benchmarks that have both peers of a ratio."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        "# Benchmark `awfy`: Are We Fast Yet in K and in Lua", "",
        f"Run {stamp} on {machine()}.", "",
        "The benchmarks of bench/awfy/, written once in K and once in Lua "
        "by the AWFY rules (each language with its own small collection "
        "library, every result checked by verifyResult). Each cell is the "
        f"median of {ROUNDS} runs, in CPU seconds (user + system) of one "
        "process running the outer iterations at AWFY's default inner "
        "iteration count, start-up included; K is compiled beforehand "
        "(compile time excluded). Ratios below 1: K is faster.", "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in VERSIONS.items() if v)
        + ".", "",
        "| benchmark | iterations x inner | "
        + " | ".join(p.label for p in PEERS)
        + " | K interp / lua5.4 | K JIT / luajit | K JIT / K interp |",
        "|---|---|" + "---|" * (len(PEERS) + 3),
    ]
    ratios: dict[str, list[float]] = {"interp": [], "jit": [], "self": []}
    for b in BENCHMARKS:
        row = RESULTS.get(b.name, {})
        r_interp = _ratio(row.get(K_INTERP.key), row.get(LUA.key))
        r_jit = _ratio(row.get(K_JIT.key), row.get(LUAJIT.key))
        r_self = _ratio(row.get(K_JIT.key), row.get(K_INTERP.key))
        for key, r in (("interp", r_interp), ("jit", r_jit), ("self", r_self)):
            if r is not None:
                ratios[key].append(r)
        cells = [b.name, f"{b.iterations} x {b.inner}"]
        cells += [_fmt(row.get(p.key)) for p in PEERS]
        cells += [_fmt(r) for r in (r_interp, r_jit, r_self)]
        lines.append("| " + " | ".join(cells) + " |")
    means = [_fmt(geomean(ratios[k])) if ratios[k] else "-"
             for k in ("interp", "jit", "self")]
    counts = "/".join(str(len(ratios[k])) for k in ("interp", "jit", "self"))
    lines.append("| **geomean** | (" + counts + " benchmarks) | "
                 + " | ".join("" for _ in PEERS) + " | "
                 + " | ".join(f"**{m}**" for m in means) + " |")
    lines += ["", "Each run's output is checked: the harness of either "
              "language ends with `NAME: verifyResult ok` only when every "
              "inner iteration verified.", ""]
    return lines


@pytest.fixture(scope="module", autouse=True)
def awfy_report():
    """Writes bench/results/awfy.md after the module's benchmarks, when at
    least one was timed (not under --benchmark-disable)."""
    yield
    if not any(RESULTS.values()):
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "awfy.md"
    out.write_text("\n".join(render()))
    sys.stdout.write("\n" + "\n".join(render()) + f"\n(written to {out})\n")


_COMMANDS: dict[tuple[str, str], list[str]] = {}


def command(b: awfy.Bench, peer: Peer, workdir) -> list[str]:
    """The command a round runs; for K the compile happens here, once."""
    key = (b.name, peer.key)
    if key in _COMMANDS:
        return _COMMANDS[key]
    if peer in (K_INTERP, K_JIT):
        try:
            cmd = awfy.k_command(b.name, b.iterations, b.inner, workdir,
                                 jit=peer is K_JIT)
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
    else:
        if shutil.which(peer.program) is None:
            pytest.skip(f"{peer.program} is not installed (make setup "
                        "installs it)")
        VERSIONS.setdefault(peer.program, version_of(peer))
        cmd = [peer.program, *peer.flags,
               *awfy.lua_args(b.name, b.iterations, b.inner)]
    _COMMANDS[key] = cmd
    return cmd


@pytest.mark.benchmark(timer=child_cpu, disable_gc=False)
@pytest.mark.parametrize("peer", PEERS, ids=[p.key for p in PEERS])
@pytest.mark.parametrize("bench", BENCHMARKS, ids=[b.name for b in BENCHMARKS])
def test_awfy(benchmark, bench, peer, kvm, tmp_path_factory):
    benchmark.group = f"awfy {bench.name}"
    workdir = tmp_path_factory.mktemp(f"awfy-{bench.name}-{peer.key}")
    cmd = command(bench, peer, workdir)  # kvm: build/kvm must exist
    walls = []

    def run():
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=600)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited "
                                 f"{proc.returncode}:\n{proc.stderr.strip()}")
        # every round, not only the last, must have verified
        assert awfy.verified(bench.name, proc.stdout), (
            f"{peer.label} {bench.name}: no verifyResult ok line:\n"
            f"{proc.stdout[-500:]}")

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(iterations=bench.iterations,
                                inner=bench.inner,
                                wall_s=[round(w, 4) for w in walls])
    stats = getattr(benchmark, "stats", None)
    if stats:
        RESULTS.setdefault(bench.name, {})[peer.key] = stats.stats.median
