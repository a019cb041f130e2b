"""The Are We Fast Yet benchmarks of bench/awfy/: their list, their default
inner iteration counts, and the commands that run them in K and in Lua.

K scripts are single files without arguments, so the K program of a
benchmark is k/som.k (the collection library), k/NAME.k and k/harness.k
with NAME, ITERATIONS and INNER substituted. Lua runs
`lua/harness.lua NAME ITERATIONS INNER`.

Used by bench/test_awfy.py (timing) and tests/test_awfy.py (correctness),
and runnable by hand:

    python3 bench/awfy/awfy.py Richards 1 10 > /tmp/Richards.k
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KVM = ROOT / "build" / "kvm"
# Far above what any run executes: the whole run is the script's init, one
# call for the budget (the default of `ktc run` is 2^32 instructions).
K_BUDGET = 10**15
K_DIR = HERE / "k"
LUA_DIR = HERE / "lua"
LUA_HARNESS = LUA_DIR / "harness.lua"


@dataclass(frozen=True)
class Bench:
    name: str
    inner: int       # AWFY's default inner iterations
    iterations: int  # outer iterations of a timed run: 1-2 s of CPU on
    #                  the K interpreter (Havlak: one iteration, ~1.8 s)
    tiny: int        # inner iterations of the quick correctness test


# DeltaBlue and Havlak take the inner count as their problem size, and
# Havlak's verifyResult knows only 1, 15, 150, 1500 and 15000.
BENCHMARKS = [
    Bench("Bounce", 1500, 3, 2),
    Bench("List", 1500, 3, 2),
    Bench("Permute", 1000, 2, 2),
    Bench("Queens", 1000, 3, 2),
    Bench("Sieve", 3000, 3, 2),
    Bench("Storage", 1000, 2, 2),
    Bench("Towers", 600, 2, 2),
    Bench("Richards", 100, 1, 1),
    Bench("DeltaBlue", 12000, 4, 20),
    Bench("Havlak", 1500, 1, 1),
    Bench("Json", 100, 5, 2),
]
BY_NAME = {b.name: b for b in BENCHMARKS}


def k_source(name: str, iterations: int, inner: int) -> str:
    """The K program running benchmark `name`."""
    harness = (K_DIR / "harness.k").read_text()
    for key, value in (("@NAME@", name), ("@ITERATIONS@", str(iterations)),
                       ("@INNER@", str(inner))):
        assert key in harness, f"k/harness.k lacks {key}"
        harness = harness.replace(key, value)
    parts = [(K_DIR / "som.k").read_text(), (K_DIR / f"{name}.k").read_text(),
             harness]
    return "\n".join(parts)


def k_command(name: str, iterations: int, inner: int, workdir: Path,
              jit: bool = False, ktc: list[str] | None = None) -> list[str]:
    """Compiles benchmark `name` into workdir (for the JIT also its native
    stubs, linked into a shared object) and returns the build/kvm command
    that runs it: compile time stays out of what the caller times."""
    ktc = ktc or [sys.executable, "-m", "ktc.cli"]
    tag = f"{name}-{iterations}x{inner}" + ("-jit" if jit else "")
    src = workdir / f"{tag}.k"
    src.write_text(k_source(name, iterations, inner))
    image = workdir / f"{tag}.kbc"
    _run([*ktc, "compile", *(["--jit"] if jit else []), str(src),
          "-o", str(image)])
    cmd = [str(KVM), "--budget", str(K_BUDGET)]
    if jit:
        so = workdir / f"{tag}.jit.so"
        _run(["cc", "-shared", "-nostdlib", "-o", str(so),
              str(workdir / f"{tag}.jit.o")])
        cmd += ["--jit", str(so)]
    return cmd + [str(image)]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n"
                           f"{proc.stderr.strip()}")


# The subset that runs in the kernel under QEMU (TCG: tens of times slower
# than the host), with inner counts that keep a call to a fraction of a
# second there. Havlak is left out: one run is ~2 s on the host, and it
# needs more than the kernel's default heap quota. The ioctl command
# number of a benchmark is KERNEL_CMD_BASE plus its index in this list
# (the VFS answers some small numbers itself, FIGETBSZ = 2 among them).
KERNEL_SUBSET = [
    ("Bounce", 20), ("List", 20), ("Permute", 20), ("Queens", 20),
    ("Sieve", 50), ("Storage", 10), ("Towers", 10), ("Richards", 1),
    ("DeltaBlue", 300), ("Json", 2),
]
KERNEL_CMD_BASE = 100


def kernel_source(device: str) -> str:
    """One K script holding the kernel subset, registering /dev/DEVICE:
    ioctl(fd, KERNEL_CMD_BASE + N, inner) runs benchmark N of KERNEL_SUBSET
    with that inner count and returns 1 when every inner iteration
    verified, 0 else."""
    names = [n for n, _ in KERNEL_SUBSET]
    arms = "\n".join(
        f"        if (cmd == {KERNEL_CMD_BASE + i}) bench = new {n}();"
        for i, n in enumerate(names))
    device_k = f"""
// The kernel harness: one device running the benchmarks by ioctl.
class AwfyDevice extends Device {{
    AwfyDevice() {{ mode = 0666; }}
    int ioctl(int cmd, int arg) {{
        Benchmark bench = null;
{arms}
        if (bench == null)
            throw new DeviceError(Errno.ENOTTY, "no benchmark " + cmd);
        return bench.innerBenchmarkLoop(arg) ? 1 : 0;
    }}
}}
Device.register("{device}", new AwfyDevice());
"""
    parts = [(K_DIR / "som.k").read_text()]
    parts += [(K_DIR / f"{n}.k").read_text() for n in names]
    return "\n".join(parts + [device_k])


def lua_args(name: str, iterations: int, inner: int) -> list[str]:
    """Arguments after the Lua interpreter (and its flags)."""
    return [str(LUA_HARNESS), name, str(iterations), str(inner)]


def verified(name: str, output: str) -> bool:
    """Whether a run's output ends with its harness's verifyResult line."""
    lines = output.strip().splitlines()
    return bool(lines) and lines[-1] == f"{name}: verifyResult ok"


if __name__ == "__main__":
    bench_name = sys.argv[1]
    its = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    inn = int(sys.argv[3]) if len(sys.argv) > 3 else BY_NAME[bench_name].inner
    sys.stdout.write(k_source(bench_name, its, inn))
