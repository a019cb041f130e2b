"""`ktc load/unload/list` on the host: the ioctl structs and numbers that
frontend/cli.py packs match lkm/kernel/konoha_uapi.h (checked by compiling
a C program against the header), and without /dev/konoha each command
fails with a clear message and exit status 1. The commands themselves run
against konoha.ko in tests/kernel/ (through kload, the guest's C twin)."""

import shutil
import subprocess
import sys

import pytest

from frontend import cli

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
HEADER = REPO / "lkm" / "kernel" / "konoha_uapi.h"

PROBE = r"""
#include <stdio.h>
#include "%s"
int main(void)
{
	printf("%%zu %%zu %%zu %%zu %%lu %%lu %%lu\n",
	       sizeof(struct konoha_load), sizeof(struct konoha_unload),
	       sizeof(struct konoha_script_info), sizeof(struct konoha_list),
	       (unsigned long)KONOHA_IOC_LOAD, (unsigned long)KONOHA_IOC_UNLOAD,
	       (unsigned long)KONOHA_IOC_LIST);
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
    want = [struct.calcsize(cli._LOAD_FMT), struct.calcsize(cli._UNLOAD_FMT),
            struct.calcsize(cli._INFO_FMT), struct.calcsize(cli._LIST_FMT),
            cli.KONOHA_IOC_LOAD, cli.KONOHA_IOC_UNLOAD, cli.KONOHA_IOC_LIST]
    assert [int(x) for x in got] == want


def _ktc(*args):
    return subprocess.run([sys.executable, "-m", "frontend.cli", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("argv", [
    ["load", "--device", "/nonexistent/konoha", "examples/hello.k"],
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
