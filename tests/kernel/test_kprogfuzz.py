"""A slice of the random programs (tests/progfuzz) inside the kernel: the
programs of a fixed seed range are generated with the reference model's
expected output, compiled on the host, and ONE boot per kernel line loads
each image through /dev/konoha with its limits (`kdrive conform`, as the
conformance suite does), collects what it printed and its report from the
kernel log, and unloads it.

Each program is one test per kernel: its output, load result (a failing
init for status 2) and the init's report must be the model's.  The kernel
stack is 16 KiB: native nesting (join -> toString) stops at 12 to 16
levels there (the stack guard; the kernel also moves the stack by a
random offset at each system call) instead of 16, so programs built
around deep join chains or ending in such an abort are left to the
userspace oracles, and so are programs that print a NUL byte (the kernel
log cannot hold one).

    KPROGFUZZ_SEED, KPROGFUZZ_COUNT   the slice (default 5000, 120)
"""

from __future__ import annotations

import os
import sys

import pytest

import ktest
import qemu
from test_kconformance import ENOEXEC, init_report, outcomes

sys.path.insert(0, str(qemu.REPO))

SEED = int(os.environ.get("KPROGFUZZ_SEED", "5000"))
COUNT = int(os.environ.get("KPROGFUZZ_COUNT", "120"))
IMAGES = qemu.BUILD / "kernel" / "images" / "progfuzz"
MANIFEST = IMAGES / "manifest"

# The limits of `ktc run`, which the model assumes unless a case sets them.
LIMITS = {"--budget": 1 << 32, "--heap": 256 << 20, "--depth": 1000}

# Native re-entries of the interpreter (lkm/core/kvm.h)
KVM_MAX_NEST = 16

CASES: dict[int, object] = {}
SKIPPED: dict[int, str] = {}
PROBLEMS: dict[int, str] = {}


def prepare() -> None:
    from frontend.compiler import compile_source
    from tests.progfuzz.gen import generate
    IMAGES.mkdir(parents=True, exist_ok=True)
    lines = []
    for seed in range(SEED, SEED + COUNT):
        try:
            case = generate(seed)
        except RuntimeError as e:
            PROBLEMS[seed] = f"no program: {e}"
            continue
        CASES[seed] = case
        if any("deep join" in n for n in case.notes):
            SKIPPED[seed] = "deep join chains: the kernel stack ends them sooner"
            continue
        if (case.err.startswith("abort: stack overflow") and
                case.err.count("\n  at ") <= KVM_MAX_NEST + 1):
            SKIPPED[seed] = ("native nesting ends in a stack overflow: where, "
                             "the kernel stack decides")
            continue
        if "\0" in case.out or "\0" in case.err:
            SKIPPED[seed] = "prints a NUL byte, which the kernel log cannot hold"
            continue
        try:
            image = compile_source(case.text, "p.k")
        except Exception as e:          # a generator or compiler bug
            PROBLEMS[seed] = f"ktc cannot compile it: {e}"
            continue
        name = f"p{seed}"
        (IMAGES / f"{name}.kbc").write_bytes(image)
        lim = dict(LIMITS)
        it = iter(case.args)
        for a in it:
            lim[a] = int(next(it))
        # the sixth field is the load parameters' file (`-`: none);
        # what follows it is a comment
        lines.append(f"{name} /ktest/pf/{name}.kbc {lim['--budget']} "
                     f"{lim['--heap']} {lim['--depth']} -  seed {seed}\n")
        SUITE.files[f"ktest/pf/{name}.kbc"] = \
            f"build/kernel/images/progfuzz/{name}.kbc"
    MANIFEST.write_text("".join(lines))


SUITE = ktest.GuestSuite(
    "kprogfuzz",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/pf/manifest": "build/kernel/images/progfuzz/manifest"},
    build_hint="make kernel-suites",
    prepare=prepare,
    timeout=300,
)

test_boot, test_case, test_kernel_log = SUITE.tests()

_OUTCOMES: dict[str, dict] = {}


@pytest.mark.kernel
@pytest.mark.parametrize(("line", "seed"),
                         [pytest.param(line, s, id=f"{line}:seed{s}")
                          for line in qemu.KERNEL_LINES
                          for s in range(SEED, SEED + COUNT)])
def test_generated_program(line: str, seed: int):
    result = SUITE.boot(line)
    if seed in PROBLEMS:
        pytest.fail(f"seed {seed}: {PROBLEMS[seed]}", pytrace=False)
    if seed in SKIPPED:
        pytest.skip(f"seed {seed}: {SKIPPED[seed]}")
    case = CASES[seed]
    if line not in _OUTCOMES:
        _OUTCOMES[line] = outcomes(result)
    got = _OUTCOMES[line].get(f"p{seed}")
    where = (f"seed {seed} in the kernel ({result.kernel.release}); "
             f"`python3 -m tests.progfuzz.run --seed {seed} --print` shows it")
    if got is None:
        pytest.fail(f"{where}: the guest reported nothing for it",
                    pytrace=False)
    out = "".join(text + "\n" for text in got.output)
    assert out == case.out, f"{where}: output differs"
    if case.status == 0:
        assert got.load == 0, f"{where}: load failed with {got.load}"
    else:
        assert got.load not in (0, -ENOEXEC), \
            f"{where}: expected the init to fail, load gave {got.load}"
        report = "".join(ln[2:] + "\n" for ln in init_report(got.other))
        assert report == case.err, f"{where}: the init's report differs"
