"""The disassembler names the field or vtable slot an instruction uses,
through the class of the register that holds the object (frontend/disasm.py),
and natives by their builtins.def names."""

from frontend import image as im
from frontend.compiler import compile_source
from frontend.disasm import disassemble_function

SRC = """
class Animal {
    int legs;
    String speak() { return "..."; }
    String describe() { return "I say " + speak(); }
}
class Bird extends Animal {
    String speak() { legs = 2; return "tweet"; }
}
String f(Animal a) { return a.describe(); }
int g(String s) { print(s); return s.length(); }
"""


def listing(name: str) -> str:
    img = im.read_image(compile_source(SRC, "t.k"))
    return disassemble_function(img, name)


def test_virtual_call_names_the_receivers_slot():
    # CALLV's operands are A s r r q: the receiver is the first r, not the
    # slot nor the arguments' block.
    lines = [ln for ln in listing("f").splitlines() if "CALLV" in ln]
    assert lines and all(ln.endswith("; Animal.describe") for ln in lines)
    lines = [ln for ln in listing("Animal.describe").splitlines()
             if "CALLV" in ln]
    assert lines and all(ln.endswith("; Animal.speak") for ln in lines)


def test_field_store_names_the_field():
    lines = [ln for ln in listing("Bird.speak").splitlines() if "SETF" in ln]
    assert lines and all(ln.endswith("; Bird.legs") for ln in lines)


def test_natives_are_named_from_builtins_def():
    calls = [ln.split(None, 3)[3] for ln in listing("g").splitlines()
             if "CALLN" in ln]
    assert calls[0] == "- print r0"
    assert calls[1] == "r2 String.length r1"


def test_hostile_cycles_are_listed_not_recursed():
    # read_image accepts what only the verifier refuses: a superclass
    # cycle, a type naming itself, and a long chain of nested arrays.
    # The listing must still come out, without RecursionError.
    import dataclasses

    from frontend.disasm import TYPE_NAME_MAX, disassemble
    img = im.read_image(compile_source(SRC, "t.k"))
    a, b = img.classes[0], img.classes[1]
    a_id, b_id = im.FIRST_SCRIPT_CLASS, im.FIRST_SCRIPT_CLASS + 1
    img.classes[0] = dataclasses.replace(a, super_id=b_id)
    img.classes[1] = dataclasses.replace(b, super_id=a_id)
    n = len(img.types)
    img.types.append((im.TY_ARRAY, n))            # names itself
    for i in range(20000):                         # T[][]...[] 20000 deep
        img.types.append((im.TY_ARRAY, n + i if i else 0))
    text = disassemble(img)
    assert "== " in text and "Bird.speak" in text
    assert "; Bird.legs" in text or "; Animal.legs" in text
    from frontend.disasm import Disassembler
    d = Disassembler(img)
    assert d.type_name(n) == f"<type {n}>[]"
    deep = d.type_name(len(img.types) - 1)
    assert deep.endswith("[][][]...") and len(deep) == TYPE_NAME_MAX + 3
