# Guest suite of the kfib benchmark (bench/test_kfib.py): recursive fib(N)
# inside the kernel, computed by an ioctl of
#   /dev/kfib     the K script bench/kernel/kfib.k, interpreted;
#   /dev/kfibj    the same script (device renamed), on its JIT stubs
#                 (companion kfib_jit.ko loaded first, `kdrive load -j`);
#   /dev/kfibref  the C module kfib_ref.ko (lkm/kernel/ref/kfib/).
# Each call is timed by kbench_ioctl (CLOCK_MONOTONIC); the devices take
# turns round by round. /ktest/bench/kfib.conf sets ROUNDS, N, BUDGET.

. /ktest/bench/kfib.conf

KDRIVE=/ktest/bin/kdrive

companion() {
	case "$(uname -r)" in
	6.1.*) echo /ktest/bench/6.1/kfib_jit.ko ;;
	*) echo /ktest/bench/6.12/kfib_jit.ko ;;
	esac
}

kt_insmod() {
	run insmod /ktest/modules/kfib_ref.ko && run insmod /ktest/modules/konoha.ko
}

kt_load_interp() {
	run $KDRIVE load -b "$BUDGET" kfib /ktest/bench/kfib.kbc
}

kt_load_jit() {
	run insmod "$(companion)" || return 1
	run $KDRIVE load -j -b "$BUDGET" kfibj /ktest/bench/kfibj.kbc
}

kt_check() {
	for dev in /dev/kfib /dev/kfibj /dev/kfibref; do
		out=$(/ktest/bin/kbench_ioctl $dev 1 20) || { echo "$out"; return 1; }
		echo "$out"
		expect_eq "$(echo "$out" | grep -c 'result=6765 ')" 1 "fib(20) on $dev" ||
			return 1
	done
}

kt_rounds() {
	set -- /dev/kfib /dev/kfibj /dev/kfibref
	r=1
	while [ $r -le "$ROUNDS" ]; do
		i=0
		while [ $i -lt 3 ]; do
			k=$(((r + i) % 3 + 1))
			eval "dev=\${$k}"
			out=$(/ktest/bin/kbench_ioctl "$dev" 1 "$N") || { echo "$out"; return 1; }
			echo "round $r $out"
			i=$((i + 1))
		done
		r=$((r + 1))
	done
}

kt_unload() {
	run $KDRIVE unload kfibj || return 1
	dmesg | grep 'konoha: jit: kfibj:' | tail -n 2
	run $KDRIVE unload kfib && run rmmod kfib_jit && run rmmod konoha &&
		run rmmod kfib_ref
}
