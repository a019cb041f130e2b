#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for building and testing K: the Debian
# packages the VM build, the fuzzer and the benchmark peers need, then ktc
# itself (editable) with its pinned Python dependencies.
# Idempotent: apt-get runs only when a package is missing. Called by
# `make setup`, which keeps a stamp file so a second run costs nothing.
set -euo pipefail

PYTHON=${PYTHON:-python3}

# libclang-rt-dev pulls in the clang runtime of Debian's default clang
# (libclang-rt-14-dev on Debian 12): libFuzzer and the sanitizer runtimes.
# llvm provides llvm-symbolizer for readable sanitizer reports.
DEB_PACKAGES=(
	build-essential
	clang
	llvm
	libclang-rt-dev
	python3-pip
	lua5.4
	luajit
	ruby
	perl
)

. "$(dirname "$0")/debpkg.sh"
mapfile -t missing < <(deb_missing "${DEB_PACKAGES[@]}")

if [ ${#missing[@]} -gt 0 ]; then
	echo "==> installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -q
	"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "==> Debian packages already installed"
fi

# A Python whose stdlib is marked externally managed (Debian's own python3)
# refuses pip installs without this flag; pyenv's and venvs' Pythons do not.
pip_flags=()
if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)' \
	&& [ -z "${VIRTUAL_ENV:-}" ]; then
	pip_flags+=(--break-system-packages)
fi

echo "==> installing ktc (pip install -e .) with $("$PYTHON" --version 2>&1)"
"$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore "${pip_flags[@]}" -e .

# pyenv serves console scripts through shims; make `ktc` visible at once.
if command -v pyenv >/dev/null 2>&1; then
	pyenv rehash || true
fi

echo "==> setup done"
