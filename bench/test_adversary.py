"""Work per budget unit: the worst adversarial callback against ordinary
code, with the kernel's default heap (16 MiB) and a callback budget of
200,000 instructions.

Every callback of bench/programs/adversary.k but `ioctl 0` loops until
its budget stops it, so the time of one callback is the time the VM
lets one budget run for that kind of work.  The goal (the safety rules of
HACKING.md) is that no kind of work runs longer than about 10x ordinary
code per unit.  Each row times one ioctl(2) through `build/kvm --serve`
(the serve protocol's round trip included, the same for every row), in
a fresh VM each round;
"full heap" rows first add about 120,000 small live objects, so that
a collection has a heap to mark (more than one callback can pay for:
the allocations then go on without it while the quota has room).  The
last three rows are library calls whose work grows with the script's
data: restarting a timer among 2,000 active ones, converting a map that
holds 20,000 removed entries, dynamic calls whose inline cache misses.
The ratio column divides by the mixed ordinary-code row.

    ADVERSARY_ROUNDS  timed callbacks per row (default 15)
"""

import os
import subprocess
from pathlib import Path

import pytest

from benchlib import median_of, run_checked, table

BENCH = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("ADVERSARY_ROUNDS", "15"))
CB_BUDGET = 200_000
HEAP = 16 << 20
REF = "ordinary code: calls, fields, arrays"
FILL_CALLS = 60

# row -> (ioctl command, argument, fill the heap first)
ROWS = {
    "ordinary code: a tight int loop": (1, 0, False),
    REF: (7, 0, False),
    "large arrays, dropped": (2, 200_000, False),
    "small garbage": (3, 0, False),
    "doubling strings": (4, 1_000_000, False),
    "live data growing": (5, 0, False),
    "conversion of a large array": (6, 100_000, False),
    "small garbage, full heap": (3, 0, True),
    "doubling strings, full heap": (4, 1_000_000, True),
    "large arrays, full heap": (2, 200_000, True),
    "a timer restarted among 2,000": (8, 0, False),
    "a map of 20,000 removed entries": (9, 0, False),
    "dynamic calls missing their cache": (10, 0, False),
}

TAB = table(
    "adversary",
    f"one callback until its budget ({CB_BUDGET:,}) runs out, "
    f"heap quota {HEAP >> 20} MiB, median of {ROUNDS} callbacks",
    "Time of one ioctl(2) whose callback runs until the budget stops it "
    "(`build/kvm --serve`); the ratio is to ordinary code (calls, fields, "
    "arrays).  Goal: at most 10.")
TAB.unit = "ms"
TAB.ref = REF
for _row in ROWS:
    TAB.declare(_row)


class Served:
    """build/kvm --serve on the adversary device, one file open."""

    def __init__(self, kvm, image):
        self.p = subprocess.Popen(
            [str(kvm), "--budget", "100000000", "--cb-budget",
             str(CB_BUDGET), "--heap", str(HEAP), "--serve", str(image)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        self.fd = self.ask("open adversary").split()[1]

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            out = self.p.stdout.readline()
            if not out:
                pytest.fail(f"kvm --serve ended during `{line}`")
            if out.startswith(("ok", "err")):
                return out.strip()

    def ioctl(self, cmd, arg):
        return self.ask(f"ioctl {self.fd} {cmd} {arg}")

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait(timeout=60)


@pytest.fixture(scope="module")
def image(ktc, tmp_path_factory):
    out = tmp_path_factory.mktemp("adversary") / "adversary.kbc"
    run_checked([*ktc, "compile", str(BENCH / "programs" / "adversary.k"),
                 "-o", str(out)])
    return out


@pytest.mark.benchmark(group="adversary")
@pytest.mark.parametrize("row", list(ROWS))
def test_adversary(benchmark, row, image, kvm):
    cmd, arg, full = ROWS[row]
    TAB.set(row, status="failed")
    results, devs = [], []

    def setup():
        # a fresh VM each round: a callback's garbage is the next one's
        dev = Served(kvm, image)
        devs.append(dev)
        if full:
            # about 120,000 small live nodes (6 MiB), 2,000 a callback
            for _ in range(FILL_CALLS):
                dev.ioctl(0, 2000)
        return (dev,), {}

    def one(dev):
        results.append(dev.ioctl(cmd, arg))

    try:
        benchmark.pedantic(one, setup=setup, rounds=ROUNDS, iterations=1)
        # the budget (or the quota) stopped every callback: EIO
        assert results and all(r == "err 5" for r in results), results
        # and the device is still usable
        for dev in devs:
            assert dev.ioctl(0, 0) == "ok 0"
    finally:
        for dev in devs:
            dev.close()
    median, fastest = median_of(benchmark)
    TAB.set(row, status="ok", median=median, min=fastest)
