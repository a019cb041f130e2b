"""The context-threading JIT: K bytecode to native x86-64 code.

    compile_image(image_bytes, profile="userspace", ct="all") -> Stubs

Stubs hold the IR (before and after optimisation), the relocatable object
and the per-function fallbacks.  `link_shared` turns a userspace object into
the shared object build/kvm loads with --jit; `write_kmod` writes the kernel
companion-module directory.  The protocol between stubs and the VM is
ctjit/README.md.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from dataclasses import dataclass, field

from frontend.image import read_image

from . import codegen, target
from .codegen import Options

__all__ = ["Options", "Stubs", "compile_image", "link_shared", "write_kmod"]


class JitError(Exception):
    pass


@dataclass
class Stubs:
    digest: bytes
    ir: str
    optimized_ir: str
    obj: bytes
    compiled: list[bool] = field(default_factory=list)
    fallback: dict[int, str] = field(default_factory=dict)
    profile: str = "userspace"


def compile_image(data: bytes, profile: str = "userspace", ct: str = "all",
                  kernel: str = "6.12", opt_level: int = 2) -> Stubs:
    img = read_image(data)
    digest = bytes(data[16:48])
    opts = Options.parse(ct)
    prof = target.profile(profile, kernel)
    mod = codegen.generate(img, digest, opts, attrs=prof.fn_attrs,
                           module_tail=prof.module_flags)
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


KBUILD = """\
# SPDX-License-Identifier: GPL-2.0
# Companion module of one K image: its JIT stubs ({stem}.o, made by
# `ktc compile --jit --profile kernel`).  Build against konoha.ko's
# Module.symvers:  make -C /lib/modules/$(uname -r)/build M=$PWD \\
#	KBUILD_EXTRA_SYMBOLS=/path/to/konoha/Module.symvers
obj-m := {mod}.o
{mod}-y := {mod}_glue.o {stem}_stubs.o

# The stub object is prebuilt: an if_changed rule writes its .cmd file
# (modpost needs it), and $(cmd_objtool) (scripts/Makefile.build, 6.1 and
# 6.12) runs objtool on it like on any compiled object.
quiet_cmd_copy_stubs = COPY    $@
      cmd_copy_stubs = cp $< $@ $(cmd_objtool)
$(obj)/{stem}_stubs.o: $(src)/{stem}.stubs FORCE
\t$(call if_changed,copy_stubs)
targets += {stem}_stubs.o
"""

GLUE = """\
// SPDX-License-Identifier: GPL-2.0
/*
 * {mod}_glue.c - registers the JIT stubs of image {digest16} with
 * konoha.ko (skeleton: the kernel side completes the registration API).
 */
#include <linux/module.h>

struct kjit_table;
extern const struct kjit_table kjit_table;

int konoha_jit_add(const struct kjit_table *t, struct module *owner);
void konoha_jit_remove(const struct kjit_table *t);

static int __init {mod}_init(void)
{{
\treturn konoha_jit_add(&kjit_table, THIS_MODULE);
}}

static void __exit {mod}_exit(void)
{{
\tkonoha_jit_remove(&kjit_table);
}}

module_init({mod}_init);
module_exit({mod}_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("K JIT stubs for image {digest}");
MODULE_SOFTDEP("pre: konoha");
"""


def write_kmod(stubs: Stubs, directory: str, stem: str) -> pathlib.Path:
    """The companion-module directory of kernel-profile stubs."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    mod = "kjit_" + stubs.digest.hex()[:16]
    (d / f"{stem}.stubs").write_bytes(stubs.obj)
    (d / "Kbuild").write_text(KBUILD.format(stem=stem, mod=mod))
    (d / f"{mod}_glue.c").write_text(GLUE.format(
        mod=mod, digest=stubs.digest.hex(), digest16=stubs.digest.hex()[:16]))
    (d / f"{stem}.ll").write_text(stubs.optimized_ir)
    return d
