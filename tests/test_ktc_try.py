"""`ktc try` and `ktc ioctl`, the tools for people writing drivers.

On the host: `ktc ioctl`'s arguments (CMD, ARG, @HEX), its calls against
/dev/null (ENOTTY) and a pseudo-terminal (TIOCGWINSZ and TIOCSWINSZ
through a buffer), `ktc try`'s split of its own options from the guest's
command line, the control channel's parsing, and the error when the
kernel kit is missing.

Marked `kernel` (QEMU, about 10 s a boot under TCG), two boots of 6.12:
examples/hello_device.k with a command line (its output on stdout, its
stderr, the script's kernel log, the command's exit status), and a script
whose init fails (exit 2, the init's report).
"""

import fcntl
import io
import os
import pathlib
import struct
import subprocess
import sys
import termios

import pytest

from ktc import cli, ioctl, try_

REPO = pathlib.Path(__file__).resolve().parents[1]


def ktc(*args, stdin=subprocess.DEVNULL, timeout=60):
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args], cwd=REPO,
                          stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


# ---- ktc ioctl: arguments ------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("21", 21), ("0x5413", 0x5413), ("0X5413", 0x5413),
    ("4294967295", 0xFFFFFFFF), ("0xffffffff", 0xFFFFFFFF),
    ("0xc0184b01", 0xC0184B01)])
def test_cmd_is_decimal_or_hex_unsigned_32_bits(text, value):
    assert ioctl.parse_cmd(text) == value


@pytest.mark.parametrize("text", ["-1", "4294967296", "0x100000000", "abc",
                                  "0x", "", "1.5", "0o17"])
def test_cmd_out_of_range_or_not_a_number_is_refused(text):
    with pytest.raises(ioctl.ArgError):
        ioctl.parse_cmd(text)


@pytest.mark.parametrize(("text", "value"), [
    (None, 0), ("21", 21), ("-1", -1), ("0x10", 16),
    ("-9223372036854775808", -(1 << 63)), ("18446744073709551615", (1 << 64) - 1)])
def test_arg_is_a_long(text, value):
    assert ioctl.parse_arg(text) == (value, None)


def test_arg_hex_is_a_buffer_of_those_bytes():
    value, buf = ioctl.parse_arg("@00ff0A0b")
    assert value == 0 and isinstance(buf, bytearray)
    assert bytes(buf) == b"\x00\xff\x0a\x0b"


@pytest.mark.parametrize("text", ["@", "@abc", "@zz", "@0x00", "@00 11",
                                  "x", "1e3", "18446744073709551616",
                                  "-9223372036854775809"])
def test_bad_arg_is_refused(text):
    with pytest.raises(ioctl.ArgError):
        ioctl.parse_arg(text)


def test_bad_arguments_exit_1_with_a_message():
    r = ktc("ioctl", "/dev/null", "0x1ffffffff")
    assert r.returncode == 1
    assert "unsigned 32-bit" in r.stderr and r.stdout == ""
    r = ktc("ioctl", "/dev/null", "1", "@abc")
    assert r.returncode == 1 and "hex digits" in r.stderr


# ---- ktc ioctl: calls ----------------------------------------------------------

def test_dev_null_gives_enotty():
    r = ktc("ioctl", "/dev/null", "0x5413")
    assert r.returncode == 1, r
    assert "ENOTTY" in r.stderr and "0x5413" in r.stderr
    assert r.stdout == ""
    r = ktc("ioctl", "/dev/null", "1", "@00000000")
    assert r.returncode == 1 and "ENOTTY" in r.stderr


def test_missing_node_is_reported():
    r = ktc("ioctl", "/dev/no-such-node-ktc", "1")
    assert r.returncode == 1
    assert "cannot open /dev/no-such-node-ktc" in r.stderr and "ENOENT" in r.stderr


@pytest.fixture
def pty_with_size():
    """A pseudo-terminal whose window is 24 rows by 80 columns; yields the
    path of its terminal side."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        yield os.ttyname(slave), slave
    finally:
        os.close(master)
        os.close(slave)


def test_buffer_argument_is_filled_and_printed(pty_with_size):
    path, _ = pty_with_size
    r = ktc("ioctl", path, hex(termios.TIOCGWINSZ), "@" + "ee" * 8)
    assert r.returncode == 0, r.stderr
    result, buffer = r.stdout.split()
    assert result == "0"
    # struct winsize {rows, cols, xpixel, ypixel}, little-endian shorts
    assert buffer == struct.pack("<HHHH", 24, 80, 0, 0).hex()


def test_buffer_argument_reaches_the_driver(pty_with_size):
    path, slave = pty_with_size
    r = ktc("ioctl", path, str(termios.TIOCSWINSZ),
            "@" + struct.pack("<HHHH", 50, 132, 0, 0).hex())
    assert r.returncode == 0, r.stderr
    got = fcntl.ioctl(slave, termios.TIOCGWINSZ, bytes(8))
    assert struct.unpack("HHHH", got)[:2] == (50, 132)


def test_int_argument_is_passed_as_the_value(pty_with_size):
    # TCFLSH takes the queue selector as its value: 0 (TCIFLUSH) is good,
    # 99 is not (EINVAL from the tty layer)
    path, _ = pty_with_size
    r = ktc("ioctl", path, hex(termios.TCFLSH), str(termios.TCIFLUSH))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0\n"
    r = ktc("ioctl", path, hex(termios.TCFLSH), "99")
    assert r.returncode == 1 and "EINVAL" in r.stderr
    # 2^32 is passed whole, not cut to an int (which would be TCIFLUSH)
    r = ktc("ioctl", path, hex(termios.TCFLSH), hex(1 << 32))
    assert r.returncode == 1 and "EINVAL" in r.stderr


# ---- ktc try on the host ------------------------------------------------------

@pytest.mark.parametrize(("argv", "rest", "command"), [
    (["try", "x.k", "--", "cat", "-n", "/dev/hello"], ["try", "x.k"],
     ["cat", "-n", "/dev/hello"]),
    (["try", "--kernel", "6.1", "x.k", "--budget", "9", "--", "ls", "--",
      "-x"], ["try", "--kernel", "6.1", "x.k", "--budget", "9"],
     ["ls", "--", "-x"]),
    (["try", "x.k"], ["try", "x.k"], None),
    (["run", "x.k", "--ops", "--"], ["run", "x.k", "--ops", "--"], None),
])
def test_try_takes_the_command_after_the_first_double_dash(argv, rest, command):
    assert cli._split_try(argv) == (rest, command)


def test_try_name_is_checked_before_building():
    r = ktc("try", "--name", "x" * 40, "examples/hello_device.k", "--", "true")
    assert r.returncode == 1
    assert "--name" in r.stderr and "booting" not in r.stderr


def test_missing_kernel_kit_says_make_setup(monkeypatch, tmp_path):
    fake = tmp_path / "kernels.sh"
    fake.write_text("exit 0\n")          # no release of any line
    monkeypatch.setattr(try_, "KERNELS_SH", fake)
    monkeypatch.setattr(try_.shutil, "which", lambda name: "/usr/bin/" + name)
    with pytest.raises(try_.TryError, match=r"kernel 6\.12 is not installed.*"
                       r"make setup"):
        try_.find_kit("6.12")


def test_control_channel_relays_stderr_and_reads_markers():
    err = io.StringIO()
    said = []
    ctl = try_.Control(-1, "abc", err, said.append)
    for line in ["noise before the run", "@@abc booted 6.12.0",
                 "@@abc loaded /dev/a /dev/b", "@@abc run", "oops",
                 "no newline@@abc status 7", "@@abc dmesg",
                 "[ 1.0] konoha: x: hi", "[ 1.1] konoha: jit: x: runs",
                 "[ 1.2] konoha: xy: other", "@@ab status 9", "@@abc end"]:
        ctl.line(line)
    assert err.getvalue() == "oops\nno newline"
    assert ctl.status == 7 and ctl.devices == ["/dev/a", "/dev/b"]
    assert ctl.failed is None and "loaded; devices: /dev/a /dev/b" in said
    # a marker with another token is text (the kernel log here)
    assert ctl.kept["dmesg"][-1] == "@@ab status 9"
    assert try_.script_log(ctl.kept["dmesg"], "x") == [
        "[ 1.0] konoha: x: hi", "[ 1.1] konoha: jit: x: runs"]


def test_params_go_to_the_guest_load():
    plan = try_.Plan(image=b"", name="x", params=["greeting=hi there", "n=1"])
    load = [ln for ln in try_.init_script(plan, None).splitlines()
            if ln.startswith("kdrive load")]
    assert load == ["kdrive load -P 'greeting=hi there' -P n=1 x "
                    "/try/script.kbc > /tmp/step.out 2>&1 || fail load $?"]


def test_bad_params_are_refused_before_building():
    r = ktc("try", "--param", "Bad=1", "examples/hello_device.k", "--", "true")
    assert r.returncode == 1
    assert "--param" in r.stderr and "booting" not in r.stderr


def test_load_failure_maps_to_ktc_load_statuses():
    assert try_._load_status("load x: ENOEXEC: image refused: bad magic") == 3
    assert try_._load_status("load x: EINVAL: x: init failed:\n  E") == 2
    assert try_._load_status("load x: EEXIST: taken") == 1


# ---- ktc try under QEMU -------------------------------------------------------

def _kit_or_skip():
    try:
        try_.find_kit("6.12")
    except try_.TryError as e:
        if os.environ.get("KTEST_REQUIRE") == "1":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


@pytest.mark.kernel
def test_try_runs_the_command_against_the_script():
    _kit_or_skip()
    r = ktc("try", "examples/hello_device.k", "--kernel", "6.12",
            "--timeout", "280", "--",
            "cat /dev/hello; echo boom > /dev/hello || exit 42",
            timeout=600)
    assert r.returncode == 42, r.stderr
    assert r.stdout == "hello, world #1\n"
    err = r.stderr
    assert "ktc: loaded; devices: /dev/hello" in err
    # the failed write's stderr, then the script's kernel log
    assert "Input/output error" in err
    log = err[err.index("ktc: kernel log of hello_device:"):]
    assert "konoha: hello_device: /dev/hello is ready" in log
    assert "konoha: hello_device: IndexOutOfBoundsException" in log
    assert "kernel log shows errors" not in err


@pytest.mark.kernel
def test_try_reports_a_script_that_does_not_load(tmp_path):
    _kit_or_skip()
    script = tmp_path / "badinit.k"
    # (1.1) and its --param reaches System.param in the guest
    script.write_text('print("starting " + System.param("who"));\n'
                      'Array<int> a = new Array<int>();\n'
                      'a[3] = 1;\n')
    r = ktc("try", str(script), "--param", "who=the guest", "--timeout",
            "280", "--", "echo", "never", timeout=600)
    assert r.returncode == 2, r.stderr
    assert "never" not in r.stdout
    assert "ktc: loading badinit failed in the guest:" in r.stderr
    assert "init failed" in r.stderr
    assert "IndexOutOfBoundsException: index 3 out of range" in r.stderr
    assert "konoha: badinit: starting the guest" in r.stderr
