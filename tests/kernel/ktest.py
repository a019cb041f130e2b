"""Guest suites as pytest tests: one QEMU boot per suite per kernel line,
each KTAP result of the guest one pytest test.

A test module declares its suite and takes the generated tests:

    SUITE = ktest.GuestSuite("ref_device", modules=["ref/kref_dev.ko"])
    test_boot, test_case, test_kernel_log = SUITE.tests()

- `test_boot[LINE]`: the guest ran the suite to its end and printed a KTAP
  plan that matches its cases (the boot itself happens in the first test
  that needs it and is shared by all the suite's tests on that kernel);
- `test_case[LINE:CASE]`: one per `kt_CASE()` function of the guest suite
  (tests/kernel/guest/SUITE.sh), in order; a failure shows what the case
  printed in the guest;
- `test_kernel_log[LINE]`: the kernel log of the run has no Oops, BUG:,
  WARNING:, scheduling while atomic, Call Trace (nor panics, GPFs, nor a
  report of KASAN, KFENCE, UBSAN, lockdep, DEBUG_ATOMIC_SLEEP or DEBUG_LIST:
  qemu.KERNEL_LOG_ERRORS).

LINE is 6.1 and 6.12, Debian's kernels, or what KTEST_KERNELS names: `make
test-debug` runs the suites on the debug kernel only (KTEST_KERNELS=debug,
built by tools/debug_kernel.sh), where boots take longer and every timeout
is scaled (qemu.Kernel.timeout_scale).

The case list is read from the guest script at collection time, so `-k`,
`--collect-only` and the like never boot anything. A kernel line that is
not installed, or a module not built, skips the suite's tests with the
command that fixes it; with KTEST_REQUIRE=1 (as `make test` sets it) they
fail instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

import qemu

# (suite name, kernel line) -> BootResult, for the whole session; also read
# by conftest.py's terminal summary.
BOOTS: dict[tuple[str, str], qemu.BootResult] = {}


def _unavailable(message: str, required: bool = True):
    if required and os.environ.get("KTEST_REQUIRE") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class GuestSuite:
    name: str                                   # tests/kernel/guest/NAME.sh
    modules: list[str] = field(default_factory=list)
    """Modules built for each kernel: paths under build/kernel/RELEASE/."""
    kernel_modules: list[str] = field(default_factory=list)
    """The kernel's own modules to load first (dependencies resolved)."""
    files: dict[str, str] = field(default_factory=dict)
    """Guest path -> host path (relative to the repository) to copy in."""
    build_hint: str = "make kmod-ref"
    timeout: float | None = None
    prepare: Callable[[], None] | None = None
    """Run once before the first boot (e.g. compile the images it needs)."""
    required: bool = True
    """False: a missing module skips the suite even with KTEST_REQUIRE=1."""

    _prepared: bool = field(default=False, init=False, repr=False)

    @property
    def script(self) -> Path:
        return qemu.GUEST_DIR / f"{self.name}.sh"

    @property
    def cases(self) -> list[str]:
        names = qemu.suite_cases(self.script)
        if self.kernel_modules:
            names.insert(0, "kernel_modules")
        return names

    def boot(self, line: str) -> qemu.BootResult:
        key = (self.name, line)
        if key in BOOTS:
            return BOOTS[key]
        kernel = qemu.installed_kernels().get(line)
        if kernel is None:
            if line == qemu.DEBUG_LINE:
                _unavailable("the debug kernel is not built: run `make debug-kernel`")
            _unavailable(f"kernel {line} is not installed: run `make kernel-setup`")
        modules = [kernel.build_dir / m for m in self.modules]
        missing = [str(p) for p in modules if not p.exists()]
        if missing:
            hint = "make test-debug" if kernel.debug else self.build_hint
            _unavailable(f"not built: {', '.join(missing)}: run `{hint}`",
                         self.required)
        if self.prepare is not None and not self._prepared:
            self.prepare()
            self._prepared = True
        files = {g: qemu.REPO / h for g, h in self.files.items()}
        missing = [str(p) for p in files.values() if not p.exists()]
        if missing:
            _unavailable(f"not built: {', '.join(missing)}: run `{self.build_hint}`")
        result = qemu.boot_suite(kernel, self.script, modules=modules,
                                 kernel_modules=self.kernel_modules, files=files,
                                 timeout=self.timeout)
        BOOTS[key] = result
        return result

    def tests(self):
        lines = list(qemu.KERNEL_LINES)
        params = [pytest.param(line, case, id=f"{line}:{case}")
                  for line in lines for case in self.cases]
        suite = self

        @pytest.mark.kernel
        @pytest.mark.parametrize("line", lines)
        def test_boot(line):
            r = suite.boot(line)
            where = (f"{suite.name} on {r.kernel.release} ({r.accel}, "
                     f"{r.seconds:.1f} s)")
            if r.timed_out:
                pytest.fail(f"{where}: QEMU killed after the timeout; console tail:\n"
                            f"{r.console_tail()}", pytrace=False)
            if not r.completed:
                pytest.fail(f"{where}: the guest did not reach the end of /init "
                            f"(QEMU exit {r.returncode}); console tail:\n"
                            f"{r.console_tail()}", pytrace=False)
            expected = suite.cases
            got = [c.name for c in r.cases]
            assert r.plan == len(expected), \
                f"{where}: KTAP plan 1..{r.plan}, expected 1..{len(expected)}"
            assert got == expected, f"{where}: KTAP cases {got}, expected {expected}"

        @pytest.mark.kernel
        @pytest.mark.parametrize(("line", "case"), params)
        def test_case(line, case):
            r = suite.boot(line)
            c = r.case(case)
            where = f"guest case `{case}` of {suite.name} on {r.kernel.release}"
            if c is None:
                # The first case without a result is the one the run died in:
                # show how it ended; the others only point at test_boot.
                first_missing = suite.cases[len(r.cases)] if len(r.cases) < len(
                    suite.cases) else None
                tail = (f"; console tail:\n{r.console_tail(30)}"
                        if case == first_missing else f" (see test_boot[{line}])")
                pytest.fail(f"{where}: no KTAP result, the run stopped before it"
                            f"{tail}", pytrace=False)
            output = "\n".join(f"    {d}" for d in c.diagnostics) or "    (nothing)"
            if c.skip:
                pytest.skip(f"{where}: {c.directive}")
            if not c.ok:
                pytest.fail(f"{where}: not ok {c.number} {c.name} # {c.directive}\n"
                            f"  guest output:\n{output}", pytrace=False)

        @pytest.mark.kernel
        @pytest.mark.parametrize("line", lines)
        def test_kernel_log(line):
            r = suite.boot(line)
            errors = r.kernel_log_errors()
            if errors:
                log = r.kernel.build_dir / "ktest" / f"{suite.name}.console.log"
                shown = "\n".join(f"    {e}" for e in errors[:40])
                pytest.fail(f"kernel log of {suite.name} on {r.kernel.release} shows "
                            f"errors (whole log: {log}):\n{shown}", pytrace=False)

        return test_boot, test_case, test_kernel_log
