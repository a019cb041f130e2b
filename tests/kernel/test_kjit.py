"""JIT stubs in the kernel: companion modules built by Kbuild from
`ktc compile --jit --profile kernel` objects, registered with konoha.ko
(konoha_jit_add, lkm/kernel/konoha_jit.h) and used by scripts.

On the host, `prepare` compiles the suite's programs (the kjit_*.k scripts
of tests/kernel/scripts/ and the whole conformance suite) to images and,
for each kernel line, their stubs with that line's profile; all the stubs
go into ONE companion module, kjit_suite.ko (ctjit.write_kmod_batch),
built by tools/build_kmod.sh against konoha.ko's Module.symvers (Kbuild
must print nothing: objtool runs on the stub objects). ONE boot per line
(tests/kernel/guest/kjit.sh) runs every program in the interpreter, loads
the companion, runs every program again with KONOHA_LOAD_JIT (a load
without stubs fails), and checks a device on stubs, examples/rot13.k on
stubs (its read loop runs as a table, ctjit/README.md "Tables"; kchr
checks every byte it reads back), that the companion is pinned while
used, and the refusal of an image without stubs.

Per program and line, `test_program`: the output on stubs equals the
interpreter's (and NAME.out for conformance programs), the load results
agree, and the VM entered native code (the unload's "jit: NAME: N native
entries" line, N > 0).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import ktest
import qemu

sys.path.insert(0, str(qemu.REPO))

import test_kconformance as kconf  # noqa: E402

KJIT = qemu.BUILD / "kernel" / "kjit"
SCRIPTS = qemu.Path(__file__).resolve().parent / "scripts"
NAMED = ["kjit_fib", "kjit_classes", "kjit_exc", "kjit_dev"]
MODULE = "kjit_suite"

# (script name, host source, expected .out or None, limits and (1.1)
# load-time parameters)
PROGRAMS: list[tuple[str, qemu.Path, qemu.Path | None,
                     tuple[int, int, int, list[str]]]] = \
    [(n, SCRIPTS / f"{n}.k", None,
      (kconf.RUN_BUDGET, kconf.RUN_HEAP, kconf.RUN_DEPTH, []))
     for n in NAMED] + \
    [("kjit_rot13", qemu.REPO / "examples" / "rot13.k", None,
      (kconf.RUN_BUDGET, kconf.RUN_HEAP, kconf.RUN_DEPTH, []))]
# Conformance programs whose `// args:` the kernel cannot honour (device
# operations driven by `ktc run --ops`): rel -> reason.
SKIPPED: dict[str, str] = {}
for _p in kconf.RUN:
    try:
        PROGRAMS.append((f"j{_p.index:03d}", _p.path, _p.path.with_suffix(".out"),
                         _p.options()))
    except ValueError as _e:
        SKIPPED[_p.rel] = str(_e)

PROBLEMS: dict[str, str] = {}       # script -> why it is not in the module


def _build_companion(line: str, release: str, items) -> None:
    import ctjit
    src = KJIT / line / "src"
    shutil.rmtree(src, ignore_errors=True)
    ctjit.write_kmod_batch(items, str(src), MODULE)
    symvers = qemu.BUILD / "kernel" / release / "konoha" / "Module.symvers"
    env = dict(os.environ, KMAKE_ARGS=f"KBUILD_EXTRA_SYMBOLS={symvers}")
    r = subprocess.run(["bash", str(qemu.REPO / "tools" / "build_kmod.sh"),
                        str(src), MODULE, release], cwd=qemu.REPO, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"building {MODULE} for {release} failed:\n"
                             f"{r.stdout}{r.stderr}")
    shutil.copy(qemu.BUILD / "kernel" / release / MODULE / f"{MODULE}.ko",
                KJIT / line / f"{MODULE}.ko")


def _ktc_companion(line: str, release: str) -> None:
    """hello_dev.k's companion module as `ktc load --jit --build-only`
    builds it (the kernel case ktc_companion inserts it and loads the
    image on its stubs)."""
    # one source path for every line: it is part of the image (its digest)
    work = KJIT / "ktc"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    src = work / "hello_dev.k"
    shutil.copy(qemu.REPO / "tests" / "kernel" / "scripts" / "hello_dev.k", src)
    symvers = qemu.BUILD / "kernel" / release / "konoha" / "Module.symvers"
    r = subprocess.run([sys.executable, "-m", "ktc.cli", "load", "--jit",
                        "--build-only", "--kernel-release", release,
                        "--symvers", str(symvers), str(src)],
                       cwd=qemu.REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ktc load --jit --build-only for {release} "
                             f"failed:\n{r.stdout}{r.stderr}")
    ko = pathlib.Path(r.stdout.strip())
    (KJIT / line).mkdir(parents=True, exist_ok=True)
    shutil.copy(ko, KJIT / line / "ktc_companion.ko")
    r = subprocess.run([sys.executable, "-m", "ktc.cli", "compile",
                        str(src), "-o", str(KJIT / "ktc_hello.kbc")],
                       cwd=qemu.REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ktc compile failed:\n{r.stdout}{r.stderr}")
    SUITE.files[f"ktest/kjit/{line}/ktc_companion.ko"] = \
        f"build/kernel/kjit/{line}/ktc_companion.ko"
    SUITE.files["ktest/kjit/ktc_hello.kbc"] = "build/kernel/kjit/ktc_hello.kbc"


def prepare() -> None:
    import ctjit
    from frontend.compiler import compile_source
    KJIT.mkdir(parents=True, exist_ok=True)
    # kchr drives examples/rot13.k on its stubs (kt_rot13_on_stubs)
    subprocess.run(["make", "-s", "build/kernel/guest/kchr"], cwd=qemu.REPO,
                   check=True, capture_output=True)
    images: dict[str, bytes] = {}
    lines = []
    for name, path, _, (budget, heap, depth, params) in PROGRAMS:
        try:
            data = compile_source(path.read_bytes().decode("latin-1"), path.name)
        except Exception as e:
            PROBLEMS[name] = f"ktc cannot compile it: {e}"
            continue
        images[name] = data
        (KJIT / f"{name}.kbc").write_bytes(data)
        pfile = kconf.params_file(SUITE, KJIT, "ktest/kjit", name, params)
        lines.append(f"{name} /ktest/kjit/{name}.kbc {budget} {heap} {depth}"
                     f" {pfile}\n")
        SUITE.files[f"ktest/kjit/{name}.kbc"] = f"build/kernel/kjit/{name}.kbc"
    (KJIT / "manifest").write_text("".join(lines))
    (KJIT / "nostubs.kbc").write_bytes(
        compile_source('print("no stubs for me");\n', "nostubs.k"))
    kernels = qemu.installed_kernels()
    for line in qemu.KERNEL_LINES:
        kernel = kernels.get(line)
        if kernel is None:
            continue
        _ktc_companion(line, kernel.release)
        items, seen = [], set()
        for name, data in images.items():
            if data[16:48] in seen:         # same image twice: one table
                continue
            seen.add(data[16:48])
            try:
                # the profile of the kernel's version: the debug line
                # is a 6.1 kernel
                items.append((ctjit.compile_image(
                    data, profile="kernel",
                    kernel=ctjit.kernel_line(kernel.release)), name))
            except Exception as e:
                PROBLEMS[name] = f"JIT ({line}): {type(e).__name__}: {e}"
        (KJIT / line).mkdir(parents=True, exist_ok=True)
        _build_companion(line, kernel.release, items)
        SUITE.files[f"ktest/kjit/{line}/{MODULE}.ko"] = \
            f"build/kernel/kjit/{line}/{MODULE}.ko"


SUITE = ktest.GuestSuite(
    "kjit",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kdrive": "build/kernel/guest/kdrive",
           "ktest/bin/kchr": "build/kernel/guest/kchr",
           "ktest/kjit/manifest": "build/kernel/kjit/manifest",
           "ktest/kjit/nostubs.kbc": "build/kernel/kjit/nostubs.kbc"},
    build_hint="make kernel-suites",
    prepare=prepare,
    timeout=900,
)

test_boot, test_case, test_kernel_log = SUITE.tests()


def _report(result: qemu.BootResult, case_name: str) -> dict[str, dict]:
    case = result.case(case_name)
    found: dict[str, dict] = {}
    entries: dict[str, int] = {}    # "@@ JIT" comes before "@@ END"
    if case is None:
        return found
    out: list[str] = []
    for line in case.diagnostics:
        if line.startswith("@@ BEGIN "):
            out = []
        elif line.startswith("@| "):
            out.append(kconf.decode_kmsg(line[3:].removesuffix("|")))
        elif line.startswith("@@ END "):
            m = re.match(r"@@ END (\S+) load=(-?\d+) unload=(-?\d+)", line)
            if m:
                found[m.group(1)] = {"load": int(m.group(2)),
                                     "unload": int(m.group(3)),
                                     "out": "".join(t + "\n" for t in out),
                                     "jit": entries.get(m.group(1))}
        elif line.startswith("@@ JIT "):
            m = re.match(r"@@ JIT (\S+) (\d+) native entries", line)
            if m:
                entries[m.group(1)] = int(m.group(2))
    return found


_REPORTS: dict[str, tuple[dict, dict]] = {}


@pytest.mark.kernel
@pytest.mark.parametrize(("line", "name"),
                         [pytest.param(line, p[0], id=f"{line}:{p[0]}:{p[1].name}")
                          for line in qemu.KERNEL_LINES for p in PROGRAMS])
def test_program(line: str, name: str):
    result = SUITE.boot(line)
    if name in PROBLEMS:
        pytest.fail(f"{name}: {PROBLEMS[name]}", pytrace=False)
    if line not in _REPORTS:
        _REPORTS[line] = (_report(result, "interp"), _report(result, "jit"))
    interp, jit = (r.get(name) for r in _REPORTS[line])
    where = f"{name} on {result.kernel.release}"
    assert interp is not None, f"{where}: no interpreter report"
    assert jit is not None, f"{where}: no JIT report"
    expected = dict((p[0], p[2]) for p in PROGRAMS)[name]
    if expected is not None:
        want = expected.read_bytes().decode("latin-1")
        assert interp["out"] == want, f"{where}: interpreter output differs from .out"
    assert jit["out"] == interp["out"], \
        f"{where}: output on stubs differs from the interpreter's"
    assert jit["load"] == interp["load"], \
        f"{where}: load {jit['load']} on stubs, {interp['load']} interpreted"
    if jit["load"] == 0:
        assert jit["unload"] == 0, f"{where}: unload failed on stubs"
    # -j: a load without stubs fails with ENOENT before the init runs
    assert jit["load"] != -2, f"{where}: no stubs registered for the image"
    if jit["load"] == 0:
        assert jit["jit"] and jit["jit"] > 0, \
            f"{where}: the VM never entered native code ({jit['jit']})"
