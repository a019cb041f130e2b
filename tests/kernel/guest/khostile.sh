# Guest suite: hostile input to konoha.ko (tests/kernel/test_khostile.py).
# /ktest/mutants/ holds 1,000 corrupted or random images made on the host
# (bit flips, truncations, random bytes, most with a recomputed digest so
# they reach the verifier); /ktest/images/khost_*.kbc are scripts that loop,
# allocate or recurse without bound. The host also checks, per kernel, that
# the log has no oops, BUG, WARNING or "scheduling while atomic".

KLOAD=/ktest/bin/kload
KDRIVE=/ktest/bin/kdrive
IMG=/ktest/images

expect_ops() {
	_want=$(printf '%b' "$3")
	# shellcheck disable=SC2086
	_got=$($KDRIVE op "$1" $2 2>&1)
	echo "$ kdrive op $1 $2"
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

kt_device_and_script_still_usable() {
	expect_ops /dev/khost_evil "open:r ioctl:100:0 read:100 close" \
		'open 0\nioctl 42\nread 15 "evil but alive\\n"\nclose 0' || return 1
	$KLOAD list | grep '^evil ' || { echo "evil is not listed"; return 1; }
}

kt_unload_evil() {
	run $KLOAD unload evil && allocs_are_zero "after unloading evil"
}

kt_rmmod_and_reload() {
	run rmmod konoha && run insmod /ktest/modules/konoha.ko &&
		run $KLOAD load -n again $IMG/khost_evil.kbc &&
		expect_ops /dev/khost_evil "open:r ioctl:100:0 close" 'open 0\nioctl 42\nclose 0' &&
		run rmmod konoha
}
