#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The listing benchmark, run in the test VM by scripts/bench-readdir against
# the server the VM started (ksmbd or Samba). For each size it makes a
# directory of files that each carry FinderInfo (AFP_AfpInfo, in the xattr
# both servers read) and a small resource fork (in a "._" file, the layout
# both servers read), then times three clients over loopback:
#
#   A  a Mac without READDIR_ATTR: lists the directory, then for each file
#      opens AFP_AfpInfo and reads it, and opens AFP_Resource and reads its
#      size (what Finder has to do when the server has no READDIR_ATTR);
#   B  a Mac with READDIR_ATTR (AAPL with macOS's client capabilities):
#      lists the directory, FinderInfo and fork size come with the entries;
#   C  a client without AAPL: lists the directory.
#
# Every listing uses FileIdBothDirectoryInformation and 64 KiB responses.
# B and C are timed REPEAT times each, alternately, and the median kept; A
# once. Above A_MAX files, A's per-file work is timed on the first A_MAX
# files and scaled to all of them; the report says so. With "b-only", B
# alone is timed, once.
#
# Usage: readdir_bench.py OUT.json SHARE SHARE_PATH N,N,... [b-only]

import json
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, '/repo/tools/testing/selftests/ksmbd')

from impacket.smb3structs import (  # noqa: E402
    FILE_NON_DIRECTORY_FILE, FILE_OPEN, FILE_READ_ATTRIBUTES, FILE_READ_DATA,
    FILE_SHARE_READ, FILE_SHARE_WRITE)
from bench_client import MACOS_CLIENT_CAPS, aapl_client  # noqa: E402

FILEID_BOTH_DIRECTORY_INFORMATION = 37
FILE_STANDARD_INFORMATION = 5
NO_READDIR_ATTR_CAPS = MACOS_CLIENT_CAPS & ~0x11     # READ_DIR_ATTR and _V2 cleared
STATUS_NO_MORE_FILES = 0x80000006
AFPINFO_XATTR = 'user.DosStream.AFP_AfpInfo:$DATA'
REPEAT = 5
A_MAX = 10000
FORK = b'resource fork of 64 bytes, as a small icon or a text style.\0\0\0\0\0'


def afpinfo(i):
    finder = b'TEXT' + b'%04d' % (i % 10000) + b'\x01\x00'
    return (b'AFP\0' + struct.pack('>III', 0x100, 0, 0x80000000)
            + finder.ljust(32, b'\0') + b'\0' * 12)


def adouble(fork):
    """A "._" file in Samba's fruit:resource=file layout (fork at 82)."""
    head = struct.pack('>II16sH', 0x00051607, 0x00020000,
                       b'Netatalk        ', 2)
    head += struct.pack('>III', 9, 50, 32) + struct.pack('>III', 2, 82,
                                                         len(fork))
    return head + b'\0' * 32 + fork


def make_tree(top, n):
    os.mkdir(top)
    ad = adouble(FORK)
    for i in range(n):
        name = os.path.join(top, 'file%06d.txt' % i)
        open(name, 'wb').close()
        os.setxattr(name, AFPINFO_XATTR, afpinfo(i) + b'\0')
        with open(os.path.join(top, '._file%06d.txt' % i), 'wb') as f:
            f.write(ad)
    os.system('chown -R tuser:tuser %s' % top)


def listing(c, dirname):
    """[(name, fork length, FinderInfo bytes)] of a full listing."""
    fid = c.smb3.create(c.tid, dirname, FILE_READ_DATA | FILE_READ_ATTRIBUTES,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, 1, FILE_OPEN, 0)
    out = []
    try:
        while True:
            try:
                buf = bytes(c.smb3.queryDirectory(
                    c.tid, fid, '*',
                    informationClass=FILEID_BOTH_DIRECTORY_INFORMATION,
                    maxBufferSize=65536))
            except Exception as e:      # impacket's SessionError
                if getattr(e, 'get_error_code', lambda: 0)() == \
                        STATUS_NO_MORE_FILES:
                    return out
                raise
            off = 0
            while True:
                nxt, = struct.unpack_from('<I', buf, off)
                nlen, = struct.unpack_from('<I', buf, off + 60)
                rsrc, = struct.unpack_from('<Q', buf, off + 70)
                out.append((buf[off + 104:off + 104 + nlen].decode(
                    'utf-16-le'), rsrc, buf[off + 78:off + 86]))
                if not nxt:
                    break
                off += nxt
    finally:
        c.smb3.close(c.tid, fid)


def finder_walk(c, dirname, names):
    """Client A's per-file work after the listing."""
    for name in names:
        path = dirname + '/' + name
        fid = c.smb3.create(c.tid, path + ':AFP_AfpInfo', FILE_READ_DATA,
                            FILE_SHARE_READ | FILE_SHARE_WRITE,
                            FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
        info = c.smb3.read(c.tid, fid, 0, 60)
        c.smb3.close(c.tid, fid)
        fid = c.smb3.create(c.tid, path + ':AFP_Resource',
                            FILE_READ_ATTRIBUTES,
                            FILE_SHARE_READ | FILE_SHARE_WRITE,
                            FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
        std = c.smb3.queryInfo(c.tid, fid, infoType=1,
                               fileInfoClass=FILE_STANDARD_INFORMATION)
        c.smb3.close(c.tid, fid)
        if len(info) != 60 or struct.unpack_from('<q', std, 8)[0] != \
                len(FORK):
            raise SystemExit('%s: AfpInfo %d bytes, fork %d'
                             % (path, len(info),
                                struct.unpack_from('<q', std, 8)[0]))


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def check(res, entries, n):
    files = sorted(e for e in entries if e[0].startswith('file'))
    res['entries'] = len(entries)
    res['readdir_attr_ok'] = len(files) == n and all(
        e[1] == len(FORK) and e[2][:4] == b'TEXT' for e in files)
    return files


def bench_b_only(share, top, dirname, n):
    """One timed READDIR_ATTR listing (for a server too slow for more)."""
    make_tree(os.path.join(top, dirname), n)
    b = aapl_client(share, MACOS_CLIENT_CAPS)
    res = {'files': n}
    t = time.perf_counter()
    entries = listing(b, dirname)
    res['B'] = time.perf_counter() - t
    check(res, entries, n)
    b.logoff()
    os.system('rm -rf %s' % os.path.join(top, dirname))
    return res


def bench(share, top, dirname, n):
    make_tree(os.path.join(top, dirname), n)
    a = aapl_client(share, NO_READDIR_ATTR_CAPS)
    b = aapl_client(share, MACOS_CLIENT_CAPS)
    c = aapl_client(share, None)
    res = {'files': n}

    # Warm the caches, and check what the client gets.
    files = check(res, listing(b, dirname), n)
    listing(c, dirname)

    tb, tc = [], []
    for _ in range(REPEAT):
        tb.append(timed(lambda: listing(b, dirname)))
        tc.append(timed(lambda: listing(c, dirname)))
    res['B'] = statistics.median(tb)
    res['C'] = statistics.median(tc)
    res['B_all'], res['C_all'] = tb, tc

    walked = min(n, A_MAX)
    names = [e[0] for e in files[:walked]]
    res['A_list'] = timed(lambda: listing(a, dirname))
    res['A_walk'] = timed(lambda: finder_walk(a, dirname, names))
    res['A_files'] = walked
    # Listing, plus the per-file work for every file (measured on the
    # first A_MAX files when there are more)
    res['A'] = res['A_list'] + res['A_walk'] * n / walked
    for x in (a, b, c):
        x.logoff()
    os.system('rm -rf %s' % os.path.join(top, dirname))
    return res


def main():
    out, share, top = sys.argv[1], sys.argv[2], sys.argv[3]
    sizes = [int(x) for x in sys.argv[4].split(',')]
    fn = bench_b_only if sys.argv[5:] == ['b-only'] else bench
    # 100,000 files and their "._" files: more inodes than tmpfs allows by
    # default, and a page each for the "._" files
    os.system('mount -o remount,nr_inodes=0,size=75%% %s' % top)
    results = []
    for n in sizes:
        r = fn(share, top, 'bench-%d' % n, n)
        print(json.dumps(r), flush=True)
        results.append(r)
    with open(out, 'w') as f:
        json.dump(results, f)


if __name__ == '__main__':
    main()
