"""The pieces of a QEMU boot that `ktc try` and the kernel test harness
(tests/kernel/qemu.py) share: the initramfs writer, busybox, the kernel
image QEMU boots, the QEMU command line and the kernel log's error lines.

Nothing here needs root: the initramfs is written as a cpio archive in
Python (device nodes included), the kernel is booted from files under
/boot, and QEMU runs as the invoking user.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

QEMU = "qemu-system-x86_64"
QBOOT = Path("/usr/share/qemu/qboot.rom")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

# Lines of the kernel log that mean the kernel went wrong, whatever the
# tests said. Most of what the debug kernel's checkers print starts with
# "BUG:" or "WARNING:"; their own headers are listed too, so a report is
# caught whatever its first line looks like.
KERNEL_LOG_ERRORS = (
    "BUG:",
    "kernel BUG at",
    "WARNING:",
    "scheduling while atomic",
    "Call Trace",
    "Kernel panic",
    "general protection fault",
    # KASAN and KFENCE ("BUG: KASAN: slab-use-after-free in ...")
    "KASAN:",
    "KFENCE:",
    # UBSAN ("UBSAN: array-index-out-of-bounds in ...")
    "UBSAN:",
    # lockdep ("WARNING: possible circular locking dependency detected")
    "possible circular locking",
    "possible recursive locking",
    "inconsistent lock state",
    "WARNING: possible",
    "suspicious RCU usage",
    "held when returning to user space",
    # DEBUG_ATOMIC_SLEEP
    "sleeping function called from invalid context",
    # DEBUG_LIST
    "list_add corruption",
    "list_del corruption",
)
# The header of every die() report: "Oops: 0000 [#1] PREEMPT SMP", "invalid
# opcode: 0000 [#1] ...", "general protection fault, ...: 0000 [#1] ...".
# A bare "Oops" is not enough: scripts print through printk, and a class
# named Oops shows up as "konoha: c127: Oops: bad".
KERNEL_LOG_ERROR_RES = (
    re.compile(r"\bOops\b.*\[#\d+\]"),
    re.compile(r": [0-9a-f]{4} \[#\d+\]"),
)


def kernel_log_errors(text: str) -> list[str]:
    """The lines of a kernel log that show the kernel went wrong."""
    return [line for line in text.splitlines()
            if any(p in line for p in KERNEL_LOG_ERRORS)
            or any(r.search(line) for r in KERNEL_LOG_ERROR_RES)]


# ---- initramfs -------------------------------------------------------------

class Cpio:
    """A newc cpio archive written without root: device nodes included."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ino = 1
        self._dirs: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"",
               rdev: tuple[int, int] = (0, 0)) -> None:
        name_b = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(name_b), 0)
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        part = header + name_b
        part += b"\0" * (-len(part) % 4)
        part += data
        part += b"\0" * (-len(part) % 4)
        self._parts.append(part)

    def dir(self, name: str) -> None:
        name = name.strip("/")
        if not name or name in self._dirs:
            return
        self.dir(os.path.dirname(name))
        self._dirs.add(name)
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def bytes(self) -> bytes:
        trailer = Cpio()
        trailer._entry("TRAILER!!!", 0)
        return b"".join(self._parts) + trailer._parts[0]


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    raise FileNotFoundError("busybox not found (apt-get install busybox-static)")


# ---- the kernel image ------------------------------------------------------

# Compressed payloads a bzImage may carry, by magic, with the command that
# decompresses them (xz is done in Python).
_PAYLOADS = ((b"\xfd7zXZ\x00", None), (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]),
             (b"\x1f\x8b\x08", ["gzip", "-dc"]))


def _decompress(data: bytes, command: list[str] | None) -> bytes:
    if command is None:
        try:
            return lzma.LZMADecompressor().decompress(data)
        except lzma.LZMAError:
            return b""
    if not shutil.which(command[0]):
        return b""
    # Trailing bytes after the stream make the tool complain: what it wrote
    # before that is what counts (as scripts/extract-vmlinux does).
    return subprocess.run(command, input=data, capture_output=True,
                          check=False).stdout


def extract_vmlinux(image: Path, cache_dir: Path) -> Path:
    """The uncompressed vmlinux (an ELF with a PVH entry point) inside the
    bzImage `image`, extracted once into cache_dir/vmlinux (a stamp beside
    it names the image's size and time), or `image` itself when no payload
    decompresses to an ELF.

    Under software emulation the kernel's own decompressor costs seconds
    at every boot; the host does it once.
    """
    out = cache_dir / "vmlinux"
    stamp = cache_dir / "vmlinux.source"
    st = image.stat()
    source = f"{image} {st.st_size} {int(st.st_mtime)}\n"
    if out.exists() and stamp.exists() and stamp.read_text() == source:
        return out
    data = image.read_bytes()
    for magic, command in _PAYLOADS:
        start = data.find(magic)
        while start >= 0:
            elf = _decompress(data[start:], command)
            if elf[:4] == b"\x7fELF" and len(elf) > 1 << 20:
                cache_dir.mkdir(parents=True, exist_ok=True)
                # pid-unique: two boots may extract at the same time
                tmp = out.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(elf)
                tmp.replace(out)
                stamp.write_text(source)
                return out
            start = data.find(magic, start + 1)
    return image


def qemu_command(accel: str, kernel_image: Path, initrd: Path, memory_mb: int,
                 append: str, serial: list[str] | None = None) -> list[str]:
    """QEMU's command line for one boot of `kernel_image` with `initrd`:
    one CPU, no devices but the serial ports, no display, no reboot (the
    guest's poweroff or panic ends QEMU).  `serial` is the serial port
    options (default: ttyS0 on QEMU's stdin and stdout, no monitor)."""
    if serial is None:
        serial = ["-serial", "stdio", "-monitor", "none"]
    cmd = [QEMU, "-accel", accel, "-m", str(memory_mb), "-smp", "1",
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           *serial,
           "-kernel", str(kernel_image), "-initrd", str(initrd),
           "-append", append]
    # qboot starts a kernel in a fraction of SeaBIOS's time under TCG.
    if QBOOT.exists():
        cmd += ["-bios", str(QBOOT)]
    return cmd
