"""Parser of K: Lark LALR with a contextual lexer (`_FastLexer`), building `ast` nodes.

`parse(source, filename)` returns `(Program, diagnostics)`.  Lexical
errors found while building literals (bad escapes, out-of-range integers)
are all reported; a syntax error stops the parse after it is reported.
"""
from __future__ import annotations

import gc
import re
import sys
import threading
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.grammar import NonTerminal, Rule
from lark.lexer import ContextualLexer, Lexer
from lark.parsers.lalr_analysis import Shift
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast as A
from .builtins import load as load_builtins
from .diagnostics import Diagnostic

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
U64 = 1 << 64

_CLASS_SCAN = re.compile(
    r'//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|\bclass\s+([A-Za-z_]\w*)',
    re.S)


def builtin_type_names():
    names = {c.name for c in load_builtins().classes}
    names.add("Any")
    return names


class _FastLexer(Lexer):
    """Contextual lexer of K, a faster stand-in for Lark's ContextualLexer.

    It uses, for each LALR state, the very master regex Lark's contextual
    lexer compiles for that state (same terminals, same order, so the same
    tokens), but matches it directly and builds the `Token`s in one loop.
    The regex is prefixed with the ignored white space (no other terminal
    starts with white space), so that one match skips it and reads a token.
    It also does the lexer hack: an IDENT naming a class (`type_names`)
    becomes TYPE_IDENT.  On input no terminal of the state matches, it hands
    over to Lark's ContextualLexer at that position, which raises exactly
    the error Lark raises.

    `>>` and `>>>` close type arguments one `>` at a time when a shift
    operator cannot continue the parse (LANGUAGE.md 6).  The contextual
    lexer alone does not decide this: LALR merges the state after `[]` in
    a type (`Array<Array<int[]>>`) with the one after `new int[n][]`,
    which a shift operator may follow, so that state accepts `>>` and the
    parse fails one reduction later.  `_continues` runs the parser's
    reductions on a copy of the stack to see whether the shift operator is
    really acceptable here; if not, the lexer hands over a single GT.
    """
    __future_interface__ = 2
    always_accept = ("IDENT",)

    def __init__(self, lexer_conf):
        self.conf = lexer_conf
        self.type_names = frozenset()
        self._lark = None
        self._match = None

    def _build(self, parse_table):
        self._table = parse_table.states
        states = {s: list(t.keys()) for s, t in parse_table.states.items()}
        self._lark = lx = ContextualLexer(self.conf, states, always_accept=self.always_accept)
        root = lx.root_lexer
        self._ignore = frozenset(root.ignore_types)
        self._newline = frozenset(root.newline_types)
        space = [t.pattern.to_regexp() for t in root.terminals
                 if t.name in self._ignore and t.pattern.to_regexp() == _SPACE]
        prefix = f"(?:{_SPACE})?" if space else ""
        by_lexer = {}
        match = {}
        for state, sub in lx.lexers.items():
            m = by_lexer.get(id(sub))
            if m is None:
                scanner = sub.scanner
                if len(scanner._mres) != 1 or sub.callback:
                    raise RuntimeError("K lexer: unexpected Lark scanner layout")
                mre = scanner._mres[0]
                m = by_lexer[id(sub)] = re.compile(prefix + f"(?:{mre.pattern})", mre.flags).match
            match[state] = m
        self._match = match

    def lex(self, lexer_state, parser_state):
        if self._match is None:
            self._build(parser_state.parse_conf.parse_table)
        text = lexer_state.text
        src, end = text.text, text.end
        ctr = lexer_state.line_ctr
        pos, line, line_start = ctr.char_pos, ctr.line, ctr.line_start_pos
        match = self._match
        ignore, newline = self._ignore, self._newline
        names = self.type_names
        stack = parser_state.state_stack
        new = str.__new__
        tok = None
        while pos < end:
            m = match[stack[-1]](src, pos, end)
            if m is None:
                break
            kind = m.lastgroup
            npos = m.end()
            if kind in ignore:
                value = m.group()
                nl = value.count("\n")
                if nl:
                    line += nl
                    line_start = pos + value.rindex("\n") + 1
                pos = npos
                continue
            value = m.group(kind)
            start = npos - len(value)
            if start != pos:
                nl = src.count("\n", pos, start)
                if nl:
                    line += nl
                    line_start = src.rindex("\n", pos, start) + 1
                pos = start
            tok = new(Token, value)
            tok.value = value
            tok.start_pos = pos
            tok.line = line
            tok.column = pos - line_start + 1
            if kind in newline:
                nl = value.count("\n")
                if nl:
                    line += nl
                    line_start = pos + value.rindex("\n") + 1
            elif kind == "IDENT" and value in names:
                kind = "TYPE_IDENT"
            elif kind == "SHIFT_OP" and value[0] == ">" and \
                    not self._continues(stack, "SHIFT_OP") and \
                    self._continues(stack, "GT"):
                # `>>` or `>>>` closing type arguments: only its first `>`
                kind = "GT"
                value = ">"
                npos = pos + 1
                tok = new(Token, value)
                tok.value = value
                tok.start_pos = pos
                tok.line = line
                tok.column = pos - line_start + 1
            tok.type = kind
            tok.end_line = line
            tok.end_column = npos - line_start + 1
            tok.end_pos = pos = npos
            yield tok
        ctr.char_pos, ctr.line, ctr.line_start_pos = pos, line, line_start
        ctr.column = pos - line_start + 1
        if pos < end:
            # Not a token here: let Lark's contextual lexer raise its error.
            lexer_state.last_token = tok
            yield from self._lark.lex(lexer_state, parser_state)


    def _continues(self, stack, terminal):
        """Whether the parser, its state stack being `stack`, can shift
        `terminal` after the reductions it calls for (no reduction is
        performed on the real stack)."""
        table = self._table
        states = list(stack)
        while True:
            action = table[states[-1]].get(terminal)
            if action is None:
                return False
            kind, arg = action
            if kind is Shift:
                return True
            n = len(arg.expansion)
            if n:
                del states[-n:]
            goto = table[states[-1]].get(arg.origin.name)
            if goto is None:
                return False
            states.append(goto[1])


_SPACE = "[ \t\r\n\x0c]+"   # the grammar's `%ignore` of white space, as Lark spells it

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39}


_KEEP = frozenset({"IDENT", "TYPE_IDENT", "PRIM", "INT", "CHAR", "STRING", "DIMS",
                   "ASSIGN_OP", "OROR", "ANDAND", "BAR", "CARET", "AMP", "EQ_OP",
                   "SHIFT_OP", "ADD_OP", "MINUS", "MUL_OP", "INCDEC", "BANG", "TILDE"})


# Binding strength of the binary operators (LANGUAGE.md 6).
_PREC = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
         "<": 7, ">": 7, "<=": 7, ">=": 7, "instanceof": 7,
         "<<": 8, ">>": 8, ">>>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}


def _bounds(c):
    """(line, col, end_line, end_col) of a token, node or list, or None."""
    if c is None:
        return None
    if isinstance(c, Token):
        return (c.line, c.column, c.end_line, c.end_column)
    if isinstance(c, A.Node):
        s = c.span
        return (s[1], s[2], s[3], s[4])
    if isinstance(c, list) and c:
        f, l = _bounds(c[0]), _bounds(c[-1])
        if f is not None and l is not None:
            return (f[0], f[1], l[2], l[3])
    return None


class _Builder(Transformer):
    """Builds AST nodes during the LALR parse (inline transformer)."""

    def __init__(self):
        super().__init__(visit_tokens=False)
        self.filename = "<input>"
        self.pending_nodes = []
        self.diags = []
        self.pending_minmax = set()   # ids of IntLits equal to 2^63, valid only under unary minus
        self.parenthesized = set()    # ids of expressions written in parentheses

    # -- helpers
    def tsp(self, tok):
        return (self.filename, tok.line, tok.column, tok.end_line, tok.end_column)

    def span2(self, a, b):
        return (self.filename, a[1], a[2], b[3], b[4])

    def error(self, code, msg, span, **kw):
        self.diags.append(Diagnostic(code, msg, span, **kw))

    def span(self, raw):
        """Span from the first to the last child that has a position."""
        first = last = None
        for c in raw:
            if type(c) is Token:
                first = c
                break
            b = _bounds(c)
            if b is not None:
                first = b
                break
        else:
            return (self.filename, 0, 0, 0, 0)
        for c in reversed(raw):
            if type(c) is Token:
                last = c
                break
            b = _bounds(c)
            if b is not None:
                last = b
                break
        if type(first) is Token:
            line, col = first.line, first.column
        else:
            line, col = first[0], first[1]
        if type(last) is Token:
            return (self.filename, line, col, last.end_line, last.end_column)
        return (self.filename, line, col, last[2], last[3])

    @staticmethod
    def clean(raw):
        return [c for c in raw if type(c) is not Token or c.type in _KEEP]

    # -- names and types
    def name(self, children):
        return children[0]

    def extends_clause(self, raw):
        return self.clean(raw)[0]

    def finally_clause(self, raw):
        return A.FinallyMarker(self.clean(raw)[0])

    def for_cond(self, raw):
        ch = self.clean(raw)
        return ch[0] if ch else None

    def paren(self, raw):
        inner = self.clean(raw)[0]
        # 2^63 is allowed only directly under unary minus: `-(2^63)` is not.
        self.parenthesized.add(id(inner))
        return inner

    def prim_type(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return self._wrap_dims(t, ch[1:])

    def class_type(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return self._wrap_dims(t, ch[1:])

    def array_generic(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.ArrayTypeNode(span, elem=ch[0])
        if len(ch) > 1:
            # span of Array<...> alone: up to the first dims token
            first = ch[1]
            t.span = (self.filename, span[1], span[2], first.line, first.column)
        return self._wrap_dims(t, ch[1:])

    def func_type(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.FuncTypeNode(span, ret=ch[0], params=ch[1])
        if len(ch) > 2:
            first = ch[2]
            t.span = (self.filename, span[1], span[2], first.line, first.column)
        return self._wrap_dims(t, ch[2:])

    def _wrap_dims(self, t, dims):
        for d in dims:
            t = A.ArrayTypeNode(self.span2(t.span, self.tsp(d)), elem=t)
        return t

    def type_list(self, raw):
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    # -- declarations
    def start(self, ch):
        ch = self.clean(ch)
        return list(ch)

    def class_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        name = ch[0]
        sup = ch[1] if len(ch) > 1 and isinstance(ch[1], Token) else None
        members = ch[2:] if sup is not None else ch[1:]
        return A.ClassDecl(span, name=str(name), name_span=self.tsp(name),
                           superclass=str(sup) if sup is not None else None,
                           super_span=self.tsp(sup) if sup is not None else None,
                           members=list(members))

    def field_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.FieldDecl(span, type=ch[0], name=str(ch[1]),
                           name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None)

    def method_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.MethodDecl(span, ret=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                            params=ch[2], body=ch[3])

    def ctor_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.CtorDecl(span, name=str(ch[0]), name_span=self.tsp(ch[0]),
                          params=ch[1], body=ch[2])

    def func_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.FuncDecl(span, ret=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                          params=ch[2], body=ch[3])

    def method_out(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.MethodDecl(span, ret=ch[0], name=str(ch[2]), name_span=self.tsp(ch[2]),
                            params=ch[3], body=ch[4], class_name=str(ch[1]),
                            class_span=self.tsp(ch[1]))

    def global_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.GlobalDecl(span, type=ch[0], name=str(ch[1]),
                            name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None)

    def global_var(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.GlobalDecl(span, type=None, name=str(ch[0]),
                            name_span=self.tsp(ch[0]), init=ch[1])

    def params(self, raw):
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def param(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Param(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]))

    # -- statements
    def block(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Block(span, stmts=list(ch))

    def local_decl(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.VarDecl(span, type=ch[0], name=str(ch[1]),
                         name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None)

    def local_var(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.VarDecl(span, type=None, name=str(ch[0]),
                         name_span=self.tsp(ch[0]), init=ch[1])

    for_decl = local_decl
    for_var = local_var

    def if_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.If(span, cond=ch[0], then=ch[1], els=ch[2] if len(ch) > 2 else None)

    def while_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.While(span, cond=ch[0], body=ch[1])

    def do_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.DoWhile(span, body=ch[0], cond=ch[1])

    def for_init(self, raw):
        ch = self.clean(raw)
        if not ch or ch[0] is None:
            return []
        if len(ch) == 1 and isinstance(ch[0], A.VarDecl):
            return [ch[0]]
        return [A.ExprStmt(e.span, expr=e) for e in ch]

    def for_update(self, raw):
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def for_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.For(span, init=ch[0], cond=ch[1], update=ch[2], body=ch[3])

    def foreach_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.ForEach(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                         iterable=ch[2], body=ch[3])

    def foreach_var(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.ForEach(span, type=None, name=str(ch[0]), name_span=self.tsp(ch[0]),
                         iterable=ch[1], body=ch[2])

    def break_stmt(self, raw):
        span = self.span(raw)
        return A.Break(span)

    def continue_stmt(self, raw):
        span = self.span(raw)
        return A.Continue(span)

    def return_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Return(span, value=ch[0] if ch else None)

    def throw_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Throw(span, value=ch[0])

    def try_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        body, rest, fin = ch[0], list(ch[1:]), None
        if rest and isinstance(rest[-1], A.FinallyMarker):
            fin = rest.pop().block
        node = A.Try(span, body=body, catches=rest, finally_=fin)
        if not rest and fin is None:
            self.error("E0012", "`try` without `catch` or `finally`",
                       (self.filename, span[1], span[2], span[1], span[2] + 3))
        return node

    def catch_clause(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Catch(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                       body=ch[2])

    def expr_stmt(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.ExprStmt(span, expr=ch[0])

    def empty_stmt(self, raw):
        span = self.span(raw)
        return A.EmptyStmt(span)

    # -- expressions
    def assign(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Assign(span, op=str(ch[1]), target=ch[0], value=ch[2],
                        op_span=self.tsp(ch[1]))

    def cond(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Cond(span, cond=ch[0], then=ch[1], els=ch[2])

    def bin(self, ch):
        """A flat run `operand (op operand)*` (grammar.lark `bin`), where an
        `instanceof` token is followed by a type: the tree by precedence
        climbing, all operators left-associative."""
        fn = self.filename
        operands = [ch[0]]
        ops = []
        i, n = 1, len(ch)
        while i < n:
            tok = ch[i]
            prec = _PREC[tok.value]
            while ops and _PREC[ops[-1].value] >= prec:
                self._fold(operands, ops.pop(), fn)
            ops.append(tok)
            operands.append(ch[i + 1])
            i += 2
        while ops:
            self._fold(operands, ops.pop(), fn)
        return operands[0]

    @staticmethod
    def _fold(operands, tok, fn):
        right = operands.pop()
        left = operands[-1]
        a, b = left.span, right.span
        span = (fn, a[1], a[2], b[3], b[4])
        if tok.type == "INSTANCEOF":
            operands[-1] = A.InstanceOf(span, expr=left, type=right)
        else:
            operands[-1] = A.Binary(span, op=tok.value, left=left, right=right,
                                    op_span=(fn, tok.line, tok.column, tok.end_line, tok.end_column))

    def unary(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        op, operand = str(ch[0]), ch[1]
        if (op == "-" and isinstance(operand, A.IntLit) and id(operand) in self.pending_minmax
                and id(operand) not in self.parenthesized):
            self.pending_minmax.discard(id(operand))
            return A.IntLit(span, value=INT_MIN, text="-" + operand.text)
        return A.Unary(span, op=op, operand=operand)

    def pre_incdec(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.IncDec(span, op=str(ch[0]), prefix=True, target=ch[1])

    def post_incdec(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.IncDec(span, op=str(ch[1]), prefix=False, target=ch[0])

    def cast(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Cast(span, type=ch[0], expr=ch[1])

    def name_cast(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return A.Cast(span, type=t, expr=ch[1])

    def call(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Call(span, callee=ch[0], args=ch[1])

    def member(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Member(span, obj=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]))

    def index(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.Index(span, obj=ch[0], index=ch[1])

    def args(self, raw):
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def int_lit(self, raw):
        ch = self.clean(raw)
        tok = ch[0]
        return self._int(tok, self.tsp(tok))

    def _int(self, tok, span):
        text = str(tok)
        low = text.lower()
        node = A.IntLit(span, value=0, text=text)
        if low.startswith(("0x", "0b", "0o")):
            base = {"x": 16, "b": 2, "o": 8}[low[1]]
            digits = text[2:]
            kind = {16: "hexadecimal", 2: "binary", 8: "octal"}[base]
        elif len(text) > 1 and text[0] == "0":
            base, digits, kind = 8, text[1:], "octal"
        else:
            base, digits, kind = 10, text, "decimal"
        if not digits:
            self.error("E0004", f"{kind} literal `{text}` has no digits", span)
            return node
        valid = "0123456789abcdef"[:base]
        for i, d in enumerate(digits):
            if d.lower() not in valid:
                col = span[2] + len(text) - len(digits) + i
                self.error("E0004", f"invalid digit `{d}` in {kind} literal `{text}`",
                           (span[0], span[1], col, span[1], col + 1))
                return node
        v = int(digits, base)
        if base == 10:
            if v == INT_MAX + 1:
                node.value = v
                self.pending_minmax.add(id(node))
                self.pending_nodes.append(node)
                return node
            if v > INT_MAX:
                self.error("E0005", f"integer literal `{text}` is out of range (the maximum is 9223372036854775807)", span)
                return node
        elif v >= U64:
            self.error("E0005", f"{kind} literal `{text}` does not fit in 64 bits", span)
            return node
        if v > INT_MAX:
            v -= U64
        node.value = v
        return node

    def _escapes(self, tok, body, start_col):
        """Decode the escapes of a string/char literal body into bytes."""
        out = bytearray()
        i = 0
        n = len(body)
        while i < n:
            ch = body[i]
            if ch != "\\":
                out += ch.encode("utf-8")
                i += 1
                continue
            esc = body[i + 1] if i + 1 < n else ""
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
            elif esc == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2:i + 4]):
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
            else:
                col = start_col + i
                length = 4 if esc == "x" else 2
                shown = body[i:i + 2] if esc != "x" else body[i:i + 4]
                self.error("E0003", f"unknown escape sequence `{shown}`",
                           (self.filename, tok.line, col, tok.line, col + min(length, len(shown))))
                i += 2
        return bytes(out)

    def string_lit(self, raw):
        ch = self.clean(raw)
        tok = ch[0]
        value = self._escapes(tok, str(tok)[1:-1], tok.column + 1)
        return A.StringLit(self.tsp(tok), value=value)

    def char_lit(self, raw):
        ch = self.clean(raw)
        tok = ch[0]
        n_errors = len(self.diags)
        value = self._escapes(tok, str(tok)[1:-1], tok.column + 1)
        node = A.IntLit(self.tsp(tok), value=value[0] if value else 0, text=str(tok))
        if len(value) != 1 and len(self.diags) == n_errors:
            what = "empty character literal" if not value else \
                f"character literal `{tok}` holds {len(value)} bytes, not one"
            self.error("E0006", what, self.tsp(tok))
        return node

    def true_lit(self, raw):
        span = self.tsp(raw[0])
        return A.BoolLit(span, value=True)

    def false_lit(self, raw):
        span = self.tsp(raw[0])
        return A.BoolLit(span, value=False)

    def null_lit(self, raw):
        span = self.tsp(raw[0])
        return A.NullLit(span)

    def this(self, raw):
        span = self.tsp(raw[0])
        return A.This(span)

    def super(self, raw):
        span = self.tsp(raw[0])
        return A.Super(span)

    def name_expr(self, raw):
        ch = self.clean(raw)
        return A.Name(self.tsp(ch[0]), name=str(ch[0]))

    def new_obj(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return A.New(span, type=t, args=ch[1])

    def _new_array(self, span, elem, size, dims):
        elem = self._wrap_dims(elem, dims)
        return A.NewArray(span, elem=elem, size=size)

    def new_array_prim(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return self._new_array(span, A.NamedType(self.tsp(ch[0]), name=str(ch[0])), ch[1], ch[2:])

    new_array_class = new_array_prim

    def new_array_generic(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        elem = A.ArrayTypeNode(ch[0].span, elem=ch[0])
        return self._new_array(span, elem, ch[1], ch[2:])

    def new_array_func(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        elem = A.FuncTypeNode(ch[0].span, ret=ch[0], params=ch[1])
        return self._new_array(span, elem, ch[2], ch[3:])

    def new_empty_array(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.NewArray(span, elem=ch[0], size=None)

    def array_lit(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        return A.ArrayLit(span, elems=ch[0])


_lock = threading.Lock()
_parser = None
_builder = None
_lexer = None


def _get_parser():
    global _parser, _builder, _lexer
    if _parser is None:
        _builder = _Builder()
        _parser = Lark(GRAMMAR_PATH.read_text(), parser="lalr", lexer=_FastLexer,
                       maybe_placeholders=True, keep_all_tokens=True,
                       transformer=_builder, cache=False)
        _lexer = _parser.parser.lexer
        _tune_parse_table(_parser)
    return _parser


class _Rule(Rule):
    """A Rule compared and hashed by identity, at C speed."""
    __slots__ = ()
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__


def _tune_parse_table(lark):
    """Make the dictionary look-ups of Lark's LALR loop cheap, without
    changing what the table says.  After each reduction the loop looks the
    rule up in the callbacks (a Rule hashes and compares in Python) and the
    goto by the rule's origin name (a `Token`, whose `==` is Python code,
    and not the very object that keys the table).  Here each reduction gets
    a copy of its rule that hashes and compares by identity, and the table
    and the rules share the same interned name strings."""
    lalr = lark.parser.parser
    table, callbacks = lalr._parse_table, lalr.parser.callbacks
    copies = {}     # id(rule) -> its copy
    for row in table.states.values():
        new_row = {}
        for key, (action, arg) in row.items():
            if action is not Shift:
                rule = copies.get(id(arg))
                if rule is None:
                    origin = NonTerminal(sys.intern(str(arg.origin.name)))
                    rule = _Rule(origin, arg.expansion, arg.order, arg.alias, arg.options)
                    copies[id(arg)] = rule
                    callbacks[rule] = callbacks[arg]
                arg = rule
            new_row[sys.intern(str(key))] = (action, arg)
        row.clear()
        row.update(new_row)


_TOKEN_NAMES = {
    "IDENT": "identifier", "TYPE_IDENT": "type name", "INT": "integer literal",
    "CHAR": "character literal", "STRING": "string literal", "PRIM": "type",
    "DIMS": "`[]`", "$END": "end of file",
}


def _describe_terminal(name, parser):
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    for t in parser.terminals:
        if t.name == name:
            p = t.pattern
            if p.type == "str":
                return f"`{p.value}`"
            return name.lower()
    return name.lower()


def _show_token(tok):
    if tok.type == "$END" or tok.value == "":
        return "end of file"
    return f"`{tok.value}`"


def scan_class_names(source):
    return {m.group(1) for m in _CLASS_SCAN.finditer(source) if m.group(1)}


def parse(source, filename="<input>"):
    """Parse `source`; returns (Program or None, diagnostics)."""
    parser = _get_parser()
    with _lock:
        _builder.filename = filename
        _builder.diags = []
        _builder.pending_minmax = set()
        _builder.parenthesized = set()
        _builder.pending_nodes = []
        _lexer.type_names = builtin_type_names() | scan_class_names(source)
        items = None
        # The parse allocates many small objects and no cycles: the cyclic
        # garbage collector only slows it down (3x on 10,000 lines).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            items = parser.parse(source)
        except UnexpectedInput as e:
            _builder.diags.append(_syntax_diag(e, source, filename, parser))
        finally:
            if gc_was_enabled:
                gc.enable()
        diags = _builder.diags
        for node in _builder.pending_nodes:
            if id(node) in _builder.pending_minmax:
                diags.append(Diagnostic(
                    "E0005", f"integer literal `{node.text}` is out of range (the maximum is 9223372036854775807)",
                    node.span))
        _builder.diags = []
        _builder.pending_nodes = []
    diags.sort(key=lambda d: (d.span[1], d.span[2]))
    if items is None:
        return None, diags
    lines = source.count("\n") + 1
    prog = A.Program((filename, 1, 1, lines, 1), items=items)
    return prog, diags


def _syntax_diag(e, source, filename, parser):
    if isinstance(e, UnexpectedCharacters):
        line, col = e.line, e.column
        ch = source[e.pos_in_stream] if e.pos_in_stream < len(source) else ""
        span = (filename, line, col, line, col + 1)
        if ch == '"':
            return Diagnostic("E0002", "unterminated string literal", span)
        if ch == "'":
            return Diagnostic("E0002", "unterminated character literal", span)
        if source.startswith("/*", e.pos_in_stream):
            return Diagnostic("E0002", "unterminated block comment", (filename, line, col, line, col + 2))
        if ch == "[" or ch == "]" or ch.isalnum() or ch in "_(){};,.=<>+-*/%&|^!~?:":
            return Diagnostic("E0010", f"unexpected `{ch}`", span)
        return Diagnostic("E0001", f"invalid character `{ch}` in source", span)
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        lines = source.split("\n")
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        line = len(lines)
        col = len(lines[-1]) + 1
        expected = sorted(getattr(e, "expected", None) or [])
        msg = "unexpected end of file"
        d = Diagnostic("E0011", msg, (filename, line, col, line, col + 1))
        if expected and len(expected) <= 4:
            d.message = "expected " + _one_of([_describe_terminal(x, parser) for x in expected]) + ", found end of file"
        return d
    tok = e.token
    if tok.value == "/" and source.startswith("/*", tok.start_pos):
        return Diagnostic("E0002", "unterminated block comment",
                          (filename, tok.line, tok.column, tok.line, tok.column + 2))
    span = (filename, tok.line, tok.column, tok.end_line or tok.line,
            tok.end_column or tok.column + max(1, len(tok.value)))
    expected = sorted(getattr(e, "accepts", None) or getattr(e, "expected", None) or [])
    expected = [x for x in expected if not x.startswith("__")]
    if "IDENT" in expected:
        expected = [x for x in expected if x not in ("TYPE_IDENT", "DIMS")]
    shown = _show_token(tok)
    if "SEMICOLON" in expected and tok.start_pos is not None:
        # point just after the previous token, where the `;` belongs
        i = tok.start_pos
        while i > 0 and source[i - 1] in " \t\r\n":
            i -= 1
        line = source.count("\n", 0, i) + 1
        col = i - (source.rfind("\n", 0, i) + 1) + 1
        if line != tok.line:
            return Diagnostic("E0010", f"expected `;`, found {shown}", (filename, line, col, line, col + 1))
    if expected and len(expected) <= 4:
        msg = "expected " + _one_of([_describe_terminal(x, parser) for x in expected]) + f", found {shown}"
    else:
        msg = f"unexpected {shown}"
    return Diagnostic("E0010", msg, span)


def _one_of(items):
    items = sorted(set(items))
    if len(items) == 1:
        return items[0]
    return "one of " + ", ".join(items)
