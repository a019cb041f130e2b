"""`ktc ioctl /dev/NAME CMD [ARG|@HEX]`: one ioctl(2) on a device node.

CMD is the request number, decimal or 0x hex, an unsigned 32-bit value
(the encoding of _IOC: direction, size, type, number).  ARG is the third
argument: an integer, passed as the long argument (default 0), or @HEX,
a buffer holding those bytes whose address is the argument; after the
call the buffer, as the driver left it, is printed in hex.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as errno_mod
import fcntl
import os
from dataclasses import dataclass

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, ULONG_MAX = -(1 << 63), (1 << 64) - 1
BUFFER_MAX = 1 << 16


class ArgError(ValueError):
    """A CMD or ARG that cannot be used: the message says why."""


@dataclass
class Request:
    """One parsed `ktc ioctl` call: the request number and either a long
    argument or a buffer whose address is passed."""
    cmd: int
    value: int = 0                   # the long argument, without a buffer
    buffer: bytearray | None = None  # @HEX: the argument is its address


def parse_cmd(text: str) -> int:
    """A request number: decimal or 0x hex, 0 to 2^32 - 1."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") \
            else int(text, 10)
    except ValueError:
        raise ArgError(f"CMD `{text}` is not a decimal or 0x hex "
                       f"number") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise ArgError(f"CMD `{text}` is not an unsigned 32-bit number")
    return value


def parse_arg(text: str | None) -> tuple[int, bytearray | None]:
    """The argument: (long value, None), or (0, buffer) for @HEX."""
    if text is None:
        return 0, None
    if text.startswith("@"):
        digits = text[1:]
        if not digits:
            raise ArgError("@HEX needs at least one byte, e.g. @00000000")
        if len(digits) % 2 or any(c not in "0123456789abcdefABCDEF"
                                  for c in digits):
            raise ArgError(f"`{text}`: @ must be followed by an even "
                           f"number of hex digits")
        if len(digits) // 2 > BUFFER_MAX:
            raise ArgError(f"`{text[:16]}...`: at most {BUFFER_MAX} bytes")
        return 0, bytearray.fromhex(digits)
    try:
        value = int(text, 0)
    except ValueError:
        raise ArgError(f"ARG `{text}` is not an integer nor @HEX") from None
    if not LONG_MIN <= value <= ULONG_MAX:
        raise ArgError(f"ARG `{text}` does not fit in 64 bits")
    return value, None


def parse(cmd: str, arg: str | None) -> Request:
    """The Request of `ktc ioctl NODE CMD [ARG]`; ArgError names the bad
    word."""
    value, buffer = parse_arg(arg)
    return Request(parse_cmd(cmd), value, buffer)


def open_node(path: str) -> int:
    """The node opened read-write, or read-only when writing is refused."""
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        if e.errno not in (errno_mod.EACCES, errno_mod.EPERM,
                           errno_mod.EROFS):
            raise
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _ioctl_long(fd: int, cmd: int, value: int) -> int:
    """ioctl(fd, cmd, value) with a 64-bit argument: fcntl.ioctl takes only
    a C int, libc's ioctl is called directly for the rest."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong)
    libc.ioctl.restype = ctypes.c_int
    r = libc.ioctl(fd, cmd, value & ULONG_MAX)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def call(fd: int, req: Request) -> int:
    """Makes the call; returns its result (the buffer, if any, is updated
    in place); OSError with the errno on failure."""
    if req.buffer is not None:
        # mutate=True: the kernel writes into the bytearray itself, and the
        # call's int result is returned
        return fcntl.ioctl(fd, req.cmd, req.buffer, True)
    # fcntl.ioctl passes an int argument as a C int: wider values go through
    # libc
    if INT_MIN <= req.value <= INT_MAX:
        return fcntl.ioctl(fd, req.cmd, req.value)
    return _ioctl_long(fd, req.cmd, req.value)


def errno_name(code: int) -> str:
    """The symbolic name of errno `code` (`EINVAL`), or `E<n>` for one Python does
    not name."""
    return errno_mod.errorcode.get(code, f"E{code}")
