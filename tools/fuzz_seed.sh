#!/usr/bin/env bash
# Seed a libFuzzer corpus with real images: compile every .k script found
# under the given directories with `ktc compile`. Scripts that do not compile
# (the tests of compile errors) are skipped. Usage:
#   tools/fuzz_seed.sh CORPUS_DIR DIR...
set -euo pipefail

corpus=$1
shift
KTC=${KTC:-python3 -m ktc.cli}
read -r -a ktc <<<"$KTC"

mkdir -p "$corpus"
compiled=0
skipped=0
while IFS= read -r -d '' src; do
	name=$(printf '%s' "$src" | tr '/' '_')
	out="$corpus/${name%.k}.kbc"
	if [ -f "$out" ] && [ "$out" -nt "$src" ]; then
		compiled=$((compiled + 1))
		continue
	fi
	if "${ktc[@]}" compile "$src" -o "$out" >/dev/null 2>&1 && [ -s "$out" ]; then
		compiled=$((compiled + 1))
	else
		rm -f "$out"
		skipped=$((skipped + 1))
	fi
done < <(find "$@" -name '*.k' -type f -print0 2>/dev/null | sort -z)

echo "    $compiled images in $corpus ($skipped scripts did not compile)"
if [ "$compiled" -eq 0 ]; then
	# libFuzzer can start from nothing, but a corpus of real images finds
	# far more; say so rather than fuzz blind without notice.
	echo "    warning: no image compiled; the fuzzer starts from an empty corpus" >&2
fi
