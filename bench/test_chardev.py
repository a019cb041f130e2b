"""The `chardev` benchmark: CharDevice drivers written in K against C
drivers doing the same work, in the kernel (issue 11's goals: each K row on
the JIT within +25% of C, open+close within +10%).

One QEMU boot per kernel line (6.1, 6.12) runs bench/kernel/bench_chardev.sh
with the C peers of lkm/kernel/ref/ and the K drivers loaded into konoha.ko,
each twice: interpreted, and on its JIT stubs (devices renamed NAMEj, one
companion module built from `ctjit` kernel-profile stubs, as
bench/test_open_overhead.py does):

    open+close     /dev/kref (kref_dev.c, empty open/release) against
                   /dev/kchr_empty (bench/kernel/kchr_empty.k, an empty
                   CharDevice): ktest_open's lmbench-style loop
    rot13 4 KiB,   /dev/kref_rot13 (kref_rot13.c) against /dev/rot13
    rot13 64 KiB   (examples/rot13.k): `kchr rot13`, one open file, each
                   block written and read back (every byte of the warm-up
                   blocks and a sample of the timed ones checked)
    FIFO ping-pong /dev/kref_fifo0 and 1 (kref_fifo.c, one module with
                   two devices) against /dev/fifo0 and 1 (one script
                   registering examples/fifo.k's Fifo twice): `kchr
                   pingpong`, two processes, an 8-byte message each way per
                   round trip

Every measurement runs once per round, the order rotating from round to
round so that slow phases of the emulator hit every peer. The guest
measures with CLOCK_MONOTONIC; the seconds per operation (open+close pair,
block, round trip) of each round are fed to pytest-benchmark through a
guest clock, and the table compares medians: each K row's time over its C
peer's, and the median of the per-round ratios. Throughputs (MiB/s: bytes
written and read back per second) and round trips per second are the
medians' inverses.

The FIFO rows need WaitQueue (the language reference §9.2): until
konoha.ko has it, the guest cannot load examples/fifo.k and those rows
skip, saying why.

    CHARDEV_ROUNDS      rounds (default 15)
    CHARDEV_OPEN_N      open+close pairs per round (default 3000)
    CHARDEV_ROT4K_N     4 KiB blocks per round (default 150)
    CHARDEV_ROT64K_N    64 KiB blocks per round (default 12)
    CHARDEV_PINGPONG_N  round trips per round (default 1500)

The rot13 driver in K handles its bytes one at a time (K has no bulk byte
transform): a charAt, the letter tests and an OutputStream.writeByte per
byte, straight into the read's own buffer. The JIT runs that loop as a
table (ctjit/README.md, "Tables"): the byte each of the 256 bytes becomes
and what its path through the loop charges are worked out at compile
time, so a byte costs a load of itself and of its entry, a store, a
subtraction from the budget and the counter's compare. What a block
still costs beyond C's: the table's load (C's loop only loads and
branches, and stores letters), the copy of the written bytes into a
String (InputStream.read) and the callbacks' way through the VM.

Absolute numbers are those of a guest on a shared host (the table notes
the host's load); the ratios are what matters.

    python3 -m pytest bench/test_chardev.py --benchmark-only
"""

import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchlib import ROOT, table

sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import ktest  # noqa: E402
import qemu  # noqa: E402
import kbench  # noqa: E402

ROUNDS = int(os.environ.get("CHARDEV_ROUNDS", "15"))
OPEN_N = int(os.environ.get("CHARDEV_OPEN_N", "3000"))
ROT4K_N = int(os.environ.get("CHARDEV_ROT4K_N", "150"))
ROT64K_N = int(os.environ.get("CHARDEV_ROT64K_N", "12"))
PINGPONG_N = int(os.environ.get("CHARDEV_PINGPONG_N", "1500"))

BENCH_K = ROOT / "bench" / "kernel"
CONF = kbench.OUT / "chardev.conf"
FIFO_MISSING = kbench.OUT / "fifo.missing"
FIFO_JIT_MISSING = kbench.OUT / "fifo_jit.missing"


@dataclass(frozen=True)
class Row:
    label: str      # the table's row
    kind: str       # the guest's measurement: open, rot4k, rot64k, pp
    device: str     # the device (the first of a ping-pong pair)
    peer: str       # "C", "K interp" or "K JIT"

    @property
    def goal(self) -> float:
        """The largest K/C time ratio the issue accepts (JIT rows)."""
        return 1.10 if self.kind == "open" else 1.25


_PEERS = [("C", "C {c}"), ("K interp", "K (interpreter)"), ("K JIT", "K (JIT)")]
_GROUPS = [
    ("open", "open+close", ["/dev/kref", "/dev/kchr_empty", "/dev/kchr_emptyj"],
     "kref_dev"),
    ("rot4k", "rot13 4 KiB", ["/dev/kref_rot13", "/dev/rot13", "/dev/rot13j"],
     "kref_rot13"),
    ("rot64k", "rot13 64 KiB", ["/dev/kref_rot13", "/dev/rot13", "/dev/rot13j"],
     "kref_rot13"),
    ("pp", "FIFO ping-pong", ["/dev/kref_fifo0", "/dev/fifo0", "/dev/fifo0j"],
     "kref_fifo"),
]
ROWS = [Row(f"{title}: {name.format(c=cmod)}", kind, dev, peer)
        for kind, title, devs, cmod in _GROUPS
        for (peer, name), dev in zip(_PEERS, devs)]
C_ROW = {r.kind: r for r in ROWS if r.peer == "C"}
BLOCK = {"rot4k": 4096, "rot64k": 65536}


def _rename(src: str, old: str, new: str) -> str:
    """src with the device registered as `old` registered as `new`."""
    call = f'CharDevice.register("{old}"'
    assert src.count(call) == 1, f"{call} must occur once"
    return src.replace(call, f'CharDevice.register("{new}"')


def _twice(src: str, first: str, second: str) -> str:
    """src (examples/fifo.k) registering two devices of its driver class,
    `first` and `second`, as kref_fifo.ko is one module with two."""
    call = 'CharDevice.register("fifo", new Fifo());'
    assert src.count(call) == 1, f"{call} must occur once"
    return src.replace(call, f'CharDevice.register("{first}", new Fifo());\n'
                             f'CharDevice.register("{second}", new Fifo());')


def _build_guest_tools() -> None:
    """kchr, through its Makefile rule (ktest_open and kdrive come from
    `make kmod-ref kernel-suites`: the boot says so when they are missing)."""
    r = subprocess.run(["make", "-s", "build/kernel/guest/kchr"],
                       cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"building the guest tools failed:\n{r.stdout}{r.stderr}")


def prepare() -> None:
    """The guest tools, the K images (interpreted and renamed for the JIT
    rows), their companion modules, and the guest's configuration. The
    FIFO images and companion are optional: what stops them is written to
    fifo.missing / fifo_jit.missing for the guest to report."""
    _build_guest_tools()
    for stale in (FIFO_MISSING, FIFO_JIT_MISSING, *kbench.OUT.glob("fifo*.kbc")):
        stale.unlink(missing_ok=True)
    empty = (BENCH_K / "kchr_empty.k").read_text()
    rot13 = (ROOT / "examples" / "rot13.k").read_text()
    kbench.compile_k(empty, "kchr_empty")
    kbench.compile_k(rot13, "rot13")
    jit = {"kchr_emptyj": kbench.compile_k(_rename(empty, "kchr_empty", "kchr_emptyj"),
                                           "kchr_emptyj"),
           "rot13j": kbench.compile_k(_rename(rot13, "rot13", "rot13j"), "rot13j")}
    SUITE.files.update(kbench.build_companion("kchr_jit", jit))
    names = ["kchr_empty", "kchr_emptyj", "rot13", "rot13j"]

    fifo = (ROOT / "examples" / "fifo.k").read_text()
    try:
        kbench.compile_k(_twice(fifo, "fifo0", "fifo1"), "fifo")
        names += ["fifo"]
    except Exception as e:  # the compiler's diagnostics, whatever their class
        FIFO_MISSING.write_text(f"examples/fifo.k does not compile: {e}".splitlines()[0])
    else:
        try:
            fjit = {"fifoj": kbench.compile_k(_twice(fifo, "fifo0j", "fifo1j"),
                                              "fifoj")}
            SUITE.files.update(kbench.build_companion("kchr_fifo_jit", fjit))
            names += ["fifoj"]
        except Exception as e:
            FIFO_JIT_MISSING.write_text(
                f"no JIT companion for examples/fifo.k: {e}".splitlines()[0])
    for missing in (FIFO_MISSING, FIFO_JIT_MISSING):
        if missing.exists():
            SUITE.files[f"ktest/bench/{missing.name}"] = str(missing.relative_to(ROOT))
    for n in names:
        SUITE.files[f"ktest/bench/{n}.kbc"] = str((kbench.OUT / f"{n}.kbc").relative_to(ROOT))
    CONF.write_text(f"ROUNDS={ROUNDS}\nOPEN_N={OPEN_N}\nROT4K_N={ROT4K_N}\n"
                    f"ROT64K_N={ROT64K_N}\nPINGPONG_N={PINGPONG_N}\n")


class BenchSuite(ktest.GuestSuite):
    """A guest suite whose script lives in bench/kernel/, not in
    tests/kernel/guest/."""

    @property
    def script(self) -> Path:
        return BENCH_K / f"{self.name}.sh"


SUITE = BenchSuite(
    "bench_chardev",
    modules=["ref/kref_dev.ko", "ref/kref_rot13.ko", "ref/kref_fifo.ko",
             "konoha/konoha.ko"],
    files={"ktest/bin/ktest_open": "build/kernel/guest/ktest_open",
           "ktest/bin/kchr": "build/kernel/guest/kchr",
           "ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/chardev.conf": str(CONF.relative_to(ROOT))},
    build_hint="make kmod-ref kernel-suites",
    prepare=prepare,
    timeout=900,
)

TABLES = {}
for _line in qemu.KERNEL_LINES:
    TABLES[_line] = table(
        f"chardev-{_line}",
        f"CharDevice drivers in K against C on Linux {_line} (QEMU), "
        f"median of {ROUNDS} rounds",
        "Time per operation measured in the guest: an open(2)+close(2) pair "
        f"({OPEN_N} a round), a rot13 block written and read back on one open "
        f"file ({ROT4K_N} of 4 KiB, {ROT64K_N} of 64 KiB a round; MiB/s "
        "counts each byte once), an 8-byte FIFO ping-pong round trip between "
        f"two processes ({PINGPONG_N} a round). Each K row's status gives its "
        "median over its C peer's (+25% = 1.25 times C's time) and the median "
        "of the per-round ratios; the goal (issue 11) is within +25% of C on "
        "the JIT, +10% for open+close. The peers take turns round by round "
        "in one boot.")
    TABLES[_line].ref = ""      # ratios are per group, in the status column
    TABLES[_line].unit = "us"
    for _row in ROWS:
        TABLES[_line].declare(_row.label)

_LINE = {
    "open": re.compile(r"round (\d+) open_close (\S+) iterations=(\d+) total_ns=(\d+) "),
    "rot": re.compile(r"round (\d+) rot13 (\S+) bs=(\d+) blocks=(\d+) total_ns=(\d+) "),
    "pp": re.compile(r"round (\d+) pingpong (\S+) \S+ round_trips=(\d+) total_ns=(\d+) "),
}


# The host's 1-minute load average before and after each line's boot: the
# machine is shared, and a loaded host makes every peer slower and noisier.
_LOAD: dict[str, tuple[float, float]] = {}


def _boot(line: str):
    if line not in _LOAD:
        before = os.getloadavg()[0]
        r = kbench.checked_boot(SUITE, line, "chardev")
        _LOAD[line] = (before, os.getloadavg()[0])
        TABLES[line].note += (f" Host load average (1 min) before and after the "
                              f"boot: {_LOAD[line][0]:.1f}, {_LOAD[line][1]:.1f} "
                              f"({os.cpu_count()} cpus).")
        return r
    return kbench.checked_boot(SUITE, line, "chardev")


def guest_samples(line: str) -> dict[tuple[str, str], list[float]]:
    """Seconds per operation of each round, by (kind, device)."""
    r = _boot(line)
    samples: dict[tuple[str, str], list[float]] = {}
    for c in r.cases:
        for d in c.diagnostics:
            if m := _LINE["open"].match(d):
                key, per = ("open", m[2]), int(m[4]) / int(m[3])
            elif m := _LINE["rot"].match(d):
                kind = {4096: "rot4k", 65536: "rot64k"}[int(m[3])]
                key, per = (kind, m[2]), int(m[5]) / int(m[4])
            elif m := _LINE["pp"].match(d):
                key, per = ("pp", m[2]), int(m[4]) / int(m[3])
            else:
                continue
            samples.setdefault(key, []).append(per * 1e-9)
    return samples


def fifo_skip_reason(line: str) -> str | None:
    """Why the guest skipped the FIFO rows, or None when they ran."""
    r = _boot(line)
    c = r.case("load_fifo")
    if c is None or not c.skip:
        return None
    return c.directive.split(" ", 1)[1] if " " in c.directive else c.directive


def _rate(row: Row, seconds: float) -> str:
    if row.kind in BLOCK:
        return f"{BLOCK[row.kind] / seconds / 2**20:.1f} MiB/s"
    if row.kind == "pp":
        return f"{1 / seconds:,.0f} round trips/s"
    return f"{seconds * 1e6:.2f} us"


@pytest.mark.kernel
@pytest.mark.benchmark(group="chardev", timer=kbench.guest_clock, disable_gc=False)
@pytest.mark.parametrize("row", ROWS, ids=[r.label for r in ROWS])
@pytest.mark.parametrize("line", qemu.KERNEL_LINES)
def test_chardev(benchmark, line, row):
    tab = TABLES[line]
    tab.set(row.label, status="failed")
    if row.kind == "pp":
        reason = fifo_skip_reason(line)
        if reason is not None:
            tab.set(row.label, status=f"skipped: {reason}")
            pytest.skip(reason)
    samples = guest_samples(line).get((row.kind, row.device), [])
    assert len(samples) == ROUNDS, \
        f"{len(samples)} rounds of {row.kind} {row.device} reported, expected {ROUNDS}"
    it = iter(samples)

    def one_round():
        kbench.advance_clock(next(it))

    benchmark.extra_info.update(kernel=line, kind=row.kind, device=row.device,
                                us_per_op=[round(s * 1e6, 2) for s in samples])
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    median = statistics.median(samples)
    status = f"ok: {_rate(row, median)}"
    if row.peer != "C":
        c_samples = guest_samples(line)[(row.kind, C_ROW[row.kind].device)]
        ratio = median / statistics.median(c_samples)
        paired = statistics.median(k / c for k, c in zip(samples, c_samples))
        benchmark.extra_info.update(ratio_of_medians=round(ratio, 3),
                                    median_of_round_ratios=round(paired, 3))
        status += (f", {ratio:.2f}x C's time ({(ratio - 1) * 100:+.0f}%; "
                   f"round by round {(paired - 1) * 100:+.0f}%)")
        if row.peer == "K JIT":
            met = "met" if ratio <= row.goal else "missed"
            status += f"; goal +{(row.goal - 1) * 100:.0f}%: {met}"
    tab.set(row.label, status=status, median=median, min=min(samples),
            version=qemu.installed_kernels()[line].release)
