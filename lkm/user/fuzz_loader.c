// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_loader.c - libFuzzer harness of the image loader.
 *
 * Every input goes through kimg_load() and, when it loads, its init runs
 * under small limits (budget, heap, depth), so that whatever the verifier
 * lets through is also exercised by the interpreter.  Sanitizers (ASan,
 * UBSan) turn any out-of-bounds access or undefined behaviour into a
 * finding; a leak of loader or VM blocks aborts too.
 *
 * Inputs shorter than the header are taken as they are.  Longer ones get
 * their size field and digest fixed with probability 15/16, so mutations
 * reach the section parsers and the verifier instead of stopping at
 * "bad digest".
 */
#include "kimage.h"
#include "kvm.h"

#include <stdlib.h>

static void fuzz_output(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
}

static void fuzz_log(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
}

/*
 * Small limits keep every input fast: an endless loop the verifier
 * accepts ends with "budget exceeded" after 20000 instructions.
 */
static void run_init(const struct kimage *img)
{
	struct kvm_host host = { .output = fuzz_output, .log = fuzz_log };
	struct kvm_limits lim;
	struct kvm *vm;

	kvm_default_limits(&lim);
	lim.budget = 20000;
	lim.cb_budget = 20000;
	lim.heap = 1u << 20;
	lim.depth = 64;
	vm = kvm_create(img, &lim, &host);
	if (!vm)
		return;
	kvm_run_init(vm);
	kvm_destroy(vm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kimage *img = NULL;
	char err[256];
	uint8_t *copy;
	long before = kp_live_allocs();

	/* a private copy, exactly size bytes: ASan sees any overread */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	/*
	 * The input's last byte decides, so a crash found with the fix
	 * reproduces from the saved input alone.
	 */
	if (size >= 48 && (data[size - 1] & 15) != 0) {
		uint32_t n = (uint32_t)size;

		copy[8] = (uint8_t)n;
		copy[9] = (uint8_t)(n >> 8);
		copy[10] = (uint8_t)(n >> 16);
		copy[11] = (uint8_t)(n >> 24);
		ksha256(copy + 48, size - 48, copy + 16);
	}
	if (kimg_load(copy, size, &img, err, sizeof(err)) == 0) {
		run_init(img);
		kimg_free(img);
	} else if (!err[0]) {
		abort();	/* a refusal always says why */
	}
	free(copy);
	if (kp_live_allocs() != before)
		abort();	/* the loader or the VM leaked */
	return 0;
}
