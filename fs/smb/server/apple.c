// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Apple SMB2 extensions ("AAPL" create context) for macOS clients.
 *
 * A macOS client sends an AAPL create context carrying a kAAPL_SERVER_QUERY
 * on the first CREATE of a mount. The reply tells it which Apple extensions
 * the server implements (server capabilities), what the volume supports
 * (volume capabilities) and which icon Finder shows for the server (model
 * string). The negotiated state lives in struct ksmbd_conn and holds for
 * the life of the connection.
 */

#include <linux/nls.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "glob.h"
#include "apple.h"
#include "ksmbd_work.h"
#include "mgmt/user_session.h"
#include "oplock.h"
#include "smb2pdu.h"

/* kAAPL_SERVER_QUERY request data: CommandCode, Reserved, bitmap, caps */
#define AAPL_QUERY_LEN		sizeof(struct aapl_server_query_req)
/* Reply data before the optional fields: CommandCode, Reserved, bitmap */
#define AAPL_RSP_FIXED_LEN	16
#define AAPL_RSP_DATA_OFFSET	offsetof(struct create_aapl_rsp, cmd)
#define AAPL_MODEL_DEFAULT	"Xserve"

/* Model string sent to clients; set once at server startup */
static char aapl_model[AAPL_MODEL_MAX_CHARS + 1] = AAPL_MODEL_DEFAULT;

/**
 * ksmbd_aapl_parse_query() - parse the data of an AAPL create context
 * @data:  context data
 * @len:   context data length
 * @query: the parsed request
 *
 * Only kAAPL_SERVER_QUERY is implemented; its data is exactly 24 bytes.
 * Reserved is not checked, as Samba does not check it either.
 *
 * Return: 0, or -EINVAL if @data is not a server query
 */
VISIBLE_IF_KUNIT int ksmbd_aapl_parse_query(const void *data, unsigned int len,
					    struct ksmbd_aapl_query *query)
{
	const struct aapl_server_query_req *req = data;

	if (len != AAPL_QUERY_LEN)
		return -EINVAL;
	if (le32_to_cpu(req->cmd) != SMB2_CRTCTX_AAPL_SERVER_QUERY)
		return -EINVAL;

	query->req_bitmap = le64_to_cpu(req->req_bitmap);
	query->client_caps = le64_to_cpu(req->client_caps);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_aapl_parse_query);

/**
 * ksmbd_aapl_find_query() - find and parse the AAPL context of a CREATE
 * @req:   CREATE request, already checked by ksmbd_smb2_check_message()
 * @query: the parsed request
 *
 * Return: 0 if a server query was found, -ENOENT if the request has no
 * AAPL context, -EINVAL if the context list or the AAPL context is
 * malformed
 */
VISIBLE_IF_KUNIT int ksmbd_aapl_find_query(struct smb2_create_req *req,
					   struct ksmbd_aapl_query *query)
{
	struct create_context *cc;

	if (!req->CreateContextsOffset)
		return -ENOENT;

	cc = smb2_find_context_vals(req, SMB2_CREATE_AAPL, SMB2_CREATE_AAPL_LEN);
	if (IS_ERR(cc))
		return PTR_ERR(cc);
	if (!cc)
		return -ENOENT;

	/* smb2_find_context_vals() checked that the data lies in the context */
	return ksmbd_aapl_parse_query((char *)cc + le16_to_cpu(cc->DataOffset),
				      le32_to_cpu(cc->DataLength), query);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_aapl_find_query);

/**
 * ksmbd_aapl_negotiate() - decide the reply to a server query
 * @query:     the client's request
 * @full_sync: the share honours F_FULLFSYNC (time machine shares)
 * @model:     model string to report
 * @reply:     the reply to send
 *
 * The reply bitmap is the request bitmap limited to the three fields
 * ksmbd knows. UNIX_BASED, OSX_COPYFILE and NFS_ACE are always
 * advertised: clients older than the NFS_ACE bit do not set it, yet read
 * the ACEs when the server offers them.
 * READ_DIR_ATTR is advertised only to a client that asked for it, and a
 * client that can do READ_DIR_ATTR_V2 gets V2 only, as Apple's client
 * expects from a V2-capable server.
 */
VISIBLE_IF_KUNIT void ksmbd_aapl_negotiate(const struct ksmbd_aapl_query *query,
					   bool full_sync, const char *model,
					   struct ksmbd_aapl_reply *reply)
{
	reply->bitmap = query->req_bitmap & (SMB2_CRTCTX_AAPL_SERVER_CAPS |
					     SMB2_CRTCTX_AAPL_VOLUME_CAPS |
					     SMB2_CRTCTX_AAPL_MODEL_INFO);
	reply->server_caps = SMB2_CRTCTX_AAPL_UNIX_BASED |
			     SMB2_CRTCTX_AAPL_SUPPORTS_OSX_COPYFILE |
			     SMB2_CRTCTX_AAPL_SUPPORTS_NFS_ACE;
	if (query->client_caps & SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR_V2)
		reply->server_caps |= SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR_V2;
	else if (query->client_caps & SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR)
		reply->server_caps |= SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR;
	reply->volume_caps = full_sync ? SMB2_CRTCTX_AAPL_FULL_SYNC : 0;
	reply->model = model;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_aapl_negotiate);

/**
 * ksmbd_aapl_build_rsp() - encode a server query reply create context
 * @buf:   destination, AAPL_RSP_MAX_SIZE bytes
 * @reply: what to encode
 *
 * Each optional field follows only when its bit is set in the reply
 * bitmap, in the order server caps, volume caps, model info: this is how
 * the macOS client walks the reply. The model string is sent in UTF-16LE
 * without a terminating NUL, preceded by Pad2 and its byte length, and is
 * cut at AAPL_MODEL_MAX_CHARS UTF-16 units; a string that is not valid
 * UTF-8 is sent as an empty one. DataLength is the exact length of the
 * fields and the context is padded with zeroes to 8 bytes.
 *
 * Return: the size of the create context, at most AAPL_RSP_MAX_SIZE
 */
VISIBLE_IF_KUNIT unsigned int ksmbd_aapl_build_rsp(char *buf,
						   const struct ksmbd_aapl_reply *reply)
{
	struct create_context_hdr *hdr = (struct create_context_hdr *)buf;
	u8 *data = buf + AAPL_RSP_DATA_OFFSET;
	unsigned int len = AAPL_RSP_FIXED_LEN;

	memset(buf, 0, AAPL_RSP_MAX_SIZE);
	hdr->NameOffset = cpu_to_le16(offsetof(struct create_aapl_rsp, Name));
	hdr->NameLength = cpu_to_le16(SMB2_CREATE_AAPL_LEN);
	hdr->DataOffset = cpu_to_le16(AAPL_RSP_DATA_OFFSET);
	memcpy(buf + offsetof(struct create_aapl_rsp, Name), SMB2_CREATE_AAPL,
	       SMB2_CREATE_AAPL_LEN);

	put_unaligned_le32(SMB2_CRTCTX_AAPL_SERVER_QUERY, data);
	put_unaligned_le64(reply->bitmap, data + 8);
	if (reply->bitmap & SMB2_CRTCTX_AAPL_SERVER_CAPS) {
		put_unaligned_le64(reply->server_caps, data + len);
		len += 8;
	}
	if (reply->bitmap & SMB2_CRTCTX_AAPL_VOLUME_CAPS) {
		put_unaligned_le64(reply->volume_caps, data + len);
		len += 8;
	}
	if (reply->bitmap & SMB2_CRTCTX_AAPL_MODEL_INFO) {
		wchar_t model[AAPL_MODEL_MAX_CHARS];
		int n;

		n = utf8s_to_utf16s(reply->model,
				    strnlen(reply->model, AAPL_MODEL_MAX_CHARS),
				    UTF16_LITTLE_ENDIAN, model,
				    AAPL_MODEL_MAX_CHARS);
		if (n < 0)
			n = 0;
		/* Pad2 stays zero */
		put_unaligned_le32(n * sizeof(wchar_t), data + len + 4);
		memcpy(data + len + 8, model, n * sizeof(wchar_t));
		len += 8 + n * sizeof(wchar_t);
	}
	hdr->DataLength = cpu_to_le32(len);

	return ALIGN(AAPL_RSP_DATA_OFFSET + len, 8);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_aapl_build_rsp);

/*
 * Record that the client negotiated AAPL (and, unless @rda is
 * KSMBD_APPLE_RDA_NONE, which READDIR_ATTR) on @conn and on every other
 * channel of @sess: a multichannel client negotiates on one channel and
 * sends its requests on all of them, and an Apple client's request must
 * not turn into a Windows client's on another channel (a copyfile without
 * chunks would copy nothing). The session keeps the state for channels
 * that bind later (ksmbd_apple_channel_joined()). chann_lock orders this
 * against a channel joining: it reads the session's state under the lock
 * held for writing. Read locklessly by the connections' other requests.
 */
static void aapl_publish(struct ksmbd_session *sess, struct ksmbd_conn *conn,
			 u8 rda)
{
	struct channel *chann;
	unsigned long index;

	WRITE_ONCE(conn->is_aapl, true);
	if (rda != KSMBD_APPLE_RDA_NONE)
		WRITE_ONCE(conn->aapl_readdir_attr, rda);
	if (!sess)
		return;

	down_read(&sess->chann_lock);
	WRITE_ONCE(sess->is_aapl, true);
	if (rda != KSMBD_APPLE_RDA_NONE)
		WRITE_ONCE(sess->aapl_readdir_attr, rda);
	xa_for_each(&sess->ksmbd_chann_list, index, chann) {
		WRITE_ONCE(chann->conn->is_aapl, true);
		if (rda != KSMBD_APPLE_RDA_NONE)
			WRITE_ONCE(chann->conn->aapl_readdir_attr, rda);
	}
	up_read(&sess->chann_lock);
}

/**
 * ksmbd_apple_channel_joined() - give a new channel its session's AAPL state
 * @sess: the session, its chann_lock held for writing by the caller
 * @conn: the connection that just became a channel of @sess
 *
 * A channel that binds to a session on which the client negotiated AAPL
 * is an Apple client's channel from its first request.
 */
void ksmbd_apple_channel_joined(struct ksmbd_session *sess,
				struct ksmbd_conn *conn)
{
	u8 rda;

	lockdep_assert_held_write(&sess->chann_lock);
	if (READ_ONCE(sess->is_aapl))
		WRITE_ONCE(conn->is_aapl, true);
	rda = READ_ONCE(sess->aapl_readdir_attr);
	if (rda != KSMBD_APPLE_RDA_NONE)
		WRITE_ONCE(conn->aapl_readdir_attr, rda);
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_channel_joined);

/**
 * ksmbd_apple_parse_create() - handle the AAPL context of a CREATE request
 * @work:  the CREATE, on its connection and session
 * @share: share of the tree connection
 * @req:   the CREATE request
 * @ao:    per-CREATE AAPL state, zero-initialised by the caller
 *
 * Called before the path lookup, so a malformed context fails the CREATE
 * before anything is opened or created. On a share with the Apple
 * extensions a context that is not a well-formed server query fails the
 * create with STATUS_INVALID_PARAMETER, as Samba's vfs_fruit does; other
 * shares ignore it, as Windows ignores unknown contexts. A well-formed
 * query marks the connection, and every channel of its session, as an
 * Apple client's on any share (see aapl_publish()), and on a share with
 * the Apple extensions asks for a reply.
 *
 * Return: 0, or -EINVAL to fail the CREATE
 */
int ksmbd_apple_parse_create(struct ksmbd_work *work,
			     struct ksmbd_share_config *share,
			     struct smb2_create_req *req,
			     struct ksmbd_apple_open *ao)
{
	int rc;

	rc = ksmbd_aapl_find_query(req, &ao->query);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return ksmbd_apple_share(share) ? rc : 0;

	aapl_publish(work->sess, work->conn, KSMBD_APPLE_RDA_NONE);
	ao->reply = ksmbd_apple_share(share);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_parse_create);

/**
 * __ksmbd_apple_create_rsp() - append the AAPL reply to a CREATE response
 * @work:  the CREATE, on its connection and session
 * @share: share of the tree connection
 * @ao:    per-CREATE AAPL state from ksmbd_apple_parse_create(), with
 *         @ao->reply set
 * @buf:   where the create context goes, AAPL_RSP_MAX_SIZE bytes
 *
 * Records on the connection, and every channel of its session, whether
 * directory listings use READDIR_ATTR entries. Called through
 * ksmbd_apple_create_rsp().
 *
 * Return: the size of the context written
 */
unsigned int __ksmbd_apple_create_rsp(struct ksmbd_work *work,
				      struct ksmbd_share_config *share,
				      struct ksmbd_apple_open *ao, char *buf)
{
	struct ksmbd_aapl_reply reply;

	ksmbd_aapl_negotiate(&ao->query, ksmbd_apple_share(share), aapl_model,
			     &reply);
	if (reply.server_caps & SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR_V2)
		aapl_publish(work->sess, work->conn, KSMBD_APPLE_RDA_V2);
	else if (reply.server_caps & SMB2_CRTCTX_AAPL_SUPPORTS_READ_DIR_ATTR)
		aapl_publish(work->sess, work->conn, KSMBD_APPLE_RDA_V1);

	return ksmbd_aapl_build_rsp(buf, &reply);
}
EXPORT_SYMBOL_IF_KUNIT(__ksmbd_apple_create_rsp);

/**
 * ksmbd_aapl_model_len() - how much of a model string is sent to clients
 * @model: model from ksmbd.mountd's startup request; need not be
 *         NUL-terminated within @size
 * @size:  size of the @model buffer
 *
 * The model is cut at AAPL_MODEL_MAX_CHARS bytes, before the first
 * character that would not fit whole, so that a multibyte character at
 * the limit does not spoil the rest.
 *
 * Return: the number of bytes of @model to send, or -EINVAL if they are
 * not UTF-8 (what lies beyond them is not looked at)
 */
VISIBLE_IF_KUNIT int ksmbd_aapl_model_len(const char *model, size_t size)
{
	size_t len = strnlen(model, size), n = 0;
	unicode_t u;
	int l;

	while (n < len && n < AAPL_MODEL_MAX_CHARS) {
		l = utf8_to_utf32((const u8 *)model + n, len - n, &u);
		if (l < 0)
			return -EINVAL;
		if (n + l > AAPL_MODEL_MAX_CHARS)
			break;
		n += l;
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_aapl_model_len);

/**
 * ksmbd_apple_set_model() - set the model string reported to clients
 * @model: model from ksmbd.mountd's startup request; need not be
 *         NUL-terminated within @size
 * @size:  size of the @model buffer
 *
 * An empty model selects the default. A model that is not valid UTF-8 is
 * refused, with a warning, in favour of the default.
 */
void ksmbd_apple_set_model(const char *model, size_t size)
{
	int len = ksmbd_aapl_model_len(model, size);

	if (len < 0)
		pr_warn("AAPL model string is not UTF-8, using \"%s\"\n",
			AAPL_MODEL_DEFAULT);
	if (len <= 0) {
		strscpy(aapl_model, AAPL_MODEL_DEFAULT);
		return;
	}
	memcpy(aapl_model, model, len);
	aapl_model[len] = '\0';
}
