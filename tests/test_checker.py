import pytest

from frontend.compiler import analyze
from frontend import types as T
from tests.valid_snippets import VALID


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_program_checks_clean(name):
    a = analyze(VALID[name], f"{name}.k")
    assert a.render() == "" and a.ok


def annotated(src):
    a = analyze(src, "t.k")
    assert a.ok, a.render()
    return a.program


def test_class_layout_and_vtable():
    p = annotated("""
class A { int x; int f() { return 1; } String toString() { return "A"; } }
class B extends A { int y; int f() { return 2; } int g() { return 3; } }
class E extends Exception { int code; }
""")
    info = p.info
    a, b, e = info.script_classes
    assert (a.id, b.id, e.id) == (32, 33, 34)
    assert [f.name for f in b.fields] == ["x", "y"] and b.fields[1].index == 1
    assert [m.name for m in a.vtable] == ["toString", "f"]
    assert [m.name for m in b.vtable] == ["toString", "f", "g"]
    assert b.vtable[1].owner is b and b.vtable[0].owner is a
    assert e.fields[0].name == "$message" and e.fields[1].index == 1
    assert e.ctor.implicit and e.ctor.params == [T.ClassType(info.class_by_name["String"])]
    assert [m.name for m in e.vtable][:2] == ["toString", "getMessage"]


def test_call_kinds():
    p = annotated("""
int f(int x) { return x; }
class A { int m() { return 1; } int n() { return m(); } }
class B extends A { int m() { return super.m(); } B() { super(); } }
A a = new A();
Any q = a;
Func<int(int)> g = f;
f(1); a.m(); "s".length(); Math.abs(1); print(1); g(2); q.m(); [1].size();
""")
    calls = [s.expr for s in p.items if hasattr(s, "expr")]
    assert [c.kind for c in calls] == ["func", "virtual", "native", "native", "print", "funcval", "dynamic", "native"]
    assert calls[1].target.slot == 1


def test_name_refs_and_vars():
    from frontend.symbols import LocalVar, FieldInfo, GlobalInfo, FuncInfo
    p = annotated("""
int g = 1;
int f(int a) { return a + g; }
class C { int x; int m() { return x; } }
Func<int(int)> h = f;
""")
    fd = p.items[1]
    ret = fd.body.stmts[0].value
    assert isinstance(ret.left.ref, LocalVar) and ret.left.ref is fd.params[0].var
    assert isinstance(ret.right.ref, GlobalInfo)
    m = p.items[2].members[1]
    assert isinstance(m.body.stmts[0].value.ref, FieldInfo)
    assert isinstance(p.items[3].init.ref, FuncInfo)
    assert str(p.items[3].info.type) == "Func<int(int)>"


def test_type_strings():
    p = annotated("Array<Array<int>> a = null; Func<void(int, String)> f = null; Point[] ps = null; class Point {}")
    assert str(p.items[0].info.type) == "int[][]"
    assert str(p.items[1].info.type) == "Func<void(int, String)>"
    assert str(p.items[2].info.type) == "Point[]"


def test_errno_constant():
    p = annotated("int e = Errno.EINVAL;")
    assert p.items[0].init.ref == 22
