"""The bytecode emitter: shape of the code for small functions, and every
emitted image accepted by the VM's verifier."""

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ktc import host  # noqa: E402
from frontend import image as im  # noqa: E402
from frontend.disasm import disassemble, disassemble_function  # noqa: E402
from frontend.opcodes import BY_NUMBER, TERMINATORS  # noqa: E402

compiler = pytest.importorskip("frontend.compiler")


def compile_img(src, name="t.k"):
    return im.read_image(compiler.compile_source(src, name))


def func(img, name):
    for f in img.functions:
        if img.string(f.name) == name:
            return f
    raise KeyError(name)


def instructions(img, name):
    """[(opname, operands...)] of function `name`."""
    f = func(img, name)
    out, pc = [], 0
    while pc < len(f.code):
        op = BY_NUMBER[f.code[pc]]
        out.append((op.name, *f.code[pc + 1:pc + op.size]))
        pc += op.size
    return out


def ops(img, name):
    return [i[0] for i in instructions(img, name)]


FIB = """\
int fib(int n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}
print(fib(20));
"""


def test_fib_is_compact():
    img = compile_img(FIB)
    assert ops(img, "fib") == ["JGEI", "RET", "ADDI", "CALL", "ADDI", "CALL",
                               "ADD", "RET"]
    f = func(img, "fib")
    assert len(f.regs) == 3
    text = disassemble_function(img, "fib")
    assert "JGEI     r0 2 -> 0006" in text
    assert "CALL     r1 fib r1" in text


def test_init_and_meta():
    img = compile_img(FIB, "dir/fib.k")
    assert img.string(img.source) == "dir/fib.k"
    init = img.functions[img.init]
    assert img.string(init.name) == "<init>"
    assert init.flags == im.FLAG_INIT
    assert ops(img, "<init>")[-1] == "RETV"
    assert ("CALLN", -1, 50) == instructions(img, "<init>")[-2][:3]


def test_line_table_follows_source():
    img = compile_img(FIB)
    f = func(img, "fib")
    assert f.lines[0] == (0, 2)
    assert (6, 3) in f.lines
    pcs = [pc for pc, _ in f.lines]
    assert pcs == sorted(pcs)


PROGRAMS = {
    "classes": """\
class Animal {
    String name;
    int legs = 4;
    Animal(String name) { this.name = name; }
    String speak() { return "..."; }
    String describe() { return name + " says " + speak(); }
}
class Bird extends Animal {
    int wings = 2;
    Bird(String name) { super(name); legs = 2; }
    String speak() { return "tweet"; }
}
class E extends Exception {}
Animal a = new Bird("b");
print(a.describe());
Func<String()> s = a.speak;
print(s());
try { throw new E("x"); } catch (E e) { print(e.getMessage()); }
""",
    "finally": """\
int f(int n) {
    int i = 0;
    while (i < n) {
        try {
            if (i == 3) return i;
            if (i == 1) { i++; continue; }
            if (i == 5) break;
        } finally {
            print("f" + i);
        }
        i++;
    }
    try { return 100 / (n - n); }
    catch (ArithmeticException e) { return -1; }
    finally { print("done"); }
}
print(f(10));
""",
    "any": """\
Any x = 3;
Any y = "s";
print(x == 3);
print(y.length());
print(y.length());
int[] a = [1, 2, 3];
for (int v : a) print(v);
Any[] b = [1, true, "s", null];
print(b);
print((int) x + 1);
print(x instanceof int);
""",
    "compound": """\
int[] a = [1, 2, 3];
int i = 0;
a[i++] += 10;
String s = "a";
s += 1;
s += true;
boolean z = true;
z &= false;
int g = 5;
g <<= 2;
print(a + " " + s + " " + z + " " + g + " " + i);
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_function_ends_with_a_terminator(name):
    img = compile_img(PROGRAMS[name])
    for f in img.functions:
        names = ops(img, img.string(f.name))
        assert names and names[-1] in TERMINATORS, img.string(f.name)
        for h in f.handlers:
            assert h.start <= h.end <= len(f.code)


def test_constructor_runs_super_then_initialisers_then_body():
    img = compile_img(PROGRAMS["classes"])
    ctor = instructions(img, "Bird.<init>")
    names = [i[0] for i in ctor]
    # super(name) first, then `wings = 2`, then `legs = 2`
    call = names.index("CALL")
    setfs = [i for i, n in enumerate(names) if n == "SETF"]
    assert call < setfs[0] < setfs[1]
    assert img.string(img.functions[ctor[call][2]].name) == "Animal.<init>"
    assert func(img, "Bird.<init>").flags == im.FLAG_CTOR
    # the implicit constructor of E passes its message to Exception's
    e_ctor = instructions(img, "E.<init>")
    assert ("CALLN", -1, 2) == e_ctor[-2][:3]


def test_bound_method_and_virtual_calls():
    img = compile_img(PROGRAMS["classes"])
    names = ops(img, "<init>")
    assert "BINDM" in names and "CALLF" in names and "CALLV" in names
    assert "THROW" in names
    assert func(img, "<init>").handlers


def test_finally_copies_and_catch_all():
    img = compile_img(PROGRAMS["finally"])
    f = func(img, "f")
    assert any(h.class_id is None for h in f.handlers)
    assert any(h.class_id == 3 for h in f.handlers)
    text = disassemble_function(img, "f")
    # the finally body (a CONCAT + print) is copied on several exits
    assert text.count("print") >= 5
    # typed handlers come before the catch-all of the same try
    kinds = [h.class_id for h in f.handlers]
    assert kinds.index(3) < max(i for i, k in enumerate(kinds) if k is None)


def test_any_boxing_and_inline_caches():
    img = compile_img(PROGRAMS["any"])
    names = ops(img, "<init>")
    assert "BOXI" in names and "BOXZ" in names and "EQANY" in names
    assert "UNBOXI" in names and "INSTOF" in names
    callas = [i for i in instructions(img, "<init>") if i[0] == "CALLA"]
    assert [c[-1] for c in callas] == [0, 1]
    assert func(img, "<init>").nics == 2


def test_compound_assignments():
    img = compile_img(PROGRAMS["compound"])
    names = ops(img, "<init>")
    assert "AGET" in names and "ASET" in names
    assert "BAND" in names and "SHL" in names
    assert "ZTOS" in names and "ITOS" in names


def test_disassembly_names_everything():
    text = disassemble(compile_img(PROGRAMS["classes"]))
    assert "class 32 Animal extends Object" in text
    assert "Bird.speak" in text
    assert "Func<String()>" in text


def vm_or_skip():
    try:
        return host.find_vm(announce=lambda m: None)
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")


@pytest.mark.parametrize("name", sorted(PROGRAMS) + ["fib"])
def test_images_pass_the_verifier(name, tmp_path):
    vm = vm_or_skip()
    src = FIB if name == "fib" else PROGRAMS[name]
    p = tmp_path / "prog.kbc"
    p.write_bytes(compiler.compile_source(src, "prog.k"))
    r = subprocess.run([vm, str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 3, r.stderr


def test_programs_run(tmp_path):
    vm = vm_or_skip()
    expect = {
        "classes": "b says tweet\ntweet\nx\n",
        "finally": "f0\nf2\nf2\nf3\n3\n",
        "any": "true\n1\n1\n1\n2\n3\n[1, true, s, null]\n4\ntrue\n",
        "compound": "[11, 2, 3] a1true false 20 1\n",
    }
    for name, out in expect.items():
        p = tmp_path / f"{name}.kbc"
        p.write_bytes(compiler.compile_source(PROGRAMS[name], f"{name}.k"))
        r = subprocess.run([vm, str(p)], capture_output=True, text=True,
                           timeout=60)
        assert (r.returncode, r.stdout) == (0, out), (name, r.stderr)


# ------------------------------------------------ static types of registers

UPCASTS = """\
class Box { Any v; }
class Shape { String name() { return "shape"; } }
class Square extends Shape { String name() { return "square"; } }
Any g;
Any id(Any x) { return x; }
void f(String s, Box b, Any[] arr, Square sq) {
    Any a;
    print(((Any) s).length());
    print((a = s).length());
    print((g = s).length());
    print((b.v = s).length());
    print((arr[0] = s).length());
    print(id(b.v = s).length());
    print((int) (Any) s);
    print((boolean) (b.v = s));
    Any y = (arr[1] = s);
    print(((Shape) sq).name());
}
"""


def any_registers(img, name):
    """Indexes of the registers of function `name` typed Any."""
    any_t = img.types.index((im.TY_ANY,))
    return {i for i, t in enumerate(func(img, name).regs) if t == any_t}


def test_upcast_values_are_in_registers_of_their_static_type():
    # CALLA wants its receiver typed Any, UNBOXI/UNBOXZ their operand: a
    # value upcast to Any (cast or assignment used as a value) must be
    # moved out of its String register first
    img = compile_img(UPCASTS)
    anys = any_registers(img, "f")
    code = instructions(img, "f")
    callas = [i for i in code if i[0] == "CALLA"]
    assert len(callas) == 6
    assert all(c[2] in anys for c in callas)
    unbox = [i for i in code if i[0] in ("UNBOXI", "UNBOXZ")]
    assert len(unbox) == 2 and all(u[2] in anys for u in unbox)


def test_upcasts_pass_the_verifier(tmp_path):
    vm = vm_or_skip()
    p = tmp_path / "up.kbc"
    p.write_bytes(compiler.compile_source(UPCASTS, "up.k"))
    r = subprocess.run([vm, str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


CONCAT_ORDER = """\
class L { String toString() { return "l"; } }
String r() { return "r"; }
L l() { return new L(); }
String f() { return l() + r(); }
"""


def test_concat_converts_after_evaluating_both_operands():
    # The language reference §6: left, right, then the operation (toString
    # of the left operand included)
    img = compile_img(CONCAT_ORDER)
    names = ops(img, "f")
    assert names == ["CALL", "CALL", "RTOS", "CONCAT", "RET"]
