// SPDX-License-Identifier: GPL-2.0
/*
 * ktest_load: load a K image into konoha.ko from the test initramfs.
 *
 *   ktest_load [-u UID] IMAGE.kbc [DEVICE]
 *
 * Writes IMAGE to DEVICE (default /dev/konoha) and closes it: the close
 * verifies the image and runs its init. Prints "loaded IMAGE" or the
 * failing call with its errno, and exits 0 or 1 accordingly, so a suite
 * sees the result of close(2), which a shell redirection throws away.
 * With -u the image is read as root and the device opened as user UID
 * (to check that /dev/konoha refuses other users).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *image, *device = "/dev/konoha";
	static char buf[65536];
	long uid = -1;
	ssize_t n, w;
	int in, out, opt;

	while ((opt = getopt(argc, argv, "u:")) != -1) {
		if (opt != 'u')
			goto bad_usage;
		uid = strtol(optarg, NULL, 10);
	}
	if (argc - optind < 1 || argc - optind > 2)
		goto bad_usage;
	image = argv[optind];
	if (argc - optind == 2)
		device = argv[optind + 1];
	in = open(image, O_RDONLY);
	if (in < 0) {
		printf("open %s: %s\n", image, strerror(errno));
		return 1;
	}
	if (uid >= 0 && (setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0)) {
		printf("setuid %ld: %s\n", uid, strerror(errno));
		return 1;
	}
	out = open(device, O_WRONLY);
	if (out < 0) {
		printf("open %s: %s\n", device, strerror(errno));
		return 1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		w = write(out, buf, (size_t)n);
		if (w != n) {
			printf("write %s: %s\n", device,
			       w < 0 ? strerror(errno) : "short write");
			return 1;
		}
	}
	if (n < 0) {
		printf("read %s: %s\n", image, strerror(errno));
		return 1;
	}
	if (close(out) < 0) {
		printf("close %s (load of %s): %s (errno %d)\n", device, image,
		       strerror(errno), errno);
		return 1;
	}
	printf("loaded %s\n", image);
	return 0;

bad_usage:
	fprintf(stderr, "usage: ktest_load [-u UID] IMAGE.kbc [DEVICE]\n");
	return 2;
}
