"""The (1.1) library calls of Array, String and Math stop at the same
instruction under the interpreter and the JIT, whatever the budget or the
heap quota.

sort calls its comparator back through the VM (a frame per call, charged
as a call) and charges the elements it copies and moves; String.format
may call a script's toString; indexOf, compareTo and lastIndexOf charge
what they scan.  The sweeps below give each program every small budget,
budgets spread over its whole run and every budget around its end, and
compare the exit status, stdout and stderr of the interpreter with those
of the JIT at three levels of the context threading.
"""

import re
import subprocess

import pytest

import test_jit as tj
from test_jit import build_so, compile_source, conf, run_vm

pytestmark = pytest.mark.jit

# Every new call, with script code called back from sort and format,
# allocations (slice, pack, format's result) and scans (indexOf on
# Strings, compareTo, lastIndexOf).
LIBRARY = """\
class Named {
    String n;
    Named(String n) { this.n = n; }
    String toString() { return "<" + n + ">"; }
}
int calls = 0;
int[] a = new int[40];
for (int i = 0; i < a.size(); i++) a[i] = (i * 37) % 41;
a.sort((x, y) -> { calls++; return Math.compare(x, y); });
String[] w = ["pear", "fig", "apple", "kiwi", "plum", "fig"];
w.sort((p, q) -> p.compareTo(q));
int[] s = a.slice(5, 30);
s.reverse();
String big = "ab".repeat(300);
String txt = String.format("%s|%5d|%-4x|%08b|%c|%s",
    [new Named("n"), -42, 255, 5, 65, w]);
int found = w.indexOf("kiwi") + (w.contains("zz") ? 1 : 0);
int packed = String.pack(-300, 2).unpackSigned(0, 2) +
    String.pack(70000, 4).unpack(0, 4);
print(calls + " " + s[0] + " " + txt + " " + found + " " + packed + " " +
      big.lastIndexOf("ba") + " " + big.compareTo(big + "a"));
"""

# A sort whose comparator throws half-way, caught, then a format whose
# toString throws, caught: the unwinding paths under every budget.
THROWING = """\
class Bad { String toString() { throw new IllegalStateException("x"); } }
int n = 0;
int[] a = [9, 3, 7, 1, 8, 2, 6, 4, 5, 0];
try {
    a.sort((x, y) -> { n++; if (n == 12) throw new IllegalStateException("c"); return x - y; });
} catch (IllegalStateException e) { print(e.getMessage() + n); }
try {
    print(String.format("%s %s", [1, new Bad()]));
} catch (IllegalStateException e) { print(e.getMessage()); }
print(a);
"""


def _need(tmp_path, image) -> int:
    """The instructions the whole run takes, from the interpreter."""
    r = subprocess.run([conf.vm_binary(), "--stats",
                        str(tj._write(tmp_path, image))],
                       capture_output=True)
    return int(re.search(rb"instructions (\d+)", r.stderr).group(1))


def _budgets(need: int) -> list[int]:
    spread = list(range(60, need - 40, max(1, (need - 100) // 60)))
    return sorted(set(list(range(1, 60)) + spread +
                      list(range(max(1, need - 40), need + 3))))


@pytest.mark.parametrize("ct", ["subroutine", "+branch", "all"])
@pytest.mark.parametrize("src", [LIBRARY, THROWING],
                         ids=["library", "library_throwing"])
def test_library_budget_sweep_is_exact(src, ct, tmp_path):
    image = compile_source(src, "p.k")
    so = build_so(image, str(tmp_path), ct)
    need = _need(tmp_path, image)
    full = run_vm(image, jit=False)
    assert full[0] == 0, full
    for budget in _budgets(need):
        args = ["--budget", str(budget)]
        want = run_vm(image, args, jit=False)
        assert run_vm(image, args, so=so) == want, f"budget {budget}"
        if budget < need:
            assert want[0] == 2 and b"budget exceeded" in want[2], budget


# A sort of 20000 elements needs a copy as large as the array; the heap
# quotas around that point stop the interpreter and the JIT alike.
SORT_HEAP = """\
int[] a = new int[20000];
for (int i = 0; i < a.size(); i++) a[i] = 20000 - i;
print("filled");
a.sort((x, y) -> x - y);
print(a[0] + " " + a[19999]);
"""


def test_library_sort_heap_limit_is_exact(tmp_path):
    image = compile_source(SORT_HEAP, "h.k")
    so = build_so(image, str(tmp_path))
    outcomes = set()
    for heap in (150000, 200000, 300000, 400000, 500000, 1000000):
        args = ["--heap", str(heap)]
        want = run_vm(image, args, jit=False)
        outcomes.add(want[0])
        assert run_vm(image, args, so=so) == want, f"heap {heap}"
    # the sweep saw the copy refused and the sort done
    assert outcomes == {0, 2}
