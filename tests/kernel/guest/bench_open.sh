# Guest suite of the open_overhead benchmark (bench/test_open_overhead.py),
# with its JIT row: an lmbench-style open+close loop (ktest_open) on the C
# reference device /dev/kref (kref_dev.ko, empty open/release), on its twin
# written in K (tests/kernel/scripts/kempty.k: /dev/kempty, and
# /dev/kdefault without open/release callbacks, /dev/kcount whose
# open/release count), interpreted, and on the same script (devices
# renamed /dev/kemptyj, /dev/kdefaultj, /dev/kcountj) running on
# its JIT stubs (companion kempty_jit.ko loaded first, `kdrive load -j`:
# stubs required), alternated over several rounds in this one boot.
# /ktest/bench.conf sets ROUNDS, ITERATIONS and DEVICES.

. /ktest/bench.conf

companion() {
	case "$(uname -r)" in
	6.1.*) echo /ktest/bench/6.1/kempty_jit.ko ;;
	*) echo /ktest/bench/6.12/kempty_jit.ko ;;
	esac
}

kt_insmod() {
	run insmod /ktest/modules/kref_dev.ko && run insmod /ktest/modules/konoha.ko
}

kt_load_kempty() {
	run /ktest/bin/kload load -n kempty /ktest/images/kempty.kbc &&
		expect_eq "$(cat /dev/kempty)" "kref: hello from K" "cat /dev/kempty" &&
		expect_eq "$(cat /dev/kdefault)" "kref: hello from K" "cat /dev/kdefault" &&
		expect_eq "$(cat /dev/kref)" "kref: hello from C" "cat /dev/kref"
}

kt_load_kempty_jit() {
	run insmod "$(companion)" || return 1
	run /ktest/bin/kdrive load -j kemptyj /ktest/bench/kemptyj.kbc || return 1
	dmesg | grep 'konoha: jit: kemptyj:' | tail -n 1
	expect_eq "$(cat /dev/kemptyj)" "kref: hello from K" "cat /dev/kemptyj" &&
		expect_eq "$(cat /dev/kcountj)" "kref: hello from K" "cat /dev/kcountj"
}

kt_rounds() {
	# Every round runs each device once; the order rotates from round to
	# round, so no device always runs first.
	set -- $DEVICES
	n=$#
	r=1
	while [ $r -le "$ROUNDS" ]; do
		i=0
		while [ $i -lt $n ]; do
			k=$(((r + i) % n + 1))
			eval "dev=\${$k}"
			out=$(/ktest/bin/ktest_open -n "$ITERATIONS" -w 200 "$dev") ||
				{ echo "$out"; return 1; }
			echo "round $r $out"
			i=$((i + 1))
		done
		r=$((r + 1))
	done
}

kt_unload() {
	run /ktest/bin/kdrive unload kemptyj || return 1
	dmesg | grep 'konoha: jit: kemptyj:' | tail -n 2
	run /ktest/bin/kload unload kempty && run rmmod kempty_jit &&
		run rmmod konoha && run rmmod kref_dev
}
