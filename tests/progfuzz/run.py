"""Runs generated programs on the oracles and compares them with the model.

    python3 -m tests.progfuzz.run --seed S --count N [--oracles LIST] [-j J]

Each program is compiled once (in-process `compile_source`, the compiler
of `ktc compile`) and run on every oracle:

    interp          build/kvm
    asan            build/kvm-asan (AddressSanitizer + UBSan)
    jit-LEVEL       build/kvm --jit with stubs of ctjit level LEVEL:
                    subroutine, branch, call, tiny, direct, all

stdout, exit status and the stderr report must equal the model's.  A
divergence is written to build/progfuzz/failures/SEED-ORACLE/ (the program,
expected and actual outputs) and summed up on one line.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAIL_DIR = ROOT / "build" / "progfuzz" / "failures"
JIT_LEVELS = {"subroutine": "subroutine", "branch": "+branch",
              "call": "+call", "tiny": "+tiny", "direct": "+direct",
              "all": "all"}
ALL_ORACLES = ["interp", "asan"] + [f"jit-{k}" for k in JIT_LEVELS]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.progfuzz.gen import Case, generate  # noqa: E402


class Result:
    def __init__(self, oracle, status, out, err, note=""):
        self.oracle = oracle
        self.status = status
        self.out = out
        self.err = err
        self.note = note


def compile_case(case: Case) -> bytes | str:
    """The image, or the compiler's diagnostics (a str)."""
    from ktc import cli
    from frontend.compiler import CompileError, compile_source
    try:
        return compile_source(case.text, "p.k")
    except CompileError as e:
        return cli.render_diagnostics(getattr(e, "diagnostics", []),
                                      case.text) or str(e)


def run_oracle(case: Case, image: bytes, oracle: str, tmp: str) -> Result:
    img = os.path.join(tmp, "p.kbc")
    if not os.path.exists(img):
        with open(img, "wb") as f:
            f.write(image)
    binary = str(ROOT / "build" / ("kvm-asan" if oracle == "asan"
                                   else "kvm"))
    extra = []
    if oracle.startswith("jit-"):
        import ctjit
        level = JIT_LEVELS[oracle[4:]]
        so = os.path.join(tmp, f"s-{oracle}.so")
        try:
            stubs = ctjit.compile_image(image, ct=level)
            obj = os.path.join(tmp, f"s-{oracle}.o")
            with open(obj, "wb") as f:
                f.write(stubs.obj)
            ctjit.link_shared(obj, so)
        except Exception as e:      # a JIT crash is a divergence too
            return Result(oracle, -1, "", f"JIT failed: {e!r}\n")
        extra = ["--jit", so]
    try:
        r = subprocess.run([binary, *case.args, *extra, img], cwd=tmp,
                           capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return Result(oracle, -2, "", "timeout (120 s)\n")
    return Result(oracle, r.returncode, r.stdout.decode("latin-1"),
                  r.stderr.decode("latin-1"))


def diverges(case: Case, r: Result) -> str | None:
    if r.status != case.status:
        return f"status {r.status}, expected {case.status}"
    if r.out != case.out:
        return "stdout differs"
    if r.err != case.err:
        return "stderr differs"
    return None


def first_diff(a: str, b: str) -> str:
    al, bl = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(al, bl)):
        if x != y:
            return f"line {i + 1}: expected {x[:80]!r}, got {y[:80]!r}"
    return f"expected {len(al)} lines, got {len(bl)}"


def save_failure(case: Case, r: Result, why: str) -> pathlib.Path:
    d = FAIL_DIR / f"{case.seed}-{r.oracle}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "p.k").write_text(case.text, encoding="latin-1")
    (d / "expected.out").write_text(case.out, encoding="latin-1")
    (d / "expected.err").write_text(case.err, encoding="latin-1")
    (d / "actual.out").write_text(r.out, encoding="latin-1")
    (d / "actual.err").write_text(r.err, encoding="latin-1")
    (d / "info.txt").write_text(
        f"seed {case.seed}\noracle {r.oracle}\nargs {' '.join(case.args)}\n"
        f"expected status {case.status}\nactual status {r.status}\n{why}\n"
        f"notes: {'; '.join(case.notes)}\n", encoding="latin-1")
    return d


def check_seed(seed: int, oracles: list[str], save=True):
    """(case, [(oracle, why, detail)], ran oracles)."""
    case = generate(seed)
    image = compile_case(case)
    bad = []
    if isinstance(image, str):
        r = Result("ktc", 1, "", image)
        if save:
            save_failure(case, r, "compile error")
        return case, [("ktc", "compile error", image.splitlines()[0]
                       if image else "")], []
    with tempfile.TemporaryDirectory(prefix="progfuzz-") as tmp:
        for o in oracles:
            r = run_oracle(case, image, o, tmp)
            why = diverges(case, r)
            if why:
                detail = first_diff(case.out, r.out) if "stdout" in why \
                    else first_diff(case.err, r.err)
                if save:
                    save_failure(case, r, why)
                bad.append((o, why, detail))
    return case, bad, oracles


def oracles_for(seed: int, spec: str) -> list[str]:
    """`spread`: interp and asan, and one JIT level in turn."""
    if spec == "spread":
        levels = list(JIT_LEVELS)
        return ["interp", "asan", "jit-" + levels[seed % len(levels)]]
    if spec == "all":
        return list(ALL_ORACLES)
    return [o.strip() for o in spec.split(",") if o.strip()]


def _work(args):
    seed, spec = args
    try:
        case, bad, ran = check_seed(seed, oracles_for(seed, spec))
        return seed, bad, ran, case.notes, None
    except Exception as e:          # generator trouble: report, go on
        return seed, [], [], [], repr(e)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--oracles", default="spread",
                    help="comma list of " + ", ".join(ALL_ORACLES) +
                    "; `spread` (interp, asan, one JIT level per program) "
                    "or `all`")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--print", action="store_true",
                    help="print the program of --seed and its expected "
                    "output, run nothing")
    a = ap.parse_args(argv)
    if a.print:
        c = generate(a.seed)
        sys.stdout.write(c.text)
        print(f"// args: {' '.join(c.args)}  status: {c.status}")
        print("// --- stdout\n" + c.out + "// --- stderr\n" + c.err)
        return 0
    per_oracle: dict[str, int] = {}
    fails = 0
    errors = 0
    t0 = time.time()
    seeds = [(s, a.oracles) for s in range(a.seed, a.seed + a.count)]
    with cf.ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for n, (seed, bad, ran, notes, err) in enumerate(
                ex.map(_work, seeds), start=1):
            for o in ran:
                per_oracle[o] = per_oracle.get(o, 0) + 1
            if err:
                errors += 1
                print(f"seed {seed}: generator error {err}", flush=True)
            for o, why, detail in bad:
                fails += 1
                print(f"DIVERGENCE seed {seed} {o}: {why}: {detail} "
                      f"-> {FAIL_DIR}/{seed}-{o}/", flush=True)
            if n % 25 == 0 or n == a.count:
                print(f"[{n}/{a.count}] {time.time() - t0:.0f}s, "
                      f"{fails} divergences", flush=True)
    print("runs per oracle: " + ", ".join(
        f"{k} {v}" for k, v in sorted(per_oracle.items())))
    print(f"{a.count} programs, {fails} divergences, "
          f"{errors} generator errors")
    return 1 if fails or errors else 0


if __name__ == "__main__":
    sys.exit(main())
