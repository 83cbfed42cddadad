#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Bonjour discovery of the Time Machine share: the Avahi service file that
# publishes ksmbd's share "tm" over multicast DNS (DNS-SD), as a Mac looks
# for it. The test installs the file in /etc/avahi/services/, starts the
# D-Bus system bus and avahi-daemon, browses every service with
# avahi-browse and checks that exactly _smb._tcp (port 445), _adisk._tcp
# (port 9, TXT "sys=waMa=0,adVF=0x100" and "dk0=adVN=tm,adVF=0x82") and
# _device-info._tcp (TXT "model=" the "aapl model" of ksmbd.conf) are
# published, with no other TXT record. It stops both daemons and removes
# what it installed at the end. Output is TAP.
#
# Run on the server as root, with nothing else running avahi-daemon:
#   bonjour.py                      check the service file documented in
#                                   "Publishing a Time Machine share with
#                                   Avahi" (Documentation/filesystems/smb/)
#   bonjour.py --service-file FILE  check FILE instead (e.g. your own)
#
# avahi-daemon runs with a configuration of its own (not the machine's
# /etc/avahi/avahi-daemon.conf) that keeps mDNS on the loopback interface:
# the test VM has no other, and avahi-browse finds what the local daemon
# publishes there. /etc/avahi/services is a tmpfs for the time of the
# test, so that no other service file is published and none is left.

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from xml.sax.saxutils import escape

import ksmbd_tap

HERE = os.path.dirname(os.path.abspath(__file__))
KSMBD_CONF = os.path.join(HERE, 'ksmbd.conf')
SHARE = 'tm'                    # time machine = yes in ksmbd.conf
DEFAULT_MODEL = 'Xserve'        # ksmbd's model when "aapl model" is unset

SERVICES_DIR = '/etc/avahi/services'
SERVICE_FILE = os.path.join(SERVICES_DIR, 'ksmbd.service')
RUN_DIR = '/run/ksmbd-bonjour'
AVAHI_CONF = os.path.join(RUN_DIR, 'avahi-daemon.conf')
AVAHI_LOG = os.path.join(RUN_DIR, 'avahi-daemon.log')
DBUS_SOCKET = '/run/dbus/system_bus_socket'
START_TIMEOUT = 30

# use-ipv6=no: one answer per service (the VM's kernel may have IPv6);
# allow-interfaces=lo: mDNS on loopback only, the interface avahi-browse
# reaches the daemon's own records through; no wide-area (unicast DNS)
# browsing and no workstation or HINFO records of the host itself, so
# that all there is to browse is the service file's.
AVAHI_DAEMON_CONF = """\
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


class CheckFailed(Exception):
    """What was published is not what a Mac needs."""


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def aapl_model(path=KSMBD_CONF):
    """The "aapl model" of @path's [global] section, else ksmbd's default.
    (ksmbd.conf indents its keys, which configparser would take for
    continuation lines.)"""
    section, model = None, DEFAULT_MODEL
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in ';#':
                continue
            if line.startswith('[') and line.endswith(']'):
                section = line[1:-1].strip().lower()
                continue
            key, sep, value = line.partition('=')
            if (sep and section == 'global' and
                    ' '.join(key.lower().split()) == 'aapl model'):
                model = value.strip()
    return model


def service_file(share, model):
    """The service file of Documentation/filesystems/smb/ (section
    "Publishing a Time Machine share with Avahi") for @share and @model."""
    return """\
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">%h</name>
  <service>
    <type>_smb._tcp</type>
    <port>445</port>
  </service>
  <service>
    <type>_adisk._tcp</type>
    <port>9</port>
    <txt-record>sys=waMa=0,adVF=0x100</txt-record>
    <txt-record>dk0=adVN={share},adVF=0x82</txt-record>
  </service>
  <service>
    <type>_device-info._tcp</type>
    <port>0</port>
    <txt-record>model={model}</txt-record>
  </service>
</service-group>
""".format(share=escape(share), model=escape(model))


TXT_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_browse(output):
    """{service type: [(name, host, address, port, (TXT strings...))]}
    of the resolved ("=") lines of `avahi-browse -p -r`, each answer
    once; and the types of every line, resolved or not."""
    resolved, seen = {}, set()
    for line in output.splitlines():
        f = line.split(';', 9)
        if len(f) >= 6 and f[0] in '+=':
            seen.add(f[4])
        if f[0] != '=' or len(f) != 10:
            continue
        txt = tuple(sorted(m.group(1) for m in TXT_STRING.finditer(f[9])))
        entry = (f[3], f[6], f[7], int(f[8]), txt)
        if entry not in resolved.setdefault(f[4], []):
            resolved[f[4]].append(entry)
    return resolved, seen


def processes(*names):
    """[(pid, name)] of the processes named @names, zombies left out."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid, encoding='utf-8') as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        state = stat[stat.rindex(')') + 2:][:1]
        if comm in names and state != 'Z':
            found.append((int(pid), comm))
    return found


def bus_running():
    """True if a D-Bus system bus answers on its socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(DBUS_SOCKET)
            return True
        except OSError:
            return False


class Bonjour:
    """dbus-daemon and avahi-daemon started for the test, the service
    file installed, and what avahi-browse saw."""

    def __init__(self, text):
        self.text = text
        self.dbus = self.avahi = None
        self.mounted = False
        self.error = None
        self.resolved, self.seen, self.browse_output = {}, set(), ''

    def log(self):
        try:
            with open(AVAHI_LOG, encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def start(self):
        expect(os.geteuid() == 0, 'must run as root')
        running = processes('avahi-daemon')
        expect(not running, 'avahi-daemon already runs (pid %s): stop it '
               'first' % ', '.join(str(p) for p, _ in running))
        os.makedirs(RUN_DIR, exist_ok=True)
        with open(AVAHI_CONF, 'w', encoding='utf-8') as f:
            f.write(AVAHI_DAEMON_CONF)
        # Only the test's service file, and nothing left on the root
        # filesystem once it is unmounted.
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs',
                        SERVICES_DIR], check=True)
        self.mounted = True
        with open(SERVICE_FILE, 'w', encoding='utf-8') as f:
            f.write(self.text)

        if not bus_running():
            os.makedirs(os.path.dirname(DBUS_SOCKET), exist_ok=True)
            self.dbus = subprocess.Popen(
                ['dbus-daemon', '--system', '--nofork', '--nopidfile'],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.wait(bus_running,
                      'no D-Bus system bus at %s' % DBUS_SOCKET, self.dbus)

        with open(AVAHI_LOG, 'w', encoding='utf-8') as log:
            self.avahi = subprocess.Popen(
                ['avahi-daemon', '--file', AVAHI_CONF],
                stdout=log, stderr=subprocess.STDOUT)
        # Established, or what avahi-daemon says of a file it will not
        # publish (cannot parse or register, a name in use elsewhere).
        done = re.compile(r'^(Service ".*" \(/services/ksmbd\.service\) '
                          r'successfully established|Failed to (add|load)|'
                          r'.*parse failure|.*collision|Host name conflict)',
                          re.M)
        self.wait(lambda: done.search(self.log()),
                  'avahi-daemon did not establish the services', self.avahi)
        self.browse(retry='successfully established' in self.log())

    def wait(self, ready, what, proc):
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if proc.poll() is not None:
                raise CheckFailed('%s: %s exited with %d\n%s'
                                  % (what, proc.args[0], proc.returncode,
                                     self.log()))
            if time.monotonic() > deadline:
                raise CheckFailed('%s after %d s\n%s'
                                  % (what, START_TIMEOUT, self.log()))
            time.sleep(0.2)

    def browse(self, retry=True):
        """Every service on the network, resolved: until each one seen
        resolves (answers may come a moment after the services appear),
        with @retry."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            out = subprocess.run(
                ['avahi-browse', '--all', '--resolve', '--parsable',
                 '--terminate', '--no-db-lookup'],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, timeout=START_TIMEOUT, check=False).stdout
            self.resolved, self.seen = parse_browse(out)
            self.browse_output = out
            if (not retry or self.seen and self.seen == set(self.resolved) or
                    time.monotonic() > deadline):
                return
            time.sleep(0.5)

    def stop(self):
        """Stop what start() started and remove what it installed."""
        for proc in (self.avahi, self.dbus):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.mounted:
            subprocess.run(['umount', SERVICES_DIR], check=True)
            self.mounted = False
        if os.environ.get('RESULTS_DIR') and os.path.exists(AVAHI_LOG):
            os.makedirs(os.environ['RESULTS_DIR'], exist_ok=True)
            shutil.copy(AVAHI_LOG, os.path.join(os.environ['RESULTS_DIR'],
                                                'bonjour-avahi-daemon.log'))
        for path in (AVAHI_CONF, AVAHI_LOG):
            if os.path.exists(path):
                os.unlink(path)
        if os.path.isdir(RUN_DIR):
            os.rmdir(RUN_DIR)

    def service(self, stype):
        """The one answer for @stype: (name, host, address, port, TXT)."""
        if self.error:
            raise CheckFailed('avahi did not start: %s' % self.error)
        answers = self.resolved.get(stype, [])
        expect(answers, '%s is not published; avahi-browse printed:\n%s'
               % (stype, self.browse_output.rstrip() or '(nothing)'))
        expect(len(answers) == 1, '%s answers differently: %s'
               % (stype, answers))
        return answers[0]


MODEL = aapl_model()
EXPECTED_TYPES = {'_smb._tcp', '_adisk._tcp', '_device-info._tcp'}
ADISK_SYS = 'sys=waMa=0,adVF=0x100'
ADISK_DK0 = 'dk0=adVN=%s,adVF=0x82' % SHARE


def check_started(b):
    try:
        b.start()
    except Exception as e:
        b.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise
    log = b.log()
    expect('Loading service file /services/ksmbd.service.' in log and
           'successfully established' in log,
           'avahi-daemon did not establish the service file:\n' + log)


def check_types(b):
    b.service('_smb._tcp')          # fails the same way if avahi is down
    expect(set(b.resolved) == EXPECTED_TYPES and b.seen == EXPECTED_TYPES,
           'published: %s, want exactly %s'
           % (sorted(b.seen), sorted(EXPECTED_TYPES)))


def check_smb(b):
    _, _, _, port, txt = b.service('_smb._tcp')
    expect(port == 445, '_smb._tcp on port %d, want 445' % port)
    expect(txt == (), '_smb._tcp TXT %s, want none' % (txt,))


def check_adisk_port(b):
    port = b.service('_adisk._tcp')[3]
    expect(port == 9, '_adisk._tcp on port %d, want 9' % port)


def check_adisk_txt(b, want):
    txt = b.service('_adisk._tcp')[4]
    expect(want in txt, '_adisk._tcp TXT %s lacks "%s"' % (txt, want))


def check_adisk_only(b):
    txt = b.service('_adisk._tcp')[4]
    expect(txt == tuple(sorted((ADISK_SYS, ADISK_DK0))),
           '_adisk._tcp TXT %s, want exactly "%s" "%s"'
           % (txt, ADISK_SYS, ADISK_DK0))


def check_device_info(b):
    txt = b.service('_device-info._tcp')[4]
    want = 'model=' + MODEL
    expect(txt == (want,), '_device-info._tcp TXT %s, want exactly "%s" '
           '(the aapl model of ksmbd.conf)' % (txt, want))


def check_names(b):
    host = socket.gethostname()
    for stype in sorted(EXPECTED_TYPES):
        name, target, address, _, _ = b.service(stype)
        expect(name == host, '%s is named "%s", want the host name "%s"'
               % (stype, name, host))
        # The loopback address of either family, as avahi resolves it
        expect(target == host + '.local' and address in ('127.0.0.1', '::1'),
               '%s resolves to %s at %s, want %s.local at 127.0.0.1 or ::1'
               % (stype, target, address, host))


def check_stopped(b):
    ours = [p.pid for p in (b.avahi, b.dbus) if p]
    b.stop()
    # avahi-daemon's chroot helper, a child of its own, follows it out; a
    # D-Bus system bus that ran before the test is left alone
    deadline = time.monotonic() + 10
    while True:
        left = [p for p in processes('avahi-daemon', 'dbus-daemon')
                if p[1] == 'avahi-daemon' or p[0] in ours]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(not left, 'still running: %s' % left)
    expect(not os.path.exists(SERVICE_FILE), '%s left behind' % SERVICE_FILE)
    expect(not os.path.exists(RUN_DIR), '%s left behind' % RUN_DIR)


CHECKS = [
    ('avahi-daemon loads the service file and establishes its services',
     check_started),
    ('exactly _smb._tcp, _adisk._tcp and _device-info._tcp are published',
     check_types),
    ('_smb._tcp: port 445, no TXT record', check_smb),
    ('_adisk._tcp: port 9', check_adisk_port),
    ('_adisk._tcp: TXT sys=waMa=0,adVF=0x100',
     lambda b: check_adisk_txt(b, ADISK_SYS)),
    ('_adisk._tcp: TXT dk0=adVN=tm,adVF=0x82',
     lambda b: check_adisk_txt(b, ADISK_DK0)),
    ('_adisk._tcp: no other TXT record', check_adisk_only),
    ('_device-info._tcp: TXT model= the aapl model of ksmbd.conf, alone',
     check_device_info),
    ('every service is named after the host and resolves to it',
     check_names),
    ('avahi-daemon and dbus-daemon stopped, service file removed',
     check_stopped),
]


def main(argv):
    if argv[:1] == ['--service-file'] and len(argv) == 2:
        with open(argv[1], encoding='utf-8') as f:
            text = f.read()
    elif not argv:
        text = service_file(SHARE, MODEL)
    else:
        print('usage: bonjour.py [--service-file FILE]', file=sys.stderr)
        return 2
    b = Bonjour(text)
    try:
        return ksmbd_tap.run(CHECKS, b)
    finally:
        b.stop()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
