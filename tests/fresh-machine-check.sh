#!/bin/bash
# Fresh-machine check: proves that README's two set-up commands work on a Debian 12 machine that
# has none of the project's dependencies, caches or build trees.
#
# It builds a minimal Debian 12 root with mmdebstrap from the Debian registry (plus only what a
# user needs before the first command: git to clone, sudo because README says sudo), clones
# this repository's HEAD into it, and runs the Quick start commands exactly as README.md gives
# them, inside that root: each command runs in a mount namespace of its own whose root is the
# fresh root (pivot_root, so it is not a chroot: rootless containers can make user namespaces),
# with /proc, /sys, /dev and /run provided. Each step's time is reported; the check stops at the
# first step that fails.
#
#   sudo tests/fresh-machine-check.sh [--keep] [--root DIR] [--only-first]
#
#   --keep        leave the root in place afterwards (default: removed)
#   --root DIR    where to build the root (default: a new directory under /var/tmp)
#   --only-first  run README's first command only (install, build, demo guest)
#
# Environment: FRESH_SUITE="deb http://... bookworm main" and FRESH_MIRRORS (extra sources
# lines, ';'-separated) choose the Debian mirror; the default is deb.debian.org.
# Exit status: 0 when every step passed, 1 when a step failed (named on stderr), 2 on bad usage.
# It is slow (about 50 minutes on 2 cores: the whole suite runs from nothing), so CI does not run
# it; run it whenever an install step changes.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=0
ONLY_FIRST=0
ROOT=""
while (($#)); do
  case $1 in
    --keep) KEEP=1 ;;
    --only-first) ONLY_FIRST=1 ;;
    --root) ROOT=${2:?--root needs a directory}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-machine-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "fresh-machine-check: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "fresh-machine-check: run as root" >&2; exit 2; }

# README's commands, as written: the first two ```sh blocks of its "Quick start" section.
mapfile -t COMMANDS < <(awk '
  /^## / { in_qs = ($0 ~ /^## Quick start/) }
  in_qs && /^```sh$/ { in_block = 1; next }
  in_block && /^```$/ { in_block = 0; n++; print cmd; cmd = ""; next }
  in_block { cmd = (cmd == "" ? $0 : cmd "\n" $0) }
  n == 2 { exit }' "$REPO/README.md")
((${#COMMANDS[@]} == 2)) || die "README.md's Quick start does not hold two sh blocks"
((ONLY_FIRST)) && COMMANDS=("${COMMANDS[0]}")

if ! command -v mmdebstrap >/dev/null; then
  echo "fresh-machine-check: installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null ||
    die "cannot install mmdebstrap"
fi

[[ -n $ROOT ]] || ROOT=$(mktemp -d /var/tmp/fresh-root.XXXXXX)
mkdir -p "$ROOT"
[[ -z $(ls -A "$ROOT") ]] || die "$ROOT is not empty"

declare -a TIMES=()
cleanup() {
  local rc=$?
  # Unmount everything below the root, deepest first, before removing anything.
  if mountpoint -q "$ROOT" 2>/dev/null || grep -q " $ROOT/" /proc/mounts; then
    umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT" 2>/dev/null || true
  fi
  if ((KEEP)); then
    echo "fresh-machine-check: root kept at $ROOT" >&2
  elif [[ -d $ROOT ]] && ! grep -q " $ROOT" /proc/mounts; then
    rm -rf --one-file-system "$ROOT"
  fi
  echo
  echo "fresh-machine-check: step times"
  printf '  %s\n' "${TIMES[@]}"
  exit "$rc"
}
trap cleanup EXIT

# step NAME CMD...: runs and times one step; the first failure ends the check.
step() {
  local name=$1
  shift
  printf '\n==== fresh-machine-check: %s\n' "$name"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  local took=$((SECONDS - start))
  TIMES+=("$(printf '%-40s %4dm%02ds  %s' "$name" $((took / 60)) $((took % 60)) \
    "$( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)")")")
  ((rc == 0)) || die "step '$name' failed with exit status $rc"
}

SOURCES=${FRESH_SUITE:-"deb http://deb.debian.org/debian bookworm main"}
IFS=';' read -r -a EXTRA <<<"${FRESH_MIRRORS:-deb http://deb.debian.org/debian bookworm-updates main;deb http://deb.debian.org/debian-security bookworm-security main}"

make_root() {
  mmdebstrap --variant=minbase --include=ca-certificates,git,sudo \
    bookworm "$ROOT" "$SOURCES" "${EXTRA[@]}"
}

# The root is a mount point in a private namespace of its own (so pivot_root works for the
# container tests), with the host's devices, cgroups and a fresh /proc.
mount_root() {
  mount --bind "$ROOT" "$ROOT"
  mount -t proc proc "$ROOT/proc"
  mount --rbind /sys "$ROOT/sys"
  mount --make-rslave "$ROOT/sys"
  mount --rbind /dev "$ROOT/dev"
  mount --make-rslave "$ROOT/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"
  mkdir -p "$ROOT/src"
  mount --bind -o ro "$REPO" "$ROOT/src"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

# in_root CMD: runs CMD with the fresh root as /, in a mount namespace of its own: the root's
# bind mount is pivoted to / and the host's root is detached, as a container runtime would.
in_root() {
  unshare --mount --propagation private -- /bin/bash -c '
    set -e
    cd "$1"
    mkdir -p .host-root
    pivot_root . .host-root
    cd /
    /.host-root/bin/umount -l /.host-root
    rmdir /.host-root
    exec /usr/bin/env -i HOME=/root TERM="$3" LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$2"
  ' in-root "$ROOT" "$1" "${TERM:-dumb}"
}

clone() { in_root "git config --global --add safe.directory '*' && git clone -q /src /root/vmm"; }

run_command() { in_root "set -euo pipefail; cd /root/vmm; $1"; }

main() {
  step "mmdebstrap: minimal Debian 12 root" make_root
  step "mount /proc /sys /dev /run" mount_root
  step "git clone" clone
  local i=1
  for cmd in "${COMMANDS[@]}"; do
    step "README command $i: ${cmd:0:60}" run_command "$cmd"
    i=$((i + 1))
  done
  echo
  echo "fresh-machine-check: every step passed"
}

# A private mount namespace: nothing mounted for the root shows up on the host, and every
# mount goes away with the namespace even if cleanup is cut short.
if [[ -z ${FRESH_IN_NS:-} ]]; then
  trap - EXIT
  FRESH_IN_NS=1 exec unshare --mount --propagation private -- "$0" --root "$ROOT" \
    $( ((KEEP)) && echo --keep) $( ((ONLY_FIRST)) && echo --only-first)
fi
main
