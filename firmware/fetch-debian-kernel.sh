#!/bin/bash
# Fetches Debian's stock x86-64 kernel (the package linux-image-amd64 depends on) into the cache
# and unpacks its bzImage and modules. Both the nested test sandbox and the KVM tests boot it.
#
# Result (also written to $CACHE/kernel/kernel.env as shell assignments):
#   $CACHE/kernel/bzImage             the kernel image
#   $CACHE/kernel/modules/<version>/  its lib/modules tree (uncompressed .ko files)
#
# Environment: VMM_CACHE_DIR (default ~/.cache/vmm). Idempotent: a cached package is reused.
set -euo pipefail

CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
DEB_DIR=$CACHE/debs
KERNEL_DIR=$CACHE/kernel

die() { echo "fetch-debian-kernel: $*" >&2; exit 1; }

command -v apt-cache >/dev/null || die "apt-cache not found (needs a Debian-based host)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# linux-image-amd64 is a meta package; its Depends names the versioned image package.
PKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[[ -n $PKG ]] || die "cannot resolve linux-image-amd64 (run 'apt-get update' first)"
KVER=${PKG#linux-image-}

mkdir -p "$DEB_DIR" "$KERNEL_DIR"
# One fetch at a time: the guest-asset builders run side by side.
exec 8>"$CACHE/.kernel.lock"
flock 8
shopt -s nullglob
debs=("$DEB_DIR/${PKG}"_*_amd64.deb)
if (( ${#debs[@]} == 0 )); then
  echo "fetch-debian-kernel: downloading $PKG" >&2
  # apt-get download writes into the current directory. As root it warns that the _apt user
  # cannot access the directory and downloads unsandboxed; that is harmless here.
  (cd "$DEB_DIR" && apt-get download -q "$PKG" 2>&1 | grep -v -e '^W: Download is performed unsandboxed' >&2 || true)
  debs=("$DEB_DIR/${PKG}"_*_amd64.deb)
  (( ${#debs[@]} > 0 )) || die "apt-get download $PKG failed"
fi
DEB=${debs[-1]}

if [[ ! -f $KERNEL_DIR/bzImage || ! -d $KERNEL_DIR/modules/$KVER || ! -f $KERNEL_DIR/kernel.env ]] ||
   ! grep -qx "VMM_KERNEL_DEB=$DEB" "$KERNEL_DIR/kernel.env"; then
  echo "fetch-debian-kernel: unpacking $(basename "$DEB")" >&2
  staging=$(mktemp -d "$KERNEL_DIR/.unpack.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  dpkg-deb -x "$DEB" "$staging"
  [[ -f $staging/boot/vmlinuz-$KVER ]] || die "boot/vmlinuz-$KVER missing in $DEB"
  [[ -d $staging/lib/modules/$KVER ]] || die "lib/modules/$KVER missing in $DEB"
  # Debian may ship compressed modules in later releases; insmod in the sandbox wants plain .ko.
  find "$staging/lib/modules/$KVER" -name '*.ko.xz' -exec xz -d {} +
  find "$staging/lib/modules/$KVER" -name '*.ko.zst' -exec zstd -q -d --rm {} +
  rm -rf "$KERNEL_DIR/modules/$KVER"
  mkdir -p "$KERNEL_DIR/modules"
  mv "$staging/lib/modules/$KVER" "$KERNEL_DIR/modules/$KVER"
  cp "$staging/boot/vmlinuz-$KVER" "$KERNEL_DIR/bzImage.tmp"
  mv "$KERNEL_DIR/bzImage.tmp" "$KERNEL_DIR/bzImage"
  cat >"$KERNEL_DIR/kernel.env" <<ENV
VMM_KERNEL_VERSION=$KVER
VMM_KERNEL_DEB=$DEB
VMM_KERNEL_IMAGE=$KERNEL_DIR/bzImage
VMM_KERNEL_MODULES=$KERNEL_DIR/modules/$KVER
ENV
fi

cat "$KERNEL_DIR/kernel.env"
