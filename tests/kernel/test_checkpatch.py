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


def test_companion_glue_is_clean(tmp_path):
    """The JIT companion's glue (lkm/kernel/companion/glue.c.in, rendered
    by ctjit for two images) passes checkpatch as `make kernel-lint` runs
    it: the companion is built on its own, with no header to share its
    externs from (AVOID_EXTERNS is ignored for it alone)."""
    if not CHECKPATCH.exists():
        pytest.skip(f"{CHECKPATCH} missing: run `make kernel-setup`")
    import ctjit
    glue = tmp_path / "kjit_lint_glue.c"
    glue.write_text(ctjit.companion_glue(
        "kjit_lint", [("first", bytes(32)), ("second", bytes(range(32)))]))
    proc = subprocess.run(["perl", str(CHECKPATCH), "--no-tree", "-f", "--terse",
                           "--quiet", "--ignore", "AVOID_EXTERNS", str(glue)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"checkpatch.pl on the glue:\n{proc.stdout}{proc.stderr}"
