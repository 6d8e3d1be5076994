#!/bin/bash
# Turns a directory (a busybox root, an unpacked Alpine minirootfs, ...) into a raw ext4 disk
# image for `vmm run --disk`, with mke2fs -d: no loop mount and no root privileges needed.
#
# Usage: make-ext4-image.sh DIR IMAGE [SIZE]
#   SIZE: mke2fs size syntax (e.g. 64M, 1G); default: the directory's size plus half again and
#   16 MiB for the journal and metadata, rounded up to whole MiB.
# Files keep DIR's owners and modes; the root directory is owned by root.
# The image is written to IMAGE.tmp first and renamed, so a failure never leaves half an image.
set -euo pipefail

die() { echo "make-ext4-image: $*" >&2; exit 1; }

(( $# == 2 || $# == 3 )) || die "usage: make-ext4-image.sh DIR IMAGE [SIZE]"
dir=$1 image=$2 size=${3:-}
[[ -d $dir ]] || die "$dir is not a directory"
command -v mke2fs >/dev/null || die "mke2fs not found (apt-get install e2fsprogs)"

if [[ -z $size ]]; then
  used_kib=$(du -sk --apparent-size "$dir" | cut -f1)
  size=$(( (used_kib * 3 / 2 / 1024) + 16 ))M
fi

tmp=$image.tmp.$$
trap 'rm -f "$tmp"' EXIT
rm -f "$tmp"
# -F: IMAGE is a regular file. -E root_owner: / owned by root. -L: a label `blkid` shows.
# The image starts sparse (truncate), so only written blocks take host space.
truncate -s "$size" "$tmp" 2>/dev/null || die "bad SIZE '$size'"
args=(-q -F -t ext4 -L vmmroot -d "$dir" -E root_owner=0:0)
mke2fs "${args[@]}" "$tmp" || die "mke2fs failed (is SIZE $size big enough for $dir?)"
mv "$tmp" "$image"
trap - EXIT
