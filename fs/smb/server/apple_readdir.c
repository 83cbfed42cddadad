// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * READDIR_ATTR: directory entries for Apple clients.
 *
 * A client that negotiated kAAPL_SUPPORTS_READ_DIR_ATTR reads four fields
 * of every FileIdBothDirectoryInformation entry differently, so that
 * Finder can show a folder without opening each file in it:
 *
 *   EaSize          the access the user is granted (the reparse tag if the
 *                   entry is a reparse point)
 *   ShortNameLength 24; with READ_DIR_ATTR_V2, ShortNameLength and
 *                   Reserved are one little-endian flags field
 *   ShortName[0-7]  length of the resource fork, little-endian
 *   ShortName[8-23] FinderInfo, compressed to 16 bytes:
 *                     0-3   type     (FinderInfo 0-3, files only)
 *                     4-7   creator  (FinderInfo 4-7, files only)
 *                     8-9   flags    (FinderInfo 8-9)
 *                     10-11 extended flags (FinderInfo 24-25)
 *                     12-15 date added, big-endian seconds since 2000;
 *                           0x80000000 if the entry has no FinderInfo
 *   Reserved2       the low 16 bits of the UNIX mode
 *
 * The FinderInfo bytes keep the byte order they have in AFP_AfpInfo.
 */

#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "glob.h"
#include "apple.h"
#include "misc.h"
#include "smb_common.h"
#include "vfs.h"
#include "mgmt/user_session.h"
#include "mgmt/user_config.h"
#include "mgmt/share_config.h"
#include "mgmt/tree_connect.h"

/* Seconds from the UNIX epoch to 2000-01-01, the epoch of AppleDouble dates */
#define AD_DATE_DELTA		946684800
/* The AppleDouble date that means "unknown" */
#define AD_DATE_UNKNOWN		0x80000000U
/* ShortNameLength of every entry, as macOS clients expect it */
#define DIRENT_SHORT_NAME_LEN	24

/**
 * ksmbd_apple_dirent_encode() - write the Apple fields of a directory entry
 * @e:   a FileIdBothDirectoryInformation entry; its EaSize holds the
 *       reparse tag if ExtFileAttributes says it is a reparse point
 * @kst: the entry's attributes, with those ksmbd_apple_dirent_fill() read
 * @v2:  READDIR_ATTR_V2 was negotiated
 *
 * Writes EaSize (unless the entry is a reparse point), ShortNameLength,
 * Reserved, ShortName and Reserved2; nothing else.
 */
void ksmbd_apple_dirent_encode(struct file_id_both_directory_info *e,
			       const struct ksmbd_kstat *kst, bool v2)
{
	const struct ksmbd_apple_dirent *ad = &kst->apple;
	u8 *fi = e->ShortName + 8;
	u32 date = AD_DATE_UNKNOWN;

	if (!(e->ExtFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT_LE))
		e->EaSize = ad->max_access;

	if (v2) {
		put_unaligned_le16(ad->no_streams ? AAPL_READDIR_ATTR_V2_NO_XATTR : 0,
				   &e->ShortNameLength);
	} else {
		e->ShortNameLength = DIRENT_SHORT_NAME_LEN;
		e->Reserved = 0;
	}

	put_unaligned_le64(ad->rsrc_len, e->ShortName);

	memset(fi, 0, 16);
	if (S_ISREG(kst->kstat->mode))
		memcpy(fi, ad->finder, 8);		/* type, creator */
	memcpy(fi + 8, ad->finder + 8, 2);		/* flags */
	memcpy(fi + 10, ad->finder + 24, 2);		/* extended flags */
	if (ad->has_finder) {
		time64_t t = ksmbd_NTtimeToUnix(cpu_to_le64(kst->create_time)).tv_sec;

		date = (u32)(s32)clamp_t(time64_t, t - AD_DATE_DELTA,
					 S32_MIN, S32_MAX);
	}
	put_unaligned_be32(date, fi + 12);

	e->Reserved2 = cpu_to_le16(kst->kstat->mode & 0xffff);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_dirent_encode);

/**
 * ksmbd_apple_dirent_fill() - read what a READDIR_ATTR entry carries
 * @work: the QUERY_DIRECTORY request
 * @path: the entry
 * @kst:  its attributes, from ksmbd_vfs_fill_dentry_attrs(); the Apple
 *        ones are added
 * @level: the READDIR_ATTR the connection negotiated, KSMBD_APPLE_RDA_V1
 *        or _V2, which the entry is encoded with
 *
 * The access is what an MxAc create context would report for the session
 * user, none if the NT ACL denies everything. FinderInfo and the resource
 * fork length come from ksmbd_apple_dirent_meta(), which opens nothing;
 * special files have neither. The ".." entry of a listing of the share
 * root is the directory above the share: nothing is read of it, and it
 * is listed with no access, FinderInfo or fork.
 */
void ksmbd_apple_dirent_fill(struct ksmbd_work *work, const struct path *path,
			     struct ksmbd_kstat *kst, u8 level)
{
	const struct path *root = &work->tcon->share_conf->vfs_path;
	struct ksmbd_apple_dirent *ad = &kst->apple;

	*ad = (struct ksmbd_apple_dirent){ .no_streams = true, .level = level };
	if (path->mnt == root->mnt && !is_subdir(path->dentry, root->dentry))
		return;
	if (ksmbd_vfs_maximal_access(work->conn, path, work->sess->user->uid,
				     &ad->max_access))
		ad->max_access = 0;

	if (S_ISREG(kst->kstat->mode) || S_ISDIR(kst->kstat->mode))
		ksmbd_apple_dirent_meta(work->tcon->share_conf, path, ad);
}
