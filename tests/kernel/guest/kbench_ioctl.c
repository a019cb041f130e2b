// SPDX-License-Identifier: GPL-2.0
/*
 * kbench_ioctl: time one ioctl, the kfib benchmark's guest tool.
 *
 *   kbench_ioctl [-n REPEAT] DEV CMD ARG
 *
 * Opens DEV, calls ioctl(fd, CMD, ARG) REPEAT times (default 1), each
 * timed with CLOCK_MONOTONIC, and prints one line per call:
 *
 *   ioctl DEV cmd=C arg=A result=R ns=T
 *
 * Exits 1 with a message on a failing system call. Built with gcc -static
 * so it runs in the test initramfs, which has no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long repeat = 1, i;
	unsigned long cmd, arg;
	int opt, fd;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			goto usage;
		repeat = strtol(optarg, NULL, 0);
	}
	if (argc - optind != 3 || repeat < 1)
		goto usage;
	cmd = strtoul(argv[optind + 1], NULL, 0);
	arg = strtoul(argv[optind + 2], NULL, 0);
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "kbench_ioctl: open %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	for (i = 0; i < repeat; i++) {
		long long t0 = now_ns();
		long ret = ioctl(fd, cmd, arg);
		long long t1 = now_ns();

		if (ret < 0) {
			fprintf(stderr, "kbench_ioctl: ioctl %s %lu %lu: %s\n",
				argv[optind], cmd, arg, strerror(errno));
			close(fd);
			return 1;
		}
		printf("ioctl %s cmd=%lu arg=%lu result=%ld ns=%lld\n",
		       argv[optind], cmd, arg, ret, t1 - t0);
	}
	close(fd);
	return 0;
usage:
	fprintf(stderr, "usage: kbench_ioctl [-n REPEAT] DEV CMD ARG\n");
	return 1;
}
