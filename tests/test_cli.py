"""The `ktc` command line: help, exit statuses, errors, device driving."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ktc import cli, host  # noqa: E402

FIB = """\
int fib(int n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}
print(fib(10));
"""

BAD = """\
int x = true;
print(y);
"""

THROWS = """\
print("before");
int z = 0;
print(1 / z);
"""

HELLO_DEVICE = """\
class Hello extends Device {
    int opens;
    void open() { opens++; }
    void read(OutputStream out) { out.write("hello #" + opens + "\\n"); }
    int ioctl(int cmd, int arg) { if (cmd == 1) return arg * 2; throw new DeviceError(Errno.EPERM, "no"); }
}
Device.register("hello", new Hello());
print("loaded");
"""


def ktc(*args, cwd=None):
    """Run the real CLI as a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if env.get("KTC_VM"):
        env["KTC_VM"] = os.path.abspath(env["KTC_VM"])
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args],
                          cwd=cwd or ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def need_compiler():
    try:
        import frontend.compiler  # noqa: F401
    except ImportError:
        pytest.skip("frontend.compiler not available yet")


def need_vm():
    need_compiler()
    try:
        host.find_vm(announce=lambda m: None)
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")


@pytest.fixture
def script(tmp_path):
    def write(text, name="prog.k"):
        p = tmp_path / name
        p.write_text(text)
        return p
    return write


def test_help_lists_commands_and_examples():
    r = ktc("--help")
    assert r.returncode == 0
    for word in ("check", "compile", "run", "disasm", "examples:",
                 "exit status"):
        assert word in r.stdout


def test_run_help_describes_limits_and_ops():
    r = ktc("run", "--help")
    assert r.returncode == 0
    for word in ("--budget", "--heap", "--depth", "--ops", "open NAME",
                 "read FD"):
        assert word in r.stdout


def test_no_command_is_a_usage_error():
    r = ktc()
    assert r.returncode == 1
    assert "usage:" in r.stderr


@pytest.mark.parametrize("command", ["check", "compile", "run", "disasm"])
def test_missing_file(command, tmp_path):
    r = ktc(command, str(tmp_path / "nope.k"))
    assert r.returncode == 1
    assert "nope.k: no such file" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command", ["check", "compile", "run", "disasm"])
def test_bad_extension(command, tmp_path):
    p = tmp_path / "prog.txt"
    p.write_text("print(1);")
    r = ktc(command, str(p))
    assert r.returncode == 1
    assert "expected a .k" in r.stderr
    assert "Traceback" not in r.stderr


def test_directory_is_refused(tmp_path):
    d = tmp_path / "dir.k"
    d.mkdir()
    r = ktc("check", str(d))
    assert r.returncode == 1 and "is a directory" in r.stderr


def test_bad_limit_value(script):
    r = ktc("run", "--budget", "lots", str(script(FIB)))
    assert r.returncode == 1 and "not an integer" in r.stderr


def test_check_ok_and_errors(script, capsys):
    need_compiler()
    assert cli.main(["check", str(script(FIB))]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["check", str(script(BAD, "bad.k"))]) == 1
    err = capsys.readouterr().err
    assert "error[" in err and "bad.k:1:" in err and "bad.k:2:" in err


def test_check_json(script, capsys):
    need_compiler()
    assert cli.main(["check", "--json", str(script(BAD, "bad.k"))]) == 1
    diags = json.loads(capsys.readouterr().out)
    assert isinstance(diags, list) and len(diags) >= 2
    assert all("message" in d and "line" in d for d in diags)


def test_compile_writes_next_to_source_and_to_o(script, tmp_path):
    need_compiler()
    src = script(FIB)
    assert cli.main(["compile", str(src)]) == 0
    data = (tmp_path / "prog.kbc").read_bytes()
    assert data[:4] == b"KBC\0"
    out = tmp_path / "other.kbc"
    assert cli.main(["compile", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == data


def test_compile_error_exit_1(script, capsys):
    need_compiler()
    assert cli.main(["compile", str(script(BAD, "bad.k"))]) == 1
    assert "error[" in capsys.readouterr().err
    assert not (script(BAD, "bad.k").with_suffix(".kbc")).exists()


# An unused local (W0001) in an otherwise correct program that prints.
UNUSED = """\
void f() { int unused = 3; }
f();
print("ran");
"""

SYNTAX_ERRORS = """\
int a = 1 +;
int b = 2;
print(b b);
void f() { int c = ; }
class P { int q = ; }
print(a +);
"""


def test_check_prints_warnings_and_werror_fails(script, capsys):
    need_compiler()
    src = str(script(UNUSED, "w.k"))
    assert cli.main(["check", src]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning[W0001]: unused local variable `unused`\n")
    assert "w.k:1:16" in err and "error[" not in err
    assert cli.main(["check", "--werror", src]) == 1
    assert capsys.readouterr().err.startswith("warning[W0001]: ")
    assert cli.main(["check", "--json", src]) == 0
    [d] = json.loads(capsys.readouterr().out)
    assert (d["severity"], d["code"], d["line"], d["col"]) == ("warning", "W0001", 1, 16)


def test_compile_werror_writes_nothing(script, tmp_path, capsys):
    need_compiler()
    src = script(UNUSED, "w.k")
    assert cli.main(["compile", "--werror", str(src)]) == 1
    assert capsys.readouterr().err.startswith("warning[W0001]: ")
    assert not (tmp_path / "w.kbc").exists()
    assert cli.main(["compile", str(src)]) == 0
    assert capsys.readouterr().err.startswith("warning[W0001]: ")
    assert (tmp_path / "w.kbc").exists()


def test_run_prints_warnings_only_when_asked(script):
    need_vm()
    src = str(script(UNUSED, "w.k"))
    r = ktc("run", src)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ran\n", "")
    r = ktc("run", "--warnings", src)
    assert (r.returncode, r.stdout) == (0, "ran\n")
    assert r.stderr.startswith("warning[W0001]: unused local variable `unused`")


def test_run_werror_runs_nothing(script):
    need_vm()
    r = ktc("run", "--werror", str(script(UNUSED, "w.k")))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("warning[W0001]: ") and "error[" not in r.stderr
    # without warnings, --werror changes nothing
    r = ktc("run", "--werror", str(script(FIB)))
    assert (r.returncode, r.stdout, r.stderr) == (0, "55\n", "")


def test_run_reports_every_syntax_error(script):
    need_vm()
    r = ktc("run", str(script(SYNTAX_ERRORS, "syn.k")))
    assert r.returncode == 1 and r.stdout == ""
    heads = [l for l in r.stderr.splitlines() if l.startswith("error[")]
    places = [l.split("syn.k:")[1] for l in r.stderr.splitlines() if "-->" in l]
    assert len(heads) == 5 and all(h.startswith("error[E0010]") for h in heads)
    assert places == ["1:12", "3:9", "4:20", "5:19", "6:10"]


def test_run_java_construct_names_the_k_way(script):
    need_vm()
    r = ktc("run", str(script("public static int twice(int x) { return 2 * x; }\n"
                              "print(twice(2));\n", "j.k")))
    assert r.returncode == 1 and r.stdout == ""
    assert "error[E0023]: `public` is not K: remove it (K has no visibility)" in r.stderr
    assert "error[E0020]: `static` is not K: use a global or a top-level function" in r.stderr
    assert r.stderr.count("error[") == 2

def test_disasm_of_source_and_image(script, tmp_path, capsys):
    need_compiler()
    src = script(FIB)
    assert cli.main(["disasm", str(src)]) == 0
    text = capsys.readouterr().out
    assert "fib int(int)" in text and "<init>" in text
    cli.main(["compile", str(src)])
    capsys.readouterr()
    assert cli.main(["disasm", str(tmp_path / "prog.kbc")]) == 0
    assert capsys.readouterr().out == text


def test_disasm_of_garbage_image(tmp_path):
    p = tmp_path / "junk.kbc"
    p.write_bytes(b"not an image")
    r = ktc("disasm", str(p))
    assert r.returncode == 1 and "bad magic" in r.stderr


def test_run_exit_statuses(script, tmp_path):
    need_vm()
    r = ktc("run", str(script(FIB)))
    assert (r.returncode, r.stdout) == (0, "55\n")
    r = ktc("run", str(script(BAD, "bad.k")))
    assert r.returncode == 1 and "error[" in r.stderr
    r = ktc("run", "throws.k", cwd=script(THROWS, "throws.k").parent)
    assert r.returncode == 2
    assert r.stdout == "before\n"
    assert r.stderr.startswith("ArithmeticException: division by zero\n"
                               "  at <init> (throws.k:3)")


def test_run_image_and_refused_image(script, tmp_path):
    need_vm()
    src = script(FIB)
    cli.main(["compile", str(src)])
    r = ktc("run", str(tmp_path / "prog.kbc"))
    assert (r.returncode, r.stdout) == (0, "55\n")
    data = bytearray((tmp_path / "prog.kbc").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "broken.kbc").write_bytes(bytes(data))
    r = ktc("run", str(tmp_path / "broken.kbc"))
    assert r.returncode == 3


def test_run_limits_are_passed_on(script):
    need_vm()
    loop = script("int f(int n) { return f(n + 1); }\nprint(f(0));\n",
                  "deep.k")
    r = ktc("run", "--depth", "50", str(loop))
    assert r.returncode == 2 and "abort: stack overflow" in r.stderr
    spin = script("while (true) {}\n", "spin.k")
    r = ktc("run", "--budget", "10000", str(spin))
    assert r.returncode == 2 and "abort: budget exceeded" in r.stderr


def test_run_ops_drives_a_device(script):
    need_vm()
    src = script(HELLO_DEVICE, "hello.k")
    r = ktc("run", str(src), "--ops",
            "devices; open hello; read $ 100; read $ 100; ioctl $ 1 21; "
            "ioctl $ 2 0; close $; open nothere")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("loaded\n")
    assert "devices: hello" in out
    assert "fd " in out
    assert '9 bytes "hello #1\\n"' in out
    assert "0 bytes (end of file)" in out
    assert "result 42" in out
    assert "error EPERM (1)" in out
    assert "closed" in out
    assert "error ENOENT" in out or "error ENXIO" in out


def test_run_ops_keeps_what_a_failing_init_printed(script, monkeypatch):
    # the VM may exit before the first command reaches it (the write
    # fails); what the init printed before its exception is still read
    need_vm()
    from ktc import host
    src = script('int z = 0;\nprint("before");\nprint(1 / z);\n', "fail.k")
    r = ktc("run", str(src), "--ops", "devices")
    assert (r.returncode, r.stdout) == (2, "before\n"), r.stderr
    assert "ArithmeticException" in r.stderr
    devices = host.VM.devices

    def late(vm):
        vm._proc.wait()         # the VM is gone before the command
        return devices(vm)
    monkeypatch.setattr(host.VM, "devices", late)
    vm = host.VM.from_file(src)
    with pytest.raises(host.InitError) as e:
        vm.start()
    assert e.value.status == 2
    assert vm.output == ["before"]
    vm.quit()


def test_run_ops_rejects_unknown_operations(script):
    r = ktc("run", str(script(HELLO_DEVICE, "hello.k")), "--ops", "frobnicate")
    assert r.returncode == 1
    assert "unknown operation `frobnicate`" in r.stderr


def test_run_ops_rejects_bad_operands_before_running(script):
    # a badly spelt operand anywhere stops the run before the init: no
    # half-run session, whatever operation comes first
    src = str(script(HELLO_DEVICE, "hello.k"))
    for ops, message in [("open hello; read $ abc", "bad COUNT `abc`"),
                         ("open hello; ioctl $ 1 @zz", "bad user buffer `@zz`"),
                         ("open hello; lseek $ 0 sideways", "bad whence"),
                         ("open hello x", "bad mode `x`")]:
        r = ktc("run", src, "--ops", ops)
        assert (r.returncode, r.stdout) == (1, ""), ops
        assert message in r.stderr, ops


def test_run_ops_lseek_takes_any_whence(script):
    need_vm()
    r = ktc("run", str(script(HELLO_DEVICE, "hello.k")), "--ops",
            "open hello; lseek $ 3 3; lseek $ 0 -1; lseek $ 0 end")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("error EINVAL (22)") == 2
    assert r.stdout.endswith("> lseek $ 0 end\nposition 9\n")


def test_host_library(script):
    need_vm()
    with host.VM.from_source(HELLO_DEVICE, "hello.k") as vm:
        assert vm.devices() == ["hello"]
        assert vm.output == ["loaded"]
        with vm.open("hello") as f:
            assert f.read(4) == b"hell"
            assert f.read(100) == b"o #1\n"
            assert f.read(100) == b""
            assert f.lseek(0, 0) == 0
            assert f.ioctl(1, 5) == 10
            with pytest.raises(OSError) as e:
                f.ioctl(7, 0)
            assert e.value.errno == 1
            with pytest.raises(OSError) as e:
                f.write(b"x")
            assert e.value.errno == 22
        with pytest.raises(OSError):
            vm.open("missing")


def test_host_init_failure(script):
    need_vm()
    with pytest.raises(host.InitError) as e:
        host.VM.from_source(THROWS, "throws.k").start()
    assert e.value.status == 2
    assert "ArithmeticException" in e.value.report


# ---- (1.1) run --kernel-limits (the language reference §9.4) -----------------

BIG_HEAP = """\
Array<String> keep = new Array<String>();
for (int i = 0; i < 24; i++) keep.add(String.fromChar(65).repeat(1 << 20));
print(keep.size());
"""


def test_kernel_limits_give_the_kernel_heap(tmp_path):
    src = tmp_path / "big.k"
    src.write_text(BIG_HEAP)
    # 24 MiB of strings: within ktc run's 256 MiB, over konoha.ko's 16 MiB
    assert ktc("run", str(src)).stdout == "24\n"
    r = ktc("run", "--kernel-limits", str(src))
    assert r.returncode == 2 and "out of memory" in r.stderr
    # --heap says otherwise
    r = ktc("run", "--kernel-limits", "--heap", str(64 << 20), str(src))
    assert r.returncode == 0 and r.stdout == "24\n"


def test_kernel_limits_give_the_kernel_budget(tmp_path):
    src = tmp_path / "spin.k"
    src.write_text("int n = 0;\nwhile (n < 20000000) n++;\nprint(n);\n")
    assert ktc("run", str(src)).returncode == 0
    r = ktc("run", "--kernel-limits", str(src))
    assert r.returncode == 2 and "budget exceeded" in r.stderr
