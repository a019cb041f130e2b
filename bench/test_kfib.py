"""The `kfib` benchmark: recursive fib(N) (N = 30 by default) inside the
kernel, computed by a device ioctl in

- the K interpreter: bench/kernel/kfib.k loaded into konoha.ko (/dev/kfib);
- the same script on JIT stubs: its companion module (kfib_jit.ko, built
  from `ktc compile --jit --profile kernel --kernel LINE` stubs, see
  bench/kbench.py) loaded first, then the script (device renamed /dev/kfibj,
  so that both run in the same boot) loaded with `kdrive load -j` (stubs
  required);
- C: lkm/kernel/ref/kfib/kfib_ref.c (/dev/kfibref, `make kmod-kfib`).

fib(30) makes ~1.3e7 calls of ~8 instructions, beyond the kernel's default
budget of 10^8 instructions per callback: the scripts are loaded with
KFIB_BUDGET (default 10^10). One QEMU boot per kernel line
(tests/kernel/guest/kfib.sh); the devices take turns over KFIB_ROUNDS
rounds, each call timed in the guest (tests/kernel/guest/kbench_ioctl.c,
CLOCK_MONOTONIC) and fed to pytest-benchmark through a guest clock. The
ratio column is each row's median over the interpreter's; the issue's goal
is the JIT at least 5x faster than the interpreter (ratio <= 0.20).

    KFIB_N        N (default 30)
    KFIB_ROUNDS   rounds per device (default 7)
    KFIB_BUDGET   instruction budget per callback (default 10^10)

Under TCG (no KVM on these machines) absolute numbers are those of an
emulated CPU.

    python3 -m pytest bench/test_kfib.py --benchmark-only
"""

import os
import re
import statistics
import sys

import pytest

from benchlib import K_LABEL, ROOT, table

sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import ktest  # noqa: E402
import qemu  # noqa: E402
import kbench  # noqa: E402

N = int(os.environ.get("KFIB_N", "30"))
ROUNDS = int(os.environ.get("KFIB_ROUNDS", "7"))
BUDGET = int(os.environ.get("KFIB_BUDGET", str(10**10)))
SOURCE = ROOT / "bench" / "kernel" / "kfib.k"
GOAL = 5.0

K_INTERP = K_LABEL
K_JIT = "K (JIT)"
C_LABEL = "C kfib_ref (gcc -O2, kernel module)"
DEVICES = {K_INTERP: "/dev/kfib", K_JIT: "/dev/kfibj", C_LABEL: "/dev/kfibref"}
LABELS = [K_INTERP, K_JIT, C_LABEL]


def _fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def prepare():
    src = SOURCE.read_text()
    kbench.compile_k(src, "kfib")
    jit_src = src.replace('Device.register("kfib"', 'Device.register("kfibj"')
    assert jit_src != src
    data = kbench.compile_k(jit_src, "kfibj")
    SUITE.files.update(kbench.build_companion("kfib_jit", {"kfibj": data}))
    (kbench.OUT / "kfib.conf").write_text(
        f"ROUNDS={ROUNDS}\nN={N}\nBUDGET={BUDGET}\n")


SUITE = ktest.GuestSuite(
    "kfib",
    modules=["kfib/kfib_ref.ko", "konoha/konoha.ko"],
    files={"ktest/bin/kbench_ioctl": "build/kernel/guest/kbench_ioctl",
           "ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bench/kfib.kbc": "build/kernel/bench/kfib.kbc",
           "ktest/bench/kfibj.kbc": "build/kernel/bench/kfibj.kbc",
           "ktest/bench/kfib.conf": "build/kernel/bench/kfib.conf"},
    build_hint="make kmod-kfib kernel-suites build/kernel/guest/kbench_ioctl",
    prepare=prepare,
    timeout=1200,
)

TABLES = {}
for _line in qemu.KERNEL_LINES:
    TABLES[_line] = table(
        f"kfib-{_line}",
        f"fib({N}) in the kernel, Linux {_line} (QEMU), median of {ROUNDS} rounds",
        "Milliseconds per ioctl computing fib(N) recursively, measured in the "
        "guest around the ioctl; the ratio column is each row's median over "
        f"the K interpreter's (goal: JIT <= {1 / GOAL:.2f}, i.e. >= {GOAL:g}x "
        "faster). The three devices take turns round by round in one boot.")
    TABLES[_line].unit = "ms"
    for _label in LABELS:
        TABLES[_line].declare(_label)

_ROUND = re.compile(r"round (\d+) ioctl (\S+) cmd=1 arg=(\d+) result=(-?\d+) ns=(\d+)")
_SAMPLES = {}


def guest_samples(line):
    """Seconds per ioctl of each round, by device path."""
    if line in _SAMPLES:
        return _SAMPLES[line]
    r = kbench.checked_boot(SUITE, line, "kfib")
    samples = {}
    want = _fib(N)
    for c in r.cases:
        for d in c.diagnostics:
            m = _ROUND.match(d)
            if m:
                assert int(m.group(4)) == want, f"{m.group(2)}: fib({N}) = {m.group(4)}"
                samples.setdefault(m.group(2), []).append(int(m.group(5)) * 1e-9)
    native = [d for d in r.case("unload").diagnostics if "native entries" in d]
    _SAMPLES[line] = (samples, native)
    return _SAMPLES[line]


@pytest.mark.kernel
@pytest.mark.benchmark(group="kfib", timer=kbench.guest_clock, disable_gc=False)
@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("line", qemu.KERNEL_LINES)
def test_kfib(benchmark, line, label):
    tab = TABLES[line]
    tab.set(label, status="failed")
    all_samples, native = guest_samples(line)
    samples = all_samples[DEVICES[label]]
    assert len(samples) == ROUNDS, f"{len(samples)} rounds reported, expected {ROUNDS}"
    it = iter(samples)

    def one_round():
        kbench.advance_clock(next(it))

    benchmark.extra_info.update(kernel=line, device=DEVICES[label], n=N,
                                ms_per_call=[round(s * 1e3, 2) for s in samples])
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    median = statistics.median(samples)
    status = "ok"
    if label != K_INTERP:
        interp = all_samples[DEVICES[K_INTERP]]
        speedup = statistics.median(interp) / median
        paired = statistics.median(i / s for i, s in zip(interp, samples))
        benchmark.extra_info.update(speedup=round(speedup, 2),
                                    median_of_round_speedups=round(paired, 2))
        status = f"ok: {speedup:.1f}x faster than the interpreter"
        if label == K_JIT:
            assert native, "no 'native entries' line: the script did not run on stubs"
            entries = re.search(r"(\d+) native entries", native[-1])
            status += (f" (goal {GOAL:g}x: {'met' if speedup >= GOAL else 'NOT met'}; "
                       f"{entries.group(1) if entries else '?'} native entries)")
    tab.set(label, status=status, median=median, min=min(samples),
            version=qemu.installed_kernels()[line].release)
