"""(1.1) Blocking under `ktc run --ops`: the simulation of the language
reference §9.2 and §9.4 (build/kvm --serve's scheduler, host.py, the CLI).

Each scenario mirrors a kernel test of the CharDevice suites with virtual
time and background operations (`&OP`) instead of processes and clocks,
and its whole output is pinned: the simulation is deterministic.  Every
scenario runs on the interpreter (build/kvm), on the ASan VM
(build/kvm-asan, through $KTC_VM) and on the JIT (`ktc run --jit`).
"""
from __future__ import annotations

import contextlib
import os
import re
import pathlib
import signal
import subprocess
import sys

import pytest

from ktc import host
from tests.tools.vm import need_vm

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIFO = (ROOT / "examples" / "fifo.k").read_text()
KVM_ASAN = ROOT / "build" / "kvm-asan"
DEADLOCK = "deadlock: every operation waits\n"


@pytest.fixture(params=["interp", "asan",
                        pytest.param("jit", marks=pytest.mark.jit)])
def mode(request):
    need_vm()
    if request.param == "asan" and not KVM_ASAN.exists():
        pytest.skip("build/kvm-asan not built")
    if request.param == "jit":
        pytest.importorskip("llvmlite")
    return request.param


@pytest.fixture
def run(mode, tmp_path):
    """run(source, ops, *options) -> (status, stdout, stderr) of
    `ktc run [--jit] [options] script.k --ops OPS` in this mode."""
    def run_ops(source: str, ops: str, *options: str, timeout: int = 600):
        (tmp_path / "script.k").write_text(source, encoding="latin-1")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("KTC_VM", None)
        if mode == "asan":
            env["KTC_VM"] = str(KVM_ASAN)
        r = subprocess.run(
            [sys.executable, "-m", "ktc.cli", "run",
             *(["--jit"] if mode == "jit" else []), *options, "script.k",
             "--ops", ops],
            cwd=tmp_path, capture_output=True, text=True, env=env,
            timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    return run_ops


def lines(text: str) -> list[str]:
    return text.splitlines()


# ---- examples/fifo.k: a reader woken by a later writer -------------------------

def test_background_reader_woken_by_a_later_write(run):
    status, out, err = run(FIFO, "open fifo; &read $ 10; write $ hello; "
                           "&read $ 3; write $ abcdef; read $ 10; close $")
    assert (status, err) == (0, ""), err
    # the reader's result comes after the write that woke it, and after
    # that write's own result
    assert lines(out) == [
        "> open fifo", "fd 3",
        "> &read $ 10",
        "> write $ hello", "wrote 5 bytes", '&1 5 bytes "hello"',
        "> &read $ 3",
        "> write $ abcdef", "wrote 6 bytes", '&2 3 bytes "abc"',
        "> read $ 10", '3 bytes "def"',
        "> close $", "closed"]


def test_fifo_blocking_exchange(run):
    status, out, err = run(FIFO, "open fifo; open fifo nonblock; "
                           "read 4 10; &read 3 10; &read 3 2; write 4 hello; "
                           "write 4 xy; sync; close 3; close 4")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open fifo", "fd 3",
        "> open fifo nonblock", "fd 4",
        # O_NONBLOCK: EAGAIN, and no log line (EAGAIN is a normal answer)
        "> read 4 10", "error EAGAIN (11): Resource temporarily unavailable",
        "> &read 3 10",
        "> &read 3 2",
        # wakeAll: both readers run, in the order they waited; the first
        # takes everything, the second finds the FIFO empty and waits again
        "> write 4 hello", "wrote 5 bytes", '&1 5 bytes "hello"',
        "> write 4 xy", "wrote 2 bytes", '&2 2 bytes "xy"',
        "> sync",
        "> close 3", "closed",
        "> close 4", "closed"]


def test_fifo_read_of_no_bytes_returns_at_once(run):
    # a read of 0 bytes does not wait for bytes, as a pipe's does not
    status, out, err = run(FIFO, "open fifo; read $ 0; write $ ab; "
                           "read $ 0; read $ 5; close $")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open fifo", "fd 3",
        "> read $ 0", "0 bytes (end of file)",
        "> write $ ab", "wrote 2 bytes",
        "> read $ 0", "0 bytes (end of file)",
        "> read $ 5", '2 bytes "ab"',
        "> close $", "closed"]


def test_foreground_read_with_no_writer_is_a_deadlock(run):
    status, out, err = run(FIFO, "open fifo; read $ 10; close $")
    assert status == 2
    assert err == DEADLOCK
    assert lines(out) == ["> open fifo", "fd 3", "> read $ 10"]


def test_the_end_of_the_operations_waits_for_background_ones(run):
    # sync, and the end: a background reader nothing wakes is a deadlock
    status, out, err = run(FIFO, "open fifo; &read $ 10")
    assert (status, err) == (2, DEADLOCK)
    assert lines(out) == ["> open fifo", "fd 3", "> &read $ 10"]
    status, out, err = run(FIFO, "open fifo; &read $ 10; sync; "
                           "write $ never")
    assert (status, err) == (2, DEADLOCK)
    assert lines(out)[-1] == "> sync"
    # a background op a timer wakes is not one: see the timer tests


# ---- poll ------------------------------------------------------------------------

BELL = """\
class Bell extends CharDevice {
    int rings = 0;
    WaitQueue q = new WaitQueue();
    void write(File f, InputStream in) {
        rings += in.readAll().length();
        q.wakeOne();                    // wakes every poller too
    }
    void read(File f, OutputStream out, int count) {
        if (rings > 0) { rings--; out.write("r"); }
    }
    int poll(File f, PollTable t) {
        t.wait(q);
        print("poll sees " + rings);
        return rings > 0 ? Poll.IN | Poll.OUT : 0;
    }
}
CharDevice.register("bell", new Bell());
"""


def test_poll_waits_while_its_mask_is_0_then_a_wake_up_polls_again(run):
    status, out, err = run(BELL, "open bell; &poll $; &poll $; write $ x; "
                           "read $; &poll $; write $ yy; poll $")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open bell", "fd 3",
        "> &poll $", "poll sees 0",
        "> &poll $", "poll sees 0",
        # wakeOne wakes every poll registered on the queue, in their order
        "> write $ x", "wrote 1 bytes",
        "poll sees 1", "&1 mask 5",
        "poll sees 1", "&2 mask 5",
        "> read $", '1 bytes "r"',
        "> &poll $", "poll sees 0",
        "> write $ yy", "wrote 2 bytes", "poll sees 2", "&3 mask 5",
        "> poll $", "poll sees 2", "mask 5"]


def test_foreground_poll_with_mask_0_is_a_deadlock(run):
    status, out, err = run(BELL, "open bell; poll $")
    assert (status, err) == (2, DEADLOCK)
    assert lines(out) == ["> open bell", "fd 3", "> poll $", "poll sees 0"]


def test_fifo_poll_readiness(run):
    status, out, err = run(FIFO, "open fifo; poll $; write $ a; poll $; "
                           "read $ 1; poll $")
    assert (status, err) == (0, ""), err
    assert lines(out)[2:] == ["> poll $", "mask 4", "> write $ a",
                              "wrote 1 bytes", "> poll $", "mask 5",
                              "> read $ 1", '1 bytes "a"', "> poll $",
                              "mask 4"]


# ---- virtual time: timers and awaitFor ---------------------------------------------

COUNTER = """\
int ticks = 0;
Timer beat = new Timer(() -> { ticks++; });
class Counter extends CharDevice {
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 10) beat.every(arg);
        if (cmd == 11) beat.cancel();
        if (cmd == 12) beat.start(arg);
        return (beat.active() ? 1000 : 0) + ticks;
    }
}
CharDevice.register("counter", new Counter());
"""


def test_periodic_timer_counts_in_virtual_time(run):
    status, out, err = run(COUNTER, "open counter; ioctl $ 10 100; "
                           "wait 1000; ioctl $ 0; wait 50; ioctl $ 0; "
                           "wait 49; ioctl $ 0; wait 1; ioctl $ 0; "
                           "ioctl $ 11; wait 1000; ioctl $ 0; "
                           "ioctl $ 12 30; wait 29; ioctl $ 0; wait 1; "
                           "ioctl $ 0")
    assert (status, err) == (0, ""), err
    results = [ln for ln in lines(out) if ln.startswith("result")]
    assert results == [
        "result 1000",           # every(100) at 0
        "result 1010",           # 10 periods in 1000 ms, none skipped
        "result 1010",           # at 1050
        "result 1010",           # at 1099
        "result 1011",           # at 1100
        "result 11",             # cancelled
        "result 11",             # nothing more
        "result 1011",           # start(30) at 2100
        "result 1011",           # at 2129
        "result 12"]             # fired once at 2130, inactive from then


def test_a_timer_restarting_itself_without_delay_stops_the_run(run):
    # virtual time cannot pass it: the simulation stops rather than hang
    source = """\
int n = 0;
Timer t = new Timer(() -> { n++; t.start(0); });
t.start(5);
"""
    status, out, err = run(source, "wait 4; wait 1; wait 1")
    assert status == 2
    assert lines(out) == ["> wait 4", "> wait 1"]
    assert err == "abort: timers restart without delay forever at 5 ms\n"


AWAIT_FOR = """\
class Q extends CharDevice {
    WaitQueue q = new WaitQueue();
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 1) return q.awaitFor(arg) ? 1 : 0;
        q.wakeAll();
        return 7;
    }
}
CharDevice.register("q", new Q());
"""


def test_await_for_times_out_only_when_wait_reaches_it(run):
    status, out, err = run(AWAIT_FOR, "open q; &ioctl $ 1 100; wait 99; "
                           "&ioctl $ 1 100; wait 1; ioctl $ 5; "
                           "&ioctl $ 1 0; &ioctl $ 1 20000; wait 9999; "
                           "wait 1; close $")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open q", "fd 3",
        "> &ioctl $ 1 100",
        "> wait 99",
        "> &ioctl $ 1 100",
        "> wait 1", "&1 result 0",          # its 100 ms passed: false
        "> ioctl $ 5", "result 7", "&2 result 1",   # woken: true
        "> &ioctl $ 1 0", "&3 result 0",    # 0 ms: due at once
        "> &ioctl $ 1 20000",               # clamped to 10,000 ms
        "> wait 9999",
        "> wait 1", "&4 result 0",
        "> close $", "closed"]


def test_timer_and_timeout_due_together_go_in_start_order(run):
    source = """\
WaitQueue q = new WaitQueue();
Timer t = new Timer(() -> { print("timer"); q.wakeAll(); });
class D extends CharDevice {
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 1) t.start(arg);
        if (cmd == 2) return q.awaitFor(arg) ? 1 : 0;
        return 0;
    }
}
CharDevice.register("d", new D());
"""
    # the timer was started before the wait began: it runs first and its
    # wake-up beats the timeout
    status, out, err = run(source, "open d; ioctl $ 1 50; &ioctl $ 2 50; "
                           "wait 50; &ioctl $ 2 50; ioctl $ 1 50; wait 50")
    assert (status, err) == (0, ""), err
    assert lines(out)[2:] == [
        "> ioctl $ 1 50", "result 0",
        "> &ioctl $ 2 50",
        "> wait 50", "timer", "&1 result 1",
        # the wait began first now: the timeout goes first
        "> &ioctl $ 2 50",
        "> ioctl $ 1 50", "result 0",
        "> wait 50", "&2 result 0", "timer"]


# ---- fairness: operations that stay runnable ------------------------------------

# A poll that wakes the queue it has just registered on: poll(2) would spin
# in Linux, while other processes go on.
SELF_WAKE = """\
class S extends CharDevice {
    WaitQueue q = new WaitQueue();
    int ready;
    int polls;
    int poll(File f, PollTable t) {
        polls++;
        t.wait(q);
        q.wakeAll();
        return ready > 0 ? Poll.IN : 0;
    }
    void write(File f, InputStream in) { in.readAll(); ready = 1; q.wakeAll(); }
    int ioctl(File f, int cmd, int arg) { return polls; }
}
CharDevice.register("kself", new S());
"""

# Two readers that wake each other before they wait: a livelock that only
# the writer ends.
PING_PONG = """\
class P extends CharDevice {
    WaitQueue q = new WaitQueue();
    boolean ready;
    int spins;
    void read(File f, OutputStream out, int count) {
        while (!ready) { spins++; q.wakeAll(); q.await(); }
        out.write("done");
    }
    void write(File f, InputStream in) { in.readAll(); ready = true; q.wakeAll(); }
    int ioctl(File f, int cmd, int arg) { return spins; }
}
CharDevice.register("kpp", new P());
"""


def test_a_poll_that_wakes_itself_lets_the_next_operations_run(run):
    # between two operations it resumes 1,000 times at most, then the next
    # operation runs; the counts are the same on every run
    status, out, err = run(SELF_WAKE, "open kself; &poll $; ioctl $ 0; "
                           "write $ x; ioctl $ 0; sync", timeout=60)
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open kself", "fd 3",
        "> &poll $",
        # polled once per resumption: 1,000 times after `&poll`, once more
        # as the ioctl waits its turn
        "> ioctl $ 0", "result 1001",
        "> write $ x", "wrote 1 bytes", "&1 mask 1",
        "> ioctl $ 0", "result 2003",
        "> sync"]
    # the review's case: the write used to wait forever behind the poll
    status, out, err = run(SELF_WAKE, "open kself; &poll $; write $ x",
                           timeout=60)
    assert (status, err) == (0, ""), err
    assert lines(out)[2:] == ["> &poll $", "> write $ x", "wrote 1 bytes",
                              "&1 mask 1"]


LIVELOCK = ("livelock: a poll keeps waking itself (its poll() wakes a queue "
            "it waits on)\n")


def test_a_poll_that_only_wakes_itself_is_a_livelock(run):
    # Linux's poll(2) would spin until its timeout or a signal; with no
    # other operation to run, the simulation stops after 10,000 such
    # steps in a row instead of hanging
    status, out, err = run(SELF_WAKE, "open kself; poll $", timeout=60)
    assert (status, err) == (2, LIVELOCK)
    assert lines(out) == ["> open kself", "fd 3", "> poll $"]
    # in the background: the end of the operations (`sync`) stops there
    status, out, err = run(SELF_WAKE, "open kself; &poll $; ioctl $ 0",
                           timeout=60)
    assert (status, err) == (2, LIVELOCK)
    assert lines(out) == ["> open kself", "fd 3", "> &poll $",
                          "> ioctl $ 0", "result 1001"]


def test_a_poll_that_wakes_itself_until_it_is_ready_ends(run):
    # 9,999 polls that wake themselves, then IN: not a livelock (the
    # 10,000-step limit counts the steps that ran only such polls)
    source = SELF_WAKE.replace("return ready > 0 ? Poll.IN : 0;",
                               "return polls >= 10000 ? Poll.IN : 0;")
    status, out, err = run(source, "open kself; poll $; ioctl $ 0",
                           timeout=120)
    assert (status, err) == (0, ""), err
    assert lines(out) == ["> open kself", "fd 3", "> poll $", "mask 1",
                          "> ioctl $ 0", "result 10000"]


def test_background_operations_waking_each_other_let_a_write_end_them(run):
    status, out, err = run(PING_PONG, "open kpp; open kpp; &read 3 10; "
                           "&read 4 10; ioctl 3 0; write 3 go; sync; "
                           "ioctl 3 0", timeout=60)
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open kpp", "fd 3",
        "> open kpp", "fd 4",
        "> &read 3 10",
        "> &read 4 10",
        # the ioctl runs among them, first come, first served
        "> ioctl 3 0", "result 2002",
        "> write 3 go", "wrote 2 bytes",
        '&2 4 bytes "done"', '&1 4 bytes "done"',
        "> sync",
        "> ioctl 3 0", "result 4003"]
    # the review's case: the write runs after their shares
    status, out, err = run(PING_PONG, "open kpp; open kpp; &read 3 10; "
                           "&read 4 10; write 3 go; sync; ioctl 3 0",
                           timeout=60)
    assert (status, err) == (0, ""), err
    assert lines(out)[4:] == [
        "> &read 3 10", "> &read 4 10",
        "> write 3 go", "wrote 2 bytes",
        '&1 4 bytes "done"', '&2 4 bytes "done"',
        "> sync", "> ioctl 3 0", "result 2002"]


def test_wait_passes_while_background_operations_stay_runnable(run):
    # time advances past them to the timer, which ends them
    source = PING_PONG.replace(
        "int ioctl(File f, int cmd, int arg) { return spins; }",
        """Timer t = new Timer(() -> { ready = true; q.wakeAll(); });
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 1) t.start(arg);
        return spins;
    }""")
    status, out, err = run(source, "open kpp; ioctl 3 1 20; &read 3 10; "
                           "&read 3 10; wait 10; ioctl 3 0; wait 10; sync",
                           timeout=60)
    assert (status, err) == (0, ""), err
    assert lines(out)[2:] == [
        "> ioctl 3 1 20", "result 0",
        "> &read 3 10",
        "> &read 3 10",
        "> wait 10",
        # one spin; 2,000 after the second read, at 0 ms and at 10 ms in
        # the wait, and after it; one more as the ioctl waits its turn
        "> ioctl 3 0", "result 8002",
        "> wait 10", '&1 4 bytes "done"', '&2 4 bytes "done"',
        "> sync"]


@contextlib.contextmanager
def deadline(seconds: int):
    """Raises TimeoutError in the test if its body takes longer (a VM that
    never answers); leaving the `with host.VM` then kills the VM."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer in {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_quit_kills_operations_that_stay_runnable(tmp_path):
    need_vm()
    with deadline(60), host.VM.from_source(SELF_WAKE, "self.k") as vm:
        f = vm.open("kself")
        poll = f.background("poll")
        assert not poll.done and f.ioctl(0) == 1001
        assert vm.quit() == 0
        # killed as by SIGKILL: the poll ends with EINTR
        assert poll.done and poll.error.errno == 4
    with deadline(60), host.VM.from_source(PING_PONG, "pp.k") as vm:
        f, g = vm.open("kpp"), vm.open("kpp")
        readers = [f.background("read", 10), g.background("read", 10)]
        assert f.ioctl(0) == 2002
        assert vm.quit() == 0
        assert [(b.done, b.error.errno) for b in readers] == [(True, 5)] * 2
        assert vm.log == ["abort: killed", "  at P.read (pp.k:6)"] * 2


ZERO_TIMER = """\
class Z extends CharDevice {
    int n;
    boolean stop;
    Timer t;
    Z() { t = new Timer(() -> { n++; if (!stop) t.start(0); }); }
    void open(File f) { t.start(0); }
    void write(File f, InputStream in) { in.readAll(); stop = true; }
    int ioctl(File f, int cmd, int arg) { return n; }
}
CharDevice.register("kzero", new Z());
"""


def test_a_timer_restarting_without_delay_lets_the_next_operations_run(run):
    # between two operations the timers due fire 1,000 times at most (a
    # batch of up to 64 each); only `wait` must run them all before time
    # passes (the test above)
    status, out, err = run(ZERO_TIMER, "open kzero; ioctl $ 1; write $ x; "
                           "ioctl $ 1; wait 5; ioctl $ 1; close $",
                           timeout=120)
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open kzero", "fd 3",
        "> ioctl $ 1", "result 64000",
        "> write $ x", "wrote 1 bytes",
        "> ioctl $ 1", "result 128001",
        "> wait 5",
        "> ioctl $ 1", "result 128001",
        "> close $", "closed"]


# ---- files, failures, budgets -------------------------------------------------------

BOX = """\
class Box extends CharDevice {
    String data = "";
    WaitQueue q = new WaitQueue();
    void open(File f) { print("open"); }
    void read(File f, OutputStream out, int count) {
        while (data.length() == 0) q.await();
        if (data == "bad") { data = ""; throw new DeviceError(Errno.EINVAL, "bad data"); }
        out.write(data);
        data = "";
    }
    void write(File f, InputStream in) { data = data + in.readAll(); q.wakeAll(); }
    void release(File f) { print("release"); }
}
CharDevice.register("box", new Box());
"""


def test_close_while_a_background_op_uses_the_file(run):
    status, out, err = run(BOX, "open box; &read 3 10; close 3; open box; "
                           "write 3 hi; close 3")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open box", "open", "fd 3",
        "> &read 3 10",
        # the descriptor goes at once, the file when the read ends
        "> close 3", "closed",
        "> open box", "open", "fd 3",
        "> write 3 hi", "wrote 2 bytes", "release", '&1 2 bytes "hi"',
        "> close 3", "release", "closed"]


def test_background_failure_is_logged_on_stderr(run):
    status, out, err = run(BOX, "open box; &read $ 10; write $ bad; close $")
    assert status == 0
    assert lines(out)[4:] == [
        "> write $ bad", "wrote 3 bytes",
        "&1 error EINVAL (22): Invalid argument",
        "> close $", "release", "closed"]
    assert err == "box: read: DeviceError(EINVAL): bad data\n"


SPIN = """\
int spin(int n) { int s = 0; for (int i = 0; i < n; i++) s += i; return s; }
int ticks = 0;
Timer hog = new Timer(() -> { ticks++; spin(1000000); });
class Spin extends CharDevice {
    WaitQueue q = new WaitQueue();
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 3) { hog.every(10); return 0; }
        if (cmd == 4) return (hog.active() ? 100 : 0) + ticks;
        spin(arg);
        if (cmd == 1) { q.await(); spin(arg); }
        return 0;
    }
    void write(File f, InputStream in) { in.readAll(); q.wakeAll(); }
}
CharDevice.register("spin", new Spin());
"""


def test_budget_counts_one_callback_across_its_waits(run):
    # one spin of 25,000 fits in the budget, two do not; sleeping is free
    # but does not start a new budget
    status, out, err = run(SPIN, "open spin; ioctl $ 0 25000; "
                           "ioctl $ 0 25000; &ioctl $ 1 25000; write $ go",
                           "--budget", "100000")
    assert status == 0
    assert lines(out)[2:] == [
        "> ioctl $ 0 25000", "result 0",
        "> ioctl $ 0 25000", "result 0",
        "> &ioctl $ 1 25000",
        "> write $ go", "wrote 2 bytes",
        "&1 error EIO (5): Input/output error"]
    assert lines(err)[0] == "abort: budget exceeded"
    assert "at Spin.ioctl" in err


PIDS = """
class D extends CharDevice {
    WaitQueue q = new WaitQueue();
    boolean go;
    int ioctl(File f, int cmd, int arg) {
        int me = System.pid();
        if (cmd == 5) { go = true; q.wakeAll(); return 0; }
        while (!go) q.await();
        return System.pid() == me ? 1 : 0;
    }
    void read(File f, OutputStream out, int count) {
        out.write("" + System.pid());
    }
}
CharDevice.register("d", new D());
"""


def test_each_background_operation_is_a_process_of_its_own(run):
    # System.pid(): the foreground operations share one, each &OP has
    # another, kept across its waits
    status, out, err = run(PIDS, "open d; read $; &read 3; &read 3; "
                           "read 3; &ioctl 3 1; ioctl 3 5")
    assert status == 0, err
    got = lines(out)
    fg, bg1, bg2, fg2 = (got[i].split('"')[1] for i in (3, 5, 7, 9))
    assert fg == fg2 and len({fg, bg1, bg2}) == 3, got
    assert got[-1] == "&3 result 1", got


def test_a_background_operation_on_a_bad_fd_is_numbered_like_any(run):
    # &N and its number, as for a background open of a missing name: the
    # process's own call fails
    status, out, err = run(FIFO, "&open nosuch; open fifo; &write 77 a; "
                           "&read 3 2; &close 99; write 3 hi")
    assert status == 0, err
    got = lines(out)
    assert "&1 error ENOENT (2): No such file or directory" in got, got
    assert "&2 error EBADF (9): Bad file descriptor" in got, got
    assert '&3 2 bytes "hi"' in got, got
    assert "&4 error EBADF (9): Bad file descriptor" in got, got
    assert not any(line.startswith("error") for line in got), got


def test_library_background_on_a_bad_fd(tmp_path):
    need_vm()
    with host.VM.from_source(FIFO, "fifo.k") as vm:
        b = vm.background("read", 42, 4)
        assert b.done and b.number == 1
        with pytest.raises(OSError) as e:
            b.result()
        assert e.value.errno == 9
        f = vm.open("fifo")
        assert f.background("read", 4).number == 2


OOM_THEN_WAIT = """
class D extends CharDevice {
    WaitQueue q = new WaitQueue();
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 7) {
            Array<String> a = new Array<String>();
            while (true) a.add("x".repeat(4096));
        }
        q.awaitFor(10);
        return 1;
    }
    void read(File f, OutputStream out, int count) { out.write("r"); }
}
CharDevice.register("d", new D());
"""


def test_wait_after_an_out_of_memory_abort_collects_its_garbage(run):
    # the aborted call's arrays fill the quota until a collection: a wait
    # that finds the quota short for its parked state, and a read for
    # its buffer, collect first
    status, out, err = run(OOM_THEN_WAIT, "open d; ioctl $ 7; &ioctl $ 1; "
                           "wait 10; ioctl $ 7; read $ 65536; &ioctl $ 1; "
                           "wait 10", "--heap", "4000000")
    assert status == 0, err
    assert lines(out)[2:] == [
        "> ioctl $ 7", "error EIO (5): Input/output error",
        "> &ioctl $ 1", "> wait 10", "&1 result 1",
        "> ioctl $ 7", "error EIO (5): Input/output error",
        "> read $ 65536", '1 bytes "r"',
        "> &ioctl $ 1", "> wait 10", "&2 result 1"]
    assert lines(err)[0] == "abort: out of memory"
    assert err.count("abort:") == 2, err


HOARD = """\
class D extends CharDevice {
    Array<int[]> keep = new Array<int[]>();
    int ioctl(File f, int cmd, int arg) {
        for (int i = 0; i < cmd; i++) keep.add(new int[1000]);
        return keep.size();
    }
    void read(File f, OutputStream out, int count) { out.write("r"); }
}
CharDevice.register("d", new D());
"""


def test_a_read_the_quota_cannot_hold_fails_with_enomem_and_a_log_line(run):
    # 245 arrays of 8000 bytes leave less than a 64 KiB buffer of a
    # 2,000,000-byte heap: that read fails before its callback, says so in
    # the log, and a smaller one goes on
    status, out, err = run(HOARD, "open d; ioctl $ 245; read $ 65536; "
                           "read $ 10; close $", "--heap", "2000000")
    assert status == 0, err
    assert lines(out)[4:] == [
        "> read $ 65536", "error ENOMEM (12): Cannot allocate memory",
        "> read $ 10", '1 bytes "r"', "> close $", "closed"]
    assert re.fullmatch(r"d: read: out of memory: no room for 65536 bytes "
                        r"\(heap \d+ of 2000000\)\n", err), err


def test_timer_runs_under_a_callback_budget_and_a_failure_cancels_it(run):
    status, out, err = run(SPIN, "open spin; ioctl $ 3; ioctl $ 4; wait 10; "
                           "ioctl $ 4; wait 100; ioctl $ 4",
                           "--budget", "100000")
    assert status == 0
    results = [ln for ln in lines(out) if ln.startswith("result")]
    assert results == ["result 0", "result 100", "result 1", "result 1"]
    assert lines(err)[0] == "abort: budget exceeded"
    assert err.count("abort:") == 1           # cancelled: it never ran again


def test_await_where_a_callback_cannot_wait(run):
    source = """\
WaitQueue q = new WaitQueue();
Timer t = new Timer(() -> { q.await(); });
class Plain extends Device {
    void read(OutputStream out) { q.await(); }
}
class C extends CharDevice {
    int poll(File f, PollTable p) { q.await(); return 1; }
    int seek(File f, int off, int whence) { q.await(); return 0; }
    void release(File f) { q.await(); }
    int ioctl(File f, int cmd, int arg) { t.start(0); return 0; }
}
Device.register("plain", new Plain());
CharDevice.register("c", new C());
try { q.await(); } catch (IllegalStateException e) { print("init: " + e.getMessage()); }
"""
    status, out, err = run(source, "open plain; read $; open c; poll $; "
                           "lseek $ 0; ioctl $ 0; wait 0; close $; close 3")
    assert status == 0, err
    assert lines(out) == [
        "init: cannot wait here",
        "> open plain", "fd 3",
        "> read $", "error EIO (5): Input/output error",
        "> open c", "fd 4",
        "> poll $", "mask 8",                 # a failed poll answers ERR
        "> lseek $ 0", "error EIO (5): Input/output error",
        "> ioctl $ 0", "result 0",
        "> wait 0",
        "> close $", "closed",
        "> close 3", "closed"]
    reports = [ln for ln in lines(err) if not ln.startswith("  at")]
    assert reports == ["IllegalStateException: cannot wait here"] * 5
    for where in ("Plain.read", "C.poll", "C.seek", "lambda", "C.release"):
        assert where in err, where


GATE = """\
class Gate extends CharDevice {
    boolean up = false;
    WaitQueue q = new WaitQueue();
    void open(File f) { while (!up && !f.nonBlocking()) q.await(); }
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 1) f.writeUser(arg, "ok");
        up = true;
        q.wakeAll();
        return 1;
    }
    int seek(File f, int off, int whence) { return off; }
}
CharDevice.register("gate", new Gate());
"""


def test_background_open_and_ioctl_with_a_user_buffer(run):
    # an open that waits; `$` follows it once it has ended
    status, out, err = run(GATE, "open gate nonblock; &open gate; "
                           "lseek $ 3; &ioctl 3 1 @0000; lseek $ 7; "
                           "close 4; close 3")
    assert (status, err) == (0, ""), err
    assert lines(out) == [
        "> open gate nonblock", "fd 3",
        "> &open gate",
        "> lseek $ 3", "position 3",
        "> &ioctl 3 1 @0000", "&2 result 1", "&2 buffer @6f6b",
        "&1 fd 4",
        "> lseek $ 7", "position 7",
        "> close 4", "closed",
        "> close 3", "closed"]


# ---- many waiters --------------------------------------------------------------------

MAILBOX = """\
class Mailbox extends CharDevice {
    Array<String> letters = new Array<String>();
    WaitQueue arrivals = new WaitQueue();
    void read(File f, OutputStream out, int count) {
        while (letters.size() == 0) arrivals.await();
        out.write(letters.remove(0));
    }
    void write(File f, InputStream in) {
        letters.add(in.readAll());
        arrivals.wakeOne();
    }
}
CharDevice.register("mailbox", new Mailbox());
"""


def test_eight_readers_many_letters_none_lost_or_duplicated(run):
    readers, rounds = 8, 100
    ops = ["open mailbox"]
    sent = []
    for r in range(rounds):
        ops += ["&read $ 64"] * readers
        for i in range(readers):
            sent.append(f"m{r}_{i}")
            ops.append(f"write $ {sent[-1]}")
    status, out, err = run(MAILBOX, "; ".join(ops))
    assert (status, err) == (0, ""), err
    got = {}
    for ln in lines(out):
        if ln.startswith("&"):
            number, _, rest = ln[1:].partition(" ")
            assert number not in got
            got[number] = rest.split('"')[1]
    # every letter once, and in order: wakeOne wakes the longest waiter
    assert [got[str(n + 1)] for n in range(readers * rounds)] == sent


def test_library_background_api(tmp_path):
    need_vm()
    with host.VM.from_source(MAILBOX, "mailbox.k") as vm:
        f = vm.open("mailbox")
        readers = [f.background("read", 64) for _ in range(3)]
        assert not any(b.done for b in readers)
        with pytest.raises(host.VMError):
            readers[0].result()
        f.write("one")
        assert [b.done for b in readers] == [True, False, False]
        assert readers[0].result() == b"one"
        f.write("two")
        f.write("three")
        vm.sync()
        assert [b.result() for b in readers] == [b"one", b"two", b"three"]
        assert [b.number for b in readers] == [1, 2, 3]
        with pytest.raises(ValueError):
            vm.background("wait", 10)
        late = f.background("read", 64)
        with pytest.raises(host.Deadlock):
            vm.sync()
        assert not late.done


def test_quit_kills_operations_still_waiting(tmp_path):
    need_vm()
    vm = host.VM.from_source(FIFO, "fifo.k").start()
    f = vm.open("fifo")
    b = f.background("read", 10)
    assert vm.quit() == 0
    # killed as by SIGKILL: the callback aborts, the file is released
    assert b.done and b.error.errno == 5
    assert vm.log[0] == "abort: killed"


# ---- a waiting call keeps its own position and flags ---------------------------

POSITION = """\
class D extends CharDevice {
    WaitQueue q = new WaitQueue();
    boolean go;
    void read(File f, OutputStream out, int count) {
        int before = f.position();
        while (!go) q.await();
        out.write("" + before + "/" + f.position() + "/" + f.nonBlocking());
    }
    void write(File f, InputStream in) {
        in.readAll();
        go = true;
        q.wakeAll();
    }
}
CharDevice.register("d", new D());
"""


def test_a_waiting_pread_keeps_its_offset_across_other_calls(run):
    # the pwrite at offset 7 set the File's position for its own call; the
    # pread that waited sees its offset 100 again (the language reference
    # §9.1: during the callback f.position() is the call's offset)
    status, out, err = run(POSITION, "open d; &pread 3 20 100; pwrite 3 7 x; "
                           "sync")
    assert (status, err) == (0, ""), err
    assert lines(out)[-2:] == ['&1 13 bytes "100/100/false"', "> sync"]


PLACE = """\
class P extends CharDevice {
    void read(File f, OutputStream out, int count) { out.write("abc"); }
    void write(File f, InputStream in) { in.readAll(); }
    int ioctl(File f, int cmd, int arg) { return f.position(); }
    int poll(File f, PollTable t) {
        print("poll " + f.position());
        return Poll.IN;
    }
    void release(File f) { print("release " + f.position()); }
}
CharDevice.register("p", new P());
"""


def test_calls_after_a_pread_see_the_file_position(run):
    # pread and pwrite leave the file position as it is (the language
    # reference §9.1), so ioctl, poll and release see the file's
    # position, not the offset after a pread's or pwrite's bytes
    status, out, err = run(PLACE, "open p; pwrite 3 1000 hello; ioctl 3 1; "
                           "poll 3; write 3 xy; pread 3 3 500; ioctl 3 1; "
                           "close 3")
    assert (status, err) == (0, ""), err
    got = [x for x in lines(out) if x.startswith(("result", "poll",
                                                   "release"))]
    assert got == ["result 0", "poll 0", "result 2", "release 2"]


PARK = """\
final int GO = Ioctl.io('P', 1);
int deep(int n, WaitQueue q, Park p) {
    if (n > 0) return deep(n - 1, q, p) + 1;
    int g = p.gen;
    while (p.gen == g) q.await();
    return 0;
}
class Park extends CharDevice {
    int gen = 0;
    WaitQueue q = new WaitQueue();
    void read(File f, OutputStream out, int count) {
        out.write("ok" + deep(count, q, this));
    }
    int ioctl(File f, int cmd, int arg) { gen++; q.wakeAll(); return gen; }
}
CharDevice.register("park", new Park());
"""


def test_every_read_refused_for_a_full_heap_is_logged(run):
    # readers parked 200 frames deep fill a small heap; the later ones
    # fail, each with its line in the log (the language reference §9):
    # EIO with the abort's report when even the host's objects for the
    # call find no room, ENOMEM with the no-room line when the read's
    # buffer does not fit
    ops = "open park; " + "&read $ 200; " * 40 + "ioctl $ 0x5001; sync"
    status, out, err = run(PARK, ops, "--heap", "400000")
    assert status == 0, err
    eio = [x for x in lines(out) if x.endswith("error EIO (5): "
                                              "Input/output error")]
    enomem = [x for x in lines(out) if " error ENOMEM " in x]
    ok = [x for x in lines(out) if x.endswith('"ok200"')]
    assert eio and len(eio) + len(enomem) + len(ok) == 40, out
    logged = [x for x in lines(err) if not x.startswith("  at ")]
    assert logged.count("abort: out of memory") == len(eio), err
    assert len([x for x in logged if x.startswith(
        "park: read: out of memory: no room for 200 bytes")]) == \
        len(enomem), err


def test_library_ioctl_buffer_after_a_failed_call(tmp_path):
    """An ioctl with a user buffer that fails raises OSError with the
    buffer as the call left it (`buffer`), in the foreground and in the
    background; an error with no buffer has none."""
    need_vm()
    source = """
class Ub extends CharDevice {
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 9) throw new DeviceError(Errno.EPERM, "no buffer");
        f.writeUser(arg, "ok");
        throw new DeviceError(Errno.EBUSY, "after writing");
    }
}
CharDevice.register("ub", new Ub());
"""
    with host.VM.from_source(source, "ub.k") as vm:
        f = vm.open("ub")
        with pytest.raises(OSError) as e:
            f.ioctl(1, b"\0\0\0")
        assert e.value.errno == 16 and e.value.buffer == b"ok\0"
        b = f.background("ioctl", 1, b"")
        assert b.done and b.error.errno == 14 and b.error.buffer == b""
        with pytest.raises(OSError) as e:
            f.ioctl(9, 0)
        assert e.value.errno == 1 and not hasattr(e.value, "buffer")


WAITERS = """
class Q extends CharDevice {
    String msg = "";
    WaitQueue readers = new WaitQueue();
    void read(File f, OutputStream out, int count) {
        while (msg.length() == 0) readers.await();
        out.write(msg);
        msg = "";
    }
    void write(File f, InputStream in) {
        msg = in.readAll();
        readers.wakeOne();
    }
}
CharDevice.register("q", new Q());
"""


def refused_readers(vm, n):
    """Starts n background reads of 100 bytes on a file of /dev/q; the
    number refused (out of memory) before anything wakes them."""
    f = vm.open("q")
    reads = [f.background("read", 100) for _ in range(n)]
    return len([b for b in reads if b.done and b.error is not None])


@pytest.mark.jit
def test_waiting_calls_cost_the_heap_as_in_the_kernel_on_the_jit(tmp_path):
    """A waiting call keeps its frame array, charged to the heap: on stubs
    the simulation runs them as deep as konoha.ko (--jit-nest 24, which
    VM and `ktc run --jit` pass), so as many waiting readers fit into a
    small heap as in the kernel; with build/kvm's own deeper default
    fewer do."""
    need_vm()
    pytest.importorskip("ctjit")
    from test_jit import build_so
    image = host.compile_file_source(WAITERS, "q.k")
    so = build_so(image, str(tmp_path))
    refused = {}
    for nest in ("24", "256"):
        with host.VM(image, heap=100000,
                     vm_args=["--jit", str(so), "--jit-nest", nest]) as vm:
            refused[nest] = refused_readers(vm, 30)
    with host.VM(image, heap=100000, vm_args=["--jit", str(so)]) as vm:
        assert refused_readers(vm, 30) == refused["24"]
    assert 0 < refused["24"] < refused["256"] < 30, refused
    (tmp_path / "q.k").write_text(WAITERS)
    r = subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", "--jit", "--heap", "100000",
         "q.k", "--ops", "; ".join(["open q"] + ["&read 3 100"] * 30)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert len(re.findall(r"^&\d+ error E", r.stdout, re.M)) == \
        refused["24"], r.stdout + r.stderr


def test_kernel_jit_nest_is_konohas():
    """host.KERNEL_JIT_NEST is the kernel's KP_JIT_NEST_MAX."""
    text = (ROOT / "lkm" / "core" / "kport.h").read_text()
    kernel = text[text.index("#ifdef __KERNEL__"):text.index("#else")]
    m = re.search(r"#define KP_JIT_NEST_MAX\s+(\d+)", kernel)
    assert m and int(m.group(1)) == host.KERNEL_JIT_NEST
    assert host.kernel_jit_args(["--jit", "s.so"]) == [
        "--jit", "s.so", "--jit-nest", str(host.KERNEL_JIT_NEST)]
    assert host.kernel_jit_args(["--jit", "s.so", "--jit-nest", "3"]) == [
        "--jit", "s.so", "--jit-nest", "3"]
    assert host.kernel_jit_args([]) == []
