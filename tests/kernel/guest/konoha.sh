# Guest suite: konoha.ko and /dev/konoha (lkm/kernel/konoha_main.c).
# Images compiled on the host by ktc are in /ktest/images/.

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_dev_konoha_root_only() {
	ls -l /dev/konoha || return 1
	case "$(ls -l /dev/konoha)" in
	crw-------*) return 0 ;;
	esac
	echo "/dev/konoha is not 0600"
	return 1
}

kt_other_users_refused() {
	if /ktest/bin/ktest_load -u 1000 /ktest/images/hello.kbc; then
		echo "user 1000 could load an image"
		return 1
	fi
}

kt_load_program() {
	# close(2) of /dev/konoha loads the image and runs its init.
	run /ktest/bin/ktest_load /ktest/images/hello.kbc || return 1
	dmesg | grep 'fib(10) = 55' || { dmesg | tail -n 20; return 1; }
}

kt_load_device_script() {
	run /ktest/bin/ktest_load /ktest/images/hello_dev.kbc || return 1
	ls -l /dev/khello && [ -c /dev/khello ]
}

kt_read_device() {
	expect_eq "$(cat /dev/khello)" "hello #1" "first read" &&
		expect_eq "$(cat /dev/khello)" "hello #2" "second read"
}

kt_device_open_close_loop() {
	run /ktest/bin/ktest_open -n 10000 /dev/khello
}

kt_bad_image_refused() {
	head -c 200 /ktest/bin/ktest_open > /tmp/garbage.kbc
	if /ktest/bin/ktest_load /tmp/garbage.kbc; then
		echo "a garbage image was accepted"
		return 1
	fi
	dmesg | grep 'image refused' || { echo "no refusal in dmesg"; return 1; }
}

kt_rmmod() {
	run rmmod konoha || return 1
	for node in /dev/konoha /dev/khello; do
		if [ -e $node ]; then
			echo "$node still exists after rmmod"
			return 1
		fi
	done
}
