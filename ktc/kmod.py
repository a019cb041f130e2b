"""Building JIT companion modules for an installed kernel.

ctjit produces the stubs and the companion-module directory (`write_kmod`:
the stub objects, a Kbuild and the glue); this module builds it in place
with tools/build_kmod.sh against konoha.ko's Module.symvers, which is what
`ktc load --jit` does before inserting the module.  The script is the
project's one module builder (the Makefile's, the tests' and the
benchmarks' too) and tools/kernels.sh the one place that finds a kernel's
headers, so every module is held to the same rules: any warning, objtool's
included, fails the build.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from typing import Callable

import ctjit

TOOLS = pathlib.Path(__file__).resolve().parent.parent / "tools"


class KmodError(Exception):
    """No headers or symvers for the release, or Kbuild failed (the message
    carries its output)."""


def _run(cmd: list[str], env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess:
    """Runs cmd, capturing its output; KmodError if it cannot be started."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError as e:
        raise KmodError(f"cannot run {cmd[0]}: {e.strerror}") from None


def kernel_headers(release: str) -> pathlib.Path:
    """The Kbuild tree of an installed kernel release, as
    `tools/kernels.sh headers` finds it."""
    r = _run(["bash", str(TOOLS / "kernels.sh"), "headers", release])
    if r.returncode != 0 or not r.stdout.strip():
        raise KmodError(r.stderr.strip().removeprefix("error: ") or
                        f"no kernel headers for {release}")
    return pathlib.Path(r.stdout.strip())


def check_symvers(symvers: str, release: str) -> None:
    """KmodError, saying how to make it, unless konoha.ko's Module.symvers
    exists (without it the companion's kop_* symbols cannot resolve)."""
    if not pathlib.Path(symvers).is_file():
        raise KmodError(f"{symvers}: no such file (konoha.ko's "
                        f"Module.symvers: build konoha.ko for {release} "
                        f"first, e.g. with `make load`)")


def build_kmod(directory: str, release: str, symvers: str,
               progress: Callable[[str], None] | None = None
               ) -> pathlib.Path:
    """Builds a companion-module directory (ctjit.write_kmod) in place with
    tools/build_kmod.sh for `release`, resolving konoha.ko's symbols from
    its Module.symvers; returns the .ko.  A build that fails or prints a
    warning raises KmodError with Kbuild's output."""
    d = pathlib.Path(directory).resolve()
    headers = kernel_headers(release)
    check_symvers(symvers, release)
    if progress:
        progress(f"building {d.name} for {release} ({headers})")
    symvers_path = pathlib.Path(symvers).resolve()
    if any(c.isspace() for c in str(symvers_path)):
        # build_kmod.sh splits KMAKE_ARGS on blanks, as Kbuild would
        raise KmodError(f"{symvers_path}: Kbuild cannot take a "
                        f"Module.symvers path with blanks")
    env = dict(os.environ,
               KMAKE_ARGS=f"KBUILD_EXTRA_SYMBOLS={symvers_path}")
    r = _run(["bash", str(TOOLS / "build_kmod.sh"), "-o", str(d), str(d),
              d.name, release], env=env)
    if r.returncode != 0:
        log = (r.stdout + r.stderr).strip()
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
