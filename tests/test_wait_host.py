"""(1.1) The VM's side of waits, polls and timers (lkm/core/wait.c, the
language reference §9.2) where the simulation cannot show it.

tests/wait_host.c is a host of its own, linked with build/libkvm.so: it
counts the poll registrations the VM asks for (build/kvm's host merges
repeated ones, Linux's poll_wait does not) and runs kvm_run_timers() one
call at a time, as the kernel's work item does.  The last test runs a
JIT call on the state a waiting call left (build/kvm-asan, `--jit`).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIBKVM = ROOT / "build" / "libkvm.so"
KVM_ASAN = ROOT / "build" / "kvm-asan"

POLL_LOOP = """
class D extends CharDevice {
    WaitQueue a = new WaitQueue();
    WaitQueue b = new WaitQueue();
    int poll(File f, PollTable t) {
        for (int i = 0; i < 1000; i++) { t.wait(a); t.wait(b); }
        t.wait(new WaitQueue());
        return Poll.IN;
    }
}
CharDevice.register("d", new D());
"""

# ten timers due together, each about 3,500 instructions
TIMERS = """
int ran;
int spin(int n) { int s = 0; for (int i = 0; i < n; i++) s = s + i; return s; }
Array<Timer> ts = new Array<Timer>();
for (int k = 0; k < 10; k++) {
    int id = k;
    Timer t = new Timer(() -> { spin(1000); ran++; print("t" + id); });
    t.start(0);
    ts.add(t);
}
Timer late = new Timer(() -> { print("late"); });
class D extends CharDevice {
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 1) return ran;
        late.start(5);
        return late.active() ? 1 : 0;
    }
}
CharDevice.register("d", new D());
"""


@pytest.fixture(scope="module")
def wait_host(tmp_path_factory):
    """wait_host(source, cb_budget, *steps) -> stdout lines of
    tests/wait_host.c running the compiled source."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc or not LIBKVM.exists():
        pytest.skip("needs a C compiler and build/libkvm.so (make vm)")
    d = tmp_path_factory.mktemp("wait_host")
    exe = d / "wait_host"
    subprocess.run(
        [cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror",
         f"-I{ROOT / 'lkm/core'}", f"-I{ROOT / 'lkm/user'}", "-o", str(exe),
         str(ROOT / "tests" / "wait_host.c"), str(LIBKVM),
         f"-Wl,-rpath,{LIBKVM.parent}"], check=True)

    def run(source: str, cb_budget: int, *steps: str) -> list[str]:
        k = d / "script.k"
        k.write_text(source)
        kbc = d / "script.kbc"
        subprocess.run([sys.executable, "-m", "ktc.cli", "compile", str(k),
                        "-o", str(kbc)], check=True, cwd=ROOT)
        r = subprocess.run([str(exe), str(kbc), "d", str(cb_budget), *steps],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()
    return run


def test_poll_registers_each_queue_once_per_poll(wait_host):
    # 2,001 t.wait calls on three queues: three registrations, in every
    # poll (a new poll table each time), and nothing leaks
    out = wait_host(POLL_LOOP, 10**6, "poll", "poll", "poll")
    assert out == ["poll 1 regs 3"] * 3 + ["live 0"]


def test_one_timer_run_stops_after_a_callbacks_budget(wait_host):
    # with a callback budget of 10,000 one run stops once the timers it
    # ran used it up; the others are still due, at once, in their order
    out = wait_host(TIMERS, 10000, "timers", "0", "ioctl", "1",
                    "timers", "0", "timers", "0", "ioctl", "1")
    assert out == ["t0", "t1", "t2", "t3", "timers armed 0", "ioctl 4",
                   "t4", "t5", "t6", "t7", "timers armed 0",
                   "t8", "t9", "timers armed -1", "ioctl 10", "live 0"]


def test_timer_started_after_unloading_began_stays_inactive(wait_host):
    out = wait_host(TIMERS, 10**6, "ioctl", "2", "stop", "ioctl", "2",
                    "timers", "10")
    assert out == ["ioctl 1", "stopped", "ioctl 0", "timers armed -1",
                   "live 0"]


JIT_DEEP = """
int depth(int n) {
    if (n == 0) { int[] a = new int[1]; return a[5]; }
    return 1 + depth(n - 1);
}
class D extends CharDevice {
    WaitQueue q = new WaitQueue();
    boolean go;
    void read(File f, OutputStream out, int count) {
        while (!go) q.await();
        out.write("r");
    }
    int ioctl(File f, int cmd, int arg) {
        int r = 0;
        try { r = depth(arg); } catch (Exception e) { r = -1; }
        go = true;
        q.wakeAll();
        return r;
    }
}
CharDevice.register("d", new D());
"""


@pytest.mark.jit
def test_jit_call_runs_deep_while_another_call_waits(tmp_path):
    # the ioctl runs on the state the waiting read left to the VM: its
    # JIT stubs push 200 frames inline (the frame array must hold
    # jit_frames_max of them) and the exception unwinds through them
    pytest.importorskip("llvmlite")
    if not KVM_ASAN.exists():
        pytest.skip("build/kvm-asan not built")
    (tmp_path / "deep.k").write_text(JIT_DEEP)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KTC_VM": str(KVM_ASAN)}
    r = subprocess.run(
        [sys.executable, "-m", "ktc.cli", "run", "--jit", "deep.k", "--ops",
         "open d; &read 3 10; ioctl 3 1 200; sync; close 3"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        "> open d", "fd 3", "> &read 3 10", "> ioctl 3 1 200", "result -1",
        '&1 1 bytes "r"', "> sync", "> close 3", "closed"]
