"""`ktc`, the K tool: drives the compiler (frontend/), the JIT (ctjit/), the
userspace VM and konoha.ko.

    cli     the command line (`ktc check|compile|run|disasm|load|unload|list`)
    host    the userspace VM in serve mode, driven from Python
    konoha  the /dev/konoha ioctl interface (lkm/kernel/konoha_uapi.h)
    kmod    building JIT companion modules against an installed kernel

The dependency order is ktc -> ctjit -> frontend: frontend/ is a pure
compiler and imports neither of the others (tests/test_layering.py).
"""
