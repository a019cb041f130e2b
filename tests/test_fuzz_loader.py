"""The loader's fuzz harness (build/fuzz-loader, clang with ASan and UBSan)
runs the images of the conformance programs once each, as `make fuzz-run`
starts with its seed corpus: undefined behaviour on a valid image would stop
a fuzzing campaign at its first inputs, before any mutation (it did, in
System.param with no parameters given: NULL + 0)."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ_LOADER = ROOT / "build" / "fuzz-loader"
# the conformance directories whose programs run under the harness: the
# 1.1 natives with host state (parameters, timers, wait queues, maps)
DIRS = ["params", "chardev", "maps", "lambdas"]


def test_fuzz_loader_runs_the_conformance_images(tmp_path):
    if not FUZZ_LOADER.exists():
        pytest.skip("build/fuzz-loader not built (make vm builds it with clang)")
    sources = [p for d in DIRS
               for p in sorted((ROOT / "tests" / "conformance" / d).glob("*.k"))]
    assert len(sources) > 20
    images = []
    for src in sources:
        out = tmp_path / (src.parent.name + "_" + src.stem + ".kbc")
        r = subprocess.run([sys.executable, "-m", "ktc.cli", "compile", str(src),
                            "-o", str(out)], capture_output=True, text=True,
                           cwd=ROOT)
        if r.returncode == 0:
            images.append(out)
    assert len(images) > 20
    r = subprocess.run([str(FUZZ_LOADER), *map(str, images)],
                       capture_output=True, text=True, cwd=tmp_path,
                       timeout=600, env={"UBSAN_OPTIONS": "print_stacktrace=1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "runtime error" not in r.stderr, r.stderr[-3000:]
    assert r.stderr.count("Executed ") == len(images)
