"""Conformance suite: every tests/conformance/**/NAME.k is one test.

Format (tests/conformance/README.md): leading comment directives
`// status: N` (expected exit status of `ktc run`, default 0) and
`// args: ...` (options for `ktc run`, e.g. `--budget 1000`); NAME.out is
the exact expected stdout; NAME.err, if present, the exact stderr;
NAME.errhead, if present, the expected start of stderr.

The program runs as `ktc run [args] NAME.k` with cwd = its directory.  The
compile step runs in-process (fast); the VM runs as a subprocess: $KTC_VM
if set (e.g. build/kvm-asan), else build/kvm.
"""

import io
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "conformance"
sys.path.insert(0, str(ROOT))

from ktc import cli, host  # noqa: E402

DIRECTIVE = re.compile(r"^//\s*([a-z-]+)\s*:\s*(.*?)\s*$")


def programs():
    return sorted(SUITE.rglob("*.k"))


def directives(source: str) -> dict:
    found = {}
    for line in source.splitlines():
        m = DIRECTIVE.match(line.strip())
        if not m:
            break
        found[m.group(1)] = m.group(2)
    return found


def vm_binary():
    try:
        return host.find_vm(announce=lambda m: print(m, file=sys.stderr))
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")


def run_program(path: pathlib.Path, args: list[str]):
    """(status, stdout, stderr) of `ktc run ARGS NAME.k` in path's dir."""
    parsed = cli.build_parser().parse_args(["run", *args, path.name])
    if parsed.ops is not None or parsed.param:
        # device operations go through the host library, and --param is
        # checked by ktc before the VM runs: run the real CLI
        r = subprocess.run(
            [sys.executable, "-m", "ktc.cli", "run", *args, path.name],
            cwd=path.parent, capture_output=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT),
                 # the CLI runs in the test's directory: keep $KTC_VM valid
                 **({"KTC_VM": os.path.abspath(os.environ["KTC_VM"])}
                    if os.environ.get("KTC_VM") else {})})
        return r.returncode, r.stdout, r.stderr
    from frontend.compiler import CompileError, compile_source
    source = path.read_bytes().decode("latin-1")
    try:
        image = compile_source(source, path.name)
    except CompileError as e:
        err = cli.render_diagnostics(getattr(e, "diagnostics", []), source)
        return 1, b"", err.encode("latin-1")
    binary = vm_binary()
    with tempfile.TemporaryDirectory(prefix="ktc-conf-") as tmp:
        img = os.path.join(tmp, path.stem + ".kbc")
        with open(img, "wb") as f:
            f.write(image)
        r = subprocess.run(
            [binary, *host.limit_args(parsed.budget, parsed.heap,
                                      parsed.depth), img],
            cwd=path.parent, capture_output=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize(
    "path", programs(), ids=[str(p.relative_to(SUITE)) for p in programs()])
def test_program(path: pathlib.Path):
    source = path.read_bytes().decode("latin-1")
    d = directives(source)
    status = int(d.get("status", "0"))
    args = shlex.split(d.get("args", ""))
    got_status, out, err = run_program(path, args)
    expected_out = path.with_suffix(".out")
    err_text = err.decode("latin-1")
    context = f"\n--- stderr ---\n{err_text}"
    if expected_out.exists():
        assert out.decode("latin-1") == \
            expected_out.read_bytes().decode("latin-1"), context
    assert got_status == status, f"exit status {got_status}, expected " \
        f"{status}{context}"
    expected_err = path.with_suffix(".err")
    if expected_err.exists():
        assert err_text == expected_err.read_bytes().decode("latin-1")
    head = path.with_suffix(".errhead")
    if head.exists():
        want = head.read_bytes().decode("latin-1")
        assert err_text.startswith(want), context


# Programs about objects the VM shares or keeps (the String "" every empty
# result shares, results that are an operand): again under the collector's
# worst case, a collection before every allocation, with ASan and UBSan.
STRESS = ["strings/shared_results.k", "strings/immutability.k"]


@pytest.fixture(scope="module")
def stress_vm(tmp_path_factory):
    from tests.tools import stress_vm as tool
    exe = tool.build(tmp_path_factory.mktemp("stress") / "kvm-gc-stress")
    if exe is None:
        pytest.skip("no C compiler")
    return exe


@pytest.mark.parametrize("name", STRESS)
def test_program_under_gc_stress(name, stress_vm, monkeypatch):
    path = SUITE / name
    monkeypatch.setenv("KTC_VM", str(stress_vm))
    status, out, err = run_program(path, [])
    assert status == 0, err.decode("latin-1")
    assert out == path.with_suffix(".out").read_bytes()
