// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KUnit tests for the time machine size limit: the property list reader
 * (Info.plist band size), the limit's xattr value and the size arithmetic.
 *
 * Property lists are copied into buffers of their exact length, without
 * a terminating NUL, so that KASAN reports any read past their end.
 */

#include <kunit/test.h>
#include <linux/string.h>

#include "apple.h"

/* ---- ksmbd_apple_plist_u64() ---- */

/* An Info.plist as macOS writes it into a sparse bundle */
static const char info_plist[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	"<plist version=\"1.0\">\n"
	"<dict>\n"
	"\t<key>CFBundleInfoDictionaryVersion</key>\n"
	"\t<string>6.0</string>\n"
	"\t<key>band-size</key>\n"
	"\t<integer>8388608</integer>\n"
	"\t<key>bundle-backingstore-version</key>\n"
	"\t<integer>1</integer>\n"
	"\t<key>diskimage-bundle-type</key>\n"
	"\t<string>com.apple.diskimage.sparsebundle</string>\n"
	"\t<key>size</key>\n"
	"\t<integer>1099511627776</integer>\n"
	"</dict>\n"
	"</plist>\n";

struct plist_case {
	const char *desc;
	const char *text;	/* NULL: info_plist */
	const char *key;
	int rc;
	u64 val;
};

static const struct plist_case plist_cases[] = {
	{ "Info.plist band size", NULL, "band-size", 0, 8388608 },
	{ "Info.plist size", NULL, "size", 0, 1099511627776ULL },
	{ "Info.plist key absent", NULL, "GlobalQuota", -ENOENT },
	{ "Info.plist key with a string value", NULL, "diskimage-bundle-type",
	  -EINVAL },
	{ "key is matched whole, not as a prefix", NULL, "band", -ENOENT },
	{
		"quota plist",
		"<plist version=\"1.0\"><dict><key>GlobalQuota</key><integer>500000000000</integer></dict></plist>",
		"GlobalQuota", 0, 500000000000ULL,
	},
	{
		"white space everywhere it may be",
		"<key>GlobalQuota</key>\r\n \t<integer>\n 42\r\n</integer>",
		"GlobalQuota", 0, 42,
	},
	{
		"largest 64-bit value",
		"<key>k</key><integer>18446744073709551615</integer>", "k", 0,
		U64_MAX,
	},
	{
		"one past the largest 64-bit value",
		"<key>k</key><integer>18446744073709551616</integer>", "k",
		-ERANGE,
	},
	{
		"very long number",
		"<key>k</key><integer>999999999999999999999999999999999999</integer>",
		"k", -ERANGE,
	},
	{ "leading zeroes", "<key>k</key><integer>000017</integer>", "k", 0, 17 },
	{ "zero", "<key>k</key><integer>0</integer>", "k", 0, 0 },
	{ "negative", "<key>k</key><integer>-1</integer>", "k", -EINVAL },
	{ "plus sign", "<key>k</key><integer>+1</integer>", "k", -EINVAL },
	{ "hexadecimal", "<key>k</key><integer>0x10</integer>", "k", -EINVAL },
	{ "empty integer", "<key>k</key><integer></integer>", "k", -EINVAL },
	{ "real, not integer", "<key>k</key><real>1.5</real>", "k", -EINVAL },
	{ "unterminated integer", "<key>k</key><integer>12", "k", -EINVAL },
	{ "cut inside the closing tag", "<key>k</key><integer>12</inte", "k",
	  -EINVAL },
	{ "cut after the key", "<key>k</key>", "k", -EINVAL },
	{ "cut inside the key", "<key>k</ke", "k", -ENOENT },
	{ "cut inside the opening tag", "<key>k</key><integ", "k", -EINVAL },
	{
		"something between key and value",
		"<key>k</key><!-- c --><integer>1</integer>", "k", -EINVAL,
	},
	{
		"first occurrence counts",
		"<key>k</key><integer>1</integer><key>k</key><integer>2</integer>",
		"k", 0, 1,
	},
	{
		"a longer key with the same start is skipped",
		"<key>kk</key><integer>1</integer><key>k</key><integer>2</integer>",
		"k", 0, 2,
	},
	{ "not a plist at all", "\x01\xff\xfe binary \x02", "k", -ENOENT },
	{ "empty file", "", "k", -ENOENT },
};

KUNIT_ARRAY_PARAM_DESC(plist, plist_cases, desc);

static void tm_plist_test(struct kunit *test)
{
	const struct plist_case *c = test->param_value;
	const char *text = c->text ?: info_plist;
	size_t len = c->text ? strlen(c->text) : sizeof(info_plist) - 1;
	u64 val = 0x5a5a5a5a5a5a5a5aULL;
	char *buf;

	buf = kunit_kmalloc(test, len ?: 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memcpy(buf, text, len);

	KUNIT_EXPECT_EQ(test, ksmbd_apple_plist_u64(buf, len, c->key, &val),
			c->rc);
	if (!c->rc)
		KUNIT_EXPECT_EQ(test, val, c->val);
	else
		KUNIT_EXPECT_EQ(test, val, 0x5a5a5a5a5a5a5a5aULL);
}

/* A huge property list of keys that never match ends, and finds the last */
static void tm_plist_huge_test(struct kunit *test)
{
	static const char entry[] = "<key>x</key><integer>1</integer>";
	static const char last[] = "<key>band-size</key><integer>7</integer>";
	size_t n = 64 * 1024 / (sizeof(entry) - 1), i;
	size_t len = n * (sizeof(entry) - 1) + sizeof(last) - 1;
	char *buf = kunit_kmalloc(test, len, GFP_KERNEL);
	u64 val;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < n; i++)
		memcpy(buf + i * (sizeof(entry) - 1), entry, sizeof(entry) - 1);
	memcpy(buf + len - (sizeof(last) - 1), last, sizeof(last) - 1);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_plist_u64(buf, len, "band-size", &val), 0);
	KUNIT_EXPECT_EQ(test, val, 7);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_plist_u64(buf, len - 1, "band-size", &val),
			-EINVAL);
}

/* ---- ksmbd_apple_tm_parse_size() ---- */

struct size_case {
	const char *desc;
	const char *text;
	size_t len;		/* 0: strlen(text) */
	int rc;
	u64 size;
};

static const struct size_case size_cases[] = {
	{ "bytes", "1000000000000", 0, 0, 1000000000000ULL },
	{ "one byte", "1", 0, 0, 1 },
	{ "newline from echo", "32768\n", 0, 0, 32768 },
	{ "NUL from setfattr -v", "32768", 6, 0, 32768 },
	{ "K", "32K", 0, 0, 32768 },
	{ "lower-case k", "32k", 0, 0, 32768 },
	{ "M", "256M", 0, 0, 268435456 },
	{ "G with newline", "500G\n", 0, 0, 536870912000ULL },
	{ "T", "4T", 0, 0, 4398046511104ULL },
	{ "P", "1P", 0, 0, 1125899906842624ULL },
	{ "largest number", "18446744073709551615", 0, 0, U64_MAX },
	{ "largest P", "16383P", 0, 0, 18445618173802708992ULL },
	{ "one past 2^64", "18446744073709551616", 0, -ERANGE, 0 },
	{ "20 P overflows", "16384P", 0, -ERANGE, 0 },
	{ "zero", "0", 0, -EINVAL, 0 },
	{ "zero with unit", "0G", 0, -EINVAL, 0 },
	{ "empty", "", 0, -EINVAL, 0 },
	{ "only a newline", "\n", 0, -EINVAL, 0 },
	{ "negative", "-5", 0, -EINVAL, 0 },
	{ "leading space", " 5", 0, -EINVAL, 0 },
	{ "unit alone", "G", 0, -EINVAL, 0 },
	{ "unknown unit", "5E", 0, -EINVAL, 0 },
	{ "two units", "5GG", 0, -EINVAL, 0 },
	{ "text after the number", "5 bytes", 0, -EINVAL, 0 },
	{ "two newlines", "5\n\n", 0, -EINVAL, 0 },
	{ "NUL inside", "5\0005", 3, -EINVAL, 0 },
	{ "unit then NUL inside", "5G\0G", 4, -EINVAL, 0 },
	{ "hexadecimal", "0x100", 0, -EINVAL, 0 },
};

KUNIT_ARRAY_PARAM_DESC(size, size_cases, desc);

static void tm_parse_size_test(struct kunit *test)
{
	const struct size_case *c = test->param_value;
	size_t len = c->len ?: strlen(c->text);
	u64 size = 42;
	char *buf;

	/* Exactly the value's bytes: KASAN catches a read past them */
	buf = kunit_kmalloc(test, len ?: 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memcpy(buf, c->text, len);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_parse_size(buf, len, &size), c->rc);
	KUNIT_EXPECT_EQ(test, size, c->rc ? 42 : c->size);
}

/* ---- ksmbd_apple_tm_bundle_used() ---- */

#define MiB (1024ULL * 1024)

static void tm_bundle_used_test(struct kunit *test)
{
	/* A bundle that occupies what it claims counts for its claim */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(8 * MiB, 100, 800 * MiB),
			800 * MiB);
	/* smbtorture's bands: empty files, within one band of slack */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(8192, 2, 0), 16384);
	/* One band being written: claimed before it occupies anything */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(8 * MiB, 101, 800 * MiB),
			808 * MiB);
	/* A claim past what is occupied counts for occupied + 8 MiB */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(1ULL << 62, 4, 4096),
			4096 + 8 * MiB);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(1024 * MiB, 10, 80 * MiB),
			88 * MiB);
	/* A product past 64 bits is bounded the same way */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(U64_MAX, 3, MiB),
			9 * MiB);
	/* No bands, nothing counted */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(8 * MiB, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(0, 1000, 0), 0);
	/* Everything saturates at U64_MAX */
	KUNIT_EXPECT_EQ(test, ksmbd_apple_tm_bundle_used(U64_MAX, 2, U64_MAX),
			U64_MAX);
	KUNIT_EXPECT_EQ(test,
			ksmbd_apple_tm_bundle_used(U64_MAX, 1, U64_MAX - 1),
			U64_MAX);
}

/* ---- ksmbd_apple_tm_limit() ---- */

struct limit_case {
	const char *desc;
	u64 fs_total, fs_caller, fs_actual;	/* bytes */
	u64 max_size, used;
	u64 total, caller, actual;		/* 1 KiB units */
};

#define GiB (1024ULL * 1024 * 1024)
#define TiB (1024 * GiB)

static const struct limit_case limit_cases[] = {
	{
		/* smbtorture's Timemachine-volsize */
		"32K limit, two 8K bands", 512 << 20, 512 << 20, 512 << 20,
		32 * 1024, 2 * 8192, 32, 16, 16,
	},
	{
		"32K limit, no bundle", 512 << 20, 512 << 20, 512 << 20,
		32 * 1024, 0, 32, 32, 32,
	},
	{
		"bundles past the limit give no free space", 4 * TiB, 2 * TiB,
		3 * TiB, 100 * GiB, 120 * GiB, 100 * GiB / 1024, 0, 0,
	},
	{
		"limit larger than the disk", 100 * GiB, 10 * GiB, 20 * GiB,
		1000 * GiB, 50 * GiB, 100 * GiB / 1024, 10 * GiB / 1024,
		20 * GiB / 1024,
	},
	{
		"disk fuller than the limit allows", 4 * TiB, GiB, GiB,
		TiB, 10 * GiB, TiB / 1024, GiB / 1024, GiB / 1024,
	},
	{
		"sizes round down to whole units", 512 << 20, 512 << 20,
		512 << 20, 10 * 1024 + 1023, 1, 10, 10, 10,
	},
	{
		"largest sizes", U64_MAX, U64_MAX, U64_MAX, U64_MAX, 0,
		U64_MAX / 1024, U64_MAX / 1024, U64_MAX / 1024,
	},
	{
		"everything used", U64_MAX, U64_MAX, U64_MAX, U64_MAX, U64_MAX,
		U64_MAX / 1024, 0, 0,
	},
};

KUNIT_ARRAY_PARAM_DESC(limit, limit_cases, desc);

static void tm_limit_test(struct kunit *test)
{
	const struct limit_case *c = test->param_value;
	struct ksmbd_apple_fs_size sz = {
		.total = c->fs_total,
		.caller_avail = c->fs_caller,
		.actual_avail = c->fs_actual,
		.sectors_per_unit = 1,
		.bytes_per_sector = 4096,
	};

	ksmbd_apple_tm_limit(&sz, c->max_size, c->used);
	KUNIT_EXPECT_EQ(test, sz.total, c->total);
	KUNIT_EXPECT_EQ(test, sz.caller_avail, c->caller);
	KUNIT_EXPECT_EQ(test, sz.actual_avail, c->actual);
	KUNIT_EXPECT_EQ(test, sz.sectors_per_unit, 2);
	KUNIT_EXPECT_EQ(test, sz.bytes_per_sector, 512);
}

static struct kunit_case ksmbd_tm_test_cases[] = {
	KUNIT_CASE_PARAM(tm_plist_test, plist_gen_params),
	KUNIT_CASE(tm_plist_huge_test),
	KUNIT_CASE_PARAM(tm_parse_size_test, size_gen_params),
	KUNIT_CASE(tm_bundle_used_test),
	KUNIT_CASE_PARAM(tm_limit_test, limit_gen_params),
	{}
};

static struct kunit_suite ksmbd_tm_test_suite = {
	.name = "ksmbd_apple_time_machine",
	.test_cases = ksmbd_tm_test_cases,
};

kunit_test_suite(ksmbd_tm_test_suite);

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for the time machine size limit of ksmbd");
MODULE_LICENSE("GPL");
