// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The AFP_AfpInfo and AFP_Resource streams on shares with the Apple
 * extensions.
 *
 * AFP_AfpInfo is stored in the stream xattr "user.DosStream.AFP_AfpInfo:$DATA"
 * as Samba's fruit:metadata=stream with streams_xattr stores it (the 60
 * bytes and a NUL; ksmbd's own 60-byte values are read too), with the
 * semantics of the macOS server: writes are validated, an all-zero
 * FinderInfo deletes it, and a value of another size does not exist. A
 * file that has none but netatalk metadata (the xattr
 * "user.org.netatalk.Metadata") shows the FinderInfo found there.
 *
 * AFP_Resource does not fit in an xattr (64 KiB at most, about 4 KiB on
 * ext4). It is stored in an AppleDouble file "._<name>" next to the file,
 * as netatalk, Samba's fruit:resource=file and macOS itself store it, so
 * that its size is limited only by the filesystem. The fork runs from its
 * entry's offset to the end of that file. Data is written before the
 * entry's length, and a file is extended before and cut after its length
 * is changed, so that a crash between the two steps leaves the fork as
 * the file's size says; the entry is corrected at the next write.
 *
 * Every change to a "._" file's content (its creation and header, a
 * fork's data and length, a truncation, a conversion, a copy, its removal
 * as an empty fork) is made under the m_apple_lock of the ksmbd_inode of
 * the file it belongs to, which every handle of that file shares: two
 * clients writing one fork cannot leave its length behind its data, nor
 * convert or migrate it twice. Nothing takes that lock with a directory
 * locked, so it comes before the locks of the VFS. Its name follows its
 * file's under the locks of their directory: it is created only while
 * the file still has the name it is made from, and renamed and removed
 * with the file (ksmbd_apple_rename_end(), ksmbd_apple_unlink_fork()).
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

#define NETATALK_METADATA	"user.org.netatalk.Metadata"
#define RSRC_XATTR		"user.DosStream.AFP_Resource:$DATA"
#define RSRC_MAX_LEN		U32_MAX

/* ---- AFP_AfpInfo ---- */

/* The 60 bytes netatalk's metadata describe, if it has FinderInfo */
static bool afpinfo_netatalk(struct mnt_idmap *idmap, struct dentry *dentry,
			     u8 *blob)
{
	struct ksmbd_apple_adouble ad;
	char *val = NULL;
	ssize_t len;
	bool found = false;

	len = ksmbd_vfs_getxattr(idmap, dentry, NETATALK_METADATA, &val);
	if (len <= 0)
		return false;
	if (!ksmbd_apple_adouble_parse(val, len, len, &ad) && ad.finfo_len) {
		ksmbd_apple_afpinfo_init(blob);
		memcpy(blob + KSMBD_AFP_FINDER_OFFSET, val + ad.finfo_off,
		       KSMBD_FINDER_INFO_SIZE);
		found = !ksmbd_apple_finderinfo_empty(blob);
	}
	kfree(val);
	return found;
}

/**
 * ksmbd_apple_afpinfo_get() - read the AFP_AfpInfo of a file
 * @idmap: idmap of the file's mount
 * @dentry: the file
 * @name: its stream xattr
 * @blob: gets the 60 bytes of AFP_AfpInfo
 *
 * The AFP_AfpInfo of a file, from its stream xattr @name or from
 * netatalk's metadata.
 *
 * Return: true if it has one
 */
bool ksmbd_apple_afpinfo_get(struct mnt_idmap *idmap, struct dentry *dentry,
			     char *name, u8 *blob)
{
	char *val = NULL;
	ssize_t len;

	len = ksmbd_vfs_getxattr(idmap, dentry, name, &val);
	if (len >= 0) {
		bool ok = ksmbd_apple_afpinfo_stored(val, len);

		if (ok)
			memcpy(blob, val, KSMBD_AFP_INFO_SIZE);
		kfree(val);
		return ok;
	}
	return afpinfo_netatalk(idmap, dentry, blob);
}

/* Remove AFP_AfpInfo from both places it may be */
static int afpinfo_remove(struct ksmbd_file *fp)
{
	struct mnt_idmap *idmap = file_mnt_idmap(fp->filp);
	const struct path *path = &fp->filp->f_path;
	int rc, rc2;

	rc = ksmbd_vfs_remove_xattr(idmap, path, fp->stream.name, true);
	rc2 = ksmbd_vfs_remove_xattr(idmap, path, NETATALK_METADATA, true);
	if (rc == -ENODATA)
		rc = 0;
	if (rc2 == -ENODATA)
		rc2 = 0;
	return rc ?: rc2;
}

static int afpinfo_open(const struct path *path, struct ksmbd_file *fp)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	u8 blob[KSMBD_AFP_INFO_SIZE];
	bool present;

	ksmbd_apple_convert_at(path, fp);
	/* Take the stored name's case, for later reads and writes */
	ksmbd_vfs_casexattr_len(idmap, path->dentry, fp->stream.name,
				fp->stream.size, fp->stream.name);
	present = ksmbd_apple_afpinfo_get(idmap, path->dentry, fp->stream.name, blob);

	switch (fp->cdoption) {
	case FILE_OPEN_LE:
	case FILE_OVERWRITE_LE:
		if (!present)
			return -EBADF;
		break;
	case FILE_CREATE_LE:
		if (present)
			return -EEXIST;
		break;
	}

	switch (fp->cdoption) {
	case FILE_OVERWRITE_LE:
	case FILE_OVERWRITE_IF_LE:
	case FILE_SUPERSEDE_LE:
		/* Removed once the open is granted */
		fp->apple.overwrite = true;
		fp->apple.unwritten = true;
		break;
	default:
		fp->apple.unwritten = !present;
	}
	return 0;
}

static ssize_t afpinfo_read(struct ksmbd_file *fp, char *buf, loff_t *pos,
			    size_t count)
{
	u8 blob[KSMBD_AFP_INFO_SIZE];
	size_t n = ksmbd_apple_afpinfo_read_len(*pos, count);

	if (!n)
		return 0;
	if (!ksmbd_apple_afpinfo_get(file_mnt_idmap(fp->filp), fp->filp->f_path.dentry,
				     fp->stream.name, blob)) {
		if (!fp->apple.unwritten)
			return 0;
		ksmbd_apple_afpinfo_init(blob);
	}
	memcpy(buf, blob, n);
	return n;
}

static int afpinfo_write(struct ksmbd_file *fp, const char *buf, loff_t *pos,
			 size_t count)
{
	u8 blob[KSMBD_AFP_INFO_SIZE + 1];
	int rc;

	rc = ksmbd_apple_afpinfo_write(buf, count, *pos, blob);
	if (rc <= 0)
		return rc;

	fp->apple.unwritten = false;
	if (ksmbd_apple_finderinfo_empty(blob))
		return afpinfo_remove(fp);
	/* Stored as Samba's streams_xattr stores streams: NUL-terminated */
	blob[KSMBD_AFP_INFO_SIZE] = 0;
	return ksmbd_vfs_setxattr(file_mnt_idmap(fp->filp), &fp->filp->f_path,
				  fp->stream.name, blob, sizeof(blob), 0, true);
}

static loff_t afpinfo_size(struct ksmbd_file *fp)
{
	u8 blob[KSMBD_AFP_INFO_SIZE];

	if (fp->apple.unwritten ||
	    ksmbd_apple_afpinfo_get(file_mnt_idmap(fp->filp), fp->filp->f_path.dentry,
				    fp->stream.name, blob))
		return KSMBD_AFP_INFO_SIZE;
	return 0;
}

/* ---- AFP_Resource ---- */

static loff_t rsrc_len(struct ksmbd_apple_stream *as)
{
	return fork_len(i_size_read(file_inode(as->rsrc)), as->rsrc_off);
}

/**
 * ksmbd_apple_rsrc_sync_len() - store a resource fork's length in its entry
 * @as: the open fork, its "._" file's lock held
 *
 * Make the fork entry's length match the file (see the top of this file),
 * with the "._" file's lock held
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_rsrc_sync_len(struct ksmbd_apple_stream *as)
{
	__be32 stored, len;
	loff_t pos = as->rsrc_len_at;
	ssize_t n;

	len = cpu_to_be32(min_t(loff_t, rsrc_len(as), RSRC_MAX_LEN));
	n = kernel_read(as->rsrc, &stored, sizeof(stored), &pos);
	if (n == sizeof(stored) && stored == len)
		return 0;
	pos = as->rsrc_len_at;
	n = kernel_write(as->rsrc, &len, sizeof(len), &pos);
	if (n < 0)
		return n;
	return n == sizeof(len) ? 0 : -EIO;
}

static int rsrc_truncate(struct ksmbd_file *fp, loff_t len)
{
	const struct cred *saved;
	int rc;

	if (len < 0)
		return -EINVAL;
	if (len > RSRC_MAX_LEN)
		return -EFBIG;
	if (!(fp->apple.rsrc->f_mode & FMODE_WRITE))
		return -EACCES;
	saved = override_creds(fp->apple.rsrc->f_cred);
	mutex_lock(adouble_lock(fp));
	rc = vfs_truncate(&fp->apple.rsrc->f_path, fp->apple.rsrc_off + len);
	if (!rc)
		rc = ksmbd_apple_rsrc_sync_len(&fp->apple);
	mutex_unlock(adouble_lock(fp));
	revert_creds(saved);
	return rc;
}

/* The length of a resource fork kept in its stream xattr */
static ssize_t rsrc_xattr_len(struct mnt_idmap *idmap, struct dentry *dentry)
{
	ssize_t len = vfs_getxattr(idmap, dentry, RSRC_XATTR, NULL, 0);

	return max(len, 0);
}

/*
 * ksmbd without the Apple extensions kept a resource fork in its stream
 * xattr, limited to the xattr size. Move it to the AppleDouble file when
 * the fork is opened; the xattr is removed once the data and length are
 * written, so that a crash leaves a copy, never none.
 */
static int rsrc_migrate(struct ksmbd_file *fp, const struct path *path)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	loff_t pos = fp->apple.rsrc_off;
	ssize_t len, n;
	char *val;
	int rc;

	len = ksmbd_vfs_getxattr(idmap, path->dentry, RSRC_XATTR, &val);
	if (len <= 0)
		return 0;
	n = kernel_write(fp->apple.rsrc, val, len, &pos);
	kfree(val);
	if (n != len)
		return n < 0 ? n : -ENOSPC;
	rc = ksmbd_apple_rsrc_sync_len(&fp->apple);
	if (!rc)
		rc = ksmbd_vfs_remove_xattr(idmap, path, RSRC_XATTR, true);
	return rc;
}

static int rsrc_open(const struct path *path, struct ksmbd_file *fp)
{
	struct ksmbd_apple_adouble ad;
	struct file *filp;
	bool create, rdwr, writable, legacy;
	int rc;

	/* Folders have no resource fork */
	if (d_is_dir(path->dentry))
		return -EBADF;
	ksmbd_apple_convert_at(path, fp);

	writable = test_tree_conn_flag(fp->tcon, KSMBD_TREE_CONN_FLAG_WRITABLE);
	switch (fp->cdoption) {
	case FILE_OPEN_LE:
	case FILE_OVERWRITE_LE:
		create = false;
		break;
	default:
		/*
		 * Only a user who may write the file makes its fork: a
		 * reading OPEN_IF creates one, as on macOS, but not another
		 * user's, which would then belong to the opener
		 */
		create = writable &&
			 (fp->daccess & (FILE_WRITE_DATA_LE |
					 FILE_APPEND_DATA_LE) ||
			  !inode_permission(mnt_idmap(path->mnt),
					    d_inode(path->dentry), MAY_WRITE));
	}
	legacy = writable && rsrc_xattr_len(mnt_idmap(path->mnt), path->dentry);
	rdwr = writable && (create || legacy ||
			    fp->daccess & (FILE_WRITE_DATA_LE |
					   FILE_APPEND_DATA_LE |
					   FILE_DELETE_LE));
	/* Created, given a header and migrated once, whoever races */
	mutex_lock(adouble_lock(fp));
	filp = ksmbd_apple_sidecar_open(fp, path, create || legacy, rdwr);
	if (IS_ERR(filp)) {
		rc = PTR_ERR(filp) == -ENOENT ? -EBADF : PTR_ERR(filp);
		goto unlock;
	}
	rc = ksmbd_apple_sidecar_read(filp, &ad);
	if (rc) {
		fput(filp);
		rc = rc == -ENODATA ? -EBADF : rc;
		goto unlock;
	}

	fp->apple.rsrc = filp;
	fp->apple.rsrc_off = ad.rsrc_off;
	fp->apple.rsrc_len_at = ad.rsrc_len_at;
	if (legacy && !ad.rsrc_len) {
		rc = rsrc_migrate(fp, path);
		if (!rc)
			ad.rsrc_len = rsrc_len(&fp->apple);
	}
unlock:
	mutex_unlock(adouble_lock(fp));
	if (rc)
		return rc;

	/* An empty fork does not exist for Apple clients */
	if (!ad.rsrc_len && !create && ksmbd_apple_no_empty_streams(fp))
		return -EBADF;
	if (ad.rsrc_len && fp->cdoption == FILE_CREATE_LE)
		return -EEXIST;
	switch (fp->cdoption) {
	case FILE_OVERWRITE_LE:
	case FILE_OVERWRITE_IF_LE:
	case FILE_SUPERSEDE_LE:
		/* Emptied once the open is granted */
		fp->apple.overwrite = true;
	}
	return 0;
}

static ssize_t rsrc_read(struct ksmbd_file *fp, char *buf, loff_t *pos,
			 size_t count)
{
	loff_t len = rsrc_len(&fp->apple), off;

	if (*pos < 0 || *pos >= len)
		return 0;
	count = min_t(loff_t, count, len - *pos);
	off = fp->apple.rsrc_off + *pos;
	return kernel_read(fp->apple.rsrc, buf, count, &off);
}

static int rsrc_write(struct ksmbd_file *fp, const char *buf, loff_t *pos,
		      size_t count)
{
	loff_t off;
	ssize_t n;

	if (*pos < 0 || *pos > RSRC_MAX_LEN || count > RSRC_MAX_LEN - *pos)
		return -EFBIG;
	if (!(fp->apple.rsrc->f_mode & FMODE_WRITE))
		return -EACCES;
	off = fp->apple.rsrc_off + *pos;
	mutex_lock(adouble_lock(fp));
	n = kernel_write(fp->apple.rsrc, buf, count, &off);
	if (n >= 0 && n != count)
		n = -ENOSPC;
	if (n >= 0)
		n = ksmbd_apple_rsrc_sync_len(&fp->apple);
	mutex_unlock(adouble_lock(fp));
	return n;
}

/* ---- hooks ---- */

/**
 * ksmbd_apple_stream_open() - open AFP_AfpInfo or AFP_Resource
 * @path:        the base file
 * @fp:          the new handle, its disposition and access set
 * @stream_name: the stream's name, without type
 * @s_type:      the stream's type, DATA_STREAM or 0 if not given
 *
 * Called for every named stream opened. On a share with the Apple
 * extensions, takes over AFP_AfpInfo and AFP_Resource (data streams,
 * names compared without case).
 *
 * Return: 1 if @fp is not such a stream, 0 if it was opened, -EBADF if it
 * does not exist, else another negative error
 */
int ksmbd_apple_stream_open(const struct path *path, struct ksmbd_file *fp,
			    char *stream_name, int s_type)
{
	unsigned char kind;
	size_t size;
	int rc;

	if (!apple_fp(fp) || s_type == DIR_STREAM)
		return 1;
	if (!strcasecmp(stream_name, "AFP_AfpInfo"))
		kind = KSMBD_APPLE_AFPINFO;
	else if (!strcasecmp(stream_name, "AFP_Resource"))
		kind = KSMBD_APPLE_RSRC;
	else
		return 1;

	rc = ksmbd_vfs_xattr_stream_name(stream_name, &fp->stream.name, &size,
					 s_type);
	if (rc)
		return rc;
	fp->stream.size = size;
	if (kind == KSMBD_APPLE_AFPINFO)
		rc = afpinfo_open(path, fp);
	else
		rc = rsrc_open(path, fp);
	if (!rc) {
		fp->apple.kind = kind;
		return 0;
	}

	/*
	 * The handle is closed as one of no stream: its close must neither
	 * remove the stream it failed to open (another stream handle of the
	 * file may have set delete-on-close) nor consume that handle's
	 * delete-on-close
	 */
	ksmbd_apple_stream_close(fp);
	kfree(fp->stream.name);
	fp->stream.name = NULL;
	fp->stream.size = 0;
	return rc;
}

/**
 * __ksmbd_apple_stream_overwrite() - empty an overwritten Apple stream
 * @fp: the handle being opened, its open granted, its open overwriting
 *
 * An OVERWRITE, OVERWRITE_IF or SUPERSEDE of AFP_AfpInfo or AFP_Resource
 * empties the stream here, once the delete-pending state and oplocks of
 * the file's other opens have let the open through (where the data of a
 * file opened so is truncated), never before: an open that fails on those
 * must leave the data of the client that holds the stream as it is. An
 * open for attributes only empties nothing, as for a file. Called through
 * ksmbd_apple_stream_overwrite().
 *
 * Return: 0 or a negative error, which fails the open
 */
int __ksmbd_apple_stream_overwrite(struct ksmbd_file *fp)
{
	const struct cred *saved;
	int rc;

	fp->apple.overwrite = false;
	if (fp->attrib_only) {
		fp->apple.unwritten = false;
		return 0;
	}
	if (fp->apple.kind == KSMBD_APPLE_RSRC)
		return rsrc_len(&fp->apple) ? rsrc_truncate(fp, 0) : 0;
	saved = override_creds(fp->filp->f_cred);
	rc = afpinfo_remove(fp);
	revert_creds(saved);
	return rc;
}

/**
 * ksmbd_apple_stream_read() - read from an Apple stream handle
 * @fp:    the handle
 * @buf:   where to read to
 * @pos:   offset in the stream
 * @count: bytes asked for
 *
 * Return: bytes read, or a negative error
 */
ssize_t ksmbd_apple_stream_read(struct ksmbd_file *fp, char *buf,
				loff_t *pos, size_t count)
{
	const struct cred *saved = override_creds(fp->filp->f_cred);
	ssize_t n;

	if (fp->apple.kind == KSMBD_APPLE_AFPINFO)
		n = afpinfo_read(fp, buf, pos, count);
	else
		n = rsrc_read(fp, buf, pos, count);
	revert_creds(saved);
	return n;
}

/**
 * ksmbd_apple_stream_write() - write to an Apple stream handle
 * @fp:    the handle
 * @buf:   the data
 * @pos:   offset in the stream
 * @count: its length
 *
 * Return: 0 if all @count bytes were taken, else a negative error
 */
int ksmbd_apple_stream_write(struct ksmbd_file *fp, const char *buf,
			     loff_t *pos, size_t count)
{
	const struct cred *saved = override_creds(fp->filp->f_cred);
	int rc;

	if (fp->apple.kind == KSMBD_APPLE_AFPINFO)
		rc = afpinfo_write(fp, buf, pos, count);
	else
		rc = rsrc_write(fp, buf, pos, count);
	revert_creds(saved);
	return rc;
}

/**
 * ksmbd_apple_stream_truncate() - set the end of an Apple stream
 * @fp:  the handle
 * @len: the new length
 *
 * AFP_AfpInfo always holds 60 bytes: a length up to that changes nothing,
 * and a longer one is refused with -EOVERFLOW (STATUS_ALLOTTED_SPACE_EXCEEDED)
 * as macOS does.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_stream_truncate(struct ksmbd_file *fp, loff_t len)
{
	if (fp->apple.kind == KSMBD_APPLE_AFPINFO)
		return len > KSMBD_AFP_INFO_SIZE ? -EOVERFLOW : 0;
	return rsrc_truncate(fp, len);
}

/**
 * ksmbd_apple_stream_size() - the length of an Apple stream
 * @fp: the handle
 *
 * Return: its length in bytes
 */
loff_t ksmbd_apple_stream_size(struct ksmbd_file *fp)
{
	const struct cred *saved;
	loff_t len;

	if (fp->apple.kind == KSMBD_APPLE_RSRC)
		return rsrc_len(&fp->apple);
	saved = override_creds(fp->filp->f_cred);
	len = afpinfo_size(fp);
	revert_creds(saved);
	return len;
}

/**
 * ksmbd_apple_stream_remove() - delete an Apple stream on its last close
 * @fp: the handle, marked delete-on-close
 *
 * A resource fork with data is kept: macOS ignores requests to delete one,
 * and its client relies on that. An empty one loses its AppleDouble file.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_stream_remove(struct ksmbd_file *fp)
{
	const struct cred *saved;
	int rc;

	if (fp->apple.kind == KSMBD_APPLE_RSRC) {
		if (!fp->apple.rsrc)
			return 0;
		mutex_lock(adouble_lock(fp));
		rc = rsrc_len(&fp->apple) ? 0 :
			ksmbd_apple_sidecar_remove(fp->apple.rsrc);
		mutex_unlock(adouble_lock(fp));
		return rc == -ENOENT ? 0 : rc;
	}
	saved = override_creds(fp->filp->f_cred);
	rc = afpinfo_remove(fp);
	revert_creds(saved);
	return rc;
}

/**
 * ksmbd_apple_stream_listed() - filter and size one entry of a stream list
 * @fp:   handle of the file listed
 * @name: the stream's xattr name after the "user.DosStream." prefix
 * @size: the stream's size, may be changed
 * @afpinfo: set if the stream listed is AFP_AfpInfo
 *
 * On a share with the Apple extensions, AFP_AfpInfo is listed only if it
 * is valid and always as 60 bytes, the xattr of a resource fork is not
 * listed (ksmbd_apple_streams_extra() lists the fork), and for a client
 * that negotiated AAPL no empty stream is listed.
 *
 * Return: true if the stream is listed
 */
bool ksmbd_apple_stream_listed(struct ksmbd_file *fp, const char *name,
			       loff_t *size, bool *afpinfo)
{
	if (!apple_fp(fp))
		return true;
	if (!strcasecmp(name, "AFP_AfpInfo:$DATA")) {
		if (*size != KSMBD_AFP_INFO_SIZE &&
		    *size != KSMBD_AFP_INFO_SIZE + 1)
			return false;
		*size = KSMBD_AFP_INFO_SIZE;
		*afpinfo = true;
		return true;
	}
	if (!strcasecmp(name, "AFP_Resource:$DATA"))
		return false;
	return *size || !fp->conn || !ksmbd_apple_no_empty_streams(fp);
}

/**
 * ksmbd_apple_streams_extra() - streams listed that are not stream xattrs
 * @fp:      handle of the file listed
 * @afpinfo: set if AFP_AfpInfo has been listed from its xattr; on return,
 *           set if it has to be listed (from netatalk's metadata)
 *
 * Return: the length of the resource fork, to be listed if not 0
 */
loff_t ksmbd_apple_streams_extra(struct ksmbd_file *fp, bool *afpinfo)
{
	struct ksmbd_apple_adouble ad;
	const struct cred *saved;
	struct file *filp;
	loff_t len = 0;
	u8 blob[KSMBD_AFP_INFO_SIZE];

	if (!apple_fp(fp)) {
		*afpinfo = false;
		return 0;
	}
	saved = override_creds(fp->filp->f_cred);
	*afpinfo = !*afpinfo &&
		afpinfo_netatalk(file_mnt_idmap(fp->filp),
				 fp->filp->f_path.dentry, blob);
	if (!d_is_dir(fp->filp->f_path.dentry)) {
		filp = ksmbd_apple_sidecar_open(fp, &fp->filp->f_path, false, false);
		if (!IS_ERR(filp)) {
			if (!ksmbd_apple_sidecar_read(filp, &ad))
				len = ad.rsrc_len;
			fput(filp);
		}
		/* Not moved to the AppleDouble file yet: see rsrc_migrate() */
		if (!len)
			len = rsrc_xattr_len(file_mnt_idmap(fp->filp),
					     fp->filp->f_path.dentry);
	}
	revert_creds(saved);
	return len;
}

/**
 * ksmbd_apple_stream_wire_name() - map a listed stream name for macOS
 * @fp:   handle of the file listed
 * @name: ":<stream name>:<type>" as stored; replaced by the mapped name,
 *        or freed and set to NULL if there is no memory for it
 *
 * On a share with the Apple extensions, a stream whose name has a
 * character NTFS does not allow, such as one written on the server as the
 * xattr "user.DosStream.com.apple.metadata:_kMDItemUserTags:$DATA", is
 * listed with the private-use code point macOS uses for it (U+F022 for
 * ':'), so that it can be opened: see ksmbd_apple_stream_native().
 */
void ksmbd_apple_stream_wire_name(struct ksmbd_file *fp, char **name)
{
	char *sname, *type, *mapped;

	if (!*name || !apple_fp(fp))
		return;
	sname = *name + 1;
	type = strrchr(sname, ':');
	mapped = ksmbd_apple_sfm_map(sname, type ? type - sname : strlen(sname),
				     true);
	if (!mapped)
		return;
	kfree(*name);
	*name = IS_ERR(mapped) ? NULL :
		kasprintf(KSMBD_DEFAULT_GFP, ":%s", mapped);
	if (!IS_ERR(mapped))
		kfree(mapped);
}

/**
 * ksmbd_apple_stream_native() - find a stream stored with NTFS-illegal names
 * @path: the base file
 * @fp:   the stream handle being opened; its xattr name was not found
 * @rc:   the error of that lookup
 *
 * A stream macOS names with private-use code points is stored under that
 * name. If there is no such xattr but one with the characters the code
 * points stand for (written on the server, or by Samba with catia),
 * that one is the stream, and @fp takes its name.
 *
 * Return: the length of the stream found, else @rc or another error
 */
ssize_t ksmbd_apple_stream_native(const struct path *path,
				  struct ksmbd_file *fp, ssize_t rc)
{
	char *name, *type;
	ssize_t len;

	if (!apple_fp(fp))
		return rc;
	type = strrchr(fp->stream.name, ':');
	if (!type)
		return rc;
	name = ksmbd_apple_sfm_map(fp->stream.name, type - fp->stream.name,
				   false);
	if (IS_ERR_OR_NULL(name))
		return name ? PTR_ERR(name) : rc;
	len = ksmbd_vfs_casexattr_len(mnt_idmap(path->mnt), path->dentry,
				      name, strlen(name) + 1, name);
	if (len < 0) {
		kfree(name);
		return rc;
	}
	kfree(fp->stream.name);
	fp->stream.name = name;
	fp->stream.size = strlen(name) + 1;
	return len;
}

/**
 * ksmbd_apple_dirent_meta() - the Finder data of a directory entry
 * @share: the share listed
 * @path: the entry
 * @ad:   zeroed but for no_streams (true); gets the entry's FinderInfo,
 *        fork length and whether it has streams
 *
 * This runs for every entry of a listing, so it opens nothing and reads
 * the entry's xattrs once: their names, then the value of AFP_AfpInfo if
 * there is one (the same inode, so the same metadata block). The length
 * of the resource fork is the size of the entry's "._" file less the
 * header ksmbd writes: the fork runs to the end of the file. A "._" file
 * that macOS wrote itself has a longer header, and its fork is reported
 * longer than it is.
 */
void ksmbd_apple_dirent_meta(struct ksmbd_share_config *share,
			     const struct path *path,
			     struct ksmbd_apple_dirent *ad)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct dentry *dentry = path->dentry;
	char *list = NULL, *name, *afpinfo = NULL;
	bool netatalk = false, rsrc_xattr = false;
	ssize_t list_len;
	u8 blob[KSMBD_AFP_INFO_SIZE];

	list_len = ksmbd_vfs_listxattr(dentry, &list);
	for (name = list; list_len > 0 && name < list + list_len;
	     name += strlen(name) + 1) {
		if (!strncmp(name, XATTR_NAME_STREAM, XATTR_NAME_STREAM_LEN))
			ad->no_streams = false;
		if (!strcasecmp(name, AFPINFO_XATTR))
			afpinfo = name;
		else if (!strcmp(name, NETATALK_METADATA))
			netatalk = true;
		else if (!strcasecmp(name, RSRC_XATTR))
			rsrc_xattr = true;
	}

	/* Only netatalk's metadata: the stream xattr read fails at once */
	if ((afpinfo || netatalk) &&
	    ksmbd_apple_afpinfo_get(idmap, dentry, afpinfo ?: AFPINFO_XATTR, blob)) {
		ad->has_finder = true;
		ad->no_streams = false;
		memcpy(ad->finder, blob + KSMBD_AFP_FINDER_OFFSET,
		       KSMBD_FINDER_INFO_SIZE);
	}
	kvfree(list);

	if (!d_is_reg(dentry))
		return;
	if (rsrc_xattr)
		ad->rsrc_len = rsrc_xattr_len(idmap, dentry);
	else
		ad->rsrc_len = ksmbd_apple_sidecar_rsrc_len(share, path);
	if (ad->rsrc_len)
		ad->no_streams = false;
}

/* ---- copyfile ---- */

/*
 * Copy every stream xattr of @src to @dst: the named streams, AFP_AfpInfo
 * and a resource fork still kept in its xattr, and netatalk's metadata.
 */
static int copy_stream_xattrs(struct ksmbd_file *src, struct ksmbd_file *dst)
{
	struct mnt_idmap *idmap = file_mnt_idmap(src->filp);
	struct dentry *dentry = src->filp->f_path.dentry;
	char *list = NULL, *name, *val;
	ssize_t list_len, len;
	int rc = 0;

	list_len = ksmbd_vfs_listxattr(dentry, &list);
	if (list_len < 0)
		return list_len;
	for (name = list; name < list + list_len; name += strlen(name) + 1) {
		if (strncmp(name, XATTR_NAME_STREAM, XATTR_NAME_STREAM_LEN) &&
		    strcmp(name, NETATALK_METADATA))
			continue;
		len = ksmbd_vfs_getxattr(idmap, dentry, name, &val);
		if (len == -ENODATA)
			continue;
		if (len < 0) {
			rc = len;
			break;
		}
		/* An empty value is still a stream; NULL would remove it */
		rc = ksmbd_vfs_setxattr(file_mnt_idmap(dst->filp),
					&dst->filp->f_path, name, val ?: "",
					len, 0, true);
		kfree(val);
		if (rc)
			break;
	}
	kvfree(list);
	return rc;
}

/* Copy the resource fork of @src, if it has one, over that of @dst */
static int rsrc_copy(struct ksmbd_file *src, struct ksmbd_file *dst)
{
	struct ksmbd_apple_adouble from_ad, to_ad;
	struct ksmbd_apple_stream to = {};
	struct file *from;
	loff_t in, out, end;
	ssize_t n;
	int rc;

	from = ksmbd_apple_sidecar_open(src, &src->filp->f_path, false, false);
	if (IS_ERR(from))
		return PTR_ERR(from) == -ENOENT ? 0 : PTR_ERR(from);
	rc = ksmbd_apple_sidecar_read(from, &from_ad);
	if (rc == -ENODATA)
		rc = 0;
	if (rc || !from_ad.rsrc_len)
		goto out;

	to.rsrc = ksmbd_apple_sidecar_open(dst, &dst->filp->f_path, true, true);
	if (IS_ERR(to.rsrc)) {
		rc = PTR_ERR(to.rsrc);
		goto out;
	}
	rc = ksmbd_apple_sidecar_read(to.rsrc, &to_ad);
	if (rc)
		goto out_to;
	to.rsrc_off = to_ad.rsrc_off;
	to.rsrc_len_at = to_ad.rsrc_len_at;
	/* Drop the fork @dst had, then copy */
	rc = vfs_truncate(&to.rsrc->f_path, to.rsrc_off);
	if (rc)
		goto out_to;

	in = from_ad.rsrc_off;
	out = to.rsrc_off;
	end = in + from_ad.rsrc_len;
	while (in < end) {
		n = ksmbd_vfs_copy_range(from, in, to.rsrc, out, end - in);
		if (n < 0) {
			rc = n;
			goto out_to;
		}
		/* The source fork was cut meanwhile */
		if (!n)
			break;
		in += n;
		out += n;
	}
	rc = ksmbd_apple_rsrc_sync_len(&to);
out_to:
	fput(to.rsrc);
out:
	fput(from);
	return rc;
}

/**
 * ksmbd_apple_copyfile() - copy what macOS expects with a file's data
 * @src: handle of the source file
 * @dst: handle of the destination file, to which the data was copied
 *
 * macOS copies a whole file on the server (Finder's duplicate, cp) with
 * one FSCTL_SRV_COPYCHUNK without chunks, when the server advertised
 * kAAPL_SUPPORTS_OSX_COPYFILE, and expects all of the file copied: the
 * data, every named stream, AFP_AfpInfo and the resource fork. Streams of
 * @src replace those of the same name on @dst; others @dst has are kept.
 * Nothing more is copied between stream handles or within one file.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_copyfile(struct ksmbd_file *src, struct ksmbd_file *dst)
{
	const struct cred *saved;
	int rc;

	/* Folders, the share root among them, have no streams copied */
	if (ksmbd_stream_fd(src) || ksmbd_stream_fd(dst) ||
	    file_inode(src->filp) == file_inode(dst->filp) ||
	    !d_is_reg(src->filp->f_path.dentry) ||
	    !d_is_reg(dst->filp->f_path.dentry))
		return 0;

	saved = override_creds(dst->filp->f_cred);
	rc = copy_stream_xattrs(src, dst);
	if (!rc) {
		/* Two inodes' locks: in address order */
		struct mutex *first = adouble_lock(src), *second = adouble_lock(dst);

		if (first > second)
			swap(first, second);
		mutex_lock(first);
		mutex_lock_nested(second, SINGLE_DEPTH_NESTING);
		rc = rsrc_copy(src, dst);
		mutex_unlock(second);
		mutex_unlock(first);
	}
	revert_creds(saved);
	return rc;
}
