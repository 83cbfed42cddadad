#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tests of ksmbd's Apple extensions with real SMB clients, as a
# kselftest: run as root on the server, with ksmbd listening on
# 127.0.0.1:445 and configured with ksmbd.conf (see README), e.g.
#   make -C tools/testing/selftests TARGETS=ksmbd run_tests
# Prints KTAP, one result per test (ksft_ksmbd.py), and exits 0 if every
# test met its expectation, 1 if one did not, and 4 (skip) when a client
# the tests need, or Avahi (bonjour.py), is not installed. Logs go to
# $RESULTS_DIR.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"

missing=()
command -v smbtorture >/dev/null || missing+=("smbtorture (samba-testsuite)")
command -v smbclient >/dev/null || missing+=("smbclient")
python3 -c 'import impacket' 2>/dev/null || missing+=("python3-impacket")
for cmd in avahi-daemon avahi-browse dbus-daemon; do
	command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
	ktap_print_header
	ktap_skip_all "not installed: ${missing[*]}"
	exit "$KSFT_SKIP"
fi
if [ "$(id -u)" != 0 ]; then
	ktap_print_header
	ktap_skip_all "must run as root on the server (it checks the shares' files)"
	exit "$KSFT_SKIP"
fi

exec python3 "$DIR/ksft_ksmbd.py"
