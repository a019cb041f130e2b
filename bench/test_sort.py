"""The `sort` benchmark: Array.sort of N pseudo-random ints in K against
Lua's table.sort, each run as a subprocess, side by side in one
pytest-benchmark run.

    SORT_N       how many ints (default 1000000)
    SORT_ROUNDS  timed runs per peer (default 3)

Every program fills an array with the same linear congruential sequence,
sorts it, then checks it (no inversion) and prints its first and last
elements, its sum and the inversions, which the test compares across
peers.  K sorts with a comparator lambda `(x, y) -> x - y`, called back by
the VM for each comparison; lua5.4 sorts with a comparator function, as
K must, and without one (its built-in `<`), the floor of what a sort
costs there.  The "fill only" rows run the same programs without the sort:
the rest of each time is the sort itself.  Compiling K (and the JIT's
stubs) happens before the timing; each timed round is one whole process.
The K interpreter's row is the reference of the ratio column
(bench/results/sort.md); the status column adds each peer's median CPU
time (user + system), steadier than the wall time on a shared machine.
"""

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchlib import K_LABEL, link_stubs, median_of, run_checked, table

PEERS_DIR = Path(__file__).resolve().parent / "peers"
N = int(os.environ.get("SORT_N", "1000000"))
ROUNDS = int(os.environ.get("SORT_ROUNDS", "3"))
# Far above what the sort needs (about 2 * 10^8 instructions for 10^6).
K_BUDGET = 100_000_000_000


@dataclass(frozen=True)
class Peer:
    label: str
    kind: str             # "k", "k-jit" or "lua"
    mode: str             # K: "sort" or "fill"; Lua: "cmp", "plain", "fill"


PEERS = [
    Peer(K_LABEL, "k", "sort"),
    Peer("K (JIT)", "k-jit", "sort"),
    Peer("lua5.4 table.sort, comparator", "lua", "cmp"),
    Peer("lua5.4 table.sort, no comparator", "lua", "plain"),
    Peer("K (interpreter), fill only", "k", "fill"),
    Peer("K (JIT), fill only", "k-jit", "fill"),
    Peer("lua5.4, fill only", "lua", "fill"),
]

TABLE = table("sort", f"sort of {N} ints, median of {ROUNDS} runs",
              "Each run is one process that fills an array with "
              "pseudo-random ints, sorts it and checks it; K sorts with "
              "Array.sort and a comparator lambda, lua5.4 with table.sort, "
              "with and without a comparator function. The fill-only rows "
              "are the same programs without the sort.")
for _peer in PEERS:
    TABLE.declare(_peer.label)


def expected_line(n: int, sorted_: bool) -> str:
    """What every peer prints: first, last, sum, inversions."""
    seed, a = 42, []
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        a.append(seed)
    if sorted_:
        a.sort()
    inv = sum(1 for i in range(1, n) if a[i - 1] > a[i])
    return f"{a[0]} {a[-1]} {sum(a)} {inv}"


def k_source(n: int, do_sort: bool) -> str:
    """bench/peers/sort.k with N and the mode substituted."""
    text = (PEERS_DIR / "sort.k").read_text()
    text, c1 = re.subn(r"int n = \d+;", f"int n = {n};", text)
    text, c2 = re.subn(r"boolean doSort = \w+;",
                       f"boolean doSort = {'true' if do_sort else 'false'};",
                       text)
    assert c1 == c2 == 1, "bench/peers/sort.k lost its n or doSort line"
    return text


def run_timed(cmd) -> tuple[str, float]:
    """stdout of cmd and the CPU seconds (user + system) it used."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited "
                                 f"{proc.returncode}:\n"
                                 f"{err.read().decode().strip()}")
        return out.read().decode(), usage.ru_utime + usage.ru_stime


def lua_version() -> str:
    try:
        proc = subprocess.run(["lua5.4", "-v"], capture_output=True,
                              text=True, timeout=30)
    except OSError:
        return ""
    return (proc.stdout or proc.stderr).strip().split("  ")[0][:40]


def prepare(peer, workdir, ktc, request):
    """The command to time; compiling happens here, untimed."""
    if peer.kind in ("k", "k-jit"):
        kvm = request.getfixturevalue("kvm")
        src = workdir / f"sort_{peer.mode}.k"
        src.write_text(k_source(N, peer.mode == "sort"))
        image = workdir / f"sort_{peer.mode}.kbc"
        jit = ["--jit"] if peer.kind == "k-jit" else []
        run_checked([*ktc, "compile", *jit, str(src), "-o", str(image)])
        if not jit:
            return [str(kvm), "--budget", str(K_BUDGET), str(image)]
        so = workdir / f"sort_{peer.mode}.jit.so"
        link_stubs(workdir / f"sort_{peer.mode}.jit.o", so)
        return [str(kvm), "--budget", str(K_BUDGET), "--jit", str(so),
                str(image)]
    if shutil.which("lua5.4") is None:
        TABLE.set(peer.label, status="skipped: not installed")
        pytest.skip("lua5.4 is not installed (make setup installs it)")
    TABLE.set(peer.label, version=lua_version())
    return ["lua5.4", str(PEERS_DIR / "sort.lua"), peer.mode, str(N)]


@pytest.fixture(scope="module")
def expected():
    return {True: expected_line(N, True), False: expected_line(N, False)}


@pytest.mark.benchmark(group=f"sort({N})")
@pytest.mark.parametrize("peer", PEERS, ids=[p.label for p in PEERS])
def test_sort(benchmark, peer, ktc, tmp_path, request, expected):
    TABLE.set(peer.label, status="failed")
    cmd = prepare(peer, tmp_path, ktc, request)

    cpu = []

    def run():
        out, seconds = run_timed(cmd)
        cpu.append(seconds)
        return out

    benchmark.extra_info["sort_n"] = N
    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    want = expected[peer.mode != "fill"]
    assert out.strip() == want, f"{peer.label} printed {out.strip()!r}"
    median, fastest = median_of(benchmark)
    cpu_median = statistics.median(cpu)
    benchmark.extra_info["cpu_median_s"] = cpu_median
    # on a shared machine the CPU time of the process moves less than the
    # wall time: it goes in the status column
    TABLE.set(peer.label, status=f"ok, CPU {cpu_median:.4f} s",
              median=median, min=fastest)
