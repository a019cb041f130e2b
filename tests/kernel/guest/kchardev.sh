# Guest suite: CharDevices that wait, poll and run timers in konoha.ko
# (tests/kernel/test_kchardev.py; the language reference §9.1, §9.2).
# Images in /ktest/images/: examples/fifo.k as fifo.kbc (/dev/fifo) and
# tests/kernel/scripts/kwait*.k; /ktest/bin/kchwait drives them and checks
# every answer (tests/kernel/guest/kchwait.c), /ktest/bin/kchr is the
# chardev benchmark's FIFO checker, /ktest/bin/kload loads and unloads.
# /ktest/kchardev.env sets EXCHANGES, the blocking exchanges per process.
#
# The cases run in order: the scripts loaded by load_scripts stay loaded
# until the unload cases at the end.

KLOAD=/ktest/bin/kload
KCH=/ktest/bin/kchwait
IMG=/ktest/images
EXCHANGES=10000
# shellcheck disable=SC1091
[ -f /ktest/kchardev.env ] && . /ktest/kchardev.env

# wait_log PATTERN SECONDS: until the kernel log has PATTERN.
wait_log() {
	_i=0
	while ! dmesg | grep -q "$1"; do
		_i=$((_i + 1))
		if [ $_i -gt $(($2 * 10)) ]; then
			echo "no '$1' in the kernel log after $2 s"
			dmesg | tail -n 20
			return 1
		fi
		sleep 0.1
	done
}

allocs_are_zero() {
	n=$($KLOAD allocs) || { echo "$n"; return 1; }
	expect_eq "$n" 0 "live allocations of konoha.ko $1"
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_load_scripts() {
	# kwait's KW_SPIN runs until SIGKILL: the largest budget accepted.
	run $KLOAD load -n fifo $IMG/fifo.kbc &&
		run $KLOAD load -n kwait -b 10000000000 $IMG/kwait.kbc &&
		run $KLOAD load -n kwait_timer $IMG/kwait_timer.kbc &&
		wait_log 'kwait: kwait ready' 5 &&
		ls -l /dev/fifo /dev/kwait /dev/kwait_file /dev/kwait_bad \
			/dev/kwait_old /dev/kwtimer
}

kt_reader_blocked_until_writer() {
	run $KCH block /dev/kwait && run $KCH block /dev/fifo || return 1
	# the same from the shell: dd sleeps in read(2) until echo writes
	dd if=/dev/fifo bs=64 count=1 of=/tmp/fifo.out 2>/dev/null &
	reader=$!
	sleep 1
	if ! kill -0 $reader 2>/dev/null; then
		echo "the reader did not block"
		return 1
	fi
	echo hello > /dev/fifo || return 1
	wait $reader || { echo "reader exit status $?"; return 1; }
	expect_eq "$(cat /tmp/fifo.out)" "hello" "what the blocked dd read"
}

kt_poll_readiness_and_wakeup() {
	run $KCH poll /dev/kwait && run $KCH poll /dev/fifo
}

kt_select_readiness_and_wakeup() {
	run $KCH select /dev/kwait && run $KCH select /dev/fifo
}

kt_epoll_readiness_and_wakeup() {
	run $KCH epoll /dev/kwait && run $KCH epoll /dev/fifo
}

kt_per_file_queues_collected() {
	run $KCH perfile /dev/kwait /dev/kwait_file
}

kt_nonblock_eagain() {
	run $KCH nonblock /dev/kwait && run $KCH nonblock /dev/fifo
}

kt_fifo_contract() {
	# examples/fifo.k against the checks its C peer kref_fifo passes:
	# EAGAIN both ways, poll masks, the 64 KiB bound, order, a blocked
	# read and a blocked poll woken by a writer, EINTR.
	run /ktest/bin/kchr fifocheck /dev/fifo
}

kt_sigint_during_await_eintr() {
	run $KCH sigint /dev/kwait || return 1
	# an InterruptedException that fails a call is not logged
	if dmesg | grep -q InterruptedException; then
		dmesg | grep InterruptedException
		return 1
	fi
}

kt_sigint_sa_restart_transparent() {
	run $KCH restart /dev/kwait
}

kt_interrupted_exception_caught() {
	run $KCH catch /dev/kwait
}

kt_wakeone_wakes_one() {
	run $KCH wakeone /dev/kwait
}

kt_wakeone_wakes_waiter_behind_epollexclusive() {
	run $KCH wakeone_excl /dev/kwait
}

kt_open_waits_sigint_eintr() {
	run $KCH gate /dev/kwait /dev/kwait_gate
}

kt_awaitfor_timeout_false() {
	run $KCH awaitfor /dev/kwait
}

kt_await_outside_cannot_wait_here() {
	run $KCH outside /dev/kwait /dev/kwait_bad /dev/kwait_old || return 1
	# the refusals that fail a callback or a timer are logged reports
	dmesg | grep -q "kwait: IllegalStateException: cannot wait here" ||
		{ echo "no 'cannot wait here' report in the log"; return 1; }
	for frame in Bad.seek Bad.poll Old.read '<init>.lambda@'; do
		dmesg | grep -q "kwait:   at $frame" ||
			{ echo "no report with a frame $frame in the log"; return 1; }
	done
}

kt_sigkill_waiting_process() {
	run $KCH killwait /dev/kwait && run $KCH killwait /dev/fifo
}

kt_sigkill_running_process() {
	run $KCH killrun /dev/kwait || return 1
	dmesg | grep -q "abort: killed" ||
		{ echo "no 'abort: killed' report in the log"; return 1; }
}

kt_sigkill_sleeping_process() {
	# the callback aborts in System.sleep: nothing after it runs
	run $KCH killsleep /dev/kwait || return 1
	sleep 1
	if dmesg | grep -q "slept to the end"; then
		echo "the callback ran on after the kill"
		return 1
	fi
}

kt_exchanges_8_processes() {
	# 8 processes x EXCHANGES blocking read+write exchanges of 16-byte
	# messages through /dev/fifo, 3 messages in flight (so at least 5
	# processes wait in read at any time); every message read once.
	echo "EXCHANGES=$EXCHANGES"
	run $KCH exchange -p 8 -n "$EXCHANGES" -t 3 /dev/fifo
}

kt_periodic_timer_count() {
	# every(20) for about 2 s of the clock: at most one tick per period,
	# at least half of them under emulation; a reader woken by a tick.
	run $KCH timer /dev/kwtimer 20 2000
}

kt_short_period_timer_count() {
	# every(2), under a jiffy (4 ms at HZ=250): the delayed work wakes
	# late, and the periods it missed run then, so the count keeps up
	# with the clock as for a long period.
	run $KCH timer /dev/kwtimer 2 2000
}

# kwait_open_files: the open files of the script kwait (kload list).
kwait_open_files() {
	$KLOAD list | sed -n 's/^kwait devices=.* open=\([0-9]*\)$/\1/p'
}

# wait_open_files N: until the script kwait has N open files (5 s).
wait_open_files() {
	_i=0
	while [ "$(kwait_open_files)" != "$1" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 50 ]; then
			echo "kwait has $(kwait_open_files) open files, want $1"
			return 1
		fi
		sleep 0.1
	done
}

# wait_ioctl CMD WANT: until ioctl CMD of /dev/kwait (a counter of the
# script: 0x770f opens waiting, 0x7710 callbacks waiting) answers WANT.
wait_ioctl() {
	_i=0
	while [ "$($KLOAD ioctl /dev/kwait "$1" 0)" != "$2" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ]; then
			echo "ioctl $1 of /dev/kwait answers $($KLOAD ioctl /dev/kwait "$1" 0), want $2"
			return 1
		fi
		sleep 0.1
	done
}

kt_unload_busy_while_waiting() {
	wait_open_files 0 || return 1
	# a reader waiting in read(2): its file is open (the count of waiting
	# callbacks is relative: a killed waiter is never counted off)
	w0=$($KLOAD ioctl /dev/kwait 0x7710 0)
	dd if=/dev/kwait bs=16 count=1 of=/tmp/kwait.out 2>/dev/null &
	reader=$!
	wait_open_files 1 && wait_ioctl 0x7710 $((w0 + 1)) ||
		{ echo wake > /dev/kwait; return 1; }
	kill -0 $reader 2>/dev/null || { echo "the reader did not block"; return 1; }
	out=$($KLOAD unload kwait)
	rc=$?
	echo "reader waiting: $out"
	echo wake > /dev/kwait
	wait $reader || { echo "the reader failed"; return 1; }
	expect_eq "$rc" 16 "kload unload kwait while a reader waits (EBUSY)" ||
		return 1
	expect_eq "$(cat /tmp/kwait.out)" "wake" "what the reader got" || return 1
	# an open(2) waiting in the script's open: no file yet, still EBUSY
	cat /dev/kwait_gate > /dev/null &
	opener=$!
	wait_ioctl 0x770f 1 &&
		expect_eq "$(kwait_open_files)" 0 "open files of kwait" ||
		{ kill $opener; return 1; }
	out=$($KLOAD unload kwait)
	rc=$?
	echo "open waiting: $out"
	$KLOAD ioctl /dev/kwait 0x770e 1 > /dev/null
	wait $opener || { echo "the waiting open failed"; return 1; }
	expect_eq "$rc" 16 "kload unload kwait while an open waits (EBUSY)" &&
		ls -l /dev/kwait /dev/kwait_gate
}

kt_unload_with_active_timers() {
	# kwait_timer's init keeps a 5 ms timer running: the unload stops it
	run $KLOAD unload kwait_timer || return 1
	[ ! -e /dev/kwtimer ] || { echo "/dev/kwtimer is still there"; return 1; }
	# load and unload cycles, each with the 5 ms timer active: some of the
	# unloads find the timer's work running or waiting for the lock
	i=0
	while [ $i -lt 20 ]; do
		$KLOAD load -n kwt$i $IMG/kwait_timer.kbc > /tmp/kwt.out 2>&1 ||
			{ cat /tmp/kwt.out; return 1; }
		[ $((i % 2)) -eq 0 ] && sleep 0.05
		$KLOAD unload kwt$i > /tmp/kwt.out 2>&1 ||
			{ cat /tmp/kwt.out; return 1; }
		i=$((i + 1))
	done
	echo "$i load/unload cycles with an active timer"
}

kt_unload_while_timer_callback_runs() {
	# kwait_spin's timer runs 1.5 s of the clock at a time and starts
	# itself again; the unload waits for the run in progress.
	run $KLOAD load -n kwait_spin $IMG/kwait_spin.kbc || return 1
	wait_log 'kwait_spin: spin start 1' 20 || return 1
	run $KLOAD unload kwait_spin || return 1
	last=$(dmesg | sed -n 's/.*kwait_spin: spin start \([0-9]*\).*/\1/p' | tail -n 1)
	dmesg | grep -q "kwait_spin: spin end $last\$" ||
		{ echo "run $last did not end before the unload returned"; return 1; }
	sleep 2
	now=$(dmesg | sed -n 's/.*kwait_spin: spin start \([0-9]*\).*/\1/p' | tail -n 1)
	expect_eq "$now" "$last" "the last timer run, 2 s after the unload" &&
		echo "unloaded after run $last ended; none started since"
}

kt_failed_init_timers_never_fire() {
	out=$($KLOAD load -n kwait_badinit $IMG/kwait_badinit.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 19 "kload load kwait_badinit (ENODEV)" || return 1
	sleep 1
	if dmesg | grep -q "badinit.*timer fired"; then
		dmesg | grep "badinit.*timer fired"
		return 1
	fi
	echo "no timer of the failed init fired in 1 s"
}

kt_slow_init_timers_start_at_its_end() {
	# every(10) armed in an init that then holds the script for 900 ms:
	# its first run is due 10 ms after the init's end, so just after the
	# load it has run a few times (the time kload takes to answer and to
	# start again), not the init's 90 periods in a burst.
	run $KLOAD load -n kwait_slowinit $IMG/kwait_slowinit.kbc || return 1
	n=$($KLOAD ioctl /dev/kwslow 0x7701 0)
	echo "runs just after the load: $n"
	[ -n "$n" ] && [ "$n" -lt 45 ] ||
		{ echo "the init's periods ran in a burst"; return 1; }
	sleep 1
	n=$($KLOAD ioctl /dev/kwslow 0x7702 0)
	echo "runs 1 s later: $n"
	[ "$n" -ge 20 ] ||
		{ echo "want 20 runs or more of a 10 ms timer in 1 s"; return 1; }
	run $KLOAD unload kwait_slowinit
}

kt_unload_all_and_rmmod() {
	run $KLOAD unload kwait && run $KLOAD unload fifo || return 1
	allocs_are_zero "after every script is unloaded" || return 1
	# rmmod with scripts still loaded, one timer active (kwt) and one
	# timer's function running (kwait_spin): the module stops and waits
	# for them as it drops the scripts
	run $KLOAD load -n kwt $IMG/kwait_timer.kbc &&
		run $KLOAD load -n kwait_spin $IMG/kwait_spin.kbc || return 1
	before=$(dmesg | grep -c 'kwait_spin: spin start')
	_i=0
	while [ "$(dmesg | grep -c 'kwait_spin: spin start')" -le "$before" ]; do
		_i=$((_i + 1))
		[ $_i -le 200 ] || { echo "the timer did not start in 20 s"; return 1; }
		sleep 0.1
	done
	run rmmod konoha || return 1
	# every run that started (of both loads of kwait_spin) has ended
	starts=$(dmesg | grep -c 'kwait_spin: spin start')
	ends=$(dmesg | grep -c 'kwait_spin: spin end')
	expect_eq "$ends" "$starts" "timer runs ended, of those started" ||
		return 1
	if dmesg | grep -q "still allocated"; then
		dmesg | grep "still allocated"
		return 1
	fi
	echo "rmmod with two scripts loaded: $starts timer runs, all ended; nothing leaked"
}
