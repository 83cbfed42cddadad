// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Time Machine support for Apple clients: a per-share size limit reported
 * through the filesystem size information, and F_FULLFSYNC.
 *
 * Size limit. A Mac backs up into a sparse bundle in the share root:
 * <name>.sparsebundle/Info.plist gives the size of its bands and
 * <name>.sparsebundle/bands/ holds one file per band. Like Samba's
 * "fruit:time machine max size", the space a share uses is taken to be
 * the sum over its bundles of band size times band count, and the free
 * space reported to clients is the limit minus that. The limit comes
 * from the share root's .com.apple.TimeMachine.quota.plist, the file OS X
 * Server kept there (key GlobalQuota, in bytes), so it can be set with
 * any ksmbd-tools; ksmbd_share_config_response.time_machine_max_size is
 * reserved for a ksmbd-tools option, which takes precedence once set.
 *
 * Counting bands is the expensive part: a bundle holds a band per 8 MiB
 * (newer macOS) to 128 MiB, up to hundreds of thousands of files. Band
 * counts are kept per share and recounted only when the bands directory
 * has changed since it was counted (its change cookie, or its ctime,
 * mtime and size where the filesystem has no change cookie), so an idle
 * share costs a lookup per bundle and a backup in progress one directory
 * scan per bundle that grew.
 */

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "glob.h"
#include "apple.h"
#include "vfs.h"

#define TM_QUOTA_PLIST		".com.apple.TimeMachine.quota.plist"
#define TM_QUOTA_KEY		"GlobalQuota"
#define TM_BUNDLE_SUFFIX	".sparsebundle"
#define TM_BAND_SIZE_KEY	"band-size"
/* Larger property lists are not read: Info.plist is about 500 bytes */
#define TM_PLIST_MAX		(64 * 1024)
/* Bundles counted in one share, and band counts remembered per share */
#define TM_MAX_BUNDLES		256
#define TM_CACHED_BUNDLES	64
/* Units the limited sizes are reported in: 2 sectors of 512 bytes */
#define TM_BYTES_PER_SECTOR	512
#define TM_SECTORS_PER_UNIT	2
#define TM_UNIT			(TM_BYTES_PER_SECTOR * TM_SECTORS_PER_UNIT)

/* ---- XML property lists ---- */

struct plist_cursor {
	const char *pos;
	const char *end;
};

static void plist_skip_space(struct plist_cursor *c)
{
	while (c->pos < c->end &&
	       (*c->pos == ' ' || *c->pos == '\t' || *c->pos == '\r' ||
		*c->pos == '\n'))
		c->pos++;
}

/* Consume @lit if the cursor is at it */
static bool plist_take(struct plist_cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->end - c->pos < n || memcmp(c->pos, lit, n))
		return false;
	c->pos += n;
	return true;
}

/* Move the cursor past the next @lit; false if there is none */
static bool plist_find(struct plist_cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	while (c->end - c->pos >= n) {
		if (!memcmp(c->pos, lit, n)) {
			c->pos += n;
			return true;
		}
		c->pos++;
	}
	return false;
}

/**
 * ksmbd_apple_plist_u64() - read an integer of an XML property list
 * @buf: the property list, not NUL-terminated
 * @len: its length
 * @key: the key whose value is wanted
 * @val: the value
 *
 * Looks for <key>@key</key> followed, after optional white space, by
 * <integer>digits</integer>, the form macOS writes Info.plist and
 * quota property lists in. Only the first occurrence of the key counts.
 *
 * Return: 0, -ENOENT if @key is absent, -EINVAL if its value is not a
 * non-negative decimal integer, -ERANGE if it does not fit 64 bits
 */
VISIBLE_IF_KUNIT int ksmbd_apple_plist_u64(const char *buf, size_t len,
					   const char *key, u64 *val)
{
	struct plist_cursor c = { .pos = buf, .end = buf + len };
	unsigned int digits = 0;
	u64 v = 0;

	for (;;) {
		if (!plist_find(&c, "<key>"))
			return -ENOENT;
		if (plist_take(&c, key) && plist_take(&c, "</key>"))
			break;
	}
	plist_skip_space(&c);
	if (!plist_take(&c, "<integer>"))
		return -EINVAL;
	plist_skip_space(&c);
	while (c.pos < c.end && *c.pos >= '0' && *c.pos <= '9') {
		if (check_mul_overflow(v, 10, &v) ||
		    check_add_overflow(v, *c.pos - '0', &v))
			return -ERANGE;
		c.pos++;
		digits++;
	}
	plist_skip_space(&c);
	if (!digits || !plist_take(&c, "</integer>"))
		return -EINVAL;
	*val = v;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_plist_u64);

/* ---- Arithmetic ---- */

/**
 * ksmbd_apple_tm_add_bundle() - add a sparse bundle's size to a total
 * @used:      running total in bytes
 * @band_size: the bundle's band size in bytes
 * @nbands:    its number of bands
 *
 * Return: 0, or -EOVERFLOW (and @used unchanged) if the total would not
 * fit 64 bits
 */
VISIBLE_IF_KUNIT int ksmbd_apple_tm_add_bundle(u64 *used, u64 band_size,
					       u64 nbands)
{
	u64 size, total;

	if (check_mul_overflow(band_size, nbands, &size) ||
	    check_add_overflow(*used, size, &total))
		return -EOVERFLOW;
	*used = total;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_tm_add_bundle);

/**
 * ksmbd_apple_tm_limit() - apply the size limit to a filesystem's sizes
 * @sz:       the filesystem's sizes in bytes, replaced by the limited ones
 *            in allocation units of TM_UNIT bytes
 * @max_size: the share's limit in bytes
 * @used:     bytes used by the share's sparse bundles
 *
 * The total is the limit and the free space the limit minus what is
 * used, neither more than the filesystem itself has: a limit larger than
 * the disk must not promise space that is not there.
 */
VISIBLE_IF_KUNIT void ksmbd_apple_tm_limit(struct ksmbd_apple_fs_size *sz,
					   u64 max_size, u64 used)
{
	u64 avail = max_size > used ? max_size - used : 0;

	sz->total = min(max_size, sz->total) / TM_UNIT;
	sz->caller_avail = min(avail, sz->caller_avail) / TM_UNIT;
	sz->actual_avail = min(avail, sz->actual_avail) / TM_UNIT;
	sz->sectors_per_unit = TM_SECTORS_PER_UNIT;
	sz->bytes_per_sector = TM_BYTES_PER_SECTOR;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_tm_limit);

/* ---- The share ---- */

struct tm_band_count {
	u64 ino;
	u64 version[3];
	u64 nbands;
};

/**
 * struct ksmbd_apple_tm_cache - band counts of one share's bundles
 * @lock:  serialises users
 * @n:     entries in @count
 * @next:  entry to replace when @count is full
 * @count: band counts, keyed by the bands directory's inode and version
 */
struct ksmbd_apple_tm_cache {
	struct mutex lock;	/* protects the counts, and the scans */
	unsigned int n, next;
	struct tm_band_count count[TM_CACHED_BUNDLES];
};

/* Read a small regular file below @dir into a new buffer */
static int tm_read_file(const struct path *dir, const char *name,
			char **buf, size_t *len)
{
	struct path path;
	struct file *filp;
	loff_t pos = 0, size;
	ssize_t n;
	int rc;

	rc = vfs_path_lookup(dir->dentry, dir->mnt, name, LOOKUP_NO_SYMLINKS,
			     &path);
	if (rc)
		return rc;
	/* Not even opened unless regular: opening a FIFO would block */
	if (!d_is_reg(path.dentry)) {
		path_put(&path);
		return -EINVAL;
	}
	filp = dentry_open(&path, O_RDONLY, current_cred());
	path_put(&path);
	if (IS_ERR(filp))
		return PTR_ERR(filp);
	size = i_size_read(file_inode(filp));
	if (size > TM_PLIST_MAX) {
		rc = -EFBIG;
		goto out;
	}
	*buf = kvmalloc(size ?: 1, KSMBD_DEFAULT_GFP);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = kernel_read(filp, *buf, size, &pos);
	if (n < 0) {
		kvfree(*buf);
		rc = n;
		goto out;
	}
	*len = n;
out:
	fput(filp);
	return rc;
}

/* The integer @key of the property list @name below @dir */
static int tm_plist_u64(const struct path *dir, const char *name,
			const char *key, u64 *val)
{
	size_t len;
	char *buf;
	int rc;

	rc = tm_read_file(dir, name, &buf, &len);
	if (rc)
		return rc;
	rc = ksmbd_apple_plist_u64(buf, len, key, val);
	kvfree(buf);
	return rc;
}

struct tm_dir_ctx {
	struct dir_context ctx;
	u64 count;
	/* bundle names, when listing the share root */
	char (*names)[NAME_MAX + 1];
	unsigned int nnames;
};

static bool tm_count_actor(struct dir_context *ctx, const char *name,
			   int namlen, loff_t offset, u64 ino,
			   unsigned int d_type)
{
	struct tm_dir_ctx *c = container_of(ctx, struct tm_dir_ctx, ctx);

	if (!(namlen == 1 && name[0] == '.') &&
	    !(namlen == 2 && name[0] == '.' && name[1] == '.'))
		c->count++;
	return true;
}

static bool tm_bundle_actor(struct dir_context *ctx, const char *name,
			    int namlen, loff_t offset, u64 ino,
			    unsigned int d_type)
{
	struct tm_dir_ctx *c = container_of(ctx, struct tm_dir_ctx, ctx);
	size_t sfx = strlen(TM_BUNDLE_SUFFIX);

	if (namlen <= sfx || namlen > NAME_MAX ||
	    (d_type != DT_DIR && d_type != DT_UNKNOWN) ||
	    memcmp(name + namlen - sfx, TM_BUNDLE_SUFFIX, sfx))
		return true;
	if (c->nnames == TM_MAX_BUNDLES) {
		pr_warn_ratelimited("time machine: more than %d sparse bundles in a share, the rest are not counted\n",
				    TM_MAX_BUNDLES);
		return false;
	}
	memcpy(c->names[c->nnames], name, namlen);
	c->names[c->nnames][namlen] = '\0';
	c->nnames++;
	return true;
}

static int tm_iterate(const struct path *path, struct tm_dir_ctx *c)
{
	struct file *filp;
	int rc;

	filp = dentry_open(path, O_RDONLY | O_DIRECTORY, current_cred());
	if (IS_ERR(filp))
		return PTR_ERR(filp);
	rc = iterate_dir(filp, &c->ctx);
	fput(filp);
	return rc;
}

/* The number of bands of a bundle, from @cache if its bands did not change */
static int tm_count_bands(struct ksmbd_apple_tm_cache *cache,
			  const struct path *bundle, u64 *nbands)
{
	struct tm_dir_ctx c = { .ctx.actor = tm_count_actor };
	struct tm_band_count key = {};
	struct tm_band_count *e;
	struct path bands;
	struct kstat st;
	unsigned int i;
	int rc;

	rc = vfs_path_lookup(bundle->dentry, bundle->mnt, "bands",
			     LOOKUP_NO_SYMLINKS | LOOKUP_DIRECTORY, &bands);
	if (rc)
		return rc;
	rc = vfs_getattr(&bands, &st, STATX_INO | STATX_CTIME | STATX_MTIME |
			 STATX_SIZE | STATX_CHANGE_COOKIE, AT_STATX_SYNC_AS_STAT);
	if (rc)
		goto out;
	key.ino = st.ino;
	if (st.result_mask & STATX_CHANGE_COOKIE) {
		key.version[0] = st.change_cookie;
	} else {
		key.version[0] = (u64)st.ctime.tv_sec << 32 ^ st.ctime.tv_nsec;
		key.version[1] = (u64)st.mtime.tv_sec << 32 ^ st.mtime.tv_nsec;
		key.version[2] = st.size;
	}

	for (i = 0; i < cache->n; i++) {
		e = &cache->count[i];
		if (e->ino == key.ino &&
		    !memcmp(e->version, key.version, sizeof(key.version))) {
			*nbands = e->nbands;
			goto out;
		}
	}

	rc = tm_iterate(&bands, &c);
	if (rc)
		goto out;
	*nbands = c.count;
	key.nbands = c.count;
	for (i = 0; i < cache->n; i++)
		if (cache->count[i].ino == key.ino)
			break;
	if (i == cache->n) {
		if (cache->n < TM_CACHED_BUNDLES) {
			cache->n++;
		} else {
			i = cache->next;
			cache->next = (cache->next + 1) % TM_CACHED_BUNDLES;
		}
	}
	cache->count[i] = key;
out:
	path_put(&bands);
	return rc;
}

/* Bytes used by the sparse bundles in the share root */
static int tm_used(struct ksmbd_apple_tm_cache *cache,
		   const struct path *root, u64 *used)
{
	struct tm_dir_ctx c = { .ctx.actor = tm_bundle_actor };
	unsigned int i;
	int rc;

	c.names = kvmalloc_array(TM_MAX_BUNDLES, sizeof(*c.names),
				 KSMBD_DEFAULT_GFP);
	if (!c.names)
		return -ENOMEM;
	rc = tm_iterate(root, &c);
	if (rc)
		goto out;

	*used = 0;
	for (i = 0; i < c.nnames; i++) {
		struct path bundle;
		u64 band_size, nbands;

		/*
		 * A bundle without Info.plist, band size or bands is skipped:
		 * the Mac may be creating it right now.
		 */
		if (vfs_path_lookup(root->dentry, root->mnt, c.names[i],
				    LOOKUP_NO_SYMLINKS | LOOKUP_DIRECTORY,
				    &bundle))
			continue;
		if (!tm_plist_u64(&bundle, "Info.plist", TM_BAND_SIZE_KEY,
				  &band_size) &&
		    !tm_count_bands(cache, &bundle, &nbands))
			rc = ksmbd_apple_tm_add_bundle(used, band_size, nbands);
		path_put(&bundle);
		if (rc)
			break;
	}
out:
	kvfree(c.names);
	return rc;
}

/**
 * ksmbd_apple_tm_fs_size() - apply a time machine share's size limit
 * @share: the share
 * @sz:    the filesystem's sizes in bytes; on success, the limited sizes
 *         in allocation units
 *
 * Called with the credentials of the session, like every other access to
 * the share.
 *
 * Return: 0 if the limit applies and @sz was updated, -ENOENT if the
 * share has no limit, another negative error if the limit could not be
 * computed (the caller reports the filesystem's own sizes)
 */
int ksmbd_apple_tm_fs_size(struct ksmbd_share_config *share,
			   struct ksmbd_apple_fs_size *sz)
{
	struct ksmbd_apple_tm_cache *cache, *new;
	u64 max_size = share->time_machine_max_size, used;
	int rc;

	if (!ksmbd_apple_share(share))
		return -ENOENT;
	if (!max_size) {
		rc = tm_plist_u64(&share->vfs_path, TM_QUOTA_PLIST,
				  TM_QUOTA_KEY, &max_size);
		if (rc && rc != -ENOENT)
			pr_warn_ratelimited("time machine: share %s: no usable %s in %s (%d)\n",
					    share->name, TM_QUOTA_KEY,
					    TM_QUOTA_PLIST, rc);
		if (rc || !max_size)
			return -ENOENT;
	}

	cache = READ_ONCE(share->apple_tm);
	if (!cache) {
		new = kzalloc_obj(*new, KSMBD_DEFAULT_GFP);
		if (!new)
			return -ENOMEM;
		mutex_init(&new->lock);
		cache = cmpxchg(&share->apple_tm, NULL, new);
		if (cache)
			kfree(new);
		else
			cache = new;
	}

	mutex_lock(&cache->lock);
	rc = tm_used(cache, &share->vfs_path, &used);
	mutex_unlock(&cache->lock);
	if (rc == -EOVERFLOW) {
		/* Bundles claiming more than 2^64 bytes leave no room */
		pr_warn_ratelimited("time machine: share %s: the sparse bundles' sizes overflow\n",
				    share->name);
		used = U64_MAX;
	} else if (rc) {
		return rc;
	}

	ksmbd_apple_tm_limit(sz, max_size, used);
	return 0;
}

/**
 * ksmbd_apple_tm_free() - free the time machine state of a share
 * @share: the share, being freed
 */
void ksmbd_apple_tm_free(struct ksmbd_share_config *share)
{
	struct ksmbd_apple_tm_cache *cache = share->apple_tm;

	if (cache) {
		mutex_destroy(&cache->lock);
		kfree(cache);
	}
}

/* ---- F_FULLFSYNC ---- */

/**
 * ksmbd_apple_fullfsync() - complete an F_FULLFSYNC flush
 * @filp: the file, already fsynced
 *
 * macOS sends an SMB2 FLUSH with Reserved1 = 0xFFFF for F_FULLFSYNC,
 * which asks that the file be on permanent storage when the call
 * returns; Time Machine relies on it to order its writes. After the
 * ordinary fsync of the file this also syncs the directory that holds it,
 * so that a file created since the last sync (a new band) is found after
 * a crash, and flushes the volatile write cache of the filesystem's
 * block device, which fsync does not do on a filesystem mounted without
 * barriers.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_fullfsync(struct file *filp)
{
	struct super_block *sb = file_inode(filp)->i_sb;
	struct path parent;
	struct file *dir;
	int rc;

	parent.mnt = filp->f_path.mnt;
	parent.dentry = dget_parent(filp->f_path.dentry);
	dir = dentry_open(&parent, O_RDONLY | O_DIRECTORY, current_cred());
	dput(parent.dentry);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	rc = vfs_fsync(dir, 0);
	fput(dir);
	if (!rc && sb->s_bdev)
		rc = blkdev_issue_flush(sb->s_bdev);
	return rc;
}
