# Guest suite of the kernel AWFY benchmark (bench/test_awfy_kernel.py): the
# kernel subset of bench/awfy/ (awfy.KERNEL_SUBSET) in one K script,
#   /dev/kawfy    interpreted;
#   /dev/kawfyj   the same script (device renamed) on its JIT stubs
#                 (companion awfy_jit.ko loaded first, `kdrive load -j`).
# ioctl(fd, 100 + N, INNER) runs benchmark N with INNER inner iterations and
# returns 1 when every one verified. Each call is timed by kbench_ioctl
# (CLOCK_MONOTONIC); in each round every benchmark runs on both devices,
# the first of the two alternating from round to round.
# /ktest/bench/awfy.conf sets ROUNDS, BUDGET, HEAP and BENCHES ("CMD:INNER"
# words).

. /ktest/bench/awfy.conf

KDRIVE=/ktest/bin/kdrive

companion() {
	case "$(uname -r)" in
	6.1.*) echo /ktest/bench/6.1/awfy_jit.ko ;;
	*) echo /ktest/bench/6.12/awfy_jit.ko ;;
	esac
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_load_interp() {
	run $KDRIVE load -b "$BUDGET" -H "$HEAP" kawfy /ktest/bench/kawfy.kbc
}

kt_load_jit() {
	run insmod "$(companion)" || return 1
	run $KDRIVE load -j -b "$BUDGET" -H "$HEAP" kawfyj /ktest/bench/kawfyj.kbc
}

kt_rounds() {
	r=1
	while [ $r -le "$ROUNDS" ]; do
		if [ $((r % 2)) -eq 1 ]; then
			devs="/dev/kawfy /dev/kawfyj"
		else
			devs="/dev/kawfyj /dev/kawfy"
		fi
		for b in $BENCHES; do
			for dev in $devs; do
				out=$(/ktest/bin/kbench_ioctl "$dev" "${b%%:*}" "${b#*:}") ||
					{ echo "$out"; return 1; }
				echo "round $r $out"
			done
		done
		r=$((r + 1))
	done
}

kt_unload() {
	run $KDRIVE unload kawfyj || return 1
	dmesg | grep 'konoha: jit: kawfyj:' | tail -n 2
	run $KDRIVE unload kawfy && run rmmod awfy_jit && run rmmod konoha
}
