"""AST of K: dataclasses built by `parser.py`, annotated in place by `checker.py`.

Every node has `span` = (file, line, col, end_line, end_col), all 1-based as
Lark reports them: (line, col) is the first character, (end_line, end_col)
one past the last (Lark's end_column), so a one-character token at column 7
spans columns 7..8.  A node built from nothing positioned gets (file, 0, 0,
0, 0).  Diagnostics underline exactly this range, so a node's span is the
smallest source text that shows it.

Fields before the `kw_only` ones are syntax, set by the parser.  The
`kw_only` fields are annotations (frontend/DESIGN.md lists them): they
default to None and only the checker fills them, so the emitter lowers a
call from `Call.kind`/`target` rather than from the shape of `callee`.
Nodes compare by identity (`eq=False`): two equal-looking expressions at
different places stay distinct (the parser keeps sets of node ids).

Type syntax:   NamedType, ArrayTypeNode, FuncTypeNode        (.resolved: types.Type)
Top level:     Program, ClassDecl, FieldDecl, MethodDecl, CtorDecl,
               FuncDecl, GlobalDecl, Param
Statements:    Block, VarDecl, ExprStmt, EmptyStmt, If, While, DoWhile, For,
               ForEach, Break, Continue, Return, Throw, Try, Catch,
               (1.1) Switch, SwitchArm
Expressions:   IntLit, BoolLit, NullLit, StringLit, Name, This, Super,
               Member, Index, Call, New, NewArray, ArrayLit, Unary, Binary,
               Assign, IncDec, Cond, Cast, InstanceOf, (1.1) SwitchExpr,
               (1.1) Lambda
               (all with .ty: types.Type)

(1.1) `final` is syntax: the `final` flag of Param, FieldDecl, GlobalDecl,
VarDecl, ForEach and Catch says the declaration was written with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

Span = tuple  # (file, line, col, end_line, end_col)


@dataclass(eq=False)
class Node:
    """Base of every node: only the source range (see the module docstring)."""
    span: Span


# ---------------------------------------------------------------- type syntax

@dataclass(eq=False)
class TypeNode(Node):
    """A type as written in the source.  `resolved` is the `types.Type` the
    checker made of it (types.ERROR when the name is unknown, so that one
    bad name gives one diagnostic and no cascade)."""
    resolved: Any = field(default=None, kw_only=True)   # types.Type


@dataclass(eq=False)
class NamedType(TypeNode):
    """`int`, `boolean`, `void`, `Any`, `String`, a class name."""
    name: str = ""


@dataclass(eq=False)
class ArrayTypeNode(TypeNode):
    """`T[]` or `Array<T>`."""
    elem: TypeNode = None


@dataclass(eq=False)
class FuncTypeNode(TypeNode):
    """`Func<R(A1, ..., An)>`."""
    ret: TypeNode = None
    params: list = field(default_factory=list)


@dataclass(eq=False)
class MapTypeNode(TypeNode):
    """(1.1) `Map<K, V>`."""
    key: TypeNode = None
    val: TypeNode = None


# ---------------------------------------------------------------- top level

@dataclass(eq=False)
class Program(Node):
    """A whole script.  `items` keeps source order, which is the order the
    init runs top-level statements and global initialisers in (the language
    reference §2); declarations may be used before they appear."""
    items: list = field(default_factory=list)   # ClassDecl, FuncDecl, MethodDecl (out of class), GlobalDecl, statements
    info: Any = field(default=None, kw_only=True)   # symbols.ProgramInfo


@dataclass(eq=False)
class Param(Node):
    """One declared parameter of a function, method or constructor; its
    `var` is the LocalVar the body refers to (index = parameter position)."""
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    final: bool = False                            # (1.1) `final T name`
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class ClassDecl(Node):
    """`class Name extends Super { members }`; `superclass` None means
    Object.  Methods written outside the body (`R Name.m() {}`) are not in
    `members`: they are MethodDecls of Program.items with `class_name` set,
    and the checker adds them to the class exactly as if written inside."""
    name: str = ""
    name_span: Span = None
    superclass: Optional[str] = None
    super_span: Span = None
    members: list = field(default_factory=list)   # FieldDecl, MethodDecl, CtorDecl
    # (1.1) `implements I, J`: (name, span) pairs in source order
    interfaces: list = field(default_factory=list)
    info: Any = field(default=None, kw_only=True)   # symbols.ClassInfo


@dataclass(eq=False)
class InterfaceDecl(Node):
    """(1.1) `interface Name extends I1, ..., In { members }` (the language
    reference §4).  `extends` holds (name, span) pairs.  A signature
    `R m(T a);` is a MethodDecl whose body is None; the other members the
    body may hold (fields, method bodies, constructors) are kept so that
    the checker reports them."""
    name: str = ""
    name_span: Span = None
    extends: list = field(default_factory=list)
    members: list = field(default_factory=list)
    info: Any = field(default=None, kw_only=True)   # symbols.InterfaceInfo


@dataclass(eq=False)
class FieldDecl(Node):
    """`T name = init;` in a class body.  Initialisers run in declaration
    order in the class's constructor, after the superclass constructor and
    before the rest of its body (the language reference §4)."""
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    init: Any = None
    final: bool = False    # (1.1) a final field; a blank final when init is None
    info: Any = field(default=None, kw_only=True)   # symbols.FieldInfo


@dataclass(eq=False)
class MethodDecl(Node):
    """A method; `class_name` is set for `R Class.m(...) {...}` at top level."""
    ret: TypeNode = None
    name: str = ""
    name_span: Span = None
    params: list = field(default_factory=list)
    body: Any = None   # Block
    class_name: Optional[str] = None
    class_span: Span = None
    info: Any = field(default=None, kw_only=True)   # symbols.MethodInfo


@dataclass(eq=False)
class CtorDecl(Node):
    """A constructor `Name(params) { body }`; `name` must repeat the class
    name (the checker reports it otherwise).  A class without one gets an
    implicit MethodInfo, not a CtorDecl."""
    name: str = ""
    name_span: Span = None
    params: list = field(default_factory=list)
    body: Any = None
    info: Any = field(default=None, kw_only=True)   # symbols.MethodInfo (is_ctor)


@dataclass(eq=False)
class FuncDecl(Node):
    """A top-level function `R name(params) { body }`."""
    ret: TypeNode = None
    name: str = ""
    name_span: Span = None
    params: list = field(default_factory=list)
    body: Any = None
    info: Any = field(default=None, kw_only=True)   # symbols.FuncInfo


@dataclass(eq=False)
class GlobalDecl(Node):
    """A variable declared directly at top level; `type` None for `var`."""
    type: Optional[TypeNode] = None
    name: str = ""
    name_span: Span = None
    init: Any = None
    final: bool = False    # (1.1) a final global (a constant global when
                           # int/boolean/String with a constant initialiser)
    info: Any = field(default=None, kw_only=True)   # symbols.GlobalInfo


# ---------------------------------------------------------------- statements

@dataclass(eq=False)
class Stmt(Node):
    """Base of statements (the language reference §5)."""


@dataclass(eq=False)
class Block(Stmt):
    """`{ stmts }`: a scope for the locals declared directly in it."""
    stmts: list = field(default_factory=list)


@dataclass(eq=False)
class VarDecl(Stmt):
    """`T x = e;`, `T x;`, `var x = e;` (type None for var)."""
    type: Optional[TypeNode] = None
    name: str = ""
    name_span: Span = None
    init: Any = None
    final: bool = False    # (1.1) `final T x = e;`
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class ExprStmt(Stmt):
    """`expr;`: the value is discarded (the emitter asks for no result)."""
    expr: Any = None


@dataclass(eq=False)
class EmptyStmt(Stmt):
    """A lone `;`."""


@dataclass(eq=False)
class If(Stmt):
    """`if (cond) then else els`; `els` None when there is no else."""
    cond: Any = None
    then: Stmt = None
    els: Optional[Stmt] = None


@dataclass(eq=False)
class While(Stmt):
    cond: Any = None
    body: Stmt = None


@dataclass(eq=False)
class DoWhile(Stmt):
    body: Stmt = None
    cond: Any = None


@dataclass(eq=False)
class For(Stmt):
    """init: list of VarDecl / ExprStmt; cond: expr or None; update: list of exprs."""
    init: list = field(default_factory=list)
    cond: Any = None
    update: list = field(default_factory=list)
    body: Stmt = None


@dataclass(eq=False)
class ForEach(Stmt):
    """`for (T name : iterable) body`: iterable must be an array; `var`
    holds one element per iteration."""
    type: Optional[TypeNode] = None   # None for var
    name: str = ""
    name_span: Span = None
    iterable: Any = None
    body: Stmt = None
    final: bool = False    # (1.1) `for (final T x : a)`
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Return(Stmt):
    """`return;` (value None) or `return value;`."""
    value: Any = None


@dataclass(eq=False)
class Throw(Stmt):
    value: Any = None


@dataclass(eq=False)
class Catch(Node):
    """`catch (Type name) body`: Type must be Exception or a subclass;
    `var` is the local the caught exception is stored in."""
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    body: Block = None
    final: bool = False    # (1.1) `catch (final E e)`
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class Try(Stmt):
    """`try body catches... finally finally_`: at least one catch or a
    finally.  Catches are tried in order; the finally block runs on every
    exit except an abort (the language reference §7)."""
    body: Block = None
    catches: list = field(default_factory=list)
    finally_: Optional[Block] = None


@dataclass(eq=False)
class SwitchArm(Node):
    """(1.1) One arm `case L1, ..., Ln -> body` (labels empty and
    `is_default` for `default -> body`).  `body` is an ExprStmt, a Block or
    a Throw; in a switch expression an ExprStmt's expression is the arm's
    value.  `values` are the labels' constant values (int, or bytes for
    String labels), in order."""
    labels: list = field(default_factory=list)
    is_default: bool = False
    body: Any = None
    values: Optional[list] = field(default=None, kw_only=True)


@dataclass(eq=False)
class Switch(Stmt):
    """(1.1) A switch statement (the language reference §5): the selector,
    evaluated once, picks the arm with an equal label, else `default`, else
    none; a null String selector throws NullPointerException."""
    selector: Any = None
    arms: list = field(default_factory=list)       # SwitchArm
    kind: Optional[str] = field(default=None, kw_only=True)   # "int" | "String"


# ---------------------------------------------------------------- expressions

@dataclass(eq=False)
class Expr(Node):
    """Base of expressions (the language reference §6).  `ty` is the static
    type the checker gave the expression: the emitter allocates its result
    register with it and boxes where it flows into `Any`."""
    ty: Any = field(default=None, kw_only=True)   # types.Type


@dataclass(eq=False)
class IntLit(Expr):
    """An integer or character literal; `text` is the source spelling (for
    messages), `value` what it denotes (the language reference §1)."""
    value: int = 0          # already reduced to the signed 64-bit value
    text: str = ""


@dataclass(eq=False)
class BoolLit(Expr):
    value: bool = False


@dataclass(eq=False)
class NullLit(Expr):
    pass


@dataclass(eq=False)
class StringLit(Expr):
    """A string literal, escapes already decoded: K strings are bytes."""
    value: bytes = b""


@dataclass(eq=False)
class Name(Expr):
    """A bare identifier.  `ref` says what it denotes after the lookup order
    of the language reference §2 (local, member of `this`, top level); a
    class name only ever appears as the qualifier of a Member."""
    name: str = ""
    ref: Any = field(default=None, kw_only=True)   # LocalVar | FieldInfo | GlobalInfo | FuncInfo | ClassInfo (qualifier only)


@dataclass(eq=False)
class This(Expr):
    pass


@dataclass(eq=False)
class Super(Expr):
    """`super`: only as `super(...)` callee or `super.m(...)` object."""


@dataclass(eq=False)
class Member(Expr):
    """`obj.name`: a field, a bound method value or an `Errno.NAME`
    constant (`ref` says which); as the callee of a Call, the method
    named (then Call.target says which)."""
    obj: Any = None
    name: str = ""
    name_span: Span = None
    ref: Any = field(default=None, kw_only=True)   # FieldInfo | MethodInfo (bound method) | int (Errno)


@dataclass(eq=False)
class Index(Expr):
    """`obj[index]`: obj must be an array, index an int."""
    obj: Any = None
    index: Any = None


@dataclass(eq=False)
class Call(Expr):
    """`callee(args)`.  The checker decides what is called: `kind` picks
    the emitter's lowering (frontend/DESIGN.md lists the kinds), and
    `param_types` has one type per argument, the type it flows into (the
    emitter boxes an int/boolean argument whose entry is `Any`)."""
    callee: Any = None
    args: list = field(default_factory=list)
    kind: Optional[str] = field(default=None, kw_only=True)   # func virtual super native print funcval dynamic super_ctor
    target: Any = field(default=None, kw_only=True)           # FuncInfo | MethodInfo
    receiver: Any = field(default=None, kw_only=True)         # Expr or None (implicit this / static)
    name: Optional[str] = field(default=None, kw_only=True)   # method name (dynamic calls)
    param_types: Optional[list] = field(default=None, kw_only=True)  # types the arguments flow into


@dataclass(eq=False)
class New(Expr):
    """`new C(args)`: `cls` the class, `ctor` its constructor (a script
    function or a built-in constructor native)."""
    type: TypeNode = None
    args: list = field(default_factory=list)
    cls: Any = field(default=None, kw_only=True)    # ClassInfo
    ctor: Any = field(default=None, kw_only=True)   # MethodInfo
    param_types: Optional[list] = field(default=None, kw_only=True)


@dataclass(eq=False)
class NewArray(Expr):
    """`new T[n]` (size set) or `new Array<T>()` (size None)."""
    elem: TypeNode = None
    size: Any = None


@dataclass(eq=False)
class NewMap(Expr):
    """(1.1) `new Map<K, V>()`."""
    type: TypeNode = None      # a MapTypeNode


@dataclass(eq=False)
class ArrayLit(Expr):
    """`[e1, ..., en]`: its element type comes from the expected type, else
    the join of the elements (the language reference §3)."""
    elems: list = field(default_factory=list)


@dataclass(eq=False)
class Unary(Expr):
    op: str = ""          # '-', '!', '~'
    operand: Any = None


@dataclass(eq=False)
class Binary(Expr):
    """A binary operator; `&&` and `||` short-circuit, every other operator
    evaluates left then right (the language reference §6)."""
    op: str = ""          # || && | ^ & == != < <= > >= << >> >>> + - * / %
    left: Any = None
    right: Any = None
    op_span: Span = None
    operand_ty: Any = field(default=None, kw_only=True)   # type both operands are brought to (==, !=, String +)


@dataclass(eq=False)
class Assign(Expr):
    """`target op value`; target is a Name, Member or Index.  A compound
    operator evaluates the target's object and index once, before value."""
    op: str = "="         # '=' or a compound operator like '+='
    target: Any = None
    value: Any = None
    op_span: Span = None


@dataclass(eq=False)
class IncDec(Expr):
    """`++x`, `x--` etc. on an int target; `prefix` says whether the value
    is the one after (prefix) or before (postfix) the update."""
    op: str = "++"
    prefix: bool = True
    target: Any = None


@dataclass(eq=False)
class Cond(Expr):
    """`cond ? then : els`; its type is the join of the branches (the
    language reference §3)."""
    cond: Any = None
    then: Any = None
    els: Any = None


@dataclass(eq=False)
class Cast(Expr):
    """`(type) expr`.  `ty` is the target type; the emitter picks a no-op,
    CAST, UNBOXI or UNBOXZ from the operand's and the target's types."""
    type: TypeNode = None
    expr: Any = None


@dataclass(eq=False)
class SwitchExpr(Expr):
    """(1.1) A switch expression: as Switch, with a `default` and arms that
    give a value (`e;`) or throw; its type is the expected type or the join
    of the values (the language reference §5)."""
    selector: Any = None
    arms: list = field(default_factory=list)       # SwitchArm
    kind: Optional[str] = field(default=None, kw_only=True)   # "int" | "String"


@dataclass(eq=False)
class Lambda(Expr):
    """(1.1) A lambda `params -> body` (the language reference §6).  Its
    Params have `type` None when written untyped (`typed` False); `body`
    is an expression or a Block.  `info` is the symbols.LambdaInfo the
    checker made of it: the synthetic function's name, its captured
    variables and its Func type (also `ty`)."""
    params: list = field(default_factory=list)
    typed: bool = False
    body: Any = None
    info: Any = field(default=None, kw_only=True)   # symbols.LambdaInfo


@dataclass(eq=False)
class InstanceOf(Expr):
    """`expr instanceof type`: false for null (the language reference §3)."""
    expr: Any = None
    type: TypeNode = None


@dataclass(eq=False)
class FinalMarker:
    """Parser-internal: the `final` modifier before a declaration (never in
    a finished AST; the declaration's node gets `final=True`)."""
    span: Span = None


@dataclass(eq=False)
class FinallyMarker:
    """Parser-internal wrapper of a `finally` block (never in a finished AST)."""
    block: Any = None
