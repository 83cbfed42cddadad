// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NFS ACEs for Apple clients: the UNIX mode, owner and group of a file
 * carried in its security descriptor.
 *
 * A client that negotiated AAPL with kAAPL_SUPPORTS_NFS_ACE in the server
 * capabilities reads a file's mode, uid and gid from three ACEs whose
 * trustees are the SIDs S-1-5-88-3-<mode>, S-1-5-88-1-<uid> and
 * S-1-5-88-2-<gid>, and changes the mode (chmod) by sending the DACL back
 * with the S-1-5-88-3 ACE updated. These ACEs carry no rights: they are
 * ACCESS_DENIED ACEs with an empty mask, so clients that do not know them
 * lose nothing, and they are never stored.
 */

#include <linux/fs.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "apple.h"
#include "smbacl.h"

#define NFS_SID_RID		88	/* S-1-5-88: MS NFS and Apple */
#define NFS_SID_USER		1	/* S-1-5-88-1-<uid> */
#define NFS_SID_GROUP		2	/* S-1-5-88-2-<gid> */
#define NFS_SID_MODE		3	/* S-1-5-88-3-<mode> */
#define NFS_SID_SUBAUTHS	3
/* Header of an ACE and of its SID, before the sub-authorities */
#define ACE_FIXED_SIZE		(offsetof(struct smb_ace, sid) + CIFS_SID_BASE_SIZE)
#define NFS_ACE_SIZE		(ACE_FIXED_SIZE + NFS_SID_SUBAUTHS * sizeof(__le32))

static const u8 nt_authority[NUM_AUTHS] = { 0, 0, 0, 0, 0, 5 };

/* Is @ace, already checked to hold its SID, an S-1-5-88 ACE? */
static bool nfs_ace(const struct smb_ace *ace)
{
	return ace->sid.revision == 1 && ace->sid.num_subauth >= 1 &&
		!memcmp(ace->sid.authority, nt_authority, NUM_AUTHS) &&
		le32_to_cpu(ace->sid.sub_auth[0]) == NFS_SID_RID;
}

/*
 * The DACL of @sd, @len bytes long, with every ACE checked to lie inside
 * it and to hold its SID. NULL with *@err = 0 if there is no DACL.
 */
static struct smb_acl *sd_dacl(struct smb_ntsd *sd, unsigned int len,
			       int *err)
{
	unsigned int off, size, pos, i;
	struct smb_acl *dacl;

	*err = 0;
	if (len < sizeof(*sd)) {
		*err = -EINVAL;
		return NULL;
	}
	off = le32_to_cpu(sd->dacloffset);
	if (!off || !(le16_to_cpu(sd->type) & DACL_PRESENT))
		return NULL;
	if (off < sizeof(*sd) || off > len || len - off < sizeof(*dacl))
		goto bad;
	dacl = (struct smb_acl *)((u8 *)sd + off);
	size = le16_to_cpu(dacl->size);
	if (size < sizeof(*dacl) || size > len - off)
		goto bad;

	pos = sizeof(*dacl);
	for (i = 0; i < le16_to_cpu(dacl->num_aces); i++) {
		struct smb_ace *ace = (struct smb_ace *)((u8 *)dacl + pos);
		unsigned int ace_size;

		if (size - pos < ACE_FIXED_SIZE)
			goto bad;
		ace_size = le16_to_cpu(ace->size);
		if (ace_size > size - pos ||
		    ace->sid.num_subauth > SID_MAX_SUB_AUTHORITIES ||
		    ace_size < ACE_FIXED_SIZE +
			       ace->sid.num_subauth * sizeof(__le32))
			goto bad;
		pos += ace_size;
	}
	return dacl;
bad:
	*err = -EINVAL;
	return NULL;
}

/*
 * Remove the S-1-5-88 ACEs of @dacl (checked by sd_dacl()) in place.
 * If @mode is not NULL, the mode of the first S-1-5-88-3 ACE goes there.
 * Returns the number of bytes removed.
 */
static unsigned int strip_nfs_aces(struct smb_acl *dacl, u32 *mode,
				   bool *found)
{
	unsigned int size = le16_to_cpu(dacl->size);
	unsigned int num = le16_to_cpu(dacl->num_aces);
	unsigned int pos = sizeof(*dacl), removed = 0, i, kept = 0;

	for (i = 0; i < num; i++) {
		struct smb_ace *ace = (struct smb_ace *)((u8 *)dacl + pos);
		unsigned int ace_size = le16_to_cpu(ace->size);

		if (!nfs_ace(ace)) {
			pos += ace_size;
			kept++;
			continue;
		}
		if (mode && !*found && ace->sid.num_subauth == NFS_SID_SUBAUTHS &&
		    le32_to_cpu(ace->sid.sub_auth[1]) == NFS_SID_MODE) {
			*mode = le32_to_cpu(ace->sid.sub_auth[2]);
			*found = true;
		}
		memmove(ace, (u8 *)ace + ace_size, size - pos - ace_size);
		size -= ace_size;
		removed += ace_size;
	}
	dacl->size = cpu_to_le16(size);
	dacl->num_aces = cpu_to_le16(kept);
	return removed;
}

static void put_nfs_ace(u8 *p, u32 type, u32 id)
{
	struct smb_ace *ace = (struct smb_ace *)p;

	memset(ace, 0, NFS_ACE_SIZE);
	ace->type = ACCESS_DENIED;
	ace->size = cpu_to_le16(NFS_ACE_SIZE);
	ace->sid.revision = 1;
	ace->sid.num_subauth = NFS_SID_SUBAUTHS;
	memcpy(ace->sid.authority, nt_authority, NUM_AUTHS);
	ace->sid.sub_auth[0] = cpu_to_le32(NFS_SID_RID);
	ace->sid.sub_auth[1] = cpu_to_le32(type);
	ace->sid.sub_auth[2] = cpu_to_le32(id);
}

/**
 * ksmbd_apple_nfs_aces_add() - put the NFS ACEs into a security descriptor
 * @sd:   self-relative security descriptor whose DACL, if it has one, is
 *        its last part (as build_sec_desc() lays it out)
 * @len:  its length, updated
 * @room: size of the buffer holding @sd
 * @mode: the file's mode, file type bits included
 * @uid:  its owner
 * @gid:  its group
 *
 * S-1-5-88 ACEs already in the DACL (an NT ACL stored by a client) are
 * dropped, then exactly one mode, one uid and one gid ACE are appended,
 * in that order. A descriptor without a DACL is left alone.
 *
 * Return: 0, -EINVAL if @sd is malformed or its DACL is not its last
 * part, -ENOSPC if @room is too small
 */
int ksmbd_apple_nfs_aces_add(struct smb_ntsd *sd, unsigned int *len,
			     size_t room, umode_t mode, u32 uid, u32 gid)
{
	unsigned int size, end;
	struct smb_acl *dacl;
	int err;
	u8 *p;

	dacl = sd_dacl(sd, *len, &err);
	if (!dacl)
		return err;
	if ((u8 *)dacl - (u8 *)sd + le16_to_cpu(dacl->size) != *len)
		return -EINVAL;

	*len -= strip_nfs_aces(dacl, NULL, NULL);
	size = le16_to_cpu(dacl->size) + 3 * NFS_ACE_SIZE;
	if (size > U16_MAX || check_add_overflow(*len, 3 * NFS_ACE_SIZE, &end) ||
	    end > room)
		return -ENOSPC;

	p = (u8 *)sd + *len;
	put_nfs_ace(p, NFS_SID_MODE, mode);
	put_nfs_ace(p + NFS_ACE_SIZE, NFS_SID_USER, uid);
	put_nfs_ace(p + 2 * NFS_ACE_SIZE, NFS_SID_GROUP, gid);
	dacl->size = cpu_to_le16(size);
	le16_add_cpu(&dacl->num_aces, 3);
	*len = end;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_nfs_aces_add);

/**
 * ksmbd_apple_nfs_aces_take() - take the NFS ACEs out of a client's
 *                               security descriptor
 * @sd:   self-relative security descriptor sent by the client
 * @len:  its length; shortened by the ACEs taken out when the DACL is the
 *        descriptor's last part, so that they are not stored with it
 * @mode: where the permission bits of the first S-1-5-88-3 ACE go
 *
 * Every S-1-5-88 ACE is removed from the DACL in place, so that what is
 * applied and stored is an ordinary NT ACL; the bytes they leave free at
 * the end of the DACL are zeroed. If the DACL held nothing else, the
 * descriptor is left without a DACL (no DACL_PRESENT, no offset) and the
 * request is a chmod or chown, not an ACL to apply: the caller must not
 * pass it to set_info_sec(), which would take a descriptor without a DACL
 * for one without permissions, remove the file's POSIX ACLs and store an
 * NT ACL without a DACL, but apply it with ksmbd_apple_nfs_set_attrs().
 * S-1-5-88-1 and -2 ACEs are dropped, as Samba does: ownership is changed
 * through the owner and group SIDs.
 *
 * Return: a mask of KSMBD_APPLE_NFS_MODE (@mode was set) and
 * KSMBD_APPLE_NFS_KEEP_ACL (the DACL held only NFS ACEs: the file's ACLs
 * are to be kept), 0 if neither, or -EINVAL if @sd is malformed
 */
int ksmbd_apple_nfs_aces_take(struct smb_ntsd *sd, unsigned int *len,
			      umode_t *mode)
{
	unsigned int end, removed;
	struct smb_acl *dacl;
	bool found = false;
	int ret = 0;
	u32 m = 0;
	int err;

	dacl = sd_dacl(sd, *len, &err);
	if (!dacl)
		return err;
	end = (u8 *)dacl - (u8 *)sd + le16_to_cpu(dacl->size);
	removed = strip_nfs_aces(dacl, &m, &found);
	memset((u8 *)sd + end - removed, 0, removed);
	if (end == *len)
		*len -= removed;
	if (removed && !dacl->num_aces) {
		sd->dacloffset = 0;
		sd->type &= ~cpu_to_le16(DACL_PRESENT);
		ret |= KSMBD_APPLE_NFS_KEEP_ACL;
	}
	if (found) {
		*mode = m & 0777;
		ret |= KSMBD_APPLE_NFS_MODE;
	}
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(ksmbd_apple_nfs_aces_take);

/**
 * ksmbd_apple_nfs_set_mode() - apply the mode of an NFS ACE
 * @path: the file
 * @mode: permission bits
 *
 * Return: 0 or a negative error from notify_change()
 */
int ksmbd_apple_nfs_set_mode(const struct path *path, umode_t mode)
{
	struct inode *inode = d_inode(path->dentry);
	struct iattr attrs = { .ia_valid = ATTR_MODE | ATTR_CTIME };
	int rc;

	inode_lock(inode);
	attrs.ia_mode = (inode->i_mode & ~0777) | (mode & 0777);
	rc = notify_change(mnt_idmap(path->mnt), path->dentry, &attrs, NULL);
	inode_unlock(inode);
	return rc;
}

/**
 * ksmbd_apple_nfs_set_attrs() - apply a descriptor whose DACL held only
 *                               NFS ACEs
 * @path: the file
 * @sd:   the descriptor, as ksmbd_apple_nfs_aces_take() left it
 * @len:  its length
 * @take: what ksmbd_apple_nfs_aces_take() returned
 * @mode: the mode it found, if @take has KSMBD_APPLE_NFS_MODE
 *
 * The owner and group SIDs the descriptor holds, if they map to a uid and
 * gid, and the mode are set in one notify_change(); the file's POSIX ACLs
 * and stored NT ACL are left as they are.
 *
 * Return: 0 or a negative error
 */
int ksmbd_apple_nfs_set_attrs(const struct path *path, struct smb_ntsd *sd,
			      unsigned int len, int take, umode_t mode)
{
	struct mnt_idmap *idmap = mnt_idmap(path->mnt);
	struct inode *inode = d_inode(path->dentry);
	struct iattr attrs = { .ia_valid = ATTR_CTIME };
	struct smb_fattr fattr = {
		.cf_uid = INVALID_UID,
		.cf_gid = INVALID_GID,
	};
	int rc;

	/*
	 * parse_sec_desc() reads the owner and group only with DACL_PRESENT;
	 * without a DACL offset it parses no DACL and makes no ACL
	 */
	sd->type |= cpu_to_le16(DACL_PRESENT);
	rc = parse_sec_desc(idmap, sd, len, &fattr);
	posix_acl_release(fattr.cf_acls);
	posix_acl_release(fattr.cf_dacls);
	if (rc)
		return rc;
	if (uid_valid(fattr.cf_uid)) {
		attrs.ia_valid |= ATTR_UID;
		attrs.ia_uid = fattr.cf_uid;
	}
	if (gid_valid(fattr.cf_gid)) {
		attrs.ia_valid |= ATTR_GID;
		attrs.ia_gid = fattr.cf_gid;
	}
	if (!(take & KSMBD_APPLE_NFS_MODE) && attrs.ia_valid == ATTR_CTIME)
		return 0;

	inode_lock(inode);
	if (take & KSMBD_APPLE_NFS_MODE) {
		attrs.ia_valid |= ATTR_MODE;
		attrs.ia_mode = (inode->i_mode & ~0777) | (mode & 0777);
	}
	rc = notify_change(idmap, path->dentry, &attrs, NULL);
	inode_unlock(inode);
	return rc;
}
