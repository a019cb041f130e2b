"""pytest glue for the kernel suites (see ktest.py): a summary of the QEMU
boots at the end of the run, with their times, the first lines of any
kernel log errors (KASAN, UBSAN, lockdep reports...) and the open/close
loop figures the guests printed."""

import ktest


def pytest_terminal_summary(terminalreporter):
    if not ktest.BOOTS:
        return
    tr = terminalreporter
    tr.section("kernel boots (QEMU)")
    for (suite, line), r in sorted(ktest.BOOTS.items()):
        passed = sum(1 for c in r.cases if c.ok and not c.skip)
        tr.write_line(f"{suite:<16} {line:<5} {r.kernel.release:<24} {r.accel} "
                      f"{r.seconds:6.1f} s  {passed}/{r.plan or 0} ok"
                      + ("  TIMED OUT" if r.timed_out else ""))
        # What the kernel reported (KASAN, UBSAN, lockdep, ...): the
        # first lines, the whole log is in build/kernel/RELEASE/ktest/.
        errors = r.kernel_log_errors()
        if errors:
            tr.write_line(f"    kernel log: {len(errors)} error line(s), first:")
            for e in errors[:4]:
                tr.write_line(f"      {e.strip()}")
        for c in r.cases:
            for d in c.diagnostics:
                if d.startswith("open_close "):
                    tr.write_line(f"    {c.name}: {d}")
