"""Scripted drivers in konoha.ko on 6.1 and 6.12, one QEMU boot per kernel
(tests/kernel/guest/kdrivers.sh; scripts in tests/kernel/scripts/kdrv_*.k):

- every device operation (open, read, write, ioctl, lseek, release) and the
  errno each kind of script failure gives (DeviceError(e) -> e, e outside
  Linux's user errnos 1..133 -> EIO, other exceptions and aborts -> EIO,
  content over 64 KiB -> EFBIG), read pieces, lseek and EOF, the defaults of Device, modes;
- ENXIO until the init is over; a failing init removes its devices;
- 8 processes opening and reading one device 10,000 times each, every read
  checked (kdrive stress), every open and release counted by the script;
- unloading while a device is open fails with EBUSY and changes nothing;
- 200 load/read/unload cycles with the module's live allocation count
  (KONOHA_IOC_LIST) back to zero after each;
- a non-root user cannot load or unload: EACCES on the 0600 node; EPERM
  from the module with a descriptor root opened, or with the node opened
  up to everyone (ioctl and write+close alike);
- CharDevices (kdrv_chardev.k): positions, pread/pwrite, the script's
  seek, poll(2)'s revents, ioctls reading and writing the caller's memory
  (EFAULT for a bad pointer), O_NONBLOCK, EOVERFLOW, read overflow, and a
  rot13 device streaming 3 MiB through dd, checked byte for byte.
"""

import ktest
from kimages import compile_scripts, guest_files

SCRIPTS = ["kdrv_ops", "kdrv_stress", "kdrv_cycle", "kdrv_slow_init",
           "kdrv_failing_init", "kdrv_chardev"]

SUITE = ktest.GuestSuite(
    "kdrivers",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/bin/ktest_load": "build/kernel/guest/ktest_load",
           **guest_files(SCRIPTS)},
    build_hint="make kernel-suites",
    prepare=lambda: compile_scripts(SCRIPTS),
    timeout=240,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
