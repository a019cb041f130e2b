"""The conformance suite (tests/conformance/**/NAME.k) inside the kernel:
every program is compiled on the host, and ONE boot per kernel line loads
each image through /dev/konoha (KONOHA_IOC_LOAD, with the limits of its
`// args:` line), collects the lines it printed from the kernel log
(`konoha: NAME: TEXT`), and unloads it (tests/kernel/guest/kconformance.sh,
`kdrive conform`).

Each program is one test per kernel, `test_program[LINE:DIR/NAME.k]`: its
output must equal NAME.out byte for byte, and the load must succeed when
`// status: 0` is expected and fail in the init (an uncaught exception or
an abort, not a refusal by the verifier) when `// status: 2` is; then the
init's report the module logged must equal NAME.err (or start with
NAME.errhead), as `ktc run` prints it on stderr.

Limits are those of `ktc run` unless `// args:` sets them (budget 2^32
instructions, heap 256 MiB, depth 1000), so the programs see the same
limits in both homes. EXCLUDED lists programs that cannot run the same way
in the kernel, each with its reason: only those that drive their devices
through `ktc run --ops`, a userspace host feature.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ktest
import qemu

sys.path.insert(0, str(qemu.REPO))

CONFORMANCE = qemu.REPO / "tests" / "conformance"
IMAGES = qemu.BUILD / "kernel" / "images" / "conformance"
MANIFEST = IMAGES / "manifest"

# The limits of `ktc run` (the language reference §7), passed explicitly:
# the kernel's own defaults are smaller (10^8 instructions, 16 MiB).
RUN_BUDGET = 1 << 32
RUN_HEAP = 256 << 20
RUN_DEPTH = 1000

# Programs that depend on facts only `ktc run` has: path -> reason.
EXCLUDED: dict[str, str] = {}

_DIRECTIVE = re.compile(r"^//\s*([a-z-]+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Program:
    index: int
    rel: str            # "arrays/foo.k"
    path: Path

    @property
    def name(self) -> str:
        """The script's name in the kernel (and its log prefix)."""
        return f"c{self.index:03d}"

    def directives(self) -> dict[str, str]:
        found = {}
        for line in self.path.read_bytes().decode("latin-1").splitlines():
            m = _DIRECTIVE.match(line.strip())
            if not m:
                break
            found[m.group(1)] = m.group(2)
        return found

    def limits(self) -> tuple[int, int, int]:
        budget, heap, depth, _ = self.options()
        return budget, heap, depth

    def options(self) -> tuple[int, int, int, list[str]]:
        """The limits of `// args:` and (1.1) its load-time parameters,
        each --param's NAME=VALUE as given."""
        args = shlex.split(self.directives().get("args", ""))
        budget, heap, depth = RUN_BUDGET, RUN_HEAP, RUN_DEPTH
        params: list[str] = []
        it = iter(args)
        for a in it:
            if a == "--budget":
                budget = int(next(it))
            elif a == "--heap":
                heap = int(next(it))
            elif a == "--depth":
                depth = int(next(it))
            elif a == "--param":
                params.append(next(it))
            else:
                raise ValueError(f"{self.rel}: unknown `// args:` option {a}")
        return budget, heap, depth, params

    @property
    def status(self) -> int:
        return int(self.directives().get("status", "0"))


def programs() -> list[Program]:
    paths = sorted(CONFORMANCE.rglob("*.k"))
    return [Program(i, str(p.relative_to(CONFORMANCE)), p)
            for i, p in enumerate(paths)]


PROGRAMS = programs()
# Programs that drive their devices through `ktc run --ops` exercise the
# userspace host; test_kdrivers.py drives the same operations in the guest.
EXCLUDED.update({
    p.rel: "drives its devices with `ktc run --ops` (userspace host); "
           "test_kdrivers.py covers device operations in the kernel"
    for p in PROGRAMS if "--ops" in p.directives().get("args", "")})
# (1.1) Load-time parameters (`ktc run --param`) go with the image: the
# manifest names a file of them, which `kdrive conform` passes through
# KONOHA_IOC_LOAD_PARAMS; a set `ktc run` refuses (status 1) the module
# refuses with EINVAL.
# A NUL byte cannot go through the kernel log (the module shows it as \0).
EXCLUDED["exceptions/nul_byte_in_message.k"] = (
    "its report holds a NUL byte, which the kernel log shows as \\0")
RUN = [p for p in PROGRAMS if p.rel not in EXCLUDED]


# Programs ktc could not compile: rel -> the compiler's message.
COMPILE_ERRORS: dict[str, str] = {}


def params_file(suite, host_dir: Path, guest_dir: str, name: str,
                params: list[str]) -> str:
    """The manifest's parameters field of a program: "-" for none, else
    the guest path of a file of its NAME=VALUE entries, each ended by a
    NUL as KONOHA_IOC_LOAD_PARAMS reads them, written to host_dir and
    added to the suite's files."""
    if not params:
        return "-"
    (host_dir / f"{name}.params").write_bytes(
        b"".join(e.encode("latin-1") + b"\0" for e in params))
    suite.files[f"{guest_dir}/{name}.params"] = str(
        (host_dir / f"{name}.params").relative_to(qemu.REPO))
    return f"/{guest_dir}/{name}.params"


def compile_images() -> None:
    """Every program to IMAGES/cNNN.kbc, the manifest the guest reads, and
    the images into the suite's file list (a program that does not compile
    fails its own test, not the boot)."""
    from frontend.compiler import compile_source
    IMAGES.mkdir(parents=True, exist_ok=True)
    lines = []
    for p in RUN:
        source = p.path.read_bytes().decode("latin-1")
        try:
            image = compile_source(source, p.path.name)
        except Exception as e:          # CompileError, or a compiler bug
            COMPILE_ERRORS[p.rel] = f"{type(e).__name__}: {e}"
            continue
        (IMAGES / f"{p.name}.kbc").write_bytes(image)
        budget, heap, depth, params = p.options()
        pfile = params_file(SUITE, IMAGES, "ktest/conf", p.name, params)
        lines.append(f"{p.name} /ktest/conf/{p.name}.kbc {budget} {heap} {depth}"
                     f" {pfile}  {p.rel}\n")
        SUITE.files[f"ktest/conf/{p.name}.kbc"] = \
            f"build/kernel/images/conformance/{p.name}.kbc"
    MANIFEST.write_text("".join(lines))


SUITE = ktest.GuestSuite(
    "kconformance",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/conf/manifest": "build/kernel/images/conformance/manifest"},
    build_hint="make kernel-suites",
    prepare=compile_images,
    timeout=240,
)

test_boot, test_case, test_kernel_log = SUITE.tests()


# ---- the guest's report --------------------------------------------------

@dataclass
class Outcome:
    load: int               # 0 or -errno of KONOHA_IOC_LOAD
    unload: int
    message: str            # the module's message on failure
    output: list[str]       # lines printed at info level, decoded
    other: list[str]        # other lines of the script in the log


_ESC = re.compile(rb"\\x([0-9a-fA-F]{2})")


def decode_kmsg(text: str) -> str:
    """/dev/kmsg writes bytes < 0x20, >= 0x7f and the backslash as \\xHH."""
    raw = text.encode("latin-1", "replace")
    return _ESC.sub(lambda m: bytes([int(m.group(1), 16)]), raw).decode("latin-1")


def outcomes(result: qemu.BootResult) -> dict[str, Outcome]:
    """The guest's `kdrive conform` report, by script name."""
    case = result.case("conformance")
    found: dict[str, Outcome] = {}
    if case is None:
        return found
    current: list[str] = []
    other: list[str] = []
    for line in case.diagnostics:
        if line.startswith("@@ BEGIN "):
            current, other = [], []
        elif line.startswith("@| "):
            # "@| TEXT|": the bar keeps trailing blanks from being stripped
            current.append(decode_kmsg(line[3:].removesuffix("|")))
        elif line.startswith("@! "):
            other.append(decode_kmsg(line[3:].removesuffix("|")))
        elif line.startswith("@@ END "):
            m = re.match(r"@@ END (\S+) load=(-?\d+) unload=(-?\d+) msg=(.*)$", line)
            if m:
                found[m.group(1)] = Outcome(int(m.group(2)), int(m.group(3)),
                                            m.group(4), current, other)
    return found


_OUTCOMES: dict[str, dict[str, Outcome]] = {}

ENOEXEC = 8
EINVAL = 22


@pytest.mark.kernel
@pytest.mark.parametrize(("line", "program"),
                         [pytest.param(line, p, id=f"{line}:{p.rel}")
                          for line in qemu.KERNEL_LINES for p in PROGRAMS])
def test_program(line: str, program: Program):
    if program.rel in EXCLUDED:
        pytest.skip(f"{program.rel}: {EXCLUDED[program.rel]}")
    result = SUITE.boot(line)
    if program.rel in COMPILE_ERRORS:
        pytest.fail(f"{program.rel}: ktc cannot compile it: "
                    f"{COMPILE_ERRORS[program.rel]}", pytrace=False)
    if line not in _OUTCOMES:
        _OUTCOMES[line] = outcomes(result)
    got = _OUTCOMES[line].get(program.name)
    where = (f"{program.rel} in the kernel ({result.kernel.release}, script "
             f"{program.name})")
    if got is None:
        pytest.fail(f"{where}: the guest reported nothing for it (see "
                    f"test_boot[{line}] and test_case[{line}:conformance])",
                    pytrace=False)
    expected = program.path.with_suffix(".out").read_bytes().decode("latin-1")
    out = "".join(text + "\n" for text in got.output)
    context = ""
    if got.message:
        context += f"\n  module's message: {got.message.replace('|', chr(10) + '    ')}"
    if got.other:
        context += "\n  other log lines of the script:\n" + "\n".join(
            f"    {t}" for t in got.other[:20])
        if len(got.other) > 20:
            context += f"\n    ... ({len(got.other) - 20} more)"
    if out != expected:
        import difflib
        diff = "\n".join(difflib.unified_diff(
            expected.splitlines(), out.splitlines(), "expected (NAME.out)",
            "kernel log", lineterm="", n=2))
        pytest.fail(f"{where}: output differs from {Path(program.rel).stem}.out:\n"
                    f"{diff}{context}", pytrace=False)
    want = program.status
    if want == 0 and got.load != 0:
        pytest.fail(f"{where}: expected a successful load, got "
                    f"errno {-got.load}{context}", pytrace=False)
    if want == 2:
        if got.load == 0:
            pytest.fail(f"{where}: expected the init to fail (status 2), but "
                        f"the load succeeded{context}", pytrace=False)
        if got.load == -ENOEXEC:
            pytest.fail(f"{where}: expected the init to fail (status 2), but "
                        f"the verifier refused the image{context}", pytrace=False)
    if want == 1 and program.options()[3]:
        # (1.1) parameters `ktc run` refuses: the module refuses the load
        if got.load != -EINVAL:
            pytest.fail(f"{where}: expected the load to be refused with "
                        f"EINVAL for its parameters, got "
                        f"{got.load}{context}", pytrace=False)
        return
    if want not in (0, 2):
        pytest.fail(f"{where}: status {want} has no kernel equivalent", pytrace=False)
    if got.load == 0 and got.unload != 0:
        pytest.fail(f"{where}: unload failed with errno {-got.unload}", pytrace=False)
    # The report of a failed init (NAME.err exact, NAME.errhead its start):
    # the module logs "NAME: init failed:" then each line indented by two.
    err_file = program.path.with_suffix(".err")
    head_file = program.path.with_suffix(".errhead")
    if want == 2 and (err_file.exists() or head_file.exists()):
        report = "".join(line[2:] + "\n" for line in init_report(got.other))
        if err_file.exists():
            expected_err = err_file.read_bytes().decode("latin-1")
            ok = report == expected_err
        else:
            expected_err = head_file.read_bytes().decode("latin-1")
            ok = report.startswith(expected_err)
        if not ok:
            shown = "\n".join(f"    {t}" for t in report.splitlines()[:15])
            want_shown = "\n".join(f"    {t}" for t in expected_err.splitlines()[:15])
            pytest.fail(f"{where}: the init's report in the kernel log differs from "
                        f"{err_file.name if err_file.exists() else head_file.name + ' (prefix)'}"
                        f":\n  expected:\n{want_shown}\n  kernel log:\n{shown}",
                        pytrace=False)


def init_report(lines: list[str]) -> list[str]:
    """The lines after the module's "init failed:" line."""
    for i, line in enumerate(lines):
        if line == "init failed:":
            return lines[i + 1:]
    return []
