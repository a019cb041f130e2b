"""(1.1) The VM's side of waits, polls and timers (lkm/core/wait.c, the
language reference §9.2) and of its heap (gc.c's kept objects) where the
simulation cannot show it.

tests/wait_host.c is a host of its own, linked with build/libkvm.so: it
counts the poll registrations the VM asks for (build/kvm's host merges
repeated ones, Linux's poll_wait does not) and runs kvm_run_timers() one
call at a time, as the kernel's work item does.  The last test runs a
JIT call on the state a waiting call left (build/kvm-asan, `--jit`).
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tests.tools import wait_host as tools_wait_host

ROOT = pathlib.Path(__file__).resolve().parent.parent
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
    """wait_host(source, cb_budget[,heap], *steps) -> stdout lines of
    tests/wait_host.c running the compiled source."""
    return tools_wait_host.build(tmp_path_factory.mktemp("wait_host"))


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


PERIODIC = """
int runs;
Timer t = new Timer(() -> { runs++; });
t.every(1);
class D extends CharDevice {
    int ioctl(File f, int cmd, int arg) { return runs; }
}
CharDevice.register("d", new D());
"""


def test_late_periodic_timer_runs_the_periods_it_missed(wait_host):
    # a 1 ms timer the host wakes 10 ms late runs 10 times in that one
    # run; 2 s late (past the second it may catch up) once, then again
    # a period later; 500 ms late, 64 runs (one run's batch), the next
    # of its missed periods due 435 ms ago: at once
    out = wait_host(PERIODIC, 10**6, "timers", "10", "ioctl", "9",
                    "timers", "2000", "ioctl", "9", "timers", "500",
                    "ioctl", "9")
    assert out == ["timers armed 1", "ioctl 10", "timers armed 1", "ioctl 11",
                   "timers armed -435", "ioctl 75", "live 0"], out


# small objects made and dropped (cmd 5), then kept until the quota ends
# the call (cmd 6) or 4,000 more a call (cmd 8), and how many were kept
# (cmd 7)
RECYCLE = """
class Node { int v; Node next; String s; }
class D extends CharDevice {
    Array<Node> kept = new Array<Node>();
    int ioctl(File f, int cmd, int arg) {
        if (cmd == 5) {
            int stale = 0;
            for (int i = 0; i < 60000; i++) {
                Node n = new Node();
                if (n.v != 0 || n.next != null || n.s != null) stale++;
                n.v = i + 1;
                n.next = n;
                n.s = "n" + i;
            }
            return stale;
        }
        if (cmd == 6) {
            kept = new Array<Node>();
            while (true) kept.add(new Node());
        }
        if (cmd == 8)
            for (int i = 0; i < 4000; i++) kept.add(new Node());
        return kept.size();
    }
}
CharDevice.register("d", new D());
"""


def _heap(line: str) -> tuple[int, int, int]:
    used, kept, limit = line.split()[2::2]
    return int(used), int(kept), int(limit)


def test_swept_objects_are_reused_within_the_quota(wait_host):
    # 60,000 nodes and strings a call pass the first collection's 1 MiB:
    # what it sweeps is kept and handed out again, cleared (no node
    # shows an old field), and the quota bounds the charged and the kept
    # bytes together
    out = wait_host(RECYCLE, 10**9, "ioctl", "5", "heap", "ioctl", "5",
                    "heap", "ioctl", "5", "heap")
    assert out[0::2][:3] == ["ioctl 0"] * 3 and out[-1] == "live 0"
    heaps = [_heap(line) for line in out[1:6:2]]
    assert any(kept > 0 for _, kept, _ in heaps), heaps
    assert all(used + kept <= limit for used, kept, limit in heaps), heaps


def test_kept_objects_give_way_to_live_ones(wait_host):
    # a call's garbage, then live nodes, 4,000 a call, up to a quota of
    # 1,200,000 bytes: the blocks kept from the garbage are freed when the
    # live ones need the room, before a collection would free them
    steps = ["ioctl", "5", "heap"] + ["ioctl", "8", "heap"] * 6
    out = wait_host(RECYCLE, "1000000000,1200000", *steps)
    heaps = [_heap(line) for line in out if line.startswith("heap")]
    assert any(kept > 0 and used > 600000 for used, kept, _ in heaps), out
    assert all(used + kept <= limit for used, kept, limit in heaps), out
    assert out[-1] == "live 0"


def test_a_large_heap_keeps_nothing(wait_host):
    # 40,000 live nodes (more than half a megabyte survives collections):
    # swept objects go back to the allocator
    steps = ["ioctl", "8"] * 10 + ["ioctl", "5", "heap"]
    out = wait_host(RECYCLE, 10**9, *steps)
    used, kept, _ = _heap(out[-2])
    assert used > 1000000 and kept == 0, out


def test_kept_objects_do_not_move_the_out_of_memory_point(wait_host):
    # a 2 MiB quota filled with live nodes: the call aborts after as
    # many nodes whether or not swept objects were kept before it
    fresh = wait_host(RECYCLE, "1000000000,2097152", "ioctl", "6",
                      "ioctl", "7", "heap")
    after = wait_host(RECYCLE, "1000000000,2097152", "ioctl", "5",
                      "ioctl", "5", "heap", "ioctl", "6", "ioctl", "7",
                      "heap")
    assert fresh[0] == "ioctl err 5" and after[3] == "ioctl err 5"
    assert _heap(after[2])[1] > 0, after
    count = fresh[1]
    assert count.startswith("ioctl ") and int(count.split()[1]) > 10000
    assert after[4] == count
    used, kept, limit = _heap(after[5])
    assert used + kept <= limit, after
    assert fresh[-1] == after[-1] == "live 0"


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
        try { r = depth(arg); } catch (Exception e) { r = 42; }
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
    # jit_frames_max of them: build/kvm's own 256 here, not the kernel's
    # 24 that `ktc run` passes) and the exception unwinds through them
    pytest.importorskip("ctjit")
    if not KVM_ASAN.exists():
        pytest.skip("build/kvm-asan not built")
    from ktc import host
    from test_jit import build_so
    image = host.compile_file_source(JIT_DEEP, "deep.k")
    so = build_so(image, str(tmp_path))
    with host.VM(image, vm_binary=str(KVM_ASAN),
                 vm_args=["--jit", str(so), "--jit-nest", "256"]) as vm:
        f = vm.open("d")
        reader = f.background("read", 10)
        assert not reader.done
        assert f.ioctl(1, 200) == 42
        vm.sync()
        assert reader.done and reader.error is None
        assert reader.result() == b"r"
        f.close()
