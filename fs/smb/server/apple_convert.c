// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The "._" files macOS writes on servers without the Apple extensions:
 * their FinderInfo and packed xattrs are taken in as the file's streams
 * when a client first looks at them, so that a share keeps what Macs
 * wrote to it before its Apple extensions were turned on.
 */

#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xattr.h>

#include "glob.h"
#include "apple.h"
#include "apple_fork.h"
#include "vfs.h"
#include "vfs_cache.h"
#include "xattr.h"
#include "smb_common.h"
#include "smbacl.h"
#include "mgmt/share_config.h"

/* ---- "._" files macOS wrote ---- */

/* The largest FinderInfo entry taken in: macOS packs up to 3,760 bytes */
#define AD_CONVERT_MAX		SZ_1M

/*
 * Make a stream of each xattr macOS packed in the FinderInfo entry @fi of
 * a "._" file, named as macOS would name it (see ksmbd_apple_sfm_map());
 * a stream that exists is kept. The whole list is checked first: a
 * malformed one, or one of more than KSMBD_APPLE_XATTRS_MAX xattrs, is not
 * taken in at all. Return 1 if an xattr could not be stored (a name or
 * value too long for an xattr, or for the filesystem) and was left in the
 * "._" file, which must then be kept as it is.
 */
static int convert_xattrs(const struct path *path, const u8 *fi, u32 fi_len,
			  u32 fi_off)
{
	struct ksmbd_apple_xattrs it;
	struct ksmbd_apple_xattr x;
	char *mapped, *name;
	bool left = false;
	int rc;

	rc = ksmbd_apple_xattrs_start(&it, fi, fi_len, fi_off);
	if (rc == -ENOENT)
		return 0;
	while (!rc && (rc = ksmbd_apple_xattrs_next(&it, &x)) > 0)
		rc = 0;
	if (rc) {
		pr_warn_ratelimited("malformed xattrs in the ._ file of %pd, not taken in\n",
				    path->dentry);
		return rc;
	}

	ksmbd_apple_xattrs_start(&it, fi, fi_len, fi_off);
	while ((rc = ksmbd_apple_xattrs_next(&it, &x)) > 0) {
		/*
		 * Never packed by macOS: they have entries of their own, and
		 * streams of these names are not xattrs of that name
		 */
		if (!strcmp(x.name, "com.apple.FinderInfo") ||
		    !strcmp(x.name, "com.apple.ResourceFork") ||
		    !strcasecmp(x.name, "AFP_AfpInfo") ||
		    !strcasecmp(x.name, "AFP_Resource"))
			continue;
		mapped = ksmbd_apple_sfm_map(x.name, strlen(x.name), true);
		if (IS_ERR(mapped))
			return PTR_ERR(mapped);
		name = kasprintf(KSMBD_DEFAULT_GFP, "%s%s:$DATA",
				 XATTR_NAME_STREAM, mapped ?: x.name);
		kfree(mapped);
		if (!name)
			return -ENOMEM;
		/* Too long for any xattr: checked before the filesystem sees it */
		if (strlen(name) > XATTR_NAME_MAX || x.len > XATTR_SIZE_MAX)
			rc = -E2BIG;
		else
			rc = ksmbd_vfs_setxattr(mnt_idmap(path->mnt), path, name,
						(void *)x.value, x.len,
						XATTR_CREATE, true);
		kfree(name);
		if (rc == -ERANGE || rc == -E2BIG || rc == -ENOSPC) {
			pr_warn_ratelimited("xattr %s of %pd not taken in: %d\n",
					    x.name, path->dentry, rc);
			left = true;
		} else if (rc && rc != -EEXIST) {
			return rc;
		}
	}
	return left;
}

/* Is the fork of the open "._" file @filp the empty one macOS writes? */
static bool rsrc_blank(struct file *filp, struct ksmbd_apple_adouble *ad)
{
	u8 buf[KSMBD_RSRC_BLANK_LEN];
	loff_t pos = ad->rsrc_off;

	return ad->rsrc_len == sizeof(buf) &&
		kernel_read(filp, buf, sizeof(buf), &pos) == sizeof(buf) &&
		ksmbd_apple_rsrc_blank(buf, sizeof(buf));
}

/*
 * "._" files whose conversion failed, so that a listing does not redo the
 * work each time: each is known by its inode and change time, and tried
 * again once it changed. A few are remembered; the oldest is forgotten.
 */
#define AD_FAILED_MAX		16

struct adouble_failed {
	dev_t dev;
	u64 ino;
	struct timespec64 ctime;
};

static struct {
	spinlock_t lock;	/* protects the entries */
	unsigned int next;
	struct adouble_failed e[AD_FAILED_MAX];
} adouble_failures = {
	.lock = __SPIN_LOCK_UNLOCKED(adouble_failures.lock),
};

static void adouble_failed_key(struct file *filp, struct adouble_failed *k)
{
	struct inode *inode = file_inode(filp);

	memset(k, 0, sizeof(*k));
	k->dev = inode->i_sb->s_dev;
	k->ino = inode->i_ino;
	k->ctime = inode_get_ctime(inode);
}

static bool adouble_failed(struct file *filp)
{
	struct adouble_failed k;
	bool found = false;
	unsigned int i;

	adouble_failed_key(filp, &k);
	spin_lock(&adouble_failures.lock);
	for (i = 0; i < AD_FAILED_MAX && !found; i++)
		found = !memcmp(&adouble_failures.e[i], &k, sizeof(k));
	spin_unlock(&adouble_failures.lock);
	return found;
}

static void adouble_set_failed(struct file *filp)
{
	struct adouble_failed k;

	adouble_failed_key(filp, &k);
	spin_lock(&adouble_failures.lock);
	adouble_failures.e[adouble_failures.next] = k;
	adouble_failures.next = (adouble_failures.next + 1) % AD_FAILED_MAX;
	spin_unlock(&adouble_failures.lock);
}

/**
 * ksmbd_apple_convert_at() - take in the "._" file macOS wrote for a file
 * @path: the file
 * @fp: handle on the share the file is on
 *
 * Take in the Finder data of a "._" file that macOS wrote for the file at
 * @path, as it does on servers without the Apple extensions: its
 * FinderInfo becomes AFP_AfpInfo unless the file has one, and its packed
 * xattrs become streams, and a fork that is the empty resource file
 * macOS writes for none is emptied. The "._" file is then left as ksmbd
 * writes its own: a FinderInfo entry of 32 zero bytes, and the resource
 * fork where it is. Streams are written before the "._" file is changed,
 * so that a crash leaves it to be converted again, never loses data.
 * Failures leave the "._" file as it is, and are remembered (see
 * adouble_failed()) so that listings do not redo them until the file
 * changes. Only a session that may write the file converts anything.
 */
void ksmbd_apple_convert_at(const struct path *path, struct ksmbd_file *fp)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct ksmbd_apple_adouble ad;
	struct ksmbd_apple_stream fork = {};
	u8 blob[KSMBD_AFP_INFO_SIZE + 1];
	__be32 finfo_len = cpu_to_be32(KSMBD_FINDER_INFO_SIZE);
	struct file *filp;
	u8 *fi = NULL;
	bool blank;
	loff_t pos;
	int rc;

	/* Directories and the share root have no "._" file */
	if (!d_is_reg(path->dentry) ||
	    !test_tree_conn_flag(fp->tcon, KSMBD_TREE_CONN_FLAG_WRITABLE))
		return;
	/*
	 * Conversion writes the file's streams: only for a session that
	 * may write the file itself
	 */
	if (inode_permission(idmap, d_inode(path->dentry), MAY_WRITE))
		return;
	mutex_lock(adouble_lock(fp));
	filp = ksmbd_apple_sidecar_open(fp, path, false, true);
	if (IS_ERR(filp))
		goto unlock;
	if (adouble_failed(filp))
		goto out;
	if (ksmbd_apple_sidecar_read(filp, &ad) || !ad.finfo_len ||
	    ad.finfo_len > AD_CONVERT_MAX)
		goto fail;
	fi = kvmalloc(ad.finfo_len, KSMBD_DEFAULT_GFP);
	if (!fi)
		goto out;
	pos = ad.finfo_off;
	if (kernel_read(filp, fi, ad.finfo_len, &pos) != ad.finfo_len)
		goto fail;
	blank = rsrc_blank(filp, &ad);
	/* ksmbd's own, or taken in already */
	if (!blank && ad.finfo_len == KSMBD_FINDER_INFO_SIZE &&
	    !memchr_inv(fi, 0, KSMBD_FINDER_INFO_SIZE))
		goto out;

	if (memchr_inv(fi, 0, KSMBD_FINDER_INFO_SIZE) &&
	    !ksmbd_apple_afpinfo_get(idmap, path->dentry, AFPINFO_XATTR, blob)) {
		/* As afpinfo_write() stores it; one a client wrote meanwhile wins */
		ksmbd_apple_afpinfo_init(blob);
		memcpy(blob + KSMBD_AFP_FINDER_OFFSET, fi,
		       KSMBD_FINDER_INFO_SIZE);
		blob[KSMBD_AFP_INFO_SIZE] = 0;
		rc = ksmbd_vfs_setxattr(idmap, path, AFPINFO_XATTR, blob,
					sizeof(blob), XATTR_CREATE, true);
		if (rc && rc != -EEXIST)
			goto fail;
	}
	/* Failed, or an xattr left in the "._" file: keep it as it is */
	if (convert_xattrs(path, fi, ad.finfo_len, ad.finfo_off))
		goto fail;

	/* The empty resource file is no fork */
	if (blank) {
		fork.rsrc = filp;
		fork.rsrc_off = ad.rsrc_off;
		fork.rsrc_len_at = ad.rsrc_len_at;
		if (vfs_truncate(&filp->f_path, ad.rsrc_off) ||
		    ksmbd_apple_rsrc_sync_len(&fork))
			goto fail;
	}

	memset(fi, 0, KSMBD_FINDER_INFO_SIZE);
	pos = ad.finfo_off;
	if (kernel_write(filp, fi, KSMBD_FINDER_INFO_SIZE, &pos) !=
	    KSMBD_FINDER_INFO_SIZE)
		goto fail;
	pos = ad.finfo_len_at;
	if (kernel_write(filp, &finfo_len, sizeof(finfo_len), &pos) ==
	    sizeof(finfo_len))
		goto out;
fail:
	adouble_set_failed(filp);
out:
	kvfree(fi);
	fput(filp);
unlock:
	mutex_unlock(adouble_lock(fp));
}

/**
 * ksmbd_apple_convert() - take in a "._" file macOS left for a file
 * @fp: handle of the file, whose streams are about to be listed
 *
 * On a writable share with the Apple extensions, the FinderInfo and xattrs
 * macOS packed in the file's "._" file become its AFP_AfpInfo and streams,
 * as when AFP_AfpInfo or AFP_Resource is opened.
 */
void ksmbd_apple_convert(struct ksmbd_file *fp)
{
	const struct cred *saved;

	if (!apple_fp(fp) || !fp->tcon)
		return;
	saved = override_creds(fp->filp->f_cred);
	ksmbd_apple_convert_at(&fp->filp->f_path, fp);
	revert_creds(saved);
}
