"""tests/wait_host.c, the minimal host of the VM that tests/test_wait_host.py
and tests/test_file_reuse.py drive: built against build/libkvm.so, then
run on a compiled script, one line of output per step (see its header)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
LIBKVM = ROOT / "build" / "libkvm.so"


def build(directory: Path) -> Callable[..., list[str]]:
    """Builds wait_host in `directory` (skipping the test without a C
    compiler or build/libkvm.so) and returns run(source, limits, *steps):
    the stdout lines of wait_host on `source`, compiled, with its device
    `d`; `limits` is CB_BUDGET[,HEAP]."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc or not LIBKVM.exists():
        pytest.skip("needs a C compiler and build/libkvm.so (make vm)")
    exe = directory / "wait_host"
    subprocess.run(
        [cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror",
         f"-I{ROOT / 'lkm/core'}", f"-I{ROOT / 'lkm/user'}", "-o", str(exe),
         str(ROOT / "tests" / "wait_host.c"), str(LIBKVM),
         f"-Wl,-rpath,{LIBKVM.parent}"], check=True)

    def run(source: str, limits: int | str, *steps: str) -> list[str]:
        k = directory / "script.k"
        k.write_text(source)
        kbc = directory / "script.kbc"
        subprocess.run([sys.executable, "-m", "ktc.cli", "compile", str(k),
                        "-o", str(kbc)], check=True, cwd=ROOT)
        r = subprocess.run([str(exe), str(kbc), "d", str(limits), *steps],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()
    return run
