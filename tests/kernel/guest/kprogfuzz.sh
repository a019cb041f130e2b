# Guest suite: generated programs in the kernel (tests/kernel/
# test_kprogfuzz.py). The host generated and compiled them to
# /ktest/pf/pNNN.kbc and listed them, with their limits, in
# /ktest/pf/manifest; `kdrive conform` loads each one, prints the lines it
# logged and its load result, and unloads it. The host compares with the
# reference model of tests/progfuzz.

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_conformance() {
	/ktest/bin/kdrive conform /ktest/pf/manifest
}

kt_nothing_left_loaded() {
	left=$(/ktest/bin/kload list) || { echo "$left"; return 1; }
	echo "$left"
	expect_eq "$(echo "$left" | grep -vc '^live_allocs')" 0 "scripts still loaded" &&
		expect_eq "$(/ktest/bin/kload allocs)" 0 "live allocations after every unload"
}

kt_rmmod() {
	run rmmod konoha
}
