"""The VM a test needs: build/kvm (ktc.host.find_vm builds it on first
use), or the test is skipped saying why."""
from __future__ import annotations

import pytest

from ktc import host


def need_vm() -> None:
    """Skip the calling test when there is no VM and none can be built."""
    try:
        host.find_vm(announce=lambda m: None)
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")
