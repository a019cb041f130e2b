#!/usr/bin/env bash
# Fetch the kernel's checkpatch.pl (with the spelling and const-struct lists
# it reads) from Debian's linux-source package of the 6.1 line, into
# build/kernel/checkpatch/. The header packages do not ship it. Idempotent:
# nothing is downloaded when the script is already there.
set -euo pipefail

dest=${1:-build/kernel/checkpatch}
if [ -f "$dest/checkpatch.pl" ]; then
	echo "==> checkpatch.pl already in $dest"
	exit 0
fi

# The newest linux-source-6.1* the archive has (the package name carries
# the line, the version the patch release: neither is written here).
pkg=$(apt-cache search --names-only '^linux-source-6\.1$' | awk '{print $1}' | head -n 1)
if [ -z "$pkg" ]; then
	echo "error: no linux-source-6.1 package in the apt lists (apt-get update?)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "==> fetching checkpatch.pl from $pkg (about 140 MB, once)"
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
	echo "error: apt-get download $pkg failed" >&2
	exit 1
}
deb=$(ls "$tmp"/*.deb)
tarball=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -E '/linux-source-[0-9.]+\.tar\.xz$' | head -n 1)
top=$(basename "$tarball" .tar.xz)
dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" | xz -dc |
	tar -x -C "$tmp" "$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch"
mkdir -p "$dest"
cp "$tmp/$top/scripts/checkpatch.pl" "$tmp/$top/scripts/spelling.txt" \
	"$tmp/$top/scripts/const_structs.checkpatch" "$dest/"
echo "==> checkpatch.pl from $top in $dest"
