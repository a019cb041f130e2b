"""The table of device operations (lkm/core/devops.def) and its readers:
ktc/devops.py reads it, and every host that the table says offers an
operation does: build/kvm's serve protocol, the host library, `ktc run
--ops` and its help, and the guest tool kdrive (compiled here for the
host and run on an ordinary file)."""

import inspect
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from frontend.compiler import compile_source
from frontend.defs import BUILTINS
from ktc import devops, host

ROOT = devops.DEF_PATH.parent.parent.parent
KDRIVE_C = ROOT / "tests" / "kernel" / "guest" / "kdrive.c"

DEVICE = """
class Echo extends Device {
    String last = "none";
    void read(OutputStream out) { out.write("last " + last + "\\n"); }
    void write(InputStream in) { last = in.readAll(); }
    int ioctl(int cmd, int arg) { return cmd + arg; }
}
Device.register("echo", new Echo());
"""


def need_vm() -> str:
    try:
        return host.find_vm(announce=lambda m: print(m, file=sys.stderr))
    except host.VMError as e:
        pytest.skip(str(e))


# ---- the reader ----------------------------------------------------------------

def test_every_callback_is_a_device_method():
    # device.c looks each KD_CB up by name: a virtual method of CharDevice,
    # and of Device where Device has it (not poll, not seek)
    assert devops.TABLE.callbacks, "no KD_CB line"
    for owner in ("CharDevice", "Device"):
        methods = {n.name: n for n in BUILTINS.natives
                   if n.owner == owner and n.kind == "METHOD"}
        present = [cb for cb in devops.TABLE.callbacks if cb in methods]
        if owner == "CharDevice":
            assert present == list(devops.TABLE.callbacks)
        else:
            assert present == ["open", "read", "write", "ioctl", "release"]
        for cb in present:
            assert methods[cb].slot >= 0, (owner, cb)
        # in vtable slot order, as the header says
        slots = [methods[cb].slot for cb in present]
        assert slots == sorted(slots), owner


def test_call_operations_match_their_callback_signature():
    """A `call` passes its int operands as the callback's arguments and
    reads an int result: a mismatch would hand the VM the wrong values."""
    methods = {n.name: n for n in BUILTINS.natives
               if n.owner == "Device" and n.kind == "METHOD"}
    for op in devops.OPS.values():
        if op.how != "call":
            continue
        sig = methods[op.callback].signature
        result, _, params = sig.partition("(")
        params = [p.strip() for p in params.rstrip(")").split(",")
                  if p.strip()]
        assert result in ("int", "void"), op.name
        assert params == ["int"] * (len(op.operands) - 1), op.name


def test_every_kind_and_letter_is_known():
    for op in devops.OPS.values():
        assert op.kind in devops.TABLE.kinds
        for o in op.operands:
            assert o.letter in devops.LETTERS
    assert set(devops.SERVED) >= {"open", "read", "readall", "write",
                                  "ioctl", "lseek", "close", "devices"}


@pytest.mark.parametrize("line,message", [
    ('KD_OP(x, none, own, sk, "f:FD", NOPE, "%", "d")', "unknown kind"),
    ('KD_OP(x, nocb, own, sk, "f:FD", INT, "%", "d")', "no KD_CB"),
    ('KD_OP(x, none, maybe, sk, "f:FD", INT, "%", "d")', "bad how"),
    ('KD_OP(x, none, own, sk, "q:FD", INT, "%", "d")', "bad operand"),
    ('KD_OP(x, none, own, sk, "f:FD i:A=1 i:B", INT, "%", "d")',
     "required operand after an optional"),
    ('KD_OP(x, none, own, sk, "f:FD b:T i:N", INT, "%", "d")',
     "bytes must be the last"),
    ('KD_OP(x, cb, call, sk, "f:FD b:T", INT, "%", "d")', "int operands"),
    ('KD_OP(x, none, own, sk, "f:FD" INT, "%", "d")', "bad KD_OP"),
])
def test_malformed_lines_are_refused(line, message):
    text = 'KD_CB(cb)\nKD_KIND(INT, "ok N")\n' + line + "\n"
    with pytest.raises(devops.DevopsError, match=message):
        devops.parse(text)


def test_synopsis_and_arity():
    read = devops.OPS["read"]
    assert read.synopsis == "read FD [COUNT=4096]"
    assert read.arity == (1, 2)
    assert devops.OPS["write"].arity == (1, None)
    assert devops.OPS["lseek"].synopsis == "lseek FD OFFSET [WHENCE=0]"


# ---- the simulation: serve protocol, host library, --ops -----------------------

def serve(lines):
    binary = need_vm()
    with tempfile.TemporaryDirectory(prefix="ktc-devops-") as tmp:
        img = os.path.join(tmp, "echo.kbc")
        with open(img, "wb") as f:
            f.write(compile_source(DEVICE, "echo.k"))
        r = subprocess.run([binary, "--serve", img],
                           input="\n".join(lines) + "\nquit\n",
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_every_served_operation_is_served_by_kvm():
    # each operation, its operands left out: a bad operand, never ENOSYS
    names = list(devops.SERVED)
    out = serve(["open echo"] + names + ["frobnicate 3"])
    assert out[0] == "ok 3"
    for name, answer in zip(names, out[1:]):
        assert answer != "err 38", f"{name} is not served"
    assert out[-1] == "err 38"
    assert len(out) == len(names) + 2


def test_kdrive_only_operations_are_not_served():
    only_k = [op.name for op in devops.OPS.values() if not op.served]
    assert only_k, "no kdrive-only operation to check"
    assert serve(only_k) == ["err 38"] * len(only_k)


def test_serve_defaults_words_and_modes():
    out = serve(["open echo", "read 3", "lseek 3 0 end", "lseek 3 -3 cur",
                 "readall 3", "write 3", "ioctl 3 40", "ioctl 3 40 2",
                 "lseek 3 0 sideways", "read 3 4 extra", "close 3",
                 "open echo r", "write 3 41", "ioctl 3 1 1", "close 3",
                 "open echo w", "read 3", "readall 3", "write 3 41",
                 "open echo rx", "devices"])
    assert out == [
        "ok 3", "ok 10 6c617374206e6f6e650a", "ok 10", "ok 7",
        "ok 3 6e650a", "ok 0", "ok 40", "ok 42", "err 22", "err 22",
        "ok 0",
        "ok 3", "err 9", "ok 2", "ok 0",
        "ok 3", "err 9", "err 9", "ok 1",
        "err 22", "ok echo"]


def test_host_methods_follow_the_table():
    for op in devops.SERVED.values():
        method = getattr(host.VM, op.name)
        params = list(inspect.signature(method).parameters)[1:]
        assert params == [o.meta.lower() for o in op.operands], op.name
        if op.has_fd:
            method = getattr(host.DeviceFile, op.name)
            params = list(inspect.signature(method).parameters)[1:]
            assert params == [o.meta.lower() for o in op.operands[1:]]
    need_vm()
    with host.VM.from_source(DEVICE, "echo.k") as vm:
        with vm.open("echo") as f:
            assert f.readall() == b"last none\n"
            assert f.write("hi") == 2
            assert f.lseek(0, "set") == 0
            assert f.read() == b"last hi\n"
            assert f.ioctl(5) == 5
        with vm.open("echo", "r") as f:
            with pytest.raises(OSError) as e:
                f.write(b"x")
            assert e.value.errno == 9
        with pytest.raises(TypeError):
            vm.op("read")
        with pytest.raises(ValueError):
            vm.op("tryopen")


def ktc(*args):
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args],
                          capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_run_help_documents_every_served_operation():
    r = ktc("run", "--help")
    assert r.returncode == 0
    lines = [ln.strip() for ln in r.stdout.splitlines()]
    for op in devops.SERVED.values():
        assert any(ln.startswith(op.synopsis + " ") and ln.endswith(op.doc)
                   for ln in lines), op.synopsis
    for op in devops.OPS.values():
        if not op.served:
            assert not any(ln.startswith(op.name + " ") for ln in lines)


def test_run_ops_speaks_the_table(tmp_path):
    need_vm()
    src = tmp_path / "echo.k"
    src.write_text(DEVICE)
    r = ktc("run", str(src), "--ops",
            "open echo r; write $ x; readall $; lseek $ -2 end; close $; "
            "open echo w; write $ two words; read $; close $; open echo rw; "
            "read $ 100; ioctl $ 7")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "> open echo r", "fd 3",
        "> write $ x", "error EBADF (9): Bad file descriptor",
        "> readall $", '10 bytes "last none\\n"',
        "> lseek $ -2 end", "position 8",
        "> close $", "closed",
        "> open echo w", "fd 3",
        "> write $ two words", "wrote 9 bytes",
        "> read $", "error EBADF (9): Bad file descriptor",
        "> close $", "closed",
        "> open echo rw", "fd 3",
        "> read $ 100", '15 bytes "last two words\\n"',
        "> ioctl $ 7", "result 7"]
    for bad, message in [("tryopen", "unknown operation `tryopen`"),
                         ("read", "wrong number of arguments"),
                         ("open echo r w x", "wrong number of arguments"),
                         ("open echo r w", "bad open option `w`"),
                         ("open echo x", "bad mode `x`"),
                         ("open echo; read $ lots", "bad COUNT `lots`")]:
        r = ktc("run", str(src), "--ops", bad)
        assert r.returncode == 1 and message in r.stderr, (bad, r.stderr)


# ---- kdrive, on the host ---------------------------------------------------------

@pytest.fixture(scope="module")
def kdrive(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("kdrive") / "kdrive"
    subprocess.run([cc, "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(out),
                    str(KDRIVE_C)], check=True, capture_output=True)
    return out


def kdrive_op(kdrive, path, *ops):
    return subprocess.run([str(kdrive), "op", str(path), *ops],
                          capture_output=True, text=True, timeout=60)


def test_kdrive_offers_every_kdrive_operation(kdrive, tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"abc")
    for op in devops.OPS.values():
        # the required operands, each a small int: enough to be parsed
        words = [op.name] + ["1" for o in op.operands
                             if o.letter not in "fn" and not o.optional]
        r = kdrive_op(kdrive, f, "open", ":".join(words))
        if op.in_kdrive:
            assert r.returncode == 0 and "unknown op" not in r.stderr, \
                (op.name, r.stderr)
        else:
            assert r.returncode == 2 and "unknown op" in r.stderr, op.name


def test_kdrive_speaks_the_table(kdrive, tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"hello world\n")
    r = kdrive_op(kdrive, f, "open", "read:5", "lseek:0:set", "readall",
                  "lseek:-3:end", "read", "write:a:b\\n", "fill:2:z",
                  "fill:1", "lseek:1:cur", "tryopen", "sleep:1", "close",
                  "open:r", "write:x", "close", "open:w", "read:3", "close")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "open 0", 'read 5 "hello"', "lseek 0",
        'readall 12 "hello world\\n"', "lseek 9", 'read 3 "ld\\n"',
        "write 4", "fill 2", "fill 1", "lseek 20", "tryopen 0", "close 0",
        "open 0", "write -1 EBADF", "close 0",
        "open 0", "read -1 EBADF", "close 0"]
    assert f.read_bytes() == b"hello world\na:b\nzzx"
    for bad in ("lseek:1:sideways", "read:x", "close:1", "open:rx"):
        r = kdrive_op(kdrive, f, bad)
        assert r.returncode == 2 and "bad operands" in r.stderr, bad


def test_describe_lists_every_operation_and_kind():
    lines = devops.describe().splitlines()
    for op in devops.OPS.values():
        assert any(ln.startswith(op.synopsis + " ") and ln.endswith(op.doc)
                   for ln in lines), op.name
    for kind in devops.TABLE.kinds:
        assert any(ln.startswith(kind + " ") for ln in lines), kind
