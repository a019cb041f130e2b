"""The ioctl interface of /dev/konoha (lkm/kernel/konoha_uapi.h).

The formats below mirror the header's structs, which have no implicit
padding; tests/test_ktc_load.py compiles a C probe against the header and
checks the sizes and ioctl numbers computed here.  Every call opens a
fresh fd of the device: konoha.ko keeps no per-fd state for these.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import fcntl
import os
import re
import struct

DEVICE = "/dev/konoha"
NAME_LEN = 32                        # script names, NUL included
MSG_LEN = 65536                      # the verifier's / init's message buffer

# Field by field: image address and length, budget, heap, depth, flags,
# message buffer address, its length, the full message length (out), name.
LOAD_FMT = "<QQQQIIQII32s"           # struct konoha_load (88 bytes)
# struct konoha_load_params: a konoha_load, then the parameters' address,
# their length and a reserved 0 (104 bytes)
LOAD_PARAMS_FMT = LOAD_FMT + "QII"
UNLOAD_FMT = "<32s"                  # struct konoha_unload
# name, devices (space-separated), heap used and limit, calls, failed
# calls, device count, open files
INFO_FMT = "<32s128sQQQQII"          # struct konoha_script_info (200 bytes)
LIST_FMT = "<QIIq"                   # struct konoha_list (24 bytes)

LOAD_JIT = 0x1                       # konoha_load.flags: stubs required

IOC_MAGIC = 0xB7
_IOC_WRITE, _IOC_READ = 1, 2


def ioc(direction: int, nr: int, fmt: str) -> int:
    """_IOC(dir, KONOHA_IOC_MAGIC, nr, sizeof(struct)) of asm-generic."""
    return (direction << 30) | (struct.calcsize(fmt) << 16) | \
        (IOC_MAGIC << 8) | nr


IOC_LOAD = ioc(_IOC_READ | _IOC_WRITE, 1, LOAD_FMT)
IOC_UNLOAD = ioc(_IOC_WRITE, 2, UNLOAD_FMT)
IOC_LIST = ioc(_IOC_READ | _IOC_WRITE, 3, LIST_FMT)
IOC_LOAD_PARAMS = ioc(_IOC_READ | _IOC_WRITE, 4, LOAD_PARAMS_FMT)

# Load-time parameters (System.param, the language reference §9.3), as
# lkm/core/params.c checks them: at most PARAMS_MAX, names of 1-31 of
# [a-z0-9_] given once each, values of at most PARAM_VALUE_MAX bytes.
PARAMS_MAX = 32
PARAM_VALUE_MAX = 1024
_PARAM_NAME = re.compile(rb"[a-z0-9_]{1,31}")


def params_blob(params) -> bytes:
    """The parameters ("NAME=VALUE" texts) as konoha.ko and `kvm --param`
    take them: each entry ended by a NUL byte.  ValueError with the reason
    (the VM's words) when they break the rules; a value with a NUL byte
    cannot be passed."""
    seen = set()
    out = []
    for i, text in enumerate(params, 1):
        raw = text.encode() if isinstance(text, str) else bytes(text)
        if i > PARAMS_MAX:
            raise ValueError(f"more than {PARAMS_MAX} parameters")
        name, eq, value = raw.partition(b"=")
        if not eq or b"\0" in raw:
            raise ValueError(f"parameter {i}: not NAME=VALUE")
        if not _PARAM_NAME.fullmatch(name):
            raise ValueError(f"parameter {i}: bad name (1-31 of a-z, 0-9, _)")
        if len(value) > PARAM_VALUE_MAX:
            raise ValueError(f"parameter {name.decode()}: value longer than "
                             f"{PARAM_VALUE_MAX} bytes")
        if name in seen:
            raise ValueError(f"parameter {name.decode()} given twice")
        seen.add(name)
        out.append(raw + b"\0")
    return b"".join(out)


class DeviceError(Exception):
    """The device cannot be used at all (missing, or not root): a user
    error, reported as is."""


class LoadError(OSError):
    """KONOHA_IOC_LOAD failed; `message` is what the kernel wrote in the
    message buffer (the verifier's or the init's report, maybe "")."""

    def __init__(self, code: int, message: str):
        super().__init__(code, os.strerror(code))
        self.message = message


def cstr(b: bytes) -> str:
    """A NUL-terminated C string field as text (bytes as Latin-1)."""
    return b.split(b"\0", 1)[0].decode("latin-1")


def open_device(device: str = DEVICE) -> int:
    """An fd of the device; DeviceError, with what to do, if it cannot be
    opened."""
    try:
        return os.open(device, os.O_RDWR)
    except FileNotFoundError:
        raise DeviceError(f"{device} not found: is konoha.ko loaded? "
                          f"(`make load` as root)") from None
    except PermissionError as e:
        raise DeviceError(f"{device}: {e.strerror}: loading scripts needs "
                          f"root") from None
    except OSError as e:
        raise DeviceError(f"{device}: {e.strerror}") from None


def _ioctl(device: str, request: int, buf: bytearray, what: str) -> None:
    """The ioctl on a fresh fd; EPERM is a DeviceError, any other failure
    an OSError for the caller."""
    fd = open_device(device)
    try:
        fcntl.ioctl(fd, request, buf, True)
    except PermissionError as e:
        if e.errno == _errno.EPERM:
            raise DeviceError(f"{what}: {e.strerror}: needs CAP_SYS_ADMIN "
                              f"(root)") from None
        raise
    finally:
        os.close(fd)


def load(image: bytes, *, name: str = "", budget: int = 0, heap: int = 0,
         depth: int = 0, flags: int = 0, device: str = DEVICE,
         params: bytes = b"") -> str:
    """Loads an image (0 limits: the module's defaults); returns the name
    konoha.ko gave the script, or raises LoadError.  params: the blob of
    params_blob(); with any, the load goes through KONOHA_IOC_LOAD_PARAMS
    (a module without it answers ENOTTY), else KONOHA_IOC_LOAD."""
    if len(name.encode()) >= NAME_LEN:
        raise ValueError(f"script name: at most {NAME_LEN - 1} bytes")
    # The kernel reads the image and writes the message through the
    # addresses in the struct: both buffers must stay alive (referenced
    # here) until the ioctl has returned.
    img = ctypes.create_string_buffer(image, len(image))
    msg = ctypes.create_string_buffer(MSG_LEN)
    fields = (ctypes.addressof(img), len(image), budget, heap, depth,
              flags, ctypes.addressof(msg), MSG_LEN, 0, name.encode())
    if params:
        par = ctypes.create_string_buffer(params, len(params))
        buf = bytearray(struct.pack(LOAD_PARAMS_FMT, *fields,
                                    ctypes.addressof(par), len(params), 0))
        request = IOC_LOAD_PARAMS
    else:
        buf = bytearray(struct.pack(LOAD_FMT, *fields))
        request = IOC_LOAD
    try:
        _ioctl(device, request, buf, "load")
    except DeviceError:
        raise
    except OSError as e:
        raise LoadError(e.errno, msg.value.decode("latin-1")) from None
    return cstr(struct.unpack_from(LOAD_FMT, bytes(buf))[-1])


def unload(name: str, device: str = DEVICE) -> None:
    """Removes a script and its devices; OSError ENOENT (no such script)
    or EBUSY (a device of it is open) on failure."""
    raw = name.encode()
    if not raw or len(raw) >= NAME_LEN:
        raise ValueError(f"bad script name `{name}`")
    _ioctl(device, IOC_UNLOAD, bytearray(struct.pack(UNLOAD_FMT, raw)),
           "unload")


def list_scripts(device: str = DEVICE, max_scripts: int = 256):
    """(scripts, live_allocs): one dict per loaded script, oldest first,
    and the module's live allocation count (KONOHA_IOC_LIST)."""
    size = struct.calcsize(INFO_FMT)
    out = ctypes.create_string_buffer(size * max_scripts)
    buf = bytearray(struct.pack(LIST_FMT, ctypes.addressof(out),
                                max_scripts, 0, 0))
    _ioctl(device, IOC_LIST, buf, "list")
    _, _, count, live = struct.unpack(LIST_FMT, bytes(buf))
    # count is every loaded script; the kernel filled at most max_scripts
    scripts = []
    for i in range(min(count, max_scripts)):
        (name, devs, used, limit, calls, failed, _ndev,
         nopen) = struct.unpack_from(INFO_FMT, out.raw, i * size)
        scripts.append(dict(name=cstr(name), devices=cstr(devs).split(),
                            heap_used=used, heap_limit=limit, calls=calls,
                            failed_calls=failed, open_files=nopen))
    return scripts, live
