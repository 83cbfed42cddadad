#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the ksmbd Apple tests and report one KTAP result per test.

The tests are smbtorture's Apple suites (fruit-suites.sh) and the Python
TAP tests in TAP_TESTS. What is expected of them is declared beside them,
independently of any run:

  - every smbtorture test is listed in the file "expected", as
    "pass <suite>: <test>", or as "xfail" with the failure text smbtorture
    must print and the reason;
  - every Python test is declared in its script's CHECKS table, read here
    without running the script; "expected" may hold an "xfail" or "skip"
    entry for one, with its reason.

Each declared test gets exactly one result: a test that did not run (its
script died, a suite was killed) fails, with what its script printed; a
result nobody declared fails; a skip fails unless expected; an expected
failure must fail with its expected text, and fails the run once it
passes. Usage:

  ksft_ksmbd.py           run everything (as root in the test VM), print KTAP
                          and exit 0 only if every test met its expectation
  ksft_ksmbd.py --list    print the declared tests, one name a line
"""

import ast
import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, 'expected')
FRUIT_SUITES = os.path.join(HERE, 'fruit-suites.sh')
TAP_TESTS = ['aapl_wire.py', 'apple_e2e.py', 'apple_hostile.py',
             'apple_hammer.py', 'bonjour.py', 'share_modes.py']
RESULTS_DIR = os.environ.get('RESULTS_DIR', '/tmp/ksmbd-selftest')
SUITES_TIMEOUT = 1800
SCRIPT_TIMEOUT = 1200


class Error(Exception):
    """The declarations themselves are broken."""


def load_expected(path=EXPECTED):
    """{test name: {'status': ..., 'failure': ..., 'reason': ...}} in the
    order of the file. An entry is a line "<status> <name>" followed by
    indented "failure: <text>" and "reason: <text>" lines."""
    entries, cur = {}, None
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\n')
            where = '%s:%d' % (os.path.basename(path), number)
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            if line[0] in ' \t':
                key, sep, value = line.strip().partition(': ')
                if cur is None or not sep or key not in ('failure',
                                                         'reason'):
                    raise Error('%s: stray line %r' % (where, line))
                cur[key] = value
                continue
            status, _, name = line.partition(' ')
            if status not in ('pass', 'xfail', 'skip') or not name:
                raise Error('%s: not "pass|xfail|skip <test>": %r'
                            % (where, line))
            if name in entries:
                raise Error('%s: %s listed twice' % (where, name))
            cur = entries[name] = {'status': status}
    for name, e in entries.items():
        if e['status'] != 'pass' and not e.get('reason'):
            raise Error('%s: %s %s has no reason' % (path, e['status'], name))
        if e['status'] == 'xfail' and not e.get('failure'):
            raise Error('%s: xfail %s has no failure text' % (path, name))
    return entries


def script_checks(script):
    """The names in the CHECKS table of @script, read without running it."""
    path = os.path.join(HERE, script)
    stem = os.path.splitext(script)[0]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and
                [getattr(t, 'id', None) for t in node.targets] == ['CHECKS']):
            if not isinstance(node.value, ast.List):
                break
            names = []
            for i, elt in enumerate(node.value.elts):
                if not (isinstance(elt, ast.Tuple) and elt.elts and
                        isinstance(elt.elts[0], ast.Constant) and
                        isinstance(elt.elts[0].value, str)):
                    raise Error('%s: CHECKS entry %d is not a (name, check) '
                                'pair with a literal name' % (script, i + 1))
                names.append('%s: %s' % (stem, elt.elts[0].value))
            if len(set(names)) != len(names):
                raise Error('%s: a CHECKS name is used twice' % script)
            return names
    raise Error('%s has no module-level CHECKS list' % script)


def declared():
    """[(source, test name)]: every test expected to report a result."""
    expected = load_expected()
    tests = [('smbtorture', n) for n in expected if n.startswith('vfs.')]
    for script in TAP_TESTS:
        tests += [(script, n) for n in script_checks(script)]
    names = {n for _, n in tests}
    stray = [n for n in expected if n not in names]
    if stray:
        raise Error('"expected" lists tests nobody declares: %s'
                    % ', '.join(stray))
    return tests, expected


# --- Running the tests -------------------------------------------------------

def run_streamed(cmd, log, timeout, parse):
    """Run @cmd, its output copied to @log, and yield what @parse (a
    generator function taking the output's lines) yields from it as the
    lines come, so that a run cut off half-way keeps what it reported.
    Finally yield (None, how the command ended, its last lines)."""
    lines = []
    with open(log, 'w', encoding='utf-8') as f:
        proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                errors='replace')
        timer = threading.Timer(timeout, proc.kill)
        timer.start()

        def source():
            for line in proc.stdout:
                f.write(line)
                f.flush()
                lines.append(line.rstrip('\n'))
                yield lines[-1]
        try:
            yield from parse(source())
        finally:
            proc.stdout.close()
            rc = proc.wait()
            killed = not timer.is_alive()
            timer.cancel()
    how = ('%s killed after %d s' % (os.path.basename(cmd[-1]), timeout)
           if killed else '%s exit %d' % (os.path.basename(cmd[-1]), rc))
    yield None, how, lines[-15:]


def parse_fruit(lines):
    """(test, (kind, message)) of each line of fruit-suites.sh."""
    for line in lines:
        f = line.split('\t')
        if len(f) >= 3 and f[0] in ('PASS', 'FAIL'):
            yield f[1], (f[2], f[3] if len(f) > 3 else '')


TAP_LINE = re.compile(r'^(ok|not ok) (\d+) - (.*?)(?: # (SKIP|TODO)\b ?(.*))?$')


def parse_tap(stem):
    """A parser of one Python test's TAP: (test, (kind, message)) of each
    result, once the diagnostics that follow it are in."""
    def parse(lines):
        cur = None
        for line in lines:
            m = TAP_LINE.match(line)
            if m or re.match(r'^1\.\.\d+$', line) or line == 'TAP version 13':
                if cur:
                    yield cur[0], (cur[1], ' '.join(cur[2]))
                cur = None
            if m:
                status, _, name, directive, why = m.groups()
                kind = {'SKIP': 'skip', 'TODO': 'todo'}.get(
                    directive, 'success' if status == 'ok' else 'failure')
                cur = ('%s: %s' % (stem, name), kind, [why] if why else [])
            elif (cur and line.startswith('# ') and cur[1] != 'success' and
                  not line.startswith('# Totals:')):
                cur[2].append(line[2:])
        if cur:
            yield cur[0], (cur[1], ' '.join(cur[2]))
    return parse


# vfs.fruit_timemachine expects its share to be limited to 32 KiB, as
# Samba's selftest configures it ("fruit:time machine max size = 32K"):
# the administrator's setting on ksmbd, the share root's trusted xattr.
TM_LIMIT = (os.environ.get('LOCALDIR', '/srv/tm'),
            'trusted.ksmbd.time_machine_max_size', b'32K')
# smbtorture's AppleDouble conversion tests write "._" files over SMB,
# which Samba's selftest allows them ("fruit:veto_appledouble = no"): the
# administrator's setting on ksmbd, the share root's trusted xattr. The
# shares on /srv/ext4, which apple_hostile.py uses, hide them (the default).
ADOUBLE_VISIBLE = (TM_LIMIT[0], 'trusted.ksmbd.appledouble', b'visible')


def runs():
    """(source, its results as run_streamed() yields them), in order."""
    os.setxattr(*TM_LIMIT)
    os.setxattr(*ADOUBLE_VISIBLE)
    yield 'smbtorture', run_streamed(
        [FRUIT_SUITES], os.path.join(RESULTS_DIR, 'fruit.txt'),
        SUITES_TIMEOUT, parse_fruit)
    for script in TAP_TESTS:
        stem = os.path.splitext(script)[0]
        yield script, run_streamed(
            [sys.executable, os.path.join(HERE, script)],
            os.path.join(RESULTS_DIR, stem + '.tap'), SCRIPT_TIMEOUT,
            parse_tap(stem))


def judge(expect, result):
    """(KTAP result, directive or diagnostic) of one test."""
    status = expect['status'] if expect else 'pass'
    if result is None:
        return 'not ok', 'did not run'
    kind, message = result
    if status == 'pass':
        if kind == 'success':
            return 'ok', ''
        return 'not ok', '%s: %s' % (kind, message)
    if status == 'skip':
        if kind == 'skip':
            return 'ok', 'SKIP ' + expect['reason']
        return 'not ok', 'expected to skip (%s), got %s' % (expect['reason'],
                                                            kind)
    if kind == 'success':
        return 'not ok', 'passes now: make it "pass" in expected'
    if kind == 'failure' and expect['failure'] in message:
        return 'ok', 'XFAIL ' + expect['reason']
    return 'not ok', ('expected to fail with "%s", got %s: %s'
                      % (expect['failure'], kind, message))


class Ktap:
    """KTAP lines to stdout and to RESULTS_DIR/ksmbd.tap."""

    def __init__(self):
        self.copy = open(os.path.join(RESULTS_DIR, 'ksmbd.tap'), 'w',
                         encoding='utf-8')

    def __call__(self, line):
        print(line)
        sys.stdout.flush()
        self.copy.write(line + '\n')
        self.copy.flush()


def main():
    tests, expected = declared()
    if sys.argv[1:] == ['--list']:
        for _, name in tests:
            print(name)
        return 0
    if sys.argv[1:]:
        print(__doc__.split('Usage:')[1].strip(), file=sys.stderr)
        return 2

    os.makedirs(RESULTS_DIR, exist_ok=True)
    out = Ktap()
    out('TAP version 13')
    out('1..%d' % len(tests))
    declared_names = {n: src for src, n in tests}
    number, failed = 0, 0

    def report(name, res, note):
        nonlocal number, failed
        number += 1
        if res == 'ok':
            out('ok %d %s%s' % (number, name, ' # ' + note if note else ''))
            return
        failed += 1
        # The directive stays on one short line; the whole text follows
        out('not ok %d %s # %s' % (number, name, note[:160]))
        if len(note) > 160:
            out('# ' + note)

    for source, results in runs():
        seen = set()
        for name, result, *rest in results:
            if name is None:
                how, last = result, rest[0]
                break
            if declared_names.get(name) != source or name in seen:
                report(name, 'not ok', 'not declared in CHECKS or expected'
                       if name not in seen else 'reported twice')
                continue
            seen.add(name)
            report(name, *judge(expected.get(name), result))
        missing = [n for src, n in tests if src == source and n not in seen]
        for name in missing:
            report(name, 'not ok', 'did not run')
        if missing:
            out('# %s; its last output:' % how)
            for line in last:
                out('#   ' + line)
    out('# Totals: pass:%d fail:%d' % (number - failed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Error as e:
        print('Bail out! %s' % e)
        sys.exit(1)
