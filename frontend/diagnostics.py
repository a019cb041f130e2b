"""Diagnostics of the K compiler, rendered rustc style (STYLE.md).

`Diagnostic(code, message, span, labels=[(span, text)], notes=[])`.
Messages are lowercase without a final period, identifiers in backticks.
Every kind of error has its own stable code, listed in `CODES`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CODES = {
    # lexical
    "E0001": "invalid character in source",
    "E0002": "unterminated string, character literal or comment",
    "E0003": "invalid escape sequence",
    "E0004": "malformed integer literal (bad digit, empty, or bad prefix)",
    "E0005": "integer literal out of range",
    "E0006": "character literal must hold exactly one byte",
    # syntax
    "E0010": "unexpected token",
    "E0011": "unexpected end of file",
    "E0012": "`try` without `catch` or `finally`",
    "E0013": "invalid assignment or increment target",
    # names
    "E0100": "cannot find a name in this scope",
    "E0101": "name declared twice",
    "E0102": "a built-in name is redeclared",
    "E0103": "a variable, parameter or field has the name of a class",
    "E0104": "unknown type",
    "E0105": "a type or namespace is used as a value",
    "E0106": "a local variable redeclares a local of an enclosing block",
    # types
    "E0200": "mismatched types",
    "E0201": "invalid operand types for an operator",
    "E0202": "condition is not `boolean`",
    "E0203": "invalid cast between unrelated types",
    "E0204": "invalid `instanceof` test",
    "E0205": "no common type for the branches or elements",
    "E0206": "`void` used as a value or variable type",
    "E0207": "`var` needs an initialiser of a definite type",
    "E0208": "array literal needs an expected type",
    "E0209": "comparison between unrelated types",
    "E0210": "value is not an array",
    "E0211": "value cannot be called",
    "E0212": "wrong number of arguments",
    "E0213": "no such field or method",
    "E0214": "field access through `Any`",
    "E0215": "built-in method used as a value",
    "E0216": "`this` or `super` outside a method",
    "E0217": "cannot instantiate this type",
    "E0218": "thrown or caught type is not an `Exception`",
    "E0219": "for-each over a non-array",
    "E0220": "expression statement has no effect",
    # classes
    "E0300": "class cannot be extended",
    "E0301": "cyclic inheritance",
    "E0302": "override with a different signature",
    "E0303": "member name clash (field/method, redeclared field, duplicate member)",
    "E0304": "more than one constructor",
    "E0305": "constructor must begin with `super(...)`",
    "E0306": "`super(...)` outside the first statement of a constructor",
    "E0307": "constructor name does not match its class",
    "E0308": "method added to an unknown or built-in class",
    "E0309": "`super.m` is not a value",
    # flow
    "E0400": "unreachable statement",
    "E0401": "missing return",
    "E0402": "variable used before being definitely assigned",
    "E0403": "`break` or `continue` outside a loop",
    "E0404": "`return` with a value in a void function or without one in a non-void function",
    "E0405": "`return` at top level",
}

docs = """Error codes of ktc.

Each diagnostic names a code; `ktc explain CODE` (or this table) gives a one
line description.  E00xx are lexical and syntax errors, E01xx names,
E02xx types and expressions, E03xx classes, E04xx control flow.
""" + "\n".join(f"{code}  {text}" for code, text in CODES.items())


@dataclass
class Diagnostic:
    code: str
    message: str
    span: tuple                      # (file, line, col, end_line, end_col), end_col exclusive
    labels: list = field(default_factory=list)    # [(span, text)] secondary labels
    notes: list = field(default_factory=list)     # extra lines "= note: ..."
    label: str = ""                  # text under the primary carets (optional)
    severity: str = "error"

    @property
    def file(self):
        return self.span[0]

    @property
    def line(self):
        return self.span[1]

    @property
    def col(self):
        return self.span[2]

    def sort_key(self):
        return (self.span[1], self.span[2])

    def to_json(self):
        f, l, c, el, ec = self.span
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": f, "line": l, "col": c, "end_line": el, "end_col": ec,
            "labels": [{"line": s[1], "col": s[2], "end_line": s[3], "end_col": s[4],
                        "text": t} for s, t in self.labels],
            "notes": list(self.notes),
        }

    def render(self, source_text):
        lines = source_text.split("\n")
        f, l, c, el, ec = self.span
        marks = [(self.span, "^", self.label)] + [(s, "-", t) for s, t in self.labels]
        by_line = {}
        for s, ch, text in marks:
            by_line.setdefault(s[1], []).append((s, ch, text))
        width = len(str(max(by_line)))
        pad = " " * (width + 1)
        out = [f"{self.severity}[{self.code}]: {self.message}",
               f"{pad}--> {f}:{l}:{c}",
               f"{pad} |"]
        prev = None
        for ln in sorted(by_line):
            if prev is not None and ln > prev + 1:
                out.append("...")
            prev = ln
            src = lines[ln - 1] if 0 < ln <= len(lines) else ""
            src = src.rstrip("\r")
            out.append(f" {ln:>{width}} | {src}".rstrip())
            out.extend(_underlines(pad, src, by_line[ln]))
        for note in self.notes:
            out.append(f"{pad} = note: {note}")
        return "\n".join(out)


def _extent(span, src):
    _, l, c, el, ec = span
    start = c - 1
    end = ec - 1 if el == l else len(src)
    if end <= start:
        end = start + 1
    return start, end


def _underlines(pad, src, marks):
    """Caret/dash lines for the marks of one source line, rustc style: the
    label of the rightmost mark goes on the underline line; the others get
    a `|` and their text on lines below."""
    marks = sorted(marks, key=lambda m: _extent(m[0], src)[0])
    chars = []
    for s, ch, _ in marks:
        start, end = _extent(s, src)
        while len(chars) < end:
            chars.append(" ")
        for i in range(start, end):
            if chars[i] == " ":
                chars[i] = ch
    line = "".join(chars)
    labelled = [(m, _extent(m[0], src)) for m in marks if m[2]]
    out = []
    if not labelled:
        out.append(f"{pad} | {line}".rstrip())
        return out
    rightmost = max(marks, key=lambda m: _extent(m[0], src)[1])
    if rightmost[2] and labelled[-1][0] is rightmost:
        out.append(f"{pad} | {line} {rightmost[2]}")
        rest = labelled[:-1]
    else:
        out.append(f"{pad} | {line}".rstrip())
        rest = labelled
    if rest:
        bar = [" "] * len(line)
        for _, (s, _) in rest:
            bar[s] = "|"
        out.append(f"{pad} | {''.join(bar)}".rstrip())
        for i in range(len(rest) - 1, -1, -1):
            (m, (s, _)) = rest[i]
            row = [" "] * len(line)
            for _, (s2, _) in rest[:i]:
                row[s2] = "|"
            text = "".join(row[:s]) + m[2]
            out.append(f"{pad} | {text}".rstrip())
    return out


def render_all(diagnostics, source_text):
    """All diagnostics of a file, separated by blank lines."""
    return "\n\n".join(d.render(source_text) for d in diagnostics)


class CompileError(Exception):
    """Raised by compile_source when the file has errors."""

    def __init__(self, diagnostics, source_text=None):
        self.diagnostics = list(diagnostics)
        self.source_text = source_text
        super().__init__(f"{len(self.diagnostics)} error(s)")
