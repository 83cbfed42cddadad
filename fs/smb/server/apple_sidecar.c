// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The AppleDouble files "._<name>" that hold the resource forks of the
 * files of a share with the Apple extensions (see apple_fork.c for what
 * they hold): where a file's is, and how it is looked up, opened, created,
 * renamed and removed. No other unit touches a "._" file by its name.
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

#define AD_HEADER_MAX		1024
/* Set by the administrator: clients of the share see its "._" files */
#define ADOUBLE_VISIBLE_XATTR	"trusted.ksmbd.appledouble"
#define ADOUBLE_VISIBLE		"visible"

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
 * ksmbd_apple_adouble_vetoed() - is a name a "._" file the share hides?
 * @share: a share with the Apple extensions
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
 * Called through ksmbd_apple_vetoed(), ksmbd_apple_vetoed_path() and
 * ksmbd_apple_dirent_removable(), which answer for other shares.
 *
 * Return: true if @name is refused
 */
bool ksmbd_apple_adouble_vetoed(struct ksmbd_share_config *share,
				const char *name, size_t len)
{
	char val[sizeof(ADOUBLE_VISIBLE)];
	ssize_t n;

	if (!ksmbd_apple_adouble_path(name, len))
		return false;
	scoped_with_kernel_creds()
		n = vfs_getxattr(mnt_idmap(share->vfs_path.mnt),
				 share->vfs_path.dentry, ADOUBLE_VISIBLE_XATTR,
				 val, sizeof(val));
	return n != strlen(ADOUBLE_VISIBLE) ||
		memcmp(val, ADOUBLE_VISIBLE, n);
}

/*
 * The directory that holds the AppleDouble file of the file at @path, on
 * @share, with a reference; NULL if the file has none. Only a regular
 * file has one, and only one whose directory is beneath the share root:
 * the share root and directories have none (their "._" file would be in
 * the directory above them, for the share root outside the share), nor
 * has the root of a mount.
 */
static struct dentry *adouble_dir(struct ksmbd_share_config *share,
				  const struct path *path)
{
	const struct path *root = &share->vfs_path;
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
 * "._" files are opened and created only by the three helpers below, in
 * a directory adouble_dir() gave (beneath the share root), with
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

	/* As may_open(): an append-only file is not opened to be rewritten */
	if (rdwr && IS_APPEND(d_inode(d)))
		return ERR_PTR(-EPERM);
	rc = inode_permission(mnt_idmap(dir->mnt), d_inode(d),
			      MAY_READ | (rdwr ? MAY_WRITE : 0));
	if (rc)
		return ERR_PTR(rc);
	return dentry_open(&ad, (rdwr ? O_RDWR : O_RDONLY) | O_LARGEFILE,
			   current_cred());
}

/* Is @d named @name in @dir? The caller holds @dir's lock. */
static bool dentry_named(struct dentry *d, struct dentry *dir,
			 const char *name, size_t len)
{
	return d->d_parent == dir && !d_unhashed(d) && d->d_name.len == len &&
		!memcmp(d->d_name.name, name, len);
}

/*
 * Is @ad, opened as "._" @name in @dir, still the "._" file of @file? A
 * rename of @file moves its "._" file in the same locked section (see
 * ksmbd_apple_rename_end()), so if both have their names at one moment
 * under the directory's lock, @ad is the fork of @file and stays so: 0.
 * Otherwise @file was renamed between the snapshot of its name and the
 * open, and @ad may be the fork of a file that took the name since:
 * -EAGAIN, the open is done again; or @file was removed meanwhile, and
 * has no fork to open: -ENOENT.
 */
static int sidecar_current(struct dentry *dir, struct dentry *file,
			   struct dentry *ad, const char *name)
{
	size_t len = strlen(name);
	int rc = 0;

	inode_lock_shared(d_inode(dir));
	if (d_unhashed(file))
		rc = -ENOENT;
	else if (!dentry_named(file, dir, name + 2, len - 2) ||
		 !dentry_named(ad, dir, name, len))
		rc = -EAGAIN;
	inode_unlock_shared(d_inode(dir));
	return rc;
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
	if (!dentry_named(file, dir->dentry, name + 2, strlen(name) - 2)) {
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

/* Tries of an open that a rename of the file keeps losing */
#define SIDECAR_OPEN_TRIES	3

static struct file *sidecar_try_open(struct ksmbd_file *fp,
				     const struct path *path, bool create,
				     bool rdwr)
{
	struct file *filp;
	struct dentry *ad;
	struct path dir;
	char *name;
	int rc;

	dir.dentry = adouble_dir(fp->share_conf, path);
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
	if (!IS_ERR(filp)) {
		rc = sidecar_current(dir.dentry, path->dentry, ad, name);
		if (rc) {
			fput(filp);
			filp = ERR_PTR(rc);
		}
	}
	dput(ad);
out:
	dput(dir.dentry);
	kfree(name);
	return filp;
}

/**
 * ksmbd_apple_sidecar_open() - open the "._" file of a file
 * @fp: handle on the share the file is on
 * @path: the file
 * @create: create the "._" file if it does not exist
 * @rdwr: open it for writing too
 *
 * Open the AppleDouble file of the file at @path, on a share of @fp;
 * create it if @create. -ENOENT for a file that has no AppleDouble file
 * (see adouble_dir()) or one without it; -EINVAL if "._<name>" is not a
 * regular file; see sidecar_lookup() for what else is refused. The file's
 * name is read without its directory's lock, so an open that a rename of
 * the file overtook is done again, and fails with -EAGAIN after
 * SIDECAR_OPEN_TRIES; one that a removal of the file overtook fails with
 * -ENOENT, as if it had come after it. The caller holds adouble_lock() of
 * @fp to create the file or to change it.
 *
 * Return: the open "._" file, or an ERR_PTR()
 */
struct file *ksmbd_apple_sidecar_open(struct ksmbd_file *fp,
				      const struct path *path, bool create,
				      bool rdwr)
{
	struct file *filp;
	int i;

	for (i = 0; i < SIDECAR_OPEN_TRIES; i++) {
		filp = sidecar_try_open(fp, path, create, rdwr);
		if (filp != ERR_PTR(-EAGAIN))
			break;
	}
	return filp;
}

/**
 * ksmbd_apple_sidecar_read() - find the resource fork in an open "._" file
 * @filp: the open "._" file
 * @ad: gets the offsets and lengths of its entries
 *
 * Find the fork in the open AppleDouble file @filp; give an empty one a
 * header.
 *
 * Return: 0, -ENODATA if it is empty and read-only, -EIO if it is not an
 * AppleDouble file with a resource fork, or another error
 */
int ksmbd_apple_sidecar_read(struct file *filp, struct ksmbd_apple_adouble *ad)
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

/**
 * ksmbd_apple_sidecar_remove() - remove the "._" file of an empty fork
 * @filp: the "._" file, from ksmbd_apple_sidecar_open()
 *
 * The caller holds the lock of the fork's file (adouble_lock()), under
 * which it found the fork empty.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_sidecar_remove(struct file *filp)
{
	return ksmbd_vfs_unlink(filp, NULL);
}

/**
 * ksmbd_apple_sidecar_rsrc_len() - the length of a resource fork, for listings
 * @share: the share listed
 * @path: the file, an entry of a folder of @share
 *
 * The length of the fork in the "._" file of @path: a lookup, no open,
 * with the rules of an open (see sidecar_lookup())
 *
 * Return: the fork's length, 0 if it has none
 */
u64 ksmbd_apple_sidecar_rsrc_len(struct ksmbd_share_config *share,
				 const struct path *path)
{
	struct path dir = { .mnt = path->mnt };
	struct dentry *ad;
	u64 len = 0;
	char *name;
	int rc;

	dir.dentry = adouble_dir(share, path);
	if (!dir.dentry)
		return 0;
	name = adouble_name(path->dentry, &rc);
	/* An AppleDouble file has no AppleDouble file */
	if (name && strncmp(name, "._._", 4)) {
		ad = sidecar_lookup(&dir, name);
		if (!IS_ERR(ad)) {
			len = fork_len(i_size_read(d_inode(ad)),
				       KSMBD_AD_RSRC_OFFSET);
			dput(ad);
		}
	}
	kfree(name);
	dput(dir.dentry);
	return len;
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
	return share && ksmbd_apple_share(share) && d_type == DT_REG &&
		namlen > 2 && !memchr(name, '/', namlen) &&
		ksmbd_apple_adouble_vetoed(share, name, namlen);
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
 * __ksmbd_apple_unlink_fork() - remove the resource fork of a file unlinked
 * @path:  the file, on a share with the Apple extensions, just unlinked by
 *         the caller
 * @dir:   its directory, locked by the caller since before the unlink
 *
 * The file's "._" file goes with it, in the same locked section, so that
 * no file created under the same name meanwhile loses its own: empty
 * forks are not listed, so the generic removal of streams would miss it.
 * A "._" name that is not a regular file is left alone. Called through
 * ksmbd_apple_unlink_fork().
 */
void __ksmbd_apple_unlink_fork(const struct path *path, struct dentry *dir)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct dentry *ad;
	char *name;
	int rc;

	/* The root of a mount has no "._" file: see adouble_dir() */
	if (path->dentry == path->mnt->mnt_root)
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
 * __ksmbd_apple_rename_start() - note the resource fork of a file renamed
 * @rd:    the rename on a share with the Apple extensions, its directories
 *         locked and its dentries looked up
 * @ar:    filled in, @ar->name NULL on entry; pass to
 *         ksmbd_apple_rename_end()
 *
 * Called through ksmbd_apple_rename_start().
 */
void __ksmbd_apple_rename_start(struct renamedata *rd,
				struct ksmbd_apple_rename *ar)
{
	int rc;

	if (d_is_dir(rd->old_dentry) || rd->flags & RENAME_EXCHANGE)
		return;
	ar->replaced = d_is_positive(rd->new_dentry) &&
		       !(rd->flags & RENAME_NOREPLACE);
	ar->name = adouble_name(rd->old_dentry, &rc);
}

/**
 * __ksmbd_apple_rename_end() - move a renamed file's resource fork with it
 * @rd: the rename, its directories still locked
 * @ar: from ksmbd_apple_rename_start(), @ar->name set
 * @rc: result of the rename
 *
 * The "._" file is renamed after the file, in the same locked section, so
 * that nothing can take either name in between; a crash in between
 * leaves the fork under the old name, never loses it. The "._" file of a
 * file the rename replaced is replaced, or removed if the renamed file
 * has no fork; any other file of the new "._" name (one no file owned,
 * or not a regular file) is left as it is, and so is the fork, under its
 * old name. Called through ksmbd_apple_rename_end(); @ar->name is freed
 * here.
 */
void __ksmbd_apple_rename_end(struct renamedata *rd,
			      struct ksmbd_apple_rename *ar, int rc)
{
	struct mnt_idmap *idmap = rd->mnt_idmap;
	struct dentry *from, *to;
	char *new_name = NULL;
	int err;

	if (rc)
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
