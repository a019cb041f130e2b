"""Smoke test of the build: `make vm` produced the VM and `ktc` is installed."""

import shutil
import subprocess
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ktc_path():
    """The installed console script: on PATH, or beside the running Python
    (pyenv and venvs put it there)."""
    found = shutil.which("ktc")
    if found:
        return found
    return str(Path(sysconfig.get_path("scripts")) / "ktc")


def test_make_vm_built_the_vm():
    kvm = ROOT / "build" / "kvm"
    assert kvm.is_file(), "build/kvm is missing: run `make vm`"
    assert kvm.stat().st_mode & 0o111, "build/kvm is not executable"


def test_ktc_help_exits_0():
    proc = subprocess.run([ktc_path(), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "ktc --help printed nothing"
