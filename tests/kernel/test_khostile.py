"""Hostile input to konoha.ko on 6.1 and 6.12, one QEMU boot per kernel
(tests/kernel/guest/khostile.sh):

- 1,000 corrupted or random images, made on the host with the generator of
  tests/test_mutation.py (bit flips, byte and word sets, truncations,
  insertions, chunk copies, random bytes behind a valid header; most with
  their SHA-256 digest over bytes [48, end) recomputed so they reach the
  verifier), each loaded through KONOHA_IOC_LOAD: refused with an errno
  and a message, or, if it verifies, run and unloaded cleanly; afterwards
  nothing is loaded and the module's live allocation count is zero;
- malformed ioctl requests (bad addresses, sizes, flags, names, limits);
- inits and device callbacks that loop forever, allocate without bound or
  recurse without bound (tests/kernel/scripts/khost_*.k): each call aborts
  with a report, the device and the kernel stay usable, a sleeping callback
  ends on a signal;
- scripts against the rest of the system: a device named like another
  driver's node (/dev/null, /dev/zero, ...) is refused with EEXIST and
  leaves nothing in /sys/class/konoha; mode 0 is refused with EINVAL; a
  budget over 10^10 instructions is refused;
- a 0666 device driven by user 1000: errnos a script hands the kernel
  (DeviceError of any callback, ioctl results read as errnos) outside
  1..133, ERESTARTSYS (512) above all, reach the caller as EIO and never
  restart the call; 32-bit callers reach ioctl (compat_ioctl, made with
  int $0x80); a process killed while it waits for a busy script dies at
  once (its release runs later); an unload waiting for a busy script
  delays no other load; concurrent loads of one name: exactly one runs its
  init and wins; a poll that hands PollTable.wait a null queue fails with
  POLLERR and a logged NullPointerException, and the device stays usable;
- a tree that user 1000 grows 20 levels deep and reads through toString
  and Array.join: the read gives the tree or EIO (abort), the log stays
  clean;
- the kernel log of the whole boot has no oops, BUG, WARNING or
  "scheduling while atomic" (test_kernel_log).

The mutants are named mNNNN-KIND.kbc, KIND being the mutation; the seed is
K_KHOSTILE_SEED (default 20251127), so a failure can be replayed.
"""

import os
import random
import sys

import ktest
import qemu
from kimages import IMAGES, compile_scripts, guest_files

SCRIPTS = ["khost_evil", "khost_init_loop", "khost_init_alloc", "khost_init_recurse",
           "khost_user", "khost_squat", "khost_mode0", "khost_race", "khost_tree",
           "khost_spin"]
MUTANTS = IMAGES / "mutants"
COUNT = 1000
SEED = int(os.environ.get("K_KHOSTILE_SEED", "20251127"))


def mutant_names() -> list[str]:
    return [p.name for p in sorted(MUTANTS.glob("m*.kbc"))] if MUTANTS.exists() else []


def make_mutants() -> None:
    """COUNT images in MUTANTS, deterministic for SEED."""
    sys.path.insert(0, str(qemu.REPO))
    from tests import test_mutation as tm
    from tests.tools import kasm
    seeds = tm.seed_images()
    rng = random.Random(SEED)
    MUTANTS.mkdir(parents=True, exist_ok=True)
    for old in MUTANTS.glob("m*.kbc"):
        old.unlink()
    for i in range(COUNT):
        r = rng.random()
        if r < 0.02:        # random bytes, no header at all
            data, what = bytes(rng.randrange(256) for _ in range(rng.randrange(400))), "noise"
        elif r < 0.04:      # a valid image cut inside its header
            data, what = rng.choice(seeds)[:rng.randrange(48)], "shortheader"
        else:
            data, what = tm.mutate(rng, rng.choice(seeds))
        (MUTANTS / f"m{i:04d}-{what}.kbc").write_bytes(data)
    assert kasm  # the generator's own dependency, imported above


def prepare() -> None:
    compile_scripts(SCRIPTS)
    make_mutants()
    # The file list of the initramfs is read after prepare().
    SUITE.files.update({f"ktest/mutants/{n}": f"build/kernel/images/mutants/{n}"
                        for n in mutant_names()})


SUITE = ktest.GuestSuite(
    "khostile",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bin/kload": "build/kernel/guest/kload",
           **guest_files(SCRIPTS)},
    build_hint="make kernel-suites",
    prepare=prepare,
    timeout=360,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
