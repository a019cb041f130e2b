"""The packages depend one way: ktc -> ctjit -> frontend.  frontend/ is the
compiler alone and imports neither the JIT nor the tool; ctjit/ does not
import the tool.  The imports are read from each module's syntax tree, so
imports inside functions count, and comments or strings do not."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# package -> the packages it must never import
FORBIDDEN = {"frontend": {"ctjit", "ktc"}, "ctjit": {"ktc"}}


def imported_packages(path: pathlib.Path,
                      package_dir: pathlib.Path) -> dict[str, int]:
    """The top-level packages a module of the package in package_dir
    imports (relative imports resolved), each with the line of its first
    import."""
    tree = ast.parse(path.read_text(), str(path))
    rel = path.relative_to(package_dir).parts
    # the package the module is in, for `from .x import y` and `from ..`
    here = [package_dir.name, *rel[:-1]]
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                if not base:
                    names = [node.module or ""]
                else:
                    names = [".".join(base + ([node.module]
                                              if node.module else []))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            found.setdefault(name.split(".")[0], node.lineno)
    return found


def test_imported_packages_reads_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    mod = pkg / "sub" / "m.py"
    mod.write_text("import os.path\n"
                   "from . import sibling\n"
                   "'import ktc'  # a string, not an import\n"
                   "def f():\n"
                   "    from ctjit.codegen import generate\n"
                   "    import ktc.cli as c\n")
    assert imported_packages(mod, pkg) == {"os": 1, "pkg": 2, "ctjit": 5,
                                           "ktc": 6}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    bad = []
    for path in files:
        for name, line in imported_packages(path, ROOT / package).items():
            if name in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_tool_modules_live_in_ktc():
    # the CLI and the VM host moved out of the compiler; no shim is left
    for name in ("cli.py", "host.py"):
        assert not (ROOT / "frontend" / name).exists()
        assert (ROOT / "ktc" / name).is_file()
