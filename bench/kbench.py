"""Helpers of the kernel benchmarks (bench/test_kfib.py,
bench/test_open_overhead.py): K images compiled on the host, and JIT
companion modules built from them for each kernel line, as
tests/kernel/test_kjit.py builds kjit_suite.ko (ctjit.write_kmod_batch,
tools/build_kmod.sh against konoha.ko's Module.symvers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from benchlib import ROOT

sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import qemu  # noqa: E402

OUT = qemu.BUILD / "kernel" / "bench"


def compile_k(source: str, name: str) -> bytes:
    """The image of K source `source`, written to build/kernel/bench/NAME.kbc."""
    sys.path.insert(0, str(ROOT))
    from frontend.compiler import compile_source
    data = compile_source(source, f"{name}.k")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.kbc").write_bytes(data)
    return data


def build_companion(module: str, images: dict[str, bytes]) -> dict[str, str]:
    """One companion module MODULE carrying the kernel-profile stubs of
    `images` (stem -> image), for every installed kernel line, copied to
    build/kernel/bench/LINE/MODULE.ko. Returns the guest files to add
    (ktest/bench/LINE/MODULE.ko -> host path relative to the repository)."""
    sys.path.insert(0, str(ROOT))
    import ctjit
    files = {}
    for line, kernel in sorted(qemu.installed_kernels().items()):
        items = [(ctjit.compile_image(data, profile="kernel", kernel=line), stem)
                 for stem, data in images.items()]
        src = OUT / line / f"{module}-src"
        shutil.rmtree(src, ignore_errors=True)
        ctjit.write_kmod_batch(items, str(src), module)
        symvers = qemu.BUILD / "kernel" / kernel.release / "konoha" / "Module.symvers"
        env = dict(os.environ, KMAKE_ARGS=f"KBUILD_EXTRA_SYMBOLS={symvers}")
        r = subprocess.run(["bash", str(ROOT / "tools" / "build_kmod.sh"), str(src),
                            module, kernel.release], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"building {module} for {kernel.release} failed:\n"
                                 f"{r.stdout}{r.stderr}")
        ko = OUT / line / f"{module}.ko"
        shutil.copy(qemu.BUILD / "kernel" / kernel.release / module / f"{module}.ko", ko)
        files[f"ktest/bench/{line}/{module}.ko"] = str(ko.relative_to(ROOT))
    return files
