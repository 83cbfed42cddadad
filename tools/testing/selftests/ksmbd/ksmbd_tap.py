# SPDX-License-Identifier: GPL-2.0
"""TAP output of the ksmbd Apple tests written in Python.

Each test script keeps its tests in a module-level table

    CHECKS = [
        ('what the test checks', function),
        ...
    ]

whose names are string literals, so that ksft_ksmbd.py can read the table
without running the script (and tell which tests did not run when the
script dies), and ends with sys.exit(ksmbd_tap.run(CHECKS)).
"""

import os
import sys
import traceback


def run(checks, *args, after_failure=None):
    """Run each check of @checks, passing it @args, and print TAP version 13:
    the plan, then one result per check; the lines of a failure's message
    and traceback follow its result as diagnostics. Return the exit
    status: 0 if every check passed, else 1."""
    print('TAP version 13')
    print('1..%d' % len(checks))
    sys.stdout.flush()
    failed = 0
    for number, (name, check) in enumerate(checks, 1):
        try:
            check(*args)
            print('ok %d - %s' % (number, name))
        except Exception as e:      # pylint: disable=broad-except
            failed += 1
            print('not ok %d - %s' % (number, name))
            for line in ('%s: %s' % (type(e).__name__, e)).splitlines():
                print('# ' + line)
            for frame in traceback.extract_tb(e.__traceback__)[1:]:
                print('#   at %s:%d %s' % (os.path.basename(frame.filename),
                                          frame.lineno, frame.line))
            if after_failure:
                after_failure()
        sys.stdout.flush()
    print('# Totals: pass:%d fail:%d' % (len(checks) - failed, failed))
    return 1 if failed else 0
