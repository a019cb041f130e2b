# Guest suite: the system-call fuzzer on the devices of K scripts
# (tests/kernel/test_ksysfuzz.py). /ktest/fuzz/ holds the images of
# tests/kernel/fuzz/fz_*.k compiled on the host; /ktest/ksysfuzz.conf the
# run's parameters (FUZZ_SECONDS, FUZZ_SEED, FUZZ_PROCS, FUZZ_CAPS);
# /ktest/bin/ksysfuzz (guest/ksysfuzz.c) the fuzzer, kload the loader.
#
# The scripts are loaded as root with small limits, so that callbacks that
# loop, allocate or recurse hit them quickly under emulation; fz_slow gets
# a larger budget to keep callbacks long enough for SIGKILL to meet them.
# During the run the fuzzer unloads fz_cycle and fz_slow whenever it can and
# loads them again.
# After the run every descriptor must be closed, each script's heap back
# within bounds, every unload must succeed and the module's live allocation
# count must be zero. The kernel log is read all along (the scripts' error
# reports would wrap the ring buffer) and checked at the end.

KLOAD=/ktest/bin/kload
FUZZ=/ktest/bin/ksysfuzz
IMG=/ktest/fuzz
KMSG=/tmp/kmsg.log
# a line of the trace of a script's error report
TRACE='konoha: fz_[a-z0-9_]*:  +at [^ ]+ [(]'
. /ktest/ksysfuzz.conf

SCRIPTS="fz_state fz_errors fz_limits fz_slow fz_cycle fz_chardev"
# budget and heap quota of each script
budget() {
	case $1 in
	fz_slow) echo 30000000 ;;
	*) echo 2000000 ;;
	esac
}
heap_quota() {
	case $1 in
	fz_slow | fz_cycle) echo 4194304 ;;
	*) echo 8388608 ;;
	esac
}
# The scripts the fuzzer's loader unloads and loads again during the run.
CYCLED="fz_cycle fz_slow"

# heap NAME: the heap bytes kload list shows for script NAME.
heap() {
	$KLOAD list | sed -n "s/^$1 .* heap=\([0-9]*\)\/.*/\1/p"
}

# Kernel log lines that mean the kernel went wrong, as the host checks
# them, and the detectors of tasks stuck or CPUs stalled.
BAD='Oops|BUG:|WARNING:|scheduling while atomic|Call Trace|Kernel panic|general protection fault|UBSAN:|KASAN:|blocked for more than|soft lockup|hard LOCKUP|rcu.*stall|hung_task'

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_watch_kernel_log() {
	# Each abort report of a script is a trace of up to 1,000 lines that
	# would wrap the ring buffer: keep the log as it comes, without the
	# trace lines (counted), so nothing else is lost. (cat feeds awk
	# through a FIFO, so that ending cat lets awk write all it holds.)
	mkfifo /tmp/kmsg.fifo || return 1
	awk -v trace="$TRACE" '$0 ~ trace { n++; next } { print }
		END { print n + 0 >"/tmp/kmsg.traces" }' </tmp/kmsg.fifo >$KMSG &
	echo $! >/tmp/kmsg.filter
	cat /proc/kmsg >/tmp/kmsg.fifo &
	echo $! >/tmp/kmsg.cat
	# report tasks stuck in D state for 20 s (the default is 120 s)
	if [ -w /proc/sys/kernel/hung_task_timeout_secs ]; then
		echo 20 >/proc/sys/kernel/hung_task_timeout_secs
		echo 1000 >/proc/sys/kernel/hung_task_warnings 2>/dev/null
	fi
	echo "seed $FUZZ_SEED, $FUZZ_SECONDS s, $FUZZ_PROCS processes, caps '$FUZZ_CAPS'"
}

kt_load_fuzz_scripts() {
	for s in $SCRIPTS; do
		run $KLOAD load -n $s -b "$(budget $s)" -H "$(heap_quota $s)" \
			$IMG/$s.kbc || return 1
	done
	$KLOAD list | tee /tmp/list.loaded
}

kt_mode0_device() {
	# Known: a device with mode 0 is to be refused (EINVAL); an older
	# module accepts it and devtmpfs makes the node 0600.
	$KLOAD load -n fz_mode0 $IMG/fz_mode0.kbc
	rc=$?
	case $rc in
	0)
		ls -l /dev/fz_mode0
		case "$(ls -l /dev/fz_mode0)" in
		crw-------*) echo "KNOWN: mode 0 accepted; the node is 0600 (root only)" ;;
		*) echo "mode 0 gave an unexpected node"; return 1 ;;
		esac ;;
	22) echo "mode 0 refused with EINVAL" ;;
	*) echo "load of a mode 0 device: exit status $rc"; return 1 ;;
	esac
}

kt_devices_open_to_everyone() {
	ls -l /dev/fz_*
	for d in fz_log fz_map fz_err fz_plain fz_big fz_slow fz_cycle fz_chr; do
		case "$(ls -l /dev/$d)" in
		crw-rw-rw-*) ;;
		*) echo "/dev/$d is not 0666"; return 1 ;;
		esac
	done
	case "$(ls -l /dev/fz_ro)" in
	cr--r--r--*) ;;
	*) echo "/dev/fz_ro is not 0444"; return 1 ;;
	esac
}

kt_fuzz() {
	cycle=
	for s in $CYCLED; do
		cycle="$cycle -L $s:$IMG/$s.kbc:$(budget $s):$(heap_quota $s)"
	done
	# shellcheck disable=SC2086
	$FUZZ -s "$FUZZ_SEED" -t "$FUZZ_SECONDS" -p "$FUZZ_PROCS" $FUZZ_CAPS $cycle \
		-c fz_chr /dev/fz_*
}

kt_only_device_nodes() {
	# the fuzzer opens with O_CREAT: never where a node may be missing
	for f in /dev/fz_*; do
		[ -c "$f" ] || { ls -l "$f"; echo "$f is not a device node"; return 1; }
	done
}

kt_no_open_files_left() {
	$KLOAD list | tee /tmp/list.after
	if grep -v '^live_allocs' /tmp/list.after | grep -v ' open=0$'; then
		echo "files still open after every fuzzing process has gone"
		return 1
	fi
}

kt_heaps_within_quota() {
	rc=0
	for s in $SCRIPTS; do
		line=$(grep "^$s " /tmp/list.after)
		used=$(echo "$line" | sed -n 's/.* heap=\([0-9]*\)\/\([0-9]*\) .*/\1/p')
		limit=$(echo "$line" | sed -n 's/.* heap=\([0-9]*\)\/\([0-9]*\) .*/\2/p')
		echo "$s: heap $used of $limit"
		[ -n "$used" ] && [ "$used" -le "$limit" ] || { echo "$s: over its quota"; rc=1; }
	done
	return $rc
}

# ioctl3 DEV CMD: ioctl(CMD, 0) on DEV, tried up to three times (the
# open of /dev/fz_log fails with EBUSY every 97th time, on purpose).
ioctl3() {
	for _try in 1 2 3; do
		_out=$($KLOAD ioctl "$1" "$2" 0) && return 0
	done
	echo "ioctl $2 on $1: $_out"
	return 1
}

kt_heaps_back_after_reset() {
	# ioctl 198 drops what fz_state and fz_limits keep, 199 allocates more
	# garbage than the quota so that the collector runs: the heap is then
	# what was live after the load, give or take 1.5 MiB of new garbage.
	rc=0
	for pair in fz_state:fz_log fz_limits:fz_big; do
		s=${pair%%:*}
		d=${pair#*:}
		ioctl3 /dev/$d 198 || rc=1
		ioctl3 /dev/$d 199 || rc=1
		before=$(sed -n "s/^$s .* heap=\([0-9]*\)\/.*/\1/p" /tmp/list.loaded)
		after=$(heap $s)
		echo "$s: heap $before after the load, $after after the fuzzing and a reset"
		[ -n "$after" ] && [ "$after" -le $((before + 1572864)) ] ||
			{ echo "$s: the heap did not come back"; rc=1; }
	done
	return $rc
}

kt_unload_fuzz_scripts() {
	rc=0
	for s in $SCRIPTS; do
		run $KLOAD unload $s || rc=1
	done
	if $KLOAD list | grep -q '^fz_mode0 '; then
		run $KLOAD unload fz_mode0 || rc=1
	fi
	ls /dev/fz_* 2>/dev/null && { echo "device nodes left"; rc=1; }
	return $rc
}

kt_no_allocations_left() {
	n=$($KLOAD allocs) || { echo "$n"; return 1; }
	expect_eq "$n" 0 "live allocations of konoha.ko after unloading the scripts"
}

kt_rmmod() {
	run rmmod konoha
}

kt_kernel_log_clean() {
	sleep 1
	kill "$(cat /tmp/kmsg.cat)"
	i=0
	while kill -0 "$(cat /tmp/kmsg.filter)" 2>/dev/null && [ $i -lt 50 ]; do
		usleep 100000
		i=$((i + 1))
	done
	echo "kernel log: $(wc -l <$KMSG) lines kept, $(cat /tmp/kmsg.traces)" \
		"lines of script traces left out"
	echo "script reports, by kind:"
	grep -E 'konoha: fz_[a-z0-9_]*: (abort|[A-Za-z]*(Exception|Error))' $KMSG |
		sed 's/^<[0-9]*>//; s/^\[[ 0-9.]*\] //; s/[0-9][0-9]*/N/g' |
		sort | uniq -c | sort -rn | head -n 12
	# the end of the log too, in case the watcher missed it
	dmesg | grep -v -E "$TRACE" >/tmp/dmesg.log
	if grep -q -E "$BAD" $KMSG /tmp/dmesg.log; then
		echo "the kernel log shows errors:"
		grep -h -E -B 3 -A 25 "$BAD" $KMSG /tmp/dmesg.log | head -n 150
		return 1
	fi
}
