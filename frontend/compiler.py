"""Entry points of the front end: `analyze` (parse + check) and
`compile_source` (analyze + emit + image).

The pipeline is source -> parse (parser.py) -> check (checker.py) -> emit
(emitter.py) -> image bytes (image.py).  The tool (ktc/cli.py) and the tests
come in here; nothing in frontend/ imports ktc/ or ctjit/.

Diagnostics come in two kinds (the language reference §10): errors
(`Analysis.diagnostics`; any of them stops the compile) and warnings
(`Analysis.warnings`, severity "warning"), which stop it only under
`werror`.  A file with lexical or syntax errors gets only those.

Deep scripts.  The parser is iterative, but the checker and the emitter
recurse over the tree, a few Python frames per level: a chain of a few
hundred `+` or `else if` would pass Python's default recursion limit.  So
every compile (`analyze`, `compile_source`: what `ktc check`, `compile`,
`run`, `disasm`, `load` and `try` go through) runs on a thread of its own
with a large stack and a recursion limit sized for the deepest tree the
parser lets through (parser.MAX_NESTING levels; deeper is error E0014).
Should a stage still run out of stack, the compile reports E0014 at the
deepest node rather than crash."""
from __future__ import annotations

import gc
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from .checker import check
from .diagnostics import CompileError, Diagnostic, render_all
from .parser import MAX_NESTING, nesting_error, nesting_levels, parse

# The compile thread's stack and recursion limit.  The checker and the
# emitter take at most about 5 frames per level of the tree (measured over
# chains of operators, calls, casts, lambdas, blocks, `try`, `switch`, array
# literals and `else if`); the limit allows 25, and the stack holds them
# with room to spare (a 10,000-level tree of each of those compiled in a
# 64 MiB stack).  The stack is address space: a compile uses only the
# pages it touches.
_STACK_BYTES = 512 << 20
_RECURSION_LIMIT = 25 * MAX_NESTING + 10_000

_deep = threading.local()          # .active: this thread is a compile thread
_limit_lock = threading.Lock()
_limit_users = 0                   # compile threads running
_limit_saved = 0                   # the recursion limit before the first of them


def _raise_recursion_limit():
    """Raises the interpreter's recursion limit (one for all threads) for
    a compile thread about to start; the first one saves the old limit."""
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_limit_saved, _RECURSION_LIMIT))
        _limit_users += 1


def _restore_recursion_limit():
    """Undoes _raise_recursion_limit: the last compile thread to end puts
    the old limit back, so that threads with ordinary stacks get their
    RecursionError again rather than overflow the C stack."""
    global _limit_users
    with _limit_lock:
        _limit_users -= 1
        if _limit_users == 0:
            sys.setrecursionlimit(_limit_saved)


def _on_deep_stack(fn, *args):
    """fn(*args), run on a thread with _STACK_BYTES of stack under the
    _RECURSION_LIMIT; its result is returned, its exception raised here.
    On a compile thread already, fn simply runs.  Where no thread can be
    made, fn runs on this thread's stack and limit (a deep script then gets
    E0014 from the RecursionError fallback).  The thread is a daemon so
    that Ctrl-C ends the process without waiting for the compile."""
    if getattr(_deep, "active", False):
        return fn(*args)
    box = {}

    def body():
        _deep.active = True
        try:
            box["value"] = fn(*args)
        except BaseException as e:     # noqa: BLE001 - raised again below
            box["error"] = e

    thread = None
    _raise_recursion_limit()
    try:
        try:
            old_size = threading.stack_size(_STACK_BYTES)
        except (ValueError, RuntimeError):
            old_size = None            # the platform refuses: default size
        try:
            thread = threading.Thread(target=body, name="ktc-compile", daemon=True)
            thread.start()
        except RuntimeError:
            thread = None              # no thread to be had
        finally:
            if old_size is not None:
                threading.stack_size(old_size)
        if thread is not None:
            thread.join()
    finally:
        _restore_recursion_limit()
    if thread is None:
        return fn(*args)
    error = box.pop("error", None)
    if error is not None:
        try:
            raise error
        finally:
            del error                  # no cycle through the traceback
    return box["value"]


def _out_of_stack(program, filename):
    """E0014 for a compile stage that ran out of stack on `program`
    although the parser let its nesting through: at the deepest node of
    the deepest top-level item, found without recursion (at the start of
    the file when there is no tree)."""
    best = None
    for item in (program.items if program is not None else []):
        node, level = nesting_levels(item)
        if best is None or level > best[2]:
            best = (node, item, level)
    message = "expressions and statements nested too deeply for the compiler's stack"
    if best is None:
        return Diagnostic("E0014", message, (filename, 1, 1, 1, 2))
    node, item, level = best
    d = nesting_error(node, item, filename)
    d.message = f"{message} ({level} levels)"
    return d


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
    return _on_deep_stack(_analyze_paused, source, filename)


def _analyze_paused(source, filename):
    with _gc_paused():
        return _analyze(source, filename)


def _analyze(source, filename):
    """The check runs only on a file that parsed: a syntax error leaves no
    tree, and its errors are the only ones reported."""
    program = None
    try:
        program, diags = parse(source, filename)
        if program is not None:
            _, check_diags = check(program, filename)
    except RecursionError:
        return Analysis(None, [_out_of_stack(program, filename)], source, filename)
    if program is not None:
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
    return _on_deep_stack(_compile, source, filename, werror, warnings, options)


def _compile(source, filename, werror, warnings, options):
    """compile_source on the compile thread."""
    a = analyze(source, filename)
    if not a.ok or (werror and a.warnings):
        raise CompileError(a.diagnostics, source, a.warnings)
    if warnings is not None:
        warnings.extend(a.warnings)
    from . import emitter, image   # imported here: analyze() needs neither
    try:
        module = emitter.emit(a.program, **options) if options else emitter.emit(a.program)
        if isinstance(module, (bytes, bytearray)):
            return bytes(module)
        return image.write(module)
    except RecursionError:
        raise CompileError([_out_of_stack(a.program, filename)], source) from None
