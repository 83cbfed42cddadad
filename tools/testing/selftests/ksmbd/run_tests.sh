#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every ksmbd Apple test on the server (as root, in this directory
# or elsewhere, ksmbd listening on 127.0.0.1:445). Results
# go to RESULTS_DIR (default /results): fruit.txt (one PASS/FAIL line per
# smbtorture test), aapl_wire.tap and apple_e2e.tap.

set -u
cd "$(dirname "$0")"
RESULTS_DIR=${RESULTS_DIR:-/results}
export RESULTS_DIR

# vfs.fruit_timemachine expects the share to be limited to 32 KiB, as
# Samba's selftest configures it ("fruit:time machine max size = 32K");
# ksmbd reads the limit from the share root.
cat >"${LOCALDIR:-/srv/tm}/.com.apple.TimeMachine.quota.plist" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0">
<dict>
	<key>GlobalQuota</key>
	<integer>32768</integer>
</dict>
</plist>
EOF
./fruit-suites.sh >"$RESULTS_DIR/fruit.txt" 2>&1
cat "$RESULTS_DIR/fruit.txt"
python3 ./aapl_wire.py >"$RESULTS_DIR/aapl_wire.tap" 2>&1
cat "$RESULTS_DIR/aapl_wire.tap"
python3 ./apple_e2e.py >"$RESULTS_DIR/apple_e2e.tap" 2>&1
cat "$RESULTS_DIR/apple_e2e.tap"
# The host side (scripts/e2e) judges the results.
exit 0
