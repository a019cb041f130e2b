"""build/kvm as the garbage collector's worst case: compiled with
-DKVM_GC_STRESS (a collection before every allocation) under ASan and
UBSan, so that an object left unrooted or untraced is freed and then
read, and the sanitizer says where."""
from __future__ import annotations

import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE = ROOT / "lkm" / "core"
USER = ROOT / "lkm" / "user"


def build(dest: pathlib.Path) -> pathlib.Path | None:
    """The stress VM at dest, or None when there is no C compiler."""
    cc = shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    srcs = [str(p) for p in sorted(CORE.glob("*.c"))]
    srcs += [str(p) for p in sorted(USER.glob("*.c"))
             if p.name != "fuzz_loader.c"]
    subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-DKVM_GC_STRESS",
                    "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", f"-I{CORE}", f"-I{USER}",
                    *srcs, "-o", str(dest)], check=True, timeout=600)
    return dest
