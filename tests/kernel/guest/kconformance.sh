# Guest suite: the conformance suite in the kernel (tests/kernel/
# test_kconformance.py). The host compiled every program to
# /ktest/conf/cNNN.kbc and listed them, with their limits, in
# /ktest/conf/manifest; `kdrive conform` loads each one, prints the lines
# it logged and its load result, and unloads it. The host compares.

kt_insmod() {
	run insmod /ktest/modules/konoha.ko
}

kt_conformance() {
	# One line per program of the report; the host reads them all.
	/ktest/bin/kdrive conform /ktest/conf/manifest
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
