# SPDX-License-Identifier: GPL-2.0
#
# impacket signs SMB 3 requests with AES-CMAC written in Python, one AES
# block at a time: about 2.7 s of client CPU per MiB written in the VM,
# which makes a bulk benchmark measure the client. use_c_cmac() has it
# use pycryptodomex's CMAC (C, the library impacket already depends on)
# instead, after checking that both give the same tag.

import os

from Cryptodome.Cipher import AES
from Cryptodome.Hash import CMAC
from impacket import crypto


def use_c_cmac():
    slow = crypto.AES_CMAC

    def fast(key, msg, length):
        return CMAC.new(key, msg=bytes(msg[:length]), ciphermod=AES).digest()

    key, msg = os.urandom(16), os.urandom(1000)
    for n in (0, 16, 999, 1000):
        if fast(key, msg, n) != slow(key, msg, n):
            raise SystemExit('pycryptodomex CMAC differs from impacket\'s')
    crypto.AES_CMAC = fast
