"""Map<K, V> (the language reference §8, 1.1) beyond the conformance
programs of tests/conformance/maps: what a single map operation is charged
and that the budget stops it, the same stopping points in the JIT, the
heap quota, the collector under stress, and the image rules the loader
enforces for map types.
"""

from __future__ import annotations

import pathlib
import re
import resource
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend import image as im  # noqa: E402
from frontend.compiler import compile_source  # noqa: E402
from frontend.opcodes import opcode  # noqa: E402
from tests.tools import stress_vm as stress_vm_tool  # noqa: E402

KVM = ROOT / "build" / "kvm"
KVM_ASAN = ROOT / "build" / "kvm-asan"
MAPS = ROOT / "tests" / "conformance" / "maps"

pytestmark = pytest.mark.skipif(not KVM.is_file(), reason="needs make vm")


def image_file(tmp_path, src, name="p"):
    path = tmp_path / f"{name}.kbc"
    path.write_bytes(compile_source(src, f"{name}.k"))
    return path


def run(vm, image, *args):
    return subprocess.run([str(vm), *args, str(image)], capture_output=True,
                          text=True, timeout=300)


def used(image) -> int:
    """The budget a whole run takes (build/kvm --stats)."""
    r = run(KVM, image, "--stats")
    assert r.returncode == 0, r.stderr
    return int(re.search(r"instructions (\d+)", r.stderr).group(1))


N = 100_000
BUILD = f"""\
Map<int, int> m = new Map<int, int>();
int i = 0;
while (i < {N}) {{ m.put(i, i); i++; }}
print("built");
"""


@pytest.mark.parametrize("op", ["keys", "values"])
def test_one_huge_map_operation_is_stopped_by_the_budget(op, tmp_path):
    """keys() of a 100,000-entry map costs at least a unit per entry; a
    budget that pays for building the map and for half of that one call
    stops the call, at its line, in the interpreter and the ASan VM."""
    built = used(image_file(tmp_path, BUILD, "built"))
    src = BUILD + f"int[] a = m.{op}();\nprint(a.size());\n"
    image = image_file(tmp_path, src)
    total = used(image)
    assert total - built >= N, "a unit per entry visited"
    budget = str(built + (total - built) // 2)
    for vm in (KVM, KVM_ASAN):
        if not vm.is_file():
            continue
        r = run(vm, image, "--budget", budget)
        assert r.returncode == 2, r.stderr
        assert r.stdout == "built\n"
        assert r.stderr.startswith("abort: budget exceeded\n  at <init> (p.k:5)")
    assert run(KVM, image, "--budget", str(total)).stdout == f"built\n{N}\n"


def test_a_colliding_string_key_set_is_not_quadratic(tmp_path):
    """Keys built from the blocks "Aa" and "BB" all share Java's
    String.hashCode; 2^12 of them are charged what as many other keys
    built alike are.  The charge does not count the slots probed (they
    depend on the per-run hash key), so this pins the charge model;
    test_crafted_keys_take_the_time_of_ordinary_ones measures the probes
    themselves."""
    def prog(keys):
        return f"""\
String[] blocks = {keys};
String[] ks = [""];
int d = 0;
while (d < 12) {{
    String[] next = [];
    int j = 0;
    while (j < ks.size()) {{
        next.add(ks[j] + blocks[0]);
        next.add(ks[j] + blocks[1]);
        j++;
    }}
    ks = next;
    d++;
}}
Map<String, int> m = new Map<String, int>();
int i = 0;
while (i < ks.size()) {{ m.put(ks[i], i); i++; }}
i = 0;
int s = 0;
while (i < ks.size()) {{ s += m.get(ks[i]); i++; }}
print(m.size() + " " + s);
"""
    colliding = used(image_file(tmp_path, prog('["Aa", "BB"]'), "c"))
    ordinary = used(image_file(tmp_path, prog('["xq", "zk"]'), "o"))
    assert colliding < ordinary * 1.2


def cpu_seconds(image) -> float:
    """The least CPU time (user + system) of three runs of image."""
    best = None
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = run(KVM, image)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert r.returncode == 0, r.stderr
        t = (after.ru_utime - before.ru_utime +
             after.ru_stime - before.ru_stime)
        best = t if best is None else min(best, t)
    return best


CRAFTED = {
    # 10^5 int keys sharing their low 20 bits: one run of the index for
    # any hash that keeps an int's low bits, against keys spread over 2^40
    "int": ("i << 20", "(i * 2654435761) & 1099511627775", "int",
            100_000),
    # 2^14 keys of 14 blocks "Aa"/"BB" (one Java String.hashCode) against
    # keys built alike from "xq"/"zk"
    "String": ('blocks("Aa", "BB", i)', 'blocks("xq", "zk", i)', "String",
               1 << 14),
}


def crafted_program(key: str, ktype: str, n: int) -> str:
    return f"""\
String blocks(String a, String b, int i) {{
    String s = "";
    int k = 0;
    while (k < 14) {{ s = s + (((i >> k) & 1) == 1 ? b : a); k++; }}
    return s;
}}
{ktype} key(int i) {{ return {key}; }}
Map<{ktype}, int> m = new Map<{ktype}, int>();
int i = 0;
while (i < {n}) {{ m.put(key(i), i); i++; }}
int s = 0;
i = 0;
while (i < {n}) {{ s += m.get(key(i)); i++; }}
i = 0;
while (i < {n}) {{ m.remove(key(i)); i += 2; }}
print(s + " " + m.size());
"""


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_crafted_keys_take_the_time_of_ordinary_ones(kind, tmp_path):
    """Keys crafted to share the slots of an unkeyed hash cost about the
    CPU time of ordinary keys with the keyed hash; a map they degraded
    would probe the whole run at every put, n^2 / 2 = 5 * 10^9 slots for
    the int keys, a hundred times and more the ordinary run.  The bound
    here is 10x, a complexity guard that a loaded machine cannot trip;
    the issue's 3x goal is measured, peers side by side, by
    bench/test_map.py (bench/results/map.md)."""
    crafted, ordinary, ktype, n = CRAFTED[kind]
    want = f"{n * (n - 1) // 2} {n // 2}\n"
    times = {}
    for name, key in (("crafted", crafted), ("ordinary", ordinary)):
        image = image_file(tmp_path, crafted_program(key, ktype, n), name)
        r = run(KVM, image)
        assert (r.returncode, r.stdout) == (0, want), r.stderr
        times[name] = cpu_seconds(image)
    assert times["crafted"] <= 10 * times["ordinary"], times


CHURN = """\
// a sliding window of W keys over N puts: every put after the first W
// removes the oldest key, so the index fills with tombstones that later
// puts reuse and compactions clear
int W = 1000;
int N = 60000;
Map<int, int> m = new Map<int, int>();
int i = 0;
int bad = 0;
while (i < N) {
    m.put(i * 7919, i);
    if (i >= W) {
        if (!m.remove((i - W) * 7919)) bad++;
        if (m.remove((i - W) * 7919)) bad++;
        if (m.has((i - W) * 7919)) bad++;
    }
    if (m.get(i * 7919) != i) bad++;
    if (m.size() != (i < W ? i + 1 : W)) bad++;
    i++;
}
int s = 0;
i = N - W;
while (i < N) { s += m.get(i * 7919); i++; }
int[] ks = m.keys();
print(bad + " " + s + " " + ks.size() + " " + ks[0] / 7919 + " " +
      ks[W - 1] / 7919);
// emptied, then filled again: the same keys in their new order
i = N - W;
while (i < N) { m.remove(i * 7919); i++; }
print(m.size() + " " + m);
i = 0;
while (i < 3) { m.put((N - 1 - i) * 7919, i); i++; }
m.put((N - 1) * 7919, 9);
print(m);
"""


def test_churn_through_tombstones_keeps_every_key(tmp_path):
    """Removals leave tombstones in the index: a long churn of puts and
    removals finds every live key, none of the removed ones, keeps the
    insertion order, and an emptied map is filled again in order (in the
    interpreter and the ASan VM)."""
    n, w = 60000, 1000
    last = [(n - 1 - i) * 7919 for i in range(3)]
    want = (f"0 {sum(range(n - w, n))} {w} {n - w} {n - 1}\n"
            "0 {}\n"
            f"{{{last[0]}: 9, {last[1]}: 1, {last[2]}: 2}}\n")
    image = image_file(tmp_path, CHURN)
    for vm in (KVM, KVM_ASAN):
        if not vm.is_file():
            continue
        r = run(vm, image)
        assert (r.returncode, r.stdout) == (0, want), r.stderr


MIX = """\
class P { String toString() { return "P"; } }
Map<String, int> work(int n) {
    Map<String, int> m = new Map<String, int>();
    Map<Any, P> a = new Map<Any, P>();
    int i = 0;
    while (i < n) {
        m.put("k" + i, i);
        a.put(i, new P());
        if (i % 3 == 0) m.remove("k" + (i / 2));
        i++;
    }
    String s = "" + m + a.keys();
    m.put(s.substring(0, 5), s.length());
    print(m.values().size() + a.values().size());
    return m;
}
print(work(40).size());
"""


def jit_so(image, tmp_path, ct):
    ctjit = pytest.importorskip("ctjit")
    stubs = ctjit.compile_image(image.read_bytes(), ct=ct)
    obj, so = tmp_path / "s.jit.o", tmp_path / "s.jit.so"
    obj.write_bytes(stubs.obj)
    ctjit.link_shared(str(obj), str(so))
    return so


@pytest.mark.jit
@pytest.mark.parametrize("ct", ["subroutine", "all"])
def test_map_work_stops_at_the_same_point_in_the_jit(ct, tmp_path):
    """Every budget from 1 to the whole run's stops the interpreter and
    the JIT at the same point with the same output (NEWMAP charges its
    allocation itself, the natives their probes and copies)."""
    image = image_file(tmp_path, MIX)
    so = jit_so(image, tmp_path, ct)
    need = used(image)
    budgets = sorted({*range(1, 40), *range(need // 2, need // 2 + 60),
                      *range(need - 60, need + 2)})
    for budget in budgets:
        args = ["--budget", str(budget)]
        want = run(KVM, image, *args)
        got = run(KVM, image, *args, "--jit", str(so))
        assert (got.returncode, got.stdout, got.stderr) == \
            (want.returncode, want.stdout, want.stderr), f"budget {budget}"


def test_map_memory_counts_against_the_quota(tmp_path):
    """Entries and index are charged: the heap peak grows with the map,
    and a quota too small for it aborts with out of memory."""
    image = image_file(tmp_path, BUILD)
    r = run(KVM, image, "--stats")
    peak = int(re.search(r"heap peak (\d+)", r.stderr).group(1))
    # 2^17 entries of 24 bytes and 2^18 index slots of 4, and the old
    # index of 2^17 slots while the new one is built
    cap = 1 << 17
    assert cap * 24 + 2 * cap * 4 <= peak <= cap * 24 + 3 * cap * 4 + 65536
    r = run(KVM, image, "--heap", str(peak // 2))
    assert r.returncode == 2
    assert r.stderr.startswith("abort: out of memory")


@pytest.fixture(scope="module")
def stress_vm(tmp_path_factory):
    """build/kvm compiled with -DKVM_GC_STRESS (a collection before every
    allocation) under ASan and UBSan: a key or value left unrooted, or
    not traced, is freed and then read."""
    exe = stress_vm_tool.build(tmp_path_factory.mktemp("stress") /
                               "kvm-gc-stress")
    if exe is None:
        pytest.skip("no C compiler")
    return exe


STRESS_CASES = ["any_keys", "string_keys_contents", "nested_maps",
                "string_conversion_cycle", "get_missing_tostring",
                "object_keys_identity", "remove_while_listing",
                "map_in_classes", "null_values"]


@pytest.mark.parametrize("name", STRESS_CASES)
def test_maps_survive_a_collection_at_every_allocation(name, stress_vm,
                                                       tmp_path):
    src = (MAPS / f"{name}.k").read_text()
    image = image_file(tmp_path, src, name)
    r = run(stress_vm, image)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (MAPS / f"{name}.out").read_text()


# ---- the loader's rules for map types -------------------------------------

SIMPLE = """\
Map<String, int> m = new Map<String, int>();
m.put("a", 1);
print(m.keys());
"""


def refused(tmp_path, img: im.Image, expected: str):
    path = tmp_path / "bad.kbc"
    path.write_bytes(im.write(img, strict=False))
    r = run(KVM, path)
    assert r.returncode == 3, r.stderr
    assert expected in r.stderr


def simple_image():
    return im.read_image(compile_source(SIMPLE, "p.k"))


def map_type(img):
    return next(i for i, t in enumerate(img.types) if t[0] == im.TY_MAP)


def test_newmap_needs_a_map_type(tmp_path):
    img = simple_image()
    mt = map_type(img)
    arr = next(i for i, t in enumerate(img.types) if t[0] == im.TY_ARRAY)
    init = img.functions[img.init]
    newmap = opcode("NEWMAP").number
    at = init.code.index(newmap)
    assert init.code[at + 2] == mt
    init.code[at + 2] = arr
    refused(tmp_path, img, "is not a map type")


def test_a_map_of_void_is_refused(tmp_path):
    img = simple_image()
    mt = map_type(img)
    void = img.types.index((im.TY_VOID,))
    img.types[mt] = (im.TY_MAP, img.types[mt][1], void)
    refused(tmp_path, img, "map of void")


def test_a_map_type_needs_its_array_types(tmp_path):
    """Array<V> of Map<String, int> made into another (unique) type."""
    img = simple_image()
    value = img.types[map_type(img)][2]
    at = img.types.index((im.TY_ARRAY, value))
    img.types[at] = (im.TY_FUNC, value, (value, value, value))
    refused(tmp_path, img, "lacks the array types")


def test_map_images_load_and_run(tmp_path):
    path = tmp_path / "ok.kbc"
    path.write_bytes(im.write(simple_image()))
    r = run(KVM, path)
    assert (r.returncode, r.stdout) == (0, "[a]\n")
