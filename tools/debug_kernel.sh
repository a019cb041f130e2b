#!/usr/bin/env bash
# Build the debug kernel the kernel suites can run on (`make test-debug`):
# Debian's own 6.1 source (the linux-source-6.1 package) with KASAN (generic,
# inline), UBSAN (bounds, shift), lockdep (PROVE_LOCKING), DEBUG_ATOMIC_SLEEP,
# KFENCE and DEBUG_LIST, on a small config that boots under QEMU with the test
# harness's busybox initramfs.
#
#   debug_kernel.sh            build it, or say it is up to date
#   debug_kernel.sh release    print the release of the finished kernel
#                              (exit 1 when there is none)
#
# Everything lives under build/debug-kernel/ (BUILD/debug-kernel):
#   linux-source-*.deb   the downloaded package, kept so a rebuild does not
#                        fetch it again
#   src/                 the unpacked tree, configured and built in place; it
#                        is the KDIR out-of-tree modules are built against
#   modroot/             its modules installed, for modules.dep
#   stamp                written last: the hash of the source and config
#                        the finished kernel was built from
#   release              the kernel release (e.g. 6.1.150-kdebug)
#   build.log            the make output of the last build
#
# A second run with the same source and config does nothing. Two runs never
# build at once: the second waits for the first (flock). The first build
# takes 20 to 40 minutes on two cores; it runs under `nice`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
dest="$build/debug-kernel"
src="$dest/src"
jobs=${DEBUG_KERNEL_JOBS:-2}
NICE=(nice -n "${DEBUG_KERNEL_NICE:-15}")

# The options the debug kernel exists for, merged over `make defconfig` and
# `make kvm_guest.config`. The tail makes the build smaller: the guest has
# no disks, network cards, graphics, sound or USB.
read -r -d '' FRAGMENT <<'EOF' || true
CONFIG_LOCALVERSION="-kdebug"
# CONFIG_LOCALVERSION_AUTO is not set
# CONFIG_WERROR is not set
CONFIG_DEBUG_KERNEL=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
# CONFIG_KASAN_OUTLINE is not set
CONFIG_UBSAN=y
CONFIG_UBSAN_BOUNDS=y
CONFIG_UBSAN_SHIFT=y
# CONFIG_UBSAN_TRAP is not set
CONFIG_PROVE_LOCKING=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_KFENCE=y
CONFIG_DEBUG_LIST=y
CONFIG_VMAP_STACK=y
# Debian 6.1 has SLS hardening: ctjit's 6.1 profile emits code for it.
CONFIG_SLS=y
CONFIG_KALLSYMS=y
CONFIG_KALLSYMS_ALL=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
# CONFIG_MODULE_SIG is not set
# CONFIG_MODVERSIONS is not set
CONFIG_DEBUG_INFO_NONE=y
# CONFIG_DEBUG_INFO_BTF is not set
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_TMPFS=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_RD_XZ=y
CONFIG_RD_ZSTD=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_PVH=y
CONFIG_ACPI=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_VFAT_FS=y
CONFIG_MSDOS_FS=y
# With a preemptible kernel, lockdep brings in TASKS_RCU, whose boot-time
# self-test (run under PROVE_LOCKING) hangs about one boot in two on one
# emulated CPU. Debian's kernels run the voluntary model by default
# (PREEMPT_DYNAMIC): build that model alone, which is not PREEMPTION.
CONFIG_PREEMPT_VOLUNTARY=y
# CONFIG_PREEMPT_DYNAMIC is not set
# CONFIG_KPROBES is not set
# CONFIG_FTRACE is not set
# CONFIG_DRM is not set
# CONFIG_AGP is not set
# CONFIG_SOUND is not set
# CONFIG_USB_SUPPORT is not set
# CONFIG_WLAN is not set
# CONFIG_WIRELESS is not set
# CONFIG_CFG80211 is not set
# CONFIG_ETHERNET is not set
# CONFIG_NETFILTER is not set
# CONFIG_ATA is not set
# CONFIG_MD is not set
# CONFIG_NFS_FS is not set
# CONFIG_SECURITY_SELINUX is not set
# CONFIG_AUDIT is not set
# CONFIG_HIBERNATION is not set
# CONFIG_SUSPEND is not set
# CONFIG_MACINTOSH_DRIVERS is not set
# CONFIG_FB is not set
EOF

# What the build must end with: merge_config.sh drops an option whose
# dependencies are missing, and that must not pass quietly.
REQUIRED=(KASAN KASAN_GENERIC KASAN_INLINE UBSAN UBSAN_BOUNDS UBSAN_SHIFT
	PROVE_LOCKING DEBUG_ATOMIC_SLEEP KFENCE DEBUG_LIST MODULES MODULE_UNLOAD
	DEVTMPFS DEVTMPFS_MOUNT BLK_DEV_INITRD SERIAL_8250_CONSOLE PVH VFAT_FS SLS)

# Bump when the way the tree is built changes, so caches are rebuilt.
RECIPE=1

stamp_ok() {
	[ -f "$dest/stamp" ] && [ -f "$dest/release" ] &&
		[ -f "$src/vmlinux" ] && [ -f "$src/arch/x86/boot/bzImage" ] &&
		[ -f "$src/Module.symvers" ] &&
		[ "$(cat "$dest/stamp")" = "$1" ]
}

# Tools that build modules for a release (tools/kernels.sh, so
# tools/build_kmod.sh; ctjit, so `ktc load --jit --kernel-release`) find its
# Kbuild tree as /lib/modules/RELEASE/build, as for an installed kernel:
# point that at the tree here. The kernel is not in /boot, so nothing lists
# it among the installed kernels.
link_tree() {
	local release link
	release=$(cat "$dest/release")
	link="/lib/modules/$release/build"
	if [ "$(readlink "$link" 2>/dev/null)" = "$src" ]; then
		return 0
	fi
	if mkdir -p "/lib/modules/$release" 2>/dev/null && ln -sfn "$src" "$link" 2>/dev/null; then
		echo "==> debug kernel: $link -> $src"
	else
		echo "warning: cannot link $link to $src (not root?):" \
			"modules cannot be built for $release" >&2
	fi
}

if [ "${1:-}" = release ]; then
	if [ -f "$dest/stamp" ] && [ -f "$dest/release" ] && [ -f "$src/vmlinux" ]; then
		cat "$dest/release"
		exit 0
	fi
	exit 1
fi
[ $# -eq 0 ] || { echo "usage: $0 [release]" >&2; exit 2; }

mkdir -p "$dest"
exec 9>"$dest/.lock"
if ! flock -n 9; then
	echo "==> debug kernel: another build is running; waiting for it"
	flock 9
fi

# ---- tools ----
. "$here/debpkg.sh"
mapfile -t missing < <(deb_missing gcc make bc bison flex libelf-dev libssl-dev \
	xz-utils cpio kmod)
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> debug kernel: installing ${missing[*]}"
	apt_install() {
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get \
			-o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
			"${missing[@]}" >"$dest/apt.log" 2>&1
	}
	apt_install || {
		"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >>"$dest/apt.log" 2>&1
		apt_install
	} || { cat "$dest/apt.log" >&2; exit 1; }
fi

# ---- the source ----
# The installed package's tarball if there is one, else the .deb kept here
# (or apt's cache), else a fresh download of the newest linux-source-6.1.
tarball=$(ls /usr/src/linux-source-6.1*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
deb=""
if [ -z "$tarball" ]; then
	deb=$(ls "$dest"/linux-source-6.1_*.deb /var/cache/apt/archives/linux-source-6.1_*.deb \
		2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$deb" ]; then
		pkg=$(apt-cache search --names-only '^linux-source-6\.1$' | awk '{print $1}' | head -n 1)
		if [ -z "$pkg" ]; then
			echo "error: no linux-source-6.1 package in the apt lists (apt-get update?)" >&2
			exit 1
		fi
		echo "==> debug kernel: downloading $pkg (about 140 MB, once)"
		(cd "$dest" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
			echo "error: apt-get download $pkg failed" >&2
			exit 1
		}
		deb=$(ls "$dest"/linux-source-6.1_*.deb | sort -V | tail -n 1)
	fi
	source_id=$(basename "$deb")
else
	source_id=$(basename "$tarball")
fi

hash=$(printf '%s\n%s\n%s\n' "$RECIPE" "$source_id" "$FRAGMENT" | sha256sum | cut -c1-16)
if stamp_ok "$hash"; then
	echo "==> debug kernel $(cat "$dest/release") is up to date ($dest)"
	link_tree
	exit 0
fi
rm -f "$dest/stamp"

if [ "$(cat "$dest/source" 2>/dev/null)" != "$source_id" ] || [ ! -f "$src/Makefile" ]; then
	echo "==> debug kernel: unpacking $source_id into $src"
	rm -rf "$src" "$dest/modroot"
	mkdir -p "$src"
	if [ -n "$tarball" ]; then
		xz -dc "$tarball" | tar -x -C "$src" --strip-components=1
	else
		member=$(dpkg-deb -c "$deb" | awk '{print $6}' |
			grep -E '/linux-source-[0-9.]+\.tar\.xz$' | head -n 1)
		dpkg-deb --fsys-tarfile "$deb" | tar -xO "$member" | xz -dc |
			tar -x -C "$src" --strip-components=1
	fi
	echo "$source_id" >"$dest/source"
fi

# ---- the config ----
echo "==> debug kernel: configuring (defconfig + kvm_guest.config + debug options)"
printf '%s\n' "$FRAGMENT" >"$dest/kdebug.config"
kmake() { "${NICE[@]}" make -C "$src" -j"$jobs" "$@"; }
kmake -s defconfig >/dev/null
kmake -s kvm_guest.config >/dev/null
(cd "$src" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m -O . \
	.config "$dest/kdebug.config" >"$dest/merge.log" 2>&1)
kmake -s olddefconfig >/dev/null
bad=()
for opt in "${REQUIRED[@]}"; do
	grep -qx "CONFIG_$opt=y" "$src/.config" || bad+=("CONFIG_$opt")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "error: the debug kernel config lacks ${bad[*]} (see $dest/merge.log)" >&2
	exit 1
fi

# ---- the build ----
echo "==> debug kernel: building with make -j$jobs under nice"
echo "    (20 to 40 minutes the first time; log in $dest/build.log)"
start=$(date +%s)
if ! kmake bzImage modules >"$dest/build.log" 2>&1; then
	tail -n 40 "$dest/build.log" >&2
	echo "error: the debug kernel build failed (see $dest/build.log)" >&2
	exit 1
fi
# The release is known once the build has written the config it reads.
release=$(make -s -C "$src" kernelrelease)
rm -rf "$dest/modroot"
kmake -s INSTALL_MOD_PATH="$dest/modroot" modules_install >>"$dest/build.log" 2>&1
echo "$release" >"$dest/release"
echo "$hash" >"$dest/stamp"
link_tree
echo "==> debug kernel $release built in $(( ($(date +%s) - start) / 60 )) min ($dest)"
