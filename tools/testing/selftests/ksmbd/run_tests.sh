#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every ksmbd Apple test on the server (as root, in this directory
# or elsewhere, ksmbd listening on 127.0.0.1:445). Results
# go to RESULTS_DIR (default /results): fruit.txt (one PASS/FAIL line per
# smbtorture test) and aapl_wire.tap.

set -u
cd "$(dirname "$0")"
RESULTS_DIR=${RESULTS_DIR:-/results}
export RESULTS_DIR

./fruit-suites.sh >"$RESULTS_DIR/fruit.txt" 2>&1
cat "$RESULTS_DIR/fruit.txt"
python3 ./aapl_wire.py >"$RESULTS_DIR/aapl_wire.tap" 2>&1
cat "$RESULTS_DIR/aapl_wire.tap"
# The host side (scripts/e2e) judges the results.
exit 0
