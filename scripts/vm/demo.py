#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The demo client (make demo), run inside the test VM: negotiate AAPL with
# ksmbd the way a Mac does at mount time, store Finder metadata on a file
# and read it back, show the streams with smbclient, the UNIX mode as NFS
# ACEs and a Time Machine size limit. Exits non-zero if
# anything is not as a Mac expects.

import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__),
                                '../../tools/testing/selftests/ksmbd'))
import aapl_wire as w  # noqa: E402
import apple_e2e as e  # noqa: E402

SERVER_CAPS = [(w.AAPL_READ_DIR_ATTR, 'READ_DIR_ATTR'),
               (w.AAPL_OSX_COPYFILE, 'OSX_COPYFILE'),
               (w.AAPL_UNIX_BASED, 'UNIX_BASED'),
               (w.AAPL_NFS_ACE, 'NFS_ACE'),
               (0x10, 'READ_DIR_ATTR_V2'),
               (w.AAPL_HIFI, 'HIFI')]
VOLUME_CAPS = [(0x01, 'RESOLVE_ID'), (0x02, 'CASE_SENSITIVE'),
               (w.AAPL_FULL_SYNC, 'FULL_SYNC')]


def names(value, table):
    return '|'.join(n for bit, n in table if value & bit) or '0'


def negotiate(client):
    print('1. AAPL negotiation (what a Mac sends when it mounts //127.0.0.1/tm)')
    query = w.aapl_query(w.AAPL_ALL_FIELDS, w.MACOS_CLIENT_CAPS)
    reply = client.create('', w.chain((w.CTX_MXAC, b''), (w.CTX_AAPL, query)))
    if reply.status != w.STATUS_SUCCESS:
        sys.exit('   CREATE failed: %s' % w.status_name(reply.status))
    aapl = w.aapl_replies(reply)
    if len(aapl) != 1:
        sys.exit('   no AAPL reply: the Mac would treat the server as Windows')
    data = aapl[0].data
    cmd, _, bitmap, scaps, vcaps, _, mlen = struct.unpack_from('<IIQQQII', data)
    model = data[40:40 + mlen].decode('utf-16-le')
    print('   client caps  %s' % names(w.MACOS_CLIENT_CAPS, SERVER_CAPS))
    print('   server caps  %s' % names(scaps, SERVER_CAPS))
    print('   volume caps  %s' % names(vcaps, VOLUME_CAPS))
    print('   model        "%s" (Finder picks the server icon from it)' % model)
    ok = cmd == 1 and bitmap == w.AAPL_ALL_FIELDS and scaps & w.AAPL_UNIX_BASED
    if not ok:
        sys.exit('   unexpected reply: %s' % w.hexdump(data))


def finder_info(client):
    print('2. Finder metadata in the AFP_AfpInfo stream')
    name = 'Letter.txt'
    # AfpInfo: "AFP\0", version 1.0, backup time "never", then FinderInfo:
    # type TEXT, creator ttxt, Finder flags 0x0100 (inited) + color label.
    finder = b'TEXTttxt' + b'\x01\x0c' + b'\0' * 22
    afpinfo = (b'AFP\0' + b'\0\0\x01\0' + b'\0' * 4 + b'\x80\0\0\0' +
               finder + b'\0' * 12)
    client.put(name, b'Dear Finder,\n')
    client.put(name + ':AFP_AfpInfo', afpinfo)
    got = client.get(name + ':AFP_AfpInfo')
    print('   wrote type/creator TEXT/ttxt to %s:AFP_AfpInfo' % name)
    print('   read back %d bytes: signature %r, type %r, creator %r, flags 0x%04x'
          % (len(got), got[0:4], got[16:20].decode(), got[20:24].decode(),
             struct.unpack_from('>H', got, 24)[0]))
    if got != afpinfo:
        sys.exit('   FinderInfo did not round-trip')
    # A resource fork larger than any xattr: kept in the AppleDouble file
    fork = bytes(range(256)) * 4096
    client.put(name + ':AFP_Resource', fork)
    got = client.get(name + ':AFP_Resource')
    adouble = '/srv/tm/._' + name
    print('   wrote a 1 MiB resource fork to %s:AFP_Resource: kept in %s'
          % (name, os.path.basename(adouble)))
    print('   (%d bytes: 82-byte AppleDouble header, then the fork), '
          'read back %s' % (os.path.getsize(adouble),
                            'intact' if got == fork else 'different'))
    if got != fork:
        sys.exit('   the resource fork did not round-trip')
    return name


def smbclient_allinfo(name):
    print('3. smbclient sees the streams')
    out = subprocess.run(['smbclient', '//127.0.0.1/tm', '-U', 'tuser%tpass',
                          '-c', 'allinfo "%s"' % name],
                         capture_output=True, text=True, check=False).stdout
    streams = [line.strip() for line in out.splitlines() if 'stream:' in line]
    for line in streams:
        print('   ' + line)
    if not any('AFP_AfpInfo' in line for line in streams):
        sys.exit('   smbclient does not list AFP_AfpInfo:\n' + out)


def unix_mode(client, name):
    print('4. UNIX permissions as NFS ACEs (what Finder\'s Get Info shows)')
    fid = e.open_file(client, name)
    try:
        aces = e.nfs_aces(e.parse_dacl(e.query_sd(client, fid)))
    finally:
        client.smb3.close(client.tid, fid)
    got = {a[3][3]: a[3][4] for a in aces}
    print('   mode %o, uid %d, gid %d' % (got.get(3, 0), got.get(1, -1),
                                       got.get(2, -1)))
    if sorted(got) != [1, 2, 3]:
        sys.exit('   no NFS ACEs in the security descriptor')


def time_machine(client):
    print('5. Time Machine: a 256 MiB limit in the share root\'s '
          'trusted.ksmbd.time_machine_max_size')
    e.set_limit('/srv/tm', b'256M')
    try:
        bundle = 'Mac.sparsebundle'
        e.make_bundle(client, bundle, 8 << 20, 4, os.urandom(8 << 20))
        total, avail, _, spu, bps = e.fs_size(client, e.FS_FULL_SIZE_INFORMATION)
        unit = spu * bps
        print('   a sparse bundle of 4 bands of 8 MiB; the share reports')
        print('   %d MiB in all, %d MiB free' % (total * unit >> 20,
                                              avail * unit >> 20))
        if (total * unit, avail * unit) != (256 << 20, 224 << 20):
            sys.exit('   unexpected sizes')
    finally:
        e.clear_limit('/srv/tm')
        shutil.rmtree('/srv/tm/' + bundle, ignore_errors=True)


def main():
    client = w.Client(w.SHARE_TM)
    negotiate(client)
    name = finder_info(client)
    smbclient_allinfo(name)
    unix_mode(client, name)
    time_machine(client)
    client.delete(name)
    client.logoff()
    print('ksmbd served an Apple share: AAPL negotiated, Finder data stored '
          'and read, UNIX mode and Time Machine limit reported.')


if __name__ == '__main__':
    main()
