#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end tests of ksmbd's Apple extensions beyond the AAPL context:
# NFS ACEs (the UNIX mode, uid and gid as S-1-5-88 ACEs), F_FULLFSYNC
# flushes, the time machine size limit, a backup-shaped run with a
# durable reconnect, Finder metadata and resource forks on disk,
# READDIR_ATTR listings, copyfile, stream names, "._" files macOS wrote
# and folder renames. Each check talks SMB to ksmbd and looks at the
# share's files directly, so it runs on the server (the test VM) as root,
# with the shares of ksmbd.conf. Output is TAP.

import hashlib
import os
import pwd
import random
import shutil
import struct
import subprocess
import sys
import time
import uuid

from impacket.smb3structs import (
    DELETE, FILE_APPEND_DATA, FILE_DELETE_CHILD, FILE_EXECUTE,
    FILE_NON_DIRECTORY_FILE, FILE_OPEN, FILE_OPEN_IF, FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_READ_EA, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FILE_WRITE_ATTRIBUTES, FILE_WRITE_DATA, FILE_WRITE_EA,
    GENERIC_ALL, READ_CONTROL, SMB2_FLUSH, SMB2Create, SMB2Flush, SMB2Write,
    SYNCHRONIZE, WRITE_DAC, WRITE_OWNER)

from aapl_wire import (
    AAPL_ALL_FIELDS, CREATE_REQ_FIXED_LEN, CTX_MXAC, chain, CREATE_RSP_FORMAT, SMB2_HEADER_LEN,
    PASSWORD, SERVER, USER, Client, CheckFailed, STATUS_SUCCESS,
    aapl_context, aapl_query, align, context, expect, parse_contexts,
    status_name)
import ksmbd_tap
from impacket import smb3 as impacket_smb3, smbconnection

# What a failed request raises, through SMBConnection or SMB3 directly
SessionError = (impacket_smb3.SessionError, smbconnection.SessionError)

SHARE_TM = 'tm'              # /srv/tm, tmpfs, time machine = yes
SHARE_TM_EXT4 = 'tm_ext4'    # /srv/ext4, ext4, time machine = yes
SHARE_TM_VETO = 'tm_veto'    # /srv/ext4, as tm_ext4 with veto files = /._*/
SHARE_TM_ACL = 'tm_acl'      # /srv/ext4/acl, time machine, acl_xattr
SHARE_PLAIN = 'plain'        # /srv/tm without the Apple extensions
SHARE_PATH = {SHARE_TM: '/srv/tm', SHARE_PLAIN: '/srv/tm',
              SHARE_TM_EXT4: '/srv/ext4', SHARE_TM_VETO: '/srv/ext4',
              SHARE_TM_ACL: '/srv/ext4/acl'}

SMB2_0_INFO_FILESYSTEM = 2
SMB2_0_INFO_SECURITY = 3
FS_SIZE_INFORMATION = 3
FS_FULL_SIZE_INFORMATION = 7
OWNER_SECINFO = 1
GROUP_SECINFO = 2
DACL_SECINFO = 4
ACCESS_DENIED_ACE_TYPE = 1
STATUS_INVALID_PARAMETER = 0xC000000D

RUN_TAG = 'apple-e2e-%d' % os.getpid()

# --- Security descriptors (MS-DTYP 2.4.6) ----------------------------------


def parse_sid(buf, off):
    rev, count = buf[off], buf[off + 1]
    auth = int.from_bytes(buf[off + 2:off + 8], 'big')
    subs = struct.unpack_from('<%dI' % count, buf, off + 8)
    return (rev, auth) + subs


def parse_dacl(sd):
    """The ACEs of a self-relative security descriptor's DACL, as tuples
    (type, flags, mask, sid, raw bytes)."""
    dacl_off = struct.unpack_from('<I', sd, 16)[0]
    if not dacl_off:
        return None
    _, _, size, count, _ = struct.unpack_from('<BBHHH', sd, dacl_off)
    expect(dacl_off + size <= len(sd), 'DACL runs past the descriptor')
    aces, pos = [], dacl_off + 8
    for _ in range(count):
        typ, flags, asize, mask = struct.unpack_from('<BBHI', sd, pos)
        aces.append((typ, flags, mask, parse_sid(sd, pos + 8),
                     sd[pos:pos + asize]))
        pos += asize
    expect(pos == dacl_off + size, 'DACL size %d, ACEs end at %d'
           % (size, pos - dacl_off))
    return aces


def nfs_aces(aces):
    return [a for a in aces if a[3][:3] == (1, 5, 88)]


def nfs_ace(kind, value):
    sid = struct.pack('<BB6sIII', 1, 3, (5).to_bytes(6, 'big'), 88, kind,
                      value)
    return struct.pack('<BBHI', ACCESS_DENIED_ACE_TYPE, 0, 8 + len(sid),
                       0) + sid


def build_sd(aces):
    """A self-relative descriptor with only a DACL made of raw ACEs."""
    body = b''.join(aces)
    dacl = struct.pack('<BBHHH', 2, 0, 8 + len(body), len(aces), 0) + body
    # Control: DACL_PRESENT | SELF_RELATIVE
    return struct.pack('<BBHIIII', 1, 0, 0x8004, 0, 0, 0, 20) + dacl


# --- Clients ---------------------------------------------------------------


def apple_client(share):
    """A connection that negotiated AAPL, as macOS does at mount time."""
    c = Client(share)
    reply = c.create('', aapl_context(aapl_query(AAPL_ALL_FIELDS)))
    expect(reply.status == STATUS_SUCCESS, 'AAPL CREATE failed: %s'
           % status_name(reply.status))
    return c


def open_file(c, name, disposition=FILE_OPEN, access=GENERIC_ALL):
    return c.smb3.create(c.tid, name, access,
                         FILE_SHARE_READ | FILE_SHARE_WRITE,
                         FILE_NON_DIRECTORY_FILE, disposition, 0)


def query_sd(c, fid):
    return bytes(c.smb3.queryInfo(c.tid, fid, infoType=SMB2_0_INFO_SECURITY,
                                  fileInfoClass=0, additionalInformation=
                                  OWNER_SECINFO | GROUP_SECINFO |
                                  DACL_SECINFO))


def set_dacl(c, fid, sd):
    c.smb3.setInfo(c.tid, fid, inputBlob=sd, infoType=SMB2_0_INFO_SECURITY,
                   fileInfoClass=0, additionalInformation=DACL_SECINFO)


def fs_size(c, info_class):
    """(total, caller avail, actual avail, sectors/unit, bytes/sector)."""
    fid = c.smb3.create(c.tid, '', FILE_READ_ATTRIBUTES,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, 0, FILE_OPEN, 0)
    try:
        buf = bytes(c.smb3.queryInfo(c.tid, fid,
                                     infoType=SMB2_0_INFO_FILESYSTEM,
                                     fileInfoClass=info_class))
    finally:
        c.smb3.close(c.tid, fid)
    if info_class == FS_SIZE_INFORMATION:
        total, avail, spu, bps = struct.unpack_from('<QQII', buf)
        return total, avail, avail, spu, bps
    return struct.unpack_from('<QQQII', buf)


def flush(c, fid, reserved1):
    req = SMB2Flush()
    req['Reserved1'] = reserved1
    req['FileID'] = fid
    return c._send(SMB2_FLUSH, req)['Status']


# --- NFS ACEs --------------------------------------------------------------


def check_nfs_aces_query():
    """Exactly one mode, one uid and one gid ACE, with the file's values,
    as ACCESS_DENIED ACEs with an empty mask, after the ordinary ones."""
    name = RUN_TAG + '-nfs-query'
    c = apple_client(SHARE_TM)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        path = os.path.join(SHARE_PATH[SHARE_TM], name)
        os.chmod(path, 0o640)
        st = os.stat(path)
        aces = parse_dacl(query_sd(c, fid))
        nfs = nfs_aces(aces)
        want = [(3, st.st_mode), (1, st.st_uid), (2, st.st_gid)]
        got = [(a[3][3], a[3][4]) for a in nfs]
        expect(got == want, 'NFS ACEs %r, expected %r' % (got, want))
        for a in nfs:
            expect(a[0] == ACCESS_DENIED_ACE_TYPE and a[1] == 0 and
                   a[2] == 0, 'NFS ACE %r is not DENIED/0/0' % (a[:3],))
        expect(aces[-3:] == nfs, 'NFS ACEs are not the last three')
        expect(len(aces) > 3, 'no ordinary ACE left beside the NFS ACEs')
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


# The bytes of an S-1-5-88 SID's head (revision 1, 3 sub-authorities,
# authority 5, first sub-authority 88) as they are stored
NFS_SID_HEAD = struct.pack('<BB6sI', 1, 3, (5).to_bytes(6, 'big'), 88)
NTACL_XATTR = 'security.NTACL'


def check_nfs_aces_chmod(share):
    """The macOS chmod: the DACL sent back with the mode ACE changed, and
    duplicate uid/gid ACEs added, sets the mode; a re-query shows exactly
    one of each again, and on a share that stores NT ACLs (acl_xattr) the
    stored ACL holds none of them."""
    name = RUN_TAG + '-nfs-chmod'
    c = apple_client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF,
                    GENERIC_ALL | READ_CONTROL | WRITE_DAC)
    path = os.path.join(SHARE_PATH[share], name)
    try:
        os.chmod(path, 0o644)
        aces = parse_dacl(query_sd(c, fid))
        st = os.stat(path)
        raw = [a[4] for a in aces if a not in nfs_aces(aces)]
        raw += [nfs_ace(3, 0o100604), nfs_ace(1, st.st_uid),
                nfs_ace(2, st.st_gid), nfs_ace(1, st.st_uid),
                nfs_ace(2, st.st_gid)]
        set_dacl(c, fid, build_sd(raw))
        mode = os.stat(path).st_mode & 0o7777
        expect(mode == 0o604, 'mode after the NFS ACE chmod is %o, '
               'expected 604' % mode)
        got = [(a[3][3], a[3][4]) for a in nfs_aces(parse_dacl(
            query_sd(c, fid)))]
        want = [(3, 0o100604), (1, st.st_uid), (2, st.st_gid)]
        expect(got == want, 'after the set: NFS ACEs %r, expected %r'
               % (got, want))
        if share == SHARE_TM_ACL:
            stored = os.getxattr(path, NTACL_XATTR)
            expect(NFS_SID_HEAD not in stored,
                   'an S-1-5-88 ACE was stored in %s' % NTACL_XATTR)
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


def getfacl(path):
    return subprocess.run(['getfacl', '-cp', path], stdout=subprocess.PIPE,
                          check=True, text=True).stdout.split()


def check_nfs_aces_mode_only(share):
    """A DACL of nothing but a mode ACE (Finder's chmod of a file it only
    knows by its mode) changes the mode and nothing else: the file's POSIX
    ACL keeps its entries and, on a share that stores NT ACLs, the stored
    ACL is unchanged. It needs WRITE_DAC."""
    name = RUN_TAG + '-nfs-mode'
    path = os.path.join(SHARE_PATH[share], name)
    c = apple_client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF,
                    GENERIC_ALL | READ_CONTROL | WRITE_DAC)
    ro = None
    try:
        os.chmod(path, 0o640)
        subprocess.run(['setfacl', '-m', 'u:nobody:r,g:daemon:rw', path],
                       check=True)
        acl = getfacl(path)
        ntacl = (os.getxattr(path, NTACL_XATTR)
                 if NTACL_XATTR in os.listxattr(path) else None)
        expect(share != SHARE_TM_ACL or ntacl,
               'no NT ACL stored for a file made on %s' % share)
        set_dacl(c, fid, build_sd([nfs_ace(3, 0o750)]))
        mode = os.stat(path).st_mode & 0o7777
        expect(mode == 0o750, 'mode after a mode-only DACL is %o, '
               'expected 750' % mode)
        after = getfacl(path)
        for entry in ('user:nobody:r--', 'group:daemon:rw-'):
            expect(entry in after, 'the POSIX ACL lost %s: %r, before %r'
                   % (entry, after, acl))
        if ntacl is not None:
            expect(os.getxattr(path, NTACL_XATTR) == ntacl,
                   'the stored NT ACL changed')

        # Without WRITE_DAC (WRITE_OWNER is not enough) the same request
        # is refused, the mode kept
        c.smb3.close(c.tid, fid)
        fid = None
        ro = open_file(c, name, FILE_OPEN, READ_CONTROL | WRITE_OWNER)
        status = smb_status(lambda: set_dacl(c, ro,
                                             build_sd([nfs_ace(3, 0o777)])))
        expect(status == STATUS_ACCESS_DENIED, 'mode-only DACL without '
               'WRITE_DAC: %s' % status_name(status))
        mode = os.stat(path).st_mode & 0o7777
        expect(mode == 0o750, 'mode changed to %o without WRITE_DAC' % mode)
    finally:
        for handle in (ro, fid):
            if handle is not None:
                c.smb3.close(c.tid, handle)
        c.delete(name)
        c.logoff()


def check_nfs_aces_malformed():
    """A DACL whose ACE runs past its end is refused, the mode unchanged."""
    name = RUN_TAG + '-nfs-bad'
    c = apple_client(SHARE_TM)
    fid = open_file(c, name, FILE_OVERWRITE_IF,
                    GENERIC_ALL | READ_CONTROL | WRITE_DAC)
    path = os.path.join(SHARE_PATH[SHARE_TM], name)
    try:
        os.chmod(path, 0o644)
        sd = bytearray(build_sd([nfs_ace(3, 0o777)]))
        sd[20 + 8 + 2] = 200      # ACE size past the DACL
        try:
            set_dacl(c, fid, bytes(sd))
            raise CheckFailed('a DACL with an ACE past its end was accepted')
        except CheckFailed:
            raise
        except Exception as e:
            code = getattr(e, 'get_error_code', lambda: 0)() & 0xFFFFFFFF
            expect(code == STATUS_INVALID_PARAMETER,
                   'malformed DACL: %s (0x%08X), expected '
                   'STATUS_INVALID_PARAMETER' % (e, code))
        mode = os.stat(path).st_mode & 0o7777
        expect(mode == 0o644, 'mode changed to %o by a refused DACL' % mode)
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


def check_no_nfs_aces(share, negotiate):
    """No NFS ACE without AAPL, or on a share without the Apple extensions."""
    name = RUN_TAG + '-nfs-none-' + share
    c = apple_client(share) if negotiate else Client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        nfs = nfs_aces(parse_dacl(query_sd(c, fid)))
        expect(not nfs, 'unexpected NFS ACEs: %r' % nfs)
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


# --- F_FULLFSYNC -----------------------------------------------------------


def disk_flushes(path):
    """Cache flushes the block device holding @path has completed (the
    16th field of its /sys/block stat), or None if it has no device."""
    st = os.stat(path)
    stat = '/sys/dev/block/%d:%d/stat' % (os.major(st.st_dev),
                                          os.minor(st.st_dev))
    if not os.path.exists(stat):
        return None
    with open(stat) as f:
        return int(f.read().split()[15])


def check_fullfsync(share):
    """A FLUSH with Reserved1 = 0xFFFF (F_FULLFSYNC) flushes the disk's
    write cache; a plain FLUSH does not, on the ext4 share mounted without
    barriers (scripts/vm/init.sh), where fsync sends no flush of its own.
    On tmpfs (no disk) both succeed. The data is there, and the flush of
    an unknown handle still fails."""
    name = RUN_TAG + '-fullsync-' + share
    path = os.path.join(SHARE_PATH[share], name)
    c = apple_client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        c.smb3.writeFile(c.tid, fid, b'band data' * 1000, 0)
        before = disk_flushes(path)
        status = flush(c, fid, 0)
        expect(status == STATUS_SUCCESS, 'plain flush: %s'
               % status_name(status))
        middle = disk_flushes(path)
        c.smb3.writeFile(c.tid, fid, b'more band data', 9000)
        status = flush(c, fid, 0xFFFF)
        expect(status == STATUS_SUCCESS, 'FULLFSYNC flush: %s'
               % status_name(status))
        after = disk_flushes(path)
        if before is not None:
            expect(middle == before, 'a plain flush flushed the disk '
                   '(%d flushes, then %d)' % (before, middle))
            expect(after > middle, 'F_FULLFSYNC did not flush the disk '
                   '(%d flushes before and after)' % middle)
        with open(path, 'rb') as f:
            expect(f.read() == b'band data' * 1000 + b'more band data',
                   'data not in the file')
        bad = b'\xff' * 16
        status = flush(c, bad, 0xFFFF)
        expect(status != STATUS_SUCCESS, 'FULLFSYNC of an unknown handle '
               'succeeded')
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


# --- Time machine size limit -----------------------------------------------

INFO_PLIST = '''<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" \
"http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleInfoDictionaryVersion</key>
	<string>6.0</string>
	<key>band-size</key>
	<integer>%d</integer>
	<key>diskimage-bundle-type</key>
	<string>com.apple.diskimage.sparsebundle</string>
	<key>size</key>
	<integer>1099511627776</integer>
</dict>
</plist>
'''

MiB = 1 << 20
LIMIT_XATTR = 'trusted.ksmbd.time_machine_max_size'
STATUS_UNEXPECTED_IO_ERROR = 0xC00000E9
# What a bundle may claim beyond what its bands occupy (one band in flight)
BAND_SLACK = 8 * MiB
# How long a bundle bounded by what it occupies keeps its count
RECOUNT_SECS = 10


def set_limit(root, value):
    """The administrator's command: setfattr -n LIMIT_XATTR -v VALUE ROOT."""
    os.setxattr(root, LIMIT_XATTR, value)


def clear_limit(root):
    try:
        os.removexattr(root, LIMIT_XATTR)
    except OSError:
        pass


def smb_mkdir(c, path):
    c.conn.createDirectory(c.share, path)


def make_bundle(c, name, band_size, bands, data=b''):
    smb_mkdir(c, name)
    c.put(name + '/Info.plist', (INFO_PLIST % band_size).encode())
    smb_mkdir(c, name + '/bands')
    add_bands(c, name, 0, bands, data)


def add_bands(c, name, first, count, data=b''):
    for i in range(first, first + count):
        c.put('%s/bands/%x' % (name, i), data)


def occupied(path):
    """What the band files of the bundle at @path occupy, from stat."""
    bands = os.path.join(path, 'bands')
    return sum(os.lstat(os.path.join(bands, n)).st_blocks * 512
               for n in os.listdir(bands)
               if os.path.isfile(os.path.join(bands, n)) and
               not os.path.islink(os.path.join(bands, n)))


def bounded(path, band_size, nbands):
    """The space a bundle is counted for: what it claims, but no more than
    its bands occupy plus one band in flight."""
    return min(band_size * nbands, occupied(path) + BAND_SLACK)


def expect_limited(c, limit, used):
    for cls in (FS_SIZE_INFORMATION, FS_FULL_SIZE_INFORMATION):
        got = fs_size(c, cls)
        free = max(limit - used, 0) // 1024
        want = (limit // 1024, free, free, 2, 512)
        expect(got == want, 'FS info class %d: %r, expected %r '
               '(limit %d, used %d)' % (cls, got, want, limit, used))


def expect_unlimited(c, plain, what):
    """The filesystem's own sizes (free space may move: compare the rest)."""
    got = fs_size(c, FS_FULL_SIZE_INFORMATION)
    expect(got[0] == plain[0] and got[3:] == plain[3:],
           '%s: %r, expected the filesystem\'s %r' % (what, got, plain))


def expect_fs_size_error(c, what):
    for cls in (FS_SIZE_INFORMATION, FS_FULL_SIZE_INFORMATION):
        try:
            got = fs_size(c, cls)
        except SessionError as e:
            code = (e.get_error_code() if hasattr(e, 'get_error_code')
                    else e.getErrorCode())
            expect(code == STATUS_UNEXPECTED_IO_ERROR,
                   '%s: class %d failed with %s, expected '
                   'UNEXPECTED_IO_ERROR' % (what, cls, status_name(code)))
            continue
        raise CheckFailed('%s: class %d answered %r, expected '
                          'UNEXPECTED_IO_ERROR' % (what, cls, got))


def check_tm_limit():
    """The limit in the share root's trusted xattr: the sizes are the limit
    and the limit minus what the sparse bundles use; they follow new bands,
    bundles and limits at once; without the xattr they are the
    filesystem's again."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    c = apple_client(share)
    b1, b2 = RUN_TAG + '-A.sparsebundle', RUN_TAG + '-B.sparsebundle'
    p2 = os.path.join(root, b2)
    band = os.urandom(4 * MiB)
    try:
        clear_limit(root)
        plain = fs_size(c, FS_FULL_SIZE_INFORMATION)
        set_limit(root, b'128M')
        limit = 128 * MiB          # the ext4 share's disk has 256 MiB
        expect_limited(c, limit, 0)
        # Empty bands, as macOS creates them: within one band of slack
        make_bundle(c, b1, MiB, 3)
        expect_limited(c, limit, 3 * MiB)
        add_bands(c, b1, 3, 5)
        expect_limited(c, limit, 8 * MiB)
        # A second Mac's bundle with real bands, and a directory that is
        # no bundle
        make_bundle(c, b2, 4 * MiB, 2, band)
        smb_mkdir(c, RUN_TAG + '-not-a-bundle')
        expect_limited(c, limit, 8 * MiB + 8 * MiB)
        c.delete('%s/bands/%x' % (b1, 7))
        expect_limited(c, limit, 7 * MiB + 8 * MiB)
        # A smaller limit, as the administrator sets it, applies at once;
        # bundles beyond it give no free space, no negative numbers
        set_limit(root, b'12582912\n')
        expect_limited(c, 12 * MiB, 7 * MiB + 8 * MiB)
        set_limit(root, b'160M\0')
        limit = 160 * MiB
        expect_limited(c, limit, 7 * MiB + 8 * MiB)
        # A band size of 2^62 counts for no more than the bundle occupies
        # plus one band: it does not take every other Mac's free space
        with open(os.path.join(p2, 'Info.plist'), 'w') as f:
            f.write(INFO_PLIST % (1 << 62))
        expect_limited(c, limit, 7 * MiB + bounded(p2, 1 << 62, 2))
        expect(bounded(p2, 1 << 62, 2) <= 8 * MiB + 8 * MiB + 64 * 1024,
               'the bundle occupies %d bytes' % occupied(p2))
        # Without the xattr: the filesystem's sizes
        clear_limit(root)
        expect_unlimited(c, plain, 'without a limit')
    finally:
        clear_limit(root)
        for d in (b1, b2, RUN_TAG + '-not-a-bundle'):
            shutil.rmtree(os.path.join(root, d), ignore_errors=True)
        c.logoff()


def check_tm_limit_unreadable():
    """A limit that is set but malformed fails the size queries with
    UNEXPECTED_IO_ERROR rather than reporting the whole disk; fixing or
    removing it restores the sizes."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    c = apple_client(share)
    try:
        clear_limit(root)
        plain = fs_size(c, FS_FULL_SIZE_INFORMATION)
        for value in (b'-5', b'0', b'99999999999999999999', b'20000P',
                      b'12 GB', b'0x1000', b'', b'5' * 40):
            set_limit(root, value)
            expect_fs_size_error(c, 'limit %r' % value)
        set_limit(root, b'64M')
        expect_limited(c, 64 * MiB, 0)
        set_limit(root, b'junk')
        expect_fs_size_error(c, 'limit junk after a good one')
        clear_limit(root)
        expect_unlimited(c, plain, 'limit removed')
    finally:
        clear_limit(root)
        c.logoff()


def set_ea(c, fid, name, value):
    """SET_INFO FileFullEaInformation (MS-FSCC 2.4.15) with one EA."""
    ea = struct.pack('<IBBH', 0, 0, len(name), len(value)) + name + b'\0' + \
        value
    c.smb3.setInfo(c.tid, fid, inputBlob=ea, infoType=1, fileInfoClass=15)


def check_tm_limit_clients():
    """No client action moves the limit: a quota property list written,
    renamed over or deleted by a client, and an EA named as the xattr, on
    the share root or a file, change neither the xattr nor the sizes."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    plist = '.com.apple.TimeMachine.quota.plist'
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">'
            '<dict><key>GlobalQuota</key><integer>%d</integer></dict>'
            '</plist>\n')
    c = apple_client(share)
    name = RUN_TAG + '-ea'
    try:
        clear_limit(root)
        plain = fs_size(c, FS_FULL_SIZE_INFORMATION)
        # Without the xattr, the file OS X Server used sets nothing
        c.put(plist, (text % 32768).encode())
        expect_unlimited(c, plain, 'client-written quota plist')
        set_limit(root, b'64M')
        expect_limited(c, 64 * MiB, 0)
        # Overwritten with a larger and a zero quota, renamed, deleted
        c.put(plist, (text % (1 << 40)).encode())
        expect_limited(c, 64 * MiB, 0)
        c.put(plist + '.new', (text % 0).encode())
        c.conn.rename(share, plist + '.new', plist)
        expect_limited(c, 64 * MiB, 0)
        c.delete(plist)
        expect_limited(c, 64 * MiB, 0)
        # EAs named as the xattr, on the root and on a file
        c.put(name, b'x')
        for target in ('', name):
            fid = c.smb3.create(c.tid, target, FILE_WRITE_EA |
                                FILE_READ_ATTRIBUTES,
                                FILE_SHARE_READ | FILE_SHARE_WRITE, 0,
                                FILE_OPEN, 0)
            try:
                for ea in (LIMIT_XATTR.encode(),
                           b'ksmbd.time_machine_max_size'):
                    try:
                        set_ea(c, fid, ea, b'1P')
                    except SessionError:
                        pass
            finally:
                c.smb3.close(c.tid, fid)
        expect(os.getxattr(root, LIMIT_XATTR) == b'64M',
               'the limit xattr is now %r' % os.getxattr(root, LIMIT_XATTR))
        expect_limited(c, 64 * MiB, 0)
    finally:
        clear_limit(root)
        for f in (plist, plist + '.new', name):
            try:
                os.unlink(os.path.join(root, f))
            except OSError:
                pass
        c.logoff()


def check_tm_hostile_bundles():
    """Bundles a client or a local user makes hostile count for what they
    occupy, never more, and never stall the server: an Info.plist that is
    a FIFO, a symlink out of the share, 1 MiB of garbage; bands that are a
    symlink to a full directory or a mount point."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    c = apple_client(share)
    tag = RUN_TAG + '-hostile'
    good = tag + '-good.sparsebundle'
    outside = '/tmp/' + tag
    names = [tag + '-%s.sparsebundle' % k
             for k in ('fifo', 'symlink', 'garbage', 'bandlink', 'bandmnt')]
    mounted = None
    try:
        set_limit(root, b'128M')
        make_bundle(c, good, MiB, 4)
        expect_limited(c, 128 * MiB, 4 * MiB)
        # Outside the share: a plist claiming huge bands, a full bands dir
        os.makedirs(outside + '/bands', exist_ok=True)
        with open(outside + '/Info.plist', 'w') as f:
            f.write(INFO_PLIST % (1 << 40))
        for i in range(50):
            with open(outside + '/bands/%x' % i, 'wb') as f:
                f.write(b'\0' * 4096)
        for n in names:
            os.makedirs(os.path.join(root, n, 'bands'))
        fifo, sym, garbage, bandlink, bandmnt = (os.path.join(root, n)
                                                 for n in names)
        os.mkfifo(fifo + '/Info.plist')
        os.symlink(outside + '/Info.plist', sym + '/Info.plist')
        with open(garbage + '/Info.plist', 'wb') as f:
            f.write(os.urandom(MiB))
        for d in (fifo, sym, garbage):
            for i in range(3):
                open(d + '/bands/%x' % i, 'wb').close()
        # Valid plists whose bands are not the bundle's own
        for d in (bandlink, bandmnt):
            with open(d + '/Info.plist', 'w') as f:
                f.write(INFO_PLIST % MiB)
        os.rmdir(bandlink + '/bands')
        os.symlink(outside + '/bands', bandlink + '/bands')
        r = subprocess.run(['mount', '--bind', outside + '/bands',
                            bandmnt + '/bands'], capture_output=True)
        expect(r.returncode == 0, 'mount --bind: %s' % r.stderr)
        mounted = bandmnt + '/bands'
        # None of them counts: the total is the good bundle's alone
        expect_limited(c, 128 * MiB, 4 * MiB)
        # And nothing outside the share was opened for write or changed
        with open(outside + '/Info.plist') as f:
            expect(f.read() == INFO_PLIST % (1 << 40), 'outside plist '
                   'changed')
        expect(len(os.listdir(outside + '/bands')) == 50,
               'outside bands changed')
    finally:
        if mounted:
            subprocess.run(['umount', mounted])
        clear_limit(root)
        for n in [good] + names:
            shutil.rmtree(os.path.join(root, n), ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)
        c.logoff()


def make_local_bundle(root, name, band_size, nbands):
    d = os.path.join(root, name)
    os.makedirs(d + '/bands')
    with open(d + '/Info.plist', 'w') as f:
        f.write(INFO_PLIST % band_size)
    for i in range(nbands):
        open(d + '/bands/%x' % i, 'wb').close()


IN_ACCESS = 0x001
IN_OPEN = 0x020
IN_ISDIR = 0x40000000


class DirReads:
    """Counts reads (inotify IN_ACCESS) of the directories @reads, and
    reads and opens (IN_ACCESS | IN_OPEN) of the directories @opens. (The
    share root is opened by every SMB query of it: only its reads count.)"""

    def __init__(self, reads, opens):
        import ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        expect(self.fd >= 0, 'inotify_init1 failed')
        for dirs, mask in ((reads, IN_ACCESS), (opens, IN_ACCESS | IN_OPEN)):
            for d in dirs:
                wd = self.libc.inotify_add_watch(self.fd, os.fsencode(d),
                                                 mask)
                expect(wd >= 0, 'inotify_add_watch %s failed' % d)

    def count(self):
        n = 0
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return n
            pos = 0
            while pos < len(buf):
                _, mask, _, length = struct.unpack_from('iIII', buf, pos)
                if mask & IN_ISDIR:
                    n += 1
                pos += 16 + length

    def close(self):
        os.close(self.fd)


def check_tm_many_bundles():
    """65 and 256 bundles are all counted, a 257th is not; once counted, a
    size query with nothing changed reads no directory; one new band is
    counted at the next query."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    tag = RUN_TAG + '-many'
    # Bundles of empty bands, each within one band of slack
    band, nb = 16 * 1024, 4
    per = band * nb
    c = apple_client(share)
    made = []
    try:
        set_limit(root, b'128M')
        limit = 128 * MiB
        pre = [n for n in os.listdir(root) if n.endswith('.sparsebundle')]
        expect(not pre, 'bundles already in the share: %r' % pre)
        for total in (65, 256):
            while len(made) < total:
                name = '%s-%03d.sparsebundle' % (tag, len(made))
                make_local_bundle(root, name, band, nb)
                made.append(name)
            expect_limited(c, limit, total * per)
            watch = DirReads([root], [os.path.join(root, n, d)
                                      for n in made for d in ('', 'bands')])
            try:
                watch.count()
                for _ in range(3):
                    expect_limited(c, limit, total * per)
                reads = watch.count()
                expect(reads == 0, '%d bundles, nothing changed: %d '
                       'directory reads in 3 queries' % (total, reads))
                # One band more in one bundle: counted at once
                open(os.path.join(root, made[7], 'bands', 'ff'),
                     'wb').close()
                expect_limited(c, limit, total * per + band)
                os.unlink(os.path.join(root, made[7], 'bands', 'ff'))
            finally:
                watch.close()
        # A 257th bundle is not counted (and logged)
        name = '%s-%03d.sparsebundle' % (tag, len(made))
        make_local_bundle(root, name, band, nb)
        made.append(name)
        expect_limited(c, limit, 256 * per)
    finally:
        clear_limit(root)
        for n in made:
            shutil.rmtree(os.path.join(root, n), ignore_errors=True)
        c.logoff()


def check_tm_recount():
    """A bundle counted for what it occupies is recounted after
    RECOUNT_SECS even when its bands directory did not change: bands
    rewritten in place count."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    c = apple_client(share)
    b = RUN_TAG + '-recount.sparsebundle'
    p = os.path.join(root, b)
    try:
        set_limit(root, b'128M')
        limit = 128 * MiB
        # Two 16 MiB bands, empty (but for their xattr blocks): counted
        # for what they occupy plus one band of slack
        make_bundle(c, b, 16 * MiB, 2)
        expect(bounded(p, 16 * MiB, 2) < MiB + BAND_SLACK,
               'empty bands occupy %d bytes' % occupied(p))
        expect_limited(c, limit, bounded(p, 16 * MiB, 2))
        # Written in place: the directory does not change
        fid = open_file(c, b + '/bands/0', FILE_OPEN)
        try:
            data = os.urandom(MiB)
            for off in range(0, 12 * MiB, MiB):
                c.smb3.writeFile(c.tid, fid, data, off)
        finally:
            c.smb3.close(c.tid, fid)
        time.sleep(RECOUNT_SECS + 1)
        expect_limited(c, limit, bounded(p, 16 * MiB, 2))
        expect(bounded(p, 16 * MiB, 2) >= 12 * MiB + BAND_SLACK,
               'occupied %d' % occupied(p))
    finally:
        clear_limit(root)
        shutil.rmtree(p, ignore_errors=True)
        c.logoff()


def check_tm_limit_plain_share():
    """A share without the Apple extensions ignores the limit's xattr."""
    root = SHARE_PATH[SHARE_PLAIN]
    c = Client(SHARE_PLAIN)
    try:
        set_limit(root, b'32K')
        got = fs_size(c, FS_FULL_SIZE_INFORMATION)
        expect(got[3:] == (1, 4096) and got[0] > 32,
               'share without the Apple extensions: %r' % (got,))
    finally:
        clear_limit(root)
        c.logoff()


# --- Durable handles: the Time Machine destination probe and reconnect ---

SMB2_CREATE = 5
SMB2_WRITE = 9
LEASE_RH = 0x03
LEASE_RWH = 0x07


def lease_ctx(key, state):
    """RqLs, version 2 (SMB 3): key, state, flags, duration, parent, epoch."""
    return (b'RqLs', struct.pack('<16sIIQ16sHH', key, state, 0, 0,
                                 b'\0' * 16, 0, 0))


def dh2q_ctx(guid, timeout=0):
    return (b'DH2Q', struct.pack('<II8s16s', timeout, 0, b'\0' * 8, guid))


def dh2c_ctx(file_id, guid):
    return (b'DH2C', struct.pack('<16s16sI', file_id, guid, 0))


def raw_create(c, name, contexts, access, disposition, share,
               options=FILE_NON_DIRECTORY_FILE):
    """A CREATE with the given (name, data) contexts; the handle stays
    open. Returns (status, file id, {context name: data})."""
    req = SMB2Create()
    req['RequestedOplockLevel'] = 0xFF          # SMB2_OPLOCK_LEVEL_LEASE
    req['ImpersonationLevel'] = 2
    req['DesiredAccess'] = access
    req['FileAttributes'] = 0
    req['ShareAccess'] = share
    req['CreateDisposition'] = disposition
    req['CreateOptions'] = options
    name_bytes = name.encode('utf-16-le')
    req['NameLength'] = len(name_bytes)
    fixed = SMB2_HEADER_LEN + CREATE_REQ_FIXED_LEN
    buf = name_bytes.ljust(align(fixed + len(name_bytes)) - fixed, b'\0')
    ctxs = b''
    for i, (cname, data) in enumerate(contexts):
        last = i == len(contexts) - 1
        one = context(cname, data, pad=not last)
        if not last:
            one = struct.pack('<I', len(one)) + one[4:]
        ctxs += one
    req['CreateContextsOffset'] = fixed + len(buf)
    req['CreateContextsLength'] = len(ctxs)
    req['Buffer'] = buf + ctxs
    ans = c._send(SMB2_CREATE, req)
    if ans['Status'] != STATUS_SUCCESS:
        return ans['Status'], None, {}
    body = ans['Data']
    fields = struct.unpack_from(CREATE_RSP_FORMAT, body)
    file_id, ctx_off, ctx_len = fields[-3:]
    got = {}
    if ctx_len:
        start = ctx_off - SMB2_HEADER_LEN
        for ctx in parse_contexts(body[start:start + ctx_len]):
            got[ctx.name] = ctx.data
    # Let impacket's own calls (write, close) use the handle
    c.smb3._Session['OpenTable'][file_id] = {'FileID': file_id,
                                             'TreeConnect': c.tid,
                                             'FileName': name}
    c.smb3.GlobalFileTable[name] = {'FileID': file_id}
    return STATUS_SUCCESS, file_id, got


def check_tm_probe():
    """The Mac's destination probe: .com.apple.timemachine.supported-<uuid>
    opened OPEN_IF with an R|H lease and DH2Q must come back durable."""
    c = apple_client(SHARE_TM)
    name = '.com.apple.timemachine.supported-' + str(uuid.uuid4()).upper()
    try:
        status, fid, ctx = raw_create(
            c, name, [lease_ctx(os.urandom(16), LEASE_RH),
                      dh2q_ctx(os.urandom(16))],
            FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA,
            FILE_OPEN_IF, FILE_SHARE_READ)
        expect(status == STATUS_SUCCESS, 'probe CREATE: %s'
               % status_name(status))
        expect(b'DH2Q' in ctx, 'no durable handle granted (contexts: %r)'
               % list(ctx))
        timeout = struct.unpack_from('<I', ctx[b'DH2Q'])[0]
        expect(timeout > 0, 'durable handle with timeout 0')
        expect(b'RqLs' in ctx, 'no lease granted')
        c.smb3.close(c.tid, fid)
    finally:
        try:
            c.delete(name)
        finally:
            c.logoff()


def check_tm_backup():
    """A backup as Time Machine makes one: a sparse bundle, bands written
    and F_FULLFSYNC flushed on a durable handle, free space shrinking; the
    TCP connection dropped in the middle of a write; a new connection
    reclaims the handle with DH2C and finishes; every byte is there."""
    share = SHARE_TM_EXT4
    root = SHARE_PATH[share]
    bundle = RUN_TAG + '-backup.sparsebundle'
    band = 1 * MiB
    limit = 64 * MiB
    data = [os.urandom(band) for _ in range(6)]
    # The reconnecting client must present the same client GUID
    # (MS-SMB2 3.3.5.9.12); impacket draws its GUID from random.
    seed = os.urandom(8)
    random.seed(seed)
    c = apple_client(share)
    try:
        set_limit(root, b'%d' % limit)
        make_bundle(c, bundle, band, 0)
        for i in range(5):
            fid = open_file(c, '%s/bands/%x' % (bundle, i), FILE_OVERWRITE_IF)
            for off in range(0, band, 64 * 1024):
                c.smb3.writeFile(c.tid, fid, data[i][off:off + 64 * 1024],
                                 off)
            status = flush(c, fid, 0xFFFF)
            expect(status == STATUS_SUCCESS, 'FULLFSYNC of band %d: %s'
                   % (i, status_name(status)))
            c.smb3.close(c.tid, fid)
            expect_limited(c, limit, (i + 1) * band)

        # Band 5 on a durable handle with a lease, as the Mac writes it
        guid, key = os.urandom(16), os.urandom(16)
        name = '%s/bands/5' % bundle
        status, fid, ctx = raw_create(
            c, name, [lease_ctx(key, LEASE_RWH), dh2q_ctx(guid, 60000)],
            GENERIC_ALL, FILE_OVERWRITE_IF, FILE_SHARE_READ)
        expect(status == STATUS_SUCCESS and b'DH2Q' in ctx,
               'durable CREATE of band 5: %s, contexts %r'
               % (status_name(status), list(ctx)))
        half = band // 2
        c.smb3.writeFile(c.tid, fid, data[5][:half], 0)
        expect(flush(c, fid, 0xFFFF) == STATUS_SUCCESS, 'FULLFSYNC')
        # A WRITE sent, then the connection cut before its answer
        req = SMB2Write()
        req['Buffer'] = data[5][half:half + 64 * 1024]
        req['Length'] = 64 * 1024
        req['Offset'] = half
        req['FileID'] = fid
        pkt = c.smb3.SMB_PACKET()
        pkt['Command'] = SMB2_WRITE
        pkt['TreeID'] = c.tid
        pkt['Data'] = req
        c.smb3.sendSMB(pkt)
        c.smb3.get_socket().close()

        # A new connection reclaims the handle and finishes the band
        random.seed(seed)
        c2 = apple_client(share)
        try:
            # The server may not have seen the old connection go yet (it
            # finishes the WRITE in flight first), and the durable open is
            # not free until it has: retry as a Mac does, which keeps
            # trying for much longer than the 30 s given here
            start, tries = time.monotonic(), 0
            while True:
                tries += 1
                status, fid2, ctx = raw_create(
                    c2, name, [lease_ctx(key, LEASE_RWH),
                               dh2c_ctx(fid, guid)],
                    GENERIC_ALL, FILE_OPEN, FILE_SHARE_READ)
                if (status != STATUS_OBJECT_NAME_NOT_FOUND or
                        time.monotonic() - start > 30):
                    break
                time.sleep(0.25)
            expect(status == STATUS_SUCCESS, 'durable reconnect: %s after '
                   '%d tries in %.1f s' % (status_name(status), tries,
                                           time.monotonic() - start))
            # The same open: its persistent FileId (MS-SMB2 2.2.14.1) and
            # its lease come back
            expect(fid2[:8] == fid[:8], 'reconnect gave FileId %s, the '
                   'durable open was %s' % (fid2.hex(), fid.hex()))
            expect(b'RqLs' in ctx and ctx[b'RqLs'][:16] == key,
                   'reconnect did not return the lease (contexts %r)'
                   % list(ctx))
            for off in range(half, band, 64 * 1024):
                c2.smb3.writeFile(c2.tid, fid2,
                                  data[5][off:off + 64 * 1024], off)
            expect(flush(c2, fid2, 0xFFFF) == STATUS_SUCCESS, 'FULLFSYNC')
            c2.smb3.close(c2.tid, fid2)
            expect_limited(c2, limit, 6 * band)
        finally:
            c2.logoff()
        for i in range(6):
            with open(os.path.join(root, bundle, 'bands', '%x' % i),
                      'rb') as f:
                got = f.read()
            expect(hashlib.sha256(got).digest() ==
                   hashlib.sha256(data[i]).digest(),
                   'band %d: %d bytes on disk differ from what was written'
                   % (i, len(got)))
    finally:
        clear_limit(root)
        shutil.rmtree(os.path.join(root, bundle), ignore_errors=True)
        try:
            c.logoff()
        except Exception:
            pass


# --- Finder metadata and resource forks -------------------------------------

AFPINFO = ':AFP_AfpInfo'
RSRC = ':AFP_Resource'
AFPINFO_XATTR = 'user.DosStream.AFP_AfpInfo:$DATA'
RSRC_XATTR = 'user.DosStream.AFP_Resource:$DATA'
NETATALK_XATTR = 'user.org.netatalk.Metadata'
FILE_STREAM_INFORMATION = 22
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_OBJECT_NAME_INVALID = 0xC0000033
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034


def afpinfo(finder_info):
    """A 60-byte AFP_AfpInfo carrying @finder_info (32 bytes)."""
    return (b'AFP\0' + struct.pack('>III', 0x100, 0, 0x80000000)
            + finder_info.ljust(32, b'\0') + b'\0' * 12)


def netatalk_metadata(finder_info):
    """netatalk's 402-byte metadata xattr, laid out as netatalk and Samba
    write it, with @finder_info at offset 122."""
    entries = [(4, 154, 0), (8, 354, 16), (9, 122, 32), (14, 370, 4),
               (0x80444556, 374, 8), (0x80494E4F, 382, 8),
               (0x8053594E, 390, 8), (0x8053567E, 398, 4)]
    buf = bytearray(402)
    struct.pack_into('>II16sH', buf, 0, 0x00051607, 0x00020000, b'',
                     len(entries))
    for i, e in enumerate(entries):
        struct.pack_into('>III', buf, 26 + 12 * i, *e)
    buf[122:154] = finder_info.ljust(32, b'\0')
    return bytes(buf)


def stream_names(c, fid):
    buf = bytes(c.smb3.queryInfo(c.tid, fid, infoType=1,
                                 fileInfoClass=FILE_STREAM_INFORMATION))
    names, off = {}, 0
    while True:
        nxt, nlen, size = struct.unpack_from('<IIQ', buf, off)
        name = buf[off + 24:off + 24 + nlen].decode('utf-16-le')
        names[name] = size
        if not nxt:
            return names
        off += nxt


def smb_status(fn):
    """The NT status a call raises, or STATUS_SUCCESS."""
    try:
        fn()
    except Exception as e:          # impacket's SessionError
        if hasattr(e, 'get_error_code'):        # impacket.smb3
            return e.get_error_code()
        if hasattr(e, 'getErrorCode'):          # impacket.smbconnection
            return e.getErrorCode()
        raise
    return STATUS_SUCCESS


def adouble_header(path):
    """(magic, version, filler, {entry id: (offset, length)}) of a ._ file."""
    with open(path, 'rb') as f:
        head = f.read(1024)
    magic, version, filler, n = struct.unpack_from('>II16sH', head)
    entries = {}
    for i in range(n):
        eid, off, length = struct.unpack_from('>III', head, 26 + 12 * i)
        entries[eid] = (off, length)
    return magic, version, filler, entries


def smbclient(share, command):
    """Run one smbclient command against @share (no AAPL, SMB3)."""
    out = subprocess.run(['smbclient', '//%s/%s' % (SERVER, share),
                          '-U', '%s%%%s' % (USER, PASSWORD), '-m', 'SMB3',
                          '-c', command],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, check=False)
    expect(out.returncode == 0 and 'NT_STATUS' not in out.stdout,
           'smbclient %r: %s' % (command, out.stdout.strip()))


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(MiB), b''):
            digest.update(chunk)
    return digest.hexdigest()


def check_rsrc_100mib(share):
    """A 100 MiB resource fork put over SMB (smbclient) is stored in the ._
    AppleDouble file (Samba's layout: fork at 82) and reads back
    byte-exact; an AAPL client lists it, and deleting the file removes it."""
    name = RUN_TAG + '-rsrc'
    base = os.path.join(SHARE_PATH[share], name)
    adfile = os.path.join(SHARE_PATH[share], '._' + name)
    src, back = '/tmp/%s-src' % name, '/tmp/%s-back' % name
    size = 100 * MiB
    with open(src, 'wb') as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    c = apple_client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    c.smb3.writeFile(c.tid, fid, b'data fork', 0)
    c.smb3.close(c.tid, fid)
    try:
        smbclient(share, 'put %s %s%s' % (src, name, RSRC))
        magic, version, _, entries = adouble_header(adfile)
        expect((magic, version) == (0x00051607, 0x00020000),
               'bad ._ header %x %x' % (magic, version))
        expect(entries.get(2) == (82, size) and entries.get(9) == (50, 32),
               '._ entries %r' % entries)
        expect(os.path.getsize(adfile) == 82 + size,
               '._ file is %d bytes' % os.path.getsize(adfile))
        with open(base, 'rb') as f:
            expect(f.read() == b'data fork', 'data fork changed')

        smbclient(share, 'get %s%s %s' % (name, RSRC, back))
        expect(file_sha256(back) == file_sha256(src), 'resource fork differs')

        fid = open_file(c, name, FILE_OPEN)
        names = stream_names(c, fid)
        c.smb3.close(c.tid, fid)
        expect(names.get(RSRC + ':$DATA') == size, 'streams %r' % names)
        fid = open_file(c, name + RSRC, FILE_OPEN, FILE_READ_DATA)
        tail = c.smb3.read(c.tid, fid, size - 10, 10)
        c.smb3.close(c.tid, fid)
        with open(src, 'rb') as f:
            f.seek(size - 10)
            expect(tail == f.read(), 'last bytes differ')
        c.delete(name)
        expect(not os.path.exists(adfile), '._ file left behind')
    finally:
        c.logoff()
        for p in (base, adfile, src, back):
            if os.path.exists(p):
                os.unlink(p)


def check_afpinfo_on_disk():
    """AFP_AfpInfo is the 60-byte xattr Samba's fruit:metadata=stream uses;
    Samba's copy of it (61 bytes, NUL-terminated) and netatalk's metadata
    are read as is; an all-zero FinderInfo removes both."""
    name = RUN_TAG + '-afpinfo'
    path = os.path.join(SHARE_PATH[SHARE_TM], name)
    c = apple_client(SHARE_TM)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        status = smb_status(lambda: open_file(c, name + AFPINFO, FILE_OPEN))
        expect(status == STATUS_OBJECT_NAME_NOT_FOUND,
               'absent AFP_AfpInfo opened: %s' % status_name(status))

        blob = afpinfo(b'TEXTttxt\x01\x00')
        sfid = open_file(c, name + AFPINFO, FILE_OPEN_IF)
        c.smb3.writeFile(c.tid, sfid, blob, 0)
        expect(os.getxattr(path, AFPINFO_XATTR) == blob + b'\0',
               "stored AFP_AfpInfo is not Samba's 60 bytes and NUL")
        expect(c.smb3.read(c.tid, sfid, 30, 60) == blob,
               'read at offset 30 does not return the stream from 0')
        c.smb3.close(c.tid, sfid)

        for stored in (afpinfo(b'APPLttxt') + b'\0', afpinfo(b'APPLttxt')):
            os.setxattr(path, AFPINFO_XATTR, stored)
            sfid = open_file(c, name + AFPINFO, FILE_OPEN)
            expect(c.smb3.read(c.tid, sfid, 0, 100) == stored[:60],
                   'a %d-byte AFP_AfpInfo not read as 60 bytes' % len(stored))
            c.smb3.close(c.tid, sfid)
            expect(stream_names(c, fid).get(AFPINFO + ':$DATA') == 60,
                   'a %d-byte AFP_AfpInfo not listed as 60 bytes'
                   % len(stored))

        os.removexattr(path, AFPINFO_XATTR)
        os.setxattr(path, NETATALK_XATTR, netatalk_metadata(b'ttroTEXT'))
        expect(stream_names(c, fid).get(AFPINFO + ':$DATA') == 60,
               'AFP_AfpInfo from netatalk metadata not listed')
        sfid = open_file(c, name + AFPINFO, FILE_OPEN)
        expect(c.smb3.read(c.tid, sfid, 0, 60) == afpinfo(b'ttroTEXT'),
               'AFP_AfpInfo from netatalk metadata differs')
        c.smb3.writeFile(c.tid, sfid, afpinfo(b''), 0)
        c.smb3.close(c.tid, sfid)
        left = [x for x in os.listxattr(path)
                if x in (AFPINFO_XATTR, NETATALK_XATTR)]
        expect(not left, 'all-zero FinderInfo left %r' % left)
        expect(AFPINFO + ':$DATA' not in stream_names(c, fid),
               'deleted AFP_AfpInfo still listed')
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


def check_rsrc_rename():
    """Renaming a file over SMB renames its ._ file too, and a resource
    fork with data survives a delete request, as on macOS."""
    name = RUN_TAG + '-mv'
    top = SHARE_PATH[SHARE_TM_EXT4]
    c = apple_client(SHARE_TM_EXT4)
    smb_mkdir(c, name + '-dir')
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    c.smb3.close(c.tid, fid)
    fid = open_file(c, name + RSRC, FILE_OPEN_IF)
    c.smb3.writeFile(c.tid, fid, b'fork', 0)
    c.smb3.close(c.tid, fid)
    new = name + '-dir/' + name + '-new'
    c.conn.rename(c.share, name, new)
    try:
        expect(not os.path.exists(os.path.join(top, '._' + name)),
               'old ._ file left')
        expect(os.path.exists(os.path.join(top, name + '-dir',
                                           '._' + name + '-new')),
               '._ file not moved with the file')
        fid = open_file(c, new + RSRC, FILE_OPEN)
        c.smb3.setInfo(c.tid, fid, b'\x01', infoType=1, fileInfoClass=13)
        c.smb3.close(c.tid, fid)
        fid = open_file(c, new + RSRC, FILE_OPEN)
        expect(c.smb3.read(c.tid, fid, 0, 10) == b'fork',
               'fork moved or deleted')
        c.smb3.close(c.tid, fid)
    finally:
        c.delete(new)
        c.conn.deleteDirectory(c.share, name + '-dir')
        c.logoff()

def check_rsrc_from_xattr():
    """A resource fork an older ksmbd kept in its stream xattr is listed,
    and moved to the ._ file when it is opened."""
    name = RUN_TAG + '-old'
    top = SHARE_PATH[SHARE_TM_EXT4]
    fork = b'old resource fork ' * 16
    c = apple_client(SHARE_TM_EXT4)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        os.setxattr(os.path.join(top, name), RSRC_XATTR, fork)
        names = stream_names(c, fid)
        expect(names.get(RSRC + ':$DATA') == len(fork), 'streams %r' % names)
        sfid = open_file(c, name + RSRC, FILE_OPEN, FILE_READ_DATA)
        got = c.smb3.read(c.tid, sfid, 0, 4096)
        c.smb3.close(c.tid, sfid)
        expect(got == fork, 'fork read back differs')
        expect(RSRC_XATTR not in os.listxattr(os.path.join(top, name)),
               'xattr left after the move')
        with open(os.path.join(top, '._' + name), 'rb') as f:
            expect(f.read()[82:] == fork, 'fork not in the ._ file')
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


FILEID_BOTH_DIRECTORY_INFORMATION = 37
MACOS_CLIENT_CAPS = 0x3F        # what macOS asks for, READ_DIR_ATTR_V2 too
AD_DATE_UNKNOWN = 0x80000000


def readdir_attr(c, dirname):
    """{name: (max access, V1 short name length / V2 flags, fork length,
    compressed FinderInfo, mode)} of a FileIdBothDirectoryInformation
    listing of @dirname."""
    fid = c.smb3.create(c.tid, dirname, FILE_READ_DATA | FILE_READ_ATTRIBUTES,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, 1, FILE_OPEN, 0)
    entries = {}
    try:
        buf = bytes(c.smb3.queryDirectory(
            c.tid, fid, '*',
            informationClass=FILEID_BOTH_DIRECTORY_INFORMATION,
            maxBufferSize=65536))
    finally:
        c.smb3.close(c.tid, fid)
    off = 0
    while True:
        nxt, = struct.unpack_from('<I', buf, off)
        nlen, access, flags = struct.unpack_from('<IIH', buf, off + 60)
        rsrc, = struct.unpack_from('<Q', buf, off + 70)
        mode, = struct.unpack_from('<H', buf, off + 94)
        name = buf[off + 104:off + 104 + nlen].decode('utf-16-le')
        entries[name] = (access, flags, rsrc, buf[off + 78:off + 94], mode)
        if not nxt:
            return entries
        off += nxt


def mxac(c, name):
    """The maximal access an MxAc create context reports for @name."""
    reply = c.create(name, chain((CTX_MXAC, b'')), options=0,
                     access=FILE_READ_ATTRIBUTES)
    expect(reply.status == STATUS_SUCCESS, 'MxAc CREATE of %s: %s'
           % (name, status_name(reply.status)))
    data = [x.data for x in reply.contexts if x.name == CTX_MXAC]
    expect(data and len(data[0]) == 8, 'no MxAc reply for %s' % name)
    status, access = struct.unpack('<II', data[0])
    expect(status == STATUS_SUCCESS, 'MxAc query status %#x' % status)
    return access


# The access ksmbd grants a user for each permission the mode gives it on
# a file without an NT ACL (what MxAc reports; MS-DTYP 2.4.3 rights)
ALWAYS = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE
MAY_READ = FILE_READ_DATA | FILE_READ_EA
MAY_WRITE = (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA |
             FILE_WRITE_ATTRIBUTES | FILE_DELETE_CHILD | WRITE_DAC |
             WRITE_OWNER)
MAY_EXEC = FILE_EXECUTE
# The user may write and search the directory that holds the entry
MAY_DELETE = DELETE


def check_readdir_attr():
    """A listing for a Mac carries each entry's maximal access (written out
    below from the entry's owner and mode, and equal to what MxAc reports),
    resource fork length, compressed FinderInfo and mode; with
    READ_DIR_ATTR_V2, whether the entry has streams."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    d = RUN_TAG + '-ls'
    path = os.path.join(top, d)
    c = Client(SHARE_TM_EXT4)
    reply = c.create('', aapl_context(aapl_query(
        AAPL_ALL_FIELDS, client_caps=MACOS_CLIENT_CAPS)))
    expect(reply.status == STATUS_SUCCESS, 'AAPL CREATE failed')
    v1 = apple_client(SHARE_TM_EXT4)
    smb_mkdir(c, d)
    try:
        finder = b'TEXTttxt\x01\x40' + b'\0' * 14 + b'\x12\x34'
        for name in ('meta', 'plain', 'stream', 'ro', 'old', 'root'):
            c.smb3.close(c.tid, open_file(c, d + '/' + name,
                                          FILE_OVERWRITE_IF))
        smb_mkdir(c, d + '/sub')
        fid = open_file(c, d + '/meta' + AFPINFO, FILE_OPEN_IF)
        c.smb3.writeFile(c.tid, fid, afpinfo(finder), 0)
        c.smb3.close(c.tid, fid)
        fid = open_file(c, d + '/meta' + RSRC, FILE_OPEN_IF)
        c.smb3.writeFile(c.tid, fid, b'fork' * 1000, 0)
        c.smb3.close(c.tid, fid)
        fid = open_file(c, d + '/stream:foo', FILE_OPEN_IF)
        c.smb3.writeFile(c.tid, fid, b'bar', 0)
        c.smb3.close(c.tid, fid)
        os.setxattr(os.path.join(path, 'old'), RSRC_XATTR, b'x' * 300)
        # Owner and mode of each entry, and the access they give tuser
        # (the directory d is tuser's, so every entry may be deleted)
        rights = {
            'meta': (0o644, ALWAYS | MAY_READ | MAY_WRITE | MAY_DELETE),
            'plain': (0o600, ALWAYS | MAY_READ | MAY_WRITE | MAY_DELETE),
            'stream': (0o664, ALWAYS | MAY_READ | MAY_WRITE | MAY_DELETE),
            'ro': (0o444, ALWAYS | MAY_READ | MAY_DELETE),
            'old': (0o755, ALWAYS | MAY_READ | MAY_WRITE | MAY_EXEC |
                    MAY_DELETE),
            'root': (0o640, ALWAYS | MAY_DELETE),
            'sub': (0o755, ALWAYS | MAY_READ | MAY_WRITE | MAY_EXEC |
                    MAY_DELETE),
        }
        # Only the mode decides: drop the POSIX ACL ksmbd gives files it
        # creates (a named entry for their creator)
        for name, (mode, _) in rights.items():
            subprocess.run(['setfacl', '-b', os.path.join(path, name)],
                           check=True)
            os.chmod(os.path.join(path, name), mode)
        os.chown(os.path.join(path, 'root'), 0, 0)

        v2 = readdir_attr(c, d)
        ent = readdir_attr(v1, d)
        for name in list(rights) + ['.', '..']:
            expect(name in ent and name in v2, '%s not listed' % name)
        expect('._meta' not in ent and '._meta' not in v2,
               'the ._ file of meta is listed')
        for name, (access, flags, rsrc, fi, mode) in ent.items():
            st = os.stat(os.path.join(path, name))
            expect(mode == st.st_mode & 0xffff, '%s: mode %o, not %o'
                   % (name, mode, st.st_mode))
            expect(flags == 24, '%s: short name length %d' % (name, flags))
            if name in rights:
                expect(access == rights[name][1],
                       '%s (mode %o, uid %d): max access %#x, expected %#x'
                       % (name, st.st_mode, st.st_uid, access,
                          rights[name][1]))
            if name not in ('.', '..'):
                want = mxac(c, d + '/' + name)
                expect(access == want, '%s: max access %#x, MxAc says %#x'
                       % (name, access, want))
            expect(v2[name][0] == access and v2[name][2:] == ent[name][2:],
                   '%s: V2 entry differs from V1' % name)

        access, _, rsrc, fi, _ = ent['meta']
        expect(rsrc == 4000, 'meta: fork length %d' % rsrc)
        date, = struct.unpack('>I', fi[12:])
        created = os.stat(os.path.join(path, 'meta')).st_ctime
        expect(fi[:12] == b'TEXTttxt\x01\x40\x12\x34' and
               abs(date - (created - 946684800)) < 5,
               'meta: FinderInfo %s' % fi.hex())
        for name in ('plain', 'stream', 'ro', 'sub', '.'):
            expect(ent[name][2:4] == (0, b'\0' * 12 + b'\x80\0\0\0'),
                   '%s: fork/FinderInfo %r' % (name, ent[name][2:4]))
        expect(ent['old'][2] == 300, 'old: xattr fork length %d'
               % ent['old'][2])
        no_xattr = {n: v2[n][1] for n in ('meta', 'plain', 'stream', 'old')}
        expect(no_xattr == {'meta': 0, 'plain': 1, 'stream': 0, 'old': 0},
               'V2 NO_XATTR flags %r' % no_xattr)
    finally:
        v1.logoff()
        c.logoff()
        shutil.rmtree(path)


TAGS = 'com.apple.metadata\uf022_kMDItemUserTags'
TAGS_XATTR = 'user.DosStream.com.apple.metadata:_kMDItemUserTags:$DATA'


def check_stream_native():
    """A stream xattr written on the server with ':' in its name (Samba's
    catia layout) is listed with U+F022, as macOS names it, and opens
    under that name; writes go to the same xattr."""
    name = RUN_TAG + '-tags'
    path = os.path.join(SHARE_PATH[SHARE_TM_EXT4], name)
    c = apple_client(SHARE_TM_EXT4)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        os.setxattr(path, TAGS_XATTR, b'local tags')
        names = stream_names(c, fid)
        expect(names.get(':' + TAGS + ':$DATA') == 10, 'streams %r' % names)
        expect(not [n for n in names if n.count(':') > 2],
               'stream listed with a ":" in its name: %r' % names)
        sfid = open_file(c, name + ':' + TAGS, FILE_OPEN)
        expect(c.smb3.read(c.tid, sfid, 0, 100) == b'local tags',
               'stream read back differs')
        c.smb3.writeFile(c.tid, sfid, b'LOCAL', 0)
        c.smb3.close(c.tid, sfid)
        expect(os.getxattr(path, TAGS_XATTR) == b'LOCAL tags',
               'write did not reach the xattr')
        expect(not [x for x in os.listxattr(path) if '\uf022' in x],
               'a second xattr was created: %r' % os.listxattr(path))
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
FSCTL_SRV_COPYCHUNK_WRITE = 0x001480F2
SMB2_0_IOCTL_IS_FSCTL = 1


def copyfile(c, src_fid, dst_fid):
    """FSCTL_SRV_COPYCHUNK_WRITE without chunks, as macOS copies a file:
    (ChunksWritten, ChunkBytesWritten, TotalBytesWritten)."""
    key = bytes(c.smb3.ioctl(c.tid, src_fid, FSCTL_SRV_REQUEST_RESUME_KEY,
                             SMB2_0_IOCTL_IS_FSCTL, b'',
                             maxOutputResponse=32))[:24]
    rsp = c.smb3.ioctl(c.tid, dst_fid, FSCTL_SRV_COPYCHUNK_WRITE,
                       SMB2_0_IOCTL_IS_FSCTL, key + struct.pack('<II', 0, 0),
                       maxOutputResponse=12)
    return struct.unpack('<III', bytes(rsp))


def write_stream(c, name, data):
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    for off in range(0, len(data), 65536):
        c.smb3.writeFile(c.tid, fid, data[off:off + 65536], off)
    c.smb3.close(c.tid, fid)


STATUS_END_OF_FILE = 0xC0000011


def read_stream(c, name):
    """All of @name, read 64 KiB at a time up to STATUS_END_OF_FILE; any
    other error is raised."""
    fid = open_file(c, name, FILE_OPEN, FILE_READ_DATA)
    data = b''
    try:
        while True:
            try:
                chunk = c.smb3.read(c.tid, fid, len(data), 65536)
            except Exception as e:      # impacket's SessionError
                if (getattr(e, 'get_error_code', lambda: 0)() & 0xFFFFFFFF
                        != STATUS_END_OF_FILE):
                    raise
                return data
            if not chunk:
                return data
            data += chunk
    finally:
        c.smb3.close(c.tid, fid)


def check_copyfile():
    """A copychunk without chunks from an AAPL client copies the data, the
    AFP_AfpInfo, a named stream and a resource fork larger than an xattr
    holds, replacing the fork the destination had; the reply counts the
    bytes of the data only. Without AAPL, the same request copies
    nothing and says so."""
    name = RUN_TAG + '-cp'
    top = SHARE_PATH[SHARE_TM_EXT4]
    data = os.urandom(100000)
    fork = os.urandom(200 * 1024)
    info = afpinfo(b'TEXTttxt')
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, data)
        write_stream(c, name + AFPINFO, info)
        write_stream(c, name + ':foo\uf022bar', b'stream')
        write_stream(c, name + RSRC, fork)
        write_stream(c, name + '-dst', b'')
        write_stream(c, name + '-dst' + RSRC, b'old fork ' * 40000)

        plain = Client(SHARE_TM_EXT4)
        src = open_file(plain, name, FILE_OPEN)
        dst = open_file(plain, name + '-dst', FILE_OPEN)
        got = copyfile(plain, src, dst)
        plain.smb3.close(plain.tid, src)
        plain.smb3.close(plain.tid, dst)
        plain.logoff()
        expect(got == (0, 0, 0), 'copy without AAPL answered %r' % (got,))
        dst_path = os.path.join(top, name + '-dst')
        expect(os.path.getsize(dst_path) == 0 and
               not [x for x in os.listxattr(dst_path)
                    if x.startswith('user.DosStream.')],
               'copy without AAPL changed the destination: %d bytes, '
               'xattrs %r' % (os.path.getsize(dst_path),
                              os.listxattr(dst_path)))
        expect(read_stream(c, name + '-dst' + RSRC) == b'old fork ' * 40000,
               'copy without AAPL changed the resource fork')

        src = open_file(c, name, FILE_OPEN)
        dst = open_file(c, name + '-dst', FILE_OPEN)
        got = copyfile(c, src, dst)
        c.smb3.close(c.tid, src)
        c.smb3.close(c.tid, dst)
        expect(got == (0, 0, len(data)), 'copyfile answered %r' % (got,))
        expect(read_stream(c, name + '-dst') == data, 'data differs')
        got, want = (read_stream(c, n + AFPINFO) for n in (name + '-dst',
                                                          name))
        expect(got == want and want[16:24] == b'TEXTttxt',
               'AFP_AfpInfo %r, source %r' % (got, want))
        expect(read_stream(c, name + '-dst:foo\uf022bar') == b'stream',
               'named stream differs')
        expect(read_stream(c, name + '-dst' + RSRC) == fork,
               'resource fork differs')
        with open(os.path.join(top, '._' + name + '-dst'), 'rb') as f:
            expect(f.read()[82:] == fork, 'fork not in the ._ file')
    finally:
        for n in (name, name + '-dst'):
            try:
                c.delete(n)
            except Exception:       # pylint: disable=broad-except
                pass
        c.logoff()


def macos_adouble(finder_info, xattrs, fork):
    """A ._ file as macOS writes it on a server that does not take its
    xattrs as streams: FinderInfo entry (FinderInfo, padding, ATTR header,
    xattr headers aligned to 4 bytes from the start of the file, values),
    then the resource fork."""
    fi_off, heads, values = 50, b'', b''
    pos = fi_off + 70
    value_at = pos + sum((11 + len(n) + 1 + 3) & ~3 for n, _ in xattrs) + 4
    for name, value in xattrs:
        raw = name.encode() + b'\0'
        head = struct.pack('>IIHB', value_at + len(values), len(value), 0,
                           len(raw)) + raw
        head += b'\0' * (-(pos + len(head)) % 4)
        heads += head
        pos += len(head)
        values += value
    fi = finder_info.ljust(32, b'\0') + b'\0\0'
    # magic, debug tag, total size, data start and length, reserved
    fi += struct.pack('>8IHH', 0x41545452, 0, 0, 0, 0, 0, 0, 0,
                      0, len(xattrs))
    fi += heads
    fi = fi.ljust(value_at - fi_off, b'\0') + values
    rsrc_off = fi_off + len(fi)
    head = struct.pack('>II16sH', 0x00051607, 0x00020000, b'Mac OS X        ',
                       2)
    head += struct.pack('>III', 9, fi_off, len(fi))
    head += struct.pack('>III', 2, rsrc_off, len(fork))
    return head + fi + fork


def check_adouble_conversion():
    """A ._ file macOS left on the share is taken in when the file's streams
    are listed: FinderInfo becomes AFP_AfpInfo, packed xattrs become
    streams with macOS names, the ._ file keeps its fork with a zeroed
    32-byte FinderInfo, and nothing is converted twice."""
    name = RUN_TAG + '-conv'
    top = SHARE_PATH[SHARE_TM_EXT4]
    adfile = os.path.join(top, '._' + name)
    fork = os.urandom(70000)
    tags = b'bplist00 tags'
    c = apple_client(SHARE_TM_EXT4)
    fid = open_file(c, name, FILE_OVERWRITE_IF)
    try:
        with open(adfile, 'wb') as f:
            f.write(macos_adouble(b'TESTSLOW', [
                ('com.apple.metadata:_kMDItemUserTags', tags),
                ('org.example.x', b'x' * 300)], fork))
        # macOS wrote it over SMB: it is the user's, who may rewrite it
        pw = pwd.getpwnam(USER)
        os.chown(adfile, pw.pw_uid, pw.pw_gid)
        names = stream_names(c, fid)
        want = {AFPINFO + ':$DATA': 60, RSRC + ':$DATA': len(fork),
                ':' + TAGS + ':$DATA': len(tags),
                ':org.example.x:$DATA': 300, '::$DATA': 0}
        expect(names == want, 'streams %r' % names)
        expect(read_stream(c, name + AFPINFO)[16:24] == b'TESTSLOW',
               'FinderInfo not taken in')
        stored = os.getxattr(os.path.join(top, name), AFPINFO_XATTR)
        expect(len(stored) == 61 and stored[16:24] == b'TESTSLOW',
               'AFP_AfpInfo stored as %r' % stored)
        expect(read_stream(c, name + ':' + TAGS) == tags, 'tags differ')
        expect(read_stream(c, name + RSRC) == fork, 'fork differs')
        _, _, _, entries = adouble_header(adfile)
        with open(adfile, 'rb') as f:
            raw = f.read()
        fi_off, fi_len = entries[9]
        expect(fi_len == 32 and raw[fi_off:fi_off + 32] == b'\0' * 32,
               'FinderInfo entry left as %r' % (entries,))
        expect(raw[entries[2][0]:] == fork, 'fork moved or changed')

        # Deleted streams stay deleted: the ._ file is not converted again
        sfid = open_file(c, name + AFPINFO, FILE_OPEN)
        c.smb3.writeFile(c.tid, sfid, afpinfo(b''), 0)
        c.smb3.close(c.tid, sfid)
        c.conn.deleteFile(c.share, name + ':' + TAGS)
        names = stream_names(c, fid)
        expect(AFPINFO + ':$DATA' not in names and
               ':' + TAGS + ':$DATA' not in names,
               'converted again: %r' % names)
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


def hostile_adouble(count, value_at, value_len, total):
    """A ._ file whose FinderInfo entry of @total bytes announces @count
    xattrs, all with their value at @value_at (relative to the entry),
    @value_len bytes long: the values overlap each other."""
    fi_off = 50
    fi = b'\0' * 34 + struct.pack('>8IHH', 0x41545452, 0, 0, 0, 0, 0, 0, 0,
                                  0, count)
    i = 0
    while len(fi) < value_at - 24 and i < count:
        raw = b'x%05d\0' % i
        head = struct.pack('>IIHB', fi_off + value_at, value_len, 0,
                           len(raw)) + raw
        head += b'\0' * (-(fi_off + len(fi) + len(head)) % 4)
        fi += head
        i += 1
    fi = fi.ljust(total, b'v')
    head = struct.pack('>II16sH', 0x00051607, 0x00020000, b'Mac OS X        ',
                       2)
    head += struct.pack('>III', 9, fi_off, len(fi))
    head += struct.pack('>III', 2, fi_off + len(fi), 0)
    return head + fi


def klog_count(text):
    """Lines of the kernel log that hold @text."""
    out = subprocess.run(['dmesg'], capture_output=True, text=True).stdout
    return sum(text in line for line in out.splitlines())


def user_streams(path):
    return sorted(x for x in os.listxattr(path)
                  if x.startswith('user.DosStream.'))


def check_adouble_hostile():
    """Hostile ._ files are bounded: 1 MiB of FinderInfo announcing 5,000
    overlapping xattrs, or a few overlapping ones, take nothing in; an
    xattr too long for any xattr is left in the ._ file, which is then
    kept as it is; a failed conversion is not redone at the next listing;
    a session that may not write the file converts nothing."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-hostile-ad'
    path, adfile = os.path.join(top, name), os.path.join(top, '._' + name)
    c = apple_client(SHARE_TM_EXT4)
    cases = [
        ('10 overlapping xattrs', hostile_adouble(10, 1024, 1000, 70000)),
        ('5,000 overlapping xattrs in 1 MiB',
         hostile_adouble(5000, 200000, 1000, 1 << 20)),
        ('65 xattrs', macos_adouble(b'', [('x%d' % i, b'v')
                                          for i in range(65)], b'')),
    ]
    try:
        for what, raw in cases:
            # Both the client's own, so that only the content can stop it
            c.put(name, b'data')
            with open(adfile, 'wb') as f:
                f.write(raw)
            os.chown(adfile, 1000, 1000)
            logged = klog_count('._ file of ' + name)
            fid = open_file(c, name, FILE_OPEN)
            try:
                names = stream_names(c, fid)
                expect(names == {'::$DATA': 4}, '%s: streams %r'
                       % (what, names))
                expect(user_streams(path) == [], '%s: xattrs %r'
                       % (what, user_streams(path)))
                with open(adfile, 'rb') as f:
                    expect(f.read() == raw, '%s: ._ file changed' % what)
                expect(klog_count('._ file of ' + name) == logged + 1,
                       '%s: the failed conversion was not logged once'
                       % what)
                # Not redone at the next listings
                stream_names(c, fid)
                stream_names(c, fid)
                expect(klog_count('._ file of ' + name) == logged + 1,
                       '%s: the failed conversion was tried again' % what)
            finally:
                c.smb3.close(c.tid, fid)

        # An xattr too long for any xattr: the others are taken in, the ._
        # file is kept as it is (nothing is lost)
        raw = macos_adouble(b'TESTSLOW', [('small', b'tiny'),
                                          ('big', b'b' * 70000),
                                          ('n' * 240, b'long name')], b'')
        c.put(name, b'data')
        with open(adfile, 'wb') as f:
            f.write(raw)
        os.chown(adfile, 1000, 1000)
        fid = open_file(c, name, FILE_OPEN)
        try:
            names = stream_names(c, fid)
            expect(names.get(':small:$DATA') == 4 and
                   ':big:$DATA' not in names and len(names) == 3,
                   'streams %r' % names)
            with open(adfile, 'rb') as f:
                expect(f.read() == raw, '._ file with an xattr left in it '
                       'was changed')
        finally:
            c.smb3.close(c.tid, fid)

        # A file the session may not write: its ._ file is not taken in
        os.unlink(path)
        with open(path, 'wb') as f:
            f.write(b'data')
        os.chmod(path, 0o644)               # root's, read-only for tuser
        raw = macos_adouble(b'TESTSLOW', [('small', b'tiny')], b'')
        with open(adfile, 'wb') as f:
            f.write(raw)
        os.chown(adfile, 1000, 1000)
        fid = c.smb3.create(c.tid, name, FILE_READ_DATA |
                            FILE_READ_ATTRIBUTES,
                            FILE_SHARE_READ | FILE_SHARE_WRITE,
                            FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
        try:
            names = stream_names(c, fid)
            expect(list(names) == ['::$DATA'], 'read-only opener: streams '
                   '%r' % names)
            expect(user_streams(path) == [], 'read-only opener converted: '
                   '%r' % user_streams(path))
            with open(adfile, 'rb') as f:
                expect(f.read() == raw, 'read-only opener changed the ._ '
                       'file')
        finally:
            c.smb3.close(c.tid, fid)
    finally:
        for f in (path, adfile):
            try:
                os.unlink(f)
            except OSError:
                pass
        c.logoff()


def check_adouble_vetoed():
    """With veto files = /._*/, ._ files are neither listed nor opened over
    SMB, and the resource forks they hold still work."""
    name = RUN_TAG + '-veto'
    c = apple_client(SHARE_TM_VETO)
    try:
        write_stream(c, name, b'data')
        write_stream(c, name + RSRC, b'fork')
        expect(os.path.exists(os.path.join(SHARE_PATH[SHARE_TM_VETO],
                                           '._' + name)), 'no ._ file')
        listed = [f.get_longname() for f in c.conn.listPath(c.share, '*')]
        expect(name in listed and '._' + name not in listed,
               'listing %r' % listed)
        status = smb_status(lambda: open_file(c, '._' + name, FILE_OPEN))
        # ksmbd refuses a vetoed name as invalid (Samba: not found)
        expect(status == STATUS_OBJECT_NAME_INVALID,
               '._ file opened: %s' % status_name(status))
        expect(read_stream(c, name + RSRC) == b'fork', 'fork differs')
    finally:
        c.delete(name)
        c.logoff()


def rename_with_open_child(renamer, holder, name):
    """Make @name/f, keep it open through @holder, rename @name through
    @renamer: the NT status of the rename."""
    smb_mkdir(renamer, name)
    fid = open_file(holder, name + '/f', FILE_OVERWRITE_IF)
    try:
        return smb_status(lambda: renamer.conn.rename(renamer.share, name,
                                                      name + '-moved'))
    finally:
        holder.smb3.close(holder.tid, fid)


def check_posix_rename():
    """A folder whose files an Apple client keeps open can be renamed by
    that client, as on macOS: the opens of its session are POSIX opens for
    its renames. A file another session holds open below it, another
    Mac's as much as a client's without AAPL, still prevents the rename,
    as on Samba 4.25 (whose fruit:posix_rename, which ignored every open
    below, was removed in 4.22)."""
    name = RUN_TAG + '-dir'
    top = SHARE_PATH[SHARE_TM_EXT4]
    mac = apple_client(SHARE_TM_EXT4)
    mac2 = apple_client(SHARE_TM_EXT4)
    other = Client(SHARE_TM_EXT4)
    cases = [('Apple client, its own open', mac, mac, STATUS_SUCCESS),
             ('Apple client, open of another Apple session', mac, mac2,
              STATUS_ACCESS_DENIED),
             ('Apple client, open of a client without AAPL', mac, other,
              STATUS_ACCESS_DENIED),
             ('client without AAPL, its own open', other, other,
              STATUS_ACCESS_DENIED),
             ('client without AAPL, open of the Apple client', other, mac,
              STATUS_ACCESS_DENIED)]
    try:
        for i, (what, renamer, holder, want) in enumerate(cases):
            got = rename_with_open_child(renamer, holder, '%s%d' % (name, i))
            expect(got == want, '%s: %s, expected %s'
                   % (what, status_name(got), status_name(want)))
    finally:
        for i in range(len(cases)):
            for d in ('%s%d' % (name, i), '%s%d-moved' % (name, i)):
                shutil.rmtree(os.path.join(top, d), ignore_errors=True)
        other.logoff()
        mac2.logoff()
        mac.logoff()


CHECKS = [
    ('NFS ACEs: query returns one mode, uid and gid ACE',
     check_nfs_aces_query),
    ('NFS ACEs: set applies the mode and collapses duplicates',
     lambda: check_nfs_aces_chmod(SHARE_TM)),
    ('NFS ACEs: set on a share with acl_xattr stores no NFS ACE',
     lambda: check_nfs_aces_chmod(SHARE_TM_ACL)),
    ('NFS ACEs: a mode-only set keeps the POSIX ACL',
     lambda: check_nfs_aces_mode_only(SHARE_TM_EXT4)),
    ('NFS ACEs: a mode-only set on a share with acl_xattr keeps the POSIX '
     'ACL and the stored NT ACL', lambda: check_nfs_aces_mode_only(
         SHARE_TM_ACL)),
    ('NFS ACEs: malformed DACL refused with INVALID_PARAMETER',
     check_nfs_aces_malformed),
    ('NFS ACEs: none without AAPL',
     lambda: check_no_nfs_aces(SHARE_TM, False)),
    ('NFS ACEs: none on a share without the Apple extensions',
     lambda: check_no_nfs_aces(SHARE_PLAIN, True)),
    ('FULLFSYNC flush on tmpfs', lambda: check_fullfsync(SHARE_TM)),
    ('FULLFSYNC flush on ext4', lambda: check_fullfsync(SHARE_TM_EXT4)),
    ('time machine size limit: the trusted xattr, following bands, bundles '
     'and limit changes', check_tm_limit),
    ('time machine size limit: a malformed limit fails size queries with '
     'UNEXPECTED_IO_ERROR', check_tm_limit_unreadable),
    ('time machine size limit: no client action (quota plist, EAs) moves it',
     check_tm_limit_clients),
    ('time machine size limit: hostile bundles (FIFO, symlinks, garbage, '
     'mount point) count for nothing', check_tm_hostile_bundles),
    ('time machine size limit: 65, 256 and 257 bundles, no directory read '
     'when nothing changed', check_tm_many_bundles),
    ('time machine size limit: bands rewritten in place are recounted',
     check_tm_recount),
    ('time machine size limit: not on shares without the Apple extensions',
     check_tm_limit_plain_share),
    ('time machine destination probe gets a durable handle with a lease',
     check_tm_probe),
    ('time machine backup: bands, FULLFSYNC, free space, durable reconnect '
     'after a dropped connection, every byte intact', check_tm_backup),
    ('AFP_AfpInfo on disk: Samba and netatalk formats read, all-zero '
     'FinderInfo deletes', check_afpinfo_on_disk),
    ('100 MiB resource fork round trip in a ._ file on tmpfs',
     lambda: check_rsrc_100mib(SHARE_TM)),
    ('100 MiB resource fork round trip in a ._ file on ext4',
     lambda: check_rsrc_100mib(SHARE_TM_EXT4)),
    ('resource fork follows a rename and survives a delete request',
     check_rsrc_rename),
    ('resource fork in a stream xattr is moved to the ._ file',
     check_rsrc_from_xattr),
    ('READDIR_ATTR: max access as MxAc, fork length, FinderInfo, mode, '
     'V2 stream flag', check_readdir_attr),
    ('stream written on the server with ":" listed and opened with U+F022',
     check_stream_native),
    ('copyfile copies data, AFP_AfpInfo, named streams and resource fork',
     check_copyfile),
    ('._ file written by macOS: FinderInfo and xattrs taken in once',
     check_adouble_conversion),
    ('._ files hidden by veto files, their resource forks kept',
     check_adouble_vetoed),
    ('._ files with overlapping, too many or too long xattrs: bounded, kept, '
     'not redone, not by a session that may not write the file',
     check_adouble_hostile),
    ('folder with open files renamed by an Apple client (POSIX rename)',
     check_posix_rename),
]


if __name__ == '__main__':
    sys.exit(ksmbd_tap.run(CHECKS))
