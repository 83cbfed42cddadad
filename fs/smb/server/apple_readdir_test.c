// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KUnit tests for READDIR_ATTR directory entries: the Apple fields of a
 * FileIdBothDirectoryInformation entry, byte by byte, and whole entries
 * as a QUERY_DIRECTORY response carries them.
 *
 * The expected bytes are written out by hand from the layout Apple's
 * client decodes and smbtorture checks, not computed the way the code
 * computes them.
 */

#include <kunit/test.h>
#include <linux/nls.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "apple.h"
#include "smb2pdu.h"
#include "smb_common.h"
#include "vfs.h"

/* Offset and length of the fields READDIR_ATTR gives a meaning */
#define APPLE_OFF	64
#define APPLE_LEN	32

/* 2001-01-01 00:00:00 UTC in NT time, one year after the AppleDouble epoch */
#define NT_2001		0x01c07385c89dc000ULL
/* The UNIX epoch in NT time, 30 years before the AppleDouble epoch */
#define NT_1970		0x019db1ded53e8000ULL

static void finder_info(struct ksmbd_apple_dirent *ad)
{
	memset(ad->finder, 0, sizeof(ad->finder));
	memcpy(ad->finder, "TEXTttxt", 8);	/* type, creator */
	ad->finder[8] = 0x01;			/* fdFlags, big-endian */
	ad->finder[9] = 0x40;
	ad->finder[24] = 0x12;			/* extended flags */
	ad->finder[25] = 0x34;
	ad->has_finder = true;
}

static void entry_init(struct kstat *st, struct ksmbd_kstat *kst, umode_t mode)
{
	memset(st, 0, sizeof(*st));
	memset(kst, 0, sizeof(*kst));
	st->mode = mode;
	kst->kstat = st;
	kst->create_time = NT_2001;
	kst->apple.max_access = cpu_to_le32(0x001f01ff);
}

/* A file with FinderInfo and a 3-byte resource fork */
static void dirent_file_test(struct kunit *test)
{
	static const u8 want[APPLE_LEN] = {
		0xff, 0x01, 0x1f, 0x00,				/* max access */
		0x18, 0x00,					/* 24 */
		0x03, 0, 0, 0, 0, 0, 0, 0,			/* fork */
		'T', 'E', 'X', 'T', 't', 't', 'x', 't',
		0x01, 0x40,					/* flags */
		0x12, 0x34,					/* ext flags */
		0x01, 0xe2, 0x85, 0x00,				/* 2001 */
		0xa4, 0x81,					/* 0100644 */
	};
	struct file_id_both_directory_info e = {};
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFREG | 0644);
	finder_info(&kst.apple);
	kst.apple.rsrc_len = 3;
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, (u8 *)&e + APPLE_OFF, want, APPLE_LEN);
	/* Nothing outside the Apple fields is written */
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(&e, 0, APPLE_OFF), NULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(e.UniqueId), 0);
}

/* A fork larger than 4 GiB keeps all 64 bits */
static void dirent_large_fork_test(struct kunit *test)
{
	static const u8 want[8] = { 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };
	struct file_id_both_directory_info e = {};
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFREG | 0600);
	kst.apple.rsrc_len = 0x0123456789abcdefULL;
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, e.ShortName, want, sizeof(want));
}

/* A directory: no type and creator, even if its FinderInfo has bytes there */
static void dirent_dir_test(struct kunit *test)
{
	static const u8 want[APPLE_LEN] = {
		0xa9, 0x00, 0x12, 0x00,				/* max access */
		0x18, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x01, 0x40,
		0x12, 0x34,
		0x01, 0xe2, 0x85, 0x00,
		0xed, 0x41,					/* 040755 */
	};
	struct file_id_both_directory_info e = {};
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFDIR | 0755);
	finder_info(&kst.apple);
	kst.apple.max_access = cpu_to_le32(0x001200a9);	/* read, execute */
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, (u8 *)&e + APPLE_OFF, want, APPLE_LEN);
}

/* No FinderInfo, no fork: zeros, and the date that means "unknown" */
static void dirent_no_metadata_test(struct kunit *test)
{
	static const u8 want[APPLE_LEN] = {
		0x00, 0x00, 0x00, 0x00,				/* no access */
		0x18, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		0x80, 0x00, 0x00, 0x00,
		0x80, 0x80,					/* 0100200 */
	};
	struct file_id_both_directory_info e;
	struct ksmbd_kstat kst;
	struct kstat st;

	memset(&e, 0xa5, sizeof(e));
	e.ExtFileAttributes = 0;
	entry_init(&st, &kst, S_IFREG | 0200);
	kst.apple.max_access = 0;
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, (u8 *)&e + APPLE_OFF, want, APPLE_LEN);
}

/* Dates before 2000 are negative; the earliest ones are clamped */
static void dirent_date_test(struct kunit *test)
{
	static const u8 d1970[4] = { 0xc7, 0x92, 0xbc, 0x80 };	/* -946684800 */
	static const u8 dmin[4] = { 0x80, 0x00, 0x00, 0x00 };
	struct file_id_both_directory_info e = {};
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFREG | 0644);
	finder_info(&kst.apple);
	kst.create_time = NT_1970;
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, e.ShortName + 20, d1970, 4);

	kst.create_time = 0;				/* 1601 */
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_MEMEQ(test, e.ShortName + 20, dmin, 4);
}

/* V2: ShortNameLength and Reserved are one flags field */
static void dirent_v2_test(struct kunit *test)
{
	struct file_id_both_directory_info e, v1;
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFREG | 0644);
	memset(&e, 0xa5, sizeof(e));
	e.ExtFileAttributes = 0;
	kst.apple.no_streams = true;
	ksmbd_apple_dirent_encode(&e, &kst, true);
	KUNIT_EXPECT_EQ(test, e.ShortNameLength, 0x01);
	KUNIT_EXPECT_EQ(test, e.Reserved, 0x00);

	/* The rest is as in V1: access, fork length, FinderInfo, mode */
	finder_info(&kst.apple);
	kst.apple.rsrc_len = 3;
	kst.apple.no_streams = false;
	memset(&e, 0xa5, sizeof(e));
	e.ExtFileAttributes = 0;
	ksmbd_apple_dirent_encode(&e, &kst, true);
	KUNIT_EXPECT_EQ(test, e.ShortNameLength, 0x00);
	KUNIT_EXPECT_EQ(test, e.Reserved, 0x00);
	memset(&v1, 0x5a, sizeof(v1));
	v1.ExtFileAttributes = 0;
	ksmbd_apple_dirent_encode(&v1, &kst, false);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(e.EaSize), 0x001f01ff);
	KUNIT_EXPECT_EQ(test, e.EaSize, v1.EaSize);
	KUNIT_EXPECT_MEMEQ(test, e.ShortName, v1.ShortName, 24);
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(e.ShortName), 3);
	KUNIT_EXPECT_MEMEQ(test, e.ShortName + 8, "TEXTttxt", 8);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(e.Reserved2), S_IFREG | 0644);
}

/* A reparse point keeps its tag in EaSize, where the client looks for it */
static void dirent_reparse_test(struct kunit *test)
{
	struct file_id_both_directory_info e = {};
	struct ksmbd_kstat kst;
	struct kstat st;

	entry_init(&st, &kst, S_IFIFO | 0644);
	e.ExtFileAttributes = FILE_ATTRIBUTE_REPARSE_POINT_LE;
	e.EaSize = cpu_to_le32(0x80000024);
	ksmbd_apple_dirent_encode(&e, &kst, false);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(e.EaSize), 0x80000024);
	KUNIT_EXPECT_EQ(test, e.ShortNameLength, 24);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(e.Reserved2), S_IFIFO | 0644);
}

/* ---- whole entries, as smb2_populate_readdir_entry() writes them ---- */

#define LONG_NAME_LEN	255
/* 104 bytes of fixed fields, 510 of name, aligned to 8 */
#define LONG_ENTRY_LEN	616

struct readdir_ctx {
	struct ksmbd_conn *conn;
	struct ksmbd_dir_info d_info;
	struct ksmbd_kstat kst;
	struct kstat st;
	char name[LONG_NAME_LEN + 1];
	u8 *buf;
};

static int readdir_init(struct kunit *test)
{
	struct readdir_ctx *c;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->conn = kunit_kzalloc(test, sizeof(*c->conn), GFP_KERNEL);
	c->buf = kunit_kzalloc(test, 2 * LONG_ENTRY_LEN, GFP_KERNEL);
	if (!c->conn || !c->buf)
		return -ENOMEM;
	c->conn->local_nls = load_nls_default();
	c->conn->is_aapl = true;
	c->conn->aapl_readdir_attr = KSMBD_APPLE_RDA_V1;

	memset(c->name, 'n', LONG_NAME_LEN);
	c->d_info.name = c->name;
	c->d_info.name_len = LONG_NAME_LEN;
	c->d_info.wptr = c->buf;

	entry_init(&c->st, &c->kst, S_IFREG | 0644);
	c->st.size = 5;
	c->st.blocks = 8;
	c->st.ino = 1234;
	c->kst.file_attributes = FILE_ATTRIBUTE_ARCHIVE_LE;
	finder_info(&c->kst.apple);
	c->kst.apple.rsrc_len = 3;
	c->kst.apple.level = KSMBD_APPLE_RDA_V1;
	test->priv = c;
	return 0;
}

static void readdir_exit(struct kunit *test)
{
	struct readdir_ctx *c = test->priv;

	if (c && c->conn && c->conn->local_nls)
		unload_nls(c->conn->local_nls);
}

static int populate(struct readdir_ctx *c, int room)
{
	c->d_info.out_buf_len = room;
	return smb2_populate_readdir_entry(c->conn,
					   FILEID_BOTH_DIRECTORY_INFORMATION,
					   &c->d_info, &c->kst);
}

/* A 255-character name, the longest there is, in an entry that just fits */
static void readdir_long_name_test(struct kunit *test)
{
	static const u8 want[104] = {
		0x68, 0x02, 0x00, 0x00,				/* next: 616 */
		0x00, 0x00, 0x00, 0x00,
		0x00, 0xc0, 0x9d, 0xc8, 0x85, 0x73, 0xc0, 0x01,	/* created */
		0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01,	/* 1970 */
		0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01,
		0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01,
		0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* size */
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 4096 */
		0x20, 0x00, 0x00, 0x00,				/* archive */
		0xfe, 0x01, 0x00, 0x00,				/* 510 */
		0xff, 0x01, 0x1f, 0x00,
		0x18, 0x00,
		0x03, 0, 0, 0, 0, 0, 0, 0,
		'T', 'E', 'X', 'T', 't', 't', 'x', 't',
		0x01, 0x40, 0x12, 0x34,
		0x01, 0xe2, 0x85, 0x00,
		0xa4, 0x81,
		0, 0, 0, 0, 0, 0, 0, 0,				/* file id */
	};
	struct readdir_ctx *c = test->priv;
	int i;

	KUNIT_ASSERT_EQ(test, populate(c, LONG_ENTRY_LEN), 0);
	KUNIT_EXPECT_MEMEQ(test, c->buf, want, sizeof(want));
	for (i = 0; i < LONG_NAME_LEN; i++) {
		KUNIT_ASSERT_EQ(test, c->buf[104 + 2 * i], 'n');
		KUNIT_ASSERT_EQ(test, c->buf[105 + 2 * i], 0);
	}
	/* Two bytes of padding, then nothing */
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(c->buf + 614, 0, LONG_ENTRY_LEN),
			    NULL);
	KUNIT_EXPECT_EQ(test, c->d_info.data_count, LONG_ENTRY_LEN);
	KUNIT_EXPECT_EQ(test, c->d_info.out_buf_len, 0);
	KUNIT_EXPECT_EQ(test, c->d_info.last_entry_off_align, 2);
	KUNIT_EXPECT_PTR_EQ(test, c->d_info.wptr,
			    (char *)c->buf + LONG_ENTRY_LEN);
}

/* One byte short: -ENOSPC, and nothing written */
static void readdir_no_room_test(struct kunit *test)
{
	struct readdir_ctx *c = test->priv;

	memset(c->buf, 0xa5, 2 * LONG_ENTRY_LEN);
	KUNIT_EXPECT_EQ(test, populate(c, LONG_ENTRY_LEN - 1), -ENOSPC);
	KUNIT_EXPECT_EQ(test, c->d_info.out_buf_len, 0);
	KUNIT_EXPECT_EQ(test, c->d_info.data_count, 0);
	KUNIT_EXPECT_PTR_EQ(test, c->d_info.wptr, (char *)c->buf);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(c->buf, 0xa5, 2 * LONG_ENTRY_LEN),
			    NULL);
}

/* A second entry follows the first at its NextEntryOffset */
static void readdir_two_entries_test(struct kunit *test)
{
	static const u8 want2[APPLE_LEN] = {
		0xff, 0x01, 0x1f, 0x00,
		0x18, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		0x80, 0x00, 0x00, 0x00,
		0xed, 0x41,
	};
	struct readdir_ctx *c = test->priv;
	u8 *e2 = c->buf + LONG_ENTRY_LEN;

	KUNIT_ASSERT_EQ(test, populate(c, 2 * LONG_ENTRY_LEN), 0);

	/* "d", a directory without metadata */
	c->d_info.name = "d";
	c->d_info.name_len = 1;
	c->st.mode = S_IFDIR | 0755;
	c->kst.file_attributes = FILE_ATTRIBUTE_DIRECTORY_LE;
	memset(c->kst.apple.finder, 0, sizeof(c->kst.apple.finder));
	c->kst.apple.has_finder = false;
	c->kst.apple.rsrc_len = 0;
	KUNIT_ASSERT_EQ(test, populate(c, c->d_info.out_buf_len), 0);

	KUNIT_EXPECT_EQ(test, c->d_info.last_entry_offset, LONG_ENTRY_LEN);
	KUNIT_EXPECT_EQ(test, c->d_info.data_count, LONG_ENTRY_LEN + 112);
	KUNIT_EXPECT_EQ(test, get_unaligned_le32(e2), 112);
	KUNIT_EXPECT_EQ(test, get_unaligned_le32(e2 + 60), 2);
	KUNIT_EXPECT_MEMEQ(test, e2 + APPLE_OFF, want2, APPLE_LEN);
	KUNIT_EXPECT_EQ(test, e2[104], 'd');
	KUNIT_EXPECT_EQ(test, e2[105], 0);
	/* A directory's size is not reported */
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(e2 + 40), 0);
}

/* Without READDIR_ATTR, the fields keep their usual meaning */
static void readdir_plain_test(struct kunit *test)
{
	struct readdir_ctx *c = test->priv;

	c->conn->aapl_readdir_attr = KSMBD_APPLE_RDA_NONE;
	c->conn->is_aapl = false;
	c->kst.apple.level = KSMBD_APPLE_RDA_NONE;
	KUNIT_ASSERT_EQ(test, populate(c, LONG_ENTRY_LEN), 0);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(c->buf + APPLE_OFF, 0, APPLE_LEN),
			    NULL);
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(c->buf + 96), 1234);
}

/*
 * An entry is encoded as it was filled, whatever the connection negotiated
 * since: one filled without READDIR_ATTR (its Apple fields never read) has
 * none, and one filled with it keeps them
 */
static void readdir_level_test(struct kunit *test)
{
	struct readdir_ctx *c = test->priv;

	c->conn->aapl_readdir_attr = KSMBD_APPLE_RDA_V2;
	c->kst.apple.level = KSMBD_APPLE_RDA_NONE;
	KUNIT_ASSERT_EQ(test, populate(c, LONG_ENTRY_LEN), 0);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(c->buf + APPLE_OFF, 0, APPLE_LEN),
			    NULL);

	memset(c->buf, 0, 2 * LONG_ENTRY_LEN);
	c->d_info.wptr = c->buf;
	c->d_info.data_count = 0;
	c->conn->aapl_readdir_attr = KSMBD_APPLE_RDA_NONE;
	c->kst.apple.level = KSMBD_APPLE_RDA_V1;
	KUNIT_ASSERT_EQ(test, populate(c, LONG_ENTRY_LEN), 0);
	/* ShortNameLength 24 and the fork length 3, as READDIR_ATTR V1 puts them */
	KUNIT_EXPECT_EQ(test, c->buf[APPLE_OFF + 4], 24);
	KUNIT_EXPECT_EQ(test, c->buf[APPLE_OFF + 6], 3);
}

static struct kunit_case apple_dirent_test_cases[] = {
	KUNIT_CASE(dirent_file_test),
	KUNIT_CASE(dirent_large_fork_test),
	KUNIT_CASE(dirent_dir_test),
	KUNIT_CASE(dirent_no_metadata_test),
	KUNIT_CASE(dirent_date_test),
	KUNIT_CASE(dirent_v2_test),
	KUNIT_CASE(dirent_reparse_test),
	{}
};

static struct kunit_suite apple_dirent_test_suite = {
	.name = "ksmbd_apple_dirent",
	.test_cases = apple_dirent_test_cases,
};

static struct kunit_case apple_readdir_test_cases[] = {
	KUNIT_CASE(readdir_long_name_test),
	KUNIT_CASE(readdir_level_test),
	KUNIT_CASE(readdir_no_room_test),
	KUNIT_CASE(readdir_two_entries_test),
	KUNIT_CASE(readdir_plain_test),
	{}
};

static struct kunit_suite apple_readdir_test_suite = {
	.name = "ksmbd_apple_readdir",
	.init = readdir_init,
	.exit = readdir_exit,
	.test_cases = apple_readdir_test_cases,
};

kunit_test_suites(&apple_dirent_test_suite, &apple_readdir_test_suite);

MODULE_DESCRIPTION("KUnit tests for ksmbd's READDIR_ATTR directory entries");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
