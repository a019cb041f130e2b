"""`make demo`: K drivers in a real kernel, booted under QEMU.

Compiles examples/hello_device.k (and a script whose init fails), boots
Debian's kernel (6.12 by default; KDEMO_LINE=6.1 for the other line) with
konoha.ko and kload in a busybox initramfs (tests/kernel/qemu.py), runs the
steps of tools/demo_guest.sh there and shows what each printed, then the
kernel log lines of the module and the open_overhead tables if
`make bench` has produced them."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "kernel"))

import qemu  # noqa: E402
from frontend.compiler import compile_source  # noqa: E402

IMAGES = qemu.BUILD / "kernel" / "images"
SOURCES = {"hello_device": REPO / "examples" / "hello_device.k",
           "konoha_badinit": REPO / "tests" / "kernel" / "scripts" / "konoha_badinit.k"}


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> int:
    line = os.environ.get("KDEMO_LINE", "6.12")
    kernel = qemu.installed_kernels().get(line)
    if kernel is None:
        print(f"kernel {line} is not installed: run `make kernel-setup`", file=sys.stderr)
        return 1
    module = Path(os.environ.get("KDEMO_MODULE") or
                  kernel.build_dir / "konoha" / "konoha.ko")
    kload = qemu.BUILD / "kernel" / "guest" / "kload"
    for p, hint in ((module, "make kmod-konoha"), (kload, "make kmod-konoha")):
        if not p.exists():
            print(f"{p} is missing: run `{hint}`", file=sys.stderr)
            return 1

    step("1. the driver, a K script: examples/hello_device.k")
    print(SOURCES["hello_device"].read_text().rstrip())

    step("2. compile it on the host (ktc compile)")
    IMAGES.mkdir(parents=True, exist_ok=True)
    files = {"ktest/bin/kload": kload}
    for name, src in SOURCES.items():
        out = IMAGES / f"{name}.kbc"
        out.write_bytes(compile_source(src.read_text(), src.name))
        files[f"ktest/images/{name}.kbc"] = out
        print(f"{src.relative_to(REPO)} -> {out.relative_to(REPO)} ({out.stat().st_size} bytes)")

    step(f"3. boot Linux {kernel.release} under QEMU ({qemu.accel()}) with konoha.ko")
    done = threading.Event()

    def ticker():
        t0 = time.monotonic()
        while not done.wait(5):
            print(f"   ... booting and running the steps ({time.monotonic() - t0:.0f} s)",
                  flush=True)

    threading.Thread(target=ticker, daemon=True).start()
    try:
        r = qemu.boot_suite(kernel, REPO / "tools" / "demo_guest.sh",
                            modules=[module], files=files, timeout=300)
    finally:
        done.set()
    print(f"   guest finished in {r.seconds:.1f} s")
    if not r.completed:
        print("the guest did not finish; console tail:\n" + r.console_tail(40))
        return 1

    for n, case in enumerate(r.cases, start=4):
        step(f"{n}. in the guest: {case.name.replace('_', ' ')}")
        for d in case.diagnostics:
            print(f"   {d[2:] if d.startswith('# ') else d}")

    step("kernel log of konoha.ko")
    for entry in r.dmesg.splitlines():
        if "konoha" in entry:
            print(f"   {entry}")
    errors = r.kernel_log_errors()
    print("   kernel log clean: " + ("yes" if not errors else f"NO: {errors[:3]}"))

    step("open(2)+close(2) overhead (bench/test_open_overhead.py)")
    tables = sorted((REPO / "bench" / "results").glob("open_overhead*.md"))
    if tables:
        for t in tables:
            print(t.read_text().rstrip())
    else:
        print("   no results yet: `make bench` measures them")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
