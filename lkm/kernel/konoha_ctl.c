// SPDX-License-Identifier: GPL-2.0
/*
 * konoha_ctl.c - /dev/konoha (root only), which loads compiled images:
 * write(2) the bytes and close(2) the file (close fails with the load's
 * errno, the reason goes to the kernel log), or the ioctls of
 * konoha_uapi.h, which also return the reason as text, unload a script
 * by name and list the scripts.  The work is konoha_script.c's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "konoha.h"

/*
 * What was written to one open file of /dev/konoha.  Its descriptors may
 * be shared (threads, dup, fork): lock serializes writes and the load at
 * a close.  buf comes from kp_realloc(), so an image written and never
 * loaded shows in kp_live_blocks until the file is released.
 */
struct konoha_upload {
	struct mutex lock;
	u8 *buf;		/* the bytes written since the last load */
	size_t len, cap;	/* cap <= KONOHA_IMAGE_MAX */
};

/* Root only: loading a script is loading kernel code. */
static int konoha_open(struct inode *inode, struct file *file)
{
	struct konoha_upload *up;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	/* not counted by kp_live_blocks: the count reads 0 with no script */
	up = kzalloc(sizeof(*up), GFP_KERNEL);
	if (!up)
		return -ENOMEM;
	mutex_init(&up->lock);
	file->private_data = up;
	return stream_open(inode, file);
}

/*
 * Appends to the image, up to KONOHA_IMAGE_MAX bytes in all; *ppos is not
 * used (a stream).  A write that fails appends nothing: count, or -EFBIG
 * past the limit, -ENOMEM, -EFAULT, or -EINTR when killed while waiting
 * for the lock (held only to append, or by a flush to take the bytes).
 */
static ssize_t konoha_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct konoha_upload *up = file->private_data;
	ssize_t ret = count;
	size_t cap;
	u8 *p;

	if (mutex_lock_killable(&up->lock))
		return -EINTR;
	if (count > KONOHA_IMAGE_MAX - up->len) {
		ret = -EFBIG;
		goto out_unlock;
	}
	/* doubling keeps many small writes linear */
	if (up->len + count > up->cap) {
		cap = max_t(size_t, up->cap * 2, up->len + count);
		cap = min_t(size_t, cap, KONOHA_IMAGE_MAX);
		p = kp_realloc(up->buf, up->len, cap);
		if (!p) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		up->buf = p;
		up->cap = cap;
	}
	if (copy_from_user(up->buf + up->len, buf, count))
		ret = -EFAULT;
	else
		up->len += count;
out_unlock:
	mutex_unlock(&up->lock);
	return ret;
}

/*
 * close(2): load what was written, report the result to the caller.
 * ->flush runs at every close of every descriptor of the file: the first
 * one after some writes loads them, the others find nothing and return 0.
 * The request and its message buffer (8 KiB) are allocated, not put on
 * the kernel stack.
 */
static int konoha_flush(struct file *file, fl_owner_t id)
{
	struct konoha_upload *up = file->private_data;
	struct load_req *rq;
	size_t len;
	u8 *buf;
	int err;

	/* the load takes the bytes: a write meanwhile starts a new image */
	if (mutex_lock_killable(&up->lock))
		return -EINTR;
	buf = up->buf;
	len = up->len;
	up->buf = NULL;
	up->len = 0;
	up->cap = 0;
	mutex_unlock(&up->lock);
	if (!len) {
		kp_free(buf);
		return 0;
	}
	rq = kp_zalloc(sizeof(*rq) + KONOHA_MSG_MAX);
	if (!rq) {
		kp_free(buf);
		return -ENOMEM;
	}
	rq->msg = (char *)(rq + 1);
	rq->data = buf;
	rq->len = len;
	err = konoha_script_load(rq);
	kp_free(rq);
	kp_free(buf);
	return err;
}

/* The last close: frees bytes never loaded (a flush that was killed). */
static int konoha_release(struct inode *inode, struct file *file)
{
	struct konoha_upload *up = file->private_data;

	/* the last reference to the file: nobody else uses up */
	kp_free(up->buf);
	mutex_destroy(&up->lock);
	kfree(up);
	return 0;
}

/*
 * The parameters of KONOHA_IOC_LOAD_PARAMS into rq (a kernel copy, freed
 * by the caller with kvfree): 0, or -EINVAL with the reason in rq->msg
 * (a reserved field set, a length over the limit), or -EFAULT/-ENOMEM.
 * Only their size is checked here; the core checks their content
 * (kvm_set_params) before anything of them is used.
 */
static int copy_params(struct load_req *rq,
		       const struct konoha_load_params *lp)
{
	char *p;

	/* the uapi limits are the core's (konoha_uapi.h, kvm.h) */
	BUILD_BUG_ON(KONOHA_PARAMS_LEN_MAX != KVM_PARAMS_BLOB_MAX);
	BUILD_BUG_ON(KONOHA_PARAMS_MAX != KVM_PARAMS_MAX);
	BUILD_BUG_ON(KONOHA_PARAM_VALUE_MAX != KVM_PARAM_VALUE_MAX);

	if (lp->reserved || lp->params_len > KONOHA_PARAMS_LEN_MAX) {
		scnprintf(rq->msg, KONOHA_MSG_MAX, lp->reserved ?
			  "parameters refused: reserved field not 0\n" :
			  "parameters refused: larger than %u bytes\n",
			  KONOHA_PARAMS_LEN_MAX);
		return -EINVAL;
	}
	if (!lp->params_len)
		return 0;
	p = vmemdup_user(u64_to_user_ptr(lp->params), lp->params_len);
	if (IS_ERR(p))
		return PTR_ERR(p);
	rq->params = p;
	rq->params_len = lp->params_len;
	return 0;
}

/*
 * KONOHA_IOC_LOAD and KONOHA_IOC_LOAD_PARAMS (with_params): the image,
 * its name and limits (and parameters) in, the name used and the reason
 * (truncated to msg_len, its full length in msg_out) out; the reply is
 * written back even when the load fails, but not when the image or the
 * parameters could not be copied in.  msg_len 0 asks for no text;
 * msg_out still says how long it was.  A failed copy back turns the
 * result into -EFAULT.  The struct is read once, whole: the user cannot
 * change a length after it was checked.
 */
static long ioctl_load(void __user *arg, bool with_params)
{
	struct konoha_load_params lp = {};
	struct konoha_load ld;
	struct load_req *rq;
	size_t n;
	u32 bad;
	int err;

	if (with_params) {
		if (copy_from_user(&lp, arg, sizeof(lp)))
			return -EFAULT;
		ld = lp.load;
	} else if (copy_from_user(&ld, arg, sizeof(ld))) {
		return -EFAULT;
	}
	rq = kp_zalloc(sizeof(*rq) + KONOHA_MSG_MAX);
	if (!rq)
		return -ENOMEM;
	rq->msg = (char *)(rq + 1);
	rq->budget = ld.budget;
	rq->heap = ld.heap;
	rq->depth = ld.depth;
	rq->flags = ld.flags;
	/* the user's name may lack its NUL */
	memcpy(rq->name, ld.name, sizeof(rq->name));
	rq->name[KONOHA_NAME_LEN - 1] = '\0';
	if ((ld.flags & ~KONOHA_LOAD_FLAGS) ||
	    ld.image_len > KONOHA_IMAGE_MAX) {
		bad = ld.flags & ~KONOHA_LOAD_FLAGS;
		scnprintf(rq->msg, KONOHA_MSG_MAX, bad ?
			  "unknown flags %#x\n" : "image larger than %u bytes\n",
			  bad ? bad : KONOHA_IMAGE_MAX);
		err = bad ? -EINVAL : -EFBIG;
		goto out_reply;
	}
	err = with_params ? copy_params(rq, &lp) : 0;
	if (err == -EINVAL)
		goto out_reply;
	if (err)
		goto out_free;
	/*
	 * Up to 16 MiB: vmemdup_user() falls back to vmalloc.  An empty
	 * image goes to the verifier too, for its message.
	 */
	rq->data = ld.image_len ?
		vmemdup_user(u64_to_user_ptr(ld.image), ld.image_len) :
		(const u8 *)"";
	if (IS_ERR(rq->data)) {
		err = PTR_ERR(rq->data);
		kvfree(rq->params);
		goto out_free;
	}
	rq->len = ld.image_len;
	err = konoha_script_load(rq);
	if (ld.image_len)
		kvfree(rq->data);
	kvfree(rq->params);

out_reply:
	n = strlen(rq->msg);
	ld.msg_out = n;
	memcpy(ld.name, rq->name, sizeof(ld.name));
	if (ld.msg_len) {
		n = min_t(size_t, n, ld.msg_len - 1);
		rq->msg[n] = '\0';
		if (copy_to_user(u64_to_user_ptr(ld.msg), rq->msg, n + 1))
			err = -EFAULT;
	}
	if (copy_to_user(arg, &ld, sizeof(ld)))
		err = -EFAULT;
out_free:
	kp_free(rq);
	return err;
}

/*
 * The commands of konoha_uapi.h.  Only CAP_SYS_ADMIN opens /dev/konoha;
 * load and unload check it again (konoha_script.c), since a descriptor
 * may be handed to another process.  Every struct is copied whole, in
 * and out: no user pointer is read twice.
 */
static long konoha_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct konoha_unload ul;
	struct konoha_list ls;
	long err;

	switch (cmd) {
	case KONOHA_IOC_LOAD:
		return ioctl_load(uarg, false);
	case KONOHA_IOC_LOAD_PARAMS:
		return ioctl_load(uarg, true);
	case KONOHA_IOC_UNLOAD:
		if (copy_from_user(&ul, uarg, sizeof(ul)))
			return -EFAULT;
		ul.name[KONOHA_NAME_LEN - 1] = '\0';
		return konoha_script_unload(ul.name);
	case KONOHA_IOC_LIST:
		if (copy_from_user(&ls, uarg, sizeof(ls)))
			return -EFAULT;
		err = konoha_list(&ls);
		if (copy_to_user(uarg, &ls, sizeof(ls)))
			err = -EFAULT;
		return err;
	default:
		return -ENOTTY;
	}
}

/* The uapi structs have one layout for 32- and 64-bit callers (__u64). */
static const struct file_operations konoha_fops = {
	.owner = THIS_MODULE,
	.open = konoha_open,
	.write = konoha_write,
	.flush = konoha_flush,
	.release = konoha_release,
	.unlocked_ioctl = konoha_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* /dev/konoha, registered by konoha_init(). */
struct miscdevice konoha_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "konoha",
	.fops = &konoha_fops,
	.mode = 0600,
};
