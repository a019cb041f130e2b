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
    # CALLV's operands are A s r: the receiver is the last one, not the slot.
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
