// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KUnit tests for the AAPL create context: request parsing, the
 * negotiation decision, the reply encoding, and the state it leaves on
 * the channels of a session.
 *
 * Every buffer handed to the code under test is allocated at its exact
 * size, so that KASAN reports any read or write past its end.
 */

#include <kunit/test.h>
#include <linux/unaligned.h>

#include "apple.h"
#include "ksmbd_work.h"
#include "mgmt/share_config.h"
#include "mgmt/user_session.h"
#include "smb2pdu.h"

#define CAPS_ALL	(SMB2_CRTCTX_AAPL_SERVER_CAPS | \
			 SMB2_CRTCTX_AAPL_VOLUME_CAPS | \
			 SMB2_CRTCTX_AAPL_MODEL_INFO)
#define READ_DIR_ATTR	SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR
#define READ_DIR_ATTR_V2 SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR_V2
#define OSX_COPYFILE	SMB2_CRTCTX_AAPL_SUPPORTS_OSX_COPYFILE
#define UNIX_BASED	SMB2_CRTCTX_AAPL_UNIX_BASED
#define NFS_ACE		SMB2_CRTCTX_AAPL_SUPPORTS_NFS_ACE
#define FULL_SYNC	SMB2_CRTCTX_AAPL_FULL_SYNC

/* Server capabilities advertised to every client */
#define BASE_CAPS	(UNIX_BASED | OSX_COPYFILE | NFS_ACE)

/* Client capabilities sent by macOS and by smbtorture's vfs.fruit */
#define MACOS_CAPS	0x3f
#define TORTURE_CAPS	(READ_DIR_ATTR | UNIX_BASED | NFS_ACE)

/* ---- ksmbd_aapl_parse_query() ---- */

struct parse_case {
	const char *desc;
	u8 data[32];
	unsigned int len;
	int rc;
	u64 bitmap;
	u64 caps;
};

static const struct parse_case parse_cases[] = {
	{
		.desc = "macOS server query",
		.data = { 1, 0, 0, 0, 0, 0, 0, 0,  7, 0, 0, 0, 0, 0, 0, 0,
			  0x3f, 0, 0, 0, 0, 0, 0, 0 },
		.len = 24, .rc = 0, .bitmap = CAPS_ALL, .caps = MACOS_CAPS,
	},
	{
		.desc = "reserved field set is ignored",
		.data = { 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,  1, 0, 0, 0, 0, 0, 0, 0x80,
			  0, 0, 0, 0, 0, 0, 0, 0x80 },
		.len = 24, .rc = 0, .bitmap = 0x8000000000000001ULL,
		.caps = 0x8000000000000000ULL,
	},
	{ .desc = "empty data", .len = 0, .rc = -EINVAL },
	{
		.desc = "command only",
		.data = { 1, 0, 0, 0 },
		.len = 4, .rc = -EINVAL,
	},
	{
		.desc = "one byte short",
		.data = { 1, 0, 0, 0, 0, 0, 0, 0,  7 },
		.len = 23, .rc = -EINVAL,
	},
	{
		.desc = "one byte long",
		.data = { 1, 0, 0, 0, 0, 0, 0, 0,  7 },
		.len = 25, .rc = -EINVAL,
	},
	{
		.desc = "resolve id (16 bytes)",
		.data = { 2, 0, 0, 0, 0, 0, 0, 0,  0x2a },
		.len = 16, .rc = -EINVAL,
	},
	{
		.desc = "resolve id padded to 24 bytes",
		.data = { 2, 0, 0, 0, 0, 0, 0, 0,  0x2a },
		.len = 24, .rc = -EINVAL,
	},
	{
		.desc = "command 0",
		.data = { 0, 0, 0, 0, 0, 0, 0, 0,  7 },
		.len = 24, .rc = -EINVAL,
	},
	{
		.desc = "command 0xffffffff",
		.data = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,  7 },
		.len = 24, .rc = -EINVAL,
	},
	{
		.desc = "command 1 in the high half only",
		.data = { 0, 0, 1, 0, 0, 0, 0, 0,  7 },
		.len = 24, .rc = -EINVAL,
	},
};

KUNIT_ARRAY_PARAM_DESC(parse, parse_cases, desc);

static void aapl_parse_query_test(struct kunit *test)
{
	const struct parse_case *c = test->param_value;
	struct ksmbd_aapl_query q = { .req_bitmap = 0xdead, .client_caps = 0xbeef };
	u8 *data = kunit_kmalloc(test, max(c->len, 1U), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, data);
	memcpy(data, c->data, min_t(unsigned int, c->len, sizeof(c->data)));

	KUNIT_EXPECT_EQ(test, ksmbd_aapl_parse_query(data, c->len, &q), c->rc);
	if (!c->rc) {
		KUNIT_EXPECT_EQ(test, q.req_bitmap, c->bitmap);
		KUNIT_EXPECT_EQ(test, q.client_caps, c->caps);
	} else {
		/* A failed parse leaves the output alone */
		KUNIT_EXPECT_EQ(test, q.req_bitmap, 0xdead);
		KUNIT_EXPECT_EQ(test, q.client_caps, 0xbeef);
	}
}

/* ---- ksmbd_aapl_find_query(): the AAPL context inside a CREATE ---- */

#define CTX_OFF		sizeof(struct smb2_create_req)

/* macOS's 48-byte AAPL context, as in aapl-protocol.md 1.10 */
static const u8 macos_aapl_ctx[48] = {
	0x00, 0x00, 0x00, 0x00,  0x10, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x18, 0x00,  0x18, 0x00, 0x00, 0x00,
	'A', 'A', 'P', 'L', 0, 0, 0, 0,
	0x01, 0, 0, 0, 0, 0, 0, 0,
	0x07, 0, 0, 0, 0, 0, 0, 0,
	0x3f, 0, 0, 0, 0, 0, 0, 0,
};

/* A 24-byte MxAc request context (no data) */
static const u8 mxac_ctx[24] = {
	0x00, 0x00, 0x00, 0x00,  0x10, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x00,  0x00, 0x00, 0x00, 0x00,
	'M', 'x', 'A', 'c', 0, 0, 0, 0,
};

struct find_case {
	const char *desc;
	/* contexts: an optional MxAc, then an optional AAPL context */
	bool mxac_first;
	bool aapl;
	/* byte edits applied to the AAPL context, { offset, value } */
	struct { u8 off, val; } edit[4];
	unsigned int nedits;
	/* shorten CreateContextsLength by this much (the buffer too) */
	unsigned int cut;
	/* CreateContextsLength of 0 with a non-zero offset */
	bool no_contexts;
	int rc;
};

static const struct find_case find_cases[] = {
	{ .desc = "macOS AAPL context", .aapl = true, .rc = 0 },
	{ .desc = "AAPL after MxAc", .mxac_first = true, .aapl = true, .rc = 0 },
	{ .desc = "no create contexts", .no_contexts = true, .rc = -ENOENT },
	{ .desc = "MxAc only", .mxac_first = true, .rc = -ENOENT },
	{
		.desc = "name is not AAPL",
		.aapl = true, .edit = { { 19, 'X' } }, .nedits = 1, .rc = -ENOENT,
	},
	{
		.desc = "DataLength 16 (resolve id size)",
		.aapl = true, .edit = { { 12, 16 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "DataLength past the context",
		.aapl = true, .edit = { { 12, 32 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "DataLength 2^32-1",
		.aapl = true,
		.edit = { { 12, 0xff }, { 13, 0xff }, { 14, 0xff }, { 15, 0xff } },
		.nedits = 4, .rc = -EINVAL,
	},
	{
		.desc = "DataOffset not 8-aligned",
		.aapl = true, .edit = { { 10, 20 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "DataOffset inside the name",
		.aapl = true, .edit = { { 10, 16 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "DataOffset past the context",
		.aapl = true, .edit = { { 10, 0xf8 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "NameOffset not 16",
		.aapl = true, .edit = { { 4, 8 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "NameLength 2",
		.aapl = true, .edit = { { 6, 2 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "Next not 8-aligned",
		.aapl = true, .edit = { { 0, 4 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "Next past the list",
		.aapl = true, .edit = { { 0, 0x40 } }, .nedits = 1, .rc = -EINVAL,
	},
	{
		.desc = "context list truncated to its header",
		.aapl = true, .cut = 32, .rc = -EINVAL,
	},
	{
		.desc = "context list shorter than a header",
		.aapl = true, .cut = 40, .rc = -EINVAL,
	},
	{
		.desc = "data truncated by the list length",
		.aapl = true, .cut = 8, .rc = -EINVAL,
	},
	{
		.desc = "command resolve id",
		.aapl = true, .edit = { { 24, 2 } }, .nedits = 1, .rc = -EINVAL,
	},
};

KUNIT_ARRAY_PARAM_DESC(find, find_cases, desc);

static void aapl_find_query_test(struct kunit *test)
{
	const struct find_case *c = test->param_value;
	unsigned int len = (c->mxac_first ? sizeof(mxac_ctx) : 0) +
			   (c->aapl ? sizeof(macos_aapl_ctx) : 0) - c->cut;
	struct smb2_create_req *req;
	struct ksmbd_aapl_query q;
	u8 *ctx, *aapl;
	unsigned int i;

	req = kunit_kzalloc(test, CTX_OFF + len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);
	ctx = (u8 *)req + CTX_OFF;
	aapl = ctx;
	if (c->mxac_first) {
		memcpy(ctx, mxac_ctx, sizeof(mxac_ctx));
		if (c->aapl)
			ctx[0] = sizeof(mxac_ctx);	/* Next */
		aapl = ctx + sizeof(mxac_ctx);
	}
	if (c->aapl) {
		memcpy(aapl, macos_aapl_ctx, sizeof(macos_aapl_ctx) - c->cut);
		for (i = 0; i < c->nedits; i++)
			aapl[c->edit[i].off] = c->edit[i].val;
	}
	req->CreateContextsOffset = cpu_to_le32(c->no_contexts ? 0 : CTX_OFF);
	req->CreateContextsLength = cpu_to_le32(c->no_contexts ? 0 : len);

	KUNIT_EXPECT_EQ(test, ksmbd_aapl_find_query(req, &q), c->rc);
	if (!c->rc) {
		KUNIT_EXPECT_EQ(test, q.req_bitmap, CAPS_ALL);
		KUNIT_EXPECT_EQ(test, q.client_caps, MACOS_CAPS);
	}
}

/* ---- ksmbd_aapl_negotiate() ---- */

struct negotiate_case {
	const char *desc;
	u64 req_bitmap;
	u64 client_caps;
	bool full_sync;
	u64 bitmap;
	u64 server_caps;
	u64 volume_caps;
};

static const struct negotiate_case negotiate_cases[] = {
	{
		"macOS on a time machine share", CAPS_ALL, MACOS_CAPS, true,
		CAPS_ALL, BASE_CAPS | READ_DIR_ATTR_V2, FULL_SYNC,
	},
	{
		"smbtorture on a time machine share", CAPS_ALL, TORTURE_CAPS, true,
		CAPS_ALL, BASE_CAPS | READ_DIR_ATTR, FULL_SYNC,
	},
	{
		"client without READ_DIR_ATTR", CAPS_ALL, UNIX_BASED, true,
		CAPS_ALL, BASE_CAPS, FULL_SYNC,
	},
	{
		"client with V1 and V2", CAPS_ALL, READ_DIR_ATTR | READ_DIR_ATTR_V2, true,
		CAPS_ALL, BASE_CAPS | READ_DIR_ATTR_V2, FULL_SYNC,
	},
	{
		"share without full sync", CAPS_ALL, TORTURE_CAPS, false,
		CAPS_ALL, BASE_CAPS | READ_DIR_ATTR, 0,
	},
	{
		"empty request bitmap", 0, MACOS_CAPS, true,
		0, BASE_CAPS | READ_DIR_ATTR_V2, FULL_SYNC,
	},
	{
		"server caps only", SMB2_CRTCTX_AAPL_SERVER_CAPS, TORTURE_CAPS, true,
		SMB2_CRTCTX_AAPL_SERVER_CAPS, BASE_CAPS | READ_DIR_ATTR,
		FULL_SYNC,
	},
	{
		"volume caps only", SMB2_CRTCTX_AAPL_VOLUME_CAPS, 0, true,
		SMB2_CRTCTX_AAPL_VOLUME_CAPS, BASE_CAPS, FULL_SYNC,
	},
	{
		"model only", SMB2_CRTCTX_AAPL_MODEL_INFO, 0, false,
		SMB2_CRTCTX_AAPL_MODEL_INFO, BASE_CAPS, 0,
	},
	{
		"unknown bitmap bits are dropped", ~0ULL, 0, false,
		CAPS_ALL, BASE_CAPS, 0,
	},
	{
		"only unknown bitmap bits", ~(u64)CAPS_ALL, 0, false,
		0, BASE_CAPS, 0,
	},
};

KUNIT_ARRAY_PARAM_DESC(negotiate, negotiate_cases, desc);

static void aapl_negotiate_test(struct kunit *test)
{
	const struct negotiate_case *c = test->param_value;
	struct ksmbd_aapl_query q = {
		.req_bitmap = c->req_bitmap,
		.client_caps = c->client_caps,
	};
	struct ksmbd_aapl_reply r;

	ksmbd_aapl_negotiate(&q, c->full_sync, "MacSamba", &r);
	KUNIT_EXPECT_EQ(test, r.bitmap, c->bitmap);
	KUNIT_EXPECT_EQ(test, r.server_caps, c->server_caps);
	KUNIT_EXPECT_EQ(test, r.volume_caps, c->volume_caps);
}

/* ---- ksmbd_aapl_build_rsp(): byte-exact replies ---- */

/*
 * Every reply starts with the same 32 bytes but for DataLength (bytes
 * 12..15): the create context header, the name, and CommandCode=1 with
 * Reserved=0. The tables below give DataLength and the bytes that follow.
 */
static const u8 rsp_head[32] = {
	0x00, 0x00, 0x00, 0x00,  0x10, 0x00, 0x04, 0x00,	/* Next, Name* */
	0x00, 0x00, 0x18, 0x00,  0x00, 0x00, 0x00, 0x00,	/* DataOffset 24 */
	'A', 'A', 'P', 'L', 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* smbtorture's expectation: all fields, model "MacSamba", DataLength 56 */
static const u8 tail_all_macsamba[] = {
	0x07, 0, 0, 0, 0, 0, 0, 0,	/* ReplyBitmap */
	0x07, 0, 0, 0, 0, 0, 0, 0,	/* ServerCaps */
	0x04, 0, 0, 0, 0, 0, 0, 0,	/* VolumeCaps */
	0, 0, 0, 0,  16, 0, 0, 0,	/* Pad2, ModelStringLength */
	'M', 0, 'a', 0, 'c', 0, 'S', 0, 'a', 0, 'm', 0, 'b', 0, 'a', 0,
};

static const u8 tail_server_caps[] = {
	0x01, 0, 0, 0, 0, 0, 0, 0,
	0x07, 0, 0, 0, 0, 0, 0, 0,
};

static const u8 tail_volume_caps[] = {
	0x02, 0, 0, 0, 0, 0, 0, 0,
	0x04, 0, 0, 0, 0, 0, 0, 0,
};

static const u8 tail_caps_no_model[] = {
	0x03, 0, 0, 0, 0, 0, 0, 0,
	0x16, 0, 0, 0, 0, 0, 0, 0,
	0x04, 0, 0, 0, 0, 0, 0, 0,
};

static const u8 tail_model_xserve[] = {
	0x04, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0,  12, 0, 0, 0,
	'X', 0, 's', 0, 'e', 0, 'r', 0, 'v', 0, 'e', 0,
	0, 0, 0, 0,			/* padding to 8 */
};

static const u8 tail_nothing[] = {
	0x00, 0, 0, 0, 0, 0, 0, 0,
};

static const u8 tail_empty_model[] = {
	0x04, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0,  0, 0, 0, 0,
};

/* "Café": é is one UTF-16 unit, two bytes of UTF-8 */
static const u8 tail_utf8_model[] = {
	0x04, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0,  8, 0, 0, 0,
	'C', 0, 'a', 0, 'f', 0, 0xe9, 0,
};

/* The longest model, 31 UTF-16 units, fills AAPL_RSP_MAX_SIZE exactly */
static const u8 tail_long_model[] = {
	0x07, 0, 0, 0, 0, 0, 0, 0,
	0x06, 0, 0, 0, 0, 0, 0, 0,
	0x00, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0,  62, 0, 0, 0,
	'A', 0, 'B', 0, 'C', 0, 'D', 0, 'E', 0, 'F', 0, 'G', 0, 'H', 0,
	'I', 0, 'J', 0, 'K', 0, 'L', 0, 'M', 0, 'N', 0, 'O', 0, 'P', 0,
	'Q', 0, 'R', 0, 'S', 0, 'T', 0, 'U', 0, 'V', 0, 'W', 0, 'X', 0,
	'Y', 0, 'Z', 0, '0', 0, '1', 0, '2', 0, '3', 0, '4', 0,
	0, 0,				/* padding to 8 */
};

struct build_case {
	const char *desc;
	struct ksmbd_aapl_reply reply;
	u32 data_len;
	const u8 *tail;
	unsigned int tail_len;
};

static const struct build_case build_cases[] = {
	{
		"all fields, model MacSamba",
		{ CAPS_ALL, 0x07, 0x04, "MacSamba" }, 56,
		tail_all_macsamba, sizeof(tail_all_macsamba),
	},
	{
		"server caps only",
		{ SMB2_CRTCTX_AAPL_SERVER_CAPS, 0x07, 0x04, "MacSamba" }, 24,
		tail_server_caps, sizeof(tail_server_caps),
	},
	{
		"volume caps only",
		{ SMB2_CRTCTX_AAPL_VOLUME_CAPS, 0x07, 0x04, "MacSamba" }, 24,
		tail_volume_caps, sizeof(tail_volume_caps),
	},
	{
		"both caps, no model",
		{ 3, 0x16, 0x04, "MacSamba" }, 32, tail_caps_no_model, sizeof(tail_caps_no_model),
	},
	{
		"model only, padded to 8",
		{ SMB2_CRTCTX_AAPL_MODEL_INFO, 0x07, 0x04, "Xserve" }, 36,
		tail_model_xserve, sizeof(tail_model_xserve),
	},
	{
		"empty bitmap",
		{ 0, 0x07, 0x04, "MacSamba" }, 16, tail_nothing, sizeof(tail_nothing),
	},
	{
		"empty model",
		{ SMB2_CRTCTX_AAPL_MODEL_INFO, 0, 0, "" }, 24,
		tail_empty_model, sizeof(tail_empty_model),
	},
	{
		"model not valid UTF-8 is sent empty",
		{ SMB2_CRTCTX_AAPL_MODEL_INFO, 0, 0, "\xff\xfe" }, 24,
		tail_empty_model, sizeof(tail_empty_model),
	},
	{
		"UTF-8 model",
		{ SMB2_CRTCTX_AAPL_MODEL_INFO, 0, 0, "Caf\xc3\xa9" }, 32,
		tail_utf8_model, sizeof(tail_utf8_model),
	},
	{
		"31-character model",
		{ CAPS_ALL, 0x06, 0, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234" }, 102,
		tail_long_model, sizeof(tail_long_model),
	},
	{
		"longer model is cut at 31 characters",
		{ CAPS_ALL, 0x06, 0, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" }, 102,
		tail_long_model, sizeof(tail_long_model),
	},
};

KUNIT_ARRAY_PARAM_DESC(build, build_cases, desc);

static void aapl_build_rsp_test(struct kunit *test)
{
	const struct build_case *c = test->param_value;
	char *buf = kunit_kmalloc(test, AAPL_RSP_MAX_SIZE, GFP_KERNEL);
	u8 head[sizeof(rsp_head)];
	unsigned int size;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, 0xa5, AAPL_RSP_MAX_SIZE);
	memcpy(head, rsp_head, sizeof(head));
	put_unaligned_le32(c->data_len, head + 12);

	size = ksmbd_aapl_build_rsp(buf, &c->reply);
	KUNIT_EXPECT_EQ(test, size, sizeof(head) + c->tail_len);
	KUNIT_EXPECT_EQ(test, size % 8, 0);
	KUNIT_EXPECT_LE(test, size, AAPL_RSP_MAX_SIZE);
	KUNIT_EXPECT_MEMEQ(test, buf, head, sizeof(head));
	KUNIT_EXPECT_MEMEQ(test, buf + sizeof(head), c->tail, c->tail_len);
	/* DataOffset + DataLength, as encoded, stays inside the context */
	KUNIT_EXPECT_LE(test, get_unaligned_le16(buf + 10) +
			get_unaligned_le32(buf + 12), size);
}

/* Negotiation and encoding together, as smb2_open() uses them */
static void aapl_macos_round_trip_test(struct kunit *test)
{
	struct ksmbd_aapl_query q;
	struct ksmbd_aapl_reply r;
	char *buf = kunit_kmalloc(test, AAPL_RSP_MAX_SIZE, GFP_KERNEL);
	unsigned int size;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, ksmbd_aapl_parse_query(macos_aapl_ctx + 24, 24, &q), 0);
	ksmbd_aapl_negotiate(&q, true, "MacSamba", &r);
	size = ksmbd_aapl_build_rsp(buf, &r);

	KUNIT_EXPECT_EQ(test, size, 80);
	KUNIT_EXPECT_EQ(test, get_unaligned_le32(buf + 12), 56);	/* DataLength */
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(buf + 32), CAPS_ALL);
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(buf + 40),
			BASE_CAPS | READ_DIR_ATTR_V2);
	KUNIT_EXPECT_EQ(test, get_unaligned_le64(buf + 48), FULL_SYNC);
	KUNIT_EXPECT_EQ(test, get_unaligned_le32(buf + 60), 16);
	KUNIT_EXPECT_MEMEQ(test, buf + 64, "M\0a\0c\0S\0a\0m\0b\0a\0", 16);
}

/* ---- AAPL state across the channels of a session ---- */

static struct ksmbd_conn *channel_add(struct kunit *test,
				      struct ksmbd_session *sess)
{
	struct ksmbd_conn *conn = kunit_kzalloc(test, sizeof(*conn),
						GFP_KERNEL);
	struct channel *chann = kunit_kzalloc(test, sizeof(*chann),
					      GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, conn);
	KUNIT_ASSERT_NOT_NULL(test, chann);
	chann->conn = conn;
	KUNIT_ASSERT_EQ(test, xa_err(xa_store(&sess->ksmbd_chann_list,
					      (long)conn, chann, GFP_KERNEL)), 0);
	return conn;
}

static void channel_join(struct kunit *test, struct ksmbd_session *sess,
			 struct ksmbd_conn *conn)
{
	down_write(&sess->chann_lock);
	ksmbd_apple_channel_joined(sess, conn);
	up_write(&sess->chann_lock);
}

/*
 * macOS negotiates AAPL on one channel of a multichannel session: every
 * channel, those already bound and one that binds later, is an Apple
 * client's with READDIR_ATTR V2; a channel of another session is not.
 */
static void aapl_channels_test(struct kunit *test)
{
	struct ksmbd_session *sess = kunit_kzalloc(test, sizeof(*sess),
						   GFP_KERNEL);
	struct ksmbd_session *other = kunit_kzalloc(test, sizeof(*other),
						    GFP_KERNEL);
	struct ksmbd_share_config *share = kunit_kzalloc(test, sizeof(*share),
							 GFP_KERNEL);
	struct ksmbd_work *work = kunit_kzalloc(test, sizeof(*work),
						GFP_KERNEL);
	struct smb2_create_req *req = kunit_kzalloc(test, CTX_OFF +
						    sizeof(macos_aapl_ctx),
						    GFP_KERNEL);
	char *buf = kunit_kzalloc(test, AAPL_RSP_MAX_SIZE, GFP_KERNEL);
	struct ksmbd_conn *first, *second, *late, *stranger;
	struct ksmbd_apple_open ao = {};

	KUNIT_ASSERT_NOT_NULL(test, sess);
	KUNIT_ASSERT_NOT_NULL(test, other);
	KUNIT_ASSERT_NOT_NULL(test, share);
	KUNIT_ASSERT_NOT_NULL(test, work);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	init_rwsem(&sess->chann_lock);
	xa_init(&sess->ksmbd_chann_list);
	init_rwsem(&other->chann_lock);
	xa_init(&other->ksmbd_chann_list);
	share->flags = KSMBD_SHARE_FLAG_TIME_MACHINE;
	memcpy((u8 *)req + CTX_OFF, macos_aapl_ctx, sizeof(macos_aapl_ctx));
	req->CreateContextsOffset = cpu_to_le32(CTX_OFF);
	req->CreateContextsLength = cpu_to_le32(sizeof(macos_aapl_ctx));

	first = channel_add(test, sess);
	second = channel_add(test, sess);
	stranger = channel_add(test, other);
	work->conn = second;
	work->sess = sess;

	KUNIT_ASSERT_EQ(test, ksmbd_apple_parse_create(work, share, req, &ao), 0);
	KUNIT_EXPECT_TRUE(test, ao.reply);
	KUNIT_EXPECT_TRUE(test, first->is_aapl);
	KUNIT_EXPECT_TRUE(test, second->is_aapl);
	KUNIT_EXPECT_GT(test, ksmbd_apple_create_rsp(work, share, &ao, buf), 0);
	KUNIT_EXPECT_EQ(test, first->aapl_readdir_attr, KSMBD_APPLE_RDA_V2);
	KUNIT_EXPECT_EQ(test, second->aapl_readdir_attr, KSMBD_APPLE_RDA_V2);

	late = kunit_kzalloc(test, sizeof(*late), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, late);
	channel_join(test, sess, late);
	KUNIT_EXPECT_TRUE(test, late->is_aapl);
	KUNIT_EXPECT_EQ(test, late->aapl_readdir_attr, KSMBD_APPLE_RDA_V2);

	channel_join(test, other, stranger);
	KUNIT_EXPECT_FALSE(test, stranger->is_aapl);
	KUNIT_EXPECT_EQ(test, stranger->aapl_readdir_attr, KSMBD_APPLE_RDA_NONE);

	xa_destroy(&sess->ksmbd_chann_list);
	xa_destroy(&other->ksmbd_chann_list);
}

/* ---- ksmbd_aapl_model_len(): the model cut at a character ---- */

struct model_case {
	const char *desc;
	const char *model;
	size_t size;		/* of the buffer; 0: strlen + 1 */
	int len;
};

/* 27, 28, 29 and 30 ASCII bytes, to put a character across byte 31 */
#define A27 "abcdefghijklmnopqrstuvwxyz0"
#define A28 A27 "1"
#define A29 A28 "2"
#define A30 A29 "3"

static const struct model_case model_cases[] = {
	{ "MacSamba", "MacSamba", 0, 8 },
	{ "empty", "", 0, 0 },
	{ "31 bytes", A30 "4", 0, 31 },
	{ "40 bytes: cut at 31", A30 "456789abc", 0, 31 },
	{ "not NUL-terminated in its buffer", "MacSambaXXXX", 8, 8 },
	{ "2-byte character in bytes 30-31", A29 "\xc3\xa9", 0, 31 },
	{ "2-byte character across byte 31", A30 "\xc3\xa9", 0, 30 },
	{ "3-byte character in bytes 29-31", A28 "\xe2\x82\xac", 0, 31 },
	{ "3-byte character across byte 31", A29 "\xe2\x82\xac", 0, 29 },
	{ "4-byte character in bytes 28-31", A27 "\xf0\x9f\x98\x80", 0, 31 },
	{ "4-byte character across byte 31", A28 "\xf0\x9f\x98\x80", 0, 28 },
	{ "eleven 3-byte characters: ten fit", "\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	  "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 0, 30 },
	{ "not UTF-8: a lone continuation byte", "Mac\x80", 0, -EINVAL },
	{ "not UTF-8: a sequence cut by its end", "Mac\xc3", 0, -EINVAL },
	{ "not UTF-8: overlong '/'", "\xc0\xaf", 0, -EINVAL },
	{ "not UTF-8 only beyond byte 31", A30 "4\xff", 0, 31 },
};

KUNIT_ARRAY_PARAM_DESC(model, model_cases, desc);

static void aapl_model_len_test(struct kunit *test)
{
	const struct model_case *c = test->param_value;
	size_t size = c->size ?: strlen(c->model) + 1;

	KUNIT_EXPECT_EQ(test, ksmbd_aapl_model_len(c->model, size), c->len);
}

static struct kunit_case ksmbd_aapl_test_cases[] = {
	KUNIT_CASE_PARAM(aapl_parse_query_test, parse_gen_params),
	KUNIT_CASE_PARAM(aapl_find_query_test, find_gen_params),
	KUNIT_CASE_PARAM(aapl_negotiate_test, negotiate_gen_params),
	KUNIT_CASE_PARAM(aapl_build_rsp_test, build_gen_params),
	KUNIT_CASE(aapl_macos_round_trip_test),
	KUNIT_CASE(aapl_channels_test),
	KUNIT_CASE_PARAM(aapl_model_len_test, model_gen_params),
	{}
};

static struct kunit_suite ksmbd_aapl_test_suite = {
	.name = "ksmbd_apple_aapl",
	.test_cases = ksmbd_aapl_test_cases,
};

kunit_test_suite(ksmbd_aapl_test_suite);

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for the ksmbd AAPL create context");
MODULE_LICENSE("GPL");
