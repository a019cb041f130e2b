/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * konoha_uapi.h - the ioctl interface of /dev/konoha (konoha.ko).
 *
 * Shared by the module, the guest tool tests/kernel/guest/kload.c and
 * `ktc load/unload/list` (ktc/konoha.py mirrors these structs with the
 * struct module: keep both in step).  Every struct has a fixed layout
 * without implicit padding; user addresses travel as __u64.
 *
 * /dev/konoha is root only (0600) and every load/unload checks
 * CAP_SYS_ADMIN.  Writing an image and closing the file loads it too
 * (close(2) fails with the load's errno); the ioctls below also return
 * the reason of a failure as text.
 */
#ifndef _UAPI_KONOHA_H
#define _UAPI_KONOHA_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Script and device names: up to 31 bytes and a NUL. */
#define KONOHA_NAME_LEN		32
/* Device names of a script reported by KONOHA_IOC_LIST. */
#define KONOHA_DEVS_LEN		128

/*
 * KONOHA_IOC_LOAD: verify an image, run its init, keep the script.
 * 0 on success; -1 with errno on failure, the reason in msg:
 *	EINVAL	bad arguments, or the init failed (exception or abort)
 *	ENOEXEC	the image was refused by the verifier
 *	EEXIST	a script of that name is loaded or being loaded, or a
 *		device name is taken (by any node in /dev)
 *	ENOENT	KONOHA_LOAD_JIT and no JIT stubs for this image
 *	E...	the errno of a DeviceError the init did not catch (EIO
 *		when it is not a user errno, 1..133)
 * A zero budget/heap/depth selects the kernel default (10^8
 * instructions per init or callback, 16 MiB, 1000 frames); the largest
 * accepted are 10^10 instructions, 1 GiB and 100,000 frames (EINVAL).
 */
struct konoha_load {
	__u64 image;		/* in: address of the image */
	__u64 image_len;	/* in: its size in bytes */
	__u64 budget;		/* in: instructions per init or callback */
	__u64 heap;		/* in: heap quota in bytes */
	__u32 depth;		/* in: call depth in frames */
	__u32 flags;		/* in: KONOHA_LOAD_* */
	__u64 msg;		/* in: address of a buffer for the error text */
	__u32 msg_len;		/* in: its size (0: no text wanted) */
	__u32 msg_out;		/* out: length of the full text, NUL excluded */
	char name[KONOHA_NAME_LEN];	/* in: name or "" (out: name used) */
};

/*
 * Flags of KONOHA_IOC_LOAD.  By default a script runs on the JIT stubs
 * registered for its image digest by a companion module (loaded before
 * the script), else in the interpreter.
 *	KONOHA_LOAD_JIT		refuse the load (ENOENT, with a message)
 *				when no stubs are registered for the image
 *	KONOHA_LOAD_NOJIT	always interpret, even when stubs exist
 */
#define KONOHA_LOAD_JIT		0x1u
#define KONOHA_LOAD_NOJIT	0x2u

/*
 * KONOHA_IOC_LOAD_PARAMS: KONOHA_IOC_LOAD with load-time parameters for
 * System.param (the language reference §9.3).  params points to entries
 * "NAME=VALUE", each ended by a NUL byte: at most KONOHA_PARAMS_MAX of
 * them, names of 1-31 of [a-z0-9_] given once each, values of at most
 * KONOHA_PARAM_VALUE_MAX bytes (so no NUL in a value).  Anything else
 * fails with EINVAL and the reason in msg, as does a nonzero reserved or
 * a params_len over KONOHA_PARAMS_LEN_MAX; EFAULT when params cannot be
 * read.  params_len 0 is a load without parameters.  The parameters are
 * kept with the script and count against its heap quota.
 */
#define KONOHA_PARAMS_MAX	32
#define KONOHA_PARAM_VALUE_MAX	1024
#define KONOHA_PARAMS_LEN_MAX	(KONOHA_PARAMS_MAX * (31 + 1 + KONOHA_PARAM_VALUE_MAX + 1))

struct konoha_load_params {
	struct konoha_load load;	/* as KONOHA_IOC_LOAD (in and out) */
	__u64 params;		/* in: address of the entries */
	__u32 params_len;	/* in: their size in bytes */
	__u32 reserved;		/* in: 0 */
};

/* KONOHA_IOC_UNLOAD: remove a script and its devices (EBUSY if open). */
struct konoha_unload {
	char name[KONOHA_NAME_LEN];
};

/* One loaded script, as KONOHA_IOC_LIST reports it. */
struct konoha_script_info {
	char name[KONOHA_NAME_LEN];
	char devices[KONOHA_DEVS_LEN];	/* names, space-separated */
	__u64 heap_used;	/* bytes charged to its quota */
	__u64 heap_limit;	/* its quota */
	__u64 calls;		/* device callbacks served */
	__u64 failed_calls;	/* callbacks that failed with -EIO */
	__u32 ndevices;
	__u32 open_files;
};

/*
 * KONOHA_IOC_LIST: the loaded scripts, oldest first.  Fills at most max
 * entries of the array at scripts (may be 0) and sets count to the
 * number of scripts loaded; live_allocs is the number of blocks the
 * module has allocated and not freed (for leak tests).
 */
struct konoha_list {
	__u64 scripts;		/* in: address of struct konoha_script_info[] */
	__u32 max;		/* in: its length */
	__u32 count;		/* out */
	__s64 live_allocs;	/* out */
};

#define KONOHA_IOC_MAGIC	0xB7
#define KONOHA_IOC_LOAD		_IOWR(KONOHA_IOC_MAGIC, 1, struct konoha_load)
#define KONOHA_IOC_UNLOAD	_IOW(KONOHA_IOC_MAGIC, 2, struct konoha_unload)
#define KONOHA_IOC_LIST		_IOWR(KONOHA_IOC_MAGIC, 3, struct konoha_list)
#define KONOHA_IOC_LOAD_PARAMS	_IOWR(KONOHA_IOC_MAGIC, 4, \
				      struct konoha_load_params)

#endif /* _UAPI_KONOHA_H */
