# K: build, set-up, tests, benchmarks and demo.
# `make help` lists the targets.

PYTHON ?= python3
KTC ?= $(PYTHON) -m frontend.cli

ifeq ($(origin CC),default)
CC := gcc
endif
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=
BENCH_ARGS ?=

BUILD := build
SETUP_STAMP := $(BUILD)/.setup.stamp

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
.PHONY: help setup vm fuzz fuzz-seed fuzz-run test bench demo clean

help: ## list the targets
	@echo "K — targets (make TARGET):"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		sed -E 's/^([a-z-]+):.*## (.*)/\1|\2/' | \
		awk -F'|' '{ printf "  %-12s %s\n", $$1, $$2 }'
	@echo "Variables: PYTHON=$(PYTHON) CC=$(CC) FUZZ_SECONDS=$(FUZZ_SECONDS)" \
		"PYTEST_ARGS='$(PYTEST_ARGS)' BENCH_ARGS='$(BENCH_ARGS)'"

# ---- set-up ----------------------------------------------------------------

setup: $(SETUP_STAMP) ## install Debian packages and ktc (idempotent; rm build/.setup.stamp to redo)

$(SETUP_STAMP): pyproject.toml tools/setup.sh
	@echo "==> setting up this machine (tools/setup.sh)"
	@PYTHON='$(PYTHON)' bash tools/setup.sh
	@mkdir -p $(@D)
	@touch $@

# ---- the VM ----------------------------------------------------------------

vm: $(VM_TARGETS) ## build build/kvm, build/kvm-asan, build/libkvm.so (and build/fuzz-loader)

fuzz: $(BUILD)/fuzz-loader ## build the libFuzzer image-loader harness build/fuzz-loader

$(BUILD)/kvm: $(KVM_OBJS)
	@echo "==> building $@"
	@$(CC) -O2 -o $@ $^ $(LDLIBS)

$(BUILD)/kvm-asan: $(ASAN_OBJS)
	@echo "==> building $@"
	@$(CC) -O1 -g $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

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

# ---- tests, benchmarks, demo -----------------------------------------------

test: setup vm ## run all the tests (python3 -m pytest -q tests $(PYTEST_ARGS))
	@echo "==> running the tests"
	$(PYTHON) -m pytest -q tests $(PYTEST_ARGS)

bench: setup vm ## run the benchmark suites in bench/ and print the ratio tables
	@echo "==> running the benchmarks (results in bench/results/)"
	$(PYTHON) -m pytest bench/ --benchmark-only --benchmark-columns=min,median,max,rounds \
		--benchmark-sort=name $(BENCH_ARGS)

demo: setup vm ## the demo: compile and run examples/hello.k in the userspace VM
	@PYTHON='$(PYTHON)' bash tools/demo.sh

clean: ## remove build/ (the set-up stamp included)
	@echo "==> removing $(BUILD)/"
	rm -rf $(BUILD)
