"""konoha.ko on 6.1 and 6.12 (lkm/kernel/), one QEMU boot per kernel
running tests/kernel/guest/konoha.sh:

- /dev/konoha is 0600; other users get EACCES, and EPERM from the ioctls
  without CAP_SYS_ADMIN;
- loading by `cat IMAGE > /dev/konoha`, by close(2) (its errno) and by
  KONOHA_IOC_LOAD (kload), which returns the verifier's or the init's
  message; print() reaches the kernel log as "konoha: NAME: ...";
- names: a script name or device name in use gives EEXIST;
- every device operation (open, read, write, ioctl, lseek, release, the
  defaults of Device, node modes) and the errno mapping, aborts (budget,
  heap, depth) giving EIO with the device still usable;
- a failing init: its errno, its report, its devices removed;
- (1.1) a DeviceError logs one line (not for EAGAIN); load-time
  parameters through KONOHA_IOC_LOAD_PARAMS reach System.param, and every
  bad parameter blob (names, counts, sizes, duplicates, missing NULs, a
  set reserved field, bad pointers) is refused with EINVAL or EFAULT,
  leaves no script and leaks nothing;
- unload while a device is open: EBUSY, nothing changes; unload removes
  the nodes; 200 load/unload cycles leave the module's live allocation
  count (KONOHA_IOC_LIST) unchanged, and zero once every script is gone;
- rmmod removes every node; the kernel log stays clean.

`make kmod-konoha` builds the module and the guest tools."""

import ktest
from kimages import IMAGES, compile_scripts, guest_files
import qemu

SCRIPTS = ["hello_dev", "konoha_ops", "konoha_badinit", "konoha_cycle",
           "konoha_params"]


def prepare():
    compile_scripts(SCRIPTS)
    # examples/hello.k, a program without devices, as /ktest/images/hello.kbc
    import sys
    sys.path.insert(0, str(qemu.REPO))
    from frontend.compiler import compile_source
    source = qemu.REPO / "examples" / "hello.k"
    (IMAGES / "hello.kbc").write_bytes(compile_source(source.read_text(), source.name))


SUITE = ktest.GuestSuite(
    "konoha",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/ktest_open": "build/kernel/guest/ktest_open",
           "ktest/bin/ktest_load": "build/kernel/guest/ktest_load",
           "ktest/bin/kload": "build/kernel/guest/kload",
           **guest_files(SCRIPTS + ["hello"])},
    build_hint="make kmod-konoha",
    prepare=prepare,
    timeout=300,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
