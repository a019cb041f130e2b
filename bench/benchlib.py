"""Helpers shared by the benchmark suites: the session's result tables,
running peers, and rendering the tables as Markdown."""

import os
import platform
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
KVM = ROOT / "build" / "kvm"

# The K interpreter's row, the reference of the ratio column.
K_LABEL = "K (interpreter)"


class Table:
    """Rows of one suite, in the order the benchmarks were declared."""

    def __init__(self, title, note=""):
        self.title = title
        self.note = note
        self.rows = {}  # label -> dict(status, median, min, version)
        # The row the ratio column divides by, and the unit of the times
        # (open_overhead: the C driver, in microseconds).
        self.ref = K_LABEL
        self.unit = "s"

    def declare(self, label):
        self.rows.setdefault(label, {"status": "not run"})

    def set(self, label, **fields):
        self.rows.setdefault(label, {}).update(fields)


TABLES = {}


def table(name, title, note=""):
    if name not in TABLES:
        TABLES[name] = Table(title, note)
    return TABLES[name]


def run_checked(cmd, cwd=None, timeout=600):
    """Run a command, fail the test with its stderr if it fails, and return
    its stdout."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, cmd))}` exited {proc.returncode}:\n"
                    f"{proc.stderr.strip()}")
    return proc.stdout


def link_stubs(obj, so):
    """The shared object build/kvm loads with --jit, from the object
    `ktc compile --jit` wrote."""
    run_checked(["cc", "-shared", "-nostdlib", "-o", str(so), str(obj)])


def median_of(benchmark):
    """Median and minimum seconds of a finished benchmark (None, None when
    benchmarking is disabled)."""
    stats = getattr(benchmark, "stats", None)
    if not stats:
        return None, None
    return stats.stats.median, stats.stats.min


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cpus, Linux {platform.release()}"


_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _fmt(seconds, unit="s"):
    if seconds is None:
        return "-"
    return f"{seconds:.4f}" if unit == "s" else f"{seconds * _UNITS[unit]:.2f}"


def render(tab):
    """The table as Markdown lines; the ratio is each row's median divided by
    the reference row's median (tab.ref, by default the K interpreter;
    above 1: slower than it; below 1: faster)."""
    ref_label = getattr(tab, "ref", K_LABEL)
    unit = getattr(tab, "unit", "s")
    ref = tab.rows.get(ref_label, {}).get("median")
    lines = [f"### {tab.title}", ""]
    if tab.note:
        lines += [tab.note, ""]
    has_ratio = ref_label in tab.rows
    head = ["peer", f"median {unit}", f"min {unit}"]
    if has_ratio:
        head.append(f"time / {ref_label}")
    head += ["status", "version"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for label, row in tab.rows.items():
        median = row.get("median")
        cells = [label, _fmt(median, unit), _fmt(row.get("min"), unit)]
        if has_ratio:
            if median is not None and ref:
                cells.append(f"{median / ref:.2f}")
            else:
                cells.append("n/a")
        cells += [row.get("status", ""), row.get("version", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
