# The guest half of `make demo` (tools/kdemo.py boots it under QEMU): a
# ktap_run.sh suite whose cases are the demo's steps; what each prints is
# shown by the host. /ktest/bin/kload is the guest's `ktc load/unload/list`.

KLOAD=/ktest/bin/kload
IMG=/ktest/images

show() {
	echo "\$ $*"
	sh -c "$*" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || echo "(exit status $_rc)"
	return 0
}

kt_insert_the_module() {
	show insmod /ktest/modules/konoha.ko
	show ls -l /dev/konoha
}

kt_load_hello_device() {
	show "$KLOAD load -b 20000000 $IMG/hello_device.kbc"
	show "ls -l /dev/hello"
	show "dmesg | grep 'konoha: hello_device'"
}

kt_use_it_with_shell_tools() {
	show "cat /dev/hello"
	show "cat /dev/hello"
	show "echo Linus > /dev/hello"
	show "dd if=/dev/hello bs=8 status=none"
	show "$KLOAD ioctl /dev/hello 0x6801 21"
	show "$KLOAD list"
}

kt_a_bad_image_is_refused() {
	head -c 300 /ktest/bin/kload > /tmp/garbage.kbc
	show "$KLOAD load /tmp/garbage.kbc"
	show "cat /tmp/garbage.kbc > /dev/konoha"
	show "dmesg | grep 'image refused' | tail -n 1"
}

kt_a_faulting_callback() {
	show "echo boom > /dev/hello"
	show "$KLOAD ioctl /dev/hello 0x6803 0"
	show "dmesg | grep -A2 -e IndexOutOfBounds -e 'abort:' | grep konoha"
	show "cat /dev/hello"
}

kt_a_failing_init() {
	show "$KLOAD load $IMG/konoha_badinit.kbc"
	show "ls /dev/kgone"
}

kt_unload() {
	show "exec 3</dev/hello; $KLOAD unload hello_device"
	show "$KLOAD unload hello_device"
	show "ls /dev/hello"
	show "$KLOAD allocs"
	show rmmod konoha
}
