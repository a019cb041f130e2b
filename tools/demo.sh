#!/usr/bin/env bash
# `make demo`: a K driver in a real kernel under QEMU (tools/kdemo.py:
# konoha.ko, examples/hello_device.k used with cat/echo/dd, a bad image, a
# faulting callback, unload). Without an installed test kernel, or with
# `tools/demo.sh --userspace`, the userspace demo below runs instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if command -v ktc >/dev/null 2>&1; then
	ktc=(ktc)
else
	ktc=("$PYTHON" -m ktc.cli)
fi
if [ "${1:-}" != --userspace ] && [ -n "$(bash tools/kernels.sh list 2>/dev/null)" ]; then
	exec "$PYTHON" tools/kdemo.py
fi
echo "(no test kernel installed: the userspace demo; make kernel-setup for the kernel one)"

script=examples/hello.k
image=build/demo/hello.kbc

step() { printf '\n==> %s\n' "$*"; }

step "1. the script: $script"
cat "$script"

step "2. check it: ktc check $script"
"${ktc[@]}" check "$script"
echo "no errors"

step "3. compile it to a bytecode image: ktc compile $script -o $image"
mkdir -p "$(dirname "$image")"
"${ktc[@]}" compile "$script" -o "$image"
ls -l "$image"

step "4. run the image in the userspace VM: build/kvm $image"
build/kvm "$image"

step "5. or compile and run in one step: ktc run $script"
"${ktc[@]}" run "$script"

step "done"
