// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KUnit tests for the Finder metadata formats: AFP_AfpInfo writes, reads
 * and stored values, and the AppleDouble header of "._" files and of
 * netatalk's metadata.
 *
 * Every input is copied into a buffer of its exact length, so that KASAN
 * reports any read past its end.
 */

#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "apple.h"

/* A valid AFP_AfpInfo: type "TEXT", creator "ttxt", fdFlags Inited */
static void afpinfo_valid(u8 *b)
{
	ksmbd_apple_afpinfo_init(b);
	memcpy(b + 16, "TEXTttxt", 8);
	b[24] = 0x01;
}

static void afpinfo_init_test(struct kunit *test)
{
	static const u8 want[16] = {
		'A', 'F', 'P', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x80, 0, 0, 0,
	};
	u8 b[KSMBD_AFP_INFO_SIZE];

	memset(b, 0xa5, sizeof(b));
	ksmbd_apple_afpinfo_init(b);
	KUNIT_EXPECT_MEMEQ(test, b, want, sizeof(want));
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_finderinfo_empty(b));
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(b + 16, 0, 44), NULL);
}

/*
 * The write rules, as smbtorture's writing_afpinfo table states them for
 * the macOS server: @len bytes of a valid AfpInfo (repeated past 60)
 * written at @off.
 */
struct afp_write_case {
	const char *desc;
	loff_t off;
	size_t len;
	int rc;
};

static const struct afp_write_case afp_write_cases[] = {
	{ "1 byte",			0,	1,	-EINVAL },
	{ "2 bytes",			0,	2,	-EINVAL },
	{ "3 bytes: accepted, dropped",	0,	3,	0 },
	{ "16 bytes: dropped",		0,	16,	0 },
	{ "17 bytes: stored",		0,	17,	1 },
	{ "59 bytes",			0,	59,	1 },
	{ "60 bytes",			0,	60,	1 },
	{ "61 bytes",			0,	61,	1 },
	{ "10064 bytes",		0,	10064,	1 },
	{ "offset 1, 59 bytes",		1,	59,	-EINVAL },
	{ "offset 1, 60 bytes",		1,	60,	1 },
	{ "offset 30, 3 bytes",		30,	3,	-EINVAL },
	{ "offset 59, 60 bytes",	59,	60,	1 },
	{ "offset 60, 1 byte",		60,	1,	-EINVAL },
	{ "offset 61, 60 bytes",	61,	60,	1 },
	{ "offset 10000, 10064 bytes",	10000,	10064,	1 },
	{ "offset 10000, 16 bytes",	10000,	16,	-EINVAL },
	{ "offset -1, 60 bytes",	-1,	60,	1 },
};

static void afp_write_desc(const struct afp_write_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(afp_write, afp_write_cases, afp_write_desc);

static void afpinfo_write_test(struct kunit *test)
{
	const struct afp_write_case *c = test->param_value;
	u8 valid[KSMBD_AFP_INFO_SIZE], blob[KSMBD_AFP_INFO_SIZE];
	u8 *buf;
	size_t i;

	afpinfo_valid(valid);
	buf = kunit_kmalloc(test, c->len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < c->len; i++)
		buf[i] = valid[i % sizeof(valid)];

	memset(blob, 0xa5, sizeof(blob));
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, c->len, c->off,
							blob), c->rc);
	/* A write that stores nothing leaves @blob alone */
	if (c->rc != 1) {
		KUNIT_EXPECT_PTR_EQ(test, memchr_inv(blob, 0xa5, sizeof(blob)),
				    NULL);
		return;
	}
	/* Stored from offset 0: the first 60 bytes, zero-filled */
	i = min_t(size_t, c->len, sizeof(blob));
	KUNIT_EXPECT_MEMEQ(test, blob, valid, i);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(blob + i, 0, sizeof(blob) - i),
			    NULL);
}

/* Every way a write of 60 bytes can be wrong */
static void afpinfo_write_bad_test(struct kunit *test)
{
	u8 buf[KSMBD_AFP_INFO_SIZE], blob[KSMBD_AFP_INFO_SIZE];

	memset(buf, 0, sizeof(buf));
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 60, 0, blob),
			-EINVAL);

	afpinfo_valid(buf);
	buf[2] = 'X';
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 60, 0, blob),
			-EINVAL);

	/* "AFP" and then the wrong fourth signature byte */
	afpinfo_valid(buf);
	buf[3] = 1;
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 60, 0, blob),
			-EINVAL);

	/* The version the header comment of MacExtensions.h claims */
	afpinfo_valid(buf);
	put_unaligned_be32(0x00010000, buf + 4);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 60, 0, blob),
			-EINVAL);

	/*
	 * A wrong version in a write short enough to be dropped is not
	 * looked at; in one that is stored it is refused
	 */
	afpinfo_valid(buf);
	put_unaligned_be32(0x00010000, buf + 4);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 16, 0, blob), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_write(buf, 17, 0, blob),
			-EINVAL);
}

static void afpinfo_finderinfo_test(struct kunit *test)
{
	u8 b[KSMBD_AFP_INFO_SIZE];
	int i;

	for (i = 16; i < 48; i++) {
		ksmbd_apple_afpinfo_init(b);
		b[i] = 1;
		KUNIT_EXPECT_FALSE(test, ksmbd_apple_finderinfo_empty(b));
	}
	/* Bytes outside FinderInfo do not count */
	ksmbd_apple_afpinfo_init(b);
	b[15] = 1;
	b[48] = 1;
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_finderinfo_empty(b));
}

static void afpinfo_read_len_test(struct kunit *test)
{
	/* smbtorture's read_afpinfo and read_netatalk_metadata */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(0, 61), 60);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(0, 60), 60);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(59, 2), 2);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(60, 1), 1);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(61, 1), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(-1, 1), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(LLONG_MAX, 60), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(0, 0), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_afpinfo_read_len(0, SIZE_MAX), 60);
}

static void afpinfo_stored_test(struct kunit *test)
{
	u8 *v = kunit_kzalloc(test, 62, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, v);
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_afpinfo_stored(v, 60));
	/* Samba's streams_xattr adds a NUL */
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_afpinfo_stored(v, 61));
	v[60] = 1;
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_afpinfo_stored(v, 61));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_afpinfo_stored(v, 0));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_afpinfo_stored(v, 3));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_afpinfo_stored(v, 59));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_afpinfo_stored(v, 62));
}

/* ---- AppleDouble ---- */

/* Append entry @id at @off of length @len to the header in @b */
static void ad_entry(u8 *b, u32 id, u32 off, u32 len)
{
	u16 n = get_unaligned_be16(b + 24);
	u8 *e = b + 26 + n * 12;

	put_unaligned_be32(id, e);
	put_unaligned_be32(off, e + 4);
	put_unaligned_be32(len, e + 8);
	put_unaligned_be16(n + 1, b + 24);
}

static void ad_header(u8 *b)
{
	memset(b, 0, 26);
	put_unaligned_be32(0x00051607, b);
	put_unaligned_be32(0x00020000, b + 4);
}

/* Parse the first @len bytes of @src, copied to a buffer that size */
static int ad_parse(struct kunit *test, const u8 *src, size_t len, u64 size,
		    struct ksmbd_apple_adouble *ad)
{
	u8 *b = kunit_kmalloc(test, len ?: 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	memcpy(b, src, len);
	return ksmbd_apple_adouble_parse(b, len, size, ad);
}

static void adouble_init_test(struct kunit *test)
{
	static const u8 want[50] = {
		0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00,
		'N', 'e', 't', 'a', 't', 'a', 'l', 'k',
		' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
		0x00, 0x02,
		0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x32,
		0x00, 0x00, 0x00, 0x20,
		0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x52,
		0x00, 0x00, 0x00, 0x00,
	};
	struct ksmbd_apple_adouble ad;
	u8 b[KSMBD_AD_RSRC_OFFSET];

	memset(b, 0xa5, sizeof(b));
	ksmbd_apple_adouble_init(b);
	KUNIT_EXPECT_MEMEQ(test, b, want, sizeof(want));
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(b + 50, 0, 32), NULL);

	KUNIT_ASSERT_EQ(test, ad_parse(test, b, sizeof(b), sizeof(b), &ad), 0);
	KUNIT_EXPECT_TRUE(test, ad.has_rsrc);
	KUNIT_EXPECT_EQ(test, ad.rsrc_off, 82);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len, 0);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len_at, 26 + 12 + 8);
	KUNIT_EXPECT_EQ(test, ad.finfo_off, 50);
	KUNIT_EXPECT_EQ(test, ad.finfo_len, 32);

	/* The fork runs to the end of the file, whatever its entry says */
	KUNIT_ASSERT_EQ(test, ad_parse(test, b, sizeof(b), 82 + 1000, &ad), 0);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len, 1000);
}

/* A "._" file as macOS writes it: FinderInfo with packed xattrs, fork at 3810 */
static void adouble_macos_test(struct kunit *test)
{
	struct ksmbd_apple_adouble ad;
	u8 b[64];

	ad_header(b);
	memcpy(b + 8, "Mac OS X        ", 16);
	ad_entry(b, 9, 50, 3760);
	ad_entry(b, 2, 3810, 286);
	KUNIT_ASSERT_EQ(test, ad_parse(test, b, 50, 4096, &ad), 0);
	KUNIT_EXPECT_EQ(test, ad.rsrc_off, 3810);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len, 286);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len_at, 26 + 12 + 8);
	KUNIT_EXPECT_EQ(test, ad.finfo_len, 3760);

	/* Fork entry past the end (a crash while it was cut): clamped */
	KUNIT_ASSERT_EQ(test, ad_parse(test, b, 50, 3900, &ad), 0);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len, 90);
}

/* netatalk's metadata xattr: 402 bytes, eight entries, no fork */
static void adouble_netatalk_test(struct kunit *test)
{
	struct ksmbd_apple_adouble ad;
	u8 *b = kunit_kzalloc(test, 402, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	ad_header(b);
	ad_entry(b, 4, 154, 0);
	ad_entry(b, 8, 354, 16);
	ad_entry(b, 9, 122, 32);
	ad_entry(b, 14, 370, 4);
	ad_entry(b, 0x80444556, 374, 8);
	ad_entry(b, 0x80494E4F, 382, 8);
	ad_entry(b, 0x8053594E, 390, 8);
	ad_entry(b, 0x8053567E, 398, 4);
	KUNIT_ASSERT_EQ(test, ksmbd_apple_adouble_parse(b, 402, 402, &ad), 0);
	KUNIT_EXPECT_FALSE(test, ad.has_rsrc);
	KUNIT_EXPECT_EQ(test, ad.finfo_off, 122);
	KUNIT_EXPECT_EQ(test, ad.finfo_len, 32);
}

/* Headers that must be refused; the fork entry always at 82 */
struct ad_bad_case {
	const char *desc;
	u32 magic, version;
	u16 count;		/* 0: the entries given */
	u32 e[3][3];		/* id, offset, length; id 0 ends */
	size_t len;		/* bytes of header handed over */
	u64 size;		/* size of the whole file */
};

static const struct ad_bad_case ad_bad_cases[] = {
	{ "AppleSingle magic", 0x00051600, 0x00020000, 0,
	  { { 2, 82, 0 } }, 82, 82 },
	{ "version 1", 0x00051607, 0x00010000, 0, { { 2, 82, 0 } }, 82, 82 },
	{ "no header", 0x00051607, 0x00020000, 0, { { 2, 82, 0 } }, 25, 82 },
	{ "header longer than the file", 0x00051607, 0x00020000, 0,
	  { { 2, 82, 0 } }, 82, 81 },
	{ "entry table cut", 0x00051607, 0x00020000, 0,
	  { { 9, 50, 32 }, { 2, 82, 0 } }, 49, 82 },
	{ "fork inside the entry table", 0x00051607, 0x00020000, 0,
	  { { 9, 50, 32 }, { 2, 40, 0 } }, 82, 82 },
	{ "fork past the end", 0x00051607, 0x00020000, 0,
	  { { 2, 100, 0 } }, 82, 82 },
	{ "fork at 4 GiB", 0x00051607, 0x00020000, 0,
	  { { 2, 0xffffffff, 0xffffffff } }, 82, 82 },
	{ "two forks", 0x00051607, 0x00020000, 0,
	  { { 2, 82, 0 }, { 2, 82, 0 } }, 82, 82 },
	{ "FinderInfo past the end", 0x00051607, 0x00020000, 0,
	  { { 9, 50, 40 }, { 2, 82, 0 } }, 82, 82 },
	{ "FinderInfo of 31 bytes", 0x00051607, 0x00020000, 0,
	  { { 9, 50, 31 }, { 2, 82, 0 } }, 82, 82 },
	{ "FinderInfo entry wraps", 0x00051607, 0x00020000, 0,
	  { { 9, 0xffffffe0, 0x40 }, { 2, 82, 0 } }, 82, 82 },
	{ "two FinderInfos", 0x00051607, 0x00020000, 0,
	  { { 9, 50, 32 }, { 9, 50, 32 } }, 82, 82 },
	{ "FinderInfo behind the fork", 0x00051607, 0x00020000, 0,
	  { { 2, 50, 0 }, { 9, 50, 32 } }, 82, 82 },
	{ "comment in the fork", 0x00051607, 0x00020000, 0,
	  { { 2, 62, 10 }, { 4, 70, 4 } }, 82, 82 },
};

static void ad_bad_desc(const struct ad_bad_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ad_bad, ad_bad_cases, ad_bad_desc);

static void adouble_bad_test(struct kunit *test)
{
	const struct ad_bad_case *c = test->param_value;
	struct ksmbd_apple_adouble ad;
	u8 b[KSMBD_AD_RSRC_OFFSET] = {};
	int i;

	put_unaligned_be32(c->magic, b);
	put_unaligned_be32(c->version, b + 4);
	for (i = 0; i < 3 && c->e[i][0]; i++)
		ad_entry(b, c->e[i][0], c->e[i][1], c->e[i][2]);
	if (c->count)
		put_unaligned_be16(c->count, b + 24);
	KUNIT_EXPECT_EQ(test, ad_parse(test, b, c->len, c->size, &ad),
			-EINVAL);
}

/*
 * At most 64 entries, whatever else the header says: tables of 64, 65
 * and 65535 entries without data, each handed over whole.
 */
static void adouble_entry_cap_test(struct kunit *test)
{
	static const struct { u16 count; int rc; } rows[] = {
		{ 64, 0 }, { 65, -EINVAL }, { 0xffff, -EINVAL },
	};
	struct ksmbd_apple_adouble ad;
	size_t len;
	u8 *b;
	int i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		len = 26 + rows[i].count * 12;
		b = kunit_kzalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, b);
		ad_header(b);
		put_unaligned_be16(rows[i].count, b + 24);
		KUNIT_EXPECT_EQ_MSG(test, ad_parse(test, b, len, len, &ad),
				    rows[i].rc, "%u entries", rows[i].count);
		kunit_kfree(test, b);
	}
}

/* Entries without data may point anywhere; unknown ids are skipped */
static void adouble_skip_test(struct kunit *test)
{
	struct ksmbd_apple_adouble ad;
	u8 b[KSMBD_AD_RSRC_OFFSET] = {};

	ad_header(b);
	ad_entry(b, 4, 0xffffffff, 0);
	ad_entry(b, 0x8053567E, 62, 4);
	ad_entry(b, 2, 82, 0);
	KUNIT_ASSERT_EQ(test, ad_parse(test, b, 82, 82, &ad), 0);
	KUNIT_EXPECT_TRUE(test, ad.has_rsrc);
	KUNIT_EXPECT_EQ(test, ad.rsrc_len_at, 26 + 24 + 8);
	KUNIT_EXPECT_EQ(test, ad.finfo_len, 0);

	/* No entries at all: valid, but there is no fork to use */
	ad_header(b);
	KUNIT_ASSERT_EQ(test, ad_parse(test, b, 26, 26, &ad), 0);
	KUNIT_EXPECT_FALSE(test, ad.has_rsrc);
}

/* Every prefix of a valid header is refused or parsed, never overread */
static void adouble_truncation_test(struct kunit *test)
{
	struct ksmbd_apple_adouble ad;
	u8 b[KSMBD_AD_RSRC_OFFSET];
	size_t len;

	ksmbd_apple_adouble_init(b);
	for (len = 0; len < 50; len++)
		KUNIT_EXPECT_EQ(test, ad_parse(test, b, len, 82, &ad), -EINVAL);
	for (len = 50; len <= sizeof(b); len++)
		KUNIT_EXPECT_EQ(test, ad_parse(test, b, len, 82, &ad), 0);
}

/* Map @in over @len bytes and compare with @want (NULL: nothing mapped) */
static void sfm_expect(struct kunit *test, const char *in, size_t len,
		       bool to_private, const char *want)
{
	char *out = ksmbd_apple_sfm_map(in, len, to_private);

	KUNIT_ASSERT_FALSE(test, IS_ERR(out));
	if (!want) {
		KUNIT_EXPECT_NULL(test, out);
		return;
	}
	KUNIT_ASSERT_NOT_NULL(test, out);
	KUNIT_EXPECT_STREQ(test, out, want);
	kfree(out);
}

/* Every character macOS maps, both ways, and only up to @len */
static void sfm_map_test(struct kunit *test)
{
	static const char native[] = "\x01\x1f\"*:<>?\\|";
	static const char private[] =
		"\xef\x80\x81\xef\x80\x9f\xef\x80\xa0\xef\x80\xa1\xef\x80\xa2"
		"\xef\x80\xa3\xef\x80\xa4\xef\x80\xa5\xef\x80\xa6\xef\x80\xa7";

	sfm_expect(test, native, strlen(native), true, private);
	sfm_expect(test, private, strlen(private), false, native);

	/* The stream type after the name is kept as it is */
	sfm_expect(test, "com.apple.metadata:_kMDItemUserTags:$DATA", 35, true,
		   "com.apple.metadata\xef\x80\xa2_kMDItemUserTags:$DATA");
	/* U+F022 in octal where a hex escape would take the next letters */
	sfm_expect(test, "user.DosStream.foo\357\200\242bar:$DATA", 24, false,
		   "user.DosStream.foo:bar:$DATA");
	/* @len past the end is the end */
	sfm_expect(test, "a:b", 100, true, "a\357\200\242b");
}

/* Names without a mapped character, and code points that are not mapped */
static void sfm_unmapped_test(struct kunit *test)
{
	sfm_expect(test, "AFP_AfpInfo:$DATA", 11, true, NULL);
	sfm_expect(test, "a:b", 1, true, NULL);
	sfm_expect(test, "", 0, true, NULL);
	sfm_expect(test, "", 0, false, NULL);
	/* '/' and ' ' are not mapped to U+F022 / U+F028 */
	sfm_expect(test, "a/b c", 5, true, NULL);
	/* U+F000, U+F028 and U+F040 are not in the table */
	sfm_expect(test, "\xef\x80\x80\xef\x80\xa8\xef\x81\x80", 9, false, NULL);
	/* A code point cut by @len is copied, not decoded */
	sfm_expect(test, "x\xef\x80\xa2", 3, false, NULL);
	/* A lone lead byte at the end is not read past */
	sfm_expect(test, "x\xef", 2, false, NULL);
	/* Private-use code points are kept when mapping to them */
	sfm_expect(test, "\xef\x80\xa2", 3, true, NULL);
	/* ASCII is kept when mapping back */
	sfm_expect(test, "a:b", 3, false, NULL);
}

/*
 * A FinderInfo entry as macOS packs it at offset 50 of a "._" file: 32
 * bytes of FinderInfo, padding, the ATTR header and two xattrs whose
 * values follow the headers. Offsets in it, and the alignment of the
 * headers, are from the start of the file.
 */
#define FI_OFF		50
#define FI_LEN		200

static void fi_xattr(u8 *fi, u32 *pos, u32 *val, const char *name,
		     const char *value)
{
	size_t nlen = strlen(name) + 1, vlen = strlen(value);

	put_unaligned_be32(FI_OFF + *val, fi + *pos);
	put_unaligned_be32(vlen, fi + *pos + 4);
	fi[*pos + 10] = nlen;
	memcpy(fi + *pos + 11, name, nlen);
	memcpy(fi + *val, value, vlen);
	*pos = ALIGN(FI_OFF + *pos + 11 + nlen, 4) - FI_OFF;
	*val += vlen;
}

static void fi_build(u8 *fi)
{
	u32 pos = 70, val = 140;

	memset(fi, 0, FI_LEN);
	memcpy(fi, "TESTSLOW", 8);
	put_unaligned_be32(0x41545452, fi + 34);
	put_unaligned_be16(2, fi + 68);
	fi_xattr(fi, &pos, &val, "com.apple.metadata:_kMDItemUserTags", "tags");
	fi_xattr(fi, &pos, &val, "foo:bar", "baz");
}

static int fi_walk(struct kunit *test, const u8 *fi, u32 len,
		   struct ksmbd_apple_xattr *x, int max)
{
	struct ksmbd_apple_xattrs it;
	int n = 0, rc;

	KUNIT_ASSERT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, len, FI_OFF),
			0);
	while ((rc = ksmbd_apple_xattrs_next(&it, &x[n])) > 0)
		KUNIT_ASSERT_LT(test, ++n, max);
	return rc ?: n;
}

static void xattrs_test(struct kunit *test)
{
	struct ksmbd_apple_xattr x[4];
	u8 fi[FI_LEN];

	fi_build(fi);
	KUNIT_ASSERT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), 2);
	KUNIT_EXPECT_STREQ(test, x[0].name,
			   "com.apple.metadata:_kMDItemUserTags");
	KUNIT_EXPECT_EQ(test, x[0].len, 4);
	KUNIT_EXPECT_MEMEQ(test, x[0].value, "tags", 4);
	KUNIT_EXPECT_PTR_EQ(test, x[0].value, (const u8 *)fi + 140);
	KUNIT_EXPECT_STREQ(test, x[1].name, "foo:bar");
	KUNIT_EXPECT_MEMEQ(test, x[1].value, "baz", 3);

	/* Values may end at the end of the entry, not past it */
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, 147, x, 4), 2);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, 146, x, 4), -EINVAL);
}

/* No ATTR header: a plain 32-byte FinderInfo, or another magic */
static void xattrs_none_test(struct kunit *test)
{
	struct ksmbd_apple_xattrs it;
	u8 fi[FI_LEN];

	fi_build(fi);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, 32, FI_OFF),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, 69, FI_OFF),
			-ENOENT);
	fi[34] = 'X';
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, FI_LEN,
						       FI_OFF), -ENOENT);
}

struct xattr_bad_case {
	const char *desc;
	u32 at;		/* byte of the entry to change */
	u32 val;	/* its new value (be32 for 0 and 4, a byte else) */
};

static const struct xattr_bad_case xattr_bad_cases[] = {
	{ "value before the entry", 0, FI_OFF - 1 },
	{ "value over its header", 0, FI_OFF + 70 },
	{ "value offset past the entry", 0, FI_OFF + FI_LEN + 1 },
	{ "value length past the entry", 4, 61 },
	{ "huge value length", 4, 0xffffffff },
	{ "empty name", 10, 1 },
	{ "no name", 10, 0 },
	{ "name without NUL", 10, 35 },
	{ "name past the entry", 10, 255 },
	{ "NUL inside the name", 20, 0 },
};

static void xattr_bad_desc(const struct xattr_bad_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(xattr_bad, xattr_bad_cases, xattr_bad_desc);

/* A malformed xattr header ends the walk; nothing is read out of bounds */
static void xattrs_bad_test(struct kunit *test)
{
	const struct xattr_bad_case *c = test->param_value;
	struct ksmbd_apple_xattr x[4];
	u8 *fi = kunit_kmalloc(test, FI_LEN, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, fi);
	fi_build(fi);
	if (c->at == 0 || c->at == 4)
		put_unaligned_be32(c->val, fi + 70 + c->at);
	else
		fi[70 + c->at] = c->val;
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
}

/* More xattrs announced than there is room for */
static void xattrs_count_test(struct kunit *test)
{
	struct ksmbd_apple_xattr x[4];
	u8 fi[FI_LEN];
	u32 len;

	fi_build(fi);
	put_unaligned_be16(3, fi + 68);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
	put_unaligned_be16(0, fi + 68);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), 0);
	/* Every length of the entry: a result, never a read past it */
	put_unaligned_be16(2, fi + 68);
	for (len = 70; len < FI_LEN; len++) {
		u8 *copy = kunit_kmalloc(test, len, GFP_KERNEL);
		int n;

		KUNIT_ASSERT_NOT_NULL(test, copy);
		memcpy(copy, fi, len);
		n = fi_walk(test, copy, len, x, 4);
		/* Both values, which end at 147, must lie in the entry */
		KUNIT_EXPECT_EQ_MSG(test, n, len >= 147 ? 2 : -EINVAL,
				    "entry of %u bytes", len);
		kunit_kfree(test, copy);
	}
}

/*
 * Values that overlap each other or a header: a hostile "._" file could
 * otherwise make one megabyte of entry into many megabytes of streams.
 * In fi_build()'s entry the headers are at 70 and 118 and end at 138, the
 * values at 140 (4 bytes) and 144 (3 bytes).
 */
static void xattrs_overlap_test(struct kunit *test)
{
	struct ksmbd_apple_xattr x[4];
	u8 fi[FI_LEN];

	/* The second value where the first one is */
	fi_build(fi);
	put_unaligned_be32(FI_OFF + 140, fi + 118);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
	/* The second value inside the first one */
	fi_build(fi);
	put_unaligned_be32(FI_OFF + 143, fi + 118);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
	/* Right behind it, and later, is fine */
	put_unaligned_be32(FI_OFF + 144, fi + 118);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), 2);
	put_unaligned_be32(FI_OFF + 150, fi + 118);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), 2);
	/* The first value over the second header */
	fi_build(fi);
	put_unaligned_be32(FI_OFF + 120, fi + 70);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
	/* Values in reverse order: the second before the first */
	fi_build(fi);
	put_unaligned_be32(FI_OFF + 145, fi + 70);
	put_unaligned_be32(FI_OFF + 140, fi + 118);
	KUNIT_EXPECT_EQ(test, fi_walk(test, fi, FI_LEN, x, 4), -EINVAL);
}

/* At most KSMBD_APPLE_XATTRS_MAX (64) xattrs are taken in from one file */
static void xattrs_max_test(struct kunit *test)
{
	struct ksmbd_apple_xattrs it;
	u8 fi[FI_LEN];

	fi_build(fi);
	put_unaligned_be16(64, fi + 68);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, FI_LEN, FI_OFF),
			0);
	put_unaligned_be16(65, fi + 68);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, FI_LEN, FI_OFF),
			-E2BIG);
	put_unaligned_be16(65535, fi + 68);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_xattrs_start(&it, fi, FI_LEN, FI_OFF),
			-E2BIG);
}

/* The empty resource file, built from its description */
static void rsrc_blank_build(u8 *f)
{
	static const char note[] = "This resource fork intentionally left blank";

	memset(f, 0, KSMBD_RSRC_BLANK_LEN);
	put_unaligned_be32(256, f);		/* data offset */
	put_unaligned_be32(256, f + 4);		/* map offset */
	put_unaligned_be32(30, f + 12);		/* map length */
	memcpy(f + 16, note, strlen(note));
	memset(f + 16 + strlen(note), ' ', 3);
	memcpy(f + 256, f, 16);
	put_unaligned_be16(28, f + 256 + 24);	/* type list offset */
	put_unaligned_be16(30, f + 256 + 26);	/* name list offset */
	put_unaligned_be16(0xffff, f + 256 + 28);	/* no types */
}

static void rsrc_blank_test(struct kunit *test)
{
	u8 *f = kunit_kmalloc(test, KSMBD_RSRC_BLANK_LEN + 1, GFP_KERNEL);
	size_t i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	rsrc_blank_build(f);
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_rsrc_blank(f, KSMBD_RSRC_BLANK_LEN));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_rsrc_blank(f, 285));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_rsrc_blank(f, 287));

	/* A change in the header, the note or the map is a real fork */
	for (i = 0; i < KSMBD_RSRC_BLANK_LEN; i++) {
		bool checked = i < 16 + 43 || i >= 256;

		f[i] ^= 0x01;
		KUNIT_EXPECT_EQ_MSG(test,
				    ksmbd_apple_rsrc_blank(f, KSMBD_RSRC_BLANK_LEN),
				    !checked, "byte %zu", i);
		f[i] ^= 0x01;
	}
}

/* Any component that starts with "._", with either separator, and no other */
static void adouble_path_test(struct kunit *test)
{
	static const char * const yes[] = {
		"._a", "._", "d/._a", "d/e/._a", "d\\._a", "._d/a", "d/._e/f",
		"d//._a", "/._a",
	};
	static const char * const no[] = {
		"", "a", "a._b", "d/a._b", ".a", "_a", "d/.a", "d/_.a", "_",
		"..", "d/..", "d/.", "a/b/c", ". _a",
	};
	/* A directory entry's name ends at its length, not at a NUL */
	static const char entry[] = "ab/._c";
	int i;

	for (i = 0; i < ARRAY_SIZE(yes); i++)
		KUNIT_EXPECT_TRUE_MSG(test, ksmbd_apple_adouble_path(yes[i],
								     strlen(yes[i])),
				      "%s", yes[i]);
	for (i = 0; i < ARRAY_SIZE(no); i++)
		KUNIT_EXPECT_FALSE_MSG(test, ksmbd_apple_adouble_path(no[i],
								      strlen(no[i])),
				       "%s", no[i]);
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_adouble_path(entry, 2));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_adouble_path(entry, 4));
	KUNIT_EXPECT_TRUE(test, ksmbd_apple_adouble_path(entry, 5));
	KUNIT_EXPECT_FALSE(test, ksmbd_apple_adouble_path("._", 1));
}

static struct kunit_case apple_afp_test_cases[] = {
	KUNIT_CASE(afpinfo_init_test),
	KUNIT_CASE_PARAM(afpinfo_write_test, afp_write_gen_params),
	KUNIT_CASE(afpinfo_write_bad_test),
	KUNIT_CASE(afpinfo_finderinfo_test),
	KUNIT_CASE(afpinfo_read_len_test),
	KUNIT_CASE(afpinfo_stored_test),
	KUNIT_CASE(adouble_init_test),
	KUNIT_CASE(adouble_macos_test),
	KUNIT_CASE(adouble_netatalk_test),
	KUNIT_CASE_PARAM(adouble_bad_test, ad_bad_gen_params),
	KUNIT_CASE(adouble_entry_cap_test),
	KUNIT_CASE(adouble_skip_test),
	KUNIT_CASE(adouble_truncation_test),
	KUNIT_CASE(sfm_map_test),
	KUNIT_CASE(sfm_unmapped_test),
	KUNIT_CASE(xattrs_test),
	KUNIT_CASE(xattrs_none_test),
	KUNIT_CASE_PARAM(xattrs_bad_test, xattr_bad_gen_params),
	KUNIT_CASE(xattrs_count_test),
	KUNIT_CASE(xattrs_overlap_test),
	KUNIT_CASE(xattrs_max_test),
	KUNIT_CASE(rsrc_blank_test),
	KUNIT_CASE(adouble_path_test),
	{}
};

static struct kunit_suite apple_afp_test_suite = {
	.name = "ksmbd_apple_finder",
	.test_cases = apple_afp_test_cases,
};

kunit_test_suite(apple_afp_test_suite);

MODULE_DESCRIPTION("KUnit tests for the ksmbd Finder metadata formats");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
