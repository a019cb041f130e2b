"""Parser of K: an LALR(1) parser over the tables Lark computes from
grammar.lark, building `ast` nodes as it reduces.

The first stage of the front end: source -> parse (this module) -> check
(checker.py) -> emit (emitter.py) -> image (image.py).  The nodes it builds
carry spans (file, line, column, end line, end column) and no types: the
checker fills those in.  Besides the grammar's own errors it reports the
lexical ones (E0001 to E0006: characters, literals, escapes, ranges) and
the Java constructs K lacks.

Order of work in `parse`: a quick scan for class and interface names (the
lexer hack needs them before the parse), a scan for Java constructs when
the text may hold some (`_may_have_java`), then one LALR pass in which the
contextual lexer (`_Lexer`) feeds the driver (`_Parser`), which calls the
builder (`_Builder`) at every reduction.

`parse(source, filename)` returns `(Program, diagnostics)`, or `(None,
diagnostics)` when the file has lexical or syntax errors.  Every one of them
is reported, in source order, each once (the language reference §10): after
a syntax error the parser skips to the end of the statement, member or
top-level item and goes on (`_Parser._recover`), and the Java constructs K
lacks get their own codes (`_java_constructs`, E0020-E0032).

Start-up.  Building the LALR tables from the grammar takes Lark about half
a second, so the tables (states, rules, the lexer's regular expressions)
are computed once and kept as a marshal file in the user's cache directory
($KTC_CACHE_DIR, else $XDG_CACHE_HOME/ktc, else ~/.cache/ktc), named by a
hash of grammar.lark's text and of the table format: editing the grammar
makes a new file.  The parser itself does not import Lark; only building
the tables does.  Where no cache directory is writable, the tables are
built in memory at each start (slower, same results).  The lexer compiles
the regular expression of a parser state the first time it reaches that
state.
"""
from __future__ import annotations

import bisect
import dataclasses
import gc
import marshal
import os
import re
import sys
import threading
import zlib
from pathlib import Path

from . import ast as A
from .builtins import load as load_builtins
from .diagnostics import Diagnostic

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
U64 = 1 << 64

# Bump when the layout of the cached tables (`_build_tables`) changes.
_TABLE_FORMAT = 3

# Terminals lexed in every parser state: IDENT (the lexer hack turns it
# into TYPE_IDENT) and the reserved words of 1.1 and `->`, so that a
# reserved word is a keyword everywhere, not an identifier where no rule
# uses it yet.
_ALWAYS = ("IDENT", "INTERFACE", "IMPLEMENTS", "FINAL", "SWITCH", "CASE", "DEFAULT",
           "MAP", "ARROW")

_CLASS_SCAN = re.compile(
    r'//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|'
    r'\b(?:class|interface)\s+([A-Za-z_]\w*)',
    re.S)

# Java's primitive types that K lacks (E0024, E0025), with the K alternative
# the message names.  They are not reserved: only in a type position.
_JAVA_TYPES = {
    "float": ("E0024", "`int`: K has no floating point"),
    "double": ("E0024", "`int`: K has no floating point"),
    "long": ("E0025", "`int` (64 bits; characters are ints)"),
    "char": ("E0025", "`int` (64 bits; characters are ints)"),
    "byte": ("E0025", "`int` (64 bits; characters are ints)"),
    "short": ("E0025", "`int` (64 bits; characters are ints)"),
}


def builtin_type_names():
    """The names the lexer hack always makes TYPE_IDENT: the built-in classes and
    `Any`."""
    names = {c.name for c in load_builtins().classes}
    names.add("Any")
    return names


def scan_class_names(source):
    """Names declared by `class NAME` or `interface NAME` anywhere in the
    source (comments and literals skipped): the lexer hack's type names."""
    return {m.group(1) for m in _CLASS_SCAN.finditer(source) if m.group(1)}


class Token(str):
    """A token: its text, with its terminal name (`type`) and position.
    Lines and columns are 1-based; `end_column` is one past the last
    character."""
    __slots__ = ("type", "value", "start_pos", "line", "column", "end_line",
                 "end_column", "end_pos")


class _Tree:
    """The value of a rule the builder has no method for (the lists Lark
    makes of `x*`, inlined `_rules`): its children, which the enclosing
    rule splices into its own."""
    __slots__ = ("data", "children")

    def __init__(self, data, children):
        self.data = data
        self.children = children


def _new_token(kind, value, pos, line, col, end_line, end_col, end_pos):
    """A Token built without Token.__init__ (the lexer makes one per token; this
    is its fast path)."""
    tok = str.__new__(Token, value)
    tok.type = kind
    tok.value = value
    tok.start_pos = pos
    tok.line = line
    tok.column = col
    tok.end_line = end_line
    tok.end_column = end_col
    tok.end_pos = end_pos
    return tok


# ---------------------------------------------------------------- tables

def _cache_dir():
    """Where the parser tables are cached: $KTC_CACHE_DIR, else
    $XDG_CACHE_HOME/ktc, else ~/.cache/ktc."""
    d = os.environ.get("KTC_CACHE_DIR")
    if d:
        return Path(d)
    d = os.environ.get("XDG_CACHE_HOME")
    return (Path(d) if d else Path.home() / ".cache") / "ktc"


def _tables_key(text):
    """Names the tables of `text` (a CRC and an Adler checksum: hashlib's
    start-up would cost more than the rest of the key's work)."""
    data = f"{_TABLE_FORMAT}\0{_ALWAYS}\0{sys.version_info[:2]}\0{text}".encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def load_tables(text=None, cache=True):
    """The parser's tables for the grammar `text` (grammar.lark's by
    default): from the cache when it holds them, else built with Lark and
    stored there."""
    if text is None:
        text = GRAMMAR_PATH.read_text()
    key = _tables_key(text)
    path = _cache_dir() / f"parser-{key}.marshal"
    if cache:
        try:
            data = marshal.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("key") == key:
                return data
        except (OSError, ValueError, EOFError, TypeError):
            pass
    data = _build_tables(text)
    data["key"] = key
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps(data))
            os.replace(tmp, path)
        except OSError:
            pass    # a read-only home: build the tables at each start
    return data


def _build_tables(text):
    """Compute the LALR tables of the grammar with Lark, as plain data.

    - `table`: state -> {terminal or rule name: (shift?, state or rule)};
    - `rules`: per rule, (origin name, length, callback name, expand a
      single child?, which children to keep and inline, Nones to append),
      the shaping Lark's parse-tree builder would apply, read off the
      callbacks Lark builds (keep_all_tokens, maybe_placeholders);
    - `lexers`: the master regular expressions of Lark's contextual lexer,
      and `state_lexer` which one each state uses;
    - `root`: the expression of all terminals (is some token there, where
      the state's lexer found none?)."""
    from lark import Lark
    from lark.lexer import ContextualLexer, UnlessCallback
    from lark.parse_tree_builder import ChildFilter, ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift

    class _KeepAlways:
        # A post-lexer only so that Lark keeps the _ALWAYS terminals that no
        # rule uses; it never runs.
        always_accept = _ALWAYS

        def process(self, stream):
            return stream

    lark = Lark(text, parser="lalr", lexer="contextual", postlex=_KeepAlways(),
                maybe_placeholders=True, keep_all_tokens=True)
    pt = lark.parser.parser._parse_table
    callbacks = lark._callbacks
    rule_index = {}
    rules = []
    table = {}
    for state, row in pt.states.items():
        out = {}
        for key, (action, arg) in row.items():
            if action is Shift:
                out[str(key)] = (True, int(arg))
                continue
            i = rule_index.get(id(arg))
            if i is None:
                i = rule_index[id(arg)] = len(rules)
                f = callbacks[arg]
                include, append_none, expand1 = None, 0, False
                if isinstance(f, ChildFilter):
                    include = tuple((int(c[0]), bool(c[1]), int(c[2]) if len(c) > 2 else 0)
                                    for c in f.to_include)
                    append_none = getattr(f, "append_none", 0) or 0
                    f = f.node_builder
                if isinstance(f, ExpandSingleChild):
                    expand1 = True
                    f = f.node_builder
                name = f.args[0]
                rules.append((str(arg.origin.name), len(arg.expansion), str(name), expand1,
                              include, int(append_none)))
            out[str(key)] = (False, i)
        table[int(state)] = out
    states = {s: list(row) for s, row in table.items()}
    lx = ContextualLexer(lark.lexer_conf, states, always_accept=_ALWAYS)
    root = lx.root_lexer
    space = [t.pattern.to_regexp() for t in root.terminals
             if t.name in root.ignore_types and t.pattern.to_regexp() == _SPACE]
    def unless(sub):
        # Lark's "unless" callbacks: a string terminal that a pattern
        # terminal also matches (MINUS and ADD_OP for `-`) is lexed as the
        # pattern's terminal, then renamed when its text is the string.
        out = {}
        for name, cb in sub.callback.items():
            if not isinstance(cb, UnlessCallback):
                raise RuntimeError(f"K lexer: unexpected Lark callback on {name}")
            out[str(name)] = {str(t.pattern.value): str(t.name) for t in cb.scanner.terminals}
        return out

    patterns, by_pattern, state_lexer = [], {}, {}
    for state, sub in lx.lexers.items():
        scanner = sub.scanner
        if len(scanner._mres) != 1:
            raise RuntimeError("K lexer: unexpected Lark scanner layout")
        mre = scanner._mres[0]
        key = (mre.pattern, int(mre.flags), unless(sub))
        i = by_pattern.get(key[:2])
        if i is None:
            i = by_pattern[key[:2]] = len(patterns)
            patterns.append(key)
        state_lexer[int(state)] = i
    literals = {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str"}
    names = {v: k for k, v in literals.items()}
    return {
        "format": _TABLE_FORMAT,
        "start": int(pt.start_states["start"]),
        "end": int(pt.end_states["start"]),
        "table": table,
        "rules": rules,
        "lexers": patterns,
        "state_lexer": state_lexer,
        "root": [(m.pattern, int(m.flags)) for m in root.scanner._mres],
        "root_unless": unless(root),
        "space": bool(space),
        "ignore": sorted(map(str, root.ignore_types)),
        "newline": sorted(map(str, root.newline_types)),
        "literals": {str(k): str(v) for k, v in literals.items()},
        "lbrace": names["{"], "rbrace": names["}"], "semicolon": names[";"],
        "arrow": names["->"], "null": names["null"],
        "case": names["case"], "default": names["default"],
    }


_SPACE = "[ \t\r\n\x0c]+"   # the grammar's `%ignore` of white space, as Lark spells it
# `->` after white space and comments
_ARROW_NEXT = re.compile(r"(?:[ \t\r\n\x0c]+|//[^\n]*|/\*.*?\*/)*->", re.S)

# The one-character escapes of string and character literals, to their byte
# (the language reference §1); `\xHH` is handled apart.
_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39,
            "b": 8, "f": 12}

# The tokens that carry information into the AST (names, literals, operators,
# `[]`); `clean` drops all others (punctuation, keywords).
_KEEP = frozenset({"IDENT", "TYPE_IDENT", "PRIM", "INT", "CHAR", "STRING", "DIMS",
                   "ASSIGN_OP", "OROR", "ANDAND", "BAR", "CARET", "AMP", "EQ_OP",
                   "SHIFT_OP", "ADD_OP", "MINUS", "MUL_OP", "INCDEC", "BANG", "TILDE"})


# Binding strength of the binary operators (the language reference §6).
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


class _NameList(list):
    """(1.1) The names of an `implements` or interface `extends` list, as
    tokens (a list type of its own, so that a builder can tell it from a
    member)."""


class _Builder:
    """Builds AST nodes during the LALR parse: the parser calls the method
    named after each rule (or its alias) with the rule's children as they
    are reduced, as Lark's inline transformers are called."""

    def __init__(self):
        # One builder serves every parse of the process: parse() resets
        # its per-file state before each.
        self.filename = "<input>"
        self.java_types = frozenset()  # Java type names this script did not declare
        self.pending_nodes = []
        self.diags = []
        self.pending_minmax = set()   # ids of IntLits equal to 2^63, valid only under unary minus
        self.parenthesized = set()    # ids of expressions written in parentheses

    # -- helpers
    def tsp(self, tok):
        """The span of token `tok`."""
        return (self.filename, tok.line, tok.column, tok.end_line, tok.end_column)

    def span2(self, a, b):
        """The span from the start of span `a` to the end of span `b`."""
        return (self.filename, a[1], a[2], b[3], b[4])

    def error(self, code, msg, span, **kw):
        """Records a diagnostic of the builder (lexical errors, E0024/E0025).
        """
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
        """The children of a rule the builder uses: nodes, lists, None
        placeholders and the tokens that carry information (names, literals,
        operators: `_KEEP`), without punctuation and keywords."""
        return [c for c in raw if type(c) is not Token or c.type in _KEEP]

    # -- names and types
    def name(self, children):
        """A name rule: its token."""
        return children[0]

    def extends_clause(self, raw):
        """`extends S`: the superclass's name token."""
        return self.clean(raw)[0]

    def finally_clause(self, raw):
        """`finally { ... }`: a marker that try_stmt takes off the end of its
        catches."""
        return A.FinallyMarker(self.clean(raw)[0])

    def for_cond(self, raw):
        """The condition of a `for`, or None when it is empty."""
        ch = self.clean(raw)
        return ch[0] if ch else None

    def paren(self, raw):
        """`(e)`: the inner expression itself (no node for the parentheses),
        remembered as parenthesised."""
        inner = self.clean(raw)[0]
        # 2^63 is allowed only directly under unary minus: `-(2^63)` is not.
        self.parenthesized.add(id(inner))
        return inner

    def prim_type(self, raw):
        """`int`, `boolean`, `void` with optional `[]`s."""
        span, ch = self.span(raw), self.clean(raw)
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return self._wrap_dims(t, ch[1:])

    def class_type(self, raw):
        """A class or interface name (or a Java primitive type name, E0024/E0025)
        with optional `[]`s."""
        span, ch = self.span(raw), self.clean(raw)
        self._java_type(ch[0])
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return self._wrap_dims(t, ch[1:])

    def array_generic(self, raw):
        """`Array<T>` with optional `[]`s: the same node as `T[]`."""
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


    def _java_type(self, tok):
        """E0024, E0025: a Java primitive type (`long`, `double`...) in a
        type position, unless the script declares a class of that name.
        The lexer makes these words TYPE_IDENTs wherever a type may begin,
        so they reach the rules of types, casts and `new`."""
        name = str(tok)
        if name in self.java_types:
            code, alternative = _JAVA_TYPES[name]
            self.error(code, f"`{name}` is not a K type: use {alternative}", self.tsp(tok))

    def map_type(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.MapTypeNode(span, key=ch[0], val=ch[1])
        if len(ch) > 2:
            first = ch[2]
            t.span = (self.filename, span[1], span[2], first.line, first.column)
        return self._wrap_dims(t, ch[2:])

    def _wrap_dims(self, t, dims):
        """`t` wrapped in one ArrayTypeNode per `[]` token of `dims`, innermost
        first."""
        for d in dims:
            t = A.ArrayTypeNode(self.span2(t.span, self.tsp(d)), elem=t)
        return t

    def type_list(self, raw):
        """The parameter types of a `Func<R(P, ...)>`."""
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    # -- declarations
    def start(self, ch):
        """The top-level items of the file, in order."""
        ch = self.clean(ch)
        return list(ch)

    def class_decl(self, raw):
        """`class N [extends S] [implements I, ...] { members }`; the members are
        fields, methods and the constructor in source order."""
        span, ch = self.span(raw), self.clean(raw)
        name = ch[0]
        sup = ch[1] if len(ch) > 1 and isinstance(ch[1], Token) else None
        members = ch[2:] if sup is not None else ch[1:]
        impls = []
        if members and isinstance(members[0], _NameList):
            impls = [(str(t), self.tsp(t)) for t in members[0]]
            members = members[1:]
        return A.ClassDecl(span, name=str(name), name_span=self.tsp(name),
                           superclass=str(sup) if sup is not None else None,
                           super_span=self.tsp(sup) if sup is not None else None,
                           members=list(members), interfaces=impls)

    # (1.1) interfaces (the language reference §4)
    def implements_clause(self, raw):
        return _NameList(self.clean(raw))

    def iface_extends(self, raw):
        """(1.1) An interface's `extends I, J` list."""
        return _NameList(self.clean(raw))

    def interface_decl(self, raw):
        """(1.1) `interface N [extends I, ...] { signatures }` (the language
        reference §4); the checker reports members that are not method
        signatures."""
        span, ch = self.span(raw), self.clean(raw)
        name, rest = ch[0], ch[1:]
        ext = []
        if rest and isinstance(rest[0], _NameList):
            ext = [(str(t), self.tsp(t)) for t in rest[0]]
            rest = rest[1:]
        return A.InterfaceDecl(span, name=str(name), name_span=self.tsp(name),
                               extends=ext, members=list(rest))

    def ctor_sig(self, raw):
        """(1.1) `Name(params);` in an interface: a constructor without a
        body, which the checker reports (E0702)."""
        span, ch = self.span(raw), self.clean(raw)
        return A.CtorDecl(span, name=str(ch[0]), name_span=self.tsp(ch[0]),
                          params=ch[1], body=None)

    def method_sig(self, raw):
        """(1.1) `R name(params);` in an interface: a method without a body."""
        span, ch = self.span(raw), self.clean(raw)
        return A.MethodDecl(span, ret=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                            params=ch[2], body=None)

    @staticmethod
    def _final(ch):
        """(1.1) Strip a leading `final` marker: (is final, the rest)."""
        if ch and isinstance(ch[0], A.FinalMarker):
            return True, ch[1:]
        return False, ch

    def final_mod(self, raw):
        """(1.1) `final` in front of a declaration: a marker the declaration's
        rule strips (_final)."""
        return A.FinalMarker(self.span(raw))

    def field_decl(self, raw):
        """`[final] T name [= init];` in a class body."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.FieldDecl(span, type=ch[0], name=str(ch[1]),
                           name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None,
                           final=fin)

    def method_decl(self, raw):
        """`R name(params) { body }` in a class body."""
        span, ch = self.span(raw), self.clean(raw)
        return A.MethodDecl(span, ret=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                            params=ch[2], body=ch[3])

    def ctor_decl(self, raw):
        """`Name(params) { body }`: the checker checks that Name is the class's.
        """
        span, ch = self.span(raw), self.clean(raw)
        return A.CtorDecl(span, name=str(ch[0]), name_span=self.tsp(ch[0]),
                          params=ch[1], body=ch[2])

    def func_decl(self, raw):
        """`R name(params) { body }` at top level."""
        span, ch = self.span(raw), self.clean(raw)
        return A.FuncDecl(span, ret=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                          params=ch[2], body=ch[3])

    def method_out(self, raw):
        """`R C.name(params) { body }`: a method of class C declared at top level.
        """
        span, ch = self.span(raw), self.clean(raw)
        return A.MethodDecl(span, ret=ch[0], name=str(ch[2]), name_span=self.tsp(ch[2]),
                            params=ch[3], body=ch[4], class_name=str(ch[1]),
                            class_span=self.tsp(ch[1]))

    def global_decl(self, raw):
        """`[final] T name [= init];` at top level."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.GlobalDecl(span, type=ch[0], name=str(ch[1]),
                            name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None,
                            final=fin)

    def global_var(self, raw):
        """`[final] var name = init;` at top level (type inferred)."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.GlobalDecl(span, type=None, name=str(ch[0]),
                            name_span=self.tsp(ch[0]), init=ch[1], final=fin)

    def params(self, raw):
        """The parameters of a declaration, without the commas' placeholders.
        """
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def param(self, raw):
        """`[final] T name`."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.Param(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                       final=fin)

    # -- statements
    def block(self, raw):
        """`{ stmts }`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Block(span, stmts=list(ch))

    def local_decl(self, raw):
        """`[final] T name [= init];` in a body (also the init of a `for`)."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.VarDecl(span, type=ch[0], name=str(ch[1]),
                         name_span=self.tsp(ch[1]), init=ch[2] if len(ch) > 2 else None,
                         final=fin)

    def local_var(self, raw):
        """`[final] var name = init;` in a body."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.VarDecl(span, type=None, name=str(ch[0]),
                         name_span=self.tsp(ch[0]), init=ch[1], final=fin)

    for_decl = local_decl
    for_var = local_var

    def if_stmt(self, raw):
        """`if (c) s [else s]`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.If(span, cond=ch[0], then=ch[1], els=ch[2] if len(ch) > 2 else None)

    def while_stmt(self, raw):
        """`while (c) s`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.While(span, cond=ch[0], body=ch[1])

    def do_stmt(self, raw):
        """`do s while (c);`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.DoWhile(span, body=ch[0], cond=ch[1])

    def for_init(self, raw):
        """The init part of a `for`: one declaration, or expressions as ExprStmts.
        """
        ch = self.clean(raw)
        if not ch or ch[0] is None:
            return []
        if len(ch) == 1 and isinstance(ch[0], A.VarDecl):
            return [ch[0]]
        return [A.ExprStmt(e.span, expr=e) for e in ch]

    def for_update(self, raw):
        """The update expressions of a `for`."""
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def for_stmt(self, raw):
        """`for (init; cond; update) s`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.For(span, init=ch[0], cond=ch[1], update=ch[2], body=ch[3])

    def foreach_stmt(self, raw):
        """`for ([final] T x : a) s`."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.ForEach(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                         iterable=ch[2], body=ch[3], final=fin)

    def foreach_var(self, raw):
        """`for ([final] var x : a) s`."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.ForEach(span, type=None, name=str(ch[0]), name_span=self.tsp(ch[0]),
                         iterable=ch[1], body=ch[2], final=fin)

    def break_stmt(self, raw):
        """`break;`."""
        span = self.span(raw)
        return A.Break(span)

    def continue_stmt(self, raw):
        """`continue;`."""
        span = self.span(raw)
        return A.Continue(span)

    def return_stmt(self, raw):
        """`return [e];`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Return(span, value=ch[0] if ch else None)

    def throw_stmt(self, raw):
        """`throw e;`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Throw(span, value=ch[0])

    def try_stmt(self, raw):
        """`try { } catch ... [finally { }]`; E0012 when there is neither catch
        nor finally."""
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
        """`catch ([final] C e) { }`."""
        span, ch = self.span(raw), self.clean(raw)
        fin, ch = self._final(ch)
        return A.Catch(span, type=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]),
                       body=ch[2], final=fin)

    # (1.1) switch statements and expressions (grammar.lark `switch_arm`)
    def switch_stmt(self, raw):
        """(1.1) `switch (e) { arms }` as a statement."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Switch(span, selector=ch[0], arms=[a for a in ch[1:] if a is not None])

    def switch_expr(self, raw):
        """(1.1) `switch (e) { arms }` as an expression."""
        span, ch = self.span(raw), self.clean(raw)
        return A.SwitchExpr(span, selector=ch[0], arms=[a for a in ch[1:] if a is not None])

    def switch_arm(self, raw):
        """(1.1) `case L, M -> body`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.SwitchArm(span, labels=list(ch[:-1]), body=ch[-1])

    def default_arm(self, raw):
        """(1.1) `default -> body`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.SwitchArm(span, is_default=True, body=ch[-1])

    def arm_expr(self, raw):
        """(1.1) `e;` as the body of an arm: an ExprStmt, whose value a switch
        expression gives."""
        span, ch = self.span(raw), self.clean(raw)
        return self._expr_stmt(span, ch[0])

    def expr_stmt(self, raw):
        """`e;`; the checker reports expressions that are not statements (E0220).
        """
        span, ch = self.span(raw), self.clean(raw)
        return self._expr_stmt(span, ch[0])

    def _expr_stmt(self, span, e):
        """An ExprStmt of `e`, marked when `e` is written in parentheses: a
        parenthesised expression is not a statement expression (JLS 14.8)."""
        s = A.ExprStmt(span, expr=e)
        s.parenthesized = id(e) in self.parenthesized
        return s

    def empty_stmt(self, raw):
        """`;`."""
        span = self.span(raw)
        return A.EmptyStmt(span)

    # -- expressions
    def assign(self, raw):
        """`t = v` and the compound assignments; the target is checked to be
        assignable by the checker (E0013)."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Assign(span, op=str(ch[1]), target=ch[0], value=ch[2],
                        op_span=self.tsp(ch[1]))

    def cond(self, raw):
        """`c ? a : b`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Cond(span, cond=ch[0], then=ch[1], els=ch[2])

    def bin_ns(self, ch):
        """An expression statement's operator run (grammar.lark `bin_ns`)."""
        return self.bin(ch)

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
        """Replaces the last two operands by `left OP right` (a Binary, or an
        InstanceOf whose right side is a type)."""
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
        """`-e`, `!e`, `~e`. `-9223372036854775808` is the one literal 2^63 may
        appear in: a minus directly in front of it (not of a parenthesised one)
        makes the IntLit INT_MIN, and the literal leaves `pending_minmax`."""
        span, ch = self.span(raw), self.clean(raw)
        op, operand = str(ch[0]), ch[1]
        if (op == "-" and isinstance(operand, A.IntLit) and id(operand) in self.pending_minmax
                and id(operand) not in self.parenthesized):
            self.pending_minmax.discard(id(operand))
            return A.IntLit(span, value=INT_MIN, text="-" + operand.text)
        return A.Unary(span, op=op, operand=operand)

    def pre_incdec(self, raw):
        """`++x`, `--x`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.IncDec(span, op=str(ch[0]), prefix=True, target=ch[1])

    def post_incdec(self, raw):
        """`x++`, `x--`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.IncDec(span, op=str(ch[1]), prefix=False, target=ch[0])

    # -- (1.1) lambdas
    def lambda_one(self, raw):
        """`x -> body`: one untyped parameter."""
        span, ch = self.span(raw), self.clean(raw)
        tok = ch[0]
        p = A.Param(self.tsp(tok), type=None, name=str(tok), name_span=self.tsp(tok))
        return self._lambda(span, [p], False, ch[1])

    def lambda_names(self, raw):
        """`() -> body` and `(a, b) -> body`: untyped parameters."""
        span, ch = self.span(raw), self.clean(raw)
        params = [A.Param(self.tsp(t), type=None, name=str(t), name_span=self.tsp(t))
                  for t in ch[:-1]]
        return self._lambda(span, params, False, ch[-1])

    def lambda_typed(self, raw):
        """`(T a, final U b) -> body`."""
        span, ch = self.span(raw), self.clean(raw)
        return self._lambda(span, list(ch[:-1]), True, ch[-1])

    def _lambda(self, span, params, typed, body):
        """A Lambda, marked when its expression body is written in
        parentheses (then not a statement expression, for a `void` lambda)."""
        lam = A.Lambda(span, params=params, typed=typed, body=body)
        lam.paren_body = id(body) in self.parenthesized
        return lam

    def cast(self, raw):
        """`(T) e` where T is a type the grammar knows as such (a primitive,
        generic or array type)."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Cast(span, type=ch[0], expr=ch[1])

    def name_cast(self, raw):
        """`(N) e` where N is a type name (the lexer hack made it TYPE_IDENT).
        """
        span, ch = self.span(raw), self.clean(raw)
        self._java_type(ch[0])
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return A.Cast(span, type=t, expr=ch[1])

    def call(self, raw):
        """`f(args)`: the callee is any expression; the checker decides what kind
        of call it is."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Call(span, callee=ch[0], args=ch[1])

    def member(self, raw):
        """`o.name`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Member(span, obj=ch[0], name=str(ch[1]), name_span=self.tsp(ch[1]))

    def index(self, raw):
        """`a[i]`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.Index(span, obj=ch[0], index=ch[1])

    def args(self, raw):
        """The arguments of a call or `new`, without the commas' placeholders.
        """
        ch = self.clean(raw)
        return [c for c in ch if c is not None]

    def int_lit(self, raw):
        """An integer literal: see _int."""
        ch = self.clean(raw)
        tok = ch[0]
        return self._int(tok, self.tsp(tok))

    def _int(self, tok, span):
        """The IntLit of literal token `tok`: decimal, 0x, 0b, 0o or a leading 0
        (octal). E0004 for a bad digit or no digits, E0005 out of range.
        Hexadecimal, binary and octal literals may use all 64 bits (the value
        wraps to negative); a decimal one at most 2^63 - 1, but 2^63 is kept
        pending until the parse ends, since `-` in front of it makes it INT_MIN
        (unary) and parse() reports it otherwise."""
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
        """A string literal: its bytes (UTF-8 for non-ASCII source, escapes
        decoded)."""
        ch = self.clean(raw)
        tok = ch[0]
        value = self._escapes(tok, str(tok)[1:-1], tok.column + 1)
        return A.StringLit(self.tsp(tok), value=value)

    def char_lit(self, raw):
        """A character literal: an IntLit of its one byte; E0006 unless it holds
        exactly one byte (after escapes, and not reported again when an escape
        was already wrong)."""
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
        """`true`."""
        span = self.tsp(raw[0])
        return A.BoolLit(span, value=True)

    def false_lit(self, raw):
        """`false`."""
        span = self.tsp(raw[0])
        return A.BoolLit(span, value=False)

    def null_lit(self, raw):
        """`null`."""
        span = self.tsp(raw[0])
        return A.NullLit(span)

    def this(self, raw):
        """`this`."""
        span = self.tsp(raw[0])
        return A.This(span)

    def super(self, raw):
        """`super` (as a callee or the object of a member)."""
        span = self.tsp(raw[0])
        return A.Super(span)

    def name_expr(self, raw):
        """A bare name used as an expression."""
        ch = self.clean(raw)
        return A.Name(self.tsp(ch[0]), name=str(ch[0]))

    def new_obj(self, raw):
        """`new C(args)`."""
        span, ch = self.span(raw), self.clean(raw)
        self._java_type(ch[0])
        t = A.NamedType(self.tsp(ch[0]), name=str(ch[0]))
        return A.New(span, type=t, args=ch[1])

    def _new_array(self, span, elem, size, dims):
        """`new E[n]` followed by `[]`s: an array of size n of arrays of E."""
        elem = self._wrap_dims(elem, dims)
        return A.NewArray(span, elem=elem, size=size)

    def new_array_prim(self, raw):
        """`new int[n][]...` and (as new_array_class) `new C[n][]...`."""
        span, ch = self.span(raw), self.clean(raw)
        self._java_type(ch[0])
        return self._new_array(span, A.NamedType(self.tsp(ch[0]), name=str(ch[0])), ch[1], ch[2:])

    new_array_class = new_array_prim

    def new_array_generic(self, raw):
        """`new Array<T>[n]`."""
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


    def new_map(self, raw):
        span, ch = self.span(raw), self.clean(raw)
        t = A.MapTypeNode(self.span2(ch[0].span, ch[1].span), key=ch[0], val=ch[1])
        return A.NewMap(span, type=t)

    def new_array_map(self, raw):
        """(1.1) `new Map<K, V>[n]`."""
        span, ch = self.span(raw), self.clean(raw)
        elem = A.MapTypeNode(self.span2(ch[0].span, ch[1].span), key=ch[0], val=ch[1])
        return self._new_array(span, elem, ch[2], ch[3:])

    def array_lit(self, raw):
        """`[a, b, ...]`."""
        span, ch = self.span(raw), self.clean(raw)
        return A.ArrayLit(span, elems=ch[0])


# ---------------------------------------------------------------- lexer

class _Matchers(dict):
    """state -> the `match` of its lexer's expression, compiled on first
    use (a script reaches a fraction of the states; compiling them all
    would cost more than parsing a small script)."""

    def __init__(self, tables):
        super().__init__()
        self.patterns = tables["lexers"]
        self.state_lexer = tables["state_lexer"]
        # The white space `%ignore` is matched in front of every token by
        # the same expression, so that one match skips it and reads a token.
        self.prefix = f"(?:{_SPACE})?" if tables["space"] else ""
        self.compiled = {}
        self.unless = {}    # state -> {terminal: {text: terminal}} (Lark's UnlessCallback)

    def __missing__(self, state):
        i = self.state_lexer[state]
        m = self.compiled.get(i)
        if m is None:
            pattern, flags, _ = self.patterns[i]
            m = self.compiled[i] = re.compile(self.prefix + f"(?:{pattern})", flags).match
        unless = self.patterns[i][2]
        if unless:
            self.unless[state] = unless
        self[state] = m
        return m


class _LexFail(Exception):
    """No terminal of the parser's state matches at `pos`."""

    def __init__(self, pos):
        super().__init__(pos)
        self.pos = pos


class _Lexer:
    """The contextual lexer of K: in each parser state it matches only the
    terminals that state accepts (plus `_ALWAYS`), with the expression Lark
    compiles for the state, and does the lexer hack: an IDENT naming a class
    (`type_names`) becomes TYPE_IDENT, as does one of Java's primitive types
    (`java_types`) where a type may begin.  `repairs` (start offset ->
    (end offset, tokens)) replaces the Java constructs `_java_constructs`
    reported by what K would accept, so that the parse goes on.

    `>>` and `>>>` close type arguments one `>` at a time when a shift
    operator cannot continue the parse (the language reference §6).  The
    contextual lexer alone does not decide this: LALR merges the state after
    `[]` in a type (`Array<Array<int[]>>`) with the one after `new int[n][]`,
    which a shift operator may follow, so that state accepts `>>` and the
    parse fails one reduction later.  `_continues` runs the parser's
    reductions on a copy of the stack to see whether the shift operator is
    really acceptable here; if not, the lexer hands over a single GT.
    """

    def __init__(self, parser, src, type_names, java_types, repairs):
        """Lexes `src` for `parser`; positions are offsets, lines and columns
        1-based."""
        self.p = parser
        self.src = src
        self.end = len(src)
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.type_names = type_names
        self.java_types = java_types
        self.repairs = repairs
        self.pending = []
        self.lambda_parens = _lambda_parens(src)

    def seek(self, pos):
        """Go on lexing at `pos` (>= the current position)."""
        src = self.src
        nl = src.count("\n", self.pos, pos)
        if nl:
            self.line += nl
            self.line_start = src.rindex("\n", self.pos, pos) + 1
        self.pos = pos
        self.pending = []

    def token(self, stack):
        """The next token for the parser whose state stack is `stack`; None
        at the end of the text; raises _LexFail where nothing matches."""
        if self.pending:
            return self.pending.pop(0)
        p = self.p
        src, end = self.src, self.end
        pos, line, line_start = self.pos, self.line, self.line_start
        match = p.matchers
        ignore, newline = p.ignore, p.newline
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
            # a Java construct already reported: the lexer reads its K
            # replacement instead
            if self.repairs and pos in self.repairs:
                self.pos, self.line, self.line_start = pos, line, line_start
                tok = self.repair()
                if tok is not None:
                    return tok
                pos, line, line_start = self.pos, self.line, self.line_start
                continue
            # Lark's "unless": a keyword or operator that a pattern terminal
            # also matches, renamed by its text
            if match.unless and stack[-1] in match.unless:
                kind = match.unless[stack[-1]].get(kind, {}).get(value, kind)
            if kind in newline:
                tok = _new_token(kind, value, pos, line, pos - line_start + 1, 0, 0, npos)
                nl = value.count("\n")
                if nl:
                    line += nl
                    line_start = pos + value.rindex("\n") + 1
            else:
                if value == "(" and pos in self.lambda_parens:
                    kind = "LAMBDA_LPAR"      # (1.1) a lambda's parameters
                elif kind == "IDENT":
                    if value in self.type_names and not _ARROW_NEXT.match(src, npos):
                        # (a type's name as a lambda's parameter, `Box -> 1`,
                        # stays a name: the checker says E0103)
                        kind = "TYPE_IDENT"
                    elif value in self.java_types and "TYPE_IDENT" in p.table[stack[-1]]:
                        kind = "TYPE_IDENT"
                elif kind == "SHIFT_OP" and value[0] == ">" and \
                        not p.continues(stack, "SHIFT_OP") and p.continues(stack, "GT"):
                    # `>>` or `>>>` closing type arguments: only its first `>`
                    kind = "GT"
                    value = ">"
                    npos = pos + 1
                tok = _new_token(kind, value, pos, line, pos - line_start + 1, 0, 0, npos)
            tok.end_line = line
            tok.end_column = npos - line_start + 1
            self.pos, self.line, self.line_start = npos, line, line_start
            return tok
        self.pos, self.line, self.line_start = pos, line, line_start
        if pos < end:
            raise _LexFail(pos)
        return None

    def repair(self):
        """Apply the repair at the current position: skip the construct and
        return the first token that stands for it (None if none does)."""
        pos, line, line_start = self.pos, self.line, self.line_start
        rend, toks = self.repairs[pos]
        col = pos - line_start + 1
        out = [_new_token(k, v, pos, line, col, line, col + len(v), pos) for k, v in toks]
        self.seek(rend)
        if out:
            self.pending = out[1:]
            return out[0]
        return None

    def skip_ignored(self):
        """Skip the white space and comments at the current position (where
        the state's lexer matched nothing)."""
        src, pos = self.src, self.pos
        while pos < self.end:
            for m in self.p.root_matchers:
                mm = m(src, pos)
                if mm is not None:
                    break
            if mm is None or mm.lastgroup not in self.p.ignore or mm.end() == pos:
                break
            pos = mm.end()
        self.seek(pos)

    def root_token(self, pos):
        """The token of any terminal at `pos` (where the state's lexer found
        none), or None: is this a token in the wrong place, or no token?"""
        for m in self.p.root_matchers:
            mm = m(self.src, pos)
            if mm is not None:
                value = mm.group(mm.lastgroup)
                col = pos - self.line_start + 1
                kind = mm.lastgroup
                kind = self.p.root_unless.get(kind, {}).get(value, kind)
                if kind == "IDENT" and (value in self.type_names or value in self.java_types):
                    kind = "TYPE_IDENT"
                return _new_token(kind, value, pos, self.line, col, self.line,
                                  col + len(value), pos + len(value))
        return None


# ---------------------------------------------------------------- Java constructs

# A scanner of K's tokens that never fails (an unknown character is a token
# of its own), for the Java constructs and for skipping after an error.
_SCAN = re.compile(r"""
    [ \t\r\n\f]+ | //[^\n]* | /\*.*?\*/
  | (?P<str>"(?:\\.|[^"\\\n])*" | '(?:\\.|[^'\\\n])*')
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>[0-9][0-9A-Za-z_]*)
  | (?P<op>->|>>>=|>>=|<<=|>>>|>>|<<|\+\+|--|&&|\|\||[=!<>+\-*/%&|^]=|.)
""", re.S | re.X)

_KEYWORDS = frozenset("""class extends new this super null true false if else while do for
    break continue return try catch finally throw instanceof var void int boolean Array
    Func interface implements final switch case default Map""".split())
_MODIFIERS = {"static": "E0020", "abstract": "E0022", "public": "E0023",
              "private": "E0023", "protected": "E0023"}
# Keywords that may follow a modifier (besides names and other modifiers).
_AFTER_MODIFIER = frozenset({"int", "boolean", "void", "Array", "Func", "Map", "class",
                             "interface", "final", "<"})
_TYPE_WORDS = frozenset({"int", "boolean", "void", "Array", "Func", "Map"})
_ALT_GENERIC = "`Any` and casts, or `Array`, `Map`, `Func`"
_ALT_LABEL = "a flag, or a function and `return`"


# Text without which no construct `_java_constructs` looks for can be there:
# most scripts have none, and skip that pass (a tenth of a large parse).
_JAVA_HINTS = re.compile(r"""
    \b(?:static|abstract|public|private|protected|enum|import|package|final|case|default)\b
  | @ | (?<![=!<>])=\s*\{ | \]\s*\{ | \b(?:break|continue)\s+[A-Za-z_]
  | (?:^|[;{}])\s*(?:<|[A-Za-z_]\w*\s*:(?!:))
""", re.X | re.M)
_NAME_LT = re.compile(r"\b([A-Za-z_]\w*)\s*<")


def _may_have_java(src, class_names):
    """False when the source cannot hold a construct of `_java_constructs`."""
    if _JAVA_HINTS.search(src):
        return True
    return any(m.group(1) in class_names for m in _NAME_LT.finditer(src))


def _scan(src, pos=0):
    """(text, kind, start, end) of the tokens from `pos`: kind is "id",
    "num", "str" or "op" (an operator, punctuation or unknown character)."""
    out = []
    for m in _SCAN.finditer(src, pos):
        kind = m.lastgroup
        if kind is not None:
            out.append((m.group(), kind, m.start(), m.end()))
    return out


def _is_name(t):
    """Whether scanned token `t` is an identifier, not a keyword."""
    return t is not None and t[1] == "id" and t[0] not in _KEYWORDS


def _lambda_parens(src):
    """(1.1) The offsets of each `(` whose matching `)` is directly followed
    by `->`: a parenthesised list there is always a lambda's parameters
    (the language reference §6), which LALR(1) cannot see at the `(`.  A
    `(` right after a name, `this`, `super`, a literal or `]` opens a
    call's arguments instead (`case Ioctl.io(1, 2) ->`)."""
    if "->" not in src:
        return frozenset()
    toks = _scan(src)
    out, stack = set(), []
    # Inside a `case` label list, whose `->` at the label's bracket depth
    # ends it, `(A) -> x` is a parenthesised label, never a lambda (§5:
    # labels are read as conditional expressions).
    case_depth = None
    for i, t in enumerate(toks):
        if t[0] == "case" and t[1] == "id":
            case_depth = len(stack)
        elif t[0] == "->" and case_depth == len(stack):
            case_depth = None
        if t[0] == "(":
            stack.append(i)
        elif t[0] == ")" and stack:
            j = stack.pop()
            if case_depth == len(stack):
                continue
            if i + 1 < len(toks) and toks[i + 1][0] == "->":
                prev = toks[j - 1] if j else None
                call = prev is not None and (
                    prev[1] in ("num", "str") or prev[0] == "]" or
                    (prev[1] == "id" and (prev[0] not in _KEYWORDS or
                                          prev[0] in ("this", "super"))))
                if not call:
                    out.add(toks[j][2])
    return frozenset(out)


def _java_constructs(src, filename, class_names, tables):
    """The Java constructs K lacks (the language reference §10, E0020 to
    E0032 but E0024 and E0025, which the builder reports), found on the
    tokens, where §10 says each is recognised.  Returns (diagnostics,
    repairs): each construct is reported, and `repairs` makes the parser
    read on as if it were written the K way (a modifier dropped, `case L:`
    read as `case L ->`, an array initialiser read as `null`...), so that
    one construct gives one diagnostic."""
    toks = _scan(src)
    n = len(toks)
    diags, repairs = [], {}
    line_starts = None

    def span(a, b=None):
        nonlocal line_starts
        if line_starts is None:
            line_starts = [0] + [m.end() for m in re.finditer("\n", src)]
        sa, ea = toks[a][2], toks[b if b is not None else a][3]
        la = bisect.bisect_right(line_starts, sa)
        lb = bisect.bisect_right(line_starts, ea - 1) if ea > sa else la
        return (filename, la, sa - line_starts[la - 1] + 1, lb, ea - line_starts[lb - 1] + 1)

    def report(code, msg, a, b=None, notes=()):
        diags.append(Diagnostic(code, msg, span(a, b), notes=list(notes)))

    def drop(a, b, toks_in=()):
        """Replace tokens a..b (inclusive) by `toks_in` for the parser."""
        repairs[toks[a][2]] = (toks[b][3], tuple(toks_in))

    def text(i):
        return toks[i][0] if 0 <= i < n else None

    def tok(i):
        return toks[i] if 0 <= i < n else None

    def closing(i, open_, close):
        """Index of the token closing the bracket at i, or None."""
        depth = 0
        for j in range(i, n):
            t = toks[j][0]
            if t == open_:
                depth += 1
            elif t == close:
                depth -= 1
                if depth == 0:
                    return j
        return None

    def closing_angle(i):
        """Index of the `>` closing the `<` at i (type arguments), or None
        if something that cannot be in type arguments comes first."""
        depth = 0
        for j in range(i, n):
            t = toks[j][0]
            if t == "<":
                depth += 1
            elif t in (">", ">>", ">>>"):
                depth -= len(t)
                if depth <= 0:
                    return j if depth == 0 else None
            elif t in (";", "{", "}", "=", "->"):
                return None
        return None

    def arm_end(i):
        """Index of the `case`, `default` or `}` that ends the switch arm
        whose statements begin at i, or None (also when the arm's brackets
        do not match: then nobody can tell where it ends)."""
        opened = []
        pairs = {")": "(", "]": "[", "}": "{"}
        for j in range(i, n):
            t = toks[j][0]
            if t in ("(", "[", "{"):
                opened.append(t)
            elif t in pairs:
                if not opened:
                    return j if t == "}" else None
                if opened.pop() != pairs[t]:
                    return None
            elif not opened and t in ("case", "default"):
                return j
        return None

    def skip_type(i):
        """Index after the type that begins at i, or None."""
        t = tok(i)
        if t is None or not (t[1] == "id" and (t[0] in _TYPE_WORDS or t[0] not in _KEYWORDS)):
            return None
        i += 1
        if text(i) == "<":
            j = closing_angle(i)
            if j is None:
                return None
            i = j + 1
        while text(i) == "[" and text(i + 1) == "]":
            i += 2
        return i

    braces = []          # per open `{`: the paren depth outside it
    paren = 0
    start = True         # does a statement, member or top-level item begin here?
    abstract_items = []  # indices where an `abstract` item begins
    i = 0
    while i < n:
        t, kind = toks[i][0], toks[i][1]
        nxt = text(i + 1)
        if start and paren == 0:
            if t in _MODIFIERS and tok(i + 1) is not None and (
                    _is_name(tok(i + 1)) or nxt in _AFTER_MODIFIER or
                    (nxt == "{" and t == "static")):
                code = _MODIFIERS[t]
                if code == "E0020":
                    report(code, "`static` is not K: use a global or a top-level function", i)
                elif code == "E0022":
                    report(code, "`abstract` is not K: use an interface, or a method that throws", i)
                    abstract_items.append(i + 1)
                else:
                    report(code, f"`{t}` is not K: remove it (K has no visibility)", i)
                if nxt == "{" and t == "static":
                    j = closing(i + 1, "{", "}")
                    drop(i, j if j is not None else i)
                    i = (j if j is not None else i) + 1
                else:
                    drop(i, i)
                    i += 1
                continue
            if t == "import" or t == "package":
                if not braces and _is_name(tok(i + 1)):
                    report("E0028", f"`{t}` is not K: remove it (a script is one file)", i)
                    j = i + 1
                    while j < n and toks[j][0] != ";":
                        j += 1
                    drop(i, min(j, n - 1))
                    i = j + 1
                    continue
            if t == "@" and _is_name(tok(i + 1)):
                i = _annotation(toks, i, report, drop)
                continue
            if t == "<" and _is_name(tok(i + 1)):
                j = closing_angle(i)
                if j is not None:
                    report("E0029", f"generic methods are not K: use {_ALT_GENERIC}", i, j)
                    drop(i, j)
                    i = j + 1
                    continue
            if kind == "id" and t not in _KEYWORDS and nxt == ":" and text(i + 2) != ":":
                report("E0030", f"labelled statements are not K: use {_ALT_LABEL}", i, i + 1)
                drop(i, i + 1)
                i += 2
                continue
            if t == "final":
                j = i + 1
                while text(j) in _MODIFIERS:
                    j += 1
                what = None
                if text(j) in ("class", "interface"):
                    what = f"a `final` {text(j)}"
                elif _is_name(tok(j)) and text(j + 1) == "(":
                    what = "a `final` constructor"
                else:
                    k = skip_type(j)
                    if k is not None and _is_name(tok(k)) and text(k + 1) == "(":
                        what = "a `final` method"
                    # a method added outside its class: `final T C.m(...)`
                    elif k is not None and _is_name(tok(k)) and text(k + 1) == "." and \
                            _is_name(tok(k + 2)) and text(k + 3) == "(":
                        what = "a `final` method"
                if what is not None:
                    report("E0032", f"{what} is not K: remove `final`", i)
                    drop(i, i)
                    i += 1
                    continue
        if t == "enum" and _is_name(tok(i + 1)) and text(i + 2) == "{":
            report("E0021", "`enum` is not K: use a class with final global instances, "
                   "or constant globals", i)
            j = closing(i + 2, "{", "}")
            if j is None:
                j = n - 1
            if text(j + 1) == ";":
                j += 1
            drop(i, j)
            i = j + 1
            start = True
            continue
        if t == "@" and _is_name(tok(i + 1)) and text(i - 1) in ("(", ","):
            i = _annotation(toks, i, report, drop)
            continue
        if kind == "id" and t in class_names and nxt == "<":
            j = closing_angle(i + 1)
            declared = {"class": "classes", "interface": "interfaces"}.get(text(i - 1))
            if declared is not None:
                report("E0029", f"generic {declared} are not K: use {_ALT_GENERIC}", i + 1, j)
            else:
                report("E0029", f"type arguments after `{t}` are not K: use {_ALT_GENERIC}",
                       i + 1, j)
            if j is not None:
                drop(i + 1, j)
                i = j + 1
                start = False
                continue
        if t in ("break", "continue") and _is_name(tok(i + 1)) and text(i + 2) == ";":
            report("E0030", f"`{t}` with a label is not K: use {_ALT_LABEL}", i, i + 1)
            drop(i + 1, i + 1)
            i += 3
            start = True
            continue
        if t == "case" or (t == "default" and nxt == ":"):
            j, q, depth = i + 1, 0, 0
            while j < n:
                u = toks[j][0]
                if u in ("(", "["):
                    depth += 1
                elif u in (")", "]"):
                    depth -= 1
                elif depth == 0 and u == "?":
                    q += 1
                elif depth == 0 and u == ":":
                    if q == 0:
                        break
                    q -= 1
                elif u in ("->", ";", "{", "}"):
                    j = n
                    break
                j += 1
            if j < n:
                label = "case L" if t == "case" else "default"
                report("E0031", f"`{label}:` is not K: write `{label} ->` (no fall-through)", j)
                # read as `case L -> { ... }`: the arm's statements, up to
                # the next label or the switch's `}`, in a block (a `break`
                # there leaves the switch, as in K)
                k = arm_end(j + 1)
                if k is None or toks[k][2] in repairs:
                    drop(j, j, [(tables["arrow"], "->")])
                else:
                    drop(j, j, [(tables["arrow"], "->"), (tables["lbrace"], "{")])
                    kind = {"}": "rbrace", "case": "case", "default": "default"}[toks[k][0]]
                    drop(k, k, [(tables["rbrace"], "}"), (tables[kind], toks[k][0])])
        if t == "=" and nxt == "{":
            j = closing(i + 1, "{", "}")
            if j is not None:
                report("E0026", "array initialisers are not K: use an array literal such as `[1, 2]`",
                       i + 1, j)
                drop(i + 1, j, [(tables["null"], "null")])
                i = j + 1
                start = False
                continue
        if t == "new":
            k = skip_type(i + 1)
            if k is not None and k > i + 3 and text(k - 1) == "]" and text(k) == "{":
                j = closing(k, "{", "}")
                if j is not None:
                    report("E0026", "array initialisers are not K: use an array literal such as "
                           "`[1, 2]`", k, j)
                    drop(i, j, [(tables["null"], "null")])
                    i = j + 1
                    start = False
                    continue
        # brackets and where items begin
        if t == "{":
            braces.append(paren)
            paren = 0
        elif t == "}":
            paren = braces.pop() if braces else 0
        elif t in ("(", "["):
            paren += 1
        elif t in (")", "]"):
            paren = max(0, paren - 1)
        start = t in (";", "{", "}")
        i += 1
    for a in abstract_items:
        # An abstract method has no body: read `)` `;` as `) {}`.
        j, depth = a, 0
        while j < n:
            u = toks[j][0]
            if u in ("(", "["):
                depth += 1
            elif u in (")", "]"):
                depth -= 1
            elif depth == 0 and u in ("{", "=", "}"):
                break
            elif depth == 0 and u == ";":
                if toks[j - 1][0] == ")" and toks[j][2] not in repairs:
                    drop(j, j, [(tables["lbrace"], "{"), (tables["rbrace"], "}")])
                break
            j += 1
    return diags, repairs


def _annotation(toks, i, report, drop):
    """E0027 at the `@` of toks[i]: drops `@Name`, `@a.b.Name` and their
    arguments `(...)`; returns the index after them."""
    n = len(toks)
    j = i + 1
    while j + 2 < n and toks[j + 1][0] == "." and toks[j + 2][1] == "id":
        j += 2
    name_end = j        # the diagnostic shows `@a.b.Name`, without arguments
    if j + 1 < n and toks[j + 1][0] == "(":
        depth = 0
        for k in range(j + 1, n):
            if toks[k][0] == "(":
                depth += 1
            elif toks[k][0] == ")":
                depth -= 1
                if depth == 0:
                    j = k
                    break
    name = "".join(t[0] for t in toks[i:name_end + 1])
    report("E0027", f"annotations are not K: remove `{name}`", i, name_end)
    drop(i, j)
    return j + 1


# ---------------------------------------------------------------- parser

class _Parser:
    """The LALR(1) driver: shifts tokens and reduces rules by the tables,
    calling the builder's method of each rule, as Lark's parser does, plus
    error recovery."""

    def __init__(self, tables):
        """Unpacks the tables (load_tables) and binds every rule to its
        builder callback, once per process."""
        self.tables = tables
        self.table = tables["table"]
        self.start = tables["start"]
        self.end_state = tables["end"]
        self.ignore = frozenset(tables["ignore"])
        self.newline = frozenset(tables["newline"])
        self.literals = tables["literals"]
        self.lbrace, self.rbrace = tables["lbrace"], tables["rbrace"]
        self.semicolon = tables["semicolon"]
        self.matchers = _Matchers(tables)
        self.root_matchers = [re.compile(p, f).match for p, f in tables["root"]]
        self.root_unless = tables["root_unless"]
        self.builder = _Builder()
        self.rules = [(origin, size, self._callback(name, expand1, include, append_none))
                      for origin, size, name, expand1, include, append_none in tables["rules"]]

    def _callback(self, name, expand1, include, append_none):
        """The builder's method for a rule, shaped like Lark's callbacks:
        `include` lists the children kept ((index, inline it?, Nones
        before)), `expand1` returns a single child as is (`?rule`)."""
        f = getattr(self.builder, name, None)
        if f is None:
            def f(children, name=name):
                return _Tree(name, children)
        if expand1:
            inner = f

            def f(children, inner=inner):
                if len(children) == 1:
                    return children[0]
                return inner(children)
        if include is not None:
            node = f

            def f(children, node=node, include=include, append_none=append_none):
                out = []
                for i, inline, nones in include:
                    if nones:
                        out += [None] * nones
                    if inline:
                        if out:
                            out += children[i].children
                        else:
                            out = children[i].children
                    else:
                        out.append(children[i])
                if append_none:
                    out += [None] * append_none
                return node(out)
        return f

    def continues(self, stack, terminal):
        """Whether the parser, its state stack being `stack`, can shift
        `terminal` after the reductions it calls for (no reduction is
        performed on the real stack)."""
        table, rules = self.table, self.rules
        states = list(stack)
        while True:
            action = table[states[-1]].get(terminal)
            if action is None:
                return False
            shift, arg = action
            if shift:
                return True
            origin, n, _ = rules[arg]
            if n:
                del states[-n:]
            goto = table[states[-1]].get(origin)
            if goto is None:
                return False
            states.append(goto[1])

    def parse(self, src, filename, type_names, java_types, repairs):
        """The top-level items, or None after a syntax error (all of them
        in `self.diags`)."""
        self.src, self.filename = src, filename
        self.diags = []
        self.failed = False
        self.stopped = False
        self.last_error = None
        table, rules, end_state = self.table, self.rules, self.end_state
        lexer = _Lexer(self, src, type_names, java_types, repairs)
        states = [self.start]
        values = []
        tok = self._next(lexer, states, values)
        while True:
            if tok is None:
                if self.stopped:
                    return None
                # end of input: reduce until the start rule is complete
                while True:
                    action = table[states[-1]].get("$END")
                    if action is None or action[0]:
                        self._error_eof(states)
                        return None
                    origin, n, cb = rules[action[1]]
                    if n:
                        children = values[-n:]
                        del values[-n:]
                        del states[-n:]
                    else:
                        children = []
                    values.append(cb(children))
                    states.append(table[states[-1]][origin][1])
                    if states[-1] == end_state:
                        return None if self.failed else values[-1]
            action = table[states[-1]].get(tok.type)
            if action is None:
                tok = self._error_token(tok, lexer, states, values)
                continue
            shift, arg = action
            if shift:
                states.append(arg)
                values.append(tok)
                tok = self._next(lexer, states, values)
                continue
            origin, n, cb = rules[arg]
            if n:
                children = values[-n:]
                del values[-n:]
                del states[-n:]
            else:
                children = []
            values.append(cb(children))
            states.append(table[states[-1]][origin][1])

    def _next(self, lexer, states, values):
        """The next token; a character no terminal matches is reported and
        skipped over by recovery."""
        while True:
            try:
                return lexer.token(states)
            except _LexFail:
                lexer.skip_ignored()
                pos = lexer.pos
                if lexer.repairs and pos in lexer.repairs:
                    tok = lexer.repair()
                    if tok is not None:
                        return tok
                    continue
                # a token of another state: handed to the parser, which reports
                # a syntax error at it
                tok = lexer.root_token(pos)
                if tok is not None:
                    lexer.seek(tok.end_pos)
                    return tok      # a token in the wrong place: a syntax error
                self.diags.append(self._char_diag(pos, lexer))
                self.failed = True
                if not self._recover(pos, lexer, states, values):
                    self.stopped = True
                    return None
                tok = self.pending
                if tok is not None:
                    return tok

    # -- errors and recovery

    def _error_token(self, tok, lexer, states, values):
        """Report the syntax error at `tok` and recover; returns the token
        to go on with.

        A `;` missing at the end of a line is reported there, and read as
        if it were written: the error shows at the first token of the next
        statement, member or item, which skipping would swallow."""
        # one error per position: after recovery the parser may fail again on
        # the same token
        first = tok.start_pos != self.last_error
        self.last_error = tok.start_pos
        if first:
            self.diags.append(self._token_diag(tok, states))
        self.failed = True
        if first and self._semicolon_missing(tok, states):
            # the same token is read again after the inserted `;`
            lexer.pending.insert(0, tok)
            return _new_token(self.semicolon, ";", tok.start_pos, tok.line, tok.column,
                              tok.line, tok.column, tok.start_pos)
        if not self._recover(tok.start_pos, lexer, states, values):
            self.stopped = True
            return None
        if self.pending is not None:
            return self.pending
        return self._next(lexer, states, values)

    def _recover(self, pos, lexer, states, values):
        """The recovery of the language reference §10: skip the tokens from
        `pos` up to and including the next `;` at the same brace depth, or
        the `}` closing the innermost open brace, then resume where the next
        statement, member or top-level item begins: the parser's stack is
        cut back to just after the innermost open `{` (or to the start).
        After a `}`, that `}` is given back to the parser, which closes the
        block or class body it opened; the items parsed inside are lost (the
        AST of a file with errors is discarded anyway).  Returns False when
        the skip reached the end of the file, where the parse stops."""
        self.pending = None
        src = self.src
        depth = 0
        stop = None
        for m in _SCAN.finditer(src, pos):
            if m.lastgroup is None:
                continue        # white space or a comment
            t = m.group()
            if t == "/" and src.startswith("/*", m.start()):
                return False        # an unterminated comment runs to the end
            if t == "{":
                depth += 1
            elif t == "}":
                if depth == 0:
                    stop = (m.start(), m.end(), "}")
                    break
                depth -= 1
            elif t == ";" and depth == 0:
                stop = (m.start(), m.end(), ";")
                break
        if stop is None:
            return False
        start, end, what = stop
        lexer.seek(end)
        # the open braces: a `{` whose `}` is on the stack too (a switch
        # expression not reduced yet when the token after it is an error)
        # is closed
        braces = []
        for i, v in enumerate(values):
            if type(v) is Token and v.type == self.lbrace:
                braces.append(i)
            elif type(v) is Token and v.type == self.rbrace and braces:
                braces.pop()
        # values[i] was shifted in state states[i + 1] (states[0] is the start
        # state): cutting both after the innermost `{` leaves the parser in the
        # state that reads a statement, member or item there.
        cut = braces[-1] + 1 if braces else 0
        del values[cut:]
        del states[cut + 1:]
        if what == "}":
            if braces and self.rbrace in self.table[states[-1]]:
                line = src.count("\n", 0, start) + 1
                col = start - (src.rfind("\n", 0, start) + 1) + 1
                self.pending = _new_token(self.rbrace, "}", start, line, col, line, col + 1, end)
            elif braces:
                # this `{` cannot be closed here: drop its whole construct
                outer = braces[-2] + 1 if len(braces) > 1 else 0
                del values[outer:]
                del states[outer + 1:]
        return True

    def _semicolon_missing(self, tok, states):
        """Could a `;` go before `tok`, which begins a later line than the
        token before it?"""
        src, i = self.src, tok.start_pos
        while i > 0 and src[i - 1] in " \t\r\n":
            i -= 1
        return "\n" in src[i:tok.start_pos] and self.continues(states, self.semicolon)

    def _accepts(self, states):
        """The terminals the parser can shift after the reductions of its current
        state (all the state's terminals if none can): the `expected` list of a
        syntax error."""
        row = self.table[states[-1]]
        return sorted(t for t in row if t.isupper() and self.continues(states, t)) or \
            sorted(t for t in row if t.isupper())

    def _describe(self, name):
        """How a terminal is named in `expected ...` messages."""
        if name in _TOKEN_NAMES:
            return _TOKEN_NAMES[name]
        lit = self.literals.get(name)
        if lit is not None:
            return f"`{lit}`"
        return name.lower()

    def _char_diag(self, pos, lexer):
        """The diagnostic of a position where no terminal matches: an unterminated
        string, character or comment (E0002), a character that is K's but wrong
        here (E0010), or one that K does not use (E0001)."""
        src, filename = self.src, self.filename
        line = src.count("\n", 0, pos) + 1
        col = pos - (src.rfind("\n", 0, pos) + 1) + 1
        ch = src[pos]
        span = (filename, line, col, line, col + 1)
        if ch == '"':
            return Diagnostic("E0002", "unterminated string literal", span)
        if ch == "'":
            return Diagnostic("E0002", "unterminated character literal", span)
        if src.startswith("/*", pos):
            return Diagnostic("E0002", "unterminated block comment", (filename, line, col, line, col + 2))
        if ch == "[" or ch == "]" or ch.isalnum() or ch in "_(){};,.=<>+-*/%&|^!~?:":
            return Diagnostic("E0010", f"unexpected `{ch}`", span)
        return Diagnostic("E0001", f"invalid character `{ch}` in source", span)

    def _error_eof(self, states):
        """E0011 at the end of the file's last non-blank line, naming what was
        expected when that is at most four things."""
        src, filename = self.src, self.filename
        self.failed = True
        lines = src.split("\n")
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        line = len(lines)
        col = len(lines[-1]) + 1
        expected = sorted(t for t in self.table[states[-1]] if t.isupper())
        d = Diagnostic("E0011", "unexpected end of file", (filename, line, col, line, col + 1))
        if expected and len(expected) <= 4:
            d.message = "expected " + _one_of([self._describe(x) for x in expected]) + \
                ", found end of file"
        self.diags.append(d)

    def _token_diag(self, tok, states):
        """E0010 at `tok`: `expected X, found Y` when at most four terminals fit,
        else `unexpected Y`. When a `;` fits and `tok` is on a later line, the
        error points just after the previous token, where the `;` belongs."""
        src, filename = self.src, self.filename
        if tok.value == "/" and src.startswith("/*", tok.start_pos):
            return Diagnostic("E0002", "unterminated block comment",
                              (filename, tok.line, tok.column, tok.line, tok.column + 2))
        span = (filename, tok.line, tok.column, tok.end_line or tok.line,
                tok.end_column or tok.column + max(1, len(tok.value)))
        expected = [x for x in self._accepts(states) if not x.startswith("__")]
        if "IDENT" in expected:
            expected = [x for x in expected if x not in ("TYPE_IDENT", "DIMS")]
        shown = f"`{tok.value}`"
        # `1.5`: an integer, then a member access with no name
        i = tok.start_pos
        if (i is not None and i >= 2 and tok.value[:1].isdigit()
                and src[i - 1] == "." and src[i - 2].isdigit()):
            j = i - 1
            while j > 0 and (src[j - 1].isalnum() or src[j - 1] == "_"):
                j -= 1
            if src[j].isdigit():        # a number, not a name (`a1.5`)
                line = src.count("\n", 0, j) + 1
                col = j - (src.rfind("\n", 0, j) + 1) + 1
                text = src[j:i] + tok.value
                return Diagnostic("E0010", f"`{text}` is not a K literal: K has "
                                  "no floating point (use `int`)",
                                  (filename, line, col, line, col + len(text)))
        if self.semicolon in expected and tok.start_pos is not None:
            # point just after the previous token, where the `;` belongs
            i = tok.start_pos
            while i > 0 and src[i - 1] in " \t\r\n":
                i -= 1
            line = src.count("\n", 0, i) + 1
            col = i - (src.rfind("\n", 0, i) + 1) + 1
            if line != tok.line:
                return Diagnostic("E0010", f"expected `;`, found {shown}", (filename, line, col, line, col + 1))
        if expected and len(expected) <= 4:
            msg = "expected " + _one_of([self._describe(x) for x in expected]) + f", found {shown}"
        else:
            msg = f"unexpected {shown}"
        d = Diagnostic("E0010", msg, span)
        note = self._token_note(tok)
        if note:
            d.notes.append(note)
        return d

    def _token_note(self, tok):
        """A hint for an unexpected token that a Java habit puts there: the
        diamond `new Map<>()`, and a `case ->` arm that is empty or a
        `return` (the source before `tok`, comments aside, says which)."""
        if tok.start_pos is None or tok.value not in (">", ";", "return"):
            return None
        # the text just before, from a line start a bounded way back: a
        # file with an error on every line stays linear
        pos = tok.start_pos
        lo = self.src.rfind("\n", 0, max(0, pos - 1024)) + 1
        before = _TOKENS_OR_COMMENTS.sub(
            lambda m: " " if m.group(0)[:1] == "/" else m.group(0),
            self.src[lo:pos]).rstrip()
        if tok.value == ">" and re.search(r"\bnew\s+[A-Za-z_]\w*\s*<$", before):
            return ("K has no diamond `<>`: write the type arguments, "
                    "as in `new Map<String, int>()`")
        if before.endswith("->") and re.search(r"\b(case|default)\b[^;{}]*->$", before):
            if tok.value == ";":
                return "an arm that does nothing is `{}`: `case 2 -> {}`"
            if tok.value == "return":
                return ("an arm of a switch expression is an expression (`case 1 -> 5`); "
                        "a statement's arm may be a block: `case 1 -> { return 5; }`")
        return None


# Strings and characters (kept) or comments (blanked) in source text.
_TOKENS_OR_COMMENTS = re.compile(
    r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)


_TOKEN_NAMES = {
    "IDENT": "identifier", "TYPE_IDENT": "type name", "INT": "integer literal",
    "CHAR": "character literal", "STRING": "string literal", "PRIM": "type",
    "DIMS": "`[]`", "$END": "end of file",
}


def _one_of(items):
    """`X` or `one of X, Y, Z`, sorted."""
    items = sorted(set(items))
    if len(items) == 1:
        return items[0]
    return "one of " + ", ".join(items)


_lock = threading.Lock()
_parser = None


def _get_parser():
    """The process's parser, built on first use (loading or building the tables);
    parse() serialises its use with `_lock`, since the parser and its builder
    keep per-parse state."""
    global _parser
    if _parser is None:
        _parser = _Parser(load_tables())
    return _parser


_JAVA_CODES = frozenset(f"E00{n}" for n in range(20, 33))


def _after_java_constructs(source, diags):
    """`diags` (sorted by position) without the syntax errors that follow
    a Java construct (E0020-E0032) in its own statement or declaration
    head: up to the next `;`, `{` or `}` at its brace depth.  The parser
    repairs such a construct rather than skipping it (the language
    reference §10: after an error the rest of the statement is skipped),
    so what comes after it would otherwise be reported too: `long l = 5 +;`
    gets E0025 only, `double d = 1.0;` no error at `.0`.  Another Java
    construct there is still reported (`public static`)."""
    if not any(d.code in _JAVA_CODES for d in diags):
        return diags
    starts = [0]
    for i, ch in enumerate(source):
        if ch == "\n":
            starts.append(i + 1)

    def offset(d):
        line, col = d.span[1], d.span[2]
        return starts[line - 1] + col - 1 if 0 < line <= len(starts) else 0

    kept, muted_to = [], -1
    for d in diags:
        at = offset(d)
        if d.code not in _JAVA_CODES:
            if at <= muted_to:
                continue
            kept.append(d)
            continue
        kept.append(d)
        end = len(source)
        for m in _SCAN.finditer(source, at):
            if m.lastgroup == "op" and m.group() in ";{}":
                end = m.start()
                break
        muted_to = max(muted_to, end)
    return kept


# The deepest nesting of expressions and statements a script may have
# (E0014).  Parsing is iterative, but the checker and the emitter recurse
# once or a few times per level of the tree, so a deeper tree would run
# them out of Python's stack.  frontend/compiler.py gives them a stack and
# a recursion limit sized for this many levels.
MAX_NESTING = 10_000


_SYNTAX_FIELDS = {}     # node class -> names of its syntax fields


def _children(node):
    """The nodes directly under `node`, in field (source) order: the Nodes
    of its syntax fields and of their lists.  The checker's annotations
    (the `kw_only` fields) are skipped: they point back into the tree (a
    call's `receiver` is its callee's object), so following them would
    visit a subtree more than once."""
    cls = type(node)
    names = _SYNTAX_FIELDS.get(cls)
    if names is None:
        names = _SYNTAX_FIELDS[cls] = tuple(
            f.name for f in dataclasses.fields(cls) if not f.kw_only and f.name != "span")
    out = []
    for name in names:
        v = getattr(node, name)
        if isinstance(v, A.Node):
            out.append(v)
        elif type(v) is list:
            out.extend(x for x in v if isinstance(x, A.Node))
    return out


def nesting_levels(item, limit=None):
    """Walks the tree of `item` (a top-level item: level 1) without
    recursion.  Returns (node, level): the first node, in source order,
    deeper than `limit`, or with no limit (or none past it) the deepest
    node."""
    deepest, deepest_level = item, 1
    stack = [(item, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest_level:
            deepest, deepest_level = node, level
            if limit is not None and level > limit:
                break
        kids = _children(node)
        kids.reverse()          # popped first: the leftmost child
        stack.extend((k, level + 1) for k in kids)
    return deepest, deepest_level


def nesting_error(node, item, filename=None):
    """E0014 at `node` (under the top-level item `item`), where the
    script's nesting passes what the compiler handles.  Only the node's
    first character is marked: the node may span most of the file.  A node
    with no position is reported at its item."""
    f, line, col = node.span[:3]
    if line <= 0:
        f, line, col = item.span[:3]
    return Diagnostic(
        "E0014",
        f"expressions and statements nested more than {MAX_NESTING} levels deep",
        (filename or f, line, col, line, col + 1),
        label="too deep from here on",
        notes=["each operator of a chain such as `a + b + c`, each `else if` "
               "and each nested call, block or expression counts as a level",
               "split it: give parts of it a local variable or a function "
               "of their own"])


def _too_deep(items, filename):
    """E0014 for each top-level item nested more than MAX_NESTING levels
    deep, at the first node past the limit (the language reference §10:
    every error of the file is reported, so each item gets its own)."""
    diags = []
    for item in items:
        node, level = nesting_levels(item, MAX_NESTING)
        if level > MAX_NESTING:
            diags.append(nesting_error(node, item, filename))
    return diags


def parse(source, filename="<input>"):
    """Parse `source`; returns (Program or None, diagnostics).  A tree
    nested deeper than MAX_NESTING is refused with E0014, like a syntax
    error: the later stages never see it."""
    with _lock:
        parser = _get_parser()
        b = parser.builder
        b.filename = filename
        b.diags = []
        b.pending_minmax = set()
        b.parenthesized = set()
        b.pending_nodes = []
        declared = scan_class_names(source)
        type_names = builtin_type_names() | declared
        java_types = frozenset(_JAVA_TYPES) - declared
        b.java_types = java_types
        if _may_have_java(source, type_names):
            java_diags, repairs = _java_constructs(source, filename, type_names, parser.tables)
        else:
            java_diags, repairs = [], {}
        # The parse allocates many small objects and no cycles: the cyclic
        # garbage collector only slows it down (3x on 10,000 lines).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            items = parser.parse(source, filename, type_names, java_types, repairs)
        finally:
            if gc_was_enabled:
                gc.enable()
        diags = java_diags + parser.diags + b.diags
        for node in b.pending_nodes:
            if id(node) in b.pending_minmax:
                diags.append(Diagnostic(
                    "E0005", f"integer literal `{node.text}` is out of range (the maximum is 9223372036854775807)",
                    node.span))
        b.diags = []
        b.pending_nodes = []
        parser.diags = []
    diags.sort(key=lambda d: (d.span[1], d.span[2]))
    diags = _after_java_constructs(source, diags)
    if items is None or diags:
        return None, diags
    diags = _too_deep(items, filename)
    if diags:
        return None, diags
    lines = source.count("\n") + 1
    prog = A.Program((filename, 1, 1, lines, 1), items=items)
    return prog, diags
