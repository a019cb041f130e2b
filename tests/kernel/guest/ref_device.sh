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
