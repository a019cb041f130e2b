"""Random programs (tests/progfuzz): a fixed-seed slice of 300 generated K
programs (1.0 constructs, and in most of them the 1.1 ones of gen11.py), each run on the interpreter, the ASan VM and one JIT level (the
levels take turns), against the reference model's stdout, exit status and
stderr report.  A divergence fails the chunk and shows the program.

`make fuzz-programs` runs larger campaigns (tests/progfuzz/run.py).
"""

import concurrent.futures as cf
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.progfuzz import run as pf  # noqa: E402

SEED = 20261205
COUNT = 300
CHUNK = 30


def _check(seed):
    case, bad, ran = pf.check_seed(seed, pf.oracles_for(seed, "spread"))
    return seed, case, bad, ran


@pytest.fixture(scope="module")
def vms():
    for name in ("kvm", "kvm-asan"):
        if not (ROOT / "build" / name).exists():
            pytest.skip(f"build/{name} missing (make vm)")
    pytest.importorskip("ctjit")


@pytest.mark.parametrize("start", range(SEED, SEED + COUNT, CHUNK),
                         ids=lambda s: f"seeds{s}+{CHUNK}")
def test_random_programs(vms, start):
    jobs = int(os.environ.get("PROGFUZZ_JOBS", "2"))
    report = []
    ran_total = 0
    with cf.ProcessPoolExecutor(max_workers=jobs) as ex:
        for seed, case, bad, ran in ex.map(_check,
                                           range(start, start + CHUNK)):
            ran_total += len(ran)
            for oracle, why, detail in bad:
                report.append(
                    f"--- seed {seed} on {oracle}: {why}: {detail}\n"
                    f"args: {' '.join(case.args)}\n{case.text}"
                    f"--- expected stdout\n{case.out}"
                    f"--- expected stderr (status {case.status})\n{case.err}"
                    f"(actual outputs in {pf.FAIL_DIR}/{seed}-{oracle}/)\n")
    assert not report, "\n".join(report)
    # every program ran on the interpreter, the ASan VM and a JIT level
    assert ran_total == 3 * CHUNK
