// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Apple Finder metadata formats: the 60-byte AFP_AfpInfo stream, the
 * AppleDouble header that holds a resource fork ("._" files) or netatalk's
 * metadata (the "org.netatalk.Metadata" xattr), and the characters macOS
 * sends in place of those NTFS does not allow in names.
 *
 * Everything here works on buffers only; apple_fork.c does the I/O.
 */

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "apple.h"

#define AFP_SIGNATURE		0x41465000	/* "AFP\0" */
#define AFP_VERSION		0x00000100
#define AFP_BACKUP_NEVER	0x80000000

#define AD_MAGIC		0x00051607
#define AD_VERSION		0x00020000
#define AD_HEADER_SIZE		26
#define AD_ENTRY_SIZE		12
#define AD_MAX_ENTRIES		64

/* macOS's xattr header, behind the FinderInfo and two bytes of padding */
#define AD_ATTR_MAGIC		0x41545452	/* "ATTR" */
#define AD_ATTR_HEADER_AT	34
#define AD_ATTR_HEADER_SIZE	36
#define AD_ATTR_ENTRY_SIZE	11

/* Smallest write that stores anything; shorter ones only look valid */
#define AFP_INFO_MIN_STORED	17

/**
 * ksmbd_apple_afpinfo_init() - the AFP_AfpInfo of a file without Finder data
 * @blob: KSMBD_AFP_INFO_SIZE bytes to fill
 *
 * Signature, version, backup time "never" and an all-zero FinderInfo: what
 * a client reads from an AFP_AfpInfo it created but has not written.
 */
void ksmbd_apple_afpinfo_init(u8 *blob)
{
	memset(blob, 0, KSMBD_AFP_INFO_SIZE);
	put_unaligned_be32(AFP_SIGNATURE, blob);
	put_unaligned_be32(AFP_VERSION, blob + 4);
	put_unaligned_be32(AFP_BACKUP_NEVER, blob + 12);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_afpinfo_init);

/**
 * ksmbd_apple_afpinfo_write() - validate a write to AFP_AfpInfo
 * @buf:  the data written
 * @len:  its length
 * @off:  the offset it is written at
 * @blob: KSMBD_AFP_INFO_SIZE bytes, the stream to store on return 1
 *
 * The rules of the macOS SMB server: at least 3 bytes, beginning with
 * "AFP"; at an offset other than 0 at least the whole 60 bytes. Up to 16
 * bytes are accepted and dropped. Longer writes always replace the whole
 * stream from offset 0 with the first 60 bytes (zero-filled if shorter),
 * whose signature and version must be right. The client is told that
 * @len bytes were written in every accepted case.
 *
 * Return: 1 to store @blob, 0 to accept the write and store nothing,
 * -EINVAL to refuse it
 */
int ksmbd_apple_afpinfo_write(const void *buf, size_t len, loff_t off,
			      u8 *blob)
{
	if (len < 3 || (off && len < KSMBD_AFP_INFO_SIZE))
		return -EINVAL;
	if (memcmp(buf, "AFP", 3))
		return -EINVAL;
	if (len < AFP_INFO_MIN_STORED)
		return 0;
	memset(blob, 0, KSMBD_AFP_INFO_SIZE);
	memcpy(blob, buf, min_t(size_t, len, KSMBD_AFP_INFO_SIZE));
	if (get_unaligned_be32(blob) != AFP_SIGNATURE ||
	    get_unaligned_be32(blob + 4) != AFP_VERSION)
		return -EINVAL;
	return 1;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_afpinfo_write);

/**
 * ksmbd_apple_afpinfo_read_len() - bytes a read of AFP_AfpInfo returns
 * @off:   read offset
 * @count: bytes asked for
 *
 * Any offset up to 60 reads from the start of the stream (macOS's server
 * does, and its client relies on it); beyond that is end of file.
 *
 * Return: the number of bytes to return from offset 0
 */
size_t ksmbd_apple_afpinfo_read_len(loff_t off, size_t count)
{
	if (off < 0 || off > KSMBD_AFP_INFO_SIZE)
		return 0;
	return min_t(size_t, count, KSMBD_AFP_INFO_SIZE);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_afpinfo_read_len);

/**
 * ksmbd_apple_afpinfo_stored() - is a stored AFP_AfpInfo value valid?
 * @val: the value
 * @len: its length
 *
 * 60 bytes as ksmbd stores it, or 61 ending in NUL as Samba's
 * streams_xattr stores it. Anything else is not an AFP_AfpInfo and is
 * hidden from clients.
 *
 * Return: true if @val holds a stream
 */
bool ksmbd_apple_afpinfo_stored(const u8 *val, ssize_t len)
{
	return len == KSMBD_AFP_INFO_SIZE ||
		(len == KSMBD_AFP_INFO_SIZE + 1 && !val[KSMBD_AFP_INFO_SIZE]);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_afpinfo_stored);

/**
 * ksmbd_apple_finderinfo_empty() - does an AFP_AfpInfo carry no Finder data?
 * @blob: KSMBD_AFP_INFO_SIZE bytes
 *
 * Writing an all-zero FinderInfo is how clients delete AFP_AfpInfo.
 *
 * Return: true if the 32 bytes of FinderInfo are all zero
 */
bool ksmbd_apple_finderinfo_empty(const u8 *blob)
{
	return !memchr_inv(blob + KSMBD_AFP_FINDER_OFFSET, 0,
			   KSMBD_FINDER_INFO_SIZE);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_finderinfo_empty);

/**
 * ksmbd_apple_adouble_parse() - parse an AppleDouble header
 * @buf:  the first bytes of the file or xattr
 * @len:  how many bytes @buf holds
 * @size: the size of the whole file or xattr (at least @len)
 * @ad:   the entries found
 *
 * Accepts version 2 AppleDouble as macOS, netatalk and Samba write it:
 * "._" files with a FinderInfo and a resource fork entry, and netatalk's
 * metadata xattr. Every entry must lie inside @size and behind the entry
 * table; FinderInfo must hold at least 32 bytes. The resource fork must
 * come last, because it grows; a fork entry that runs past the end of the
 * file is cut at the end (as after a crash while the fork was being
 * truncated), and a fork always runs to the end of the file. Unknown
 * entries are skipped.
 *
 * Return: 0, or -EINVAL if @buf is not such a header
 */
int ksmbd_apple_adouble_parse(const u8 *buf, size_t len, u64 size,
			      struct ksmbd_apple_adouble *ad)
{
	u32 n, i, table_end;
	u64 others_end = 0;

	memset(ad, 0, sizeof(*ad));
	if (len > size || len < AD_HEADER_SIZE ||
	    get_unaligned_be32(buf) != AD_MAGIC ||
	    get_unaligned_be32(buf + 4) != AD_VERSION)
		return -EINVAL;

	n = get_unaligned_be16(buf + 24);
	if (n > AD_MAX_ENTRIES)
		return -EINVAL;
	table_end = AD_HEADER_SIZE + n * AD_ENTRY_SIZE;
	if (table_end > len)
		return -EINVAL;

	for (i = 0; i < n; i++) {
		const u8 *e = buf + AD_HEADER_SIZE + i * AD_ENTRY_SIZE;
		u32 id = get_unaligned_be32(e);
		u32 off = get_unaligned_be32(e + 4);
		u64 elen = get_unaligned_be32(e + 8);

		if (id != KSMBD_AD_RSRC && !elen)
			continue;
		if (off < table_end || off > size)
			return -EINVAL;
		/* A fork runs to the end of the file, whatever its entry says */
		if (id != KSMBD_AD_RSRC && off + elen > size)
			return -EINVAL;

		switch (id) {
		case KSMBD_AD_RSRC:
			if (ad->has_rsrc)
				return -EINVAL;
			ad->has_rsrc = true;
			ad->rsrc_off = off;
			ad->rsrc_len = size - off;
			ad->rsrc_len_at = AD_HEADER_SIZE + i * AD_ENTRY_SIZE + 8;
			break;
		case KSMBD_AD_FINDER_INFO:
			if (ad->finfo_len || elen < KSMBD_FINDER_INFO_SIZE)
				return -EINVAL;
			ad->finfo_off = off;
			ad->finfo_len = elen;
			ad->finfo_len_at = AD_HEADER_SIZE + i * AD_ENTRY_SIZE + 8;
			fallthrough;
		default:
			others_end = max(others_end, off + elen);
			break;
		}
	}

	/* Nothing may lie behind the fork: writes to it would overwrite it */
	if (ad->has_rsrc && others_end > ad->rsrc_off)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_adouble_parse);

/**
 * ksmbd_apple_adouble_init() - the header of a new "._" file
 * @buf: KSMBD_AD_RSRC_OFFSET bytes to fill
 *
 * The layout Samba's vfs_fruit writes: a 32-byte FinderInfo entry at 50
 * and an empty resource fork at 82, the end of the header.
 */
void ksmbd_apple_adouble_init(u8 *buf)
{
	u8 *e = buf + AD_HEADER_SIZE;

	memset(buf, 0, KSMBD_AD_RSRC_OFFSET);
	put_unaligned_be32(AD_MAGIC, buf);
	put_unaligned_be32(AD_VERSION, buf + 4);
	memcpy(buf + 8, "Netatalk        ", 16);
	put_unaligned_be16(2, buf + 24);
	put_unaligned_be32(KSMBD_AD_FINDER_INFO, e);
	put_unaligned_be32(AD_HEADER_SIZE + 2 * AD_ENTRY_SIZE, e + 4);
	put_unaligned_be32(KSMBD_FINDER_INFO_SIZE, e + 8);
	e += AD_ENTRY_SIZE;
	put_unaligned_be32(KSMBD_AD_RSRC, e);
	put_unaligned_be32(KSMBD_AD_RSRC_OFFSET, e + 4);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_adouble_init);

/* Characters mapped to U+F020.. by macOS, after the controls at U+F001.. */
static const char sfm_chars[] = "\"*:<>?\\|";

/* The code point U+F000 + the result stands for @c, 0 if it is not mapped */
static unsigned int sfm_code(unsigned char c)
{
	const char *p;

	if (c >= 0x01 && c <= 0x1f)
		return c;
	p = c ? strchr(sfm_chars, c) : NULL;
	return p ? 0x20 + (p - sfm_chars) : 0;
}

/**
 * ksmbd_apple_sfm_map() - map a name between macOS and the filesystem
 * @name:       NUL-terminated name
 * @len:        how many bytes of @name to map; the rest is kept as is
 * @to_private: the direction
 *
 * macOS sends the characters NTFS does not allow in names (controls,
 * " * : < > ? \ |) as the private-use code points U+F001 to U+F027
 * (Services for Macintosh). A stream whose name has such a character
 * becomes an xattr whose name has the UTF-8 form of the code point. With
 * @to_private, the characters are mapped to those code points (for a
 * client, from a name written on the server itself, such as an xattr
 * "com.apple.metadata:_kMDItemUserTags"); without it, the code points are
 * mapped back to the characters. Other bytes are copied.
 *
 * Return: the mapped name, to be freed with kfree(); NULL if nothing in
 * @name is mapped; ERR_PTR(-ENOMEM)
 */
char *ksmbd_apple_sfm_map(const char *name, size_t len, bool to_private)
{
	size_t total = strlen(name), i = 0, n = 0;
	bool mapped = false;
	unsigned int code;
	u8 *out;

	len = min(len, total);
	out = kmalloc(3 * len + total - len + 1, KSMBD_DEFAULT_GFP);
	if (!out)
		return ERR_PTR(-ENOMEM);
	while (i < len) {
		const u8 *p = (const u8 *)name + i;

		code = to_private ? sfm_code(*p) : 0;
		if (code) {
			out[n++] = 0xef;
			out[n++] = 0x80;
			out[n++] = 0x80 + code;
			i++;
			mapped = true;
		} else if (!to_private && len - i >= 3 && p[0] == 0xef &&
			   p[1] == 0x80 && p[2] > 0x80 &&
			   p[2] < 0xa0 + sizeof(sfm_chars) - 1) {
			out[n++] = p[2] < 0xa0 ? p[2] - 0x80 :
						 sfm_chars[p[2] - 0xa0];
			i += 3;
			mapped = true;
		} else {
			out[n++] = *p;
			i++;
		}
	}
	if (!mapped) {
		kfree(out);
		return NULL;
	}
	memcpy(out + n, name + len, total - len + 1);
	return (char *)out;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_sfm_map);

/**
 * ksmbd_apple_xattrs_start() - find the xattrs macOS packed in a "._" file
 * @it:     iterator to set up for ksmbd_apple_xattrs_next()
 * @fi:     the file's FinderInfo entry
 * @fi_len: the entry's length
 * @fi_off: the entry's offset in the file
 *
 * macOS writes a file's xattrs into its "._" file, on a server that does
 * not take them as streams: behind the 32 bytes of FinderInfo and two of
 * padding comes an "ATTR" header (magic, debug tag, total size, data
 * start, data length, 12 reserved bytes, flags and the number of xattrs,
 * big-endian), then one header per xattr.
 *
 * Return: 0, -ENOENT if the entry holds no such header, or -E2BIG if it
 * announces more than KSMBD_APPLE_XATTRS_MAX xattrs (the work a "._"
 * file, which any client can write, may cause is bounded)
 */
int ksmbd_apple_xattrs_start(struct ksmbd_apple_xattrs *it, const u8 *fi,
			     u32 fi_len, u32 fi_off)
{
	const u8 *h = fi + AD_ATTR_HEADER_AT;

	memset(it, 0, sizeof(*it));
	if (fi_len < AD_ATTR_HEADER_AT + AD_ATTR_HEADER_SIZE ||
	    get_unaligned_be32(h) != AD_ATTR_MAGIC)
		return -ENOENT;
	if (get_unaligned_be16(h + 34) > KSMBD_APPLE_XATTRS_MAX)
		return -E2BIG;
	it->fi = fi;
	it->fi_len = fi_len;
	it->fi_off = fi_off;
	it->pos = AD_ATTR_HEADER_AT + AD_ATTR_HEADER_SIZE;
	it->data_lo = fi_len;
	it->left = get_unaligned_be16(h + 34);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_xattrs_start);

/**
 * ksmbd_apple_xattrs_next() - the next xattr packed in a "._" file
 * @it: iterator from ksmbd_apple_xattrs_start()
 * @x:  the xattr found
 *
 * Each xattr header is the value's offset in the file and its length
 * (big-endian), two bytes of flags, the name's length with its NUL, and
 * the name, padded to four bytes from the start of the file. The name must
 * be a non-empty string that fills its length, and the value must lie in
 * the FinderInfo entry, behind every header and behind the value before
 * it, as macOS lays them out: no value overlaps another or a header, so
 * that the values taken in are never more than the entry.
 *
 * Return: 1 with @x set, 0 when there are no more, -EINVAL if the header
 * or the xattr is malformed (the iteration stops there)
 */
int ksmbd_apple_xattrs_next(struct ksmbd_apple_xattrs *it,
			    struct ksmbd_apple_xattr *x)
{
	const u8 *e;
	u32 off, len, name_len, next;

	if (!it->left)
		return 0;
	it->left--;
	if (it->pos > it->fi_len ||
	    it->fi_len - it->pos < AD_ATTR_ENTRY_SIZE)
		goto bad;
	e = it->fi + it->pos;
	off = get_unaligned_be32(e);
	len = get_unaligned_be32(e + 4);
	name_len = e[10];
	if (name_len < 2 ||
	    it->fi_len - it->pos - AD_ATTR_ENTRY_SIZE < name_len ||
	    strnlen(e + AD_ATTR_ENTRY_SIZE, name_len) != name_len - 1)
		goto bad;
	/* Headers are aligned to four bytes from the start of the file */
	next = ALIGN((u64)it->fi_off + it->pos + AD_ATTR_ENTRY_SIZE + name_len,
		     4) - it->fi_off;

	/* The header: before every value */
	if (next > it->data_lo)
		goto bad;
	/* The value: in the entry, behind this header and the last value */
	if (off < it->fi_off || off - it->fi_off < next ||
	    off - it->fi_off < it->data_hi ||
	    off - it->fi_off > it->fi_len ||
	    len > it->fi_len - (off - it->fi_off))
		goto bad;

	x->name = (const char *)e + AD_ATTR_ENTRY_SIZE;
	x->value = it->fi + (off - it->fi_off);
	x->len = len;
	it->pos = next;
	it->data_lo = min(it->data_lo, off - it->fi_off);
	it->data_hi = off - it->fi_off + len;
	return 1;
bad:
	it->left = 0;
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_xattrs_next);

/* Where the map of the empty resource file is, and its note */
#define RSRC_BLANK_MAP		256
#define RSRC_BLANK_NOTE		"This resource fork intentionally left blank"

/**
 * ksmbd_apple_rsrc_blank() - is a fork the one macOS writes for none?
 * @fork: the fork
 * @len:  its length
 *
 * macOS gives a "._" file that needs a resource fork entry but has no
 * fork an empty resource file: a header (data at 256, no data, a 30-byte
 * map at 256), the note "This resource fork intentionally left blank" at
 * 16, and the map: a copy of the header, no attributes, the type list at
 * 28 and the name list at 30 of it, and no types. Its own copy code skips
 * such a fork, and it is taken for none when a "._" file is taken in.
 *
 * Return: true if @fork is that
 */
bool ksmbd_apple_rsrc_blank(const u8 *fork, size_t len)
{
	static const u8 head[16] = {
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1e,
	};
	static const u8 map_rest[14] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x1c, 0x00, 0x1e, 0xff, 0xff,
	};

	return len == KSMBD_RSRC_BLANK_LEN &&
		!memcmp(fork, head, sizeof(head)) &&
		!memcmp(fork + 16, RSRC_BLANK_NOTE, strlen(RSRC_BLANK_NOTE)) &&
		!memcmp(fork + RSRC_BLANK_MAP, head, sizeof(head)) &&
		!memcmp(fork + RSRC_BLANK_MAP + sizeof(head), map_rest,
			sizeof(map_rest));
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_rsrc_blank);

/**
 * ksmbd_apple_adouble_path() - does a path name a "._" file?
 * @path: a path beneath a share root, its components separated by '/' or
 *        '\\', or a directory entry's name; not NUL-terminated
 * @len:  its length
 *
 * On a share with the Apple extensions "._" files hold resource forks,
 * which ksmbd writes beneath the clients' opens of the file: no client
 * opens, creates or lists one at any depth, nor renames anything to one
 * (see ksmbd_apple_vetoed()), as Samba's fruit:veto_appledouble.
 *
 * Return: true if a component of @path starts with "._"
 */
bool ksmbd_apple_adouble_path(const char *path, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (path[i] == '.' && path[i + 1] == '_' &&
		    (!i || path[i - 1] == '/' || path[i - 1] == '\\'))
			return true;
	}
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_adouble_path);
