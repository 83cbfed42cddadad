#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# One run of the Time Machine benchmark, in the test VM, against the
# server the VM started (ksmbd or Samba: scripts/bench-tm boots both, one
# after the other). A client writes a backup as Time Machine writes one to
# a network destination:
#
#   - a sparse bundle: a folder with an Info.plist (band size 8 MiB) and a
#     bands/ folder, on a share with time machine support, after AAPL is
#     negotiated with macOS's capabilities;
#   - each 8 MiB band file opened OVERWRITE_IF with a read/write/handle
#     lease and a durable v2 handle (DH2Q), as the Mac's destination does,
#     written with 1 MiB WRITEs, flushed with F_FULLFSYNC (SMB2 FLUSH with
#     Reserved1 = 0xFFFF) and closed;
#   - the same without the F_FULLFSYNC flushes, so that their share of the
#     time shows.
#
# The client is impacket's SMB3 (python3-impacket, as the selftests use,
# one request at a time): it is the only client in the archive that sends
# leases, durable v2 handles and the F_FULLFSYNC flush; smbclient sends
# none of them. bench_client.py makes its signing C and keeps its heap,
# so that at 1 MiB per WRITE its cost per byte is little more than a copy
# of the buffer, which its CPU time, reported beside the wall time, shows.
#
# Between two backups the bundle is removed on the server, the page cache
# written back and dropped: no backup pays for the previous one.
#
# Usage: tm_bench.py OUT.json SHARE SHARE_PATH MIB[,MIB...] ORDER
# ORDER: "fs" (with the flushes first) or "sf" (without them first)

import json
import os
import shutil
import sys
import time

sys.path.insert(0, '/repo/tools/testing/selftests/ksmbd')

from impacket.smb3structs import (  # noqa: E402
    FILE_OVERWRITE_IF, FILE_SHARE_READ, GENERIC_ALL)
from apple_e2e import (  # noqa: E402
    LEASE_RWH, dh2q_ctx, flush, lease_ctx, make_bundle, raw_create)
from bench_client import aapl_client, fast_client  # noqa: E402

MIB = 1 << 20
BAND = 8 * MIB
FULLFSYNC = 0xFFFF


def settle():
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3\n')


def backup(c, share_path, name, mib, fullfsync, data):
    """Write a @mib MiB backup into the bundle @name; its wall and client
    CPU seconds."""
    make_bundle(c, name, BAND, 0)
    settle()
    durable = leased = 0
    w, p = time.perf_counter(), time.process_time()
    for band in range(mib * MIB // BAND):
        status, fid, ctx = raw_create(
            c, '%s/bands/%x' % (name, band),
            [lease_ctx(os.urandom(16), LEASE_RWH),
             dh2q_ctx(os.urandom(16), 60000)],
            GENERIC_ALL, FILE_OVERWRITE_IF, FILE_SHARE_READ)
        if status:
            raise SystemExit('band %d: CREATE status %#x' % (band, status))
        # As the Mac, go on without: how many were granted is reported
        durable += b'DH2Q' in ctx
        leased += b'RqLs' in ctx
        for off in range(0, BAND, MIB):
            c.smb3.writeFile(c.tid, fid, data, off)
        if fullfsync:
            status = flush(c, fid, FULLFSYNC)
            if status:
                raise SystemExit('F_FULLFSYNC of band %d: %#x'
                                 % (band, status))
        c.smb3.close(c.tid, fid)
    out = {'wall': time.perf_counter() - w,
           'client_cpu': time.process_time() - p,
           'bands': mib * MIB // BAND, 'durable': durable, 'leased': leased}
    # Every band is there, whole
    bands = os.path.join(share_path, name, 'bands')
    sizes = [os.stat(os.path.join(bands, n)).st_size
             for n in os.listdir(bands)]
    if len(sizes) != mib * MIB // BAND or set(sizes) != {BAND}:
        raise SystemExit('the bundle holds %d bands of sizes %s'
                         % (len(sizes), sorted(set(sizes))))
    shutil.rmtree(os.path.join(share_path, name))
    settle()
    return out


def main():
    out, share, share_path, sizes, order = sys.argv[1:6]
    sizes = [int(s) for s in sizes.split(',')]
    modes = {'fs': (True, False), 'sf': (False, True)}[order]
    fast_client()
    c = aapl_client(share)
    data = os.urandom(MIB)
    res = {}
    for mib in sizes:
        for fullfsync in modes:
            key = '%d-%s' % (mib, 'fullfsync' if fullfsync else 'nosync')
            res[key] = backup(c, share_path, 'bench-%s.sparsebundle' % key,
                              mib, fullfsync, data)
            print(key, json.dumps(res[key]), flush=True)
    c.logoff()
    json.dump({'sizes': sizes, 'times': res}, open(out, 'w'), indent=1)


if __name__ == '__main__':
    main()
