"""AST of K: dataclasses built by `parser.py`, annotated in place by `checker.py`.

Every node has `span` = (file, line, col, end_line, end_col), 1-based, end
exclusive-inclusive as Lark reports it (end_col is one past the last column).
Annotation fields (DESIGN.md) default to None and are filled by the checker.

Type syntax:   NamedType, ArrayTypeNode, FuncTypeNode        (.resolved: types.Type)
Top level:     Program, ClassDecl, FieldDecl, MethodDecl, CtorDecl,
               FuncDecl, GlobalDecl, Param
Statements:    Block, VarDecl, ExprStmt, EmptyStmt, If, While, DoWhile, For,
               ForEach, Break, Continue, Return, Throw, Try, Catch
Expressions:   IntLit, BoolLit, NullLit, StringLit, Name, This, Super,
               Member, Index, Call, New, NewArray, ArrayLit, Unary, Binary,
               Assign, IncDec, Cond, Cast, InstanceOf
               (all with .ty: types.Type)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

Span = tuple  # (file, line, col, end_line, end_col)


@dataclass(eq=False)
class Node:
    span: Span


# ---------------------------------------------------------------- type syntax

@dataclass(eq=False)
class TypeNode(Node):
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


# ---------------------------------------------------------------- top level

@dataclass(eq=False)
class Program(Node):
    items: list = field(default_factory=list)   # ClassDecl, FuncDecl, MethodDecl (out of class), GlobalDecl, statements
    info: Any = field(default=None, kw_only=True)   # symbols.ProgramInfo


@dataclass(eq=False)
class Param(Node):
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class ClassDecl(Node):
    name: str = ""
    name_span: Span = None
    superclass: Optional[str] = None
    super_span: Span = None
    members: list = field(default_factory=list)   # FieldDecl, MethodDecl, CtorDecl
    info: Any = field(default=None, kw_only=True)   # symbols.ClassInfo


@dataclass(eq=False)
class FieldDecl(Node):
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    init: Any = None
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
    name: str = ""
    name_span: Span = None
    params: list = field(default_factory=list)
    body: Any = None
    info: Any = field(default=None, kw_only=True)   # symbols.MethodInfo (is_ctor)


@dataclass(eq=False)
class FuncDecl(Node):
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
    info: Any = field(default=None, kw_only=True)   # symbols.GlobalInfo


# ---------------------------------------------------------------- statements

@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class Block(Stmt):
    stmts: list = field(default_factory=list)


@dataclass(eq=False)
class VarDecl(Stmt):
    """`T x = e;`, `T x;`, `var x = e;` (type None for var)."""
    type: Optional[TypeNode] = None
    name: str = ""
    name_span: Span = None
    init: Any = None
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Any = None


@dataclass(eq=False)
class EmptyStmt(Stmt):
    pass


@dataclass(eq=False)
class If(Stmt):
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
    type: Optional[TypeNode] = None   # None for var
    name: str = ""
    name_span: Span = None
    iterable: Any = None
    body: Stmt = None
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Return(Stmt):
    value: Any = None


@dataclass(eq=False)
class Throw(Stmt):
    value: Any = None


@dataclass(eq=False)
class Catch(Node):
    type: TypeNode = None
    name: str = ""
    name_span: Span = None
    body: Block = None
    var: Any = field(default=None, kw_only=True)   # symbols.LocalVar


@dataclass(eq=False)
class Try(Stmt):
    body: Block = None
    catches: list = field(default_factory=list)
    finally_: Optional[Block] = None


# ---------------------------------------------------------------- expressions

@dataclass(eq=False)
class Expr(Node):
    ty: Any = field(default=None, kw_only=True)   # types.Type


@dataclass(eq=False)
class IntLit(Expr):
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
    value: bytes = b""


@dataclass(eq=False)
class Name(Expr):
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
    obj: Any = None
    name: str = ""
    name_span: Span = None
    ref: Any = field(default=None, kw_only=True)   # FieldInfo | MethodInfo (bound method) | int (Errno)


@dataclass(eq=False)
class Index(Expr):
    obj: Any = None
    index: Any = None


@dataclass(eq=False)
class Call(Expr):
    callee: Any = None
    args: list = field(default_factory=list)
    kind: Optional[str] = field(default=None, kw_only=True)   # func virtual super native print funcval dynamic super_ctor
    target: Any = field(default=None, kw_only=True)           # FuncInfo | MethodInfo
    receiver: Any = field(default=None, kw_only=True)         # Expr or None (implicit this / static)
    name: Optional[str] = field(default=None, kw_only=True)   # method name (dynamic calls)
    param_types: Optional[list] = field(default=None, kw_only=True)  # types the arguments flow into


@dataclass(eq=False)
class New(Expr):
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
class ArrayLit(Expr):
    elems: list = field(default_factory=list)


@dataclass(eq=False)
class Unary(Expr):
    op: str = ""          # '-', '!', '~'
    operand: Any = None


@dataclass(eq=False)
class Binary(Expr):
    op: str = ""          # || && | ^ & == != < <= > >= << >> >>> + - * / %
    left: Any = None
    right: Any = None
    op_span: Span = None
    operand_ty: Any = field(default=None, kw_only=True)   # type both operands are brought to (==, !=, String +)


@dataclass(eq=False)
class Assign(Expr):
    op: str = "="         # '=' or a compound operator like '+='
    target: Any = None
    value: Any = None
    op_span: Span = None


@dataclass(eq=False)
class IncDec(Expr):
    op: str = "++"
    prefix: bool = True
    target: Any = None


@dataclass(eq=False)
class Cond(Expr):
    cond: Any = None
    then: Any = None
    els: Any = None


@dataclass(eq=False)
class Cast(Expr):
    type: TypeNode = None
    expr: Any = None


@dataclass(eq=False)
class InstanceOf(Expr):
    expr: Any = None
    type: TypeNode = None


@dataclass(eq=False)
class FinallyMarker:
    """Parser-internal wrapper of a `finally` block (never in a finished AST)."""
    block: Any = None
