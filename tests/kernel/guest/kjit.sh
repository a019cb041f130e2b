# Guest suite: JIT stubs in companion modules (tests/kernel/test_kjit.py).
# The host compiled every program of /ktest/kjit/manifest to an image and
# its stubs for this kernel line into ONE companion module,
# /ktest/kjit/LINE/kjit_suite.ko. Each program runs twice through
# `kdrive conform`: in the interpreter (before the companion is loaded),
# then on the stubs (-j: the load fails without them); the host compares.

KDRIVE=/ktest/bin/kdrive
IMG=/ktest/kjit

companion() {
	case "$(uname -r)" in
	*-kdebug) echo $IMG/debug/kjit_suite.ko ;;
	6.1.*) echo $IMG/6.1/kjit_suite.ko ;;
	*) echo $IMG/6.12/kjit_suite.ko ;;
	esac
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_interp() {
	$KDRIVE conform $IMG/manifest
}

kt_insmod_companion() {
	run insmod "$(companion)" || return 1
	dmesg | grep -c 'konoha: jit: stubs for image .* registered'
}

kt_jit() {
	$KDRIVE conform -j $IMG/manifest
}

kt_device_on_stubs() {
	run $KDRIVE load -j kjitdev $IMG/kjit_dev.kbc || return 1
	out=$($KDRIVE op /dev/kjitdev open readall ioctl:1:20 close) || { echo "$out"; return 1; }
	echo "$out"
	expect_eq "$(echo "$out" | grep -c 'opens 1 fib 610')" 1 "read on stubs" &&
		expect_eq "$(echo "$out" | grep -c 'ioctl 6765')" 1 "ioctl on stubs"
}

kt_companion_pinned() {
	# a script uses its stubs: the companion module cannot go
	if rmmod kjit_suite 2>/dev/null; then
		echo "rmmod kjit_suite succeeded while kjitdev runs on its stubs"
		return 1
	fi
	run $KDRIVE unload kjitdev || return 1
	dmesg | grep 'konoha: jit: kjitdev:' | tail -n 1
}

kt_no_stubs_refused() {
	# an image without stubs, JIT required: ENOENT with a message
	out=$($KDRIVE load -j nostubs /ktest/kjit/nostubs.kbc 2>&1)
	echo "$out"
	case "$out" in
	*ENOENT*"no JIT stubs registered for image"*) return 0 ;;
	esac
	return 1
}

kt_interp_with_companion() {
	# -J: interpreted although stubs are registered (no native entries)
	run $KDRIVE load -J kjitdev $IMG/kjit_dev.kbc || return 1
	$KDRIVE op /dev/kjitdev open readall close || return 1
	run $KDRIVE unload kjitdev || return 1
	if dmesg | grep -q 'konoha: jit: kjitdev: runs on' ; then
		[ "$(dmesg | grep -c 'konoha: jit: kjitdev: runs on')" = 1 ] || return 1
	fi
}

kt_rot13_on_stubs() {
	# examples/rot13.k on its stubs, its read loop a table: kchr checks
	# every byte of the warm-up blocks (7777 bytes written, read back
	# 1001 at a time; then 64 KiB blocks) against tr-style rot13, and
	# the 64 KiB bound of one open file
	run $KDRIVE load -j rot13 $IMG/kjit_rot13.kbc || return 1
	rc=0
	run /ktest/bin/kchr rot13 -b 7777 -r 1001 -n 1 -w 300 /dev/rot13 &&
		run /ktest/bin/kchr rot13 -b 65536 -n 1 -w 20 /dev/rot13 &&
		run /ktest/bin/kchr rot13cap /dev/rot13 || rc=1
	run $KDRIVE unload rot13 || return 1
	dmesg | grep 'konoha: jit: rot13:' | tail -n 1
	return $rc
}

kt_rmmod_companion() {
	run rmmod kjit_suite
}

kt_ktc_companion() {
	# hello_dev.k's companion module as `ktc load --jit --build-only`
	# built it on the host for this kernel; the script on its stubs
	ko=$(dirname "$(companion)")/ktc_companion.ko
	run insmod "$ko" || return 1
	run $KDRIVE load -j khello $IMG/ktc_hello.kbc || return 1
	out=$($KDRIVE op /dev/khello open readall close open readall close) ||
		{ echo "$out"; return 1; }
	echo "$out"
	expect_eq "$(echo "$out" | grep -c 'hello #2')" 1 "second open on stubs" ||
		return 1
	dmesg | grep 'konoha: jit: khello:' | tail -n 1
	run $KDRIVE unload khello || return 1
	# the module keeps its own name, kjit_ and the image digest's start
	run rmmod "$(awk '$1 ~ /^kjit_/ { print $1 }' /proc/modules)"
}

kt_rmmod() {
	run rmmod konoha
}
