"""konoha.ko on 6.1 and 6.12: /dev/konoha loads images compiled by ktc
(a program, a device script), the script's device answers reads and a
10,000-round open/close loop, a garbage image is refused, rmmod removes
every node. One QEMU boot per kernel runs tests/kernel/guest/konoha.sh;
`make kmod-konoha` builds the module.

The suite is optional until the VM core builds in the kernel: without
konoha.ko it is skipped, even under `make test`."""

import subprocess
import sys

import ktest
import qemu

IMAGES = qemu.BUILD / "kernel" / "images"
SCRIPTS = {
    "hello": qemu.REPO / "examples" / "hello.k",
    "hello_dev": qemu.Path(__file__).resolve().parent / "scripts" / "hello_dev.k",
}


def compile_images():
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, source in SCRIPTS.items():
        out = IMAGES / f"{name}.kbc"
        proc = subprocess.run([sys.executable, "-m", "frontend.cli", "compile",
                               str(source), "-o", str(out)], cwd=qemu.REPO,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"ktc compile {source} failed:\n{proc.stderr}"


SUITE = ktest.GuestSuite(
    "konoha",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/ktest_open": "build/kernel/guest/ktest_open",
           "ktest/bin/ktest_load": "build/kernel/guest/ktest_load",
           **{f"ktest/images/{n}.kbc": f"build/kernel/images/{n}.kbc"
              for n in SCRIPTS}},
    build_hint="make kmod-konoha",
    prepare=compile_images,
    required=False,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
