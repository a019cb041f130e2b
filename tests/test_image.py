"""The image writer and reader: round trips, framing, the digest."""

import hashlib
import struct

import pytest

from frontend import image as im
from frontend.disasm import disassemble, disassemble_function
from frontend.opcodes import BY_NAME, OPCODES, encode


def build_fib_image() -> im.ImageBuilder:
    b = im.ImageBuilder("fib.k")
    t_int = b.t_int()
    t_str = b.t_class(1)
    fib_t = b.t_func(t_int, [t_int])
    init_t = b.t_func(b.t_void(), [])
    fib = b.reserve_function("fib", None, fib_t, 0)
    init = b.reserve_function("<init>", None, init_t, im.FLAG_INIT)
    f = b.function(fib)
    f.regs = [t_int, t_int, t_int]
    f.code = (encode("JGEI", 0, 2, 6) + encode("RET", 0)
              + encode("ADDI", 1, 0, -1) + encode("CALL", 1, fib, 1)
              + encode("ADDI", 2, 0, -2) + encode("CALL", 2, fib, 2)
              + encode("ADD", 1, 1, 2) + encode("RET", 1))
    f.lines = [(0, 2), (6, 3)]
    g = b.function(init)
    g.regs = [t_int, t_str]
    g.code = (encode("LOADK", 0, b.const_int(-(2**63)))
              + encode("LOADI", 0, 10) + encode("CALL", 0, fib, 0)
              + encode("ITOS", 1, 0) + encode("CALLN", -1, 50, 1)
              + encode("RETV"))
    g.lines = [(0, 5)]
    b.add_global("limit", t_int)
    b.set_init(init)
    return b


def test_opcodes_follow_the_def_file():
    assert OPCODES[0].name == "NOP" and OPCODES[0].number == 0
    assert BY_NAME["CALLA"].operands == "AreNrq"
    assert [op.number for op in OPCODES] == list(range(len(OPCODES)))
    with pytest.raises(ValueError):
        encode("ADD", 1, 2)


def test_header_and_digest():
    data = build_fib_image().build()
    assert data[:4] == b"KBC\0"
    major, minor, size, reserved = struct.unpack_from("<HHII", data, 4)
    assert (major, minor, size, reserved) == (1, 0, len(data), 0)
    assert data[16:48] == hashlib.sha256(data[48:]).digest()


def test_round_trip():
    b = build_fib_image()
    data = b.build()
    img = im.read_image(data)
    assert img == b.image
    assert img.digest == data[16:48]
    assert im.write(img) == data
    assert img.constants[0] == (im.K_INT, -(2**63))


def test_pools_are_deduplicated():
    b = im.ImageBuilder("x.k")
    assert b.string("a") == b.string(b"a")
    assert b.const_int(5) == b.const_int(5)
    assert b.const_int(-1) == b.const_int(2**64 - 1)
    assert b.const_str("s") == b.const_str("s") != b.const_int(5)
    t = b.t_array(b.t_int())
    assert b.t_array(b.t_int()) == t
    assert b.t_func(t, [t, b.t_int()]) == b.t_func(t, (t, b.t_int()))
    assert b.t_func(t, [t]) != b.t_func(t, [])


def test_classes_and_handlers_round_trip():
    b = build_fib_image()
    t_any = b.t_any()
    ctor_t = b.t_func(b.t_void(), [])
    ctor = b.reserve_function("P.<init>", 32, ctor_t,
                              im.FLAG_CTOR)
    c = b.function(ctor)
    c.regs = [b.t_class(32), b.t_class(2)]
    c.code = encode("RETV")
    c.handlers = [im.Handler(0, 1, 0, None, 1), im.Handler(0, 1, 0, 3, 1)]
    c.nics = 2
    b.set_class(32, "P", 0, [("x", t_any)], ctor, [im.NATIVE_REF | 1])
    data = b.build()
    img = im.read_image(data)
    assert img == b.image
    assert img.functions[ctor].handlers[0].class_id is None
    text = disassemble(img)
    assert "class 32 P extends Object" in text
    assert "catch * in r1" in text


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"XXXX" + d[4:], "magic"),
    (lambda d: d[:-1], "bytes"),
    (lambda d: d[:60] + bytes([d[60] ^ 1]) + d[61:], "digest"),
])
def test_reader_rejects_damage(mutate, message):
    data = build_fib_image().build()
    with pytest.raises(im.ImageError, match=message):
        im.read_image(mutate(data))


def test_disassembly_of_fib():
    img = im.read_image(build_fib_image().build())
    text = disassemble_function(img, "fib")
    lines = text.splitlines()
    assert lines[0] == "== 0: fib int(int) =="
    assert lines[2].split() == ["0000", "2", "JGEI", "r0", "2", "->", "0006"]
    assert lines[3].split() == ["0004", "|", "RET", "r0"]
    assert lines[5].split() == ["0010", "|", "CALL", "r1", "fib", "r1"]
    init = disassemble_function(img, "<init>")
    assert "k0(-9223372036854775808)" in init
    assert "CALLN    - print r1" in init
