#!/usr/bin/env bash
# Find the installed Debian kernels, so that nothing names a patch release.
#
#   kernels.sh list               releases with both an image and headers,
#                                 one a line, 6.1 line first (e.g. 6.1.0-41-amd64)
#   kernels.sh release LINE       the newest release of LINE (6.1 or 6.12)
#   kernels.sh headers RELEASE    the header tree to build modules against
#
# A release is usable when /boot/vmlinuz-RELEASE exists and its header tree
# is found as /lib/modules/RELEASE/build or /usr/src/linux-headers-RELEASE.
# This is the one place that finds header trees: tools/build_kmod.sh and
# ktc/kmod.py (`ktc load --jit`) both ask `kernels.sh headers RELEASE`.
set -euo pipefail

headers_of() {
	local release=$1
	if [ -e "/lib/modules/$release/build/Makefile" ]; then
		readlink -f "/lib/modules/$release/build"
	elif [ -e "/usr/src/linux-headers-$release/Makefile" ]; then
		echo "/usr/src/linux-headers-$release"
	else
		return 1
	fi
}

list_releases() {
	local image release
	for image in /boot/vmlinuz-*; do
		[ -e "$image" ] || continue
		release=${image#/boot/vmlinuz-}
		if headers_of "$release" >/dev/null; then
			echo "$release"
		fi
	done | sort -V
}

release_of_line() {
	local line=$1
	list_releases | grep -E "^${line//./\\.}\.[0-9]+[-+]" | tail -n 1
}

case "${1:-}" in
list)
	list_releases
	;;
release)
	[ $# -eq 2 ] || { echo "usage: $0 release LINE" >&2; exit 2; }
	release_of_line "$2"
	;;
headers)
	[ $# -eq 2 ] || { echo "usage: $0 headers RELEASE" >&2; exit 2; }
	headers_of "$2" || {
		echo "error: no kernel headers for $2 (install linux-headers-$2)" >&2
		exit 1
	}
	;;
*)
	echo "usage: $0 list | release LINE | headers RELEASE" >&2
	exit 2
	;;
esac
