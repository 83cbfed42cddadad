#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Tests an attacker would write against ksmbd's Apple extensions: client
# sequences that reach the storage of AFP_AfpInfo and AFP_Resource (the
# "._" files beside the files) on paths a Mac never takes, with files
# planted on the server as a local user would plant them. After each, the
# data is checked byte by byte, and nothing outside the share may have
# been created or changed. Runs on the server (the test VM) as root, with
# the shares of ksmbd.conf, like apple_e2e.py, whose helpers it uses.
# Output is TAP.

import array
import ctypes
import fcntl
import hashlib
import os
import pwd
import random
import select
import shutil
import struct
import subprocess
import sys
import threading
import time

from impacket.smb3structs import (
    DELETE, FILE_CREATE, FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE,
    FILE_OPEN, FILE_OPEN_IF, FILE_OVERWRITE_IF, FILE_READ_ATTRIBUTES,
    FILE_READ_DATA, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_WRITE_DATA,
    GENERIC_ALL, READ_CONTROL, WRITE_DAC)

from aapl_wire import USER, Client, expect, status_name
from apple_e2e import (
    AFPINFO, AFPINFO_XATTR, FILE_STREAM_INFORMATION, IN_OPEN, LEASE_RWH,
    NTACL_XATTR, RSRC, SHARE_PATH, SHARE_TM, SHARE_TM_ACL, SHARE_TM_EXT4,
    STATUS_ACCESS_DENIED, STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND, adouble_header, afpinfo, apple_client,
    copyfile, disk_flushes, flush, getfacl, lease_ctx, macos_adouble,
    nfs_ace, nfs_aces, open_file, parse_dacl, query_sd, raw_create,
    read_stream, readdir_attr, smb_mkdir, smb_status, write_stream)
import ksmbd_tap

RUN_TAG = 'apple-hostile-%d' % os.getpid()
FILE_SHARE_DELETE = 4
FILE_DELETE_ON_CLOSE = 0x00001000
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_FILE_CLOSED = 0xC0000128
STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
FILE_DISPOSITION_INFORMATION = 13
SHARE_EXT4 = 'ext4'            # /srv/ext4 without the Apple extensions
STATUS_SUCCESS = 0
FILE_RENAME_INFORMATION = 10
FILE_LINK_INFORMATION = 11
FILE_END_OF_FILE_INFORMATION = 20
ADOUBLE_VISIBLE_XATTR = 'trusted.ksmbd.appledouble'
SMB2_0_INFO_SECURITY = 3
OWNER_SECINFO, GROUP_SECINFO, DACL_SECINFO = 1, 2, 4
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
# A READDIR_ATTR entry without FinderInfo: 12 zero bytes, then the
# AppleDouble date "unknown"
NO_FINDER = b'\0' * 12 + struct.pack('>I', 0x80000000)


# --- The server side, as a local user sees it ------------------------------

def tuser_ids():
    pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


def plant(path, data, mode=0o666):
    """A file written on the server by the share's user (a local user)."""
    with open(path, 'wb') as f:
        f.write(data)
    os.chown(path, *tuser_ids())
    os.chmod(path, mode)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def xattrs(path):
    return {n: os.getxattr(path, n, follow_symlinks=False)
            for n in os.listxattr(path, follow_symlinks=False)}


def snapshot(top, skip):
    """What a client of a share must not change in the directory @top,
    which holds the share root @skip: @top itself and each of its entries
    but @skip (status, xattrs, and a hash of a file's data)."""
    snap = {}
    for entry in [top] + [os.path.join(top, n) for n in os.listdir(top)]:
        if entry == skip:
            continue
        st = os.lstat(entry)
        digest = None
        if os.path.isfile(entry) and not os.path.islink(entry):
            with open(entry, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        snap[entry] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                       st.st_mtime_ns, st.st_ctime_ns, digest,
                       sorted(xattrs(entry).items()))
    return snap


def expect_unchanged(before, after):
    for entry in sorted(set(before) | set(after)):
        expect(before.get(entry) == after.get(entry),
               'outside the share, %s changed: %r, before %r'
               % (entry, after.get(entry), before.get(entry)))


def outside(share):
    """(the directory above the share root, the share root)"""
    root = SHARE_PATH[share]
    return os.path.dirname(root), root


# --- SMB -------------------------------------------------------------------

def open_raw(c, name, disposition, access, options=FILE_NON_DIRECTORY_FILE,
             share=SHARE_ALL):
    return c.smb3.create(c.tid, name, access, share, options, disposition, 0)


def open_status(c, name, disposition, access, options=FILE_NON_DIRECTORY_FILE):
    """The status of an open; a handle it gets is closed at once."""
    fid = []
    status = smb_status(lambda: fid.append(open_raw(c, name, disposition,
                                                    access, options)))
    for f in fid:
        c.smb3.close(c.tid, f)
    return status


def lease_open_status(c, name, disposition, options=FILE_NON_DIRECTORY_FILE):
    """The status of an open for reading and writing with an R|W|H lease;
    a handle it gets is closed at once."""
    lease = lease_ctx(os.urandom(16), LEASE_RWH)
    status, fid, _ = raw_create(c, name, [lease],
                                FILE_READ_DATA | FILE_WRITE_DATA, disposition,
                                SHARE_ALL, options)
    if fid is not None:
        c.smb3.close(c.tid, fid)
    return status


def set_sd(c, fid, sd, info):
    c.smb3.setInfo(c.tid, fid, inputBlob=sd, infoType=SMB2_0_INFO_SECURITY,
                   fileInfoClass=0, additionalInformation=info)


def sid_at(sd, off):
    return sd[off:off + 8 + 4 * sd[off + 1]]


def build_sd_owner(owner, group, aces):
    """A self-relative descriptor: owner, group, then a DACL of raw ACEs."""
    body = b''.join(aces)
    dacl = struct.pack('<BBHHH', 2, 0, 8 + len(body), len(aces), 0) + body
    osid = 20
    gsid = osid + len(owner)
    dacl_off = gsid + len(group)
    # Control: DACL_PRESENT | SELF_RELATIVE
    return (struct.pack('<BBHIIII', 1, 0, 0x8004, osid, gsid, 0, dacl_off)
            + owner + group + dacl)


def stream_list_status(c, name, options):
    def query():
        fid = open_raw(c, name, FILE_OPEN, FILE_READ_ATTRIBUTES, options)
        try:
            c.smb3.queryInfo(c.tid, fid, infoType=1,
                             fileInfoClass=FILE_STREAM_INFORMATION)
        finally:
            c.smb3.close(c.tid, fid)
    return smb_status(query)


# --- A failed open closed as a stream handle --------------------------------

def delete_on_close_stream(c, name):
    """A handle of a named stream of @name with delete-on-close: it sets the
    inode-wide flag that the next stream handle closed acts on."""
    write_stream(c, name + ':doc', b'doomed')
    return open_raw(c, name + ':doc', FILE_OPEN, GENERIC_ALL | DELETE,
                    FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE)


def check_afpinfo_create_collision():
    """An open of AFP_AfpInfo with FILE_CREATE on a file that has one fails
    with OBJECT_NAME_COLLISION, and its close deletes nothing, even with a
    delete-on-close handle of another stream of the file open; that handle
    deletes its own stream when it closes."""
    name = RUN_TAG + '-afp-create'
    path = os.path.join(SHARE_PATH[SHARE_TM_EXT4], name)
    info = afpinfo(b'TEXTttxt')
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, b'data')
        write_stream(c, name + AFPINFO, info)
        stored = os.getxattr(path, AFPINFO_XATTR)
        doc = delete_on_close_stream(c, name)
        status = open_status(c, name + AFPINFO, FILE_CREATE,
                             FILE_READ_DATA | FILE_WRITE_DATA)
        expect(status == STATUS_OBJECT_NAME_COLLISION,
               'FILE_CREATE of an existing AFP_AfpInfo: %s'
               % status_name(status))
        c.smb3.close(c.tid, doc)
        expect(AFPINFO_XATTR in os.listxattr(path) and
               os.getxattr(path, AFPINFO_XATTR) == stored,
               'the failed FILE_CREATE deleted or changed AFP_AfpInfo: %r'
               % xattrs(path))
        # Any offset up to 60 reads from the start (see apple_afp.c)
        got = read_stream(c, name + AFPINFO)[:60]
        expect(got == stored[:60] and got[16:24] == b'TEXTttxt',
               'AFP_AfpInfo reads back as %r, stored %r' % (got, stored))
        expect('user.DosStream.doc:$DATA' not in os.listxattr(path),
               'the delete-on-close stream survived its close: %r'
               % sorted(os.listxattr(path)))
    finally:
        c.delete(name)
        c.logoff()


def check_rsrc_open_failed_close():
    """An open of an AFP_Resource that does not exist fails with
    OBJECT_NAME_NOT_FOUND, and closing the failed handle beside a
    delete-on-close handle of another stream of the file does not take
    the server down (it used to dereference the fork's missing "._"
    file); the server answers, the file's data is intact, and the
    delete-on-close stream goes at its own close."""
    name = RUN_TAG + '-rsrc-fail'
    path = os.path.join(SHARE_PATH[SHARE_TM_EXT4], name)
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, b'data')
        doc = delete_on_close_stream(c, name)
        status = open_status(c, name + RSRC, FILE_OPEN, FILE_READ_DATA)
        expect(status == STATUS_OBJECT_NAME_NOT_FOUND,
               'open of a missing AFP_Resource: %s' % status_name(status))
        c.smb3.close(c.tid, doc)
        other = apple_client(SHARE_TM_EXT4)
        try:
            expect(read_stream(other, name) == b'data',
                   'the file data changed')
        finally:
            other.logoff()
        expect('user.DosStream.doc:$DATA' not in os.listxattr(path),
               'the delete-on-close stream survived its close: %r'
               % sorted(os.listxattr(path)))
        expect(not os.path.exists(os.path.join(SHARE_PATH[SHARE_TM_EXT4],
                                               '._' + name)),
               'a ._ file was created for the failed open')
    finally:
        c.delete(name)
        c.logoff()


# --- NFS ACEs: a chmod keeps the ACLs --------------------------------------

def check_nfs_chmod_with_owner(share):
    """A DACL of NFS ACEs only, sent with the file's owner and group SIDs
    (a chmod), changes the mode and nothing else: the POSIX ACL keeps its
    entries, the owner stays, and the stored NT ACL, on a share with
    acl_xattr, is unchanged. A DACL of the uid and gid ACEs only (a
    chown to the same owner) changes nothing either."""
    name = RUN_TAG + '-nfs-owner'
    path = os.path.join(SHARE_PATH[share], name)
    c = apple_client(share)
    fid = open_file(c, name, FILE_OVERWRITE_IF,
                    GENERIC_ALL | READ_CONTROL | WRITE_DAC)
    try:
        os.chmod(path, 0o640)
        subprocess.run(['setfacl', '-m', 'u:nobody:r,g:daemon:rw', path],
                       check=True)
        acl = getfacl(path)
        ntacl = (os.getxattr(path, NTACL_XATTR)
                 if NTACL_XATTR in os.listxattr(path) else None)
        st = os.stat(path)
        sd = query_sd(c, fid)
        osid_off, gsid_off = struct.unpack_from('<II', sd, 4)
        expect(osid_off and gsid_off, 'no owner or group in the query')
        owner, group = sid_at(sd, osid_off), sid_at(sd, gsid_off)
        expect(nfs_aces(parse_dacl(sd)), 'no NFS ACE in the query')

        cases = [('mode ACE with owner and group',
                  build_sd_owner(owner, group, [nfs_ace(3, 0o750)]), 0o750),
                 ('uid and gid ACEs only',
                  build_sd_owner(owner, group, [nfs_ace(1, st.st_uid),
                                                nfs_ace(2, st.st_gid)]),
                  0o750)]
        for what, blob, want_mode in cases:
            set_sd(c, fid, blob, OWNER_SECINFO | GROUP_SECINFO |
                   DACL_SECINFO)
            now = os.stat(path)
            expect(now.st_mode & 0o7777 == want_mode,
                   '%s: mode %o, expected %o'
                   % (what, now.st_mode & 0o7777, want_mode))
            expect((now.st_uid, now.st_gid) == (st.st_uid, st.st_gid),
                   '%s: owner %d:%d, was %d:%d' % (what, now.st_uid,
                                                   now.st_gid, st.st_uid,
                                                   st.st_gid))
            after = getfacl(path)
            for entry in ('user:nobody:r--', 'group:daemon:rw-'):
                expect(entry in after, '%s: the POSIX ACL lost %s: %r, '
                       'before %r' % (what, entry, after, acl))
            if ntacl is not None:
                expect(NTACL_XATTR in os.listxattr(path) and
                       os.getxattr(path, NTACL_XATTR) == ntacl,
                       '%s: the stored NT ACL changed' % what)
    finally:
        c.smb3.close(c.tid, fid)
        c.delete(name)
        c.logoff()


# --- The share root has no "._" file ----------------------------------------

def check_root_afpinfo_no_escape():
    """AFP_AfpInfo of the share root, opened and listed, and a stream
    listing of the root, leave the "._<share>" file a local user planted
    in the directory above the share as it is: it is not read, converted
    or rewritten, and nothing there changes."""
    above, root = outside(SHARE_TM_ACL)
    planted = os.path.join(above, '._' + os.path.basename(root))
    blob = macos_adouble(b'LEAKLEAK\x01\x00', [('com.example.leak', b'x')],
                         b'fork above the share')
    plant(planted, blob)
    before = snapshot(above, root)
    root_xattrs = xattrs(root)
    c = apple_client(SHARE_TM_ACL)
    try:
        for disposition in (FILE_OPEN, FILE_OPEN_IF):
            open_status(c, AFPINFO, disposition,
                        FILE_READ_DATA | FILE_WRITE_DATA, 0)
        stream_list_status(c, '', 0)
        with open(planted, 'rb') as f:
            expect(f.read() == blob, 'the ._ file above the share changed')
        expect_unchanged(before, snapshot(above, root))
        expect(xattrs(root) == root_xattrs,
               'the share root took in the ._ file above it: %r'
               % sorted(set(xattrs(root)) - set(root_xattrs)))
    finally:
        c.logoff()
        remove(planted)
        for n in set(xattrs(root)) - set(root_xattrs):
            os.removexattr(root, n)


def check_root_copyfile_no_escape():
    """A copychunk without chunks from an empty file with a resource fork
    (no data to copy, so nothing fails before the streams are copied) onto
    the share root creates no "._<share>" above the share and leaves one a
    local user planted there as it is."""
    above, root = outside(SHARE_TM_ACL)
    planted = os.path.join(above, '._' + os.path.basename(root))
    name = RUN_TAG + '-cp-root'
    fork = b'resource fork ' * 100
    c = apple_client(SHARE_TM_ACL)
    try:
        write_stream(c, name, b'')
        write_stream(c, name + RSRC, fork)
        for blob in (None, macos_adouble(b'PLNTPLNT', [], b'planted fork')):
            remove(planted)
            if blob is not None:
                plant(planted, blob)
            before = snapshot(above, root)
            src = open_file(c, name, FILE_OPEN, FILE_READ_DATA |
                            FILE_READ_ATTRIBUTES)
            dst = open_raw(c, '', FILE_OPEN, FILE_READ_DATA |
                           FILE_WRITE_DATA | FILE_READ_ATTRIBUTES, 0)
            try:
                smb_status(lambda: copyfile(c, src, dst))
            finally:
                c.smb3.close(c.tid, src)
                c.smb3.close(c.tid, dst)
            if blob is None:
                expect(not os.path.lexists(planted),
                       'copyfile onto the share root created %s' % planted)
            else:
                with open(planted, 'rb') as f:
                    expect(f.read() == blob,
                           'copyfile onto the share root rewrote %s'
                           % planted)
            expect_unchanged(before, snapshot(above, root))
        expect(read_stream(c, name + RSRC) == fork,
               'the source fork changed')
    finally:
        remove(planted)
        c.delete(name)
        c.logoff()


def self_opens(fd):
    """How many inotify events on @fd are opens of a watched directory
    itself (no name: not an entry opened inside it)."""
    n = 0
    while True:
        try:
            buf = os.read(fd, 65536)
        except BlockingIOError:
            return n
        pos = 0
        while pos < len(buf):
            _, mask, _, length = struct.unpack_from('iIII', buf, pos)
            if mask & IN_OPEN and not length:
                n += 1
            pos += 16 + length


def check_root_fullfsync_no_escape():
    """An F_FULLFSYNC flush of the share root's handle flushes the disk and
    opens nothing above the share (the directory of a file is synced with
    it; the share root's would be outside the share)."""
    above, _ = outside(SHARE_TM_ACL)
    c = apple_client(SHARE_TM_ACL)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    expect(fd >= 0, 'inotify_init1 failed')
    try:
        expect(libc.inotify_add_watch(fd, os.fsencode(above), IN_OPEN) >= 0,
               'inotify_add_watch %s failed' % above)
        fid = open_raw(c, '', FILE_OPEN, FILE_READ_DATA | FILE_WRITE_DATA,
                       options=0)
        try:
            self_opens(fd)
            status = flush(c, fid, 0xFFFF)
            opens = self_opens(fd)
        finally:
            c.smb3.close(c.tid, fid)
        expect(status == STATUS_SUCCESS and not opens,
               'FULLFSYNC of the share root: %s, %d opens of %s'
               % (status_name(status), opens, above))
    finally:
        os.close(fd)
        c.logoff()


def check_fullfsync_unreadable_dir():
    """An F_FULLFSYNC flush syncs the folder of the file as the session's
    user would with open(2): a folder that user may read is opened and
    synced; once its mode is 0333 (root's folder, which the user may write
    and search but not read) it is not opened, as open(2) would refuse
    the user. The flush succeeds and flushes the disk either way."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-wx'
    folder = os.path.join(top, name)
    libc = ctypes.CDLL(None, use_errno=True)
    c, fd, fid = None, -1, None
    try:
        os.mkdir(folder)
        os.chmod(folder, 0o777)
        c = apple_client(SHARE_TM_EXT4)
        fd = libc.inotify_init1(os.O_NONBLOCK)
        expect(fd >= 0, 'inotify_init1 failed')
        expect(libc.inotify_add_watch(fd, os.fsencode(folder), IN_OPEN) >= 0,
               'inotify_add_watch %s failed' % folder)
        fid = open_file(c, name + '\\band', FILE_CREATE)
        c.smb3.writeFile(c.tid, fid, b'band', 0)
        for mode, want in ((0o777, 1), (0o333, 0)):
            os.chmod(folder, mode)
            self_opens(fd)
            before = disk_flushes(folder)
            status = flush(c, fid, 0xFFFF)
            opens = self_opens(fd)
            expect(status == STATUS_SUCCESS and opens == want,
                   'FULLFSYNC in a folder of mode %o: %s, %d opens of it, '
                   'expected %d' % (mode, status_name(status), opens, want))
            expect(disk_flushes(folder) > before,
                   'FULLFSYNC in a folder of mode %o did not flush the '
                   'disk' % mode)
    finally:
        if fd >= 0:
            os.close(fd)
        if c:
            try:
                if fid is not None:
                    c.smb3.close(c.tid, fid)
                c.logoff()
            except Exception:       # pylint: disable=broad-except
                pass                # the folder goes all the same
        if os.path.isdir(folder):
            os.chmod(folder, 0o777)
            shutil.rmtree(folder)


def check_copyfile_removed_stream():
    """A whole-file copy from a handle of a named stream that another
    handle has removed since gets STATUS_FILE_CLOSED, as a READ of that
    handle does, not an I/O error; the destination keeps its data."""
    name, dst_name = RUN_TAG + '-cp-gone', RUN_TAG + '-cp-dst'
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, b'data')
        write_stream(c, name + ':s1', b'stream data')
        write_stream(c, dst_name, b'destination')
        src = open_raw(c, name + ':s1', FILE_OPEN, FILE_READ_DATA)
        dst = open_raw(c, dst_name, FILE_OPEN,
                       FILE_READ_DATA | FILE_WRITE_DATA)
        try:
            doomed = open_raw(c, name + ':s1', FILE_OPEN, DELETE,
                              FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE)
            c.smb3.close(c.tid, doomed)
            read = smb_status(lambda: c.smb3.read(c.tid, src, 0, 100))
            status = smb_status(lambda: copyfile(c, src, dst))
            expect(read == STATUS_FILE_CLOSED and
                   status == STATUS_FILE_CLOSED,
                   'READ of the removed stream: %s, copyfile from it: %s'
                   % (status_name(read), status_name(status)))
        finally:
            for fid in (src, dst):
                try:
                    c.smb3.close(c.tid, fid)
                except KeyError:    # impacket files handles by name
                    pass
        expect(read_stream(c, dst_name) == b'destination',
               'the destination changed')
    finally:
        c.delete(name)
        c.delete(dst_name)
        c.logoff()


def check_root_readdir_dotdot():
    """In a READDIR_ATTR listing of the share root, ".." (the directory
    above the share) is listed with no access, FinderInfo or fork read
    from it, while "." shows the root's FinderInfo."""
    above, root = outside(SHARE_TM_ACL)
    above_xattrs = xattrs(above)
    # FinderInfo flags (bytes 8-9) are what a folder's entry shows
    os.setxattr(above, AFPINFO_XATTR,
                afpinfo(b'LEAKLEAK\x40\x00') + b'\0')
    os.setxattr(root, AFPINFO_XATTR, afpinfo(b'\0' * 8 + b'\x01\x00') + b'\0')
    c = apple_client(SHARE_TM_ACL)
    try:
        entries = readdir_attr(c, '')
        expect('.' in entries and '..' in entries,
               'no . or .. in the listing: %r' % sorted(entries))
        access, _, rsrc, finder, _ = entries['..']
        expect(finder == NO_FINDER and not rsrc and not access,
               '".." of the share root shows the directory above: access '
               '%#x, fork %d, FinderInfo %s' % (access, rsrc, finder.hex()))
        finder = entries['.'][3]
        expect(finder[8:10] == b'\x01\x00',
               '"." of the share root lost its FinderInfo: %s'
               % finder.hex())
    finally:
        c.logoff()
        for path, kept in ((above, above_xattrs), (root, {})):
            if AFPINFO_XATTR not in kept:
                try:
                    os.removexattr(path, AFPINFO_XATTR)
                except OSError:
                    pass
            else:
                os.setxattr(path, AFPINFO_XATTR, kept[AFPINFO_XATTR])


# --- "._" files: permissions, links and mounts ------------------------------

def ksmbd_adouble(fork):
    """A ._ file as ksmbd writes it: a 32-byte FinderInfo entry at 50, the
    resource fork from 82 to the end."""
    head = struct.pack('>II16sH', 0x00051607, 0x00020000, b'', 2)
    head += struct.pack('>III', 9, 50, 32) + struct.pack('>III', 2, 82,
                                                         len(fork))
    return head + b'\0' * 32 + fork


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def fork_held(path):
    """The resource fork the "._" file @path holds, as its fork entry
    says; None if the entry does not match the file's size."""
    data = read_file(path)
    off, length = adouble_header(path)[3][2]
    return data[off:] if off + length == len(data) else None


def write_fork_status(c, name, data):
    """The status of opening @name's resource fork for writing and
    writing @data at its start."""
    def write():
        fid = open_raw(c, name + RSRC, FILE_OPEN_IF,
                       FILE_READ_DATA | FILE_WRITE_DATA)
        try:
            c.smb3.writeFile(c.tid, fid, data, 0)
        finally:
            c.smb3.close(c.tid, fid)
    return smb_status(write)


def check_sidecar_not_writable():
    """A ._ file the user may not write (root's, mode 0644) is not written
    through the file's resource fork, although the user may write the
    file; nor does a listing of the file's streams rewrite one macOS
    left there read-only."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-ro-ad'
    conv = RUN_TAG + '-ro-conv'
    ad, conv_ad = (os.path.join(top, '._' + n) for n in (name, conv))
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, b'data')
        write_stream(c, conv, b'data')
        blob = ksmbd_adouble(b"root's fork")
        conv_blob = macos_adouble(b'TEXTttxt', [('com.example.ro', b'v')],
                                  b'macOS fork')
        for path, data in ((ad, blob), (conv_ad, conv_blob)):
            with open(path, 'wb') as f:
                f.write(data)
            os.chown(path, 0, 0)
            os.chmod(path, 0o644)
        status = write_fork_status(c, name, b'EVIL')
        expect(status == STATUS_ACCESS_DENIED,
               'write of a fork in a ._ file the user may not write: %s'
               % status_name(status))
        expect(read_file(ad) == blob, 'the read-only ._ file was written')
        stream_list_status(c, conv, FILE_NON_DIRECTORY_FILE)
        expect(read_file(conv_ad) == conv_blob,
               'the conversion rewrote a ._ file the user may not write')
    finally:
        for n in (name, conv):
            remove(os.path.join(top, '._' + n))
            c.delete(n)
        c.logoff()


def check_sidecar_ro_open_if():
    """A reading OPEN_IF of the fork of another user's file, in a folder
    the user may write, fails with OBJECT_NAME_NOT_FOUND and creates no
    ._ file (it would be the user's, beside root's file)."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-root-file'
    path = os.path.join(top, name)
    with open(path, 'wb') as f:
        f.write(b"root's data")
    os.chmod(path, 0o644)
    c = apple_client(SHARE_TM_EXT4)
    try:
        status = open_status(c, name + RSRC, FILE_OPEN_IF, FILE_READ_DATA)
        expect(status == STATUS_OBJECT_NAME_NOT_FOUND,
               'reading OPEN_IF of a missing fork: %s' % status_name(status))
        expect(not os.path.lexists(os.path.join(top, '._' + name)),
               'a reading OPEN_IF created %s'
               % os.path.join(top, '._' + name))
    finally:
        c.logoff()
        remove(os.path.join(top, '._' + name))
        remove(path)


SHARE_TM_MASK = 'tm_mask'    # /srv/ext4/sub, time machine, create mask 0640
MASK_PATH = '/srv/ext4/sub'


def check_sidecar_create_mask():
    """A ._ file is created with the share's create mask (0640 on tm_mask),
    as a file created over SMB is: not readable by others when the file's
    mode is 0666, and owned by the user."""
    top = MASK_PATH
    name = RUN_TAG + '-mask'
    c = apple_client(SHARE_TM_MASK)
    try:
        write_stream(c, name, b'data')
        os.chmod(os.path.join(top, name), 0o666)
        write_stream(c, name + RSRC, b'fork')
        st = os.stat(os.path.join(top, '._' + name))
        expect(not st.st_mode & 0o037,
               'the ._ file was created with mode %o, the share\'s create '
               'mask is 0640' % (st.st_mode & 0o7777))
        expect(st.st_uid == tuser_ids()[0],
               'the ._ file belongs to uid %d' % st.st_uid)
        expect(read_stream(c, name + RSRC) == b'fork', 'fork differs')
    finally:
        remove(os.path.join(top, '._' + name))
        c.delete(name)
        c.logoff()


def expect_not_fork(c, name, target, blob, read_msg, write_msg):
    """@target, holding @blob and planted where @name's ._ file would be
    (mounted on it, linked to it), is neither read nor written as the
    fork of @name."""
    write_stream(c, name, b'data')
    got = []
    smb_status(lambda: got.append(read_stream(c, name + RSRC)))
    expect(not got or b'outside' not in got[0], '%s: %r' % (read_msg, got))
    write_fork_status(c, name, b'EVIL')
    expect(read_file(target) == blob, write_msg)


def check_sidecar_mount():
    """A file mounted on a ._ name (a bind mount of a file outside the
    share) is not used as the fork: its data is neither read nor
    written."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-mnt'
    ad = os.path.join(top, '._' + name)
    target = os.path.join(SHARE_PATH[SHARE_TM], RUN_TAG + '-mnt-target')
    blob = ksmbd_adouble(b'outside the share')
    plant(target, blob)
    plant(ad, ksmbd_adouble(b''))
    subprocess.run(['mount', '--bind', target, ad], check=True)
    c = apple_client(SHARE_TM_EXT4)
    try:
        expect_not_fork(c, name, target, blob,
                        'the fork read the file mounted on its ._ file',
                        'the file mounted on the ._ file was written')
    finally:
        subprocess.run(['umount', ad], check=False)
        remove(ad)
        remove(target)
        c.delete(name)
        c.logoff()


def check_sidecar_hard_link():
    """A ._ file hard-linked by a local user to a file outside the share
    (on the same filesystem) is not used as the fork: the file outside is
    neither read nor written."""
    above, root = outside(SHARE_TM_ACL)
    name = RUN_TAG + '-link'
    ad = os.path.join(root, '._' + name)
    target = os.path.join(above, RUN_TAG + '-link-target')
    blob = ksmbd_adouble(b'outside the share')
    plant(target, blob)
    os.link(target, ad)
    c = apple_client(SHARE_TM_ACL)
    try:
        expect_not_fork(c, name, target, blob,
                        'the fork read a file outside the share',
                        'the file outside the share was written through its '
                        'link')
        # Nor does a listing show the linked file's size as the fork's
        rsrc = readdir_attr(c, '')[name][2]
        expect(rsrc == 0, 'READDIR_ATTR lists a fork of %d bytes, the size '
               'of the file outside the share' % rsrc)
    finally:
        remove(ad)
        remove(target)
        c.delete(name)
        c.logoff()


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS = 0x80086601, 0x40086602
FS_APPEND_FL = 0x20


def set_append_only(path, on):
    """chattr +a / -a @path (root only)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        flags = array.array('l', [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        flags[0] = (flags[0] | FS_APPEND_FL if on
                    else flags[0] & ~FS_APPEND_FL)
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
    finally:
        os.close(fd)


def check_sidecar_append_only():
    """A ._ file the administrator made append-only (chattr +a) is not
    opened to be rewritten through the fork, as open(2) of it for writing
    without O_APPEND fails: the fork's write fails and the file keeps its
    bytes; the fork is still read."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    name = RUN_TAG + '-append'
    ad = os.path.join(top, '._' + name)
    blob = ksmbd_adouble(b'append-only fork')
    c = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(c, name, b'data')
        plant(ad, blob)
        set_append_only(ad, True)
        status = write_fork_status(c, name, b'EVIL')
        expect(status != STATUS_SUCCESS,
               'a write of the fork in an append-only ._ file succeeded')
        expect(read_file(ad) == blob, 'the append-only ._ file was rewritten')
        expect(read_stream(c, name + RSRC) == b'append-only fork',
               'the append-only fork is not read')
    finally:
        if os.path.lexists(ad):
            set_append_only(ad, False)
        remove(ad)
        c.delete(name)
        c.logoff()


# --- Destructive opens, renames and races -----------------------------------

def check_overwrite_sharing_violation():
    """An OVERWRITE_IF of AFP_Resource or AFP_AfpInfo that loses on share
    modes (another client holds the stream open without FILE_SHARE_WRITE)
    fails with SHARING_VIOLATION and leaves the stream as it was, byte for
    byte, and an open for attributes only empties nothing; once that
    client has closed it, the same open empties it."""
    name = RUN_TAG + '-ovw'
    top = SHARE_PATH[SHARE_TM_EXT4]
    path, ad = os.path.join(top, name), os.path.join(top, '._' + name)
    fork = os.urandom(100000)
    holder = apple_client(SHARE_TM_EXT4)
    other = apple_client(SHARE_TM_EXT4)
    try:
        write_stream(holder, name, b'data')
        write_stream(holder, name + RSRC, fork)
        write_stream(holder, name + AFPINFO, afpinfo(b'TEXTttxt'))
        stored, before = os.getxattr(path, AFPINFO_XATTR), read_file(ad)
        for stream in (RSRC, AFPINFO):
            fid = open_raw(holder, name + stream, FILE_OPEN,
                           FILE_READ_DATA | FILE_WRITE_DATA,
                           share=FILE_SHARE_READ)
            try:
                status = open_status(other, name + stream, FILE_OVERWRITE_IF,
                                     FILE_READ_DATA | FILE_WRITE_DATA)
                expect(status == STATUS_SHARING_VIOLATION,
                       'OVERWRITE_IF of %s held without FILE_SHARE_WRITE: %s'
                       % (stream, status_name(status)))
                status = lease_open_status(other, name + stream,
                                           FILE_OVERWRITE_IF)
                expect(status == STATUS_SHARING_VIOLATION,
                       'OVERWRITE_IF with a lease of %s held without '
                       'FILE_SHARE_WRITE: %s' % (stream, status_name(status)))
            finally:
                holder.smb3.close(holder.tid, fid)
            status = open_status(other, name + stream, FILE_OVERWRITE_IF,
                                 FILE_READ_ATTRIBUTES)
            expect(status == STATUS_SUCCESS,
                   'OVERWRITE_IF of %s for attributes only: %s'
                   % (stream, status_name(status)))
        expect(read_file(ad) == before,
               'the ._ file changed: %d bytes, were %d'
               % (len(read_file(ad)), len(before)))
        expect(os.getxattr(path, AFPINFO_XATTR) == stored,
               'AFP_AfpInfo changed or went: %r' % xattrs(path))
        expect(read_stream(other, name + RSRC) == fork,
               'the resource fork reads back otherwise')
        status = open_status(other, name + RSRC, FILE_OVERWRITE_IF,
                             FILE_READ_DATA | FILE_WRITE_DATA)
        expect(status == STATUS_SUCCESS and fork_held(ad) == b'',
               'OVERWRITE_IF of a fork nobody holds: %s, ._ file of %d bytes'
               % (status_name(status), len(read_file(ad))))
    finally:
        holder.delete(name)
        holder.logoff()
        other.logoff()


def check_folder_afpinfo_sharing_violation():
    """A folder's AFP_AfpInfo held without FILE_SHARE_WRITE: another
    client's OVERWRITE_IF of it, with a lease or without, fails with
    SHARING_VIOLATION and leaves the Finder info where it is."""
    name = RUN_TAG + '-ovwdir'
    path = os.path.join(SHARE_PATH[SHARE_TM_EXT4], name)
    holder = apple_client(SHARE_TM_EXT4)
    other = apple_client(SHARE_TM_EXT4)
    try:
        smb_mkdir(holder, name)
        fid = open_raw(holder, name + AFPINFO, FILE_OPEN_IF,
                       FILE_READ_DATA | FILE_WRITE_DATA, options=0)
        holder.smb3.writeFile(holder.tid, fid, afpinfo(b'\0' * 8 +
                                                       b'\1' * 8), 0)
        holder.smb3.close(holder.tid, fid)
        stored = os.getxattr(path, AFPINFO_XATTR)
        fid = open_raw(holder, name + AFPINFO, FILE_OPEN,
                       FILE_READ_DATA | FILE_WRITE_DATA, options=0,
                       share=FILE_SHARE_READ)
        try:
            status = open_status(other, name + AFPINFO, FILE_OVERWRITE_IF,
                                 FILE_READ_DATA | FILE_WRITE_DATA, options=0)
            expect(status == STATUS_SHARING_VIOLATION,
                   'OVERWRITE_IF of a folder\'s AFP_AfpInfo held without '
                   'FILE_SHARE_WRITE: %s' % status_name(status))
            status = lease_open_status(other, name + AFPINFO,
                                       FILE_OVERWRITE_IF, options=0)
            expect(status == STATUS_SHARING_VIOLATION,
                   'the same with a lease: %s' % status_name(status))
        finally:
            holder.smb3.close(holder.tid, fid)
        expect(AFPINFO_XATTR in os.listxattr(path) and
               os.getxattr(path, AFPINFO_XATTR) == stored,
               'the folder\'s AFP_AfpInfo changed or went: %r' % xattrs(path))
    finally:
        shutil.rmtree(path, ignore_errors=True)
        holder.logoff()
        other.logoff()


def check_adouble_any_depth():
    """On an Apple share no client opens, creates, lists or renames to a
    "._" name at any depth, a file or a folder: they hold resource forks,
    which ksmbd writes beneath the clients' opens. The fork itself still
    works."""
    name = RUN_TAG + '-deep'
    top = SHARE_PATH[SHARE_TM_EXT4]
    sub = os.path.join(top, name, 'sub')
    c = apple_client(SHARE_TM_EXT4)
    refused = (STATUS_OBJECT_NAME_INVALID, STATUS_OBJECT_NAME_NOT_FOUND)
    try:
        smb_mkdir(c, name)
        smb_mkdir(c, name + '/sub')
        write_stream(c, name + '/sub/f', b'data')
        write_stream(c, name + '/sub/f' + RSRC, b'fork')
        ad = os.path.join(sub, '._f')
        before = read_file(ad)
        for disp, access in ((FILE_OPEN, FILE_READ_DATA),
                             (FILE_OVERWRITE_IF, FILE_WRITE_DATA)):
            status = open_status(c, name + '/sub/._f', disp, access)
            expect(status in refused, 'sub/._f opened (disposition %d): %s'
                   % (disp, status_name(status)))
        for n, opts in (('sub/._new', FILE_NON_DIRECTORY_FILE),
                        ('._dir', FILE_DIRECTORY_FILE)):
            status = open_status(c, name + '/' + n, FILE_CREATE,
                                 FILE_READ_DATA, opts)
            expect(status in refused and
                   not os.path.lexists(os.path.join(top, name, n)),
                   '%s created: %s' % (n, status_name(status)))
        listed = [f.get_longname()
                  for f in c.conn.listPath(c.share, name + '/sub/*')]
        expect('f' in listed and '._f' not in listed,
               'listing of sub: %r' % listed)
        status = smb_status(lambda: c.conn.rename(c.share, name + '/sub/f',
                                                  name + '/sub/._g'))
        expect(status in refused and os.path.exists(os.path.join(sub, 'f'))
               and not os.path.lexists(os.path.join(sub, '._g')),
               'rename to sub/._g: %s' % status_name(status))
        # Nor a hard link: a new "._" name, or one over the fork itself
        for target, replace in (('._h', 0), ('._f', 1)):
            status = rename_status(c, name + '/sub/f', name + '/sub/' + target,
                                   replace, FILE_LINK_INFORMATION)
            expect(status != STATUS_SUCCESS and
                   os.stat(os.path.join(sub, 'f')).st_nlink == 1,
                   'hard link to sub/%s: %s' % (target, status_name(status)))
        expect(read_file(ad) == before, 'the ._ file changed')
        expect(read_stream(c, name + '/sub/f' + RSRC) == b'fork',
               'the fork reads back otherwise')
        # Only the administrator's "visible" on the share root shows them
        for value, shown in ((b'Visible', False), (b'visible ', False),
                             (b'visible', True)):
            os.setxattr(top, ADOUBLE_VISIBLE_XATTR, value)
            status = open_status(c, name + '/sub/._f', FILE_OPEN,
                                 FILE_READ_DATA)
            expect((status == STATUS_SUCCESS) == shown,
                   'with %s %r, sub/._f opens with %s'
                   % (ADOUBLE_VISIBLE_XATTR, value, status_name(status)))
        os.removexattr(top, ADOUBLE_VISIBLE_XATTR)
        status = open_status(c, name + '/sub/._f', FILE_OPEN, FILE_READ_DATA)
        expect(status in refused, 'sub/._f opens once %s is removed: %s'
               % (ADOUBLE_VISIBLE_XATTR, status_name(status)))
    finally:
        try:
            os.removexattr(top, ADOUBLE_VISIBLE_XATTR)
        except OSError:
            pass
        shutil.rmtree(os.path.join(top, name), ignore_errors=True)
        c.logoff()


def rename_status(c, old, new, replace, info_class=FILE_RENAME_INFORMATION):
    """The status of renaming @old to @new (or, with FILE_LINK_INFORMATION,
    of linking it there) with ReplaceIfExists @replace."""
    def rename():
        fid = open_raw(c, old, FILE_OPEN, DELETE | FILE_READ_ATTRIBUTES)
        try:
            n16 = new.replace('/', '\\').encode('utf-16-le')
            info = struct.pack('<B7xQI', replace, 0, len(n16)) + n16
            c.smb3.setInfo(c.tid, fid, info, infoType=1,
                           fileInfoClass=info_class)
        finally:
            c.smb3.close(c.tid, fid)
    return smb_status(rename)


def check_rename_adouble():
    """A rename takes the file's fork with it and never replaces a "._"
    file the client did not ask to replace: a no-replace rename leaves one
    a local user left under the new name (the fork stays under the old
    one); a rename over a file replaces that file's fork, or removes it if
    the renamed file has none, so that it does not become the renamed
    file's; a "._" name that is not a regular file (a FIFO) is left. A
    hard link that replaces a file removes that file's fork."""
    top = SHARE_PATH[SHARE_TM_EXT4]
    a, b = RUN_TAG + '-rn-a', RUN_TAG + '-rn-b'
    ad_a, ad_b = os.path.join(top, '._' + a), os.path.join(top, '._' + b)
    c = apple_client(SHARE_TM_EXT4)

    def reset():
        for n in (a, b, '._' + a, '._' + b):
            remove(os.path.join(top, n))

    try:
        # No-replace, onto a name whose "._" file a local user left
        write_stream(c, a, b'a')
        write_stream(c, a + RSRC, b'fork-a')
        plant(ad_b, b'local data')
        ino = os.stat(ad_b).st_ino
        status = rename_status(c, a, b, 0)
        expect(status == STATUS_SUCCESS, 'no-replace rename: %s'
               % status_name(status))
        expect(read_file(ad_b) == b'local data' and
               os.stat(ad_b).st_ino == ino,
               'a no-replace rename replaced the ._ file under the new name')
        expect(fork_held(ad_a) == b'fork-a',
               'the fork left under the old name is not intact')
        reset()

        # Over a file with a fork, from one without, by a rename or a hard
        # link: the replaced file's fork goes with it
        for info_class, what in ((FILE_RENAME_INFORMATION, 'rename'),
                                 (FILE_LINK_INFORMATION, 'link')):
            write_stream(c, a, b'a')
            write_stream(c, b, b'b')
            write_stream(c, b + RSRC, b'fork-b')
            status = rename_status(c, a, b, 1, info_class)
            status2 = open_status(c, b + RSRC, FILE_OPEN, FILE_READ_DATA)
            expect(status == STATUS_SUCCESS and not os.path.lexists(ad_b) and
                   status2 == STATUS_OBJECT_NAME_NOT_FOUND,
                   '%s over a file: %s; the replaced file\'s fork: %s, '
                   'opens with %s' % (what, status_name(status),
                                      'kept' if os.path.lexists(ad_b)
                                      else 'gone', status_name(status2)))
            reset()

        # Over a file with a fork, from one with a fork
        write_stream(c, a, b'a')
        write_stream(c, a + RSRC, b'fork-a')
        write_stream(c, b, b'b')
        write_stream(c, b + RSRC, b'fork-b')
        status = rename_status(c, a, b, 1)
        expect(status == STATUS_SUCCESS and not os.path.lexists(ad_a) and
               read_stream(c, b + RSRC) == b'fork-a',
               'rename of a fork over a fork: %s' % status_name(status))
        reset()

        # Over a file whose "._" name is a FIFO
        write_stream(c, a, b'a')
        write_stream(c, a + RSRC, b'fork-a')
        write_stream(c, b, b'b')
        os.mkfifo(ad_b)
        status = rename_status(c, a, b, 1)
        expect(status == STATUS_SUCCESS and
               os.path.exists(ad_b) and not os.path.isfile(ad_b) and
               fork_held(ad_a) == b'fork-a',
               'rename over a file whose ._ name is a FIFO: %s'
               % status_name(status))
    finally:
        reset()
        c.logoff()


def dispose_status(c, name):
    """The status of marking the folder @name for deletion (set
    FileDispositionInformation on a handle opened for DELETE)."""
    def dispose():
        fid = open_raw(c, name, FILE_OPEN, DELETE | FILE_READ_ATTRIBUTES,
                       FILE_DIRECTORY_FILE)
        try:
            c.smb3.setInfo(c.tid, fid, b'\x01', infoType=1,
                           fileInfoClass=FILE_DISPOSITION_INFORMATION)
        finally:
            c.smb3.close(c.tid, fid)
    return smb_status(dispose)


def check_rmdir_orphans():
    """A folder that holds only "._" files (forks of files gone, which no
    client of the Apple share sees) is deleted with them, as on Samba's
    vfs_fruit, by a disposition or a delete-on-close open; one that also
    holds a "._" FIFO keeps everything and is not empty, and so is a
    folder with a "._" file on a share without the Apple extensions,
    where clients see it."""
    # /srv/ext4: the "._" files of /srv/tm are made visible for smbtorture
    top = SHARE_PATH[SHARE_TM_EXT4]
    names = [RUN_TAG + '-rmdir-%d' % i for i in range(4)]
    c = apple_client(SHARE_TM_EXT4)
    plain = Client(SHARE_EXT4)
    try:
        for n in names:
            os.mkdir(os.path.join(top, n))
            os.chown(os.path.join(top, n), *tuser_ids())
            for i in range(40):     # more than one batch
                plant(os.path.join(top, n, '._f%d' % i), b'orphan %d' % i)
        os.mkfifo(os.path.join(top, names[1], '._fifo'))

        status = dispose_status(c, names[0])
        expect(status == STATUS_SUCCESS and
               not os.path.lexists(os.path.join(top, names[0])),
               'folder of orphan ._ files: %s, %s' % (
                   status_name(status),
                   'gone' if not os.path.lexists(os.path.join(top, names[0]))
                   else 'still there with %r' % sorted(
                       os.listdir(os.path.join(top, names[0])))[:3]))
        status = dispose_status(c, names[1])
        left = sorted(os.listdir(os.path.join(top, names[1])))
        expect(status == STATUS_DIRECTORY_NOT_EMPTY and len(left) == 41,
               'folder with a ._ FIFO: %s, %d entries left of 41'
               % (status_name(status), len(left)))
        c.conn.deleteDirectory(SHARE_TM_EXT4, names[2])
        expect(not os.path.lexists(os.path.join(top, names[2])),
               'delete-on-close open of a folder of orphan ._ files: the '
               'folder is still there')
        status = dispose_status(plain, names[3])
        expect(status == STATUS_DIRECTORY_NOT_EMPTY and
               len(os.listdir(os.path.join(top, names[3]))) == 40,
               'folder of ._ files on a share without the Apple extensions: '
               '%s' % status_name(status))
    finally:
        for n in names:
            shutil.rmtree(os.path.join(top, n), ignore_errors=True)
        c.logoff()
        plain.logoff()


def check_fork_race(seconds=8, seed=None):
    """Two clients writing and cutting one resource fork at once, each
    through its own handle, leave it consistent: the fork entry's length
    in the "._" file is the file's size less the header, and the fork a
    third client reads is what the server holds."""
    seed = random.randrange(1 << 30) if seed is None else seed
    print('# seed %d' % seed)
    name = RUN_TAG + '-race'
    top = SHARE_PATH[SHARE_TM_EXT4]
    ad = os.path.join(top, '._' + name)
    clients = [apple_client(SHARE_TM_EXT4) for _ in range(2)]
    errors = []
    try:
        write_stream(clients[0], name, b'data')
        write_stream(clients[0], name + RSRC, b'x' * 4096)

        def run(c, rng, writer):
            try:
                fid = open_raw(c, name + RSRC, FILE_OPEN,
                               FILE_READ_DATA | FILE_WRITE_DATA)
            except Exception as e:          # reported below
                errors.append('open: %r' % e)
                return
            try:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    off = rng.randrange(0, 1 << 18)
                    if writer:
                        c.smb3.writeFile(c.tid, fid,
                                         bytes([rng.randrange(256)]) * 4096,
                                         off)
                    else:
                        c.smb3.setInfo(c.tid, fid, struct.pack('<Q', off),
                                       infoType=1,
                                       fileInfoClass=FILE_END_OF_FILE_INFORMATION)
            except Exception as e:          # reported below
                errors.append('%s: %r' % ('writer' if writer else 'cutter', e))
            finally:
                c.smb3.close(c.tid, fid)

        threads = [threading.Thread(target=run,
                                    args=(c, random.Random(seed + i), i == 0))
                   for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expect(not errors, 'a client failed: %s' % errors)
        magic, _, _, entries = adouble_header(ad)
        off, length = entries[2]
        size = os.path.getsize(ad)
        expect(magic == 0x00051607 and off + length == size,
               'the fork entry says %d bytes at %d, the ._ file holds %d'
               % (length, off, size))
        with open(ad, 'rb') as f:
            f.seek(off)
            held = f.read()
        third = apple_client(SHARE_TM_EXT4)
        try:
            got = read_stream(third, name + RSRC) if held else b''
        finally:
            third.logoff()
        expect(got == held, 'a client reads %d bytes of fork, the server '
               'holds %d' % (len(got), len(held)))
    finally:
        clients[0].delete(name)
        for c in clients:
            c.logoff()


FAN_CLOEXEC = 0x1
FAN_CLASS_CONTENT = 0x4
FAN_MARK_ADD = 0x1
FAN_OPEN_PERM = 0x10000
FAN_ALLOW = 0x1
AT_FDCWD = -100


class OpenGate:
    """Holds every open of the file at @path (fanotify FAN_OPEN_PERM) until
    @on_open, run once at the first open, returns; later opens go through
    at once. Stands for a local user who acts while ksmbd opens a file."""

    def __init__(self, path, on_open):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint,
                                       ctypes.c_uint64, ctypes.c_int,
                                       ctypes.c_char_p]
        self.fd = libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC,
                                     os.O_RDONLY)
        expect(self.fd >= 0, 'fanotify_init: %s (the test kernel needs '
               'CONFIG_FANOTIFY_ACCESS_PERMISSIONS)'
               % os.strerror(ctypes.get_errno()))
        rc = libc.fanotify_mark(self.fd, FAN_MARK_ADD, FAN_OPEN_PERM,
                                AT_FDCWD, os.fsencode(path))
        expect(rc == 0, 'fanotify_mark %s: %s'
               % (path, os.strerror(ctypes.get_errno())))
        self.on_open, self.opens, self.stop = on_open, 0, False
        self.error = None
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            buf = os.read(self.fd, 4096)
            pos = 0
            while pos + 24 <= len(buf):
                length, _, _, _, _, fd, _ = struct.unpack_from('<IBBHQii',
                                                               buf, pos)
                try:
                    if self.opens == 0:
                        self.on_open()
                except OSError as e:        # reported by the check
                    self.error = e
                finally:
                    # Always answered: an unanswered event holds ksmbd
                    self.opens += 1
                    os.write(self.fd, struct.pack('<iI', fd, FAN_ALLOW))
                    os.close(fd)
                pos += length

    def close(self):
        self.stop = True
        self.thread.join()
        os.close(self.fd)


def check_fork_open_file_removed():
    """A local user removes a file while ksmbd opens its "._" file for a
    client's FILE_OPEN of the file's AFP_Resource: the file has no fork
    left to open, and the client gets OBJECT_NAME_NOT_FOUND, as if it came
    after the removal, not STATUS_FILE_NOT_AVAILABLE (an open that is
    done again until it gives up)."""
    name = RUN_TAG + '-gone'
    top = SHARE_PATH[SHARE_TM_EXT4]
    path, ad = os.path.join(top, name), os.path.join(top, '._' + name)
    c = apple_client(SHARE_TM_EXT4)
    gate = None
    try:
        write_stream(c, name, b'data')
        write_stream(c, name + RSRC, b'fork')
        gate = OpenGate(ad, lambda: os.unlink(path))
        status = open_status(c, name + RSRC, FILE_OPEN, FILE_READ_DATA)
        expect(gate.opens >= 1, 'ksmbd did not open the ._ file')
        expect(gate.error is None, 'removing the file: %s' % gate.error)
        expect(not os.path.exists(path), 'the file was not removed')
        expect(status == STATUS_OBJECT_NAME_NOT_FOUND,
               'fork of a file removed during its open: %s, expected '
               'OBJECT_NAME_NOT_FOUND' % status_name(status))
    finally:
        if gate:
            gate.close()
        c.logoff()
        for p in (path, ad):
            remove(p)


CHECKS = [
    ('NFS ACEs: a mode ACE sent with the owner and group keeps the POSIX '
     'ACL', lambda: check_nfs_chmod_with_owner(SHARE_TM_EXT4)),
    ('NFS ACEs: a mode ACE sent with the owner and group keeps the POSIX '
     'ACL and the stored NT ACL', lambda: check_nfs_chmod_with_owner(
         SHARE_TM_ACL)),
    ('share root: AFP_AfpInfo and stream listing leave the ._ file above '
     'the share alone', check_root_afpinfo_no_escape),
    ('share root: copyfile onto the root writes nothing above the share',
     check_root_copyfile_no_escape),
    ('share root: F_FULLFSYNC opens nothing above the share',
     check_root_fullfsync_no_escape),
    ('F_FULLFSYNC opens the file\'s folder only if its user may read it',
     check_fullfsync_unreadable_dir),
    ('copyfile from a stream removed under its handle: FILE_CLOSED, as '
     'READ', check_copyfile_removed_stream),
    ('share root: READDIR_ATTR ".." reads nothing above the share',
     check_root_readdir_dotdot),
    ('._ file: one the user may not write is not written, nor converted',
     check_sidecar_not_writable),
    ('._ file: a reading OPEN_IF of a missing fork creates none',
     check_sidecar_ro_open_if),
    ('._ file: created with the share\'s create mask', check_sidecar_create_mask),
    ('._ file: a file mounted on it is not the fork', check_sidecar_mount),
    ('._ file: a hard link to a file outside the share is not the fork',
     check_sidecar_hard_link),
    ('._ file: an append-only one is not rewritten through the fork',
     check_sidecar_append_only),
    ('failed FILE_CREATE of AFP_AfpInfo deletes nothing on its close',
     check_afpinfo_create_collision),
    ('OVERWRITE_IF that loses on share modes leaves the fork and '
     'AFP_AfpInfo intact', check_overwrite_sharing_violation),
    ('OVERWRITE_IF of a folder\'s AFP_AfpInfo that loses on share modes '
     'leaves it intact', check_folder_afpinfo_sharing_violation),
    ('._ names refused at any depth: no open, create, listing or rename',
     check_adouble_any_depth),
    ('rename: the fork moves, and no ._ file is replaced unasked; a link '
     'takes the replaced file\'s fork',
     check_rename_adouble),
    ('folder of orphan ._ files deleted with them; not with a FIFO, nor on '
     'a plain share', check_rmdir_orphans),
    ('two clients writing and cutting one fork leave it consistent',
     check_fork_race),
    ('a fork whose file a local user removes during its open: not found, '
     'not "retry later"', check_fork_open_file_removed),
    # Last: on a kernel with the bug, it takes the server down
    ('failed AFP_Resource open closed beside a delete-on-close stream',
     check_rsrc_open_failed_close),
]


if __name__ == '__main__':
    # Arguments, if any, pick the checks whose names contain one of them
    sys.exit(ksmbd_tap.run([c for c in CHECKS if len(sys.argv) < 2 or
                            any(a in c[0] for a in sys.argv[1:])]))
