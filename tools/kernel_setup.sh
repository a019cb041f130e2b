#!/usr/bin/env bash
# Set up this machine for the kernel side of K: Debian's two kernel lines
# (6.1 = linux-image-amd64, 6.12 = linux-image-6.12-amd64 on Debian 12) with
# their headers, QEMU to boot them, and what the test initramfs is made of
# (busybox-static, cpio, kmod; gcc and libc6-dev for the static guest tools).
#
# Idempotent: apt-get runs only when a package is missing. Called by
# `make kernel-setup` (and `make setup`), which keep a stamp file so a second
# run costs nothing. At the end it prints the kernels it found, looked up
# from /boot and /usr/src: nothing here names a patch release.
set -euo pipefail

DEB_PACKAGES=(
	linux-image-amd64
	linux-headers-amd64
	linux-image-6.12-amd64
	linux-headers-6.12-amd64
	qemu-system-x86
	busybox-static
	cpio
	kmod
	xz-utils
	zstd
	gcc
	make
	libc6-dev
	libelf-dev
	python3
)

. "$(dirname "$0")/debpkg.sh"
mapfile -t missing < <(deb_missing "${DEB_PACKAGES[@]}")

if [ ${#missing[@]} -gt 0 ]; then
	echo "==> kernel set-up: installing Debian packages: ${missing[*]}"
	echo "    (kernel images and headers are large: this takes a few minutes)"
	export DEBIAN_FRONTEND=noninteractive
	# The tests boot the kernels with their own busybox initramfs: the
	# distribution's initrd is never used, so do not spend time building
	# one per kernel (the initramfs-tools kernel hook honours INITRD=No).
	export INITRD=No
	# Wait for the dpkg lock rather than fail: `make -j setup` runs
	# tools/setup.sh beside this script.
	apt_lock=(-o DPkg::Lock::Timeout=600)
	"${SUDO[@]}" apt-get "${apt_lock[@]}" update -q
	"${SUDO[@]}" env INITRD=No DEBIAN_FRONTEND=noninteractive \
		apt-get "${apt_lock[@]}" install -y -q --no-install-recommends "${missing[@]}"
else
	echo "==> kernel set-up: Debian packages already installed"
fi

# Report what is there: each kernel line needs an image and a header tree.
# The same discovery is done by tools/kernels.sh for the Makefile.
here=$(cd "$(dirname "$0")" && pwd)
found=0
for line in 6.1 6.12; do
	release=$("$here/kernels.sh" release "$line" || true)
	if [ -z "$release" ]; then
		echo "error: no complete $line kernel (image in /boot and headers in /usr/src)" >&2
		exit 1
	fi
	echo "==> kernel $line: /boot/vmlinuz-$release, headers $("$here/kernels.sh" headers "$release")"
	found=$((found + 1))
done

# The images are read by QEMU, not by a boot loader: they must be readable
# by the user who runs the tests (Debian installs them 0600 root).
for release in $("$here/kernels.sh" list); do
	if [ ! -r "/boot/vmlinuz-$release" ]; then
		"${SUDO[@]}" chmod a+r "/boot/vmlinuz-$release"
	fi
done

# checkpatch.pl for `make kernel-lint` and the glue's style test.
"$here/fetch_checkpatch.sh" "${BUILD:-build}/kernel/checkpatch"

if [ -e /dev/kvm ]; then
	echo "==> /dev/kvm exists; the tests probe it and fall back to TCG when it does not work"
else
	echo "==> no /dev/kvm: QEMU runs with software emulation (TCG)"
fi
echo "==> kernel set-up done ($found kernel lines)"
