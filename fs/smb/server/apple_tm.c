// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Time Machine support for Apple clients: a per-share size limit reported
 * through the filesystem size information, and F_FULLFSYNC.
 *
 * Size limit. A Mac backs up into a sparse bundle in the share root:
 * <name>.sparsebundle/Info.plist gives the size of its bands and
 * <name>.sparsebundle/bands/ holds one file per band. The limit is set by
 * the administrator in the trusted.ksmbd.time_machine_max_size xattr of
 * the share root, which no SMB client can read or write whatever its
 * rights on the share (trusted xattrs need CAP_SYS_ADMIN, and ksmbd maps
 * no stream or EA to the trusted namespace);
 * ksmbd_share_config_response.time_machine_max_size is reserved for a
 * ksmbd-tools option and takes precedence once set. A limit that is set
 * but cannot be read fails the size queries instead of reporting the
 * whole filesystem.
 *
 * The space a share uses is the sum over its bundles of what each bundle
 * claims, band size times band count as Samba's "fruit:time machine max
 * size" counts it, but never more than the bundle occupies on disk plus
 * one band being written (TM_BAND_SLACK): a client can claim any band size
 * in its Info.plist, and must not turn one bundle into no free space for
 * every Mac sharing the disk.
 *
 * Counting bands is the expensive part: a bundle holds a band per 8 MiB
 * (newer macOS) to 128 MiB, up to hundreds of thousands of files. What
 * each bundle claims and occupies is kept per share and recounted only
 * when its bands directory has changed since it was counted (its change
 * cookie, or its ctime, mtime and size where the filesystem has no change
 * cookie), or, for a bundle bounded by what it occupies, when
 * TM_RECOUNT_SECS have passed (bands rewritten in place do not change the
 * directory). An idle share costs three lookups per bundle and no
 * directory read. Only one query counts at a time; the others report the
 * last total.
 */

#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xattr.h>
#include <kunit/visibility.h>

#include "glob.h"
#include "apple.h"
#include "vfs.h"

#define TM_LIMIT_XATTR		XATTR_TRUSTED_PREFIX "ksmbd.time_machine_max_size"
/* Longest limit value read: 20 digits, a unit and a newline or NUL */
#define TM_LIMIT_LEN		32
#define TM_BUNDLE_SUFFIX	".sparsebundle"
#define TM_BAND_SIZE_KEY	"band-size"
/* Larger property lists are not read: Info.plist is about 500 bytes */
#define TM_PLIST_MAX		(64 * 1024)
/* Bundles counted in one share, all of them remembered */
#define TM_MAX_BUNDLES		256
/* Band names looked up per pass over a bands directory */
#define TM_BAND_BATCH		64
/* What a bundle may claim beyond what it occupies: a band being written */
#define TM_BAND_SLACK		SZ_8M
/* How long the count of a bundle bounded by what it occupies is kept */
#define TM_RECOUNT_SECS		10
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
 * ksmbd_apple_tm_parse_size() - parse a time machine size limit
 * @buf:  the value of the limit's xattr, not NUL-terminated
 * @len:  its length
 * @size: the limit in bytes
 *
 * The value is a decimal number of bytes, optionally followed by one of
 * the units K, M, G, T or P (powers of 1024, either case, as Samba's
 * "fruit:time machine max size" takes them) and by a newline or a NUL, as
 * "setfattr -v" and "echo" leave them.
 *
 * Return: 0, -EINVAL if the value is malformed or zero, -ERANGE if it
 * does not fit 64 bits
 */
VISIBLE_IF_KUNIT int ksmbd_apple_tm_parse_size(const char *buf, size_t len,
					       u64 *size)
{
	static const char units[] = "KMGTP";
	const char *unit;
	unsigned int shift = 0;
	size_t i = 0;
	u64 v = 0;

	if (len && (buf[len - 1] == '\0' || buf[len - 1] == '\n'))
		len--;
	if (!len || buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		if (check_mul_overflow(v, 10, &v) ||
		    check_add_overflow(v, buf[i] - '0', &v))
			return -ERANGE;
	if (i < len) {
		unit = strchr(units, toupper(buf[i]));
		if (!buf[i] || !unit || i + 1 != len)
			return -EINVAL;
		shift = 10 * (unit - units + 1);
		if (v > U64_MAX >> shift)
			return -ERANGE;
		v <<= shift;
	}
	if (!v)
		return -EINVAL;
	*size = v;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_tm_parse_size);

/**
 * ksmbd_apple_tm_bundle_used() - the space a sparse bundle is counted for
 * @band_size: the band size its Info.plist claims, in bytes
 * @nbands:    its number of bands
 * @occupied:  the bytes its bands occupy on disk
 *
 * Return: band size times band count, but no more than @occupied plus
 * TM_BAND_SLACK; U64_MAX where that does not fit 64 bits
 */
VISIBLE_IF_KUNIT u64 ksmbd_apple_tm_bundle_used(u64 band_size, u64 nbands,
						u64 occupied)
{
	u64 claimed, bound;

	if (check_mul_overflow(band_size, nbands, &claimed))
		claimed = U64_MAX;
	if (check_add_overflow(occupied, (u64)TM_BAND_SLACK, &bound))
		bound = U64_MAX;
	return min(claimed, bound);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_tm_bundle_used);

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

/* What tells that a file or directory changed since it was last read */
struct tm_version {
	u64 ino;
	u64 cookie;
	u64 ctime;
	u64 mtime;
	u64 size;
};

/**
 * struct tm_bundle - what is known of one sparse bundle
 * @name:       its name in the share root
 * @plist:      its Info.plist as last read
 * @bands:      its bands directory as last counted
 * @counted:    when the bands were counted, in jiffies
 * @band_size:  the band size of Info.plist; 0 if it has none usable
 * @nbands:     band files
 * @occupied:   bytes the band files occupy
 * @plist_read: @plist and @band_size are valid
 * @bands_read: @bands, @counted, @nbands and @occupied are valid
 */
struct tm_bundle {
	char *name;
	struct tm_version plist;
	struct tm_version bands;
	unsigned long counted;
	u64 band_size;
	u64 nbands;
	u64 occupied;
	bool plist_read;
	bool bands_read;
};

/**
 * struct ksmbd_apple_tm_cache - the time machine state of one share
 * @lock:      serialises counting, and protects the fields below but @used
 *             and @have_used
 * @root:      the share root as last listed
 * @listed:    @root, @n and @bundle are valid
 * @n:         bundles in @bundle
 * @bundle:    the bundles, TM_MAX_BUNDLES entries
 * @used:      the last total, for queries that find the lock taken
 * @have_used: @used is valid
 * @limit_err: the last error reading the limit, logged once
 */
struct ksmbd_apple_tm_cache {
	struct mutex lock;	/* see above */
	struct tm_version root;
	bool listed;
	unsigned int n;
	struct tm_bundle *bundle;
	atomic64_t used;
	bool have_used;
	int limit_err;
};

static int tm_version(const struct path *path, struct tm_version *ver,
		      struct kstat *st)
{
	int rc;

	rc = vfs_getattr(path, st, STATX_INO | STATX_CTIME | STATX_MTIME |
			 STATX_SIZE | STATX_BLOCKS | STATX_CHANGE_COOKIE,
			 AT_STATX_SYNC_AS_STAT);
	if (rc)
		return rc;
	memset(ver, 0, sizeof(*ver));
	ver->ino = st->ino;
	if (st->result_mask & STATX_CHANGE_COOKIE)
		ver->cookie = st->change_cookie;
	ver->ctime = (u64)st->ctime.tv_sec << 32 ^ st->ctime.tv_nsec;
	ver->mtime = (u64)st->mtime.tv_sec << 32 ^ st->mtime.tv_nsec;
	ver->size = st->size;
	return 0;
}

/*
 * @name in the directory @dir, if it is of @type (S_IFDIR or S_IFREG): no
 * symlink is followed, no mount point crossed, no lookup leaves @dir.
 */
static int tm_lookup(const struct path *dir, const char *name, umode_t type,
		     struct path *path)
{
	struct qstr q = QSTR(name);
	struct dentry *d;

	d = lookup_one_unlocked(mnt_idmap(dir->mnt), &q, dir->dentry);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (d_is_negative(d) || d_mountpoint(d) ||
	    (d_inode(d)->i_mode & S_IFMT) != type) {
		dput(d);
		return -ENOENT;
	}
	path->mnt = dir->mnt;
	path->dentry = d;
	mntget(path->mnt);
	return 0;
}

/* The integer @key of the property list @path, a regular file */
static int tm_plist_u64(const struct path *path, const char *key, u64 *val)
{
	struct file *filp;
	loff_t pos = 0, size;
	ssize_t n;
	char *buf;
	int rc;

	filp = dentry_open(path, O_RDONLY, current_cred());
	if (IS_ERR(filp))
		return PTR_ERR(filp);
	size = i_size_read(file_inode(filp));
	rc = -EFBIG;
	if (size > TM_PLIST_MAX)
		goto out;
	rc = -ENOMEM;
	buf = kvmalloc(size ?: 1, KSMBD_DEFAULT_GFP);
	if (!buf)
		goto out;
	n = kernel_read(filp, buf, size, &pos);
	rc = n < 0 ? n : ksmbd_apple_plist_u64(buf, n, key, val);
	kvfree(buf);
out:
	fput(filp);
	return rc;
}

struct tm_dir_ctx {
	struct dir_context ctx;
	/* names gathered by the actor, TM_MAX_BUNDLES or TM_BAND_BATCH */
	char (*names)[NAME_MAX + 1];
	unsigned int n, max;
	bool more;
};

static bool tm_name_actor(struct tm_dir_ctx *c, const char *name, int namlen)
{
	if (namlen > NAME_MAX)
		return true;
	if (c->n == c->max) {
		/* Not consumed: the next pass starts at this entry */
		c->more = true;
		return false;
	}
	memcpy(c->names[c->n], name, namlen);
	c->names[c->n][namlen] = '\0';
	c->n++;
	return true;
}

static bool tm_band_actor(struct dir_context *ctx, const char *name,
			  int namlen, loff_t offset, u64 ino,
			  unsigned int d_type)
{
	struct tm_dir_ctx *c = container_of(ctx, struct tm_dir_ctx, ctx);

	if (d_type != DT_REG && d_type != DT_UNKNOWN)
		return true;
	return tm_name_actor(c, name, namlen);
}

static bool tm_bundle_actor(struct dir_context *ctx, const char *name,
			    int namlen, loff_t offset, u64 ino,
			    unsigned int d_type)
{
	struct tm_dir_ctx *c = container_of(ctx, struct tm_dir_ctx, ctx);
	size_t sfx = strlen(TM_BUNDLE_SUFFIX);

	if (namlen <= sfx || (d_type != DT_DIR && d_type != DT_UNKNOWN) ||
	    memcmp(name + namlen - sfx, TM_BUNDLE_SUFFIX, sfx))
		return true;
	return tm_name_actor(c, name, namlen);
}

/* Count the band files of @bands and the bytes they occupy */
static int tm_count_bands(const struct path *bands, u64 *nbands,
			  u64 *occupied)
{
	struct tm_dir_ctx c = {
		.ctx.actor = tm_band_actor,
		.max = TM_BAND_BATCH,
	};
	struct file *filp;
	struct path band;
	struct kstat st;
	unsigned int i;
	u64 n = 0, bytes = 0;
	int rc;

	c.names = kvmalloc_array(c.max, sizeof(*c.names), KSMBD_DEFAULT_GFP);
	if (!c.names)
		return -ENOMEM;
	filp = dentry_open(bands, O_RDONLY | O_DIRECTORY, current_cred());
	if (IS_ERR(filp)) {
		rc = PTR_ERR(filp);
		goto out;
	}
	/*
	 * The names are looked up between passes over the directory, not
	 * from the actor, which runs with the directory locked.
	 */
	do {
		c.n = 0;
		c.more = false;
		rc = iterate_dir(filp, &c.ctx);
		for (i = 0; !rc && i < c.n; i++) {
			if (tm_lookup(bands, c.names[i], S_IFREG, &band))
				continue;
			if (!vfs_getattr(&band, &st, STATX_BLOCKS,
					 AT_STATX_SYNC_AS_STAT)) {
				n++;
				if (check_add_overflow(bytes,
						       (u64)st.blocks << 9,
						       &bytes))
					bytes = U64_MAX;
			}
			path_put(&band);
		}
		if (!rc && fatal_signal_pending(current))
			rc = -EINTR;
		cond_resched();
	} while (!rc && c.more);
	fput(filp);
	if (!rc) {
		*nbands = n;
		*occupied = bytes;
	}
out:
	kvfree(c.names);
	return rc;
}

static bool tm_bounded(const struct tm_bundle *b)
{
	u64 claimed;

	if (check_mul_overflow(b->band_size, b->nbands, &claimed))
		return true;
	return ksmbd_apple_tm_bundle_used(b->band_size, b->nbands,
					  b->occupied) < claimed;
}

/*
 * Bring what is known of bundle @b up to date. A bundle without a usable
 * Info.plist or bands directory counts for nothing: the Mac may be
 * creating it right now. Only a failure that must fail the query (memory,
 * a fatal signal) is returned.
 */
static int tm_refresh_bundle(const struct path *root, struct tm_bundle *b)
{
	struct tm_version ver;
	struct path bundle, p;
	struct kstat st;
	u64 nbands, occupied;
	int rc = 0;

	if (tm_lookup(root, b->name, S_IFDIR, &bundle)) {
		b->plist_read = false;
		b->bands_read = false;
		return 0;
	}

	if (tm_lookup(&bundle, "Info.plist", S_IFREG, &p)) {
		b->plist_read = false;
	} else {
		if (tm_version(&p, &ver, &st)) {
			b->plist_read = false;
		} else if (!b->plist_read || memcmp(&ver, &b->plist,
						    sizeof(ver))) {
			/* Read again only once it changed, even if unusable */
			if (tm_plist_u64(&p, TM_BAND_SIZE_KEY, &b->band_size))
				b->band_size = 0;
			b->plist = ver;
			b->plist_read = true;
		}
		path_put(&p);
	}
	if (!b->plist_read || !b->band_size)
		goto out;

	if (tm_lookup(&bundle, "bands", S_IFDIR, &p)) {
		b->bands_read = false;
		goto out;
	}
	if (tm_version(&p, &ver, &st)) {
		b->bands_read = false;
	} else if (!b->bands_read || memcmp(&ver, &b->bands, sizeof(ver)) ||
		   (tm_bounded(b) &&
		    time_after(jiffies, b->counted + TM_RECOUNT_SECS * HZ))) {
		rc = tm_count_bands(&p, &nbands, &occupied);
		if (!rc) {
			b->bands = ver;
			b->counted = jiffies;
			b->nbands = nbands;
			b->occupied = occupied;
			b->bands_read = true;
		} else if (rc != -ENOMEM && rc != -EINTR) {
			b->bands_read = false;
			rc = 0;
		}
	}
	path_put(&p);
out:
	path_put(&bundle);
	return rc;
}

/* List the bundles of the share root again, keeping what is known */
static int tm_list_bundles(struct ksmbd_apple_tm_cache *cache,
			   const struct path *root)
{
	struct tm_dir_ctx c = {
		.ctx.actor = tm_bundle_actor,
		.max = TM_MAX_BUNDLES,
	};
	struct tm_bundle *old, *nb;
	struct file *filp;
	unsigned int i, j, n = 0;
	int rc;

	c.names = kvmalloc_array(c.max, sizeof(*c.names), KSMBD_DEFAULT_GFP);
	nb = kvcalloc(TM_MAX_BUNDLES, sizeof(*nb), KSMBD_DEFAULT_GFP);
	rc = -ENOMEM;
	if (!c.names || !nb)
		goto out;
	filp = dentry_open(root, O_RDONLY | O_DIRECTORY, current_cred());
	if (IS_ERR(filp)) {
		rc = PTR_ERR(filp);
		goto out;
	}
	rc = iterate_dir(filp, &c.ctx);
	fput(filp);
	if (rc)
		goto out;
	if (c.more)
		pr_warn_once("time machine: more than %d sparse bundles in a share, the rest are not counted\n",
			     TM_MAX_BUNDLES);

	old = cache->bundle;
	for (i = 0; i < c.n; i++) {
		for (j = 0; old && j < cache->n; j++)
			if (old[j].name && !strcmp(old[j].name, c.names[i]))
				break;
		if (old && j < cache->n) {
			nb[n] = old[j];
			old[j].name = NULL;
		} else {
			nb[n].name = kstrdup(c.names[i], KSMBD_DEFAULT_GFP);
			if (!nb[n].name) {
				rc = -ENOMEM;
				break;
			}
		}
		n++;
	}
	if (rc) {
		/* Out of memory: forget every bundle, the next query lists */
		for (i = 0; i < n; i++)
			kfree(nb[i].name);
		n = 0;
	}
	for (j = 0; old && j < cache->n; j++)
		kfree(old[j].name);
	kvfree(old);
	cache->bundle = nb;
	cache->n = n;
	nb = NULL;
out:
	kvfree(nb);
	kvfree(c.names);
	return rc;
}

/* Bytes used by the sparse bundles in the share root */
static int tm_used(struct ksmbd_apple_tm_cache *cache,
		   const struct path *root, u64 *used)
{
	struct tm_version ver;
	struct kstat st;
	unsigned int i;
	u64 total = 0;
	int rc;

	rc = tm_version(root, &ver, &st);
	if (rc)
		return rc;
	if (!cache->listed || memcmp(&ver, &cache->root, sizeof(ver))) {
		rc = tm_list_bundles(cache, root);
		if (rc)
			return rc;
		cache->root = ver;
		cache->listed = true;
	}

	for (i = 0; i < cache->n; i++) {
		struct tm_bundle *b = &cache->bundle[i];

		rc = tm_refresh_bundle(root, b);
		if (rc)
			return rc;
		if (b->plist_read && b->band_size && b->bands_read &&
		    check_add_overflow(total,
				       ksmbd_apple_tm_bundle_used(b->band_size,
								  b->nbands,
								  b->occupied),
				       &total))
			total = U64_MAX;
		cond_resched();
	}
	*used = total;
	return 0;
}

/*
 * The limit, in bytes: ksmbd-tools' setting, else the share root's xattr,
 * read as the server (the session user may not read trusted xattrs).
 * -ENOENT if there is none.
 */
static int tm_max_size(struct ksmbd_share_config *share, u64 *max_size)
{
	char buf[TM_LIMIT_LEN];
	ssize_t n = -EIO;

	if (share->time_machine_max_size) {
		*max_size = share->time_machine_max_size;
		return 0;
	}
	scoped_with_kernel_creds()
		n = vfs_getxattr(mnt_idmap(share->vfs_path.mnt),
				 share->vfs_path.dentry, TM_LIMIT_XATTR,
				 buf, sizeof(buf));
	if (n == -ENODATA || n == -EOPNOTSUPP)
		return -ENOENT;
	if (n < 0)
		return n;
	return ksmbd_apple_tm_parse_size(buf, n, max_size);
}

static struct ksmbd_apple_tm_cache *tm_cache(struct ksmbd_share_config *share)
{
	struct ksmbd_apple_tm_cache *cache, *new;

	cache = READ_ONCE(share->apple_tm);
	if (cache)
		return cache;
	new = kzalloc_obj(*new, KSMBD_DEFAULT_GFP);
	if (!new)
		return NULL;
	mutex_init(&new->lock);
	cache = cmpxchg(&share->apple_tm, NULL, new);
	if (cache) {
		mutex_destroy(&new->lock);
		kfree(new);
		return cache;
	}
	return new;
}

/**
 * ksmbd_apple_tm_fs_size() - apply a time machine share's size limit
 * @share: the share
 * @sz:    the filesystem's sizes in bytes; on success, the limited sizes
 *         in allocation units
 *
 * The limit and the bundles are read with the server's credentials, not
 * the session user's: what a share reports must not depend on who asks.
 * A query that finds another one counting reports the total that one
 * last found rather than waiting.
 *
 * Return: 0 if the limit applies and @sz was updated, -ENOENT if the
 * share has no limit (the caller reports the filesystem's own sizes),
 * -EIO if a limit is set but cannot be read or the space used cannot be
 * counted, or -ENOMEM
 */
int ksmbd_apple_tm_fs_size(struct ksmbd_share_config *share,
			   struct ksmbd_apple_fs_size *sz)
{
	struct ksmbd_apple_tm_cache *cache;
	u64 max_size, used;
	int rc = -EIO;

	if (!ksmbd_apple_share(share))
		return -ENOENT;
	cache = tm_cache(share);
	if (!cache)
		return -ENOMEM;

	rc = tm_max_size(share, &max_size);
	if (rc == -ENOENT)
		return rc;
	if (rc) {
		/* Once per distinct error, not once per query */
		if (xchg(&cache->limit_err, rc) != rc)
			pr_warn("time machine: share %s: %s is unusable (%d): size queries fail until it is fixed or removed\n",
				share->name, TM_LIMIT_XATTR, rc);
		return -EIO;
	}
	WRITE_ONCE(cache->limit_err, 0);

	if (!mutex_trylock(&cache->lock)) {
		/* Pairs with the release below: @used is set once this is */
		if (smp_load_acquire(&cache->have_used)) {
			used = atomic64_read(&cache->used);
			goto limit;
		}
		if (mutex_lock_killable(&cache->lock))
			return -EIO;
	}
	scoped_with_kernel_creds()
		rc = tm_used(cache, &share->vfs_path, &used);
	if (!rc) {
		atomic64_set(&cache->used, used);
		/* @used before the flag, for queries that do not take the lock */
		smp_store_release(&cache->have_used, true);
	}
	mutex_unlock(&cache->lock);
	if (rc) {
		pr_warn_ratelimited("time machine: share %s: cannot count the space used (%d)\n",
				    share->name, rc);
		return rc == -ENOMEM ? rc : -EIO;
	}
limit:
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
	unsigned int i;

	if (!cache)
		return;
	for (i = 0; i < cache->n; i++)
		kfree(cache->bundle[i].name);
	kvfree(cache->bundle);
	mutex_destroy(&cache->lock);
	kfree(cache);
}

/* ---- F_FULLFSYNC ---- */

/*
 * Sync the directory that holds @filp as the user @filp was opened as
 * (the session's user, or the share's force user) would with open(2) and
 * fsync(2): the directory is opened with @filp's credentials, and only if
 * they may open it for reading (FLUSH runs with the credentials of
 * ksmbd's worker). A directory they may not open, by its mode or by a
 * security module, is not synced: the file's own fsync has made its data
 * durable, and on a journaling filesystem (ext4, XFS, btrfs) its name
 * with it.
 */
static int fullfsync_dir(struct file *filp)
{
	struct path parent = { .mnt = filp->f_path.mnt };
	const struct cred *saved;
	struct file *dir;
	int rc;

	parent.dentry = dget_parent(filp->f_path.dentry);
	saved = override_creds(filp->f_cred);
	rc = inode_permission(mnt_idmap(parent.mnt), d_inode(parent.dentry),
			      MAY_OPEN | MAY_READ);
	revert_creds(saved);
	if (rc) {
		dput(parent.dentry);
		return 0;
	}
	dir = dentry_open(&parent, O_RDONLY | O_DIRECTORY, filp->f_cred);
	dput(parent.dentry);
	if (IS_ERR(dir)) {
		rc = PTR_ERR(dir);
		return rc == -EACCES || rc == -EPERM ? 0 : rc;
	}
	rc = vfs_fsync(dir, 0);
	fput(dir);
	return rc;
}

/**
 * ksmbd_apple_fullfsync() - complete an F_FULLFSYNC flush
 * @fp: the handle, its data (ksmbd_apple_data_file()) already fsynced
 *
 * macOS sends an SMB2 FLUSH with Reserved1 = 0xFFFF for F_FULLFSYNC,
 * which asks that the file be on permanent storage when the call
 * returns; Time Machine relies on it to order its writes. After the
 * ordinary fsync of the file this also syncs the directory that holds it,
 * so that a file created since the last sync (a new band) is found after
 * a crash, if the user the file was opened as may read that directory,
 * and flushes the volatile write cache of the filesystem's block device,
 * which fsync does not do on a filesystem mounted without barriers. The
 * share root, and the root of a mount beneath it (a bind-mounted file or
 * directory on a share with crossmnt), have no directory to sync within
 * the share: their own fsync was all there was to do, and nothing above
 * the share, nor in the tree a bind mount came from, is opened.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_fullfsync(struct ksmbd_file *fp)
{
	struct file *filp = ksmbd_apple_data_file(fp);
	struct super_block *sb = file_inode(filp)->i_sb;
	int rc = 0;

	if (filp->f_path.dentry != fp->share_conf->vfs_path.dentry &&
	    filp->f_path.dentry != filp->f_path.mnt->mnt_root)
		rc = fullfsync_dir(filp);
	if (!rc && sb->s_bdev)
		rc = blkdev_issue_flush(sb->s_bdev);
	return rc;
}
