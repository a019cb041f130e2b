"""Building JIT companion modules for an installed kernel.

ctjit produces the stubs and the companion-module directory (`write_kmod`:
the stub objects, a Kbuild and the glue); this module finds the kernel's
Kbuild tree and runs it there against konoha.ko's Module.symvers, which is
what `ktc load --jit` does before inserting the module.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
from typing import Callable

import ctjit


class KmodError(Exception):
    """No headers or symvers for the release, or Kbuild failed (the message
    carries its output)."""


def kernel_headers(release: str) -> pathlib.Path:
    """The Kbuild tree of an installed kernel release."""
    for d in (pathlib.Path("/lib/modules") / release / "build",
              pathlib.Path("/usr/src") / f"linux-headers-{release}"):
        if (d / "Makefile").exists():
            return d.resolve()
    raise KmodError(f"no kernel headers for {release} (install "
                    f"linux-headers-{release})")


def check_symvers(symvers: str, release: str) -> None:
    if not pathlib.Path(symvers).is_file():
        raise KmodError(f"{symvers}: no such file (konoha.ko's "
                        f"Module.symvers: build konoha.ko for {release} "
                        f"first, e.g. with `make load`)")


def build_kmod(directory: str, release: str, symvers: str,
               progress: Callable[[str], None] | None = None
               ) -> pathlib.Path:
    """Builds a companion-module directory (ctjit.write_kmod) with the
    kernel's own Kbuild against `release`, resolving konoha.ko's symbols
    from its Module.symvers; returns the .ko.  A build that fails or prints
    a warning raises KmodError with Kbuild's output."""
    d = pathlib.Path(directory).resolve()
    headers = kernel_headers(release)
    check_symvers(symvers, release)
    if progress:
        progress(f"building {d.name} for {release} ({headers})")
    cmd = ["make", "-s", "-C", str(headers), f"M={d}",
           f"KBUILD_EXTRA_SYMBOLS={pathlib.Path(symvers).resolve()}",
           "modules"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise KmodError(f"cannot run make: {e.strerror}") from None
    log = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or re.search(r"warning:|error:", log):
        raise KmodError(f"building the companion module in {d} for "
                        f"{release} failed:\n{log}")
    kos = sorted(d.glob("*.ko"))
    if len(kos) != 1:
        raise KmodError(f"{d}: Kbuild made {len(kos)} modules, not one")
    return kos[0]


def build_companion(image: bytes, release: str, symvers: str, base: str,
                    progress: Callable[[str], None] | None = None
                    ) -> pathlib.Path:
    """An image's kernel stubs for `release`, written as the companion
    directory BASE.kmod/ and built there; returns the module.  Checks the
    headers and symvers before compiling anything."""
    line = ctjit.kernel_line(release)
    kernel_headers(release)
    check_symvers(symvers, release)
    stubs = ctjit.compile_image(image, profile="kernel", kernel=line)
    b = pathlib.Path(base)
    d = ctjit.write_kmod(stubs, str(b) + ".kmod", b.name)
    return build_kmod(str(d), release, symvers, progress=progress)
