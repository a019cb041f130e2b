# Guest suite: the example drivers examples/kvstore.k and examples/heartbeat.k
# in konoha.ko (tests/kernel/test_kexamples.py). Their images, compiled on
# the host, are /ktest/images/ex_NAME.kbc; kload (load/unload/list) and kexamples_io
# (the examples' ioctls, blocking reads, poll, select, epoll: from C) are in
# /ktest/bin/. The cases run in order and share the loaded scripts.

KLOAD=/ktest/bin/kload
KIO=/ktest/bin/kexamples_io
IMG=/ktest/images
PERIOD=50

allocs_are_zero() {
	n=$($KLOAD allocs) || { echo "$n"; return 1; }
	expect_eq "$n" 0 "live allocations of konoha.ko $1"
}

# period MS WANT: HEARTBEAT_PERIOD with MS (0: only ask) answers WANT.
period() {
	expect_eq "$($KIO period /dev/heartbeat "$1")" "period $2" "HEARTBEAT_PERIOD $1"
}

# gone NODE...: none of the nodes exists.
gone() {
	for node in "$@"; do
		if [ -e "$node" ]; then
			echo "$node still exists"
			return 1
		fi
	done
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

# ---- kvstore ---------------------------------------------------------------

kt_kvstore_load() {
	run $KLOAD load -n kvstore $IMG/ex_kvstore.kbc || return 1
	ls -l /dev/kvstore
	case "$(ls -l /dev/kvstore)" in
	crw-rw-rw-*) ;;
	*) echo "/dev/kvstore: mode is not 0666"; return 1 ;;
	esac
}

kt_kvstore_text_commands() {
	# One open file: commands written by echo and printf (one split
	# across two writes), the replies read back by cat, which stops at
	# the end of them.
	exec 3<>/dev/kvstore || return 1
	echo "set color blue" >&3
	printf 'set size ' >&3
	printf '42\nget color\nkeys\n' >&3
	echo "del size" >&3
	echo "get size" >&3
	echo "bogus" >&3
	got=$(cat <&3)
	exec 3>&-
	want=$(printf 'OK\nOK\nblue\ncolor size\nOK\nERR no such key\nERR unknown command')
	echo "$got"
	expect_eq "$got" "$want" "replies"
}

kt_kvstore_replies_stay_with_their_file() {
	# Each open has its own session: a new open has nothing to read.
	exec 3<>/dev/kvstore || return 1
	echo "get color" >&3
	expect_eq "$(cat /dev/kvstore)" "" "a second open file's replies" || return 1
	got=$(cat <&3)
	exec 3>&-
	expect_eq "$got" "blue" "the first file's reply"
}

kt_kvstore_ioctl_round_trip_and_efault() {
	run $KIO kvstore /dev/kvstore
}

kt_kvstore_errors_are_logged() {
	for want in 'kvstore: ioctl: DeviceError(ENOENT): no key kx_absent' \
		'kvstore: ioctl: DeviceError(EFAULT)'; do
		dmesg | grep -q "$want" || { echo "no '$want' in the log"; dmesg | tail -n 20; return 1; }
		echo "logged: $want"
	done
}

kt_kvstore_unload() {
	exec 3</dev/kvstore
	expect_eq "$($KLOAD unload kvstore >/dev/null; echo $?)" 16 \
		"unload while /dev/kvstore is open (EBUSY)"
	rc=$?
	exec 3<&-
	[ $rc -eq 0 ] || return 1
	run $KLOAD unload kvstore && gone /dev/kvstore &&
		allocs_are_zero "after unloading kvstore"
}

# ---- heartbeat -------------------------------------------------------------

kt_heartbeat_refuses_a_bad_period() {
	out=$($KLOAD load -n heartbeat -p period_ms=fast $IMG/ex_heartbeat.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 22 "exit status (errno) of the refused load" || return 1
	echo "$out" | grep -q 'period_ms: not a number: fast' ||
		{ echo "the load's message does not give the reason"; return 1; }
	gone /dev/heartbeat && allocs_are_zero "after the refused load"
}

kt_heartbeat_load() {
	run $KLOAD load -n heartbeat -p period_ms=$PERIOD $IMG/ex_heartbeat.kbc || return 1
	ls -l /dev/heartbeat
	case "$(ls -l /dev/heartbeat)" in
	cr--r--r--*) ;;
	*) echo "/dev/heartbeat: mode is not 0444"; return 1 ;;
	esac
}

kt_heartbeat_head() {
	# head reads three lines, each read(2) waiting for the next beat.
	got=$(head -n 3 /dev/heartbeat) || return 1
	echo "$got"
	n=$(echo "$got" | sed -n '1s/^beat \([0-9]*\)$/\1/p')
	[ -n "$n" ] || { echo "the first line is not 'beat N'"; return 1; }
	want=$(printf 'beat %d\nbeat %d\nbeat %d' "$n" $((n + 1)) $((n + 2)))
	expect_eq "$got" "$want" "three consecutive beats"
}

kt_heartbeat_from_c() {
	run $KIO heartbeat /dev/heartbeat $PERIOD
}

kt_heartbeat_period_ioctl() {
	# Root opens the 0444 node for writing and sets the period; the
	# timer re-arms with it. A file open only for reading cannot.
	period 0 $PERIOD && period 20 20 && period 0 20 || return 1
	expect_eq "$($KIO period /dev/heartbeat 30 r)" \
		"HEARTBEAT_PERIOD: Operation not permitted" "setting it read-only" || return 1
	period $PERIOD $PERIOD && echo "period back to $PERIOD ms"
}

kt_heartbeat_signals() {
	# EINTR without SA_RESTART, a transparent restart with it.
	run $KIO signals /dev/heartbeat $PERIOD
	rc=$?
	[ $rc -eq 0 ] || period $PERIOD $PERIOD
	return $rc
}

kt_heartbeat_reader_killed_while_waiting() {
	# A reader waits for a beat that will not come soon (period 10 s);
	# the unload is refused while it has the device open; SIGKILL ends
	# its wait, and then the unload goes through.
	period 10000 10000 || return 1
	$KIO blockread /dev/heartbeat > /tmp/blockread.out 2>&1 &
	pid=$!
	sleep 1
	if ! kill -0 $pid 2>/dev/null; then
		cat /tmp/blockread.out
		echo "the reader did not wait"
		period $PERIOD $PERIOD
		return 1
	fi
	expect_eq "$($KLOAD unload heartbeat >/dev/null; echo $?)" 16 \
		"unload while a reader waits (EBUSY)" || { kill -9 $pid; return 1; }
	kill -9 $pid
	wait $pid
	echo "reader killed: exit status $?"
	run $KLOAD unload heartbeat && gone /dev/heartbeat &&
		allocs_are_zero "after unloading heartbeat"
}

kt_heartbeat_unload_with_the_timer_running() {
	# A 1 ms timer keeps firing: each unload finds it armed, or running,
	# and cancels it; nothing is left behind. (A case above that failed
	# may have left the script loaded: unload it first.)
	$KLOAD unload heartbeat > /dev/null 2>&1
	i=0
	while [ $i -lt 20 ]; do
		$KLOAD load -n heartbeat -p period_ms=1 $IMG/ex_heartbeat.kbc > /tmp/load.out ||
			{ cat /tmp/load.out; echo "load $i failed"; return 1; }
		[ $((i % 2)) -eq 0 ] || usleep 20000
		$KLOAD unload heartbeat > /tmp/unload.out ||
			{ cat /tmp/unload.out; echo "unload $i failed"; return 1; }
		i=$((i + 1))
	done
	echo "$i loads and unloads with a 1 ms timer"
	gone /dev/heartbeat && allocs_are_zero "after 20 unloads with an active timer"
}
