"""The image verifier (lkm/core/loader.c): every rule, one refused image each.

Each case assembles a program with tests/tools/kasm.py that breaks exactly
one rule (in the text, or by editing the assembled Module) and checks
that the VM refuses it with exit status 3 and the expected one-line
message.  The VM is build/kvm when it exists; otherwise (and always when
K_VERIFIER_DRIVER=1) a small driver compiled here from the loader sources
answers the same way, so the verifier is tested on its own.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.tools import kasm

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "lkm" / "core"

DRIVER_C = r"""
#include "kimage.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	static uint8_t buf[(16 << 20) + 64];
	struct kimage *img;
	char err[512];
	FILE *f;
	size_t n;
	uint8_t *d;
	int r;

	if (argc != 2 || !(f = fopen(argv[1], "rb")))
		return 64;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	d = malloc(n ? n : 1);
	memcpy(d, buf, n);
	r = kimg_load(d, n, &img, err, sizeof(err));
	free(d);
	if (r) {
		fprintf(stderr, "error: invalid image: %s\n", err);
		return kp_live_allocs() ? 70 : 3;
	}
	kimg_free(img);
	return kp_live_allocs() ? 70 : 0;
}
"""


# The loader: reading, linking, verifying (lkm/core/loader.h).
LOADER_SOURCES = ("loader.c", "read.c", "link.c", "verify.c", "builtins.c")


def build_driver(outdir: Path) -> Path:
    """Loader + sha256 + kport_user + DRIVER_C, with ASan and UBSan."""
    src = outdir / "kimg_check.c"
    src.write_text(DRIVER_C)
    exe = outdir / "kimg_check"
    cc = shutil.which("gcc") or shutil.which("clang")
    subprocess.run(
        [cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         f"-I{CORE}", f"-I{ROOT / 'lkm' / 'user'}",
         *(str(CORE / f) for f in LOADER_SOURCES), str(CORE / "sha256.c"),
         str(ROOT / "lkm" / "user" / "kport_user.c"), str(src), "-o",
         str(exe)], check=True)
    return exe


@pytest.fixture(scope="session")
def checker(tmp_path_factory):
    kvm = ROOT / "build" / "kvm"
    if kvm.is_file() and os.environ.get("K_VERIFIER_DRIVER") != "1":
        return [str(kvm)]
    return [str(build_driver(tmp_path_factory.mktemp("kimg")))]


def run_image(checker, data: bytes):
    with tempfile.NamedTemporaryFile(suffix=".kbc", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        proc = subprocess.run(checker + [path], capture_output=True,
                              text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    finally:
        os.unlink(path)
    return proc.returncode, proc.stdout + proc.stderr


def refused(checker, data: bytes, expected: str):
    rc, out = run_image(checker, data)
    assert rc == 3, f"exit {rc}, expected 3 (refused): {out}"
    line = [ln for ln in out.splitlines() if "invalid image" in ln]
    assert line, out
    assert expected in line[0], f"{expected!r} not in {line[0]!r}"
    assert "runtime error" not in out and "AddressSanitizer" not in out


def accepted(checker, data: bytes):
    rc, out = run_image(checker, data)
    assert rc in (0, 2), f"exit {rc}: {out}"
    assert "invalid image" not in out


# ---- the program every case starts from -------------------------------------

REGS = ("int a; int b; String s; boolean z; Any y; P p; E e; int[] ia; "
        "String[] sa; Func<int(int)> fi; String s2; Any y2; Exception ex; "
        "Object o; Q q")
# a=r0 b=r1 s=r2 z=r3 y=r4 p=r5 e=r6 ia=r7 sa=r8 fi=r9 s2=r10 y2=r11
# ex=r12 o=r13 q=r14

BASE = """
.source "t.k"
.global int gi
.global String gs
.class P
  .field int x
  .field String name
  .method get P.get
  .method put P.put
.end
.class Q extends P
  .method get Q.get
.end
.class E extends Exception
.end
.ctor P()
  CALLN _, Object_init, this
  RETV
.end
.method int P.get()
  .reg int r
  GETF r, this, P.x
  RET r
.end
.method void P.put(int v)
  SETF this, P.x, v
  RETV
.end
.ctor Q()
  CALL _, P.<init>, this
  RETV
.end
.method int Q.get()
  .reg int r
  LOADI r, 7
  RET r
.end
.ctor E(String m)
  CALLN _, Exception_init, this
  RETV
.end
.function int id(int v)
  RET v
.end
{extra}
.function {sig}
{regs}
{body}
.end
.init
  .line 1
  RETV
.end
"""


def program(body: str, sig: str = "void t()", extra: str = "",
            regs: str = REGS, retv: bool = True) -> str:
    reglines = "\n".join(f"  .reg {r.strip()}" for r in regs.split(";")
                         if r.strip())
    if retv:
        body = body + "\nRETV"
    body = "\n".join("  " + ln.strip() for ln in body.strip().splitlines())
    return BASE.format(extra=extra, sig=sig, regs=reglines, body=body)


def image(body: str, **kw) -> bytes:
    return kasm.assemble(program(body, **kw))


def module(body: str = "", **kw) -> kasm.Module:
    return kasm.parse(program(body, **kw))


def func(m: kasm.Module, name: str) -> kasm.Function:
    idx = m.strings.index(name.encode())
    return next(f for f in m.functions if f.name == idx)


def klass(m: kasm.Module, name: str) -> kasm.Klass:
    idx = m.strings.index(name.encode())
    return next(c for c in m.classes if c.name == idx)


# ---- valid programs load ------------------------------------------------------

VALID_CASES = {
    "empty": ("", REGS),
    "arith": ("LOADI a, 5\nADDI b, a, 3\nMUL a, a, b\nDIV a, a, b\n"
              "SHL a, a, b\nBAND a, a, b\nNEG a, a\nLT z, a, b", REGS),
    "bools": ("LOADI z, 1\nNOT z, z\nBAND z, z, z\nEQ z, a, b\nJT z, l\n"
              "JEQ z, z, l\nl:", REGS),
    "strings": ('LOADK s, "x"\nITOS s2, a\nCONCAT s, s, s2\n'
                "EQSTR z, s, s2\nZTOS s, z\nRTOS s, p\nRTOS s, y", REGS),
    "boxing": ("BOXI y, a\nUNBOXI a, y\nBOXZ y2, z\nEQANY z, y, y2\n"
               "MOV y, s\nMOV y, p\nEQREF z, p, s", REGS),
    "objects": ("NEW p, P\nCALL _, P.<init>, p\nCALLV a, P.get, p, e, 0\n"
                "GETF s, p, P.name\nSETF p, P.x, a\nMOV o, p\n"
                "CAST p, o, P\nINSTOF z, o, Q\nINSTOF z, y, int\n"
                "NEW e, E\nLOADNULL s\nMOV ex, e", REGS),
    "subclass_receiver": ("NEW q, Q\nCALL _, Q.<init>, q\n"
                          "CALLV a, P.get, q, 15, 0\nCALL a, P.get, q\nMOV p, q\n"
                          "CALLV s, Object.toString, q, 15, 1", REGS),
    "arrays": ("NEWARR ia, int[], a\nAGET b, ia, a\nASET ia, a, b\n"
               "NEWARRV sa, String[], s, 2\nCALLN a, Array.size, ia\n"
               "CALLN _, Array.add, sa\nCALLN s, Array.pop, sa\n"
               "CALLN _, Array.insert, ia\nCALLN s, Array.join, sa\n"
               "MOV y, ia",
               "int[] ia; int a; int b; String[] sa; String s; String s2; "
               "Any y"),
    "funcs": ("LOADFN fi, id\nCALLF a, fi, a\nBINDM fg, p, P.get\n"
              "CALLF a, fg, a\nLOADNULL fi\nJNULL fi, l\nl:\n"
              "BINDM fs, p, Object.toString",
              "Func<int(int)> fi; int a; Func<int()> fg; P p; "
              "Func<String()> fs"),
    "dynamic": ('CALLA y, y, "get", 0, y2, 0\nCALLA _, y, "put", 2, y, 1',
                "Any y; Any y2; Any y3"),
    "natives": ("CALLN a, String.length, s\nCALLN a, Math.max, a\n"
                "CALLN _, print, s\nCALLN s, System.comm, s\n"
                "CALLN sa, String.split, s\nCALLN z, String.contains, s\n"
                "CALLN s, String.fromChar, a",
                "int a; int b; String s; String s2; String[] sa; boolean z"),
    "empty_arg_block_at_nregs": ("CALLN a, System.pid, 2\nCALL _, t, 2",
                                 "int a; int b"),
    "globals": ("GETG a, gi\nSETG gi, a\nGETG s, gs\nGETG y, gs", REGS),
    "device": ("NEW d, Dev\nCALL _, Dev.<init>, d\nLOADK s, \"x\"\n"
               "CALLN _, Device.register, s\nCALLV _, Device.open, d, s, 0\n"
               "CALLN _, Device.open, d\nGETF a, d, Device.mode",
               "Dev d; String s; Dev d2; int a"),
    "exceptions": ("NEW ex, Exception\nCALLN s, Exception.getMessage, ex\n"
                   "CALLV s, Exception.getMessage, de, a, 0\n"
                   "CALLN a, DeviceError.errno, de\n"
                   "CALLV a, DeviceError.errno, de, a, 1",
                   "Exception ex; String s; DeviceError de; int a"),
}

DEVICE_CLASS = """
.class Dev extends Device
  .method open Dev.open
.end
.ctor Dev()
  CALLN _, Device_init, this
  RETV
.end
.method void Dev.open()
  RETV
.end
"""


@pytest.mark.parametrize("name", sorted(VALID_CASES))
def test_valid_program_loads(checker, name):
    body, regs = VALID_CASES[name]
    m = module(body, regs=regs, extra=DEVICE_CLASS)
    if name == "dynamic":
        func(m, "t").nics = 2
    accepted(checker, m.to_bytes())


def test_valid_throw(checker):
    accepted(checker, image("NEW e, E\nLOADK s2, \"m\"\nTHROW e",
                            retv=False, regs="E e; String s2"))


def test_examples_load(checker):
    for src in sorted((ROOT / "tests" / "tools" / "examples").glob("*.kasm")):
        accepted(checker, kasm.assemble(src.read_text()))


def test_handlers_accepted(checker):
    body = ("try:\nNEW e, E\nLOADK s2, \"m\"\nTHROW e\nend:\ncatch:\nRETV\n"
            ".handler try end catch E e\n.handler try end catch * ex\n"
            ".handler try end catch Exception y")
    accepted(checker, image(body, regs="E e; String s2; Exception ex; Any y",
                            retv=False))


# ---- header and sections -----------------------------------------------------

def good() -> bytes:
    return image("")


def patch(data: bytes, off: int, new: bytes, fix: bool = True) -> bytes:
    out = data[:off] + new + data[off + len(new):]
    return kasm.fix_digest(out) if fix else out


def test_empty_input(checker):
    refused(checker, b"", "truncated image: need 48 bytes at offset 0, 0 left")


def test_short_header(checker):
    refused(checker, good()[:47], "truncated image: need 48 bytes")


def test_bad_magic(checker):
    refused(checker, patch(good(), 0, b"KBX\0"), "bad magic")


def test_bad_version(checker):
    refused(checker, patch(good(), 4, struct.pack("<H", 2)),
            "unsupported image version 2.0")


def test_bad_minor_version(checker):
    refused(checker, patch(good(), 6, struct.pack("<H", 1)),
            "unsupported image version 1.1")


def test_size_field_mismatch(checker):
    data = good()
    refused(checker, patch(data, 8, struct.pack("<I", len(data) + 1),
                           fix=False), "image size field")


def test_reserved_field(checker):
    refused(checker, patch(good(), 12, b"\1"), "reserved header field not 0")


def test_bad_digest(checker):
    data = bytearray(good())
    data[20] ^= 1
    refused(checker, bytes(data), "bad digest")


def test_body_change_breaks_digest(checker):
    data = bytearray(good())
    data[-1] ^= 0x40
    refused(checker, bytes(data), "bad digest")


def sections_image(secs) -> bytes:
    body = b"".join(struct.pack("<II", t, len(p)) + p for t, p in secs)
    return kasm.header(body)


def test_section_wrong_tag(checker):
    secs = module().sections()
    secs[0] = (9, secs[0][1])
    refused(checker, sections_image(secs),
            "section 1: expected tag 1 (strings), found 9")


def test_section_out_of_order(checker):
    secs = module().sections()
    secs[1], secs[2] = secs[2], secs[1]
    refused(checker, sections_image(secs), "section 2: expected tag 2")


def test_section_missing(checker):
    secs = module().sections()[:-1]
    refused(checker, sections_image(secs), "truncated image: need 4 bytes")


def test_section_longer_than_image(checker):
    secs = module().sections()
    body = b"".join(struct.pack("<II", t, len(p)) + p for t, p in secs[:-1])
    body += struct.pack("<II", 7, 100) + secs[-1][1]
    refused(checker, kasm.header(body), "truncated image: need 100 bytes")


def test_section_left_over(checker):
    secs = module().sections()
    secs[0] = (1, secs[0][1] + b"\0\0\0\0")
    refused(checker, sections_image(secs),
            "strings section: 4 bytes left over")


def test_bytes_after_last_section(checker):
    data = kasm.fix_digest(good() + b"\0")
    refused(checker, data, "1 bytes after the last section")


def test_payload_truncated(checker):
    secs = module().sections()
    secs[0] = (1, secs[0][1][:-1])
    refused(checker, sections_image(secs), "truncated strings")


# ---- strings, constants, types ---------------------------------------------

def test_too_many_strings(checker):
    secs = module().sections()
    secs[0] = (1, struct.pack("<I", 70000) + secs[0][1][4:])
    refused(checker, sections_image(secs),
            "too many strings: 70000 (limit 65535)")


def test_string_count_beyond_bytes(checker):
    secs = module().sections()
    secs[0] = (1, struct.pack("<I", 60000) + secs[0][1][4:])
    refused(checker, sections_image(secs), "truncated strings: 60000 strings")


def test_string_too_long(checker):
    m = module()
    m.strings.append(b"x" * ((1 << 20) + 1))
    refused(checker, m.to_bytes(), "too long: 1048577 bytes (limit 1048576)")


def test_image_too_large(checker):
    m = module()
    for _ in range(17):
        m.strings.append(bytes([len(m.strings) & 0xFF]) * (1 << 20))
    rc, out = run_image(checker, m.to_bytes())
    assert rc == 3 and "image too large" in out, out


def test_constant_bad_kind(checker):
    m = module('LOADK s, "x"')
    m.consts[0] = (3, 0)
    refused(checker, m.to_bytes(), "constant 0: bad kind 3")


def test_constant_bad_string(checker):
    m = module('LOADK s, "x"')
    m.consts[0] = (2, 9999)
    refused(checker, m.to_bytes(),
            "constant 0: string 9999 out of range")


def test_type_bad_kind(checker):
    m = module()
    m.types.append((10,))      # (1.1) 8 is Map<K, V>, 9 an interface
    refused(checker, m.to_bytes(), "bad kind 10")


def test_type_forward_reference(checker):
    m = module()
    n = len(m.types)
    m.types.append((kasm.TY_ARRAY, n + 1))
    refused(checker, m.to_bytes(),
            f"type {n}: element type {n + 1} is not an earlier type")


def test_type_self_reference(checker):
    m = module()
    n = len(m.types)
    m.types.append((kasm.TY_FUNC, n, ()))
    refused(checker, m.to_bytes(), "is not an earlier type")


def test_type_duplicate(checker):
    m = module()
    m.types.append(m.types[0])
    refused(checker, m.to_bytes(), f"duplicate of type 0")


def test_type_array_of_void(checker):
    m = module()
    v = m.type((kasm.TY_VOID,))
    m.types.append((kasm.TY_ARRAY, v))
    refused(checker, m.to_bytes(), "array of void")


def test_type_void_parameter(checker):
    m = module()
    v = m.type((kasm.TY_VOID,))
    m.types.append((kasm.TY_FUNC, v, (v,)))
    refused(checker, m.to_bytes(), "parameter 0 is void")


def test_type_missing_class(checker):
    m = module()
    m.types.append((kasm.TY_CLASS, 99))
    refused(checker, m.to_bytes(), "class 99 does not exist")


def test_type_class_in_gap(checker):
    m = module()
    m.types.append((kasm.TY_CLASS, 30))
    refused(checker, m.to_bytes(), "class 30 does not exist")


# ---- classes --------------------------------------------------------------

def test_class_extends_string(checker):
    m = module()
    klass(m, "E").super = 1
    refused(checker, m.to_bytes(), "class E: cannot extend class 1")


def test_class_extends_stream(checker):
    m = module()
    klass(m, "E").super = 11
    refused(checker, m.to_bytes(), "class E: cannot extend class 11")


def test_class_extends_later_class(checker):
    m = module()
    klass(m, "P").super = 33
    refused(checker, m.to_bytes(), "class P: cannot extend class 33")


def test_class_extends_itself(checker):
    m = module()
    klass(m, "Q").super = 33
    refused(checker, m.to_bytes(), "class Q: cannot extend class 33")


def test_class_bad_name(checker):
    m = module()
    klass(m, "E").name = 5000
    refused(checker, m.to_bytes(), "class name: string 5000 out of range")


def test_class_field_bad_type(checker):
    m = module()
    c = klass(m, "P")
    c.fields[0] = (c.fields[0][0], 4000)
    refused(checker, m.to_bytes(), "class P: field x has bad type 4000")


def test_class_field_void(checker):
    m = module()
    c = klass(m, "P")
    c.fields[0] = (c.fields[0][0], m.type((kasm.TY_VOID,)))
    refused(checker, m.to_bytes(), "class P: field x has bad type")


def test_class_too_many_own_fields(checker):
    m = module()
    c = klass(m, "P")
    c.fields = [c.fields[0]] * 257
    refused(checker, m.to_bytes(), "too many fields: 257 (limit 256)")


def test_class_too_many_fields_with_inherited(checker):
    m = module()
    c = klass(m, "Q")
    c.fields = [klass(m, "P").fields[0]] * 255
    refused(checker, m.to_bytes(), "class Q: 257 fields (limit 256)")


def test_class_ctor_not_ctor(checker):
    m = module()
    klass(m, "P").ctor = m.functions.index(func(m, "P.get"))
    refused(checker, m.to_bytes(),
            "class P: constructor P.get is not a constructor of the class")


def test_class_ctor_of_other_class(checker):
    m = module()
    klass(m, "Q").ctor = m.functions.index(func(m, "P.<init>"))
    refused(checker, m.to_bytes(), "class Q: constructor P.<init> is not")


def test_class_ctor_out_of_range(checker):
    m = module()
    klass(m, "P").ctor = 999
    refused(checker, m.to_bytes(), "class P: constructor 999 out of range")


def test_vtable_shorter_than_super(checker):
    m = module()
    klass(m, "Q").vtable = klass(m, "Q").vtable[:2]
    refused(checker, m.to_bytes(),
            "class Q: vtable of 2 slots is shorter than its superclass's 3")


def test_vtable_native_wrong_slot(checker):
    m = module()
    klass(m, "P").vtable[1] = kasm.NATIVE_REF | 1
    refused(checker, m.to_bytes(),
            "class P: vtable slot 1: native 1 is not the built-in method")


def test_vtable_native_not_inherited(checker):
    m = module()
    klass(m, "P").vtable[1] = kasm.NATIVE_REF | 8   # Device.open, slot 1
    refused(checker, m.to_bytes(),
            "class P: vtable slot 1: native open is not inherited")


def test_vtable_native_out_of_range(checker):
    m = module()
    klass(m, "P").vtable[0] = kasm.NATIVE_REF | 0x7FFF
    refused(checker, m.to_bytes(), "native 32767 is not the built-in method")


def test_vtable_function_not_a_method(checker):
    m = module()
    klass(m, "P").vtable[1] = m.functions.index(func(m, "id"))
    refused(checker, m.to_bytes(),
            "class P: vtable slot 1: id is not a method of the class")


def test_vtable_method_of_subclass(checker):
    m = module()
    klass(m, "P").vtable[1] = m.functions.index(func(m, "Q.get"))
    refused(checker, m.to_bytes(),
            "class P: vtable slot 1: Q.get is not a method of the class")


def test_vtable_function_out_of_range(checker):
    m = module()
    klass(m, "P").vtable[1] = 5000
    refused(checker, m.to_bytes(), "vtable slot 1: function 5000 out of range")


def test_vtable_override_signature(checker):
    m = module()
    q = klass(m, "Q")
    q.vtable[1] = m.functions.index(func(m, "P.put"))   # put at get's slot
    refused(checker, m.to_bytes(),
            "class Q: vtable slot 1: put has type Func<void(int)>, "
            "the superclass's slot has Func<int()>")


def test_vtable_override_name(checker):
    extra = (".method int Q.other()\n  .reg int r\n  LOADI r, 1\n  RET r\n"
             ".end")
    m = module(extra=extra)
    q = klass(m, "Q")
    q.vtable[1] = m.functions.index(func(m, "Q.other"))
    refused(checker, m.to_bytes(), "class Q: vtable slot 1: other overrides get")


def test_vtable_toString_signature(checker):
    extra = (".method int P.toString()\n  .reg int r\n  LOADI r, 1\n"
             "  RET r\n.end")
    m = module(extra=extra)
    klass(m, "P").vtable[0] = m.functions.index(func(m, "P.toString"))
    refused(checker, m.to_bytes(),
            "class P: vtable slot 0: toString has type Func<int()>, "
            "the superclass's slot has Func<String()>")


def test_vtable_duplicate_name(checker):
    m = module()
    p = klass(m, "P")
    p.vtable.append(p.vtable[1])
    refused(checker, m.to_bytes(),
            "class P: vtable slots 1 and 3 are both named get")


def test_too_many_vtable_slots(checker):
    m = module()
    klass(m, "P").vtable += [0] * 1100
    refused(checker, m.to_bytes(), "too many vtable slots: 1103 (limit 1024)")


def test_too_many_classes(checker):
    secs = module().sections()
    secs[3] = (4, struct.pack("<I", 5000) + secs[3][1][4:])
    refused(checker, sections_image(secs),
            "too many classes: 5000 (limit 4096)")


# ---- globals ----------------------------------------------------------------

def test_global_bad_type(checker):
    m = module()
    m.globals[0] = (m.globals[0][0], 7777)
    refused(checker, m.to_bytes(), "global gi: bad type 7777")


def test_global_void(checker):
    m = module()
    m.globals[0] = (m.globals[0][0], m.type((kasm.TY_VOID,)))
    refused(checker, m.to_bytes(), "global gi: bad type")


def test_global_bad_name(checker):
    m = module()
    m.globals[0] = (6000, m.globals[0][1])
    refused(checker, m.to_bytes(), "global: string 6000 out of range")


# ---- function headers ---------------------------------------------------------

def test_function_type_not_func(checker):
    m = module()
    func(m, "t").type = m.type((kasm.TY_INT,))
    refused(checker, m.to_bytes(), "function t: type")
    refused(checker, m.to_bytes(), "is not a Func type")


def test_function_bad_flags(checker):
    m = module()
    func(m, "t").flags = 16
    refused(checker, m.to_bytes(), "function t: bad flags 0x10")


def test_function_lambda_and_method_flags(checker):
    m = module()
    func(m, "P.get").flags = 9
    refused(checker, m.to_bytes(), "function P.get: bad flags 0x9")


def test_function_two_flags(checker):
    m = module()
    func(m, "P.get").flags = 3
    refused(checker, m.to_bytes(), "function P.get: bad flags 0x3")


def test_function_owner_without_method_flag(checker):
    m = module()
    func(m, "t").owner = 32
    refused(checker, m.to_bytes(),
            "function t: owner 32 but not a method or constructor")


def test_method_owner_builtin(checker):
    m = module()
    func(m, "P.get").owner = 0
    refused(checker, m.to_bytes(),
            "function P.get: owner 0 is not a script class")


def test_method_owner_none(checker):
    m = module()
    func(m, "P.get").owner = kasm.NONE
    refused(checker, m.to_bytes(), "is not a script class")


def test_receiver_register_type(checker):
    m = module()
    f = func(m, "P.get")
    f.regs[0] = m.type((kasm.TY_CLASS, 33))
    refused(checker, m.to_bytes(),
            "function P.get: receiver register r0 has type Q, expected P")


def test_parameter_register_type(checker):
    m = module()
    f = func(m, "id")
    f.regs[0] = m.type((kasm.TY_BOOL,))
    refused(checker, m.to_bytes(),
            "function id: parameter register r0 has type boolean, "
            "expected int")


def test_fewer_registers_than_arguments(checker):
    m = module()
    f = func(m, "P.put")
    f.regs = f.regs[:1]
    refused(checker, m.to_bytes(),
            "function P.put: 1 registers for 2 arguments")


def test_register_bad_type(checker):
    m = module()
    func(m, "t").regs[3] = 9999
    refused(checker, m.to_bytes(), "function t: register r3 has bad type 9999")


def test_register_void(checker):
    m = module()
    func(m, "t").regs[3] = m.type((kasm.TY_VOID,))
    refused(checker, m.to_bytes(), "function t: register r3 has bad type")


def test_too_many_registers(checker):
    m = module()
    f = func(m, "t")
    f.regs += [f.regs[0]] * 4100
    refused(checker, m.to_bytes(), "too many registers")


def test_constructor_returns_value(checker):
    m = module()
    func(m, "P.<init>").type = m.type((kasm.TY_FUNC, m.type((kasm.TY_INT,)),
                                       ()))
    refused(checker, m.to_bytes(),
            "function P.<init>: a constructor must return void")


def test_init_flag_elsewhere(checker):
    m = module()
    func(m, "t").flags = kasm.FLAG_INIT
    refused(checker, m.to_bytes(),
            "function t: init flag on a function that is not the init")


def test_init_without_flag(checker):
    m = module()
    func(m, "<init>").flags = 0
    refused(checker, m.to_bytes(), "init function <init>: must have the init flag")


def test_init_with_parameters(checker):
    m = module()
    f = func(m, "<init>")
    f.type = m.type((kasm.TY_FUNC, m.type((kasm.TY_VOID,)),
                     (m.type((kasm.TY_INT,)),)))
    f.regs = [m.type((kasm.TY_INT,))]
    refused(checker, m.to_bytes(), "must have the init flag and no parameters")


def test_init_returns_value(checker):
    m = module()
    f = func(m, "<init>")
    f.type = m.type((kasm.TY_FUNC, m.type((kasm.TY_INT,)), ()))
    refused(checker, m.to_bytes(), "function <init>: a init must return void")


def test_init_out_of_range(checker):
    m = module()
    m.init = 77
    refused(checker, m.to_bytes(), "init function 77 out of range")


def test_source_name_out_of_range(checker):
    m = module()
    m.source = 4444
    refused(checker, m.to_bytes(), "source file name: string 4444 out of range")


def test_function_name_out_of_range(checker):
    m = module()
    func(m, "t").name = 4444
    refused(checker, m.to_bytes(), "name string 4444 out of range")


def test_too_many_inline_caches(checker):
    m = module()
    func(m, "t").nics = 100
    refused(checker, m.to_bytes(), "function t: 100 inline caches for 1 code words")


def test_code_count_beyond_bytes(checker):
    m = module()
    f = func(m, "t")
    secs = m.sections()
    # find ncode of the last function via a big count: simplest, a limit
    f.code = [0] * 10
    data = m.to_bytes()
    assert data  # sanity
    m2 = module()
    func(m2, "t").code = [0] * (1 << 20 + 1)
    refused(checker, m2.to_bytes(), "too many code words")


# ---- code: structure ------------------------------------------------------------

def code_case(words, regs=REGS, sig="void t()"):
    m = module(regs=regs, sig=sig)
    func(m, "t").code = list(words)
    return m.to_bytes()


OP = {name: num for name, (num, _) in kasm.OPCODES.items()}


def test_no_code(checker):
    refused(checker, code_case([]), "function t: no code")


def test_bad_opcode(checker):
    refused(checker, code_case([200, OP["RETV"]]),
            "function t: pc 0: bad opcode 200")


def test_negative_opcode(checker):
    refused(checker, code_case([-1]), "function t: pc 0: bad opcode -1")


def test_truncated_instruction(checker):
    refused(checker, code_case([OP["RETV"], OP["ADD"], 0, 0]),
            "function t: pc 1: ADD: truncated instruction")


def test_fall_off_end(checker):
    refused(checker, code_case([OP["NOP"]]),
            "function t: code falls off the end (last instruction NOP)")


def test_jump_into_instruction(checker):
    refused(checker, code_case([OP["LOADI"], 0, 5, OP["JMP"], 1]),
            "function t: pc 3: JMP: jump target 1 is not an instruction")


def test_jump_out_of_code(checker):
    refused(checker, code_case([OP["JMP"], 2]),
            "function t: pc 0: JMP: jump target 2 is not an instruction")


# (1.1) SWITCH A lo n default: its table is the n JMPs that follow it.

def test_switch_table_valid(checker):
    accepted(checker, image("SWITCH a, -1, 3, d\nJMP x\nJMP d\nJMP x\n"
                            "x:\nLOADI b, 1\nd:"))


SWITCH_CASES = [
    ("selector_type", "SWITCH s, 0, 1, d\nJMP d\nd:",
     "pc 0: SWITCH: register r2 has type String, expected int"),
    ("empty_table", "SWITCH a, 0, 0, d\nd:",
     "pc 0: SWITCH: jump table of 0 entries"),
    ("negative_size", "SWITCH a, 0, -1, d\nd:",
     "pc 0: SWITCH: jump table of -1 entries"),
    ("short_table", "SWITCH a, 0, 3, d\nJMP d\nJMP d\nd:\nNOP",
     "pc 0: SWITCH: jump table entry 2 is not a JMP"),
    ("entry_not_jmp", "SWITCH a, 5, 2, d\nJMP d\nLOADI a, 0\nd:",
     "pc 0: SWITCH: jump table entry 1 is not a JMP"),
    ("runs_off", "SWITCH a, 0, 1000, d\nJMP d\nd:",
     "pc 0: SWITCH: jump table of 1000 entries runs off the code"),
    ("default_target", None, "pc 0: SWITCH: jump target 1 is not an instruction"),
    ("entry_target", None, "pc 5: JMP: jump target 2 is not an instruction"),
]


@pytest.mark.parametrize("name,body,msg", SWITCH_CASES,
                         ids=[c[0] for c in SWITCH_CASES])
def test_switch_rule(checker, name, body, msg):
    if body is not None:
        data = image(body)
    elif name == "default_target":
        data = code_case([OP["SWITCH"], 0, 0, 1, 1, OP["JMP"], 7, OP["RETV"]])
    else:
        data = code_case([OP["SWITCH"], 0, 0, 1, 7, OP["JMP"], 2, OP["RETV"]])
    refused(checker, data, "function t: " + msg)


# ---- code: operands ---------------------------------------------------------------

OPERAND_CASES = [
    ("register", "MOV a, 99", "MOV: register r99 out of range (15 registers)"),
    ("negative_register", "MOV -1, a", "MOV: register r-1 out of range"),
    ("none_dest_not_call", "ADD -1, a, b", "ADD: register r-1 out of range"),
    ("constant", "LOADK a, #99", "LOADK: constant 99 out of range"),
    ("global", "GETG a, 9", "GETG: global 9 out of range (2 globals)"),
    ("class", "NEW p, 30", "NEW: class 30 does not exist"),
    ("class_high", "NEW p, 40", "NEW: class 40 does not exist"),
    ("type", "CAST p, o, #9999", "CAST: type 9999 out of range"),
    ("function", "LOADFN fi, 99", "LOADFN: function 99 out of range"),
    ("native", "CALLN _, 999, a", "CALLN: native 999 out of range"),
    ("string", "CALLA y, y, 99999, 0, y, 0", "CALLA: string 99999 out of range"),
    ("count", "CALLA y, y, \"m\", 256, y, 0", "CALLA: count 256 out of range"),
    ("cache", "CALLA y, y, \"m\", 0, y, 5", "CALLA: inline cache 5 out of range"),
    ("slot", "CALLV a, 9, p, e, 0", "CALLV: class P has no vtable slot 9"),
    ("field", "GETF a, p, 9", "GETF: class P has no field 9"),
    ("field_negative", "SETF p, -1, a", "SETF: class P has no field -1"),
]


# The built-in classes' hidden fields: host pointers, limits and state the
# natives trust (a forged WaitQueue.$host was a wild pointer in the kernel).
HIDDEN_FIELDS = [("Exception", "$message", 0), ("DeviceError", "$errno", 1),
                 ("File", "$pos", 1), ("File", "$flags", 2),
                 ("File", "$polled", 3), ("PollTable", "$valid", 0),
                 ("WaitQueue", "$host", 0), ("WaitQueue", "$waiters", 1),
                 ("Timer", "$f", 0), ("Timer", "$due", 1),
                 ("Timer", "$period", 2), ("Timer", "$seq", 3),
                 ("Timer", "$active", 4), ("E", "$message", 0)]


@pytest.mark.parametrize("op", ["GETF", "SETF"])
@pytest.mark.parametrize("cls,field,idx", HIDDEN_FIELDS,
                         ids=[f"{c}.{f}" for c, f, _ in HIDDEN_FIELDS])
def test_hidden_builtin_fields_are_the_vms(checker, op, cls, field, idx):
    ftype = {"$message": "String", "$polled": "WaitQueue[]",
             "$f": "Func<void()>"}.get(field, "int")
    regs = f"{cls} x; {ftype} v"
    body = f"GETF v, x, {idx}" if op == "GETF" else f"SETF x, {idx}, v"
    refused(checker, image(body, regs=regs),
            f"function t: pc 0: {op}: field {field} of class {cls} is the VM's own")


def test_public_builtin_fields_stay_open(checker):
    # File.data and Device.mode are the script's
    accepted(checker, image("GETF y, f, 0\nSETF f, 0, y\nGETF a, d, 0\n"
                            "SETF d, 0, a", regs="File f; Any y; Device d; int a"))


@pytest.mark.parametrize("name,body,msg", OPERAND_CASES,
                         ids=[c[0] for c in OPERAND_CASES])
def test_operand_rule(checker, name, body, msg):
    m = module(body)
    if name == "cache":
        func(m, "t").nics = 1
        func(m, "t").code += [OP["NOP"]] * 10
        func(m, "t").code[-11:] = [OP["RETV"]] + [OP["NOP"]] * 10
        f = func(m, "t")
        f.code = f.code[:-11] + [OP["NOP"]] * 10 + [OP["RETV"]]
    if name == "count":
        func(m, "t").nics = 1
    refused(checker, m.to_bytes(), "function t: pc 0: " + msg)


def test_inline_cache_used_twice(checker):
    m = module('CALLA y, y, "m", 0, y, 0\nCALLA y, y, "m", 0, y, 0')
    refused(checker, m.to_bytes(),
            "function t: pc 7: CALLA: inline cache 0 used twice")


# ---- code: typing of every opcode ----------------------------------------------------

TYPING_CASES = [
    ("ADD", "ADD a, a, s", "ADD: register r2 has type String, expected int"),
    ("SUB_dest", "SUB s, a, a", "SUB: register r2 has type String, expected int"),
    ("ADDI", "ADDI z, a, 1", "ADDI: register r3 has type boolean, expected int"),
    ("NEG", "NEG a, z", "NEG: register r3 has type boolean, expected int"),
    ("NOT", "NOT z, a", "NOT: register r0 has type int, expected boolean"),
    ("MOV_int_to_Any", "MOV y, a", "MOV: register r4 has type Any, cannot hold int"),
    ("MOV_super_to_sub", "MOV q, p", "MOV: register r14 has type Q, cannot hold P"),
    ("MOV_string_to_int", "MOV a, s", "MOV: register r0 has type int, cannot hold String"),
    ("LOADI_bool", "LOADI z, 2", "LOADI: immediate 2 is not a boolean"),
    ("LOADI_ref", "LOADI s, 0", "LOADI: register r2 has type String, expected int"),
    ("LOADK_int_into_string", "LOADK s, 5", "LOADK: register r2 has type String, expected int"),
    ("LOADK_string_into_int", 'LOADK a, "x"', "LOADK: register r0 has type int, expected String"),
    ("LOADNULL_int", "LOADNULL a", "LOADNULL: register r0 has type int, expected a reference"),
    ("LOADFN_method", "LOADFN fi, P.get", "LOADFN: P.get is not a top-level function"),
    ("LOADFN_type", "LOADFN fi, t", "LOADFN: register r9 has type Func<int(int)>, expected Func<void()>"),
    ("BINDM_type", "BINDM fi, p, P.get", "BINDM: register r9 has type Func<int(int)>, expected Func<int()>"),
    ("BINDM_not_class", "BINDM y, y, 0", "BINDM: register r4 has type Any, expected a class"),
    ("GETG", "GETG a, gs", "GETG: register r0 has type int, cannot hold String"),
    ("SETG", "SETG gi, s", "SETG: register r2 has type String, expected int for the global"),
    ("BAND_mixed", "BAND a, a, z", "BAND: register r3 has type boolean, expected int"),
    ("BOR_string", "BOR s, s, s", "BOR: register r2 has type String, expected int or boolean"),
    ("EQ_mixed", "EQ z, a, z", "EQ: register r3 has type boolean, expected int"),
    ("EQ_dest", "EQ a, a, a", "EQ: register r0 has type int, expected boolean"),
    ("LT_bool", "LT z, z, z", "LT: register r3 has type boolean, expected int"),
    ("EQREF_int", "EQREF z, a, s", "EQREF: register r0 has type int, expected a reference"),
    ("EQSTR_any", "EQSTR z, s, y", "EQSTR: register r4 has type Any, expected String"),
    ("EQANY_int", "EQANY z, y, a", "EQANY: register r0 has type int, expected a reference"),
    ("JT_int", "JT a, l\nl:", "JT: register r0 has type int, expected boolean"),
    ("JEQ_mixed", "JEQ a, z, l\nl:", "JEQ: register r3 has type boolean, expected int"),
    ("JLT_bool", "JLT z, z, l\nl:", "JLT: register r3 has type boolean, expected int"),
    ("JEQI_bool", "JEQI z, 1, l\nl:", "JEQI: register r3 has type boolean, expected int"),
    ("JNULL_int", "JNULL a, l\nl:", "JNULL: register r0 has type int, expected a reference"),
    ("CONCAT_int", "CONCAT s, s, a", "CONCAT: register r0 has type int, expected String"),
    ("ITOS_bool", "ITOS s, z", "ITOS: register r3 has type boolean, expected int"),
    ("ZTOS_int", "ZTOS s, a", "ZTOS: register r0 has type int, expected boolean"),
    ("RTOS_int", "RTOS s, a", "RTOS: register r0 has type int, expected a reference"),
    ("RTOS_dest", "RTOS y, s", "RTOS: register r4 has type Any, expected String"),
    ("BOXI_dest", "BOXI s, a", "BOXI: register r2 has type String, expected Any"),
    ("BOXZ_src", "BOXZ y, a", "BOXZ: register r0 has type int, expected boolean"),
    ("UNBOXI_src", "UNBOXI a, s", "UNBOXI: register r2 has type String, expected Any"),
    ("CAST_not_ref", "CAST a, y, int", "CAST: type int is not a reference type"),
    ("CAST_dest", "CAST p, o, Q", "CAST: register r5 has type P, expected Q"),
    ("CAST_src", "CAST p, a, P", "CAST: register r0 has type int, expected a reference"),
    ("INSTOF_void", "INSTOF z, o, void", "INSTOF: instanceof void"),
    ("INSTOF_dest", "INSTOF a, o, P", "INSTOF: register r0 has type int, expected boolean"),
    ("NEW_string", "NEW s, String", "NEW: class String cannot be instantiated"),
    ("NEW_stream", "NEW o, OutputStream", "NEW: class OutputStream cannot be instantiated"),
    ("NEW_dest", "NEW p, Q", "NEW: register r5 has type P, expected Q"),
    ("GETF_type", "GETF a, p, P.name", "GETF: register r0 has type int, cannot hold String"),
    ("GETF_not_class", "GETF a, y, 0", "GETF: register r4 has type Any, expected a class"),
    ("GETF_builtin_hidden", "GETF a, ex, 0", "GETF: field $message of class Exception is the VM's own"),
    ("SETF_type", "SETF p, P.x, s", "SETF: register r2 has type String, expected int for the field"),
    ("NEWARR_not_array", "NEWARR ia, int, a", "NEWARR: type int is not an array type"),
    ("NEWARR_dest", "NEWARR ia, String[], a", "NEWARR: register r7 has type int[], expected String[]"),
    ("NEWARR_len", "NEWARR ia, int[], s", "NEWARR: register r2 has type String, expected int"),
    ("NEWARRV_elem", "NEWARRV ia, int[], a, 3", "NEWARRV: register r2 has type String, expected int for an element"),
    ("NEWARRV_range", "NEWARRV ia, int[], o, 5", "NEWARRV: element registers r13..r17 out of range"),
    ("AGET_not_array", "AGET a, s, a", "AGET: register r2 has type String, expected an array"),
    ("AGET_elem", "AGET s, ia, a", "AGET: register r2 has type String, cannot hold int"),
    ("AGET_index", "AGET a, ia, z", "AGET: register r3 has type boolean, expected int"),
    ("ASET_elem", "ASET sa, a, a", "ASET: register r0 has type int, expected String for an element"),
    ("CALL_arg", "CALL a, id, s", "CALL: register r2 has type String, expected int for an argument"),
    ("CALL_no_result", "CALL _, id, a", "CALL: no result register for a call returning int"),
    ("CALL_void_result", "CALL a, t, 0", "CALL: result register r0 for a void call"),
    ("CALL_result_type", "CALL s, id, a", "CALL: register r2 has type String, cannot hold int"),
    ("CALL_init", "CALL _, <init>, a", "CALL: cannot call the init"),
    ("CALL_receiver", "CALL a, P.get, o", "CALL: receiver r13 has type Object, expected P"),
    ("CALL_receiver_not_class", "CALL a, P.get, y", "CALL: register r4 has type Any, expected a class"),
    ("CALL_args_range", "CALL a, id, 15", "CALL: argument registers r15..r15 out of range (15 registers)"),
    ("CALLV_not_class", "CALLV a, 0, y, p, 0", "CALLV: register r4 has type Any, expected a class"),
    ("CALLV_result", "CALLV s, P.get, p, e, 0", "CALLV: register r2 has type String, cannot hold int"),
    ("CALLV_args", "CALLV _, P.put, p, e, 0", "CALLV: register r6 has type E, expected int for an argument"),
    ("CALLN_receiver", "CALLN a, String.length, a", "CALLN: register r0 has type int, expected a class"),
    ("CALLN_receiver_class", "CALLN a, String.length, o", "CALLN: receiver r13 has type Object, expected String"),
    ("CALLN_args", "CALLN _, print, a", "CALLN: register r0 has type int, expected String for an argument"),
    ("CALLN_void_result", "CALLN a, print, s", "CALLN: result register r0 for a void call"),
    ("CALLN_array_receiver", "CALLN a, Array.size, s", "CALLN: register r2 has type String, expected an array"),
    ("CALLN_generic_arg", "CALLN _, Array.add, ia", "CALLN: register r8 has type String[], expected int for an argument"),
    ("CALLN_generic_result", "CALLN s, Array.pop, ia", "CALLN: register r2 has type String, cannot hold int"),
    ("CALLN_ctor_receiver", "CALLN _, Exception_init, p", "CALLN: receiver r5 has type P, expected Exception"),
    ("CALLN_static_args", "CALLN a, Math.max, s", "CALLN: register r2 has type String, expected int for an argument"),
    ("CALLF_not_func", "CALLF a, y, a", "CALLF: register r4 has type Any, expected a Func type"),
    ("CALLF_arg", "CALLF a, fi, s", "CALLF: register r2 has type String, expected int for an argument"),
    ("CALLA_dest", 'CALLA a, y, "m", 0, y, 0', "CALLA: register r0 has type int, expected Any"),
    ("CALLA_receiver", 'CALLA y, s, "m", 0, y, 0', "CALLA: register r2 has type String, expected Any"),
    ("CALLA_args", 'CALLA y, y, "m", 2, a, 0', "CALLA: register r0 has type int, expected Any"),
    ("CALLA_range", 'CALLA y, y, "m", 3, q, 0', "CALLA: argument registers r14..r16 out of range"),
    ("RET_void", "RET a", "RET: returning a value from a void function"),
    ("THROW_not_exception", "THROW p", "THROW: register r5 has type P, not an exception"),
    ("THROW_any", "THROW y", "THROW: register r4 has type Any, expected a class"),
]


@pytest.mark.parametrize("name,body,msg", TYPING_CASES,
                         ids=[c[0] for c in TYPING_CASES])
def test_typing_rule(checker, name, body, msg):
    m = module(body)
    f = func(m, "t")
    if "CALLA" in body:
        f.nics = 1
    refused(checker, m.to_bytes(), "function t: pc 0: " + msg)


# ---- (1.1) lambdas: CLOSURE and the lambda flag ------------------------------

# A lambda function taking one captured int and the int of Func<int(int)>,
# and one capturing a P (its `this`) for a Func<int()>.
LAMBDAS = """
.function int t.lambda@3(int c, int v)
  .flags 8
  .reg int r
  ADD r, c, v
  RET r
.end
.function int P.get.lambda@9(P self)
  .flags 8
  .reg int r
  GETF r, self, P.x
  RET r
.end
"""


def test_closure_valid(checker):
    m = module("CLOSURE fi, t.lambda@3, a, 1\nCALLF b, fi, a\n"
               "NEW p, P\nCLOSURE fg, P.get.lambda@9, p, 1\nCALLF a, fg, 0\n"
               "MOV y, fi",
               regs="int a; int b; Func<int(int)> fi; P p; Func<int()> fg; Any y",
               extra=LAMBDAS)
    accepted(checker, m.to_bytes())


LAMBDA_CASES = [
    ("not_lambda", "CLOSURE fi, id, a, 0", "CLOSURE: id is not a lambda function"),
    ("not_func", "CLOSURE a, t.lambda@3, a, 1",
     "CLOSURE: register r0 has type int, expected a Func type"),
    ("count", "CLOSURE fi, t.lambda@3, a, 0",
     "CLOSURE: lambda t.lambda@3 with 0 captured values does not have type Func<int(int)>"),
    ("params", "CLOSURE fs, t.lambda@3, a, 1",
     "CLOSURE: lambda t.lambda@3 with 1 captured values does not have type Func<String(int)>"),
    ("capture_type", "CLOSURE fi, t.lambda@3, s, 1",
     "CLOSURE: register r2 has type String, expected int for an argument"),
    ("this_type", "CLOSURE fg, P.get.lambda@9, o, 1",
     "CLOSURE: register r4 has type Object, expected P for an argument"),
    ("range", "CLOSURE fi, t.lambda@3, 7, 1",
     "CLOSURE: argument registers r7..r7 out of range (7 registers)"),
]


@pytest.mark.parametrize("name,body,msg", LAMBDA_CASES,
                         ids=[c[0] for c in LAMBDA_CASES])
def test_closure_rule(checker, name, body, msg):
    m = module(body, regs="int a; int b; String s; Func<int(int)> fi; Object o; "
               "Func<String(int)> fs; Func<int()> fg",
               extra=LAMBDAS)
    refused(checker, m.to_bytes(), "function t: pc 0: " + msg)


def test_lambda_name_needs_line(checker):
    m = module("", extra=LAMBDAS.replace("t.lambda@3", "t.lambda"))
    refused(checker, m.to_bytes(),
            "function t.lambda: a lambda's name must end in lambda@LINE")


def test_lambda_is_not_loadfn(checker):
    m = module("LOADFN fg, P.get.lambda@9",
               regs="Func<int(P)> fg", extra=LAMBDAS)
    refused(checker, m.to_bytes(),
            "function t: pc 0: LOADFN: P.get.lambda@9 is not a top-level function")


def test_brief_example_message(checker):
    m = module("ADD a, a, s")
    refused(checker, m.to_bytes(),
            "function t: pc 0: ADD: register r2 has type String, expected int")


def test_ret_type(checker):
    m = module("RET s", sig="int t()", retv=False)
    refused(checker, m.to_bytes(),
            "function t: pc 0: RET: register r2 has type String, expected int "
            "for the result")


def test_retv_in_value_function(checker):
    m = module("", sig="int t()")
    refused(checker, m.to_bytes(),
            "function t: pc 0: RETV: no value returned from a function "
            "returning int")


def test_ret_subclass_ok(checker):
    accepted(checker, image("RET q", sig="P t()", retv=False))


# ---- handlers and lines --------------------------------------------------------

HBODY = "try:\nNOP\nend:\nRETV\ncatch:\nRETV"


def hmodule(handler):
    m = module(HBODY, retv=False)
    func(m, "t").handlers = [handler]
    return m


def test_handler_range(checker):
    refused(checker, hmodule((0, 9, 1, kasm.NONE, 12)).to_bytes(),
            "function t: handler 0: range 0..9 out of code")


def test_handler_inverted_range(checker):
    refused(checker, hmodule((1, 0, 1, kasm.NONE, 12)).to_bytes(),
            "function t: handler 0: range 1..0 out of code")


def test_handler_target(checker):
    refused(checker, hmodule((0, 1, 3, kasm.NONE, 12)).to_bytes(),
            "function t: handler 0: target 3 is not an instruction")


def test_handler_class_not_exception(checker):
    refused(checker, hmodule((0, 1, 2, 32, 12)).to_bytes(),
            "function t: handler 0: class 32 is not an exception class")


def test_handler_class_missing(checker):
    refused(checker, hmodule((0, 1, 2, 77, 12)).to_bytes(),
            "function t: handler 0: class 77 is not an exception class")


def test_handler_register_range(checker):
    refused(checker, hmodule((0, 1, 2, kasm.NONE, 15)).to_bytes(),
            "function t: handler 0: register r15 out of range (15 registers)")


def test_handler_register_type(checker):
    refused(checker, hmodule((0, 1, 2, 34, 5)).to_bytes(),
            "function t: handler 0: register r5 has type P, cannot hold E")


def test_handler_catch_all_needs_exception(checker):
    refused(checker, hmodule((0, 1, 2, kasm.NONE, 6)).to_bytes(),
            "function t: handler 0: register r6 has type E, cannot hold "
            "Exception")


def test_handler_int_register(checker):
    refused(checker, hmodule((0, 1, 2, 3, 0)).to_bytes(),
            "register r0 has type int, cannot hold ArithmeticException")


def test_handlers_valid(checker):
    accepted(checker, hmodule((0, 1, 2, 34, 12)).to_bytes())
    accepted(checker, hmodule((0, 1, 2, 34, 6)).to_bytes())
    accepted(checker, hmodule((0, 1, 2, kasm.NONE, 4)).to_bytes())
    accepted(checker, hmodule((0, 1, 2, kasm.NONE, 13)).to_bytes())


def test_lines_out_of_order(checker):
    m = module("NOP\nNOP")
    func(m, "t").lines = [(1, 5), (0, 4)]
    refused(checker, m.to_bytes(),
            "function t: line entry 1: pc 0 out of order or range")


def test_lines_beyond_code(checker):
    m = module("NOP")
    func(m, "t").lines = [(9, 5)]
    refused(checker, m.to_bytes(), "line entry 0: pc 9 out of order or range")


# ---- SHA-256 (sha256.c) against hashlib: FIPS 180-4 vectors and padding edges

SHA_DRIVER_C = r"""
#include "kimage.h"
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), stdin);
	uint8_t out[32];
	int i;

	ksha256(buf, n, out);
	for (i = 0; i < 32; i++)
		printf("%02x", out[i]);
	printf("\n");
	return 0;
}
"""


def test_sha256_vectors(tmp_path):
    import hashlib
    src = tmp_path / "sha.c"
    src.write_text(SHA_DRIVER_C)
    exe = tmp_path / "sha"
    cc = shutil.which("gcc") or shutil.which("clang")
    subprocess.run([cc, "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    f"-I{CORE}", f"-I{ROOT / 'lkm' / 'user'}",
                    str(CORE / "sha256.c"),
                    str(ROOT / "lkm" / "user" / "kport_user.c"), str(src),
                    "-o", str(exe)], check=True)
    known = {
        b"": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        b"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq":
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    }
    inputs = list(known) + [bytes(range(256)) * 4 + b"x" * n
                            for n in (0, 1, 54, 55, 56, 57, 63, 64, 65, 119,
                                      120, 127, 128)]
    for data in inputs:
        out = subprocess.run([str(exe)], input=data, capture_output=True,
                             check=True).stdout.decode().strip()
        want = known.get(data, hashlib.sha256(data).hexdigest())
        assert out == want == hashlib.sha256(data).hexdigest(), len(data)


# ---- hostile type graphs --------------------------------------------------------

def test_naming_a_huge_nested_function_type_is_bounded(checker):
    """Seven function types, each with 4096 parameters of the one below:
    naming the top one (the verifier's message for a bad MOV) used to take
    4096^6 steps; the name stops when its buffer is full."""
    import time
    m = module("MOV fi, a", regs="int a; Func<int(int)> fi")
    ty_int = m.type((kasm.TY_INT,))
    t = ty_int
    for _ in range(7):
        t = m.type((kasm.TY_FUNC, ty_int, tuple([t] * 4096)))
    f = func(m, "t")
    f.regs[1] = t
    started = time.monotonic()
    rc, out = run_image(checker, m.to_bytes())
    assert time.monotonic() - started < 20, "naming the type did not stop"
    assert rc == 3, out
    assert "Func<int(Func<int(" in out


# ---- (1.1) interfaces: the interfaces section, itables, CALLI, BINDI --------

IFACE_SRC = """\
interface Shape { int area(); }
interface Named extends Shape { String name(); }
class Sq implements Named {
    int s;
    Sq(int s) { this.s = s; }
    int area() { return s * s; }
    String name() { return "sq"; }
}
class Other { int area() { return 1; } }
Named n = new Sq(3);
Shape sh = n;
print(n.name() + sh.area());
var f = sh.area;
print(f());
print(sh.toString());
"""


def iface_image():
    """The compiled program above, as an Image to damage, and a writer."""
    from frontend import image as im
    from frontend.compiler import compile_source
    img = im.read_image(compile_source(IFACE_SRC, "i.k"))
    return img, (lambda: im.write(img, strict=False))


def iface_insns(img, name):
    """(function, word offset) of each `name` instruction of the image."""
    from frontend import opcodes as O
    out = []
    for f in img.functions:
        pc = 0
        while pc < len(f.code):
            op = O.OPCODES[f.code[pc]]
            if op.name == name:
                out.append((f, pc))
            pc += 1 + len(op.operands)
    return out


def test_iface_valid_program_loads(checker):
    img, write = iface_image()
    assert [img.string(i.name) for i in img.interfaces] == ["Shape", "Named"]
    assert img.interfaces[1].extends == [0]
    rc, out = run_image(checker, write())
    assert rc == 0 and "invalid image" not in out, out


def test_iface_images_without_interfaces_have_seven_sections():
    """An image without interfaces is byte for byte what 1.0 wrote: no
    eighth section, so 1.0 loaders and tools read it as before."""
    from frontend import image as im
    from frontend.compiler import compile_source
    data = compile_source("class P { int x; }\nprint(new P().x);\n", "p.k")
    pos, tags = im.HEADER_SIZE, []
    while pos < len(data):
        tag, n = struct.unpack_from("<II", data, pos)
        tags.append(tag)
        pos += 8 + n
    assert tags == list(range(1, 8))


@pytest.mark.parametrize("mutate, message", [
    # the interfaces graph: only earlier interfaces, so no cycles
    (lambda img: img.interfaces[0].extends.append(1),
     "interface Shape: extends interface 1, which is not an earlier one"),
    (lambda img: img.interfaces[1].extends.append(1),
     "interface Named: extends interface 1, which is not an earlier one"),
    (lambda img: img.interfaces[1].extends.__setitem__(0, 7),
     "extends interface 7, which is not an earlier one"),
    (lambda img: img.interfaces[0].methods.__setitem__(
        0, (img.interfaces[0].methods[0][0], 0)), "is not a Func type"),
    (lambda img: img.interfaces[0].methods.__setitem__(
        0, (100000, img.interfaces[0].methods[0][1])),
     "interface method name: string 100000 out of range"),
    # interface types name existing interfaces
    (lambda img: img.types.__setitem__(
        next(i for i, t in enumerate(img.types) if t[0] == 9), (9, 5)),
     "interface 5 does not exist (2 interfaces)"),
    # implements lists: script classes, existing interfaces, once each
    (lambda img: img.implements.append((3, [0])),
     "implements: class 3 is not a script class"),
    (lambda img: img.implements.append((99, [0])),
     "implements: class 99 is not a script class"),
    (lambda img: img.implements.__setitem__(0, (32, [0, 2])),
     "implements: class 32: interface 2 out of range (2 interfaces)"),
    (lambda img: img.implements.append((32, [0])),
     "implements: class 32 listed twice"),
    # a class claiming an interface it does not implement (Other has
    # area() of Shape's type, so it may claim Shape, not Named)
    (lambda img: img.implements.append((33, [1])),
     "class Other: does not implement Named.name of type Func<String()>"),
    (lambda img: img.interfaces[1].methods.__setitem__(
        0, (img.interfaces[1].methods[0][0],
            img.interfaces[0].methods[0][1])),
     "class Sq: does not implement Named.name of type Func<int()>"),
])
def test_iface_hostile_tables_refused(checker, mutate, message):
    img, write = iface_image()
    mutate(img)
    refused(checker, write(), message)


def test_iface_section_framing(checker):
    """The eighth section: its tag, its length, nothing after it."""
    img, write = iface_image()
    data = write()
    secs, pos = [], 48
    while pos < len(data):
        tag, n = struct.unpack_from("<II", data, pos)
        secs.append((tag, data[pos + 8:pos + 8 + n]))
        pos += 8 + n
    assert [t for t, _ in secs] == list(range(1, 9))
    bad = secs[:-1] + [(9, secs[-1][1])]
    refused(checker, sections_image(bad),
            "section 8: expected tag 8 (interfaces), found 9")
    bad = secs[:-1] + [(8, secs[-1][1] + b"\0\0\0\0")]
    refused(checker, sections_image(bad),
            "interfaces section: 4 bytes left over")
    bad = secs[:-1] + [(8, struct.pack("<I", 513) + secs[-1][1][4:])]
    refused(checker, sections_image(bad), "too many interfaces: 513")
    bad = secs[:-1] + [(8, secs[-1][1][:-2])]
    refused(checker, sections_image(bad), "truncated interfaces")
    refused(checker, kasm.fix_digest(data + b"\0"),
            "1 bytes after the last section")


@pytest.mark.parametrize("op, k, value, message", [
    # CALLI A t i B C q: words pc+1 .. pc+6
    ("CALLI", 2, "int", "type int is not an interface"),
    ("CALLI", 3, 5, "interface Shape has no method 5"),
    ("CALLI", 3, -1, "has no method -1"),
    # BINDI A B t i: words pc+1 .. pc+4
    ("BINDI", 4, 9, "interface Shape has no method 9"),
    ("BINDI", 3, "String", "type String is not an interface"),
])
def test_iface_instructions_typed(checker, op, k, value, message):
    """CALLI and BINDI: t an interface type and i one of its methods."""
    img, write = iface_image()
    f, pc = iface_insns(img, op)[-1]
    if value == "int":
        value = next(i for i, t in enumerate(img.types) if t[0] == 1)
    elif value == "String":
        value = next(i for i, t in enumerate(img.types) if t == (4, 1))
    f.code[pc + k] = value
    refused(checker, write(), message)


def test_iface_bindi_result_typed_exactly(checker):
    """BINDI's result register has exactly the method's Func type."""
    img, write = iface_image()
    f, pc = iface_insns(img, "BINDI")[0]
    other = next(i for i, t in enumerate(img.types)
                 if t[0] == 6 and img.types[t[1]] == (4, 1) and not t[2])
    f.regs[f.code[pc + 1]] = other
    refused(checker, write(),
            "BINDI: register r%d has type Func<String()>, expected "
            "Func<int()>" % f.code[pc + 1])


def test_iface_receiver_must_implement(checker):
    """A CALLI whose receiver is a register of a type that is not a
    subtype of the interface (a String here) is refused."""
    img, write = iface_image()
    f, pc = iface_insns(img, "CALLI")[0]
    string = next(i for i, t in enumerate(img.types) if t == (4, 1))
    r = next(i for i, t in enumerate(f.regs) if t == string)
    f.code[pc + 4] = r
    refused(checker, write(),
            "receiver r%d has type String, expected Named" % r)


def test_iface_calli_cache_used_once(checker):
    img, write = iface_image()
    sites = iface_insns(img, "CALLI")
    assert len(sites) >= 2 and sites[0][0] is sites[1][0]
    (f, p0), (_, p1) = sites[0], sites[1]
    f.code[p1 + 6] = f.code[p0 + 6]
    refused(checker, write(), "inline cache")


def test_callv_cache_used_once(checker):
    """Each CALLV site has an inline cache of its own, as CALLI's: the
    interpreter keeps the last receiver class's method there."""
    body = "CALLV a, P.get, p, e, 0\nCALLV a, P.get, p, e, 0"
    refused(checker, image(body),
            "function t: pc 6: CALLV: inline cache 0 used twice")
    image_ok = image("CALLV a, P.get, p, e, 0\nCALLV a, P.get, p, e, 1")
    rc, out = run_image(checker, image_ok)
    assert "invalid image" not in out, out


def test_iface_callv_through_interface_only_object_slots(checker):
    """toString through an interface type is CALLV slot 0 of Object; a
    slot Object lacks is refused."""
    img, write = iface_image()
    sites = [(f, pc) for f, pc in iface_insns(img, "CALLV")
             if img.types[f.regs[f.code[pc + 3]]][0] == 9]
    assert sites
    f, pc = sites[0]
    f.code[pc + 2] = 1
    refused(checker, write(), "class Object has no vtable slot 1")


def test_iface_fuzz_section_never_crashes(tmp_path):
    """Byte flips in the interfaces section: the loader refuses or
    accepts, never crashes (the ASan VM, when built)."""
    import random
    asan = ROOT / "build" / "kvm-asan"
    if not asan.is_file():
        pytest.skip("build/kvm-asan not built")
    img, write = iface_image()
    data = write()
    pos = 48
    while pos < len(data):
        tag, n = struct.unpack_from("<II", data, pos)
        if tag == 8:
            start, end = pos + 8, pos + 8 + n
        pos += 8 + n
    rng = random.Random(11)
    seen = set()
    for i in range(120):
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(start, end)
            b[j] = rng.choice([0, 1, 2, 0xff, b[j] ^ (1 << rng.randrange(8))])
        p = tmp_path / f"m{i}.kbc"
        p.write_bytes(kasm.fix_digest(bytes(b)))
        r = subprocess.run([str(asan), str(p)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode in (0, 2, 3), r.stderr
        assert "AddressSanitizer" not in r.stderr and \
            "runtime error" not in r.stderr, r.stderr
        seen.add(r.returncode)
    assert 3 in seen
