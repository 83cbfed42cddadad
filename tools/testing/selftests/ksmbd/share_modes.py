#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Share modes as MS-FSA 2.1.5.1.2.2 (and Samba's share_conflict()) have
# them, on a share without the Apple extensions: an open that asks for
# data or delete access fails with SHARING_VIOLATION against the other
# opens of the same stream whose share modes exclude it, whether or not it
# asks for a lease, and before it truncates anything; opens of other
# streams, and opens for attributes or the security descriptor only, meet
# no share mode. Runs on the server (the test VM) as root, with the shares
# of ksmbd.conf. Output is TAP.

import os
import pwd
import sys

from impacket.smb3structs import (
    DELETE, FILE_NON_DIRECTORY_FILE, FILE_OPEN, FILE_OPEN_IF,
    FILE_OVERWRITE_IF, FILE_READ_ATTRIBUTES, FILE_READ_DATA,
    FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_WRITE_DATA, READ_CONTROL)

from aapl_wire import USER, Client, expect, status_name
from apple_e2e import (
    LEASE_RH, LEASE_RWH, SHARE_PATH, SHARE_PLAIN, lease_ctx, raw_create,
    smb_status)
import ksmbd_tap

RUN_TAG = 'share-modes-%d' % os.getpid()
FILE_SHARE_DELETE = 4
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
STATUS_SUCCESS = 0
STATUS_SHARING_VIOLATION = 0xC0000043
RW = FILE_READ_DATA | FILE_WRITE_DATA
DATA = b'what the holder wrote\n' * 100


def open_status(c, name, access, share, disposition=FILE_OPEN_IF,
                lease=None):
    """The status of one open (with an R|H or R|W|H lease if @lease is the
    state to ask for); a handle it gets is closed at once."""
    if lease is None:
        fid = []
        status = smb_status(lambda: fid.append(c.smb3.create(
            c.tid, name, access, share, FILE_NON_DIRECTORY_FILE,
            disposition, 0)))
        for f in fid:
            c.smb3.close(c.tid, f)
        return status
    status, fid, _ = raw_create(c, name, [lease_ctx(os.urandom(16), lease)],
                                access, disposition, share)
    if fid is not None:
        c.smb3.close(c.tid, fid)
    return status


class Held:
    """An open of @name by @c, without an oplock, held for a with block."""

    def __init__(self, c, name, access, share):
        self.c = c
        self.fid = c.smb3.create(c.tid, name, access, share,
                                 FILE_NON_DIRECTORY_FILE, FILE_OPEN_IF, 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.c.smb3.close(self.c.tid, self.fid)


def expect_status(got, want, what):
    expect(got == want, '%s: %s, expected %s'
           % (what, status_name(got), status_name(want)))


def setup(name):
    """The file @name on the share, written, owned by the test user."""
    path = os.path.join(SHARE_PATH[SHARE_PLAIN], name)
    with open(path, 'wb') as f:
        f.write(DATA)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    return path


def clients():
    return Client(SHARE_PLAIN), Client(SHARE_PLAIN)


def check_lease_meets_share_modes():
    """A holder has the file open for reading and writing, sharing
    nothing, without an oplock. Another client's open that asks for a
    lease fails as one without does, and an OVERWRITE_IF with a lease
    truncates nothing."""
    name = RUN_TAG + '-lease'
    path = setup(name)
    holder, other = clients()
    try:
        with Held(holder, name, RW, 0):
            for lease in (None, LEASE_RH, LEASE_RWH):
                expect_status(open_status(other, name, FILE_READ_DATA,
                                          SHARE_ALL, lease=lease),
                              STATUS_SHARING_VIOLATION,
                              'read open, lease %r' % lease)
                expect_status(open_status(other, name, RW, SHARE_ALL,
                                          FILE_OVERWRITE_IF, lease),
                              STATUS_SHARING_VIOLATION,
                              'OVERWRITE_IF, lease %r' % lease)
            with open(path, 'rb') as f:
                got = f.read()
            expect(got == DATA, 'the file changed: %d bytes, were %d'
                   % (len(got), len(DATA)))
        with Held(holder, name, FILE_READ_DATA, FILE_SHARE_READ):
            expect_status(open_status(other, name, RW, SHARE_ALL,
                                      FILE_OVERWRITE_IF, LEASE_RWH),
                          STATUS_SHARING_VIOLATION,
                          'OVERWRITE_IF with a lease of a file held '
                          'without FILE_SHARE_WRITE')
        expect_status(open_status(other, name, RW, SHARE_ALL,
                                  FILE_OVERWRITE_IF, LEASE_RWH),
                      STATUS_SUCCESS, 'OVERWRITE_IF once the holder closed')
        expect(os.path.getsize(path) == 0, 'OVERWRITE_IF did not truncate')
    finally:
        os.unlink(path)
        holder.logoff()
        other.logoff()


def check_streams_apart():
    """A named stream's opens meet the share modes of that stream's other
    opens, not the file's nor another stream's; only a delete of the file
    needs its streams' opens to share delete."""
    name = RUN_TAG + '-streams'
    path = setup(name)
    s1, s2 = name + ':one', name + ':two'
    holder, other = clients()
    try:
        with Held(holder, name, RW | DELETE, 0):
            for lease in (None, LEASE_RH):
                expect_status(open_status(other, s1, RW | DELETE, 0,
                                          lease=lease),
                              STATUS_SUCCESS,
                              'a stream of a file held sharing nothing, '
                              'lease %r' % lease)
        with Held(holder, s1, RW, 0):
            for lease in (None, LEASE_RH):
                expect_status(open_status(other, s1, FILE_READ_DATA,
                                          SHARE_ALL, lease=lease),
                              STATUS_SHARING_VIOLATION,
                              'the stream held sharing nothing, lease %r'
                              % lease)
                expect_status(open_status(other, s2, RW, 0, lease=lease),
                              STATUS_SUCCESS,
                              'another stream, lease %r' % lease)
                expect_status(open_status(other, name, RW, 0, lease=lease),
                              STATUS_SUCCESS,
                              'the file, lease %r' % lease)
            expect_status(open_status(other, name, DELETE, SHARE_ALL),
                          STATUS_SHARING_VIOLATION,
                          'the file for delete, its stream held without '
                          'FILE_SHARE_DELETE')
        with open(path, 'rb') as f:
            expect(f.read() == DATA, 'the file changed')
    finally:
        os.unlink(path)
        holder.logoff()
        other.logoff()


def check_folder_stream():
    """A folder's named stream, held sharing nothing: another open of it
    for reading fails, with a lease or without; the folder's share modes
    stay unchecked, as before."""
    name = RUN_TAG + '-dir'
    path = os.path.join(SHARE_PATH[SHARE_PLAIN], name)
    os.mkdir(path)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    stream = name + ':one'
    holder, other = clients()
    try:
        fid = holder.smb3.create(holder.tid, stream, RW, 0, 0, FILE_OPEN_IF,
                                 0)
        try:
            status = smb_status(lambda: other.smb3.close(
                other.tid, other.smb3.create(other.tid, stream,
                                             FILE_READ_DATA, SHARE_ALL, 0,
                                             FILE_OPEN, 0)))
            expect_status(status, STATUS_SHARING_VIOLATION,
                          'open of a folder\'s stream held sharing nothing')
            status, lfid, _ = raw_create(other, stream,
                                         [lease_ctx(os.urandom(16), LEASE_RH)],
                                         FILE_READ_DATA, FILE_OPEN, SHARE_ALL,
                                         0)
            if lfid is not None:
                other.smb3.close(other.tid, lfid)
            expect_status(status, STATUS_SHARING_VIOLATION,
                          'the same with a lease')
        finally:
            holder.smb3.close(holder.tid, fid)
    finally:
        os.rmdir(path)
        holder.logoff()
        other.logoff()


def check_metadata_open():
    """An open for attributes and the security descriptor only, sharing
    nothing, meets no share mode, nor stops a later open for data."""
    name = RUN_TAG + '-meta'
    path = setup(name)
    holder, other = clients()
    try:
        meta = FILE_READ_ATTRIBUTES | READ_CONTROL
        with Held(holder, name, RW | DELETE, 0):
            for lease in (None, LEASE_RH):
                expect_status(open_status(other, name, meta, 0, FILE_OPEN,
                                          lease),
                              STATUS_SUCCESS,
                              'metadata open of a file held sharing '
                              'nothing, lease %r' % lease)
        with Held(holder, name, meta, 0):
            expect_status(open_status(other, name, RW | DELETE, SHARE_ALL,
                                      FILE_OPEN),
                          STATUS_SUCCESS,
                          'data open of a file held for metadata only')
    finally:
        os.unlink(path)
        holder.logoff()
        other.logoff()


CHECKS = [
    ('a lease request does not get past share modes, nor truncates',
     check_lease_meets_share_modes),
    ('named streams have share modes of their own',
     check_streams_apart),
    ('a folder\'s named stream has share modes', check_folder_stream),
    ('an open for metadata only meets no share mode', check_metadata_open),
]


if __name__ == '__main__':
    sys.exit(ksmbd_tap.run([c for c in CHECKS if len(sys.argv) < 2 or
                            any(a in c[0] for a in sys.argv[1:])]))
