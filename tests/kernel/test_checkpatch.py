"""The kernel glue (every C file under lkm/kernel/) passes the kernel's
checkpatch.pl --no-tree -f without errors or warnings. checkpatch.pl is
fetched into build/kernel/checkpatch/ by `make kernel-setup`."""

import os
import subprocess

import pytest

import qemu

CHECKPATCH = qemu.BUILD / "kernel" / "checkpatch" / "checkpatch.pl"
GLUE = sorted(p for p in (qemu.REPO / "lkm" / "kernel").rglob("*")
              if p.suffix in (".c", ".h"))


@pytest.mark.parametrize("path", GLUE, ids=lambda p: str(p.relative_to(qemu.REPO)))
def test_checkpatch_clean(path):
    if not CHECKPATCH.exists():
        message = f"{CHECKPATCH} missing: run `make kernel-setup`"
        if os.environ.get("KTEST_REQUIRE") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    proc = subprocess.run(["perl", str(CHECKPATCH), "--no-tree", "-f", "--terse",
                           "--quiet", str(path)], capture_output=True, text=True,
                          timeout=120)
    problems = [line for line in proc.stdout.splitlines()
                if any(k in line for k in ("ERROR:", "WARNING:", "CHECK:"))]
    assert proc.returncode == 0 and not problems, \
        f"checkpatch.pl on {path}:\n{proc.stdout}{proc.stderr}"
