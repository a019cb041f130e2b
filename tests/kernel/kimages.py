"""Compiling the K scripts of the kernel suites on the host: each suite
lists the scripts it needs (tests/kernel/scripts/NAME.k) and gets them as
build/kernel/images/NAME.kbc, put in the guest as /ktest/images/NAME.kbc."""

from __future__ import annotations

import sys

import qemu

SCRIPTS = qemu.Path(__file__).resolve().parent / "scripts"
IMAGES = qemu.BUILD / "kernel" / "images"


def compile_scripts(names: list[str]) -> None:
    sys.path.insert(0, str(qemu.REPO))
    from frontend.compiler import CompileError, compile_source
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = SCRIPTS / f"{name}.k"
        try:
            image = compile_source(source.read_text(), source.name)
        except CompileError as e:
            raise AssertionError(f"ktc cannot compile {source}: {e}") from e
        (IMAGES / f"{name}.kbc").write_bytes(image)


def guest_files(names: list[str]) -> dict[str, str]:
    """Guest path -> host path (relative to the repository) of the images."""
    return {f"ktest/images/{n}.kbc": f"build/kernel/images/{n}.kbc" for n in names}
