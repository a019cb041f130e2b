"""The C reference devices on 6.1 and 6.12, one QEMU boot per kernel
(tests/kernel/guest/ref_device.sh):

- /dev/kref (lkm/kernel/ref/kref_dev.c, the open_overhead baseline): load,
  read, 10,000 open/close rounds, unload, reload;
- the C peers of the chardev benchmark, checked functionally by the guest
  tool kchr (tests/kernel/guest/kchr.c): /dev/kref_rot13 (kref_rot13.c)
  byte for byte with dd in odd block sizes and kchr's odd read sizes, its
  64 KiB bound; /dev/kref_fifo0 and 1 (kref_fifo.c): O_NONBLOCK EAGAIN,
  poll masks, the 64 KiB bound, a reader blocked in read(2) or poll(2)
  woken by a writer from another process, EINTR on a signal, a ping-pong.

`make kmod-ref` builds the modules and ktest_open; kchr is built here
(its Makefile rule) when missing."""

import subprocess

import ktest
import qemu


def _build_kchr():
    subprocess.run(["make", "-s", "build/kernel/guest/kchr"], cwd=qemu.REPO,
                   check=True, capture_output=True)


SUITE = ktest.GuestSuite(
    "ref_device",
    modules=["ref/kref_dev.ko", "ref/kref_rot13.ko", "ref/kref_fifo.ko"],
    files={"ktest/bin/ktest_open": "build/kernel/guest/ktest_open",
           "ktest/bin/kchr": "build/kernel/guest/kchr"},
    build_hint="make kmod-ref build/kernel/guest/kchr",
    prepare=_build_kchr,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
