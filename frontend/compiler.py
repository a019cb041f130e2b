"""Entry points of the front end: `analyze` (parse + check) and
`compile_source` (analyze + emit + image)."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

from .checker import check
from .diagnostics import CompileError, render_all
from .parser import parse


@dataclass
class Analysis:
    program: object
    diagnostics: list = field(default_factory=list)
    source: str = ""
    filename: str = "<input>"

    @property
    def ok(self):
        return not self.diagnostics

    def render(self):
        return render_all(self.diagnostics, self.source)


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
    program, diags = parse(source, filename)
    if program is not None:
        _, check_diags = check(program, filename)
        # Lexical errors first at equal positions; keep source order overall.
        seen = {(d.code, d.span) for d in diags}
        diags = diags + [d for d in check_diags if (d.code, d.span) not in seen]
        diags.sort(key=lambda d: (d.span[1], d.span[2]))
    return Analysis(program, diags, source, filename)


def compile_source(source, filename="<input>", **options):
    """Compile to image bytes, or raise CompileError with the diagnostics."""
    a = analyze(source, filename)
    if not a.ok:
        raise CompileError(a.diagnostics, source)
    from . import emitter, image   # imported here: analyze() needs neither
    module = emitter.emit(a.program, **options) if options else emitter.emit(a.program)
    if isinstance(module, (bytes, bytearray)):
        return bytes(module)
    return image.write(module)
