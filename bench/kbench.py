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

import pytest

from benchlib import ROOT

sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import qemu  # noqa: E402

OUT = qemu.BUILD / "kernel" / "bench"

# pytest-benchmark times each round with guest_clock, which a benchmark
# advances by what the guest measured for that round (advance_clock).
_NOW = [0.0]


def guest_clock() -> float:
    return _NOW[0]


def advance_clock(seconds: float) -> None:
    _NOW[0] += seconds


def checked_boot(suite, line: str, what: str):
    """Boot `suite` on kernel `line` (once; ktest caches the result) and
    fail the benchmark unless every guest case ran and passed and the
    kernel log is clean."""
    r = suite.boot(line)
    failed = [c for c in r.cases if not c.ok]
    if r.timed_out or not r.completed or failed or len(r.cases) != len(suite.cases):
        detail = "\n".join(f"  {c.name}: " + " | ".join(c.diagnostics[-6:]) for c in failed)
        pytest.fail(f"{what} boot on {r.kernel.release} failed "
                    f"({len(r.cases)}/{len(suite.cases)} cases reported):\n{detail}\n"
                    f"{r.console_tail(20)}", pytrace=False)
    errors = r.kernel_log_errors()
    if errors:
        pytest.fail(f"{what} boot on {r.kernel.release}: kernel log errors:\n  "
                    + "\n  ".join(errors[:20]), pytrace=False)
    return r


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
