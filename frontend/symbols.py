"""Symbols of a checked K program: what names denote, and class layouts.

The checker creates these and hangs them on the AST (frontend/DESIGN.md); the emitter
reads them.  All are plain mutable objects compared by identity.
"""
from __future__ import annotations

from . import types as T


class LocalVar:
    """A local variable, parameter, for-each variable or catch parameter of
    one function (a distinct object per declaration).  `index` numbers the
    locals of their function (parameters first, `this` not counted).

    (1.1) `final`: declared `final`.  `has_init`: starts assigned (an
    initialiser, or a parameter, for-each or catch variable).
    `effectively_final` (JLS 4.12.4, the language reference §5): not
    declared final, never the operand of `++`, `--` or a compound
    assignment, and never assigned when it has an initialiser, or
    otherwise assigned only where it is definitely unassigned.  The checker
    clears it as it meets such an assignment, so it is final once the
    function has been checked (lambdas capture only final or effectively
    final variables).  An assignment inside a loop to a variable declared
    outside it counts as one where the variable may already be assigned."""

    __slots__ = ("name", "type", "span", "is_param", "index", "final",
                 "has_init", "effectively_final")

    def __init__(self, name, type, span, is_param=False, index=0, final=False,
                 has_init=False):
        self.name = name
        self.type = type
        self.span = span
        self.is_param = is_param
        self.index = index
        self.final = final
        self.has_init = has_init or is_param
        self.effectively_final = not final

    def __repr__(self):
        return f"LocalVar({self.name}: {self.type})"


class FieldInfo:
    """A field of a class.  `index` is absolute (inherited fields first,
    built-in hidden fields such as `$message` included); `hidden` fields
    are never visible by name.  `decl` is the FieldDecl (None if built-in).
    (1.1) `final`: a final field; a blank final when its decl has no
    initialiser (assigned once by its class's constructor, §4)."""

    __slots__ = ("name", "type", "index", "owner", "decl", "hidden", "final")

    def __init__(self, name, type, index, owner, decl=None, hidden=False, final=False):
        self.name = name
        self.type = type
        self.index = index
        self.owner = owner
        self.decl = decl
        self.hidden = hidden
        self.final = final

    @property
    def blank_final(self):
        return self.final and self.decl is not None and self.decl.init is None

    def __repr__(self):
        return f"FieldInfo({self.owner.name}.{self.name}#{self.index}: {self.type})"


class MethodInfo:
    """A method, constructor or native of a class (or of the pseudo-owners
    `Array`, `Math`, `System`).

    - `owner`: the ClassInfo that declares it (None for Math/System/Array
      natives; `owner_name` always holds the owner's name).
    - `ret`, `params`: types; for Array natives they may contain the
      placeholder `TypeVar` T, substituted per call (Call.param_types).
    - `param_names`, `param_vars`: names and LocalVars of the parameters
      (`param_vars` also for implicit constructors, so the emitter can
      generate their bodies).
    - `slot`: vtable slot for virtual methods, else -1.
    - `native_id`: id of the native (builtins.def) or None for script code.
    - `kind`: 'method', 'static', 'ctor'.
    - `decl`: the MethodDecl / CtorDecl, or None (built-in or implicit).
    - `implicit`: an implicit constructor that passes its parameters on to
      `super_ctor` (the superclass constructor).
    - `super_ctor`: for constructors, the superclass constructor called
      (explicitly by `super(...)` or implicitly), None for Object's.
    - `func_index`: index among the script functions (set by the checker
      for script methods and constructors, in ProgramInfo.code_units).
    - `locals`: every LocalVar of the body, parameters first."""

    __slots__ = ("name", "owner", "owner_name", "ret", "params", "param_names",
                 "param_vars", "slot", "native_id", "kind", "decl",
                 "implicit", "super_ctor", "func_index", "locals")

    def __init__(self, name, owner, ret, params, kind="method", slot=-1,
                 native_id=None, decl=None, param_names=None, owner_name=None):
        self.name = name
        self.owner = owner
        self.owner_name = owner_name or (owner.name if owner else "")
        self.ret = ret
        self.params = list(params)
        self.param_names = param_names or [f"a{i}" for i in range(len(params))]
        self.param_vars = []
        self.slot = slot
        self.native_id = native_id
        self.kind = kind
        self.decl = decl
        self.implicit = False
        self.super_ctor = None
        self.func_index = None
        self.locals = []

    @property
    def is_ctor(self):
        return self.kind == "ctor"

    @property
    def is_native(self):
        return self.native_id is not None

    @property
    def qualname(self):
        return f"{self.owner_name}.{self.name}"

    def func_type(self):
        return T.FuncType(self.ret, self.params)

    def __repr__(self):
        return f"MethodInfo({self.qualname} slot={self.slot} native={self.native_id})"


class FuncInfo:
    """A top-level function (script, or the native `print`).  `index`:
    position among script functions in declaration order; `locals`: every
    LocalVar of its body (parameters first); `func_index`: its place in
    ProgramInfo.code_units, hence its function index in the image."""

    __slots__ = ("name", "ret", "params", "param_names", "decl", "index",
                 "native_id", "locals", "func_index", "param_vars")

    def __init__(self, name, ret, params, decl=None, index=None, native_id=None,
                 param_names=None):
        self.name = name
        self.ret = ret
        self.params = list(params)
        self.param_names = param_names or []
        self.decl = decl
        self.index = index
        self.native_id = native_id
        self.locals = []
        self.func_index = None
        self.param_vars = []

    def func_type(self):
        return T.FuncType(self.ret, self.params)

    def __repr__(self):
        return f"FuncInfo({self.name})"


class LambdaInfo:
    """(1.1) A lambda (the language reference §6), compiled to a synthetic
    function of the image (flag KFN_LAMBDA) whose leading parameters are
    the captured values, then the Func type's own.

    - `name`: its trace name, `NAME.lambda@LINE` after the frame it is
      written in (§7); `line`: where it begins.
    - `type`: the Func type it was created for (its run-time type);
      `ret`, `params`: that type's result and parameter types.
    - `this_type`: the ClassType of the captured `this` (the first
      captured value), or None outside methods, constructors and field
      initialisers.
    - `captures`: the LocalVars of enclosing functions and lambdas it
      uses, in order of first use (a nested lambda's included), each
      copied into it when it is evaluated.
    - `param_vars`, `locals`: its own LocalVars (parameters first);
      `decl`: the ast.Lambda; `func_index`: its function index."""

    __slots__ = ("name", "line", "type", "ret", "params", "this_type",
                 "captures", "param_vars", "locals", "decl", "func_index")

    def __init__(self, name, line, type, decl):
        self.name = name
        self.line = line
        self.type = type
        self.ret = type.ret if isinstance(type, T.FuncType) else T.ERROR
        self.params = list(type.params) if isinstance(type, T.FuncType) else []
        self.this_type = None
        self.captures = []
        self.param_vars = []
        self.locals = []
        self.decl = decl
        self.func_index = None

    def func_type(self):
        """The synthetic function's own signature: captured values first."""
        lead = ([self.this_type] if self.this_type is not None else []) + \
            [v.type for v in self.captures]
        return T.FuncType(self.ret, lead + self.params)

    def __repr__(self):
        return f"LambdaInfo({self.name})"


class GlobalInfo:
    """A global variable; `index` in declaration order.  (1.1) `final`: a
    final global; `is_const`: a constant global (int, boolean or String
    with a constant initialiser, the language reference §2), whose value
    `const_value` (int, bool, or bytes) it holds from the start of the init.
    `const_state` is the checker's: None, "busy" while its initialiser is
    being evaluated (a cycle), "done"."""

    __slots__ = ("name", "type", "index", "decl", "final", "is_const",
                 "const_value", "const_state")

    def __init__(self, name, type, index, decl=None, final=False):
        self.name = name
        self.type = type
        self.index = index
        self.decl = decl
        self.final = final
        self.is_const = False
        self.const_value = None
        self.const_state = None

    def __repr__(self):
        return f"GlobalInfo({self.name}#{self.index}: {self.type})"


class ClassInfo:
    """A class.  `id`: built-in id (builtins.def) or 32+i for the i-th script
    class in declaration order.  `fields`: every field with absolute index
    (inherited first); `own_fields`: those this class adds.  `methods`:
    methods declared by this class, by name (not constructors).  `vtable`:
    MethodInfo per slot (inherited slots kept, overrides in place, new
    methods appended).  `ctor`: the constructor MethodInfo (None when
    scripts cannot instantiate, e.g. String).  `extendable`: scripts may
    extend it (the language reference §4; every script class is)."""

    __slots__ = ("name", "id", "superclass", "builtin", "decl", "fields",
                 "own_fields", "methods", "vtable", "ctor", "extendable",
                 "span", "statics", "_field_map", "interfaces")

    def __init__(self, name, id, superclass=None, builtin=False, decl=None):
        self.name = name
        self.id = id
        self.superclass = superclass
        self.builtin = builtin
        self.decl = decl
        self.fields = []
        self.own_fields = []
        self.methods = {}
        self.vtable = []
        self.ctor = None
        self.extendable = False
        self.span = None
        self.statics = {}        # name -> MethodInfo (String.fromChar, Device.register)
        self._field_map = None
        self.interfaces = []     # (1.1) InterfaceInfos of its `implements`

    @property
    def type(self):
        return T.ClassType(self)

    def lookup_field(self, name):
        """The visible field `name` of this class or an ancestor, or None."""
        c = self
        while c is not None:
            for f in c.own_fields:
                if f.name == name and not f.hidden:
                    return f
            c = c.superclass
        return None

    def lookup_method(self, name):
        """The method `name` of this class or the nearest ancestor, or None."""
        c = self
        while c is not None:
            m = c.methods.get(name)
            if m is not None:
                return m
            c = c.superclass
        return None

    def is_subclass_of(self, other):
        return T.is_subclass(self, other)

    def __repr__(self):
        return f"ClassInfo({self.name}#{self.id})"


class IfaceMethod(MethodInfo):
    """(1.1) A method signature of an interface: `iface` is the
    InterfaceInfo that declares it and `slot` its index among that
    interface's own methods (the operand of CALLI and BINDI)."""

    __slots__ = ("iface",)

    def __init__(self, name, iface, ret, params, index, decl=None, param_names=None):
        super().__init__(name, None, ret, params, kind="iface", slot=index,
                         decl=decl, param_names=param_names, owner_name=iface.name)
        self.iface = iface


class InterfaceInfo:
    """(1.1) An interface (the language reference §4).  `index`: its place
    in the image's interfaces section, a topological order (an interface
    after those it extends).  `extends`: the InterfaceInfos it names;
    `own`: its own IfaceMethods by name, in declaration order; `methods`:
    its method set (own and inherited) by name, one IfaceMethod per
    signature reached."""

    __slots__ = ("name", "decl", "span", "index", "extends", "own", "methods")

    def __init__(self, name, decl=None):
        self.name = name
        self.decl = decl
        self.span = decl.name_span if decl is not None else None
        self.index = 0
        self.extends = []
        self.own = {}
        self.methods = {}

    @property
    def type(self):
        return T.InterfaceType(self)

    def supers(self):
        """Itself and every interface it extends, directly or not."""
        out, todo = [], [self]
        while todo:
            i = todo.pop()
            if any(i is o for o in out):
                continue
            out.append(i)
            todo.extend(i.extends)
        return out

    def __repr__(self):
        return f"InterfaceInfo({self.name})"


class ProgramInfo:
    """Everything the checker learned about a program.

    - `classes`: all ClassInfos by id order (built-ins first, then script
      classes 32+i); `script_classes`: script classes in declaration order.
    - `class_by_name`: name -> ClassInfo.
    - `functions`: script FuncInfos in declaration order.
    - `globals`: GlobalInfos in declaration order.
    - `natives`: builtins.Native entries by native id.
    - `init_locals`: LocalVars of the init (top-level statements).
    - `code_units`: every script function body the emitter compiles, in a
      fixed order: FuncInfo for functions, MethodInfo for script methods and
      constructors (implicit ones included); each has `.func_index`.
    - (1.1) `lambdas`: a LambdaInfo per lambda, in the order the checker
      met them; their functions follow the init in the image."""

    def __init__(self):
        self.classes = []
        self.script_classes = []
        self.class_by_name = {}
        self.functions = []
        self.globals = []
        self.natives = []
        self.init_locals = []
        self.code_units = []
        self.lambdas = []      # (1.1) LambdaInfo per lambda
        self.interfaces = []   # (1.1) InterfaceInfos by image index
        self.top = {}          # top-level namespace: name -> symbol
