"""The example drivers in the simulation (`ktc run FILE.k --ops`, the
language reference §9.4): examples/kvstore.k and examples/heartbeat.k, each
scenario with the exact output and log lines it must give, on the
interpreter and on the JIT. Their kernel twin is tests/kernel/test_kexamples.py.

The heartbeat scenarios use the simulation's background operations (`&`)
and virtual time (`wait MS`).

The transcripts of docs/drivers.md (`$ ktc run` and `$ ktc check` in its
```console fences) are run too, and must print exactly what the guide
shows."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

KVSTORE = "examples/kvstore.k"
HEARTBEAT = "examples/heartbeat.k"

# The examples' ioctl numbers, as Linux's _IO/_IOW/_IOWR make them.
IO_SIZE = 104                                   # sizeof(struct kvstore_io)
KVSTORE_GET = 3 << 30 | IO_SIZE << 16 | ord("v") << 8 | 1
KVSTORE_PUT = 1 << 30 | IO_SIZE << 16 | ord("v") << 8 | 2
KVSTORE_COUNT = ord("v") << 8 | 3
HEARTBEAT_BEATS = ord("b") << 8 | 1
HEARTBEAT_PERIOD = ord("b") << 8 | 2


def ktc(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if env.get("KTC_VM"):
        env["KTC_VM"] = os.path.abspath(env["KTC_VM"])
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


def run_ops(path: str, ops: str, *options: str) -> subprocess.CompletedProcess:
    return ktc("run", *options, path, "--ops", ops)


@pytest.fixture(params=["interpreter", "jit"])
def mode(request) -> tuple[str, ...]:
    """The options of `ktc run` for each execution mode."""
    return () if request.param == "interpreter" else ("--jit",)


def io(key: str, value: str = "", length: int | None = None,
       version: int = 0) -> str:
    """A struct kvstore_io as `ioctl FD CMD @HEX` takes it (and prints it)."""
    raw = (key.encode().ljust(32, b"\0")
           + (len(value) if length is None else length).to_bytes(4, "little")
           + version.to_bytes(4, "little")
           + value.encode().ljust(64, b"\0"))
    assert len(raw) == IO_SIZE
    return "@" + raw.hex()


def check(r: subprocess.CompletedProcess, stdout: str, stderr: str = "",
          status: int = 0) -> None:
    assert (r.returncode, r.stdout, r.stderr) == (status, stdout, stderr)


# ---- kvstore ---------------------------------------------------------------

def test_kvstore_text_commands(mode):
    # Commands split across writes, several in one write, every kind of
    # reply; read hands out the replies in pieces, then end of file.
    r = run_ops(KVSTORE, 'open kvstore; write $ "set color blue\\nget color\\n"; '
                'read $; write $ "set size 4"; '
                'write $ "2\\nkeys\\nget nope\\nbogus\\ndel color\\nkeys\\nget \\n"; '
                'read $ 7; read $; read $; close $', *mode)
    check(r, """\
> open kvstore
fd 3
> write $ "set color blue\\nget color\\n"
wrote 25 bytes
> read $
8 bytes "OK\\nblue\\n"
> write $ "set size 4"
wrote 10 bytes
> write $ "2\\nkeys\\nget nope\\nbogus\\ndel color\\nkeys\\nget \\n"
wrote 42 bytes
> read $ 7
7 bytes "OK\\ncolo"
> read $
63 bytes "r size\\nERR no such key\\nERR unknown command\\nOK\\nsize\\nERR bad key\\n"
> read $
0 bytes (end of file)
> close $
closed
""")


def test_kvstore_limits(mode):
    # A value over 64 bytes, a key over 31, lines over 256 bytes (ended
    # or not); a session holding 64 KiB of unread replies refuses writes
    # (ENOSPC, logged), keeping nothing of them, until they are read.
    k31, v64, gets = "k" * 31, "v" * 64, "get k\\n" * 1100
    first = f'"set k {v64}v\\nset {k31}k x\\nset {k31} x\\n{"x" * 257}\\n"'
    fill = f'"set k {v64}\\n{gets}"'
    replies = (v64 + "\\n") * 1100
    r = run_ops(KVSTORE, f"open kvstore; write $ {first}; read $; "
                f"write $ {'y' * 300}; read $; write $ {fill}; read $ 3; "
                "write $ keys; read $ 65536; read $ 60000; "
                'write $ "keys\\n"; read $; close $', *mode)
    check(r, f"""\
> open kvstore
fd 3
> write $ {first}
wrote 407 bytes
> read $
52 bytes "ERR value too long\\nERR bad key\\nOK\\nERR line too long\\n"
> write $ {'y' * 300}
wrote 300 bytes
> read $
18 bytes "ERR line too long\\n"
> write $ {fill}
wrote 6671 bytes
> read $ 3
3 bytes "OK\\n"
> write $ keys
error ENOSPC (28): No space left on device
> read $ 65536
65536 bytes "{replies[:65536 + 1008]}"
> read $ 60000
5964 bytes "{replies[65536 + 1008:]}"
> write $ "keys\\n"
wrote 5 bytes
> read $
34 bytes "{k31} k\\n"
> close $
closed
""", "kvstore: write: DeviceError(ENOSPC): read the replies first\n")


def test_kvstore_sessions(mode):
    # Two open files of one store: the store is shared, the replies and
    # the unfinished lines are each file's own.
    r = run_ops(KVSTORE, 'open kvstore; open kvstore; write 3 "set a 1\\nget "; '
                'write 4 "get a\\n"; read 4; write 3 "a\\n"; read 3; read 4; '
                'close 3; close 4', *mode)
    check(r, """\
> open kvstore
fd 3
> open kvstore
fd 4
> write 3 "set a 1\\nget "
wrote 12 bytes
> write 4 "get a\\n"
wrote 6 bytes
> read 4
2 bytes "1\\n"
> write 3 "a\\n"
wrote 2 bytes
> read 3
5 bytes "OK\\n1\\n"
> read 4
0 bytes (end of file)
> close 3
closed
> close 4
closed
""")


def test_kvstore_ioctls(mode):
    # KVSTORE_PUT (_IOW) stores and returns the version; KVSTORE_GET
    # (_IOWR) reads the caller's struct and writes it back filled in;
    # a bad address (no `@` buffer) is EFAULT; absent keys ENOENT, bad
    # lengths EINVAL, unknown commands ENOTTY, each logged (the buffer of
    # a failed call is printed too, here as the caller passed it).
    assert (KVSTORE_GET, KVSTORE_PUT, KVSTORE_COUNT) == (0xC0687601, 0x40687602, 0x7603)
    r = run_ops(KVSTORE, f'open kvstore; write $ "set color blue\\n"; '
                f'ioctl $ {KVSTORE_GET} {io("color")}; '
                f'ioctl $ {KVSTORE_PUT} {io("color", "green")}; '
                f'ioctl $ {KVSTORE_PUT} {io("shape", "round")}; '
                f'ioctl $ {KVSTORE_GET} {io("color", "stale", 99, 7)}; '
                f'ioctl $ {KVSTORE_COUNT}; '
                f'ioctl $ {KVSTORE_GET} {io("nope")}; ioctl $ {KVSTORE_GET} 4096; '
                f'ioctl $ {KVSTORE_PUT} 0; ioctl $ {KVSTORE_PUT} {io("k", "", 65)}; '
                f'ioctl $ {KVSTORE_GET} {io("")}; ioctl $ 30217; read $; close $',
                *mode)
    check(r, f"""\
> open kvstore
fd 3
> write $ "set color blue\\n"
wrote 15 bytes
> ioctl $ {KVSTORE_GET} {io("color")}
result 0
buffer {io("color", "blue", version=1)}
> ioctl $ {KVSTORE_PUT} {io("color", "green")}
result 2
buffer {io("color", "green")}
> ioctl $ {KVSTORE_PUT} {io("shape", "round")}
result 1
buffer {io("shape", "round")}
> ioctl $ {KVSTORE_GET} {io("color", "stale", 99, 7)}
result 0
buffer {io("color", "green", version=2)}
> ioctl $ {KVSTORE_COUNT}
result 2
> ioctl $ {KVSTORE_GET} {io("nope")}
error ENOENT (2): No such file or directory
buffer {io("nope")}
> ioctl $ {KVSTORE_GET} 4096
error EFAULT (14): Bad address
> ioctl $ {KVSTORE_PUT} 0
error EFAULT (14): Bad address
> ioctl $ {KVSTORE_PUT} {io("k", "", 65)}
error EINVAL (22): Invalid argument
buffer {io("k", "", 65)}
> ioctl $ {KVSTORE_GET} {io("")}
error EINVAL (22): Invalid argument
buffer {io("")}
> ioctl $ 30217
error ENOTTY (25): Inappropriate ioctl for device
> read $
3 bytes "OK\\n"
> close $
closed
""", """\
kvstore: ioctl: DeviceError(ENOENT): no key nope
kvstore: ioctl: DeviceError(EFAULT): bad user address
kvstore: ioctl: DeviceError(EFAULT): bad user address
kvstore: ioctl: DeviceError(EINVAL): bad length 65
kvstore: ioctl: DeviceError(EINVAL): bad key
kvstore: ioctl: DeviceError(ENOTTY): unknown command 30217
""")


# ---- heartbeat -------------------------------------------------------------

def test_heartbeat_without_time(mode):
    # What needs no virtual time: no beat yet (EAGAIN, count 0), the
    # period from the parameter, set only through a writable file.
    r = run_ops(HEARTBEAT, f"open heartbeat r nonblock; read $; "
                f"ioctl $ {HEARTBEAT_BEATS}; ioctl $ {HEARTBEAT_PERIOD}; "
                f"ioctl $ {HEARTBEAT_PERIOD} 50; close $; open heartbeat; "
                f"ioctl $ {HEARTBEAT_PERIOD} 50; ioctl $ {HEARTBEAT_PERIOD} 0; "
                f"ioctl $ {HEARTBEAT_PERIOD} 10001; close $",
                "--param", "period_ms=250", *mode)
    check(r, f"""\
> open heartbeat r nonblock
fd 3
> read $
error EAGAIN (11): Resource temporarily unavailable
> ioctl $ {HEARTBEAT_BEATS}
result 0
> ioctl $ {HEARTBEAT_PERIOD}
result 250
> ioctl $ {HEARTBEAT_PERIOD} 50
error EPERM (1): Operation not permitted
> close $
closed
> open heartbeat
fd 3
> ioctl $ {HEARTBEAT_PERIOD} 50
result 50
> ioctl $ {HEARTBEAT_PERIOD} 0
result 50
> ioctl $ {HEARTBEAT_PERIOD} 10001
error EINVAL (22): Invalid argument
> close $
closed
""", """\
heartbeat: ioctl: DeviceError(EPERM): open for writing to set the period
heartbeat: ioctl: DeviceError(EINVAL): bad period 10001
""")


@pytest.mark.parametrize(("value", "line", "message"), [
    ("fast", 39, "not a number: fast"),
    ("0", 42, "not in 1..10000: 0"),
    ("10001", 42, "not in 1..10000: 10001"),
])
def test_heartbeat_bad_period_fails_the_init(value, line, message):
    r = ktc("run", HEARTBEAT, "--param", f"period_ms={value}")
    check(r, "", f"""\
DeviceError: period_ms: {message}
  at loadPeriod ({HEARTBEAT}:{line})
  at <init> ({HEARTBEAT}:105)
""", 2)


def test_heartbeat_counts_in_virtual_time(mode):
    # Period 100 (the default): 2 beats by 250 ms, 10 by 1000 ms. A
    # non-blocking file reads the latest beat once, then EAGAIN.
    r = run_ops(HEARTBEAT, f"open heartbeat r nonblock; wait 250; read $; read $; "
                f"ioctl $ {HEARTBEAT_BEATS}; wait 750; ioctl $ {HEARTBEAT_BEATS}; "
                "read $ 4; read $; close $", *mode)
    check(r, f"""\
> open heartbeat r nonblock
fd 3
> wait 250
> read $
7 bytes "beat 2\\n"
> read $
error EAGAIN (11): Resource temporarily unavailable
> ioctl $ {HEARTBEAT_BEATS}
result 2
> wait 750
> ioctl $ {HEARTBEAT_BEATS}
result 10
> read $ 4
4 bytes "beat"
> read $
error EAGAIN (11): Resource temporarily unavailable
> close $
closed
""")


def test_heartbeat_blocking_read_and_poll(mode):
    # A reader sleeps until the next beat; poll waits for it too, and
    # reports IN until the file reads it.
    r = run_ops(HEARTBEAT, "open heartbeat r; &read $; wait 49; wait 1; "
                "&poll $; wait 50; poll $; read $; &read $; wait 50; close $",
                "--param", "period_ms=50", *mode)
    check(r, """\
> open heartbeat r
fd 3
> &read $
> wait 49
> wait 1
&1 7 bytes "beat 1\\n"
> &poll $
> wait 50
&2 mask 1
> poll $
mask 1
> read $
7 bytes "beat 2\\n"
> &read $
> wait 50
&3 7 bytes "beat 3\\n"
> close $
closed
""")


def test_heartbeat_new_period_restarts_the_timer(mode):
    # Setting the period at 30 ms re-arms the timer: beats at 50, 70, 90.
    r = run_ops(HEARTBEAT, f"open heartbeat; wait 30; ioctl $ {HEARTBEAT_PERIOD} 20; "
                f"wait 45; ioctl $ {HEARTBEAT_BEATS}; wait 15; "
                f"ioctl $ {HEARTBEAT_BEATS}; close $", *mode)
    check(r, f"""\
> open heartbeat
fd 3
> wait 30
> ioctl $ {HEARTBEAT_PERIOD} 20
result 20
> wait 45
> ioctl $ {HEARTBEAT_BEATS}
result 2
> wait 15
> ioctl $ {HEARTBEAT_BEATS}
result 3
> close $
closed
""")


def test_heartbeat_read_without_time_is_a_deadlock(mode):
    # Virtual time stands still without `wait`: a reader waiting for a
    # beat can never be woken, and the simulation says so.
    r = run_ops(HEARTBEAT, "open heartbeat r; &read $; sync", *mode)
    check(r, """\
> open heartbeat r
fd 3
> &read $
> sync
""", "deadlock: every operation waits\n", 2)


def test_heartbeat_close_while_a_read_waits(mode):
    # The close of a file a background read uses takes effect when that
    # read ends: here at the next beat.
    r = run_ops(HEARTBEAT, f"open heartbeat r; &read $; close $; wait 100; "
                f"ioctl 3 {HEARTBEAT_BEATS}", *mode)
    check(r, f"""\
> open heartbeat r
fd 3
> &read $
> close $
closed
> wait 100
&1 7 bytes "beat 1\\n"
> ioctl 3 {HEARTBEAT_BEATS}
error EBADF (9): Bad file descriptor
""")


# ---- docs/drivers.md -------------------------------------------------------

GUIDE = ROOT / "docs" / "drivers.md"
FILE_MARK = "<!-- file: "


def guide() -> tuple[dict[str, str], list[tuple[int, str, str]]]:
    """The driver writer's guide's files (a ```k fence right after a
    `<!-- file: NAME -->` line) and its transcripts: each `$ ktc run` or
    `$ ktc check` line of a ```console fence, with the lines after it up
    to the next `$ ` line or the fence's end (its stdout, then its
    stderr)."""
    files: dict[str, str] = {}
    transcripts: list[tuple[int, str, str]] = []
    lines = GUIDE.read_text().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(FILE_MARK) and lines[i + 1] == "```k":
            name = line[len(FILE_MARK):].split()[0]
            end = lines.index("```", i + 2)
            files[name] = "\n".join(lines[i + 2:end]) + "\n"
            i = end
        elif line == "```console":
            end = lines.index("```", i + 1)
            j = i + 1
            while j < end:
                k = j + 1
                while k < end and not lines[k].startswith("$ "):
                    k += 1
                command = lines[j][2:]
                assert lines[j].startswith("$ ktc "), f"drivers.md:{j + 1}: {lines[j]}"
                transcripts.append((j + 1, command,
                                    "".join(out + "\n" for out in lines[j + 1:k])))
                j = k
            i = end
        i += 1
    return files, transcripts


GUIDE_FILES, GUIDE_TRANSCRIPTS = guide()


@pytest.mark.parametrize(("line", "command", "expected"), GUIDE_TRANSCRIPTS,
                         ids=[f"drivers.md:{t[0]}" for t in GUIDE_TRANSCRIPTS])
def test_guide_transcripts(tmp_path, line, command, expected):
    # Run in a directory holding the guide's files and examples/, as a
    # reader following the guide would from the repository root.
    for name, text in GUIDE_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if env.get("KTC_VM"):
        env["KTC_VM"] = os.path.abspath(env["KTC_VM"])
    r = subprocess.run(["bash", "-c", f"{sys.executable} -m ktc.cli {command[4:]}"],
                       cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.stdout + r.stderr == expected, f"drivers.md:{line}: $ {command}"


def test_guide_has_transcripts():
    assert len(GUIDE_TRANSCRIPTS) >= 8 and {"shout.k", "flaky.k", "reserved.k"} <= set(GUIDE_FILES)
