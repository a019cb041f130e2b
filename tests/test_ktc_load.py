"""`ktc load/unload/list` on the host: the ioctl structs and numbers that
ktc/konoha.py packs match lkm/kernel/konoha_uapi.h (checked by compiling
a C program against the header), and without /dev/konoha each command
fails with a clear message and exit status 1. The commands themselves run
against konoha.ko in tests/kernel/ (through kload, the guest's C twin)."""

import pathlib
import shutil
import subprocess
import sys

import pytest

from ktc import konoha

REPO = pathlib.Path(__file__).resolve().parents[1]
HEADER = REPO / "lkm" / "kernel" / "konoha_uapi.h"

PROBE = r"""
#include <stdio.h>
#include "%s"
int main(void)
{
	printf("%%zu %%zu %%zu %%zu %%lu %%lu %%lu %%zu %%lu %%d %%d\n",
	       sizeof(struct konoha_load), sizeof(struct konoha_unload),
	       sizeof(struct konoha_script_info), sizeof(struct konoha_list),
	       (unsigned long)KONOHA_IOC_LOAD, (unsigned long)KONOHA_IOC_UNLOAD,
	       (unsigned long)KONOHA_IOC_LIST,
	       sizeof(struct konoha_load_params),
	       (unsigned long)KONOHA_IOC_LOAD_PARAMS, KONOHA_PARAMS_MAX,
	       KONOHA_PARAM_VALUE_MAX);
	return 0;
}
"""


def test_abi_matches_header(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "probe.c"
    src.write_text(PROBE % HEADER)
    exe = tmp_path / "probe"
    subprocess.run([cc, "-o", str(exe), str(src)], check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True,
                         check=True).stdout.split()
    import struct
    want = [struct.calcsize(konoha.LOAD_FMT),
            struct.calcsize(konoha.UNLOAD_FMT),
            struct.calcsize(konoha.INFO_FMT), struct.calcsize(konoha.LIST_FMT),
            konoha.IOC_LOAD, konoha.IOC_UNLOAD, konoha.IOC_LIST,
            struct.calcsize(konoha.LOAD_PARAMS_FMT), konoha.IOC_LOAD_PARAMS,
            konoha.PARAMS_MAX, konoha.PARAM_VALUE_MAX]
    assert [int(x) for x in got] == want


@pytest.mark.parametrize("params, reason", [
    (["noeq"], "parameter 1: not NAME=VALUE"),
    (["ok=1", "Bad=2"], "parameter 2: bad name (1-31 of a-z, 0-9, _)"),
    (["=v"], "parameter 1: bad name"),
    (["a" * 32 + "=v"], "parameter 1: bad name"),
    (["x=" + "v" * 1025], "parameter x: value longer than 1024 bytes"),
    (["x=1", "y=2", "x=3"], "parameter x given twice"),
    ([f"p{i}=v" for i in range(33)], "more than 32 parameters"),
])
def test_load_refuses_bad_params_first(params, reason):
    """ktc load checks --param by the VM's rules before it opens
    /dev/konoha; konoha.params_blob gives the reason."""
    argv = [w for p in params for w in ("--param", p)]
    r = _ktc("load", "--device", "/nonexistent/konoha", *argv,
             "examples/hello.k")
    assert r.returncode == 1
    assert f"--param: {reason}" in r.stderr
    assert "is konoha.ko loaded?" not in r.stderr


def test_params_blob():
    assert konoha.params_blob([]) == b""
    assert konoha.params_blob(["a=1", "b_2=", "c=x=y"]) == \
        b"a=1\0b_2=\0c=x=y\0"
    assert konoha.params_blob(["v=" + "z" * 1024]).endswith(b"z\0")


def _ktc(*args):
    return subprocess.run([sys.executable, "-m", "ktc.cli", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("argv", [
    ["load", "--device", "/nonexistent/konoha", "examples/hello.k"],
    ["load", "--jit", "--device", "/nonexistent/konoha", "examples/hello.k"],
    ["unload", "--device", "/nonexistent/konoha", "hello"],
    ["list", "--device", "/nonexistent/konoha"],
])
def test_without_module(argv):
    r = _ktc(*argv)
    assert r.returncode == 1
    assert "is konoha.ko loaded?" in r.stderr


def test_load_compile_error_first(tmp_path):
    bad = tmp_path / "bad.k"
    bad.write_text("int x = ;\n")
    r = _ktc("load", "--device", "/nonexistent/konoha", str(bad))
    assert r.returncode == 1
    assert "is konoha.ko loaded?" not in r.stderr


# ---- ktc load --jit: the companion module ----------------------------------

HELLO = REPO / "tests" / "kernel" / "scripts" / "hello_dev.k"


def _releases_with_konoha():
    """Installed kernels for which konoha.ko was built (make kmod-konoha)."""
    out = []
    for d in sorted((REPO / "build" / "kernel").glob("*/konoha/Module.symvers")):
        out.append(d.parent.parent.name)
    return out


def test_load_jit_build_only(tmp_path):
    """The module `ktc load --jit` would insert, built for each installed
    kernel (nothing is loaded: --build-only). tests/kernel/test_kjit.py
    inserts such a module in QEMU and runs the script on it."""
    releases = _releases_with_konoha()
    if not releases:
        pytest.skip("konoha.ko is not built (make kmod-konoha)")
    for release in releases:
        src = tmp_path / release / "hello_dev.k"
        src.parent.mkdir()
        shutil.copy(HELLO, src)
        r = _ktc("load", "--jit", "--build-only", "--kernel-release", release,
                 str(src))
        assert r.returncode == 0, r.stderr
        ko = pathlib.Path(r.stdout.strip())
        assert ko.parent == src.with_suffix(".kmod") and ko.exists()
        assert f"building hello_dev.kmod for {release}" in r.stderr
        info = subprocess.run(["modinfo", "-F", "vermagic", str(ko)],
                              capture_output=True, text=True)
        if info.returncode == 0:
            assert info.stdout.split()[0] == release
        deps = subprocess.run(["modinfo", "-F", "depends", str(ko)],
                              capture_output=True, text=True)
        if deps.returncode == 0:
            assert deps.stdout.strip() == "konoha"


@pytest.mark.parametrize("argv, message", [
    (["--jit", "--build-only", "--kernel-release", "9.9.9-nothere"],
     "no kernel headers for 9.9.9-nothere"),
    (["--jit", "--build-only", "--kernel-release", "5.10.0-1-amd64"],
     "supports Linux 6.1 and later"),
    (["--build-only"], "go with --jit"),
])
def test_load_jit_errors(argv, message, tmp_path):
    src = tmp_path / "hello_dev.k"
    shutil.copy(HELLO, src)
    r = _ktc("load", *argv, str(src))
    assert r.returncode == 1
    assert message in r.stderr
    assert not src.with_suffix(".kmod").exists()


def test_load_jit_without_symvers(tmp_path):
    releases = [p.parent.name for p in
                pathlib.Path("/lib/modules").glob("*/build")]
    if not releases:
        pytest.skip("no kernel headers installed")
    src = tmp_path / "hello_dev.k"
    shutil.copy(HELLO, src)
    r = _ktc("load", "--jit", "--build-only", "--kernel-release", releases[0],
             "--symvers", str(tmp_path / "missing.symvers"), str(src))
    assert r.returncode == 1
    assert "missing.symvers: no such file (konoha.ko's Module.symvers" \
        in r.stderr
    assert not src.with_suffix(".kmod").exists()


def test_load_jit_rebuild_after_edit(tmp_path):
    """Editing the script changes its digest, so its module's name: the
    companion directory is rebuilt without the old module."""
    releases = _releases_with_konoha()
    if not releases:
        pytest.skip("konoha.ko is not built (make kmod-konoha)")
    src = tmp_path / "hello_dev.k"
    shutil.copy(HELLO, src)
    kos = []
    for text in (HELLO.read_text(), HELLO.read_text() + "print(2);\n"):
        src.write_text(text)
        r = _ktc("load", "--jit", "--build-only", "--kernel-release",
                 releases[-1], str(src))
        assert r.returncode == 0, r.stderr
        kos.append(pathlib.Path(r.stdout.strip()))
    assert kos[0].name != kos[1].name
    assert sorted(p.name for p in src.with_suffix(".kmod").glob("*.ko")) \
        == [kos[1].name]


def test_kmod_headers_are_kernels_sh_headers():
    """ktc/kmod.py finds a release's headers where tools/kernels.sh (so
    tools/build_kmod.sh and the Makefile) finds them."""
    from ktc import kmod
    releases = subprocess.run(["bash", str(REPO / "tools" / "kernels.sh"),
                               "list"], capture_output=True, text=True
                              ).stdout.split()
    if not releases:
        pytest.skip("no kernel headers installed")
    for release in releases:
        sh = subprocess.run(["bash", str(REPO / "tools" / "kernels.sh"),
                             "headers", release], capture_output=True,
                            text=True, check=True).stdout.strip()
        assert kmod.kernel_headers(release) == pathlib.Path(sh)
        assert (kmod.kernel_headers(release) / "Makefile").exists()


def test_kmod_warning_fails_the_build(tmp_path):
    """A companion module is held to the rules of every other module
    (tools/build_kmod.sh): a compiler warning fails its build, and the
    error carries Kbuild's message."""
    import ctjit
    from ktc import kmod
    releases = _releases_with_konoha()
    if not releases:
        pytest.skip("konoha.ko is not built (make kmod-konoha)")
    release = releases[-1]
    src = tmp_path / "hello_dev.k"
    shutil.copy(HELLO, src)
    r = _ktc("compile", "--jit", "--profile", "kernel", "--kernel",
             ctjit.kernel_line(release), str(src))
    assert r.returncode == 0, r.stderr
    d = src.with_suffix(".kmod")
    glue = next(d.glob("*_glue.c"))
    glue.write_text(glue.read_text() + "static int kjit_never_used;\n")
    symvers = (REPO / "build" / "kernel" / release / "konoha" /
               "Module.symvers")
    with pytest.raises(kmod.KmodError) as e:
        kmod.build_kmod(str(d), release, str(symvers))
    assert "kjit_never_used" in str(e.value)
    assert "warning:" in str(e.value)
    assert "printed warnings" in str(e.value)


def test_load_jit_leaves_other_directories_alone(tmp_path):
    src = tmp_path / "hello_dev.k"
    shutil.copy(HELLO, src)
    other = src.with_suffix(".kmod")
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    r = _ktc("compile", "--jit", "--profile", "kernel", str(src))
    assert r.returncode == 1
    assert "is not a companion-module directory" in r.stderr
    assert (other / "notes.txt").read_text() == "mine\n"
