#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A seeded random client for ksmbd's Apple extensions: three Apple clients
# at once open, write, cut, read, rename, list and delete a few
# files and their AFP_Resource and AFP_AfpInfo streams, with random
# dispositions, access and share modes, for HAMMER_SECONDS seconds
# (default 60). The run fails if a request gets a status no SMB server
# gives for such a request (an I/O or internal error), if a connection
# drops, or if a "._" file is left inconsistent. The kernel log is judged
# by the harness (KASAN, lockdep, UBSAN). The seed is printed; set
# HAMMER_SEED to run one again. Runs on the server (the test VM) as root,
# like apple_e2e.py. Output is TAP.

import collections
import os
import random
import shutil
import struct
import sys
import threading
import time

from impacket.smb3structs import (
    DELETE, FILE_CREATE, FILE_NON_DIRECTORY_FILE, FILE_OPEN, FILE_OPEN_IF,
    FILE_OVERWRITE_IF, FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FILE_SUPERSEDE, FILE_WRITE_DATA)

from aapl_wire import expect, status_name
from apple_e2e import (
    AFPINFO, RSRC, SHARE_PATH, SHARE_TM_EXT4, adouble_header, afpinfo,
    apple_client, copyfile, readdir_attr, smb_mkdir)
import ksmbd_tap

FILE_SHARE_DELETE = 4
FILE_DISPOSITION_INFORMATION = 13
FILE_RENAME_INFORMATION = 10
FILE_END_OF_FILE_INFORMATION = 20
FILE_STREAM_INFORMATION = 22
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE

# What a server answers to requests that lose a race or ask for what is not
# there; anything else fails the run.
EXPECTED = {
    0x00000000: 'SUCCESS',
    0xC0000011: 'END_OF_FILE',
    0xC000000D: 'INVALID_PARAMETER',
    0xC0000022: 'ACCESS_DENIED',
    0xC0000033: 'OBJECT_NAME_INVALID',
    0xC0000034: 'OBJECT_NAME_NOT_FOUND',
    0xC0000035: 'OBJECT_NAME_COLLISION',
    0xC0000043: 'SHARING_VIOLATION',
    0xC0000056: 'DELETE_PENDING',
    0xC0000099: 'ALLOTTED_SPACE_EXCEEDED',
    0xC0000128: 'FILE_CLOSED',
    0xC0000010: 'INVALID_DEVICE_REQUEST',
    0xC00000BB: 'NOT_SUPPORTED',
    0xC0000121: 'CANNOT_DELETE',
    # a named stream larger than ext4 keeps in an xattr (about 4 KiB)
    0xC000007F: 'DISK_FULL',
}
NAMES = ['a', 'b', 'c', 'd']
STREAMS = ['', RSRC, RSRC, AFPINFO, AFPINFO, ':s1']
DISPOSITIONS = [FILE_OPEN, FILE_OPEN_IF, FILE_OPEN_IF, FILE_OVERWRITE_IF,
                FILE_CREATE, FILE_SUPERSEDE]
ACCESS = [FILE_READ_DATA, FILE_READ_DATA | FILE_WRITE_DATA,
          FILE_READ_DATA | FILE_WRITE_DATA | DELETE, FILE_READ_ATTRIBUTES]
SHARES = [SHARE_ALL, FILE_SHARE_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, 0]


def close(c, fid):
    """Close @fid. impacket files its handles by name: a second handle of
    one name is closed on the server, then its bookkeeping fails."""
    try:
        c.smb3.close(c.tid, fid)
    except KeyError:
        pass


class Hammer:
    def __init__(self, top, d, seconds, seed, nclients=3):
        self.top, self.d, self.seconds, self.seed = top, d, seconds, seed
        self.nclients = nclients
        self.statuses = collections.Counter()
        self.unexpected = []
        self.lock = threading.Lock()

    def call(self, what, fn):
        """fn()'s result, None if it failed with an NT status (counted)."""
        try:
            result = fn()
            status = 0
        except Exception as e:          # impacket's SessionError
            if not hasattr(e, 'get_error_code'):
                raise
            result, status = None, e.get_error_code() & 0xFFFFFFFF
        with self.lock:
            self.statuses[status] += 1
            if status not in EXPECTED and len(self.unexpected) < 20:
                self.unexpected.append('%s: %s' % (what, status_name(status)))
        return result

    def run_client(self, i, errors):
        rng = random.Random(self.seed * 16 + i)
        c = apple_client(SHARE_TM_EXT4)
        held = []
        deadline = time.monotonic() + self.seconds
        try:
            while time.monotonic() < deadline:
                self.step(c, rng, held)
        except Exception as e:          # a dropped connection, a bug here
            errors.append('client %d: %r' % (i, e))
        finally:
            for fid in held:
                self.call('close', lambda f=fid: close(c, f))
            c.logoff()

    def path(self, rng):
        return '%s/%s%s' % (self.d, rng.choice(NAMES), rng.choice(STREAMS))

    def step(self, c, rng, held):
        op = rng.randrange(12)
        if op < 3 or not held:
            name = self.path(rng)
            fid = self.call('open %s' % name, lambda: c.smb3.create(
                c.tid, name, rng.choice(ACCESS), rng.choice(SHARES),
                FILE_NON_DIRECTORY_FILE, rng.choice(DISPOSITIONS), 0))
            if fid is not None:
                held.append(fid)
            while len(held) > 4:
                fid = held.pop(0)
                self.call('close', lambda: close(c, fid))
            return
        fid = rng.choice(held)
        off = rng.randrange(0, 1 << 18)
        if op == 3:
            data = (afpinfo(bytes(rng.randrange(256) for _ in range(8)))
                    if rng.randrange(2) else
                    bytes([rng.randrange(256)]) * rng.randrange(1, 65536))
            self.call('write', lambda: c.smb3.writeFile(c.tid, fid, data,
                                                        rng.choice([0, off])))
        elif op == 4:
            self.call('read', lambda: c.smb3.read(c.tid, fid,
                                                  rng.choice([0, off]), 65536))
        elif op == 5:
            self.call('set end of file', lambda: c.smb3.setInfo(
                c.tid, fid, struct.pack('<Q', rng.choice([0, 60, off])),
                infoType=1, fileInfoClass=FILE_END_OF_FILE_INFORMATION))
        elif op == 6:
            self.call('delete on close', lambda: c.smb3.setInfo(
                c.tid, fid, b'\x01', infoType=1,
                fileInfoClass=FILE_DISPOSITION_INFORMATION))
        elif op == 7:
            self.call('stream list', lambda: c.smb3.queryInfo(
                c.tid, fid, infoType=1, fileInfoClass=FILE_STREAM_INFORMATION))
        elif op == 8:
            new = '%s/%s' % (self.d, rng.choice(NAMES))
            n16 = new.replace('/', '\\').encode('utf-16-le')
            info = struct.pack('<B7xQI', rng.randrange(2), 0, len(n16)) + n16
            self.call('rename', lambda: c.smb3.setInfo(
                c.tid, fid, info, infoType=1,
                fileInfoClass=FILE_RENAME_INFORMATION))
        elif op == 9:
            # macOS's whole-file copy, between two of the handles held
            dst = rng.choice(held)
            self.call('copyfile', lambda: copyfile(c, fid, dst))
        elif op == 10:
            self.call('READDIR_ATTR listing', lambda: readdir_attr(c, self.d))
        else:
            held.remove(fid)
            self.call('close', lambda: close(c, fid))

    def run(self):
        errors = []
        threads = [threading.Thread(target=self.run_client, args=(i, errors))
                   for i in range(self.nclients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return errors


def check_hammer():
    """Three Apple clients send seeded random requests on a few files and
    their Apple streams: every request gets a status a server gives for
    it, no connection drops, and every "._" file left is consistent."""
    seconds = int(os.environ.get('HAMMER_SECONDS', '60'))
    seed = int(os.environ.get('HAMMER_SEED', random.randrange(1 << 30)))
    print('# seed %d, %d s (HAMMER_SEED=%d to repeat)' % (seed, seconds, seed))
    top = SHARE_PATH[SHARE_TM_EXT4]
    d = 'apple-hammer-%d' % os.getpid()
    c = apple_client(SHARE_TM_EXT4)
    try:
        smb_mkdir(c, d)
        h = Hammer(top, d, seconds, seed)
        errors = h.run()
        print('# statuses: %s' % ', '.join(
            '%s %d' % (EXPECTED.get(s, status_name(s)), n)
            for s, n in sorted(h.statuses.items())))
        expect(not errors, 'a client failed: %s' % errors)
        expect(not h.unexpected, 'unexpected statuses: %s' % h.unexpected)
        expect(sum(h.statuses.values()) > 100 * seconds // 60,
               'only %d requests' % sum(h.statuses.values()))
        listed = [f.get_longname() for f in c.conn.listPath(c.share,
                                                            d + '/*')]
        for name in os.listdir(os.path.join(top, d)):
            path = os.path.join(top, d, name)
            if not name.startswith('._'):
                expect(name in listed, '%s not listed' % name)
                continue
            expect(name not in listed, '%s listed' % name)
            magic, _, _, entries = adouble_header(path)
            off, length = entries[2]
            expect(magic == 0x00051607 and
                   off + length == os.path.getsize(path),
                   '%s: fork of %d bytes at %d, file of %d'
                   % (name, length, off, os.path.getsize(path)))
    finally:
        shutil.rmtree(os.path.join(top, d), ignore_errors=True)
        c.logoff()


CHECKS = [
    ('seeded random Apple requests from three clients', check_hammer),
]


if __name__ == '__main__':
    sys.exit(ksmbd_tap.run(CHECKS))
