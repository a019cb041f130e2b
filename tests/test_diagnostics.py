"""Golden diagnostics suite: tests/diagnostics/NAME.k must produce exactly
NAME.expected (all diagnostics, errors and warnings, rendered in source
order, as `ktc check` prints them).  A file whose name begins with `warn_`
has warnings and no error; every other file has errors.

Regenerate after reviewing changes with: python3 tests/test_diagnostics.py --regen
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from frontend.compiler import analyze  # noqa: E402
from frontend.diagnostics import CODES  # noqa: E402

CASES = sorted(p.stem for p in (ROOT / "diagnostics").glob("*.k"))


def render(name):
    path = ROOT / "diagnostics" / f"{name}.k"
    a = analyze(path.read_text(), f"{name}.k")
    return a, a.render_all() + "\n"


@pytest.mark.parametrize("name", CASES)
def test_golden(name):
    a, text = render(name)
    expected = (ROOT / "diagnostics" / f"{name}.expected").read_text()
    assert text == expected
    if name.startswith("warn_"):
        assert a.ok and a.warnings
    else:
        assert not a.ok


def test_suite_is_large_enough():
    assert len(CASES) >= 150


@pytest.mark.parametrize("name", CASES)
def test_codes_are_documented(name):
    a, _ = render(name)
    for d in a.all_diagnostics():
        assert d.code in CODES
        assert d.code.startswith("W" if d.severity == "warning" else "E")
        assert d.message[:1].islower() or d.message[:1] in "`", d.message
        assert not d.message.endswith(".")


def test_json_form():
    a = analyze("int opens = 1;\nboolean ready = true;\nint n = opens + ready;\n", "hello.k")
    [d] = a.diagnostics
    j = d.to_json()
    assert json.loads(json.dumps(j)) == j
    assert (j["code"], j["file"], j["line"], j["col"], j["end_line"], j["end_col"]) == \
        ("E0201", "hello.k", 3, 15, 3, 16)
    assert j["message"] == "cannot add `int` and `boolean`"
    assert [(l["col"], l["text"]) for l in j["labels"]] == [(9, "int"), (17, "boolean")]


def test_json_syntax_error_position():
    a = analyze("int a = 1\nint b = 2;\n", "s.k")
    [d] = a.diagnostics
    j = d.to_json()
    assert (j["code"], j["line"], j["col"]) == ("E0010", 1, 10)


def test_unknown_name_json():
    a = analyze("print(zz);\n", "u.k")
    [d] = a.diagnostics
    assert d.to_json()["message"] == "cannot find `zz` in this scope"
    assert (d.line, d.col) == (1, 7)


def test_w0901_names_the_command_parameter_as_declared():
    a = analyze("class Fifo extends CharDevice {\n"
                "    int ioctl(File f, int req, int arg) { return req == 0x5421 ? 1 : 0; }\n"
                "}\n"
                "class Dev extends Device {\n"
                "    int ioctl(int request, int arg) { if (0x2 == request) return 1; return 0; }\n"
                "}\n", "names.k")
    assert a.ok
    assert [(d.code, d.line, d.message.split(" compared with ")[0]) for d in a.warnings] == \
        [("W0901", 2, "`req`"), ("W0901", 5, "`request`")]
    assert not any("`cmd`" in d.message for d in a.warnings)


# ---------------------------------------------------------------- nesting
# The checker and the emitter recurse over the tree: long but valid code
# must compile, and a tree past the limit must get E0014, never a traceback.

def ktc(*args, cwd=None):
    """The real CLI as a subprocess (what a user sees on stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    if env.get("KTC_VM"):
        env["KTC_VM"] = os.path.abspath(env["KTC_VM"])
    return subprocess.run([sys.executable, "-m", "ktc.cli", *map(str, args)],
                          cwd=cwd or ROOT.parent, capture_output=True, text=True,
                          env=env, timeout=300)


def need_vm():
    from ktc import host
    try:
        host.find_vm(announce=lambda m: None)
    except host.VMError as e:
        pytest.skip(f"no VM: {e}")


def chain(n, term="x"):
    """`int x = 1;` and a global initialised with a chain of n terms on
    line 2, column 9."""
    return "int x = 1;\nint y = " + " + ".join([term] * n) + ";\nprint(y);\n"


def test_long_concatenation_runs(tmp_path):
    need_vm()
    p = tmp_path / "concat.k"
    pieces = " + ".join(f'"{i % 10}"' for i in range(2000))
    p.write_text(f"String s = {pieces};\nprint(s.length());\nprint(s.substring(1990, 2000));\n")
    r = ktc("run", p)
    assert (r.returncode, r.stdout, r.stderr) == (0, "2000\n0123456789\n", "")


def test_long_else_if_chain_runs(tmp_path):
    need_vm()
    p = tmp_path / "arms.k"
    arms = "".join(f"    else if (x == {i}) return {i * 3};\n" for i in range(1, 1000))
    p.write_text("int pick(int x) {\n    if (x == 0) return -5;\n" + arms +
                 "    else return -1;\n}\n"
                 'print([pick(0), pick(1), pick(500), pick(999), pick(1000)]);\n')
    r = ktc("run", p)
    assert (r.returncode, r.stdout, r.stderr) == (0, "[-5, 3, 1500, 2997, -1]\n", "")


def test_absurd_nesting_is_a_diagnostic(tmp_path):
    p = tmp_path / "deep.k"
    p.write_text(chain(200_000))
    r = ktc("check", p)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr
    assert r.stderr.startswith(
        "error[E0014]: expressions and statements nested more than 10000 levels deep\n"
        f"  --> {p}:2:9\n")
    assert r.stderr.count("error[") == 1


def test_nesting_limit_boundary():
    from frontend.compiler import compile_source
    from frontend.parser import MAX_NESTING
    # Program -> GlobalDecl -> a chain of n terms: n + 1 levels
    assert compile_source(chain(MAX_NESTING - 1), "edge.k")
    a = analyze(chain(MAX_NESTING), "edge.k")
    [d] = a.diagnostics
    assert (d.code, d.line, d.col) == ("E0014", 2, 9)
    assert a.program is None and not a.warnings


def test_nesting_error_points_where_it_gets_too_deep():
    # each call is a level, and its callee one more: the `f` of the
    # 9,996th call of the return is the first node past the limit
    # (FuncDecl, Block and Return are the first three levels)
    from frontend.parser import MAX_NESTING
    n = MAX_NESTING + 50
    src = ("int f(int v) { return v; }\n"
           "int g() {\n    return " + "f(" * n + "1" + ")" * n + ";\n}\n"
           "int h() {\n    return " + "f(" * n + "1" + ")" * n + ";\n}\n"
           "print(g() + h());\n")
    a = analyze(src, "calls.k")
    assert [(d.code, d.line, d.col) for d in a.diagnostics] == \
        [("E0014", 3, 12 + 2 * (MAX_NESTING - 4)), ("E0014", 6, 12 + 2 * (MAX_NESTING - 4))]


def test_out_of_stack_is_a_diagnostic_too(monkeypatch):
    # Should a pass run out of stack below the limit (a construct deeper per
    # level than measured, another Python), the compile still reports E0014
    # rather than a RecursionError.
    from frontend import compiler, emitter
    from frontend.diagnostics import CompileError
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        monkeypatch.setattr(compiler, "_RECURSION_LIMIT", 0)
        a = compiler.analyze(chain(3000), "low.k")
        [d] = a.diagnostics
        assert d.code == "E0014" and "compiler's stack" in d.message
        assert d.line == 2
    finally:
        sys.setrecursionlimit(old)
    monkeypatch.undo()

    def no_stack(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(emitter, "emit", no_stack)
    with pytest.raises(CompileError) as e:
        compiler.compile_source("int x = 1;\nprint(x + x);\n", "emit.k")
    [d] = e.value.diagnostics
    assert (d.code, d.line) == ("E0014", 2)


def test_compile_restores_the_recursion_limit():
    from frontend.compiler import compile_source
    before = sys.getrecursionlimit()
    assert compile_source(chain(3000), "limit.k")
    assert sys.getrecursionlimit() == before


if __name__ == "__main__" and "--regen" in sys.argv:
    for name in CASES:
        _, text = render(name)
        (ROOT / "diagnostics" / f"{name}.expected").write_text(text)
    print(f"regenerated {len(CASES)} files")
