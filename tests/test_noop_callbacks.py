"""Callbacks that do nothing are not called (lkm/core/device.c,
noop_callbacks): a device's open and release when they are the defaults
or an empty method.  Nothing a script or its host sees may change: the
budget still counts the lone RETV an empty method would have run, a
budget of none still refuses it, and any other method still runs."""
from __future__ import annotations

import re

import pytest

from ktc import host
from tests.tools.vm import need_vm


@pytest.fixture(autouse=True)
def vm_needed():
    need_vm()


def device(kind: str, body: str) -> str:
    arg = "File f" if kind == "CharDevice" else ""
    body = body.replace("ARG", arg)
    return (f"class E extends {kind} {{ E() {{ mode = 0666; }} {body} }}\n"
            f"{kind}.register(\"e\", new E());\n")


def instructions(source: str, opens: int, args=()) -> int:
    vm = host.VM.from_source(source, "e.k", vm_args=["--stats", *args])
    with vm:
        for _ in range(opens):
            f = vm.open("e")
            f.close()
    return int(re.search(r"instructions (\d+)", vm.report).group(1))


BODIES = {
    # (source, instructions an open+close pair counts)
    "empty": ("void open(ARG) { } void release(ARG) { }", 2),
    "return": ("void open(ARG) { return; } void release(ARG) { return; }", 2),
    "default": ("", 0),
    "open only": ("void open(ARG) { }", 1),
}


@pytest.mark.parametrize("kind", ["CharDevice", "Device"])
@pytest.mark.parametrize("name", list(BODIES))
def test_an_elided_callback_counts_what_its_call_would(kind, name):
    body, per_pair = BODIES[name]
    src = device(kind, body)
    assert instructions(src, 5) - instructions(src, 0) == 5 * per_pair


@pytest.mark.parametrize("kind", ["CharDevice", "Device"])
def test_a_method_that_does_something_still_runs(kind):
    src = device(kind, """
        int opens;
        void open(ARG) { opens++; }
        void release(ARG) { print("release " + opens); }
    """)
    vm = host.VM.from_source(src, "e.k")
    with vm:
        for _ in range(3):
            vm.open("e").close()
    assert vm.output[-3:] == \
        ["release 1", "release 2", "release 3"], vm.output


def test_a_budget_of_none_still_refuses_an_empty_open():
    src = device("CharDevice", "void open(ARG) { }")
    vm = host.VM.from_source(src, "e.k", vm_args=["--cb-budget", "0"])
    with vm:
        with pytest.raises(OSError) as e:
            vm.open("e")
        assert e.value.errno == 5
        assert "abort: budget exceeded" in vm.log, vm.log
