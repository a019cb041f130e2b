"""Robustness of the loader and VM against malformed images.

Valid images (the kasm examples, the verifier tests' programs, and the
conformance scripts when the compiler can build them) are mutated
thousands of times: bit flips, byte and word sets, truncations,
insertions, section shuffles, random payloads behind a valid header.
Most mutants get their size field and SHA-256 recomputed, so they reach
the section parsers and the verifier instead of stopping at "bad digest".
Every mutant runs in a fresh `build/kvm-asan` process under small limits
and must either be refused (exit 3, `error: invalid image: ...`) or run to
a clean exit (0 or 2), with nothing from the sanitizers.  Seeded and
deterministic: a failure names the seed and mutation to replay.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.tools import kasm

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("K_MUTATION_SEED", "20240611"))
COUNT = int(os.environ.get("K_MUTATIONS", "3000"))
LIMITS = ["--budget", "100000", "--heap", "10000000"]

SANITIZER_MARKS = ("runtime error:", "AddressSanitizer", "LeakSanitizer",
                   "UndefinedBehaviorSanitizer")


def build_asan_vm(outdir: Path) -> Path:
    """The same as `make build/kvm-asan`, for a tree where it is missing."""
    core = ROOT / "lkm" / "core"
    user = ROOT / "lkm" / "user"
    srcs = sorted(core.glob("*.c")) + sorted(
        p for p in user.glob("*.c") if p.name != "fuzz_loader.c")
    exe = outdir / "kvm-asan"
    cc = shutil.which("gcc") or shutil.which("clang")
    subprocess.run([cc, "-std=gnu11", "-O1", "-g",
                    "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
                    f"-I{core}", f"-I{user}", *map(str, srcs), "-o",
                    str(exe)], check=True)
    return exe


@pytest.fixture(scope="module")
def kvm_asan(tmp_path_factory):
    exe = ROOT / "build" / "kvm-asan"
    if exe.is_file():
        return exe
    return build_asan_vm(tmp_path_factory.mktemp("kvm"))


def seed_images() -> list[bytes]:
    seeds = []
    for src in sorted((ROOT / "tests" / "tools" / "examples")
                      .glob("*.kasm")):
        seeds.append(kasm.assemble(src.read_text()))
    try:
        from tests import test_verifier as tv
        for name in sorted(tv.VALID_CASES):
            body, regs = tv.VALID_CASES[name]
            m = tv.module(body, regs=regs, extra=tv.DEVICE_CLASS)
            if name == "dynamic":
                tv.func(m, "t").nics = 2
            seeds.append(m.to_bytes())
    except Exception:       # the verifier tests are optional seeds
        pass
    try:
        from frontend.compiler import compile_source
    except Exception:
        compile_source = None
    if compile_source is not None:
        for src in sorted((ROOT / "tests" / "conformance").rglob("*.k"))[:60]:
            try:
                seeds.append(compile_source(src.read_text(), str(src)))
            except Exception:
                continue
    return seeds


INTERESTING_U32 = [0, 1, 2, 7, 31, 32, 33, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF,
                   0x10000, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE,
                   0xFFFFFFFF]


def mutate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One mutant and a short description of what was done."""
    b = bytearray(data)
    kind = rng.randrange(10)
    body_lo = 48 if len(b) > 48 else 0
    if kind == 0:                   # bit flips in the body
        n = rng.randint(1, 8)
        for _ in range(n):
            i = rng.randrange(body_lo, len(b))
            b[i] ^= 1 << rng.randrange(8)
        what = f"flip{n}"
    elif kind == 1:                 # byte sets
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(body_lo, len(b))
            b[i] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        what = "byteset"
    elif kind in (2, 3):            # an aligned u32 set to an interesting value
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(body_lo, max(body_lo + 1, len(b) - 3)) & ~3
            v = rng.choice(INTERESTING_U32 + [rng.randrange(1 << 32)])
            b[i:i + 4] = struct.pack("<I", v)
        what = "u32set"
    elif kind == 4:                 # truncation
        b = b[:rng.randrange(len(b))]
        what = "truncate"
    elif kind == 5:                 # insertion
        i = rng.randrange(body_lo, len(b) + 1)
        ins = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        b[i:i] = ins
        what = "insert"
    elif kind == 6:                 # deletion
        i = rng.randrange(body_lo, len(b))
        del b[i:i + rng.randint(1, 16)]
        what = "delete"
    elif kind == 7:                 # copy a chunk over another place
        n = rng.randint(4, 64)
        src = rng.randrange(body_lo, len(b))
        dst = rng.randrange(body_lo, len(b))
        b[dst:dst + n] = b[src:src + n]
        what = "chunk"
    elif kind == 8:                 # random bytes behind a valid header
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        return kasm.header(body), "random"
    else:                           # random section payloads, right tags
        secs = []
        for tag in range(1, 8):
            n = rng.randint(0, 40)
            p = struct.pack("<I", rng.choice([0, 1, 2, 3])) + bytes(
                rng.randrange(256) for _ in range(n))
            secs.append(struct.pack("<II", tag, len(p)) + p)
        return kasm.header(b"".join(secs)), "sections"
    if rng.random() < 0.9:
        return kasm.fix_digest(bytes(b)), what + "+digest"
    return bytes(b), what


def run_one(exe: Path, data: bytes, tmpdir: str, idx: int):
    path = os.path.join(tmpdir, f"m{idx}.kbc")
    with open(path, "wb") as f:
        f.write(data)
    env = dict(os.environ,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:"
                             "exitcode=98")
    try:
        proc = subprocess.run([str(exe), *LIMITS, path], capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL, env=env)
        rc, err = proc.returncode, proc.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, err = -1, "timeout"
    os.unlink(path)
    return rc, err


def verdict(rc: int, err: str) -> str | None:
    """None when the outcome is acceptable, else why not."""
    if any(mark in err for mark in SANITIZER_MARKS):
        return "sanitizer: " + next(ln for ln in err.splitlines()
                                    if any(m in ln for m in SANITIZER_MARKS))
    if rc == 3:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if not lines or not lines[0].startswith("error: invalid image: ") \
                or len(lines[0]) <= len("error: invalid image: "):
            return f"exit 3 without a one-line reason: {err[:200]!r}"
        return None
    if rc in (0, 2):
        return None
    return f"exit {rc}: {err[-400:]!r}"


def test_seeds_are_valid(kvm_asan, tmp_path):
    for i, data in enumerate(seed_images()):
        rc, err = run_one(kvm_asan, data, str(tmp_path), i)
        assert rc in (0, 2), f"seed {i}: exit {rc}: {err}"


def test_mutants_are_refused_or_run_cleanly(kvm_asan, tmp_path):
    seeds = seed_images()
    rng = random.Random(SEED)
    cases = []
    for i in range(COUNT):
        s = rng.randrange(len(seeds))
        data, what = mutate(rng, seeds[s])
        cases.append((i, s, what, data))

    def work(case):
        i, s, what, data = case
        rc, err = run_one(kvm_asan, data, str(tmp_path), i)
        return i, s, what, rc, err, data

    failures = []
    outcomes = {0: 0, 2: 0, 3: 0}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i, s, what, rc, err, data in pool.map(work, cases):
            why = verdict(rc, err)
            if why:
                keep = tmp_path / f"fail-{i}.kbc"
                keep.write_bytes(data)
                failures.append(f"mutant {i} (seed image {s}, {what}, "
                                f"saved {keep}): {why}")
            else:
                outcomes[rc] = outcomes.get(rc, 0) + 1
    assert not failures, f"{len(failures)} bad outcomes of {COUNT} " \
                         f"(seed {SEED}):\n" + "\n".join(failures[:20])
    # the mutants must reach beyond the digest check
    assert outcomes[3] > COUNT // 2


def test_python_reader_and_disassembler_survive_mutants():
    # `ktc disasm` reads untrusted .kbc files with frontend/image.py: every
    # mutant is either refused with ImageError or listed; any other
    # exception (IndexError, RecursionError, ...) is a crash of the tool.
    from frontend import image as im
    from frontend.disasm import disassemble
    seeds = seed_images()
    rng = random.Random(SEED + 1)
    refused = listed = 0
    crashes = []
    for i in range(min(COUNT, 3000)):
        data, what = mutate(rng, seeds[rng.randrange(len(seeds))])
        try:
            img = im.read_image(data)
        except im.ImageError:
            refused += 1
            continue
        try:
            assert isinstance(disassemble(img), str)
            listed += 1
        except Exception as e:          # noqa: BLE001 - any crash counts
            crashes.append(f"mutant {i} ({what}): {type(e).__name__}: {e}")
    assert not crashes, f"{len(crashes)} crashes:\n" + "\n".join(crashes[:10])
    assert refused > 0 and listed > 0
