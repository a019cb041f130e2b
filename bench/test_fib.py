"""The `fib` benchmark: recursive fib(N) in K and in peer languages, each run
as a subprocess, side by side in one pytest-benchmark run.

    FIB_N       argument of fib (default 36)
    FIB_ROUNDS  timed runs per peer (default 3)

Compilation (ktc compile for K, gcc for C; for "K (JIT)" also the native
stubs of `ktc compile --jit`, linked into a shared object) happens outside
the timing; each timed round is one whole process, start-up included, and
its printed result is checked. The K row, "K (interpreter)", is the
reference of the ratio column of the table printed at the end
(bench/results/fib.md).
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchlib import K_LABEL, link_stubs, median_of, run_checked, table

PEERS_DIR = Path(__file__).resolve().parent / "peers"
N = int(os.environ.get("FIB_N", "36"))
ROUNDS = int(os.environ.get("FIB_ROUNDS", "3"))
# A budget far above what fib(N) needs: the default budget of `ktc run`
# (2^32 instructions) is near what fib(36) executes.
K_BUDGET = 100_000_000_000


def fib_value(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@dataclass(frozen=True)
class Peer:
    label: str
    kind: str             # "k", "k-jit", "c" or "interp"
    program: str = ""     # binary (interp) or compiler (c)
    args: tuple = ()      # interpreter flags, or compiler flags for "c"
    source: str = ""      # file in bench/peers/
    version_cmd: tuple = ()


PEERS = [
    Peer(K_LABEL, "k", source="fib.k"),
    Peer("K (JIT)", "k-jit", source="fib.k"),
    Peer("python3", "interp", sys.executable, (), "fib.py",
         (sys.executable, "--version")),
    Peer("perl", "interp", "perl", (), "fib.pl",
         ("perl", "-e", "print $^V")),
    Peer("ruby", "interp", "ruby", (), "fib.rb", ("ruby", "-v")),
    Peer("lua5.4", "interp", "lua5.4", (), "fib.lua", ("lua5.4", "-v")),
    Peer("luajit -joff (interpreter)", "interp", "luajit", ("-joff",),
         "fib.lua", ("luajit", "-v")),
    Peer("luajit (JIT)", "interp", "luajit", (), "fib.lua", ("luajit", "-v")),
    Peer("C gcc -O2", "c", "gcc", ("-O2",), "fib.c",
         ("gcc", "-dumpfullversion")),
    Peer("C gcc -O1", "c", "gcc", ("-O1",), "fib.c",
         ("gcc", "-dumpfullversion")),
]

TABLE = table("fib", f"fib({N}), median of {ROUNDS} runs",
              "Each run is one process computing recursive fib(N), start-up "
              "included; K and C are compiled before timing.")
for _peer in PEERS:
    TABLE.declare(_peer.label)


def version_of(peer):
    if not peer.version_cmd:
        return ""
    try:
        proc = subprocess.run(peer.version_cmd, capture_output=True,
                              text=True, timeout=30)
    except OSError:
        return ""
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if not lines:
        return ""
    # "LuaJIT 2.1.0-beta3 -- Copyright ...", "ruby 3.1.2p20 (2022-04-12 ...)"
    return re.split(r" --| \(|  ", lines[0])[0][:60]


def k_source(n):
    """bench/peers/fib.k with N substituted: K scripts have no argv."""
    text = (PEERS_DIR / "fib.k").read_text()
    out, count = re.subn(r"print\(fib\(\d+\)\);", f"print(fib({n}));", text)
    assert count == 1, "bench/peers/fib.k must end in print(fib(<number>));"
    return out


def prepare(peer, workdir, ktc, request):
    """The command to time for this peer; everything before the timing
    (compiling, looking up the interpreter) happens here."""
    if peer.kind in ("k", "k-jit"):
        kvm = request.getfixturevalue("kvm")
        src = workdir / f"fib{N}.k"
        src.write_text(k_source(N))
        image = workdir / f"fib{N}.kbc"
        jit = ["--jit"] if peer.kind == "k-jit" else []
        run_checked([*ktc, "compile", *jit, str(src), "-o", str(image)])
        if not image.exists():
            pytest.fail(f"ktc compile wrote no image at {image}")
        if not jit:
            return [str(kvm), "--budget", str(K_BUDGET), str(image)]
        so = workdir / f"fib{N}.jit.so"
        link_stubs(workdir / f"fib{N}.jit.o", so)
        return [str(kvm), "--budget", str(K_BUDGET), "--jit", str(so),
                str(image)]
    if shutil.which(peer.program) is None:
        reason = f"{peer.program} is not installed (make setup installs it)"
        TABLE.set(peer.label, status="skipped: not installed")
        pytest.skip(reason)
    source = PEERS_DIR / peer.source
    if peer.kind == "c":
        exe = workdir / ("fib" + "".join(peer.args).replace("-", "_"))
        run_checked([peer.program, *peer.args, "-o", str(exe), str(source)])
        return [str(exe), str(N)]
    return [peer.program, *peer.args, str(source), str(N)]


@pytest.mark.benchmark(group=f"fib({N})")
@pytest.mark.parametrize("peer", PEERS, ids=[p.label for p in PEERS])
def test_fib(benchmark, peer, ktc, tmp_path, request):
    TABLE.set(peer.label, status="failed")
    cmd = prepare(peer, tmp_path, ktc, request)
    TABLE.set(peer.label, version=version_of(peer))
    expected = str(fib_value(N))

    def run():
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited "
                                 f"{proc.returncode}:\n{proc.stderr.strip()}")
        return proc.stdout

    benchmark.extra_info["fib_n"] = N
    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert out.strip() == expected, (
        f"{peer.label} printed {out.strip()!r}, expected fib({N}) = {expected}")
    median, fastest = median_of(benchmark)
    TABLE.set(peer.label, status="ok", median=median, min=fastest)
