"""Target profiles and object emission with llvmlite (LLVM 22).

userspace   x86-64 SysV, position-independent (linked into a shared object
            that build/kvm dlopens); handlers bind to the VM's exported
            kop_* symbols.
kernel      what objtool and the module loader accept on 6.1 and 6.12
            (a module cannot map executable memory there, so the stubs
            are an object linked into a companion module): code model
            kernel, static relocations (every external dso_local: the
            loader rejects GOT relocations), nounwind noredzone
            noimplicitfloat, no MMX/SSE/x87 (+soft-float), retpolines
            without jump tables, return thunks (fn_ret_thunk_extern), SLS
            hardening, and with kernel="6.12" also the cf-protection-branch
            module flag (IBT: endbr64) and 16 bytes of
            patchable-function-prefix (call-depth tracking).
"""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite
import llvmlite.binding as llvm

TRIPLE = "x86_64-unknown-linux-gnu"

# The code generation below relies on LLVM 22's attribute names and
# feature strings: pin the llvmlite line that bundles it.
LLVMLITE_PINNED = "0.50"

# No FPU/vector state (it is the user task's), and the kernel's
# mitigations for indirect branches and returns.
_KERNEL_FEATURES = ",".join([
    "-mmx", "-sse", "-sse2", "-sse3", "-ssse3", "-sse4.1", "-sse4.2",
    "-avx", "-avx2", "-avx512f", "-x87", "+soft-float",
    "+retpoline-indirect-calls", "+retpoline-indirect-branches",
    "+retpoline-external-thunk", "+harden-sls-ret", "+harden-sls-ijmp",
])


@dataclass(frozen=True)
class Profile:
    """How to generate code for one home: `fn_attrs` is attribute group #0
    of every stub, `module_flags` is appended to the module text as is."""
    name: str
    reloc: str
    codemodel: str
    features: str
    fn_attrs: str
    module_flags: str = ""
    kernel: str = ""


def profile(name: str, kernel: str = "6.12") -> Profile:
    """The profile called `name` ("userspace" or "user", "kernel"); for
    the kernel, `kernel` is the line (ctjit.kernel_line).  ValueError for
    an unknown name."""
    if name in ("user", "userspace"):
        return Profile("userspace", "pic", "default", "",
                       'nounwind "frame-pointer"="none"')
    if name == "kernel":
        attrs = ['nounwind', 'noredzone', 'noimplicitfloat',
                 'fn_ret_thunk_extern', '"no-jump-tables"="true"',
                 '"frame-pointer"="none"',
                 f'"target-features"="{_KERNEL_FEATURES}"',
                 '"indirect-tls-seg-refs"']
        flags = []
        # a string comparison: fine for the two lines kernel_line yields
        if kernel >= "6.12":
            attrs.append('"patchable-function-prefix"="16"')
            flags = ['!llvm.module.flags = !{!10}',
                     '!10 = !{i32 8, !"cf-protection-branch", i32 1}']
        return Profile("kernel", "static", "kernel", _KERNEL_FEATURES,
                       " ".join(attrs), "\n".join(flags), kernel)
    raise ValueError(f"unknown JIT profile `{name}` (userspace or kernel)")


_initialized = False


def _init():
    global _initialized
    if _initialized:
        return
    # llvmlite 0.50 initialises the core by itself; the target and
    # printers still need registering (initialize() is deprecated there).
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    _initialized = True


def check_llvmlite():
    if not llvmlite.__version__.startswith(LLVMLITE_PINNED):
        raise RuntimeError(f"ctjit needs llvmlite {LLVMLITE_PINNED}.x, "
                           f"found {llvmlite.__version__}")


def target_machine(prof: Profile):
    """A baseline x86-64 target machine with the profile's settings."""
    _init()
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(
        cpu="x86-64", features=prof.features, opt=2, reloc=prof.reloc,
        codemodel=prof.codemodel)


def optimize(mod, tm, level: int = 2):
    """Runs LLVM's default module pipeline at -O`level` on `mod`, in place."""
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    mpm.run(mod, pb)


def emit_object(ir_text: str, prof: Profile, level: int = 2):
    """(optimised IR text, object bytes) of a module; the IR is verified
    first, so a lowering bug fails here rather than as wrong code."""
    check_llvmlite()
    tm = target_machine(prof)
    mod = llvm.parse_assembly(ir_text)
    mod.triple = TRIPLE
    mod.data_layout = str(tm.target_data)
    mod.verify()
    if level:
        optimize(mod, tm, level)
    return str(mod), tm.emit_object(mod)


def emit_assembly(ir_text: str, prof: Profile, level: int = 2) -> str:
    tm = target_machine(prof)
    mod = llvm.parse_assembly(ir_text)
    mod.triple = TRIPLE
    mod.data_layout = str(tm.target_data)
    if level:
        optimize(mod, tm, level)
    return tm.emit_assembly(mod)
