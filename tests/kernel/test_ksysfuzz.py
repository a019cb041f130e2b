"""A system-call fuzzer on the devices of K scripts, one QEMU boot per kernel
(6.1, 6.12): tests/kernel/guest/ksysfuzz.sh runs tests/kernel/guest/ksysfuzz.c
against the devices of tests/kernel/fuzz/fz_*.k (compiled here by ktc).

Several processes, as root and as uids 1000 and 1001, make random sequences
of open/read/write/lseek/pread/pwrite/readv/writev/ioctl/poll/mmap/dup/close
and fork, some of them killed or interrupted by signals at random times,
while another unloads two of the scripts whenever it can and loads them again,
for FUZZ_SYSCALL_SECONDS (default 25: the short run of `make test`; `make
fuzz-syscalls` runs a longer campaign) with the seed FUZZ_SYSCALL_SEED
(default 20251201). Then, in the guest: no file is left open, each script's
heap is within its quota and back near its size after the load once its
state is dropped, every script unloads, the module's live allocation count
is zero, konoha.ko unloads, and the kernel log (watched during the whole run,
as the scripts' reports wrap the ring buffer) has no oops, BUG, WARNING,
lockup, stall or hung task. Here: the fuzzer ran, exercised every system
call, and ended without anomalies, unexpected deaths or hung processes.
No system call returned an errno outside Linux's user range 1..133 (a
script's DeviceError(512) once restarted a call forever: the language
reference §9.1). A host test checks that the fuzzer itself ends on time
and reaps what it started.

FUZZ_SYSCALL_PROCS sets the number of processes (default 6) and
FUZZ_SYSCALL_CAPS extra fuzzer options, e.g. "-x 108:50 -x 105:20" to cap the
argument of ioctls 108 and 105 (inputs held back while a kernel crash they
cause every time is being fixed; none is needed now).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

import ktest
import qemu

FUZZ_DIR = qemu.Path(__file__).resolve().parent / "fuzz"
OUT = qemu.BUILD / "kernel" / "ksysfuzz"
SCRIPTS = ["fz_state", "fz_errors", "fz_limits", "fz_slow", "fz_cycle", "fz_mode0",
           "fz_chardev"]

SECONDS = int(os.environ.get("FUZZ_SYSCALL_SECONDS", "25"))
SEED = int(os.environ.get("FUZZ_SYSCALL_SEED", "20251201"))
PROCS = int(os.environ.get("FUZZ_SYSCALL_PROCS", "6"))
CAPS = os.environ.get("FUZZ_SYSCALL_CAPS", "")
GRACE = 60

# Every system call the fuzzer makes must have been made, and these must
# have succeeded at least once: a run that only collects EBADF proves little.
MUST_SUCCEED = ("open", "close", "read", "write", "pread", "lseek", "ioctl", "dup", "fork")


def prepare() -> None:
    sys.path.insert(0, str(qemu.REPO))
    from frontend.compiler import CompileError, compile_source
    OUT.mkdir(parents=True, exist_ok=True)
    for name in SCRIPTS:
        source = FUZZ_DIR / f"{name}.k"
        try:
            image = compile_source(source.read_text(), source.name)
        except CompileError as e:
            raise AssertionError(f"ktc cannot compile {source}: {e}") from e
        (OUT / f"{name}.kbc").write_bytes(image)
    (OUT / "ksysfuzz.conf").write_text(
        f"FUZZ_SECONDS={SECONDS}\nFUZZ_SEED={SEED}\nFUZZ_PROCS={PROCS}\n"
        f"FUZZ_CAPS='{CAPS}'\n")


SUITE = ktest.GuestSuite(
    "ksysfuzz",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/ksysfuzz": "build/kernel/guest/ksysfuzz",
           "ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/ksysfuzz.conf": "build/kernel/ksysfuzz/ksysfuzz.conf",
           **{f"ktest/fuzz/{n}.kbc": f"build/kernel/ksysfuzz/{n}.kbc" for n in SCRIPTS}},
    build_hint="make kernel-suites",
    prepare=prepare,
    # the run, the grace the fuzzer gives killed processes, boot and checks
    timeout=SECONDS + GRACE + 240,
)

test_boot, test_case, test_kernel_log = SUITE.tests()


def fuzz_summary(line: str) -> list[str]:
    r = SUITE.boot(line)
    case = r.case("fuzz")
    if case is None:
        pytest.fail(f"the fuzz case of ksysfuzz did not report on {r.kernel.release}",
                    pytrace=False)
    return case.diagnostics


@pytest.mark.kernel
@pytest.mark.parametrize("line", list(qemu.KERNEL_LINES))
def test_fuzz_summary(line):
    """The fuzzer's own summary: every system call made, the main ones
    successful at least once, nothing anomalous, no process left behind."""
    text = fuzz_summary(line)
    joined = "\n".join(text)
    m = re.search(r"^ops (\d+) ", joined, re.M)
    assert m, f"no summary from ksysfuzz:\n{joined}"
    assert int(m.group(1)) >= 100, f"too few operations:\n{joined}"
    per_op = {}
    for t in text:
        m = re.match(r"\s+([a-z]+)\s+(\d+) ok\s+(\d+)", t)
        if m:
            per_op[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    missing = [op for op in MUST_SUCCEED if per_op.get(op, (0, 0))[1] == 0]
    assert not missing, f"never succeeded: {missing}\n{joined}"
    unmade = [op for op, (n, _) in per_op.items() if n == 0]
    assert not unmade, f"never made: {unmade}\n{joined}"
    # the loader process unloaded (or met EBUSY) and reloaded scripts
    m = re.search(r"^unloads: (\d+) done .* failed (\d+)\), (\d+) busy", joined, re.M)
    assert m and int(m.group(1)) + int(m.group(3)) > 0 and m.group(2) == "0", \
        f"unloads during the run:\n{joined}"
    for what in ("anomalies", "unexpected deaths", "hangs",
                 "errnos outside 1..133 returned to userspace"):
        m = re.search(rf"^{what}: (\d+)$", joined, re.M)
        assert m and m.group(1) == "0", f"{what}:\n{joined}"


def test_fuzzer_ends_on_time_on_the_host():
    """The fuzzer is never what hangs: run on the host against /dev/null and
    /dev/zero (not script devices: what it calls anomalies there is
    expected), it ends within its time and grace, with every process it
    started reaped and none dead of a signal nobody sent."""
    exe = qemu.BUILD / "kernel" / "guest" / "ksysfuzz"
    if not exe.exists():
        ktest._unavailable(f"not built: {exe}: run `make kmod-konoha`")
    if os.geteuid() != 0:
        pytest.skip("the fuzzer's workers change uid: root only")
    start = time.monotonic()
    proc = subprocess.run([str(exe), "-s", "7", "-t", "3", "-p", "6", "-g", "10",
                           "/dev/null", "/dev/zero"],
                          capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - start
    out = proc.stdout
    assert proc.returncode in (0, 1), f"exit status {proc.returncode}:\n{out}{proc.stderr}"
    assert elapsed < 3 + 10, f"took {elapsed:.1f} s:\n{out}"
    assert re.search(r"^ops \d+ ", out, re.M), out
    # "hangs: 0": the fuzzer (a subreaper) waited until it had no child left,
    # forked grandchildren included
    assert "\nunexpected deaths: 0\n" in out and "\nhangs: 0\n" in out, out
