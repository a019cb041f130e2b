# Guest suite: konoha.ko, /dev/konoha and the devices of scripts
# (lkm/kernel/konoha_main.c, tests/kernel/test_konoha.py). Images compiled
# on the host by ktc are in /ktest/images/; kload (the ioctls of
# konoha_uapi.h, plus ioctl/lseek on a device) is in /ktest/bin/.
#
# kload exits with the errno of what failed: the cases check it with
# expect_status. The cases run in order and share the loaded scripts.

KLOAD=/ktest/bin/kload
IMG=/ktest/images

# expect_status WANT CMD...: run CMD, show its output, check its exit status.
expect_status() {
	_want=$1
	shift
	echo "\$ $*"
	"$@" >/tmp/expect.out 2>&1
	_rc=$?
	cat /tmp/expect.out
	if [ "$_rc" -ne "$_want" ]; then
		echo "exit status $_rc, expected $_want: $*"
		return 1
	fi
}

# expect_out WANT CMD...: run CMD (must succeed), compare its output.
expect_out() {
	_want=$1
	shift
	echo "\$ $*"
	_got=$("$@" 2>&1) || { echo "$_got"; echo "failed: $*"; return 1; }
	expect_eq "$_got" "$_want" "$*"
}

# in_log TEXT: the kernel log has a line with TEXT.
in_log() {
	dmesg | grep -F -- "$1" >/dev/null && return 0
	echo "not in the kernel log: $1"
	dmesg | tail -n 15
	return 1
}

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
	# opening /dev/konoha: EACCES; an ioctl without CAP_SYS_ADMIN: EPERM
	if /ktest/bin/ktest_load -u 1000 $IMG/hello.kbc; then
		echo "user 1000 could load an image"
		return 1
	fi
	expect_status 1 $KLOAD -u 1000 load $IMG/hello.kbc &&
		expect_status 1 $KLOAD -u 1000 unload hello
}

kt_load_with_cat() {
	# close(2) of /dev/konoha loads the image and runs its init; print()
	# goes to the kernel log as "konoha: NAME: ..."
	run sh -c "cat $IMG/hello.kbc > /dev/konoha" || return 1
	in_log 'konoha: hello: fib(10) = 55'
}

kt_load_with_close() {
	run /ktest/bin/ktest_load $IMG/hello_dev.kbc || return 1
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
	in_log 'image refused' || return 1
	# through the ioctl: ENOEXEC and the verifier's message
	expect_status 8 $KLOAD load /tmp/garbage.kbc &&
		grep 'image refused' /tmp/expect.out
}

kt_load_with_ioctl() {
	expect_status 0 $KLOAD load -b 20000000 $IMG/konoha_ops.kbc &&
		grep 'as konoha_ops' /tmp/expect.out &&
		in_log 'konoha: konoha_ops: kops ready' &&
		[ -c /dev/kops ] && [ -c /dev/kplain ]
}

kt_names_taken() {
	# the same script name, then a device name another script holds
	expect_status 17 $KLOAD load $IMG/konoha_ops.kbc &&
		grep 'already loaded' /tmp/expect.out &&
		expect_status 17 $KLOAD load -n other $IMG/konoha_ops.kbc &&
		grep '/dev/kops already exists' /tmp/expect.out &&
		expect_status 22 $KLOAD load -n 'bad name' $IMG/konoha_ops.kbc
}

kt_list() {
	expect_status 0 $KLOAD list || return 1
	grep '^konoha_ops devices=\[kops kplain\]' /tmp/expect.out &&
		grep '^hello_dev devices=\[khello\]' /tmp/expect.out &&
		grep '^hello devices=\[\]' /tmp/expect.out
}

kt_node_modes() {
	ls -l /dev/kops /dev/kplain
	case "$(ls -l /dev/kops)" in
	crw-r--r--*) ;;
	*) echo "/dev/kops is not 0644"; return 1 ;;
	esac
	case "$(ls -l /dev/kplain)" in
	crw-------*) ;;
	*) echo "/dev/kplain is not 0600"; return 1 ;;
	esac
}

kt_read_write() {
	expect_out "opens=1 stored=" cat /dev/kops &&
		run sh -c 'echo abc > /dev/kops' &&
		run sh -c 'printf def > /dev/kops' &&
		expect_out "opens=4 stored=abcdef" cat /dev/kops &&
		expect_out "opens=5 stored=abcdef" dd if=/dev/kops bs=3 status=none
}

kt_ioctl() {
	expect_out 42 $KLOAD ioctl /dev/kops 101 21 &&
		expect_out 2000000000 $KLOAD ioctl /dev/kops 101 1000000000 &&
		expect_status 28 $KLOAD ioctl /dev/kops 102 28 &&
		expect_status 5 $KLOAD ioctl /dev/kops 102 5000 &&
		expect_status 25 $KLOAD ioctl /dev/kops 99 0
}

kt_llseek() {
	expect_out "$(printf '2\nens=11 stored=abcdef')" $KLOAD seek /dev/kops 2 0 &&
		expect_out 23 $KLOAD seek /dev/kops 0 2 &&
		expect_status 22 $KLOAD seek /dev/kops 100 0 &&
		expect_status 22 $KLOAD seek /dev/kops -1 0
}

kt_release() {
	# each close calls release(): the script counts them (command 107)
	_r1=$($KLOAD ioctl /dev/kops 107 0) || return 1
	cat /dev/kops >/dev/null
	_r2=$($KLOAD ioctl /dev/kops 107 0) || return 1
	echo "releases: $_r1, then $_r2"
	expect_eq "$_r2" "$((_r1 + 2))" "releases after a cat and an ioctl"
}

kt_errno_mapping() {
	# DeviceError(e) -> -e; any other exception -> EIO and a logged report
	expect_status 1 sh -c 'echo full > /dev/kops' &&
		grep -i 'no space' /tmp/expect.out &&
		expect_status 1 sh -c 'echo crash > /dev/kops' &&
		grep -i 'Input/output error' /tmp/expect.out &&
		in_log 'konoha: konoha_ops: IndexOutOfBoundsException' &&
		expect_status 0 $KLOAD ioctl /dev/kops 106 1 &&
		expect_status 1 cat /dev/kops &&
		grep -i 'temporarily unavailable' /tmp/expect.out &&
		expect_status 0 $KLOAD ioctl /dev/kops 106 0
}

kt_default_methods() {
	expect_out "" cat /dev/kplain &&
		expect_status 1 sh -c 'echo x > /dev/kplain' &&
		grep -i 'invalid argument' /tmp/expect.out &&
		expect_status 25 $KLOAD ioctl /dev/kplain 101 0
}

kt_deverror_logged() {
	# (1.1) a DeviceError logs "DEVICE: CALLBACK: DeviceError(ENAME): MSG";
	# EAGAIN is a normal answer and is not logged; an errno outside 1..133
	# is EIO, logged as such; one without an Errno name by its number.
	# These lines share the script's log limit (10 per 5 s) with reports:
	# wait for a fresh window before and after, so that the lines of the
	# cases before and the reports of the cases after are all logged.
	sleep 5
	expect_status 1 sh -c 'echo full > /dev/kops' &&
		in_log 'konoha: konoha_ops: kops: write: DeviceError(ENOSPC): full' &&
		expect_status 5 $KLOAD ioctl /dev/kops 102 600 &&
		in_log 'kops: ioctl: DeviceError(EIO): errno 600 on request' &&
		expect_status 95 $KLOAD ioctl /dev/kops 102 95 &&
		in_log 'kops: ioctl: DeviceError(95): errno 95 on request' &&
		expect_status 0 $KLOAD ioctl /dev/kops 106 1 &&
		expect_status 1 cat /dev/kops &&
		expect_status 0 $KLOAD ioctl /dev/kops 106 0 || return 1
	if dmesg | grep -F 'DeviceError(EAGAIN)'; then
		echo "an EAGAIN DeviceError was logged"
		return 1
	fi
	sleep 5
}

kt_aborts_keep_device_usable() {
	expect_status 5 $KLOAD ioctl /dev/kops 103 0 &&
		in_log 'abort: budget exceeded' &&
		expect_status 5 $KLOAD ioctl /dev/kops 104 0 &&
		in_log 'abort: out of memory' &&
		expect_status 5 $KLOAD ioctl /dev/kops 105 0 &&
		in_log 'abort: stack overflow' &&
		expect_out 42 $KLOAD ioctl /dev/kops 101 21 &&
		cat /dev/kops
}

kt_failing_init() {
	# the DeviceError's errno, the report for the caller, no device left
	expect_status 28 $KLOAD load $IMG/konoha_badinit.kbc &&
		grep 'init fails on purpose' /tmp/expect.out &&
		in_log 'konoha_badinit: init failed' || return 1
	if [ -e /dev/kgone ]; then
		echo "/dev/kgone is left after a failed init"
		return 1
	fi
	! $KLOAD list | grep konoha_badinit
}

kt_unload_while_open() {
	exec 3</dev/kops
	expect_status 16 $KLOAD unload konoha_ops
	_rc=$?
	exec 3<&-
	[ $_rc -eq 0 ] && [ -c /dev/kops ] && cat /dev/kops
}

kt_unload() {
	expect_status 0 $KLOAD unload konoha_ops || return 1
	for node in /dev/kops /dev/kplain; do
		if [ -e $node ]; then
			echo "$node still exists after unload"
			return 1
		fi
	done
	expect_status 2 $KLOAD unload konoha_ops &&
		expect_status 0 $KLOAD load $IMG/konoha_ops.kbc &&
		expect_out "opens=1 stored=" cat /dev/kops &&
		expect_status 0 $KLOAD unload konoha_ops
}

kt_params() {
	# (1.1) --param through KONOHA_IOC_LOAD_PARAMS, read by System.param
	expect_status 0 $KLOAD load -p greeting=hi -p to=kernel \
		$IMG/konoha_params.kbc &&
		in_log 'konoha: konoha_params: param greeting=hi to=kernel missing=null' &&
		expect_out hi cat /dev/kparam &&
		run sh -c 'echo to > /dev/kparam' &&
		expect_out kernel cat /dev/kparam &&
		run sh -c 'echo missing > /dev/kparam' &&
		expect_status 1 cat /dev/kparam &&
		in_log 'kparam: read: DeviceError(ENOENT): no parameter missing' &&
		expect_status 0 $KLOAD unload konoha_params || return 1
	# the limits: 32 parameters, a 31-byte name, a 1 KiB value
	_v=$(head -c 1024 /dev/zero | tr '\0' v)
	_many=""
	for _i in $(seq 1 30); do _many="$_many -p p$_i=$_i"; done
	expect_status 0 $KLOAD load $_many -p big=$_v \
		-p abcdefghijklmnopqrstuvwxyz_0123=x $IMG/konoha_params.kbc &&
		in_log 'konoha: konoha_params: param big length 1024' &&
		expect_status 0 $KLOAD unload konoha_params &&
		# no parameters through the new ioctl, and the old one still works
		expect_status 0 $KLOAD load -P $IMG/konoha_params.kbc &&
		expect_status 0 $KLOAD unload konoha_params &&
		expect_status 0 $KLOAD load $IMG/konoha_params.kbc &&
		expect_status 0 $KLOAD unload konoha_params
}

kt_params_hostile() {
	# every refusal: the errno, the reason, no script left, nothing leaked
	_before=$($KLOAD allocs) || return 1
	_v=$(head -c 1025 /dev/zero | tr '\0' v)
	_many=""
	for _i in $(seq 0 32); do _many="$_many -p p$_i=$_i"; done
	_P=$IMG/konoha_params.kbc
	expect_status 22 $KLOAD load -p a=1 -p a=2 $_P &&
		grep -F 'parameter a given twice' /tmp/expect.out &&
		expect_status 22 $KLOAD load -p Bad=1 $_P &&
		grep -F 'parameter 1: bad name' /tmp/expect.out &&
		expect_status 22 $KLOAD load -p abcdefghijklmnopqrstuvwxyz_01234=1 $_P &&
		grep -F 'parameter 1: bad name' /tmp/expect.out &&
		expect_status 22 $KLOAD load -p =1 $_P &&
		expect_status 22 $KLOAD load -p big=$_v $_P &&
		grep -F 'parameter big: value longer than 1024 bytes' /tmp/expect.out &&
		expect_status 22 $KLOAD load $_many $_P &&
		grep -F 'more than 32 parameters' /tmp/expect.out &&
		expect_status 22 $KLOAD load -x 613d31 $_P &&
		grep -F 'parameter 1: not NAME=VALUE' /tmp/expect.out &&
		expect_status 22 $KLOAD load -x 613d3100 -l 64 $_P &&
		grep -F 'parameter 2: not NAME=VALUE' /tmp/expect.out &&
		expect_status 22 $KLOAD load -x 61ff3d3100 $_P &&
		expect_status 22 $KLOAD load -l 33825 $_P &&
		grep -F 'larger than 33824 bytes' /tmp/expect.out &&
		expect_status 22 $KLOAD load -p a=1 -r 1 $_P &&
		grep -F 'reserved field not 0' /tmp/expect.out &&
		expect_status 14 $KLOAD load -a 0x10 -l 4 $_P &&
		expect_status 14 $KLOAD load -a 0xffffffffffff0000 -l 33824 $_P ||
		return 1
	if $KLOAD list | grep konoha_params; then
		echo "a refused load left its script"
		return 1
	fi
	if [ -e /dev/kparam ]; then
		echo "a refused load left /dev/kparam"
		return 1
	fi
	_after=$($KLOAD allocs)
	expect_eq "$_after" "$_before" "live allocations after refused loads"
}

kt_load_unload_200_cycles() {
	_before=$($KLOAD allocs) || return 1
	_i=0
	while [ $_i -lt 200 ]; do
		$KLOAD load $IMG/konoha_cycle.kbc >/dev/null || { echo "load $_i failed"; return 1; }
		if [ $((_i % 50)) -eq 0 ]; then
			expect_eq "$(cat /dev/kcycle)" cycle "read in cycle $_i" || return 1
		fi
		$KLOAD unload konoha_cycle >/dev/null || { echo "unload $_i failed"; return 1; }
		_i=$((_i + 1))
	done
	_after=$($KLOAD allocs)
	echo "live allocations: $_before before, $_after after 200 cycles"
	expect_eq "$_after" "$_before" "live allocations"
}

kt_allocations_back_to_zero() {
	run $KLOAD unload hello_dev && run $KLOAD unload hello || return 1
	expect_out 0 $KLOAD allocs
}

kt_rmmod() {
	run $KLOAD load $IMG/hello_dev.kbc || return 1
	run rmmod konoha || return 1
	for node in /dev/konoha /dev/khello; do
		if [ -e $node ]; then
			echo "$node still exists after rmmod"
			return 1
		fi
	done
	if dmesg | grep 'still allocated'; then
		return 1
	fi
}
