# Guest suite of the open_overhead benchmark (bench/test_open_overhead.py):
# an lmbench-style open+close loop (ktest_open) on the C reference device
# /dev/kref (kref_dev.ko, empty open/release) and on its twin written in K
# (tests/kernel/scripts/kempty.k: /dev/kempty, and /dev/kdefault without
# open/release callbacks), alternated over several rounds in this one boot.
# /ktest/bench.conf sets ROUNDS, ITERATIONS and DEVICES.

. /ktest/bench.conf

kt_insmod() {
	run insmod /ktest/modules/kref_dev.ko && run insmod /ktest/modules/konoha.ko
}

kt_load_kempty() {
	run /ktest/bin/kload load -n kempty /ktest/images/kempty.kbc &&
		expect_eq "$(cat /dev/kempty)" "kref: hello from K" "cat /dev/kempty" &&
		expect_eq "$(cat /dev/kdefault)" "kref: hello from K" "cat /dev/kdefault" &&
		expect_eq "$(cat /dev/kref)" "kref: hello from C" "cat /dev/kref"
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
	run /ktest/bin/kload unload kempty && run rmmod konoha && run rmmod kref_dev
}
