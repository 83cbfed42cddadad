#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run smbtorture's Apple (vfs_fruit) suites against the server of the test
# VM and print one line per test, "PASS<tab>suite: test" or "FAIL<tab>...",
# followed by two more tab-separated fields: smbtorture's verdict (success,
# failure, error, skip) and, for a test that did not succeed, the message
# it gave (the text between "[" and "]"); then a summary per suite. Run
# inside the VM, e.g.:
#   ./fruit-suites.sh [SUITE...]
# Full smbtorture output goes to $RESULTS_DIR/smbtorture-<suite>.log
# (default /results). Exits 1 if any test did not pass.

# Not -e: failing tests are expected; every suite runs, the exit status
# tells whether all passed.
set -uo pipefail

SHARE=${SHARE:-tm}
SHARE2=${SHARE2:-plain}
# vfs.fruit_conversion takes its share2 for the second Apple share on the
# same path that Samba's selftest gives it
SHARE2_CONVERSION=${SHARE2_CONVERSION:-tm2}
LOCALDIR=${LOCALDIR:-/srv/tm}
RESULTS_DIR=${RESULTS_DIR:-/results}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-300}	# a hung server costs one suite, not the run
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(vfs.fruit vfs.fruit_file_id vfs.fruit_timemachine
				  vfs.fruit_conversion vfs.fruit_netatalk)

summary=() total=0 passed=0
for suite in "${SUITES[@]}"; do
	log=$RESULTS_DIR/smbtorture-$suite.log
	# The directory the tests work in starts empty for every suite:
	# smbtorture's smb2_deltree() gives up on a directory that an unlink
	# with FILE_NON_DIRECTORY_FILE "deletes", which ksmbd answers with
	# success, so a suite can leave files there for the next one.
	rm -rf "$LOCALDIR/vfs_fruit_dir"
	share2=$SHARE2
	[ "$suite" != vfs.fruit_conversion ] || share2=$SHARE2_CONVERSION
	timeout -k 10 "$SUITE_TIMEOUT" smbtorture "//127.0.0.1/$SHARE" -U tuser%tpass \
		--option=torture:localdir="$LOCALDIR" --option=torture:share2="$share2" \
		"$suite" >"$log" 2>&1
	# Result lines look like "success: name" or "failure: name [", the
	# message on the lines up to "]"; "skip: name [ why ]" is one line.
	results=$(awk -v s="$suite" '
	function out(kind, name, msg) {
		printf "%s\t%s: %s\t%s\t%s\n", kind == "success" ? "PASS" : "FAIL",
			s, name, kind, msg
	}
	inmsg && $0 == "]" { out(kind, name, msg); inmsg = 0; next }
	inmsg { sub(/^[ \t]+/, ""); msg = msg (msg == "" ? "" : " ") $0; next }
	match($0, /^(success|failure|error|skip|xfail|uxsuccess): /) {
		kind = substr($0, 1, RLENGTH - 2)
		name = substr($0, RLENGTH + 1)
		if (match(name, / \[$/)) {
			name = substr(name, 1, RSTART - 1); inmsg = 1; msg = ""
		} else if (match(name, / \[ .* \]$/)) {
			msg = substr(name, RSTART + 3, RLENGTH - 5)
			out(kind, substr(name, 1, RSTART - 1), msg)
		} else {
			out(kind, name, "")
		}
	}
	END { if (inmsg) out(kind, name, msg " (output ends here)") }' "$log")
	n=$(grep -c . <<<"$results")
	ok=$(grep -c '^PASS' <<<"$results")
	[ -n "$results" ] || { n=0; ok=0; printf 'NORESULT\t%s (see %s)\n' "$suite" "$log"; }
	[ -z "$results" ] || printf '%s\n' "$results"
	summary+=("$(printf '%-24s %2d of %2d passed' "$suite" "$ok" "$n")")
	total=$((total + n)) passed=$((passed + ok))
done
printf '%s\n' "${summary[@]}"
printf '%-24s %2d of %2d passed\n' total "$passed" "$total"
[ "$passed" -eq "$total" ] && [ "$total" -gt 0 ]
