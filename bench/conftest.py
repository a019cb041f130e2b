"""Fixtures of the benchmark suites and the session-finish hook that prints
their tables.

The suites are run by `make bench` (python3 -m pytest bench/ --benchmark-only).
Each benchmark records its median in a session-wide table (benchlib.TABLES);
at the end of the session the tables are printed and written to
bench/results/<suite>.md.
"""

import sys
import sysconfig
import time
from pathlib import Path

import pytest

from benchlib import KVM, RESULTS_DIR, ROOT, TABLES, machine, render


@pytest.fixture(scope="session")
def ktc():
    """The command that runs ktc: the installed console script when there is
    one (what users run), else the module from the work tree."""
    script = Path(sysconfig.get_path("scripts")) / "ktc"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ktc.cli"]


@pytest.fixture(scope="session")
def kvm():
    """build/kvm, the userspace VM (`make vm` builds it)."""
    if not KVM.exists():
        pytest.fail(f"{KVM} is missing: run `make vm` first")
    return KVM


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """At the end of the session: print each table and write it to
    bench/results/<suite>.md."""
    if not TABLES:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for name, tab in TABLES.items():
        lines = render(tab)
        terminalreporter.write_sep("=", f"{name}: {tab.title}")
        for line in lines[2:]:
            terminalreporter.write_line(line)
        out = RESULTS_DIR / f"{name}.md"
        header = [f"# Benchmark `{name}`", "",
                  f"Run {stamp} on {machine()}.", ""]
        out.write_text("\n".join(header + lines) + "\n")
        terminalreporter.write_line(f"(written to {out.relative_to(ROOT)})")
