# SPDX-License-Identifier: GPL-2.0
#
# The client the benchmarks share: impacket's SMB 3 (python3-impacket, as
# the selftests use; the only client in the archive that sends AAPL,
# leases, durable v2 handles and the F_FULLFSYNC flush), made fast enough
# in the VM that a benchmark measures the server rather than the client:
#
#   - impacket signs SMB 3 requests with AES-CMAC written in Python, one
#     AES block at a time: about 2.7 s of client CPU per MiB written. It
#     is made to use pycryptodomex's CMAC (C, a library impacket already
#     depends on) after a check that both give the same tag.
#   - every 1 MiB buffer impacket builds or copies is a fresh allocation
#     above glibc's mmap threshold: mapped, faulted in page by page and
#     unmapped again. Under User Mode Linux a page fault costs the host a
#     round trip, which made a 64 MiB write take 22 s (smbclient: 0.6 s).
#     The heap is kept instead (M_MMAP_THRESHOLD and M_TRIM_THRESHOLD),
#     which takes that write to 3.6 s.
#
# fast_client() does both; aapl_client() opens a session to a share and,
# unless told otherwise, negotiates AAPL with macOS's capabilities as a
# Mac does.

import ctypes
import os
import sys

sys.path.insert(0, '/repo/tools/testing/selftests/ksmbd')

from Cryptodome.Cipher import AES  # noqa: E402
from Cryptodome.Hash import CMAC  # noqa: E402
from impacket import crypto  # noqa: E402

from aapl_wire import (  # noqa: E402
    AAPL_ALL_FIELDS, MACOS_CLIENT_CAPS, Client, aapl_context, aapl_query)

# <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def use_c_cmac():
    slow = crypto.AES_CMAC

    def fast(key, msg, length):
        return CMAC.new(key, msg=bytes(msg[:length]), ciphermod=AES).digest()

    key, msg = os.urandom(16), os.urandom(1000)
    for n in (0, 16, 999, 1000):
        if fast(key, msg, n) != slow(key, msg, n):
            raise SystemExit('pycryptodomex CMAC differs from impacket\'s')
    crypto.AES_CMAC = fast


def keep_heap():
    libc = ctypes.CDLL(None)
    # 256 MiB: no buffer of a benchmark is mapped on its own; 1 GiB: the
    # heap is not given back between two requests
    if (not libc.mallopt(M_MMAP_THRESHOLD, 256 << 20) or
            not libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)):
        raise SystemExit('mallopt() failed')


def fast_client():
    use_c_cmac()
    keep_heap()


def aapl_client(share, caps=MACOS_CLIENT_CAPS):
    """A session on @share; AAPL negotiated with @caps unless None."""
    c = Client(share)
    if caps is not None:
        reply = c.create('', aapl_context(aapl_query(AAPL_ALL_FIELDS,
                                                     client_caps=caps)))
        if reply.status:
            raise SystemExit('AAPL negotiation failed: %#x' % reply.status)
    return c
