#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# One run of the overhead benchmark, in the test VM, against the ksmbd the
# VM started (scripts/bench-overhead boots it on kernels built with
# SMB_SERVER_APPLE=y and =n, alternately). A client does what every SMB
# client does, and times each class of operation:
#
#   create   CREATE, WRITE of 4 KiB, CLOSE of N new files
#   stat     CREATE (attributes), QUERY_INFO (FileAllInformation), CLOSE
#   list     a full listing of the N files (FileIdBothDirectoryInformation)
#   read     CREATE, READ of 4 KiB, CLOSE of each
#   rename   each file renamed (CREATE, SET_INFO FileRenameInformation, CLOSE)
#   delete   each file deleted (CREATE with delete-on-close, CLOSE)
#   write    one file of M MiB written with 1 MiB WRITEs
#   readseq  and read back with 1 MiB READs
#
# The client is impacket's SMB3 (python3-impacket, as the selftests use):
# one request at a time, so that a run is the sum of the server's
# latencies plus a constant client cost per request (bench_client.py makes
# its signing C and keeps its heap, else it would measure itself); its CPU
# use is reported beside the wall time, so that a reader can see how much
# of a class is the client. With "aapl" the client first negotiates AAPL
# with macOS's capabilities, as a Mac does.
#
# The client costs most of a class's wall time (about 8 ms of Python a
# request against well under 1 ms of server for most classes), so the
# wall time cannot resolve a difference of 1% in the server, and the VM
# cannot time its own tasks finely enough (User Mode Linux's scheduler
# clock advances by whole 10 ms jiffies). The host can: scripts/vm-run
# --cpu-trace samples the CPU time of the UML kernel every 10 ms
# (scripts/uml-cpu-trace). Each class is therefore bracketed by
# CLOCK_REALTIME, which the guest shares with the host, and by a pause of
# SETTLE seconds on each side in which nothing but the idle VM runs; the
# host's samples within the pauses bound the kernel CPU time of the class
# (ksmbd, the filesystem, the block device, and the client's own system
# calls, which are the same on every kernel). An "idle" class, a pause
# alone, shows what the idle VM adds.
#
# Usage: overhead_bench.py OUT.json SHARE SHARE_PATH N MIB [aapl]

import json
import os
import sys
import time

sys.path.insert(0, '/repo/tools/testing/selftests/ksmbd')

from impacket.smb3structs import (  # noqa: E402
    DELETE, FILE_ATTRIBUTE_NORMAL, FILE_CREATE, FILE_DELETE_ON_CLOSE,
    FILE_NON_DIRECTORY_FILE, FILE_OPEN, FILE_READ_ATTRIBUTES, FILE_READ_DATA,
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_WRITE_DATA,
    SMB2_0_INFO_FILE)
from bench_client import MACOS_CLIENT_CAPS, aapl_client, fast_client  # noqa: E402,E501

FILE_ALL_INFORMATION = 18
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
SMALL = 4096
MIB = 1 << 20
SETTLE = 0.5


class Timer:
    def __init__(self):
        self.out = {}

    def __call__(self, name, fn):
        time.sleep(SETTLE)
        start = time.time()
        w, p = time.perf_counter(), time.process_time()
        fn()
        wall, client = time.perf_counter() - w, time.process_time() - p
        end = time.time()
        time.sleep(SETTLE)
        self.out[name] = {'wall': wall, 'client_cpu': client,
                          'start': start, 'end': end}


def main():
    out, share, share_path, n, mib = sys.argv[1:6]
    n, mib = int(n), int(mib)
    aapl = sys.argv[6:7] == ['aapl']
    fast_client()
    c = aapl_client(share, MACOS_CLIENT_CAPS if aapl else None)
    s, tid = c.smb3, c.tid
    top = 'ovh'
    names = ['%s\\f%06d' % (top, i) for i in range(n)]
    data = os.urandom(SMALL)
    big = os.urandom(MIB)
    t = Timer()

    c.conn.createDirectory(share, top)

    def create():
        for name in names:
            fid = s.create(tid, name, FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
                           SHARE_ALL, FILE_NON_DIRECTORY_FILE, FILE_CREATE,
                           FILE_ATTRIBUTE_NORMAL)
            s.writeFile(tid, fid, data, 0)
            s.close(tid, fid)

    def stat():
        for name in names:
            fid = s.create(tid, name, FILE_READ_ATTRIBUTES, SHARE_ALL,
                           FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
            s.queryInfo(tid, fid, infoType=SMB2_0_INFO_FILE,
                        fileInfoClass=FILE_ALL_INFORMATION)
            s.close(tid, fid)

    def listing():
        got = c.conn.listPath(share, top + '\\*')
        if len(got) != n + 2:
            raise SystemExit('listed %d entries of %d' % (len(got), n + 2))

    def read():
        for name in names:
            fid = s.create(tid, name, FILE_READ_DATA, SHARE_ALL,
                           FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
            if len(s.read(tid, fid, 0, SMALL)) != SMALL:
                raise SystemExit('short read of ' + name)
            s.close(tid, fid)

    def rename():
        for i, name in enumerate(names):
            c.conn.rename(share, name, names[i] + '.r')

    def delete():
        for name in names:
            fid = s.create(tid, name + '.r', DELETE, SHARE_ALL,
                           FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE,
                           FILE_OPEN, 0)
            s.close(tid, fid)

    seq = top + '\\seq'

    def write():
        fid = s.create(tid, seq, FILE_WRITE_DATA, SHARE_ALL,
                       FILE_NON_DIRECTORY_FILE, FILE_CREATE,
                       FILE_ATTRIBUTE_NORMAL)
        for i in range(mib):
            s.writeFile(tid, fid, big, i * MIB)
        s.close(tid, fid)

    def readseq():
        fid = s.create(tid, seq, FILE_READ_DATA, SHARE_ALL,
                       FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0)
        for i in range(mib):
            if len(s.read(tid, fid, i * MIB, MIB)) != MIB:
                raise SystemExit('short read of the sequential file')
        s.close(tid, fid)

    for name, fn in (('idle', lambda: time.sleep(2 * SETTLE)),
                     ('create', create), ('stat', stat), ('list', listing),
                     ('read', read), ('rename', rename), ('delete', delete),
                     ('write', write), ('readseq', readseq)):
        t(name, fn)
    # Nothing left but the sequential file: the run cleaned up after itself
    left = sorted(os.listdir(os.path.join(share_path, top)))
    if left != ['seq']:
        raise SystemExit('left in the share: %s' % left[:5])
    c.conn.deleteFile(share, seq)
    c.conn.deleteDirectory(share, top)
    json.dump({'files': n, 'mib': mib, 'aapl': aapl, 'share': share,
               'times': t.out}, open(out, 'w'), indent=1)
    print(json.dumps(t.out))


if __name__ == '__main__':
    main()
