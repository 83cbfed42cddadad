#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the User Mode Linux test VM started by scripts/vm-run.
#
# Mounts the pseudo filesystems, the repository (/repo) and the results
# directory (/results) from the host, creates the shares (tmpfs /srv/tm,
# ext4 on /dev/ubda at /srv/ext4), starts ksmbd or Samba on 127.0.0.1:445,
# runs the command in /results/cmd as root in /repo, and powers off.
# Results: status (exit code), output, dmesg, server.log.
#
# Parameters come from the kernel command line (init's environment):
#   KSMBD_VM_REPO     host path of the repository
#   KSMBD_VM_RESULTS  host path of the results directory
#   KSMBD_VM_SERVER   ksmbd | samba
#   KSMBD_VM_TREE     host path of a kernel tree to mount at /linux, or empty

# Not -e: PID 1 must never exit early (the kernel would panic); failures
# go through fail(), which records them and powers off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C.UTF-8 TERM=dumb
# The tests' server configuration: that of the kernel tree under test, if
# one is mounted, else this repository's
CONF=/repo/tools/testing/selftests/ksmbd
USER_NAME=tuser USER_PASS=tpass

say() { echo "vm-init: $*" >/dev/console; }

poweroff_vm() {
	dmesg >/results/dmesg 2>/dev/null
	sync
	umount /results /repo /linux 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 10
	# Last resort: PID 1 exiting panics the kernel, which ends UML too.
	exit 1
}

fail() {
	say "setup failed: $*"
	echo "vm-init: setup failed: $*" >>/results/output
	poweroff_vm
}

mount_pseudo() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /run
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	mkdir -p /repo /results /linux
	mount -t hostfs -o hostfs="$KSMBD_VM_REPO" none /repo &&
		mount -t hostfs -o hostfs="$KSMBD_VM_RESULTS" none /results &&
		{ [ -z "${KSMBD_VM_TREE:-}" ] ||
		  mount -t hostfs -o hostfs="$KSMBD_VM_TREE" none /linux; }
}

make_shares() {
	mkdir -p /srv/tm /srv/ext4
	mount -t tmpfs -o size=512m tmpfs /srv/tm || return 1
	# Without write barriers, fsync sends the disk no cache flush: the
	# flushes apple_e2e.py counts on ubda are F_FULLFSYNC's own.
	mount -t ext4 -o user_xattr,acl,nobarrier /dev/ubda /srv/ext4 || return 1
	rm -rf /srv/ext4/lost+found
	# acl: share tm_acl; sub: share tm_sub, whose parent is outside it
	mkdir /srv/ext4/acl /srv/ext4/sub
	chown "$USER_NAME:$USER_NAME" /srv/tm /srv/ext4 /srv/ext4/acl \
		/srv/ext4/sub
	chmod 0775 /srv/tm /srv/ext4 /srv/ext4/acl /srv/ext4/sub
}

# True once something listens on TCP port 445 (0x01BD), IPv4 or IPv6.
listening_445() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk '$2 ~ /:01BD$/ && $4 == "0A" { found = 1 } END { exit !found }'
}

start_ksmbd() {
	[ ! -f /linux/tools/testing/selftests/ksmbd/ksmbd.conf ] ||
		CONF=/linux/tools/testing/selftests/ksmbd
	mkdir -p /run/ksmbd
	cp "$CONF/ksmbd.conf" /run/ksmbd/ksmbd.conf
	ksmbd.adduser -C /run/ksmbd/ksmbd.conf -P /run/ksmbd/ksmbdpwd.db \
		-p "$USER_PASS" -a "$USER_NAME" || return 1
	ksmbd.mountd -C /run/ksmbd/ksmbd.conf -P /run/ksmbd/ksmbdpwd.db
}

stop_ksmbd() {
	timeout 20 ksmbd.control --shutdown || say "ksmbd.control --shutdown failed"
}

start_samba() {
	mkdir -p /run/samba/private /run/samba/state /run/samba/cache /run/samba/lock
	cp /repo/scripts/vm/smb.conf /run/samba/smb.conf
	printf '%s\n%s\n' "$USER_PASS" "$USER_PASS" |
		smbpasswd -c /run/samba/smb.conf -s -a "$USER_NAME" >/dev/null || return 1
	smbd -D -s /run/samba/smb.conf
}

stop_samba() {
	pkill -x smbd
	cp /run/samba/log.smbd /results/server.log 2>/dev/null
}

mount_pseudo || { echo o >/proc/sysrq-trigger; exit 1; }
hostname ksmbd-vm
ip link set lo up || fail "cannot bring up lo"
make_shares || fail "cannot create the shares"

server=${KSMBD_VM_SERVER:-ksmbd}
case $server in
ksmbd|samba) "start_$server" || fail "cannot start $server" ;;
*) fail "unknown server $server" ;;
esac
for _ in $(seq 100); do
	listening_445 && break
	sleep 0.2
done
if ! listening_445; then
	{ ss -ltn; ps -ef; } >>/results/output 2>&1
	fail "$server does not listen on port 445"
fi
say "$server listens on 445"

# The command, as written by vm-run with printf %q.
eval "set -- $(cat /results/cmd)"
[ $# -gt 0 ] || fail "no command"
# Live output on con1 (host stdout), one copy in /results/output.
stty -F /dev/tty1 -opost 2>/dev/null
cd /repo || fail "cannot enter /repo"
"$@" </dev/null 2>&1 | tee /results/output >/dev/tty1
status=${PIPESTATUS[0]}
echo "$status" >/results/status

"stop_$server"
poweroff_vm
