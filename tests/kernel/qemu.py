"""Boot Debian's kernels under QEMU with a busybox initramfs, run a guest
test suite, and read its KTAP report back from the serial console.

One boot runs one suite: the initramfs carries busybox, an /init script,
the KTAP runner, the suite script, the modules built for that kernel and
any other files the suite needs. /init mounts proc, sys and devtmpfs, runs
the suite with its output between clear markers on ttyS0, prints the kernel
log (dmesg) between markers of its own and powers the machine off.

    result = boot_suite(kernel, suite_script, modules=[...], files={...})
    result.cases       # KTAP results, in order
    result.dmesg       # the kernel log at the end of the run
    result.console     # the whole serial log

The host side needs nothing but qemu-system-x86_64, busybox (static) and the
kernels; `make kernel-setup` installs them. Environment:

    KTEST_ACCEL    auto (default: KVM if a probe boot with it really works,
                   else TCG; the answer is cached in build/kernel/accel),
                   kvm, tcg
    KTEST_TIMEOUT  seconds one boot may take before it is killed (default 300,
                   or the suite's own), multiplied by the kernel's timeout
                   scale
    KTEST_KERNELS  the kernel lines the suites run on, comma-separated:
                   6.1 and 6.12 (the default, Debian's kernels) and debug
                   (the debug kernel of tools/debug_kernel.sh; `make
                   test-debug` sets KTEST_KERNELS=debug)
    KTEST_TIMEOUT_SCALE
                   the factor for the timeouts of the debug kernel (default
                   4: KASAN, lockdep and KFENCE slow it down; 1 for the others)

The debug line is Debian's 6.1 source built with KASAN, UBSAN, lockdep,
DEBUG_ATOMIC_SLEEP and KFENCE by tools/debug_kernel.sh into
build/debug-kernel/ (`make debug-kernel`): its bzImage is booted, modules
are built against its tree, and its release ends in -kdebug.

The initramfs and the serial log of the last run of each suite stay in
build/kernel/RELEASE/ktest/ (SUITE.cpio, SUITE.console.log). To boot faster
under TCG, the kernel is booted from its uncompressed vmlinux (PVH entry,
extracted once into build/kernel/RELEASE/) with the qboot firmware.
"""

from __future__ import annotations

import functools
import lzma
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# What `ktc try` shares with this harness lives in the tool (ktc/vmkit.py):
# the initramfs writer, busybox, vmlinux extraction, QEMU's command line,
# the kernel log's error lines.
from ktc.vmkit import (BUSYBOX_CANDIDATES, KERNEL_LOG_ERROR_RES,  # noqa: E402,F401
                       KERNEL_LOG_ERRORS, QBOOT, QEMU, Cpio, extract_vmlinux,
                       find_busybox, kernel_log_errors)
from ktc import vmkit  # noqa: E402

BUILD = REPO / "build"
GUEST_DIR = Path(__file__).resolve().parent / "guest"
KERNELS_SH = REPO / "tools" / "kernels.sh"

# The kernel lines the project supports; both must pass.
DEBIAN_LINES = ("6.1", "6.12")
# The debug kernel (tools/debug_kernel.sh): a line of its own, run only when
# asked for, as it takes long to build and to boot.
DEBUG_LINE = "debug"
DEBUG_DIR = BUILD / "debug-kernel"
DEBUG_TIMEOUT_SCALE = 4.0


def _kernel_lines() -> tuple[str, ...]:
    wanted = os.environ.get("KTEST_KERNELS", "").replace(",", " ").split()
    if not wanted:
        return DEBIAN_LINES
    known = DEBIAN_LINES + (DEBUG_LINE,)
    bad = [w for w in wanted if w not in known]
    if bad:
        raise ValueError(f"KTEST_KERNELS: unknown line(s) {', '.join(bad)} "
                         f"(known: {', '.join(known)})")
    return tuple(line for line in known if line in wanted)


# The lines the suites of this run are parametrized over (KTEST_KERNELS).
KERNEL_LINES = _kernel_lines()

SUITE_BEGIN = "KTEST-SUITE-BEGIN"
SUITE_END = "KTEST-SUITE-END"
DMESG_BEGIN = "KTEST-DMESG-BEGIN"
DMESG_END = "KTEST-DMESG-END"
DONE = "KTEST-DONE"

# ---- kernels ---------------------------------------------------------------

@dataclass(frozen=True)
class Kernel:
    line: str       # "6.1", or "debug"
    release: str    # "6.1.0-41-amd64"
    tree: Path | None = None
    """The debug kernel's build tree (build/debug-kernel/src); None for
    Debian's installed kernels."""

    @property
    def debug(self) -> bool:
        return self.tree is not None

    @property
    def image(self) -> Path:
        if self.tree is not None:
            return self.tree / "arch" / "x86" / "boot" / "bzImage"
        return Path("/boot") / f"vmlinuz-{self.release}"

    @property
    def modules_dir(self) -> Path:
        if self.tree is not None:
            return DEBUG_DIR / "modroot" / "lib" / "modules" / self.release
        return Path("/lib/modules") / self.release

    @property
    def timeout_scale(self) -> float:
        """What boot timeouts are multiplied by on this kernel."""
        if not self.debug:
            return 1.0
        return float(os.environ.get("KTEST_TIMEOUT_SCALE", DEBUG_TIMEOUT_SCALE))

    @property
    def build_dir(self) -> Path:
        """Where `make kmod-*` puts the modules built for this kernel."""
        return BUILD / "kernel" / self.release


def debug_kernel() -> Kernel | None:
    """The debug kernel, when tools/debug_kernel.sh has finished building
    it (it writes the stamp last)."""
    release_file = DEBUG_DIR / "release"
    tree = DEBUG_DIR / "src"
    if not ((DEBUG_DIR / "stamp").exists() and release_file.exists()
            and (tree / "arch" / "x86" / "boot" / "bzImage").exists()):
        return None
    return Kernel(DEBUG_LINE, release_file.read_text().strip(), tree)


@functools.lru_cache(maxsize=None)
def installed_kernels() -> dict[str, Kernel]:
    """The kernel of each line of this run (KERNEL_LINES) that is there:
    the newest installed release of each Debian line, and the debug kernel
    once built."""
    found: dict[str, Kernel] = {}
    if KERNELS_SH.exists():
        proc = subprocess.run(["bash", str(KERNELS_SH), "list"],
                              capture_output=True, text=True, check=False)
        for release in proc.stdout.split():
            m = re.match(r"(\d+\.\d+)\.\d+[-+]", release)
            if m and m.group(1) in KERNEL_LINES:
                found[m.group(1)] = Kernel(m.group(1), release)  # newest last
    if DEBUG_LINE in KERNEL_LINES:
        kernel = debug_kernel()
        if kernel is not None:
            found[DEBUG_LINE] = kernel
    return found


# ---- acceleration ----------------------------------------------------------

PROBE_MARKER = "KTEST-KVM-PROBE-OK"
KVM_PROBE_TIMEOUT = 15.0


def kvm_usable() -> bool:
    """True when QEMU really boots a kernel with KVM, within a timeout.

    /dev/kvm may exist and answer its ioctls while guests hang or QEMU
    aborts on the first MSR write (nested virtualisation in containers), so
    the probe boots an installed kernel with a tiny initramfs that prints a
    marker and powers off. The answer is cached in build/kernel/accel, so a
    machine pays for the probe once (rm the file to probe again).
    """
    cache = BUILD / "kernel" / "accel"
    if cache.exists():
        return cache.read_text().strip() == "kvm"
    usable = False
    kernels = list(installed_kernels().values())
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and kernels and shutil.which(QEMU):
        kernel = kernels[0]
        cpio = Cpio()
        cpio.chardev("dev/console", 5, 1)
        cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
        cpio.file("init", f"#!/bin/busybox sh\n/bin/busybox echo {PROBE_MARKER}\n"
                  "/bin/busybox poweroff -f\n".encode(), 0o755)
        initrd = BUILD / "kernel" / "kvm-probe.cpio"
        initrd.parent.mkdir(parents=True, exist_ok=True)
        initrd.write_bytes(cpio.bytes())
        try:
            proc = subprocess.run(
                qemu_command("kvm", kernel, initrd, 256), stdin=subprocess.DEVNULL,
                capture_output=True, timeout=KVM_PROBE_TIMEOUT, check=False)
            usable = PROBE_MARKER.encode() in proc.stdout
        except (OSError, subprocess.SubprocessError):
            usable = False
        initrd.unlink(missing_ok=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("kvm\n" if usable else "tcg\n")
    return usable


@functools.lru_cache(maxsize=None)
def accel() -> str:
    choice = os.environ.get("KTEST_ACCEL", "auto")
    if choice == "auto":
        return "kvm" if kvm_usable() else "tcg"
    if choice not in ("kvm", "tcg"):
        raise ValueError(f"KTEST_ACCEL must be auto, kvm or tcg, not {choice!r}")
    return choice


# ---- the kernel image ------------------------------------------------------

def boot_image(kernel: Kernel) -> Path:
    """The image QEMU boots: the uncompressed vmlinux (an ELF with a PVH
    entry point) extracted from /boot/vmlinuz-RELEASE and cached under
    build/kernel/RELEASE/, or the bzImage itself when that fails.

    Under software emulation the kernel's own decompressor costs seconds
    at every boot; the host does it once.
    """
    if kernel.tree is not None:
        # The debug kernel boots through its own decompressor: entered at
        # its PVH entry, KASAN-instrumented code runs before KASAN's shadow
        # memory is mapped and the machine triple-faults.
        return kernel.image
    return extract_vmlinux(kernel.image, kernel.build_dir)


def qemu_command(mode: str, kernel: Kernel, initrd: Path, memory_mb: int) -> list[str]:
    append = "console=ttyS0 panic=-1 quiet"
    if kernel.debug:
        # Every KASAN report, not only the first of the boot.
        append += " kasan_multi_shot"
    return vmkit.qemu_command(mode, boot_image(kernel), initrd, memory_mb, append)


# ---- initramfs -------------------------------------------------------------

INIT_SCRIPT = f"""#!/bin/busybox sh
# /init of the K kernel-test initramfs (written by tests/kernel/qemu.py).
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# Only emergencies on the console while the suite runs, so kernel messages
# do not cut KTAP lines; the whole log is printed from dmesg at the end.
echo 1 > /proc/sys/kernel/printk
cd /ktest
echo {SUITE_BEGIN}
sh /ktest/ktap_run.sh /ktest/suite.sh
echo "{SUITE_END} $?"
echo {DMESG_BEGIN}
dmesg
echo {DMESG_END}
echo {DONE}
sync
poweroff -f
reboot -f
"""


def resolve_kernel_modules(kernel: Kernel, names: list[str]) -> list[Path]:
    """The kernel's own modules for `names` with their dependencies, in
    loading order (dependencies first), read from modules.dep. Modules the
    kernel has built in (modules.builtin: the debug kernel's vfat) need no
    file and are left out."""
    if not names:
        return []
    builtin_list = kernel.modules_dir / "modules.builtin"
    builtin = {os.path.basename(p).split(".ko")[0].replace("-", "_")
               for p in (builtin_list.read_text().split()
                         if builtin_list.exists() else [])}
    names = [n for n in names if n.replace("-", "_") not in builtin]
    if not names:
        return []
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (kernel.modules_dir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        base = os.path.basename(path).split(".ko")[0].replace("-", "_")
        by_name[base] = path
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in deps.get(path, []):
            visit(dep)
        order.append(path)

    for name in names:
        key = name.replace("-", "_")
        if key not in by_name:
            raise FileNotFoundError(f"module {name} not in {kernel.modules_dir}/modules.dep")
        visit(by_name[key])
    return [kernel.modules_dir / p for p in order]


def build_initramfs(kernel: Kernel, suite: Path, modules: list[Path],
                    kernel_modules: list[str], files: dict[str, Path],
                    out: Path) -> Path:
    """Write the initramfs for one suite on one kernel; return its path.

    modules: module files built for this kernel (loaded by the suite itself)
    go to /ktest/modules/; kernel_modules: names of the kernel's own modules,
    copied (decompressed) with their dependencies to /ktest/kmod/ and loaded
    in order by a first case, `kernel_modules`, put before the suite's own;
    files: guest path -> host path, anything else the suite needs.
    """
    cpio = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp",
              "ktest/modules", "ktest/bin", "ktest/kmod"):
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    busybox = find_busybox()
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", INIT_SCRIPT.encode(), 0o755)
    cpio.file("ktest/ktap_run.sh", (GUEST_DIR / "ktap_run.sh").read_bytes(), 0o755)
    suite_text = suite.read_bytes()
    kmods = resolve_kernel_modules(kernel, kernel_modules)
    if kmods:
        # Loaded before the suite's own cases: a case of their own, first.
        names = [p.name.split(".ko")[0] + ".ko" for p in kmods]
        loader = "kt_kernel_modules() {\n" + "".join(
            f"\trun insmod /ktest/kmod/{n} || return 1\n" for n in names) + "}\n"
        suite_text = loader.encode() + suite_text
        for path, name in zip(kmods, names):
            data = path.read_bytes()
            if path.name.endswith(".xz"):
                data = lzma.decompress(data)
            elif not path.name.endswith(".ko"):
                raise ValueError(f"cannot decompress {path}")
            cpio.file(f"ktest/kmod/{name}", data)
    cpio.file("ktest/suite.sh", suite_text, 0o755)
    for module in modules:
        cpio.file(f"ktest/modules/{module.name}", module.read_bytes())
    for guest_path, host_path in files.items():
        mode = 0o755 if os.access(host_path, os.X_OK) else 0o644
        cpio.file(guest_path, Path(host_path).read_bytes(), mode)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(cpio.bytes())
    return out


# ---- KTAP ------------------------------------------------------------------

@dataclass
class Case:
    number: int
    name: str
    ok: bool
    skip: bool = False
    directive: str = ""              # text after "#" on the result line
    diagnostics: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "skip" if self.skip else ("ok" if self.ok else "not ok")


_RESULT = re.compile(r"^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$")
_PLAN = re.compile(r"^1\.\.(\d+)$")


def parse_ktap(lines: list[str]) -> tuple[int | None, list[Case]]:
    """Parse top-level KTAP: the plan and the results, each with the
    diagnostic lines ("# ...") printed before it. Indented (nested) lines
    and other text are kept as diagnostics of the next result."""
    plan = None
    cases: list[Case] = []
    pending: list[str] = []
    for raw in lines:
        line = raw.rstrip()
        if line.startswith("KTAP version") or line.startswith("TAP version"):
            continue
        m = _PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = _RESULT.match(line)
        if m:
            directive = (m.group(4) or "").strip()
            skip = directive.upper().startswith("SKIP")
            cases.append(Case(number=int(m.group(2)), name=(m.group(3) or "").strip(),
                              ok=m.group(1) == "ok", skip=skip, directive=directive,
                              diagnostics=pending))
            pending = []
            continue
        pending.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return plan, cases


# ---- booting ---------------------------------------------------------------

@dataclass
class BootResult:
    kernel: Kernel
    suite: str
    accel: str
    seconds: float
    returncode: int | None           # QEMU's, None when killed on timeout
    timed_out: bool
    console: str                     # the whole serial log
    plan: int | None
    cases: list[Case]
    suite_status: int | None         # the runner's exit status
    dmesg: str
    completed: bool                  # /init reached its end marker

    def case(self, name: str) -> Case | None:
        for c in self.cases:
            if c.name == name:
                return c
        return None

    def kernel_log_errors(self) -> list[str]:
        """Lines of the kernel log (or, when the run died before dmesg was
        printed, of the console) that show the kernel went wrong."""
        return kernel_log_errors(self.dmesg if self.completed else self.console)

    def console_tail(self, lines: int = 60) -> str:
        return "\n".join(self.console.splitlines()[-lines:])


def _between(lines: list[str], begin: str, end: str) -> tuple[list[str], str | None]:
    """Lines after the `begin` marker up to the `end` marker, and the end
    marker line itself (None when it never came)."""
    out: list[str] = []
    inside = False
    for line in lines:
        if not inside:
            if line.strip() == begin:
                inside = True
            continue
        if line.startswith(end):
            return out, line
        out.append(line)
    return out, None


def boot_suite(kernel: Kernel, suite: Path, modules: list[Path] = (),
               kernel_modules: list[str] = (), files: dict[str, Path] | None = None,
               timeout: float | None = None, memory_mb: int = 512) -> BootResult:
    """Boot `kernel` once, run the guest `suite` (a ktap_run.sh suite file)
    and return what happened."""
    if timeout is None:
        timeout = float(os.environ.get("KTEST_TIMEOUT", "300"))
    timeout *= kernel.timeout_scale
    work = kernel.build_dir / "ktest"
    work.mkdir(parents=True, exist_ok=True)
    initrd = build_initramfs(kernel, suite, list(modules), list(kernel_modules),
                             dict(files or {}), work / f"{suite.stem}.cpio")
    mode = accel()
    cmd = qemu_command(mode, kernel, initrd, memory_mb)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    timed_out = False
    try:
        raw, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        raw, _ = proc.communicate()
    seconds = time.monotonic() - start
    console = raw.decode("utf-8", "replace").replace("\r", "")
    (work / f"{suite.stem}.console.log").write_text(console)
    lines = console.splitlines()

    ktap, end = _between(lines, SUITE_BEGIN, SUITE_END)
    suite_status = None
    if end is not None:
        try:
            suite_status = int(end.split()[1])
        except (IndexError, ValueError):
            pass
    plan, cases = parse_ktap(ktap)
    dmesg_lines, dmesg_end = _between(lines, DMESG_BEGIN, DMESG_END)
    return BootResult(kernel=kernel, suite=suite.stem, accel=mode, seconds=seconds,
                      returncode=None if timed_out else proc.returncode,
                      timed_out=timed_out, console=console, plan=plan, cases=cases,
                      suite_status=suite_status, dmesg="\n".join(dmesg_lines),
                      completed=dmesg_end is not None and DONE in lines)


def suite_cases(suite: Path) -> list[str]:
    """The case names of a guest suite, in order, as ktap_run.sh finds them."""
    return re.findall(r"^kt_([A-Za-z0-9_]+)\(\) *\{", suite.read_text(), re.M)
