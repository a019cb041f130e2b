"""The Are We Fast Yet benchmarks in the kernel: the subset of bench/awfy/
small enough for QEMU's TCG (awfy.KERNEL_SUBSET, with its inner counts)
loaded into konoha.ko as one K script, on the interpreter (/dev/kawfy) and
on its JIT stubs (/dev/kawfyj, companion module awfy_jit.ko built as
bench/kbench.py builds kfib's), one QEMU boot per kernel line
(bench/awfy/awfy_kernel.sh).

Each call, ioctl(fd, awfy.KERNEL_CMD_BASE + N, INNER), runs benchmark N's
inner loop and returns 1
only if every inner iteration verified (a 0 fails the benchmark); it is
timed in the guest around the ioctl (CLOCK_MONOTONIC) and fed to
pytest-benchmark through a guest clock. The table of each line
(bench/results/awfy-kernel-LINE.md) gives the milliseconds per call of both
and the ratio JIT / interpreter, with its geomean. Under TCG the absolute
numbers are those of an emulated CPU.

    AWFY_KERNEL_ROUNDS   rounds (default 5)
    AWFY_KERNEL_BUDGET   instruction budget per callback (default 10^10, the most
                         konoha.ko accepts)
    AWFY_KERNEL_HEAP     heap quota of each script in bytes (default 64 MiB)

    python3 -m pytest bench/test_awfy_kernel.py --benchmark-only
"""

from __future__ import annotations

import math
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchlib import RESULTS_DIR, ROOT, machine

sys.path.insert(0, str(ROOT / "tests" / "kernel"))
sys.path.insert(0, str(ROOT / "bench" / "awfy"))
import awfy  # noqa: E402
import kbench  # noqa: E402
import ktest  # noqa: E402
import qemu  # noqa: E402

ROUNDS = int(os.environ.get("AWFY_KERNEL_ROUNDS", "5"))
BUDGET = int(os.environ.get("AWFY_KERNEL_BUDGET", str(10**10)))
HEAP = int(os.environ.get("AWFY_KERNEL_HEAP", str(64 << 20)))

INTERP, JIT = "K (interpreter)", "K (JIT)"
DEVICES = {INTERP: "/dev/kawfy", JIT: "/dev/kawfyj"}
CMDS = {name: awfy.KERNEL_CMD_BASE + i
        for i, (name, _) in enumerate(awfy.KERNEL_SUBSET)}


def prepare():
    kbench.compile_k(awfy.kernel_source("kawfy"), "kawfy")
    data = kbench.compile_k(awfy.kernel_source("kawfyj"), "kawfyj")
    SUITE.files.update(kbench.build_companion("awfy_jit", {"kawfyj": data}))
    benches = " ".join(f"{CMDS[n]}:{inner}" for n, inner in awfy.KERNEL_SUBSET)
    (kbench.OUT / "awfy.conf").write_text(
        f'ROUNDS={ROUNDS}\nBUDGET={BUDGET}\nHEAP={HEAP}\nBENCHES="{benches}"\n')


@dataclass
class AwfySuite(ktest.GuestSuite):
    """A guest suite whose script lives beside the benchmarks it runs."""

    @property
    def script(self) -> Path:
        return awfy.HERE / "awfy_kernel.sh"


SUITE = AwfySuite(
    "awfy_kernel",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kbench_ioctl": "build/kernel/guest/kbench_ioctl",
           "ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bench/kawfy.kbc": "build/kernel/bench/kawfy.kbc",
           "ktest/bench/kawfyj.kbc": "build/kernel/bench/kawfyj.kbc",
           "ktest/bench/awfy.conf": "build/kernel/bench/awfy.conf"},
    build_hint="make kmod-konoha kernel-suites build/kernel/guest/kbench_ioctl",
    prepare=prepare,
    timeout=1800,
)

_ROUND = re.compile(
    r"round (\d+) ioctl (\S+) cmd=(\d+) arg=(\d+) result=(-?\d+) ns=(\d+)")
_SAMPLES: dict[str, dict[tuple[str, int], list]] = {}
_NATIVE: dict[str, list[str]] = {}
# MEDIANS[line][benchmark][label] = median seconds per call
MEDIANS: dict[str, dict[str, dict[str, float]]] = {}


def guest_samples(line):
    """(result, seconds) of every call, by (device, command)."""
    if line not in _SAMPLES:
        r = kbench.checked_boot(SUITE, line, "awfy")
        samples: dict[tuple[str, int], list] = {}
        for c in r.cases:
            for d in c.diagnostics:
                m = _ROUND.match(d)
                if m:
                    samples.setdefault((m.group(2), int(m.group(3))), []).append(
                        (int(m.group(5)), int(m.group(6)) * 1e-9))
        # konoha.ko's line at unload: how many of kawfyj's functions ran
        # on their stubs (none: the "JIT" device was interpreted)
        native = [d for d in r.case("unload").diagnostics
                  if "native entries" in d]
        _SAMPLES[line] = samples
        _NATIVE[line] = native
    return _SAMPLES[line]


def render(line: str) -> list[str]:
    rows = MEDIANS.get(line, {})
    release = qemu.installed_kernels()[line].release
    lines = [f"# Benchmark `awfy-kernel-{line}`", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M:%S')} on {machine()}.", "",
             f"### AWFY in the kernel, Linux {release} (QEMU TCG), "
             f"median of {ROUNDS} rounds", "",
             "Milliseconds per ioctl running a benchmark's inner loop in "
             "konoha.ko (every inner iteration verified), measured in the "
             "guest around the ioctl; the two devices alternate. Inner "
             "counts are cut to the emulated CPU, so compare the columns, "
             "not these numbers with bench/results/awfy.md.", "",
             "| benchmark | inner | K (interpreter) ms | K (JIT) ms "
             "| JIT / interpreter |", "|---|---|---|---|---|"]
    ratios = []
    for name, inner in awfy.KERNEL_SUBSET:
        row = rows.get(name, {})
        i, j = row.get(INTERP), row.get(JIT)
        r = j / i if i and j else None
        if r is not None:
            ratios.append(r)
        cells = [name, str(inner)] + [
            "-" if x is None else f"{x * 1e3:.2f}" for x in (i, j)]
        cells.append("-" if r is None else f"{r:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    if ratios:
        g = math.exp(sum(map(math.log, ratios)) / len(ratios))
        lines.append(f"| **geomean** | ({len(ratios)} benchmarks) | | | **{g:.3f}** |")
    return lines + [""]


@pytest.fixture(scope="module", autouse=True)
def awfy_kernel_report():
    yield
    for line in MEDIANS:
        out = RESULTS_DIR / f"awfy-kernel-{line}.md"
        out.write_text("\n".join(render(line)))
        sys.stdout.write("\n" + "\n".join(render(line)) + f"\n(written to {out})\n")


@pytest.mark.kernel
@pytest.mark.benchmark(timer=kbench.guest_clock, disable_gc=False)
@pytest.mark.parametrize("label", [INTERP, JIT])
@pytest.mark.parametrize("name", [n for n, _ in awfy.KERNEL_SUBSET])
@pytest.mark.parametrize("line", qemu.KERNEL_LINES)
def test_awfy_kernel(benchmark, line, name, label):
    benchmark.group = f"awfy-kernel {line} {name}"
    samples = guest_samples(line).get((DEVICES[label], CMDS[name]), [])
    assert len(samples) == ROUNDS, (
        f"{len(samples)} rounds reported for {name} on {DEVICES[label]}, "
        f"expected {ROUNDS}")
    if label == JIT:
        native = _NATIVE[line]
        entries = re.search(r"(\d+) native entries", native[-1]) if native else None
        assert entries and int(entries.group(1)) > 0, (
            f"kawfyj did not run on its stubs: {native}")
        benchmark.extra_info["native_entries"] = int(entries.group(1))
    failed = [res for res, _ in samples if res != 1]
    assert not failed, f"{name} on {DEVICES[label]}: verifyResult failed ({failed})"
    it = iter(s for _, s in samples)

    def one_round():
        kbench.advance_clock(next(it))

    benchmark.extra_info.update(kernel=line, device=DEVICES[label],
                                ms_per_call=[round(s * 1e3, 2) for _, s in samples])
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    MEDIANS.setdefault(line, {}).setdefault(name, {})[label] = statistics.median(
        s for _, s in samples)
