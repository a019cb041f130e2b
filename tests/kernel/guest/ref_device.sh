# Guest suite: the C reference device /dev/kref (lkm/kernel/ref/kref_dev.c),
# the baseline of the open_overhead benchmark. Run by ktap_run.sh; the
# module is /ktest/modules/kref_dev.ko, the loop tool /ktest/bin/ktest_open.

KREF_TEXT="kref: hello from C"

kt_insmod() {
	run insmod /ktest/modules/kref_dev.ko
}

kt_module_listed() {
	grep '^kref_dev ' /proc/modules || { cat /proc/modules; return 1; }
}

kt_dev_node_exists() {
	if [ ! -c /dev/kref ]; then
		echo "/dev/kref is not a character device"
		ls -l /dev
		return 1
	fi
	ls -l /dev/kref
}

kt_read_string() {
	expect_eq "$(cat /dev/kref)" "$KREF_TEXT" "cat /dev/kref"
}

kt_read_at_offset() {
	# dd skips 6 bytes by reading them: the rest must follow on.
	expect_eq "$(dd if=/dev/kref bs=1 skip=6 2>/dev/null)" "hello from C" \
		"read from offset 6"
}

kt_dmesg_registered() {
	dmesg | grep 'kref_dev: /dev/kref registered' ||
		{ echo "no registration message in dmesg"; return 1; }
}

kt_open_close_loop() {
	run /ktest/bin/ktest_open -n 10000 /dev/kref
}

kt_open_read_close_loop() {
	run /ktest/bin/ktest_open -r -n 2000 /dev/kref
}

kt_shell_open_loop() {
	# The same without the helper: 1000 opens from the shell.
	i=0
	while [ $i -lt 1000 ]; do
		exec 3</dev/kref || { echo "open $i failed"; return 1; }
		exec 3<&-
		i=$((i + 1))
	done
	echo "$i opens"
}

kt_rmmod() {
	run rmmod kref_dev
}

kt_dev_node_gone() {
	if [ -e /dev/kref ]; then
		echo "/dev/kref still exists after rmmod"
		return 1
	fi
}

kt_reload() {
	run insmod /ktest/modules/kref_dev.ko &&
		expect_eq "$(cat /dev/kref)" "$KREF_TEXT" "cat /dev/kref after reload" &&
		run rmmod kref_dev
}

# The C peers of the chardev benchmark (bench/test_chardev.py):
# kref_rot13.ko (/dev/kref_rot13, a per-open rot13 queue) and kref_fifo.ko
# (/dev/kref_fifo0 and /dev/kref_fifo1, blocking FIFOs with poll), driven
# by /ktest/bin/kchr (tests/kernel/guest/kchr.c), which checks every
# answer; examples/rot13.k and examples/fifo.k must behave the same.

kt_chardev_insmod() {
	run insmod /ktest/modules/kref_rot13.ko &&
		run insmod /ktest/modules/kref_fifo.ko &&
		ls -l /dev/kref_rot13 /dev/kref_fifo0 /dev/kref_fifo1
}

kt_rot13_dd_odd_blocks() {
	# 300,000 random bytes through one open file of /dev/kref_rot13 (fd 3)
	# in dd blocks of 7777: each block written, then read back; the
	# output must be tr's rot13 of the source, byte for byte.
	dd if=/dev/urandom of=/tmp/rot.src bs=1000 count=300 2>/dev/null || return 1
	tr 'A-Za-z' 'N-ZA-Mn-za-m' < /tmp/rot.src > /tmp/rot.want || return 1
	: > /tmp/rot.out
	exec 3<>/dev/kref_rot13 || return 1
	i=0
	while [ $((i * 7777)) -lt 300000 ]; do
		dd if=/tmp/rot.src bs=7777 skip=$i count=1 2>/dev/null >&3 ||
			{ echo "dd write of block $i failed"; exec 3>&-; return 1; }
		dd bs=7777 count=1 <&3 2>/dev/null >> /tmp/rot.out ||
			{ echo "dd read of block $i failed"; exec 3>&-; return 1; }
		i=$((i + 1))
	done
	exec 3>&-
	if ! cmp /tmp/rot.want /tmp/rot.out; then
		echo "$(wc -c < /tmp/rot.out) bytes read: not the rot13 of the source"
		return 1
	fi
	echo "$i blocks, $(wc -c < /tmp/rot.out) bytes, rot13 of the source"
	rm -f /tmp/rot.src /tmp/rot.want /tmp/rot.out
}

kt_rot13_odd_reads() {
	# Writes of one odd size read back in reads of another, every byte
	# checked by kchr; 64 KiB writes read in 4093-byte pieces.
	run /ktest/bin/kchr rot13 -b 7777 -r 1001 -n 100 -w 0 /dev/kref_rot13 &&
		run /ktest/bin/kchr rot13 -b 65536 -r 4093 -n 20 -w 0 /dev/kref_rot13
}

kt_rot13_bounded() {
	run /ktest/bin/kchr rot13cap /dev/kref_rot13
}

kt_fifo_contract() {
	# EAGAIN, poll masks, 64 KiB bound, order, wake-ups, EINTR.
	run /ktest/bin/kchr fifocheck /dev/kref_fifo0 &&
		run /ktest/bin/kchr fifocheck /dev/kref_fifo1
}

kt_fifo_shell_reader_blocks() {
	# A reader from the shell sleeps until another process writes.
	dd if=/dev/kref_fifo0 bs=64 count=1 of=/tmp/fifo.out 2>/dev/null &
	reader=$!
	sleep 1
	if ! kill -0 $reader 2>/dev/null; then
		echo "the reader did not block"
		return 1
	fi
	echo hello > /dev/kref_fifo0 || return 1
	wait $reader || { echo "reader exit status $?"; return 1; }
	expect_eq "$(cat /tmp/fifo.out)" "hello" "what the blocked reader got"
}

kt_fifo_pingpong() {
	run /ktest/bin/kchr pingpong -n 2000 -s 8 /dev/kref_fifo0 /dev/kref_fifo1
}

kt_chardev_rmmod() {
	run rmmod kref_rot13 && run rmmod kref_fifo || return 1
	for node in /dev/kref_rot13 /dev/kref_fifo0 /dev/kref_fifo1; do
		if [ -e $node ]; then
			echo "$node still exists after rmmod"
			return 1
		fi
	done
}
