/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kjit.h - the struct layout and constants that JIT code relies on.
 *
 * The single source of truth shared by C and ctjit: kops.c checks every
 * value against the structs at compile time, ctjit/layout.py reads them
 * from this file.  Keep one "#define KJIT_NAME value" per line.
 */
#ifndef KJIT_H
#define KJIT_H

#define KJIT_ABI_VERSION	7

/* struct kvm: the block of JIT-visible fields at its start */
#define KJIT_OFF_VM_STACK	0
#define KJIT_OFF_VM_FRAMES	8
#define KJIT_OFF_VM_BUDGET	16
#define KJIT_OFF_VM_STACK_CAP	24
#define KJIT_OFF_VM_NFRAMES	28
#define KJIT_OFF_VM_FRAMES_CAP	32
#define KJIT_OFF_VM_JIT_FRAMES_MAX 36
#define KJIT_OFF_VM_GLOBALS	40
#define KJIT_OFF_VM_FUNCS	48
#define KJIT_OFF_VM_JIT_NODIRECT 56
#define KJIT_OFF_VM_BUDGET_REST	64
#define KJIT_OFF_VM_STACK_FLOOR	72
#define KJIT_OFF_VM_DEPTH	104

/* instructions between two polls (KVM_SLICE) */
#define KJIT_SLICE		8192
#define KJIT_OFF_VM_STACK_MAX	60

/* stack bytes a chain of direct calls may use, per profile */
#define KJIT_DIRECT_STACK_KERNEL 3072
#define KJIT_DIRECT_STACK_USER	1048576

/* struct kframe */
#define KJIT_OFF_FRAME_FN	0
#define KJIT_OFF_FRAME_BASE	8
#define KJIT_OFF_FRAME_PC	12
#define KJIT_OFF_FRAME_RET_REG	16
#define KJIT_OFF_FRAME_RET_MODE	20
#define KJIT_OFF_FRAME_ENTRY	21
#define KJIT_SIZEOF_FRAME	24

/* objects: struct kobj class id and kind, struct kinst fields, struct karr
 * length and elements */
#define KJIT_OFF_OBJ_CLS	8
#define KJIT_OFF_OBJ_KIND	12
#define KJIT_KO_INSTANCE	1
#define KJIT_KO_STRING		2
#define KJIT_OFF_INST_FIELDS	16
#define KJIT_OFF_ARR_LEN	24
#define KJIT_OFF_ARR_V		32

/* struct kstr: its length and its bytes (String.length and charAt) */
#define KJIT_OFF_STR_LEN	16
#define KJIT_OFF_STR_B		20

/* (1.1) struct kstream (OutputStream.writeByte and InputStream.readByte
 * fast paths): the cursors, their bound (jend) and the buffer */
#define KJIT_OFF_STREAM_LEN	24
#define KJIT_OFF_STREAM_POS	32
#define KJIT_OFF_STREAM_JEND	36
#define KJIT_OFF_STREAM_BUF	40

/* (1.1) File's hidden flags field (File.nonBlocking) and its bit */
#define KJIT_KF_FILE_FLAGS	2
#define KJIT_FL_NONBLOCK	4

/* struct kfunc */
#define KJIT_SIZEOF_FUNC	112

/* struct kfn (a Func value): its function index, bound receiver and
 * (1.1) a closure's captured values */
#define KJIT_OFF_FN_FUNC	20
#define KJIT_OFF_FN_RECV	32
#define KJIT_OFF_FN_CAP		40

/* statuses (enum kvm_status) */
#define KJIT_ST_OK		0
#define KJIT_ST_THROW		1
#define KJIT_ST_ABORT		2

#endif /* KJIT_H */
