/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Apple SMB2 extensions ("AAPL" create context) for macOS clients.
 *
 * Everything here compiles to nothing when CONFIG_SMB_SERVER_APPLE is off:
 * callers use the inline helpers and stubs below, never #ifdef.
 */

#ifndef __KSMBD_APPLE_H__
#define __KSMBD_APPLE_H__

#include <linux/types.h>

#include "connection.h"
#include "mgmt/share_config.h"

struct smb2_create_req;

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

#if IS_ENABLED(CONFIG_SMB_SERVER_APPLE)

int ksmbd_apple_parse_create(struct ksmbd_conn *conn,
			     struct ksmbd_share_config *share,
			     struct smb2_create_req *req,
			     struct ksmbd_apple_open *ao);
unsigned int ksmbd_apple_create_rsp(struct ksmbd_conn *conn,
				    struct ksmbd_share_config *share,
				    struct ksmbd_apple_open *ao, char *buf);
void ksmbd_apple_set_model(const char *model, size_t size);

#else

static inline int ksmbd_apple_parse_create(struct ksmbd_conn *conn,
					   struct ksmbd_share_config *share,
					   struct smb2_create_req *req,
					   struct ksmbd_apple_open *ao)
{
	return 0;
}

static inline unsigned int ksmbd_apple_create_rsp(struct ksmbd_conn *conn,
						  struct ksmbd_share_config *share,
						  struct ksmbd_apple_open *ao,
						  char *buf)
{
	return 0;
}

static inline void ksmbd_apple_set_model(const char *model, size_t size)
{
}

#endif /* CONFIG_SMB_SERVER_APPLE */

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

/**
 * ksmbd_conn_is_aapl() - has the client on @conn negotiated AAPL?
 * @conn: connection
 *
 * Return: true once a well-formed AAPL server query was seen on @conn
 */
static inline bool ksmbd_conn_is_aapl(struct ksmbd_conn *conn)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) && conn->is_aapl;
}

/**
 * ksmbd_conn_readdir_attr() - does @conn get enriched directory entries?
 * @conn: connection
 *
 * Return: true once READDIR_ATTR (V1 or V2) was negotiated on @conn
 */
static inline bool ksmbd_conn_readdir_attr(struct ksmbd_conn *conn)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) && conn->aapl_readdir_attr;
}

/**
 * ksmbd_conn_readdir_attr_v2() - did @conn negotiate READDIR_ATTR V2?
 * @conn: connection
 *
 * Return: true if directory entries for @conn carry the V2 flags field
 */
static inline bool ksmbd_conn_readdir_attr_v2(struct ksmbd_conn *conn)
{
	return IS_ENABLED(CONFIG_SMB_SERVER_APPLE) && conn->aapl_readdir_attr_v2;
}

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
#endif

#endif /* __KSMBD_APPLE_H__ */
