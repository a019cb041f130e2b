"""Library work the budget must pay for, found by attacking the (1.1)
runtime: each scenario is a callback that repeats one cheap-looking call
on a large structure until its budget ends it, and counts how many times
it got through.  Before the charges below each ran tens of thousands of
times on a budget of 10^6 (a callback's budget bounded nothing of the
host's work: a Timer.start/cancel loop held a 6.1 kernel's CPU for
minutes); now the count is bounded by the budget over the structure's
size.

- Timer.start and cancel pass over every active timer (the earliest due
  time, the cancelled timer's place);
- converting a map to a String skips the entries removed since it was
  last compacted;
- a dynamic call (`Any`) whose inline cache misses looks the method up by
  name in the class's vtable.

The counts are kept in a global the next call reads back (the aborted
callback's own result is EIO).
"""
from __future__ import annotations

import pytest

from ktc import host
from tests.tools.vm import need_vm

CB_BUDGET = 1_000_000


@pytest.fixture(autouse=True)
def vm_needed():
    need_vm()


def rounds(source: str, heap: int = 16 << 20) -> int:
    """ioctl 7 runs the attack until the budget aborts it (EIO); ioctl 8
    returns the rounds it completed."""
    with host.VM.from_source(source, "attack.k", budget=10**9, heap=heap,
                             vm_args=["--cb-budget", str(CB_BUDGET)]) as vm:
        f = vm.open("attack")
        with pytest.raises(OSError) as e:
            f.ioctl(7, 0)
        assert e.value.errno == 5
        assert any("abort: budget exceeded" in line for line in vm.log), \
            vm.log
        return f.ioctl(8, 0)


DEVICE = """
int done = 0;
class Attack extends Device {
    int ioctl(int cmd, int arg) {
        if (cmd == 8) return done;
        while (true) { ROUND; done++; }
    }
}
Device.register("attack", new Attack());
"""


def attack(setup: str, round_: str) -> str:
    return setup + DEVICE.replace("ROUND", round_)


def test_timer_start_and_cancel_pay_for_every_active_timer():
    # 3 passes over 5,000 timers a round: at least 15,000 units
    n = rounds(attack("""
void nop() {}
Timer[] ts = new Timer[5000];
for (int i = 0; i < ts.size(); i++) {
    ts[i] = new Timer(nop);
    ts[i].start(1000000);
}
Timer t = ts[0];
""", "t.cancel(); t.start(1000000)"))
    assert 0 < n <= CB_BUDGET // 15000, n


def test_converting_a_map_pays_for_its_removed_entries():
    # one live entry behind 30,000 removed ones
    n = rounds(attack("""
Map<int, int> m = new Map<int, int>();
for (int i = 0; i < 30000; i++) m.put(i, i);
for (int i = 0; i < 29999; i++) m.remove(i);
int len = 0;
""", 'String s = "" + m; len = s.length()'))
    assert 0 < n <= CB_BUDGET // 30000, n


def test_a_dynamic_call_that_misses_pays_for_the_lookup_by_name():
    # two classes of 300 methods with 200-byte names; the call site's
    # receiver alternates, so every call misses its inline cache
    names = ["m" * 200 + str(i) for i in range(300)]
    methods = "".join(f"    int {x}() {{ return 1; }}\n" for x in names)
    setup = ("class A {\n" + methods + "    int zz() { return 1; }\n}\n"
             "class B {\n" + methods + "    int zz() { return 2; }\n}\n"
             "Any[] xs = [new A(), new B()];\nint k = 0;\n")
    n = rounds(attack(setup, "Any x = xs[k & 1]; k++; int r = (int) x.zz()"))
    # a miss compares ~300 names of 201 bytes: at least 300 * 4 units
    assert 0 < n <= CB_BUDGET // 1200, n
