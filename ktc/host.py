"""Host library: drive the devices of a K script from Python.

`VM` compiles a script (or takes an image), starts the userspace VM in
serve mode (`build/kvm --serve IMAGE.kbc`), and calls the callbacks of the
devices the script registered with the semantics of the kernel's system
calls::

    with VM.from_source(open("hello.k").read(), "hello.k") as vm:
        with vm.open("hello") as f:
            print(f.read(4096))          # b'hello #1\\n'
        print(vm.output)                 # lines the script printed

The serve protocol (one text line per command on the VM's stdin, answers
on its stdout) speaks the operations of lkm/core/devops.def, the table of
device operations (`python3 -m ktc.devops` lists them): `NAME OPERAND...`
with bytes in hex (`-` for none), e.g.

    command                   answer
    open NAME [r|w|rw] [nonblock|-]  ok FD
    read FD [COUNT]           ok N HEXBYTES      (N = 0 at EOF; HEXBYTES then `-`)
    write FD HEXBYTES         ok N               (HEXBYTES `-` for no bytes)
    ioctl FD CMD [ARG]        ok RESULT          (ARG @HEX: ok RESULT HEX, a user
                                                  buffer as the call left it)
    lseek FD OFFSET [WHENCE]  ok POS             (WHENCE 0 SET, 1 CUR, 2 END)
    pread FD COUNT OFFSET     ok N HEXBYTES      (the position stays)
    pwrite FD OFFSET HEXBYTES ok N               (the position stays)
    poll FD                   ok MASK            (Poll's bits; 5 for a Device;
                                                  waits while it is 0)
    close FD                  ok 0
    devices                   ok NAME1 NAME2 ... (or `ok` alone)
    wait MS                   ok 0               (virtual time advances by MS)
    sync                      ok 0               (background operations ended)
    &OP OPERAND...            ok N               (OP runs in the background)
    settle                    ok 0               (what wake-ups made runnable runs)
    quit                      (the VM exits)

Every command ends with exactly one `ok VALUES` or `err ERRNO` line (`err
ERRNO HEX` for an ioctl with a user buffer that failed: the buffer after
the call, as the OSError's `buffer`); before
it come any number of `out TEXT` lines (a line the script printed), `log
TEXT` lines (a report of a failed callback, as the kernel would log it) and
`&N ok VALUES` / `&N err ERRNO` lines (background operation N ended).
The VM runs the script's init first; if it fails, the VM prints the report
on stderr and exits with status 2 before reading any command (`InitError`
here).  A refused image exits with status 3.

(1.1) Blocking (the language reference §9.2, §9.4).  A callback may wait
in a WaitQueue; the VM runs each operation on a thread of its own, one at
a time, deterministically.  `vm.background(name, ...)` (or
`f.background(name, ...)`) starts an operation as another process would:
it returns a `Background`, which is `done` once the operation has ended
(a later operation or timer woke it).  Every method runs, after its
operation, what that operation woke (`settle`), so `Background` results
are up to date when it returns.  `vm.wait(ms)` advances the virtual time
of timers and `awaitFor`; `vm.sync()` waits for every background
operation.  When an operation must end but every one waits and no timer
is due, the VM stops (status 2): `Deadlock` here; when only a poll that
wakes itself can run (10,000 times in a row), it stops too (`livelock:
...`, `Stopped` here).

`VM` and `DeviceFile` have a method per operation of the table, made from
its line (`VM.op(name, ...)` underneath): `vm.ioctl(fd, cmd, arg=0)`,
`f.ioctl(cmd, arg=0)`, and so on; only `open` is written by hand.  An
ioctl's ARG given as bytes is a user buffer holding them: the method then
returns (result, the buffer's bytes after the call).
"""

from __future__ import annotations

import errno as _errno
import inspect
import os
import pathlib
import subprocess
import sys
import tempfile

from . import devops

REPO = pathlib.Path(__file__).resolve().parent.parent

EXIT_OK, EXIT_COMPILE, EXIT_RUNTIME, EXIT_REFUSED = 0, 1, 2, 3


class VMError(Exception):
    """The VM could not be found, built or started, or broke the protocol."""


class Stopped(VMError):
    """(1.1) The VM stopped the simulation with status 2 and a one-line
    report on stderr (`report`): a deadlock, timers that restart without
    delay forever, or a poll that keeps waking itself (a livelock)."""

    def __init__(self, report: str):
        self.report = report
        super().__init__(report)


class Deadlock(Stopped):
    """(1.1) Every operation waited with nothing due to wake them: the VM
    stopped with status 2 and `deadlock: every operation waits`."""


class InitError(VMError):
    """The VM exited before serving: the init failed (status 2) or the image
    was refused (status 3).  `report` is the VM's stderr."""

    def __init__(self, status: int, report: str):
        self.status = status
        self.report = report
        what = "image refused" if status == EXIT_REFUSED else "init failed"
        super().__init__(f"{what} (exit {status}): {report.strip()}")


def find_vm(build: bool = True, announce=None) -> str:
    """The VM binary: $KTC_VM if set, else <repo>/build/kvm, built with
    `make vm` when missing (calling `announce(message)` first)."""
    env = os.environ.get("KTC_VM")
    if env:
        if not os.path.exists(env):
            raise VMError(f"KTC_VM names `{env}`, which does not exist")
        # absolute: the VM may run with another working directory
        return os.path.abspath(env)
    path = REPO / "build" / "kvm"
    if not path.exists() and build:
        if announce:
            announce("ktc: building the VM (make vm)...")
        r = subprocess.run(["make", "-C", str(REPO), "vm"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode != 0 or not path.exists():
            tail = "\n".join(r.stdout.splitlines()[-15:])
            raise VMError(f"could not build the VM with `make vm`:\n{tail}")
    if not path.exists():
        raise VMError(f"no VM binary at {path} (run `make vm`)")
    return str(path)


# konoha.ko's KP_JIT_NEST_MAX (lkm/core/kport.h): the frames JIT stubs run
# natively there.  A simulation on stubs passes it to build/kvm
# (--jit-nest), whose own default is deeper, so that a waiting call keeps
# (and is charged for) the frame array it would keep in the kernel.
KERNEL_JIT_NEST = 24


def kernel_jit_args(vm_args) -> list[str]:
    """vm_args with --jit-nest KERNEL_JIT_NEST added when they load
    stubs (--jit) and do not set it."""
    vm_args = list(vm_args)
    if "--jit" in vm_args and "--jit-nest" not in vm_args:
        vm_args += ["--jit-nest", str(KERNEL_JIT_NEST)]
    return vm_args


def limit_args(budget=None, heap=None, depth=None) -> list[str]:
    args = []
    if budget is not None:
        args += ["--budget", str(budget)]
    if heap is not None:
        args += ["--heap", str(heap)]
    if depth is not None:
        args += ["--depth", str(depth)]
    return args


def compile_file_source(source: str, filename: str) -> bytes:
    from frontend.compiler import compile_source
    return compile_source(source, filename)


class DeviceFile:
    """An open file of a device (returned by `VM.open`)."""

    def __init__(self, vm: "VM", fd: int, name: str):
        self.vm = vm
        self.fd = fd
        self.name = name
        self.closed = False

    def read_all(self, chunk: int = 4096) -> bytes:
        parts = []
        while True:
            b = self.read(chunk)
            if not b:
                return b"".join(parts)
            parts.append(b)

    def close(self):
        if not self.closed:
            self.closed = True
            self.vm.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<DeviceFile /dev/{self.name} fd={self.fd}>"

    def background(self, name: str, *args) -> "Background":
        """Operation `name` on this file in the background (`&OP`)."""
        return self.vm.background(name, self.fd, *args)

    # read, write, ioctl, lseek...: made from devops.def below (_install)


class Background:
    """(1.1) An operation started in the background (`VM.background`): like
    another process's system call, it may wait until a later operation or
    timer wakes it.  `number` is its N in `&N` (from 1)."""

    def __init__(self, vm: "VM", number: int, op: devops.DevOp):
        self.vm = vm
        self.number = number
        self.op = op
        self.done = False
        self.value = None                # the result, once done
        self.error: OSError | None = None

    def result(self):
        """The operation's result; its OSError if it failed.  VMError while
        it has not ended (`vm.sync()` waits for it)."""
        if not self.done:
            raise VMError(f"background operation &{self.number} "
                          f"({self.op.name}) has not ended")
        if self.error is not None:
            raise self.error
        return self.value

    def _end(self, values: list[str] | None, error: OSError | None):
        self.done = True
        if error is not None:
            self.error = error
        else:
            self.value = _result(self.op, values)

    def __repr__(self):
        state = "done" if self.done else "running"
        return f"<Background &{self.number} {self.op.name} {state}>"


class VM:
    """A userspace VM serving the devices of one script."""

    def __init__(self, image: bytes | None = None, *, image_path=None,
                 budget=None, heap=None, depth=None, vm_binary=None,
                 vm_args=()):
        if (image is None) == (image_path is None):
            raise ValueError("give exactly one of image and image_path")
        self._image = image
        self._image_path = image_path
        self._limits = limit_args(budget, heap, depth)
        # e.g. ["--jit", "stubs.so"], run as deep as in the kernel
        self._vm_args = kernel_jit_args(vm_args)
        self._vm_binary = vm_binary
        self._proc = None
        self._tmpdir = None
        self._stderr = None
        self.output: list[str] = []      # `out` lines, in order
        self.log: list[str] = []         # `log` lines, in order
        # (1.1) background operations by number, and the `out` lines and
        # ended background operations in the order they came:
        # ("out", text) and ("bg", Background)
        self.backgrounds: dict[int, Background] = {}
        self.events: list[tuple] = []

    @classmethod
    def from_source(cls, source: str, filename: str = "script.k", **kw):
        return cls(compile_file_source(source, filename), **kw)

    @classmethod
    def from_file(cls, path, **kw):
        path = pathlib.Path(path)
        if path.suffix == ".kbc":
            return cls(image_path=str(path), **kw)
        return cls.from_source(path.read_text(encoding="latin-1"),
                               str(path), **kw)

    # lifetime
    def start(self):
        binary = self._vm_binary or find_vm(
            announce=lambda m: print(m, file=sys.stderr))
        path = self._image_path
        self._tmpdir = tempfile.TemporaryDirectory(prefix="ktc-")
        if path is None:
            path = os.path.join(self._tmpdir.name, "script.kbc")
            with open(path, "wb") as f:
                f.write(self._image)
        self._stderr = open(os.path.join(self._tmpdir.name, "stderr"), "w+b")
        self._proc = subprocess.Popen(
            [binary, *self._limits, *self._vm_args, "--serve", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr)
        # `devices` is answered only after the init has run: it tells a
        # failed init (the VM exits) from a running one.
        try:
            self.devices()
        except VMError:
            status = self._proc.wait()
            # what the init printed before it failed: the command may
            # have failed (the pipe closed) before any of it was read
            try:
                for raw in self._proc.stdout.read().splitlines():
                    self._note(raw.decode("latin-1"))
            except (OSError, ValueError, VMError):
                pass
            raise InitError(status, self.stderr()) from None
        return self

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("latin-1")

    def quit(self) -> int:
        """Stop the VM; returns its exit status."""
        if self._proc is None:
            return 0
        proc, self._proc = self._proc, None
        try:
            if proc.poll() is None:
                try:
                    proc.stdin.write(b"quit\n")
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                status = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            # drain any trailing output lines
            for raw in proc.stdout.read().splitlines():
                self._note(raw.decode("latin-1"))
            proc.stdout.close()
            return status
        finally:
            self.report = self.stderr()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
                self._tmpdir = None

    close_vm = quit

    def __enter__(self):
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.quit()

    # protocol
    def _note(self, line: str) -> bool:
        if line.startswith("out ") or line == "out":
            self.output.append(line[4:])
            self.events.append(("out", line[4:]))
            return True
        if line.startswith("log ") or line == "log":
            self.log.append(line[4:])
            return True
        if line.startswith("&"):
            # `&N ok VALUES` or `&N err ERRNO`: background operation N ended
            number, _, answer = line[1:].partition(" ")
            word, _, rest = answer.partition(" ")
            b = self.backgrounds.get(int(number)) \
                if number.isdigit() else None
            if b is None or word not in ("ok", "err"):
                raise VMError(f"unexpected line {line!r}")
            if word == "ok":
                b._end(rest.split(), None)
            else:
                b._end(None, _error(rest, line))
            self.events.append(("bg", b))
            return True
        return False

    def _exited(self) -> VMError:
        """The error for a VM that exited while a command was answered."""
        report = self.stderr()
        try:
            status = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            status = None
        if status == EXIT_RUNTIME and report.startswith("deadlock:"):
            return Deadlock(report.strip())
        if status == EXIT_RUNTIME and report.startswith(("abort: timers", "livelock:")):
            return Stopped(report.strip())
        return VMError("the VM exited: " + report.strip())

    def command(self, line: str) -> list[str]:
        """Send one command line; returns the values of its `ok` answer,
        raises OSError(errno) on `err`."""
        if self._proc is None:
            raise VMError("the VM is not running")
        try:
            self._proc.stdin.write(line.encode("latin-1") + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._exited() from None
        while True:
            raw = self._proc.stdout.readline()
            if not raw:
                raise self._exited()
            text = raw.decode("latin-1").rstrip("\n")
            if self._note(text):
                continue
            word, _, rest = text.partition(" ")
            if word == "ok":
                return rest.split()
            if word == "err":
                raise _error(rest, text)
            raise VMError(f"unexpected answer {text!r} to {line!r}")

    # system calls: open here, the others made from devops.def (_install)
    def open(self, name: str, mode: str = "rw", flag: str = "-") -> DeviceFile:
        """open(2) of /dev/NAME; flag "nonblock" opens with O_NONBLOCK."""
        if not name or any(c.isspace() for c in name):
            raise OSError(_errno.ENOENT, f"no device named {name!r}")
        return DeviceFile(self, self.op("open", name, mode, flag), name)

    def op(self, name: str, *args, settle: bool = True):
        """Runs operation `name` of devops.def with its operands in the
        table's order (those with a default may be left out): an int for
        an FD, COUNT, INT or NONE result, bytes for DATA and CONTENT, a
        list of names for NAMES.  Raises OSError(errno) on `err`.  Then,
        unless settle is false, runs what the operation woke (`settle`),
        failed or not."""
        op = devops.SERVED.get(name)
        if op is None:
            raise ValueError(f"no device operation `{name}`")
        try:
            values = self.command(_command(op, args))
        except OSError:
            if settle:
                self.settle()
            raise
        if settle:
            self.settle()
        return _result(op, values)

    def background(self, name: str, *args) -> Background:
        """(1.1) Starts operation `name` (operands as for `op`) in the
        background, as another process (`&OP`), and runs it until it
        waits or ends; the returned `Background` says which."""
        op = devops.SERVED.get(name)
        if op is None:
            raise ValueError(f"no device operation `{name}`")
        if op.callback is None:
            raise ValueError(f"`{name}` cannot run in the background")
        number = int(self.command("&" + _command(op, args))[0])
        b = self.backgrounds[number] = Background(self, number, op)
        self.settle()
        return b

    def settle(self):
        """(1.1) Runs what wake-ups made runnable until nothing can run,
        or what can has had its share since the last operation ended (each
        background operation resumes at most 1000 times, the timers due
        fire at most 1000 times: see build/kvm's header); background
        operations that end meanwhile are marked done."""
        self.command("settle")


def _error(rest: str, line: str) -> OSError:
    """The OSError of an `err ERRNO [HEX]` answer: HEX, an ioctl's user
    buffer after a call that failed, becomes its `buffer` (bytes)."""
    words = rest.split()
    try:
        code = int(words[0])
        buf = None if len(words) < 2 else \
            b"" if words[1] == "-" else bytes.fromhex(words[1])
    except (IndexError, ValueError):
        raise VMError(f"bad answer {line!r}") from None
    if len(words) > 2:
        raise VMError(f"bad answer {line!r}")
    e = OSError(code, os.strerror(code))
    if buf is not None:
        e.buffer = buf
    return e


def _command(op: devops.DevOp, args) -> str:
    """A serve-protocol command line: the operation and its operands."""
    least = sum(1 for o in op.operands if not o.optional)
    if not least <= len(args) <= len(op.operands):
        raise TypeError(f"{op.synopsis}: {len(args)} operands given")
    return " ".join([op.name] + [_word(o, a)
                                 for o, a in zip(op.operands, args)])


def _word(operand: devops.Operand, value) -> str:
    """One operand as the serve protocol spells it."""
    if operand.letter == "b":
        if isinstance(value, str):
            value = value.encode("latin-1")
        return bytes(value).hex() or "-"
    if operand.letter == "a" and isinstance(value, (bytes, bytearray)):
        # a user buffer holding these bytes (the simulation's one)
        return "@" + (bytes(value).hex() or "-")
    if operand.letter in "nmo":
        text = str(value)
        if not text or any(c.isspace() for c in text):
            raise ValueError(f"bad {operand.meta} {text!r}")
        return text
    if operand.letter == "w" and isinstance(value, str):
        if value.lower() not in devops.WHENCE:
            raise ValueError(f"bad {operand.meta} {value!r}")
        return str(devops.WHENCE[value.lower()])
    return str(int(value))


def _result(op: devops.DevOp, values: list[str]):
    """An `ok` answer's values as the operation's kind of result."""
    if op.kind == "NAMES":
        return values
    if not values:
        raise VMError(f"`{op.name}` answered without a value")
    n = int(values[0])
    if op.kind == "IOCTL" and len(values) > 1:
        # the user buffer as the call left it
        return n, b"" if values[1] == "-" else bytes.fromhex(values[1])
    if op.kind not in ("DATA", "CONTENT"):
        return n
    data = b"" if n == 0 or len(values) < 2 or values[1] == "-" \
        else bytes.fromhex(values[1])
    if len(data) != n:
        raise VMError(f"{op.name} answered {n} bytes but sent {len(data)}")
    return data


def _default(operand: devops.Operand):
    """An operand's default as a Python value, for a method's signature."""
    if operand.default is None:
        return inspect.Parameter.empty
    if operand.letter == "b":
        return operand.default.encode("latin-1")
    if operand.letter == "w":
        return devops.WHENCE[operand.default]
    if operand.letter in "ia":
        return int(operand.default, 0)
    return operand.default


def _method(op: devops.DevOp, on_file: bool):
    """VM.NAME(operands...) or DeviceFile.NAME(operands after FD...)."""
    operands = op.operands[1:] if on_file else op.operands
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    params += [inspect.Parameter(o.meta.lower(),
                                 inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 default=_default(o)) for o in operands]
    sig = inspect.Signature(params)

    def method(self, *args, **kw):
        bound = sig.bind(self, *args, **kw)
        bound.apply_defaults()
        values = list(bound.arguments.values())[1:]
        if on_file:
            return self.vm.op(op.name, self.fd, *values)
        return self.op(op.name, *values)

    method.__name__ = method.__qualname__ = op.name
    method.__signature__ = sig
    method.__doc__ = f"`{op.synopsis}`: {op.doc}."
    return method


def _install():
    """Gives VM a method per served operation and DeviceFile one per
    operation on an FD, unless the class writes its own."""
    for op in devops.SERVED.values():
        if op.name not in VM.__dict__:
            setattr(VM, op.name, _method(op, on_file=False))
        if op.has_fd and op.name not in DeviceFile.__dict__:
            setattr(DeviceFile, op.name, _method(op, on_file=True))


_install()
DeviceFile.seek = DeviceFile.lseek


def run_image_file(path: str, budget=None, heap=None, depth=None,
                   vm_binary=None, vm_args=(),
                   **popen_kw) -> subprocess.CompletedProcess:
    """Run the init of an image file in plain mode (vm_args: more options
    for the VM, e.g. ["--jit", "stubs.so"])."""
    binary = vm_binary or find_vm(announce=lambda m: print(m, file=sys.stderr))
    return subprocess.run([binary, *limit_args(budget, heap, depth),
                           *vm_args, path], **popen_kw)
