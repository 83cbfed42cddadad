/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Apple SMB2 extensions ("AAPL" create context) for macOS clients.
 *
 * Everything here compiles to nothing when CONFIG_SMB_SERVER_APPLE is off:
 * callers use the inline helpers and stubs below, never #ifdef.
 */

#ifndef __KSMBD_APPLE_H__
#define __KSMBD_APPLE_H__

#include <linux/string.h>
#include <linux/types.h>

#include "connection.h"
#include "ksmbd_netlink.h"
#include "mgmt/share_config.h"
#include "smb_common.h"
#include "vfs.h"
#include "vfs_cache.h"

struct dentry;
struct file;
struct ksmbd_file;
struct path;
struct smb2_create_req;
struct smb_ntsd;
struct ksmbd_share_config_response;
struct ksmbd_session;
struct ksmbd_work;

/**
 * struct ksmbd_aapl_query - a parsed kAAPL_SERVER_QUERY request
 * @req_bitmap:  fields the client wants in the reply (SERVER_CAPS, ...)
 * @client_caps: the client's capability bits
 */
struct ksmbd_aapl_query {
	u64 req_bitmap;
	u64 client_caps;
};

/**
 * struct ksmbd_aapl_reply - what a kAAPL_SERVER_QUERY reply carries
 * @bitmap:      reply bitmap; each set bit adds its field to the reply
 * @server_caps: server capability bits
 * @volume_caps: volume capability bits
 * @model:       model string (UTF-8, NUL-terminated) for MODEL_INFO
 */
struct ksmbd_aapl_reply {
	u64 bitmap;
	u64 server_caps;
	u64 volume_caps;
	const char *model;
};

/**
 * struct ksmbd_apple_open - AAPL state of one CREATE request
 * @reply: an AAPL reply context is owed in the CREATE response
 * @query: the request it answers
 */
struct ksmbd_apple_open {
	bool reply;
	struct ksmbd_aapl_query query;
};

/**
 * struct ksmbd_apple_fs_size - sizes reported by FS_(FULL_)SIZE_INFORMATION
 * @total:            total size
 * @caller_avail:     space available to the caller
 * @actual_avail:     free space
 * @sectors_per_unit: sectors per allocation unit
 * @bytes_per_sector: bytes per sector
 *
 * The three sizes are in bytes on the way into ksmbd_apple_tm_fs_size()
 * and in allocation units on the way out.
 */
struct ksmbd_apple_fs_size {
	u64 total;
	u64 caller_avail;
	u64 actual_avail;
	u32 sectors_per_unit;
	u32 bytes_per_sector;
};

/* AFP_AfpInfo: the stream, and the FinderInfo in it */
#define KSMBD_AFP_INFO_SIZE		60
#define KSMBD_AFP_FINDER_OFFSET		16
#define KSMBD_FINDER_INFO_SIZE		32

/* AppleDouble entry ids, and where a new "._" file keeps its fork */
#define KSMBD_AD_RSRC			2
#define KSMBD_AD_FINDER_INFO		9
#define KSMBD_AD_RSRC_OFFSET		82
/* The empty resource file macOS writes in a "._" file without a fork */
#define KSMBD_RSRC_BLANK_LEN		286

/**
 * struct ksmbd_apple_adouble - what an AppleDouble header says
 * @has_rsrc:    there is a resource fork entry
 * @rsrc_off:    where the fork starts
 * @rsrc_len:    its length: up to the end of the file
 * @rsrc_len_at: where its entry's length field is
 * @finfo_off:   where FinderInfo is
 * @finfo_len:   its length; 0 if there is none
 * @finfo_len_at: where its entry's length field is
 */
struct ksmbd_apple_adouble {
	bool has_rsrc;
	u32 rsrc_off;
	u64 rsrc_len;
	u32 rsrc_len_at;
	u32 finfo_off;
	u32 finfo_len;
	u32 finfo_len_at;
};

/**
 * struct ksmbd_apple_xattrs - the xattrs macOS packs in a "._" file
 * @fi:     its FinderInfo entry, which holds them after the FinderInfo
 * @fi_len: the entry's length
 * @fi_off: the entry's offset in the file
 * @pos:    where the next xattr's header is in @fi
 * @data_lo: where the first value starts in @fi (@fi_len before any)
 * @data_hi: where the last value ends in @fi
 * @left:   how many xattrs are left
 */
struct ksmbd_apple_xattrs {
	const u8 *fi;
	u32 fi_len;
	u32 fi_off;
	u32 pos;
	u32 data_lo;
	u32 data_hi;
	u16 left;
};

/* The most xattrs taken in from one "._" file; macOS packs a handful */
#define KSMBD_APPLE_XATTRS_MAX		64

/**
 * struct ksmbd_apple_xattr - one xattr packed in a "._" file
 * @name:  its name, NUL-terminated
 * @value: its value
 * @len:   the value's length
 */
struct ksmbd_apple_xattr {
	const char *name;
	const u8 *value;
	u32 len;
};

/**
 * struct ksmbd_apple_rename - a file's resource fork, during its rename
 * @name:     its "._" file's name; NULL if there is nothing to move
 * @replaced: the rename replaces a file, whose "._" file goes with it
 */
struct ksmbd_apple_rename {
	char *name;
	bool replaced;
};

/* READDIR_ATTR negotiated on a connection, or used for an entry */
enum {
	KSMBD_APPLE_RDA_NONE,
	KSMBD_APPLE_RDA_V1,
	KSMBD_APPLE_RDA_V2,
};

/**
 * ksmbd_apple_share() - does @share carry the Apple extensions?
 * @share: share configuration
 *
 * The Apple extensions are enabled per share by ksmbd-tools'
 * "time machine = yes".
 *
 * Return: true if they are, and the kernel was built with them
 */
static inline bool ksmbd_apple_share(struct ksmbd_share_config *share)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) &&
		test_share_config_flag(share, KSMBD_SHARE_FLAG_TIME_MACHINE);
}

#if IS_ENABLED(CONFIG_SMB_SERVER_APPLE)

int ksmbd_apple_stream_open(const struct path *path, struct ksmbd_file *fp,
			    char *stream_name, int s_type);
ssize_t ksmbd_apple_stream_read(struct ksmbd_file *fp, char *buf,
				loff_t *pos, size_t count);
int ksmbd_apple_stream_write(struct ksmbd_file *fp, const char *buf,
			     loff_t *pos, size_t count);
int ksmbd_apple_stream_truncate(struct ksmbd_file *fp, loff_t len);
loff_t ksmbd_apple_stream_size(struct ksmbd_file *fp);
int ksmbd_apple_stream_remove(struct ksmbd_file *fp);
int __ksmbd_apple_stream_overwrite(struct ksmbd_file *fp);
bool ksmbd_apple_stream_listed(struct ksmbd_file *fp, const char *name,
			       loff_t *size, bool *afpinfo);
loff_t ksmbd_apple_streams_extra(struct ksmbd_file *fp, bool *afpinfo);
void __ksmbd_apple_unlink_fork(const struct path *path, struct dentry *dir);
void __ksmbd_apple_rename_start(struct renamedata *rd,
				struct ksmbd_apple_rename *ar);
void __ksmbd_apple_rename_end(struct renamedata *rd,
			      struct ksmbd_apple_rename *ar, int rc);
void ksmbd_apple_dirent_meta(struct ksmbd_share_config *share,
			     const struct path *path,
			     struct ksmbd_apple_dirent *ad);
void ksmbd_apple_dirent_fill(struct ksmbd_work *work, const struct path *path,
			     struct ksmbd_kstat *kst, u8 level);

static inline void ksmbd_apple_dirent_level(struct ksmbd_kstat *kst, u8 level)
{
	kst->apple.level = level;
}

static inline u8 ksmbd_apple_dirent_level_of(const struct ksmbd_kstat *kst)
{
	return kst->apple.level;
}

void ksmbd_apple_dirent_encode(struct file_id_both_directory_info *e,
			       const struct ksmbd_kstat *kst, bool v2);
void ksmbd_apple_afpinfo_init(u8 *blob);
int ksmbd_apple_afpinfo_write(const void *buf, size_t len, loff_t off,
			      u8 *blob);
size_t ksmbd_apple_afpinfo_read_len(loff_t off, size_t count);
bool ksmbd_apple_afpinfo_stored(const u8 *val, ssize_t len);
bool ksmbd_apple_finderinfo_empty(const u8 *blob);
int ksmbd_apple_adouble_parse(const u8 *buf, size_t len, u64 size,
			      struct ksmbd_apple_adouble *ad);
void ksmbd_apple_adouble_init(u8 *buf);
char *ksmbd_apple_sfm_map(const char *name, size_t len, bool to_private);
int ksmbd_apple_xattrs_start(struct ksmbd_apple_xattrs *it, const u8 *fi,
			     u32 fi_len, u32 fi_off);
int ksmbd_apple_xattrs_next(struct ksmbd_apple_xattrs *it,
			    struct ksmbd_apple_xattr *x);
bool ksmbd_apple_rsrc_blank(const u8 *fork, size_t len);
bool ksmbd_apple_adouble_path(const char *path, size_t len);
bool ksmbd_apple_dirent_removable(struct ksmbd_share_config *share,
				  const char *name, int namlen,
				  unsigned int d_type);
void ksmbd_apple_rmdir_orphans(struct ksmbd_share_config *share,
			       const struct path *path);

/**
 * ksmbd_apple_stream() - is @fp an AFP_AfpInfo or AFP_Resource handle?
 * @fp: file handle
 *
 * Return: true if the ksmbd_apple_stream_*() functions serve its I/O
 */
static inline bool ksmbd_apple_stream(struct ksmbd_file *fp)
{
	return fp->apple.kind != KSMBD_APPLE_NONE;
}

/**
 * ksmbd_apple_data_file() - the file that holds the data of @fp
 * @fp: file handle
 *
 * Return: the AppleDouble file of a resource fork handle, else @fp's file
 */
static inline struct file *ksmbd_apple_data_file(struct ksmbd_file *fp)
{
	return fp->apple.rsrc ?: fp->filp;
}

/**
 * ksmbd_apple_stream_close() - release what an Apple stream handle holds
 * @fp: the handle, being freed
 *
 * Inline: every CLOSE of every handle comes here, and only a resource
 * fork's handle holds anything.
 */
static inline void ksmbd_apple_stream_close(struct ksmbd_file *fp)
{
	if (fp->apple.rsrc) {
		fput(fp->apple.rsrc);
		fp->apple.rsrc = NULL;
	}
}

/**
 * ksmbd_apple_stream_overwrites() - does the open of @fp overwrite data?
 * @fp: the handle being opened
 *
 * Inline: every CREATE of every file asks.
 *
 * Return: true if ksmbd_apple_stream_overwrite() will empty an Apple
 * stream: the caller breaks the oplocks and leases of the file's other
 * opens first, as for a truncating open of a file
 */
static inline bool ksmbd_apple_stream_overwrites(struct ksmbd_file *fp)
{
	return fp->apple.overwrite;
}

/**
 * ksmbd_apple_stream_overwrite() - empty an overwritten Apple stream
 * @fp: the handle being opened, its open granted
 *
 * Inline: every CREATE of every file comes here, and only an overwriting
 * open of an Apple stream has anything to do
 * (__ksmbd_apple_stream_overwrite()).
 *
 * Return: 0 or a negative error, which fails the open
 */
static inline int ksmbd_apple_stream_overwrite(struct ksmbd_file *fp)
{
	if (!fp->apple.overwrite)
		return 0;
	return __ksmbd_apple_stream_overwrite(fp);
}

/**
 * ksmbd_apple_unlink_fork() - remove the resource fork of a file unlinked
 * @share: the share of the file, or NULL
 * @path:  the file, just unlinked by the caller
 * @dir:   its directory, locked by the caller since before the unlink
 *
 * Inline: every unlink comes here, and only one on a share with the Apple
 * extensions has a fork to remove (__ksmbd_apple_unlink_fork()).
 */
static inline void ksmbd_apple_unlink_fork(struct ksmbd_share_config *share,
					   const struct path *path,
					   struct dentry *dir)
{
	if (share && ksmbd_apple_share(share))
		__ksmbd_apple_unlink_fork(path, dir);
}

/**
 * ksmbd_apple_rename_start() - note the resource fork of a file renamed
 * @share: the share of the file
 * @rd:    the rename, its directories locked and its dentries looked up
 * @ar:    filled in; pass to ksmbd_apple_rename_end()
 *
 * Inline: every rename comes here, and only one on a share with the Apple
 * extensions may move a fork (__ksmbd_apple_rename_start()).
 */
static inline void ksmbd_apple_rename_start(struct ksmbd_share_config *share,
					    struct renamedata *rd,
					    struct ksmbd_apple_rename *ar)
{
	ar->name = NULL;
	if (ksmbd_apple_share(share))
		__ksmbd_apple_rename_start(rd, ar);
}

/**
 * ksmbd_apple_rename_end() - move a renamed file's resource fork with it
 * @rd: the rename, its directories still locked
 * @ar: from ksmbd_apple_rename_start()
 * @rc: result of the rename
 *
 * Inline: only a rename that ksmbd_apple_rename_start() found a fork's
 * name for has anything to do (__ksmbd_apple_rename_end()).
 */
static inline void ksmbd_apple_rename_end(struct renamedata *rd,
					  struct ksmbd_apple_rename *ar, int rc)
{
	if (ar->name)
		__ksmbd_apple_rename_end(rd, ar, rc);
}

int ksmbd_apple_parse_create(struct ksmbd_work *work,
			     struct ksmbd_share_config *share,
			     struct smb2_create_req *req,
			     struct ksmbd_apple_open *ao);
unsigned int __ksmbd_apple_create_rsp(struct ksmbd_work *work,
				      struct ksmbd_share_config *share,
				      struct ksmbd_apple_open *ao, char *buf);

/**
 * ksmbd_apple_create_rsp() - append the AAPL reply to a CREATE response
 * @work:  the CREATE, on its connection and session
 * @share: share of the tree connection
 * @ao:    per-CREATE AAPL state from ksmbd_apple_parse_create()
 * @buf:   where the create context goes, AAPL_RSP_MAX_SIZE bytes
 *
 * Inline: every CREATE asks, and only one that carried an AAPL query is
 * owed a reply (__ksmbd_apple_create_rsp() writes it).
 *
 * Return: the size of the context written, 0 if none is owed
 */
static inline unsigned int
ksmbd_apple_create_rsp(struct ksmbd_work *work,
		       struct ksmbd_share_config *share,
		       struct ksmbd_apple_open *ao, char *buf)
{
	if (!ao->reply)
		return 0;
	return __ksmbd_apple_create_rsp(work, share, ao, buf);
}

void ksmbd_apple_channel_joined(struct ksmbd_session *sess,
				struct ksmbd_conn *conn);
void ksmbd_apple_set_model(const char *model, size_t size);
int ksmbd_apple_nfs_aces_add(struct smb_ntsd *sd, unsigned int *len,
			     size_t room, umode_t mode, u32 uid, u32 gid);
int ksmbd_apple_nfs_aces_take(struct smb_ntsd *sd, unsigned int *len,
			      umode_t *mode);
int ksmbd_apple_nfs_set_mode(const struct path *path, umode_t mode);
int ksmbd_apple_nfs_set_attrs(const struct path *path, struct smb_ntsd *sd,
			      unsigned int len, int take, umode_t mode);
int ksmbd_apple_tm_fs_size(struct ksmbd_share_config *share,
			   struct ksmbd_apple_fs_size *sz);
void ksmbd_apple_tm_free(struct ksmbd_share_config *share);
int ksmbd_apple_fullfsync(struct ksmbd_file *fp);
int ksmbd_apple_copyfile(struct ksmbd_file *src, struct ksmbd_file *dst);
void ksmbd_apple_stream_wire_name(struct ksmbd_file *fp, char **name);
void ksmbd_apple_convert(struct ksmbd_file *fp);
ssize_t ksmbd_apple_stream_native(const struct path *path,
				  struct ksmbd_file *fp, ssize_t rc);

/**
 * ksmbd_apple_share_init() - take a share's Apple settings from ksmbd.mountd
 * @share: the new share
 * @resp:  ksmbd.mountd's share configuration
 */
static inline void
ksmbd_apple_share_init(struct ksmbd_share_config *share,
		       const struct ksmbd_share_config_response *resp)
{
	share->time_machine_max_size = resp->time_machine_max_size;
}

/**
 * ksmbd_apple_inode_init() - set up the Apple state of a new ksmbd_inode
 * @ci: the inode
 */
static inline void ksmbd_apple_inode_init(struct ksmbd_inode *ci)
{
	mutex_init(&ci->m_apple_lock);
}

/**
 * ksmbd_apple_share_free() - free a share's Apple state
 * @share: the share, being freed
 */
static inline void ksmbd_apple_share_free(struct ksmbd_share_config *share)
{
	ksmbd_apple_tm_free(share);
}

#else

static inline void ksmbd_apple_inode_init(struct ksmbd_inode *ci)
{
}

static inline int ksmbd_apple_stream_open(const struct path *path,
					  struct ksmbd_file *fp,
					  char *stream_name, int s_type)
{
	return 1;
}

static inline bool ksmbd_apple_stream(struct ksmbd_file *fp)
{
	return false;
}

static inline struct file *ksmbd_apple_data_file(struct ksmbd_file *fp)
{
	return fp->filp;
}

static inline ssize_t ksmbd_apple_stream_read(struct ksmbd_file *fp,
					      char *buf, loff_t *pos,
					      size_t count)
{
	return -EINVAL;
}

static inline int ksmbd_apple_stream_write(struct ksmbd_file *fp,
					   const char *buf, loff_t *pos,
					   size_t count)
{
	return -EINVAL;
}

static inline int ksmbd_apple_stream_truncate(struct ksmbd_file *fp,
					      loff_t len)
{
	return -EINVAL;
}

static inline loff_t ksmbd_apple_stream_size(struct ksmbd_file *fp)
{
	return 0;
}

static inline int ksmbd_apple_stream_remove(struct ksmbd_file *fp)
{
	return 0;
}

static inline void ksmbd_apple_stream_close(struct ksmbd_file *fp)
{
}

static inline bool ksmbd_apple_stream_overwrites(struct ksmbd_file *fp)
{
	return false;
}

static inline int ksmbd_apple_stream_overwrite(struct ksmbd_file *fp)
{
	return 0;
}

static inline bool ksmbd_apple_stream_listed(struct ksmbd_file *fp,
					     const char *name, loff_t *size,
					     bool *afpinfo)
{
	return true;
}

static inline loff_t ksmbd_apple_streams_extra(struct ksmbd_file *fp,
					       bool *afpinfo)
{
	*afpinfo = false;
	return 0;
}

static inline void ksmbd_apple_unlink_fork(struct ksmbd_share_config *share,
					   const struct path *path,
					   struct dentry *dir)
{
}

static inline bool ksmbd_apple_dirent_removable(struct ksmbd_share_config *share,
						const char *name, int namlen,
						unsigned int d_type)
{
	return false;
}

static inline void ksmbd_apple_rmdir_orphans(struct ksmbd_share_config *share,
					     const struct path *path)
{
}

static inline void ksmbd_apple_dirent_fill(struct ksmbd_work *work,
					   const struct path *path,
					   struct ksmbd_kstat *kst, u8 level)
{
}

static inline void ksmbd_apple_dirent_level(struct ksmbd_kstat *kst, u8 level)
{
}

static inline u8 ksmbd_apple_dirent_level_of(const struct ksmbd_kstat *kst)
{
	return 0;
}

static inline void
ksmbd_apple_dirent_encode(struct file_id_both_directory_info *e,
			  const struct ksmbd_kstat *kst, bool v2)
{
}

static inline void ksmbd_apple_rename_start(struct ksmbd_share_config *share,
					    struct renamedata *rd,
					    struct ksmbd_apple_rename *ar)
{
}

static inline void ksmbd_apple_rename_end(struct renamedata *rd,
					  struct ksmbd_apple_rename *ar,
					  int rc)
{
}

static inline int ksmbd_apple_parse_create(struct ksmbd_work *work,
					   struct ksmbd_share_config *share,
					   struct smb2_create_req *req,
					   struct ksmbd_apple_open *ao)
{
	return 0;
}

static inline unsigned int ksmbd_apple_create_rsp(struct ksmbd_work *work,
						  struct ksmbd_share_config *share,
						  struct ksmbd_apple_open *ao,
						  char *buf)
{
	return 0;
}

static inline void ksmbd_apple_channel_joined(struct ksmbd_session *sess,
					      struct ksmbd_conn *conn)
{
}

static inline void ksmbd_apple_set_model(const char *model, size_t size)
{
}

static inline int ksmbd_apple_nfs_aces_add(struct smb_ntsd *sd,
					   unsigned int *len, size_t room,
					   umode_t mode, u32 uid, u32 gid)
{
	return 0;
}

static inline int ksmbd_apple_nfs_aces_take(struct smb_ntsd *sd,
					    unsigned int *len, umode_t *mode)
{
	return 0;
}

static inline int ksmbd_apple_nfs_set_mode(const struct path *path,
					   umode_t mode)
{
	return 0;
}

static inline int ksmbd_apple_nfs_set_attrs(const struct path *path,
					    struct smb_ntsd *sd,
					    unsigned int len, int take,
					    umode_t mode)
{
	return 0;
}

static inline int ksmbd_apple_tm_fs_size(struct ksmbd_share_config *share,
					 struct ksmbd_apple_fs_size *sz)
{
	return -ENOENT;
}

static inline int ksmbd_apple_fullfsync(struct ksmbd_file *fp)
{
	return 0;
}

static inline int ksmbd_apple_copyfile(struct ksmbd_file *src,
				       struct ksmbd_file *dst)
{
	return 0;
}

static inline void ksmbd_apple_stream_wire_name(struct ksmbd_file *fp,
						char **name)
{
}

static inline void ksmbd_apple_convert(struct ksmbd_file *fp)
{
}

static inline ssize_t ksmbd_apple_stream_native(const struct path *path,
						struct ksmbd_file *fp,
						ssize_t rc)
{
	return rc;
}

static inline void
ksmbd_apple_share_init(struct ksmbd_share_config *share,
		       const struct ksmbd_share_config_response *resp)
{
}

static inline void ksmbd_apple_share_free(struct ksmbd_share_config *share)
{
}

#endif /* CONFIG_SMB_SERVER_APPLE */

bool ksmbd_apple_adouble_vetoed(struct ksmbd_share_config *share,
				const char *name, size_t len);

/**
 * ksmbd_apple_vetoed() - is a name a "._" file no client of a share sees?
 * @share: the share
 * @name:  a path beneath its root, or the name of a directory entry, not
 *         necessarily NUL-terminated
 * @len:   its length
 *
 * Asked for every directory entry listed, and through
 * ksmbd_apple_vetoed_path() for every CREATE, rename and hard link: a
 * share without the Apple extensions answers here, before anything of
 * @name is read (see ksmbd_apple_adouble_vetoed()).
 *
 * Return: true if @name is refused
 */
static inline bool ksmbd_apple_vetoed(struct ksmbd_share_config *share,
				      const char *name, size_t len)
{
	return ksmbd_apple_share(share) &&
		ksmbd_apple_adouble_vetoed(share, name, len);
}

/**
 * ksmbd_apple_vetoed_path() - is a path one no client of a share sees?
 * @share: the share
 * @path:  a NUL-terminated path beneath its root
 *
 * ksmbd_apple_vetoed() of @path, whose length is measured only on a share
 * with the Apple extensions.
 *
 * Return: true if @path is refused
 */
static inline bool ksmbd_apple_vetoed_path(struct ksmbd_share_config *share,
					   const char *path)
{
	return ksmbd_apple_share(share) &&
		ksmbd_apple_adouble_vetoed(share, path, strlen(path));
}

/**
 * ksmbd_conn_is_aapl() - has the client on @conn negotiated AAPL?
 * @conn: connection
 *
 * Return: true once a well-formed AAPL server query was seen on @conn
 */
static inline bool ksmbd_conn_is_aapl(struct ksmbd_conn *conn)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) && READ_ONCE(conn->is_aapl);
}

/**
 * ksmbd_apple_file_id() - the file id a client is given for an inode
 * @conn: connection
 * @ino:  inode number
 *
 * Apple clients take file ids for HFS+ catalog node ids, which are never
 * reused and unique on the volume; inode numbers are neither (inodes are
 * reused, and a share may span btrfs subvolumes). Given 0, the macOS
 * client stops trusting file ids and identifies files by name. Every file
 * id an Apple client sees is 0: in directory listings, in the QFid create
 * context and in FileInternalInformation and FileAllInformation.
 *
 * Return: 0 for a connection that negotiated AAPL, else @ino
 */
static inline u64 ksmbd_apple_file_id(struct ksmbd_conn *conn, u64 ino)
{
	return ksmbd_conn_is_aapl(conn) ? 0 : ino;
}

/**
 * ksmbd_conn_readdir_attr() - does @conn get enriched directory entries?
 * @conn: connection
 *
 * A CREATE on another request of @conn may set it at any time: a listing
 * reads it once per entry, and that entry is filled and encoded by what
 * it read (see ksmbd_apple_dirent()).
 *
 * Return: KSMBD_APPLE_RDA_V1 or _V2 once READDIR_ATTR was negotiated on
 * @conn, else KSMBD_APPLE_RDA_NONE
 */
static inline u8 ksmbd_conn_readdir_attr(struct ksmbd_conn *conn)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) ?
		READ_ONCE(conn->aapl_readdir_attr) : KSMBD_APPLE_RDA_NONE;
}

/**
 * ksmbd_apple_dirent() - read the Apple fields of a directory entry
 * @work:       the QUERY_DIRECTORY request
 * @info_level: its information class
 * @path:       the entry
 * @kst:        its attributes, to which the Apple fields are added
 *
 * Only FileIdBothDirectoryInformation entries for a client that
 * negotiated READDIR_ATTR carry them; ksmbd_apple_dirent_encode() writes
 * them.
 */
static inline void ksmbd_apple_dirent(struct ksmbd_work *work, int info_level,
				      const struct path *path,
				      struct ksmbd_kstat *kst)
{
	u8 level = ksmbd_conn_readdir_attr(work->conn);

	if (level && info_level == FILEID_BOTH_DIRECTORY_INFORMATION)
		ksmbd_apple_dirent_fill(work, path, kst, level);
	else
		ksmbd_apple_dirent_level(kst, KSMBD_APPLE_RDA_NONE);
}

/**
 * ksmbd_apple_dirent_put() - write the Apple fields of an entry filled so
 * @e:   a FileIdBothDirectoryInformation entry being encoded
 * @kst: its attributes, given to ksmbd_apple_dirent() first
 */
static inline void ksmbd_apple_dirent_put(struct file_id_both_directory_info *e,
					  const struct ksmbd_kstat *kst)
{
	if (IS_ENABLED(CONFIG_SMB_SERVER_APPLE) &&
	    ksmbd_apple_dirent_level_of(kst))
		ksmbd_apple_dirent_encode(e, kst, ksmbd_apple_dirent_level_of(kst) ==
					  KSMBD_APPLE_RDA_V2);
}

/**
 * ksmbd_apple_no_empty_streams() - are empty streams absent for @fp?
 * @fp: a stream handle being opened
 *
 * To a client that negotiated AAPL on a share with the Apple extensions,
 * a named stream without data does not exist, as on macOS: opening it
 * fails with STATUS_OBJECT_NAME_NOT_FOUND and listings leave it out.
 *
 * Return: true if they are
 */
static inline bool ksmbd_apple_no_empty_streams(struct ksmbd_file *fp)
{
	return ksmbd_conn_is_aapl(fp->conn) && ksmbd_apple_share(fp->share_conf);
}

/**
 * ksmbd_apple_nfs_aces() - do security descriptors on @share carry NFS ACEs?
 * @conn:  connection
 * @share: share of the tree connection
 *
 * A client that negotiated AAPL on a share with the Apple extensions reads
 * and sets the UNIX mode, uid and gid as S-1-5-88 ACEs
 * (kAAPL_SUPPORTS_NFS_ACE).
 *
 * Return: true if it does
 */
static inline bool ksmbd_apple_nfs_aces(struct ksmbd_conn *conn,
					struct ksmbd_share_config *share)
{
	return ksmbd_conn_is_aapl(conn) && ksmbd_apple_share(share);
}

/**
 * ksmbd_apple_posix_opens() - do opens on @share follow POSIX renames?
 * @conn:  connection
 * @share: share of the tree connection
 *
 * macOS expects its server to rename a folder while files in it are open,
 * as its own filesystems do: the opens of a client that negotiated AAPL on
 * a share with the Apple extensions do not hold up the rename of a
 * directory above them through another open of the same session
 * (ksmbd_fp_posix_child()), nor the rename of another file over them
 * (ksmbd_fp_posix()). Opens of other sessions still hold up a directory
 * rename.
 *
 * Return: true if they do
 */
static inline bool ksmbd_apple_posix_opens(struct ksmbd_conn *conn,
					   struct ksmbd_share_config *share)
{
	return ksmbd_conn_is_aapl(conn) && ksmbd_apple_share(share);
}

/**
 * ksmbd_apple_fullfsync_req() - is this SMB2 FLUSH an F_FULLFSYNC?
 * @conn:      connection
 * @share:     share of the tree connection
 * @reserved1: the FLUSH request's Reserved1 field
 *
 * macOS marks the FLUSH of an F_FULLFSYNC with Reserved1 = 0xFFFF, on a
 * volume whose AAPL volume capabilities include FULL_SYNC, which ksmbd
 * advertises on the shares with the Apple extensions.
 *
 * Return: true if the flush must be a full one
 */
static inline bool ksmbd_apple_fullfsync_req(struct ksmbd_conn *conn,
					     struct ksmbd_share_config *share,
					     __le16 reserved1)
{
	return reserved1 == cpu_to_le16(0xFFFF) &&
		ksmbd_conn_is_aapl(conn) && ksmbd_apple_share(share);
}

/* ksmbd_apple_nfs_aces_take(): a mode was found */
#define KSMBD_APPLE_NFS_MODE		1
/* ksmbd_apple_nfs_aces_take(): the DACL held only NFS ACEs, ACLs kept */
#define KSMBD_APPLE_NFS_KEEP_ACL	2

/* Room the three NFS ACEs take in a DACL: ACE header, SID, 3 sub-authorities */
#define KSMBD_APPLE_NFS_ACES_SIZE	(3 * (8 + 8 + 3 * 4))

#if IS_ENABLED(CONFIG_KUNIT)
int ksmbd_aapl_find_query(struct smb2_create_req *req,
			  struct ksmbd_aapl_query *query);
int ksmbd_aapl_parse_query(const void *data, unsigned int len,
			   struct ksmbd_aapl_query *query);
void ksmbd_aapl_negotiate(const struct ksmbd_aapl_query *query,
			  bool full_sync, const char *model,
			  struct ksmbd_aapl_reply *reply);
unsigned int ksmbd_aapl_build_rsp(char *buf,
				  const struct ksmbd_aapl_reply *reply);
int ksmbd_aapl_model_len(const char *model, size_t size);
int ksmbd_apple_plist_u64(const char *buf, size_t len, const char *key,
			  u64 *val);
int ksmbd_apple_tm_parse_size(const char *buf, size_t len, u64 *size);
u64 ksmbd_apple_tm_bundle_used(u64 band_size, u64 nbands, u64 occupied);
void ksmbd_apple_tm_limit(struct ksmbd_apple_fs_size *sz, u64 max_size,
			  u64 used);
#endif

#endif /* __KSMBD_APPLE_H__ */
