"""`ktc`: the command line of the K compiler.

Subcommands: check, compile, run, disasm, and load, unload, list for
konoha.ko, try (konoha.ko and a script in a kernel under QEMU), ioctl (one
ioctl(2) on a device node) (see `ktc --help`).  What each one uses:

    check             frontend.compiler.analyze (parse and check)
    compile, disasm   compile_source, frontend.disasm; ctjit for --jit
    run               host.py: build/kvm, run mode or serve mode (--ops,
                      devops.def's operations)
    load, unload, list  konoha.py: the /dev/konoha ioctls (root);
                      kmod.py for `load --jit`'s companion module
    try               try_.py and vmkit.py: QEMU, the guest's initramfs
    ioctl             ioctl.py: one ioctl(2), parsed arguments
  Passes never print; this
module renders their results.  Exit statuses: 0 success, 1 compile errors
or a user error (missing file, bad extension, no /dev/konoha, not root),
and for `run` and `load` the VM's status: 2 uncaught exception or abort
(the init failed), 3 image refused; `try` exits with its command's status.
An interrupt (Ctrl-C) exits 130, as a shell reports SIGINT.

How it fits: the compiling commands call the front end (frontend/compiler:
parse, check, emit, image), the running ones the userspace VM through
host.py (build/kvm and its serve protocol), the konoha.ko ones the module
through konoha.py (/dev/konoha), `try` boots a kernel through try_.py and
vmkit.py, and `--jit` goes through ctjit/ (and kmod.py for the kernel).
Those modules are imported where a command needs them, so that `ktc check`
starts without llvmlite or the QEMU pieces.  Errors a user can fix raise
UsageError and print one `ktc: error:` line; compile errors are printed as
rendered diagnostics (_CompileFailed).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile

from . import host, konoha

# The exit statuses of every command.  2 and 3 are also build/kvm's own
# statuses (an uncaught exception or abort, an image its verifier refused),
# which `ktc run` passes through unchanged; konoha.ko's failures of a load
# are mapped to the same numbers (cmd_load).
EXIT_OK, EXIT_ERROR, EXIT_RUNTIME, EXIT_REFUSED = 0, 1, 2, 3

DESCRIPTION = """\
ktc compiles K scripts (.k) to bytecode images (.kbc) and runs them in the
userspace VM (build/kvm, built with `make vm` on first use; $KTC_VM
overrides it)."""

EXAMPLES = """\
examples:
  ktc check hello.k                 report every error of hello.k (exit 1 if any)
  ktc check --json hello.k          the same, as a JSON list on stdout
  ktc compile hello.k               write hello.kbc next to the source
  ktc compile hello.k -o /tmp/h.kbc
  ktc run fib.k                     run the script's init; output on stdout
  ktc run --budget 1000000 --heap 1048576 --depth 100 loop.k
  ktc run hello.k --ops "open hello; read \\$ 4096; close \\$"
                                    drive the devices the script registers
  ktc run --param port=7 --param name=x dev.k
                                    load-time parameters (System.param)
  ktc disasm fib.k                  list the bytecode of every function
  ktc load hello_device.k           compile, load into konoha.ko (root; make load)
  ktc load --name hi --budget 1000000 hello_device.kbc
  ktc load --param greeting=hi hello_device.k
  ktc list                          the loaded scripts, their devices and memory
  ktc unload hello_device           remove a script and its devices
  ktc try hello_device.k -- cat /dev/hello
                                    boot Linux under QEMU (no root), load
                                    konoha.ko and the script, run the command
  ktc try --kernel 6.1 hello_device.k   the same, with a shell on the console
  ktc ioctl /dev/hello 1 21         ioctl(2) on a device node: prints 42
  ktc ioctl /dev/pts/0 0x5413 @0000000000000000
                                    a buffer argument, printed in hex after

exit status: 0 ok, 1 compile error or bad input, 2 uncaught exception or
abort while running (or in the init of a load), 3 image refused by the VM's
verifier."""

def _ops_help() -> str:
    """The --ops part of `ktc run --help`, from devops.def's table."""
    from . import devops
    lines = ["device operations for `run --ops`, separated by `;` or "
             "newlines:"]
    # one line per operation, in devops.def's order, from its synopsis and doc
    # columns
    for op in devops.SERVED.values():
        lines.append(f"  {op.synopsis:<28} {op.doc}")
    lines.append(f"  {'&OP ...':<28} run OP in the background, as another "
                 "process: it may wait until a\n"
                 f"  {'':<28} later operation or timer wakes it; its result "
                 "comes as `&N ...`")
    lines.append('FD may be `$`, the fd of the last successful open; MODE '
                 'is r, w or rw;\nWHENCE 0/set, 1/cur or 2/end (other '
                 'numbers reach the device, which\nrefuses them: EINVAL); '
                 'TEXT is "quoted" with \\n \\t \\xHH escapes, or bare.\n'
                 'Time is virtual for timers and awaitFor: only `wait` '
                 'advances it. The end of\nthe operations waits for every '
                 'background one; when every operation waits and\nno timer '
                 'is due, the run stops: `deadlock: every operation waits`, '
                 'exit status 2;\nwhen only a poll that wakes itself (its '
                 'poll() wakes a queue it waits on) can\nrun, 10000 times in '
                 'a row, it stops with `livelock: ...`, exit status 2.\n'
                 'Between two operations each background '
                 'one resumes at most 1000 times and the\ntimers due fire '
                 'at most 1000 times: ones that keep waking each other do '
                 'not\nhold up the next operation.')
    return "\n".join(lines)


class UsageError(Exception):
    """A user error: reported as `ktc: error: ...`, exit 1."""


# ---------------------------------------------------------------- helpers

def _read_source(path: str) -> str:
    """The text of source file `path`; UsageError when it is missing, a directory
    or unreadable."""
    p = pathlib.Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
    # K strings are byte strings: Latin-1 keeps every byte as one char.
    return data.decode("latin-1")


def _check_ext(path: str, allowed: tuple[str, ...]) -> str:
    """The extension of `path` if it is one of `allowed`, else UsageError (`ktc
    compile x.txt` is a user error, not a parse error)."""
    ext = pathlib.Path(path).suffix
    if ext not in allowed:
        want = " or ".join(allowed)
        raise UsageError(f"{path}: expected a {want} file")
    return ext


def render_diagnostics(diags, source: str) -> str:
    """Every diagnostic rendered with `Diagnostic.render`, separated by
    blank lines (what `ktc` prints on stderr); "" when there are none."""
    diags = list(diags)
    if not diags:
        return ""
    from frontend.diagnostics import render_all
    return render_all(diags, source) + "\n"


def _diag_json(diag):
    """A diagnostic as a JSON-able dict for `ktc check --json`: its own
    serialisation when it has one, else its public attributes."""
    for name in ("to_json", "to_dict", "as_dict", "json"):
        fn = getattr(diag, name, None)
        if callable(fn):
            d = fn()
            return json.loads(d) if isinstance(d, str) else d
    return {k: v for k, v in vars(diag).items() if not k.startswith("_")}


def _analyze(path: str):
    """Reads and analyses `path`: (source, frontend.compiler.Analysis)."""
    source = _read_source(path)
    from frontend.compiler import analyze
    return source, analyze(source, path)


def _compile(path: str, werror: bool = False,
             show_warnings: bool = False) -> bytes:
    """Compile a .k file to image bytes, or raise _CompileFailed after
    printing its diagnostics.  Warnings are printed only if
    `show_warnings`; under `werror` any warning fails the compile."""
    source = _read_source(path)
    from frontend.compiler import CompileError, compile_source
    warnings = []
    try:
        data = compile_source(source, path, werror=werror, warnings=warnings)
    except CompileError as e:
        diags = list(getattr(e, "diagnostics", None) or [])
        if show_warnings:
            diags = sorted(diags + e.warnings,
                           key=lambda d: (d.span[1], d.span[2]))
        sys.stderr.write(render_diagnostics(diags, source))
        if not diags:
            print(f"ktc: error: {e}", file=sys.stderr)
        raise _CompileFailed() from None
    if show_warnings:
        sys.stderr.write(render_diagnostics(warnings, source))
    return data


class _CompileFailed(Exception):
    """The compile failed and its diagnostics are printed already: main
    exits 1 without another message."""


def _image_bytes(path: str, **compile_options) -> bytes:
    """The image of FILE.k (compiled, with `compile_options`) or FILE.kbc (read as
    is: the VM or the kernel verifies it, not ktc)."""
    ext = _check_ext(path, (".k", ".kbc"))
    if ext == ".k":
        return _compile(path, **compile_options)
    p = pathlib.Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    try:
        return p.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None


# ---------------------------------------------------------------- commands

def cmd_check(args) -> int:
    """`ktc check FILE.k`: every error and warning, rendered on stderr or as JSON
    on stdout; exit 1 on an error (or a warning under --werror). Nothing is
    written."""
    _check_ext(args.file, (".k",))
    source, analysis = _analyze(args.file)
    diags = analysis.all_diagnostics()
    if args.json:
        print(json.dumps([_diag_json(d) for d in diags], indent=2))
    else:
        sys.stderr.write(render_diagnostics(diags, source))
    failed = not analysis.ok or (args.werror and analysis.warnings)
    return EXIT_ERROR if failed else EXIT_OK


def cmd_compile(args) -> int:
    """`ktc compile FILE.k`: writes the image (FILE.kbc or -o), with --jit also
    its stubs (_write_jit); warnings are printed."""
    _check_ext(args.file, (".k",))
    data = _compile(args.file, werror=args.werror, show_warnings=True)
    out = args.output or str(pathlib.Path(args.file).with_suffix(".kbc"))
    try:
        with open(out, "wb") as f:
            f.write(data)
    except OSError as e:
        raise UsageError(f"{out}: cannot write: {e.strerror}") from None
    if args.jit:
        _write_jit(data, out, args)
    return EXIT_OK


def _jit_stubs(data: bytes, args, profile="userspace"):
    """The JIT stubs of image `data` for `profile` (userspace or kernel) at the
    --ct level; an image ctjit cannot take is a UsageError."""
    import ctjit   # llvmlite: imported only when compiling stubs
    try:
        return ctjit.compile_image(data, profile=profile, ct=args.ct,
                                   kernel=getattr(args, "kernel", "6.12"))
    except ValueError as e:
        raise UsageError(str(e)) from None


def _write_jit(data: bytes, image_path: str, args):
    """FILE.jit.o (userspace), or the companion-module directory FILE.kmod/
    (kernel), beside the image."""
    import ctjit
    base = pathlib.Path(image_path).with_suffix("")
    stubs = _jit_stubs(data, args, args.profile)
    try:
        if args.profile == "kernel":
            ctjit.write_kmod(stubs, str(base) + ".kmod", base.name)
        else:
            pathlib.Path(str(base) + ".jit.o").write_bytes(stubs.obj)
    except ctjit.JitError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{base}: cannot write the JIT stubs: "
                         f"{e.strerror}") from None


def _jit_vm_args(data: bytes, args, tmp: str) -> list[str]:
    """Compile and link the userspace stubs of an image into tmp; the VM
    options that load them."""
    if not args.jit:
        return []
    import ctjit
    stubs = _jit_stubs(data, args)
    obj = os.path.join(tmp, "stubs.jit.o")
    so = os.path.join(tmp, "stubs.jit.so")
    with open(obj, "wb") as f:
        f.write(stubs.obj)
    try:
        ctjit.link_shared(obj, so)
    except ctjit.JitError as e:
        raise UsageError(str(e)) from None
    return host.kernel_jit_args(["--jit", so])


def cmd_disasm(args) -> int:
    """`ktc disasm`: the listing of every function of FILE.k (compiled first) or
    FILE.kbc; a malformed image is a UsageError."""
    from frontend.disasm import disassemble
    from frontend.image import ImageError, read_image
    data = _image_bytes(args.file)
    try:
        img = read_image(data)
    except ImageError as e:
        raise UsageError(f"{args.file}: {e}") from None
    sys.stdout.write(disassemble(img))
    return EXIT_OK


def _check_params(params: list[str]) -> list[str]:
    """The --param NAME=VALUE options of run and load, checked by the rules
    of System.param (the language reference §9.3: konoha.params_blob); a
    UsageError (exit 1) with the reason when they break them."""
    try:
        konoha.params_blob(params)
    except ValueError as e:
        raise UsageError(f"--param: {e}") from None
    return params


def _param_option(c) -> None:
    c.add_argument("--param", action="append", default=[],
                   metavar="NAME=VALUE",
                   help="a load-time parameter for System.param (repeat "
                   "for more: at most 32, names of 1-31 of [a-z0-9_], "
                   "values up to 1 KiB)")


# konoha.ko's default limits of a script (KVM_KERNEL_BUDGET in
# lkm/core/kvm.h, the module's heap quota), for run --kernel-limits.
KERNEL_BUDGET = 100_000_000
KERNEL_HEAP = 16 << 20


def cmd_run(args) -> int:
    """`ktc run`: runs the image's init in build/kvm (found or built by
    host.find_vm) with the given limits and returns the VM's exit status; with
    --ops, drives the script's devices afterwards (_run_ops). The program's
    stdout and stderr are the VM's own: ktc flushes its own streams before the
    VM writes."""
    if args.ops is not None:
        # before compiling and starting the VM: a bad --ops runs nothing
        _validate_ops(_parse_ops(args.ops))
    # refused before anything runs, exit 1 (the language reference §9.3)
    params = [w for p in _check_params(args.param) for w in ("--param", p)]
    # Warnings are printed only when asked for, so that the program's
    # stderr stays its own (the language reference §10).
    data = _image_bytes(args.file, werror=args.werror,
                        show_warnings=args.warnings or args.werror)
    # an absent limit is None: the VM's default applies (ktc does not restate
    # the defaults)
    limits = dict(budget=args.budget, heap=args.heap, depth=args.depth)
    if args.kernel_limits:
        # (1.1) konoha.ko's defaults (the language reference §9.4)
        if limits["budget"] is None:
            limits["budget"] = KERNEL_BUDGET
        if limits["heap"] is None:
            limits["heap"] = KERNEL_HEAP
    with tempfile.TemporaryDirectory(prefix="ktc-") as tmp:
        # the stubs' shared object lives in tmp, removed after the run
        vm_args = _jit_vm_args(data, args, tmp) + params
        if args.ops is not None:
            return _run_ops(data, args.ops, limits, vm_args)
        vm = host.find_vm(announce=lambda m: print(m, file=sys.stderr))
        path = os.path.join(tmp, pathlib.Path(args.file).stem + ".kbc")
        with open(path, "wb") as f:
            f.write(data)
        sys.stdout.flush()
        sys.stderr.flush()
        r = host.run_image_file(path, vm_binary=vm, vm_args=vm_args,
                                **limits)
    return r.returncode


# ---------------------------------------------------------------- konoha.ko

def _errno_text(code: int) -> str:
    """`strerror (ENAME)` of errno `code`, as ktc's failure lines show it."""
    import errno as errno_mod
    return f"{os.strerror(code)} ({errno_mod.errorcode.get(code, code)})"


# The source tree ktc runs from: `make load` builds konoha.ko in its build/,
# and `ktc load --jit` finds konoha.ko's Module.symvers there by default.
REPO = pathlib.Path(__file__).resolve().parent.parent


def _companion(data: bytes, args) -> pathlib.Path:
    """ktc load --jit: the image's kernel stubs for the target kernel,
    written beside it as FILE.kmod/ and built there against konoha.ko's
    Module.symvers; returns the module."""
    import ctjit
    from . import kmod
    release = args.kernel_release or os.uname().release
    symvers = args.symvers or str(REPO / "build" / "kernel" / release /
                                  "konoha" / "Module.symvers")
    try:
        return kmod.build_companion(
            data, release, symvers,
            str(pathlib.Path(args.file).with_suffix("")),
            progress=lambda m: print(f"ktc: {m}", file=sys.stderr))
    except (ctjit.JitError, kmod.KmodError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot write the companion module: "
                         f"{e.strerror}") from None


def _insmod(ko: pathlib.Path) -> None:
    """Inserts a companion module unless a module of its name (the image
    digest's start) is loaded already."""
    name = ko.stem
    if pathlib.Path("/sys/module", name).exists():
        print(f"ktc: {name} is loaded already", file=sys.stderr)
        return
    try:
        r = subprocess.run(["insmod", str(ko)], capture_output=True,
                           text=True)
    except OSError as e:
        raise UsageError(f"cannot run insmod: {e.strerror}") from None
    if r.returncode != 0:
        raise UsageError(f"insmod {ko} failed: "
                         f"{(r.stderr or r.stdout).strip()}")
    print(f"ktc: inserted {ko}", file=sys.stderr)


def cmd_load(args) -> int:
    """`ktc load`: loads the image into konoha.ko. With --jit, the companion
    module is built and inserted first (after checking that /dev/konoha can be
    opened, so that a missing module or a non-root user fails before a build).
    A load that fails prints the kernel's message: ENOEXEC (the verifier
    refused the image) exits 3, a failed init 2, the rest (name taken, no
    device, not root) 1."""
    import errno as errno_mod
    params = konoha.params_blob(_check_params(args.param))
    data = _image_bytes(args.file)
    name = args.name or ""
    if len(name.encode()) >= konoha.NAME_LEN:
        raise UsageError(f"--name: at most {konoha.NAME_LEN - 1} bytes")
    if (args.build_only or args.kernel_release or args.symvers) and \
            not args.jit:
        raise UsageError("--build-only, --kernel-release and --symvers go "
                         "with --jit")
    flags = 0
    if args.jit:
        if not args.build_only:
            # konoha.ko must be there (and we root) before building anything
            os.close(konoha.open_device(args.device))
        ko = _companion(data, args)
        if args.build_only:
            print(ko)
            return EXIT_OK
        _insmod(ko)
        flags = konoha.LOAD_JIT
    try:
        # 0 asks konoha.ko for its own default of that limit
        loaded = konoha.load(data, name=name, budget=args.budget or 0,
                             heap=args.heap or 0, depth=args.depth or 0,
                             flags=flags, device=args.device,
                             params=params)
    except konoha.LoadError as e:
        text = e.message
        print(f"ktc: load {args.file}: failed: {_errno_text(e.errno)}",
              file=sys.stderr)
        if text:
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
        # ENOEXEC: the verifier refused the image (its message says why)
        if e.errno == errno_mod.ENOEXEC:
            return EXIT_REFUSED
        # the kernel's message tells a failed init from other errors of the
        # same errno
        if "init failed" in text:
            return EXIT_RUNTIME
        return EXIT_ERROR
    print(f"loaded {args.file} as {loaded}"
          + (" (JIT stubs)" if args.jit else ""))
    return EXIT_OK


def cmd_unload(args) -> int:
    """`ktc unload NAME`: removes a script and its devices; ENOENT and EBUSY get a
    sentence of their own."""
    import errno as errno_mod
    try:
        konoha.unload(args.name, args.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        why = {errno_mod.ENOENT: "no script of that name is loaded",
               errno_mod.EBUSY: "one of its devices is open"}.get(e.errno)
        print(f"ktc: unload {args.name}: failed: {_errno_text(e.errno)}"
              + (f": {why}" if why else ""), file=sys.stderr)
        return EXIT_ERROR
    print(f"unloaded {args.name}")
    return EXIT_OK


def cmd_list(args) -> int:
    """`ktc list`: the loaded scripts as a table (or JSON)
    and the module's live allocation count (which returns to its value
    before a load once the script is unloaded)."""
    try:
        scripts, live = konoha.list_scripts(args.device)
    except OSError as e:
        print(f"ktc: list: failed: {_errno_text(e.errno)}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(dict(scripts=scripts, live_allocs=live), indent=2))
        return EXIT_OK
    if not scripts:
        print("no script loaded")
    else:
        print(f"{'NAME':<20} {'DEVICES':<24} {'MEMORY':>16} {'CALLS':>9} "
              f"{'FAILED':>7} {'OPEN':>5}")
    for s in scripts:
        mem = f"{s['heap_used']}/{s['heap_limit']}"
        print(f"{s['name']:<20} {' '.join(s['devices']) or '-':<24} "
              f"{mem:>16} {s['calls']:>9} {s['failed_calls']:>7} "
              f"{s['open_files']:>5}")
    print(f"module: {live} blocks allocated")
    return EXIT_OK


def cmd_try(args) -> int:
    """`ktc try`: boots a kernel under QEMU with konoha.ko and the script
    (try_.run). The guest's command comes after `--` (its words joined for the
    guest's sh), or from stdin when it is not a terminal; otherwise the guest's
    console is a shell. The name must fit konoha.ko's script names. Returns the
    command's exit status."""
    from . import try_
    name = args.name or pathlib.Path(args.file).stem
    # checked here so that a bad name fails before a kernel is built and booted
    if not name or len(name.encode()) >= konoha.NAME_LEN or "/" in name:
        raise UsageError(f"script name `{name}`: 1 to {konoha.NAME_LEN - 1} "
                         f"bytes, no `/` (--name)")
    if args.command_line:
        # the words joined by spaces and run by the guest's sh, as ssh does
        command = " ".join(args.command_line)
    elif not sys.stdin.isatty():
        # commands on stdin: run as a script, like `sh < FILE`
        command = sys.stdin.buffer.read().decode("latin-1")
    else:
        # no command: an interactive shell on the guest's console
        command = None
    if args.file.endswith(".k"):
        print(f"ktc: compiling {args.file}", file=sys.stderr)
    data = _image_bytes(args.file)
    params = _check_params(args.param)
    plan = try_.Plan(image=data, name=name, line=args.kernel, jit=args.jit,
                     budget=args.budget, heap=args.heap, depth=args.depth,
                     params=params, command=command, timeout=args.timeout)
    try:
        return try_.run(plan, interactive_tty=command is None)
    except try_.TryError as e:
        raise UsageError(str(e)) from None


def cmd_ioctl(args) -> int:
    """`ktc ioctl NODE CMD [ARG|@HEX]`: one ioctl(2) on a device node; prints its
    result, then for a buffer argument the bytes the driver left in it. A
    failing call exits 1 with its errno name."""
    from . import ioctl
    try:
        req = ioctl.parse(args.cmd, args.arg)
    except ioctl.ArgError as e:
        raise UsageError(str(e)) from None
    try:
        fd = ioctl.open_node(args.node)
    except OSError as e:
        print(f"ktc: ioctl: cannot open {args.node}: "
              f"{_errno_text(e.errno)}", file=sys.stderr)
        return EXIT_ERROR
    try:
        result = ioctl.call(fd, req)
    except OSError as e:
        print(f"ktc: ioctl {args.node} {req.cmd:#x}: failed: "
              f"{ioctl.errno_name(e.errno)} ({os.strerror(e.errno)})",
              file=sys.stderr)
        return EXIT_ERROR
    finally:
        os.close(fd)
    print(result)
    if req.buffer is not None:
        print(req.buffer.hex())
    return EXIT_OK


# ---------------------------------------------------------------- --ops

def _parse_ops(text: str) -> list[list[str]]:
    """The operations of --ops (separated by `;` or newlines) as lists of words;
    quotes are kept (posix=False), so that _unescape sees a quoted TEXT whole.
    """
    ops = []
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            words = shlex.split(part, posix=False)
        except ValueError as e:
            raise UsageError(f"bad operation `{part}`: {e}") from None
        ops.append(words)
    return ops


def _unescape(text: str) -> bytes:
    """The bytes of a --ops TEXT: its quotes removed, the one-character escapes of
    K's string literals and the hexadecimal escape decoded, other characters as
    Latin-1 bytes (one byte per character, as K strings are)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    out = bytearray()
    i = 0
    # K's one-character escapes but `\b` and `\f`; a `\x` without two hex
    # digits, or an unknown escape, stays as written
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            if n == "x" and i + 3 < len(text) + 0:
                try:
                    out.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out += c.encode("latin-1")
        i += 1
    return bytes(out)


def _show_bytes(b: bytes) -> str:
    """Bytes quoted as the disassembler shows string constants."""
    from frontend.disasm import _quote
    return _quote(b)


def _validate_ops(ops):
    """UsageError for an unknown operation or a wrong argument count, before the
    VM starts: a typo must not leave a half-run session."""
    from . import devops
    for words in ops:
        # (1.1) `&OP`: OP in the background
        background = words[0].startswith("&")
        name = words[0][1:] if background else words[0]
        op = devops.SERVED.get(name)
        if op is None:
            raise UsageError(f"unknown operation `{name}` (see `ktc run "
                             f"--help`)")
        if background and op.callback is None:
            raise UsageError(f"`{name}` cannot run in the background")
        lo, hi = op.arity
        if len(words) - 1 < lo or (hi is not None and len(words) - 1 > hi):
            raise UsageError(
                f"wrong number of arguments in `{' '.join(words)}`")


def _show_error(e: OSError) -> str:
    """What --ops prints for an operation that failed with OSError e; (1.1)
    then the user buffer of `ioctl FD CMD @HEX` after the call, which the
    callback may have written before it failed."""
    import errno as errno_mod
    code = e.errno
    # Python's table lacks Linux's last user errno (133, §9.1's range)
    sym = errno_mod.errorcode.get(code) or {133: "EHWPOISON"}.get(code, "?")
    text = f"error {sym} ({code}): {os.strerror(code)}"
    buf = getattr(e, "buffer", None)
    if buf is not None:
        text += f"\nbuffer @{buf.hex()}"
    return text


def _show_background(b) -> str:
    """(1.1) The result of an ended background operation, each line
    prefixed with `&N `."""
    text = _show_error(b.error) if b.error is not None \
        else _show_result(b.op, b.value)
    return "\n".join(f"&{b.number} {line}" for line in text.split("\n"))


def _show_result(op, value) -> str:
    """What --ops prints for an operation's result (devops.def's shown)."""
    if op.kind == "DATA" and not value:
        text = "0 bytes (end of file)"
    elif op.kind in ("DATA", "CONTENT"):
        text = f"{len(value)} bytes {_show_bytes(value)}"
    elif op.kind == "NAMES":
        text = " ".join(value) or "(none)"
    elif op.kind == "IOCTL" and isinstance(value, tuple):
        # (1.1) the user buffer of `ioctl FD CMD @HEX`, after the call
        result, buf = value
        return (op.shown.replace("%", str(result))
                + f"\nbuffer @{buf.hex()}")
    else:
        text = str(value)
    return op.shown.replace("%", text)


def _run_ops(image: bytes, ops_text: str, limits, vm_args=()) -> int:
    """`ktc run --ops`: starts the VM in serve mode (host.VM), runs the init, then
    each operation on the script's devices, printing `> op` and its result (an
    errno as `error ENAME (n): text`, which does not stop the session). The
    script's output and log lines are flushed between operations, so that they
    appear in order with the results. (1.1) `&OP` runs OP in the background
    (host.VM.background): its result comes as `&N ...` when it ends, after the
    result of the operation that woke it (each operation's own result is
    printed before what it woke runs: host.VM.settle); the end of the
    operations waits for them all (`sync`). Returns the init's status if it
    failed, 2 if the VM failed or stopped in a deadlock, else the VM's own exit
    status."""
    from . import devops
    ops = _parse_ops(ops_text)
    last_fd = None

    def operand(o, word, dry=False):
        """One --ops word as the value host.VM.op takes (dry: checks its
        spelling only, before the run; `$` is then any fd)."""
        # operand letters (devops.def): f fd (`$` the last open's), i integer,
        # w whence, m mode, b bytes, o open option, a ioctl argument (an
        # integer, or @HEX: a user buffer holding those bytes)
        if o.letter == "f":
            if word == "$":
                if dry:
                    return 0
                if last_fd is None:
                    raise UsageError("`$` used before any successful open")
                return last_fd
            try:
                return int(word)
            except ValueError:
                raise UsageError(f"bad file descriptor `{word}`") from None
        if o.letter == "i":
            try:
                return int(word, 0)
            except ValueError:
                raise UsageError(f"bad {o.meta} `{word}`") from None
        if o.letter == "w":
            # any number too: lseek(2) takes it, and the device refuses
            # those past SEEK_END with EINVAL (the language reference §9.1)
            if word.lower() in devops.WHENCE:
                return devops.WHENCE[word.lower()]
            try:
                return int(word, 0)
            except ValueError:
                raise UsageError(f"bad whence `{word}`") from None
        if o.letter == "m" and word not in devops.MODES:
            raise UsageError(f"bad mode `{word}`")
        if o.letter == "o" and word not in devops.FLAGS:
            raise UsageError(f"bad open option `{word}`")
        if o.letter == "a":
            if word.startswith("@"):
                try:
                    return bytes.fromhex(word[1:])
                except ValueError:
                    raise UsageError(f"bad user buffer `{word}`") from None
            try:
                return int(word, 0)
            except ValueError:
                raise UsageError(f"bad {o.meta} `{word}`") from None
        if o.letter == "b":
            return _unescape(word)
        return word

    def op_args(op, words, dry=False):
        """The operands of one operation's words, as host.VM.op takes them."""
        if op.name == "open" and len(words) == 3 and \
                words[2] in devops.FLAGS:
            # `open NAME nonblock`: the mode left out (§9.4)
            words = words[:2] + ["rw"] + words[2:]
        args = []
        for k, o in enumerate(op.operands[:len(words) - 1]):
            # the bytes operand takes the rest of the line
            word = " ".join(words[1 + k:]) if o.letter == "b" \
                else words[1 + k]
            args.append(operand(o, word, dry))
        return args

    _validate_ops(ops)
    # every operand's spelling too: a typo must not leave a half-run session
    for words in ops:
        op_args(devops.SERVED[words[0].lstrip("&")], words, dry=True)

    vm = host.VM(image, vm_args=vm_args, **limits)
    try:
        vm.start()
    # the init failed: its report and status, as `ktc run` without --ops gives
    # them
    except host.InitError as e:
        _flush_vm_output(vm)
        sys.stderr.write(e.report)
        return e.status
    except host.VMError as e:
        print(f"ktc: error: {e}", file=sys.stderr)
        return EXIT_RUNTIME
    def flush():
        """The output so far; `$` follows a background open that ended."""
        nonlocal last_fd
        for b in _flush_vm_output(vm):
            if b.op.name == "open" and b.error is None:
                last_fd = b.value

    status = EXIT_OK
    try:
        flush()
        for words in ops:
            print(f"> {' '.join(words)}")
            background = words[0].startswith("&")
            op = devops.SERVED[words[0][1:] if background else words[0]]
            result = None
            try:
                args = op_args(op, words)
                if background:
                    # its result comes when it ends (flush)
                    vm.background(op.name, *args)
                else:
                    # what this operation wakes runs after its result
                    value = vm.op(op.name, *args, settle=False)
                    if op.name == "open":
                        # `$` refers to the fd of the last successful open
                        # from now on
                        last_fd = value
                    result = _show_result(op, value)
            except OSError as e:
                result = _show_error(e)
            flush()
            # `wait` and `sync` show nothing of their own
            if result:
                print(result)
            sys.stdout.flush()
            if not background:
                vm.settle()
                flush()
        # the end of the operations waits for the background ones
        vm.sync()
        flush()
    except host.Stopped:
        # the VM's report (`deadlock: ...`) is printed below
        flush()
        status = EXIT_RUNTIME
    except host.VMError as e:
        _flush_vm_output(vm)
        print(f"ktc: error: {e}", file=sys.stderr)
        status = EXIT_RUNTIME
    finally:
        # quit in every case: the VM's report (uncaught exceptions, leaks) is
        # printed last
        vm_status = vm.quit()
        _flush_vm_output(vm)
        sys.stderr.write(vm.report)
    # the VM's own exit status (an abort in a callback) wins over success
    if status == EXIT_OK and vm_status not in (0, None):
        status = vm_status
    return status


def _flush_vm_output(vm) -> list:
    """Prints the VM's output and (1.1) the results of background operations
    that ended, in the order they came (stdout), and kernel-log lines
    (stderr) received so far; returns those background operations."""
    ended = []
    for kind, item in vm.events:
        if kind == "out":
            print(item)
        else:
            print(_show_background(item))
            ended.append(item)
    for line in vm.log:
        print(line, file=sys.stderr)
    vm.events.clear()
    vm.output.clear()
    vm.log.clear()
    sys.stdout.flush()
    sys.stderr.flush()
    return ended


# ---------------------------------------------------------------- parser

def _positive(text: str) -> int:
    """argparse type of --budget, --heap, --depth, --timeout: a positive integer,
    decimal or 0x."""
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not an integer")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"`{text}` must be positive")
    return v


class _Parser(argparse.ArgumentParser):
    """Usage errors exit with 1, like every other user error (2 and 3 are
    the VM's statuses under `ktc run`)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _jit_options(c):
    """--jit and --ct, shared by compile and run."""
    c.add_argument("--jit", action="store_true",
                   help="also compile the bytecode to native stubs by "
                   "context threading (ctjit/)")
    c.add_argument("--ct", default="all", metavar="LEVEL",
                   help="context-threading techniques for --jit: "
                   "subroutine, +branch, +call, +tiny, +direct "
                   "(cumulative) or all (the default, = +direct)")


def _werror_option(c):
    """--werror, shared by check, compile and run."""
    c.add_argument("--werror", action="store_true",
                   help="treat warnings as errors: print them and exit 1 "
                   "(nothing is written or run)")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand; each sets `func`, the cmd_
    function main calls. The help texts are the user's reference of the options
    and exit statuses."""
    p = _Parser(
        prog="ktc", description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # The defaults the help texts give are not applied here: an absent
    # --budget, --heap or --depth is passed as absent, and the VM (`run`) or
    # konoha.ko (`load`, `try`) applies its own.
    c = sub.add_parser("check", help="type-check a script and report every error",
                       description="Parse and type-check FILE.k; report all "
                       "diagnostics (stderr), exit 1 if there is any error.")
    c.add_argument("file", metavar="FILE.k")
    c.add_argument("--json", action="store_true",
                   help="print the diagnostics as a JSON list on stdout")
    _werror_option(c)
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("compile", help="compile a script to a .kbc image",
                       description="Compile FILE.k to a bytecode image "
                       "(default: FILE.kbc next to the source).")
    c.add_argument("file", metavar="FILE.k")
    c.add_argument("-o", "--output", metavar="OUT.kbc",
                   help="where to write the image")
    _jit_options(c)
    c.add_argument("--profile", choices=("userspace", "kernel"),
                   default="userspace",
                   help="JIT target: userspace writes FILE.jit.o, kernel a "
                   "companion-module directory FILE.kmod/ (default "
                   "userspace)")
    c.add_argument("--kernel", choices=("6.1", "6.12"), default="6.12",
                   help="kernel line of --profile kernel (6.12 adds IBT "
                   "and call-depth-tracking code generation)")
    _werror_option(c)
    c.set_defaults(func=cmd_compile)

    c = sub.add_parser(
        "run", help="run a script (or image) in the userspace VM",
        description="Compile FILE.k (or take FILE.kbc) and run its init in "
        "the userspace VM: program output on stdout, the report of an "
        "uncaught exception or abort on stderr.  With --ops, then drive "
        "the devices the script registered.",
        epilog=_ops_help() + "\n\nexit status: 0 ok, 1 compile error or "
        "parameters refused, 2 uncaught "
        "exception or abort, 3 image refused.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("file", metavar="FILE.k|FILE.kbc")
    c.add_argument("--budget", type=_positive, metavar="N",
                   help="instructions per call (default 2^32)")
    c.add_argument("--heap", type=_positive, metavar="BYTES",
                   help="heap quota in bytes (default 256 MiB)")
    c.add_argument("--depth", type=_positive, metavar="N",
                   help="maximum call depth (default 1000)")
    c.add_argument("--kernel-limits", action="store_true",
                   help="the limits konoha.ko gives a script by default "
                   "(budget 10^8 per init or callback, heap 16 MiB) where "
                   "--budget and --heap do not say otherwise")
    _jit_options(c)
    c.add_argument("--ops", "--device-ops", dest="ops", metavar="OPS",
                   help='device operations, e.g. "open hello; read $ 4096; '
                   'close $" (see below)')
    c.add_argument("--warnings", action="store_true",
                   help="print the compiler's warnings (on stderr) before "
                   "running; without it a run prints none")
    _werror_option(c)
    _param_option(c)
    c.set_defaults(func=cmd_run)

    c = sub.add_parser("disasm", help="print the bytecode of a script or image",
                       description="Disassemble FILE.k (compiled first) or "
                       "FILE.kbc: per function a header, then `offset line "
                       "OPCODE operands`.")
    c.add_argument("file", metavar="FILE.k|FILE.kbc")
    c.set_defaults(func=cmd_disasm)

    c = sub.add_parser(
        "load", help="load a script (or image) into konoha.ko",
        description="Compile FILE.k (or take FILE.kbc) and load it into "
        "konoha.ko through /dev/konoha (root only): the kernel verifies the "
        "image and runs its init, which registers the script's devices.  "
        "On failure the verifier's or the init's message is printed.",
        epilog="With --jit, the image's stubs are compiled for the running "
        "kernel (--profile kernel) into FILE.kmod/, built there as a "
        "companion module with the kernel's Kbuild against konoha.ko's "
        "Module.symvers (by default the one `make load` built in this "
        "source tree), inserted, and the script is loaded on them.  "
        "exit status: 0 loaded, 1 bad input, no /dev/konoha, not "
        "root, the name is taken, or the companion module could not be "
        "built or inserted, 2 the init failed, 3 image refused.")
    c.add_argument("file", metavar="FILE.k|FILE.kbc")
    c.add_argument("--jit", action="store_true",
                   help="build and insert the JIT companion module, then "
                   "load the script on its stubs (refused without them)")
    c.add_argument("--kernel-release", metavar="RELEASE",
                   help="with --jit: the kernel to build for (default: "
                   "the running one, uname -r)")
    c.add_argument("--symvers", metavar="FILE",
                   help="with --jit: konoha.ko's Module.symvers (default: "
                   "build/kernel/RELEASE/konoha/Module.symvers)")
    c.add_argument("--build-only", action="store_true",
                   help="with --jit: build the companion module, print its "
                   "path and load nothing")
    c.add_argument("--name", metavar="NAME",
                   help="script name (default: the source file's name "
                   "without .k)")
    c.add_argument("--budget", type=_positive, metavar="N",
                   help="instructions per init or callback (default 10^8)")
    c.add_argument("--heap", type=_positive, metavar="BYTES",
                   help="heap quota in bytes (default 16 MiB)")
    c.add_argument("--depth", type=_positive, metavar="N",
                   help="maximum call depth (default 1000)")
    _param_option(c)
    c.add_argument("--device", default=konoha.DEVICE, help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_load)

    c = sub.add_parser(
        "unload", help="unload a script from konoha.ko",
        description="Remove the script NAME and its devices (fails while "
        "one of them is open).")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--device", default=konoha.DEVICE, help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_unload)

    c = sub.add_parser(
        "list", help="list the scripts loaded in konoha.ko",
        description="The loaded scripts: devices, heap in use and quota, "
        "device calls served and failed, open files; then the module's "
        "live allocation count.")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument("--device", default=konoha.DEVICE, help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_list)

    c = sub.add_parser(
        "try", help="boot Linux under QEMU with konoha.ko and a script, run "
        "a command or a shell there",
        usage="ktc try [options] FILE.k|FILE.kbc [-- COMMAND...]",
        description="Compile FILE.k (or take FILE.kbc), build (or reuse) "
        "konoha.ko for a Debian kernel (6.12 or 6.1, installed by `make "
        "setup`), boot that kernel under QEMU (software emulation, as the "
        "invoking user: no root, the host's kernel is not touched), load "
        "konoha.ko and the script there, then run COMMAND in the guest's "
        "shell (its words joined by spaces, as ssh does: `-- 'cat "
        "/dev/hello | wc -c'` runs a pipeline), print its output and the "
        "script's kernel log lines (on stderr), and power the guest off.  "
        "Without COMMAND: a shell on the console (exit or Ctrl-D powers "
        "off, Ctrl-A x stops QEMU); when stdin is not a terminal, the "
        "commands are read from it and run as a script.  The guest has "
        "busybox and the guest tools kdrive and kload (e.g. `kdrive op "
        "/dev/hello open ioctl:1:21 close`).",
        epilog="exit status: the command's (or the shell's); if the script "
        "does not load: 3 image refused, 2 init failed, 1 otherwise; 1 "
        "when ktc cannot build or boot (`ktc: error:` on stderr).")
    c.add_argument("file", metavar="FILE.k|FILE.kbc")
    c.add_argument("--kernel", choices=("6.1", "6.12"), default="6.12",
                   help="the kernel line to boot (default 6.12)")
    c.set_defaults(command_line=None)
    c.add_argument("--jit", action="store_true",
                   help="also build the image's JIT companion module for "
                   "that kernel (ktc/kmod.py) and load the script on its "
                   "stubs")
    c.add_argument("--name", metavar="NAME",
                   help="script name (default: the file's name without "
                   "its extension)")
    c.add_argument("--budget", type=_positive, metavar="N",
                   help="instructions per init or callback (default 10^8)")
    c.add_argument("--heap", type=_positive, metavar="BYTES",
                   help="heap quota in bytes (default 16 MiB)")
    c.add_argument("--depth", type=_positive, metavar="N",
                   help="maximum call depth (default 1000)")
    c.add_argument("--timeout", type=_positive, metavar="SECONDS",
                   help="stop the machine after this long (default: never)")
    _param_option(c)
    c.set_defaults(func=cmd_try)

    c = sub.add_parser(
        "ioctl", help="issue one ioctl(2) on a device node",
        description="Open NODE (read-write, or read-only when writing is "
        "refused) and call ioctl(2) with CMD (decimal or 0x hex, unsigned "
        "32-bit) and ARG: an integer, passed as the long argument (default "
        "0), or @HEX, a buffer holding those bytes whose address is the "
        "argument.  Prints the result, then for @HEX the buffer in hex as "
        "the driver left it.",
        epilog="exit status: 0 ok; 1 bad arguments, NODE cannot be opened, "
        "or the call failed (its errno name on stderr).")
    c.add_argument("node", metavar="NODE", help="e.g. /dev/hello")
    c.add_argument("cmd", metavar="CMD")
    c.add_argument("arg", metavar="ARG|@HEX", nargs="?")
    c.set_defaults(func=cmd_ioctl)
    return p


def _split_try(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """`ktc try ... -- COMMAND...`: the arguments before the first `--`
    and the guest's command line after it (argparse would take the
    command's options for its own)."""
    # only when the subcommand is `try`: other commands take no `--`
    words = [w for w in argv if not w.startswith("-")]
    if words and words[0] == "try" and "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, None


def main(argv=None) -> int:
    """Runs ktc with `argv` (sys.argv by default) and returns the exit status: the
    command's, 1 for a user error or failed compile (the message on stderr), 2
    when the VM failed, 130 on Ctrl-C."""
    parser = build_parser()
    argv, command_line = _split_try(sys.argv[1:] if argv is None
                                    else list(argv))
    args = parser.parse_args(argv)
    if command_line is not None:
        # argparse never saw the guest's command: cmd_try reads it here
        args.command_line = command_line
    try:
        return args.func(args)
    except (UsageError, konoha.DeviceError) as e:
        print(f"ktc: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except _CompileFailed:
        return EXIT_ERROR
    except host.VMError as e:
        print(f"ktc: error: {e}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
