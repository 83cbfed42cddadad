// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Apple Finder metadata formats: the 60-byte AFP_AfpInfo stream and the
 * AppleDouble header that holds a resource fork ("._" files) or netatalk's
 * metadata (the "org.netatalk.Metadata" xattr).
 *
 * Everything here works on buffers only; apple_fork.c does the I/O.
 */

#include <linux/errno.h>
#include <linux/kernel.h>
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
