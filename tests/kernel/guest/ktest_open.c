// SPDX-License-Identifier: GPL-2.0
/*
 * ktest_open: an lmbench-style open+close loop, the open_overhead tool.
 *
 *   ktest_open [-n ITERATIONS] [-w WARMUP] [-r] PATH
 *
 * Opens and closes PATH ITERATIONS times (default 10000) after WARMUP
 * untimed rounds (default 100), then prints one line:
 *
 *   open_close PATH iterations=N total_ns=T ns_per_iter=X.XX
 *
 * With -r each iteration also reads the file once (open+read+close).
 * Exits 1 with a message on the first failing system call. Built with
 * gcc -static so it runs in the test initramfs, which has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One open(+read)+close round; returns 0 or -1 with a message printed. */
static int one_round(const char *path, int do_read, long i)
{
	char buf[256];
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "ktest_open: open %s (iteration %ld): %s\n",
			path, i, strerror(errno));
		return -1;
	}
	if (do_read && read(fd, buf, sizeof(buf)) < 0) {
		fprintf(stderr, "ktest_open: read %s (iteration %ld): %s\n",
			path, i, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "ktest_open: close %s (iteration %ld): %s\n",
			path, i, strerror(errno));
		return -1;
	}
	return 0;
}

static void die_usage(void)
{
	fprintf(stderr, "usage: ktest_open [-n ITERATIONS] [-w WARMUP] [-r] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long iterations = 10000, warmup = 100, i;
	int do_read = 0, opt;
	long long start, total;
	const char *path;

	while ((opt = getopt(argc, argv, "n:w:r")) != -1) {
		switch (opt) {
		case 'n':
			iterations = strtol(optarg, NULL, 10);
			break;
		case 'w':
			warmup = strtol(optarg, NULL, 10);
			break;
		case 'r':
			do_read = 1;
			break;
		default:
			die_usage();
		}
	}
	if (optind != argc - 1 || iterations <= 0 || warmup < 0)
		die_usage();
	path = argv[optind];

	for (i = 0; i < warmup; i++)
		if (one_round(path, do_read, i) < 0)
			return 1;
	start = now_ns();
	for (i = 0; i < iterations; i++)
		if (one_round(path, do_read, i) < 0)
			return 1;
	total = now_ns() - start;
	printf("open_close %s iterations=%ld total_ns=%lld ns_per_iter=%.2f\n",
	       path, iterations, total, (double)total / iterations);
	return 0;
}
