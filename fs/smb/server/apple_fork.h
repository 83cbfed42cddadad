/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What apple_fork.c (the AFP_AfpInfo and AFP_Resource streams),
 * apple_sidecar.c (the "._" files that hold resource forks) and
 * apple_convert.c (the "._" files macOS wrote) share.
 */

#ifndef __KSMBD_APPLE_FORK_H__
#define __KSMBD_APPLE_FORK_H__

#include <linux/types.h>

#include "apple.h"
#include "vfs_cache.h"

struct dentry;
struct file;
struct ksmbd_apple_adouble;
struct mnt_idmap;
struct path;

#define AFPINFO_XATTR		"user.DosStream.AFP_AfpInfo:$DATA"

static inline bool apple_fp(struct ksmbd_file *fp)
{
	return fp->share_conf && ksmbd_apple_share(fp->share_conf);
}

/* The lock of the "._" file of the file @fp is a handle of */
static inline struct mutex *adouble_lock(struct ksmbd_file *fp)
{
	return &fp->f_ci->m_apple_lock;
}

/* The length of a fork that starts at @off of a file of @size bytes */
static inline u64 fork_len(loff_t size, u32 off)
{
	return size > off ? size - off : 0;
}

/* apple_fork.c */
bool ksmbd_apple_afpinfo_get(struct mnt_idmap *idmap, struct dentry *dentry,
			     char *name, u8 *blob);
int ksmbd_apple_rsrc_sync_len(struct ksmbd_apple_stream *as);

/* apple_sidecar.c */
struct file *ksmbd_apple_sidecar_open(struct ksmbd_file *fp,
				      const struct path *path, bool create,
				      bool rdwr);
int ksmbd_apple_sidecar_read(struct file *filp, struct ksmbd_apple_adouble *ad);
int ksmbd_apple_sidecar_remove(struct file *filp);
u64 ksmbd_apple_sidecar_rsrc_len(struct ksmbd_share_config *share,
				 const struct path *path);

/* apple_convert.c */
void ksmbd_apple_convert_at(const struct path *path, struct ksmbd_file *fp);

#endif /* __KSMBD_APPLE_FORK_H__ */
