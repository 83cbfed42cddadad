# SPDX-License-Identifier: GPL-2.0
# Common settings for the ksmbd-apple scripts. Sourced, not run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built lives outside the repository, so a fresh
# clone on the same machine reuses it and a fresh machine rebuilds it.
CACHE=${KSMBD_APPLE_CACHE:-$HOME/.cache/ksmbd-apple}
OUT=$TOP/out

BASE_PKG=linux-source-7.3
BASE_SUITE=trixie-backports
# The version the series is written against; a newer 7.3.y is taken (and
# reported) only when this one has left the archive.
BASE_WANT=7.3.4-1~bpo13+1

# The Debian archive the machine's apt is configured with: the first URI of
# its sources (one-line .list or deb822 .sources) whose path ends in
# /debian, not a security archive. DEBIAN_MIRROR overrides it.
machine_debian_mirror() {
	local dir
	dir=$(apt-config shell d Dir::Etc/d 2>/dev/null | sed -n "s/^d='\(.*\)'$/\1/p")
	dir=${dir:-/etc/apt/}
	dir=/${dir#/}
	{
		cat "$dir"sources.list "$dir"sources.list.d/*.list 2>/dev/null |
			sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p'
		cat "$dir"sources.list.d/*.sources 2>/dev/null |
			awk 'tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
			     /^[[:space:]]*$/ { if (!off) printf "%s", uris; uris = ""; off = 0; next }
			     tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris = uris $i "\n" }
			     END { if (!off) printf "%s", uris }'
	} | sed 's:/*$::' | { grep -E '^(https?|file)://.*/debian$' || true; } | head -n1
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(machine_debian_mirror)}
[ -n "$DEBIAN_MIRROR" ] ||
	{ echo "error: no Debian archive in the machine's apt sources; set DEBIAN_MIRROR" >&2; exit 1; }

# One git repository holds the base, the generated series and the trees
# that are built; its work tree is the patched kernel that is built.
LINUX=$CACHE/linux
BASE_TAG=base

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
# Kernel objects embed no absolute source paths when built with O= and
# relative includes; let ccache hash sources by content.
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-time_macros,include_file_mtime,include_file_ctime}
export CCACHE_BASEDIR=$CACHE
export CCACHE_NOHASHDIR=1

JOBS=${JOBS:-$(nproc)}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need CMD PACKAGE...: install Debian packages when a command is missing.
need() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null 2>&1 && return 0
	log "installing $* (for $cmd)"
	if [ -z "${_APT_UPDATED:-}" ]; then
		apt-get update -qq >&2
		_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Tools every build needs.
need_build_tools() {
	need gcc gcc
	need make make
	need flex flex
	need bison bison
	need bc bc
	need ccache ccache
	need python3 python3
	need perl perl
	need xz xz-utils
	need git git
	dpkg -s libelf-dev >/dev/null 2>&1 || need __none__ libelf-dev
	dpkg -s libssl-dev >/dev/null 2>&1 || need __none__ libssl-dev
}

# A git identity for commits made in the cache repository (generation only;
# the mail-ready series uses the caller's own identity).
git_cache() {
	git -C "$LINUX" -c user.name=ksmbd-apple -c user.email=ksmbd-apple@localhost \
		-c core.autocrlf=false -c advice.detachedHead=false "$@"
}

# The identity patches are written and signed with: the caller's git
# identity, or a placeholder (with a warning) where none is configured.
series_identity() {
	SERIES_NAME=$(git -C "$TOP" config user.name || true)
	SERIES_EMAIL=$(git -C "$TOP" config user.email || true)
	if [ -z "$SERIES_NAME" ] || [ -z "$SERIES_EMAIL" ]; then
		SERIES_NAME="ksmbd-apple developers"
		SERIES_EMAIL="ksmbd-apple@localhost"
		log "no git identity configured; signing as $SERIES_NAME <$SERIES_EMAIL>"
	fi
}

# rootfs_version FLAVOUR PACKAGE: the version of PACKAGE installed in the
# test VM's root filesystem (scripts/mkrootfs FLAVOUR); empty if absent.
rootfs_version() {
	dpkg-query --admindir="$CACHE/rootfs/$1/var/lib/dpkg" -W -f '${Version}' "$2" 2>/dev/null || true
}
