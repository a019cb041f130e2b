"""The context-threading JIT: K bytecode to native x86-64 code.

    compile_image(image_bytes, profile="userspace", ct="all") -> Stubs

Stubs hold the IR (before and after optimisation), the relocatable object
and the per-function fallbacks.  `link_shared` turns a userspace object into
the shared object build/kvm loads with --jit; `write_kmod` writes the kernel
companion-module directory, which ktc/kmod.py builds against an installed
kernel.  The protocol between stubs and the VM is ctjit/README.md.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from frontend.image import read_image

from . import codegen, target
from .codegen import Options

__all__ = ["JitError", "Options", "Stubs", "compile_image", "kernel_line",
           "link_shared", "module_name", "write_kmod", "write_kmod_batch"]


class JitError(Exception):
    """A companion module or shared object that cannot be made; the
    message is for the user, as is."""


@dataclass
class Stubs:
    """The JIT's output for one image.  `digest` binds the stubs to it
    (the VM refuses them for any other image); `compiled[i]` says whether
    function i has a stub, `fallback[i]` why not (it then runs in the
    interpreter)."""
    digest: bytes
    ir: str
    optimized_ir: str
    obj: bytes
    compiled: list[bool] = field(default_factory=list)
    fallback: dict[int, str] = field(default_factory=dict)
    profile: str = "userspace"


def compile_image(data: bytes, profile: str = "userspace", ct: str = "all",
                  kernel: str = "6.12", opt_level: int = 2) -> Stubs:
    """The stubs of an image's bytes.  `profile` is userspace or kernel
    (for the kernel line `kernel`), `ct` the techniques (Options.parse).
    ImageError for bytes that are not an image, ValueError for an
    unknown profile or technique.  The image is not verified here: the
    VM verifies it at load, and refuses stubs whose digest differs."""
    img = read_image(data)
    digest = bytes(data[16:48])
    opts = Options.parse(ct)
    prof = target.profile(profile, kernel)
    stack = (codegen.L["DIRECT_STACK_KERNEL"] if prof.name == "kernel"
             else codegen.L["DIRECT_STACK_USER"])
    mod = codegen.generate(img, digest, opts, attrs=prof.fn_attrs,
                           module_tail=prof.module_flags,
                           direct_stack=stack)
    optimized, obj = target.emit_object(mod.text, prof, opt_level)
    return Stubs(digest, mod.text, optimized, obj, mod.compiled,
                 mod.fallback, prof.name)


def link_shared(obj_path: str, so_path: str, cc: str = "cc") -> None:
    """Links a userspace stub object into a shared object (its kop_*
    references bind to the VM executable when it dlopens it)."""
    r = subprocess.run([cc, "-shared", "-nostdlib", "-o", so_path, obj_path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise JitError(f"linking {so_path} failed: {r.stderr.strip()}")


# The companion module's Kbuild and glue are real files under lkm/kernel/
# (`make kernel-lint` runs checkpatch on a rendered glue), with @NAME@
# placeholders: MOD (module name), COUNT (images), OBJS (stub objects),
# LISTING, EXTERNS, ENTRIES (per-image comment lines, declarations and
# table entries) and DESC (MODULE_DESCRIPTION's subject).
COMPANION_TEMPLATES = (pathlib.Path(__file__).resolve().parent.parent /
                       "lkm" / "kernel" / "companion")


def _render(template: str, values: dict[str, object]) -> str:
    """A companion template with every @NAME@ replaced; a placeholder
    without a value is a mismatch between ctjit and the template."""
    try:
        text = (COMPANION_TEMPLATES / template).read_text()
    except OSError as e:
        raise JitError(f"cannot read the companion template {template}: "
                       f"{e.strerror}") from None

    def value(m: re.Match) -> str:
        if m.group(1) not in values:
            raise JitError(f"{template}: no value for @{m.group(1)}@")
        return str(values[m.group(1)])
    return re.sub(r"@([A-Z]+)@", value, text)


def companion_glue(mod: str, images: list[tuple[str, bytes]]) -> str:
    """The C glue of companion module `mod`, registering the stub table of
    each (stem, digest) image with konoha.ko."""
    listing = "".join(f" *   {st}: image {digest.hex()}\n"
                      for st, digest in images)
    externs = "".join(f"extern const struct kjit_table kjit_table_{s};\n"
                      for s, _ in images)
    entries = "".join(f"\t&kjit_table_{s},\n" for s, _ in images)
    desc = (f"image {images[0][1].hex()}" if len(images) == 1
            else f"{len(images)} images")
    return _render("glue.c.in", dict(MOD=mod, COUNT=len(images),
                                     LISTING=listing, EXTERNS=externs,
                                     ENTRIES=entries, DESC=desc))


def module_name(stubs: Stubs) -> str:
    """The companion module of one image: kjit_ and its digest's start."""
    return "kjit_" + stubs.digest.hex()[:16]


def _c_ident(stem: str) -> str:
    """A file stem made a C identifier: the Kbuild renames each object's
    kjit_table to kjit_table_<stem>, which the glue declares."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return out if out and not out[0].isdigit() else "s" + out


def write_kmod(stubs: Stubs, directory: str, stem: str) -> pathlib.Path:
    """The companion-module directory of kernel-profile stubs."""
    return write_kmod_batch([(stubs, stem)], directory, module_name(stubs))


def write_kmod_batch(items: list[tuple[Stubs, str]], directory: str,
                     mod: str) -> pathlib.Path:
    """One companion module `mod` carrying the stubs of several images
    (each registered under its own digest); stems must be unique."""
    d = pathlib.Path(directory)
    stems = [_c_ident(stem) for _, stem in items]
    if len(set(stems)) != len(stems):
        raise JitError("write_kmod_batch: stems are not unique")
    if d.exists():
        # a previous companion directory (perhaps of another image, so
        # another module name): start afresh, leaving no stale module
        kbuild = d / "Kbuild"
        if not (d.is_dir() and kbuild.is_file() and
                "# Companion module of" in kbuild.read_text(errors="replace")):
            raise JitError(f"{d} exists and is not a companion-module "
                           f"directory: not overwriting it")
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for (stubs, _), stem in zip(items, stems):
        if stubs.profile != "kernel":
            raise JitError(f"{stem}: stubs of profile {stubs.profile}, "
                           f"not kernel")
        (d / f"{stem}.stubs").write_bytes(stubs.obj)
        (d / f"{stem}.ll").write_text(stubs.optimized_ir)
    objs = " ".join(f"{s}_stubs.o" for s in stems)
    (d / "Kbuild").write_text(_render("Kbuild.in", dict(
        MOD=mod, OBJS=objs, COUNT=len(items))))
    (d / f"{mod}_glue.c").write_text(companion_glue(
        mod, [(st, stubs.digest) for (stubs, _), st in zip(items, stems)]))
    return d


def kernel_line(release: str) -> str:
    """The kernel profile line ("6.1" or "6.12") of a kernel release:
    6.12 and later need IBT and call padding."""
    m = re.match(r"(\d+)\.(\d+)", release)
    if not m:
        raise JitError(f"cannot tell the version of kernel `{release}`")
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) < (6, 1):
        raise JitError(f"kernel {release}: the kernel profile supports "
                       f"Linux 6.1 and later")
    return "6.12" if (major, minor) >= (6, 12) else "6.1"
