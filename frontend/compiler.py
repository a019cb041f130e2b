"""Entry points of the front end: `analyze` (parse + check) and
`compile_source` (analyze + emit + image).

The pipeline is source -> parse (parser.py) -> check (checker.py) -> emit
(emitter.py) -> image bytes (image.py).  The tool (ktc/cli.py) and the tests
come in here; nothing in frontend/ imports ktc/ or ctjit/.

Diagnostics come in two kinds (the language reference §10): errors
(`Analysis.diagnostics`; any of them stops the compile) and warnings
(`Analysis.warnings`, severity "warning"), which stop it only under
`werror`.  A file with lexical or syntax errors gets only those."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

from .checker import check
from .diagnostics import CompileError, render_all
from .parser import parse


@dataclass
class Analysis:
    """The result of `analyze`: the annotated Program (None after lexical
    or syntax errors), its errors and warnings, and the source they are
    rendered against."""
    program: object
    diagnostics: list = field(default_factory=list)   # errors
    source: str = ""
    filename: str = "<input>"
    warnings: list = field(default_factory=list)

    @property
    def ok(self):
        """No errors (warnings do not count)."""
        return not self.diagnostics

    def all_diagnostics(self):
        """Errors and warnings, in source order (errors first at a tie)."""
        return sorted(self.diagnostics + self.warnings,
                      key=lambda d: (d.span[1], d.span[2], d.severity != "error"))

    def render(self):
        """The errors, rendered (what makes a compile fail)."""
        return render_all(self.diagnostics, self.source)

    def render_all(self):
        """Errors and warnings, rendered as `ktc check` prints them."""
        return render_all(self.all_diagnostics(), self.source)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector.  Parsing and checking allocate
    many small, long-lived objects; with the collector on, its passes over
    the growing heap cost more than the checking itself on a large script."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyze(source, filename="<input>"):
    """Parse and check `source`; returns an Analysis (annotated AST + diagnostics)."""
    with _gc_paused():
        return _analyze(source, filename)


def _analyze(source, filename):
    """The check runs only on a file that parsed: a syntax error leaves no
    tree, and its errors are the only ones reported."""
    program, diags = parse(source, filename)
    if program is not None:
        _, check_diags = check(program, filename)
        # Lexical errors first at equal positions; keep source order overall.
        seen = {(d.code, d.span) for d in diags}
        diags = diags + [d for d in check_diags if (d.code, d.span) not in seen]
        diags.sort(key=lambda d: (d.span[1], d.span[2]))
    errors = [d for d in diags if d.severity == "error"]
    warnings = [d for d in diags if d.severity != "error"]
    return Analysis(program, errors, source, filename, warnings)


def compile_source(source, filename="<input>", *, werror=False, warnings=None, **options):
    """Compile to image bytes, or raise CompileError with the diagnostics:
    on any error, or under `werror` on any warning.  The warnings of a
    successful compile are appended to the list `warnings` when given."""
    a = analyze(source, filename)
    if not a.ok or (werror and a.warnings):
        raise CompileError(a.diagnostics, source, a.warnings)
    if warnings is not None:
        warnings.extend(a.warnings)
    from . import emitter, image   # imported here: analyze() needs neither
    module = emitter.emit(a.program, **options) if options else emitter.emit(a.program)
    if isinstance(module, (bytes, bytearray)):
        return bytes(module)
    return image.write(module)
