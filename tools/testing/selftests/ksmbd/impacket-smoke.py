#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the python3-impacket client against the test VM's server:
# log in, write a file and its AFP_AfpInfo stream (FinderInfo), read both
# back, list the share, delete the file. Run inside the VM:
#   ./impacket-smoke.py [SHARE]

import io
import sys

from impacket.smbconnection import SMBConnection


def connect():
    conn = SMBConnection('127.0.0.1', '127.0.0.1', sess_port=445)
    conn.login('tuser', 'tpass')
    # impacket 0.13's SMB3.create() raises UnboundLocalError (parentDir) for
    # top-level paths when the server advertises directory leasing (ksmbd
    # does); this client does not use directory leases.
    conn._SMBConnection._Connection['SupportsDirectoryLeasing'] = False
    return conn


def put(conn, share, path, data):
    conn.putFile(share, path, io.BytesIO(data).read)


def get(conn, share, path):
    buf = io.BytesIO()
    conn.getFile(share, path, buf.write)
    return buf.getvalue()


def main():
    share = sys.argv[1] if len(sys.argv) > 1 else 'tm'
    conn = connect()
    name = 'impacket-smoke.txt'
    # AfpInfo: signature "AFP\0", version 0x00010000, FinderInfo type/creator.
    afpinfo = (b'AFP\x00' + b'\x00\x00\x01\x00' + b'\x00' * 8 +
               b'TEXTttxt' + b'\x00' * 24 + b'\x00' * 16)[:60]
    put(conn, share, name, b'hello\n')
    put(conn, share, name + ':AFP_AfpInfo', afpinfo)
    assert get(conn, share, name) == b'hello\n', 'file data'
    got = get(conn, share, name + ':AFP_AfpInfo')
    assert got[16:24] == b'TEXTttxt', 'FinderInfo read back: %r' % got
    names = [f.get_longname() for f in conn.listPath(share, '*')]
    assert name in names, 'listing: %r' % names
    conn.deleteFile(share, name)
    conn.logoff()
    print('impacket smoke test on //127.0.0.1/%s: ok' % share)


if __name__ == '__main__':
    main()
