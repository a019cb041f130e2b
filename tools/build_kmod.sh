#!/usr/bin/env bash
# Build an out-of-tree kernel module for every installed kernel.
#
#   build_kmod.sh [-o OUT_DIR] SRC_DIR NAME [RELEASE...]
#
# SRC_DIR holds a Kbuild file and its sources. For each release (default:
# every one tools/kernels.sh lists) the sources are mirrored into
# build/kernel/RELEASE/NAME/ and built there with the kernel's own Kbuild
# (make -C HEADERS M=DIR modules), so the source tree stays clean and each
# kernel keeps its own objects. Warnings are errors: the build fails when
# Kbuild prints any "warning:" or "error:" line (objtool's included).
#
# With -o the module is built in OUT_DIR instead, for the one RELEASE
# given; OUT_DIR may be SRC_DIR itself, which is how `ktc load --jit`
# (ktc/kmod.py) builds a companion directory FILE.kmod/ in place. This
# script is the only module builder and tools/kernels.sh the only place
# that finds a release's headers.
#
# Environment: BUILD (default build), KMAKE_ARGS (extra make arguments),
# KBUILD_EXTRA_SRC (extra directories mirrored in as subdirectories).
set -euo pipefail

usage() {
	echo "usage: $0 [-o OUT_DIR] SRC_DIR NAME [RELEASE...]" >&2
	exit 2
}
out_dir=
if [ "${1:-}" = -o ]; then
	[ $# -ge 2 ] || usage
	out_dir=$2
	shift 2
fi
[ $# -ge 2 ] || usage
src=$(cd "$1" && pwd)
name=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "$out_dir" ]; then
	if [ $# -ne 1 ]; then
		echo "error: -o builds for exactly one release" >&2
		exit 2
	fi
	out_dir=$(mkdir -p "$out_dir" && cd "$out_dir" && pwd)
else
	build=$(mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
fi

if [ $# -gt 0 ]; then
	releases=("$@")
else
	mapfile -t releases < <("$here/kernels.sh" list)
fi
if [ ${#releases[@]} -eq 0 ]; then
	echo "error: no kernel with headers installed; run make kernel-setup" >&2
	exit 1
fi

# Source files of a module: what is mirrored (and pruned) in the build tree.
source_files() {
	find "$1" -type f ! -name '*.mod.c' \( -name '*.c' -o -name '*.h' -o -name '*.def' \
		-o -name Kbuild -o -name '*.S' -o -name '*.o_shipped' -o -name '*.stubs' \) -print0
}

# Copy only what changed, so Kbuild's own dependency tracking stays valid,
# and record every mirrored path in $expected.
mirror() {
	local from=$1 to=$2 prefix=$3 f rel
	while IFS= read -r -d '' f; do
		rel=${f#"$from"/}
		expected+=("$prefix$rel")
		mkdir -p "$to/$prefix$(dirname "$rel")"
		if ! cmp -s "$f" "$to/$prefix$rel"; then
			cp "$f" "$to/$prefix$rel"
		fi
	done < <(source_files "$from")
}

# Remove sources (and their objects) that are no longer in the source tree:
# Kbuild files that pick sources by wildcard must not see stale copies.
prune() {
	local to=$1 f rel
	local -A keep=()
	for rel in "${expected[@]}"; do
		keep[$rel]=1
	done
	while IFS= read -r -d '' f; do
		rel=${f#"$to"/}
		if [ -z "${keep[$rel]:-}" ]; then
			rm -f "$f" "${f%.*}.o"
		fi
	done < <(source_files "$to")
}

# Every kernel is built, so one run reports the problems of both lines.
failed=()
for release in "${releases[@]}"; do
	headers=$("$here/kernels.sh" headers "$release")
	out=${out_dir:-"$build/kernel/$release/$name"}
	echo "==> building kernel module(s) $name for $release"
	expected=()
	mkdir -p "$out"
	mirror "$src" "$out" ""
	for extra in ${KBUILD_EXTRA_SRC:-}; do
		mirror "$(cd "$extra" && pwd)" "$out" "$(basename "$extra")/"
	done
	prune "$out"
	# Kbuild reruns modpost only when the module's objects change, not
	# when KBUILD_EXTRA_SYMBOLS does: after the exporting module changed
	# its symbol versions, drop modpost's output so it runs again.
	extra=$(sed -n 's/.*KBUILD_EXTRA_SYMBOLS=\([^ ]*\).*/\1/p' <<<"${KMAKE_ARGS:-}")
	if [ -n "$extra" ] && ! cmp -s "$extra" "$out/.extra-symvers"; then
		rm -f "$out/Module.symvers" "$out"/*.mod.c "$out"/*.mod.o "$out"/*.ko
		cp "$extra" "$out/.extra-symvers"
	fi
	# Only this build's modules are left (a companion directory's module
	# is named after its image, which may have changed since).
	rm -f "$out"/*.ko
	log="$out/build.log"
	# shellcheck disable=SC2086
	if ! make -s -C "$headers" M="$out" ${KMAKE_ARGS:-} modules >"$log" 2>&1; then
		cat "$log" >&2
		echo "error: building $name for $release failed" >&2
		failed+=("$release")
		continue
	fi
	if grep -E 'warning:|error:' "$log" >&2; then
		echo "error: building $name for $release printed warnings (see above)" >&2
		# Forget the objects that warned, so the next build compiles them
		# again and warns again instead of passing on a stale object.
		grep -oE '^[^ :]+\.[co]:[0-9:]* *warning:|^[^ :]+\.o: warning:' "$log" |
			sed -E 's/:.*//; s/\.c$/.o/' | sort -u | while read -r obj; do
				case "$obj" in /*) ;; *) obj="$out/$obj" ;; esac
				rm -f "$obj"
			done
		failed+=("$release")
		continue
	fi
	# Kbuild only prints what went wrong with -s; show the rest for the record.
	grep -v -e '^make\[' -e 'Skipping BTF generation' "$log" || true
	ls "$out"/*.ko >/dev/null
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "error: $name did not build cleanly for: ${failed[*]}" >&2
	exit 1
fi
