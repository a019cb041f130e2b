# Guest suite: scripted drivers in konoha.ko (tests/kernel/test_kdrivers.py).
# Images compiled on the host from tests/kernel/scripts/kdrv_*.k are in
# /ktest/images/; kload (load/unload/list) and kdrive (system calls on a
# device, stress, load cycles) are in /ktest/bin/.
#
# The cases run in order and share the state of /dev/kdrv_ops: the counts
# of opens in the expected outputs follow from the cases before.

KLOAD=/ktest/bin/kload
KDRIVE=/ktest/bin/kdrive
IMG=/ktest/images

# expect_ops DEV "OP..." "EXPECTED LINES": run kdrive op, compare its output.
expect_ops() {
	_dev=$1
	_ops=$2
	_want=$(printf '%b' "$3")
	# shellcheck disable=SC2086
	_got=$($KDRIVE op "$_dev" $_ops 2>&1)
	if [ "$_got" = "$_want" ]; then
		echo "$ kdrive op $_dev $_ops"
		echo "$_got"
		return 0
	fi
	echo "$ kdrive op $_dev $_ops"
	echo "--- expected"
	echo "$_want"
	echo "--- got"
	echo "$_got"
	return 1
}

# expect_status WANT CMD...: run CMD, show its output, check its exit status.
expect_status() {
	_want=$1
	shift
	echo "\$ $*"
	"$@"
	_rc=$?
	if [ "$_rc" -ne "$_want" ]; then
		echo "exit status $_rc, expected $_want: $*"
		return 1
	fi
}

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

allocs_are_zero() {
	n=$($KLOAD allocs) || { echo "$n"; return 1; }
	expect_eq "$n" 0 "live allocations of konoha.ko $1"
}

kt_no_allocations_after_insmod() {
	allocs_are_zero "right after insmod"
}

kt_non_root_cannot_load() {
	rc=0
	# /dev/konoha is 0600: user 1000 cannot open it ...
	out=$($KDRIVE -u 1000 load nr $IMG/kdrv_cycle.kbc)
	echo "user 1000 opens the 0600 node: $out"
	case "$out" in
	*EACCES*) ;;
	*) echo "expected EACCES"; rc=1 ;;
	esac
	# ... a descriptor opened by root and passed on does not help (kload
	# opens as root, then drops to user 1000) ...
	expect_status 1 $KLOAD -u 1000 load -n nr $IMG/kdrv_cycle.kbc || rc=1
	# ... and with the node opened up, the module checks CAP_SYS_ADMIN.
	chmod 0666 /dev/konoha
	out=$($KDRIVE -u 1000 load nr $IMG/kdrv_cycle.kbc)
	echo "user 1000 with the node 0666: $out"
	case "$out" in
	*EPERM*) ;;
	*) echo "expected EPERM"; rc=1 ;;
	esac
	expect_status 1 $KLOAD -u 1000 unload nr || rc=1
	# The write+close path refuses too.
	if /ktest/bin/ktest_load -u 1000 $IMG/kdrv_cycle.kbc; then
		echo "user 1000 loaded an image by write+close"
		rc=1
	fi
	chmod 0600 /dev/konoha
	[ $rc -eq 0 ] || return 1
	if [ -e /dev/kdrv_cycle ]; then
		echo "/dev/kdrv_cycle exists: a refused load registered its device"
		return 1
	fi
	left=$($KLOAD list | grep -vc '^live_allocs')
	expect_eq "$left" 0 "scripts loaded after the refused loads" &&
		allocs_are_zero "after the refused loads"
}

kt_load_ops_driver() {
	# A small budget, so the endless read callback below aborts quickly.
	run $KLOAD load -n kdrv_ops -b 2000000 $IMG/kdrv_ops.kbc || return 1
	dmesg | grep -q 'kdrv_ops ready' || { echo "no 'kdrv_ops ready' in the log"; return 1; }
	ls -l /dev/kdrv_ops /dev/kdrv_plain || return 1
	case "$(ls -l /dev/kdrv_ops)" in
	crw-rw-rw-*) ;;
	*) echo "/dev/kdrv_ops: mode is not 0666 (the script sets mode = 0666)"; return 1 ;;
	esac
	case "$(ls -l /dev/kdrv_plain)" in
	crw-------*) ;;
	*) echo "/dev/kdrv_plain: mode is not the default 0600"; return 1 ;;
	esac
}

kt_list_shows_the_script() {
	out=$($KLOAD list)
	echo "$out"
	echo "$out" | grep -q '^kdrv_ops devices=\[kdrv_ops kdrv_plain\]' ||
		{ echo "kload list does not show kdrv_ops with its two devices"; return 1; }
}

kt_read_then_eof() {
	expect_ops /dev/kdrv_ops "open:r read:100 read:100 read:100 close" \
		'open 0\nread 16 "opens=1 stored=\\n"\nread 0 ""\nread 0 ""\nclose 0'
}

kt_read_in_pieces() {
	# Reads continue where the last one stopped, and end with 0 (EOF).
	expect_ops /dev/kdrv_ops "open:r read:5 read:5 read:5 read:5 read:5 close" \
		'open 0\nread 5 "opens"\nread 5 "=2 st"\nread 5 "ored="\nread 1 "\\n"\nread 0 ""\nclose 0'
}

kt_lseek() {
	expect_ops /dev/kdrv_ops "open:r lseek:0:end lseek:6:set read:5 lseek:-3:end read:10 read:10 lseek:2:cur lseek:17:set lseek:-1:set lseek:16:set lseek:0:set read:7 close" \
		'open 0\nlseek 16\nlseek 6\nread 5 "3 sto"\nlseek 13\nread 3 "d=\\n"\nread 0 ""\nlseek -1 EINVAL\nlseek -1 EINVAL\nlseek -1 EINVAL\nlseek 16\nlseek 0\nread 7 "opens=3"\nclose 0'
}

kt_write() {
	# Full counts; DeviceError(ENOSPC) gives ENOSPC; another exception EIO;
	# write(2) hands the callback at most 64 KiB and returns that count.
	expect_ops /dev/kdrv_ops "open:w write:hello\\n write:enospc write:crash write:world fill:70000:a close" \
		'open 0\nwrite 6\nwrite -1 ENOSPC\nwrite -1 EIO\nwrite 5\nfill 65536\nclose 0' &&
		expect_ops /dev/kdrv_ops "open:r read:100 close" \
			'open 0\nread 33 "opens=5 stored=helloworld<65536>\\n"\nclose 0'
}

kt_ioctl() {
	# DeviceError(e) gives -e, e outside 1..133 gives EIO; a result in
	# -4095..-1 reads as an errno (the same rule: khostile.sh); an unknown command ENOTTY; the argument
	# is 64-bit (109: ARG / 10^6); 106 returns the opens so far. Linux
	# returns ioctl(2) results as an int (fs/ioctl.c): the high bits of a
	# 64-bit result are lost (103 with -9*10^12), recorded so a change shows.
	expect_ops /dev/kdrv_ops "open:r ioctl:103:21 ioctl:103:-1000000 ioctl:109:-9000000000000 ioctl:103:-9000000000000 ioctl:104:28 ioctl:104:5000 ioctl:104:0 ioctl:105:-22 ioctl:105:4096 ioctl:199:0 ioctl:106:0 close" \
		'open 0\nioctl 42\nioctl -2000000\nioctl -9000000\nioctl 207937536\nioctl -1 ENOSPC\nioctl -1 EIO\nioctl -1 EIO\nioctl -1 EINVAL\nioctl 4096\nioctl -1 ENOTTY\nioctl 6\nclose 0'
}

kt_open_errors() {
	# open throwing DeviceError(EBUSY) -> EBUSY; ArithmeticException -> EIO;
	# DeviceError(5000) -> EIO; then opens work again.
	expect_ops /dev/kdrv_ops "open:r ioctl:101:1 tryopen ioctl:101:2 tryopen ioctl:101:3 tryopen ioctl:101:0 tryopen close" \
		'open 0\nioctl 0\ntryopen -1 EBUSY\nioctl 0\ntryopen -1 EIO\nioctl 0\ntryopen -1 EIO\nioctl 0\ntryopen 0\nclose 0'
}

kt_read_errors() {
	# DeviceError(EAGAIN) -> EAGAIN; division by zero -> EIO; content over
	# 64 KiB -> EFBIG; an endless loop aborts on the budget -> EIO; a
	# 40,000-byte content reads whole; then the device answers as before.
	# The DeviceError lines of the cases before share the script's log
	# limit (10 per 5 s) with reports: a fresh window keeps these reports,
	# which kt_failed_callbacks_are_reported looks for, in the log.
	sleep 5
	expect_ops /dev/kdrv_ops "open:r ioctl:102:1 read:10 ioctl:102:2 lseek:0:set read:10 ioctl:102:3 lseek:0:set read:10 ioctl:102:4 lseek:0:set read:10 ioctl:102:5 lseek:0:set readall ioctl:102:0 lseek:0:set read:100 close" \
		'open 0\nioctl 0\nread -1 EAGAIN\nioctl 0\nlseek 0\nread -1 EIO\nioctl 0\nlseek 0\nread -1 EFBIG\nioctl 0\nlseek 0\nread -1 EIO\nioctl 0\nlseek 0\nreadall 40000 (40000 bytes)\nioctl 0\nlseek 0\nread 34 "opens=12 stored=helloworld<65536>\\n"\nclose 0'
}

kt_release_called_once_per_file() {
	# Successful opens so far: 1-7, 11, 12 (8-10 failed in open), all closed.
	expect_ops /dev/kdrv_ops "open:r ioctl:106:0 ioctl:107:0 close" \
		'open 0\nioctl 13\nioctl 9\nclose 0'
}

kt_failed_callbacks_are_reported() {
	for want in 'ArithmeticException: a bug in open' \
		'IndexOutOfBoundsException: index 5 out of range for length 0' \
		'ArithmeticException: division by zero' 'budget exceeded'; do
		dmesg | grep -q "$want" || { echo "no '$want' in the kernel log"; dmesg | tail -n 30; return 1; }
		echo "logged: $want"
	done
}

kt_non_root_uses_0666_device() {
	expect_ops /dev/kdrv_ops "open:r read:8 close" \
		'open 0\nread 8 "opens=14"\nclose 0' || return 1
	out=$($KDRIVE -u 1000 op /dev/kdrv_ops open:r read:8 close)
	expect_eq "$out" "$(printf 'open 0\nread 8 "opens=15"\nclose 0')" "user 1000 on 0666 /dev/kdrv_ops" || return 1
	out=$($KDRIVE -u 1000 op /dev/kdrv_plain open:r)
	expect_eq "$out" "open -1 EACCES" "user 1000 on 0600 /dev/kdrv_plain"
}

kt_default_methods() {
	# Device's defaults: nothing to read, write EINVAL, ioctl ENOTTY.
	expect_ops /dev/kdrv_plain "open read:10 write:x ioctl:101:1 lseek:0:end close" \
		'open 0\nread 0 ""\nwrite -1 EINVAL\nioctl -1 ENOTTY\nlseek 0\nclose 0'
}

kt_unload_while_open_is_ebusy() {
	exec 3</dev/kdrv_ops || return 1
	expect_status 16 $KLOAD unload kdrv_ops
	rc=$?
	# Nothing changed: the device still answers.
	expect_ops /dev/kdrv_ops "open:r read:8 close" \
		'open 0\nread 8 "opens=17"\nclose 0' || rc=1
	exec 3<&-
	[ $rc -eq 0 ] || return 1
	run $KLOAD unload kdrv_ops || return 1
	for node in /dev/kdrv_ops /dev/kdrv_plain; do
		if [ -e $node ]; then
			echo "$node still exists after the unload"
			return 1
		fi
	done
	allocs_are_zero "after unloading kdrv_ops"
}

kt_enxio_until_init_done() {
	# The init registers /dev/kdrv_slow, then sleeps 1.5 s.
	$KLOAD load -n slow $IMG/kdrv_slow_init.kbc > /tmp/slow.out 2>&1 &
	pid=$!
	i=0
	while [ ! -e /dev/kdrv_slow ] && [ $i -lt 100 ]; do
		usleep 10000
		i=$((i + 1))
	done
	expect_ops /dev/kdrv_slow "tryopen" 'tryopen -1 ENXIO'
	rc=$?
	wait $pid || { cat /tmp/slow.out; echo "loading kdrv_slow_init failed"; return 1; }
	cat /tmp/slow.out
	expect_ops /dev/kdrv_slow "tryopen" 'tryopen 0' || rc=1
	run $KLOAD unload slow || rc=1
	allocs_are_zero "after unloading slow" || rc=1
	return $rc
}

kt_failing_init_removes_its_devices() {
	# An uncaught DeviceError(EIO) in the init: the load fails with EIO and
	# the message, and the device the init registered is gone.
	out=$($KLOAD load -n gone $IMG/kdrv_failing_init.kbc)
	rc=$?
	echo "$out"
	expect_eq "$rc" 5 "exit status (errno) of the failed load" || return 1
	echo "$out" | grep -q 'init fails on purpose' ||
		{ echo "the load's message does not carry the exception"; return 1; }
	if [ -e /dev/kdrv_gone ]; then
		echo "/dev/kdrv_gone exists after its init failed"
		return 1
	fi
	$KLOAD list | grep '^gone ' && { echo "script gone is still listed"; return 1; }
	allocs_are_zero "after the failed init"
}

kt_stress_8_processes_10000_reads() {
	run $KLOAD load -n stress $IMG/kdrv_stress.kbc || return 1
	run $KDRIVE stress -p 8 -n 10000 /dev/kdrv_stress
	rc=$?
	# Every open and release reached the script exactly once.
	expect_ops /dev/kdrv_stress "open:r ioctl:101:0 ioctl:102:0 close" \
		'open 0\nioctl 80001\nioctl 80000\nclose 0' || rc=1
	run $KLOAD unload stress || rc=1
	allocs_are_zero "after unloading stress" || rc=1
	return $rc
}

kt_load_unload_200_cycles() {
	left=$($KLOAD list | grep -v '^live_allocs')
	[ -z "$left" ] || { echo "scripts still loaded: $left"; return 1; }
	run $KDRIVE cycle -n 200 cycle $IMG/kdrv_cycle.kbc /dev/kdrv_cycle
}

# ---- CharDevices (kdrv_chardev.k) ----------------------------------------------

kt_chardev_load() {
	run $KLOAD load -n chardev $IMG/kdrv_chardev.kbc || return 1
	ls -l /dev/kdrv_rot13 /dev/kdrv_chr /dev/kdrv_chrplain || return 1
}

kt_chardev_positions_pread_pwrite() {
	# Writes advance the position; pread/pwrite leave it; Linux refuses a
	# negative pread offset itself.
	# An ioctl after them sees the file's position (205 answers it).
	expect_ops /dev/kdrv_chr "open write:hello lseek:0:cur pread:3:1 ioctl:205 lseek:0:cur pwrite:1:EY ioctl:205 lseek:0:cur read:10 lseek:0:set read:10 pread:1:-1 close" \
		'open 0\nwrite 5\nlseek 5\npread 3 "ell"\nioctl 5\nlseek 5\npwrite 2\nioctl 5\nlseek 5\nread 0 ""\nlseek 0\nread 5 "hEYlo"\npread -1 EINVAL\nclose 0'
}

kt_chardev_seek() {
	# The script's seek; a negative result, and whence SEEK_DATA (3) or
	# SEEK_HOLE (4), fail with EINVAL and leave the position.
	expect_ops /dev/kdrv_chr "open lseek:3:set lseek:2:end lseek:0:cur lseek:-9:cur lseek:0:cur lseek:0:3 lseek:0:4 ioctl:205 close" \
		'open 0\nlseek 3\nlseek 7\nlseek 7\nlseek -1 EINVAL\nlseek 7\nlseek -1 EINVAL\nlseek -1 EINVAL\nioctl 7\nclose 0'
}

kt_chardev_poll() {
	# poll(2)'s revents are the script's mask (IN|OUT by default); ERR and
	# HUP are reported unasked.  A Device answers IN|OUT.
	expect_ops /dev/kdrv_chr "open poll ioctl:204:3 poll ioctl:204:24 poll ioctl:204:5 close" \
		'open 0\npoll 5\nioctl 0\npoll 3\nioctl 0\npoll 24\nioctl 0\nclose 0' || return 1
	expect_ops /dev/kdrv_chrplain "open:r poll close" 'open 0\npoll 5\nclose 0'
}

kt_chardev_ioctl_user_memory() {
	# A struct of two ints read and written back through the caller's
	# pointer; a bad pointer fails with EFAULT either way.
	expect_ops /dev/kdrv_chr "open ioctl:201:@0500000007000000 ioctl:201:@fbffffff03000000 ioctl:201:1 ioctl:208:1 ioctl:208:@00 close" \
		'open 0\nioctl 0 @0c00000023000000\nioctl 0 @fefffffff1ffffff\nioctl -1 EFAULT\nioctl -1 EFAULT\nioctl 0 @78\nclose 0'
}

kt_chardev_flags_and_errnos() {
	expect_ops /dev/kdrv_chr "open:r:nonblock ioctl:202 close" \
		'open 0\nioctl 5\nclose 0' || return 1
	# Results outside the 32-bit int range: EOVERFLOW, from a 32-bit
	# caller too; errnos outside 1..133 become EIO.
	expect_ops /dev/kdrv_chr "open:w ioctl:202 ioctl:203 ioctl32:203 ioctl:206:22 ioctl:206:600 ioctl:207:1 close" \
		'open 0\nioctl 2\nioctl -1 EOVERFLOW\nioctl32 -1 EOVERFLOW\nioctl -1 EINVAL\nioctl -1 EIO\nioctl 0\nclose 0' || return 1
	# A read that writes past its count fails with EIO; the device stays
	# usable.
	expect_ops /dev/kdrv_chr "open:r read:4 ioctl:207:0 read:2 close" \
		'open 0\nread -1 EIO\nioctl 0\nread 2 "hE"\nclose 0'
}

kt_chardev_rot13_streams_megabytes() {
	# 3 MiB written in odd blocks and read back in two other block sizes
	# (one over the 64 KiB a read is cut to), compared byte for byte
	# with tr's rot13 of the same bytes.
	dd if=/dev/urandom of=/tmp/rot.src bs=65536 count=48 2>/dev/null || return 1
	tr 'A-Za-z' 'N-ZA-Mn-za-m' < /tmp/rot.src > /tmp/rot.want || return 1
	dd if=/tmp/rot.src of=/dev/kdrv_rot13 bs=7777 2>/dev/null ||
		{ echo "dd to /dev/kdrv_rot13 failed"; return 1; }
	rc=0
	for bs in 4099 100003; do
		dd if=/dev/kdrv_rot13 of=/tmp/rot.out bs=$bs 2>/dev/null ||
			{ echo "dd from /dev/kdrv_rot13 bs=$bs failed"; rc=1; }
		if cmp /tmp/rot.want /tmp/rot.out; then
			echo "bs=$bs: $(wc -c < /tmp/rot.out) bytes, rot13 of the source"
		else
			echo "bs=$bs: the bytes read differ"
			rc=1
		fi
	done
	rm -f /tmp/rot.src /tmp/rot.want /tmp/rot.out
	return $rc
}

kt_chardev_unload() {
	run $KLOAD unload chardev || return 1
	for node in /dev/kdrv_rot13 /dev/kdrv_chr /dev/kdrv_chrplain; do
		if [ -e $node ]; then
			echo "$node still exists after the unload"
			return 1
		fi
	done
	allocs_are_zero "after unloading chardev"
}

kt_rmmod_with_a_script_loaded() {
	run $KLOAD load -n last $IMG/kdrv_cycle.kbc || return 1
	# An open device pins the module.
	exec 3</dev/kdrv_cycle
	if rmmod konoha 2>/dev/null; then
		exec 3<&-
		echo "rmmod succeeded while /dev/kdrv_cycle was open"
		return 1
	fi
	exec 3<&-
	run rmmod konoha || return 1
	for node in /dev/konoha /dev/kdrv_cycle; do
		if [ -e $node ]; then
			echo "$node still exists after rmmod"
			return 1
		fi
	done
}
