"""The device warnings (the language reference §9.1, §9.3, §10), run by
the checker after every body is checked:

- W0901: the `ioctl` method of a `Device` or `CharDevice` subclass compares
  its `cmd` parameter (`==`, `!=`) with a constant expression equal to a
  command number Linux answers itself and never passes to a driver, or
  switches on it with such a label: that branch is dead in the kernel.
  `cmd` is the parameter at its position, whatever the script named it;
  the message names it as declared.
- W0902: a method of such a subclass whose name is one edit (insertion,
  deletion, substitution, swap of neighbours) away from a callback's name
  of that class and is not itself a callback: it would never be called.

A callback declared with another signature is an error already (E0302, an
override with a different signature), so it needs no warning here.

The device base classes are looked up by name, so a class line added to
builtins.def is all a new one needs: its callbacks are its own virtual
methods, and the position of `cmd` is that of the `ioctl` parameter named
by DEVICE_BASES."""

from dataclasses import fields, is_dataclass

from . import ast as A
from .diagnostics import Diagnostic

# Device base class -> index of `cmd` among the `ioctl` parameters
# (`int ioctl(int cmd, int arg)`, `int ioctl(File f, int cmd, int arg)`).
DEVICE_BASES = {"Device": 0, "CharDevice": 1}

# The command numbers do_vfs_ioctl answers on x86-64 before a driver sees
# them (the language reference §9.1); FIONREAD does reach a char driver.
RESERVED_IOCTLS = {
    0x5451: "FIOCLEX",
    0x5450: "FIONCLEX",
    0x5421: "FIONBIO",
    0x5452: "FIOASYNC",
    0x5460: "FIOQSIZE",
    0xC0045877: "FIFREEZE",
    0xC0045878: "FITHAW",
    0xC020660B: "FS_IOC_FIEMAP",
    0x2: "FIGETBSZ",
    0x40049409: "FICLONE",
    0x4020940D: "FICLONERANGE",
    0xC0189436: "FIDEDUPERANGE",
    0x80111500: "FS_IOC_GETFSUUID",        # from Linux 6.8
    0x80811501: "FS_IOC_GETFSSYSFSPATH",   # from Linux 6.8
}


def one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with exactly one insertion, deletion, substitution
    or swap of two neighbouring characters (not when a == b)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def _device_base(ci, by_name):
    """The device base class (ClassInfo) ci extends, or None."""
    bases = {id(by_name[n]): by_name[n] for n in DEVICE_BASES if n in by_name}
    c = ci.superclass
    while c is not None:
        if id(c) in bases:
            return c
        c = c.superclass
    return None


def _callbacks(base):
    """The callback names of a device base class: its virtual methods."""
    return {m.name for m in base.methods.values()
            if m.slot >= 0 and m.kind == "method"}


def _walk(node):
    """Every AST node under node (node included), depth first."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(reversed(n))
            continue
        if not is_dataclass(n) or not isinstance(n, A.Node):
            continue
        yield n
        for f in fields(n):
            if f.name in ("span", "ty", "ref", "target", "info", "receiver",
                          "var", "resolved", "values", "param_types"):
                continue
            v = getattr(n, f.name, None)
            if isinstance(v, (list, A.Node)):
                stack.append(v)


def _ioctl_warnings(checker, decl, cmd_param, base_name):
    """W0901 for the body of `decl`, the `ioctl` method of a device class
    whose command parameter is `cmd_param` (an ast.Param)."""
    out = []
    cmd_var = cmd_param.var
    compared = f"`{cmd_param.name}` compared with"

    def is_cmd(e):
        return isinstance(e, A.Name) and e.ref is cmd_var

    def reserved(e, what):
        v = checker.constant(e)
        # a constant is an int, a bool, bytes or the "not constant" mark
        if isinstance(v, bool) or not isinstance(v, int):
            return
        name = RESERVED_IOCTLS.get(v)
        if name is None:
            return
        out.append(Diagnostic(
            "W0901", f"{what} {name} ({v:#x}), a command number Linux "
            f"answers itself: `{base_name}.ioctl` never sees it", e.span,
            notes=["Linux handles this command in do_vfs_ioctl before the "
                   "driver; choose another number (Ioctl.io, Ioctl.ior, ...)"],
            severity="warning"))

    for n in _walk(decl.body):
        if isinstance(n, A.Binary) and n.op in ("==", "!="):
            if is_cmd(n.left):
                reserved(n.right, compared)
            elif is_cmd(n.right):
                reserved(n.left, compared)
        elif isinstance(n, (A.Switch, A.SwitchExpr)) and is_cmd(n.selector):
            for arm in n.arms:
                for label in arm.labels:
                    reserved(label, "`case` label")
    return out


def device_warnings(checker, program):
    """W0901 and W0902 of every script class extending a device base class
    (`checker` gives the classes and evaluates constant expressions)."""
    by_name = checker.info.class_by_name
    out = []
    for ci in checker.info.classes:
        if ci.builtin:
            continue
        base = _device_base(ci, by_name)
        if base is None:
            continue
        callbacks = _callbacks(base)
        for m in ci.methods.values():
            decl = m.decl
            if decl is None or not isinstance(decl, A.MethodDecl):
                continue
            if m.name not in callbacks:
                near = sorted(c for c in callbacks if one_edit_apart(m.name, c))
                if near:
                    out.append(Diagnostic(
                        "W0902", f"method `{m.name}` of device class `{ci.name}` "
                        f"is one typo away from the callback `{near[0]}`",
                        decl.name_span,
                        notes=[f"it is not a callback of `{base.name}`, so it "
                               f"is never called; rename it `{near[0]}` to "
                               f"override the callback"],
                        severity="warning"))
                continue
            if m.name == "ioctl" and decl.body is not None:
                k = DEVICE_BASES[base.name]
                if k < len(decl.params) and decl.params[k].var is not None:
                    out += _ioctl_warnings(checker, decl, decl.params[k],
                                           base.name)
    return out
