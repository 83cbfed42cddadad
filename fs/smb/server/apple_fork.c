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
#include <linux/unaligned.h>
#include <linux/xattr.h>

#include "glob.h"
#include "apple.h"
#include "vfs.h"
#include "vfs_cache.h"
#include "xattr.h"
#include "smb_common.h"
#include "smbacl.h"
#include "mgmt/share_config.h"

#define NETATALK_METADATA	"user.org.netatalk.Metadata"
#define AFPINFO_XATTR		"user.DosStream.AFP_AfpInfo:$DATA"
#define RSRC_XATTR		"user.DosStream.AFP_Resource:$DATA"
#define AD_HEADER_MAX		1024
#define RSRC_MAX_LEN		U32_MAX
/* Set by the administrator: clients of the share see its "._" files */
#define ADOUBLE_VISIBLE_XATTR	"trusted.ksmbd.appledouble"
#define ADOUBLE_VISIBLE		"visible"

static bool apple_fp(struct ksmbd_file *fp)
{
	return fp->share_conf && ksmbd_apple_share(fp->share_conf);
}

/* The lock of the "._" file of the file @fp is a handle of */
static struct mutex *adouble_lock(struct ksmbd_file *fp)
{
	return &fp->f_ci->m_apple_lock;
}

static void adouble_convert(const struct path *path, struct ksmbd_file *fp);

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

/*
 * The AFP_AfpInfo of a file, from its stream xattr @name or from netatalk's
 * metadata. Return: true if it has one.
 */
static bool afpinfo_get(struct mnt_idmap *idmap, struct dentry *dentry,
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

	adouble_convert(path, fp);
	/* Take the stored name's case, for later reads and writes */
	ksmbd_vfs_casexattr_len(idmap, path->dentry, fp->stream.name,
				fp->stream.size, fp->stream.name);
	present = afpinfo_get(idmap, path->dentry, fp->stream.name, blob);

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
	if (!afpinfo_get(file_mnt_idmap(fp->filp), fp->filp->f_path.dentry,
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
	    afpinfo_get(file_mnt_idmap(fp->filp), fp->filp->f_path.dentry,
			fp->stream.name, blob))
		return KSMBD_AFP_INFO_SIZE;
	return 0;
}

/* ---- AFP_Resource ---- */

/* "._<name of @dentry>", or NULL with *err set */
static char *adouble_name(struct dentry *dentry, int *err)
{
	struct name_snapshot snap;
	char *name;

	take_dentry_name_snapshot(&snap, dentry);
	if (snap.name.len + 2 > NAME_MAX) {
		*err = -ENAMETOOLONG;
		name = NULL;
	} else {
		name = kasprintf(KSMBD_DEFAULT_GFP, "._%s", snap.name.name);
		*err = name ? 0 : -ENOMEM;
	}
	release_dentry_name_snapshot(&snap);
	return name;
}

/**
 * ksmbd_apple_vetoed() - is a name a "._" file no client of a share sees?
 * @share: the share
 * @name:  a path beneath its root, or the name of a directory entry, not
 *         necessarily NUL-terminated
 * @len:   its length
 *
 * On a share with the Apple extensions no client opens, creates, lists or
 * renames to a path with a component that starts with "._" (see
 * ksmbd_apple_adouble_path()): ksmbd writes those files beneath the opens
 * of the files they belong to. As Samba's fruit:veto_appledouble = no,
 * the administrator lets clients see them by setting the xattr
 * trusted.ksmbd.appledouble of the share's root to "visible", which no
 * client can set; any other value, or one that cannot be read, hides them.
 *
 * Return: true if @name is refused
 */
bool ksmbd_apple_vetoed(struct ksmbd_share_config *share, const char *name,
			size_t len)
{
	char val[sizeof(ADOUBLE_VISIBLE)];
	ssize_t n;

	if (!ksmbd_apple_share(share) || !ksmbd_apple_adouble_path(name, len))
		return false;
	scoped_with_kernel_creds()
		n = vfs_getxattr(mnt_idmap(share->vfs_path.mnt),
				 share->vfs_path.dentry, ADOUBLE_VISIBLE_XATTR,
				 val, sizeof(val));
	return n != strlen(ADOUBLE_VISIBLE) ||
		memcmp(val, ADOUBLE_VISIBLE, n);
}

/*
 * The directory that holds the AppleDouble file of the file at @path, on a
 * share of @fp, with a reference; NULL if the file has none. Only a regular
 * file has one, and only one whose directory is beneath the share root:
 * the share root and directories have none (their "._" file would be in
 * the directory above them, for the share root outside the share), nor
 * has the root of a mount.
 */
static struct dentry *adouble_dir(struct ksmbd_file *fp,
				  const struct path *path)
{
	const struct path *root = &fp->share_conf->vfs_path;
	struct dentry *dir;

	if (!d_is_reg(path->dentry) || path->dentry == path->mnt->mnt_root)
		return NULL;
	dir = dget_parent(path->dentry);
	/* In a mount beneath the share, the file's mount holds its parent */
	if (path->mnt == root->mnt && !is_subdir(dir, root->dentry)) {
		dput(dir);
		return NULL;
	}
	return dir;
}

/*
 * "._" files are looked up, opened and created only by the three helpers
 * below, in a directory adouble_dir() gave (beneath the share root), with
 * the permissions of the current user, the session user: the lookup
 * checks that the user may search the directory, follows no symlink and
 * takes only a regular file with one link that nothing is mounted on; an
 * open checks that the user may read it, and write it if it is opened for
 * writing; a file is created as a file created over SMB would be, with
 * the share's create mask, owner and inherited ACLs.
 */
static struct dentry *sidecar_lookup(const struct path *dir, char *name)
{
	struct dentry *d;

	d = lookup_one_unlocked(mnt_idmap(dir->mnt), &QSTR(name), dir->dentry);
	if (IS_ERR(d))
		return d;
	if (d_is_negative(d)) {
		dput(d);
		return ERR_PTR(-ENOENT);
	}
	if (!d_is_reg(d) || d_mountpoint(d) || d_inode(d)->i_nlink != 1) {
		dput(d);
		return ERR_PTR(-EINVAL);
	}
	return d;
}

static struct file *sidecar_open(const struct path *dir, struct dentry *d,
				 bool rdwr)
{
	struct path ad = { .mnt = dir->mnt, .dentry = d };
	int rc;

	rc = inode_permission(mnt_idmap(dir->mnt), d_inode(d),
			      MAY_READ | (rdwr ? MAY_WRITE : 0));
	if (rc)
		return ERR_PTR(rc);
	return dentry_open(&ad, (rdwr ? O_RDWR : O_RDONLY) | O_LARGEFILE,
			   current_cred());
}

/*
 * Create "._" @name in @dir for the file @file, unless it exists: -ENOENT
 * if @file is no longer @name less its "._" in @dir (it was renamed or
 * removed since @name was made), which the directory's lock then tells
 * for sure, so that no fork is created under a name its file left.
 */
static int sidecar_create(struct ksmbd_file *fp, const struct path *dir,
			  struct dentry *file, char *name)
{
	struct ksmbd_share_config *share = fp->share_conf;
	struct mnt_idmap *idmap = mnt_idmap(dir->mnt);
	struct path path = { .mnt = dir->mnt };
	struct dentry *dentry;
	int rc;

	rc = mnt_want_write(dir->mnt);
	if (rc)
		return rc;
	dentry = start_creating(idmap, dir->dentry, &QSTR(name));
	if (IS_ERR(dentry)) {
		rc = PTR_ERR(dentry);
		goto out;
	}
	if (file->d_parent != dir->dentry || d_unhashed(file) ||
	    file->d_name.len != strlen(name) - 2 ||
	    memcmp(file->d_name.name, name + 2, file->d_name.len)) {
		rc = -ENOENT;
	} else if (d_really_is_negative(dentry)) {
		umode_t mode = d_inode(file)->i_mode & 0666;

		rc = vfs_create(idmap, dentry,
				S_IFREG | share_config_create_mode(share, mode),
				NULL);
		if (!rc) {
			ksmbd_vfs_inherit_owner(share, d_inode(dir->dentry),
						d_inode(dentry));
			path.dentry = dget(dentry);
		}
	} else {
		rc = -EEXIST;
	}
	end_creating(dentry);
	if (path.dentry) {
		ksmbd_vfs_inherit_posix_acl(idmap, &path, d_inode(dir->dentry));
		if (fp->conn &&
		    test_share_config_flag(share, KSMBD_SHARE_FLAG_ACL_XATTR))
			smb_inherit_dacl(fp->conn, &path,
					 from_kuid(&init_user_ns, current_fsuid()),
					 from_kgid(&init_user_ns, current_fsgid()));
		dput(path.dentry);
	}
out:
	mnt_drop_write(dir->mnt);
	return rc == -EEXIST ? 0 : rc;
}

/*
 * Open the AppleDouble file of the file at @path, on a share of @fp;
 * create it if @create. -ENOENT for a file that has no AppleDouble file
 * (see adouble_dir()) or one without it; -EINVAL if "._<name>" is not a
 * regular file; see sidecar_lookup() for what else is refused.
 */
static struct file *adouble_open(struct ksmbd_file *fp,
				 const struct path *path, bool create,
				 bool rdwr)
{
	struct file *filp;
	struct dentry *ad;
	struct path dir;
	char *name;
	int rc;

	dir.dentry = adouble_dir(fp, path);
	if (!dir.dentry)
		return ERR_PTR(-ENOENT);
	dir.mnt = path->mnt;
	name = adouble_name(path->dentry, &rc);
	if (!name) {
		filp = ERR_PTR(rc);
		goto out;
	}

	if (create) {
		rc = sidecar_create(fp, &dir, path->dentry, name);
		if (rc) {
			filp = ERR_PTR(rc);
			goto out;
		}
	}
	ad = sidecar_lookup(&dir, name);
	if (IS_ERR(ad)) {
		filp = ERR_CAST(ad);
		goto out;
	}
	filp = sidecar_open(&dir, ad, rdwr);
	dput(ad);
out:
	dput(dir.dentry);
	kfree(name);
	return filp;
}

/*
 * Find the fork in the open AppleDouble file @filp; give an empty one a
 * header. Return: 0, -ENODATA if it is empty and read-only, -EIO if it is
 * not an AppleDouble file with a resource fork, or another error
 */
static int adouble_read(struct file *filp, struct ksmbd_apple_adouble *ad)
{
	loff_t size = i_size_read(file_inode(filp)), pos = 0;
	u8 *buf;
	ssize_t n;
	int rc;

	buf = kmalloc(AD_HEADER_MAX, KSMBD_DEFAULT_GFP);
	if (!buf)
		return -ENOMEM;
	if (!size && !(filp->f_mode & FMODE_WRITE)) {
		rc = -ENODATA;
		goto out;
	}
	if (!size) {
		/* New, or left empty by a crash right after its creation */
		ksmbd_apple_adouble_init(buf);
		n = kernel_write(filp, buf, KSMBD_AD_RSRC_OFFSET, &pos);
		size = KSMBD_AD_RSRC_OFFSET;
		if (n >= 0 && n != size)
			n = -EIO;
	} else {
		n = kernel_read(filp, buf, min_t(loff_t, size, AD_HEADER_MAX),
				&pos);
	}
	if (n < 0) {
		rc = n;
		goto out;
	}
	rc = ksmbd_apple_adouble_parse(buf, n, size, ad);
	if (!rc && !ad->has_rsrc)
		rc = -EINVAL;
	if (rc) {
		pr_warn_ratelimited("%pD is not an AppleDouble file with a resource fork\n",
				    filp);
		rc = -EIO;
	}
out:
	kfree(buf);
	return rc;
}

/* The length of a fork that starts at @off of a file of @size bytes */
static u64 fork_len(loff_t size, u32 off)
{
	return size > off ? size - off : 0;
}

static loff_t rsrc_len(struct ksmbd_apple_stream *as)
{
	return fork_len(i_size_read(file_inode(as->rsrc)), as->rsrc_off);
}

/*
 * Make the fork entry's length match the file (see the top of this file),
 * with the "._" file's lock held
 */
static int rsrc_sync_len(struct ksmbd_apple_stream *as)
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
		rc = rsrc_sync_len(&fp->apple);
	mutex_unlock(adouble_lock(fp));
	revert_creds(saved);
	return rc;
}

/* The length of a resource fork kept in its stream xattr */
static ssize_t rsrc_xattr_len(struct mnt_idmap *idmap, struct dentry *dentry)
{
	ssize_t len = vfs_getxattr(idmap, dentry, RSRC_XATTR, NULL, 0);

	return len > 0 ? len : 0;
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
	rc = rsrc_sync_len(&fp->apple);
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
	adouble_convert(path, fp);

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
	filp = adouble_open(fp, path, create || legacy, rdwr);
	if (IS_ERR(filp)) {
		rc = PTR_ERR(filp) == -ENOENT ? -EBADF : PTR_ERR(filp);
		goto unlock;
	}
	rc = adouble_read(filp, &ad);
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
		n = rsrc_sync_len(&fp->apple);
	mutex_unlock(adouble_lock(fp));
	return n;
}

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

/*
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
static void adouble_convert(const struct path *path, struct ksmbd_file *fp)
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
	filp = adouble_open(fp, path, false, true);
	if (IS_ERR(filp))
		goto unlock;
	if (adouble_failed(filp))
		goto out;
	if (adouble_read(filp, &ad) || !ad.finfo_len ||
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
	    !afpinfo_get(idmap, path->dentry, AFPINFO_XATTR, blob)) {
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
		    rsrc_sync_len(&fork))
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
	adouble_convert(&fp->filp->f_path, fp);
	revert_creds(saved);
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
 * ksmbd_apple_stream_overwrites() - does the open of @fp overwrite data?
 * @fp: the handle being opened
 *
 * Return: true if ksmbd_apple_stream_overwrite() will empty an Apple
 * stream: the caller breaks the oplocks and leases of the file's other
 * opens first, as for a truncating open of a file
 */
bool ksmbd_apple_stream_overwrites(struct ksmbd_file *fp)
{
	return fp->apple.overwrite;
}

/**
 * ksmbd_apple_stream_overwrite() - empty an overwritten Apple stream
 * @fp: the handle being opened, its open granted
 *
 * An OVERWRITE, OVERWRITE_IF or SUPERSEDE of AFP_AfpInfo or AFP_Resource
 * empties the stream here, once the delete-pending state and oplocks of
 * the file's other opens have let the open through (where the data of a
 * file opened so is truncated), never before: an open that fails on those
 * must leave the data of the client that holds the stream as it is. An
 * open for attributes only empties nothing, as for a file.
 *
 * Return: 0 or a negative error, which fails the open
 */
int ksmbd_apple_stream_overwrite(struct ksmbd_file *fp)
{
	const struct cred *saved;
	int rc;

	if (!fp->apple.overwrite)
		return 0;
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
		rc = rsrc_len(&fp->apple) ? 0 : ksmbd_vfs_unlink(fp->apple.rsrc, NULL);
		mutex_unlock(adouble_lock(fp));
		return rc == -ENOENT ? 0 : rc;
	}
	saved = override_creds(fp->filp->f_cred);
	rc = afpinfo_remove(fp);
	revert_creds(saved);
	return rc;
}

/**
 * ksmbd_apple_stream_close() - release what an Apple stream handle holds
 * @fp: the handle, being freed
 */
void ksmbd_apple_stream_close(struct ksmbd_file *fp)
{
	if (fp->apple.rsrc)
		fput(fp->apple.rsrc);
	fp->apple.rsrc = NULL;
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
		filp = adouble_open(fp, &fp->filp->f_path, false, false);
		if (!IS_ERR(filp)) {
			if (!adouble_read(filp, &ad))
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

/* The length of the fork in the "._" file of @dentry: a lookup, no open */
static u64 dirent_rsrc_len(struct mnt_idmap *idmap, struct dentry *dentry)
{
	struct dentry *dir, *ad;
	u64 len = 0;
	char *name;
	int rc;

	name = adouble_name(dentry, &rc);
	if (!name)
		return 0;
	/* An AppleDouble file has no AppleDouble file */
	if (!strncmp(name, "._._", 4)) {
		kfree(name);
		return 0;
	}
	dir = dget_parent(dentry);
	ad = lookup_one_unlocked(idmap, &QSTR(name), dir);
	if (!IS_ERR(ad)) {
		if (d_is_reg(ad))
			len = fork_len(i_size_read(d_inode(ad)),
				       KSMBD_AD_RSRC_OFFSET);
		dput(ad);
	}
	dput(dir);
	kfree(name);
	return len;
}

/**
 * ksmbd_apple_dirent_meta() - the Finder data of a directory entry
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
void ksmbd_apple_dirent_meta(const struct path *path,
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
	    afpinfo_get(idmap, dentry, afpinfo ?: AFPINFO_XATTR, blob)) {
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
		ad->rsrc_len = dirent_rsrc_len(idmap, dentry);
	if (ad->rsrc_len)
		ad->no_streams = false;
}

/* Is @d, looked up in a locked directory, a "._" file ksmbd may change? */
static bool adouble_locked_reg(struct dentry *d)
{
	return !IS_ERR(d) && d_is_reg(d) && !d_mountpoint(d);
}

/*
 * The "._" files of a folder being removed, read a batch at a time: the
 * folder is removed only if it holds nothing else, so each of them is the
 * fork of a file no longer there, which no client sees (see
 * ksmbd_apple_vetoed()).
 */
#define ORPHANS_BATCH	32

struct adouble_orphans {
	struct dir_context ctx;
	struct ksmbd_share_config *share;
	char (*names)[NAME_MAX + 1];
	unsigned int count;
	bool other;
};

static bool adouble_orphan_actor(struct dir_context *ctx, const char *name,
				 int namlen, loff_t offset, u64 ino,
				 unsigned int d_type)
{
	struct adouble_orphans *o = container_of(ctx, struct adouble_orphans,
						 ctx);

	if (name_is_dot_dotdot(name, namlen))
		return true;
	if (!ksmbd_apple_dirent_removable(o->share, name, namlen, d_type)) {
		o->other = true;
		return false;
	}
	if (namlen > NAME_MAX)
		return false;
	memcpy(o->names[o->count], name, namlen);
	o->names[o->count][namlen] = '\0';
	return ++o->count < ORPHANS_BATCH;
}

/**
 * ksmbd_apple_dirent_removable() - does a folder's removal take this entry?
 * @share:  the share of the folder
 * @name:   the entry's name, not NUL-terminated
 * @namlen: its length
 * @d_type: its type, as the directory lists it
 *
 * A regular "._" file hidden from the clients of an Apple share does not
 * keep its folder from being removed (ksmbd_apple_rmdir_orphans() removes
 * it first), as it does not on Samba's vfs_fruit: otherwise a folder that
 * a Mac sees empty cannot be deleted. Any other entry, a "._" name that is
 * not a regular file among them, keeps the folder.
 *
 * Return: true if the entry goes with its folder
 */
bool ksmbd_apple_dirent_removable(struct ksmbd_share_config *share,
				  const char *name, int namlen,
				  unsigned int d_type)
{
	return share && d_type == DT_REG && namlen > 2 &&
		!memchr(name, '/', namlen) &&
		ksmbd_apple_vetoed(share, name, namlen);
}

/**
 * ksmbd_apple_rmdir_orphans() - remove the "._" files of a folder to remove
 * @share: the share of the folder, or NULL
 * @path:  the folder, whose removal its handle's close is about to do
 *
 * Runs with the credentials of the session that removes the folder, so
 * that the folder is read only if it may read it and vfs_unlink() checks
 * its right to remove each file. Nothing is removed unless the
 * folder holds only "._" files (ksmbd_apple_dirent_removable()), each
 * removed with the folder locked, and only while no file has the name it
 * would be the fork of. The work is bounded by the folder's size: a batch
 * that removes nothing ends it.
 */
void ksmbd_apple_rmdir_orphans(struct ksmbd_share_config *share,
			       const struct path *path)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct inode *dir = d_inode(path->dentry);
	struct adouble_orphans o = {
		.ctx.actor = adouble_orphan_actor,
		.share = share,
	};
	struct dentry *ad, *data;
	struct file *filp;
	unsigned int i, removed;

	if (!share || !ksmbd_apple_share(share) ||
	    inode_permission(idmap, dir, MAY_READ))
		return;
	o.names = kmalloc_array(ORPHANS_BATCH, sizeof(*o.names),
				KSMBD_DEFAULT_GFP);
	if (!o.names)
		return;
	do {
		filp = dentry_open(path, O_RDONLY | O_DIRECTORY, current_cred());
		if (IS_ERR(filp))
			break;
		o.count = 0;
		o.other = false;
		o.ctx.pos = 0;
		iterate_dir(filp, &o.ctx);
		fput(filp);
		if (o.other || !o.count)
			break;

		removed = 0;
		inode_lock_nested(dir, I_MUTEX_PARENT);
		for (i = 0; i < o.count; i++) {
			data = lookup_one(idmap, &QSTR(o.names[i] + 2),
					  path->dentry);
			if (IS_ERR(data))
				continue;
			ad = d_is_negative(data) ?
				lookup_one(idmap, &QSTR(o.names[i]), path->dentry) :
				ERR_PTR(-EEXIST);
			dput(data);
			if (adouble_locked_reg(ad) &&
			    !vfs_unlink(idmap, dir, ad, NULL))
				removed++;
			if (!IS_ERR(ad))
				dput(ad);
		}
		inode_unlock(dir);
	} while (removed);
	kfree(o.names);
}

/**
 * ksmbd_apple_unlink_fork() - remove the resource fork of a file unlinked
 * @share: the share of the file, or NULL
 * @path:  the file, just unlinked by the caller
 * @dir:   its directory, locked by the caller since before the unlink
 *
 * The file's "._" file goes with it, in the same locked section, so that
 * no file created under the same name meanwhile loses its own: empty
 * forks are not listed, so the generic removal of streams would miss it.
 * A "._" name that is not a regular file is left alone.
 */
void ksmbd_apple_unlink_fork(struct ksmbd_share_config *share,
			     const struct path *path, struct dentry *dir)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct dentry *ad;
	char *name;
	int rc;

	/* The root of a mount has no "._" file: see adouble_dir() */
	if (!share || !ksmbd_apple_share(share) ||
	    path->dentry == path->mnt->mnt_root)
		return;
	name = adouble_name(path->dentry, &rc);
	if (!name)
		return;
	ad = lookup_one(idmap, &QSTR(name), dir);
	if (adouble_locked_reg(ad)) {
		rc = vfs_unlink(idmap, d_inode(dir), ad, NULL);
		if (rc)
			pr_warn_ratelimited("resource fork %s not removed: %d\n",
					    name, rc);
	}
	if (!IS_ERR(ad))
		dput(ad);
	kfree(name);
}

/**
 * ksmbd_apple_rename_start() - note the resource fork of a file renamed
 * @share: the share of the file
 * @rd:    the rename, its directories locked and its dentries looked up
 * @ar:    filled in; pass to ksmbd_apple_rename_end()
 */
void ksmbd_apple_rename_start(struct ksmbd_share_config *share,
			      struct renamedata *rd,
			      struct ksmbd_apple_rename *ar)
{
	int rc;

	ar->name = NULL;
	if (!ksmbd_apple_share(share) || d_is_dir(rd->old_dentry) ||
	    rd->flags & RENAME_EXCHANGE)
		return;
	ar->replaced = d_is_positive(rd->new_dentry) &&
		       !(rd->flags & RENAME_NOREPLACE);
	ar->name = adouble_name(rd->old_dentry, &rc);
}

/**
 * ksmbd_apple_rename_end() - move a renamed file's resource fork with it
 * @rd: the rename, its directories still locked
 * @ar: from ksmbd_apple_rename_start()
 * @rc: result of the rename
 *
 * The "._" file is renamed after the file, in the same locked section, so
 * that nothing can take either name in between; a crash in between
 * leaves the fork under the old name, never loses it. The "._" file of a
 * file the rename replaced is replaced, or removed if the renamed file
 * has no fork; any other file of the new "._" name (one no file owned,
 * or not a regular file) is left as it is, and so is the fork, under its
 * old name.
 */
void ksmbd_apple_rename_end(struct renamedata *rd,
			    struct ksmbd_apple_rename *ar, int rc)
{
	struct mnt_idmap *idmap = rd->mnt_idmap;
	struct dentry *from, *to;
	char *new_name = NULL;
	int err;

	if (!ar->name || rc)
		goto out;
	from = lookup_one(idmap, &QSTR(ar->name), rd->old_parent);
	new_name = adouble_name(rd->old_dentry, &err);
	to = new_name ? lookup_one(idmap, &QSTR(new_name), rd->new_parent) :
			ERR_PTR(err);
	if (IS_ERR(from) || IS_ERR(to)) {
		err = IS_ERR(from) ? PTR_ERR(from) : PTR_ERR(to);
	} else if (from == rd->old_dentry) {
		/* Renamed to its own "._" name, where clients see "._" files */
		err = 0;
	} else if (!adouble_locked_reg(from)) {
		/* No fork: the replaced file's goes with that file */
		err = 0;
		if (ar->replaced && adouble_locked_reg(to))
			err = vfs_unlink(idmap, d_inode(rd->new_parent), to,
					 NULL);
	} else if (d_is_positive(to) &&
		   (!ar->replaced || !adouble_locked_reg(to))) {
		err = -EEXIST;
	} else {
		struct renamedata ad_rd = {
			.mnt_idmap = idmap,
			.old_parent = rd->old_parent,
			.old_dentry = from,
			.new_parent = rd->new_parent,
			.new_dentry = to,
		};

		err = vfs_rename(&ad_rd);
	}
	if (err)
		pr_warn_ratelimited("resource fork %s not renamed: %d\n",
				    ar->name, err);
	if (!IS_ERR(from))
		dput(from);
	if (!IS_ERR(to))
		dput(to);
out:
	kfree(new_name);
	kfree(ar->name);
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

	from = adouble_open(src, &src->filp->f_path, false, false);
	if (IS_ERR(from))
		return PTR_ERR(from) == -ENOENT ? 0 : PTR_ERR(from);
	rc = adouble_read(from, &from_ad);
	if (rc == -ENODATA)
		rc = 0;
	if (rc || !from_ad.rsrc_len)
		goto out;

	to.rsrc = adouble_open(dst, &dst->filp->f_path, true, true);
	if (IS_ERR(to.rsrc)) {
		rc = PTR_ERR(to.rsrc);
		goto out;
	}
	rc = adouble_read(to.rsrc, &to_ad);
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
	rc = rsrc_sync_len(&to);
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
