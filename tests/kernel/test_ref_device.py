"""The C reference device /dev/kref (lkm/kernel/ref/kref_dev.c) on 6.1 and
6.12: load, read, 10,000 open/close rounds, unload, reload. One QEMU boot
per kernel runs tests/kernel/guest/ref_device.sh; `make kmod-ref` builds
the module and the guest's ktest_open."""

import ktest

SUITE = ktest.GuestSuite(
    "ref_device",
    modules=["ref/kref_dev.ko"],
    files={"ktest/bin/ktest_open": "build/kernel/guest/ktest_open"},
    build_hint="make kmod-ref",
)

test_boot, test_case, test_kernel_log = SUITE.tests()
