"""The K bytecode image (`.kbc`): building, writing and reading.

The format is lkm/image.md.  `Image` is the in-memory form of one image,
shared by the writer (`write`), the reader (`read_image`), the emitter
(through `ImageBuilder`) and the disassembler.  Records keep the file's own
representation (names are string indexes, types are type-table indexes), so
`read_image(write(img)) == img` for every well-formed image.

Type records are tuples:
    (TY_INT,) (TY_BOOL,) (TY_ANY,) (TY_VOID,)
    (TY_CLASS, class_id) (TY_ARRAY, elem_type) (TY_FUNC, result, (params...))
    (1.1) (TY_MAP, key_type, value_type)
    (1.1) (TY_IFACE, interface_index)
Constant records are tuples (K_INT, value) or (K_STR, string_index).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

MAGIC = b"KBC\0"
# The VM's loader accepts exactly 1.0; read_image checks the major only.
VERSION_MAJOR = 1
VERSION_MINOR = 0
# magic, major, minor, file size, reserved, SHA-256 of the rest (32 bytes)
HEADER_SIZE = 48
# "No index" in a u32 field: no owner class, a handler that catches all.
NONE = 0xFFFFFFFF
# A vtable entry with this bit is `NATIVE_REF | native id` (a built-in
# virtual method inherited unchanged), else a function index.
NATIVE_REF = 0x80000000
# Ids below are builtins.def's classes; script class i has id 32 + i.
FIRST_SCRIPT_CLASS = 32

# Section tags: every image has all seven, exactly in this order.
SEC_STRINGS, SEC_CONSTANTS, SEC_TYPES, SEC_CLASSES, SEC_GLOBALS, \
    SEC_FUNCTIONS, SEC_META = range(1, 8)
# (1.1) The optional eighth section: interfaces and the interfaces each
# class implements.  An image without interfaces leaves it out, so that it
# stays byte for byte what a 1.0 compiler writes.
SEC_INTERFACES = 8

# Constant kinds: an i64, or a string (by its string-pool index).
K_INT, K_STR = 1, 2

# Type record kinds (the first element of a type tuple).
TY_INT, TY_BOOL, TY_ANY, TY_CLASS, TY_ARRAY, TY_FUNC, TY_VOID = range(1, 8)
TY_MAP = 8                   # (1.1) Map<K, V>: key type, value type
TY_IFACE = 9                 # (1.1) an interface: its interfaces-section index

# Function flags: at most one is set (a constructor is 2, not 3).  A
# method or constructor takes its receiver in R[0], before the parameters.
FLAG_METHOD, FLAG_CTOR, FLAG_INIT = 1, 2, 4
# (1.1) A lambda's synthetic function: no owner, its captured values are its
# leading parameters, and its name ends in `lambda@LINE` (lkm/image.md).
FLAG_LAMBDA = 8


class ImageError(Exception):
    """A malformed image (reading) or an impossible one (building)."""


@dataclass
class Handler:
    """An exception handler: an exception thrown by an instruction at pc,
    start <= pc < end (code-word offsets), of class `class_id` or a
    subclass, is stored in R[register] and execution goes on at `target`.
    A function's handlers are searched in order, so inner ones come
    first."""
    start: int
    end: int
    target: int
    class_id: int | None     # None: catches everything (NONE in the file)
    register: int


@dataclass
class Function:
    """One function record.  `regs` gives every register's type for the
    whole function, parameters first (after the receiver of a method or
    constructor); `code` is the instruction words (opcodes.def encoding);
    `lines` maps pcs to source lines, sorted by pc, an instruction taking
    the line of the last entry at or before it; `nics` counts the inline
    caches its CALLA instructions use (operand q: each index used once)."""
    name: int                # string index
    owner: int | None        # class id, None for top-level functions/init
    type: int                # type index of a Func type
    flags: int
    regs: list[int] = field(default_factory=list)        # type indexes
    code: list[int] = field(default_factory=list)        # signed i32 words
    handlers: list[Handler] = field(default_factory=list)
    lines: list[tuple[int, int]] = field(default_factory=list)  # (pc, line)
    nics: int = 0


@dataclass
class ClassRecord:
    """A script class.  `fields` lists only the fields it adds (indexes are
    absolute: the superclass's come first); `vtable` extends the
    superclass's, slot for slot, overrides in place and new methods after."""
    name: int                # string index
    super_id: int
    fields: list[tuple[int, int]]   # (name string index, type index)
    ctor: int                # function index
    vtable: list[int]        # function index, or NATIVE_REF | native id


@dataclass
class InterfaceRecord:
    """(1.1) An interface: its name, the interfaces it extends directly
    (indexes of earlier interfaces: the order is a topological one, so
    there are no cycles), and its own method signatures (name string, Func
    type without the receiver), in declaration order.  CALLI names a
    method by (interface type, index in this list)."""
    name: int                                   # string index
    extends: list[int]                          # interface indexes
    methods: list[tuple[int, int]]              # (name string, Func type)


@dataclass
class Image:
    """A whole image.  Equality ignores `digest`, which is derived from the
    bytes: an Image built in memory has none until it is written."""
    strings: list[bytes] = field(default_factory=list)
    constants: list[tuple] = field(default_factory=list)
    types: list[tuple] = field(default_factory=list)
    classes: list[ClassRecord] = field(default_factory=list)
    globals: list[tuple[int, int]] = field(default_factory=list)  # (name, type)
    functions: list[Function] = field(default_factory=list)
    source: int = 0          # string index of the source file name
    init: int = 0            # function index of the init
    # (1.1) the interfaces section: the interfaces, and (class id, the
    # interface indexes it names in `implements`) for each class naming any
    interfaces: list[InterfaceRecord] = field(default_factory=list)
    implements: list[tuple[int, list[int]]] = field(default_factory=list)
    digest: bytes = b""      # filled by write() and read_image()

    def __eq__(self, other):
        if not isinstance(other, Image):
            return NotImplemented
        keys = ("strings", "constants", "types", "classes", "globals",
                "functions", "source", "init", "interfaces", "implements")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    def string(self, index: int) -> str:
        """A string of the pool as text (bytes decoded as Latin-1), or
        `<string N>` for an index outside the pool: listings of images
        the verifier would refuse must not crash."""
        if not 0 <= index < len(self.strings):
            return f"<string {index}>"
        return self.strings[index].decode("latin-1")


# ---------------------------------------------------------------- writing
#
# This is the only code that knows how an image is laid out in bytes: the
# compiler writes through it, and so does the test assembler
# tests/tools/kasm.py, which also needs images the verifier must refuse.
# With strict=True (the compiler's default) a value that does not fit its
# field, an unknown constant kind or an unknown type kind is an
# ImageError.  With strict=False every field is written as given, truncated
# to its width: u32 fields keep their low 32 bits, an unknown constant kind
# is followed by its value as a u32, an unknown type kind by its remaining
# record elements as u32s.

class _Out:
    """An accumulating little-endian writer of one section's payload."""

    def __init__(self, strict: bool = True):
        self.parts: list[bytes] = []
        self.strict = strict

    def u8(self, v):
        if self.strict and not 0 <= v <= 0xFF:
            raise ImageError(f"value {v} does not fit a u8")
        self.parts.append(struct.pack("<B", v & 0xFF))

    def u32(self, v):
        """A u32; None is written as NONE (an absent index)."""
        if v is None:
            v = NONE
        if self.strict and not 0 <= v <= 0xFFFFFFFF:
            raise ImageError(f"value {v} does not fit a u32")
        self.parts.append(struct.pack("<I", v & 0xFFFFFFFF))

    def words(self, ws):
        """Code words: signed or unsigned 32-bit values, in one piece."""
        ws = list(ws)
        if self.strict and ws and (min(ws) < -0x80000000
                                   or max(ws) > 0xFFFFFFFF):
            bad = next(w for w in ws
                       if not -0x80000000 <= w <= 0xFFFFFFFF)
            raise ImageError(f"code word {bad} does not fit 32 bits")
        self.parts.append(struct.pack(f"<{len(ws)}I",
                                      *(w & 0xFFFFFFFF for w in ws)))

    def i64(self, v):
        """An i64 in two's complement (an int constant; never refused)."""
        self.parts.append(struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))

    def raw(self, b):
        self.parts.append(bytes(b))

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _type_record(out: _Out, t: tuple):
    """One type record: its kind byte, then the payload of lkm/image.md."""
    out.u8(t[0])
    if t[0] in (TY_CLASS, TY_ARRAY, TY_IFACE):
        out.u32(t[1])
    elif t[0] == TY_MAP:
        out.u32(t[1])
        out.u32(t[2])
    elif t[0] == TY_FUNC:
        out.u32(t[1])
        out.u32(len(t[2]))
        for p in t[2]:
            out.u32(p)
    elif t[0] not in (TY_INT, TY_BOOL, TY_ANY, TY_VOID):
        if out.strict:
            raise ImageError(f"bad type record {t!r}")
        for v in t[1:]:
            out.u32(v)


def _handler_words(h) -> tuple:
    """A Handler, or a raw 5-tuple (start, end, target, class, register)
    of a hand-made image."""
    if isinstance(h, Handler):
        return (h.start, h.end, h.target, h.class_id, h.register)
    return tuple(h)


def sections(img: Image, strict: bool = True) -> list[tuple[int, bytes]]:
    """The seven (tag, payload) pairs of `img`, in file order."""
    out = []

    s = _Out(strict)
    s.u32(len(img.strings))
    for b in img.strings:
        s.u32(len(b))
        s.raw(b)
    out.append((SEC_STRINGS, s))

    s = _Out(strict)
    s.u32(len(img.constants))
    for kind, value in img.constants:
        s.u8(kind)
        if kind == K_INT:
            s.i64(value)
        elif kind == K_STR or not strict:
            s.u32(value)
        else:
            raise ImageError(f"bad constant kind {kind}")
    out.append((SEC_CONSTANTS, s))

    s = _Out(strict)
    s.u32(len(img.types))
    for t in img.types:
        _type_record(s, t)
    out.append((SEC_TYPES, s))

    s = _Out(strict)
    s.u32(len(img.classes))
    for c in img.classes:
        s.u32(c.name)
        s.u32(c.super_id)
        s.u32(len(c.fields))
        for name, ty in c.fields:
            s.u32(name)
            s.u32(ty)
        s.u32(c.ctor)
        s.u32(len(c.vtable))
        for ref in c.vtable:
            s.u32(ref)
    out.append((SEC_CLASSES, s))

    s = _Out(strict)
    s.u32(len(img.globals))
    for name, ty in img.globals:
        s.u32(name)
        s.u32(ty)
    out.append((SEC_GLOBALS, s))

    s = _Out(strict)
    s.u32(len(img.functions))
    for f in img.functions:
        s.u32(f.name)
        s.u32(f.owner)
        s.u32(f.type)
        s.u32(f.flags)
        s.u32(len(f.regs))
        for r in f.regs:
            s.u32(r)
        s.u32(len(f.code))
        s.words(f.code)
        s.u32(len(f.handlers))
        for h in f.handlers:
            for v in _handler_words(h):
                s.u32(v)
        s.u32(len(f.lines))
        for pc, line in f.lines:
            s.u32(pc)
            s.u32(line)
        s.u32(f.nics)
    out.append((SEC_FUNCTIONS, s))

    s = _Out(strict)
    s.u32(img.source)
    s.u32(img.init)
    out.append((SEC_META, s))

    if img.interfaces or img.implements:
        s = _Out(strict)
        s.u32(len(img.interfaces))
        for it in img.interfaces:
            s.u32(it.name)
            s.u32(len(it.extends))
            for x in it.extends:
                s.u32(x)
            s.u32(len(it.methods))
            for name, ty in it.methods:
                s.u32(name)
                s.u32(ty)
        s.u32(len(img.implements))
        for cid, ifs in img.implements:
            s.u32(cid)
            s.u32(len(ifs))
            for x in ifs:
                s.u32(x)
        out.append((SEC_INTERFACES, s))
    return [(tag, sec.bytes()) for tag, sec in out]


def frame(secs) -> bytes:
    """The body of an image (everything after the header): each section
    as its tag, its length and its payload.  The tags and payloads are
    written as given, so a test may frame wrong or misordered sections."""
    return b"".join(struct.pack("<II", tag & 0xFFFFFFFF, len(payload))
                    + bytes(payload) for tag, payload in secs)


def header(body: bytes, major: int = VERSION_MAJOR,
           minor: int = VERSION_MINOR) -> bytes:
    """The whole image for `body`: the 48-byte header (magic, version,
    size, reserved 0, SHA-256 of the body) followed by the body."""
    return (MAGIC + struct.pack("<HHII", major & 0xFFFF, minor & 0xFFFF,
                                HEADER_SIZE + len(body), 0)
            + hashlib.sha256(body).digest() + bytes(body))


def fix_digest(data: bytes) -> bytes:
    """`data` with the header's size and digest fields made right for its
    body (padded to a full header if shorter): for mutated images."""
    body = data[HEADER_SIZE:] if len(data) >= HEADER_SIZE else b""
    head = bytearray(data[:HEADER_SIZE].ljust(HEADER_SIZE, b"\0"))
    head[8:12] = struct.pack("<I", HEADER_SIZE + len(body))
    head[16:48] = hashlib.sha256(body).digest()
    return bytes(head) + bytes(body)


def write(img: Image, strict: bool = True, major: int = VERSION_MAJOR,
          minor: int = VERSION_MINOR) -> bytes:
    """The bytes of `img`, per lkm/image.md; sets `img.digest`."""
    data = header(frame(sections(img, strict)), major, minor)
    img.digest = data[16:HEADER_SIZE]
    return data


# ---------------------------------------------------------------- reading

class _In:
    """A reader of one payload (or of the whole file, for the framing).
    Every read past the end is an ImageError naming `where`, so a
    truncated or lying image fails with a message, never an IndexError."""

    def __init__(self, data: bytes, where: str):
        self.data = data
        self.pos = 0
        self.where = where

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ImageError(f"{self.where}: truncated at byte {self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self._take(1)[0]

    def u32(self):
        return struct.unpack("<I", self._take(4))[0]

    def opt32(self):
        """A u32 that may be NONE, read as None."""
        v = self.u32()
        return None if v == NONE else v

    def i32(self):
        return struct.unpack("<i", self._take(4))[0]

    def i64(self):
        return struct.unpack("<q", self._take(8))[0]

    def raw(self, n):
        return bytes(self._take(n))

    def count(self, item_size=1):
        """A u32 item count.  `item_size` is the fewest bytes one item
        takes, so a count the rest of the payload cannot hold is refused
        before the loop: a hostile count of 2^32 - 1 costs nothing."""
        n = self.u32()
        if n * item_size > len(self.data) - self.pos:
            raise ImageError(f"{self.where}: count {n} exceeds the payload")
        return n

    def done(self):
        """The payload must be consumed exactly (lkm/image.md)."""
        if self.pos != len(self.data):
            raise ImageError(f"{self.where}: {len(self.data) - self.pos} "
                             f"unread bytes at the end of the payload")


def read_image(data: bytes, check_digest: bool = True) -> Image:
    """Parse image bytes back into an `Image` (structure only: it checks the
    framing, not the verifier's typing rules).  Raises ImageError on a bad
    magic, another major version, a size or digest that does not match
    (check_digest=False skips the digest, for inspecting a corrupt
    file), a section out of order, or a payload read past or not to its
    end."""
    data = bytes(data)
    if len(data) < HEADER_SIZE or data[:4] != MAGIC:
        raise ImageError("not a K image (bad magic)")
    major, minor, size, _reserved = struct.unpack_from("<HHII", data, 4)
    if major != VERSION_MAJOR:
        raise ImageError(f"unsupported image version {major}.{minor}")
    if size != len(data):
        raise ImageError(f"header says {size} bytes, file has {len(data)}")
    digest = data[16:48]
    if check_digest and hashlib.sha256(data[48:]).digest() != digest:
        raise ImageError("digest mismatch: the image is corrupt")
    img = Image(digest=digest)
    top = _In(data, "image")
    top.pos = HEADER_SIZE
    for tag in range(1, 8):
        got = top.u32()
        if got != tag:
            raise ImageError(f"expected section {tag}, found tag {got}")
        length = top.u32()
        sec = _In(top.raw(length), f"section {tag}")
        _READERS[tag](sec, img)
        sec.done()
    if top.pos < len(data):             # (1.1) the optional interfaces
        got = top.u32()
        if got != SEC_INTERFACES:
            raise ImageError(f"expected section {SEC_INTERFACES}, found tag {got}")
        length = top.u32()
        sec = _In(top.raw(length), f"section {SEC_INTERFACES}")
        _read_interfaces(sec, img)
        sec.done()
    top.done()
    return img


# One reader per section tag.  The item sizes given to count() are the
# smallest encodings: a constant is a kind byte and at least a u32, a
# class five u32s, a function nine u32s (the counts of its lists included)
# plus the one code word every function needs, a handler five u32s, a
# line entry two.

def _read_strings(s: _In, img: Image):
    for _ in range(s.count(4)):
        img.strings.append(s.raw(s.u32()))


def _read_constants(s: _In, img: Image):
    for _ in range(s.count(5)):
        kind = s.u8()
        if kind == K_INT:
            img.constants.append((K_INT, s.i64()))
        elif kind == K_STR:
            img.constants.append((K_STR, s.u32()))
        else:
            raise ImageError(f"bad constant kind {kind}")


def _read_types(s: _In, img: Image):
    for _ in range(s.count(1)):
        kind = s.u8()
        if kind in (TY_INT, TY_BOOL, TY_ANY, TY_VOID):
            img.types.append((kind,))
        elif kind in (TY_CLASS, TY_ARRAY, TY_IFACE):
            img.types.append((kind, s.u32()))
        elif kind == TY_MAP:
            key = s.u32()
            img.types.append((kind, key, s.u32()))
        elif kind == TY_FUNC:
            result = s.u32()
            params = tuple(s.u32() for _ in range(s.count(4)))
            img.types.append((kind, result, params))
        else:
            raise ImageError(f"bad type kind {kind}")


def _read_classes(s: _In, img: Image):
    for _ in range(s.count(20)):
        name = s.u32()
        super_id = s.u32()
        fields = [(s.u32(), s.u32()) for _ in range(s.count(8))]
        ctor = s.u32()
        vtable = [s.u32() for _ in range(s.count(4))]
        img.classes.append(ClassRecord(name, super_id, fields, ctor, vtable))


def _read_globals(s: _In, img: Image):
    for _ in range(s.count(8)):
        img.globals.append((s.u32(), s.u32()))


def _read_functions(s: _In, img: Image):
    for _ in range(s.count(40)):
        f = Function(name=s.u32(), owner=s.opt32(), type=s.u32(),
                     flags=s.u32())
        f.regs = [s.u32() for _ in range(s.count(4))]
        f.code = [s.i32() for _ in range(s.count(4))]
        for _ in range(s.count(20)):
            f.handlers.append(Handler(s.u32(), s.u32(), s.u32(), s.opt32(),
                                      s.u32()))
        f.lines = [(s.u32(), s.u32()) for _ in range(s.count(8))]
        f.nics = s.u32()
        img.functions.append(f)


def _read_meta(s: _In, img: Image):
    img.source = s.u32()
    img.init = s.u32()


def _read_interfaces(s: _In, img: Image):
    for _ in range(s.count(12)):
        name = s.u32()
        ext = [s.u32() for _ in range(s.count(4))]
        methods = [(s.u32(), s.u32()) for _ in range(s.count(8))]
        img.interfaces.append(InterfaceRecord(name, ext, methods))
    for _ in range(s.count(8)):
        cid = s.u32()
        img.implements.append((cid, [s.u32() for _ in range(s.count(4))]))


_READERS = {SEC_STRINGS: _read_strings, SEC_CONSTANTS: _read_constants,
            SEC_TYPES: _read_types, SEC_CLASSES: _read_classes,
            SEC_GLOBALS: _read_globals, SEC_FUNCTIONS: _read_functions,
            SEC_META: _read_meta}


# ---------------------------------------------------------------- building

class ImageBuilder:
    """Interns the pools of an image and collects its records.

    Strings, constants and types are deduplicated (type equality is index
    equality).  Classes and functions may be reserved before they are
    filled in, so that code can refer to them forward.  A type's inner
    types are interned before it, so a type record only ever refers to
    types before it, as the loader requires.
    """

    def __init__(self, source_name: str = ""):
        self.image = Image()
        self._strings: dict[bytes, int] = {}
        self._constants: dict[tuple, int] = {}
        self._types: dict[tuple, int] = {}
        self.image.source = self.string(source_name)

    # pools
    def string(self, s: str | bytes) -> int:
        """Index of a string in the pool.  K strings are bytes; a str (a
        name) is encoded as Latin-1, so each character is one byte."""
        b = s.encode("latin-1") if isinstance(s, str) else bytes(s)
        idx = self._strings.get(b)
        if idx is None:
            idx = self._strings[b] = len(self.image.strings)
            self.image.strings.append(b)
        return idx

    def const_int(self, value: int) -> int:
        """Index of an int constant, wrapped to i64 first, so 2^63 and
        -2^63 are the same constant."""
        value = ((value + 2**63) % 2**64) - 2**63     # wrap to i64
        return self._const((K_INT, value))

    def const_str(self, s: str | bytes) -> int:
        return self._const((K_STR, self.string(s)))

    def _const(self, key):
        idx = self._constants.get(key)
        if idx is None:
            idx = self._constants[key] = len(self.image.constants)
            self.image.constants.append(key)
        return idx

    def type(self, record: tuple) -> int:
        """Index of a type record (see the module docstring); its inner
        types must already be indexes."""
        if record[0] == TY_FUNC:
            record = (TY_FUNC, record[1], tuple(record[2]))
        idx = self._types.get(record)
        if idx is None:
            idx = self._types[record] = len(self.image.types)
            self.image.types.append(record)
        return idx

    def t_int(self):
        return self.type((TY_INT,))

    def t_bool(self):
        return self.type((TY_BOOL,))

    def t_any(self):
        return self.type((TY_ANY,))

    def t_void(self):
        return self.type((TY_VOID,))

    def t_class(self, class_id: int):
        return self.type((TY_CLASS, class_id))

    def t_array(self, elem: int):
        return self.type((TY_ARRAY, elem))

    def t_func(self, result: int, params):
        return self.type((TY_FUNC, result, tuple(params)))

    def t_map(self, key: int, value: int):
        """(1.1) Map<K, V>, after Array<K> and Array<V>, which keys() and
        values() make and which the image must therefore hold too."""
        self.t_array(key)
        self.t_array(value)
        return self.type((TY_MAP, key, value))

    # tables
    def add_global(self, name: str, type_index: int) -> int:
        """Appends a global; its index is its position (declaration order)."""
        self.image.globals.append((self.string(name), type_index))
        return len(self.image.globals) - 1

    def reserve_function(self, name: str, owner: int | None, type_index: int,
                         flags: int) -> int:
        """Appends an empty function record and returns its index, so
        calls can name it before its code is emitted (fill it in through
        `function(index)`)."""
        self.image.functions.append(
            Function(self.string(name), owner, type_index, flags))
        return len(self.image.functions) - 1

    def function(self, index: int) -> Function:
        return self.image.functions[index]

    def set_class(self, class_id: int, name: str, super_id: int,
                  fields: list[tuple[str, int]], ctor: int,
                  vtable: list[int]):
        """Defines script class `class_id` (32 + its position).  Classes
        may be defined in any order; the slots of those not yet defined
        hold None until they are, and build() refuses a gap."""
        i = class_id - FIRST_SCRIPT_CLASS
        while len(self.image.classes) <= i:
            self.image.classes.append(None)
        self.image.classes[i] = ClassRecord(
            self.string(name), super_id,
            [(self.string(n), t) for n, t in fields], ctor, list(vtable))

    def set_init(self, index: int):
        self.image.init = index

    # (1.1) interfaces
    def add_interface(self, name: str) -> int:
        """Reserves the next interface (its index is its position); its
        extends list and methods come with set_interface()."""
        self.image.interfaces.append(InterfaceRecord(self.string(name), [], []))
        return len(self.image.interfaces) - 1

    def set_interface(self, index: int, extends: list[int],
                      methods: list[tuple[str, int]]):
        it = self.image.interfaces[index]
        it.extends = list(extends)
        it.methods = [(self.string(n), t) for n, t in methods]

    def t_iface(self, index: int):
        return self.type((TY_IFACE, index))

    def set_implements(self, class_id: int, ifaces: list[int]):
        """The interfaces class `class_id` names in its `implements` list."""
        if ifaces:
            self.image.implements.append((class_id, list(ifaces)))

    def build(self) -> bytes:
        """The image's bytes (strict write); ImageError if a class slot was
        never defined or a value does not fit its field."""
        if any(c is None for c in self.image.classes):
            raise ImageError("a class id was reserved but never defined")
        return write(self.image)
