"""Diagnostics of the K compiler, rendered in rustc's style: a headline
`error[E0200]: message`, the `--> file:line:col` location, the source line
with carets and labels under it, then `= note:` lines.

Every stage of the front end (parser, checker) reports through this
module; `ktc check` and a failed compile print `render_all`.

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
    "E0014": "expressions and statements nested too deeply (more than 10000 levels; each operator of a chain counts)",
    # (1.1) Java constructs that K lacks: syntax errors naming the K way
    "E0020": "`static` member or initialiser (use a global or a top-level function)",
    "E0021": "`enum` (use a class with final global instances, or constant globals)",
    "E0022": "`abstract` class or method (use an interface, or a method that throws)",
    "E0023": "`public`, `private`, `protected` (remove it: K has no visibility)",
    "E0024": "`float`, `double` as a type (use `int`: K has no floating point)",
    "E0025": "`long`, `char`, `byte`, `short` as a type (use `int`: 64 bits; characters are ints)",
    "E0026": "array initialiser `{1, 2}` (use the array literal `[1, 2]`)",
    "E0027": "annotation `@Name` (remove it)",
    "E0028": "`import`, `package` (remove it: a script is one file)",
    "E0029": "generic declaration or type arguments after a class name (use `Any` and casts, or `Array`, `Map`, `Func`)",
    "E0030": "labelled statement, `break L;`, `continue L;` (use a flag, or a function and `return`)",
    "E0031": "`case L:`, `default:` (use `case L ->`: no fall-through)",
    "E0032": "`final` class, interface, method or constructor (remove it)",
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
    # (1.1) final, constant expressions and switch (E05xx)
    "E0500": "assignment, `++`, `--` or compound assignment of a final variable or field",
    "E0501": "final global or local without an initialiser",
    "E0502": "blank final field not assigned by its constructor on every path",
    "E0503": "final field might be assigned twice",
    "E0504": "final field read before it is definitely assigned",
    "E0505": "constant globals that depend on each other in a cycle",
    "E0510": "switch selector is not `int` or `String`",
    "E0511": "`case` label is not a constant expression",
    "E0513": "duplicate `case` label",
    "E0514": "more than one `default` arm",
    "E0515": "switch expression without `default`",
    "E0516": "block as an arm of a switch expression",
    "E0517": "switch expression with no arm that gives a value",
    # (1.1) lambdas (E06xx)
    "E0600": "lambda without an expected `Func` type",
    "E0601": "lambda with a wrong number of parameters",
    "E0602": "typed lambda parameter differs from the `Func` type's",
    "E0603": "lambda uses a local that is not final or effectively final",
    "E0604": "lambda assigns a local of an enclosing function",
    "E0605": "`void` lambda whose expression body is not a statement expression",
    "E0606": "lambda uses a local in its own initialiser",
    # (1.1) interfaces (E07xx)
    "E0700": "field in an interface",
    "E0701": "method body in an interface",
    "E0702": "constructor in an interface",
    "E0703": "`final` parameter in an interface method",
    "E0704": "a class extends an interface, or an interface or `implements` list names a class",
    "E0705": "cyclic interface inheritance",
    "E0706": "interface named twice in an `extends` or `implements` list",
    "E0707": "two interface methods with the same name and different signatures",
    "E0708": "interface method `toString` that is not `String toString()`",
    "E0709": "class lacks methods of the interfaces it implements",
    "E0710": "method added outside the body of an interface",
    "E0711": "`toString` through an interface type used as a value",
    # flow
    "E0400": "unreachable statement",
    "E0401": "missing return",
    "E0402": "variable used before being definitely assigned",
    "E0403": "`break` or `continue` outside a loop",
    "E0404": "`return` with a value in a void function or without one in a non-void function",
    "E0405": "`return` at top level",
    # (1.1) devices
    "E0900": "`Ioctl.io`, `ior`, `iow` or `iowr` with a constant argument out of range",
    # (1.1) warnings: valid but suspicious code; `--werror` makes them errors
    "W0001": "unused local variable (its name is used nowhere but as the target of `=`)",
    "W0901": "`ioctl` compares its command parameter (`cmd`, whatever its name) with a command number Linux never passes to a driver",
    "W0902": "device method one edit away from a callback's name, so never called",
}

docs = """Error codes of ktc.

Each diagnostic names a code; `ktc explain CODE` (or this table) gives a one
line description.  E00xx are lexical and syntax errors (E0020-E0032: Java
constructs K lacks), E01xx names, E02xx types and expressions, E03xx
classes, E04xx control flow, (1.1) E07xx interfaces, E09xx devices; Wnnnn
are warnings (W09xx: devices).
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
        """The diagnostic as `ktc check` prints it; source_text is the
        file's text or its lines (render_all splits it once for all)."""
        lines = source_text if isinstance(source_text, list) \
            else source_text.split("\n")
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
    chars = _tabbed(chars, src)
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
        out.append(f"{pad} | {''.join(_tabbed(bar, src))}".rstrip())
        for i in range(len(rest) - 1, -1, -1):
            (m, (s, _)) = rest[i]
            row = [" "] * len(line)
            for _, (s2, _) in rest[:i]:
                row[s2] = "|"
            text = "".join(_tabbed(row[:s], src)) + m[2]
            out.append(f"{pad} | {text}".rstrip())
    return out


def _tabbed(chars, src):
    """The marks' blanks with the source line's tabs where it has them, so
    that the marks stand under their columns when a terminal expands the
    tabs of both lines alike (a tab counts as one column in positions)."""
    return ["\t" if c == " " and i < len(src) and src[i] == "\t" else c
            for i, c in enumerate(chars)]


def render_all(diagnostics, source_text):
    """All diagnostics of a file, separated by blank lines."""
    lines = source_text.split("\n")
    return "\n\n".join(d.render(lines) for d in diagnostics)


def unused_locals(declared, used):
    """W0001 (the language reference §10): each local of `declared` (the
    checker's LocalVars of the variables declared by statements, in order)
    that is not in `used` (the locals some name reads: every use but as the
    target of `=`), unless its name begins with `_`."""
    return [Diagnostic("W0001", f"unused local variable `{v.name}`", v.span,
                       notes=[f"its value is never read; if that is intended, name it `_{v.name}`"],
                       severity="warning")
            for v in declared if v not in used and not v.name.startswith("_")]


class CompileError(Exception):
    """Raised by compile_source when the file has errors (or, under
    `werror`, warnings).  `diagnostics` holds the errors and `warnings` the
    warnings, each in source order."""

    def __init__(self, diagnostics, source_text=None, warnings=()):
        self.diagnostics = list(diagnostics)
        self.warnings = list(warnings)
        self.source_text = source_text
        super().__init__(f"{len(self.diagnostics)} error(s)")
