"""`ktc`, the K tool: drives the compiler (frontend/), the JIT (ctjit/), the
userspace VM and konoha.ko.

    cli     the command line (`ktc check|compile|run|disasm|load|unload|
            list|try|ioctl`), its exit statuses and help texts
    host    the userspace VM (build/kvm) in run and serve mode, driven
            from Python: the device host of `ktc run --ops` and the tests
    devops  the table of device operations, read from lkm/core/devops.def
            (shared with device.c, build/kvm and the guest tool kdrive)
    konoha  the /dev/konoha ioctl interface (lkm/kernel/konoha_uapi.h)
    kmod    building JIT companion modules against an installed kernel
    try_    `ktc try`: a Debian kernel under QEMU with konoha.ko and a
            script loaded, a command or a shell run there
    vmkit   the QEMU pieces try_ and tests/kernel share: initramfs,
            busybox, vmlinux extraction, QEMU's command line, log errors
    ioctl   `ktc ioctl`: one ioctl(2) on a device node

The dependency order is ktc -> ctjit -> frontend: frontend/ is a pure
compiler and imports neither of the others (tests/test_layering.py).
"""
