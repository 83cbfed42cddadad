#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Wire-level tests of ksmbd's AAPL create context (Apple SMB extensions).
#
# Sends raw SMB2 CREATE requests with hand-built create contexts through
# impacket's low-level SMB3 client and checks, byte for byte, what comes
# back: the kAAPL_SERVER_QUERY reply on the Apple shares, the rejection of
# malformed AAPL contexts and context lists with STATUS_INVALID_PARAMETER
# (before anything is created), that a share without the Apple extensions
# ignores the context, and that the server stays usable after every
# malformed request. Output is TAP; the exit status is 0 only if every
# check passes.
#
# Run on the server, ksmbd on 127.0.0.1:445 with the shares of ksmbd.conf.
#
# Wire layouts: MS-SMB2 2.2.13 (CREATE), 2.2.13.2 (create contexts) and
# Apple's AAPL create context (kAAPL_SERVER_QUERY).

import io
import os
import struct
import sys
from collections import namedtuple
from functools import partial

from impacket import nt_errors
from impacket.smb3structs import (
    DELETE, FILE_CREATE, FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE,
    FILE_OPEN, FILE_OVERWRITE_IF, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE,
    FILE_SHARE_READ, FILE_SHARE_WRITE, GENERIC_READ, GENERIC_WRITE,
    SMB2_CLOSE, SMB2_CREATE, SMB2_IL_IMPERSONATION, SMB2_OPLOCK_LEVEL_NONE,
    SMB2Close, SMB2Create, SYNCHRONIZE)
from impacket.smbconnection import SMBConnection

import ksmbd_tap

# --- The test VM (tools/testing/selftests/ksmbd/ksmbd.conf) ---------------

SERVER = '127.0.0.1'
PORT = 445
USER = 'tuser'
PASSWORD = 'tpass'
SHARE_TM = 'tm'              # time machine = yes: Apple extensions, tmpfs
SHARE_TM_EXT4 = 'tm_ext4'    # time machine = yes: Apple extensions, ext4
SHARE_PLAIN = 'plain'        # same path as tm, no Apple extensions
MODEL = 'MacSamba'           # aapl model

# --- NT status codes -------------------------------------------------------

STATUS_SUCCESS = 0x00000000
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034

# --- SMB2 CREATE framing (MS-SMB2 2.2.13, 2.2.14) --------------------------

SMB2_HEADER_LEN = 64
CREATE_REQ_FIXED_LEN = 56    # SMB2 CREATE request without its Buffer
CREATE_RSP_FIXED_LEN = 88    # SMB2 CREATE response without its Buffer
CREATE_RSP_FORMAT = '<HBBI4Q2Q2I16sII'

# Create context header: Next, NameOffset, NameLength, Reserved,
# DataOffset, DataLength
CTX_HDR_FORMAT = '<IHHHHI'
CTX_HDR_LEN = struct.calcsize(CTX_HDR_FORMAT)      # 16
CTX_NAME_OFFSET = CTX_HDR_LEN                       # names follow the header
CTX_ALIGN = 8

CTX_MXAC = b'MxAc'           # SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST

# --- AAPL (Apple's smb_2.h) ------------------------------------------------

CTX_AAPL = b'AAPL'
AAPL_DATA_OFFSET = 24        # 16-byte header, "AAPL", 4 pad bytes

AAPL_SERVER_QUERY = 1        # kAAPL_SERVER_QUERY
AAPL_RESOLVE_ID = 2          # kAAPL_RESOLVE_ID (not implemented by ksmbd)

# Request/reply bitmap
AAPL_SERVER_CAPS = 0x01
AAPL_VOLUME_CAPS = 0x02
AAPL_MODEL_INFO = 0x04
AAPL_ALL_FIELDS = AAPL_SERVER_CAPS | AAPL_VOLUME_CAPS | AAPL_MODEL_INFO

# Client and server capabilities
AAPL_READ_DIR_ATTR = 0x01
AAPL_OSX_COPYFILE = 0x02
AAPL_UNIX_BASED = 0x04
AAPL_NFS_ACE = 0x08
AAPL_READ_DIR_ATTR_V2 = 0x10
AAPL_HIFI = 0x20

# Volume capabilities
AAPL_FULL_SYNC = 0x04

# What smbtorture's vfs.fruit and macOS send as client capabilities
SMBTORTURE_CLIENT_CAPS = AAPL_READ_DIR_ATTR | AAPL_UNIX_BASED | AAPL_NFS_ACE
MACOS_CLIENT_CAPS = (AAPL_READ_DIR_ATTR | AAPL_OSX_COPYFILE | AAPL_UNIX_BASED |
                     AAPL_NFS_ACE | AAPL_READ_DIR_ATTR_V2 | AAPL_HIFI)

# What ksmbd advertises on a time machine share
KSMBD_BASE_SERVER_CAPS = AAPL_UNIX_BASED | AAPL_OSX_COPYFILE | AAPL_NFS_ACE
KSMBD_TM_VOLUME_CAPS = AAPL_FULL_SYNC

# AAPL reply DataLength: CommandCode, Reserved, ReplyBitmap (16 bytes), then
# 8 bytes per capability field and Pad2, ModelStringLength and the model
AAPL_RSP_FIXED_LEN = 16
AAPL_RSP_ALL_FIELDS_LEN = 56     # 16 + 8 + 8 + 8 + 2 * len("MacSamba")
AAPL_RSP_SERVER_CAPS_LEN = 24    # 16 + 8
AAPL_RSP_VOLUME_CAPS_LEN = 24    # 16 + 8
AAPL_RSP_MODEL_INFO_LEN = 40     # 16 + 8 + 2 * len("MacSamba")

# --- CREATE parameters -----------------------------------------------------

SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
# How macOS opens the share root for the AAPL query
ROOT_ACCESS = FILE_READ_ATTRIBUTES | SYNCHRONIZE
FILE_ACCESS = GENERIC_READ | GENERIC_WRITE | DELETE

RUN_TAG = 'aapl-wire-%d' % os.getpid()


class CheckFailed(Exception):
    """A check found the server behaving other than expected."""


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def status_name(status):
    name = nt_errors.ERROR_MESSAGES.get(status, ('unknown status',))[0]
    return '0x%08X (%s)' % (status, name)


def hexdump(data):
    return data.hex(' ') if data else '(empty)'


def align(n, boundary=CTX_ALIGN):
    return (n + boundary - 1) // boundary * boundary


# --- Building create contexts ---------------------------------------------

def context(name, data=b'', *, next_off=0, name_offset=CTX_NAME_OFFSET,
            name_length=None, data_offset=None, data_length=None,
            data_at=None, pad=False):
    """One create context, laid out as macOS does.

    The name follows the 16-byte header and the data starts at the next
    8-byte boundary (data_at overrides where the data really lies). The
    header fields default to that layout; passing one of them forges a
    context whose header lies about its body. pad=True pads the context to
    8 bytes, as every context but the last of a list must be.
    """
    if name_length is None:
        name_length = len(name)
    if data_at is None:
        data_at = align(CTX_HDR_LEN + len(name))
    if data_offset is None:
        data_offset = data_at if data else 0
    if data_length is None:
        data_length = len(data)
    if data:
        body = name.ljust(data_at - CTX_HDR_LEN, b'\0') + data
    else:
        body = name
    raw = struct.pack(CTX_HDR_FORMAT, next_off, name_offset, name_length, 0,
                      data_offset, data_length) + body
    if pad:
        raw = raw.ljust(align(len(raw)), b'\0')
    return raw


def chain(*contexts):
    """A well-formed create context list of (name, data) pairs."""
    out = b''
    for i, (name, data) in enumerate(contexts):
        last = i == len(contexts) - 1
        raw = context(name, data, pad=not last)
        if not last:
            raw = struct.pack('<I', len(raw)) + raw[4:]
        out += raw
    return out


def aapl_query(bitmap=AAPL_ALL_FIELDS, client_caps=SMBTORTURE_CLIENT_CAPS,
               command=AAPL_SERVER_QUERY, reserved=0):
    """kAAPL_SERVER_QUERY request data (24 bytes)."""
    return struct.pack('<IIQQ', command, reserved, bitmap, client_caps)


def aapl_context(data):
    return chain((CTX_AAPL, data))


# smbtorture's query (bitmap 7, client caps 0x0D); a kAAPL_RESOLVE_ID
# request (16 bytes) for file id 1; the sizes of an AAPL query context
# (header, "AAPL", pad, 24 bytes of data) and of a padded MxAc request
# (header, "MxAc", pad), to forge context lists from.
QUERY = aapl_query()
RESOLVE_ID_REQUEST = struct.pack('<IIQ', AAPL_RESOLVE_ID, 0, 1)
AAPL_QUERY_CTX_LEN = len(context(CTX_AAPL, QUERY))                # 48
MXAC_PADDED_CTX_LEN = len(context(CTX_MXAC, pad=True))            # 24


def expected_aapl_reply(bitmap, server_caps=None, volume_caps=None,
                        model=MODEL):
    """The reply data a kAAPL_SERVER_QUERY must get, field by field."""
    reply_bitmap = bitmap & AAPL_ALL_FIELDS
    data = struct.pack('<IIQ', AAPL_SERVER_QUERY, 0, reply_bitmap)
    if reply_bitmap & AAPL_SERVER_CAPS:
        data += struct.pack('<Q', server_caps)
    if reply_bitmap & AAPL_VOLUME_CAPS:
        data += struct.pack('<Q', volume_caps)
    if reply_bitmap & AAPL_MODEL_INFO:
        utf16 = model.encode('utf-16-le')
        data += struct.pack('<II', 0, len(utf16)) + utf16
    return data


# --- A raw SMB2 client -----------------------------------------------------

ReplyContext = namedtuple('ReplyContext', 'name name_offset name_length '
                          'data_offset data_length data')
CreateReply = namedtuple('CreateReply', 'status file_id contexts')


def parse_contexts(buf):
    """Walk a create context list of a CREATE response."""
    contexts = []
    pos = 0
    while True:
        expect(len(buf) - pos >= CTX_HDR_LEN,
               'response context at %d runs past the list (%d bytes): %s'
               % (pos, len(buf), hexdump(buf)))
        nxt, name_off, name_len, _, data_off, data_len = \
            struct.unpack_from(CTX_HDR_FORMAT, buf, pos)
        end = pos + (nxt or len(buf) - pos)
        expect(pos + name_off + name_len <= end and
               pos + data_off + data_len <= end,
               'response context at %d is malformed: %s'
               % (pos, hexdump(buf[pos:])))
        contexts.append(ReplyContext(
            bytes(buf[pos + name_off:pos + name_off + name_len]),
            name_off, name_len, data_off, data_len,
            bytes(buf[pos + data_off:pos + data_off + data_len])))
        if not nxt:
            return contexts
        pos += nxt


class Client:
    """One SMB connection, session and tree connect, able to send CREATE
    requests with arbitrary create-context bytes."""

    def __init__(self, share):
        self.share = share
        self.conn = SMBConnection(SERVER, SERVER, sess_port=PORT)
        self.conn.login(USER, PASSWORD)
        # impacket 0.13's SMB3.create() fails on top-level paths when the
        # server advertises directory leasing; no directory leases here.
        self.smb3 = self.conn.getSMBServer()
        self.smb3._Connection['SupportsDirectoryLeasing'] = False
        self.tid = self.conn.connectTree(share)

    def _send(self, command, body):
        packet = self.smb3.SMB_PACKET()
        packet['Command'] = command
        packet['TreeID'] = self.tid
        packet['Data'] = body
        return self.smb3.recvSMB(self.smb3.sendSMB(packet))

    def create(self, name='', contexts=None, disposition=FILE_OPEN,
               options=FILE_DIRECTORY_FILE, access=ROOT_ACCESS):
        """Send one CREATE; never raises on an error status.

        contexts are the raw bytes of the create context list, placed on
        the first 8-byte boundary after the name (an empty name counts 2
        bytes, as macOS counts it). A handle the server hands out is
        closed again before this returns.
        """
        req = SMB2Create()
        req['RequestedOplockLevel'] = SMB2_OPLOCK_LEVEL_NONE
        req['ImpersonationLevel'] = SMB2_IL_IMPERSONATION
        req['DesiredAccess'] = access
        req['FileAttributes'] = 0
        req['ShareAccess'] = SHARE_ALL
        req['CreateDisposition'] = disposition
        req['CreateOptions'] = options
        name_bytes = name.encode('utf-16-le')
        req['NameLength'] = len(name_bytes)
        buf = name_bytes or b'\0\0'
        if contexts is None:
            req['CreateContextsOffset'] = 0
            req['CreateContextsLength'] = 0
        else:
            fixed = SMB2_HEADER_LEN + CREATE_REQ_FIXED_LEN
            buf = buf.ljust(align(fixed + len(buf)) - fixed, b'\0')
            req['CreateContextsOffset'] = fixed + len(buf)
            req['CreateContextsLength'] = len(contexts)
            buf += contexts
        req['Buffer'] = buf

        ans = self._send(SMB2_CREATE, req)
        status = ans['Status']
        if status != STATUS_SUCCESS:
            return CreateReply(status, None, [])

        body = ans['Data']
        fields = struct.unpack_from(CREATE_RSP_FORMAT, body)
        file_id, ctx_off, ctx_len = fields[-3:]
        try:
            contexts_out = []
            if ctx_len:
                start = ctx_off - SMB2_HEADER_LEN
                expect(ctx_off >= SMB2_HEADER_LEN + CREATE_RSP_FIXED_LEN and
                       start + ctx_len <= len(body),
                       'CREATE response contexts (offset %d, length %d) '
                       'lie outside the %d-byte response'
                       % (ctx_off, ctx_len, len(body)))
                contexts_out = parse_contexts(body[start:start + ctx_len])
        finally:
            self.close(file_id)
        return CreateReply(status, file_id, contexts_out)

    def close(self, file_id):
        req = SMB2Close()
        req['Flags'] = 0
        req['FileID'] = file_id
        status = self._send(SMB2_CLOSE, req)['Status']
        expect(status == STATUS_SUCCESS,
               'CLOSE failed: %s' % status_name(status))

    def list_root(self):
        """Names in the share root: CREATE, QUERY_DIRECTORY, CLOSE."""
        return [f.get_longname() for f in self.conn.listPath(self.share, '*')]

    def delete(self, name):
        self.conn.deleteFile(self.share, name)

    def put(self, name, data):
        self.conn.putFile(self.share, name, io.BytesIO(data).read)

    def get(self, name):
        buf = io.BytesIO()
        self.conn.getFile(self.share, name, buf.write)
        return buf.getvalue()

    def logoff(self):
        # Not SMBConnection.close(): it would send a second LOGOFF, which
        # the server cannot decrypt once the session is gone.
        try:
            self.conn.logoff()
        finally:
            self.smb3.close_session()


class Clients:
    """One connection per share, opened on first use. After a failed check
    the connections are dropped, so that one broken connection does not
    fail the checks that follow."""

    def __init__(self):
        self._clients = {}

    def __call__(self, share):
        if share not in self._clients:
            self._clients[share] = Client(share)
        return self._clients[share]

    def reset(self):
        for client in self._clients.values():
            try:
                client.logoff()
            except Exception:
                pass
        self._clients.clear()


# --- Assertions ------------------------------------------------------------

def expect_status(reply, status, what='CREATE'):
    expect(reply.status == status, '%s returned %s, expected %s'
           % (what, status_name(reply.status), status_name(status)))


def aapl_replies(reply):
    return [c for c in reply.contexts if c.name == CTX_AAPL]


def expect_aapl_reply(reply, expected, data_length):
    """The CREATE succeeded with exactly one AAPL reply context, framed as
    macOS parses it, whose data is byte for byte the expected one."""
    expect_status(reply, STATUS_SUCCESS)
    assert len(expected) == data_length, 'test bug: expected data length'
    found = aapl_replies(reply)
    expect(len(found) == 1, 'expected one AAPL reply context, got %d '
           '(contexts: %s)' % (len(found), [c.name for c in reply.contexts]))
    ctx = found[0]
    expect((ctx.name_offset, ctx.name_length, ctx.data_offset) ==
           (CTX_NAME_OFFSET, len(CTX_AAPL), AAPL_DATA_OFFSET),
           'AAPL reply NameOffset %d NameLength %d DataOffset %d, expected '
           '%d %d %d' % (ctx.name_offset, ctx.name_length, ctx.data_offset,
                         CTX_NAME_OFFSET, len(CTX_AAPL), AAPL_DATA_OFFSET))
    expect(ctx.data_length == data_length and ctx.data == expected,
           'AAPL reply data (DataLength %d, expected %d)\n'
           'got:      %s\nexpected: %s' % (ctx.data_length, data_length,
                                           hexdump(ctx.data),
                                           hexdump(expected)))


def expect_no_aapl_reply(reply):
    found = aapl_replies(reply)
    expect(not found, 'unexpected AAPL reply context: %s'
           % hexdump(found[0].data if found else b''))


def expect_healthy(client):
    """The connection still serves requests: a CREATE/CLOSE of the share
    root and a directory listing (CREATE, QUERY_DIRECTORY, CLOSE)."""
    try:
        reply = client.create()
        expect_status(reply, STATUS_SUCCESS,
                      'health check: CREATE of the share root')
        names = client.list_root()
    except CheckFailed:
        raise
    except Exception as e:
        raise CheckFailed('health check on the same connection failed: '
                          '%s: %s' % (type(e).__name__, e))
    expect('.' in names, 'health check: listing lacks ".": %r' % names)


def fresh_name(tag):
    return '%s-%s' % (RUN_TAG, tag)


# --- Checks: well-formed queries on the Apple shares -----------------------

def check_reply(clients, share, bitmap, client_caps, server_caps,
                data_length):
    reply = clients(share).create(
        contexts=aapl_context(aapl_query(bitmap, client_caps)))
    expect_aapl_reply(reply, expected_aapl_reply(
        bitmap, server_caps, KSMBD_TM_VOLUME_CAPS), data_length)


def check_reply_to(clients, contexts):
    """A well-formed query, framed in some unusual but valid way, gets the
    full reply."""
    reply = clients(SHARE_TM).create(contexts=contexts)
    expect_aapl_reply(reply, expected_aapl_reply(
        AAPL_ALL_FIELDS, KSMBD_BASE_SERVER_CAPS | AAPL_READ_DIR_ATTR,
        KSMBD_TM_VOLUME_CAPS), AAPL_RSP_ALL_FIELDS_LEN)


def check_reply_only_aapl(clients):
    """A macOS client rejects unrequested reply contexts (section 1.3)."""
    reply = clients(SHARE_TM).create(contexts=aapl_context(QUERY))
    expect_status(reply, STATUS_SUCCESS)
    names = [c.name for c in reply.contexts]
    expect(names == [CTX_AAPL], 'reply contexts %r, expected only AAPL'
           % names)


def check_reply_after_mxac(clients):
    """AAPL as the second context of the list is answered too."""
    reply = clients(SHARE_TM).create(
        contexts=chain((CTX_MXAC, b''), (CTX_AAPL, QUERY)))
    expect_aapl_reply(reply, expected_aapl_reply(
        AAPL_ALL_FIELDS, KSMBD_BASE_SERVER_CAPS | AAPL_READ_DIR_ATTR,
        KSMBD_TM_VOLUME_CAPS), AAPL_RSP_ALL_FIELDS_LEN)
    expect(CTX_MXAC in [c.name for c in reply.contexts],
           'no MxAc reply next to the AAPL one')


def check_reply_on_file_create(clients):
    """A query on the CREATE of a new file (as smbtorture sends it) is
    answered and the file is created."""
    client = clients(SHARE_TM)
    name = fresh_name('query-create')
    reply = client.create(name, contexts=aapl_context(QUERY),
                          disposition=FILE_CREATE,
                          options=FILE_NON_DIRECTORY_FILE, access=FILE_ACCESS)
    try:
        expect_aapl_reply(reply, expected_aapl_reply(
            AAPL_ALL_FIELDS, KSMBD_BASE_SERVER_CAPS | AAPL_READ_DIR_ATTR,
            KSMBD_TM_VOLUME_CAPS), AAPL_RSP_ALL_FIELDS_LEN)
        expect(name in client.list_root(), '%s was not created' % name)
    finally:
        if reply.status == STATUS_SUCCESS:
            client.delete(name)


# --- Checks: malformed requests on an Apple share --------------------------

def check_rejected(clients, contexts, share=SHARE_TM):
    """STATUS_INVALID_PARAMETER, and the connection still works."""
    client = clients(share)
    reply = client.create(contexts=contexts)
    expect_status(reply, STATUS_INVALID_PARAMETER)
    expect_healthy(client)


def check_no_file_left(clients, aapl_data, tag):
    """A malformed AAPL context on a CREATE that would make a new file
    fails and leaves no file behind."""
    client = clients(SHARE_TM)
    name = fresh_name(tag)
    reply = client.create(name, contexts=aapl_context(aapl_data),
                          disposition=FILE_CREATE,
                          options=FILE_NON_DIRECTORY_FILE, access=FILE_ACCESS)
    probe = client.create(name, disposition=FILE_OPEN,
                          options=FILE_NON_DIRECTORY_FILE)
    listed = name in client.list_root()
    if probe.status == STATUS_SUCCESS or listed:
        client.delete(name)     # leave the share clean for what follows
    expect_status(reply, STATUS_INVALID_PARAMETER)
    expect(probe.status == STATUS_OBJECT_NAME_NOT_FOUND and not listed,
           '%s exists after the failed CREATE (FILE_OPEN: %s, listed: %s)'
           % (name, status_name(probe.status), listed))
    expect_healthy(client)


def check_no_overwrite(clients):
    """A malformed AAPL context on a FILE_OVERWRITE_IF of an existing file
    fails and leaves the file's data alone."""
    client = clients(SHARE_TM)
    name = fresh_name('overwrite')
    content = b'must survive the failed CREATE\n'
    client.put(name, content)
    try:
        reply = client.create(name, contexts=aapl_context(QUERY[:16]),
                              disposition=FILE_OVERWRITE_IF,
                              options=FILE_NON_DIRECTORY_FILE,
                              access=FILE_ACCESS)
        after = client.get(name)
    finally:
        client.delete(name)
    expect_status(reply, STATUS_INVALID_PARAMETER)
    expect(after == content, 'file data changed by the failed CREATE: %r'
           % after)
    expect_healthy(client)


# --- Checks: a share without the Apple extensions --------------------------

def check_plain_ignores(clients, aapl_data):
    """On a share without the Apple extensions the AAPL context is ignored:
    the CREATE succeeds and gets no AAPL reply."""
    client = clients(SHARE_PLAIN)
    reply = client.create(contexts=aapl_context(aapl_data))
    expect_status(reply, STATUS_SUCCESS)
    expect_no_aapl_reply(reply)
    expect_healthy(client)


def check_plain_malformed_file_create(clients):
    """... also on the CREATE of a new file, which then exists."""
    client = clients(SHARE_PLAIN)
    name = fresh_name('plain-create')
    reply = client.create(name, contexts=aapl_context(QUERY[:16]),
                          disposition=FILE_CREATE,
                          options=FILE_NON_DIRECTORY_FILE, access=FILE_ACCESS)
    try:
        expect_status(reply, STATUS_SUCCESS)
        expect_no_aapl_reply(reply)
        expect(name in client.list_root(), '%s was not created' % name)
    finally:
        if reply.status == STATUS_SUCCESS:
            client.delete(name)


# --- Check: the server after all of it -------------------------------------

def check_fresh_connection(clients):
    clients.reset()
    for share in (SHARE_TM, SHARE_PLAIN):
        try:
            client = Client(share)
            names = client.list_root()
            client.logoff()
        except Exception as e:
            raise CheckFailed('new connection to %s failed: %s: %s'
                              % (share, type(e).__name__, e))
        expect('.' in names, '%s: listing lacks ".": %r' % (share, names))


# --- The list of checks ----------------------------------------------------

# The server capabilities of a time machine share, with READ_DIR_ATTR or V2
RD_CAPS = KSMBD_BASE_SERVER_CAPS | AAPL_READ_DIR_ATTR
RD_V2_CAPS = KSMBD_BASE_SERVER_CAPS | AAPL_READ_DIR_ATTR_V2

CHECKS = [
    ('tm: query bitmap 7, client caps 0x0D (smbtorture): reply '
     'byte-exact, DataLength 56, server caps 0x0F, volume caps 0x04, '
     'model MacSamba',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_ALL_FIELDS,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_ALL_FIELDS_LEN)),
    ('tm: the reply carries no context but AAPL',
     check_reply_only_aapl),
    ('tm: query bitmap 7, client caps 0x3F (macOS): server caps 0x1E',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_ALL_FIELDS,
             client_caps=MACOS_CLIENT_CAPS, server_caps=RD_V2_CAPS,
             data_length=AAPL_RSP_ALL_FIELDS_LEN)),
    ('tm: query client caps 0: server caps 0x0E (no READ_DIR_ATTR)',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_ALL_FIELDS,
             client_caps=0, server_caps=KSMBD_BASE_SERVER_CAPS,
             data_length=AAPL_RSP_ALL_FIELDS_LEN)),
    ('tm: query bitmap 1: only server caps, DataLength 24',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_SERVER_CAPS,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_SERVER_CAPS_LEN)),
    ('tm: query bitmap 2: only volume caps, DataLength 24',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_VOLUME_CAPS,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_VOLUME_CAPS_LEN)),
    ('tm: query bitmap 4: only model info, DataLength 40',
     partial(check_reply, share=SHARE_TM, bitmap=AAPL_MODEL_INFO,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_MODEL_INFO_LEN)),
    ('tm: query bitmap 0: no fields, DataLength 16',
     partial(check_reply, share=SHARE_TM, bitmap=0,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_FIXED_LEN)),
    ('tm: query bitmap 0xFFFFFFFFFFFFFFFF: reply bitmap 7',
     partial(check_reply, share=SHARE_TM, bitmap=(1 << 64) - 1,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_ALL_FIELDS_LEN)),
    ('tm: query with Reserved 0xFFFFFFFF is answered (not checked, '
     'as in Samba)',
     partial(check_reply_to, contexts=aapl_context(
         aapl_query(reserved=0xFFFFFFFF)))),
    ('tm: query data at DataOffset 32 (after 8 more pad bytes) is '
     'answered',
     partial(check_reply_to, contexts=context(CTX_AAPL, QUERY,
                                              data_at=32))),
    ('tm: AAPL after a MxAc context is answered',
     check_reply_after_mxac),
    ('tm: query on the CREATE of a new file is answered',
     check_reply_on_file_create),
    ('tm_ext4: query bitmap 7: reply byte-exact',
     partial(check_reply, share=SHARE_TM_EXT4, bitmap=AAPL_ALL_FIELDS,
             client_caps=SMBTORTURE_CLIENT_CAPS, server_caps=RD_CAPS,
             data_length=AAPL_RSP_ALL_FIELDS_LEN)),
    # Malformed AAPL contexts and context lists
    ('tm: AAPL data length 0: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(b''))),
    ('tm: AAPL data length 16 (kAAPL_RESOLVE_ID request): '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(RESOLVE_ID_REQUEST))),
    ('tm: AAPL data length 23: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(QUERY[:23]))),
    ('tm: AAPL data length 25: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(QUERY + b'\0'))),
    ('tm: AAPL data length 32: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(QUERY + bytes(8)))),
    ('tm: AAPL command 0: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(aapl_query(command=0)))),
    ('tm: AAPL command 2 (kAAPL_RESOLVE_ID) with 24 bytes: '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=aapl_context(
         aapl_query(command=AAPL_RESOLVE_ID)))),
    ('tm: AAPL command 0xFFFFFFFF: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=aapl_context(
         aapl_query(command=0xFFFFFFFF)))),
    ('tm: DataOffset 28, not 8-aligned: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY, data_at=28,
                                              pad=True))),
    ('tm: DataOffset 16, inside the name: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=context(
         CTX_AAPL, QUERY, data_offset=CTX_NAME_OFFSET))),
    ('tm: DataLength 32 runs past the 48-byte context: '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY,
                                              data_length=32))),
    ('tm: DataLength 0xFFFFFFFF: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY,
                                              data_length=0xFFFFFFFF))),
    ('tm: Next 44, not 8-aligned: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY, next_off=44) +
             context(CTX_MXAC))),
    ('tm: Next 8, inside the context header: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY, next_off=8) +
             context(CTX_MXAC))),
    ('tm: NameLength 2: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY,
                                              name_length=2))),
    ('tm: NameOffset 8: STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY,
                                              name_offset=8))),
    ('tm: second context after AAPL with Next past the buffer: '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=context(
         CTX_AAPL, QUERY, next_off=AAPL_QUERY_CTX_LEN) +
         context(CTX_MXAC, next_off=2 * MXAC_PADDED_CTX_LEN, pad=True))),
    ('tm: context list of 8 bytes, shorter than a context header: '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY)[:8])),
    ('tm: malformed AAPL (data length 16) after a valid MxAc: '
     'STATUS_INVALID_PARAMETER, connection healthy',
     partial(check_rejected, contexts=chain((CTX_MXAC, b''),
                                            (CTX_AAPL, QUERY[:16])))),
    ('tm_ext4: AAPL data length 32: STATUS_INVALID_PARAMETER, '
     'connection healthy',
     partial(check_rejected, contexts=aapl_context(QUERY + bytes(8)),
             share=SHARE_TM_EXT4)),
    ('tm: FILE_CREATE with AAPL data length 16 fails and leaves no file',
     partial(check_no_file_left, aapl_data=QUERY[:16],
             tag='short-create')),
    ('tm: FILE_CREATE with AAPL command 2 fails and leaves no file',
     partial(check_no_file_left,
             aapl_data=aapl_query(command=AAPL_RESOLVE_ID),
             tag='resolve-create')),
    ('tm: FILE_CREATE with AAPL data length 32 fails and leaves no file',
     partial(check_no_file_left, aapl_data=QUERY + bytes(8),
             tag='long-create')),
    ('tm: FILE_OVERWRITE_IF with AAPL data length 16 fails and leaves '
     'the existing file intact', check_no_overwrite),
    ('plain: AAPL data length 0 ignored', partial(
        check_plain_ignores, aapl_data=b'')),
    ('plain: AAPL data length 16 (kAAPL_RESOLVE_ID) ignored', partial(
        check_plain_ignores,
        aapl_data=RESOLVE_ID_REQUEST)),
    ('plain: AAPL data length 32 ignored', partial(
        check_plain_ignores, aapl_data=QUERY + bytes(8))),
    ('plain: AAPL command 0 ignored', partial(
        check_plain_ignores, aapl_data=aapl_query(command=0))),
    ('plain: AAPL command 2 ignored', partial(
        check_plain_ignores,
        aapl_data=aapl_query(command=AAPL_RESOLVE_ID))),
    ('plain: well-formed query gets no AAPL reply', partial(
        check_plain_ignores, aapl_data=QUERY)),
    ('plain: FILE_CREATE with malformed AAPL succeeds, no AAPL reply',
     check_plain_malformed_file_create),
    ('plain: malformed context list (NameOffset 8) still fails with '
     'STATUS_INVALID_PARAMETER',
     partial(check_rejected, contexts=context(CTX_AAPL, QUERY,
                                              name_offset=8),
             share=SHARE_PLAIN)),
    ('after all: new connections to tm and plain log in and list the '
     'root', check_fresh_connection),
]


def main():
    clients = Clients()
    try:
        return ksmbd_tap.run(CHECKS, clients, after_failure=clients.reset)
    finally:
        clients.reset()


if __name__ == '__main__':
    sys.exit(main())
