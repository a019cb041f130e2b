"""Where the time of a chardev benchmark row goes, in the guest's kernel.

One QEMU boot of the chardev benchmark's guest (bench/test_chardev.py,
bench/kernel/bench_chardev.sh: the same modules, images and companions)
in which, instead of the timed rounds, perf samples the whole guest
(`perf record -a -g -e cpu-clock`: QEMU emulates no PMU, so the clock
samples) while one measurement of each chosen row runs, and
`perf report` prints its symbols, kernel and user, by self time or with
their callees (--children). The host's perf binary and its libraries are
copied into the initramfs (`apt-get install linux-perf`).

    python3 bench/kprofile.py [--kernel 6.1|6.12] [--children] [--limit PCT]
                              [--scale N] [--stat [--events E,...]]
                              [--offsets SYMBOL] [--callers SYMBOL]
                              [--host] [ROW...]

ROW is a measurement of the benchmark's guest: open:/dev/kref,
open:/dev/kchr_emptyj, rot4k:/dev/rot13j, pp:/dev/fifo0j,/dev/fifo1j ...
(default: each JIT row and its C peer). With --stat, perf stat counts
software events (context switches, migrations, task clock) of the whole
guest around each measurement instead. The samples are of the guest as
emulated: TCG's cost per guest instruction is not the hardware's, and a
sample lands where interrupts were enabled again, so time spent with them
off shows at _raw_spin_unlock_irqrestore and finish_task_switch.
--offsets SYMBOL also counts the samples of one function by offset: under
TCG a sample lands at the start of a translation block (a run of guest
instructions up to a branch), so the counts say which blocks of the
function's machine code the time goes to (objdump -d of the companion
module in build/kernel/bench/ shows them). --callers SYMBOL prints the
call chains that lead to one symbol's samples (which callers the time
with interrupts off comes from, say).

--host samples QEMU itself on the host instead (perf record of the boot,
the guest counting with --stat meanwhile): where emulation spends its
time, translated guest code ([JIT]) against QEMU's own helpers (looking
up translation blocks for indirect branches and returns, filling its
software TLB after each flush, as every context switch's CR3 load
causes). The boot's own samples are in the total: a large --scale makes
the rows dominate; one row a run keeps a JIT row apart from its C peer.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_chardev as chardev  # noqa: E402
from test_chardev import kbench, ktest, qemu  # noqa: E402

# perf's name of QEMU's emulation threads (the command, cut to 15 bytes).
QEMU_COMM = "qemu-system-x86"

DEFAULT_ROWS = ["open:/dev/kref", "open:/dev/kchr_emptyj",
                "rot4k:/dev/kref_rot13", "rot4k:/dev/rot13j",
                "pp:/dev/kref_fifo0,/dev/kref_fifo1", "pp:/dev/fifo0j,/dev/fifo1j"]

# The profiling case that stands for bench_chardev.sh's kt_rounds: one
# measurement per row (bench_chardev.sh's own `measure`), perf around it.
PROFILE_CASE = r"""kt_profile() {
	for m in $(cat /ktest/kprofile.rows); do
		echo "=== $m"
		perf record -q -e cpu-clock -F 4000 -a -g -o /tmp/p.data -- \
			sh -c ". /ktest/kprofile.measure; measure $m" || return 1
		perf report -i /tmp/p.data --stdio $PERF_SORT \
			--percent-limit $PERF_LIMIT -g none --sort sym -n 2>&1 |
			grep -v '^#' | grep -v '^$' | head -n 60
		if [ -n "$PERF_OFFSETS" ]; then
			echo "--- samples by offset in $PERF_OFFSETS"
			perf script -i /tmp/p.data -G -F ip,sym,symoff 2>/dev/null |
				grep -E "(^|[[:space:]])$PERF_OFFSETS\+" |
				sed 's/^[[:space:]]*//' | sort | uniq -c |
				sort -rn | head -n 80
		fi
		if [ -n "$PERF_CALLERS" ]; then
			echo "--- call chains of the samples in $PERF_CALLERS"
			perf report -i /tmp/p.data --stdio --no-children \
				--symbols=$PERF_CALLERS -g callee,0.5,2 \
				--sort sym -n 2>&1 | grep -v '^#' | grep -v '^$' |
				head -n 120
		fi
	done
}

"""

# With --stat: software counters of the whole guest around the same
# measurement (perf stat -a), the kernel's own counts (no PMU needed).
STAT_CASE = r"""kt_profile() {
	for m in $(cat /ktest/kprofile.rows); do
		echo "=== $m"
		perf stat -a -e $PERF_EVENTS -- \
			sh -c ". /ktest/kprofile.measure; measure $m" 2>&1 || return 1
	done
}

"""


def guest_script(children: bool, limit: float, scale: int,
                 events: str | None = None,
                 offsets: str = "", callers: str = "") -> tuple[Path, Path]:
    """The suite script (bench_chardev.sh with kt_rounds replaced by
    kt_profile) and the `measure` function it runs, with the round's counts
    times `scale`, written to build/kernel/bench/."""
    src = (chardev.BENCH_K / "bench_chardev.sh").read_text()
    start, end = src.index("kt_rounds() {"), src.index("kt_unload() {")
    measure_at = src.index("measure() {")
    measure_end = src.index("\n}\n", measure_at) + 3
    sort = "--children" if children else "--no-children"
    script = (src[:start] + f"PERF_SORT={sort}\nPERF_LIMIT={limit}\n"
              + f"PERF_EVENTS={events or ''}\n"
              + f"PERF_OFFSETS={offsets}\nPERF_CALLERS={callers}\n"
              + (STAT_CASE if events else PROFILE_CASE) + src[end:])
    out = kbench.OUT / "kprofile.sh"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(script)
    measure = kbench.OUT / "kprofile.measure"
    counts = "".join(f"{n}=$(({n} * {scale}))\n" for n in
                     ("OPEN_N", "ROT4K_N", "ROT64K_N", "PINGPONG_N"))
    measure.write_text(". /ktest/chardev.conf\n" + counts + src[measure_at:measure_end])
    return out, measure


def perf_files() -> dict[str, str]:
    """Guest path -> host path of the perf binary and its libraries."""
    perf = shutil.which("perf")
    if perf is None:
        sys.exit("kprofile: no perf on this machine (apt-get install linux-perf)")
    perf = os.path.realpath(perf)
    files = {"usr/bin/perf": perf}
    ldd = subprocess.run(["ldd", perf], capture_output=True, text=True,
                         check=True).stdout
    for line in ldd.splitlines():
        for word in line.split():
            if word.startswith("/"):
                files[word.lstrip("/")] = os.path.realpath(word)
    return files


def host_profile(args: argparse.Namespace) -> int:
    """--host: this script run again with --stat, under the host's perf;
    the report keeps QEMU's samples only."""
    if shutil.which("perf") is None:
        sys.exit("kprofile: no perf on this machine (apt-get install linux-perf)")
    data = kbench.OUT / "kprofile-host.data"
    data.parent.mkdir(parents=True, exist_ok=True)
    child = [sys.executable, str(Path(__file__).resolve()), "--stat",
             "--kernel", args.kernel, "--scale", str(args.scale),
             "--events", args.events, *args.rows]
    r = subprocess.run(["perf", "record", "-q", "-F", "999", "-g", "-o",
                        str(data), "--", *child])
    if r.returncode:
        return r.returncode
    for sort in ("dso", "sym"):
        rep = subprocess.run(
            ["perf", "report", "-i", str(data), "--stdio", "--no-children",
             "--comms", QEMU_COMM, "--percentage", "relative",
             "--sort", sort, "-g", "none",
             "--percent-limit", str(args.limit)],
            capture_output=True, text=True)
        print(f"--- QEMU's samples by {sort}")
        print("\n".join(line for line in rep.stdout.splitlines()
                        if line.strip() and not line.startswith("#")))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Profile chardev benchmark rows in the guest's kernel with perf.")
    ap.add_argument("rows", nargs="*", default=DEFAULT_ROWS, metavar="ROW",
                    help="KIND:DEVICE[,DEVICE2] as bench_chardev.sh measures it")
    ap.add_argument("--kernel", default="6.1", choices=list(qemu.KERNEL_LINES))
    ap.add_argument("--children", action="store_true",
                    help="sort by time including callees")
    ap.add_argument("--limit", type=float, default=0.5,
                    help="leave out symbols under this percentage (default 0.5)")
    ap.add_argument("--scale", type=int, default=10,
                    help="operations per measurement, times a round's (default 10)")
    ap.add_argument("--stat", action="store_true",
                    help="count software events (perf stat -a) instead of "
                         "sampling")
    ap.add_argument("--events", default="context-switches,cpu-migrations,"
                    "task-clock", help="the events of --stat (perf stat -e; "
                    "default %(default)s)")
    ap.add_argument("--offsets", default="", metavar="SYMBOL",
                    help="also count the samples in SYMBOL by offset (the "
                    "hot instructions of a function, e.g. kjit_f3; match "
                    "them with objdump or ctjit's assembly)")
    ap.add_argument("--callers", default="", metavar="SYMBOL",
                    help="also print the call chains that lead to SYMBOL's "
                    "samples (e.g. _raw_spin_unlock_irqrestore, where the "
                    "time with interrupts off is counted)")
    ap.add_argument("--host", action="store_true",
                    help="sample QEMU on the host (perf record) while the "
                    "guest runs the rows, and print QEMU's symbols")
    args = ap.parse_args()
    if args.host:
        if args.callers or args.offsets or args.children:
            ap.error("--host reports QEMU's symbols only: no --callers, "
                     "--offsets or --children")
        return host_profile(args)
    # --offsets goes into a regular expression; --callers may name a
    # compiler's clone (finish_task_switch.isra.0)
    if not all(c.isalnum() or c == "_" for c in args.offsets):
        ap.error(f"--offsets: not a symbol name: {args.offsets!r}")
    if not all(c.isalnum() or c in "_." for c in args.callers):
        ap.error(f"--callers: not a symbol name: {args.callers!r}")
    if not all(c.isalnum() or c in "-_,:" for c in args.events):
        ap.error(f"--events: not a list of perf events: {args.events!r}")
    script, measure = guest_script(args.children, args.limit, args.scale,
                                   args.events if args.stat else None,
                                   args.offsets, args.callers)
    rows = kbench.OUT / "kprofile.rows"
    rows.write_text("\n".join(args.rows) + "\n")

    class ProfileSuite(ktest.GuestSuite):
        @property
        def script(self) -> Path:
            return script

    files = dict(chardev.SUITE.files)
    files.update({"ktest/kprofile.rows": str(rows),
                  "ktest/kprofile.measure": str(measure)})
    files.update(perf_files())
    chardev.SUITE.files = files     # prepare() adds the images there
    suite = ProfileSuite("kprofile", modules=chardev.SUITE.modules, files=files,
                         build_hint=chardev.SUITE.build_hint,
                         prepare=chardev.prepare, timeout=1800)
    print(f"kprofile: booting {args.kernel} (QEMU, software emulation)...",
          file=sys.stderr, flush=True)
    r = suite.boot(args.kernel)
    failed = [c for c in r.cases if not c.ok]
    for c in r.cases:
        if c.name == "profile":
            print("\n".join(c.diagnostics))
    if failed or not r.completed:
        for c in failed:
            print(f"kprofile: case {c.name} failed: " + " | ".join(c.diagnostics[-6:]),
                  file=sys.stderr)
        if not r.completed:
            print(r.console_tail(20), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
