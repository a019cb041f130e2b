"""`ktc try`: a K script in a real Linux kernel, under QEMU, without root.

One run builds (or reuses) konoha.ko for a Debian kernel with the project's
one module builder (tools/build_kmod.sh, as `make kmod-konoha` runs it),
builds the guest tools (kdrive, kload: static programs, `make` keeps them
up to date), writes a busybox initramfs holding them, the script's image
and, with --jit, its companion module, and boots the kernel under QEMU as
the invoking user.  The guest's /init loads konoha.ko and the script, then
either runs a command line or opens a shell on the console, and powers the
machine off.  Nothing touches the host's kernel.

Two serial ports connect host and guest:

- ttyS0, the console, is QEMU's stdio: the command's standard output goes
  straight to ours (output post-processing is off in the guest, so the
  bytes arrive as written), or, with a shell, the user's terminal is the
  guest's console;
- ttyS1 is the control channel, a pipe read by a thread here: lines of the
  form `@@TOKEN WORD ARGS` say what /init did (booted, loaded, failed, the
  command's exit status, the kernel log follows), and every other line is
  the command's standard error, relayed to ours.  TOKEN is random per run,
  so no output of the script or the command can pass for one.  A marker
  may follow text without a newline (a command's stderr that did not end
  its last line): the text before it is relayed as it was.

Exit status: the command's (or the shell's), or, when the script does not
load, what `ktc load` returns: 3 image refused, 2 init failed, 1 otherwise.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from . import vmkit

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
KERNELS_SH = REPO / "tools" / "kernels.sh"
GUEST_TOOLS = BUILD / "kernel" / "guest"
# The Makefile's set-up stamps: `make` must not redo the set-up to build a
# guest tool (it would ask for root); what they stand for is checked here.
SETUP_STAMPS = ("build/.setup.stamp", "build/.kernel-setup.stamp")

LINES = ("6.1", "6.12")
MEMORY_MB = 512
SETUP_HINT = "run `make setup` (it installs the kernels, their headers, " \
    "qemu-system-x86 and busybox-static)"


class TryError(Exception):
    """Something ktc try cannot do: the message says what and how to fix it."""


@dataclass
class Plan:
    """What one `ktc try` run does."""
    image: bytes                  # the script's bytecode image
    name: str                     # the script's name in konoha.ko
    line: str = "6.12"
    jit: bool = False
    budget: int | None = None
    heap: int | None = None
    depth: int | None = None
    params: list[str] = field(default_factory=list)
    """Load-time parameters NAME=VALUE (System.param), checked."""
    command: str | None = None
    """A shell command line run in the guest (stdin /dev/null); None: a
    shell on the console."""
    timeout: float | None = None  # seconds, for the whole boot
    memory_mb: int = MEMORY_MB
    token: str = field(default_factory=lambda: secrets.token_hex(6))


@dataclass
class Kit:
    """The host side of one kernel: what a boot needs."""
    line: str
    release: str
    vmlinuz: Path
    build_dir: Path               # build/kernel/RELEASE (konoha.ko, vmlinux)
    busybox: Path


def find_kit(line: str) -> Kit:
    """The installed kernel of `line` with its headers, QEMU and busybox;
    TryError saying to run `make setup` when any is missing."""
    if line not in LINES:
        raise TryError(f"unknown kernel line {line} (known: {', '.join(LINES)})")
    if not shutil.which(vmkit.QEMU):
        raise TryError(f"{vmkit.QEMU} not found: {SETUP_HINT}")
    try:
        busybox = vmkit.find_busybox()
    except FileNotFoundError:
        raise TryError(f"busybox not found: {SETUP_HINT}") from None
    r = subprocess.run(["bash", str(KERNELS_SH), "release", line],
                       capture_output=True, text=True)
    release = r.stdout.strip()
    if r.returncode != 0 or not release:
        raise TryError(f"kernel {line} is not installed with its headers "
                       f"(the kernel kit is missing): {SETUP_HINT}")
    vmlinuz = Path("/boot") / f"vmlinuz-{release}"
    if not os.access(vmlinuz, os.R_OK):
        raise TryError(f"{vmlinuz} is not readable: {SETUP_HINT}")
    return Kit(line, release, vmlinuz, BUILD / "kernel" / release, busybox)


def _run_build(cmd: list[str], what: str, env: dict[str, str] | None = None
               ) -> None:
    """Runs a build command in the source tree; TryError with its output's
    tail if it fails."""
    try:
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                           text=True)
    except OSError as e:
        raise TryError(f"cannot run {cmd[0]}: {e.strerror}") from None
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-30:])
        raise TryError(f"building {what} failed:\n{tail}")


def build_konoha(kit: Kit) -> Path:
    """konoha.ko for the kit's kernel, built (or found up to date by
    Kbuild) in build/kernel/RELEASE/konoha/ as `make kmod-konoha` does."""
    _run_build(["bash", "tools/build_kmod.sh", "lkm/kernel", "konoha",
                kit.release], f"konoha.ko for {kit.release}",
               env=dict(os.environ, KBUILD_EXTRA_SRC="lkm/core"))
    ko = kit.build_dir / "konoha" / "konoha.ko"
    if not ko.is_file():
        raise TryError(f"{ko}: not built")
    return ko


def build_guest_tools() -> dict[str, Path]:
    """kdrive (loads the script: limits, name, JIT) and kload, static
    programs for the initramfs, kept up to date by the Makefile's rule."""
    tools = {name: GUEST_TOOLS / name for name in ("kdrive", "kload")}
    cmd = ["make", "-s"]
    for stamp in SETUP_STAMPS:
        cmd += ["-o", stamp]
    _run_build(cmd + [str(p.relative_to(REPO)) for p in tools.values()],
               "the guest tools (kdrive, kload)")
    return tools


def build_companion(plan: Plan, kit: Kit,
                    progress: Callable[[str], None]) -> Path:
    """The image's JIT stubs for the kit's kernel as a companion module,
    written and built in build/kernel/RELEASE/try/NAME.kmod/ against the
    Module.symvers of the konoha.ko just built."""
    import ctjit
    from . import kmod
    base = kit.build_dir / "try" / plan.name
    base.parent.mkdir(parents=True, exist_ok=True)
    symvers = kit.build_dir / "konoha" / "Module.symvers"
    try:
        return kmod.build_companion(plan.image, kit.release, str(symvers),
                                    str(base), progress=progress)
    except (ctjit.JitError, kmod.KmodError) as e:
        raise TryError(str(e)) from None


# ---- the guest --------------------------------------------------------------

def _q(text: str) -> str:
    """`text` quoted for the guest's sh."""
    return shlex.quote(text)


def init_script(plan: Plan, companion: str | None, term: str | None = None,
                size: tuple[int, int] | None = None) -> str:
    """The guest's /init for a plan: mount, load konoha.ko (and the
    companion), load the script with kdrive, then run the command (or a
    shell), report its status and the kernel log on the control channel,
    and power off."""
    mark = f"@@{plan.token}"
    load = ["kdrive", "load"]
    if plan.budget:
        load += ["-b", str(plan.budget)]
    if plan.heap:
        load += ["-H", str(plan.heap)]
    if plan.depth:
        load += ["-d", str(plan.depth)]
    if companion:
        load.append("-j")
    for p in plan.params:
        load += ["-P", p]
    load += [plan.name, "/try/script.kbc"]
    lines = [
        "#!/bin/busybox sh",
        "# /init of a `ktc try` initramfs (written by ktc/try_.py).",
        "/bin/busybox --install -s",
        "export PATH=/try/bin:/sbin:/bin:/usr/sbin:/usr/bin",
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mount -t devtmpfs devtmpfs /dev",
        "mount -t tmpfs tmpfs /tmp",
        # Only emergencies on the console: it is the command's stdout.
        "echo 1 > /proc/sys/kernel/printk",
        "CTL=/dev/ttyS1",
        # Bytes as written: no \n -> \r\n on the control channel, nor on
        # the console when it carries a command's output.
        "stty -opost < $CTL",
        f"ctl() {{ echo \"{mark} $*\" > $CTL; }}",
        # The kernel log, then off: the end of every run.
        "finish() {",
        "\tctl dmesg",
        "\tdmesg > $CTL",
        "\tctl end",
        "\tsync",
        # Not even the kernel's "reboot: Power down" on the console.
        "\techo 0 > /proc/sys/kernel/printk",
        "\tpoweroff -f",
        "}",
        # A step that failed: its status and output, then off.
        "fail() {",
        "\tctl fail $1 $2",
        "\tcat /tmp/step.out > $CTL",
        "\tctl end",
        "\tfinish",
        "}",
        "ctl booted $(uname -r)",
        "insmod /try/konoha.ko > /tmp/step.out 2>&1 || fail insmod $?",
    ]
    if companion:
        lines.append(f"insmod /try/{_q(companion)} > /tmp/step.out 2>&1 "
                     "|| fail companion $?")
    lines += [
        "ls /dev > /tmp/dev.before",
        f"{' '.join(_q(w) for w in load)} > /tmp/step.out 2>&1 || fail load $?",
        # The device nodes the script's init registered.
        "DEVS=$(ls /dev | grep -vxF -f /tmp/dev.before | sed 's,^,/dev/,' | "
        "tr '\\n' ' ')",
        "ctl loaded $DEVS",
    ]
    if plan.command is not None:
        lines += [
            "stty -opost < /dev/console",
            "cd /",
            "ctl run",
            "sh /try/command.sh < /dev/null 2> $CTL",
            "ctl status $?",
        ]
    else:
        if term:
            lines.append(f"export TERM={_q(term)}")
        if size:
            lines.append(f"stty rows {size[0]} cols {size[1]} < /dev/console")
        lines += [
            f"export PS1={_q(f'[ktc try {plan.name}] # ')}",
            f"echo {_q(f'ktc try: {plan.name} is loaded in konoha.ko')} "
            "\"on Linux $(uname -r); its devices: ${DEVS:-none}\"",
            "echo 'the guest tools kdrive and kload are in /try/bin; "
            "exit (or Ctrl-D) powers off, Ctrl-A x stops QEMU'",
            "cd /",
            "ctl run",
            # A session with the console as controlling terminal: job
            # control and Ctrl-C work.
            "setsid cttyhack sh",
            "ctl status $?",
        ]
    lines.append("finish")
    return "\n".join(lines) + "\n"


def initramfs(plan: Plan, kit: Kit, konoha_ko: Path, tools: dict[str, Path],
              companion: Path | None, term: str | None = None,
              size: tuple[int, int] | None = None) -> bytes:
    """The initramfs of a run: busybox, /init, konoha.ko, the guest tools,
    the image (and companion module), the command line."""
    cpio = vmkit.Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev",
              "tmp", "root", "try/bin"):
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", kit.busybox.read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", init_script(plan, companion.name if companion else None,
                                  term, size).encode(), 0o755)
    cpio.file("try/konoha.ko", konoha_ko.read_bytes())
    for name, path in tools.items():
        cpio.file(f"try/bin/{name}", path.read_bytes(), 0o755)
    cpio.file("try/script.kbc", plan.image)
    if companion:
        cpio.file(f"try/{companion.name}", companion.read_bytes())
    if plan.command is not None:
        cpio.file("try/command.sh", plan.command.encode("latin-1") + b"\n",
                  0o755)
    return cpio.bytes()


# ---- the control channel ----------------------------------------------------

class Control:
    """Reads the guest's control channel (ttyS1) in a thread: relays the
    command's stderr, reports progress, keeps what /init said."""

    def __init__(self, fd: int, token: str, err: TextIO,
                 progress: Callable[[str], None]) -> None:
        self.fd = fd
        self.mark = f"@@{token} "
        self.err = err
        self.progress = progress
        # what /init said, in order: (word, arguments) of each marker
        self.events: list[tuple[str, list[str]]] = []
        self.section: str | None = None   # "fail", "dmesg": lines kept
        self.kept: dict[str, list[str]] = {"fail": [], "dmesg": []}
        self.status: int | None = None
        self.failed: tuple[str, int] | None = None
        self.devices: list[str] = []
        self.running = False
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        """Starts the reading thread."""
        self.thread.start()

    def join(self) -> None:
        """Waits until the channel is closed (the guest powered off)."""
        self.thread.join()

    def _read(self) -> None:
        """The thread: reads the channel until QEMU closes it, splitting on
        newlines; a last line without a newline is still handled, then the pipe
        is closed."""
        pending = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self.line(line.decode("utf-8", "replace"))
        if pending:
            self.line(pending.decode("utf-8", "replace"))
        os.close(self.fd)

    def line(self, line: str) -> None:
        """One line of the channel: text, a marker, or text then a marker."""
        at = line.find(self.mark)
        if at < 0:
            self.text(line + "\n")
            return
        if at > 0:
            self.text(line[:at])
        words = line[at + len(self.mark):].split()
        if words:
            self.event(words[0], words[1:])

    def text(self, text: str) -> None:
        """Text of the channel: kept while a `fail` or `dmesg` section is open,
        relayed to our stderr while the command runs, dropped before (what
        /init itself writes there is not the command's)."""
        if self.section is not None:
            self.kept[self.section].append(text.rstrip("\n"))
        elif self.running:
            self.err.write(text)
            self.err.flush()

    def event(self, word: str, args: list[str]) -> None:
        """A marker of /init: `booted RELEASE`, `loaded DEVICES`, `fail WHAT
        STATUS` (the load failed; its message follows until `end`), `dmesg`
        (the kernel log follows until `end`), `run` (the command starts: its
        stderr is relayed from now on), `status N` (its exit status). Each
        event is also kept in `events`."""
        self.events.append((word, args))
        seconds = time.monotonic() - self.started
        if word == "booted":
            self.progress(f"booted Linux {' '.join(args)} ({seconds:.1f} s); "
                          f"loading konoha.ko and the script")
        elif word == "loaded":
            self.devices = args
            self.progress("loaded; devices: " + (" ".join(args) or "none"))
        elif word == "fail" and len(args) == 2 and args[1].isdigit():
            self.failed = (args[0], int(args[1]))
            self.section = "fail"
        elif word == "dmesg":
            self.section = "dmesg"
        elif word == "end":
            self.section = None
        elif word == "run":
            self.running = True
        elif word == "status" and args and args[0].isdigit():
            self.running = False
            self.status = int(args[0])


# ---- a run ----------------------------------------------------------------

def accel() -> str:
    """KVM when the kernel test harness's probe found that it really works
    here (its answer is cached in build/kernel/accel), else TCG: software
    emulation, slower but available everywhere."""
    cache = BUILD / "kernel" / "accel"
    try:
        probed = cache.read_text().strip()
    except OSError:
        probed = "tcg"
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    return "kvm" if probed == "kvm" and usable else "tcg"


def _load_status(output: str) -> int:
    """What `ktc load` would return for kdrive's refusal `load NAME: ERRNO:
    message`: 3 image refused, 2 init failed, 1 otherwise."""
    if re.search(r": ENOEXEC: ", output):
        return 3
    if "init failed" in output:
        return 2
    return 1


def script_log(dmesg: list[str], name: str) -> list[str]:
    """The kernel log lines of one script: konoha.ko prefixes them with
    `konoha: NAME:` (the JIT's with `konoha: jit: NAME:`)."""
    pat = re.compile(r"konoha: (?:jit: )?" + re.escape(name) + r":")
    return [line for line in dmesg if pat.search(line)]


def run(plan: Plan, interactive_tty: bool = False,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Builds what the plan needs, boots, and returns the exit status."""
    err = err or sys.stderr
    out = out or sys.stdout

    def progress(text: str) -> None:
        """A `ktc:` progress line on stderr."""
        err.write(f"ktc: {text}\n")
        err.flush()

    kit = find_kit(plan.line)
    work = kit.build_dir / "try"
    work.mkdir(parents=True, exist_ok=True)
    # Two `ktc try` at once must not run Kbuild in one directory together.
    with open(work / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        progress(f"building konoha.ko for {kit.release} "
                 f"(tools/build_kmod.sh)")
        konoha_ko = build_konoha(kit)
        tools = build_guest_tools()
        companion = build_companion(plan, kit, progress) if plan.jit \
            else None
        kernel_image = vmkit.extract_vmlinux(kit.vmlinuz, kit.build_dir)
    term = size = None
    if interactive_tty:
        term = os.environ.get("TERM", "")
        # TERM and the window size go into the guest's /init: only a plain name
        # is passed
        term = term if re.fullmatch(r"[A-Za-z0-9_.+-]+", term) else "vt100"
        try:
            cols, rows = os.get_terminal_size(sys.stdin.fileno())
            size = (rows, cols) if rows and cols else None
        except OSError:
            size = None
    initrd = work / f"{plan.name}.{os.getpid()}.cpio"
    initrd.write_bytes(initramfs(plan, kit, konoha_ko, tools, companion,
                                 term, size))

    rfd, wfd = os.pipe()
    # QEMU writes the guest's ttyS1 into the pipe's write end, which it
    # inherits (pass_fds); we read the other end
    ctl_chardev = ["-chardev", f"file,id=ctl,path=/proc/self/fd/{wfd}"]
    if interactive_tty:
        # The terminal is the guest's console (QEMU makes its input raw,
        # output processing stays on); Ctrl-C goes to the guest, Ctrl-A x
        # stops QEMU (the mux's escape).
        serial = ["-chardev", "stdio,id=con,mux=on,signal=off",
                  "-serial", "chardev:con", "-mon", "chardev=con",
                  *ctl_chardev, "-serial", "chardev:ctl"]
        stdin, stdout = None, None
    else:
        serial = ["-serial", "stdio", "-monitor", "none",
                  *ctl_chardev, "-serial", "chardev:ctl"]
        stdin, stdout = subprocess.DEVNULL, out.fileno()
    mode = accel()
    # loglevel=1: only emergencies reach the console, which is the
    # command's stdout (quiet alone lets KERN_ERR lines of the boot through,
    # such as 6.12's "MP-BIOS bug: 8254 timer not connected to IO-APIC")
    cmd = vmkit.qemu_command(mode, kernel_image, initrd, plan.memory_mb,
                             "console=ttyS0 panic=-1 quiet loglevel=1",
                             serial)
    progress(f"booting Linux {kit.release} under QEMU ({mode.upper()}"
             + (": about 10 s)" if mode == "tcg" else ")"))
    out.flush()
    ctl = Control(rfd, plan.token, err, progress)
    timed_out = interrupted = False
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout,
                                pass_fds=(wfd,))
    except OSError as e:
        os.close(rfd)
        os.close(wfd)
        initrd.unlink(missing_ok=True)
        raise TryError(f"cannot run {vmkit.QEMU}: {e.strerror}") from None
    os.close(wfd)
    ctl.start()
    try:
        proc.wait(timeout=plan.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        ctl.join()
        initrd.unlink(missing_ok=True)
    out.flush()

    dmesg = ctl.kept["dmesg"]
    if ctl.failed is not None:
        step, status = ctl.failed
        what = {"insmod": "insmod konoha.ko",
                "companion": "insmod of the companion module",
                "load": f"loading {plan.name}"}.get(step, step)
        kept = "\n".join(ctl.kept["fail"]).rstrip().splitlines()
        progress(f"{what} failed in the guest" +
                 (":" if step == "load" else f" (status {status}):"))
        for line in kept:
            err.write(f"  {line}\n")
        _report_log(dmesg, plan.name, err)
        # a failed load exits as `ktc load` would; a failed insmod is a failure
        # of the set-up: 1
        return _load_status("\n".join(kept)) if step == "load" else 1
    _report_log(dmesg, plan.name, err)
    if interrupted:
        progress("interrupted; the machine was stopped")
        return 130
    if timed_out:
        raise TryError(f"timed out after {plan.timeout:g} s; the machine was "
                       f"stopped")
    if ctl.status is None:
        raise TryError("the guest stopped before the command finished "
                       f"(QEMU exit {proc.returncode})")
    return ctl.status


def _report_log(dmesg: list[str], name: str, err: TextIO) -> None:
    """The script's kernel log lines, and any line that shows the kernel
    itself went wrong (an Oops, a BUG:, a WARNING:)."""
    lines = script_log(dmesg, name)
    if lines:
        err.write(f"ktc: kernel log of {name}:\n")
        for line in lines:
            err.write(f"  {line}\n")
    bad = vmkit.kernel_log_errors("\n".join(dmesg))
    if bad:
        err.write("ktc: the kernel log shows errors:\n")
        for line in bad[:40]:
            err.write(f"  {line}\n")
    err.flush()
