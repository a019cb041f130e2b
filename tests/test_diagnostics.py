"""Golden diagnostics suite: tests/diagnostics/NAME.k must produce exactly
NAME.expected (all diagnostics, errors and warnings, rendered in source
order, as `ktc check` prints them).  A file whose name begins with `warn_`
has warnings and no error; every other file has errors.

Regenerate after reviewing changes with: python3 tests/test_diagnostics.py --regen
"""
import json
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


if __name__ == "__main__" and "--regen" in sys.argv:
    for name in CASES:
        _, text = render(name)
        (ROOT / "diagnostics" / f"{name}.expected").write_text(text)
    print(f"regenerated {len(CASES)} files")
