# K: build, set-up, tests, benchmarks and demo.
# `make help` lists the targets.

PYTHON ?= python3
KTC ?= $(PYTHON) -m ktc.cli

ifeq ($(origin CC),default)
CC := gcc
endif
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=
BENCH_ARGS ?=

BUILD := build
SETUP_STAMP := $(BUILD)/.setup.stamp
KERNEL_STAMP := $(BUILD)/.kernel-setup.stamp

# ---- VM sources -----------------------------------------------------------
# build/kvm = core + userspace host + kvm_main.c (main);
# build/fuzz-loader = core + userspace host + fuzz_loader.c (libFuzzer entry);
# build/libkvm.so = core + userspace host.
CORE_SRCS := $(wildcard lkm/core/*.c)
KVM_MAIN := lkm/user/kvm_main.c
FUZZ_MAIN := lkm/user/fuzz_loader.c
HOST_SRCS := $(filter-out $(KVM_MAIN) $(FUZZ_MAIN),$(wildcard lkm/user/*.c))
LIB_SRCS := $(CORE_SRCS) $(HOST_SRCS)
KVM_SRCS := $(LIB_SRCS) $(KVM_MAIN)
FUZZ_SRCS := $(LIB_SRCS) $(FUZZ_MAIN)

INCLUDES := -Ilkm/core -Ilkm/user
COMMON_CFLAGS := -std=gnu11 -Wall -Wextra -Werror $(INCLUDES) -MMD -MP
KVM_CFLAGS := -O2 $(COMMON_CFLAGS)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
ASAN_CFLAGS := -O1 -g $(ASAN_FLAGS) $(COMMON_CFLAGS)
PIC_CFLAGS := -O2 -fPIC $(COMMON_CFLAGS)
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all $(COMMON_CFLAGS)
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
LDLIBS ?=

KVM_OBJS := $(KVM_SRCS:%.c=$(BUILD)/obj/kvm/%.o)
ASAN_OBJS := $(KVM_SRCS:%.c=$(BUILD)/obj/asan/%.o)
PIC_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/pic/%.o)
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(BUILD)/obj/fuzz/%.o)

# The fuzz harness is built with `make vm` too, once its source exists, so a
# change that breaks it fails the tests rather than the next fuzzing session.
VM_TARGETS := $(BUILD)/kvm $(BUILD)/kvm-asan $(BUILD)/libkvm.so
ifneq ($(wildcard $(FUZZ_MAIN)),)
VM_TARGETS += $(BUILD)/fuzz-loader
endif

FUZZ_CORPUS := $(BUILD)/fuzz-corpus
FUZZ_ARTIFACTS := $(BUILD)/fuzz-artifacts

.DEFAULT_GOAL := help
.PHONY: help setup kernel-setup vm kmod-ref kmod-kfib kmod-konoha kernel-suites kernel-lint load unload fuzz fuzz-seed fuzz-run fuzz-syscalls test test-debug debug-kernel bench demo clean

help: ## list the targets
	@echo "K — targets (make TARGET):"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(firstword $(MAKEFILE_LIST)) | \
		sed -E 's/^([a-z-]+):.*## (.*)/\1\t\2/' | \
		awk -F'\t' '{ printf "  %-13s %s\n", $$1, $$2 }'
	@echo "Variables: PYTHON=$(PYTHON) CC=$(CC) FUZZ_SECONDS=$(FUZZ_SECONDS)" \
		"PYTEST_ARGS='$(PYTEST_ARGS)' BENCH_ARGS='$(BENCH_ARGS)'"

# ---- set-up ----------------------------------------------------------------

setup: $(SETUP_STAMP) $(KERNEL_STAMP) ## install Debian packages, ktc and the kernel test kit (idempotent; rm build/.*.stamp to redo)

$(SETUP_STAMP): pyproject.toml tools/setup.sh tools/debpkg.sh
	@echo "==> setting up this machine (tools/setup.sh)"
	@PYTHON='$(PYTHON)' bash tools/setup.sh
	@mkdir -p $(@D)
	@touch $@

kernel-setup: $(KERNEL_STAMP) ## install the 6.1 and 6.12 kernels with headers, QEMU, busybox-static (idempotent)

$(KERNEL_STAMP): tools/kernel_setup.sh tools/debpkg.sh tools/kernels.sh tools/fetch_checkpatch.sh
	@echo "==> setting up the kernel side (tools/kernel_setup.sh)"
	@bash tools/kernel_setup.sh
	@mkdir -p $(@D)
	@touch $@

# ---- kernel modules ----------------------------------------------------------
# Out-of-tree modules are built for every installed kernel (tools/kernels.sh
# finds them) by tools/build_kmod.sh, into build/kernel/RELEASE/NAME/; Kbuild
# tracks their dependencies, so these targets always run and cost little when
# nothing changed.

GUEST_TOOLS := $(BUILD)/kernel/guest/ktest_open $(BUILD)/kernel/guest/ktest_load \
	$(BUILD)/kernel/guest/kload $(BUILD)/kernel/guest/ksysfuzz

kmod-ref: $(GUEST_TOOLS) | $(KERNEL_STAMP) ## build the C reference device kref_dev.ko for each installed kernel
	@bash tools/build_kmod.sh lkm/kernel/ref ref

# The C baseline of the kfib benchmark (bench/test_kfib.py), and its guest
# tool that times an ioctl.
kmod-kfib: $(BUILD)/kernel/guest/kbench_ioctl | $(KERNEL_STAMP) ## build the C reference kfib_ref.ko (recursive fib ioctl) for each installed kernel
	@bash tools/build_kmod.sh lkm/kernel/ref/kfib kfib

# konoha.ko: lkm/kernel/ (Kbuild, the glue) with lkm/core/ mirrored into
# core/ beside it.
kmod-konoha: $(GUEST_TOOLS) | $(KERNEL_STAMP) ## build konoha.ko (lkm/kernel + lkm/core) for each installed kernel
	@KBUILD_EXTRA_SRC=lkm/core bash tools/build_kmod.sh lkm/kernel konoha

# The kernel glue follows kernel style: checkpatch.pl (fetched by
# kernel-setup) on every C file under lkm/kernel/; lkm/core/ is shared with
# userspace and is not checked here.  The JIT companion's glue template
# (lkm/kernel/companion/glue.c.in) is checked as ctjit renders it, for two
# images so that every per-image line is there.  Its externs stay: the
# companion directory is built out of tree and has no header to share with
# konoha.ko or with the stub objects that define the tables.
KERNEL_GLUE := $(shell find lkm/kernel -name '*.c' -o -name '*.h' 2>/dev/null | sort)
COMPANION_GLUE := $(BUILD)/kernel/lint/kjit_lint_glue.c

# make load / make unload: for a real Linux machine with root, never for the
# containers the project is developed in (they boot kernels under QEMU).
KREL := $(shell uname -r)
# JIT companion modules `make load` builds and inserts after konoha.ko: the
# FILE.kmod/ directories of `ktc compile --jit --profile kernel --kernel
# LINE FILE.k` (LINE of the running kernel); scripts loaded afterwards
# run on their stubs.
JIT_KMODS ?= $(wildcard examples/*.kmod)

load: ## build konoha.ko (and the JIT companions JIT_KMODS=DIR.kmod...) against the running kernel and insmod them (root; a real Linux machine)
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make load: must be run as root (it inserts konoha.ko into the running kernel)" >&2; exit 1; fi
	@bash tools/kernels.sh headers $(KREL) >/dev/null
	@KBUILD_EXTRA_SRC=lkm/core bash tools/build_kmod.sh lkm/kernel konoha $(KREL)
	insmod $(BUILD)/kernel/$(KREL)/konoha/konoha.ko
	@for d in $(JIT_KMODS); do \
		name=$$(basename $$d .kmod)_kmod; \
		KMAKE_ARGS="KBUILD_EXTRA_SYMBOLS=$(CURDIR)/$(BUILD)/kernel/$(KREL)/konoha/Module.symvers" \
			bash tools/build_kmod.sh $$d $$name $(KREL) || exit 1; \
		for ko in $(BUILD)/kernel/$(KREL)/$$name/*.ko; do \
			echo "insmod $$ko"; insmod $$ko || exit 1; done; \
	done
	@echo "==> /dev/konoha is ready: ktc load examples/hello_device.k"

unload: ## rmmod konoha.ko (root; fails while a script's device is open)
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make unload: must be run as root (it removes konoha.ko from the running kernel)" >&2; exit 1; fi
	@for m in $$(lsmod | awk '$$1 ~ /^kjit_/ { print $$1 }'); do \
		echo "rmmod $$m"; rmmod $$m || exit 1; done
	rmmod konoha

kernel-lint: | $(KERNEL_STAMP) ## run checkpatch.pl --no-tree -f on the kernel glue (lkm/kernel/, the JIT companion's glue template included)
	@mkdir -p $(dir $(COMPANION_GLUE))
	@$(PYTHON) -c 'import sys, ctjit; open(sys.argv[1], "w").write(ctjit.companion_glue("kjit_lint", [("first", bytes(32)), ("second", bytes(range(32)))]))' $(COMPANION_GLUE)
	@echo "==> checkpatch on $(KERNEL_GLUE) $(COMPANION_GLUE) (lkm/kernel/companion/glue.c.in)"
	@for f in $(KERNEL_GLUE); do \
		perl $(BUILD)/kernel/checkpatch/checkpatch.pl --no-tree -f --terse --quiet $$f || exit 1; \
	done
	@perl $(BUILD)/kernel/checkpatch/checkpatch.pl --no-tree -f --terse --quiet \
		--ignore AVOID_EXTERNS $(COMPANION_GLUE)
	@echo "==> checkpatch: clean"

# Static programs for the test initramfs (it has busybox and no libc).
$(BUILD)/kernel/guest/%: tests/kernel/guest/%.c | $(SETUP_STAMP) $(KERNEL_STAMP)
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

# kload speaks the ioctl ABI of /dev/konoha, and so does ksysfuzz (-L).
$(BUILD)/kernel/guest/kload: lkm/kernel/konoha_uapi.h
$(BUILD)/kernel/guest/ksysfuzz: lkm/kernel/konoha_uapi.h

# The kconformance, kdrivers and khostile suites (tests/kernel/test_k*.py)
# and the open_overhead benchmark: konoha.ko and the guest tools that speak
# its ioctl ABI.
$(BUILD)/kernel/guest/kdrive: lkm/kernel/konoha_uapi.h lkm/core/devops.def

kernel-suites: kmod-konoha $(BUILD)/kernel/guest/kdrive $(BUILD)/kernel/guest/kload ## build what the kernel suites of konoha.ko need (konoha.ko, kdrive, kload)

# ---- the VM ----------------------------------------------------------------

vm: $(VM_TARGETS) ## build build/kvm, build/kvm-asan, build/libkvm.so (and build/fuzz-loader)

fuzz: $(BUILD)/fuzz-loader ## build the libFuzzer image-loader harness build/fuzz-loader

$(BUILD)/kvm: $(KVM_OBJS) Makefile
	@echo "==> building $@"
	@$(CC) -O2 -rdynamic -o $@ $(filter %.o,$^) $(LDLIBS)

# -rdynamic: JIT stubs (--jit STUBS.so) bind to the VM's own kop_* handlers.
$(BUILD)/kvm-asan: $(ASAN_OBJS) Makefile
	@echo "==> building $@"
	@$(CC) -O1 -g $(ASAN_FLAGS) -rdynamic -o $@ $(filter %.o,$^) $(LDLIBS)

$(BUILD)/libkvm.so: $(PIC_OBJS)
	@echo "==> building $@"
	@$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz-loader: $(FUZZ_OBJS)
	@echo "==> building $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

# Objects wait for `make setup` (order-only): on a fresh machine the
# compilers and the clang runtime come from it, also under `make -j`.
$(BUILD)/obj/kvm/%.o: %.c Makefile | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KVM_CFLAGS) -c -o $@ $<

$(BUILD)/obj/asan/%.o: %.c Makefile | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<

$(BUILD)/obj/pic/%.o: %.c Makefile | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(PIC_CFLAGS) -c -o $@ $<

$(BUILD)/obj/fuzz/%.o: %.c Makefile | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

-include $(KVM_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(PIC_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)

# ---- fuzzing ---------------------------------------------------------------

fuzz-seed: setup ## compile every .k under tests/ and examples/ into build/fuzz-corpus
	@echo "==> seeding $(FUZZ_CORPUS) from compiled test images"
	@KTC='$(KTC)' bash tools/fuzz_seed.sh $(FUZZ_CORPUS) tests examples

fuzz-run: fuzz fuzz-seed ## run the fuzzer for FUZZ_SECONDS (default 60) over build/fuzz-corpus
	@mkdir -p $(FUZZ_ARTIFACTS)
	@echo "==> fuzzing the image loader for $(FUZZ_SECONDS) s (crashes go to $(FUZZ_ARTIFACTS)/)"
	$(BUILD)/fuzz-loader -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_ARTIFACTS)/ $(FUZZ_CORPUS)

# Random programs (tests/progfuzz): each generated program runs on the
# interpreter, the ASan VM and a JIT level, against an independent model of
# the semantics; divergences go to build/progfuzz/failures/.
PROGFUZZ_COUNT ?= 2000
PROGFUZZ_SEED ?= 1
PROGFUZZ_ORACLES ?= spread
PROGFUZZ_JOBS ?= 2
.PHONY: fuzz-programs
fuzz-programs: vm ## run PROGFUZZ_COUNT (2000) random programs from PROGFUZZ_SEED on every VM and JIT level against the model
	@echo "==> $(PROGFUZZ_COUNT) random programs from seed $(PROGFUZZ_SEED), oracles $(PROGFUZZ_ORACLES)"
	$(PYTHON) -m tests.progfuzz.run --seed $(PROGFUZZ_SEED) --count $(PROGFUZZ_COUNT) \
		--oracles $(PROGFUZZ_ORACLES) -j $(PROGFUZZ_JOBS)

# The system-call fuzzer on script devices (tests/kernel/test_ksysfuzz.py):
# `make test` runs it for 25 s per kernel with a fixed seed; this target runs
# a longer campaign per kernel, with a new seed unless one is given.
FUZZ_SYSCALL_SECONDS ?= 600
ifeq ($(origin FUZZ_SYSCALL_SEED),undefined)
FUZZ_SYSCALL_SEED := $(shell date +%s)
endif

fuzz-syscalls: setup kernel-suites ## fuzz the system calls of script devices under QEMU for FUZZ_SYSCALL_SECONDS (default 600) per kernel
	@echo "==> fuzzing script devices for $(FUZZ_SYSCALL_SECONDS) s per kernel, seed $(FUZZ_SYSCALL_SEED)"
	FUZZ_SYSCALL_SECONDS=$(FUZZ_SYSCALL_SECONDS) FUZZ_SYSCALL_SEED=$(FUZZ_SYSCALL_SEED) \
		KTEST_REQUIRE=1 $(PYTHON) -m pytest -q tests/kernel/test_ksysfuzz.py $(PYTEST_ARGS)

# ---- tests, benchmarks, demo -----------------------------------------------

# KTEST_REQUIRE=1: a kernel suite whose kernel or module is missing fails
# instead of being skipped (tests/kernel/ktest.py).
test: setup vm kmod-ref kmod-konoha kernel-suites ## run all the tests, the kernel suites under QEMU included (python3 -m pytest -q tests $(PYTEST_ARGS))
	@echo "==> running the tests"
	KTEST_REQUIRE=1 $(PYTHON) -m pytest -q tests $(PYTEST_ARGS)

# The debug kernel: Debian's 6.1 source with KASAN, UBSAN, lockdep,
# DEBUG_ATOMIC_SLEEP and KFENCE (tools/debug_kernel.sh), cached in
# build/debug-kernel/. It takes 20 to 40 minutes to build on two cores and
# its boots are slow, so plain `make test` (and CI) does not use it:
# `make test-debug` runs every kernel suite (tests/kernel, -m kernel) on it
# alone, with the modules and all the guest tools built for it.
GUEST_ALL := $(patsubst tests/kernel/guest/%.c,$(BUILD)/kernel/guest/%,$(wildcard tests/kernel/guest/*.c))

debug-kernel: ## build the debug kernel (Debian 6.1 + KASAN, UBSAN, lockdep, KFENCE) in build/debug-kernel/ (20-40 min, once)
	@bash tools/debug_kernel.sh

test-debug: setup vm debug-kernel $(GUEST_ALL) ## run every kernel suite on the debug kernel only (builds it and its modules first)
	@rel=$$(bash tools/debug_kernel.sh release) && \
		bash tools/build_kmod.sh lkm/kernel/ref ref $$rel && \
		bash tools/build_kmod.sh lkm/kernel/ref/kfib kfib $$rel && \
		KBUILD_EXTRA_SRC=lkm/core bash tools/build_kmod.sh lkm/kernel konoha $$rel
	@echo "==> running the kernel suites on the debug kernel"
	KTEST_KERNELS=debug KTEST_REQUIRE=1 $(PYTHON) -m pytest -q -m kernel tests/kernel $(PYTEST_ARGS)

bench: setup vm kmod-ref kmod-kfib kernel-suites ## run the benchmark suites in bench/ and print the ratio tables
	@echo "==> running the benchmarks (results in bench/results/)"
	$(PYTHON) -m pytest bench/ --benchmark-only --benchmark-columns=min,median,max,rounds \
		--benchmark-sort=name $(BENCH_ARGS)

demo: setup vm kmod-konoha ## the demo: boot Linux under QEMU, load konoha.ko and examples/hello_device.k, use /dev/hello
	@PYTHON='$(PYTHON)' bash tools/demo.sh

clean: ## remove build/ (the set-up stamp included)
	@echo "==> removing $(BUILD)/"
	rm -rf $(BUILD)
