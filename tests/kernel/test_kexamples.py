"""The example drivers in konoha.ko on 6.1 and 6.12, one QEMU boot per
kernel (tests/kernel/guest/kexamples.sh), driven from shell tools and from
C (tests/kernel/guest/kexamples_io.c):

- examples/kvstore.k: text commands through echo, printf and cat, replies
  kept per open file; the _IOWR round trip of KVSTORE_GET (and the _IOW
  KVSTORE_PUT) through the caller's struct, EFAULT for NULL, an unmapped
  page, a struct running off its mapping and a read-only struct; ENOENT,
  EINVAL and ENOTTY, the DeviceError lines in the kernel log; 4 processes
  x 500 PUTs of one key, none lost; unload refused while open;
- examples/heartbeat.k: a bad period_ms parameter refuses the load; head
  reads consecutive beats; blocking reads, O_NONBLOCK EAGAIN, poll(2),
  select(2) and epoll woken by the timer; the beat count against elapsed
  time; the period set by ioctl (EPERM on a read-only file); a signal
  ending a waiting read with EINTR, or restarting it under SA_RESTART; a reader
  waiting in read(2) keeps the unload refused until SIGKILL ends it; 20
  unloads with a 1 ms timer armed or running.

The images are compiled from examples/ on the host as
build/kernel/images/ex_NAME.kbc; kexamples_io is built here (its Makefile
rule) when missing.
"""

import subprocess
import sys

import ktest
import qemu
from kimages import IMAGES

EXAMPLES = ["kvstore", "heartbeat"]
TOOL = "build/kernel/guest/kexamples_io"


def _prepare() -> None:
    sys.path.insert(0, str(qemu.REPO))
    from frontend.compiler import CompileError, compile_source
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        source = qemu.REPO / "examples" / f"{name}.k"
        try:
            image = compile_source(source.read_text(), source.name)
        except CompileError as e:
            raise AssertionError(f"ktc cannot compile {source}: {e}") from e
        (IMAGES / f"ex_{name}.kbc").write_bytes(image)
    subprocess.run(["make", "-s", TOOL], cwd=qemu.REPO, check=True,
                   capture_output=True)


SUITE = ktest.GuestSuite(
    "kexamples",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/bin/kexamples_io": TOOL,
           **{f"ktest/images/ex_{n}.kbc": f"build/kernel/images/ex_{n}.kbc"
              for n in EXAMPLES}},
    build_hint="make kernel-suites",
    prepare=_prepare,
    timeout=240,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
