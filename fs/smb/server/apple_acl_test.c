// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KUnit tests for the NFS ACEs (S-1-5-88) of Apple clients: adding them
 * to the security descriptors ksmbd builds, and taking them out of the
 * ones clients send.
 *
 * Descriptors are copied into buffers of their exact size (or of the
 * room the code under test is told about), so that KASAN reports any
 * access past their end.
 */

#include <kunit/test.h>
#include <linux/unaligned.h>

#include "apple.h"
#include "smbacl.h"

#define SD_MAX		512
#define NFS_ACE_LEN	28	/* 8-byte ACE header, 8-byte SID header, 3 RIDs */

/* A security descriptor under construction */
struct sd {
	u8 buf[SD_MAX];
	unsigned int len;
	unsigned int dacl;	/* offset of the DACL, 0 if none */
};

static void sd_init(struct sd *sd, bool owner)
{
	memset(sd, 0, sizeof(*sd));
	put_unaligned_le16(1, sd->buf);			/* revision */
	put_unaligned_le16(SELF_RELATIVE, sd->buf + 2);	/* type */
	sd->len = sizeof(struct smb_ntsd);
	if (owner) {
		/* S-1-5-21-1-2-3-1000 as owner */
		static const u8 sid[] = { 1, 5, 0, 0, 0, 0, 0, 5,
					  21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
					  3, 0, 0, 0, 0xe8, 3, 0, 0 };

		put_unaligned_le32(sd->len, sd->buf + 4);
		memcpy(sd->buf + sd->len, sid, sizeof(sid));
		sd->len += sizeof(sid);
	}
}

static void sd_dacl(struct sd *sd)
{
	sd->dacl = sd->len;
	put_unaligned_le16(get_unaligned_le16(sd->buf + 2) | DACL_PRESENT,
			   sd->buf + 2);
	put_unaligned_le32(sd->dacl, sd->buf + 16);
	put_unaligned_le16(2, sd->buf + sd->len);	/* revision */
	put_unaligned_le16(8, sd->buf + sd->len + 2);	/* size */
	sd->len += 8;
}

/* Append an ACE for S-<auth>-<rids...> to the DACL */
static void sd_ace(struct sd *sd, u8 type, u32 mask, u8 auth,
		   unsigned int nrids, const u32 *rids)
{
	u8 *p = sd->buf + sd->len;
	unsigned int size = 16 + 4 * nrids, i;

	p[0] = type;
	put_unaligned_le16(size, p + 2);
	put_unaligned_le32(mask, p + 4);
	p[8] = 1;
	p[9] = nrids;
	p[15] = auth;
	for (i = 0; i < nrids; i++)
		put_unaligned_le32(rids[i], p + 16 + 4 * i);
	sd->len += size;
	put_unaligned_le16(get_unaligned_le16(sd->buf + sd->dacl + 2) + size,
			   sd->buf + sd->dacl + 2);
	put_unaligned_le16(get_unaligned_le16(sd->buf + sd->dacl + 4) + 1,
			   sd->buf + sd->dacl + 4);
}

static void sd_nfs_ace(struct sd *sd, u32 kind, u32 id)
{
	u32 rids[] = { 88, kind, id };

	sd_ace(sd, ACCESS_DENIED_ACE_TYPE, 0, 5, 3, rids);
}

/* The allow ACEs ksmbd builds from a mode: owner, group, everyone */
static void sd_mode_aces(struct sd *sd)
{
	static const u32 owner[] = { 21, 1, 2, 3, 1000 };
	static const u32 group[] = { 22, 1000 };
	static const u32 everyone[] = { 0 };

	sd_ace(sd, ACCESS_ALLOWED_ACE_TYPE, 0x1f01ff, 5, 5, owner);
	sd_ace(sd, ACCESS_ALLOWED_ACE_TYPE, 0x1200a9, 5, 2, group);
	sd_ace(sd, ACCESS_ALLOWED_ACE_TYPE, 0x1200a9, 1, 1, everyone);
}

static struct smb_ntsd *sd_copy(struct kunit *test, const struct sd *sd,
				size_t room)
{
	u8 *p = kunit_kzalloc(test, room, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	memcpy(p, sd->buf, min_t(size_t, sd->len, room));
	return (struct smb_ntsd *)p;
}

static u16 dacl_size(const struct smb_ntsd *nt, const struct sd *sd)
{
	return get_unaligned_le16((u8 *)nt + sd->dacl + 2);
}

static u16 dacl_count(const struct smb_ntsd *nt, const struct sd *sd)
{
	return get_unaligned_le16((u8 *)nt + sd->dacl + 4);
}

/* The ACE for S-1-5-88-<kind>-<id>, as it must appear on the wire */
static void expect_nfs_ace(struct kunit *test, const u8 *p, u32 kind, u32 id)
{
	u8 want[NFS_ACE_LEN] = { 1, 0, NFS_ACE_LEN, 0, 0, 0, 0, 0,
				 1, 3, 0, 0, 0, 0, 0, 5, 88, 0, 0, 0 };

	put_unaligned_le32(kind, want + 20);
	put_unaligned_le32(id, want + 24);
	KUNIT_EXPECT_MEMEQ(test, p, want, NFS_ACE_LEN);
}

/* ---- ksmbd_apple_nfs_aces_add() ---- */

static void nfs_add_appends_three_test(struct kunit *test)
{
	struct smb_ntsd *nt;
	unsigned int len;
	struct sd sd;
	u8 *p;

	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	len = sd.len;
	nt = sd_copy(test, &sd, sd.len + KSMBD_APPLE_NFS_ACES_SIZE);

	KUNIT_ASSERT_EQ(test, ksmbd_apple_nfs_aces_add(nt, &len, sd.len +
			KSMBD_APPLE_NFS_ACES_SIZE, S_IFREG | 0644, 1000, 100), 0);
	KUNIT_EXPECT_EQ(test, len, sd.len + 3 * NFS_ACE_LEN);
	KUNIT_EXPECT_EQ(test, dacl_count(nt, &sd), 6);
	KUNIT_EXPECT_EQ(test, dacl_size(nt, &sd), sd.len - sd.dacl + 3 * NFS_ACE_LEN);
	/* What was there is untouched */
	KUNIT_EXPECT_MEMEQ(test, nt, sd.buf, sd.dacl + 2);
	KUNIT_EXPECT_MEMEQ(test, (u8 *)nt + sd.dacl + 6, sd.buf + sd.dacl + 6,
			   sd.len - sd.dacl - 6);
	p = (u8 *)nt + sd.len;
	expect_nfs_ace(test, p, 3, S_IFREG | 0644);
	expect_nfs_ace(test, p + NFS_ACE_LEN, 1, 1000);
	expect_nfs_ace(test, p + 2 * NFS_ACE_LEN, 2, 100);
}

static void nfs_add_replaces_stored_test(struct kunit *test)
{
	struct smb_ntsd *nt;
	struct sd sd, want;
	unsigned int len;
	u8 *p;

	/* An NT ACL stored with stale and duplicate NFS ACEs among others */
	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 1, 5);
	sd_mode_aces(&sd);
	sd_nfs_ace(&sd, 3, 0777);
	sd_nfs_ace(&sd, 1, 5);
	sd_init(&want, false);
	sd_dacl(&want);
	sd_mode_aces(&want);

	len = sd.len;
	nt = sd_copy(test, &sd, sd.len + KSMBD_APPLE_NFS_ACES_SIZE);
	KUNIT_ASSERT_EQ(test, ksmbd_apple_nfs_aces_add(nt, &len, sd.len +
			KSMBD_APPLE_NFS_ACES_SIZE, S_IFDIR | 0755, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, len, want.len + 3 * NFS_ACE_LEN);
	KUNIT_EXPECT_EQ(test, dacl_count(nt, &sd), 6);
	KUNIT_EXPECT_MEMEQ(test, (u8 *)nt + want.dacl + 8, want.buf + want.dacl + 8,
			   want.len - want.dacl - 8);
	p = (u8 *)nt + want.len;
	expect_nfs_ace(test, p, 3, S_IFDIR | 0755);
	expect_nfs_ace(test, p + NFS_ACE_LEN, 1, 0);
	expect_nfs_ace(test, p + 2 * NFS_ACE_LEN, 2, 0);
}

static void nfs_add_without_dacl_test(struct kunit *test)
{
	struct smb_ntsd *nt;
	unsigned int len;
	struct sd sd;

	sd_init(&sd, true);
	len = sd.len;
	nt = sd_copy(test, &sd, sd.len + KSMBD_APPLE_NFS_ACES_SIZE);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_nfs_aces_add(nt, &len, sd.len +
			KSMBD_APPLE_NFS_ACES_SIZE, 0644, 1, 1), 0);
	KUNIT_EXPECT_EQ(test, len, sd.len);
	KUNIT_EXPECT_MEMEQ(test, nt, sd.buf, sd.len);
}

static void nfs_add_no_room_test(struct kunit *test)
{
	struct smb_ntsd *nt;
	unsigned int len;
	struct sd sd;

	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	len = sd.len;
	nt = sd_copy(test, &sd, sd.len + KSMBD_APPLE_NFS_ACES_SIZE - 1);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_nfs_aces_add(nt, &len, sd.len +
			KSMBD_APPLE_NFS_ACES_SIZE - 1, 0644, 1, 1), -ENOSPC);
	KUNIT_EXPECT_EQ(test, len, sd.len);
}

static void nfs_add_dacl_not_last_test(struct kunit *test)
{
	struct smb_ntsd *nt;
	unsigned int len;
	struct sd sd;

	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	len = sd.len + 4;
	nt = sd_copy(test, &sd, len + KSMBD_APPLE_NFS_ACES_SIZE);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_nfs_aces_add(nt, &len, len +
			KSMBD_APPLE_NFS_ACES_SIZE, 0644, 1, 1), -EINVAL);
}

/*
 * ksmbd_apple_nfs_aces_take() on @nt, @len bytes: the result, with @len
 * updated; every byte it freed from @nt's tail must be zero
 */
static int nfs_take(struct kunit *test, struct smb_ntsd *nt, unsigned int *len,
		    umode_t *mode)
{
	unsigned int before = *len;
	int rc = ksmbd_apple_nfs_aces_take(nt, len, mode);

	KUNIT_EXPECT_LE(test, *len, before);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv((u8 *)nt + *len, 0, before - *len),
			    NULL);
	return rc;
}

/* ---- ksmbd_apple_nfs_aces_take() ---- */

static void nfs_take_mode_test(struct kunit *test)
{
	unsigned int len;
	struct smb_ntsd *nt;
	struct sd sd, want;
	umode_t mode = 0;

	/* What the macOS client sends to chmod 0750: our DACL, mode edited */
	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	sd_nfs_ace(&sd, 3, S_IFREG | 0750);
	sd_nfs_ace(&sd, 1, 1000);
	sd_nfs_ace(&sd, 2, 100);
	sd_init(&want, true);
	sd_dacl(&want);
	sd_mode_aces(&want);

	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode), 1);
	KUNIT_EXPECT_EQ(test, mode, 0750);
	/* What is left is stored: without the three ACEs */
	KUNIT_EXPECT_EQ(test, len, want.len);
	KUNIT_EXPECT_MEMEQ(test, nt, want.buf, want.len);
}

static void nfs_take_duplicates_test(struct kunit *test)
{
	unsigned int len;
	struct smb_ntsd *nt;
	struct sd sd, want;
	umode_t mode = 0;

	/* smbtorture's "NFS ACE entries": duplicates are collapsed */
	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 1, 1000);
	sd_nfs_ace(&sd, 3, 04644);
	sd_mode_aces(&sd);
	sd_nfs_ace(&sd, 3, 0600);
	sd_nfs_ace(&sd, 2, 100);
	sd_nfs_ace(&sd, 1, 1000);
	sd_nfs_ace(&sd, 2, 100);
	sd_init(&want, false);
	sd_dacl(&want);
	sd_mode_aces(&want);

	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode), 1);
	KUNIT_EXPECT_EQ(test, mode, 0644);
	KUNIT_EXPECT_EQ(test, len, want.len);
	KUNIT_EXPECT_MEMEQ(test, nt, want.buf, want.len);
}

static void nfs_take_only_nfs_test(struct kunit *test)
{
	unsigned int len;
	struct smb_ntsd *nt;
	umode_t mode = 0;
	struct sd sd;

	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 3, 0700);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	/* The owner is still to be set, the ACLs kept */
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode),
			KSMBD_APPLE_NFS_MODE | KSMBD_APPLE_NFS_KEEP_ACL);
	KUNIT_EXPECT_EQ(test, mode, 0700);
	/* No DACL is left to empty the permissions with */
	KUNIT_EXPECT_EQ(test, le32_to_cpu(nt->dacloffset), 0);
	KUNIT_EXPECT_FALSE(test, le16_to_cpu(nt->type) & DACL_PRESENT);
	KUNIT_EXPECT_EQ(test, dacl_count(nt, &sd), 0);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(nt->osidoffset),
			sizeof(struct smb_ntsd));
}

/* Finder's chmod: a DACL of a mode ACE only, nothing else */
static void nfs_take_mode_only_test(struct kunit *test)
{
	unsigned int len;
	struct smb_ntsd *nt;
	umode_t mode = 0;
	struct sd sd;

	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 3, S_IFREG | 0750);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode),
			KSMBD_APPLE_NFS_MODE | KSMBD_APPLE_NFS_KEEP_ACL);
	KUNIT_EXPECT_EQ(test, mode, 0750);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(nt->dacloffset), 0);
	KUNIT_EXPECT_FALSE(test, le16_to_cpu(nt->type) & DACL_PRESENT);

	/* With uid and gid ACEs beside it, as the client sends them back */
	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 3, 0600);
	sd_nfs_ace(&sd, 1, 1000);
	sd_nfs_ace(&sd, 2, 100);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode),
			KSMBD_APPLE_NFS_MODE | KSMBD_APPLE_NFS_KEEP_ACL);
	KUNIT_EXPECT_EQ(test, mode, 0600);

	/* An ordinary ACE beside it: a DACL to apply, not a chmod */
	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 3, 0600);
	sd_mode_aces(&sd);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode),
			KSMBD_APPLE_NFS_MODE);
	KUNIT_EXPECT_NE(test, le32_to_cpu(nt->dacloffset), 0);

	/* uid and gid ACEs only (a chown): no mode, the ACLs kept */
	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_nfs_ace(&sd, 1, 1000);
	sd_nfs_ace(&sd, 2, 100);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	mode = 0123;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode),
			KSMBD_APPLE_NFS_KEEP_ACL);
	KUNIT_EXPECT_EQ(test, mode, 0123);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(nt->dacloffset), 0);
}

static void nfs_take_none_test(struct kunit *test)
{
	unsigned int len;
	struct smb_ntsd *nt;
	umode_t mode = 0123;
	u32 short_rids[] = { 88, 3 };
	struct sd sd, want;

	/* No mode ACE: S-1-5-88-3 without its RID is dropped, not applied */
	sd_init(&sd, true);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	sd_ace(&sd, ACCESS_DENIED_ACE_TYPE, 0, 5, 2, short_rids);
	sd_init(&want, true);
	sd_dacl(&want);
	sd_mode_aces(&want);

	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode), 0);
	KUNIT_EXPECT_EQ(test, mode, 0123);
	KUNIT_EXPECT_EQ(test, len, want.len);
	KUNIT_EXPECT_MEMEQ(test, nt, want.buf, want.len);

	/* No DACL at all */
	sd_init(&sd, true);
	nt = sd_copy(test, &sd, sd.len);
	len = sd.len;
	KUNIT_EXPECT_EQ(test, nfs_take(test, nt, &len, &mode), 0);
	KUNIT_EXPECT_EQ(test, len, sd.len);
	KUNIT_EXPECT_MEMEQ(test, nt, sd.buf, sd.len);
}

/* Malformed descriptors: each is refused and left as it was */
struct nfs_bad_case {
	const char *desc;
	/* byte edits applied to a descriptor with a DACL of 3+1 ACEs */
	unsigned int off;
	u8 val;
	int cut;	/* bytes cut from the end */
};

/* sd_init(false) + sd_dacl(): header 20 bytes, DACL at 20, first ACE at 28 */
static const struct nfs_bad_case nfs_bad_cases[] = {
	{ "DACL offset past the end", 16, 0xf0 },
	{ "DACL offset inside the header", 16, 8 },
	{ "DACL size below its header", 22, 4 },
	{ "DACL size past the end", 23, 0x10 },
	{ "more ACEs than the DACL holds", 24, 9 },
	{ "ACE size past the DACL", 30, 0xff },
	{ "ACE size zero", 30, 0 },
	{ "ACE size below its SID", 30, 12 },
	{ "SID with 16 sub-authorities", 37, 16 },
	{ "descriptor cut inside the DACL", 0, 0, 20 },
	{ "descriptor cut inside its header", 0, 0, 0 },
};

KUNIT_ARRAY_PARAM_DESC(nfs_bad, nfs_bad_cases, desc);

static void nfs_malformed_test(struct kunit *test)
{
	const struct nfs_bad_case *c = test->param_value;
	struct smb_ntsd *nt;
	unsigned int len;
	umode_t mode = 0;
	struct sd sd;
	u8 *copy;

	sd_init(&sd, false);
	sd_dacl(&sd);
	sd_mode_aces(&sd);
	sd_nfs_ace(&sd, 3, 0755);
	if (c->off)
		sd.buf[c->off] = c->val;
	len = c->cut ? sd.len - c->cut : sd.len;
	if (!c->off && !c->cut)
		len = sizeof(struct smb_ntsd) - 1;

	nt = sd_copy(test, &sd, len);
	copy = kunit_kmalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, nt, len);
	KUNIT_EXPECT_EQ(test, ksmbd_apple_nfs_aces_take(nt, &len, &mode),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, mode, 0);
	KUNIT_EXPECT_EQ(test, len, c->cut ? sd.len - c->cut :
			!c->off ? sizeof(struct smb_ntsd) - 1 : sd.len);
	KUNIT_EXPECT_MEMEQ(test, nt, copy, len);
}

static struct kunit_case ksmbd_nfs_ace_test_cases[] = {
	KUNIT_CASE(nfs_add_appends_three_test),
	KUNIT_CASE(nfs_add_replaces_stored_test),
	KUNIT_CASE(nfs_add_without_dacl_test),
	KUNIT_CASE(nfs_add_no_room_test),
	KUNIT_CASE(nfs_add_dacl_not_last_test),
	KUNIT_CASE(nfs_take_mode_test),
	KUNIT_CASE(nfs_take_duplicates_test),
	KUNIT_CASE(nfs_take_only_nfs_test),
	KUNIT_CASE(nfs_take_mode_only_test),
	KUNIT_CASE(nfs_take_none_test),
	KUNIT_CASE_PARAM(nfs_malformed_test, nfs_bad_gen_params),
	{}
};

static struct kunit_suite ksmbd_nfs_ace_test_suite = {
	.name = "ksmbd_apple_nfs_ace",
	.test_cases = ksmbd_nfs_ace_test_cases,
};

kunit_test_suite(ksmbd_nfs_ace_test_suite);

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for the NFS ACEs of ksmbd's Apple extensions");
MODULE_LICENSE("GPL");
