# SPDX-License-Identifier: GPL-2.0
#
# ksmbd-apple: Apple SMB extensions for ksmbd, as a patch series on Linux 7.3.
# Everything downloaded or built goes to ~/.cache/ksmbd-apple
# (KSMBD_APPLE_CACHE); the mail-ready series and reports go to out/.

.PHONY: all demo check bench series base tree kernel kunit vm-run export clean help

all: help

help:
	@echo "make demo     boot the patched kernel, serve an Apple share, talk AAPL to it"
	@echo "make check    run every test (series checks, KUnit, end-to-end)"
	@echo "make bench    the benchmarks: READDIR_ATTR listings, ksmbd and Samba;"
	@echo "              what SMB_SERVER_APPLE=y costs other clients; Time"
	@echo "              Machine backups, ksmbd and Samba (writes reports/*-bench.md)"
	@echo "make series   write the mail-ready series to out/series/"
	@echo "make base     fetch Debian's linux-source-7.3 and commit it as the base"
	@echo "make tree     check the patched tree out in ~/.cache/ksmbd-apple/linux"
	@echo "make kernel   build the end-to-end UML kernel"
	@echo "make export   write ~/.cache/ksmbd-apple/dev's commits back to patches/"

demo:
	scripts/demo

check:
	scripts/check

bench:
	scripts/bench-readdir
	scripts/bench-overhead
	scripts/bench-tm

series:
	scripts/format-series

base:
	scripts/fetch-base

tree:
	scripts/mkseries --checkout

kernel: tree
	scripts/build-kernel e2e

export:
	scripts/export-series

clean:
	rm -rf out
