"""The harness's side of the debug kernel (tools/debug_kernel.sh): the
kernel log check catches what its checkers report (and not a script's
output that happens to say Oops), the debug line is found in
build/debug-kernel/ and chosen with KTEST_KERNELS, and its boots get scaled
timeouts. Nothing here boots a kernel."""

from __future__ import annotations

import pytest

import qemu

# First lines of the reports the debug kernel's checkers print (as the 6.1
# kernel words them), each of which must fail test_kernel_log.
REPORTS = [
    "[   12.345678] BUG: KASAN: slab-out-of-bounds in kvm_run+0x1a2/0x3b0 [konoha]",
    "[   12.345678] BUG: KASAN: use-after-free in device_read+0x51/0x90 [konoha]",
    "[   12.345678] BUG: KFENCE: out-of-bounds read in kvm_heap_alloc+0x2c/0x80 [konoha]",
    "[   12.345678] UBSAN: array-index-out-of-bounds in lkm/core/interp.c:120:9",
    "[   12.345678] UBSAN: shift-out-of-bounds in lkm/core/interp.c:300:14",
    "[   12.345678] WARNING: possible circular locking dependency detected",
    "[   12.345678] WARNING: possible recursive locking detected",
    "[   12.345678] WARNING: inconsistent lock state",
    "[   12.345678] WARNING: suspicious RCU usage",
    "[   12.345678] WARNING: lock held when returning to user space!",
    "[   12.345678] BUG: sleeping function called from invalid context at mm/slab.h:723",
    "[   12.345678] list_add corruption. prev->next should be next (ffff8880), "
    "but was 0000000000000000.",
    "[   12.345678] kernel BUG at lib/list_debug.c:56!",
    "[   12.345678] Oops: 0000 [#1] PREEMPT SMP KASAN NOPTI",
    "[   12.345678] invalid opcode: 0000 [#1] PREEMPT SMP KASAN NOPTI",
]

# What the debug kernel prints on every boot: none of it is an error.
BENIGN = [
    "[    0.000000] kasan: KernelAddressSanitizer initialized",
    "[    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., "
    "Ingo Molnar",
    "[    0.000000] ... MAX_LOCKDEP_SUBCLASSES:  8",
    "[    0.123456] kfence: initialized - using 2097152 bytes for 255 objects "
    "at 0x(____ptrval____)-0x(____ptrval____)",
    "[    1.234567] konoha: loaded hello_device",
    # a script's output (a class named Oops), not a kernel oops
    "[    8.458698] konoha: c127: Oops: bad",
]


def _result(dmesg: str) -> qemu.BootResult:
    return qemu.BootResult(
        kernel=qemu.Kernel("debug", "6.1.0-kdebug", qemu.DEBUG_DIR / "src"),
        suite="x", accel="tcg", seconds=1.0, returncode=0, timed_out=False,
        console="", plan=0, cases=[], suite_status=0, dmesg=dmesg,
        completed=True)


@pytest.mark.parametrize("line", REPORTS)
def test_kernel_log_check_catches_checker_reports(line):
    assert _result("\n".join(BENIGN + [line])).kernel_log_errors() == [line]


def test_kernel_log_check_passes_the_debug_kernels_boot_messages():
    assert _result("\n".join(BENIGN)).kernel_log_errors() == []


@pytest.mark.parametrize(("value", "lines"), [
    ("", ("6.1", "6.12")),
    ("debug", ("debug",)),
    ("debug,6.1", ("6.1", "debug")),
    ("6.12 6.1", ("6.1", "6.12")),
])
def test_ktest_kernels_picks_the_lines(monkeypatch, value, lines):
    monkeypatch.setenv("KTEST_KERNELS", value)
    assert qemu._kernel_lines() == lines


def test_ktest_kernels_refuses_an_unknown_line(monkeypatch):
    monkeypatch.setenv("KTEST_KERNELS", "6.6")
    with pytest.raises(ValueError, match="6.6"):
        qemu._kernel_lines()


def _fake_debug_build(root, release="6.1.99-kdebug"):
    (root / "src").mkdir(parents=True)
    (root / "src" / "vmlinux").write_bytes(b"\x7fELF")
    (root / "src" / "arch" / "x86" / "boot").mkdir(parents=True)
    (root / "src" / "arch" / "x86" / "boot" / "bzImage").write_bytes(b"MZ")
    (root / "release").write_text(release + "\n")
    return root


def test_debug_kernel_is_found_only_once_finished(monkeypatch, tmp_path):
    root = _fake_debug_build(tmp_path / "debug-kernel")
    monkeypatch.setattr(qemu, "DEBUG_DIR", root)
    # No stamp: the build has not finished (tools/debug_kernel.sh writes
    # it last).
    assert qemu.debug_kernel() is None
    (root / "stamp").write_text("0123\n")
    kernel = qemu.debug_kernel()
    assert kernel is not None and kernel.debug
    assert (kernel.line, kernel.release) == ("debug", "6.1.99-kdebug")
    # Booted through its decompressor, not from vmlinux (see boot_image).
    assert qemu.boot_image(kernel) == root / "src" / "arch" / "x86" / "boot" / "bzImage"
    assert kernel.modules_dir == root / "modroot" / "lib" / "modules" / "6.1.99-kdebug"
    assert kernel.build_dir == qemu.BUILD / "kernel" / "6.1.99-kdebug"


def test_debug_kernel_boots_with_scaled_timeout_and_every_kasan_report(
        monkeypatch, tmp_path):
    root = _fake_debug_build(tmp_path / "debug-kernel")
    (root / "stamp").write_text("0123\n")
    monkeypatch.setattr(qemu, "DEBUG_DIR", root)
    kernel = qemu.debug_kernel()
    monkeypatch.delenv("KTEST_TIMEOUT_SCALE", raising=False)
    assert kernel.timeout_scale == qemu.DEBUG_TIMEOUT_SCALE > 1
    monkeypatch.setenv("KTEST_TIMEOUT_SCALE", "7")
    assert kernel.timeout_scale == 7
    # Debian's kernels keep their timeouts whatever the scale says.
    assert qemu.Kernel("6.1", "6.1.0-1-amd64").timeout_scale == 1
    cmd = qemu.qemu_command("tcg", kernel, tmp_path / "initrd", 512)
    append = cmd[cmd.index("-append") + 1]
    assert "kasan_multi_shot" in append.split()
    assert cmd[cmd.index("-kernel") + 1] == str(root / "src" / "arch" / "x86" / "boot"
                                                 / "bzImage")


def test_builtin_kernel_modules_need_no_file(monkeypatch, tmp_path):
    root = tmp_path / "debug-kernel"
    mods = root / "modroot" / "lib" / "modules" / "6.1.99-kdebug"
    mods.mkdir(parents=True)
    (mods / "modules.builtin").write_text("kernel/fs/fat/fat.ko\nkernel/fs/fat/vfat.ko\n")
    (mods / "modules.dep").write_text("kernel/lib/crc7.ko:\n")
    (mods / "kernel" / "lib").mkdir(parents=True)
    monkeypatch.setattr(qemu, "DEBUG_DIR", root)
    kernel = qemu.Kernel("debug", "6.1.99-kdebug", root / "src")
    assert qemu.resolve_kernel_modules(kernel, ["vfat"]) == []
    assert qemu.resolve_kernel_modules(kernel, ["vfat", "crc7"]) == [
        mods / "kernel" / "lib" / "crc7.ko"]
