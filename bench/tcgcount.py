"""How much work QEMU's software emulation (TCG) does for one device
operation of a K script, counted rather than timed.

The chardev benchmark (bench/test_chardev.py) times K and C drivers in a
guest under TCG, on a shared machine: a change of a few percent in K's
callback path drowns in the noise of its medians.  This tool runs the
same lkm/core code konoha.ko runs (kdev_open, kdev_write, kdev_read and
the VM under them, from build/libkvm.so), with the script's userspace
JIT stubs, in bench/tcgcount/cbhost.c, under QEMU user-mode emulation
(qemu-x86_64: the same translator, without the kernel around it), and
counts the host instructions QEMU executes with valgrind.  Two runs of
ROUNDS1 and ROUNDS2 rounds give the count per round (start-up and
translation cancel out; the end's kvm_destroy frees what the rounds
left, so a round's garbage is counted with its allocation); the count
repeats to the instruction.

    python3 bench/tcgcount.py FILE.k DEVICE [--mode rw|open] [--bytes N]
                              [--interp] [--rounds R1,R2]

--mode rw (default): one open file, a round writes N bytes (default 8)
and reads them back; --mode open: a round is open+release.  --interp
runs without JIT stubs.  A callback must not wait (cbhost's waits time
out at once).  Needs `apt-get install qemu-user valgrind`.

    python3 bench/tcgcount.py examples/rot13.k rot13 --bytes 4096
    python3 bench/tcgcount.py bench/kernel/kchr_empty.k kchr_empty --mode open
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBKVM = ROOT / "build" / "libkvm.so"
HOST_C = ROOT / "bench" / "tcgcount" / "cbhost.c"


def build_host(tmp: Path) -> Path:
    exe = tmp / "cbhost"
    subprocess.run(
        ["gcc", "-O2", "-std=gnu11", "-Wall", "-Wextra",
         "-Wno-unused-parameter", "-Werror", f"-I{ROOT / 'lkm/core'}",
         f"-I{ROOT / 'lkm/user'}", "-o", str(exe), str(HOST_C),
         str(LIBKVM), "-ldl", f"-Wl,-rpath,{LIBKVM.parent}"], check=True)
    return exe


def count(cmd: list[str]) -> int:
    """Host instructions of QEMU running cmd (valgrind's total)."""
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", "--smc-check=all",
         "--callgrind-out-file=/dev/null", "qemu-x86_64", *cmd],
        capture_output=True, text=True, cwd=ROOT)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode or not m:
        sys.exit(f"tcgcount: {' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Host instructions QEMU's TCG executes per device "
        "operation of a K script (build/libkvm.so under qemu-x86_64, "
        "counted by valgrind).")
    ap.add_argument("source", metavar="FILE.k")
    ap.add_argument("device")
    ap.add_argument("--mode", choices=["rw", "open"], default="rw",
                    help="rw: write+read on one open file; open: "
                    "open+release (default rw)")
    ap.add_argument("--bytes", type=int, default=8,
                    help="bytes written and read a round (default 8)")
    ap.add_argument("--interp", action="store_true",
                    help="no JIT stubs: the interpreter")
    ap.add_argument("--rounds", default="20,220",
                    help="the two runs' rounds (default 20,220)")
    args = ap.parse_args()
    r1, r2 = (int(x) for x in args.rounds.split(","))
    if not 0 <= r1 < r2 or not 0 <= args.bytes <= 65536:
        ap.error("need 0 <= R1 < R2 and 0 <= bytes <= 65536")
    for tool in ("qemu-x86_64", "valgrind", "gcc"):
        if not shutil.which(tool):
            sys.exit(f"tcgcount: needs {tool} (apt-get install qemu-user "
                     f"valgrind)")
    if not LIBKVM.exists():
        sys.exit("tcgcount: needs build/libkvm.so (make vm)")
    import ctjit
    with tempfile.TemporaryDirectory(prefix="tcgcount-") as t:
        tmp = Path(t)
        kbc = tmp / "s.kbc"
        subprocess.run([sys.executable, "-m", "ktc.cli", "compile",
                        args.source, "-o", str(kbc)], check=True)
        stubs = "-"
        if not args.interp:
            obj, so = tmp / "s.jit.o", tmp / "s.jit.so"
            obj.write_bytes(ctjit.compile_image(kbc.read_bytes()).obj)
            ctjit.link_shared(str(obj), str(so))
            stubs = str(so)
        exe = build_host(tmp)
        cmd = [str(exe), str(kbc), args.device, stubs]
        tail = [str(args.bytes), args.mode]
        a = count(cmd + [str(r1)] + tail)
        b = count(cmd + [str(r2)] + tail)
    what = (f"write+read of {args.bytes} bytes" if args.mode == "rw"
            else "open+release")
    print(f"{args.source} /dev/{args.device} {what}, "
          f"{'interpreter' if args.interp else 'JIT'}: "
          f"{(b - a) / (r2 - r1):.0f} host instructions a round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
