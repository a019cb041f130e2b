"""The host side of the kernel harness, without booting: KTAP parsing, the
initramfs writer, the suite case list, modules.dep resolution."""

import shutil
import subprocess

import pytest

import qemu

KTAP = """\
KTAP version 1
1..4
# $ insmod x.ko
ok 1 insmod
# got 'a', want 'b'
# second line
not ok 2 - read_string # exit status 1
ok 3 optional # SKIP no such device
    # nested diagnostics are kept
ok 4 last
"""


def test_parse_ktap_plan_results_and_diagnostics():
    plan, cases = qemu.parse_ktap(KTAP.splitlines())
    assert plan == 4
    assert [(c.number, c.name, c.status) for c in cases] == [
        (1, "insmod", "ok"), (2, "read_string", "not ok"),
        (3, "optional", "skip"), (4, "last", "ok")]
    assert cases[0].diagnostics == ["$ insmod x.ko"]
    assert cases[1].diagnostics == ["got 'a', want 'b'", "second line"]
    assert cases[1].directive == "exit status 1"
    assert cases[2].directive == "SKIP no such device"
    assert cases[3].diagnostics == ["    # nested diagnostics are kept"]


def test_parse_ktap_ignores_lines_that_are_not_results():
    plan, cases = qemu.parse_ktap(["noise", "ok /dev/x rmmod", "ok 1 a"])
    assert plan is None
    assert [c.name for c in cases] == ["a"]
    assert cases[0].diagnostics == ["noise", "ok /dev/x rmmod"]


def test_between_markers():
    lines = ["x", qemu.SUITE_BEGIN, "a", "b", f"{qemu.SUITE_END} 3", "y"]
    inside, end = qemu._between(lines, qemu.SUITE_BEGIN, qemu.SUITE_END)
    assert inside == ["a", "b"] and end == f"{qemu.SUITE_END} 3"
    inside, end = qemu._between(lines[:4], qemu.SUITE_BEGIN, qemu.SUITE_END)
    assert inside == ["a", "b"] and end is None


@pytest.mark.skipif(not shutil.which("cpio"), reason="cpio not installed")
def test_cpio_archive_lists_with_cpio(tmp_path):
    archive = qemu.Cpio()
    archive.chardev("dev/console", 5, 1)
    archive.file("ktest/bin/tool", b"#!/bin/sh\n", 0o755)
    archive.symlink("bin/sh", "busybox")
    path = tmp_path / "x.cpio"
    path.write_bytes(archive.bytes())
    proc = subprocess.run(["cpio", "-itv", "-F", str(path)], capture_output=True,
                          text=True, check=True)
    listing = proc.stdout
    for name in ("dev", "dev/console", "ktest", "ktest/bin", "ktest/bin/tool",
                 "bin/sh -> busybox"):
        assert name in listing
    assert "crw-------" in listing and "-rwxr-xr-x" in listing


def test_suite_cases_follow_the_definition_order():
    cases = qemu.suite_cases(qemu.GUEST_DIR / "ref_device.sh")
    assert cases[0] == "insmod" and "open_close_loop" in cases
    assert cases.index("rmmod") < cases.index("reload")


@pytest.mark.parametrize("line", qemu.KERNEL_LINES)
def test_resolve_kernel_modules_puts_dependencies_first(line):
    kernel = qemu.installed_kernels().get(line)
    if kernel is None:
        pytest.skip(f"kernel {line} not installed")
    paths = qemu.resolve_kernel_modules(kernel, ["vfat"])
    names = [p.name.split(".ko")[0] for p in paths]
    assert names[-1] == "vfat" and "fat" in names[:-1]
    assert all(p.exists() for p in paths)
