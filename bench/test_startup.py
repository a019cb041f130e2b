"""Start-up: the wall time of `python3 -m ktc.cli run examples/hello.k`, a
whole process
(Python start, imports, the parser's tables, compiling, the VM's run),
with the start of two interpreters doing nothing as peers.

    STARTUP_ROUNDS  timed runs per row (default 10)

The goal is under 0.25 s. As in the other suites it is reported in the
table (bench/results/startup.md), not asserted. The parser's tables come
from the user's cache directory (frontend/parser.py); one untimed run
before the rounds makes sure they are there, as after any first run.
"""

import os
import shutil
import subprocess
import sys

import pytest

from benchlib import ROOT, median_of, table

ROUNDS = int(os.environ.get("STARTUP_ROUNDS", "10"))
GOAL_SECONDS = 0.25
KTC_LABEL = "ktc run examples/hello.k"

TABLE = table("startup", f"Wall time of one process, median of {ROUNDS} runs",
              f"Goal: `ktc run examples/hello.k` under {GOAL_SECONDS:g} s. "
              "The peers start an interpreter that does nothing.")
TABLE.ref = KTC_LABEL

# label, command, how to get the version
ROWS = [
    (KTC_LABEL, None, None),
    ("python3 -c pass", [sys.executable, "-c", "pass"], [sys.executable, "--version"]),
    ("lua5.4 -e ''", ["lua5.4", "-e", ""], ["lua5.4", "-v"]),
]
for _label, _, _ in ROWS:
    TABLE.declare(_label)


def _version(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError:
        return ""
    return (proc.stdout or proc.stderr).strip().splitlines()[0]


@pytest.mark.parametrize("label,cmd,version_cmd", ROWS, ids=[r[0] for r in ROWS])
def test_startup(benchmark, label, cmd, version_cmd):
    TABLE.set(label, status="failed")
    expected = None
    if cmd is None:
        # The work tree's ktc, as `python3 -m ktc.cli` run from the top of
        # the tree (not an installed console script, which may be another
        # copy).
        cmd = [sys.executable, "-m", "ktc.cli", "run", "examples/hello.k"]
        expected = "fib(10) = 55\n"
        version = "python " + sys.version.split()[0]
    else:
        if shutil.which(cmd[0]) is None:
            TABLE.set(label, status="skipped: not installed")
            pytest.skip(f"{cmd[0]} is not installed")
        version = _version(version_cmd)

    def run():
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n"
                                 + proc.stderr[-2000:])
        return proc.stdout

    out = run()     # untimed: fills the parser's cache if it is empty
    if expected is not None:
        assert out.endswith(expected), out
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    median, fastest = median_of(benchmark)
    status = "ok"
    if label == KTC_LABEL and median is not None:
        status = f"ok, goal {'met' if median < GOAL_SECONDS else 'MISSED'}"
    TABLE.set(label, median=median, min=fastest, status=status, version=version)
