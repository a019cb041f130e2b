# Guest suite: hostile input to konoha.ko (tests/kernel/test_khostile.py).
# /ktest/mutants/ holds 1,000 corrupted or random images made on the host
# (bit flips, truncations, random bytes, most with a recomputed digest so
# they reach the verifier); /ktest/images/khost_*.kbc are scripts that loop,
# allocate or recurse without bound. The host also checks, per kernel, that
# the log has no oops, BUG, WARNING or "scheduling while atomic".

KLOAD=/ktest/bin/kload
KDRIVE=/ktest/bin/kdrive
IMG=/ktest/images

# expect_run WANT LABEL COMMAND...: COMMAND's output must be WANT
# (printf %b escapes); LABEL names the command in the case's output.
expect_run() {
	_want=$(printf '%b' "$1")
	_label=$2
	shift 2
	_got=$("$@" 2>&1)
	echo "$ $_label"
	if [ "$_got" = "$_want" ]; then
		echo "$_got"
		return 0
	fi
	echo "--- expected"
	echo "$_want"
	echo "--- got"
	echo "$_got"
	return 1
}

expect_ops() {
	# shellcheck disable=SC2086
	expect_run "$3" "kdrive op $1 $2" $KDRIVE op "$1" $2
}

allocs_are_zero() {
	n=$($KLOAD allocs) || { echo "$n"; return 1; }
	expect_eq "$n" 0 "live allocations of konoha.ko $1"
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_mutants_refused_or_clean() {
	set -- /ktest/mutants/*.kbc
	echo "$# images"
	$KDRIVE mass "$@"
}

kt_nothing_left_after_mutants() {
	left=$($KLOAD list | grep -v '^live_allocs')
	[ -z "$left" ] || { echo "scripts still loaded: $left"; return 1; }
	allocs_are_zero "after the mutants"
}

kt_malformed_requests() {
	$KDRIVE abuse $IMG/khost_evil.kbc && allocs_are_zero "after them"
}

kt_shared_upload_descriptor() {
	# One open file of /dev/konoha written by 4 processes at once, each
	# closing its copy (a load of what is there then): the buffer is
	# shared under a lock, each close fails cleanly or loads, and nothing
	# leaks.
	run $KDRIVE share -p 4 $IMG/khost_evil.kbc || return 1
	# a close that happened to take exactly one whole image loaded it
	$KLOAD unload khost_evil > /dev/null 2>&1
	left=$($KLOAD list | grep -v '^live_allocs')
	[ -z "$left" ] || { echo "scripts loaded: $left"; return 1; }
	allocs_are_zero "after the shared uploads"
}

kt_init_loops_forever() {
	out=$($KLOAD load -n hl -b 3000000 $IMG/khost_init_loop.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 22 "exit status (EINVAL) of a load whose init aborts" &&
		echo "$out" | grep -q 'abort: budget exceeded' &&
		allocs_are_zero "after the aborted init"
}

kt_init_allocates_without_bound() {
	out=$($KLOAD load -n ha -H 4194304 $IMG/khost_init_alloc.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 22 "exit status (EINVAL) of a load whose init aborts" &&
		echo "$out" | grep -q 'abort: out of memory' &&
		allocs_are_zero "after the aborted init"
}

kt_init_allocates_up_to_the_default_quota() {
	# The kernel's default quota (16 MiB) stops it too.
	out=$($KLOAD load -n ha2 $IMG/khost_init_alloc.kbc)
	rc=$?
	echo "$out" | head -n 3
	expect_eq "$rc" 22 "exit status (EINVAL)" &&
		echo "$out" | grep -q 'abort: out of memory' &&
		allocs_are_zero "after the aborted init"
}

kt_init_recurses_without_bound() {
	out=$($KLOAD load -n hr $IMG/khost_init_recurse.kbc)
	rc=$?
	echo "$out" | head -n 4
	expect_eq "$rc" 22 "exit status (EINVAL)" &&
		echo "$out" | grep -q 'abort: stack overflow' &&
		allocs_are_zero "after the aborted init"
}

kt_init_recurses_with_the_largest_depth() {
	# depth 100,000 frames: the frames are charged to the heap, or the
	# depth limit stops it; either way an abort, not a kernel problem.
	out=$($KLOAD load -n hr2 -d 100000 -b 50000000 $IMG/khost_init_recurse.kbc)
	rc=$?
	echo "$out" | head -n 4
	expect_eq "$rc" 22 "exit status (EINVAL)" &&
		echo "$out" | grep -q 'abort: ' &&
		allocs_are_zero "after the aborted init"
}

kt_load_evil_device() {
	run $KLOAD load -n evil -b 3000000 -H 8388608 $IMG/khost_evil.kbc
}

kt_huge_exception_message_is_cut() {
	# A report's first line holds the exception's message, here 3 MB:
	# the log shows the line's first 512 bytes ("IllegalStateException: "
	# and 489 of the message) and "...", and copying it for
	# the log asks the kernel for no impossible allocation (the boot's
	# log check finds no WARNING).  First after the load: the reports'
	# rate limit has room.
	expect_ops /dev/khost_evil "open:r ioctl:110:3000000 ioctl:100:0 close" \
		'open 0\nioctl -1 EIO\nioctl 42\nclose 0' || return 1
	dmesg | grep -q 'evil: IllegalStateException: m*\.\.\.$' ||
		{ echo "no cut report line"; dmesg | tail -n 5 | cut -c1-200; return 1; }
	n=$(dmesg | grep 'evil: IllegalStateException: m' | tail -n 1 | tr -cd m | wc -c)
	expect_eq "$n" 489 "m bytes of the logged message"
}

kt_callback_loops_forever() {
	expect_ops /dev/khost_evil "open:r ioctl:101:0 ioctl:100:0 ioctl:101:0 ioctl:100:0 close" \
		'open 0\nioctl -1 EIO\nioctl 42\nioctl -1 EIO\nioctl 42\nclose 0'
}

kt_callback_allocates_without_bound() {
	expect_ops /dev/khost_evil "open:r ioctl:102:0 ioctl:100:0 ioctl:104:0 ioctl:100:0 ioctl:105:1099511627776 ioctl:105:-1 ioctl:106:1099511627776 ioctl:106:100 ioctl:100:0 close" \
		'open 0\nioctl -1 EIO\nioctl 42\nioctl -1 EIO\nioctl 42\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl 100\nioctl 42\nclose 0'
}

kt_callback_recurses_without_bound() {
	expect_ops /dev/khost_evil "open:r ioctl:103:0 ioctl:100:0 ioctl:108:0 ioctl:100:0 close" \
		'open 0\nioctl -1 EIO\nioctl 42\nioctl -1 EIO\nioctl 42\nclose 0'
}

kt_aborts_are_reported() {
	for want in 'abort: budget exceeded' 'abort: out of memory' 'abort: stack overflow'; do
		dmesg | grep 'evil' | grep -q "$want" ||
			{ echo "no '$want' for evil in the kernel log"; dmesg | tail -n 20; return 1; }
		echo "logged: $want"
	done
}

kt_sleeping_callback_ends_on_a_signal() {
	# A callback sleeping 10 s holds the script; a signal ends the sleep.
	# (SIGTERM: a non-interactive shell starts background jobs with SIGINT
	# ignored.)
	$KDRIVE op /dev/khost_evil open:r ioctl:107:10000 close > /tmp/sleep.out 2>&1 &
	pid=$!
	usleep 300000
	kill -TERM $pid 2>/dev/null
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 30 ]; do
		usleep 100000
		i=$((i + 1))
	done
	if kill -0 $pid 2>/dev/null; then
		echo "the sleeping caller is still there 3 s after SIGTERM"
		kill -KILL $pid
		return 1
	fi
	wait $pid
	cat /tmp/sleep.out
	echo "the sleep ended $((i * 100 + 300)) ms after it began (at most)"
	expect_ops /dev/khost_evil "open:r ioctl:100:0 read:100 close" \
		'open 0\nioctl 42\nread 15 "evil but alive\\n"\nclose 0'
}

kt_reports_are_rate_limited() {
	# 40 callbacks that end in a stack overflow (a thousand frames each)
	# in a row: the log gets at most 10 reports per 5 s per script, each
	# cut to 16 frames and a count of the rest.
	before=$(dmesg | grep -c 'evil')
	ops="open:r"
	i=0
	while [ $i -lt 40 ]; do
		ops="$ops ioctl:103:0"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	$KDRIVE op /dev/khost_evil $ops close | sort | uniq -c
	after=$(dmesg | grep -c 'evil')
	echo "log lines about evil: $((after - before))"
	dmesg | grep 'evil' | grep -q 'more frames' ||
		{ echo "no cut report in the log"; return 1; }
	if [ $((after - before)) -gt 200 ]; then
		echo "more than 200 lines: the reports were not limited"
		return 1
	fi
}

kt_device_and_script_still_usable() {
	expect_ops /dev/khost_evil "open:r ioctl:100:0 read:100 close" \
		'open 0\nioctl 42\nread 15 "evil but alive\\n"\nclose 0' || return 1
	$KLOAD list | grep '^evil ' || { echo "evil is not listed"; return 1; }
}

kt_unload_evil() {
	run $KLOAD unload evil && allocs_are_zero "after unloading evil"
}

# ---- a script's device in the hands of an unprivileged user --------------
# (tests/kernel/scripts/khost_user.k; user 1000 through kdrive -u)

# now_cs: centiseconds since boot, from /proc/uptime.
now_cs() {
	read -r _up _idle < /proc/uptime
	echo "${_up%.*}${_up#*.}" | sed 's/^0*//;s/^$/0/'
}

# expect_user_ops DEV "OP..." "EXPECTED": kdrive op as user 1000, within
# 60 s (a system call that restarts forever must not hang the suite).
expect_user_ops() {
	# shellcheck disable=SC2086
	expect_run "$3" "kdrive -u 1000 op $1 $2" timeout 60 $KDRIVE -u 1000 op "$1" $2
}

# wait_for_line FILE TEXT: up to 10 s for a line TEXT in FILE.
wait_for_line() {
	_i=0
	while ! grep -qx "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ]; then
			echo "no '$2' in $1 after 10 s:"
			cat "$1"
			return 1
		fi
		usleep 50000
	done
}

kt_squatting_a_node_is_eexist() {
	# /dev/null, /dev/zero ... belong to other drivers: every name is
	# refused with EEXIST (17), the uncaught last one fails the load.
	out=$($KLOAD load -n squat $IMG/khost_squat.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 17 "exit status (EEXIST) of the squatting load" || return 1
	for n in zero tty kmsg console; do
		m="refused $n errno 17: /dev/$n already exists"
		echo "$out" | grep -q "$m" ||
			dmesg | grep -q "squat: $m" ||
			{ echo "no '$m'"; return 1; }
	done
	for n in null zero tty kmsg console; do
		if [ -e /sys/class/konoha/$n ]; then
			echo "/sys/class/konoha/$n was left behind"
			return 1
		fi
	done
	ls -l /dev/null
	case "$(ls -l /dev/null)" in
	crw-rw-rw-*" 1,"*" 3 "*) ;;
	*) echo "/dev/null is no longer the mem driver's 1:3"; return 1 ;;
	esac
	echo data > /dev/null || return 1
	$KLOAD list | grep '^squat ' && { echo "squat is listed"; return 1; }
	allocs_are_zero "after the refused squat"
}

kt_mode_zero_is_einval() {
	out=$($KLOAD load -n mode0 $IMG/khost_mode0.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 22 "exit status (EINVAL) of a load registering mode 0" || return 1
	echo "$out" | grep -q 'invalid device mode' ||
		{ echo "the message does not say 'invalid device mode'"; return 1; }
	if [ -e /dev/khost_mode0 ] || [ -e /sys/class/konoha/khost_mode0 ]; then
		echo "the mode-0 device was created"
		return 1
	fi
	allocs_are_zero "after the refused mode 0"
}

kt_budget_has_an_upper_bound() {
	# 10^10 instructions is the largest budget; one more is refused.
	out=$($KLOAD load -n bigbudget -b 10000000001 $IMG/khost_user.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 22 "exit status (EINVAL) of a budget of 10^10 + 1" || return 1
	echo "$out" | grep -q 'limits out of range (budget <= 10000000000' ||
		{ echo "no message naming the largest budget"; return 1; }
	[ ! -e /dev/khost_user ] || { echo "/dev/khost_user exists"; return 1; }
	run $KLOAD load -n bigbudget -b 10000000000 $IMG/khost_user.kbc &&
		run $KLOAD unload bigbudget && allocs_are_zero "after the budgets"
}

kt_load_user_device() {
	run $KLOAD load -n user -b 5000000 $IMG/khost_user.kbc || return 1
	ls -l /dev/khost_user
}

kt_poll_null_queue() {
	# PollTable.wait(null) from user 1000: a NullPointerException that
	# fails the poll with POLLERR and is logged; the next poll and open
	# find the script free.
	expect_user_ops /dev/khost_nullpoll "open poll poll close" \
		'open 0\npoll 8\npoll 8\nclose 0' || return 1
	dmesg | grep -q 'konoha: user: NullPointerException: null dereference' ||
		{ echo "no NullPointerException report in the log"; return 1; }
}

kt_kernel_errnos_become_eio() {
	# 512 (ERESTARTSYS) would restart the call forever, 514 and up are
	# not errnos; 134 is past the last one (133): all EIO. From a
	# DeviceError of any callback, and from an ioctl result whose int
	# (what ioctl(2) returns) is in -4095..-1: 8589934080 = 2^33 - 512.
	expect_user_ops /dev/khost_user "open ioctl:104:512 ioctl:104:514 ioctl:104:516 ioctl:104:134 ioctl:104:133 ioctl:104:5000 ioctl:104:-512 ioctl:105:-512 ioctl:105:-514 ioctl:105:-516 ioctl:105:-134 ioctl:105:-133 ioctl:105:-4095 ioctl:105:8589934080 ioctl:105:-4096 ioctl:105:-22 close" \
		'open 0\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EHWPOISON\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EHWPOISON\nioctl -1 EIO\nioctl -1 EIO\nioctl -4096\nioctl -1 EINVAL\nclose 0' || return 1
	for e in 512 514 516 134; do
		expect_user_ops /dev/khost_user "open ioctl:101:$e tryopen read:10 write:x ioctl:101:0 read:10 close" \
			'open 0\nioctl 0\ntryopen -1 EIO\nread -1 EIO\nwrite -1 EIO\nioctl 0\nread 8 "user ok\\n"\nclose 0' || return 1
	done
}

kt_deverror_lines_are_rate_limited() {
	# (1.1) every DeviceError of a callback logs a line: 60 in a row from
	# user 1000 reach the log at most 10 per 5 s per script (log_rs, as
	# the reports of failed callbacks), so a user cannot flood the log.
	# The case before logged many: start with a fresh window.
	sleep 5
	before=$(dmesg | grep -c 'khost_user: ioctl: DeviceError(EINVAL): errno 22')
	ops="open"
	want='open 0'
	i=0
	while [ $i -lt 60 ]; do
		ops="$ops ioctl:104:22"
		want="$want\nioctl -1 EINVAL"
		i=$((i + 1))
	done
	expect_user_ops /dev/khost_user "$ops close" "$want\nclose 0" ||
		return 1
	after=$(dmesg | grep -c 'khost_user: ioctl: DeviceError(EINVAL): errno 22')
	echo "DeviceError lines logged: $((after - before)) of 60"
	[ $((after - before)) -ge 1 ] || { echo "no DeviceError line"; return 1; }
	if [ $((after - before)) -gt 30 ]; then
		echo "more than 30 lines: DeviceError lines were not limited"
		return 1
	fi
}

kt_compat_ioctl_for_32bit_callers() {
	# int $0x80 from kdrive: the i386 ioctl, through compat_ioctl. The
	# argument is an int sign-extended from 32 bits (103: 1 if negative).
	expect_user_ops /dev/khost_user "open ioctl32:100:0 ioctl32:102:21 ioctl32:103:-1 ioctl32:103:5 ioctl32:105:-100000 ioctl32:105:-512 ioctl32:104:516 ioctl32:104:28 ioctl32:199:0 close" \
		'open 0\nioctl32 42\nioctl32 42\nioctl32 1\nioctl32 0\nioctl32 -100000\nioctl32 -1 EIO\nioctl32 -1 EIO\nioctl32 -1 ENOSPC\nioctl32 -1 ENOTTY\nclose 0'
}

kt_callback_prints_are_rate_limited() {
	# 3 x 2000 lines printed by callbacks that user 1000 triggers: the
	# log takes at most 200 per 5 s per script (KONOHA_PRINT_BURST), so
	# an unprivileged user cannot flood it through a script's print().
	before=$(dmesg | grep -c 'user: flood ')
	expect_user_ops /dev/khost_user "open ioctl:108:2000 ioctl:108:2000 ioctl:108:2000 close" \
		'open 0\nioctl 2000\nioctl 2000\nioctl 2000\nclose 0' || return 1
	after=$(dmesg | grep -c 'user: flood ')
	echo "flood lines logged: $((after - before)) of 6000"
	[ $((after - before)) -ge 1 ] || { echo "no print reached the log"; return 1; }
	if [ $((after - before)) -gt 600 ]; then
		echo "more than 600 lines: callback prints were not limited"
		return 1
	fi
}

kt_one_print_of_many_lines_is_cut_short() {
	# One print of 4,000,000 empty lines (charged a unit per 64 bytes):
	# once the limit refuses a line, the rest of that print is dropped
	# at once, not offered to the limit line by line (millions of
	# limiter calls for a few thousand units).  The first line let
	# through in a later 5 s interval comes after a count of the lines
	# refused, with the script's name: a handful of lines.  The
	# DeviceError lines refused in kt_deverror_lines_are_rate_limited
	# (and after it) are counted the same way, as reports.
	sleep 6
	expect_user_ops /dev/khost_user "open ioctl:109:4000000 close" \
		'open 0\nioctl 4000000\nclose 0' || return 1
	sleep 6
	expect_user_ops /dev/khost_user "open ioctl:108:1 ioctl:104:22 close" \
		'open 0\nioctl 1\nioctl -1 EINVAL\nclose 0' || return 1
	n=$(dmesg | grep 'konoha: user: print lines suppressed: [0-9]*$' |
		tail -n 1 | sed 's/.*suppressed: //')
	echo "lines refused by the limit: $n"
	[ -n "$n" ] && [ "$n" -le 1000 ] ||
		{ echo "the limit was asked about every line"; return 1; }
	n=$(dmesg | grep 'konoha: user: reports suppressed: [0-9]*$' |
		sed 's/.*suppressed: //' | sort -n | tail -n 1)
	echo "DeviceError lines refused: $n"
	[ -n "$n" ] && [ "$n" -ge 30 ] ||
		{ echo "no count of the refused DeviceError lines"; return 1; }
	if dmesg | grep -Eq 'host_(output|log): [0-9]+ callbacks suppressed'; then
		echo "a count of refused lines without the script's name:"
		dmesg | grep -E 'host_(output|log): [0-9]+ callbacks suppressed'
		return 1
	fi
}

kt_sigkill_while_waiting_for_the_script() {
	# A (user 1000) holds the script's lock for 10 s in a sleeping ioctl.
	# B (user 1000) opened before, then waits for the lock in an ioctl;
	# SIGKILL must end B at once: its exit's release(2) must not wait
	# for A (it is handed to a work item that runs it after A).  A has
	# about 6 s left at the kill: B ending within 2.5 s tells the two
	# apart on a loaded host too.
	: > /tmp/a.out
	$KDRIVE -u 1000 op /dev/khost_user open:r sleep:3000 ioctl:100:0 close > /tmp/b.out 2>&1 &
	b=$!
	wait_for_line /tmp/b.out 'open 0' || return 1
	$KDRIVE -u 1000 op /dev/khost_user open:r ioctl:107:10000 close > /tmp/a.out 2>&1 &
	a=$!
	wait_for_line /tmp/a.out 'open 0' || return 1
	# B's ioctl begins 3 s after its open, while A sleeps
	usleep 4000000
	t0=$(now_cs)
	kill -KILL $b
	wait $b
	t1=$(now_cs)
	echo "B ended $(((t1 - t0) * 10)) ms after SIGKILL"
	rc=0
	if [ $((t1 - t0)) -gt 250 ]; then
		echo "B took more than 2.5 s to die: it waited for A"
		rc=1
	fi
	wait $a
	echo "A:"
	cat /tmp/a.out
	expect_eq "$(cat /tmp/a.out)" "$(printf 'open 0\nioctl 7\nclose 0')" "A's calls" || rc=1
	# B's release ran (after A): only the file below is open.
	usleep 200000
	expect_user_ops /dev/khost_user "open:r ioctl:106:0 close" 'open 0\nioctl 1\nclose 0' || rc=1
	return $rc
}

kt_unload_waiting_for_a_script_blocks_no_load() {
	# While A holds the script's lock, an unload of it waits; loads of
	# other scripts must go on meanwhile.
	$KDRIVE -u 1000 op /dev/khost_user open:r ioctl:107:6000 close > /tmp/a.out 2>&1 &
	a=$!
	usleep 1000000
	$KLOAD unload user > /tmp/u.out 2>&1 &
	u=$!
	usleep 500000
	t0=$(now_cs)
	run $KLOAD load -n other $IMG/khost_evil.kbc
	rc=$?
	run $KLOAD unload other || rc=1
	t1=$(now_cs)
	echo "load and unload of another script: $(((t1 - t0) * 10)) ms"
	if [ $((t1 - t0)) -gt 200 ]; then
		echo "they waited for the busy script"
		rc=1
	fi
	wait $a
	wait $u
	echo "the waiting unload: $(cat /tmp/u.out)"
	# it got the lock before or after A's close: EBUSY or unloaded
	if $KLOAD list | grep -q '^user '; then
		run $KLOAD unload user || rc=1
	fi
	allocs_are_zero "after unloading user" || rc=1
	return $rc
}

kt_concurrent_loads_of_one_name() {
	# 3 processes load one name at once, 5 times: exactly one wins each
	# time, the others fail with EEXIST without running the init (the
	# name is taken before it runs); nothing leaks.
	rc=0
	for round in 1 2 3 4 5; do
		before=$(dmesg | grep -c 'race: init of the race runs')
		for p in 1 2 3; do
			$KLOAD load -n race $IMG/khost_race.kbc > /tmp/race.$p 2>&1 &
			eval "pid$p=\$!"
		done
		won=0
		for p in 1 2 3; do
			eval "wait \$pid$p"
			st=$?
			case $st in
			0) won=$((won + 1)) ;;
			17) ;;
			*) echo "round $round: load $p: exit $st"; cat /tmp/race.$p; rc=1 ;;
			esac
		done
		echo "round $round: $won of 3 loads won"
		[ $won -eq 1 ] || rc=1
		inits=$(($(dmesg | grep -c 'race: init of the race runs') - before))
		expect_eq "$inits" 1 "inits run in round $round" || rc=1
		n=$($KLOAD list | grep -c '^race ')
		expect_eq "$n" 1 "scripts named race after round $round" || rc=1
		[ -e /dev/khost_race ] || { echo "no /dev/khost_race"; rc=1; }
		run $KLOAD unload race || rc=1
		[ -e /sys/class/konoha/khost_race ] &&
			{ echo "/sys/class/konoha/khost_race left behind"; rc=1; }
		allocs_are_zero "after round $round" || rc=1
		[ $rc -eq 0 ] || return 1
	done
}

kt_deep_tree_by_a_user() {
	# Root loads a 0666 device; user 1000 grows a 20-level tree and reads
	# it rendered through toString and Array.join (a native re-entry of
	# the interpreter per level): the read succeeds or fails with EIO
	# ("abort: stack overflow" logged); the kernel log stays clean.
	run $KLOAD load -n tree $IMG/khost_tree.kbc || return 1
	ops="open:w"
	i=1
	while [ $i -le 20 ]; do
		ops="$ops write:n$i"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	out=$(timeout 60 $KDRIVE -u 1000 op /dev/khost_tree $ops close)
	echo "$out" | sort | uniq -c
	[ "$(echo "$out" | grep -c '^write 2$')" -eq 9 ] &&
		[ "$(echo "$out" | grep -c '^write 3$')" -eq 11 ] ||
		{ echo "the 20 writes did not all succeed"; return 1; }
	out=$(timeout 60 $KDRIVE -u 1000 op /dev/khost_tree open:r read:4096 close)
	echo "$out" | cut -c 1-200
	rc=0
	case "$out" in
	*'read -1 EIO'*)
		dmesg | grep 'tree' | grep -q 'abort: stack overflow' ||
			{ echo "EIO without 'abort: stack overflow' in the log"; rc=1; } ;;
	*'read '*'"root(n1(n2(n3('*) ;;
	*) echo "neither the tree nor EIO"; rc=1 ;;
	esac
	run $KLOAD unload tree || rc=1
	allocs_are_zero "after unloading tree" || rc=1
	return $rc
}

kt_stack_left_at_the_deepest_nesting() {
	# Trees of 12 to 20 levels, each read once (up to 16 native levels of
	# the interpreter, then "stack overflow"): the least kernel stack any
	# call had left where the VM looked stays above the guard's reserve
	# less what one level below the check may take.
	rc=0
	for depth in 12 14 15 20; do
		run $KLOAD load -n tree $IMG/khost_tree.kbc || return 1
		ops="open:w"
		i=1
		while [ $i -le $depth ]; do
			ops="$ops write:n$i"
			i=$((i + 1))
		done
		# shellcheck disable=SC2086
		$KDRIVE -u 1000 op /dev/khost_tree $ops close > /dev/null
		$KDRIVE -u 1000 op /dev/khost_tree open:r read:65536 close | cut -c 1-60
		run $KLOAD unload tree || rc=1
		left=$(cat /sys/module/konoha/parameters/stack_min_left)
		echo "depth $depth: least stack left so far $left bytes"
	done
	if [ "$left" -lt 3072 ]; then
		echo "less than 3 KiB of the kernel stack was left"
		rc=1
	fi
	return $rc
}

kt_sigkill_ends_a_running_callback() {
	# User 1000 runs a callback that would run until a budget of 10^9
	# (minutes under emulation); SIGKILL must end it at the next poll.
	run $KLOAD load -n spin -b 1000000000 $IMG/khost_spin.kbc || return 1
	: > /tmp/spin.out
	$KDRIVE -u 1000 op /dev/khost_spin open:r ioctl:1:0 close > /tmp/spin.out 2>&1 &
	p=$!
	wait_for_line /tmp/spin.out 'open 0' || return 1
	usleep 1000000
	kill -0 $p 2>/dev/null || { echo "the callback ended by itself"; cat /tmp/spin.out; return 1; }
	t0=$(now_cs)
	kill -KILL $p
	wait $p
	t1=$(now_cs)
	echo "the spinning caller ended $(((t1 - t0) * 10)) ms after SIGKILL"
	rc=0
	if [ $((t1 - t0)) -gt 50 ]; then
		echo "more than 500 ms: the call did not poll for the signal"
		rc=1
	fi
	dmesg | grep 'spin' | grep -q 'abort: killed' ||
		{ echo "no 'abort: killed' in the log"; dmesg | tail -n 5; rc=1; }
	# the device goes on: another caller's read works
	expect_ops /dev/khost_spin "open:r read:100 close" \
		'open 0\nread 7 "spin 1\\n"\nclose 0' || rc=1
	run $KLOAD unload spin || rc=1
	return $rc
}

kt_rmmod_and_reload() {
	run rmmod konoha && run insmod /ktest/modules/konoha.ko &&
		run $KLOAD load -n again $IMG/khost_evil.kbc &&
		expect_ops /dev/khost_evil "open:r ioctl:100:0 close" 'open 0\nioctl 42\nclose 0' &&
		run rmmod konoha
}
