// SPDX-License-Identifier: GPL-2.0
/*
 * kload: load, unload and list K scripts in konoha.ko through the ioctls
 * of /dev/konoha (lkm/kernel/konoha_uapi.h); the guest's `ktc load`.
 *
 *   kload [-u UID] load [-n NAME] [-b BUDGET] [-H HEAP] [-d DEPTH]
 *         [-p NAME=VALUE]... [-x HEX]... [-l LEN] [-a ADDR] [-r N] [-P]
 *         IMAGE.kbc
 *   kload [-u UID] unload NAME
 *   kload [-u UID] list          one line per script, then "live_allocs N"
 *   kload [-u UID] allocs        the module's live allocation count only
 *
 * On success prints what it did and exits 0.  On failure prints
 * "kload: CMD: strerror (errno N)" and the module's message (the
 * verifier's or the init's report), and exits with the errno itself, so
 * a shell test can check it ($? = 16 for EBUSY); usage errors exit 100.
 * With -u, /dev/konoha is opened as root and the ioctl is made as user
 * UID (so the module's CAP_SYS_ADMIN check is what refuses it: EPERM).
 *
 * Load-time parameters (System.param) go through KONOHA_IOC_LOAD_PARAMS:
 * -p appends "NAME=VALUE" and its NUL to the parameters, -x appends raw
 * bytes given in hex (hostile tests: no NUL, bad names...); -l sets
 * params_len and -a the params address to anything (a bad pointer, a
 * length past the buffer), -r the reserved field; -P uses the new ioctl
 * even without parameters.  Without any of them a load is KONOHA_IOC_LOAD.
 *
 * Device helpers for shell tests (same output and exit convention):
 *   kload ioctl DEV CMD ARG      prints the ioctl's result
 *   kload seek DEV OFF WHENCE    prints the new offset, then what a read
 *                                from there returns
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../../lkm/kernel/konoha_uapi.h"

#define USAGE_EXIT 100
#define MSG_LEN 8192

static const char *device = "/dev/konoha";
static long uid = -1;

static int fail(const char *what, int err, const char *msg)
{
	printf("kload: %s: %s (errno %d)\n", what, strerror(err), err);
	if (msg && *msg)
		printf("%s%s", msg, msg[strlen(msg) - 1] == '\n' ? "" : "\n");
	return err > 0 && err < USAGE_EXIT ? err : 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: kload [-u UID] load [-n NAME] [-b BUDGET] [-H HEAP] [-d DEPTH]\n"
		"             [-p NAME=VALUE]... [-x HEX]... [-l LEN] [-a ADDR] [-r N] [-P] IMAGE\n"
		"       kload [-u UID] unload NAME\n"
		"       kload [-u UID] list | allocs\n"
		"       kload ioctl DEV CMD ARG | seek DEV OFF WHENCE\n");
	return USAGE_EXIT;
}

static int open_konoha(void)
{
	int fd;

	fd = open(device, O_RDWR);
	if (fd < 0)
		return -errno;
	if (uid >= 0 && (setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0))
		return -errno;
	return fd;
}

static int read_file(const char *path, char **data, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	*data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*data)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		n = read(fd, *data + got, (size_t)st.st_size - got);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

/* Parameters being built: up to twice the module's largest, for tests. */
static char params[2 * KONOHA_PARAMS_LEN_MAX];
static size_t params_len;

/* Appends n bytes to params; false when they do not fit. */
static int add_params(const void *b, size_t n)
{
	if (n > sizeof(params) - params_len)
		return 0;
	memcpy(params + params_len, b, n);
	params_len += n;
	return 1;
}

/* Appends the bytes of a hex string; false when it is malformed. */
static int add_hex(const char *hex)
{
	unsigned int v;
	char b;

	if (strlen(hex) % 2)
		return 0;
	for (; *hex; hex += 2) {
		if (sscanf(hex, "%2x", &v) != 1)
			return 0;
		b = (char)v;
		if (!add_params(&b, 1))
			return 0;
	}
	return 1;
}

static int cmd_load(int argc, char **argv)
{
	static char msg[MSG_LEN];
	struct konoha_load_params lp;
	struct konoha_load ld;
	char *data = NULL;
	size_t len = 0;
	int opt, fd, err, with_params = 0;
	long long plen = -1;
	unsigned long long paddr = 0;
	int set_addr = 0;

	memset(&ld, 0, sizeof(ld));
	memset(&lp, 0, sizeof(lp));
	optind = 1;
	while ((opt = getopt(argc, argv, "n:b:H:d:p:x:l:a:r:P")) != -1) {
		with_params |= strchr("pxlarP", opt) != NULL;
		switch (opt) {
		case 'p':
			if (!add_params(optarg, strlen(optarg) + 1))
				return usage();
			break;
		case 'x':
			if (!add_hex(optarg))
				return usage();
			break;
		case 'l':
			plen = strtoll(optarg, NULL, 0);
			break;
		case 'a':
			paddr = strtoull(optarg, NULL, 0);
			set_addr = 1;
			break;
		case 'r':
			lp.reserved = (__u32)strtoul(optarg, NULL, 0);
			break;
		case 'P':
			break;
		case 'n':
			strncpy(ld.name, optarg, sizeof(ld.name) - 1);
			break;
		case 'b':
			ld.budget = strtoull(optarg, NULL, 0);
			break;
		case 'H':
			ld.heap = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			ld.depth = (__u32)strtoul(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 1)
		return usage();
	err = read_file(argv[optind], &data, &len);
	if (err)
		return fail(argv[optind], -err, NULL);
	fd = open_konoha();
	if (fd < 0)
		return fail(device, -fd, NULL);
	ld.image = (__u64)(unsigned long)data;
	ld.image_len = len;
	ld.msg = (__u64)(unsigned long)msg;
	ld.msg_len = sizeof(msg);
	if (with_params) {
		lp.load = ld;
		lp.params = set_addr ? paddr : (__u64)(unsigned long)params;
		lp.params_len = plen >= 0 ? (__u32)plen : (__u32)params_len;
		if (ioctl(fd, KONOHA_IOC_LOAD_PARAMS, &lp) < 0)
			return fail("load", errno, msg);
		ld = lp.load;
	} else if (ioctl(fd, KONOHA_IOC_LOAD, &ld) < 0) {
		return fail("load", errno, msg);
	}
	printf("loaded %s as %s\n", argv[optind], ld.name);
	free(data);
	close(fd);
	return 0;
}

static int cmd_unload(int argc, char **argv)
{
	struct konoha_unload ul;
	int fd;

	if (argc != 2)
		return usage();
	memset(&ul, 0, sizeof(ul));
	strncpy(ul.name, argv[1], sizeof(ul.name) - 1);
	fd = open_konoha();
	if (fd < 0)
		return fail(device, -fd, NULL);
	if (ioctl(fd, KONOHA_IOC_UNLOAD, &ul) < 0)
		return fail("unload", errno, NULL);
	printf("unloaded %s\n", ul.name);
	close(fd);
	return 0;
}

static int cmd_list(int only_allocs)
{
	static struct konoha_script_info info[64];
	struct konoha_list ls;
	unsigned int i;
	int fd;

	memset(&ls, 0, sizeof(ls));
	ls.scripts = (__u64)(unsigned long)info;
	ls.max = sizeof(info) / sizeof(info[0]);
	fd = open_konoha();
	if (fd < 0)
		return fail(device, -fd, NULL);
	if (ioctl(fd, KONOHA_IOC_LIST, &ls) < 0)
		return fail("list", errno, NULL);
	close(fd);
	if (only_allocs) {
		printf("%lld\n", (long long)ls.live_allocs);
		return 0;
	}
	for (i = 0; i < ls.count && i < ls.max; i++)
		printf("%s devices=[%s] heap=%llu/%llu calls=%llu failed=%llu open=%u\n",
		       info[i].name, info[i].devices,
		       (unsigned long long)info[i].heap_used,
		       (unsigned long long)info[i].heap_limit,
		       (unsigned long long)info[i].calls,
		       (unsigned long long)info[i].failed_calls,
		       info[i].open_files);
	printf("live_allocs %lld\n", (long long)ls.live_allocs);
	return 0;
}

static int cmd_ioctl(int argc, char **argv)
{
	long ret;
	int fd;

	if (argc != 4)
		return usage();
	fd = open(argv[1], O_RDWR);
	if (fd < 0)
		return fail(argv[1], errno, NULL);
	/* the raw system call: glibc's ioctl() truncates the result to int */
	ret = syscall(SYS_ioctl, fd, strtoul(argv[2], NULL, 0),
		      strtoll(argv[3], NULL, 0));
	if (ret == -1)
		return fail("ioctl", errno, NULL);
	printf("%ld\n", ret);
	close(fd);
	return 0;
}

static int cmd_seek(int argc, char **argv)
{
	char buf[4096];
	off_t pos;
	ssize_t n;
	int fd;

	if (argc != 4)
		return usage();
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return fail(argv[1], errno, NULL);
	pos = lseek(fd, (off_t)strtol(argv[2], NULL, 0), atoi(argv[3]));
	if (pos < 0)
		return fail("lseek", errno, NULL);
	printf("%lld\n", (long long)pos);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("read", errno, NULL);
	buf[n] = '\0';
	printf("%s", buf);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-u")) {
		uid = strtol(argv[2], NULL, 10);
		i = 3;
	}
	if (argc - i < 1)
		return usage();
	if (!strcmp(argv[i], "load"))
		return cmd_load(argc - i, argv + i);
	if (!strcmp(argv[i], "unload"))
		return cmd_unload(argc - i, argv + i);
	if (!strcmp(argv[i], "list") && argc - i == 1)
		return cmd_list(0);
	if (!strcmp(argv[i], "allocs") && argc - i == 1)
		return cmd_list(1);
	if (!strcmp(argv[i], "ioctl"))
		return cmd_ioctl(argc - i, argv + i);
	if (!strcmp(argv[i], "seek"))
		return cmd_seek(argc - i, argv + i);
	return usage();
}
