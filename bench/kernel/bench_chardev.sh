# Guest suite of the chardev benchmark (bench/test_chardev.py): CharDevice
# drivers written in K against C drivers doing the same work, in one boot.
#
#   open+close  /dev/kref (kref_dev.ko) | /dev/kchr_empty (kchr_empty.k)
#   rot13       /dev/kref_rot13 (kref_rot13.ko) | /dev/rot13 (rot13.k)
#   ping-pong   /dev/kref_fifo0+1 (kref_fifo.ko) | /dev/fifo0+1 (fifo.k's
#               Fifo registered twice by one script, fifo.kbc)
#
# Each K driver runs twice: interpreted (kdrive load -J) and on its JIT
# stubs (devices renamed NAMEj, companion module loaded first, kdrive
# load -j). The measuring tools are ktest_open and kchr
# (tests/kernel/guest/); every measurement runs once per round, in an
# order rotating from round to round. /ktest/chardev.conf sets ROUNDS,
# OPEN_N, ROT4K_N, ROT64K_N, PINGPONG_N.
#
# The FIFO driver needs WaitQueue (the language reference §9.2): when its
# images are not shipped, or konoha.ko refuses them, the FIFO case skips
# with the reason and the rounds run without the ping-pong.

. /ktest/chardev.conf

B=/ktest/bench
KD=/ktest/bin/kdrive

line() {
	case "$(uname -r)" in
	6.1.*) echo 6.1 ;;
	*) echo 6.12 ;;
	esac
}

# Load script NAME from $B/NAME.kbc (FLAG -J: interpreted, -j: on its JIT
# stubs), remembering it for kt_unload.
kload() {
	out=$($KD load "$1" "$2" "$B/$2.kbc")
	status=$?
	echo "$out"
	[ $status -eq 0 ] && echo "$2" >> /tmp/k_loaded
	return $status
}

# Insert a companion module of $B/LINE/, remembering it for kt_unload.
kcompanion() {
	run insmod "$B/$(line)/$1.ko" && echo "$1" >> /tmp/k_mods
}

kt_insmod() {
	: > /tmp/k_loaded
	: > /tmp/k_mods
	run insmod /ktest/modules/kref_dev.ko &&
		run insmod /ktest/modules/kref_rot13.ko &&
		run insmod /ktest/modules/kref_fifo.ko &&
		run insmod /ktest/modules/konoha.ko
}

kt_load_k() {
	# The K rot13 must answer as the C one: every byte checked, the same
	# 64 KiB bound (a short write, then ENOSPC).
	kload -J kchr_empty && kload -J rot13 &&
		run /ktest/bin/kchr rot13 -b 7777 -r 1001 -n 10 -w 0 /dev/rot13 &&
		run /ktest/bin/kchr rot13cap /dev/rot13
}

kt_load_k_jit() {
	kcompanion kchr_jit && kload -j kchr_emptyj && kload -j rot13j || return 1
	dmesg | grep 'konoha: jit: \(kchr_emptyj\|rot13j\):' | tail -n 2
	run /ktest/bin/kchr rot13 -b 7777 -r 1001 -n 10 -w 0 /dev/rot13j &&
		run /ktest/bin/kchr rot13cap /dev/rot13j
}

kt_load_fifo() {
	# Prints "fifo: REASON" as its last line when it skips.
	rm -f /tmp/fifo_loaded
	if [ ! -f $B/fifo.kbc ]; then
		skip "fifo: $(cat $B/fifo.missing 2>/dev/null || echo 'no FIFO images')"
		return
	fi
	kload -J fifo >/tmp/fifo_load.out
	cat /tmp/fifo_load.out
	case "$(cat /tmp/fifo_load.out)" in
	loaded*) ;;
	*) skip "fifo: konoha.ko refuses the image: $(head -n 1 /tmp/fifo_load.out)"
		return ;;
	esac
	if [ ! -f $B/$(line)/kchr_fifo_jit.ko ]; then
		skip "fifo: $(cat $B/fifo_jit.missing 2>/dev/null || echo 'no JIT companion')"
		return
	fi
	kcompanion kchr_fifo_jit && kload -j fifoj || return 1
	# The K FIFO must keep the C one's contract (EAGAIN, poll masks, the
	# 64 KiB bound, order, wake-ups from another process, EINTR).
	run /ktest/bin/kchr fifocheck /dev/fifo0 &&
		run /ktest/bin/kchr fifocheck /dev/fifo1j &&
		run /ktest/bin/kchr pingpong -n 20 -w 0 /dev/fifo0 /dev/fifo1 &&
		run /ktest/bin/kchr pingpong -n 20 -w 0 /dev/fifo0j /dev/fifo1j || return 1
	: > /tmp/fifo_loaded
}

# One measurement: KIND:DEV[,DEV2]; prints the tool's line.
measure() {
	kind=${1%%:*}
	dev=${1#*:}
	case $kind in
	open) /ktest/bin/ktest_open -n "$OPEN_N" -w 200 "$dev" ;;
	rot4k) /ktest/bin/kchr rot13 -b 4096 -n "$ROT4K_N" -w 10 "$dev" ;;
	rot64k) /ktest/bin/kchr rot13 -b 65536 -n "$ROT64K_N" -w 2 "$dev" ;;
	pp) /ktest/bin/kchr pingpong -n "$PINGPONG_N" -w 50 -s 8 \
		"${dev%%,*}" "${dev#*,}" ;;
	esac
}

kt_rounds() {
	set -- open:/dev/kref open:/dev/kchr_empty open:/dev/kchr_emptyj \
		rot4k:/dev/kref_rot13 rot4k:/dev/rot13 rot4k:/dev/rot13j \
		rot64k:/dev/kref_rot13 rot64k:/dev/rot13 rot64k:/dev/rot13j
	if [ -f /tmp/fifo_loaded ]; then
		set -- "$@" pp:/dev/kref_fifo0,/dev/kref_fifo1 \
			pp:/dev/fifo0,/dev/fifo1 pp:/dev/fifo0j,/dev/fifo1j
	fi
	n=$#
	r=1
	while [ $r -le "$ROUNDS" ]; do
		i=0
		while [ $i -lt $n ]; do
			k=$(((r + i) % n + 1))
			eval "m=\${$k}"
			out=$(measure "$m") || { echo "$m: $out"; return 1; }
			echo "round $r $out"
			i=$((i + 1))
		done
		r=$((r + 1))
	done
}

kt_unload() {
	for s in $(cat /tmp/k_loaded); do
		run $KD unload $s || return 1
	done
	for m in $(cat /tmp/k_mods); do
		run rmmod $m || return 1
	done
	run rmmod konoha && run rmmod kref_fifo && run rmmod kref_rot13 &&
		run rmmod kref_dev
}
